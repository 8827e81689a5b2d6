//! Token-level helpers: the layout-free text that is hashed, and one scan
//! that finds what a piece of code names (idents, included files, cfg
//! predicates), including inside macro invocations, which syn leaves as
//! opaque tokens.

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// Writes `tokens` one per space, with groups delimited and `#[doc ...]`
/// attributes skipped at every depth (doc comments are comments).
///
/// The tokens are printed here rather than by the compiler's `Display`,
/// whose spacing may change between Rust releases; a toolchain upgrade must
/// not invalidate every cache.
pub(crate) fn write_tokens(out: &mut String, tokens: TokenStream) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for i in code_indices(&tokens) {
        match &tokens[i] {
            TokenTree::Group(g) => {
                let (open, close) = delimiters(g.delimiter());
                out.push_str(open);
                out.push(' ');
                write_tokens(out, g.stream());
                out.push_str(close);
            }
            TokenTree::Ident(t) => out.push_str(&t.to_string()),
            TokenTree::Punct(t) => out.push(t.as_char()),
            TokenTree::Literal(t) => out.push_str(&t.to_string()),
        }
        out.push(' ');
    }
}

/// The indices of `tokens` outside `#[doc ...]` attributes, which are
/// comments to everything that reads code here.
fn code_indices(tokens: &[TokenTree]) -> impl Iterator<Item = usize> + '_ {
    let mut next = 0;
    std::iter::from_fn(move || {
        while let Some(len) = tokens.get(next..).and_then(doc_attr_len) {
            next += len;
        }
        let index = next;
        next += 1;
        (index < tokens.len()).then_some(index)
    })
}

pub(crate) fn delimiters(d: Delimiter) -> (&'static str, &'static str) {
    match d {
        Delimiter::Parenthesis => ("(", ")"),
        Delimiter::Brace => ("{", "}"),
        Delimiter::Bracket => ("[", "]"),
        Delimiter::None => ("", ""),
    }
}

/// The normalized text of `tokens`, as [`write_tokens`] writes it.
pub(crate) fn normalized(tokens: TokenStream) -> String {
    let mut text = String::new();
    write_tokens(&mut text, tokens);
    text
}

/// The length of a `#[doc ...]` or `#![doc ...]` attribute at the start of
/// `tokens`, if there is one.
fn doc_attr_len(tokens: &[TokenTree]) -> Option<usize> {
    let is_punct = |t: &TokenTree, c| matches!(t, TokenTree::Punct(p) if p.as_char() == c);
    if !is_punct(tokens.first()?, '#') {
        return None;
    }
    let bang = usize::from(tokens.get(1).is_some_and(|t| is_punct(t, '!')));
    match tokens.get(1 + bang)? {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
            match g.stream().into_iter().next() {
                Some(TokenTree::Ident(id)) if id == "doc" => Some(2 + bang),
                _ => None,
            }
        }
        _ => None,
    }
}

/// What a piece of code names, found by one walk over its tokens.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scan {
    /// Every identifier, at any depth (macro arguments included).
    pub(crate) idents: BTreeSet<String>,
    /// Literal paths of `include_str!`, `include_bytes!` and `include!`.
    pub(crate) includes: BTreeSet<String>,
    /// Normalized predicates of `cfg!(..)`, `#[cfg(..)]`, `#[cfg_attr(.., ..)]`.
    pub(crate) cfgs: BTreeSet<String>,
    /// Names an item-level macro invocation may define: the ident after
    /// `fn`, `const`, `static`, `struct`, `enum`, `union`, `type`, `trait`,
    /// `mod`, `ref` or `macro_rules!` inside it.
    pub(crate) defined: BTreeSet<String>,
}

impl Scan {
    pub(crate) fn of(tokens: TokenStream) -> Self {
        let mut scan = Self::default();
        scan.walk(tokens);
        scan
    }

    fn walk(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for i in code_indices(&tokens) {
            match &tokens[i] {
                TokenTree::Group(g) => self.walk(g.stream()),
                TokenTree::Ident(id) => {
                    let name = id.to_string();
                    self.look_at(&name, &tokens[i + 1..]);
                    self.idents.insert(name.trim_start_matches("r#").to_owned());
                }
                _ => {}
            }
        }
    }

