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

/// Adds `OpDecorate %id NoContraction` for the result of every float
/// arithmetic instruction of `words` (a whole SPIR-V module) and returns
/// how many it marked; `Err` when the module is malformed.
pub fn mark_exact(words: &mut Vec<u32>) -> Result<usize, String> {
    if words.len() < HEADER_WORDS || words[0] != 0x0723_0203 {
        return Err("not a SPIR-V module".into());
    }
    let mut ids = Vec::new();
    let mut insert_at = None;
    let mut at = HEADER_WORDS;
    while at < words.len() {
        let count = (words[at] >> 16) as usize;
        let opcode = words[at] & 0xffff;
        if count == 0 || at + count > words.len() {
            return Err(format!("malformed SPIR-V instruction at word {at}"));
        }
        if insert_at.is_none() && !PREAMBLE.contains(&opcode) {
            insert_at = Some(at);
        }
        // Result type and result id are the first two operands.
        if FLOAT_ARITHMETIC.contains(&opcode) && count >= 3 {
            ids.push(words[at + 2]);
        }
        at += count;
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
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: SpirvTarget = SpirvTarget {
        spirv_version: (1, 3),
        native_workgroup_zeroing: true,
    };

    fn decorated(words: &[u32]) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut at = HEADER_WORDS;
        while at < words.len() {
            let count = (words[at] >> 16) as usize;
            if words[at] & 0xffff == OP_DECORATE && words[at + 2] == NO_CONTRACTION {
                ids.push(words[at + 1]);
            }
            at += count;
        }
        ids
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

    #[test]
    fn malformed_modules_are_errors() {
        assert!(mark_exact(&mut vec![1, 2, 3]).is_err());
        let mut truncated = vec![0x0723_0203, 0x10300, 0, 10, 0, (9 << 16) | 129, 1];
        assert!(mark_exact(&mut truncated).is_err());
    }
}
