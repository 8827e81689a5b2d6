//! Checks across the arguments and the function, reported all at once.

use quote::ToTokens;
use syn::Ident;

use crate::ast::{FileCreator, MAX_TUPLE, ParamKind, ReturnKind};
use crate::attr::FileCreatorArgs;
use crate::ctxt::Ctxt;

/// Misspellings seen in radops pipelines and in the issue tracker; anything
/// else within two edits of the right name is caught too.
const NEAR_OUTPUT_UID: &[&str] = &[
    "output_id",
    "outputuid",
    "output_uuid",
    "output_name",
    "outputid",
    "out_uid",
];
const NEAR_OUTPUT_UIDS: &[&str] = &[
    "output_ids",
    "outputuids",
    "output_uuids",
    "output_names",
    "outputids",
    "out_uids",
];

/// Records every problem of `creator` with `args` in `cx`.
pub(crate) fn check(cx: &mut Ctxt, args: &FileCreatorArgs, creator: &FileCreator<'_>) {
    check_signature(cx, creator);
    check_params(cx, creator);
    check_return(cx, creator);
    check_args(cx, args, creator);
    check_remote(cx, args, creator);
}

/// What a worker cannot rebuild from a stored call (docs/design/0012): an
/// ignored argument is not stored, and explicit output names are not
/// passed on yet.
fn check_remote(cx: &mut Ctxt, args: &FileCreatorArgs, creator: &FileCreator<'_>) {
    if args.remote.is_none() {
        return;
    }
    let name = &creator.original.sig.ident;
    if let Some((_, span)) = args.ignore.as_ref().filter(|(i, _)| !i.is_empty()) {
        cx.error_spanned_by(
            quote::quote_spanned!(*span=> ignore),
            format!(
                "remote creator `{name}` cannot ignore arguments: a worker would not know \
                 their values; remove `ignore(...)` or `remote`"
            ),
        );
    }
    for param in &creator.params {
        if let (Some(ident), ParamKind::OutputUid | ParamKind::OutputUids) =
            (param.ident, &param.kind)
        {
            cx.error_spanned_by(
                ident,
                format!(
                    "remote creator `{name}` cannot take `{ident}` yet: workers make outputs \
                     named from the key only; remove `{ident}` or `remote`"
                ),
            );
        }
    }
}

fn check_signature(cx: &mut Ctxt, creator: &FileCreator<'_>) {
    let sig = &creator.original.sig;
    let name = &sig.ident;
    if let Some(constness) = &sig.constness {
        cx.error_spanned_by(
            constness,
            format!("creator `{name}` cannot be a `const fn`; remove `const`"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let mut tokens = sig.generics.to_token_stream();
        sig.generics.where_clause.to_tokens(&mut tokens);
        cx.error_spanned_by(
            &tokens,
            format!(
                "creator `{name}` cannot be generic; remove `{}` and use concrete types",
                pretty(&tokens)
            ),
        );
    }
    if let Some(receiver) = creator.receiver {
        cx.error_spanned_by(
            receiver,
            format!("creator `{name}` cannot take `self`; make it a free function"),
        );
    }
}

fn check_params(cx: &mut Ctxt, creator: &FileCreator<'_>) {
    let mut output_uid: Option<&Ident> = None;
    let mut output_uids: Option<&Ident> = None;
    for param in &creator.params {
        let Some(ident) = param.ident else {
            cx.error_spanned_by(
                param.pat,
                format!(
                    "parameter pattern `{}` is not supported; bind the parameter to a name \
                     (e.g. `point: Point`) and destructure it in the body",
                    pretty(param.pat)
                ),
            );
            continue;
        };
        match &param.kind {
            ParamKind::UnsupportedInput => cx.error_spanned_by(
                param.ty,
                format!(
                    "unsupported input file type `{}` for `{ident}`; use `File`, `&File`, \
                     `Vec<File>`, `&[File]` or `Option<File>`",
                    pretty(param.ty)
                ),
            ),
            ParamKind::OutputUid => {
                output_uid = Some(ident);
                if is_collection(param.ty) {
                    wrong_name_count(cx, param.ty, "output_uid", "several names", "output_uids");
                }
            }
            ParamKind::OutputUids => {
                output_uids = Some(ident);
                if is_single_name(param.ty) {
                    wrong_name_count(cx, param.ty, "output_uids", "one name", "output_uid");
                }
            }
            ParamKind::Arg | ParamKind::Input(_) => {
                if let Some(right) = misspelled_output(&ident.to_string()) {
                    cx.error_spanned_by(
                        ident,
                        format!(
                            "parameter `{ident}` looks like a misspelling; did you mean \
                             `{right}`? (if it is an argument, pick a name less like `{right}`)"
                        ),
                    );
                }
            }
        }
    }
    if let (Some(_), Some(uids)) = (output_uid, output_uids) {
        cx.error_spanned_by(
            uids,
            "`output_uid` and `output_uids` cannot both be given; \
             keep `output_uids` to name several outputs",
        );
    }
}

fn check_return(cx: &mut Ctxt, creator: &FileCreator<'_>) {
    let sig = &creator.original.sig;
    match creator.ret {
        ReturnKind::Files => {}
        ReturnKind::Missing => cx.error_spanned_by(
            &sig.ident,
            format!(
                "creator `{}` must return the files it creates; add a return type such as \
                 `-> File` or `-> Result<File, MyError>`",
                sig.ident
            ),
        ),
        ReturnKind::Unsupported => {
            let syn::ReturnType::Type(_, ty) = &sig.output else {
                return;
            };
            cx.error_spanned_by(
                ty,
                format!(
                    "unsupported return type `{}`; return `File`, `Vec<File>`, a tuple of \
                     1 to {MAX_TUPLE} `File`s, or a `Result` of one of these",
                    pretty(ty)
                ),
            );
        }
    }
}

fn check_args(cx: &mut Ctxt, args: &FileCreatorArgs, creator: &FileCreator<'_>) {
    if let Some(version) = &args.version
        && version.value().trim().is_empty()
    {
        cx.error_spanned_by(
            version,
            format!(
                "`version` is {:?}; give a non-empty string such as `version = \"1\"`, \
                 or remove it to key on the code hash",
                version.value()
            ),
        );
    }
    let Some((ignored, _)) = &args.ignore else {
        return;
    };
    let fn_name = &creator.original.sig.ident;
    for name in ignored {
        let Some(param) = creator.param(name) else {
            let arguments: Vec<String> = creator
                .params
                .iter()
                .filter(|p| matches!(p.kind, ParamKind::Arg))
                .filter_map(|p| p.ident.map(|i| format!("`{i}`")))
                .collect();
            let known = if arguments.is_empty() {
                format!("`{fn_name}` has no arguments to ignore")
            } else {
                format!("the arguments of `{fn_name}` are {}", arguments.join(", "))
            };
            cx.error_spanned_by(
                name,
                format!("cannot ignore `{name}`: there is no such parameter; {known}"),
            );
            continue;
        };
        match param.kind {
            ParamKind::Arg => {}
            ParamKind::Input(_) | ParamKind::UnsupportedInput => cx.error_spanned_by(
                name,
                format!(
                    "cannot ignore `{name}`: it is an input file, and inputs always enter \
                     the key by content; remove it from `ignore(...)`"
                ),
            ),
            ParamKind::OutputUid | ParamKind::OutputUids => cx.error_spanned_by(
                name,
                format!(
                    "cannot ignore `{name}`: output names never enter the key; \
                     remove it from `ignore(...)`"
                ),
            ),
        }
    }
}

/// The output parameter that `name` probably meant, if any.
fn misspelled_output(name: &str) -> Option<&'static str> {
    if NEAR_OUTPUT_UID.contains(&name) {
        return Some("output_uid");
    }
    if NEAR_OUTPUT_UIDS.contains(&name) {
        return Some("output_uids");
    }
    // Short names are too easily two edits from anything.
    if name.len() < 8 {
        return None;
    }
    if edit_distance(name, "output_uids") <= 2 && name.ends_with('s') {
        return Some("output_uids");
    }
    if edit_distance(name, "output_uid") <= 2 {
        return Some("output_uid");
    }
    None
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether `ty` obviously holds several names (for `output_uid`).
fn is_collection(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => is_collection(&r.elem),
        syn::Type::Slice(_) | syn::Type::Array(_) => true,
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| matches!(s.ident.to_string().as_str(), "Vec" | "VecDeque")),
        _ => false,
    }
}