    /// Patterns that start at the ident `name`, `rest` being what follows.
    fn look_at(&mut self, name: &str, rest: &[TokenTree]) {
        // `cfg!(p)` and `cfg(p)` (inside `#[..]`, or `cfg_if!`'s `#[cfg(p)]`).
        let group_after_bang = || match rest {
            [TokenTree::Punct(p), TokenTree::Group(g), ..] if p.as_char() == '!' => Some(g),
            [TokenTree::Group(g), ..] => Some(g),
            _ => None,
        };
        match name {
            "cfg" => {
                if let Some(g) =
                    group_after_bang().filter(|g| g.delimiter() == Delimiter::Parenthesis)
                    && is_predicate(&g.stream().into_iter().collect::<Vec<_>>())
                {
                    self.cfgs.insert(normalized(g.stream()));
                }
            }
            "cfg_attr" => {
                if let [TokenTree::Group(g), ..] = rest {
                    // The predicate is everything before the first top-level comma.
                    let pred: Vec<TokenTree> = g
                        .stream()
                        .into_iter()
                        .take_while(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                        .collect();
                    if is_predicate(&pred) {
                        self.cfgs.insert(normalized(pred.into_iter().collect()));
                    }
                }
            }
            "include_str" | "include_bytes" | "include" => {
                if let Some(g) = group_after_bang()
                    && let Some(TokenTree::Literal(lit)) = g.stream().into_iter().next()
                    && let Ok(lit) =
                        syn::parse2::<syn::LitStr>(TokenStream::from(TokenTree::Literal(lit)))
                {
                    self.includes.insert(lit.value());
                }
            }
            "fn" | "const" | "static" | "struct" | "enum" | "union" | "type" | "trait" | "mod"
            | "ref" => {
                if let Some(TokenTree::Ident(next)) = rest.first() {
                    self.defined.insert(next.to_string());
                }
            }
            "macro_rules" => {
                if let [TokenTree::Punct(_), TokenTree::Ident(next), ..] = rest {
                    self.defined.insert(next.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Whether `tokens` are a cfg predicate: `name`, `name = "value"`, or
/// `all(..)`, `any(..)`, `not(..)` of predicates. Anything else that looks
/// like `cfg(..)`, such as `cfg!(#pred)` in a `quote!` template or
/// `cfg!($p)` in a `macro_rules!`, is not a test of this build, and could
/// not be evaluated in the expansion.
fn is_predicate(tokens: &[TokenTree]) -> bool {
    match tokens {
        [TokenTree::Ident(_)] => true,
        [
            TokenTree::Ident(_),
            TokenTree::Punct(eq),
            TokenTree::Literal(lit),
        ] => eq.as_char() == '=' && lit.to_string().starts_with('"'),
        [TokenTree::Ident(op), TokenTree::Group(g)]
            if g.delimiter() == Delimiter::Parenthesis
                && matches!(op.to_string().as_str(), "all" | "any" | "not") =>
        {
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            inner
                .split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                .filter(|part| !part.is_empty())
                .all(is_predicate)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Scan {
        Scan::of(s.parse().unwrap())
    }

    #[test]
    fn normalized_ignores_docs_and_layout_only() {
        let text = |s: &str| normalized(s.parse().unwrap());
        let base = text("fn f(a: u8) -> File { g(a) }");
        assert_eq!(
            base,
            text("/// doc\nfn f(a: u8)\n-> File {\n    g(a) // note\n  /** more */ }")
        );
        assert_ne!(base, text("fn f(a: u8) -> File { g(a + 1) }"));
        assert_ne!(base, text("#[inline] fn f(a: u8) -> File { g(a) }"));
    }

    #[test]
    fn scan_sees_inside_macros_and_attributes() {
        let s = scan(
            r#"
            #[cfg_attr(feature = "fast", inline)]
            fn f() {
                println!("{}", helper(LIMIT));
                let t = include_str!("data/t.txt");
                let b = include_bytes!(r"b.bin");
                if cfg!(all(unix, not(test))) {}
                let template = quote!(cfg!(#pred) cfg!($p) cfg!(all(unix, #x)));
                #[cfg(feature = "x")] let y = 1;
                /// not_an_ident
                let z = 2;
            }"#,
        );
        for id in ["helper", "LIMIT", "println", "f", "y"] {
            assert!(s.idents.contains(id), "{id} in {:?}", s.idents);
        }
        assert!(!s.idents.contains("not_an_ident"));
        assert_eq!(
            s.includes.iter().collect::<Vec<_>>(),
            ["b.bin", "data/t.txt"]
        );
        assert_eq!(
            s.cfgs.iter().collect::<Vec<_>>(),
            [
                "all ( unix , not ( test ) ) ",
                "feature = \"fast\" ",
                "feature = \"x\" "
            ]
        );
    }

    #[test]
    fn scan_finds_names_defined_in_macro_invocations() {
        let s = scan("thread_local! { static CACHE: u8 = 0; } my_macro! { fn made() {} }");
        assert!(s.defined.contains("CACHE") && s.defined.contains("made"));
        assert!(!s.defined.contains("u8"));
    }
}
