//! Running one launch on a chosen engine: managed arrays are synced to the
//! engine's memory first (copied only when it lacks a valid copy) and marked
//! afterwards (what the kernel wrote is valid only where it ran).

use super::args::{Arg, ArrayData};
use super::array::{AnyArray, State};
use super::device::{self, DeviceBuffer};
use super::{Backend, BackendKind, CompiledKernel, Engine};
use crate::error::Result;
use crate::ir::Value;
use std::fmt;
use std::sync::{Arc, MutexGuard};

/// How a launch runs once its engine is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Placement {
    /// The CPU JIT entirely on the calling thread.
    CpuSerial,
    /// The CPU JIT with its parallel loops on the thread pool.
    CpuPool,
    /// The CPU JIT deciding per loop (what `--backend cpu` runs).
    Cpu,
    /// The reference interpreter.
    Interp,
    /// A GPU backend (its engine's device).
    Gpu(Backend),
}

impl Placement {
    /// The placement's name (one of [`Placement::NAMES`]).
    pub fn name(self) -> &'static str {
        match self {
            Placement::CpuSerial => "cpu-serial",
            Placement::CpuPool => "cpu-pool",
            Placement::Cpu => "cpu",
            Placement::Interp => "interp",
            Placement::Gpu(b) => b.name(),
        }
    }

    /// The backend whose engine runs it.
    pub fn backend(self) -> Backend {
        match self {
            Placement::CpuSerial | Placement::CpuPool | Placement::Cpu => Backend::Cpu,
            Placement::Interp => Backend::Interp,
            Placement::Gpu(b) => b,
        }
    }

    /// Every name `parse` accepts: the CPU's placements, the interpreter,
    /// and each device backend of the table.
    pub fn names() -> Vec<&'static str> {
        let mut names = vec!["cpu-serial", "cpu-pool", "cpu", "interp"];
        names.extend(Backend::devices().map(Backend::name));
        names
    }

    /// The placement named `s` (one of [`Placement::NAMES`]).
    pub fn parse(s: &str) -> Option<Placement> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "cpu-serial" => Placement::CpuSerial,
            "cpu-pool" => Placement::CpuPool,
            "cpu" => Placement::Cpu,
            "interp" => Placement::Interp,
            other => match other.parse::<Backend>() {
                Ok(b) if b.kind() == BackendKind::Device => Placement::Gpu(b),
                _ => return None,
            },
        })
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled kernel with the engine and placement that run it.
#[derive(Clone)]
pub(crate) struct Target {
    pub place: Placement,
    pub engine: Arc<dyn Engine>,
    pub compiled: Arc<dyn CompiledKernel>,
}

impl Target {
    fn launch_host(&self, args: &mut [Arg]) -> Result<Option<Value>> {
        match self.place {
            Placement::CpuSerial => self.compiled.launch_serial(args),
            _ => self.compiled.launch(args),
        }
    }
}

/// One argument with its managed array's state locked.
enum Slot<'x, 'a> {
    Plain(&'x mut Arg<'a>),
    Managed { lock: usize, writable: bool },
}

/// Runs `target` on `args` (already checked). `turns` (on the thread of a
/// `launch_async`) gives each managed array's ticket: the launch waits for
/// the asynchronous launches before it instead of for all of them.
pub(crate) fn run(
    target: &Target,
    args: &mut [Arg],
    turns: Option<&[(usize, u64)]>,
) -> Result<Option<Value>> {
    if !args.iter().any(|a| matches!(a, Arg::Resident { .. })) {
        // Host data only: a device engine copies it in and out itself.
        return target.launch_host(args);
    }
    // Lock every distinct managed array once, in address order (two
    // launches sharing arrays then cannot deadlock), and keep the locks for
    // the whole launch: nobody can move the data in between.
    let mut arrays: Vec<&AnyArray> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Resident { array, .. } => Some(super::array::managed(*array)),
            _ => None,
        })
        .collect();
    arrays.sort_by_key(|a| *a as *const AnyArray as usize);
    arrays.dedup_by_key(|a| *a as *const AnyArray as usize);
    let mut locks: Vec<MutexGuard<State>> = arrays
        .iter()
        .map(|a| {
            let addr = *a as *const AnyArray as usize;
            match turns.and_then(|t| t.iter().find(|(p, _)| *p == addr)) {
                Some((_, ticket)) => a.lock_turn(*ticket),
                None => a.lock_idle(),
            }
        })
        .collect();
    let find = |a: &AnyArray| arrays.iter().position(|b| std::ptr::eq(*b, a)).unwrap_or(0);
    let mut slots: Vec<Slot> = args
        .iter_mut()
        .map(|a| match a {
            Arg::Resident { array, writable } => Slot::Managed {
                lock: find(super::array::managed(*array)),
                writable: *writable,
            },
            other => Slot::Plain(other),
        })
        .collect();
    if target.engine.has_device_memory() {
        run_device(target, &mut slots, &mut locks)
    } else {
        run_host(target, &mut slots, &mut locks)
    }
}

/// The locks of the managed arrays the kernel may write: their copy on the
/// device that ran it becomes the only valid one.
fn written_locks(slots: &[Slot]) -> Vec<usize> {
    slots
        .iter()
        .filter_map(|s| match s {
            Slot::Managed {
                lock,
                writable: true,
            } => Some(*lock),
            _ => None,
        })
        .collect()
}

