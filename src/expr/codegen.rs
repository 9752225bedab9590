//! From a tree to the source of one kernel of kiln's language.
//!
//! Array leaves become array parameters (one per distinct array, so
//! `(&a - &b) * (&a - &b)` reads `a` and `b` once per element), scalar
//! leaves become scalar parameters (so a new value reuses the compiled
//! kernel), and the tree becomes one expression inside one `prange` over
//! the broadcast shape: an elementwise kernel writes it to `out`; a
//! reduction combines it in a reduction variable (whole array) or in a
//! serial inner loop per output element (along an axis).
//!
//! The cache key ([`Lowered::key`]) is a compact byte encoding of exactly
//! what the source depends on: the expression's structure, the types, the
//! ranks, which axes broadcast and what the kernel does with it; nothing
//! that changes between evaluations of "the same" expression (values,
//! sizes). It is written without formatting or per-node allocation, so a
//! cached evaluation pays a few tens of nanoseconds for it; the source
//! text is produced only when the key is new ([`source`]).

use super::node::Node;
use super::shape::{broadcast, index_map};
use crate::error::{Error, Result};
use crate::ir::{ScalarType, Value};
use crate::runtime::AnyArray;
use std::fmt::Write;
use std::sync::Arc;

/// The name of every generated kernel.
pub const KERNEL: &str = "fused";

/// A reduction combining the elements of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// `+` (wrapping for integers).
    Sum,
    /// `*`.
    Prod,
    /// `min` (the language's: NaN loses).
    Min,
    /// `max`.
    Max,
    /// The sum divided by the count.
    Mean,
    /// Whether any condition holds.
    Any,
    /// Whether every condition holds.
    All,
}

/// What the kernel does with the expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Writes every element to a new array `out`.
    Elementwise,
    /// Writes every element into an existing array `out`, which the
    /// expression may also read (it is passed once, as `mut`).
    Assign,
    /// Returns the reduction of all elements.
    Full(Reduce),
    /// Writes the reduction along one axis to `out` (that axis removed).
    Axis(Reduce, usize),
}

/// One expression lowered for one evaluation.
pub struct Lowered {
    /// The cache key: determines the source (see the module docs).
    pub key: Vec<u8>,
    /// Array parameters in order (the assignment target excluded), with
    /// their shapes.
    pub arrays: Vec<(Arc<AnyArray>, Vec<usize>)>,
    /// Whether an assignment's target is read by the expression or written.
    pub kind: Kind,
    /// The expression's element type.
    pub elem: ScalarType,
    /// The operand whose shape bounds a whole-array reduction's loop.
    full: Option<usize>,
    /// Scalar parameters in order, after the arrays.
    pub scalars: Vec<Value>,
    /// The broadcast shape of the expression.
    pub shape: Vec<usize>,
    /// The shape of `out` (elementwise, assign, axis reductions).
    pub out_shape: Vec<usize>,
    /// Loop bounds passed as `i64` parameters, after the reduction's
    /// identity (a whole-array reduction with no operand of the full
    /// shape, e.g. a row times a column).
    pub dims: Vec<Value>,
}

struct Walk<'a> {
    arrays: Vec<(Arc<AnyArray>, Vec<usize>)>,
    scalars: Vec<Value>,
    target: Option<&'a Arc<AnyArray>>,
}