/// Whether `ty` obviously holds one name (for `output_uids`).
fn is_single_name(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => is_single_name(&r.elem),
        syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| {
            matches!(
                s.ident.to_string().as_str(),
                "String" | "str" | "Name" | "Cow"
            )
        }),
        _ => false,
    }
}

/// Tokens as a person would write them, for messages.
pub(crate) fn pretty(tokens: &dyn ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" :: ", "::"),
        (":: ", "::"),
        ("& ", "&"),
        (" ,", ","),
        ("[ ", "["),
        (" ]", "]"),
        ("( ", "("),
        (" )", ")"),
        (" ;", ";"),
        (" : ", ": "),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// `output_uid` given a collection, or `output_uids` a single name.
fn wrong_name_count(cx: &mut Ctxt, ty: &syn::Type, param: &str, holds: &str, meant: &str) {
    cx.error_spanned_by(
        ty,
        format!(
            "`{param}` has type `{}`, which holds {holds}; did you mean `{meant}`?",
            pretty(ty)
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(attr: &str, item: &str) -> Vec<String> {
        let mut cx = Ctxt::default();
        let args = crate::attr::parse(&mut cx, syn::parse_str(attr).unwrap());
        let item: syn::ItemFn = syn::parse_str(item).unwrap();
        check(&mut cx, &args, &FileCreator::from_ast(&item));
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_a_plain_creator() {
        let e = errors(
            "version = \"2\", ignore(verbose)",
            "pub fn clean(raw: &File, cols: Vec<String>, verbose: bool) -> Result<File, E> {}",
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn misspellings() {
        assert_eq!(misspelled_output("output_id"), Some("output_uid"));
        assert_eq!(misspelled_output("outptu_uid"), Some("output_uid"));
        assert_eq!(misspelled_output("output_uuids"), Some("output_uids"));
        assert_eq!(misspelled_output("outputs"), None);
        assert_eq!(misspelled_output("columns"), None);
        assert_eq!(misspelled_output("input_uid"), None);
    }

    #[test]
    fn reports_all_problems_at_once() {
        let e = errors(
            "version = \"\", ignore(raw, nope)",
            "fn f<T>(raw: File, (a, b): (u8, u8), output_id: String) -> String {}",
        );
        let all = e.join("\n");
        for needle in [
            "cannot be generic; remove `<T>`",
            "parameter pattern `(a, b)`",
            "did you mean `output_uid`?",
            "unsupported return type `String`",
            "`version` is \"\"",
            "cannot ignore `raw`: it is an input file",
            "cannot ignore `nope`: there is no such parameter; the arguments of `f` are `output_id`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn pretty_types() {
        let ty: syn::Type = syn::parse_str("&std::vec::Vec<Option<[u8; 4]>>").unwrap();
        let generics: syn::Generics = syn::parse_str("<T: Default>").unwrap();
        assert_eq!(pretty(&generics), "<T: Default>");
        assert_eq!(pretty(&ty), "&std::vec::Vec<Option<[u8; 4]>>");
    }
}
