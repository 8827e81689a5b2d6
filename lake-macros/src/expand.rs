//! Emits the code of docs/design/0001-file-creator-expansion.md. The only
//! file that uses `quote!`.

use proc_macro2::{Literal, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use crate::ast::{FileCreator, InputKind, ParamKind};
use crate::attr::{self, FileCreatorArgs};
use crate::check;
use crate::ctxt::Ctxt;
use crate::enclosing::{self, Refusal};
use crate::identity;

/// Expands `#[file_creator(args)] item`.
///
/// On any error the function is emitted unchanged next to the errors, so
/// the user sees only the macro's diagnostics, not a cascade from a
/// half-generated body (thiserror's fallback).
pub(crate) fn file_creator(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(e) => return with_errors(item.clone(), not_a_fn(&item, e)),
    };
    let mut cx = Ctxt::default();
    let args = attr::parse(&mut cx, args);
    let creator = FileCreator::from_ast(&func);
    check::check(&mut cx, &args, &creator);
    let enclosing = enclosing_prefix(&mut cx, &func);
    if args.remote.is_some() && enclosing.contains('<') {
        let ident = &func.sig.ident;
        cx.error_spanned_by(
            ident,
            format!(
                "remote creator `{ident}` cannot be in an `impl` block: its worker entry point \
                 calls it by name; make it a free function"
            ),
        );
    }
    match cx.check() {
        Ok(()) => expand(&args, &creator, &enclosing),
        Err(e) => with_errors(item, e),
    }
}

/// A function with a syntax error gets syn's message; anything else is not a
/// function at all, which deserves a plainer one.
fn not_a_fn(item: &TokenStream, err: syn::Error) -> syn::Error {
    let has_fn = item
        .clone()
        .into_iter()
        .any(|t| matches!(&t, TokenTree::Ident(id) if id == "fn"));
    if has_fn {
        return err;
    }
    let first = item.clone().into_iter().find(|t| {
        // Skip outer attributes and visibility to point at the item keyword.
        !matches!(t, TokenTree::Punct(_) | TokenTree::Group(_))
            && !matches!(t, TokenTree::Ident(id) if id == "pub")
    });
    let msg = "`#[file_creator]` only applies to functions; put it on a `fn`";
    match first {
        Some(t) => syn::Error::new(t.span(), msg),
        None => syn::Error::new(err.span(), msg),
    }
}

/// What encloses the creator (see `enclosing.rs`); a refused position is
/// recorded in `cx`, spanned at the function's name.
fn enclosing_prefix(cx: &mut Ctxt, func: &ItemFn) -> String {
    let ident = &func.sig.ident;
    let Some(file) = ident.span().local_file() else {
        return String::new();
    };
    match enclosing::prefix_in_file(&file, &ident.to_string(), ident.span().start().line) {
        Ok(prefix) => prefix,
        Err(Refusal::GenericImpl(header)) => {
            cx.error_spanned_by(
                ident,
                format!(
                    "creator `{ident}` cannot be inside the generic `{header}`: every \
                     instantiation would share one identity and its outputs; move it to a free \
                     function and pass what depends on the type parameters as arguments"
                ),
            );
            String::new()
        }
        Err(Refusal::Trait(name)) => {
            cx.error_spanned_by(
                ident,
                format!(
                    "creator `{ident}` cannot be a method of trait `{name}`: every implementor \
                     would share one identity and its outputs; make it a free function or put it \
                     in a non-generic `impl` block"
                ),
            );
            String::new()
        }
    }
}

