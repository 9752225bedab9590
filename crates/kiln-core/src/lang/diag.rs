//! Compile-time diagnostics: a located message, rendered as
//!
//! ```text
//! error: mismatched types: `f32` and `f64`
//!  --> saxpy.kn:3:17
//!   |
//! 3 |     y[i] = a * x[i] + 1.0f64;
//!   |            ^^^^^^^^^^^^^^^^^
//!   = hint: convert one side with `as`, e.g. `(…) as f64`
//! ```

use crate::ir::Span;
use std::fmt;

/// The most errors one file reports; past it, a final line says how many more.
pub const MAX_ERRORS: usize = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub span: Span,
    /// One sentence saying what is wrong (no trailing period needed).
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }
}

/// All the errors of one file, with what is needed to print them. `Debug`
/// shows the file and the diagnostics, not the source.
#[derive(Clone, PartialEq)]
pub struct Diagnostics {
    pub file: String,
    pub source: String,
    /// In source order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &str, source: &str, mut items: Vec<Diagnostic>) -> Diagnostics {
        items.sort_by_key(|d| (d.span.lo, d.span.hi));
        items.dedup();
        Diagnostics {
            file: file.to_string(),
            source: source.to_string(),
            items,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// One diagnostic rendered alone (message, location, the source line
    /// with its caret, hint), as [`fmt::Display`] prints each of them: what
    /// `kiln::kernels!` turns into one compiler error per diagnostic.
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        self.render_one(d, &mut out);
        out
    }

    fn render_one(&self, d: &Diagnostic, out: &mut String) {
        use std::fmt::Write;
        let line_no = d.span.line.max(1) as usize;
        let line_text = self.source.lines().nth(line_no - 1).unwrap_or("");
        let width = line_no.to_string().len();
        let pad = " ".repeat(width);
        let _ = writeln!(out, "error: {}", d.message);
        let _ = writeln!(out, "{pad}--> {}:{}:{}", self.file, d.span.line, d.span.col);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line_no} | {line_text}");
        // The caret runs from the column to the end of the span, clipped to
        // this line; columns count characters, tabs are kept so it lines up.
        let col = d.span.col.max(1) as usize;
        let prefix: String = line_text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let line_chars = line_text.chars().count();
        let span_chars = self
            .source
            .get(d.span.lo as usize..d.span.hi as usize)
            .map(|s| s.chars().take_while(|&c| c != '\n').count())
            .unwrap_or(1);
        let carets = span_chars
            .max(1)
            .min(line_chars.saturating_sub(col - 1).max(1));
        let _ = writeln!(out, "{pad} | {prefix}{}", "^".repeat(carets));
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "{pad} = hint: {h}");
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (k, d) in self.items.iter().take(MAX_ERRORS).enumerate() {
            if k > 0 {
                out.push('\n');
            }
            self.render_one(d, &mut out);
        }
        if self.items.len() > MAX_ERRORS {
            out.push_str(&format!(
                "\n... and {} more errors\n",
                self.items.len() - MAX_ERRORS
            ));
        }
        let n = self.items.len();
        out.push_str(&format!(
            "\n{}: {} error{} found\n",
            self.file,
            n,
            if n == 1 { "" } else { "s" }
        ));
        f.write_str(&out)
    }
}

impl std::error::Error for Diagnostics {}

impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diagnostics")
            .field("file", &self.file)
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

/// Byte offset → 1-based (line, column in characters).
pub fn line_col(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map(|p| p + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() as u32 + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
