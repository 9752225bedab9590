//! Type variables with union-find, for Rust-style inference of untyped
//! literals over a whole function.
//!
//! Every expression gets a `Ty`. A variable is either bound to a concrete
//! scalar type, an *integer-literal* variable (may still become any integer
//! type), a *float-literal* variable (any float type), or the error sentinel
//! (absorbs every constraint, so one mistake does not cascade). Unconstrained
//! literal variables default to `i64` / `f64` when the function is solved.

use crate::ir::ScalarType;

/// A type variable (index into `TypeTable::slots`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ty(u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Link(Ty),
    Known(ScalarType),
    IntLit,
    FloatLit,
    Error,
}

/// What a type variable currently stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Known(ScalarType),
    IntLit,
    FloatLit,
    Error,
}

impl Shape {
    /// How the type reads in a message: `` `f32` ``, `` `{integer}` ``.
    pub fn describe(self) -> String {
        match self {
            Shape::Known(t) => format!("`{t}`"),
            Shape::IntLit => "`{integer}`".to_string(),
            Shape::FloatLit => "`{float}`".to_string(),
            Shape::Error => "`{error}`".to_string(),
        }
    }

    pub fn is_error(self) -> bool {
        self == Shape::Error
    }
}

/// A class of types an operation accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Bool,
    Int,
    Float,
    Numeric,
    /// `bool` or an integer (bitwise operators, `!`).
    BoolOrInt,
}

impl Class {
    pub fn describe(self) -> &'static str {
        match self {
            Class::Bool => "`bool`",
            Class::Int => "an integer type",
            Class::Float => "a float type (`f32` or `f64`)",
            Class::Numeric => "a numeric type",
            Class::BoolOrInt => "`bool` or an integer type",
        }
    }

    fn accepts(self, t: ScalarType) -> bool {
        match self {
            Class::Bool => t == ScalarType::Bool,
            Class::Int => t.is_int(),
            Class::Float => t.is_float(),
            Class::Numeric => t.is_numeric(),
            Class::BoolOrInt => t == ScalarType::Bool || t.is_int(),
        }
    }
}

#[derive(Default)]
pub struct TypeTable {
    slots: Vec<Slot>,
}

impl TypeTable {
    fn push(&mut self, s: Slot) -> Ty {
        self.slots.push(s);
        Ty(self.slots.len() as u32 - 1)
    }

    pub fn known(&mut self, t: ScalarType) -> Ty {
        self.push(Slot::Known(t))
    }

    pub fn int_lit(&mut self) -> Ty {
        self.push(Slot::IntLit)
    }

    pub fn float_lit(&mut self) -> Ty {
        self.push(Slot::FloatLit)
    }

    pub fn error(&mut self) -> Ty {
        self.push(Slot::Error)
    }

    fn root(&mut self, t: Ty) -> Ty {
        let mut r = t;
        while let Slot::Link(next) = self.slots[r.0 as usize] {
            r = next;
        }
        // Path compression.
        let mut cur = t;
        while let Slot::Link(next) = self.slots[cur.0 as usize] {
            self.slots[cur.0 as usize] = Slot::Link(r);
            cur = next;
        }
        r
    }

    pub fn shape(&mut self, t: Ty) -> Shape {
        let r = self.root(t);
        match self.slots[r.0 as usize] {
            Slot::Known(s) => Shape::Known(s),
            Slot::IntLit => Shape::IntLit,
            Slot::FloatLit => Shape::FloatLit,
            Slot::Error | Slot::Link(_) => Shape::Error,
        }
    }

    /// Makes `a` and `b` the same type. On a conflict nothing changes and
    /// both current shapes are returned for the message.
    pub fn unify(&mut self, a: Ty, b: Ty) -> Result<(), (Shape, Shape)> {
        let ra = self.root(a);
        let rb = self.root(b);
        if ra == rb {
            return Ok(());
        }
        let (sa, sb) = (self.slots[ra.0 as usize], self.slots[rb.0 as usize]);
        // Which root survives: the more specific one.
        let keep_a = match (sa, sb) {
            (Slot::Error, _) | (_, Slot::Error) => return Ok(()),
            (Slot::Known(x), Slot::Known(y)) if x == y => true,
            (Slot::Known(x), Slot::IntLit) if x.is_int() => true,
            (Slot::Known(x), Slot::FloatLit) if x.is_float() => true,
            (Slot::IntLit, Slot::Known(y)) if y.is_int() => false,
            (Slot::FloatLit, Slot::Known(y)) if y.is_float() => false,
            (Slot::IntLit, Slot::IntLit) | (Slot::FloatLit, Slot::FloatLit) => true,
            _ => return Err((self.shape(a), self.shape(b))),
        };
        if keep_a {
            self.slots[rb.0 as usize] = Slot::Link(ra);
        } else {
            self.slots[ra.0 as usize] = Slot::Link(rb);
        }
        Ok(())
    }

    /// Requires `t` to be in `class`. A literal variable that can only be
    /// of another class is an error now; an integer-literal variable asked to
    /// be `Int`/`Numeric`/`BoolOrInt` stays open (any integer type fits).
    pub fn require(&mut self, t: Ty, class: Class) -> Result<(), Shape> {
        let s = self.shape(t);
        let ok = match s {
            Shape::Error => true,
            Shape::Known(k) => class.accepts(k),
            Shape::IntLit => matches!(class, Class::Int | Class::Numeric | Class::BoolOrInt),
            Shape::FloatLit => matches!(class, Class::Float | Class::Numeric),
        };
        if ok {
            Ok(())
        } else {
            Err(s)
        }
    }

    /// The final type once the function is solved: literal variables take
    /// their defaults; `None` for the error sentinel.
    pub fn resolve(&mut self, t: Ty) -> Option<ScalarType> {
        match self.shape(t) {
            Shape::Known(s) => Some(s),
            Shape::IntLit => Some(ScalarType::I64),
            Shape::FloatLit => Some(ScalarType::F64),
            Shape::Error => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScalarType as T;

    #[test]
    fn literal_vars_take_a_later_constraint() {
        let mut tt = TypeTable::default();
        let n = tt.int_lit();
        let one = tt.int_lit();
        tt.unify(n, one).unwrap();
        let max_iter = tt.known(T::I32);
        tt.unify(n, max_iter).unwrap();
        assert_eq!(tt.resolve(one), Some(T::I32));
    }

    #[test]
    fn defaults_and_conflicts() {
        let mut tt = TypeTable::default();
        let i = tt.int_lit();
        let f = tt.float_lit();
        assert_eq!(tt.resolve(i), Some(T::I64));
        assert_eq!(tt.resolve(f), Some(T::F64));
        assert!(tt.unify(i, f).is_err());
        let f32t = tt.known(T::F32);
        assert!(tt.unify(i, f32t).is_err());
        tt.unify(f, f32t).unwrap();
        assert_eq!(tt.resolve(f), Some(T::F32));
        let e = tt.error();
        assert!(tt.unify(e, f32t).is_ok());
        assert!(tt.require(i, Class::Float).is_err());
        assert!(tt.require(i, Class::Numeric).is_ok());
    }
}