impl Walk<'_> {
    /// Collects distinct arrays and scalars, in first-use order.
    fn collect(&mut self, n: &Node) {
        match n {
            Node::Array(a) => {
                let is_target = self.target.is_some_and(|t| Arc::ptr_eq(t, a));
                if !is_target && !self.arrays.iter().any(|(b, _)| Arc::ptr_eq(a, b)) {
                    self.arrays.push((a.clone(), a.shape()));
                }
            }
            Node::Scalar(v) => self.scalars.push(*v),
            Node::Neg(e) | Node::Not(e) | Node::Cast(_, e) => self.collect(e),
            Node::Bin(_, a, b) => {
                self.collect(a);
                self.collect(b);
            }
            Node::Call(_, args) => args.iter().for_each(|a| self.collect(a)),
            Node::Select(c, a, b) => {
                self.collect(c);
                self.collect(a);
                self.collect(b);
            }
        }
    }

    /// Appends the key of the expression (see `Lowered::key`).
    fn key(&self, n: &Node, out: &[usize], k: &mut Vec<u8>) {
        match n {
            Node::Array(a) => {
                let pos = self.arrays.iter().position(|(b, _)| Arc::ptr_eq(a, b));
                k.push(b'A');
                k.push(pos.map_or(255, |p| p as u8));
                if let Some(p) = pos {
                    let shape = &self.arrays[p].1;
                    let skip = out.len() - shape.len();
                    k.push(shape.len() as u8);
                    // Per axis: followed (1) or repeated (0).
                    k.extend(
                        shape
                            .iter()
                            .enumerate()
                            .map(|(a, &d)| (d == out[skip + a]) as u8),
                    );
                }
            }
            Node::Scalar(v) => {
                k.push(b'S');
                k.push(v.ty() as u8);
            }
            Node::Neg(e) | Node::Not(e) => {
                k.push(if matches!(n, Node::Neg(_)) {
                    b'-'
                } else {
                    b'!'
                });
                self.key(e, out, k);
            }
            Node::Bin(op, a, b) => {
                k.push(b'B');
                k.push(*op as u8);
                self.key(a, out, k);
                self.key(b, out, k);
            }
            Node::Call(name, args) => {
                k.push(b'C');
                k.extend_from_slice(name.as_bytes());
                k.push(b'(');
                args.iter().for_each(|a| self.key(a, out, k));
                k.push(b')');
            }
            Node::Cast(t, e) => {
                k.push(b'T');
                k.push(*t as u8);
                self.key(e, out, k);
            }
            Node::Select(c, a, b) => {
                k.push(b'?');
                self.key(c, out, k);
                self.key(a, out, k);
                self.key(b, out, k);
            }
        }
    }

    /// Writes the expression; `scalar` counts scalars in the same order as
    /// `collect` met them.
    fn write(&self, n: &Node, out: &[usize], scalar: &mut usize, s: &mut String) {
        match n {
            Node::Array(a) => {
                let (name, shape) = match self.arrays.iter().position(|(b, _)| Arc::ptr_eq(a, b)) {
                    Some(k) => (format!("a{k}"), &self.arrays[k].1),
                    None => ("out".to_string(), &out.to_vec()),
                };
                let idx: Vec<String> = index_map(shape, out)
                    .into_iter()
                    .map(|m| m.map_or("0".to_string(), |d| format!("i{d}")))
                    .collect();
                let _ = write!(s, "{name}[{}]", idx.join(", "));
            }
            Node::Scalar(_) => {
                let _ = write!(s, "s{scalar}");
                *scalar += 1;
            }
            Node::Neg(e) | Node::Not(e) => {
                s.push_str(if matches!(n, Node::Neg(_)) {
                    "(-"
                } else {
                    "(!"
                });
                self.write(e, out, scalar, s);
                s.push(')');
            }
            Node::Bin(op, a, b) => {
                s.push('(');
                self.write(a, out, scalar, s);
                let _ = write!(s, " {} ", op.symbol());
                self.write(b, out, scalar, s);
                s.push(')');
            }
            Node::Call(name, args) => {
                let _ = write!(s, "{name}(");
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    self.write(a, out, scalar, s);
                }
                s.push(')');
            }
            Node::Cast(t, e) => {
                s.push('(');
                self.write(e, out, scalar, s);
                let _ = write!(s, " as {t})");
            }
            Node::Select(c, a, b) => {
                s.push_str("select(");
                self.write(c, out, scalar, s);
                s.push_str(", ");
                self.write(a, out, scalar, s);
                s.push_str(", ");
                self.write(b, out, scalar, s);
                s.push(')');
            }
        }
    }
}

fn dims(rank: usize) -> String {
    vec![":"; rank].join(", ")
}

fn vars(axes: impl Iterator<Item = usize>) -> Vec<String> {
    axes.map(|d| format!("i{d}")).collect()
}

