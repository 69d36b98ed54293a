//! The attribute's options: `#[differentiate]`, `#[differentiate(forward)]`,
//! `#[differentiate(reverse, forward, wrt(w, b))]`.

use proc_macro2::TokenStream;
use syn::Ident;
use syn::meta::ParseNestedMeta;

/// What to generate and with respect to what.
#[derive(Debug, Default)]
#[allow(clippy::struct_excessive_bools)] // one flag per independent mode of the attribute
pub struct Options {
    /// Emit `f_grad` (and `f_grad_into` for slices). The default when no mode is named.
    pub reverse: bool,
    /// Emit `f_jvp`.
    pub forward: bool,
    /// Emit `f_graph`, the computational graph at a point.
    pub graph: bool,
    /// Emit `f_hvp` (and `f_hvp_into` for slices) and `f_hessian`.
    pub hessian: bool,
    /// The parameters to differentiate with respect to; every float parameter when absent.
    pub wrt: Option<Vec<Ident>>,
}

const EXPECTED: &str = "expected `reverse`, `forward`, `graph`, `hessian` or `wrt(param, ...)`";

pub fn parse(attr: TokenStream) -> syn::Result<Options> {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| option(&mut options, &meta));
    syn::parse::Parser::parse2(parser, attr)?;
    if !options.reverse && !options.forward && !options.graph && !options.hessian {
        options.reverse = true;
    }
    Ok(options)
}

fn option(options: &mut Options, meta: &ParseNestedMeta) -> syn::Result<()> {
    let flag = |set: &mut bool, name: &str| {
        if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
            return Err(meta.error(format!(
                "`{name}` takes no arguments: write `#[differentiate({name})]`"
            )));
        }
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
    } else if meta.path.is_ident("graph") {
        flag(&mut options.graph, "graph")
    } else if meta.path.is_ident("hessian") {
        flag(&mut options.hessian, "hessian")
    } else if meta.path.is_ident("wrt") {
        if options.wrt.is_some() {
            return Err(meta.error("`wrt` is given twice; list every parameter in one `wrt(...)`"));
        }
        if !meta.input.peek(syn::token::Paren) {
            return Err(meta.error("`wrt` takes a list of parameters, as in `wrt(w, b)`"));
        }
        let content;
        syn::parenthesized!(content in meta.input);
        let names: Vec<Ident> = content
            .parse_terminated(syn::ext::IdentExt::parse_any, syn::Token![,])
            .map_err(|e| syn::Error::new(e.span(), "expected a parameter name, as in `wrt(w, b)`"))?
            .into_iter()
            .collect();
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
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::");
        Err(meta.error(format!("unknown option `{name}`: {EXPECTED}")))
    }
}
