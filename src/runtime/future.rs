//! `Kernel::launch_async`: a launch running on a background thread, awaited
//! through a future. The thread wakes the future's waker when it is done;
//! nothing polls in a loop.

use super::args::Arg;
use super::array::{AnyArray, Array};
use super::choose::{self, Choice};
use super::exec::{self, Target};
use crate::error::{Error, Result};
use crate::inputs::host::HostElement;
use crate::ir::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// An argument of an asynchronous launch: owned scalars and shared
/// managed arrays (the launch keeps them alive while it runs).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AsyncArg {
    /// A scalar.
    Scalar(Value),
    /// A read-only managed array.
    Array(Arc<AnyArray>),
    /// A managed array the kernel writes.
    ArrayMut(Arc<AnyArray>),
}

impl AsyncArg {
    pub(crate) fn as_arg(&self) -> Arg<'_> {
        match self {
            AsyncArg::Scalar(v) => Arg::Scalar(*v),
            AsyncArg::Array(a) => Arg::Resident {
                array: &**a,
                writable: false,
            },
            AsyncArg::ArrayMut(a) => Arg::Resident {
                array: &**a,
                writable: true,
            },
        }
    }

    fn array(&self) -> Option<&Arc<AnyArray>> {
        match self {
            AsyncArg::Scalar(_) => None,
            AsyncArg::Array(a) | AsyncArg::ArrayMut(a) => Some(a),
        }
    }
}

macro_rules! scalar_async {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for AsyncArg {
            fn from(x: $t) -> AsyncArg {
                AsyncArg::Scalar(Value::$v(x))
            }
        }
    )*};
}
scalar_async!(bool => Bool, i32 => I32, u32 => U32, i64 => I64, f32 => F32, f64 => F64);

impl From<Value> for AsyncArg {
    fn from(v: Value) -> AsyncArg {
        AsyncArg::Scalar(v)
    }
}

impl<T: HostElement> From<&Array<T>> for AsyncArg {
    fn from(a: &Array<T>) -> AsyncArg {
        AsyncArg::Array(a.shared().clone())
    }
}

impl<T: HostElement> From<&mut Array<T>> for AsyncArg {
    fn from(a: &mut Array<T>) -> AsyncArg {
        AsyncArg::ArrayMut(a.shared().clone())
    }
}

struct Slot {
    result: Option<Result<Option<Value>>>,
    waker: Option<Waker>,
}

/// The result of a `launch_async`: the kernel's result once it ran.
pub struct LaunchFuture {
    slot: Arc<Mutex<Slot>>,
}

impl Future for LaunchFuture {
    type Output = Result<Option<Value>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl LaunchFuture {
    /// Whether the launch has ended (its result is waiting).
    pub fn is_done(&self) -> bool {
        self.slot.lock().map(|s| s.result.is_some()).unwrap_or(true)
    }
}

/// Tickets are issued under one lock so that every pair of launches is
/// ordered the same way on all the arrays they share (no deadlock).
static ISSUE: Mutex<()> = Mutex::new(());

pub(crate) fn spawn(
    target: Target,
    args: Vec<AsyncArg>,
    choice: Option<(Arc<choose::Plan>, Choice)>,
    kernel: String,
) -> LaunchFuture {
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
    }));
    // One ticket per distinct array, taken now: launch order is call order.
    let mut arrays: Vec<Arc<AnyArray>> = args.iter().filter_map(|a| a.array().cloned()).collect();
    arrays.sort_by_key(|a| Arc::as_ptr(a) as usize);
    arrays.dedup_by_key(|a| Arc::as_ptr(a) as usize);
    let turns: Vec<(usize, u64)> = {
        let _order = ISSUE.lock().unwrap_or_else(|e| e.into_inner());
        arrays
            .iter()
            .map(|a| (Arc::as_ptr(a) as usize, a.issue_ticket()))
            .collect()
    };
    let (held, held_turns) = (arrays.clone(), turns.clone());
    let done = slot.clone();
    let work = move || {
        let start = Instant::now();
        let result = {
            let mut launch_args: Vec<Arg> = args.iter().map(AsyncArg::as_arg).collect();
            exec::run(&target, &mut launch_args, Some(&turns))
        };
        if let (Some((plan, c)), Ok(_)) = (choice.as_ref().filter(|(_, c)| c.learn), &result) {
            choose::record(&kernel, plan, c, start.elapsed().as_secs_f64());
        }
        for a in &arrays {
            a.end_turn();
        }
        drop(args);
        drop(arrays);
        let waker = {
            let mut s = done.lock().unwrap_or_else(|e| e.into_inner());
            s.result = Some(result);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("kiln-async".into())
        .spawn(work)
    {
        // No thread: the launch cannot start. Its tickets were issued, so
        // its turns are taken and ended here (in order) for later launches
        // not to wait forever.
        for (a, (_, ticket)) in held.iter().zip(&held_turns) {
            drop(a.lock_turn(*ticket));
            a.end_turn();
        }
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        s.result = Some(Err(Error::Backend {
            backend: "runtime".into(),
            message: format!("cannot start a background launch: {e}"),
        }));
    }
    LaunchFuture { slot }
}
