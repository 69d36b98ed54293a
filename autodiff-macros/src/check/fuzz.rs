//! The macro never panics: whatever tokens it is given, `expand::differentiate` returns tokens.
//!
//! Three kinds of input, each a proptest strategy: random token trees (inside and outside a
//! function's braces), valid functions mutated token by token (deleted, duplicated, swapped,
//! replaced, wrapped in or unwrapped from groups), and functions near the subset with
//! unsupported constructs written at random places. Each expansion must return, within a time
//! bound, tokens that parse as items when the input parsed as a function, and start with that
//! function unchanged. Pathological nesting is a regression test each, on the test thread's
//! default stack. A last test expands varied inputs twice and compares the bytes.
//!
//! `AUTODIFF_FUZZ_CASES` sets the number of inputs over the three strategies (default 10,000)
//! and `AUTODIFF_FUZZ_SEED` the seed (default 1). `AUTODIFF_FUZZ_COMPILE=N` also builds the
//! expansions of `N` accepted inputs with cargo (`accepted_programs_compile`), so that an
//! expansion that is accepted but does not compile is caught.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::collection::vec;
use proptest::prelude::{Just, Strategy, any, prop_oneof};
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::{TestCaseError, TestError};

use super::generate;
use super::programs::{env_number, panic_message, runner};
use crate::expand;

/// An expansion taking longer than this (in an unoptimised test build) is a failure.
const TIME_LIMIT: Duration = Duration::from_secs(5);
/// The same for a pathological input, 10,000 statements long.
const PATHOLOGICAL_TIME_LIMIT: Duration = Duration::from_secs(30);

const IDENTS: &[&str] = &[
    "fn", "let", "mut", "if", "else", "for", "in", "while", "loop", "return", "break", "continue",
    "as", "x", "y", "x0", "f", "f64", "f32", "i32", "usize", "self", "Self", "match", "const",
    "use", "pub", "impl", "struct", "async", "unsafe", "where", "true", "false", "exp", "sin",
    "powi", "max", "clamp", "sigmoid", "relu", "len", "rev", "std", "autodiff", "wrt", "forward",
    "reverse", "r#x", "_", "a", "xs",
];

const PUNCTS: &[char] = &[
    '+', '-', '*', '/', '%', '=', '<', '>', '!', '&', '|', '.', ',', ';', ':', '#', '?', '@', '^',
    '~', '$', '\'',
];

fn literal(k: usize) -> Literal {
    match k % 12 {
        0 => Literal::f64_unsuffixed(0.5),
        1 => Literal::f64_suffixed(2.0),
        2 => Literal::f32_suffixed(1.5),
        3 => Literal::i32_unsuffixed(3),
        4 => Literal::u8_suffixed(7),
        5 => Literal::string("s"),
        6 => Literal::character('c'),
        7 => Literal::f64_unsuffixed(1e300),
        8 => Literal::i128_unsuffixed(i128::MAX),
        9 => Literal::byte_string(b"b"),
        10 => Literal::usize_unsuffixed(0),
        _ => Literal::f64_unsuffixed(0.0),
    }
}

/// One token: an identifier, a punctuation mark (joint or alone), or a literal.
fn token(kind: usize, k: usize, joint: bool) -> TokenTree {
    match kind % 3 {
        0 => TokenTree::Ident(Ident::new(
            IDENTS[k % IDENTS.len()].trim_start_matches("r#"),
            Span::call_site(),
        )),
        1 => {
            let spacing = if joint {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            TokenTree::Punct(Punct::new(PUNCTS[k % PUNCTS.len()], spacing))
        }
        _ => TokenTree::Literal(literal(k)),
    }
}

fn delimiter(k: usize) -> Delimiter {
    [
        Delimiter::Parenthesis,
        Delimiter::Brace,
        Delimiter::Bracket,
        Delimiter::None,
    ][k % 4]
}

/// Reads decisions off a stream of choices, 0 once it runs out.
struct Choices<'c> {
    choices: &'c [u32],
    at: usize,
}

