//! The arguments of `#[file_creator(...)]`, parsed into [`FileCreatorArgs`].

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Path, Token};

use crate::ctxt::Ctxt;

/// The keywords of the attribute, defined once.
pub(crate) mod kw {
    syn::custom_keyword!(version);
    syn::custom_keyword!(ignore);
    syn::custom_keyword!(remote);
}

/// Every valid key, in the order the docs list them.
pub(crate) const VALID_KEYS: &str = "`version`, `ignore`, `remote` and `crate`";

/// Keys that people reach for, with the key they meant. Other tools spell
/// these ideas differently (cached's `ignore` is `key`-based, salsa has
/// `no_eq`), so a hint saves a trip to the docs.
const RENAMED: &[(&str, &str)] = &[
    ("skip", "ignore"),
    ("skip_args", "ignore"),
    ("exclude", "ignore"),
    ("ignored", "ignore"),
    ("ver", "version"),
    ("code_version", "version"),
    ("krate", "crate"),
    ("runtime", "crate"),
];

/// The parsed attribute arguments, each value with its span.
#[derive(Default)]
pub(crate) struct FileCreatorArgs {
    /// `version = "..."`: replaces the code hash in the key.
    pub(crate) version: Option<LitStr>,
    /// `ignore(a, b)`: arguments left out of the key, with the span of
    /// the `ignore` keyword.
    pub(crate) ignore: Option<(Vec<Ident>, Span)>,
    /// `crate = "..."`: where `lake_runtime` lives.
    pub(crate) krate: Option<(Path, Span)>,
    /// `remote`: workers may run the creator (a batch on Slurm), so its
    /// arguments must also implement `Deserialize`.
    pub(crate) remote: Option<Span>,
}

/// Parses the attribute's arguments, recording every error in `cx`.
pub(crate) fn parse(cx: &mut Ctxt, args: TokenStream) -> FileCreatorArgs {
    let mut out = FileCreatorArgs::default();
    let parser = |input: ParseStream<'_>| parse_args(cx, &mut out, input);
    if let Err(e) = parser.parse2(args) {
        cx.syn_error(e);
    }
    out
}

fn parse_args(cx: &mut Ctxt, out: &mut FileCreatorArgs, input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() {
        parse_one(cx, out, input)?;
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between the arguments of `#[file_creator]`"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

fn parse_one(cx: &mut Ctxt, out: &mut FileCreatorArgs, input: ParseStream<'_>) -> syn::Result<()> {
    let lookahead = input.lookahead1();
    if lookahead.peek(kw::version) {
        let key: kw::version = input.parse()?;
        let Some(value) = string_value(cx, input, &key, "version = \"2\"")? else {
            return Ok(());
        };
        if out.version.is_some() {
            cx.error_spanned_by(key, duplicate("version"));
        } else {
            out.version = Some(value);
        }
    } else if lookahead.peek(kw::ignore) {
        let key: kw::ignore = input.parse()?;
        if !input.peek(syn::token::Paren) {
            cx.error_spanned_by(
                key,
                "`ignore` expects a list of argument names, e.g. `ignore(verbose, threads)`",
            );
            skip_value(input)?;
            return Ok(());
        }
        let content;
        syn::parenthesized!(content in input);
        let names = content.parse_terminated(Ident::parse_any, Token![,])?;
        let mut seen: Vec<Ident> = Vec::new();
        for name in names {
            if seen.contains(&name) {
                cx.error_spanned_by(
                    &name,
                    format!("`{name}` is listed twice in `ignore(...)`; list it once"),
                );
            } else {
                seen.push(name);
            }
        }
        if out.ignore.is_some() {
            cx.error_spanned_by(key, duplicate("ignore"));
        } else {
            out.ignore = Some((seen, key.span));
        }
    } else if lookahead.peek(kw::remote) {
        let key: kw::remote = input.parse()?;
        if !input.is_empty() && !input.peek(Token![,]) {
            let value = skip_value(input)?;
            cx.error_spanned_by(value, "`remote` takes no value; write `remote`");
        } else if out.remote.is_some() {
            cx.error_spanned_by(key, duplicate("remote"));
        } else {
            out.remote = Some(key.span);
        }
    } else if lookahead.peek(Token![crate]) {
        let key: Token![crate] = input.parse()?;
        let Some(value) = string_value(cx, input, &key, "crate = \"::lake_runtime\"")? else {
            return Ok(());
        };
        let path = match value.parse::<Path>() {
            Ok(path) => path,
            Err(_) => {
                cx.error_spanned_by(
                    &value,
                    format!(
                        "invalid `crate` path {:?}; expected a path such as `::lake_runtime`",
                        value.value()
                    ),
                );
                return Ok(());
            }
        };
        if out.krate.is_some() {
            cx.error_spanned_by(key, duplicate("crate"));
        } else {
            out.krate = Some((path, value.span()));
        }
    } else if input.peek(Ident::peek_any) {
        let key = input.call(Ident::parse_any)?;
        cx.error_spanned_by(&key, unknown_key(&key.to_string()));
        skip_value(input)?;
    } else {
        return Err(lookahead.error());
    }
    Ok(())
}

/// Parses `= "literal"` after `key`. A non-string value is reported and
/// skipped (`Ok(None)`), so the other arguments are still checked.
fn string_value(
    cx: &mut Ctxt,
    input: ParseStream<'_>,
    key: &dyn quote::ToTokens,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let name = key.to_token_stream().to_string();
    if !input.peek(Token![=]) {
        cx.error_spanned_by(key, format!("`{name}` expects a string, e.g. `{example}`"));
        skip_value(input)?;
        return Ok(None);
    }
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        return Ok(Some(input.parse()?));
    }
    let value = skip_value(input)?;
    cx.error_spanned_by(
        value,
        format!("`{name}` expects a string literal, e.g. `{example}`"),
    );
    Ok(None)
}

/// Skips to the next top-level comma, returning the skipped tokens.
fn skip_value(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut skipped = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        skipped.extend([input.parse::<TokenTree>()?]);
    }
    Ok(skipped)
}

