//! The run-time fault cases (SPEC section 9): one faulting launch each,
//! with the fault and the source location every backend must report, the
//! same as the interpreter's. Shared by the conformance tests and
//! `kiln selftest`.

use super::inputs::{as_args, Data, Input};
use crate::error::{Error, Fault, RuntimeError};
use crate::ir::Value;
use crate::runtime::{Backend, Module};

pub const FAULT_FILE: &str = "faults.kn";

/// One faulting launch: source, kernel, arguments, and the expected fault
/// with the text its location must start at (unique in the source).
pub struct FaultCase {
    pub source: &'static str,
    pub kernel: &'static str,
    pub inputs: Vec<Input>,
    pub fault: Fault,
    pub at: &'static str,
}

/// The 1-based line and column of the only occurrence of `needle` in
/// `source`: of its start, or of the spot marked `|` inside it.
pub fn locate(source: &str, needle: &str) -> (u32, u32) {
    let mark = needle.find('|').unwrap_or(0);
    let needle = needle.replace('|', "");
    let mut hits = source.match_indices(needle.as_str());
    let (start, _) = hits
        .next()
        .unwrap_or_else(|| panic!("`{needle}` is not in the source"));
    assert!(
        hits.next().is_none(),
        "`{needle}` occurs more than once in the source"
    );
    let offset = start + mark;
    let before = &source[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let col = (offset - before.rfind('\n').map_or(0, |nl| nl + 1)) as u32 + 1;
    (line, col)
}

fn scalar(name: &str, value: Value) -> Input {
    Input::Scalar {
        name: name.to_string(),
        value,
    }
}

fn array(name: &str, data: Data, shape: &[usize], mutable: bool) -> Input {
    Input::Array {
        name: name.to_string(),
        data,
        shape: shape.to_vec(),
        mutable,
    }
}

pub fn launch_fault(backend: Backend, case: &FaultCase) -> Result<RuntimeError, String> {
    let name = backend.name();
    let module = Module::from_source(FAULT_FILE, case.source)
        .map_err(|e| format!("does not compile:\n{e}"))?;
    let kernel = module.kernel(case.kernel).map_err(|e| e.to_string())?;
    let mut inputs = case.inputs.clone();
    match kernel.launch_on(backend, &mut as_args(&mut inputs)) {
        Err(Error::Runtime(e)) => Ok(e),
        Err(other) => Err(format!("{name}: expected a run-time error, got: {other}")),
        Ok(v) => Err(format!(
            "{name}: expected a run-time error, got success ({v:?})"
        )),
    }
}

/// The backend's error must equal the interpreter's, and both must be the
/// expected fault at the expected place.
pub fn check_fault(backend: Backend, case: &FaultCase) -> Result<(), String> {
    let (line, col) = locate(case.source, case.at);
    let reference = launch_fault(Backend::Interp, case)?;
    let actual = launch_fault(backend, case)?;
    let name = backend.name();
    for (who, e) in [("interp", &reference), (name, &actual)] {
        let wanted = (&case.fault, line, col, case.kernel, FAULT_FILE);
        let got = (
            &e.fault,
            e.span.line,
            e.span.col,
            e.kernel.as_str(),
            e.file.as_str(),
        );
        if got != wanted {
            return Err(format!("{who}: expected {wanted:?}, got {got:?} ({e})"));
        }
    }
    if actual.to_string() != reference.to_string() {
        return Err(format!(
            "{name} prints `{actual}`, interp prints `{reference}`"
        ));
    }
    Ok(())
}

fn oob(array: &str, index: &[i64], shape: &[usize], dim: usize) -> Fault {
    Fault::IndexOutOfBounds {
        array: array.to_string(),
        index: index.to_vec(),
        shape: shape.to_vec(),
        dim,
    }
}

const READ_1D: &str = "kernel read_1d(x: f64[:], i: i64) -> f64 {
    let v = 1.0 + x[i];
    return v;
}
";

