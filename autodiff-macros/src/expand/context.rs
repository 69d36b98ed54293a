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
//!
//! The same reading tells which functions of the same block carry `#[differentiate]` with
//! `f_grad_into` (reverse mode, every float parameter, slices among them, one float out): a
//! call of such a sibling adds its gradients into scratch buffers the caller keeps, instead of
//! receiving a new `Vec` from `g_grad` at each call.

use crate::hash::HashMap;
use std::cell::RefCell;
use std::path::PathBuf;
use std::time::SystemTime;

/// The block a function is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Place {
    /// At module level or in a function's body, or not found.
    #[default]
    Free,
    /// An associated function of an `impl Type` block or a `trait` definition: siblings are
    /// named `Self::f_grad`.
    Associated,
    /// A method of `impl Trait for Type`, where no sibling can be added.
    TraitImpl,
}

/// How a parameter of a differentiated sibling takes part in its `g_grad_into`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A float (`f64`, `f32`, or a type parameter): a scalar entry in the result.
    Float,
    /// A slice of floats: a buffer follows it, into which its gradient is added.
    Slice,
    /// Anything else, passed as it is, with no entry.
    Constant,
}

/// What the driver learns from the function's source file.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub place: Place,
    /// The functions of the same block whose `g_grad_into` exists, with their parameters.
    pub siblings: HashMap<String, Vec<ParamKind>>,
    /// The type parameter of the `impl` block around the function bounded by `Float`
    /// (`impl<Real: Float> S<Real>`), if any.
    pub impl_float: Option<String>,
}

/// A function of a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    /// The line of its name.
    pub line: usize,
    pub place: Place,
    /// The block it is written in, numbered in the order the blocks are read.
    pub block: usize,
    /// Its parameters, if it has `g_grad_into`.
    pub grad_into: Option<Vec<ParamKind>>,
    /// The type parameter of its `impl` block bounded by `Float`, if any.
    pub impl_float: Option<String>,
    /// Whether its name is written once in its block (not twice under `#[cfg]`s).
    pub once: bool,
}

/// A file read: when it was modified, its length, and its functions.
type Read = (Option<SystemTime>, u64, Vec<Function>);

thread_local! {
    /// The functions of each file read, with the time it was modified and its length, so that a
    /// process that expands the file again after an edit reads it again.
    static FILES: RefCell<HashMap<PathBuf, Read>> = RefCell::new(HashMap::default());
}

/// What the source file says of the function `item` (the attribute's input).
pub fn context(item: &proc_macro::TokenStream) -> Context {
    let Some(name) = name(item) else {
        return Context::default();
    };
    let Some(path) = name.span().local_file() else {
        return Context::default();
    };
    let line = name.span().line();
    let Ok(meta) = std::fs::metadata(&path) else {
        return Context::default();
    };
    let stamp = (meta.modified().ok(), meta.len());
    FILES.with_borrow_mut(|files| {
        let fresh = files
            .get(&path)
            .is_some_and(|(modified, len, _)| (*modified, *len) == stamp);
        if !fresh {
            let Ok(text) = std::fs::read_to_string(&path) else {
                return Context::default();
            };
            files.insert(path.clone(), (stamp.0, stamp.1, functions(&text)));
        }
        let name = name.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name);
        of(&files[&path].2, name, line)
    })
}

