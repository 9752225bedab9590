//! The file-level symbol table: every kernel, helper and const, their
//! signatures, and the item-level rules (unique names, parameter types).

use crate::ir::{Builtin, FuncId, FunctionKind, ScalarType, Span};
use crate::lang::ast::{self, ConstItem, FnItem, Item, ParamType, SourceFile};
use crate::lang::check::builtins;
use crate::lang::diag::Diagnostic;
use std::collections::HashMap;

/// What a file-level name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemRef {
    Func(FuncId),
    /// Index into `Items::consts`.
    Const(usize),
}

/// A parameter as the checker sees it after validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamSig {
    Scalar(ScalarType),
    Array {
        elem: ScalarType,
        rank: u8,
        mutable: bool,
    },
    /// Rejected (already reported); uses of the name do not add errors.
    Invalid,
}

pub struct FnSig<'a> {
    pub ast: &'a FnItem,
    pub kind: FunctionKind,
    pub params: Vec<ParamSig>,
    pub ret: Option<ScalarType>,
}

pub struct Items<'a> {
    pub names: HashMap<&'a str, ItemRef>,
    /// Kernels and helpers in source order: `FuncId` indexes this.
    pub functions: Vec<FnSig<'a>>,
    pub consts: Vec<&'a ConstItem>,
}

impl<'a> Items<'a> {
    pub fn lookup(&self, name: &str) -> Option<ItemRef> {
        self.names.get(name).copied()
    }

    pub fn function(&self, id: FuncId) -> &FnSig<'a> {
        &self.functions[id.index()]
    }
}

/// Builds the table, reporting duplicate names and invalid signatures.
pub fn collect<'a>(ast: &'a SourceFile, errors: &mut Vec<Diagnostic>) -> Items<'a> {
    let mut items = Items {
        names: HashMap::new(),
        functions: Vec::new(),
        consts: Vec::new(),
    };
    let mut first_span: HashMap<&str, Span> = HashMap::new();
    for item in &ast.items {
        let (name, entry) = match item {
            Item::Kernel(f) | Item::Fn(f) => {
                let kind = if matches!(item, Item::Kernel(_)) {
                    FunctionKind::Kernel
                } else {
                    FunctionKind::Helper
                };
                if kind == FunctionKind::Helper
                    && (Builtin::from_name(&f.name.name).is_some()
                        || builtins::atomic(&f.name.name).is_some())
                {
                    errors.push(
                        Diagnostic::new(
                            f.name.span,
                            format!(
                                "the helper `{}` has the name of a builtin function",
                                f.name.name
                            ),
                        )
                        .with_hint(format!(
                            "rename the helper, e.g. `my_{}`: `{0}(…)` always means the builtin",
                            f.name.name
                        )),
                    );
                }
                let id = FuncId(items.functions.len() as u32);
                items.functions.push(signature(f, kind, errors));
                (&f.name, ItemRef::Func(id))
            }
            Item::Const(c) => {
                items.consts.push(c);
                (&c.name, ItemRef::Const(items.consts.len() - 1))
            }
        };
        if let Some(first) = first_span.get(name.name.as_str()) {
            errors.push(
                Diagnostic::new(
                    name.span,
                    format!("the name `{}` is defined more than once", name.name),
                )
                .with_hint(format!(
                    "the first definition is at line {}; rename one of them",
                    first.line
                )),
            );
        } else {
            first_span.insert(&name.name, name.span);
            items.names.insert(&name.name, entry);
        }
    }
    items
}

fn signature<'a>(f: &'a FnItem, kind: FunctionKind, errors: &mut Vec<Diagnostic>) -> FnSig<'a> {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut params = Vec::new();
    for p in &f.params {
        if seen.insert(&p.name.name, p.name.span).is_some() {
            errors.push(Diagnostic::new(
                p.name.span,
                format!(
                    "the parameter `{}` is declared more than once in `{}`",
                    p.name.name, f.name.name
                ),
            ));
        }
        params.push(param_sig(p, kind, errors));
    }
    let ret = f.ret.map(|(t, _)| t);
    if kind == FunctionKind::Helper && ret.is_none() {
        errors.push(
            Diagnostic::new(
                f.name.span,
                format!("the helper `{}` has no result type", f.name.name),
            )
            .with_hint("helpers compute a value: declare it, e.g. `fn f(x: f64) -> f64`"),
        );
    }
    FnSig {
        ast: f,
        kind,
        params,
        ret,
    }
}

fn param_sig(p: &ast::Param, kind: FunctionKind, errors: &mut Vec<Diagnostic>) -> ParamSig {
    match p.ty {
        ParamType::Scalar(t) => ParamSig::Scalar(t),
        ParamType::Array { .. } if kind == FunctionKind::Helper => {
            errors.push(
                Diagnostic::new(
                    p.ty_span,
                    format!("the helper parameter `{}` is an array", p.name.name),
                )
                .with_hint(
                    "helpers take scalars only; index the array in the kernel and pass the element",
                ),
            );
            ParamSig::Invalid
        }
        ParamType::Array {
            elem,
            rank,
            mutable,
        } => {
            if elem == ScalarType::Bool {
                errors.push(
                    Diagnostic::new(
                        p.ty_span,
                        format!("the array `{}` has element type `bool`", p.name.name),
                    )
                    .with_hint("arrays hold numbers: use `u32` or `i32` with 0/1"),
                );
                ParamSig::Invalid
            } else if !(1..=3).contains(&rank) {
                errors.push(
                    Diagnostic::new(
                        p.ty_span,
                        format!(
                            "the array `{}` has {rank} dimensions; at most 3 are supported",
                            p.name.name
                        ),
                    )
                    .with_hint("flatten the extra dimensions into one and compute the index"),
                );
                ParamSig::Invalid
            } else {
                ParamSig::Array {
                    elem,
                    rank,
                    mutable,
                }
            }
        }
    }
}
