//! Where the function is written: at module level, in an `impl` block or a `trait`, or in a
//! trait's `impl` block.
//!
//! An attribute sees only its function's tokens, and a function that neither takes `self` nor
//! names `Self` reads the same inside an `impl` block as outside it. What the macro emits does
//! not: `f_grad` calls `f_grad_into` (`f_hessian` calls `f_hvp`, `f_jacobian` its sweeps), which
//! in an `impl` block is `Self::f_grad_into`, and siblings cannot be added to a trait's `impl`
//! at all. So the driver reads the function's source file, as the compiler names it in the
//! function's span, and finds the block around the line of the function's name. A function it
//! cannot find there (written by a macro, or a file the compiler does not name) is taken to be
//! free, or associated where its tokens say so.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

/// The block a function is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// At module level or in a function's body, or not found.
    Free,
    /// An associated function of an `impl Type` block or a `trait` definition: siblings are
    /// named `Self::f_grad`.
    Associated,
    /// A method of `impl Trait for Type`, where no sibling can be added.
    TraitImpl,
}

/// The functions of one source file: name, line of the name, and place.
type Functions = Vec<(String, usize, Place)>;

/// A file read: when it was modified, its length, and its functions.
type Read = (Option<SystemTime>, u64, Functions);

thread_local! {
    /// The functions of each file read, with the time it was modified and its length, so that a
    /// process that expands the file again after an edit reads it again.
    static FILES: RefCell<HashMap<PathBuf, Read>> =
        RefCell::new(HashMap::new());
}

/// Where the function `item` (the attribute's input) is written.
pub fn place(item: &proc_macro::TokenStream) -> Place {
    let Some(name) = name(item) else {
        return Place::Free;
    };
    let Some(path) = name.span().local_file() else {
        return Place::Free;
    };
    let line = name.span().line();
    let Ok(meta) = std::fs::metadata(&path) else {
        return Place::Free;
    };
    let stamp = (meta.modified().ok(), meta.len());
    FILES.with_borrow_mut(|files| {
        let fresh = files
            .get(&path)
            .is_some_and(|(modified, len, _)| (*modified, *len) == stamp);
        if !fresh {
            let Ok(text) = std::fs::read_to_string(&path) else {
                return Place::Free;
            };
            files.insert(path.clone(), (stamp.0, stamp.1, functions(&text)));
        }
        let functions = &files[&path].2;
        let name = name.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name);
        functions
            .iter()
            .find(|(n, l, _)| n == name && *l == line)
            .map_or(Place::Free, |(_, _, place)| *place)
    })
}

/// The name of the function: the identifier after `fn` among the item's own tokens.
fn name(item: &proc_macro::TokenStream) -> Option<proc_macro::Ident> {
    let mut after_fn = false;
    for t in item.clone() {
        match t {
            proc_macro::TokenTree::Ident(i) if after_fn => return Some(i),
            proc_macro::TokenTree::Ident(i) => after_fn = i.to_string() == "fn",
            _ => after_fn = false,
        }
    }
    None
}

/// Every function of a source file, with the line of its name and the block it is in.
pub fn functions(text: &str) -> Functions {
    let mut found = Vec::new();
    // Without recursion: a file's nesting is as deep as its braces.
    let mut open = vec![(lex(text), Place::Free)];
    while let Some((trees, here)) = open.pop() {
        // Where the current item's header starts: after the last `;` or block.
        let mut start = 0;
        for (i, t) in trees.iter().enumerate() {
            match t {
                Tree::Ident(f, _) if f == "fn" => {
                    if let Some(Tree::Ident(name, line)) = trees.get(i + 1) {
                        found.push((name.clone(), *line, here));
                    }
                }
                Tree::Group('{', inner) => {
                    open.push((inner.clone(), block(&trees[start..i])));
                    start = i + 1;
                }
                // Items in brackets or parentheses (a closure's, in an array) are in function
                // bodies.
                Tree::Group(_, inner) => open.push((inner.clone(), Place::Free)),
                Tree::Punct(';') => start = i + 1,
                _ => {}
            }
        }
    }
    found
}

