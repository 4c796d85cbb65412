use syn::meta::ParseNestedMeta;
use syn::{LitStr, Path};

#[derive(Default)]
pub(crate) struct Attrs {
    pub(crate) id: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

impl Attrs {
    pub(crate) fn parse(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("id") {
            if self.id.is_some() {
                return Err(meta.error("duplicate `id` argument"));
            }
            let id: LitStr = meta.value()?.parse()?;
            if id.value().is_empty() {
                return Err(syn::Error::new(
                    id.span(),
                    "#[remote(id = \"...\")] cannot be empty; omit `id` to use the function's path",
                ));
            }
            self.id = Some(id);
        } else if meta.path.is_ident("crate") {
            if self.krate.is_some() {
                return Err(meta.error("duplicate `crate` argument"));
            }
            let value = meta.value()?;
            // serde spells this override as a string (`crate = "..."`): accept
            // both so that either habit works.
            let path = if value.peek(LitStr) {
                value.parse::<LitStr>()?.parse_with(Path::parse_mod_style)?
            } else {
                value.call(Path::parse_mod_style)?
            };
            self.krate = Some(path);
        } else {
            return Err(meta.error("unknown #[remote] argument; expected `id` or `crate`"));
        }
        Ok(())
    }
}
