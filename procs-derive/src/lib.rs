//! Implementation detail of the [`procs`](https://docs.rs/procs) crate.
//!
//! This crate provides the `#[remote]` attribute. Depend on `procs` and use
//! `procs::remote` instead: the generated code names `procs::__private`, and
//! this crate's version is pinned to the facade's.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod attr;
mod check;
mod expand;
mod print;
#[cfg(test)]
mod test;

use proc_macro::TokenStream;
use syn::parse::Parser as _;

/// The `#[remote]` attribute, used as `procs::remote`: it registers a
/// function so that worker processes can run it.
#[proc_macro_attribute]
pub fn remote(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut attrs = attr::Attrs::default();
    let parsed = syn::meta::parser(|meta| attrs.parse(meta)).parse(args);
    let attrs = parsed.map(|()| attrs);
    match syn::parse::<syn::ItemFn>(input.clone()) {
        Ok(item) => expand::remote(attrs, item).into(),
        Err(err) => expand::not_a_function(attrs, err, input.into()).into(),
    }
}
