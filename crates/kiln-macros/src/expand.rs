//! From the macro's input to Rust items: find the source (a file or the
//! inline tokens), run kiln's front end on it, turn each diagnostic into a
//! compiler error and each kernel into its two typed functions.

use crate::{docs, source};
use kiln_core::ir::ScalarType;
use kiln_core::lang::{self, ast, diag::MAX_ERRORS, Diagnostics};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use std::path::{Path, PathBuf};
use syn::parse::{ParseStream, Parser};

/// Expands one `kernels!` call.
pub fn kernels(input: TokenStream) -> TokenStream {
    let file_form = (|s: ParseStream| {
        let is_path = s.peek(syn::LitStr);
        s.parse::<TokenStream>()?;
        Ok(is_path)
    })
    .parse2(input.clone())
    .unwrap_or(false);
    if file_form {
        match file_path.parse2(input) {
            Ok(lit) => from_file(lit),
            Err(e) => e.to_compile_error(),
        }
    } else {
        inline(input)
    }
}

/// `"path"` with an optional trailing comma.
fn file_path(s: ParseStream) -> syn::Result<syn::LitStr> {
    let lit: syn::LitStr = s.parse()?;
    if s.peek(syn::Token![,]) {
        s.parse::<syn::Token![,]>()?;
    }
    Ok(lit)
}

