//! The annotated function, read into a [`FileCreator`] model.
//!
//! Reading never fails: anything the macro cannot handle is kept in the model
//! as is (a pattern parameter, a receiver, an unsupported return type), and
//! `check.rs` reports it with the right span.

use syn::visit::Visit;
use syn::{
    FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, Receiver, ReturnType, Type, TypePath,
};

/// The model of one `#[file_creator]` function.
pub(crate) struct FileCreator<'a> {
    /// The function as written.
    pub(crate) original: &'a ItemFn,
    /// A `self` parameter, which a creator cannot have.
    pub(crate) receiver: Option<&'a Receiver>,
    /// The typed parameters, in declaration order.
    pub(crate) params: Vec<Param<'a>>,
    /// What the function returns.
    pub(crate) ret: ReturnKind,
}

/// One typed parameter.
pub(crate) struct Param<'a> {
    /// The binding, when the pattern is a plain identifier.
    pub(crate) ident: Option<&'a Ident>,
    /// The pattern as written, for errors.
    pub(crate) pat: &'a Pat,
    /// The type as written.
    pub(crate) ty: &'a Type,
    /// What the parameter is to the creator.
    pub(crate) kind: ParamKind,
}

/// What a parameter is to the creator, decided from its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// An input file, keyed by content.
    Input(InputKind),
    /// A type that mentions `File` in a way the runtime does not accept.
    UnsupportedInput,
    /// `output_uid`: the explicit name of the single output.
    OutputUid,
    /// `output_uids`: the explicit names of several outputs.
    OutputUids,
    /// Anything else: a serialized argument.
    Arg,
}

/// The accepted forms of an input file parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputKind {
    /// `File`
    Owned,
    /// `&File`
    Ref,
    /// `Vec<File>`
    Vec,
    /// `&[File]`
    Slice,
    /// `Option<File>`
    Option,
}

/// What the function returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReturnKind {
    /// No `->` at all.
    Missing,
    /// `File`, `Vec<File>` or a tuple of 1 to 12 `File`s, maybe inside a
    /// `Result`.
    Files,
    /// Anything else.
    Unsupported,
}

/// Largest tuple of files a creator may return; the runtime implements its
/// output trait up to this arity, like the standard library's tuple impls.
pub(crate) const MAX_TUPLE: usize = 12;

impl<'a> FileCreator<'a> {
    /// Reads `item` into the model.
    pub(crate) fn from_ast(item: &'a ItemFn) -> Self {
        let mut receiver = None;
        let mut params = Vec::new();
        for input in &item.sig.inputs {
            match input {
                FnArg::Receiver(r) => receiver = Some(r),
                FnArg::Typed(pt) => {
                    let ident = match &*pt.pat {
                        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(&p.ident),
                        _ => None,
                    };
                    let kind = classify(ident, &pt.ty);
                    params.push(Param {
                        ident,
                        pat: &pt.pat,
                        ty: &pt.ty,
                        kind,
                    });
                }
            }
        }
        let ret = match &item.sig.output {
            ReturnType::Default => ReturnKind::Missing,
            ReturnType::Type(_, ty) => return_kind(ty),
        };
        Self {
            original: item,
            receiver,
            params,
            ret,
        }
    }

    /// The parameter bound to `name`, if any.
    pub(crate) fn param(&self, name: &Ident) -> Option<&Param<'a>> {
        self.params.iter().find(|p| p.ident == Some(name))
    }
}

fn classify(ident: Option<&Ident>, ty: &Type) -> ParamKind {
    if let Some(ident) = ident {
        if ident == "output_uid" {
            return ParamKind::OutputUid;
        }
        if ident == "output_uids" {
            return ParamKind::OutputUids;
        }
    }
    if let Some(kind) = input_kind(ty) {
        return ParamKind::Input(kind);
    }
    if mentions_file(ty) {
        return ParamKind::UnsupportedInput;
    }
    ParamKind::Arg
}

/// Removes the invisible groups and parentheses macros can wrap types in.
fn peel(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(g) => ty = &g.elem,
            Type::Paren(p) => ty = &p.elem,
            _ => return ty,
        }
    }
}

/// The last segment's name and its type arguments, for a plain path type.
fn last_segment(ty: &Type) -> Option<(&Ident, Vec<&Type>)> {
    let Type::Path(TypePath {
        qself: None, path, ..
    }) = peel(ty)
    else {
        return None;
    };
    let seg = path.segments.last()?;
    let args = match &seg.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        PathArguments::Parenthesized(_) => return None,
    };
    Some((&seg.ident, args))
}

