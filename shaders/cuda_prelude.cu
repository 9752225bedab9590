// kiln CUDA prelude: the scalar semantics of SPEC.md spelled in CUDA C
// without undefined behaviour. Included verbatim at the top of every
// generated module (by src/cuda/cuda_c.rs); compiled with --fmad=false.
//
// - Signed integer arithmetic goes through the unsigned type (wraps).
// - Shift amounts are masked to the operand width.
// - Division/remainder: the generated code checks for zero first; here
//   MIN / -1 wraps to MIN and MIN % -1 is 0.
// - Float -> integer conversions saturate, NaN -> 0 (Rust `as`), with
//   explicit clamps before the round-toward-zero intrinsics.
// - min/max ignore a NaN operand and order -0 below +0.
// - Atomics: native where CUDA has the operation with the exact semantics,
//   compare-and-swap loops otherwise.
// No system headers: NVRTC compiles this on machines without a CUDA
// toolkit, and every builtin used is an NVRTC intrinsic.

typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
typedef float f32;
typedef double f64;

#define KILN_I32_MIN (-2147483647 - 1)
#define KILN_I32_MAX 2147483647
#define KILN_I64_MIN (-9223372036854775807LL - 1LL)
#define KILN_I64_MAX 9223372036854775807LL
#define KILN_U32_MAX 4294967295u
#define KILN_D __device__ __forceinline__ static

// ---- wrapping integer arithmetic -------------------------------------------

KILN_D i32 kiln_add_i32(i32 a, i32 b) { return (i32)((u32)a + (u32)b); }
KILN_D i32 kiln_sub_i32(i32 a, i32 b) { return (i32)((u32)a - (u32)b); }
KILN_D i32 kiln_mul_i32(i32 a, i32 b) { return (i32)((u32)a * (u32)b); }
KILN_D i32 kiln_neg_i32(i32 a) { return (i32)(0u - (u32)a); }
KILN_D i64 kiln_add_i64(i64 a, i64 b) { return (i64)((u64)a + (u64)b); }
KILN_D i64 kiln_sub_i64(i64 a, i64 b) { return (i64)((u64)a - (u64)b); }
KILN_D i64 kiln_mul_i64(i64 a, i64 b) { return (i64)((u64)a * (u64)b); }
KILN_D i64 kiln_neg_i64(i64 a) { return (i64)(0ull - (u64)a); }

KILN_D i32 kiln_shl_i32(i32 a, i32 b) { return (i32)((u32)a << ((u32)b & 31u)); }
KILN_D i32 kiln_shr_i32(i32 a, i32 b) { return a >> ((u32)b & 31u); }
KILN_D u32 kiln_shl_u32(u32 a, u32 b) { return a << (b & 31u); }
KILN_D u32 kiln_shr_u32(u32 a, u32 b) { return a >> (b & 31u); }
KILN_D i64 kiln_shl_i64(i64 a, i64 b) { return (i64)((u64)a << ((u64)b & 63ull)); }
KILN_D i64 kiln_shr_i64(i64 a, i64 b) { return a >> ((u64)b & 63ull); }

// The divisor is non-zero (checked by the caller).
KILN_D i32 kiln_div_i32(i32 a, i32 b) { return b == -1 ? kiln_neg_i32(a) : a / b; }
KILN_D i32 kiln_rem_i32(i32 a, i32 b) { return b == -1 ? 0 : a % b; }
KILN_D i64 kiln_div_i64(i64 a, i64 b) { return b == -1 ? kiln_neg_i64(a) : a / b; }
KILN_D i64 kiln_rem_i64(i64 a, i64 b) { return b == -1 ? 0 : a % b; }
KILN_D u32 kiln_div_u32(u32 a, u32 b) { return a / b; }
KILN_D u32 kiln_rem_u32(u32 a, u32 b) { return a % b; }

KILN_D i32 kiln_abs_i32(i32 a) { return a < 0 ? kiln_neg_i32(a) : a; }
KILN_D i64 kiln_abs_i64(i64 a) { return a < 0 ? kiln_neg_i64(a) : a; }

// ---- conversions (Rust `as`) -------------------------------------------------