/// `for i0 in prange(…)` / `for (i0, i1) in prange(…, …)` over `bounds`.
fn prange(names: &[String], bounds: &[String]) -> String {
    let ranges: Vec<String> = bounds.iter().map(|b| format!("0..{b}")).collect();
    if names.len() == 1 {
        format!("for {} in prange({})", names[0], ranges[0])
    } else {
        format!(
            "for ({}) in prange({})",
            names.join(", "),
            ranges.join(", ")
        )
    }
}

/// The reduction update of `acc` by `e`.
fn update(r: Reduce, e: &str) -> String {
    match r {
        Reduce::Sum | Reduce::Mean => format!("acc += {e};"),
        Reduce::Prod => format!("acc *= {e};"),
        Reduce::Min => format!("acc = min(acc, {e});"),
        Reduce::Max => format!("acc = max(acc, {e});"),
        Reduce::Any => format!("acc |= ({e} as i32);"),
        Reduce::All => format!("acc &= ({e} as i32);"),
    }
}

/// The type of the reduction variable for an expression of `elem`.
pub fn acc_type(r: Reduce, elem: ScalarType) -> ScalarType {
    match r {
        Reduce::Any | Reduce::All => ScalarType::I32,
        _ => elem,
    }
}

/// Lowers `root` (elements of type `elem`) for `kind`; `target` is the
/// array an assignment writes.
pub fn lower(
    root: &Node,
    elem: ScalarType,
    kind: Kind,
    target: Option<&Arc<AnyArray>>,
) -> Result<Lowered> {
    let mut walk = Walk {
        arrays: Vec::new(),
        scalars: Vec::new(),
        target,
    };
    walk.collect(root);
    let target_shape = target.map(|t| t.shape());
    let mut shape: Option<Vec<usize>> = target_shape.clone();
    for (_, s) in &walk.arrays {
        shape = Some(match shape {
            None => s.clone(),
            Some(acc) => broadcast(&acc, s)?,
        });
    }
    let Some(shape) = shape else {
        return Err(Error::Expr {
            message: "the expression has no array operand (nothing gives it a shape)".into(),
        });
    };
    if let Some(t) = &target_shape {
        if &shape != t {
            return Err(super::shape::mismatch("assignment", t, &expr_shape(&walk)?));
        }
    }
    let rank = shape.len();
    if !(1..=3).contains(&rank) || walk.arrays.iter().any(|(_, s)| s.is_empty()) {
        return Err(Error::Expr {
            message: format!(
                "arrays of 1 to 3 dimensions only (the expression's shape is {shape:?})"
            ),
        });
    }
    let out_shape = match kind {
        Kind::Axis(_, ax) if ax >= rank || rank < 2 => {
            return Err(Error::Expr {
                message: format!(
                    "cannot reduce along axis {ax} of shape {shape:?} (a 1-D expression reduces with .sum(), .min(), ...)"
                ),
            })
        }
        Kind::Axis(_, ax) => {
            let mut s = shape.clone();
            s.remove(ax);
            s
        }
        _ => shape.clone(),
    };

    // Whole-array reductions take their bounds from an operand of the
    // full shape when there is one (what a hand-written kernel does;
    // backends may then drop its bounds checks), else from parameters.
    let full = walk.arrays.iter().position(|(_, s)| *s == shape);
    let mut dims = Vec::new();
    if matches!(kind, Kind::Full(_)) && full.is_none() {
        dims.extend(shape.iter().map(|&d| Value::I64(d as i64)));
    }
    let mut key = Vec::with_capacity(64);
    key.push(match kind {
        Kind::Elementwise => b'E',
        Kind::Assign => b'W',
        Kind::Full(_) => b'F',
        Kind::Axis(..) => b'X',
    });
    if let Kind::Full(r) | Kind::Axis(r, _) = kind {
        key.push(r as u8);
    }
    if let Kind::Axis(_, ax) = kind {
        key.push(ax as u8);
    }
    key.push(elem as u8);
    key.push(rank as u8);
    for (a, s) in &walk.arrays {
        key.push(a.elem() as u8);
        key.push(s.len() as u8);
    }
    key.push(b'|');
    walk.key(root, &shape, &mut key);
    Ok(Lowered {
        key,
        arrays: walk.arrays,
        kind,
        elem,
        full,
        scalars: walk.scalars,
        shape,
        out_shape,
        dims,
    })
}