/// Whether `ty` is a path ending in `File` (`File`, `lake_runtime::File`).
pub(crate) fn is_file(ty: &Type) -> bool {
    matches!(last_segment(ty), Some((id, args)) if id == "File" && args.is_empty())
}

/// The single type argument of `Wrapper<T>` when the last segment is `name`.
fn unwrap_one<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    match last_segment(ty) {
        Some((id, args)) if id == name && args.len() == 1 => Some(args[0]),
        _ => None,
    }
}

fn input_kind(ty: &Type) -> Option<InputKind> {
    if is_file(ty) {
        return Some(InputKind::Owned);
    }
    if let Type::Reference(r) = peel(ty)
        && r.mutability.is_none()
    {
        if is_file(&r.elem) {
            return Some(InputKind::Ref);
        }
        if let Type::Slice(s) = peel(&r.elem)
            && is_file(&s.elem)
        {
            return Some(InputKind::Slice);
        }
        return None;
    }
    if unwrap_one(ty, "Vec").is_some_and(is_file) {
        return Some(InputKind::Vec);
    }
    if unwrap_one(ty, "Option").is_some_and(is_file) {
        return Some(InputKind::Option);
    }
    None
}

/// Whether `File` appears anywhere in `ty`, e.g. `Option<&File>`.
fn mentions_file(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_path(&mut self, tp: &'ast TypePath) {
            if tp.path.segments.last().is_some_and(|s| s.ident == "File") {
                self.0 = true;
            }
            syn::visit::visit_type_path(self, tp);
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

fn return_kind(ty: &Type) -> ReturnKind {
    let files = |t: &Type| {
        if is_file(t) || unwrap_one(t, "Vec").is_some_and(is_file) {
            return true;
        }
        match peel(t) {
            Type::Tuple(tuple) => {
                (1..=MAX_TUPLE).contains(&tuple.elems.len()) && tuple.elems.iter().all(is_file)
            }
            _ => false,
        }
    };
    if files(ty) {
        return ReturnKind::Files;
    }
    match last_segment(ty) {
        Some((id, args)) if id == "Result" && !args.is_empty() && files(args[0]) => {
            ReturnKind::Files
        }
        _ => ReturnKind::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        syn::parse_str(s).unwrap()
    }

    fn kind_of(s: &str) -> ParamKind {
        let item: ItemFn = syn::parse_str(&format!("fn f({s}) -> File {{}}")).unwrap();
        FileCreator::from_ast(&item).params[0].kind.clone()
    }

    #[test]
    fn input_kinds() {
        assert_eq!(kind_of("a: File"), ParamKind::Input(InputKind::Owned));
        assert_eq!(kind_of("a: &File"), ParamKind::Input(InputKind::Ref));
        assert_eq!(
            kind_of("a: &'a lake_runtime::File"),
            ParamKind::Input(InputKind::Ref)
        );
        assert_eq!(kind_of("a: Vec<File>"), ParamKind::Input(InputKind::Vec));
        assert_eq!(kind_of("a: &[File]"), ParamKind::Input(InputKind::Slice));
        assert_eq!(
            kind_of("a: Option<File>"),
            ParamKind::Input(InputKind::Option)
        );
        assert_eq!(kind_of("a: &mut File"), ParamKind::UnsupportedInput);
        assert_eq!(kind_of("a: Option<&File>"), ParamKind::UnsupportedInput);
        assert_eq!(
            kind_of("a: HashMap<String, File>"),
            ParamKind::UnsupportedInput
        );
    }

    #[test]
    fn outputs_and_args() {
        assert_eq!(kind_of("output_uid: &str"), ParamKind::OutputUid);
        assert_eq!(kind_of("output_uids: Vec<String>"), ParamKind::OutputUids);
        assert_eq!(kind_of("n: u32"), ParamKind::Arg);
        assert_eq!(kind_of("Point { x, y }: Point"), ParamKind::Arg);
    }

    #[test]
    fn return_kinds() {
        let ret = |s: &str| return_kind(&ty(s));
        assert_eq!(ret("File"), ReturnKind::Files);
        assert_eq!(ret("Vec<File>"), ReturnKind::Files);
        assert_eq!(ret("(File, File)"), ReturnKind::Files);
        assert_eq!(ret("Result<(File,), MyError>"), ReturnKind::Files);
        assert_eq!(ret("anyhow::Result<Vec<File>>"), ReturnKind::Files);
        assert_eq!(ret("()"), ReturnKind::Unsupported);
        assert_eq!(ret("String"), ReturnKind::Unsupported);
        assert_eq!(ret("Option<File>"), ReturnKind::Unsupported);
        let thirteen = format!("({})", vec!["File"; 13].join(", "));
        assert_eq!(ret(&thirteen), ReturnKind::Unsupported);
    }
}