impl Choices<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let c = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        usize::try_from(c).expect("u32 fits") % n
    }

    /// Up to `width` token trees, groups nesting at most `depth` deep.
    fn stream(&mut self, width: usize, depth: usize) -> TokenStream {
        let n = self.pick(width + 1);
        (0..n)
            .map(|_| {
                if depth > 0 && self.pick(4) == 0 {
                    let d = delimiter(self.pick(4));
                    TokenTree::Group(Group::new(d, self.stream(width, depth - 1)))
                } else {
                    let (kind, k, joint) = (self.pick(3), self.pick(1 << 16), self.pick(2) == 1);
                    token(kind, k, joint)
                }
            })
            .collect()
    }
}

/// Random tokens as the item, or as the body of a plausible function; and a random attribute.
fn random_input() -> BoxedStrategy<(TokenStream, TokenStream)> {
    vec(any::<u32>(), 0..400)
        .prop_map(|choices| {
            let mut c = Choices {
                choices: &choices,
                at: 0,
            };
            let wrap = c.pick(2) == 1;
            let attr = match c.pick(4) {
                0 => c.stream(4, 2),
                1 => "forward".parse().expect("tokens"),
                2 => "reverse, forward".parse().expect("tokens"),
                _ => TokenStream::new(),
            };
            let body = c.stream(16, 5);
            let item = if wrap {
                let mut item: TokenStream = "fn f(x: f64, y: f64) -> f64".parse().expect("tokens");
                item.extend([TokenTree::Group(Group::new(Delimiter::Brace, body))]);
                item
            } else {
                body
            };
            (attr, item)
        })
        .boxed()
}

/// A token stream as a tree that mutations can edit in place.
#[derive(Clone, Debug)]
enum Tree {
    Leaf(TokenTree),
    Group(Delimiter, Vec<Tree>),
}

fn trees(tokens: TokenStream) -> Vec<Tree> {
    tokens
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => Tree::Group(g.delimiter(), trees(g.stream())),
            leaf => Tree::Leaf(leaf),
        })
        .collect()
}

fn stream(trees: &[Tree]) -> TokenStream {
    trees
        .iter()
        .map(|t| match t {
            Tree::Leaf(leaf) => leaf.clone(),
            Tree::Group(d, inner) => TokenTree::Group(Group::new(*d, stream(inner))),
        })
        .collect()
}

/// One edit of a token tree.
#[derive(Clone, Copy, Debug)]
struct Mutation {
    /// Which token, in pre-order, modulo their number.
    at: usize,
    kind: usize,
    /// The token inserted or written instead, and the delimiter of a new group.
    payload: (usize, usize, bool),
}

fn count(trees: &[Tree]) -> usize {
    trees
        .iter()
        .map(|t| match t {
            Tree::Leaf(_) => 1,
            Tree::Group(_, inner) => 1 + count(inner),
        })
        .sum()
}

/// Applies `m` at the `at`-th token of `v` in pre-order; whether it was found.
fn apply_at(v: &mut Vec<Tree>, at: &mut usize, m: Mutation) -> bool {
    for i in 0..v.len() {
        if *at == 0 {
            let (kind, k, joint) = m.payload;
            let new = Tree::Leaf(token(kind, k, joint));
            match m.kind % 7 {
                0 => {
                    v.remove(i);
                }
                1 => {
                    let copy = v[i].clone();
                    v.insert(i, copy);
                }
                2 if i + 1 < v.len() => v.swap(i, i + 1),
                3 => v[i] = new,
                4 => v.insert(i, new),
                5 => {
                    if let Tree::Group(_, inner) = v[i].clone() {
                        v.splice(i..=i, inner);
                    } else {
                        v.remove(i);
                    }
                }
                _ => {
                    let node = v[i].clone();
                    v[i] = Tree::Group(delimiter(k), vec![node]);
                }
            }
            return true;
        }
        *at -= 1;
        if let Tree::Group(_, inner) = &mut v[i]
            && apply_at(inner, at, m)
        {
            return true;
        }
    }
    false
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<usize>(),
        any::<usize>(),
        (0..3usize, any::<usize>(), any::<bool>()),
    )
        .prop_map(|(at, kind, payload)| Mutation { at, kind, payload })
}

