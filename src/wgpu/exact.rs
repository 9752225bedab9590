//! SPIR-V in which every float operation is exact.
//!
//! The kernel language promises IEEE arithmetic without reassociation
//! (docs/language.md §4), but Mesa (and other Vulkan compilers) rewrite
//! float expressions with real-number identities unless the shader forbids
//! it: `(x + b) + (-x)` becomes `b`, `(x * 2.0) * 0.5` becomes `x`. naga
//! writes no such prohibition, so where the device takes SPIR-V directly
//! (Vulkan with `PASSTHROUGH_SHADERS`) kiln translates the WGSL with naga
//! itself, with the options wgpu would use, and decorates the result of
//! every float arithmetic instruction `NoContraction`. Mesa turns that
//! decoration into NIR's `exact` flag, which disables every inexact
//! algebraic rewrite of the instruction; other drivers at least stop
//! contracting it into a fused multiply-add. What remains is listed in
//! docs/gpu-math.md.

/// SPIR-V opcodes whose result is float arithmetic.
const FLOAT_ARITHMETIC: [u32; 13] = [
    127, // OpFNegate
    129, // OpFAdd
    131, // OpFSub
    133, // OpFMul
    136, // OpFDiv
    140, // OpFRem
    141, // OpFMod
    142, // OpVectorTimesScalar
    143, // OpMatrixTimesScalar
    144, // OpVectorTimesMatrix
    145, // OpMatrixTimesVector
    146, // OpMatrixTimesMatrix
    148, // OpDot
];

/// Instructions of the module's preamble, before its annotations (SPIR-V's
/// logical layout: capabilities, extensions, imports, memory model, entry
/// points, execution modes, debug information).
const PREAMBLE: [u32; 15] = [
    17,  // OpCapability
    10,  // OpExtension
    11,  // OpExtInstImport
    14,  // OpMemoryModel
    15,  // OpEntryPoint
    16,  // OpExecutionMode
    331, // OpExecutionModeId
    7,   // OpString
    3,   // OpSource
    2,   // OpSourceContinued
    4,   // OpSourceExtension
    5,   // OpName
    6,   // OpMemberName
    330, // OpModuleProcessed
    0,   // OpNop
];

const OP_DECORATE: u32 = 71;
const NO_CONTRACTION: u32 = 42;
const HEADER_WORDS: usize = 5;

/// The start, opcode and word count of every instruction after the header;
/// `Err` when the module is not SPIR-V or an instruction runs past its end.
fn walk(words: &[u32]) -> Result<Vec<(usize, u32, usize)>, String> {
    if words.len() < HEADER_WORDS || words[0] != 0x0723_0203 {
        return Err("not a SPIR-V module".into());
    }
    let mut out = Vec::new();
    let mut at = HEADER_WORDS;
    while at < words.len() {
        let count = (words[at] >> 16) as usize;
        if count == 0 || at + count > words.len() {
            return Err(format!("malformed SPIR-V instruction at word {at}"));
        }
        out.push((at, words[at] & 0xffff, count));
        at += count;
    }
    Ok(out)
}

const OP_CAPABILITY: u32 = 17;
const OP_EXTENSION: u32 = 10;
const OP_ENTRY_POINT: u32 = 15;
const OP_EXECUTION_MODE: u32 = 16;
const CAPABILITY_FLOAT64: u32 = 10;
const CAPABILITY_SIGNED_ZERO_INF_NAN_PRESERVE: u32 = 4466;
const MODE_SIGNED_ZERO_INF_NAN_PRESERVE: u32 = 4461;

