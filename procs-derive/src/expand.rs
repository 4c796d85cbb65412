use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::attr::Attrs;
use crate::{check, print};

pub(crate) fn remote(attrs: syn::Result<Attrs>, item: ItemFn) -> TokenStream {
    let checked = check::check(&item);
    match (attrs, checked) {
        (Ok(attrs), Ok(())) => {
            let registration = registration(&attrs, &item);
            quote!(#item #registration)
        }
        (attrs, checked) => {
            let mut errors = attrs.err().into_iter().chain(checked.err());
            let mut error = errors.next().expect("one of the two failed");
            error.extend(errors);
            // The function is emitted anyway so that its callers do not add
            // "cannot find function" errors to the real one.
            let error = error.into_compile_error();
            quote!(#error #item)
        }
    }
}

// Keeps the input so that whatever it was still exists for the rest of the
// crate; only the attribute's misuse is reported.
pub(crate) fn not_a_function(err: syn::Error, input: TokenStream) -> TokenStream {
    let is_fn = input
        .clone()
        .into_iter()
        .any(|tree| matches!(&tree, TokenTree::Ident(ident) if ident == "fn"));
    let err = if is_fn {
        err
    } else {
        syn::Error::new(err.span(), "#[remote] can only be applied to functions")
    };
    let err = err.into_compile_error();
    quote!(#err #input)
}

fn registration(attrs: &Attrs, item: &ItemFn) -> TokenStream {
    let sig = &item.sig;
    let name = &sig.ident;
    let krate = match &attrs.krate {
        Some(krate) => krate.to_token_stream(),
        None => quote!(::procs),
    };
    let private = quote!(#krate::__private);

    let id = match &attrs.id {
        Some(id) => id.to_token_stream(),
        None => {
            let name = name.unraw().to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #name))
        }
    };

    let inputs: Vec<&Type> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(arg) => Some(&*arg.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let output = match &sig.output {
        ReturnType::Type(_, ty) => Some(&**ty),
        ReturnType::Default => None,
    };
    let signature = print::signature(inputs.iter().copied(), output);

    // Mixed-site hygiene keeps these bindings apart from the user's names.
    let bytes = Ident::new("bytes", Span::mixed_site());
    let args: Vec<_> = (0..inputs.len())
        .map(|i| format_ident!("__a{}", i, span = Span::mixed_site()))
        .collect();
    let asserts = inputs.iter().chain(&output).map(|ty| assert_value(&private, ty));

    // Closures, not named helper functions: a helper named like the user's
    // function would shadow it inside this block and silently register the
    // wrong function.
    quote! {
        const _: () = {
            #[#private::linkme::distributed_slice(#private::REMOTES)]
            #[linkme(crate = #private::linkme)]
            static __PROCS_REMOTE: #private::Remote = #private::Remote {
                id: #id,
                signature: #signature,
                type_id: || #private::type_id_of(&#name),
                invoke: |#bytes| #private::invoke(
                    #bytes,
                    |(#(#args,)*): (#(#inputs,)*)| #name(#(#args),*),
                ),
            };
            #(#asserts)*
        };
    }
}

// Spanned on the type, so that "`Foo: Serialize` is not satisfied" points at
// `Foo` in the user's signature.
fn assert_value(private: &TokenStream, ty: &Type) -> TokenStream {
    let mut tokens = ty.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    let private = respan(private.clone(), first);
    let call = quote_spanned!(first=> #private::assert_value::<#ty>);
    quote_spanned!(last=> const _: () = #call();)
}

fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}