/// A valid function (or, with no mutation, exactly as generated) with a few edits.
fn mutated_input() -> BoxedStrategy<(TokenStream, TokenStream)> {
    (vec(any::<u32>(), 0..200), vec(mutation(), 0..5))
        .prop_map(|(choices, mutations)| {
            let program = generate::program_of_size(&choices, false, 8);
            let attr: TokenStream = if program.attr.is_empty() {
                "reverse, forward".parse()
            } else {
                format!("reverse, forward, {}", program.attr).parse()
            }
            .expect("tokens");
            let mut v = trees(program.source.parse().expect("generated source tokenizes"));
            for m in mutations {
                let n = count(&v);
                if n > 0 {
                    let mut at = m.at % n;
                    apply_at(&mut v, &mut at, m);
                }
            }
            (attr, stream(&v))
        })
        .boxed()
}

/// A function near the subset: the generator, writing unsupported constructs here and there.
fn hostile_input() -> BoxedStrategy<(TokenStream, TokenStream)> {
    (
        vec(any::<u32>(), 0..200),
        prop_oneof![Just(""), Just("forward")],
    )
        .prop_map(|(choices, mode)| {
            let program = generate::program_of_size(&choices, true, 8);
            let attr = match (mode, program.attr.is_empty()) {
                (m, true) => m.to_owned(),
                ("", false) => program.attr.clone(),
                (m, false) => format!("{m}, {}", program.attr),
            };
            // Hostile text may not even tokenize: then the tokens of a placeholder.
            let item = program
                .source
                .parse()
                .unwrap_or_else(|_| "fn f(x0: f64) -> f64 { \"\" }".parse().expect("tokens"));
            (attr.parse().unwrap_or_default(), item)
        })
        .boxed()
}

/// Known bugs an expansion shows: named, so that the fuzzer counts them and goes on.
fn known_bug(failure: &str) -> Option<&'static str> {
    if failure.contains("does not parse") && cast_before_less(failure) {
        return Some("`a + i as f64 < b` emitted without parentheses");
    }
    None
}

/// Whether the text has `as T <`: how `a + (i as f64) < b` prints when emission drops the
/// parentheses around the cast, and Rust reads the `<` as the start of generic arguments.
fn cast_before_less(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(3).any(|w| w[0] == "as" && w[2] == "<")
}

/// Expands one input: the tokens and the time, or the panic's message, or that it was slow.
fn expand_timed(
    attr: &TokenStream,
    item: &TokenStream,
    limit: Duration,
) -> Result<(TokenStream, Duration), String> {
    let start = Instant::now();
    let expanded = std::panic::catch_unwind(|| expand::differentiate(attr.clone(), item));
    let elapsed = start.elapsed();
    let expanded = match expanded {
        Ok(tokens) => tokens,
        Err(panic) => return Err(format!("expansion panics: {}", panic_message(&*panic))),
    };
    if elapsed > limit {
        return Err(format!("expansion takes {elapsed:?}"));
    }
    if expanded.is_empty() {
        return Err("the expansion is empty".to_owned());
    }
    Ok((expanded, elapsed))
}