fn read_1d(index: i64) -> FaultCase {
    FaultCase {
        source: READ_1D,
        kernel: "read_1d",
        inputs: vec![
            array("x", Data::F64(vec![0.5; 10]), &[10], false),
            scalar("i", Value::I64(index)),
        ],
        fault: oob("x", &[index], &[10], 0),
        at: "x[i]",
    }
}

const WRITE_1D: &str = "kernel write_1d(y: mut i32[:], i: i32) {
    y[0] = 1;
    y[i * 2] = 7;
}
";

fn write_1d(half_index: i32) -> FaultCase {
    FaultCase {
        source: WRITE_1D,
        kernel: "write_1d",
        inputs: vec![
            array("y", Data::I32(vec![0; 10]), &[10], true),
            scalar("i", Value::I32(half_index)),
        ],
        fault: oob("y", &[half_index as i64 * 2], &[10], 0),
        at: "y[i * 2]",
    }
}

const INDEX_2D: &str = "kernel index_2d(a: f32[:, :], b: mut f32[:, :], i: i64, j: i64) {
    b[0, 0] = a[i, j];
}
";

/// `a` is 4 x 5; `(1, 5)` is inside the flat storage but out of range in
/// dimension 1, which a flat-only check would miss.
fn index_2d(i: i64, j: i64, dim: usize) -> FaultCase {
    FaultCase {
        source: INDEX_2D,
        kernel: "index_2d",
        inputs: vec![
            array("a", Data::F32(vec![1.0; 20]), &[4, 5], false),
            array("b", Data::F32(vec![0.0; 1]), &[1, 1], true),
            scalar("i", Value::I64(i)),
            scalar("j", Value::I64(j)),
        ],
        fault: oob("a", &[i, j], &[4, 5], dim),
        at: "a[i, j]",
    }
}

const STORE_3D: &str = "kernel store_3d(c: mut i64[:, :, :], k: i64) {
    for (i, j) in prange(0..c.shape(0), 0..c.shape(1)) {
        c[i, j, 0] = 1;
    }
    c[1, 0, k] = 2;
}
";

fn store_3d() -> FaultCase {
    FaultCase {
        source: STORE_3D,
        kernel: "store_3d",
        inputs: vec![
            array("c", Data::I64(vec![0; 24]), &[2, 3, 4], true),
            scalar("k", Value::I64(-3)),
        ],
        fault: oob("c", &[1, 0, -3], &[2, 3, 4], 2),
        at: "c[1, 0, k]",
    }
}

const DIVIDE: &str = "kernel divide(a: i32, b: i32) -> i32 {
    let q = 10 + a / b;
    return q;
}
kernel remainder(a: i64, b: i64) -> i64 {
    return 1 + a % b;
}
kernel unsigned_div(a: u32, b: u32) -> u32 {
    return a / (b * 2);
}
";

fn divide(kernel: &'static str, a: Value, b: Value, fault: Fault, at: &'static str) -> FaultCase {
    FaultCase {
        source: DIVIDE,
        kernel,
        inputs: vec![scalar("a", a), scalar("b", b)],
        fault,
        at,
    }
}

const HELPER_DIV: &str = "fn ratio(p: i64, q: i64) -> i64 {
    return p / q;
}
fn modulo(p: i32, q: i32) -> i32 {
    return p % q;
}
fn twice(p: i64, q: i64) -> i64 {
    return ratio(p, q) * 2;
}
kernel helper_div(x: mut i64[:], d: i64) {
    for i in prange(0..x.len()) {
        x[i] = twice(100, d - i);
    }
}
kernel helper_rem(x: mut i64[:], d: i32) {
    x[0] = modulo(7, d) as i64;
}
";

fn helper_div(kernel: &'static str, d: Value, fault: Fault, at: &'static str) -> FaultCase {
    FaultCase {
        source: HELPER_DIV,
        kernel,
        inputs: vec![
            array("x", Data::I64(vec![0; 8]), &[8], true),
            scalar("d", d),
        ],
        fault,
        at,
    }
}

const STEP: &str = "kernel step(n: i64, k: i64) -> i64 {
    let mut s = 0;
    for i in (0..n).step_by(k) {
        s += i;
    }
    return s;
}
kernel step_rev(k: i32) -> i64 {
    let mut s = 0;
    for i in (0..5).rev().step_by(k as i64 - 1) {
        s += i;
    }
    return s;
}
";

