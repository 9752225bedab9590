//! Parser tests. Trees are compared as compact s-expressions.

use super::parse;
use crate::lang::ast::*;

fn sexpr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int { value, suffix } => format!("{value}{}", suffix.map_or("", |t| t.name())),
        ExprKind::Float { text, suffix } => format!("{text}{}", suffix.map_or("", |t| t.name())),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(id) => id.name.clone(),
        ExprKind::Unary(op, x) => format!(
            "({} {})",
            if *op == UnOp::Neg { "neg" } else { "not" },
            sexpr(x)
        ),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sexpr(a), sexpr(b)),
        ExprKind::Cast(x, t) => format!("(as {} {t})", sexpr(x)),
        ExprKind::Call { name, args } => format!("(call {}{})", name.name, list(args)),
        ExprKind::MethodCall {
            receiver,
            method,
            args,
        } => {
            format!("(.{} {}{})", method.name, sexpr(receiver), list(args))
        }
        ExprKind::Index { base, index } => format!("(idx {}{})", sexpr(base), list(index)),
        ExprKind::If { cond, then, els } => {
            format!("(if {} {} {})", sexpr(cond), sexpr(then), sexpr(els))
        }
        ExprKind::Paren(x) => format!("(paren {})", sexpr(x)),
    }
}

fn list(es: &[Expr]) -> String {
    es.iter().map(|e| format!(" {}", sexpr(e))).collect()
}

fn range(r: &RangeExpr) -> String {
    format!(
        "({} {} {})",
        if r.inclusive { "range=" } else { "range" },
        sexpr(&r.start),
        sexpr(&r.end)
    )
}

fn block(b: &Block) -> String {
    let inner: Vec<String> = b.stmts.iter().map(stmt).collect();
    format!("{{{}}}", inner.join(" "))
}

fn stmt(s: &Stmt) -> String {
    match &s.kind {
        StmtKind::Let {
            mutable,
            name,
            ty,
            init,
        } => format!(
            "(let {}{}{} {})",
            if *mutable { "mut " } else { "" },
            name.name,
            ty.map_or(String::new(), |(t, _)| format!(":{t}")),
            sexpr(init)
        ),
        StmtKind::Assign { target, op, value } => {
            let place = match target {
                Place::Var(id) => id.name.clone(),
                Place::Index { array, index, .. } => format!("(idx {}{})", array.name, list(index)),
            };
            format!(
                "({}= {place} {})",
                op.map_or("", |o| o.symbol()),
                sexpr(value)
            )
        }
        StmtKind::If { cond, then, els } => match els {
            Some(e) => format!("(if {} {} {})", sexpr(cond), block(then), block(e)),
            None => format!("(if {} {})", sexpr(cond), block(then)),
        },
        StmtKind::While { cond, body } => format!("(while {} {})", sexpr(cond), block(body)),
        StmtKind::For { vars, iter, body } => {
            let vars: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
            let iter = match iter {
                ForIter::Range { range: r, adapters } => {
                    let mut s = range(r);
                    for a in adapters {
                        match a {
                            RangeAdapter::StepBy(k, _) => s = format!("(step_by {s} {})", sexpr(k)),
                            RangeAdapter::Rev(_) => s = format!("(rev {s})"),
                        }
                    }
                    s
                }
                ForIter::Prange { ranges, .. } => {
                    format!(
                        "(prange {})",
                        ranges.iter().map(range).collect::<Vec<_>>().join(" ")
                    )
                }
            };
            format!("(for {} {iter} {})", vars.join(","), block(body))
        }
        StmtKind::Break => "break".into(),
        StmtKind::Continue => "continue".into(),
        StmtKind::Return(None) => "(return)".into(),
        StmtKind::Return(Some(e)) => format!("(return {})", sexpr(e)),
        StmtKind::Expr(e) => format!("(expr {})", sexpr(e)),
    }
}

fn item(i: &Item) -> String {
    let params = |f: &FnItem| -> String {
        let ps: Vec<String> = f
            .params
            .iter()
            .map(|p| match p.ty {
                ParamType::Scalar(t) => format!("{}:{t}", p.name.name),
                ParamType::Array {
                    elem,
                    rank,
                    mutable,
                } => {
                    format!(
                        "{}:{}{elem}[{rank}]",
                        p.name.name,
                        if mutable { "mut " } else { "" }
                    )
                }
            })
            .collect();
        ps.join(",")
    };
    match i {
        Item::Kernel(f) | Item::Fn(f) => format!(
            "({} {} ({}){} {})",
            if matches!(i, Item::Kernel(_)) {
                "kernel"
            } else {
                "fn"
            },
            f.name.name,
            params(f),
            f.ret.map_or(String::new(), |(t, _)| format!(" -> {t}")),
            block(&f.body)
        ),
        Item::Const(c) => format!("(const {}:{} {})", c.name.name, c.ty, sexpr(&c.value)),
    }
}

