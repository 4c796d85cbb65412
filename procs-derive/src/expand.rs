use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt as _;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::attr::Attrs;
use crate::{check, print};

pub(crate) fn remote(attrs: syn::Result<Attrs>, item: ItemFn) -> TokenStream {
    let checked = check::check(&item);
    match (attrs, checked) {
        // rustc rejects every C-variadic definition that could get here (on
        // a non-`extern` function, or unstable); a second error would only
        // repeat it.
        (Ok(_), Ok(())) if item.sig.variadic.is_some() => item.into_token_stream(),
        (Ok(attrs), Ok(())) => {
            let registration = registration(&attrs, &item);
            quote!(#item #registration)
        }
        (attrs, checked) => {
            // The function is emitted anyway so that its callers do not add
            // "cannot find function" errors to the real ones.
            let errors = combine(attrs.err().into_iter().chain(checked.err()));
            quote!(#errors #item)
        }
    }
}

// Keeps the input, so that whatever it was still exists for the rest of the
// crate; only the attribute's misuse is reported.
pub(crate) fn not_a_function(
    attrs: syn::Result<Attrs>,
    err: syn::Error,
    input: TokenStream,
) -> TokenStream {
    let is_fn = input
        .clone()
        .into_iter()
        .any(|tree| matches!(&tree, TokenTree::Ident(ident) if ident == "fn"));
    // A function that syn cannot parse keeps syn's more precise message.
    let err = if is_fn {
        err
    } else {
        syn::Error::new(err.span(), "#[remote] can only be applied to functions")
    };
    let errors = combine(attrs.err().into_iter().chain([err]));
    quote!(#errors #input)
}

fn combine(errors: impl IntoIterator<Item = syn::Error>) -> TokenStream {
    let mut errors = errors.into_iter();
    let Some(mut first) = errors.next() else {
        return TokenStream::new();
    };
    first.extend(errors);
    first.into_compile_error()
}

fn registration(attrs: &Attrs, item: &ItemFn) -> TokenStream {
    let sig = &item.sig;
    let name = &sig.ident;
    let krate = match &attrs.krate {
        Some(krate) => krate.to_token_stream(),
        None => quote!(::procs),
    };
    let private = quote!(#krate::__private);

    // The ID on the wire is resolved from every registration when the
    // registry is built (issue 12): same-named functions nested in different
    // functions of one module share this path, and their locations tell them
    // apart. `line!()` and `column!()` name the attribute.
    let path = {
        let name = name.unraw().to_string();
        quote!(::core::concat!(::core::module_path!(), "::", #name))
    };
    let pinned_id = match &attrs.id {
        Some(id) => quote!(::core::option::Option::Some(#id)),
        None => quote!(::core::option::Option::None),
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

    let output = output.map_or_else(|| quote!(()), ToTokens::to_token_stream);
    // Mixed-site hygiene keeps these names apart from the user's.
    let mixed = |name: String| Ident::new(&name, Span::mixed_site());
    let params: Vec<Ident> = (0..inputs.len()).map(|i| mixed(format!("A{i}"))).collect();
    let args: Vec<Ident> = (0..inputs.len()).map(|i| mixed(format!("a{i}"))).collect();
    let ret = mixed("R".to_owned());
    let f = mixed("f".to_owned());
    let out = mixed("out".to_owned());
    let input = mixed("input".to_owned());
    // `#[remote] #[cfg(..)] fn` keeps its `cfg` when emitted: the
    // registration must follow it or it names a function that is gone.
    let cfgs = item.attrs.iter().filter(|attr| attr.path().is_ident("cfg"));

    // Two functions pinned to one ID must not link (issue 12): in one crate
    // rustc says "symbol `__procs_remote_id_...` is already defined", across
    // crates the linker says "duplicate symbol". The registry's check at pool
    // start stays for what this cannot see (a pinned ID equal to another
    // function's default, `module_path!()` being unknown here; dynamic
    // libraries). Hex makes any ID a valid symbol on every platform.
    let pinned_symbol = attrs.id.as_ref().map(|id| {
        let symbol = format!("__procs_remote_id_{}", hex(&id.value()));
        quote!(#[unsafe(export_name = #symbol)] static __PROCS_PINNED_ID: u8 = 0;)
    });

    // `__procs_invoke` takes each type as a generic parameter bounded by
    // `Value`, and the call names the types as the user wrote them: a type
    // that cannot cross is reported once, on that type. Calling `invoke` on
    // the concrete argument tuple would report it again, on the tuple, at the
    // attribute.
    //
    // `type_id` and `invoke` are closures, not helper functions: a helper
    // named like the user's function would shadow it in this block and
    // silently register the wrong function. A user function named
    // `__procs_invoke`, `__PROCS_REMOTE` or `__PROCS_PINNED_ID` fails to
    // type-check instead.
    quote! {
        #(#cfgs)*
        const _: () = {
            fn __procs_invoke<#(#params: #private::Value,)* #ret: #private::Value>(
                #input: &mut #private::Input<'_>,
                #out: &mut #private::Output<'_>,
                #f: fn(#(#params),*) -> #ret,
            ) -> ::core::result::Result<(), #private::CallError> {
                #(let #args = #private::decode_arg::<#params>(#input)?;)*
                #private::end_args(#input)?;
                #private::encode_result(#f(#(#args),*), #out)
            }

            #[#private::linkme::distributed_slice(#private::REMOTES)]
            #[linkme(crate = #private::linkme)]
            static __PROCS_REMOTE: #private::Remote = #private::Remote {
                path: #path,
                pinned_id: #pinned_id,
                file: ::core::file!(),
                line: ::core::line!(),
                column: ::core::column!(),
                signature: #signature,
                type_id: || #private::type_id_of(&#name),
                invoke: |#input, #out| __procs_invoke::<#(#inputs,)* #output>(#input, #out, #name),
            };

            #pinned_symbol
        };
    }
}

fn hex(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}
