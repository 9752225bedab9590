//! The kernel files `kiln selftest` and `kiln bench` carry inside the
//! binary (so they run from any directory, with no source tree): the
//! library (`kernels/`) and the language-coverage kernels
//! (`tests/conformance/`), as (stem, source). The conformance tests check
//! that these lists equal the directories.

/// `kernels/*.kn`.
pub const LIBRARY: &[(&str, &str)] = &[
    (
        "blackscholes",
        include_str!("../../kernels/blackscholes.kn"),
    ),
    ("dot", include_str!("../../kernels/dot.kn")),
    ("histogram", include_str!("../../kernels/histogram.kn")),
    ("jacobi2d", include_str!("../../kernels/jacobi2d.kn")),
    ("mandelbrot", include_str!("../../kernels/mandelbrot.kn")),
    ("matmul", include_str!("../../kernels/matmul.kn")),
    ("minmax", include_str!("../../kernels/minmax.kn")),
    ("nbody", include_str!("../../kernels/nbody.kn")),
    ("saxpy", include_str!("../../kernels/saxpy.kn")),
    (
        "scale_inplace",
        include_str!("../../kernels/scale_inplace.kn"),
    ),
    (
        "softmax_rows",
        include_str!("../../kernels/softmax_rows.kn"),
    ),
    (
        "sum_of_squares_range",
        include_str!("../../kernels/sum_of_squares_range.kn"),
    ),
    ("sum_sq", include_str!("../../kernels/sum_sq.kn")),
    ("triad", include_str!("../../kernels/triad.kn")),
];

/// `tests/conformance/*.kn`.
pub const CONFORMANCE: &[(&str, &str)] = &[
    (
        "atomics",
        include_str!("../../tests/conformance/atomics.kn"),
    ),
    (
        "const_casts",
        include_str!("../../tests/conformance/const_casts.kn"),
    ),
    (
        "folded_constants",
        include_str!("../../tests/conformance/folded_constants.kn"),
    ),
    (
        "guarded_access",
        include_str!("../../tests/conformance/guarded_access.kn"),
    ),
    (
        "helpers_consts",
        include_str!("../../tests/conformance/helpers_consts.kn"),
    ),
    (
        "inference",
        include_str!("../../tests/conformance/inference.kn"),
    ),
    (
        "int_edges",
        include_str!("../../tests/conformance/int_edges.kn"),
    ),
    ("loops", include_str!("../../tests/conformance/loops.kn")),
    (
        "math_f32",
        include_str!("../../tests/conformance/math_f32.kn"),
    ),
    (
        "math_f64",
        include_str!("../../tests/conformance/math_f64.kn"),
    ),
    (
        "no_reassociation",
        include_str!("../../tests/conformance/no_reassociation.kn"),
    ),
    (
        "par_patterns",
        include_str!("../../tests/conformance/par_patterns.kn"),
    ),
    (
        "prange_dims",
        include_str!("../../tests/conformance/prange_dims.kn"),
    ),
    (
        "reductions",
        include_str!("../../tests/conformance/reductions.kn"),
    ),
    (
        "scalar_types",
        include_str!("../../tests/conformance/scalar_types.kn"),
    ),
    (
        "serial_result",
        include_str!("../../tests/conformance/serial_result.kn"),
    ),
    (
        "shadowing",
        include_str!("../../tests/conformance/shadowing.kn"),
    ),
    (
        "short_circuit",
        include_str!("../../tests/conformance/short_circuit.kn"),
    ),
    (
        "signed_zero",
        include_str!("../../tests/conformance/signed_zero.kn"),
    ),
];