fn duplicate(key: &str) -> String {
    format!("duplicate argument `{key}`; give it once")
}

/// The message for an unknown key, with a hint when it is a known rename.
pub(crate) fn unknown_key(key: &str) -> String {
    match RENAMED.iter().find(|(from, _)| *from == key) {
        Some((_, to)) => format!("unknown argument `{key}`; did you mean `{to}`?"),
        None => format!("unknown argument `{key}`; valid arguments are {VALID_KEYS}"),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse_ok(tokens: TokenStream) -> FileCreatorArgs {
        let mut cx = Ctxt::default();
        let args = parse(&mut cx, tokens);
        cx.check().expect("arguments should parse");
        args
    }

    fn parse_err(tokens: TokenStream) -> String {
        let mut cx = Ctxt::default();
        parse(&mut cx, tokens);
        cx.check()
            .expect_err("arguments should be rejected")
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn empty() {
        let args = parse_ok(TokenStream::new());
        assert!(args.version.is_none() && args.ignore.is_none() && args.krate.is_none());
    }

    #[test]
    fn all_keys() {
        let args = parse_ok(quote!(
            version = "2",
            ignore(verbose, threads),
            crate = "::lake",
            remote,
        ));
        assert!(args.remote.is_some());
        assert_eq!(args.version.unwrap().value(), "2");
        let names: Vec<String> = args
            .ignore
            .unwrap()
            .0
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(names, ["verbose", "threads"]);
        let path = args.krate.unwrap().0;
        assert_eq!(quote!(#path).to_string(), ":: lake");
    }

    #[test]
    fn parses_from_str() {
        let tokens: TokenStream = syn::parse_str("ignore(a), version = \"x\"").unwrap();
        assert_eq!(parse_ok(tokens).version.unwrap().value(), "x");
    }

    #[test]
    fn unknown_key_lists_valid_keys() {
        assert_eq!(
            parse_err(quote!(verison = "2")),
            "unknown argument `verison`; valid arguments are `version`, `ignore`, `remote` and `crate`"
        );
        assert_eq!(
            parse_err(quote!(skip(a))),
            "unknown argument `skip`; did you mean `ignore`?"
        );
    }

    #[test]
    fn reports_every_error() {
        let msg = parse_err(quote!(
            version = 2,
            version = "a",
            version = "b",
            foo,
            crate = "1x"
        ));
        assert!(msg.contains("`version` expects a string literal"), "{msg}");
        assert!(msg.contains("duplicate argument `version`"), "{msg}");
        assert!(msg.contains("unknown argument `foo`"), "{msg}");
        assert!(msg.contains("invalid `crate` path \"1x\""), "{msg}");
    }

    #[test]
    fn ignore_needs_a_list() {
        assert!(parse_err(quote!(ignore = "a")).contains("`ignore` expects a list"));
        assert!(parse_err(quote!(ignore(a, a))).contains("`a` is listed twice"));
    }
}