/// Expands one input and checks what came back; the expansion's text on failure.
pub fn expand_checked(attr: &TokenStream, item: &TokenStream) -> Result<Duration, String> {
    let (expanded, elapsed) = expand_timed(attr, item, TIME_LIMIT)?;
    if let Ok(function) = syn::parse2::<syn::ItemFn>(item.clone()) {
        let text = expanded.to_string();
        let file = syn::parse2::<syn::File>(expanded)
            .map_err(|e| format!("the expansion does not parse: {e}\n{text}"))?;
        // Less the `#[allow(dead_code)]` put before a function that may be free or associated.
        let first = file.items.first().map(|i| {
            let mut i = i.clone();
            if let syn::Item::Fn(f) = &mut i
                && f.attrs.first().is_some_and(|a| {
                    quote::quote!(#a).to_string() == quote::quote!(#[allow(dead_code)]).to_string()
                })
            {
                f.attrs.remove(0);
            }
            quote::quote!(#i).to_string()
        });
        if first != Some(quote::quote!(#function).to_string()) {
            return Err(format!(
                "the expansion does not start with the function as written\n{text}"
            ));
        }
    }
    Ok(elapsed)
}

fn fuzz(name: &str, share: u64, strategy: &BoxedStrategy<(TokenStream, TokenStream)>) {
    let cases = env_number("AUTODIFF_FUZZ_CASES", 10_000) * share / 100;
    let seed = env_number("AUTODIFF_FUZZ_SEED", 1);
    let known = std::cell::RefCell::new(std::collections::BTreeMap::<&str, u64>::new());
    let slowest = std::cell::Cell::new(Duration::ZERO);
    let total = std::cell::Cell::new(Duration::ZERO);
    let start = Instant::now();
    let result = runner(cases, seed).run(strategy, |(attr, item)| {
        match expand_checked(&attr, &item) {
            Ok(t) => {
                slowest.set(slowest.get().max(t));
                total.set(total.get() + t);
            }
            Err(e) => match known_bug(&e) {
                Some(bug) => *known.borrow_mut().entry(bug).or_insert(0) += 1,
                None => return Err(TestCaseError::fail(e)),
            },
        }
        Ok(())
    });
    eprintln!(
        "{name}: {cases} inputs, seed {seed}, {:.1?} ({:.1?} expanding), slowest expansion {:.1?}, known bugs {:?}",
        start.elapsed(),
        total.get(),
        slowest.get(),
        known.borrow()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(message, (attr, item))) => panic!(
            "{name}: {}\n#[differentiate({attr})]\n{item}",
            message.message()
        ),
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn never_panics_on_random_tokens() {
    fuzz("random tokens", 30, &random_input());
}

#[test]
fn never_panics_on_mutated_functions() {
    fuzz("mutated functions", 40, &mutated_input());
}

#[test]
fn never_panics_on_unsupported_constructs() {
    fuzz("unsupported constructs", 30, &hostile_input());
}

/// Pathological inputs: each a function whose body nests or repeats `n` times.
fn pathological(case: &str, n: usize) -> String {
    let body = match case {
        "parens" => format!("{}x{}", "(".repeat(n), ")".repeat(n)),
        "lets" => {
            let mut s = String::from("let v0 = x;\n");
            for k in 1..n {
                let _ = writeln!(s, "let v{k} = v{} * 1.0001 + x;", k - 1);
            }
            let _ = write!(s, "v{}", n - 1);
            s
        }
        "blocks" => format!("{}x{}", "{ ".repeat(n), " }".repeat(n)),
        "block_stmts" => format!("{}let y = x;{} x", "{ ".repeat(n), " }".repeat(n)),
        "else_if" => {
            let mut s = String::new();
            for k in 0..n {
                let _ = write!(s, "if x < {k}.0 {{ x * {k}.0 }} else ");
            }
            s.push_str("{ x }");
            s
        }
        "nested_if" => format!(
            "let mut s = x; {} s = s * 2.0; {} s",
            "if x > 0.0 { ".repeat(n),
            "} ".repeat(n)
        ),
        "nested_for" => format!(
            "let mut s = x; {} s = s * 2.0; {} s",
            "for _ in 0..1 { ".repeat(n),
            "} ".repeat(n)
        ),
        "sum" => format!("x{}", " + x".repeat(n)),
        "negations" => format!("{}x", "-".repeat(n)),
        "methods" => format!("x{}", ".sin()".repeat(n)),
        "assignments" => {
            let mut s = String::from("let mut s = x;\n");
            for _ in 0..n {
                s.push_str("s += x * s;\n");
            }
            s.push('s');
            s
        }
        other => panic!("no pathological case `{other}`"),
    };
    format!("fn f(x: f64) -> f64 {{\n{body}\n}}")
}

/// Expands a pathological case on this thread, whose stack is the test thread's default: it
/// must return tokens, in bounded time. (The output is not parsed again: `syn` itself would
/// overflow on nesting the compiler's parser takes.)
#[track_caller]
fn expands(case: &str, n: usize) {
    let source = pathological(case, n);
    let item: TokenStream = source.parse().expect("tokenizes");
    if let Err(e) = expand_timed(
        &"reverse, forward".parse().expect("tokens"),
        &item,
        PATHOLOGICAL_TIME_LIMIT,
    ) {
        panic!("{case} × {n}: {}", e.lines().next().unwrap_or(""));
    }
}

// Pathological inputs, on the test thread's default stack (2 MiB, unoptimised build). Each
// case at a size that expands, and at 10,000: nesting deeper than 257 groups of brackets is
// refused before `syn` parses it; the cases still ignored overflow, and the first size that
// fails is in each reason, found with `probe`.

#[test]
fn parentheses_150_deep() {
    expands("parens", 150);
}

#[test]
/// Refused before `syn` parses it, whose parser overflowed a 2 MiB stack at
/// 192 nested parentheses.
fn parentheses_10_000_deep() {
    expands("parens", 10_000);
}

#[test]
fn block_expressions_90_deep() {
    expands("blocks", 90);
}

#[test]
/// Refused before `syn` parses it, whose parser overflowed a 2 MiB stack at
/// 117 nested block expressions.
fn block_expressions_10_000_deep() {
    expands("blocks", 10_000);
}

#[test]
fn block_statements_90_deep() {
    expands("block_stmts", 90);
}

#[test]
/// Refused before `syn` parses it, whose parser overflowed a 2 MiB stack at
/// 117 nested block statements.
fn block_statements_10_000_deep() {
    expands("block_stmts", 10_000);
}

#[test]
fn nested_ifs_75_deep() {
    expands("nested_if", 75);
}

#[test]
/// Refused before `syn` parses it, whose parser overflowed a 2 MiB stack at
/// 100 nested `if` statements.
fn nested_ifs_10_000_deep() {
    expands("nested_if", 10_000);
}

#[test]
fn nested_fors_75_deep() {
    expands("nested_for", 75);
}

#[test]
/// Refused before `syn` parses it, whose parser overflowed a 2 MiB stack at
/// 103 nested `for` loops.
fn nested_fors_10_000_deep() {
    expands("nested_for", 10_000);
}

#[test]
fn else_if_chain_200_long() {
    expands("else_if", 200);
}

/// Each `else if` counts as one level of nesting, and a chain of more than 200 is a spanned
/// error (the macro overflowed at 360 before they were counted).
#[test]
fn else_if_chain_10_000_long() {
    expands("else_if", 10_000);
    refused("else_if", 300, "chain longer than 200 branches");
}

/// Expands a pathological case, which must come out as the compile error `message`.
#[track_caller]
fn refused(case: &str, n: usize, message: &str) {
    let item: TokenStream = pathological(case, n).parse().expect("tokenizes");
    let out = expand::differentiate(TokenStream::new(), &item).to_string();
    assert!(out.contains(message), "{case} × {n}: no error `{message}`");
}

#[test]
fn negations_500_deep() {
    expands("negations", 500);
}

#[test]
#[ignore = "stack overflow: syn's parser overflows at 640 nested negations"]
fn negations_10_000_deep() {
    expands("negations", 10_000);
}

#[test]
fn sum_of_1_200_terms() {
    expands("sum", 1_200);
}

/// `syn` parses `x + x + ..` flat, and lowering, emission and disposal of the syntax tree follow
/// the chain in loops (lowering overflowed at 1,548 terms when it recursed, and refused the sum
/// as nested more than 256 levels deep before that): it expands without an error.
#[test]
fn sum_of_10_000_terms() {
    expands("sum", 10_000);
    let item: TokenStream = pathological("sum", 10_000).parse().expect("tokenizes");
    let out = expand::differentiate(TokenStream::new(), &item).to_string();
    assert!(!out.contains("compile_error"), "sum × 10,000: an error");
}

#[test]
fn method_chain_1_000_long() {
    expands("methods", 1_000);
}

#[test]
#[ignore = "stack overflow: lowering overflows at 1,340 chained method calls before its nesting limit applies"]
fn method_chain_10_000_long() {
    expands("methods", 10_000);
}

#[test]
fn updates_200_long() {
    expands("assignments", 200);
}

/// The adjoint of `x` is one sum of 10,000 terms: emission gives every 48th partial sum a `let`
/// (it overflowed at 264 terms when the whole sum was written inline).
#[test]
fn updates_10_000_long() {
    expands("assignments", 10_000);
}

#[test]
fn let_chain_10_000_long() {
    expands("lets", 10_000);
}

/// Nesting too deep for the macro is a spanned error before anything parses it.
#[test]
fn nesting_beyond_the_limit_is_refused_before_parsing() {
    for case in ["nested_if", "nested_for", "parens", "blocks"] {
        refused(
            case,
            1_000,
            "nested more than 256 levels deep in brackets, braces or parentheses",
        );
    }
}

/// `a + (i as f64) < b` loses its parentheses in emission and reads as `i as f64<b ..>`.
#[test]
fn comparison_after_a_cast() {
    let item: TokenStream =
        "fn f(x: f64, i: i32) -> f64 { if x + (i as f64) < 1.0 { x } else { 2.0 * x } }"
            .parse()
            .expect("tokens");
    if let Err(e) = expand_checked(&"reverse, forward".parse().expect("tokens"), &item) {
        panic!("{e}");
    }
}

/// A `mut` array parameter that the body stores into stays `mut` in `f_grad` and `f_jvp`, or
/// `a[0] = ..` does not compile there.
#[test]
fn stored_mut_array_parameter_keeps_mut() {
    let item: TokenStream = "fn f(mut a: [f64; 2]) -> f64 { a[0] = a[1] * 3.0; a[0] * a[0] }"
        .parse()
        .expect("tokens");
    let expanded = expand::differentiate("reverse, forward".parse().expect("tokens"), &item);
    let file: syn::File = syn::parse2(expanded).expect("the expansion parses");
    let generated: Vec<&syn::ItemFn> = file
        .items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Fn(f) if f.sig.ident != "f" => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(generated.len(), 2, "f_grad and f_jvp");
    for f in generated {
        let mutable = f.sig.inputs.iter().any(|arg| {
            matches!(arg, syn::FnArg::Typed(t)
                if matches!(&*t.pat, syn::Pat::Ident(p) if p.ident == "a" && p.mutability.is_some()))
        });
        assert!(mutable, "`{}` takes `a` without `mut`", f.sig.ident);
    }
}

/// The same input expands to the same bytes, every time: nothing depends on hash order.
#[test]
fn expansion_is_deterministic() {
    let mut state = 7u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        u32::try_from(state >> 32).expect("32 bits")
    };
    let modes = ["", "forward", "reverse, forward"];
    for k in 0..50 {
        let choices: Vec<u32> = (0..300).map(|_| next()).collect();
        let program = generate::program_of_size(&choices, false, 12);
        let mode = modes[k % modes.len()];
        let attr = match (mode, program.attr.is_empty()) {
            (m, true) => m.to_owned(),
            ("", false) => program.attr.clone(),
            (m, false) => format!("{m}, {}", program.attr),
        };
        let attr: TokenStream = attr.parse().expect("tokens");
        let item: TokenStream = program.source.parse().expect("tokens");
        let first = expand::differentiate(attr.clone(), &item).to_string();
        let second = expand::differentiate(attr, &item).to_string();
        assert!(
            first == second,
            "two expansions differ:\n{}\n--- first ---\n{first}\n--- second ---\n{second}",
            program.source
        );
    }
}

/// Finds how deep a case can go: `AUTODIFF_PROBE=case:n[:stack in KiB]` expands one input on
/// a thread of that stack, and reports the time. `AUTODIFF_PROBE_STAGE` (`tokens`, `parse`,
/// `expand`, `lower`, `full`) runs the stages one at a time instead, to find the one that
/// overflows. A stack overflow aborts the process, so run one probe per process.
#[test]
#[ignore = "a tool for finding limits, run by hand"]
fn probe() {
    let spec = std::env::var("AUTODIFF_PROBE").unwrap_or_else(|_| "parens:100".to_owned());
    let mut parts = spec.split(':');
    let case = parts.next().expect("a case").to_owned();
    let n: usize = parts.next().and_then(|n| n.parse().ok()).expect("a size");
    let stack: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(2048);
    let thread = std::thread::Builder::new()
        .stack_size(stack * 1024)
        .spawn(move || {
            let start = Instant::now();
            let source = pathological(&case, n);
            let item: TokenStream = source.parse().expect("tokenizes");
            if let Ok(stage) = std::env::var("AUTODIFF_PROBE_STAGE") {
                if stage == "tokens" {
                    println!("TOKENIZED {:.1?}", start.elapsed());
                    drop(item);
                    println!("DROPPED {:.1?}", start.elapsed());
                    return;
                }
                let function: syn::ItemFn = syn::parse2(item).expect("parses");
                println!("PARSED {:.1?}", start.elapsed());
                if stage == "parse" {
                    return;
                }
                if stage == "expand" {
                    let out = expand::differentiate(
                        "reverse, forward".parse().expect("tokens"),
                        &quote::ToTokens::to_token_stream(&function),
                    );
                    println!(
                        "EXPANDED {:.1?} {}",
                        start.elapsed(),
                        out.to_string().contains("compile_error")
                    );
                    return;
                }
                let options = crate::options::Options {
                    reverse: true,
                    forward: true,
                    graph: false,
                    hessian: false,
                    wrt: None,
                };
                let graph = crate::lower::lower(&function, &options);
                println!("LOWERED {:.1?} {}", start.elapsed(), graph.is_ok());
                let Ok(graph) = graph else { return };
                if stage == "lower" {
                    return;
                }
                let adjoint = crate::reverse::reverse(graph.clone());
                println!("REVERSED {:.1?}", start.elapsed());
                let tangent = crate::forward::forward(graph);
                println!("FORWARD {:.1?}", start.elapsed());
                let r = crate::emit::reverse_fn(&adjoint);
                println!("EMITTED REVERSE {:.1?}", start.elapsed());
                let f = crate::emit::forward_fn(&tangent);
                println!(
                    "EMITTED FORWARD {:.1?} {}",
                    start.elapsed(),
                    r.to_string().len() + f.to_string().len()
                );
                drop((r, f, adjoint, tangent));
                println!("DROPPED {:.1?}", start.elapsed());
                return;
            }
            let outcome = expand_timed(
                &"reverse, forward".parse().expect("tokens"),
                &item,
                PATHOLOGICAL_TIME_LIMIT,
            );
            let first = match &outcome {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.lines().next().unwrap_or("").to_owned(),
            };
            println!(
                "PROBE {case} {n} stack {stack} KiB: {first}; {:.1?}",
                start.elapsed()
            );
        })
        .expect("thread");
    thread.join().expect("probe thread");
}

// ---------------------------------------------------------------------------------------------
// Compile-failure fuzzing: accepted inputs must compile.

/// A program of the supported subset exactly as generated, with the attribute's options.
fn generated_input() -> BoxedStrategy<(TokenStream, TokenStream)> {
    vec(any::<u32>(), 0..300)
        .prop_map(|choices| {
            let program = generate::program_of_size(&choices, false, 10);
            let attr: TokenStream = if program.attr.is_empty() {
                "reverse, forward".parse()
            } else {
                format!("reverse, forward, {}", program.attr).parse()
            }
            .expect("tokens");
            (
                attr,
                program.source.parse().expect("generated source tokenizes"),
            )
        })
        .boxed()
}

/// The expansion of an input the macro accepts (a function, expanded without a
/// `compile_error!`), pretty-printed; `None` for an input it refuses or that is no function.
fn accepted(attr: &TokenStream, item: &TokenStream) -> Option<String> {
    syn::parse2::<syn::ItemFn>(item.clone()).ok()?;
    let (expanded, _) = expand_timed(attr, item, TIME_LIMIT).ok()?;
    if expanded.to_string().contains("compile_error") {
        return None;
    }
    Some(prettyplease::unparse(
        &syn::parse2::<syn::File>(expanded).ok()?,
    ))
}

/// Writes a crate of one module per case (`case_<i>.rs`) and builds it: the indices of the
/// cases with a compile error, and the compiler's output.
fn build_cases(dir: &std::path::Path, cases: &[(usize, String)]) -> (Vec<usize>, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).expect("scratch crate directory");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"autodiff-fuzz-compile\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[dependencies]\nautodiff = {{ path = {:?} }}\n\n[workspace]\n",
            root.display().to_string()
        ),
    )
    .expect("Cargo.toml");
    let mut lib = String::from("#![allow(warnings, clippy::all)]\n");
    for (i, text) in cases {
        let _ = writeln!(lib, "mod case_{i};");
        // The runtime functions a function may call by their short names.
        let text = format!("use autodiff::{{relu, sigmoid, softplus}};\n{text}");
        std::fs::write(src.join(format!("case_{i}.rs")), text).expect("case file");
    }
    std::fs::write(src.join("lib.rs"), lib).expect("lib.rs");
    let output =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "--message-format=short"])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .output()
            .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut failing: Vec<usize> = stderr
        .lines()
        .filter(|l| l.contains(": error"))
        .filter_map(|l| {
            let file = l.split(':').next()?;
            file.strip_prefix("src/case_")?
                .strip_suffix(".rs")?
                .parse()
                .ok()
        })
        .collect();
    failing.sort_unstable();
    failing.dedup();
    assert!(
        output.status.success() || !failing.is_empty(),
        "the scratch crate does not build, and no case is to blame:\n{stderr}"
    );
    (failing, stderr)
}