fn step(kernel: &'static str, inputs: Vec<Input>, step: i64, at: &'static str) -> FaultCase {
    FaultCase {
        source: STEP,
        kernel,
        inputs,
        fault: Fault::StepNotPositive { step },
        at,
    }
}

/// Faults inside parallel loops: exactly one iteration faults, so every
/// backend must report the same index whatever the iteration order.
const PARALLEL: &str = "kernel par_write(x: mut f64[:], bad: i64) {
    for i in prange(0..x.len()) {
        if i == bad {
            x[i + 1000] = 1.0;
        } else {
            x[i] = 2.0;
        }
    }
}
kernel par_gather(x: f64[:], idx: i32[:]) -> f64 {
    let mut total = 0.0;
    for i in prange(0..idx.len()) {
        total += x[idx[i]];
    }
    return total;
}
kernel par_div(out: mut i32[:, :], c: i32) {
    for (i, j) in prange(0..out.shape(0), 0..out.shape(1)) {
        out[i, j] = 1000 / ((i as i32) * 10 + (j as i32) - c);
    }
}
kernel par_inner(x: mut i64[:], m: i64) {
    for i in prange(0..x.len()) {
        for j in 0..m {
            if i == 3 {
                x[j] += 1;
            }
        }
    }
}
kernel par_step(x: mut i64[:]) {
    for i in prange(0..x.len()) {
        let mut s = 0;
        for j in (0..10).step_by(5 - i) {
            s += j;
        }
        x[i] = s;
    }
}
kernel after_par(x: mut f32[:], k: i64) {
    for i in prange(0..x.len()) {
        x[i] = 1.0;
    }
    let mut t = 0;
    while t < 3 {
        for i in prange(0..x.len()) {
            x[i] += 1.0;
        }
        t += 1;
    }
    x[k] = 0.0;
}
";

fn parallel(kernel: &'static str, inputs: Vec<Input>, fault: Fault, at: &'static str) -> FaultCase {
    FaultCase {
        source: PARALLEL,
        kernel,
        inputs,
        fault,
        at,
    }
}

/// Faults in atomics, nested indices, unsigned indices, conditions and
/// helper loops.
const MISC: &str = "kernel atomic_oob(bins: mut i32[:], x: i32[:]) {
    for i in prange(0..x.len()) {
        atomic_add(bins[x[i]], 1);
    }
}
kernel nested_index(x: f64[:], idx: i64[:], k: i64) -> f64 {
    return x[idx[k]];
}
kernel unsigned_index(x: f32[:], u: u32) -> f32 {
    return x[u];
}
kernel while_cond(x: i64[:]) -> i64 {
    let mut k = 0;
    while x[k] >= 0 {
        k += 1;
    }
    return k;
}
fn stepped(n: i64, k: i64) -> i64 {
    let mut s = 0;
    for i in (0..n).step_by(k) {
        s += i;
    }
    return s;
}
kernel helper_step(out: mut i64[:]) {
    for i in prange(0..out.len()) {
        out[i] = stepped(10, 3 - i);
    }
}
kernel first_fault(x: f64[:], y: f64[:], n: i64) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += x[i];
        s += y[i * 2];
    }
    return s;
}
kernel big_par(x: mut f64[:], bad: i64) {
    for i in prange(0..x.len()) {
        x[i] = 1.0;
        if i == bad {
            x[i * 3] = 2.0;
        }
    }
}
kernel branch_fault(out: mut f64[:], x: f64[:]) {
    for i in prange(0..out.len()) {
        out[i] = if i == 2 { x[i + 40] } else { 1.0 };
    }
}
kernel huge_range(x: mut f64[:], lo: i64) {
    for i in prange(lo..x.len()) {
        x[i] = 7.5;
    }
}
kernel huge_range_2d(a: mut f32[:, :], lo: i64) {
    for (i, j) in prange(lo..a.shape(0), 0..a.shape(1)) {
        a[i, j] = 2.5;
    }
}
";