/// Parses `src`, insisting on no errors.
fn ok(src: &str) -> SourceFile {
    let (file, errors) = parse(src);
    assert!(
        errors.is_empty(),
        "unexpected errors for {src:?}: {errors:#?}"
    );
    file
}

fn items(src: &str) -> Vec<String> {
    ok(src).items.iter().map(item).collect()
}

/// The statements of a kernel body holding `src`.
fn body(src: &str) -> String {
    let file = ok(&format!("kernel k() {{ {src} }}"));
    match &file.items[..] {
        [Item::Kernel(f)] => block(&f.body),
        other => panic!("expected one kernel, got {other:?}"),
    }
}

/// The expression `src` (parsed as a `let` initializer).
fn expr(src: &str) -> String {
    let file = ok(&format!("kernel k() {{ let r = {src}; }}"));
    match &file.items[..] {
        [Item::Kernel(f)] => match &f.body.stmts[..] {
            [Stmt {
                kind: StmtKind::Let { init, .. },
                ..
            }] => sexpr(init),
            other => panic!("expected one let, got {other:?}"),
        },
        other => panic!("expected one kernel, got {other:?}"),
    }
}

/// Error messages with their positions: "line:col message".
fn errors(src: &str) -> Vec<String> {
    let mut diags = parse(src).1;
    diags.sort_by_key(|d| d.span.lo);
    diags
        .iter()
        .map(|d| format!("{}:{} {}", d.span.line, d.span.col, d.message))
        .collect()
}

fn kernel_errors(src: &str) -> Vec<String> {
    errors(&format!("kernel k() {{\n{src}\n}}"))
}

const SPEC_EXAMPLE: &str = r#"
// y = a*x + y
kernel saxpy(a: f32, x: f32[:], y: mut f32[:]) {
    for i in prange(0..y.len()) {
        y[i] = a * x[i] + y[i];
    }
}

// a parallel reduction: `total` is combined across iterations
kernel sum_sq(x: f64[:]) -> f64 {
    let mut total = 0.0;
    for i in prange(0..x.len()) {
        total += x[i] * x[i];
    }
    return total;
}

fn cnd(d: f64) -> f64 {            // helper: scalars only, inlined
    return 0.5 * (1.0 + erf(d / sqrt(2.0)));
}

kernel mandelbrot(out: mut i32[:, :], max_iter: i32) {
    let h = out.shape(0);
    let w = out.shape(1);
    for (py, px) in prange(0..h, 0..w) {
        let cr = -2.0 + 3.0 * (px as f64) / (w as f64);
        let ci = -1.5 + 3.0 * (py as f64) / (h as f64);
        let mut zr = 0.0;
        let mut zi = 0.0;
        let mut n = 0;                 // i32, from its use below
        while n < max_iter && zr * zr + zi * zi <= 4.0 {
            let t = zr * zr - zi * zi + cr;
            zi = 2.0 * zr * zi + ci;
            zr = t;
            n += 1;
        }
        out[py, px] = n;
    }
}
"#;

#[test]
fn spec_example() {
    let its = items(SPEC_EXAMPLE);
    assert_eq!(its.len(), 4);
    assert_eq!(
        its[0],
        "(kernel saxpy (a:f32,x:f32[1],y:mut f32[1]) {(for i (prange (range 0 (.len y))) \
         {(= (idx y i) (+ (* a (idx x i)) (idx y i)))})})"
    );
    assert_eq!(
        its[1],
        "(kernel sum_sq (x:f64[1]) -> f64 {(let mut total 0.0) (for i (prange (range 0 (.len x))) \
         {(+= total (* (idx x i) (idx x i)))}) (return total)})"
    );
    assert_eq!(
        its[2],
        "(fn cnd (d:f64) -> f64 {(return (* 0.5 (paren (+ 1.0 (call erf (/ d (call sqrt 2.0)))))))})"
    );
    assert!(its[3]
        .starts_with("(kernel mandelbrot (out:mut i32[2],max_iter:i32) {(let h (.shape out 0))"));
    assert!(its[3].contains("(for py,px (prange (range 0 h) (range 0 w))"));
    assert!(its[3].contains(
        "(while (&& (< n max_iter) (<= (+ (* zr zr) (* zi zi)) 4.0)) {(let t (+ (- (* zr zr) (* zi zi)) cr))"
    ));
    assert!(its[3]
        .contains("(let cr (+ (neg 2.0) (/ (* 3.0 (paren (as px f64))) (paren (as w f64)))))"));
    assert!(its[3].ends_with("(+= n 1)}) (= (idx out py px) n)})})"));
}