KILN_D i32 kiln_f64_to_i32(f64 x) {
    if (x != x) return 0;
    if (x <= -2147483648.0) return KILN_I32_MIN;
    if (x >= 2147483647.0) return KILN_I32_MAX;
    return __double2int_rz(x);
}
KILN_D u32 kiln_f64_to_u32(f64 x) {
    if (!(x > -1.0)) return 0u;  // NaN, and everything truncating below 0
    if (x >= 4294967295.0) return KILN_U32_MAX;
    return __double2uint_rz(x);
}
KILN_D i64 kiln_f64_to_i64(f64 x) {
    if (x != x) return 0;
    if (x <= -9223372036854775808.0) return KILN_I64_MIN;
    if (x >= 9223372036854775808.0) return KILN_I64_MAX;
    return __double2ll_rz(x);
}
// f32 sources convert exactly to f64 first: every f32 is an f64, and the
// f64 clamps above are the exact bounds.
KILN_D i32 kiln_f32_to_i32(f32 x) { return kiln_f64_to_i32((f64)x); }
KILN_D u32 kiln_f32_to_u32(f32 x) { return kiln_f64_to_u32((f64)x); }
KILN_D i64 kiln_f32_to_i64(f32 x) { return kiln_f64_to_i64((f64)x); }

// Bits of a value as it lives in the frame (zero-extended to 64).
KILN_D u64 kiln_bits_bool(bool v) { return v ? 1ull : 0ull; }
KILN_D u64 kiln_bits_i32(i32 v) { return (u64)(u32)v; }
KILN_D u64 kiln_bits_u32(u32 v) { return (u64)v; }
KILN_D u64 kiln_bits_i64(i64 v) { return (u64)v; }
KILN_D u64 kiln_bits_f32(f32 v) { return (u64)(u32)__float_as_int(v); }
KILN_D u64 kiln_bits_f64(f64 v) { return (u64)__double_as_longlong(v); }
KILN_D bool kiln_from_bits_bool(u64 b) { return (b & 0xffull) != 0ull; }
KILN_D i32 kiln_from_bits_i32(u64 b) { return (i32)(u32)b; }
KILN_D u32 kiln_from_bits_u32(u64 b) { return (u32)b; }
KILN_D i64 kiln_from_bits_i64(u64 b) { return (i64)b; }
KILN_D f32 kiln_from_bits_f32(u64 b) { return __int_as_float((i32)(u32)b); }
KILN_D f64 kiln_from_bits_f64(u64 b) { return __longlong_as_double((i64)b); }

// ---- float semantics ---------------------------------------------------------

// minimumNumber / maximumNumber: a NaN operand yields the other; equal
// operands differ at most in the sign of zero: or-ing the bits makes min
// pick -0, and-ing makes max pick +0.
KILN_D f32 kiln_min_f32(f32 a, f32 b) {
    if (a != a) return b;
    if (b != b || a < b) return a;
    if (b < a) return b;
    return __int_as_float(__float_as_int(a) | __float_as_int(b));
}
KILN_D f32 kiln_max_f32(f32 a, f32 b) {
    if (a != a) return b;
    if (b != b || a > b) return a;
    if (b > a) return b;
    return __int_as_float(__float_as_int(a) & __float_as_int(b));
}
KILN_D f64 kiln_min_f64(f64 a, f64 b) {
    if (a != a) return b;
    if (b != b || a < b) return a;
    if (b < a) return b;
    return __longlong_as_double(__double_as_longlong(a) | __double_as_longlong(b));
}
KILN_D f64 kiln_max_f64(f64 a, f64 b) {
    if (a != a) return b;
    if (b != b || a > b) return a;
    if (b > a) return b;
    return __longlong_as_double(__double_as_longlong(a) & __double_as_longlong(b));
}
KILN_D i32 kiln_min_i32(i32 a, i32 b) { return a < b ? a : b; }
KILN_D i32 kiln_max_i32(i32 a, i32 b) { return a > b ? a : b; }
KILN_D u32 kiln_min_u32(u32 a, u32 b) { return a < b ? a : b; }
KILN_D u32 kiln_max_u32(u32 a, u32 b) { return a > b ? a : b; }
KILN_D i64 kiln_min_i64(i64 a, i64 b) { return a < b ? a : b; }
KILN_D i64 kiln_max_i64(i64 a, i64 b) { return a > b ? a : b; }
KILN_D bool kiln_min_bool(bool a, bool b) { return a && b; }
KILN_D bool kiln_max_bool(bool a, bool b) { return a || b; }

KILN_D bool kiln_is_nan_f32(f32 x) { return (__float_as_int(x) & 0x7fffffff) > 0x7f800000; }
KILN_D bool kiln_is_nan_f64(f64 x) {
    return (__double_as_longlong(x) & 0x7fffffffffffffffLL) > 0x7ff0000000000000LL;
}
KILN_D bool kiln_is_inf_f32(f32 x) { return (__float_as_int(x) & 0x7fffffff) == 0x7f800000; }
KILN_D bool kiln_is_inf_f64(f64 x) {
    return (__double_as_longlong(x) & 0x7fffffffffffffffLL) == 0x7ff0000000000000LL;
}

