//! The attribute's options: `#[differentiate]`, `#[differentiate(forward)]`,
//! `#[differentiate(reverse, forward, wrt(w, b))]`.

use proc_macro2::TokenStream;
use syn::Ident;
use syn::meta::ParseNestedMeta;

/// What to generate and with respect to what.
#[derive(Debug, Default)]
pub struct Options {
    /// Emit `f_grad` (and `f_grad_into` for slices). The default when no mode is named.
    pub reverse: bool,
    /// Emit `f_jvp`.
    pub forward: bool,
    /// The parameters to differentiate with respect to; every float parameter when absent.
    pub wrt: Option<Vec<Ident>>,
}

const EXPECTED: &str = "expected `reverse`, `forward` or `wrt(param, ...)`";

pub fn parse(attr: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| option(&mut options, &meta));
    syn::parse::Parser::parse2(parser, attr)?;
    if !options.reverse && !options.forward {
        options.reverse = true;
    }
    Ok(options)
}

fn option(options: &mut Options, meta: &ParseNestedMeta) -> syn::Result<()> {
    let flag = |set: &mut bool, name: &str| {
        if *set {
            return Err(meta.error(format!("`{name}` is given twice")));
        }
        *set = true;
        Ok(())
    };
    if meta.path.is_ident("reverse") {
        flag(&mut options.reverse, "reverse")
    } else if meta.path.is_ident("forward") {
        flag(&mut options.forward, "forward")
    } else if meta.path.is_ident("wrt") {
        if options.wrt.is_some() {
            return Err(meta.error("`wrt` is given twice; list every parameter in one `wrt(...)`"));
        }
        let mut names = Vec::new();
        meta.parse_nested_meta(|inner| match inner.path.get_ident() {
            Some(ident) if inner.input.is_empty() || inner.input.peek(syn::Token![,]) => {
                names.push(ident.clone());
                Ok(())
            }
            _ => Err(inner.error("expected a parameter name, as in `wrt(w, b)`")),
        })?;
        if names.is_empty() {
            return Err(
                meta.error("`wrt()` names no parameter; list at least one, as in `wrt(w, b)`")
            );
        }
        options.wrt = Some(names);
        Ok(())
    } else {
        let name = meta
            .path
            .get_ident()
            .map_or_else(|| "this option".to_owned(), |i| format!("`{i}`"));
        Err(meta.error(format!("unknown option {name}: {EXPECTED}")))
    }
}