#[test]
fn precedence() {
    assert_eq!(expr("-x as u32"), "(as (neg x) u32)");
    assert_eq!(expr("a * b as f64"), "(* a (as b f64))");
    assert_eq!(expr("x as f32 as f64"), "(as (as x f32) f64)");
    assert_eq!(expr("a + b * c - d"), "(- (+ a (* b c)) d)");
    assert_eq!(expr("a || b && c"), "(|| a (&& b c))");
    assert_eq!(
        expr("a == b || c < d && e >= f"),
        "(|| (== a b) (&& (< c d) (>= e f)))"
    );
    assert_eq!(expr("a | b ^ c & d"), "(| a (^ b (& c d)))");
    assert_eq!(expr("a & b == c"), "(== (& a b) c)");
    assert_eq!(expr("1 << 2 + 3"), "(<< 1 (+ 2 3))");
    assert_eq!(expr("a >> b < c"), "(< (>> a b) c)");
    assert_eq!(expr("a % b / c * d"), "(* (/ (% a b) c) d)");
    assert_eq!(expr("!a == b"), "(== (not a) b)");
    assert_eq!(expr("- - x"), "(neg (neg x))");
    assert_eq!(expr("-x.abs()"), "(neg (.abs x))");
    assert_eq!(expr("-5"), "(neg 5)");
    assert_eq!(expr("a[i, j + 1][k]"), "(idx (idx a i (+ j 1)) k)");
    assert_eq!(expr("x.max(y).min(z,)"), "(.min (.max x y) z)");
    assert_eq!(expr("f()"), "(call f)");
    assert_eq!(expr("f(a, b,)"), "(call f a b)");
    assert_eq!(expr("1.max(2)"), "(.max 1 2)");
    assert_eq!(expr("(a + b) * c"), "(* (paren (+ a b)) c)");
    assert_eq!(expr("a - b - c"), "(- (- a b) c)");
    assert_eq!(expr("a as i64 < b"), "(< (as a i64) b)");
}

#[test]
fn if_expressions() {
    assert_eq!(expr("if a < b { a } else { b }"), "(if (< a b) a b)");
    assert_eq!(
        expr("if a { 1 } else if b { 2 } else { 3 }"),
        "(if a 1 (if b 2 3))"
    );
    assert_eq!(
        expr("1 + if c { x } else { y } * 2"),
        "(+ 1 (* (if c x y) 2))"
    );
}

#[test]
fn literals_and_suffixes() {
    assert_eq!(expr("0x2A"), "42");
    assert_eq!(expr("1_000i64"), "1000i64");
    assert_eq!(expr("0xFFu32"), "255u32");
    assert_eq!(expr("1f32"), "1f32");
    assert_eq!(expr("1.5e-3f64"), "1.5e-3f64");
    assert_eq!(expr("1_0.2_5"), "10.25");
    assert_eq!(expr("1."), "1.");
    assert_eq!(expr("true && false"), "(&& true false)");
}

#[test]
fn statements() {
    assert_eq!(
        body("let x = 1; let mut y: f32 = 2.0;"),
        "{(let x 1) (let mut y:f32 2.0)}"
    );
    assert_eq!(
        body("x = 1; x += 2; a[i] -= 3; a[i, j] *= 4;"),
        "{(= x 1) (+= x 2) (-= (idx a i) 3) (*= (idx a i j) 4)}"
    );
    assert_eq!(
        body("x /= 1; x %= 1; x &= 1; x |= 1; x ^= 1; x <<= 1; x >>= 1;"),
        "{(/= x 1) (%= x 1) (&= x 1) (|= x 1) (^= x 1) (<<= x 1) (>>= x 1)}"
    );
    assert_eq!(body("if c { x = 1; }"), "{(if c {(= x 1)})}");
    assert_eq!(
        body("if a { x = 1; } else if b { x = 2; } else { x = 3; }"),
        "{(if a {(= x 1)} {(if b {(= x 2)} {(= x 3)})})}"
    );
    assert_eq!(
        body("while n < m && z <= 4.0 { break; continue; }"),
        "{(while (&& (< n m) (<= z 4.0)) {break continue})}"
    );
    assert_eq!(body("return; return x + 1;"), "{(return) (return (+ x 1))}");
    assert_eq!(
        body("atomic_add(a[i], 1.0);"),
        "{(expr (call atomic_add (idx a i) 1.0))}"
    );
    assert_eq!(body(";; x = 1;;"), "{(= x 1)}");
}