fn misc(kernel: &'static str, inputs: Vec<Input>, fault: Fault, at: &'static str) -> FaultCase {
    FaultCase {
        source: MISC,
        kernel,
        inputs,
        fault,
        at,
    }
}

fn misc_cases() -> Vec<(&'static str, FaultCase)> {
    let mut bins_x = vec![1i32; 100];
    bins_x[77] = 8;
    vec![
        (
            "atomic on an element out of range",
            misc(
                "atomic_oob",
                vec![
                    array("bins", Data::I32(vec![0; 8]), &[8], true),
                    array("x", Data::I32(bins_x), &[100], false),
                ],
                oob("bins", &[8], &[8], 0),
                // An atomic's fault is located at its element's array,
                // like a load's or a store's.
                "bins[x[i]], 1)",
            ),
        ),
        (
            "the inner index of a nested access faults first",
            misc(
                "nested_index",
                vec![
                    array("x", Data::F64(vec![0.0; 3]), &[3], false),
                    array("idx", Data::I64(vec![0, 1, 2]), &[3], false),
                    scalar("k", Value::I64(3)),
                ],
                oob("idx", &[3], &[3], 0),
                "idx[k]",
            ),
        ),
        (
            "a u32 index is zero-extended",
            misc(
                "unsigned_index",
                vec![
                    array("x", Data::F32(vec![0.0; 4]), &[4], false),
                    scalar("u", Value::U32(u32::MAX)),
                ],
                oob("x", &[u32::MAX as i64], &[4], 0),
                "x[u]",
            ),
        ),
        (
            "fault in a while condition",
            misc(
                "while_cond",
                vec![array("x", Data::I64(vec![0, 1, 2, 3, 4]), &[5], false)],
                oob("x", &[5], &[5], 0),
                "x[k] >=",
            ),
        ),
        (
            "zero step_by in a helper called from a prange",
            misc(
                "helper_step",
                vec![array("out", Data::I64(vec![0; 4]), &[4], true)],
                Fault::StepNotPositive { step: 0 },
                "step_by(|k)",
            ),
        ),
        (
            "the first fault in program order is reported (y[10] before x[10])",
            misc(
                "first_fault",
                vec![
                    array("x", Data::F64(vec![0.0; 10]), &[10], false),
                    array("y", Data::F64(vec![0.0; 10]), &[10], false),
                    scalar("n", Value::I64(20)),
                ],
                oob("y", &[10], &[10], 0),
                "y[i * 2]",
            ),
        ),
        (
            "fault in one iteration of a large (multi-chunk) prange",
            misc(
                "big_par",
                vec![
                    array("x", Data::F64(vec![0.0; 100_000]), &[100_000], true),
                    scalar("bad", Value::I64(77_777)),
                ],
                oob("x", &[233_331], &[100_000], 0),
                "x[i * 3]",
            ),
        ),
        (
            "fault in the taken branch of an if-expression",
            misc(
                "branch_fault",
                vec![
                    array("out", Data::F64(vec![0.0; 5]), &[5], true),
                    array("x", Data::F64(vec![0.0; 5]), &[5], false),
                ],
                oob("x", &[42], &[5], 0),
                "x[i + 40]",
            ),
        ),
        (
            // `hi - lo` exceeds i64::MAX: the loop must run (and fault at
            // its first index), not wrap to a negative count and be skipped.
            "prange of more than 2^63 iterations",
            misc(
                "huge_range",
                vec![
                    array("x", Data::F64(vec![0.0; 4]), &[4], true),
                    scalar("lo", Value::I64(i64::MIN)),
                ],
                oob("x", &[i64::MIN], &[4], 0),
                "x[i] = 7.5",
            ),
        ),
        (
            "2-D prange of more than 2^63 rows",
            misc(
                "huge_range_2d",
                vec![
                    array("a", Data::F32(vec![0.0; 6]), &[2, 3], true),
                    scalar("lo", Value::I64(i64::MIN + 1)),
                ],
                oob("a", &[i64::MIN + 1, 0], &[2, 3], 0),
                "a[i, j] = 2.5",
            ),
        ),
    ]
}

