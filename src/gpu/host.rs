//! The shared host driver: runs a [`GpuProgram`]'s schedule on any
//! [`GpuDevice`] and turns the device's error record into the same
//! `RuntimeError` the interpreter gives.

use super::schedule::{HostEnv, Step};
use super::{
    GpuProgram, CONTROL_BREAK, CONTROL_CONTINUE, CONTROL_NONE, CONTROL_RETURN, ERROR_WORDS,
    MAX_REDUCE_GROUPS, WORKGROUP_SIZE,
};
use crate::engine::args::Arg;
use crate::engine::fault::{self, FaultContext};
use crate::engine::DeviceBuffer;
use crate::error::{Error, Result, RuntimeError};
use crate::ir::{self, value, Expr, Value, VarId};
use std::collections::HashMap;

/// Where one array of a launch lives on the device.
#[derive(Clone, Copy, Debug)]
pub enum ArrayBinding<'a> {
    /// A host array: the device provides a (pooled) temporary of this many
    /// bytes (may be 0: a device that cannot bind empty buffers pads it),
    /// which the driver fills with `upload_array` and, when the array is
    /// writable, reads back with `download_array`.
    Temporary { bytes: usize },
    /// A buffer of the device's engine (`Arg::Device`, `Arg::DeviceMut`):
    /// bound in place, never copied by the driver.
    Buffer(&'a DeviceBuffer),
}

impl ArrayBinding<'_> {
    /// Bytes of element data the kernel sees.
    pub fn bytes(&self) -> usize {
        match self {
            ArrayBinding::Temporary { bytes } => *bytes,
            ArrayBinding::Buffer(b) => b.bytes(),
        }
    }
}

/// Buffers of one launch.
#[derive(Clone, Debug)]
pub struct LaunchLayout<'a> {
    /// Each array binding, by `ArrayId`.
    pub arrays: Vec<ArrayBinding<'a>>,
    /// 8-byte slots of the frame.
    pub frame_slots: usize,
    /// 8-byte slots of the reduction partials buffer (at least 1).
    pub partial_slots: usize,
}

/// One launch's device state, implemented by each GPU runtime over its
/// compiled module. Calls arrive in order: `begin`, uploads, frame writes,
/// then dispatches interleaved with frame/error reads, then downloads.
/// Reads return data written by every dispatch issued before them.
pub trait GpuDevice {
    /// The most workgroups one dispatch of entry `entry` may have; the host
    /// never asks for more (parallel loops are grid-stride loops).
    fn max_groups(&self, entry: usize) -> u32;
    /// Binds the launch's buffers: temporaries allocated (or reused from a
    /// pool), device buffers taken in place (an error when one belongs to
    /// another device). The error record starts zeroed; the frame is
    /// written whole by the host before any dispatch, and partials are
    /// written by a parallel entry before its combine reads them.
    fn begin(&mut self, layout: &LaunchLayout) -> Result<()>;
    /// Copies the bytes of temporary array `array` (as stored on the
    /// device) in.
    fn upload_array(&mut self, array: usize, bytes: &[u8]) -> Result<()>;
    /// Copies temporary array `array` out (only for writable arrays).
    fn download_array(&mut self, array: usize, out: &mut [u8]) -> Result<()>;
    fn write_frame(&mut self, first_slot: usize, slots: &[u64]) -> Result<()>;
    fn read_frame(&mut self, first_slot: usize, out: &mut [u64]) -> Result<()>;
    /// Runs entry point `entry` (index into `GpuProgram::entries`) with
    /// `groups` workgroups (1 ..= `max_groups()`).
    fn dispatch(&mut self, entry: usize, groups: u32) -> Result<()>;
    /// The error record (`ERROR_WORDS` words; word 0 non-zero: a fault).
    fn read_error(&mut self) -> Result<[u32; ERROR_WORDS]>;
}