#[test]
fn for_loops() {
    assert_eq!(body("for i in 0..n {}"), "{(for i (range 0 n) {})}");
    assert_eq!(body("for i in 0..=n {}"), "{(for i (range= 0 n) {})}");
    assert_eq!(
        body("for i in j + 1..n {}"),
        "{(for i (range (+ j 1) n) {})}"
    );
    assert_eq!(
        body("for i in (j + 1)..n * 2 {}"),
        "{(for i (range (paren (+ j 1)) (* n 2)) {})}"
    );
    assert_eq!(
        body("for i in (a)..b {}"),
        "{(for i (range (paren a) b) {})}"
    );
    assert_eq!(
        body("for i in (0..n).step_by(2) {}"),
        "{(for i (step_by (range 0 n) 2) {})}"
    );
    assert_eq!(
        body("for i in (0..n).rev() {}"),
        "{(for i (rev (range 0 n)) {})}"
    );
    assert_eq!(
        body("for i in (0..=n).rev().step_by(k + 1) {}"),
        "{(for i (step_by (rev (range= 0 n)) (+ k 1)) {})}"
    );
    assert_eq!(
        body("for i in prange(0..n) {}"),
        "{(for i (prange (range 0 n)) {})}"
    );
    assert_eq!(
        body("for (i, j, k) in prange(0..a, 1..b, 2..c,) { x = 1; }"),
        "{(for i,j,k (prange (range 0 a) (range 1 b) (range 2 c)) {(= x 1)})}"
    );
    assert_eq!(
        body("for i in 0..x.len() {}"),
        "{(for i (range 0 (.len x)) {})}"
    );
}

#[test]
fn items_and_param_types() {
    assert_eq!(
        items("kernel k(a: i32, b: mut u32[:], c: f64[:, :], d: f32[:,:,:], e: i64[:, :, :, :]) -> bool {}"),
        vec!["(kernel k (a:i32,b:mut u32[1],c:f64[2],d:f32[3],e:i64[4]) -> bool {})"]
    );
    assert_eq!(
        items("const N: i32 = 4 * 16; fn f(x: f64,) -> f64 { return x; } kernel g() {}"),
        vec![
            "(const N:i32 (* 4 16))",
            "(fn f (x:f64) -> f64 {(return x)})",
            "(kernel g () {})"
        ]
    );
    assert_eq!(items(""), Vec::<String>::new());
    assert_eq!(
        items("/* only a comment */ // and another"),
        Vec::<String>::new()
    );
}

#[test]
fn spans() {
    let file = ok("kernel k(x: f32[:]) {\n    let y = x[0] + 1.0;\n}\n");
    let Item::Kernel(f) = &file.items[0] else {
        panic!()
    };
    assert_eq!((f.span.line, f.span.col, f.span.lo), (1, 1, 0));
    assert_eq!(
        f.span.hi as usize,
        "kernel k(x: f32[:]) {\n    let y = x[0] + 1.0;\n}".len()
    );
    assert_eq!(
        (
            f.params[0].ty_span.col,
            f.params[0].ty_span.hi - f.params[0].ty_span.lo
        ),
        (13, 6)
    );
    let s = &f.body.stmts[0];
    assert_eq!((s.span.line, s.span.col), (2, 5));
    let StmtKind::Let { init, name, .. } = &s.kind else {
        panic!()
    };
    assert_eq!((name.span.line, name.span.col), (2, 9));
    assert_eq!(
        (init.span.line, init.span.col, init.span.hi - init.span.lo),
        (2, 13, 10)
    );
    let ExprKind::Binary(_, lhs, rhs) = &init.kind else {
        panic!()
    };
    assert_eq!((lhs.span.col, rhs.span.col), (13, 20));
    // Columns count characters, not bytes.
    let file = ok("kernel k() { /* é */ let z = 1; }");
    let Item::Kernel(f) = &file.items[0] else {
        panic!()
    };
    assert_eq!(f.body.stmts[0].span.col, 22);
}