/// A literal string operand: UTF-8, NUL-terminated, padded to whole words.
fn string_words(text: &str) -> Vec<u32> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Declares `SignedZeroInfNanPreserve` (SPV_KHR_float_controls) on every
/// entry point for the float `widths` the device honours it for (64 only
/// when the module uses f64): without it Mesa folds `0 * x` to 0 whatever
/// the NoContraction decorations say (wrong for NaN, inf and -0), as those
/// rules are conditioned on the float-controls mode, not on exactness.
pub fn preserve_specials(words: &mut Vec<u32>, widths: &[u32]) -> Result<(), String> {
    if widths.is_empty() {
        return Ok(());
    }
    let mut float64 = false;
    let mut entries = Vec::new();
    let mut after_capabilities = None;
    let mut after_entry_points = None;
    for (at, opcode, count) in walk(words)? {
        match opcode {
            OP_CAPABILITY => float64 |= words[at + 1] == CAPABILITY_FLOAT64,
            OP_ENTRY_POINT if count >= 3 => entries.push(words[at + 2]),
            _ => {}
        }
        if after_capabilities.is_none() && opcode != OP_CAPABILITY {
            after_capabilities = Some(at);
        }
        if after_entry_points.is_none()
            && ![OP_CAPABILITY, OP_EXTENSION, 11, 14, OP_ENTRY_POINT].contains(&opcode)
        {
            after_entry_points = Some(at);
        }
    }
    let widths: Vec<u32> = widths
        .iter()
        .copied()
        .filter(|&w| w == 32 || (w == 64 && float64))
        .collect();
    let modes: Vec<u32> = entries
        .iter()
        .flat_map(|&f| {
            widths.iter().flat_map(move |&w| {
                [
                    (4 << 16) | OP_EXECUTION_MODE,
                    f,
                    MODE_SIGNED_ZERO_INF_NAN_PRESERVE,
                    w,
                ]
            })
        })
        .collect();
    let end = words.len();
    words.splice(
        after_entry_points.unwrap_or(end)..after_entry_points.unwrap_or(end),
        modes,
    );
    let name = string_words("SPV_KHR_float_controls");
    let mut head = vec![
        (2 << 16) | OP_CAPABILITY,
        CAPABILITY_SIGNED_ZERO_INF_NAN_PRESERVE,
    ];
    head.push((((1 + name.len()) as u32) << 16) | OP_EXTENSION);
    head.extend(name);
    let at = after_capabilities.unwrap_or(end);
    words.splice(at..at, head);
    Ok(())
}

/// Adds `OpDecorate %id NoContraction` for the result of every float
/// arithmetic instruction of `words` (a whole SPIR-V module) and returns
/// how many it marked; `Err` when the module is malformed.
pub fn mark_exact(words: &mut Vec<u32>) -> Result<usize, String> {
    let mut ids = Vec::new();
    let mut insert_at = None;
    for (at, opcode, count) in walk(words)? {
        if insert_at.is_none() && !PREAMBLE.contains(&opcode) {
            insert_at = Some(at);
        }
        // Result type and result id are the first two operands.
        if FLOAT_ARITHMETIC.contains(&opcode) && count >= 3 {
            ids.push(words[at + 2]);
        }
    }
    let insert_at = insert_at.unwrap_or(words.len());
    let decorations: Vec<u32> = ids
        .iter()
        .flat_map(|&id| [(3 << 16) | OP_DECORATE, id, NO_CONTRACTION])
        .collect();
    words.splice(insert_at..insert_at, decorations);
    Ok(ids.len())
}

/// What the SPIR-V is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpirvTarget {
    /// SPIR-V version: 1.3 is what Vulkan 1.1, the oldest version wgpu runs
    /// on, reads.
    pub spirv_version: (u8, u8),
    /// The device zero-initializes workgroup memory itself (Vulkan 1.3 or
    /// `VK_KHR_zero_initialize_workgroup_memory`, which wgpu then enables).
    pub native_workgroup_zeroing: bool,
    /// The float widths (32, 64) for which the device honours the
    /// `SignedZeroInfNanPreserve` float-controls mode ([`preserve_specials`]).
    pub preserve_specials: &'static [u32],
}