/// The context of the function `name` whose name is on `line`, among a file's `functions`.
pub fn of(functions: &[Function], name: &str, line: usize) -> Context {
    let Some(f) = functions.iter().find(|f| f.name == name && f.line == line) else {
        return Context::default();
    };
    // A name written twice in the block (under `#[cfg]`s) is left out: which one is compiled is
    // not known here.
    let siblings = functions
        .iter()
        .filter(|g| g.block == f.block && g.once && g.name != f.name)
        .filter_map(|g| Some((g.name.clone(), g.grad_into.clone()?)))
        .collect();
    Context {
        place: f.place,
        siblings,
        impl_float: f.impl_float.clone(),
    }
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
pub fn functions(text: &str) -> Vec<Function> {
    let mut found = Vec::new();
    // Without recursion: a file's nesting is as deep as its braces.
    let mut open = vec![(lex(text), Place::Free, None)];
    let mut blocks = 0;
    while let Some((trees, here, impl_float)) = open.pop() {
        blocks += 1;
        // Where the current item's header starts: after the last `;` or block.
        let mut start = 0;
        for (i, t) in trees.iter().enumerate() {
            match t {
                Tree::Ident(f, _) if f == "fn" => {
                    if let Some(Tree::Ident(name, line)) = trees.get(i + 1) {
                        found.push(Function {
                            name: name.clone(),
                            line: *line,
                            place: here,
                            block: blocks,
                            grad_into: grad_into(&trees[start..i], &trees[i + 2..]),
                            impl_float: impl_float.clone(),
                            once: true,
                        });
                    }
                }
                Tree::Group('{', inner) => {
                    let header = &trees[start..i];
                    let place = block(header);
                    let float = (place == Place::Associated)
                        .then(|| float_param(header))
                        .flatten();
                    open.push((inner.clone(), place, float));
                    start = i + 1;
                }
                // Items in brackets or parentheses (a closure's, in an array) are in function
                // bodies.
                Tree::Group(_, inner) => open.push((inner.clone(), Place::Free, None)),
                Tree::Punct(';') => start = i + 1,
                _ => {}
            }
        }
    }
    let mut written: HashMap<(usize, &str), usize> = HashMap::default();
    for f in &found {
        *written.entry((f.block, f.name.as_str())).or_default() += 1;
    }
    let once: Vec<bool> = found
        .iter()
        .map(|f| written[&(f.block, f.name.as_str())] == 1)
        .collect();
    for (f, once) in found.iter_mut().zip(once) {
        f.once = once;
    }
    found
}

/// The parameters of a function with `g_grad_into`, from what comes before `fn` (its
/// attributes) and after its name: `#[differentiate]` in reverse mode without `wrt`, a float
/// parameter, a slice of floats among them, one float returned, no receiver and no array
/// (whose gradients `g_grad_into` returns).
fn grad_into(attributes: &[Tree], rest: &[Tree]) -> Option<Vec<ParamKind>> {
    let ident = |t: &Tree, s: &str| matches!(t, Tree::Ident(i, _) if i == s);
    let differentiated = attributes.windows(2).find_map(|w| match w {
        [Tree::Punct('#'), Tree::Group('[', inner)] => {
            let at = inner.iter().position(|t| ident(t, "differentiate"))?;
            let path = inner[..at]
                .iter()
                .all(|t| ident(t, "autodiff") || matches!(t, Tree::Punct(':')));
            match &inner[at + 1..] {
                _ if !path => None,
                [] => Some(&[][..]),
                [Tree::Group('(', args)] => Some(&args[..]),
                _ => None,
            }
        }
        _ => None,
    })?;
    let modes = ["reverse", "forward", "graph", "hessian"];
    let named = |m: &str| differentiated.iter().any(|t| ident(t, m));
    let reverse = named("reverse") || !modes.iter().any(|&m| named(m));
    if !reverse || named("wrt") {
        return None;
    }
    // Type parameters: `<T: Float, 'a, const N: usize>`.
    let mut generics = Vec::new();
    let mut rest = rest;
    if let Some(Tree::Punct('<')) = rest.first() {
        let end = angle_end(rest)?;
        for param in split(&rest[1..end]) {
            if let Some(Tree::Ident(name, _)) = param.first() {
                generics.push(name.as_str());
            }
        }
        rest = &rest[end + 1..];
    }
    let [Tree::Group('(', params), rest @ ..] = rest else {
        return None;
    };
    let float = |t: &Tree| matches!(t, Tree::Ident(name, _) if name == "f64" || name == "f32" || generics.contains(&name.as_str()));
    // One float returned: `-> T {` or `-> T where ..`.
    match rest {
        [Tree::Punct('-'), Tree::Punct('>'), t, end, ..]
            if float(t) && (matches!(end, Tree::Group('{', _)) || ident(end, "where")) => {}
        _ => return None,
    }
    let mut kinds = Vec::new();
    for param in split(params) {
        let colon = param.iter().position(|t| matches!(t, Tree::Punct(':')))?;
        let ty = &param[colon + 1..];
        kinds.push(match ty {
            [t] if float(t) => ParamKind::Float,
            [Tree::Punct('&'), Tree::Group('[', inner)]
            | [
                Tree::Punct('&'),
                Tree::Punct('\''),
                Tree::Ident(..),
                Tree::Group('[', inner),
            ] if matches!(&inner[..], [t] if float(t)) => ParamKind::Slice,
            // A buffer the function writes, an array, `self`.
            [Tree::Punct('&'), Tree::Ident(m, _), ..] if m == "mut" => return None,
            [Tree::Group('[', _)] | [Tree::Punct('&'), Tree::Group('[', _)] => return None,
            _ => ParamKind::Constant,
        });
    }
    kinds.contains(&ParamKind::Slice).then_some(kinds)
}

/// The parameters in a parameter list: split at the commas outside `<..>`.
fn split(params: &[Tree]) -> Vec<&[Tree]> {
    let mut out = Vec::new();
    let (mut start, mut depth) = (0, 0i32);
    for (i, t) in params.iter().enumerate() {
        match t {
            Tree::Punct('<') => depth += 1,
            Tree::Punct('>')
                if !matches!(params.get(i.wrapping_sub(1)), Some(Tree::Punct('-'))) =>
            {
                depth -= 1;
            }
            Tree::Punct(',') if depth == 0 => {
                out.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < params.len() {
        out.push(&params[start..]);
    }
    out
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

/// The index of the `>` that closes the `<` that `trees` starts with (not the `>` of a `->`).
fn angle_end(trees: &[Tree]) -> Option<usize> {
    let mut depth = 0;
    for (i, t) in trees.iter().enumerate() {
        match t {
            Tree::Punct('<') => depth += 1,
            Tree::Punct('>') if !matches!(trees.get(i.wrapping_sub(1)), Some(Tree::Punct('-'))) => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The type parameter of an `impl` block's header bounded by `Float`: `impl<Real: Float + Copy>`
/// or `impl<Real> S<Real> where Real: Float`.
fn float_param(header: &[Tree]) -> Option<String> {
    let ident = |t: &Tree, s: &str| matches!(t, Tree::Ident(i, _) if i == s);
    let at = header.iter().position(|t| ident(t, "impl"))?;
    let header = &header[at + 1..];
    // `Name: .. Float ..`, a parameter or a `where` predicate.
    let bounded = |part: &[Tree]| match part {
        [Tree::Ident(name, _), Tree::Punct(':'), rest @ ..]
            if rest.iter().any(|t| ident(t, "Float")) =>
        {
            Some(name.clone())
        }
        _ => None,
    };
    // The parameters, `<..>`, split at the commas outside nested `<..>`.
    let params = match header.first() {
        Some(Tree::Punct('<')) => split(&header[1..angle_end(header)?]),
        _ => Vec::new(),
    };
    if let Some(found) = params.iter().find_map(|p| bounded(p)) {
        return Some(found);
    }
    let at = header.iter().position(|t| ident(t, "where"))?;
    split(&header[at + 1..]).into_iter().find_map(bounded)
}

#[cfg(test)]
mod tests {
    use super::{ParamKind, Place, functions, of};

    fn place(text: &str, name: &str) -> Option<Place> {
        functions(text)
            .into_iter()
            .find(|f| f.name == name)
            .map(|f| f.place)
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
        let lines: Vec<_> = found
            .iter()
            .map(|f| (f.name.as_str(), f.line, f.place))
            .collect();
        assert_eq!(lines, [("a", 1, Place::Free), ("a", 5, Place::Associated)]);
    }

    #[test]
    fn siblings_with_grad_into_are_those_of_the_same_block() {
        let text = r#"
            use autodiff::differentiate;
            #[differentiate(reverse, hessian)]
            pub fn sqnorm(x: &[f64]) -> f64 { x.iter().map(|v| v * v).sum() }
            #[autodiff::differentiate]
            #[must_use]
            fn generic<'a, T: Float + Into<f64>>(x: &'a [T], k: usize, s: T, m: &HashMap<usize, f64>) -> T { x[k] * s }
            #[differentiate(forward)]
            fn forward_only(x: &[f64]) -> f64 { x[0] }
            #[differentiate(wrt(x))]
            fn partial(x: &[f64], y: &[f64]) -> f64 { x[0] * y[0] }
            #[differentiate]
            fn scalars(x: f64) -> f64 { x }
            #[differentiate]
            fn array(x: &[f64; 2], y: &[f64]) -> f64 { x[0] * y[0] }
            #[differentiate]
            fn writes(x: &[f64], out: &mut [f64]) { out[0] = x[0]; }
            #[differentiate]
            fn two(x: &[f64]) -> [f64; 2] { [x[0], x[1]] }
            fn plain(x: &[f64]) -> f64 { x[0] }
            #[differentiate]
            pub fn caller(x: &[f64]) -> f64 { sqnorm(x) + generic(x, 0, 2.0, &HashMap::default()) }
            mod inner {
                #[differentiate]
                fn other(x: &[f64]) -> f64 { x[0] }
            }
            #[cfg(feature = "a")]
            #[differentiate]
            fn twice(x: &[f64]) -> f64 { x[0] }
            #[cfg(not(feature = "a"))]
            fn twice(x: &[f64]) -> f64 { x[0] }
        "#;
        let found = functions(text);
        let line = found.iter().find(|f| f.name == "caller").unwrap().line;
        let context = of(&found, "caller", line);
        let mut names: Vec<_> = context.siblings.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["generic", "sqnorm"]);
        assert_eq!(context.siblings["sqnorm"], [ParamKind::Slice]);
        assert_eq!(
            context.siblings["generic"],
            [
                ParamKind::Slice,
                ParamKind::Constant,
                ParamKind::Float,
                ParamKind::Constant
            ]
        );
    }

    #[test]
    fn the_float_parameter_of_an_impl_block() {
        let text = "
            impl<'a, Real: num_traits::Float + Default, const N: usize> S<'a, Real, N> {
                fn f(&self, x: Real) -> Real { x }
            }
            impl<W> P<W> where W: Copy + Float, {
                fn g(&self, x: W) -> W { x }
            }
            impl<T: Copy> Q<T> {
                fn h(&self, x: T) -> T { x }
            }
            impl<F: Float> Tr for R<F> {
                fn k(&self, x: F) -> F { x }
            }
        ";
        let found = functions(text);
        let float = |name: &str| {
            let f = found.iter().find(|f| f.name == name).unwrap();
            of(&found, name, f.line).impl_float
        };
        assert_eq!(float("f").as_deref(), Some("Real"));
        assert_eq!(float("g").as_deref(), Some("W"));
        assert_eq!(float("h"), None);
        assert_eq!(float("k"), None);
    }
}
