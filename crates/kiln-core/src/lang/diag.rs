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
        let pad = " ".repeat(line_no.to_string().len());
        let _ = writeln!(out, "error: {}", d.message);
        let _ = writeln!(out, "{pad}--> {}:{}:{}", self.file, d.span.line, d.span.col);
        let span_chars = self
            .source
            .get(d.span.lo as usize..d.span.hi as usize)
            .map(|s| s.chars().take_while(|&c| c != '\n').count())
            .unwrap_or(1);
        out.push_str(&snippet(line_text, line_no, d.span.col, span_chars));
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
/// The most characters of a source line that a snippet shows: a longer line
/// is shown as a window around the column, cut ends marked `…` (one error
/// in a 10 MB one-line file must not print the file).
pub const SNIPPET_WIDTH: usize = 160;

/// The lines printed under every located error: ` |`, `LINE | text` and the
/// carets under `span_chars` characters from column `col` (1-based,
/// counted in characters; tabs kept so the carets line up).
pub fn snippet(line_text: &str, line_no: usize, col: u32, span_chars: usize) -> String {
    let pad = " ".repeat(line_no.to_string().len());
    let chars: Vec<char> = line_text.chars().collect();
    let at = (col.max(1) as usize - 1).min(chars.len());
    let start = at.saturating_sub(SNIPPET_WIDTH / 2);
    let end = chars.len().min(start + SNIPPET_WIDTH);
    let lead = if start > 0 { "…" } else { "" };
    let tail = if end < chars.len() { "…" } else { "" };
    let shown: String = chars[start..end].iter().collect();
    let mut prefix: String = lead.chars().map(|_| ' ').collect();
    prefix.extend(
        chars[start..at]
            .iter()
            .map(|&c| if c == '\t' { '\t' } else { ' ' }),
    );
    let carets = span_chars.max(1).min(end.saturating_sub(at).max(1));
    format!(
        "{pad} |\n{line_no} | {lead}{shown}{tail}\n{pad} | {prefix}{}\n",
        "^".repeat(carets)
    )
}

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