/// Workgroups for a parallel loop whose size the host cannot evaluate.
const DEFAULT_GROUPS: u32 = 1024;
/// Host loops look at the error flag every this many iterations, so a fault
/// early in a long host loop does not leave it dispatching no-ops.
const ERROR_POLL: i64 = 64;

/// How a host step sequence ended.
enum Flow {
    Normal,
    Break,
    Continue,
    Return,
}

struct Driver<'p, 'd> {
    program: &'p GpuProgram,
    device: &'d mut dyn GpuDevice,
    /// Values the host knows: scalar parameters and its loop variables.
    known: HashMap<VarId, Value>,
    shapes: Vec<Vec<usize>>,
}

/// Runs `program` on `device` with arguments already checked against the
/// kernel's parameters: scalars, host arrays (copied into temporaries, the
/// writable ones copied back) and buffers of the device's engine (bound in
/// place). Writable host arrays are copied back even when the kernel faults
/// (writes made before a fault may remain, as on the CPU), but not after a
/// device error (the device's memory cannot be trusted, and a copy would
/// only fail again): the launch's own error is what the caller sees.
pub fn run(
    program: &GpuProgram,
    device: &mut dyn GpuDevice,
    args: &mut [Arg],
) -> Result<Option<Value>> {
    let arrays = program.arrays.len();
    let mut layout = LaunchLayout {
        arrays: vec![ArrayBinding::Temporary { bytes: 0 }; arrays],
        frame_slots: program.frame.slots,
        partial_slots: program.partial_slots.max(1),
    };
    let mut shapes = vec![vec![0usize]; arrays];
    let mut frame = vec![0u64; program.frame.slots];
    let mut known = HashMap::new();
    for (param, arg) in program.params.iter().zip(args.iter()) {
        let a = match (param, arg) {
            (ir::Param::Scalar(v), Arg::Scalar(x)) => {
                if let Some(slot) = frame.get_mut(v.index()) {
                    *slot = x.to_bits();
                }
                known.insert(*v, *x);
                continue;
            }
            (ir::Param::Array(a), _) if a.index() < arrays => a.index(),
            _ => continue,
        };
        let (binding, shape) = match arg {
            Arg::Array { data, shape } => (
                ArrayBinding::Temporary {
                    bytes: data.as_bytes().len(),
                },
                shape,
            ),
            Arg::ArrayMut { data, shape } => (
                ArrayBinding::Temporary {
                    bytes: data.len() * data.elem().size_bytes(),
                },
                shape,
            ),
            Arg::Device { buffer, shape } => (ArrayBinding::Buffer(buffer), shape),
            Arg::DeviceMut { buffer, shape } => (ArrayBinding::Buffer(&**buffer), shape),
            Arg::Scalar(_) | Arg::Resident { .. } => {
                return Err(Error::Backend {
                    backend: program.dialect.clone(),
                    message: format!(
                        "array `{}` was given as {} (the runtime resolves managed arrays)",
                        program.arrays[a].name,
                        arg.type_name()
                    ),
                })
            }
        };
        layout.arrays[a] = binding;
        shapes[a] = shape.clone();
    }
    let slots = program
        .frame
        .shape_slots
        .iter()
        .zip(&program.frame.len_slots);
    for (shape, (dims, &len)) in shapes.iter().zip(slots) {
        for (d, &slot) in dims.iter().enumerate() {
            if let Some(s) = frame.get_mut(slot) {
                *s = shape.get(d).copied().unwrap_or(1) as u64;
            }
        }
        if let Some(s) = frame.get_mut(len) {
            *s = shape.iter().product::<usize>() as u64;
        }
    }
    device.begin(&layout)?;
    drop(layout);
    for (param, arg) in program.params.iter().zip(args.iter()) {
        match (param, arg) {
            (ir::Param::Array(a), Arg::Array { data, .. }) => {
                device.upload_array(a.index(), data.as_bytes())?
            }
            (ir::Param::Array(a), Arg::ArrayMut { data, .. }) => {
                device.upload_array(a.index(), data.as_bytes())?
            }
            _ => {}
        }
    }
    device.write_frame(0, &frame)?;
    let mut driver = Driver {
        program,
        device,
        known,
        shapes,
    };
    let outcome = driver
        .steps(&program.schedule.steps)
        .and_then(|flow| driver.check_error().map(|()| flow));
    // Copy back whatever the kernel wrote, fault or not; a failed copy after
    // a failed launch is a consequence, not the cause, so it is not reported.
    if !copies_back(&outcome) {
        return outcome.map(|_| None);
    }
    let mut copied = Ok(());
    for (param, arg) in program.params.iter().zip(args.iter_mut()) {
        if let (ir::Param::Array(a), Arg::ArrayMut { data, .. }) = (param, arg) {
            if copied.is_ok() {
                copied = driver.device.download_array(a.index(), data.as_bytes_mut());
            }
        }
    }
    let flow = outcome?;
    copied?;
    let Some(ret) = program.ret else {
        return Ok(None);
    };
    if matches!(flow, Flow::Return) {
        let mut slot = [0u64];
        driver.device.read_frame(program.frame.result, &mut slot)?;
        Ok(Some(Value::from_bits(ret, slot[0])))
    } else {
        Ok(Some(Value::zero(ret)))
    }
}