fn run_host(
    target: &Target,
    slots: &mut [Slot],
    locks: &mut [MutexGuard<State>],
) -> Result<Option<Value>> {
    for s in locks.iter_mut() {
        s.sync_host()?;
    }
    let written = written_locks(slots);
    let result = {
        // Writable managed arrays are never aliased (checked), so each lock
        // is borrowed mutably at most once; read-only ones may repeat.
        let mut states: Vec<Option<&mut State>> =
            locks.iter_mut().map(|g| Some(&mut **g)).collect();
        let mut shared: Vec<Option<&State>> = vec![None; states.len()];
        let mut launch_args: Vec<Arg> = Vec::with_capacity(slots.len());
        for slot in slots.iter_mut() {
            launch_args.push(match slot {
                Slot::Plain(a) => reborrow(a),
                Slot::Managed {
                    lock,
                    writable: true,
                } => match states[*lock].take() {
                    Some(s) => s.host_arg_mut(),
                    None => return Err(internal("a writable array is passed twice")),
                },
                Slot::Managed { lock, .. } => {
                    if shared[*lock].is_none() {
                        match states[*lock].take() {
                            Some(s) => shared[*lock] = Some(&*s),
                            None => {
                                return Err(internal("an array is passed writable and read-only"))
                            }
                        }
                    }
                    match shared[*lock] {
                        Some(s) => s.host_arg(),
                        None => return Err(internal("lost an array's lock")),
                    }
                }
            });
        }
        target.launch_host(&mut launch_args)
    };
    for k in written {
        locks[k].wrote_host();
    }
    result
}

fn run_device(
    target: &Target,
    slots: &mut [Slot],
    locks: &mut [MutexGuard<State>],
) -> Result<Option<Value>> {
    let engine = &target.engine;
    for s in locks.iter_mut() {
        s.sync_device(engine)?;
    }
    // Plain host arrays go up in temporary buffers (counted like any copy).
    let mut temps: Vec<Option<DeviceBuffer>> = Vec::with_capacity(slots.len());
    for slot in slots.iter() {
        temps.push(match slot {
            Slot::Plain(Arg::Array { data, .. }) => Some(upload(engine, data)?),
            Slot::Plain(Arg::ArrayMut { data, .. }) => Some(upload(engine, &data.view())?),
            _ => None,
        });
    }
    let written = written_locks(slots);
    let result = {
        let mut states: Vec<Option<&mut State>> =
            locks.iter_mut().map(|g| Some(&mut **g)).collect();
        let mut shared: Vec<Option<&State>> = vec![None; states.len()];
        let mut dargs: Vec<Arg> = Vec::with_capacity(slots.len());
        for (slot, temp) in slots.iter().zip(temps.iter_mut()) {
            dargs.push(match (slot, temp) {
                (Slot::Plain(Arg::Scalar(v)), _) => Arg::Scalar(*v),
                (Slot::Plain(Arg::Array { shape, .. }), Some(buffer)) => Arg::Device {
                    buffer: &*buffer,
                    shape: shape.clone(),
                },
                (Slot::Plain(Arg::ArrayMut { shape, .. }), Some(buffer)) => Arg::DeviceMut {
                    buffer,
                    shape: shape.clone(),
                },
                (
                    Slot::Managed {
                        lock,
                        writable: true,
                    },
                    _,
                ) => match states[*lock].take() {
                    Some(State {
                        shape,
                        device: Some(d),
                        ..
                    }) => Arg::DeviceMut {
                        buffer: &mut d.buffer,
                        shape: shape.clone(),
                    },
                    _ => return Err(internal("a writable array is passed twice")),
                },
                (Slot::Managed { lock, .. }, _) => {
                    if shared[*lock].is_none() {
                        shared[*lock] = states[*lock].take().map(|s| &*s);
                    }
                    match shared[*lock] {
                        Some(State {
                            shape,
                            device: Some(d),
                            ..
                        }) => Arg::Device {
                            buffer: &d.buffer,
                            shape: shape.clone(),
                        },
                        _ => return Err(internal("an array is passed writable and read-only")),
                    }
                }
                _ => return Err(internal("an argument lost its device buffer")),
            });
        }
        target.compiled.launch(&mut dargs)
    };
    for k in &written {
        locks[*k].wrote_device();
    }
    let result = result?;
    // Writable host slices get their results back.
    for (slot, temp) in slots.iter_mut().zip(&temps) {
        if let (Slot::Plain(Arg::ArrayMut { data, .. }), Some(buffer)) = (slot, temp) {
            engine.download(buffer, data)?;
            device::count_download(buffer.bytes());
        }
    }
    Ok(result)
}

fn upload(engine: &Arc<dyn Engine>, data: &ArrayData) -> Result<DeviceBuffer> {
    let buffer = engine.upload(data)?;
    device::count_upload(buffer.bytes());
    Ok(buffer)
}

/// A shorter-lived copy of a plain argument.
fn reborrow<'x>(a: &'x mut Arg) -> Arg<'x> {
    match a {
        Arg::Scalar(v) => Arg::Scalar(*v),
        Arg::Array { data, shape } => Arg::Array {
            data: data.reborrow(),
            shape: shape.clone(),
        },
        Arg::ArrayMut { data, shape } => Arg::ArrayMut {
            data: data.reborrow_mut(),
            shape: shape.clone(),
        },
        Arg::Device { buffer, shape } => Arg::Device {
            buffer,
            shape: shape.clone(),
        },
        Arg::DeviceMut { buffer, shape } => Arg::DeviceMut {
            buffer,
            shape: shape.clone(),
        },
        Arg::Resident { array, writable } => Arg::Resident {
            array: *array,
            writable: *writable,
        },
    }
}

fn internal(message: &str) -> crate::error::Error {
    crate::error::Error::Backend {
        backend: "runtime".into(),
        message: message.into(),
    }
}