#[test]
fn chained_comparison_is_an_error() {
    let (_, errs) = parse("kernel k() { let b = a < b < c; }");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("cannot be chained"));
    assert!(errs[0].hint.as_deref().unwrap_or("").contains("&&"));
    assert_eq!(errs[0].span.col, 28);
}

#[test]
fn assignment_in_condition_hints_at_equality() {
    let (_, errs) = parse("kernel k() { if x = 1 { y = 2; } z = 3 }");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0]
        .message
        .contains("expected `{` after the `if` condition, found `=`"));
    assert!(errs[0].hint.as_deref().unwrap_or("").contains("=="));
    assert!(errs[1].message.contains("expected `;`"));
}

#[test]
fn missing_semicolon_points_after_previous_token() {
    assert_eq!(
        kernel_errors("let x = 1\nlet y = 2;"),
        vec!["2:10 expected `;` after the statement, found `let`"]
    );
    assert_eq!(
        kernel_errors("x = 1 y = 2;\nz = 3;"),
        vec!["2:6 expected `;` after the statement, found `y`"]
    );
}

#[test]
fn several_errors_in_one_file() {
    let src = "kernel a() {\n    let = 1;\n    x = ;\n    y = 2;\n    z == ;\n}\n\
               kernel b(x: f32[:) {}\n\
               fn c(x: f64) { return x; }\n\
               kernel d() { let q = 1u8; }\n";
    let errs = errors(src);
    assert_eq!(
        errs,
        vec![
            "2:9 expected a variable name after `let`, found `=`",
            "3:9 expected an expression, found `;`",
            "5:10 expected an expression, found `;`",
            "7:18 expected `]` to close the array type, found `)`",
            "8:13 helper function `c` must declare its result type",
            "9:22 invalid suffix `u8` on a number literal",
        ]
    );
}

#[test]
fn recovery_keeps_good_items_and_statements() {
    let (file, errs) = parse("kernel a() { x = ; y = 1; if { } z = 2; }\n@\nkernel b() { w = 1; }");
    assert_eq!(errs.len(), 3, "{errs:?}");
    let its: Vec<String> = file.items.iter().map(item).collect();
    assert_eq!(
        its,
        vec!["(kernel a () {(= y 1) (= z 2)})", "(kernel b () {(= w 1)})"]
    );
}

#[test]
fn unclosed_block_reports_and_parses_the_next_item() {
    let (file, errs) = parse("kernel a() {\n    x = 1;\n\nkernel b() { y = 2; }");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0]
        .message
        .contains("expected `}` to close the block opened at line 1"));
    assert_eq!(file.items.len(), 2);
    // Blocks left open at the end of the file are reported once.
    let (_, errs) = parse("kernel a() { if c { x = 1; ");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0]
        .message
        .contains("opened at line 1, column 19, found end of file"));
}

