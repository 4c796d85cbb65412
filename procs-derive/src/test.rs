use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser as _;

use crate::attr::Attrs;
use crate::{check, expand, print};

fn attrs(args: TokenStream) -> syn::Result<Attrs> {
    let mut attrs = Attrs::default();
    syn::meta::parser(|meta| attrs.parse(meta)).parse2(args)?;
    Ok(attrs)
}

fn attr_error(args: TokenStream) -> String {
    match attrs(args) {
        Ok(_) => panic!("arguments were accepted"),
        Err(err) => err.to_string(),
    }
}

fn check_errors(item: TokenStream) -> Vec<String> {
    let item = syn::parse2(item).unwrap();
    match check::check(&item) {
        Ok(()) => Vec::new(),
        Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn expand(args: TokenStream, item: TokenStream) -> String {
    expand::remote(attrs(args), syn::parse2(item).unwrap()).to_string()
}

#[test]
fn arguments() {
    let parsed = attrs(quote!()).unwrap();
    assert!(parsed.id.is_none() && parsed.krate.is_none());

    let parsed = attrs(quote!(id = "geometry::area/v1", crate = ::procs_core)).unwrap();
    assert_eq!(parsed.id.unwrap().value(), "geometry::area/v1");
    assert_eq!(print::tokens(&parsed.krate.unwrap()), "::procs_core");

    let parsed = attrs(quote!(crate = "crate::reexport::procs")).unwrap();
    assert_eq!(
        print::tokens(&parsed.krate.unwrap()),
        "crate::reexport::procs"
    );
}

#[test]
fn argument_errors() {
    assert_eq!(
        attr_error(quote!(name = "x")),
        "unknown #[remote] argument; expected `id` or `crate`",
    );
    assert_eq!(
        attr_error(quote!(id = "a", id = "b")),
        "duplicate `id` argument"
    );
    assert_eq!(
        attr_error(quote!(crate = ::procs, crate = ::procs)),
        "duplicate `crate` argument",
    );
    assert_eq!(
        attr_error(quote!(id = "")),
        "#[remote(id = \"...\")] cannot be empty; omit `id` to use the function's path",
    );
    assert_eq!(attr_error(quote!(id = 1)), "expected string literal");
}

#[test]
fn accepted_functions() {
    assert!(
        check_errors(quote!(
            pub fn add(a: u64, b: u64) -> u64 {
                a + b
            }
        ))
        .is_empty()
    );
    assert!(
        check_errors(quote!(
            pub(crate) const fn zero() {}
        ))
        .is_empty()
    );
    assert!(
        check_errors(quote!(
            fn patterns((a, b): (u8, u8), mut c: String, _: bool) {}
        ))
        .is_empty()
    );
    assert!(
        check_errors(quote!(
            fn owned(a: Cow<'static, str>) -> Vec<String> {
                todo()
            }
        ))
        .is_empty()
    );
    assert!(
        check_errors(quote!(
            fn lint(#[allow(unused)] a: u8) {}
        ))
        .is_empty()
    );
}

#[test]
fn every_misuse_is_reported() {
    let errors = check_errors(quote! {
        async unsafe extern "C" fn f<T>(
            &self,
            a: &str,
            b: impl Display,
            #[cfg(unix)] c: Vec<&[u8]>,
        ) -> impl Display {}
    });
    assert_eq!(
        errors,
        [
            "#[remote] functions cannot be `async`",
            "#[remote] functions cannot be `unsafe`",
            "#[remote] functions cannot be `extern`; use the Rust ABI",
            "#[remote] functions cannot be generic",
            "#[remote] functions cannot take `self`; use a free function",
            "#[remote] arguments must be owned values, not references; use `String` instead of `&str`",
            "#[remote] arguments cannot be `impl Trait`; name a concrete type",
            "#[remote] arguments cannot be conditional; put the `#[cfg]` on the function instead",
            "#[remote] arguments must be owned values, not references; use `Vec<u8>` instead of `&[u8]`",
            "#[remote] functions cannot return `impl Trait`; name a concrete type",
        ],
    );
}

#[test]
fn misuse_messages() {
    let only = |item| {
        let errors = check_errors(item);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    };
    assert_eq!(
        only(quote!(
            fn f<'a>(a: String) {}
        )),
        "#[remote] functions cannot be generic",
    );
    assert_eq!(
        only(quote!(
            fn f()
            where
                String: Clone,
            {
            }
        )),
        "#[remote] functions cannot have a `where` clause",
    );
    assert_eq!(
        only(quote!(
            fn f() -> &'static Path {}
        )),
        "#[remote] functions must return owned values, not references; use `PathBuf` instead of `&'static Path`",
    );
    assert_eq!(
        only(quote!(
            fn f(a: &mut Config) {}
        )),
        "#[remote] arguments must be owned values, not references; use `Config` instead of `&mut Config`",
    );
    assert_eq!(
        only(quote!(
            fn f(a: &dyn Display) {}
        )),
        "#[remote] arguments must be owned values, not references",
    );
    assert_eq!(
        only(quote!(
            fn f() -> ! {
                loop {}
            }
        )),
        "#[remote] functions must return a value, not `!`",
    );
    assert_eq!(
        only(quote!(
            fn f(
                a: u8,
                b: u8,
                c: u8,
                d: u8,
                e: u8,
                f: u8,
                g: u8,
                h: u8,
                i: u8,
                j: u8,
                k: u8,
                l: u8,
                m: u8,
            ) {
            }
        )),
        "#[remote] functions take at most 12 arguments; pass a struct or tuple instead",
    );
    // Function pointers and trait objects are left to the `Value` bound.
    assert!(
        check_errors(quote!(
            fn f(a: fn(&str), b: Box<dyn Fn(&str)>) {}
        ))
        .is_empty()
    );
}

#[test]
fn printing() {
    let ty = |tokens: TokenStream| print::tokens(&syn::parse2::<syn::Type>(tokens).unwrap());
    assert_eq!(ty(quote!(Vec<u8>)), "Vec<u8>");
    assert_eq!(ty(quote!(&'static str)), "&'static str");
    assert_eq!(ty(quote!((u8,))), "(u8,)");
    assert_eq!(ty(quote!([u8; 4])), "[u8; 4]");
    assert_eq!(
        ty(quote!(HashMap<String, Vec<(u8, i8)>>)),
        "HashMap<String, Vec<(u8, i8)>>"
    );
    assert_eq!(ty(quote!(::std::vec::Vec<u8>)), "::std::vec::Vec<u8>");
    assert_eq!(
        ty(quote!(Box<dyn Fn(u8) -> u8 + Send>)),
        "Box<dyn Fn(u8) -> u8 + Send>"
    );
    assert_eq!(
        ty(quote!(<Vec<u8> as IntoIterator>::Item)),
        "<Vec<u8> as IntoIterator>::Item"
    );
    assert_eq!(ty(quote!(*const u8)), "*const u8");
    assert_eq!(ty(quote!(r#type)), "r#type");
}

#[test]
fn expansion() {
    let out = expand(
        quote!(),
        quote!(
            pub fn add(a: u64, b: u64) -> u64 {
                a + b
            }
        ),
    );
    let expected = [
        "pub fn add (a : u64 , b : u64) -> u64 { a + b }",
        "# [:: procs :: __private :: linkme :: distributed_slice (:: procs :: __private :: REMOTES)]",
        "# [linkme (crate = :: procs :: __private :: linkme)]",
        "path : :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"add\")",
        "pinned_id : :: core :: option :: Option :: None",
        "file : :: core :: file ! () , line : :: core :: line ! () , column : :: core :: column ! () ,",
        "signature : \"fn(u64, u64) -> u64\"",
        "type_id : || :: procs :: __private :: type_id_of (& add)",
        "fn __procs_invoke < A0 : :: procs :: __private :: Value , A1 : :: procs :: __private :: Value , R : :: procs :: __private :: Value >",
        "let a0 = :: procs :: __private :: decode_arg :: < A0 > (input) ? ;",
        "let a1 = :: procs :: __private :: decode_arg :: < A1 > (input) ? ;",
        ":: procs :: __private :: end_args (input) ? ;",
        ":: procs :: __private :: encode_result (f (a0 , a1) , out)",
        "invoke : | input , out | __procs_invoke :: < u64 , u64 , u64 > (input , out , add) ,",
    ];
    for fragment in expected {
        assert!(out.contains(fragment), "missing `{fragment}` in:\n{out}");
    }
    // Default IDs may be shared (nested functions); only pinned ones claim
    // a symbol.
    assert!(!out.contains("export_name"), "{out}");
}

#[test]
fn expansion_of_options() {
    let out = expand(
        quote!(id = "pinned", crate = ::procs_core),
        quote!(
            #[cfg(unix)]
            fn r#unit() {}
        ),
    );
    for fragment in [
        "# [cfg (unix)] const _ : () =",
        "pinned_id : :: core :: option :: Option :: Some (\"pinned\")",
        // "pinned" in hex: any ID makes a valid symbol.
        "# [unsafe (export_name = \"__procs_remote_id_70696e6e6564\")] static __PROCS_PINNED_ID : u8 = 0 ;",
        "signature : \"fn()\"",
        ":: procs_core :: __private :: encode_result (f () , out)",
        "invoke : | input , out | __procs_invoke :: < () > (input , out , r#unit) ,",
    ] {
        assert!(out.contains(fragment), "missing `{fragment}` in:\n{out}");
    }

    let out = expand(
        quote!(),
        quote!(
            fn r#type() {}
        ),
    );
    assert!(out.contains("\"::\" , \"type\")"), "{out}");
}

#[test]
fn variadic_is_left_to_rustc() {
    let out = expand(
        quote!(),
        quote!(
            fn log(level: u8, ...) {}
        ),
    );
    assert_eq!(out, "fn log (level : u8 , ...) { }");
}

#[test]
fn errors_keep_the_function() {
    let out = expand(
        quote!(bogus),
        quote!(
            async fn f(a: &str) {}
        ),
    );
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    assert!(out.contains("unknown #[remote] argument"), "{out}");
    assert!(out.contains("async fn f (a : & str) { }"), "{out}");
    assert!(!out.contains("REMOTES"), "{out}");
}