/// The kernel's source for `l`, lowered from `root` (with `target`, for an
/// assignment): called once per new key.
pub fn source(root: &Node, l: &Lowered, target: Option<&Arc<AnyArray>>) -> String {
    let walk = Walk {
        arrays: l.arrays.clone(),
        scalars: Vec::new(),
        target,
    };
    let (shape, rank, kind) = (&l.shape, l.shape.len(), l.kind);
    let mut e = String::new();
    walk.write(root, shape, &mut 0, &mut e);

    let ty = l.elem;
    let mut params: Vec<String> = walk
        .arrays
        .iter()
        .enumerate()
        .map(|(k, (a, s))| format!("a{k}: {}[{}]", a.elem(), dims(s.len())))
        .collect();
    params.extend(
        l.scalars
            .iter()
            .enumerate()
            .map(|(k, v)| format!("s{k}: {}", v.ty())),
    );
    let all = vars(0..rank);
    let mut src = String::new();
    match kind {
        Kind::Elementwise | Kind::Assign => {
            params.push(format!("out: mut {ty}[{}]", dims(rank)));
            let bounds: Vec<String> = if rank == 1 {
                vec!["out.len()".into()]
            } else {
                (0..rank).map(|d| format!("out.shape({d})")).collect()
            };
            let _ = write!(
                src,
                "kernel {KERNEL}({}) {{\n    {} {{\n        out[{}] = {e};\n    }}\n}}\n",
                params.join(", "),
                prange(&all, &bounds),
                all.join(", ")
            );
        }
        Kind::Full(r) => {
            let acc = acc_type(r, ty);
            params.push(format!("init: {acc}"));
            let bounds: Vec<String> = match l.full {
                Some(k) if rank == 1 => vec![format!("a{k}.len()")],
                Some(k) => (0..rank).map(|d| format!("a{k}.shape({d})")).collect(),
                None => {
                    params.extend((0..rank).map(|d| format!("n{d}: i64")));
                    (0..rank).map(|d| format!("n{d}")).collect()
                }
            };
            let _ = write!(
                src,
                "kernel {KERNEL}({}) -> {acc} {{\n    let mut acc = init;\n    {} {{\n        {}\n    }}\n    return acc;\n}}\n",
                params.join(", "),
                prange(&all, &bounds),
                update(r, &e)
            );
        }
        Kind::Axis(r, ax) => {
            let acc = acc_type(r, ty);
            params.push(format!("init: {acc}"));
            params.push("n: i64".into());
            params.push(format!("out: mut {acc}[{}]", dims(rank - 1)));
            let kept = vars((0..rank).filter(|&d| d != ax));
            let bounds: Vec<String> = (0..rank - 1).map(|j| format!("out.shape({j})")).collect();
            let last = if r == Reduce::Mean {
                format!("acc / (n as {acc})")
            } else {
                "acc".into()
            };
            let _ = write!(
                src,
                "kernel {KERNEL}({}) {{\n    {} {{\n        let mut acc = init;\n        for i{ax} in 0..n {{\n            {}\n        }}\n        out[{}] = {last};\n    }}\n}}\n",
                params.join(", "),
                prange(&kept, &bounds),
                update(r, &e),
                kept.join(", ")
            );
        }
    }
    src
}

/// The shape of the expression alone (for an assignment's error message).
fn expr_shape(walk: &Walk<'_>) -> Result<Vec<usize>> {
    let mut shape: Option<Vec<usize>> = None;
    for (_, s) in &walk.arrays {
        shape = Some(match shape {
            None => s.clone(),
            Some(acc) => broadcast(&acc, s)?,
        });
    }
    Ok(shape.unwrap_or_default())
}