// ---- atomics (each returns the element's previous value) ---------------------

KILN_D i32 kiln_atomic_add_i32(i32* p, i32 v) { return atomicAdd(p, v); }
KILN_D i32 kiln_atomic_min_i32(i32* p, i32 v) { return atomicMin(p, v); }
KILN_D i32 kiln_atomic_max_i32(i32* p, i32 v) { return atomicMax(p, v); }
KILN_D u32 kiln_atomic_add_u32(u32* p, u32 v) { return atomicAdd(p, v); }
KILN_D u32 kiln_atomic_min_u32(u32* p, u32 v) { return atomicMin(p, v); }
KILN_D u32 kiln_atomic_max_u32(u32* p, u32 v) { return atomicMax(p, v); }
// Two's complement addition is the same bits signed or unsigned.
KILN_D i64 kiln_atomic_add_i64(i64* p, i64 v) {
    return (i64)atomicAdd((u64*)p, (u64)v);
}
KILN_D i64 kiln_atomic_min_i64(i64* p, i64 v) { return atomicMin(p, v); }
KILN_D i64 kiln_atomic_max_i64(i64* p, i64 v) { return atomicMax(p, v); }
// f64 add: native (`atom.add.f64` rounds to nearest and keeps subnormals).
KILN_D f64 kiln_atomic_add_f64(f64* p, f64 v) { return atomicAdd(p, v); }

// `atom.add.f32` flushes subnormal operands and results to zero, which
// SPEC's IEEE addition does not: f32 add is a CAS loop, like float min/max
// (CUDA has no float min/max atomics with NaN-ignoring semantics).
#define KILN_CAS_LOOP_32(name, expr)                                        \
    KILN_D f32 name(f32* p, f32 v) {                                        \
        u32* w = (u32*)p;                                                   \
        u32 old = *(volatile u32*)w;                                        \
        for (;;) {                                                          \
            f32 a = __int_as_float((i32)old);                               \
            u32 next = (u32)__float_as_int(expr);                           \
            if (next == old) return a;                                      \
            u32 seen = atomicCAS(w, old, next);                             \
            if (seen == old) return a;                                      \
            old = seen;                                                     \
        }                                                                   \
    }
#define KILN_CAS_LOOP_64(name, expr)                                        \
    KILN_D f64 name(f64* p, f64 v) {                                        \
        u64* w = (u64*)p;                                                   \
        u64 old = *(volatile u64*)w;                                        \
        for (;;) {                                                          \
            f64 a = __longlong_as_double((i64)old);                         \
            u64 next = (u64)__double_as_longlong(expr);                     \
            if (next == old) return a;                                      \
            u64 seen = atomicCAS(w, old, next);                             \
            if (seen == old) return a;                                      \
            old = seen;                                                     \
        }                                                                   \
    }
KILN_CAS_LOOP_32(kiln_atomic_add_f32, a + v)
KILN_CAS_LOOP_32(kiln_atomic_min_f32, kiln_min_f32(a, v))
KILN_CAS_LOOP_32(kiln_atomic_max_f32, kiln_max_f32(a, v))
KILN_CAS_LOOP_64(kiln_atomic_min_f64, kiln_min_f64(a, v))
KILN_CAS_LOOP_64(kiln_atomic_max_f64, kiln_max_f64(a, v))

// ---- warp shuffles for reductions ---------------------------------------------

KILN_D bool kiln_shfl_down(bool v, unsigned d) { return __shfl_down_sync(0xffffffffu, (int)v, d) != 0; }
KILN_D i32 kiln_shfl_down(i32 v, unsigned d) { return __shfl_down_sync(0xffffffffu, v, d); }
KILN_D u32 kiln_shfl_down(u32 v, unsigned d) { return __shfl_down_sync(0xffffffffu, v, d); }
KILN_D i64 kiln_shfl_down(i64 v, unsigned d) { return __shfl_down_sync(0xffffffffu, v, d); }
KILN_D f32 kiln_shfl_down(f32 v, unsigned d) { return __shfl_down_sync(0xffffffffu, v, d); }
KILN_D f64 kiln_shfl_down(f64 v, unsigned d) { return __shfl_down_sync(0xffffffffu, v, d); }