/// Translates WGSL to SPIR-V for `target`, with the runtime checks wgpu
/// applies to its own translation (indices and buffer accesses restricted,
/// loops bounded, workgroup memory zeroed), and marks every float operation
/// exact. `entries` must all be compute entry points of the module: wgpu
/// cannot check a passthrough module's entry points, so this does.
pub fn exact_spirv(
    source: &str,
    target: SpirvTarget,
    entries: &[&str],
) -> Result<Vec<u32>, String> {
    use naga::back::spv;
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .map_err(|e| e.emit_to_string(source))?;
    for entry in entries {
        let found = module
            .entry_points
            .iter()
            .any(|e| e.name == *entry && e.stage == naga::ShaderStage::Compute);
        if !found {
            return Err(format!("no compute entry point `{entry}`"));
        }
    }
    let restrict = naga::proc::BoundsCheckPolicy::Restrict;
    let options = spv::Options {
        lang_version: target.spirv_version,
        flags: spv::WriterFlags::empty(),
        bounds_check_policies: naga::proc::BoundsCheckPolicies {
            index: restrict,
            buffer: restrict,
            image_load: restrict,
            binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
        },
        force_loop_bounding: true,
        // The driver's own zeroing where it has one, as wgpu chooses: naga's
        // polyfill (a zeroing loop and a barrier at entry) made lavapipe's
        // LLVM take minutes over some reduction shaders.
        zero_initialize_workgroup_memory: if target.native_workgroup_zeroing {
            spv::ZeroInitializeWorkgroupMemoryMode::Native
        } else {
            spv::ZeroInitializeWorkgroupMemoryMode::Polyfill
        },
        ..spv::Options::default()
    };
    let mut words = spv::write_vec(&module, &info, &options, None).map_err(|e| e.to_string())?;
    mark_exact(&mut words)?;
    preserve_specials(&mut words, target.preserve_specials)?;
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: SpirvTarget = SpirvTarget {
        spirv_version: (1, 3),
        native_workgroup_zeroing: true,
        preserve_specials: &[32, 64],
    };

    fn decorated(words: &[u32]) -> Vec<u32> {
        walk(words)
            .unwrap()
            .into_iter()
            .filter(|&(at, op, _)| op == OP_DECORATE && words[at + 2] == NO_CONTRACTION)
            .map(|(at, _, _)| words[at + 1])
            .collect()
    }

    #[test]
    fn every_float_operation_is_marked_and_nothing_else() {
        let source = "
            @group(0) @binding(0) var<storage, read_write> v: array<f32>;
            @compute @workgroup_size(1)
            fn main() {
                let x = v[0];
                v[1] = (x + v[2]) * 0.5 - x / v[3];
                v[4] = -x;
                v[5] = f32(u32(v[6]) + 1u);
            }";
        let words = exact_spirv(source, TARGET, &["main"]).unwrap();
        assert!(exact_spirv(source, TARGET, &["other"]).is_err());
        // add, mul, sub, div, negate: five float operations; the integer
        // add stays unmarked.
        assert_eq!(decorated(&words).len(), 5);
    }

    /// Every instruction as (opcode, operands).
    fn instructions(words: &[u32]) -> Vec<(u32, Vec<u32>)> {
        walk(words)
            .unwrap()
            .into_iter()
            .map(|(at, op, count)| (op, words[at + 1..at + count].to_vec()))
            .collect()
    }

    #[test]
    fn specials_are_preserved_for_the_widths_the_device_honours() {
        let source = "
            @group(0) @binding(0) var<storage, read_write> v: array<f64>;
            @compute @workgroup_size(1)
            fn a() { v[0] = v[1] * 0.0lf; }
            @compute @workgroup_size(1)
            fn b() { v[2] = -v[3]; }";
        let words = exact_spirv(source, TARGET, &["a", "b"]).unwrap();
        let ops = instructions(&words);
        let modes: Vec<&Vec<u32>> = ops
            .iter()
            .filter(|(op, args)| {
                *op == OP_EXECUTION_MODE && args[1] == MODE_SIGNED_ZERO_INF_NAN_PRESERVE
            })
            .map(|(_, args)| args)
            .collect();
        // Two entry points, f32 and f64 each.
        assert_eq!(modes.len(), 4, "{modes:?}");
        assert!(ops.contains(&(OP_CAPABILITY, vec![CAPABILITY_SIGNED_ZERO_INF_NAN_PRESERVE])));
        let extension = string_words("SPV_KHR_float_controls");
        assert!(ops.contains(&(OP_EXTENSION, extension)));
        // SPIR-V's layout: capabilities, then extensions, then the rest;
        // execution modes after the entry points.
        let first = |op: u32| ops.iter().position(|(o, _)| *o == op).unwrap();
        let last = |op: u32| ops.iter().rposition(|(o, _)| *o == op).unwrap();
        assert!(last(OP_CAPABILITY) < first(OP_EXTENSION));
        assert!(last(OP_ENTRY_POINT) < first(OP_EXECUTION_MODE));
        // A device honouring the mode for f32 only gets f32 modes; one
        // honouring neither gets the module unchanged but for decorations.
        let f32_only = SpirvTarget {
            preserve_specials: &[32],
            ..TARGET
        };
        let words = exact_spirv(source, f32_only, &["a", "b"]).unwrap();
        let count = instructions(&words)
            .iter()
            .filter(|(op, args)| {
                *op == OP_EXECUTION_MODE && args[1] == MODE_SIGNED_ZERO_INF_NAN_PRESERVE
            })
            .inspect(|(_, args)| assert_eq!(args[2], 32))
            .count();
        assert_eq!(count, 2);
        let none = SpirvTarget {
            preserve_specials: &[],
            ..TARGET
        };
        let words = exact_spirv(source, none, &["a", "b"]).unwrap();
        assert!(!instructions(&words)
            .iter()
            .any(|(op, _)| *op == OP_EXTENSION));
    }

    #[test]
    fn malformed_modules_are_errors() {
        assert!(mark_exact(&mut vec![1, 2, 3]).is_err());
        let mut truncated = vec![0x0723_0203, 0x10300, 0, 10, 0, (9 << 16) | 129, 1];
        assert!(mark_exact(&mut truncated).is_err());
    }
}