#[test]
fn other_errors() {
    let first = |src: &str| kernel_errors(src).first().cloned().unwrap_or_default();
    assert!(first("let r = 0..n;").contains("a range is not allowed here"));
    assert!(first("(a) = 1;").contains("cannot assign to this expression"));
    assert!(first("a[i][j] = 1;").contains("cannot assign"));
    assert!(first("x.len = 1;").contains("expected `(` after the method name `len`"));
    assert!(first("let r = if c { 1 };").contains("expected `else`"));
    assert!(first("let r = prange(0..n);").contains("`prange` is only allowed"));
    assert!(first("for i in prange() {}").contains("at least one range"));
    assert!(first("for i in 0 {}").contains("expected a range"));
    assert!(first("for i in (0..n).skip(1) {}").contains("unknown range adapter `skip`"));
    assert!(first("const X: i32 = 1;").contains("top level"));
    assert!(first("else { }").contains("without a matching `if`"));
    assert!(first("let r = (1, 2);").contains("tuples are not supported"));
    assert!(first("let x: u8 = 1;").contains("unknown type `u8`"));
    assert!(first("let if = 1;").contains("found the keyword"));
    assert!(errors("kernel k(x: mut f32) {}")[0].contains("only array parameters can be `mut`"));
    assert!(errors("let x = 1;")[0].contains("expected an item"));
    assert!(errors("const N = 1;")[0].contains("expected `:` and a type"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for src in [
        format!(
            "kernel k() {{ let x = {}1{}; }}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!("kernel k() {{ let x = {}1; }}", "-".repeat(100_000)),
        format!("kernel k() {{ let x = 1{}; }}", " + 1".repeat(100_000)),
        format!("kernel k() {{ let x = a{}; }}", ".f()".repeat(100_000)),
        format!("kernel k() {{ {} }}", "if c { ".repeat(50_000)),
        format!("kernel k() {{ {} }}", "{".repeat(100_000)),
        format!(
            "kernel k() {{ let x = {}; }}",
            "if c { 1 } else ".repeat(10_000) + "{ 2 }"
        ),
    ] {
        let (_, errs) = parse(&src);
        assert!(!errs.is_empty());
        assert!(errs.len() < 10, "{} errors", errs.len());
    }
    // Comfortably deep code is fine.
    ok(&format!(
        "kernel k() {{ let x = {}1{}; }}",
        "(".repeat(100),
        ")".repeat(100)
    ));
}

#[test]
fn lexer_errors_are_not_echoed_by_the_parser() {
    assert_eq!(
        kernel_errors("x = a @ b;\ny = 1 2;"),
        vec![
            "2:7 unknown character `@`",
            "3:6 expected `;` after the statement, found `2`"
        ]
    );
    assert_eq!(errors("kernel k() { x = 1; /* never closed }").len(), 1);
}

#[test]
fn helpful_hints() {
    let hint = |src: &str| {
        let (_, errs) = parse(src);
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[0].hint.clone().unwrap_or_default()
    };
    assert!(hint("fn f(x: f64) -> f64 { x * 2.0 }").contains("return"));
    assert!(hint("kernel k() { x = 1; }\n    y = 2;\n}").contains("extra `}`"));
    assert!(hint("kernel k() { let x; }").contains("initial value"));
    assert!(hint("kernel k() { while x = 1 { } }").contains("=="));
}

#[test]
fn recovery_counts_braces_opened_before_the_error() {
    let src = "kernel a() {\n    let v = if c { 1 + } else { 2 };\n    w = 3;\n    if x == { y = 1; } else { y = 2; }\n    z = 4;\n}";
    let (file, errs) = parse(src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    let its: Vec<String> = file.items.iter().map(item).collect();
    assert_eq!(its, vec!["(kernel a () {(= w 3) (= z 4)})"]);
}

#[test]
fn spans_of_places_ranges_and_adapters() {
    let src = "kernel k(a: mut f32[:]) {\n  a[i + 1] += 2.0;\n  for i in (0..n).rev().step_by(3) {}\n  for (i, j) in prange(0..n, 1..=m) {}\n}";
    let file = ok(src);
    let Item::Kernel(f) = &file.items[0] else {
        panic!()
    };
    let text = |s: Span| &src[s.lo as usize..s.hi as usize];
    let StmtKind::Assign {
        target: Place::Index { span, array, .. },
        ..
    } = &f.body.stmts[0].kind
    else {
        panic!()
    };
    assert_eq!(
        (text(*span), span.line, span.col, array.span.col),
        ("a[i + 1]", 2, 3, 3)
    );
    let StmtKind::For {
        iter: ForIter::Range { range, adapters },
        ..
    } = &f.body.stmts[1].kind
    else {
        panic!()
    };
    assert_eq!(text(range.span), "0..n");
    let spans: Vec<&str> = adapters
        .iter()
        .map(|a| match a {
            RangeAdapter::Rev(s) | RangeAdapter::StepBy(_, s) => text(*s),
        })
        .collect();
    assert_eq!(spans, vec!["rev()", "step_by(3)"]);
    let StmtKind::For {
        vars,
        iter: ForIter::Prange { ranges, span },
        ..
    } = &f.body.stmts[2].kind
    else {
        panic!()
    };
    assert_eq!(text(*span), "prange(0..n, 1..=m)");
    assert_eq!((vars[1].span.line, vars[1].span.col), (4, 11));
    assert_eq!((text(ranges[1].span), ranges[1].inclusive), ("1..=m", true));
    assert_eq!(
        text(f.body.stmts[2].span),
        "for (i, j) in prange(0..n, 1..=m) {}"
    );
    assert_eq!(text(f.body.stmts[0].span), "a[i + 1] += 2.0;");
}