/// A token of a source file, as far as finding blocks needs: an identifier with its line, a
/// punctuation character, or a group in `(`, `[` or `{`. Comments and literals are left out.
#[derive(Clone, Debug)]
enum Tree {
    Ident(String, usize),
    Punct(char),
    Group(char, Vec<Tree>),
}

/// The tokens of a source file. (The compiler's lexer is not available on text, and
/// `proc_macro2`'s has no lines unless built with a feature that makes every span larger.)
fn lex(text: &str) -> Vec<Tree> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut line = 1;
    let mut open: Vec<(char, Vec<Tree>)> = vec![(' ', Vec::new())];
    let mut i = 0;
    while let Some(c) = at(i) {
        let mut push = |t: Tree| open.last_mut().expect("the file's level").1.push(t);
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            _ if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                let mut depth = 0;
                loop {
                    match (at(i), at(i + 1)) {
                        (Some('/'), Some('*')) => (depth, i) = (depth + 1, i + 2),
                        (Some('*'), Some('/')) => (depth, i) = (depth - 1, i + 2),
                        (Some(c), _) => {
                            line += usize::from(c == '\n');
                            i += 1;
                        }
                        (None, _) => break,
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            '"' => i = quoted(&chars, i + 1, '"', &mut line),
            // A character, or a lifetime, whose name is read as an identifier next.
            '\'' if at(i + 1) == Some('\\') || at(i + 2) == Some('\'') => {
                i = quoted(&chars, i + 1, '\'', &mut line);
            }
            '(' | '[' | '{' => {
                open.push((c, Vec::new()));
                i += 1;
            }
            ')' | ']' | '}' => {
                if open.len() > 1 {
                    let (delimiter, inner) = open.pop().expect("an open group");
                    open.last_mut()
                        .expect("the file's level")
                        .1
                        .push(Tree::Group(delimiter, inner));
                }
                i += 1;
            }
            _ if c == '_' || c.is_alphanumeric() => {
                let start = i;
                while at(i).is_some_and(|c| c == '_' || c.is_alphanumeric()) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                match (word.as_str(), at(i)) {
                    ("r" | "br" | "cr", Some('#' | '"')) if at(i + hashes) == Some('"') => {
                        i = raw(&chars, i + hashes + 1, hashes, &mut line);
                    }
                    ("b" | "c", Some('"')) => i = quoted(&chars, i + 1, '"', &mut line),
                    ("b", Some('\'')) => i = quoted(&chars, i + 1, '\'', &mut line),
                    ("r", Some('#')) => {
                        let start = i + 1;
                        i = start;
                        while at(i).is_some_and(|c| c == '_' || c.is_alphanumeric()) {
                            i += 1;
                        }
                        push(Tree::Ident(chars[start..i].iter().collect(), line));
                    }
                    _ => push(Tree::Ident(word, line)),
                }
            }
            _ => {
                push(Tree::Punct(c));
                i += 1;
            }
        }
    }
    // Groups left open at the end of a file that does not compile.
    while open.len() > 1 {
        let (delimiter, inner) = open.pop().expect("an open group");
        open.last_mut()
            .expect("the file's level")
            .1
            .push(Tree::Group(delimiter, inner));
    }
    open.pop().map(|(_, trees)| trees).unwrap_or_default()
}

