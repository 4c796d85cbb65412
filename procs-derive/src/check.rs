use std::fmt::Display;

use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, ItemFn, ReturnType, Safety, Type, TypeImplTrait, TypeReference};

use crate::print;

// The most arguments `procs_core::RemoteFn` is implemented for.
const MAX_ARGS: usize = 12;

const CONDITIONAL_ARGUMENT: &str =
    "#[remote] arguments cannot be conditional; put the `#[cfg]` on the function instead";

pub(crate) fn check(item: &ItemFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    let sig = &item.sig;

    if let Some(asyncness) = &sig.asyncness {
        errors.push(asyncness, "#[remote] functions cannot be `async`");
    }
    if let Safety::Unsafe(unsafety) = &sig.safety {
        errors.push(unsafety, "#[remote] functions cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        errors.push(
            abi,
            "#[remote] functions cannot be `extern`; use the Rust ABI",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.push(&sig.generics, "#[remote] functions cannot be generic");
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(
            where_clause,
            "#[remote] functions cannot have a `where` clause",
        );
    }

    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => {
                errors.push(
                    receiver,
                    "#[remote] functions cannot take `self`; use a free function",
                );
            }
            FnArg::Typed(arg) => {
                // The generated call passes one value per parameter: one
                // removed by `cfg` would shift the others.
                let conditional = arg
                    .attrs
                    .iter()
                    .filter(|attr| attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr"));
                for attr in conditional {
                    errors.push(attr, CONDITIONAL_ARGUMENT);
                }
                Owned {
                    errors: &mut errors,
                    position: Position::Argument,
                }
                .visit_type(&arg.ty);
            }
        }
    }
    if let Some(extra) = sig.inputs.iter().nth(MAX_ARGS) {
        errors.push(
            extra,
            format_args!(
                "#[remote] functions take at most {MAX_ARGS} arguments; pass a struct or tuple instead"
            ),
        );
    }

    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::Never(never) = &**ty {
            errors.push(never, "#[remote] functions must return a value, not `!`");
        }
        Owned {
            errors: &mut errors,
            position: Position::Return,
        }
        .visit_type(ty);
    }

    errors.finish()
}

#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, tokens: impl ToTokens, msg: impl Display) {
        let err = syn::Error::new_spanned(tokens, msg);
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

#[derive(Clone, Copy)]
enum Position {
    Argument,
    Return,
}

// Finds borrowed and opaque types anywhere in a parameter or return type:
// values cross a process boundary, so they must be owned and nameable.
struct Owned<'a> {
    errors: &'a mut Errors,
    position: Position,
}

impl<'ast> Visit<'ast> for Owned<'_> {
    fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
        let what = match self.position {
            Position::Argument => "#[remote] arguments must be owned values, not references",
            Position::Return => "#[remote] functions must return owned values, not references",
        };
        match owned_hint(reference) {
            Some(hint) => self.errors.push(reference, format_args!("{what}; {hint}")),
            None => self.errors.push(reference, what),
        }
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
        let msg = match self.position {
            Position::Argument => {
                "#[remote] arguments cannot be `impl Trait`; name a concrete type"
            }
            Position::Return => {
                "#[remote] functions cannot return `impl Trait`; name a concrete type"
            }
        };
        self.errors.push(impl_trait, msg);
    }

    // Function pointers and trait objects cannot cross a process boundary at
    // all; the `Serialize` check reports them on the whole type, which says
    // more than an error about a reference in their signature would.
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {}

    fn visit_type_trait_object(&mut self, _: &'ast syn::TypeTraitObject) {}
}

fn owned_hint(reference: &TypeReference) -> Option<String> {
    let owned = match &*reference.elem {
        Type::Slice(slice) => format!("Vec<{}>", print::tokens(&slice.elem)),
        Type::Path(path) if path.qself.is_none() => {
            // The unsized types of std, by the name they are usually imported as.
            let unsized_owner = match path.path.get_ident().map(ToString::to_string).as_deref() {
                Some("str") => Some("String"),
                Some("Path") => Some("PathBuf"),
                Some("OsStr") => Some("OsString"),
                Some("CStr") => Some("CString"),
                _ => None,
            };
            match unsized_owner {
                Some(owner) => owner.to_owned(),
                None => print::tokens(path),
            }
        }
        _ => return None,
    };
    Some(format!(
        "use `{owned}` instead of `{}`",
        print::tokens(reference)
    ))
}