pub fn fault_cases() -> Vec<(&'static str, FaultCase)> {
    let f64s = |n: usize, mutable| array("x", Data::F64(vec![1.0; n]), &[n], mutable);
    let i64s = |n: usize| array("x", Data::I64(vec![0; n]), &[n], true);
    let mut gather_idx = vec![0i32; 40];
    gather_idx[17] = -2;
    vec![
        ("read past the end", read_1d(10)),
        ("read at 2^40", read_1d(1 << 40)),
        ("read at a negative index", read_1d(-1)),
        ("read at i64::MIN", read_1d(i64::MIN)),
        ("write past the end", write_1d(6)),
        ("write at a negative i32 index", write_1d(-1)),
        ("write at 2^31 - 2 (i32 index)", write_1d(i32::MAX / 2)),
        (
            "2-D read out of range in dimension 1 only",
            index_2d(1, 5, 1),
        ),
        (
            "2-D read out of range in dimension 0 only",
            index_2d(4, 0, 0),
        ),
        ("2-D read negative in dimension 1", index_2d(0, -1, 1)),
        ("3-D write out of range in the last dimension", store_3d()),
        (
            "i32 division by zero",
            divide(
                "divide",
                Value::I32(5),
                Value::I32(0),
                Fault::DivisionByZero,
                "a / b",
            ),
        ),
        (
            "i64 remainder by zero",
            divide(
                "remainder",
                Value::I64(-9),
                Value::I64(0),
                Fault::RemainderByZero,
                "a % b",
            ),
        ),
        (
            "u32 division by zero",
            divide(
                "unsigned_div",
                Value::U32(9),
                Value::U32(0),
                Fault::DivisionByZero,
                "a / (b * 2)",
            ),
        ),
        (
            "division by zero inside nested helpers in a prange",
            helper_div("helper_div", Value::I64(5), Fault::DivisionByZero, "p / q"),
        ),
        (
            "remainder by zero inside a helper",
            helper_div("helper_rem", Value::I32(0), Fault::RemainderByZero, "p % q"),
        ),
        (
            "zero step_by",
            step(
                "step",
                vec![scalar("n", Value::I64(10)), scalar("k", Value::I64(0))],
                0,
                "step_by(|k)",
            ),
        ),
        (
            "negative step_by after rev",
            step(
                "step_rev",
                vec![scalar("k", Value::I32(-2))],
                -3,
                "step_by(|k as i64 - 1)",
            ),
        ),
        (
            "write out of range in one prange iteration",
            parallel(
                "par_write",
                vec![f64s(50, true), scalar("bad", Value::I64(31))],
                oob("x", &[1031], &[50], 0),
                "x[i + 1000]",
            ),
        ),
        (
            "gather out of range inside a reduction",
            parallel(
                "par_gather",
                vec![
                    f64s(10, false),
                    array("idx", Data::I32(gather_idx), &[40], false),
                ],
                oob("x", &[-2], &[10], 0),
                "x[idx[i]]",
            ),
        ),
        (
            "division by zero in one iteration of a 2-D prange",
            parallel(
                "par_div",
                vec![
                    array("out", Data::I32(vec![0; 30]), &[5, 6], true),
                    scalar("c", Value::I32(23)),
                ],
                Fault::DivisionByZero,
                "1000 / ",
            ),
        ),
        (
            "fault in a serial loop inside a prange",
            parallel(
                "par_inner",
                vec![i64s(6), scalar("m", Value::I64(7))],
                oob("x", &[6], &[6], 0),
                "x[j]",
            ),
        ),
        (
            "zero step_by in one prange iteration",
            parallel(
                "par_step",
                vec![i64s(6)],
                Fault::StepNotPositive { step: 0 },
                "5 - i",
            ),
        ),
        (
            "fault in serial code after parallel loops",
            parallel(
                "after_par",
                vec![
                    array("x", Data::F32(vec![0.0; 12]), &[12], true),
                    scalar("k", Value::I64(12)),
                ],
                oob("x", &[12], &[12], 0),
                "x[k]",
            ),
        ),
    ]
    .into_iter()
    .chain(misc_cases())
    .collect()
}