fn with_errors(item: TokenStream, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    quote!(#item #errors)
}

fn expand(args: &FileCreatorArgs, creator: &FileCreator<'_>, enclosing: &str) -> TokenStream {
    let func = creator.original;
    let krate = match &args.krate {
        Some((path, _)) => path.to_token_stream(),
        None => quote!(::lake_runtime),
    };
    let private = quote!(#krate::__private);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = func;
    let name = sig.ident.to_string();
    let line = Literal::u32_unsuffixed(u32::try_from(sig.fn_token.span.start().line).unwrap_or(0));
    // With a `version`, the user promises what the code is; nothing else
    // counts, so the crate is not read (docs/design/0009).
    let code = match &args.version {
        Some(_) => identity::compute(func.to_token_stream(), None, None),
        None => identity::of_creator(func),
    };
    let code_hash = &code.hash;
    let code_parts = code.parts.iter().map(|p| {
        let (kind, name, hash) = (p.kind, &p.name, &p.hash);
        quote!((#kind, #name, #hash))
    });
    // The macro cannot evaluate cfg predicates; the user's crate does, at
    // compile time, and the runtime mixes the values in.
    let code_cfg = code.cfgs.iter().filter_map(|c| {
        let pred: TokenStream = c.parse().ok()?;
        let text = c.trim_end();
        Some(quote!((#text, ::core::cfg!(#pred))))
    });
    // rustc tracks files named by `include_bytes!`: an edit to a file the
    // creator includes then rebuilds the crate and re-runs this macro.
    let tracked = code.tracked.iter().filter_map(|p| {
        let p = p.to_str()?;
        Some(quote!(
            const _: &[u8] = ::core::include_bytes!(#p);
        ))
    });
    let version = match &args.version {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let ignored = |ident: &syn::Ident| {
        args.ignore
            .as_ref()
            .is_some_and(|(names, _)| names.iter().any(|n| n == ident))
    };

    let mut calls = TokenStream::new();
    for param in &creator.params {
        let Some(ident) = param.ident else {
            continue;
        };
        let lit = ident.to_string();
        // Spanned at the parameter's type, so that `T: Serialize` or
        // `InputFiles` errors point at the parameter, not at the attribute.
        let span = param.ty.span();
        calls.extend(match &param.kind {
            ParamKind::Input(_) | ParamKind::UnsupportedInput => {
                quote_spanned!(span=> __lake_call.input(#lit, &#ident);)
            }
            ParamKind::Arg if ignored(ident) => continue,
            ParamKind::Arg => {
                quote_spanned!(span=> __lake_call.arg(#lit, &#ident);)
            }
            ParamKind::OutputUid => quote_spanned!(span=> __lake_call.output_uid(&#ident);),
            ParamKind::OutputUids => quote_spanned!(span=> __lake_call.output_uids(&#ident);),
        });
    }

    let run = match (&sig.asyncness, &sig.output) {
        (Some(_), _) => quote! {
            #private::run_file_creator_async(__lake_call, async move #block).await
        },
        (None, syn::ReturnType::Type(_, ret)) => quote! {
            #private::run_file_creator(__lake_call, move || -> #ret #block)
        },
        // Rejected by check.rs; kept total for safety.
        (None, syn::ReturnType::Default) => quote! {
            #private::run_file_creator(__lake_call, move || #block)
        },
    };

    let remote = args
        .remote
        .map(|_| remote_entry(&private, creator))
        .unwrap_or_default();

    quote! {
        #(#attrs)*
        #vis #sig {
            #(#tracked)*
            static __LAKE_CREATOR: #private::CreatorInfo = #private::CreatorInfo {
                name: #name,
                module_path: ::core::module_path!(),
                enclosing: #enclosing,
                source_file: ::core::file!(),
                source_line: #line,
                code_hash: #code_hash,
                code_parts: &[#(#code_parts),*],
                code_cfg: &[#(#code_cfg),*],
                code_identity: #private::CodeIdentityCell::new(),
                version: #version,
                crate_name: ::core::env!("CARGO_PKG_NAME"),
                crate_version: ::core::env!("CARGO_PKG_VERSION"),
                manifest_dir: ::core::env!("CARGO_MANIFEST_DIR"),
            };
            #private::inventory::submit! {
                #private::Registration(&__LAKE_CREATOR)
            }
            #remote
            let mut __lake_call = #private::Call::new(&__LAKE_CREATOR);
            #calls
            #run
        }
    }
}

/// For `remote`: the worker's entry point, which decodes each parameter
/// from a stored call and calls the creator by name, and its
/// registration (docs/design/0012). A `&T` argument is decoded as `T`'s
/// owned form and borrowed.
fn remote_entry(private: &TokenStream, creator: &FileCreator<'_>) -> TokenStream {
    let sig = &creator.original.sig;
    let name = &sig.ident;
    let mut decls = TokenStream::new();
    let mut passed = Vec::new();
    for (i, param) in creator.params.iter().enumerate() {
        let Some(ident) = param.ident else {
            continue;
        };
        let lit = ident.to_string();
        let var = quote::format_ident!("__lake_p{i}");
        // Spanned at the parameter's type: a missing `Deserialize` is
        // reported there.
        let span = param.ty.span();
        let (decl, pass) = match (&param.kind, param.ty) {
            (ParamKind::Input(InputKind::Ref), syn::Type::Reference(r)) => {
                let elem = &r.elem;
                (
                    quote_spanned!(span=> let #var: #elem = __lake_args.input::<#elem>(#lit)?;),
                    quote!(&#var),
                )
            }
            (ParamKind::Input(InputKind::Slice), _) => (
                quote_spanned!(span=>
                    let #var: ::std::vec::Vec<#private::File> = __lake_args.input(#lit)?;
                ),
                quote!(&#var),
            ),
            (ParamKind::Input(_), ty) => (
                quote_spanned!(span=> let #var: #ty = __lake_args.input::<#ty>(#lit)?;),
                quote!(#var),
            ),
            (ParamKind::Arg, syn::Type::Reference(r)) => {
                let elem = &r.elem;
                (
                    quote_spanned!(span=>
                        let #var: <#elem as ::std::borrow::ToOwned>::Owned = __lake_args.arg(#lit)?;
                    ),
                    quote!(::std::borrow::Borrow::<#elem>::borrow(&#var)),
                )
            }
            (ParamKind::Arg, ty) => (
                quote_spanned!(span=> let #var: #ty = __lake_args.arg::<#ty>(#lit)?;),
                quote!(#var),
            ),
            // Refused by check.rs for `remote`.
            _ => continue,
        };
        decls.extend(decl);
        passed.push(pass);
    }
    let call = match sig.asyncness {
        Some(_) => quote!(#private::remote_block_on(#name(#(#passed),*))),
        None => quote!(#name(#(#passed),*)),
    };
    quote! {
        fn __lake_remote(
            __lake_args: &#private::RemoteArgs,
        ) -> #private::Result<::std::vec::Vec<#private::File>> {
            #decls
            __lake_args.outputs(#call)
        }
        #private::inventory::submit! {
            #private::RemoteRegistration { info: &__LAKE_CREATOR, run: __lake_remote }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: &str, item: &str) -> String {
        file_creator(syn::parse_str(attr).unwrap(), syn::parse_str(item).unwrap()).to_string()
    }

    const CLEAN: &str = "
        /// Cleans the raw table.
        pub fn clean(raw: &File, columns: Vec<String>, tags: HashSet<String>, verbose: bool)
            -> Result<File, MyError>
        {
            if verbose { println!(\"cleaning\"); }
            Ok(raw.clone())
        }";

    #[test]
    fn expands_to_the_runtime_call() {
        let out = expand_str("ignore(verbose)", CLEAN);
        assert!(
            out.contains(":: lake_runtime :: __private :: run_file_creator ("),
            "{out}"
        );
        assert!(!out.contains("run_file_creator_async"), "{out}");
        assert!(
            out.contains(
                ":: lake_runtime :: __private :: inventory :: submit ! { \
                 :: lake_runtime :: __private :: Registration (& __LAKE_CREATOR) }"
            ),
            "{out}"
        );
        assert!(
            out.contains("__lake_call . input (\"raw\" , & raw) ;"),
            "{out}"
        );
        assert!(
            out.contains("__lake_call . arg (\"columns\" , & columns) ;"),
            "{out}"
        );
        assert!(
            out.contains("__lake_call . arg (\"tags\" , & tags) ;"),
            "{out}"
        );
        assert!(
            out.contains("move || -> Result < File , MyError > {"),
            "{out}"
        );
        assert!(
            out.contains("version : :: core :: option :: Option :: None"),
            "{out}"
        );
        // The ignored parameter is used by the body only, never by the call.
        assert!(!out.contains("\"verbose\""), "{out}");
        assert!(!out.contains("& verbose"), "{out}");
        // The user's doc comment stays on the function.
        assert!(out.contains("Cleans the raw table."), "{out}");
    }

    #[test]
    fn expands_async_with_crate_and_version() {
        let out = expand_str(
            "crate = \"my::rt\", version = \"3\"",
            "async fn fetch(output_uid: &str) -> File { make().await }",
        );
        assert!(
            out.contains(
                "my :: rt :: __private :: run_file_creator_async (__lake_call , async move {"
            ),
            "{out}"
        );
        assert!(out.contains(". await"), "{out}");
        assert!(
            out.contains("__lake_call . output_uid (& output_uid) ;"),
            "{out}"
        );
        assert!(out.contains("Option :: Some (\"3\")"), "{out}");
        assert!(!out.contains(":: lake_runtime"), "{out}");
    }

    #[test]
    fn remote_registers_a_worker_entry_point() {
        let out = expand_str(
            "remote",
            "fn scale(data: &File, factor: u32, label: &str) -> Result<File, E> { todo!() }",
        );
        for needle in [
            "fn __lake_remote (__lake_args : & :: lake_runtime :: __private :: RemoteArgs ,)",
            "RemoteRegistration { info : & __LAKE_CREATOR , run : __lake_remote }",
            "let __lake_p0 : File = __lake_args . input :: < File > (\"data\") ?",
            "let __lake_p1 : u32 = __lake_args . arg :: < u32 > (\"factor\") ?",
            "let __lake_p2 : < str as :: std :: borrow :: ToOwned > :: Owned",
            "__lake_args . outputs (scale (& __lake_p0 , __lake_p1 , :: std :: borrow :: Borrow :: < str > :: borrow (& __lake_p2)))",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        let plain = expand_str("", "fn scale(data: &File) -> File { todo!() }");
        assert!(!plain.contains("__lake_remote"), "{plain}");
    }

    #[test]
    fn errors_keep_the_function_unchanged() {
        let item = "fn f(x: u8) -> String { String::new() }";
        let out = expand_str("bogus", item);
        let original: TokenStream = syn::parse_str(item).unwrap();
        assert!(out.starts_with(&original.to_string()), "{out}");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown argument `bogus`"), "{out}");
        assert!(out.contains("unsupported return type `String`"), "{out}");
        assert!(!out.contains("__private"), "{out}");
    }
}
