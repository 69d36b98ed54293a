//! Names: the one place where the macro builds a name from a user's name, and where a name
//! becomes an identifier.
//!
//! The user may write a raw identifier, `r#type` or `r#x`. The `r#` is part of how the name is
//! written, not of the name: `r#x` and `x` are one identifier, and `r#type` is the identifier
//! `type`, which only a raw identifier can spell. So names are compared and extended without it
//! (`r#type` gives `d_type`, `type_next`, `type_1`), and an identifier is written raw exactly
//! when its name is a keyword.

use proc_macro2::{Ident, Span};

/// The name without the `r#` of a raw identifier: `r#type` is `type`, `x` is `x`.
pub fn plain(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// Whether two names are the same identifier (`r#x` and `x` are).
pub fn same(a: &str, b: &str) -> bool {
    plain(a) == plain(b)
}

/// The name of the derivative of `name`: `d_x` for `x`, `d_type` for `r#type`.
pub fn derivative(name: &str) -> String {
    format!("d_{}", plain(name))
}

/// `name` with a suffix: `x_next`, `x_1`; `type_next` for `r#type`.
pub fn suffixed(name: &str, suffix: impl std::fmt::Display) -> String {
    format!("{}_{suffix}", plain(name))
}

/// The identifier of `name`, raw if its name is a keyword: `r#type` and `type` give `r#type`,
/// `r#x` gives `x`.
pub fn ident(name: &str, span: Span) -> Ident {
    let name = plain(name);
    if is_keyword(name) {
        Ident::new_raw(name, span)
    } else {
        Ident::new(name, span)
    }
}

/// The keywords a raw identifier may spell, strict and reserved, of every edition (`async`,
/// `dyn` and `try` since 2018, `gen` since 2024): written raw, they are identifiers in any.
/// (`self`, `Self`, `super`, `crate` and `_` cannot be raw, nor names of values.)
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "break"
            | "const"
            | "continue"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_names_are_extended_without_their_prefix() {
        assert_eq!(derivative("r#type"), "d_type");
        assert_eq!(derivative("x"), "d_x");
        assert_eq!(suffixed("r#type", "next"), "type_next");
        assert_eq!(suffixed("s", 1), "s_1");
        assert!(same("r#x", "x"));
        assert!(!same("x", "d_x"));
    }

    /// Every identifier comes out valid: raw for keywords, plain otherwise.
    #[test]
    fn keywords_are_written_raw() {
        let span = Span::call_site();
        assert_eq!(ident("r#type", span).to_string(), "r#type");
        assert_eq!(ident("type", span).to_string(), "r#type");
        assert_eq!(ident("r#x", span).to_string(), "x");
        assert_eq!(ident("d_type", span).to_string(), "d_type");
        for k in ["fn", "match", "loop", "gen", "try", "async", "dyn"] {
            assert_eq!(ident(k, span).to_string(), format!("r#{k}"));
            // The raw identifier parses back as an identifier.
            let parsed: Ident = syn::parse_str(&format!("r#{k}")).expect("a raw identifier");
            assert_eq!(parsed, ident(k, span));
        }
    }
}