/// `kernels!("kernels/ops.kn")`: the file is read now (to check it) and
/// embedded with `include_str!` of its absolute path, which also makes
/// cargo rebuild the crate when it changes.
fn from_file(lit: syn::LitStr) -> TokenStream {
    let rel = lit.value();
    let span = lit.span();
    let path = match locate(&rel, span) {
        Ok(p) => p,
        Err(message) => return syn::Error::new(span, message).to_compile_error(),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("cannot read kernel file `{}`: {e}", path.display());
            return syn::Error::new(span, message).to_compile_error();
        }
    };
    let Some(abs) = path.to_str() else {
        let message = format!("kernel file path `{}` is not UTF-8", path.display());
        return syn::Error::new(span, message).to_compile_error();
    };
    let embedded = quote!(::core::include_str!(#abs));
    expand(&rel, &text, embedded, &|_, _| (span, span))
}

/// `rel` under the calling crate's `CARGO_MANIFEST_DIR`, else beside the
/// source file that invokes the macro (as `include_str!` resolves paths).
fn locate(rel: &str, span: Span) -> Result<PathBuf, String> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = span
        .local_file()
        .and_then(|f| f.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    for dir in dirs {
        let candidate = dir.join(rel);
        if candidate.is_file() {
            return std::fs::canonicalize(&candidate)
                .map_err(|e| format!("cannot resolve `{}`: {e}", candidate.display()));
        }
    }
    Err(format!(
        "kernel file `{rel}` not found: the path is relative to the crate's directory (CARGO_MANIFEST_DIR) or to the directory of this source file"
    ))
}

/// `kernels! { kernel … }`: the source is rebuilt from the tokens and
/// embedded as a string literal.
fn inline(input: TokenStream) -> TokenStream {
    let rebuilt = source::rebuild(input);
    let file = if rebuilt.located {
        Span::call_site().file()
    } else {
        "<inline kernels>".to_string()
    };
    let text = Literal::string(&rebuilt.text);
    let embedded = quote!(#text);
    expand(&file, &rebuilt.text, embedded, &|lo, hi| {
        rebuilt.spans(lo, hi)
    })
}

/// Maps a byte range of the source to the first and last span to underline.
type SpanOf<'a> = &'a dyn Fn(usize, usize) -> (Span, Span);

/// Checks `text` and generates the module's static and each kernel's
/// functions (also when there are errors, for the kernels whose signature
/// parsed, so that their callers get no second error).
fn expand(file: &str, text: &str, embedded: TokenStream, span_of: SpanOf) -> TokenStream {
    let mut out = TokenStream::new();
    if let Err(diags) = lang::compile(file, text) {
        out.extend(errors(&diags, span_of));
    }
    let (tree, _) = lang::parser::parse(text);
    let hash = fnv1a(file.as_bytes(), text.as_bytes());
    let module = format_ident!("__KILN_MODULE_{:016X}", hash);
    out.extend(quote! {
        #[doc(hidden)]
        static #module: ::kiln::typed::ModuleCell =
            ::kiln::typed::ModuleCell::new(#file, #embedded);
    });
    let kernels = tree.items.iter().filter_map(|item| match item {
        ast::Item::Kernel(k) => Some(k),
        _ => None,
    });
    for (index, kernel) in kernels.enumerate() {
        if let Some(items) = kernel_fns(kernel, index, &module, file, text, span_of) {
            out.extend(items);
        }
    }
    out
}

/// One compiler error per diagnostic, each carrying kiln's rendering of it
/// (rustc prints its own "error: " before the message).
fn errors(diags: &Diagnostics, span_of: SpanOf) -> TokenStream {
    let mut all: Option<syn::Error> = None;
    let mut add = |e: syn::Error| match &mut all {
        Some(a) => a.combine(e),
        None => all = Some(e),
    };
    for d in diags.items.iter().take(MAX_ERRORS) {
        let rendered = diags.render(d);
        let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
        let (first, last) = span_of(d.span.lo as usize, d.span.hi as usize);
        add(spanned_error(first, last, message.trim_end()));
    }
    if diags.items.len() > MAX_ERRORS {
        let (first, _) = span_of(0, 0);
        let more = diags.items.len() - MAX_ERRORS;
        add(syn::Error::new(
            first,
            format!("{}: ... and {more} more errors", diags.file),
        ));
    }
    all.map(|e| e.to_compile_error()).unwrap_or_default()
}

/// An error underlining everything from `first` to `last`.
fn spanned_error(first: Span, last: Span, message: &str) -> syn::Error {
    let a = Ident::new("a", first);
    let b = Ident::new("b", last);
    syn::Error::new_spanned(quote!(#a #b), message)
}

/// FNV-1a over the file name and the source: the name of the module's
/// static, unique per `kernels!` call with a different source.
fn fnv1a(a: &[u8], b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in a.iter().chain(&[0]).chain(b) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A Rust identifier for a kernel or parameter name: itself, its raw form
/// for a Rust keyword (`r#match`), or `fallback` where neither is allowed.
fn rust_ident(name: &str, span: Span, fallback: impl FnOnce() -> String) -> Ident {
    if syn::parse_str::<Ident>(name).is_ok() {
        return Ident::new(name, span);
    }
    let raw_ok = !matches!(name, "self" | "Self" | "super" | "crate" | "_")
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if raw_ok {
        Ident::new_raw(name, span)
    } else {
        Ident::new(&fallback(), span)
    }
}

fn scalar(t: ScalarType) -> Ident {
    Ident::new(t.name(), Span::call_site())
}

/// The language's spelling of a parameter type: `f32`, `mut f64[:, :]`.
fn type_text(ty: &ast::ParamType) -> String {
    match *ty {
        ast::ParamType::Scalar(t) => t.name().to_string(),
        ast::ParamType::Array {
            elem,
            rank,
            mutable,
        } => format!(
            "{}{}[{}]",
            if mutable { "mut " } else { "" },
            elem,
            vec![":"; rank as usize].join(", ")
        ),
    }
}

/// `k` and `k_on` for one kernel, with the static holding its handle; `None`
/// for a signature the checker rejects (its error is already reported).
fn kernel_fns(
    kernel: &ast::FnItem,
    index: usize,
    module: &Ident,
    file: &str,
    text: &str,
    span_of: SpanOf,
) -> Option<TokenStream> {
    let name = &kernel.name.name;
    let (name_span, _) = span_of(kernel.name.span.lo as usize, kernel.name.span.hi as usize);
    let fname = rust_ident(name, name_span, || format!("__kiln_kernel_{index}"));
    let fname_on = Ident::new(
        &format!("{}_on", fname.to_string().trim_start_matches("r#")),
        name_span,
    );
    let cell = format_ident!("{}_KERNEL_{}", module, index);

    let mut sig_params = Vec::new(); // `name: type` for `k` and `k_on`
    let mut forward = Vec::new(); // `k`'s call of `k_on`
    let mut rebind = Vec::new(); // `let mut y = y;` for written arrays
    let mut args = Vec::new(); // the launch's `Arg`s
    let mut async_params = Vec::new(); // `k_async`'s parameters
    let mut async_args = Vec::new(); // its `AsyncArg`s
    let mut arg_docs = Vec::new();
    for (k, p) in kernel.params.iter().enumerate() {
        let id = rust_ident(&p.name.name, Span::call_site(), || format!("__kiln_arg{k}"));
        let written = format!("`{}: {}`", p.name.name, type_text(&p.ty));
        match p.ty {
            ast::ParamType::Scalar(t) => {
                let t = scalar(t);
                sig_params.push(quote!(#id: #t));
                args.push(quote!(::kiln::Arg::from(#id)));
                async_params.push(quote!(#id: #t));
                arg_docs.push(format!("- {written}: a `{t}`"));
            }
            ast::ParamType::Array {
                elem,
                rank,
                mutable,
            } => {
                if elem == ScalarType::Bool || !(1..=3).contains(&rank) {
                    return None;
                }
                let t = scalar(elem);
                let r = Literal::usize_unsuffixed(rank as usize);
                let dims = if rank == 1 {
                    "1 dimension".to_string()
                } else {
                    format!("{rank} dimensions")
                };
                if mutable {
                    async_params.push(quote!(#id: &mut ::kiln::Array<#t>));
                } else {
                    async_params.push(quote!(#id: &::kiln::Array<#t>));
                }
                if mutable {
                    sig_params.push(quote!(#id: impl ::kiln::typed::Out<#t, #r>));
                    rebind.push(quote!(let mut #id = #id;));
                    args.push(quote!(::kiln::typed::Out::<#t, #r>::arg_mut(&mut #id)?));
                    arg_docs.push(format!(
                        "- {written}: written; any [`Out<{t}, {rank}>`](kiln::typed::Out): \
                         `&mut Vec<{t}>`, `&mut [{t}]`, `&mut kiln::Array<{t}>`, a mutable \
                         ndarray array or view of {dims}"
                    ));
                } else {
                    sig_params.push(quote!(#id: impl ::kiln::typed::In<#t, #r>));
                    args.push(quote!(::kiln::typed::In::<#t, #r>::arg(&#id)?));
                    arg_docs.push(format!(
                        "- {written}: read; any [`In<{t}, {rank}>`](kiln::typed::In): \
                         `&Vec<{t}>`, `&[{t}]`, `&kiln::Array<{t}>`, an ndarray array or \
                         view of {dims}"
                    ));
                }
            }
        }
        async_args.push(quote!(::kiln::runtime::AsyncArg::from(#id)));
        forward.push(quote!(#id));
    }
    let backend = if kernel.params.iter().any(|p| p.name.name == "backend") {
        format_ident!("__kiln_backend")
    } else {
        format_ident!("backend")
    };
    let ret = match kernel.ret {
        Some((t, _)) => {
            let t = scalar(t);
            quote!(#t)
        }
        None => quote!(()),
    };

    let signature = format!(
        "kernel {name}({}){}",
        kernel
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name.name, type_text(&p.ty)))
            .collect::<Vec<_>>()
            .join(", "),
        kernel
            .ret
            .map(|(t, _)| format!(" -> {t}"))
            .unwrap_or_default()
    );
    let user_docs = docs::docs_before(text, kernel.span.lo as usize);
    let mut common = Vec::new();
    common.push(String::new());
    common.push(format!(
        "Kernel `{signature}` (`{file}`, line {}).",
        kernel.span.line
    ));
    if !arg_docs.is_empty() {
        common.push(String::new());
        common.push("# Arguments".to_string());
        common.extend(arg_docs);
    }
    common.push(String::new());
    common.push("# Errors".to_string());
    common.push(
        "A [`kiln::Error`]: an argument whose shape does not fit the kernel (a rank or \
         extent the Rust type does not fix) or a non-contiguous ndarray view, a run-time \
         fault (an index out of bounds, an integer division by zero), a forced backend \
         that is absent or cannot compile the kernel."
            .to_string(),
    );
    let doc_lines = |first: String| -> Vec<String> {
        let mut lines: Vec<String> = if user_docs.is_empty() {
            vec![first]
        } else {
            user_docs.clone()
        };
        lines.extend(common.iter().map(|l| format!(" {l}")));
        lines
    };
    let mut docs_auto = doc_lines(format!(" Runs kernel `{name}`."));
    docs_auto.push(String::new());
    docs_auto.push(format!(
        " Launched on [`kiln::Backend::Auto`]; [`{fname_on}`] forces a backend."
    ));
    let mut docs_on = doc_lines(format!(" Runs kernel `{name}` on a chosen backend."));
    docs_on.push(String::new());
    docs_on.push(format!(
        " Launched on `{backend}`; [`{}`] chooses with [`kiln::Backend::Auto`].",
        fname.to_string().trim_start_matches("r#")
    ));
    let fname_async = Ident::new(
        &format!("{}_async", fname.to_string().trim_start_matches("r#")),
        name_span,
    );
    let mut docs_async = vec![format!(" Starts kernel `{name}` in the background.")];
    docs_async.extend(
        [
            "",
            "Arrays are `kiln::Array`s, shared with the launch: reading them on the host,",
            "or launching on them again, waits for it. The returned [`kiln::typed::Pending`]",
            "is a future of the result (`.wait()` blocks for it).",
        ]
        .iter()
        .map(|l| format!(" {l}")),
    );
    docs_async.extend(common.iter().map(|l| format!(" {l}")));
    let name_lit = Literal::string(name);

    Some(quote! {
        #[doc(hidden)]
        static #cell: ::kiln::typed::KernelCell =
            ::kiln::typed::KernelCell::new(&#module, #name_lit);

        #(#[doc = #docs_auto])*
        #[allow(non_snake_case, clippy::too_many_arguments, clippy::result_large_err)]
        #[inline]
        pub fn #fname(#(#sig_params),*) -> ::kiln::Result<#ret> {
            #fname_on(::kiln::Backend::Auto, #(#forward),*)
        }

        #(#[doc = #docs_on])*
        #[allow(non_snake_case, clippy::too_many_arguments, clippy::result_large_err)]
        #[inline]
        pub fn #fname_on(#backend: ::kiln::Backend, #(#sig_params),*) -> ::kiln::Result<#ret> {
            #(#rebind)*
            #cell.launch(#backend, &mut [#(#args),*])
        }

        #(#[doc = #docs_async])*
        #[allow(non_snake_case, clippy::too_many_arguments, clippy::result_large_err)]
        pub fn #fname_async(
            #backend: ::kiln::Backend,
            #(#async_params),*
        ) -> ::kiln::Result<::kiln::typed::Pending<#ret>> {
            #cell.launch_async(#backend, ::std::vec![#(#async_args),*])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_raw_or_fall_back() {
        let s = Span::call_site();
        assert_eq!(rust_ident("total", s, || "x".into()).to_string(), "total");
        assert_eq!(rust_ident("match", s, || "x".into()).to_string(), "r#match");
        assert_eq!(rust_ident("self", s, || "x".into()).to_string(), "x");
        assert_eq!(rust_ident("_", s, || "x".into()).to_string(), "x");
    }

    #[test]
    fn names_of_statics_differ_by_file_and_source() {
        assert_ne!(fnv1a(b"a.kn", b"k"), fnv1a(b"b.kn", b"k"));
        assert_ne!(fnv1a(b"a.kn", b"k"), fnv1a(b"a.k", b"nk"));
    }

    #[test]
    fn type_text_is_the_language_spelling() {
        let t = ast::ParamType::Array {
            elem: ScalarType::F64,
            rank: 2,
            mutable: true,
        };
        assert_eq!(type_text(&t), "mut f64[:, :]");
        assert_eq!(type_text(&ast::ParamType::Scalar(ScalarType::I32)), "i32");
    }
}