/// The index after a string or character literal whose contents start at `i`.
fn quoted(chars: &[char], mut i: usize, end: char, line: &mut usize) -> usize {
    while let Some(&c) = chars.get(i) {
        *line += usize::from(c == '\n');
        match c {
            '\\' => {
                *line += usize::from(chars.get(i + 1) == Some(&'\n'));
                i += 2;
            }
            _ if c == end => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The index after a raw string, `r#"..."#`, whose contents start at `i`.
fn raw(chars: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while let Some(&c) = chars.get(i) {
        *line += usize::from(c == '\n');
        i += 1;
        if c == '"' && chars[i..].iter().take_while(|&&c| c == '#').count() >= hashes {
            return i + hashes;
        }
    }
    i
}

/// The kind of block whose header (the tokens before its `{`, attributes included) is `header`.
fn block(header: &[Tree]) -> Place {
    let ident = |t: &Tree, s: &str| matches!(t, Tree::Ident(i, _) if i == s);
    // A function's body (`fn f() -> impl Fn(f64) -> f64 {`), a module, a struct, a statement.
    if header.iter().any(|t| ident(t, "fn")) {
        return Place::Free;
    }
    if header.iter().any(|t| ident(t, "trait")) {
        return Place::Associated;
    }
    let Some(at) = header.iter().position(|t| ident(t, "impl")) else {
        return Place::Free;
    };
    // `impl<T> Trait for Type`, but not a bound `for<'a> Fn(&'a f64)` of an inherent `impl`.
    let for_trait = header[at..]
        .windows(2)
        .any(|w| ident(&w[0], "for") && !matches!(&w[1], Tree::Punct('<')));
    if for_trait {
        Place::TraitImpl
    } else {
        Place::Associated
    }
}

#[cfg(test)]
mod tests {
    use super::{Place, functions};

    fn place(text: &str, name: &str) -> Option<Place> {
        functions(text)
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, p)| p)
    }

    #[test]
    fn blocks_are_told_apart() {
        let text = r###"
            //! fn in_a_comment() {}
            use autodiff::differentiate;
            #[differentiate]
            pub fn free(x: f64) -> f64 { x }
            struct S;
            impl S {
                #[differentiate(hessian)]
                pub fn assoc(x: f64) -> f64 { fn nested(x: f64) -> f64 { x } nested(x) }
                fn string() -> &'static str { "impl T for S { fn quoted() {} }" }
            }
            impl<F> S where F: for<'a> Fn(&'a f64) { fn bound() {} }
            impl<'a, T: Clone> Clone for S { fn clone(&self) -> Self { S } }
            unsafe impl Send for S {}
            trait T { fn provided(x: f64) -> f64 { x } }
            mod m { impl super::S { fn inner() {} } fn module() -> impl Fn() { || {} } }
            const C: [fn(); 1] = [{ fn in_const() {} in_const }];
            fn r#raw() {}
            /* a { block /* nested } */ comment */
            impl<'a> S {
                const OPEN: char = '{';
                const QUOTE: char = '\'';
                const RAW: &'static str = r##"} "# }"##;
                const BYTES: &'static [u8] = b"}";
                const ESCAPED: &'static str = "\" }";
                fn after_literals(x: &'a f64) -> &'a f64 { x } // }
            }
            fn last() {}
        "###;
        assert_eq!(place(text, "free"), Some(Place::Free));
        assert_eq!(place(text, "assoc"), Some(Place::Associated));
        assert_eq!(place(text, "nested"), Some(Place::Free));
        assert_eq!(place(text, "string"), Some(Place::Associated));
        assert_eq!(place(text, "quoted"), None);
        assert_eq!(place(text, "in_a_comment"), None);
        assert_eq!(place(text, "bound"), Some(Place::Associated));
        assert_eq!(place(text, "clone"), Some(Place::TraitImpl));
        assert_eq!(place(text, "provided"), Some(Place::Associated));
        assert_eq!(place(text, "inner"), Some(Place::Associated));
        assert_eq!(place(text, "module"), Some(Place::Free));
        assert_eq!(place(text, "in_const"), Some(Place::Free));
        assert_eq!(place(text, "raw"), Some(Place::Free));
        assert_eq!(place(text, "after_literals"), Some(Place::Associated));
        assert_eq!(place(text, "last"), Some(Place::Free));
    }

    #[test]
    fn lines_are_the_names() {
        let found = functions("fn a() {}\n/* \n */ \"\n\"; impl S {\n    fn a() {}\n}\n");
        assert_eq!(
            found,
            vec![
                ("a".to_string(), 1, Place::Free),
                ("a".to_string(), 5, Place::Associated)
            ]
        );
    }
}