/// Whether writable host arrays are copied back after a launch that ended
/// with `outcome`: after success and after a located fault of the kernel
/// (a `RuntimeError`), not after an error of the device or driver.
fn copies_back<T>(outcome: &Result<T>) -> bool {
    matches!(outcome, Ok(_) | Err(Error::Runtime(_)))
}

impl Driver<'_, '_> {
    fn steps(&mut self, steps: &[Step]) -> Result<Flow> {
        for step in steps {
            match self.step(step)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn step(&mut self, step: &Step) -> Result<Flow> {
        match step {
            Step::Serial { entry, exits } => {
                self.device.dispatch(*entry, 1)?;
                if *exits {
                    return self.control();
                }
            }
            Step::Parallel {
                header,
                entry,
                combine,
                bounds,
                ..
            } => {
                let cap = if combine.is_some() {
                    MAX_REDUCE_GROUPS.min(self.device.max_groups(*entry))
                } else {
                    self.device.max_groups(*entry)
                }
                .max(1);
                let iterations = match header {
                    Some(h) => self.header_iterations(*h, bounds.len())?,
                    None => self.iterations(bounds),
                };
                let groups = match iterations {
                    Some(0) => return Ok(Flow::Normal),
                    Some(n) => n.div_ceil(WORKGROUP_SIZE as u64).min(cap as u64) as u32,
                    None => DEFAULT_GROUPS.min(cap),
                };
                self.device.dispatch(*entry, groups.max(1))?;
                if let Some(c) = combine {
                    self.device.dispatch(*c, 1)?;
                }
            }
            Step::For {
                var,
                header,
                start,
                count,
                stride,
                body,
            } => {
                let [start, count, stride] = self.values(*header, [start, count, stride])?;
                let (start, count, stride) = (as_i64(start), as_i64(count), as_i64(stride));
                let slot = self.program.frame.var(*var);
                let mut current = start;
                for k in 0..count.max(0) {
                    if k % ERROR_POLL == ERROR_POLL - 1 {
                        self.check_error()?;
                    }
                    self.known.insert(*var, Value::I64(current));
                    self.device.write_frame(slot, &[current as u64])?;
                    match self.steps(body)? {
                        Flow::Normal | Flow::Continue => {}
                        Flow::Break => break,
                        Flow::Return => return Ok(Flow::Return),
                    }
                    current = current.wrapping_add(stride);
                }
                self.known.remove(var);
            }
            Step::While { header, cond, body } => {
                let mut k = 0i64;
                loop {
                    k += 1;
                    if k % ERROR_POLL == 0 {
                        self.check_error()?;
                    }
                    let [c] = self.values(*header, [cond])?;
                    if c != Value::Bool(true) {
                        break;
                    }
                    match self.steps(body)? {
                        Flow::Normal | Flow::Continue => {}
                        Flow::Break => break,
                        Flow::Return => return Ok(Flow::Return),
                    }
                }
            }
            Step::If {
                header,
                cond,
                then,
                els,
            } => {
                let [c] = self.values(*header, [cond])?;
                let taken = if c == Value::Bool(true) { then } else { els };
                return self.steps(taken);
            }
        }
        Ok(Flow::Normal)
    }

    /// The values of a header's expressions: evaluated here when the host
    /// can, else computed by the header entry and read back.
    fn values<const N: usize>(&mut self, header: usize, exprs: [&Expr; N]) -> Result<[Value; N]> {
        let mut out = [Value::Bool(false); N];
        let evaluated: Option<Vec<Value>> = exprs.iter().map(|e| self.eval(e)).collect();
        if let Some(vals) = evaluated {
            out.copy_from_slice(&vals);
            return Ok(out);
        }
        self.device.dispatch(header, 1)?;
        self.check_error()?;
        let mut bits = [0u64; N];
        self.device
            .read_frame(self.program.frame.scratch, &mut bits)?;
        for ((o, e), b) in out.iter_mut().zip(exprs).zip(bits) {
            *o = Value::from_bits(e.ty, b);
        }
        Ok(out)
    }

    /// Reads the control word a serial segment may have left.
    fn control(&mut self) -> Result<Flow> {
        self.check_error()?;
        let mut word = [0u64];
        let slot = self.program.frame.control;
        self.device.read_frame(slot, &mut word)?;
        if word[0] != CONTROL_NONE {
            // Consumed: later segments only write the word when they exit.
            self.device.write_frame(slot, &[CONTROL_NONE])?;
        }
        Ok(match word[0] {
            CONTROL_NONE => Flow::Normal,
            CONTROL_BREAK => Flow::Break,
            CONTROL_CONTINUE => Flow::Continue,
            CONTROL_RETURN => Flow::Return,
            other => {
                return Err(Error::Backend {
                    backend: self.program.dialect.clone(),
                    message: format!("corrupt control word {other}"),
                })
            }
        })
    }

    /// Runs a parallel loop's bounds header and reads the bounds back (the
    /// loop is then sized exactly, and skipped when empty).
    fn header_iterations(&mut self, header: usize, dims: usize) -> Result<Option<u64>> {
        self.device.dispatch(header, 1)?;
        self.check_error()?;
        let mut bits = vec![0u64; 2 * dims];
        self.device
            .read_frame(self.program.frame.scratch, &mut bits)?;
        let mut total = 1u64;
        for pair in bits.chunks(2) {
            let n = (pair[1] as i64 as i128 - pair[0] as i64 as i128).max(0) as u64;
            total = total.saturating_mul(n);
        }
        Ok(Some(total))
    }

    /// The iteration count of a parallel loop, when the host can evaluate
    /// its bounds.
    fn iterations(&self, bounds: &[(Expr, Expr)]) -> Option<u64> {
        let mut total = 1u64;
        for (lo, hi) in bounds {
            let (lo, hi) = (as_i64(self.eval(lo)?), as_i64(self.eval(hi)?));
            let n = (hi as i128 - lo as i128).max(0) as u64;
            total = total.saturating_mul(n);
        }
        Some(total)
    }

    fn check_error(&mut self) -> Result<()> {
        let record = self.device.read_error()?;
        if record[0] == 0 {
            return Ok(());
        }
        Err(Error::Runtime(decode(self.program, &self.shapes, &record)?))
    }

    /// Evaluates `e` on the host, or `None` when it needs the device.
    fn eval(&self, e: &Expr) -> Option<Value> {
        let env = HostEnv {
            known: &self.known,
            lets: &self.program.schedule.host_lets,
            shapes: &self.shapes,
        };
        env.eval(e)
    }
}

/// Turns an error record into the located fault of its site.
pub fn decode(
    program: &GpuProgram,
    shapes: &[Vec<usize>],
    record: &[u32; ERROR_WORDS],
) -> Result<RuntimeError> {
    // Operands are stored as (low, high) word pairs after the site index.
    let operands: Vec<i64> = record[2..]
        .chunks(2)
        .map(|w| (w[0] as u64 | (w.get(1).copied().unwrap_or(0) as u64) << 32) as i64)
        .collect();
    let name = |a: ir::ArrayId| program.arrays.get(a.index()).map(|x| x.name.clone());
    let cx = FaultContext {
        kernel: &program.kernel,
        file: &program.file,
        backend: &program.dialect,
        shapes,
        array_name: &name,
    };
    fault::decode(&cx, &program.sites, record[1], &operands)
}

fn as_i64(v: Value) -> i64 {
    match value::cast(v, ir::ScalarType::I64) {
        Value::I64(x) => x,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::wgsl::Wgsl;

    /// A device that records downloads and can fail reading the error
    /// record the way a device does after a kernel faulted on it.
    struct Mock {
        device_error: bool,
        downloads: usize,
    }

    fn device_failure(what: &str) -> Error {
        Error::Backend {
            backend: "mock".into(),
            message: what.into(),
        }
    }

    impl GpuDevice for Mock {
        fn max_groups(&self, _entry: usize) -> u32 {
            4
        }
        fn begin(&mut self, _layout: &LaunchLayout) -> Result<()> {
            Ok(())
        }
        fn upload_array(&mut self, _array: usize, _bytes: &[u8]) -> Result<()> {
            Ok(())
        }
        fn download_array(&mut self, _array: usize, _out: &mut [u8]) -> Result<()> {
            self.downloads += 1;
            Err(device_failure("cannot copy an array from the device"))
        }
        fn write_frame(&mut self, _first_slot: usize, _slots: &[u64]) -> Result<()> {
            Ok(())
        }
        fn read_frame(&mut self, _first_slot: usize, out: &mut [u64]) -> Result<()> {
            out.fill(0);
            Ok(())
        }
        fn dispatch(&mut self, _entry: usize, _groups: u32) -> Result<()> {
            Ok(())
        }
        fn read_error(&mut self) -> Result<[u32; ERROR_WORDS]> {
            if self.device_error {
                Err(device_failure(
                    "a kernel failed on the device (illegal address)",
                ))
            } else {
                Ok([0; ERROR_WORDS])
            }
        }
    }

    fn launch(device_error: bool) -> (Result<Option<Value>>, usize) {
        let m = crate::Module::from_source(
            "host.kn",
            "kernel k(y: mut f32[:]) { for i in prange(0..y.len()) { y[i] = 1.0; } }",
        )
        .unwrap();
        let k = m.kernel("k").unwrap();
        let program = crate::gpu::generate(m.ir(), k.id(), &Wgsl).unwrap();
        let mut y = vec![0.0f32; 8];
        let mut mock = Mock {
            device_error,
            downloads: 0,
        };
        let outcome = run(&program, &mut mock, &mut [Arg::from(&mut y)]);
        (outcome, mock.downloads)
    }

    #[test]
    fn a_device_error_is_reported_as_itself_and_nothing_is_copied_back() {
        let (outcome, downloads) = launch(true);
        let message = outcome.unwrap_err().to_string();
        assert!(message.contains("failed on the device"), "{message}");
        assert_eq!(downloads, 0, "no copy back after a device error");
    }

    #[test]
    fn a_successful_launch_copies_writable_arrays_back() {
        let (outcome, downloads) = launch(false);
        assert_eq!(downloads, 1);
        assert!(outcome.unwrap_err().to_string().contains("cannot copy"));
    }

    #[test]
    fn faults_copy_back_device_errors_do_not() {
        assert!(copies_back::<()>(&Ok(())));
        assert!(!copies_back::<()>(&Err(device_failure("x"))));
    }
}