/// `AUTODIFF_FUZZ_COMPILE=N` (default 0: skipped): draws inputs from the generator of the
/// supported subset and from its mutations until N are accepted by the macro, writes their
/// expansions into a scratch crate under `target/fuzz-compile` and builds it with cargo, so that
/// an expansion that is accepted but does not compile is caught, not only a panic. Inputs that
/// do not compile without the attribute either (a mutation that broke the function itself) are
/// set aside first.
#[test]
fn accepted_programs_compile() {
    use proptest::strategy::ValueTree as _;
    let wanted = usize::try_from(env_number("AUTODIFF_FUZZ_COMPILE", 0)).unwrap_or(usize::MAX);
    if wanted == 0 {
        eprintln!("accepted programs compile: skipped (set AUTODIFF_FUZZ_COMPILE=N)");
        return;
    }
    let seed = env_number("AUTODIFF_FUZZ_SEED", 1);
    let strategy = prop_oneof![generated_input(), mutated_input()];
    let mut runner = runner(u64::MAX, seed);
    let (mut drawn, mut plain, mut expanded) = (0, Vec::new(), Vec::new());
    while expanded.len() < wanted && drawn < wanted * 20 {
        drawn += 1;
        let (attr, item) = strategy.new_tree(&mut runner).expect("a case").current();
        if let Some(text) = accepted(&attr, &item) {
            let i = expanded.len();
            plain.push((i, item.to_string()));
            expanded.push((i, (attr.to_string(), item.to_string(), text)));
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("target")
        .join("fuzz-compile");
    // The functions as written, without the attribute: those that do not compile are not the
    // macro's fault.
    let (invalid, _) = build_cases(&dir.join("plain"), &plain);
    let cases: Vec<(usize, String)> = expanded
        .iter()
        .filter(|(i, _)| !invalid.contains(i))
        .map(|(i, (_, _, text))| (*i, text.clone()))
        .collect();
    let (failing, stderr) = build_cases(&dir.join("expanded"), &cases);
    eprintln!(
        "accepted programs compile: seed {seed}, {drawn} inputs drawn, {} accepted, {} of them \
         not valid Rust without the attribute, {} expansions compiled, {} failed",
        expanded.len(),
        invalid.len(),
        cases.len(),
        failing.len()
    );
    let mut report = String::new();
    for i in &failing {
        let (attr, item, _) = &expanded[*i].1;
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("src/case_{i}.rs")))
            .take(3)
            .collect();
        let _ = writeln!(
            report,
            "\ncase {i}: #[differentiate({attr})]\n{item}\n{}",
            errors.join("\n")
        );
    }
    assert!(
        failing.is_empty(),
        "{} accepted expansions do not compile (scratch crate in {}):{report}",
        failing.len(),
        dir.display()
    );
}
