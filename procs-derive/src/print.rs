// Renders types the way people write them (`Vec<u8>`, `&'static str`), for
// the registered signature and for hints in error messages. Token streams
// print as `Vec < u8 >`, and their exact form varies with the compiler.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::Type;

pub(crate) fn tokens(tokens: &impl ToTokens) -> String {
    let mut out = String::new();
    write(tokens.to_token_stream(), &mut out);
    out
}

pub(crate) fn signature<'a>(
    inputs: impl IntoIterator<Item = &'a Type>,
    output: Option<&Type>,
) -> String {
    let inputs: Vec<String> = inputs.into_iter().map(tokens).collect();
    let mut out = format!("fn({})", inputs.join(", "));
    if let Some(output) = output {
        out.push_str(" -> ");
        out.push_str(&tokens(output));
    }
    out
}

fn write(stream: TokenStream, out: &mut String) {
    let mut iter = stream.into_iter().peekable();
    while let Some(tree) = iter.next() {
        match tree {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write(group.stream(), out);
                // A trailing `, ` inside `(u8,)` must not leave a space.
                out.truncate(out.trim_end().len());
                out.push_str(close);
            }
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                // `>` for `for<'a> Fn` and `<Vec<u8> as Trait>`.
                if out.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '>') {
                    out.push(' ');
                }
                out.push_str(&tree.to_string());
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                ',' | ';' => {
                    out.push(punct.as_char());
                    out.push(' ');
                }
                '+' | '=' => {
                    out.push(' ');
                    out.push(punct.as_char());
                    out.push(' ');
                }
                '-' if punct.spacing() == Spacing::Joint
                    && matches!(iter.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '>') =>
                {
                    iter.next();
                    out.push_str(" -> ");
                }
                c => out.push(c),
            },
        }
    }
}
