//! Doc comments of kernels: `///` lines and `/** … */` blocks directly
//! above a `kernel` item (docs/language.md, section 2). The kernel language
//! reads them as ordinary comments; the macro copies them onto the
//! functions it generates, as rustdoc does for Rust items.

/// One comment of the source: its byte range and, for a doc comment, its
/// text (without the `///` or the `/**`, `*/`).
struct Comment {
    start: usize,
    end: usize,
    doc: Option<String>,
}

/// Every comment of `source`, in order. The language has no string
/// literals, so a comment starts wherever `//` or `/*` does; block comments
/// nest.
fn comments(source: &str) -> Vec<Comment> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'/' {
            let end = source[i..].find('\n').map_or(source.len(), |n| i + n);
            let text = &source[i..end];
            let doc = (text.starts_with("///") && !text.starts_with("////"))
                .then(|| text[3..].to_string());
            out.push(Comment { start: i, end, doc });
            i = end;
        } else if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            let start = i;
            let mut depth = 0usize;
            while i + 1 < bytes.len() {
                if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                    depth += 1;
                    i += 2;
                } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            let end = if depth == 0 { i } else { source.len() };
            let text = &source[start..end];
            let doc = (text.starts_with("/**")
                && !text.starts_with("/***")
                && !text.starts_with("/**/")
                && text.len() >= 5)
                .then(|| text[3..text.len() - 2].to_string());
            out.push(Comment { start, end, doc });
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// The doc comments directly above byte `at` (an item's first byte): only
/// whitespace and other comments between them and the item.
pub fn docs_before(source: &str, at: usize) -> Vec<String> {
    let all = comments(source);
    let mut docs = Vec::new();
    let mut next = at.min(source.len());
    for c in all.iter().rev() {
        if c.end > next {
            continue;
        }
        if !source[c.end..next].trim().is_empty() {
            break;
        }
        if let Some(d) = &c.doc {
            docs.push(d.clone());
        }
        next = c.start;
    }
    docs.reverse();
    docs
}

#[cfg(test)]
mod tests {
    use super::docs_before;

    #[test]
    fn doc_lines_and_blocks_directly_above_an_item() {
        let src =
            "kernel a() {}\n// plain\n/// one\n/** two */\n// skipped\n/// three\nkernel b() {}\n";
        let at = src.find("kernel b").unwrap();
        assert_eq!(docs_before(src, at), [" one", " two ", " three"]);
        assert!(docs_before(src, 0).is_empty());
    }

    #[test]
    fn code_between_ends_the_docs() {
        let src = "/// of a\nkernel a() {}\nkernel b() {}\n";
        let at = src.find("kernel b").unwrap();
        assert!(docs_before(src, at).is_empty());
        assert_eq!(docs_before(src, 9), [" of a"]);
    }

    #[test]
    fn four_slashes_and_nested_blocks_are_plain() {
        let src = "//// not a doc\n/* outer /* inner */ still */\n/// doc\nkernel k() {}";
        let at = src.find("kernel").unwrap();
        assert_eq!(docs_before(src, at), [" doc"]);
    }
}
