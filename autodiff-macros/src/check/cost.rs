//! What the expansion costs at compile time, as functions grow.
//!
//! Each case is a function generated at a given size: a straight-line chain of statements with
//! fan-out, the same chain as the body of a loop, an expression nested to a given depth, and
//! `if`s or `for`s nested inside one another. The expansion entry point runs on it in process and
//! the table reports the median time of up to five runs, the time of each stage, the size of the
//! input and output in tokens and the pretty-printed output in lines. Output that grows faster
//! than the input (expression swell) shows as a rising `out/size` column.
//!
//! ```text
//! cargo test -p autodiff-macros --lib check::cost::table -- --ignored --nocapture
//! AUTODIFF_COST_MAX=1000 cargo test -p autodiff-macros --lib check::cost::table -- --ignored --nocapture
//! ```
//!
//! A proc macro runs unoptimised in both `cargo build` and `cargo build --release` (Cargo builds
//! build scripts and proc macros with `opt-level = 0` unless `[profile.*.build-override]` says
//! otherwise), so the table of the debug test build is the one that predicts build times.
//!
//! The debug table takes about 3 minutes on two cores, the release table under 2. The slowest
//! cases are 10,000 straight-line statements (about 4 s an expansion in the debug build) and
//! 3,000 statements in a loop body (about 8 s, nearly all of it in `reverse`, which grows
//! quadratically with the statements of a loop body). Results, with the machine and the commit
//! measured, are in `benches/compile_time/README.md`.
//!
//! The child processes run this test binary again (`std::env::current_exe`), so a build that
//! replaces the binary while the table runs (after any edit in the crate) fails the next case:
//! the binary is not found. In a work tree that changes, run the table from a snapshot of the
//! commit (`git archive HEAD | tar -x -C /tmp/snapshot`) or with a `CARGO_TARGET_DIR` of its own.
//!
//! Every case runs in a child process (this test binary, running [`probe`]) on a thread with the
//! 8 MiB stack rustc gives a proc macro, so a case that overflows the stack is reported as such
//! instead of taking the table down; it is then measured again on a 1 GiB stack. A case whose
//! first run takes more than [`SLOW`] is run once, stage by stage, and its expansion time is the
//! sum of the stages.
//!
//! The tests that are not ignored check the deterministic half: the output grows linearly, and an
//! expression nested beyond the limit is a spanned error.
//!
//! [`expand_file`] turns a source file of `#[differentiate]` functions into the same file with
//! each attribute replaced by its expansion, as plain Rust (`benches/compile_time/` builds it to
//! tell the macro's own time from the compiler's time on the code it emits):
//!
//! ```text
//! AUTODIFF_EXPAND_IN=/tmp/autodiff-compile-time/with/src/lib.rs \
//! AUTODIFF_EXPAND_OUT=/tmp/autodiff-compile-time/expanded/src/lib.rs \
//!     cargo test -p autodiff-macros --lib check::cost::expand_file -- --ignored --exact
//! ```
//!
//! Give absolute paths: the test runs in `autodiff-macros/`, so a relative path is read from
//! there.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Expr, ItemFn};

use crate::expand::differentiate;
use crate::options::Options;
use crate::{emit, lower, reverse};

/// The stack a proc macro gets inside rustc.
const COMPILER_STACK: usize = 8 << 20;

/// The stack a case that overflows [`COMPILER_STACK`] is measured on.
const LARGE_STACK: usize = 1 << 30;

/// Runs `f` on a thread with a stack of `size` bytes and returns its result.
fn on_stack<T: Send + 'static>(size: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(size)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the expansion does not panic")
}

/// The body shapes the cases are made of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// Statements in a straight line.
    Straight,
    /// Statements in the body of a `for` over a slice.
    Loop,
    /// One expression, nested.
    Nested,
    /// `if`s, each inside the one before.
    If,
    /// `for`s, each inside the one before.
    For,
}

impl Shape {
    const ALL: [Shape; 5] = [
        Shape::Straight,
        Shape::Loop,
        Shape::Nested,
        Shape::If,
        Shape::For,
    ];

    fn key(self) -> &'static str {
        match self {
            Shape::Straight => "straight",
            Shape::Loop => "loop",
            Shape::Nested => "nested-expr",
            Shape::If => "nested-if",
            Shape::For => "nested-for",
        }
    }

    /// What the size of the shape counts.
    fn description(self) -> &'static str {
        match self {
            Shape::Straight => "straight-line statements",
            Shape::Loop => "statements in a loop body",
            Shape::Nested => "expression depth",
            Shape::If => "nested `if`s",
            Shape::For => "nested `for`s",
        }
    }

    fn from_key(key: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.key() == key)
    }

    /// The function of this shape at `size`.
    fn item(self, size: usize) -> String {
        match self {
            Shape::Straight => straight(size),
            Shape::Loop => loop_body(size),
            Shape::Nested => nested_expr(size),
            Shape::If => nested_if(size),
            Shape::For => nested_for(size),
        }
    }
}

/// The statement that defines `a{k}` in a chain, from earlier links and `first`, `second`.
/// Every link reads the one before it and `first` or `second`; one in three reaches back to
/// `a{k/2}`, the others to `a{k-2}`, so values fan out near and far, and `first` fans out to
/// every link.
fn link(k: usize, first: &str, second: &str) -> String {
    match k {
        0 => format!("let a0 = {first} * {second};"),
        1 => format!("let a1 = {first} + {second};"),
        _ if k % 3 == 2 => format!("let a{k} = a{} - 0.001 * a{} * {second};", k - 1, k / 2),
        _ => format!(
            "let a{k} = (a{} * 1.0001 + {first}.sin() * a{}).tanh();",
            k - 1,
            k - 2
        ),
    }
}

/// `n` statements in a straight line.
fn straight(n: usize) -> String {
    let mut body = String::new();
    for k in 0..n - 1 {
        body.push_str(&link(k, "x", "y"));
    }
    let last = n - 1;
    let _ = write!(body, "let a{last} = a{} * y; a{last}", last - 1);
    format!("fn f(x: f64, y: f64) -> f64 {{ {body} }}")
}

/// A loop over a slice whose body is `n` statements: a chain, then `s = ...`.
fn loop_body(n: usize) -> String {
    let mut body = String::new();
    for k in 0..n - 1 {
        body.push_str(&link(k, "x[i]", "s"));
    }
    let _ = write!(body, "s = a{} * y;", n - 2);
    format!(
        "fn f(x: &[f64], y: f64) -> f64 {{ let mut s = y; for i in 0..x.len() {{ {body} }} s }}"
    )
}

/// One expression `depth` levels deep, as lowering counts them (every sub-expression is a level,
/// except that a chain of binary operators is one however long; the innermost `x` is the first).
/// Four wrappings take turns: `f64::sin(_)`, `_ * y`, `f64::tanh(_)`, `_ + x`, each adding one
/// level, with no parentheses between them.
fn nested_expr(depth: usize) -> String {
    let mut e = String::from("x");
    for k in 1..depth {
        e = match k % 4 {
            1 => format!("f64::sin({e})"),
            2 => format!("{e} * y"),
            3 => format!("f64::tanh({e})"),
            _ => format!("{e} + x"),
        };
    }
    format!("fn f(x: f64, y: f64) -> f64 {{ {e} }}")
}

/// `depth` `if`s, each inside the one before, each updating `s` before the next test.
fn nested_if(depth: usize) -> String {
    let mut body = String::new();
    for k in 0..depth {
        let _ = write!(body, "if s > -0.{k} {{ s = (s * 1.0001 + y).tanh(); ");
    }
    body.push_str(&"}".repeat(depth));
    format!("fn f(x: f64, y: f64) -> f64 {{ let mut s = x; {body} s }}")
}

/// `depth` `for` loops, each inside the one before, each updating `s` before the next loop.
fn nested_for(depth: usize) -> String {
    let mut body = String::new();
    for k in 0..depth {
        let _ = write!(
            body,
            "for i{k} in 0..n {{ s = (s * 1.0001 + y).tanh() + (i{k} as f64); "
        );
    }
    body.push_str(&"}".repeat(depth));
    format!("fn f(x: f64, y: f64, n: usize) -> f64 {{ let mut s = x; {body} s }}")
}

/// Token trees, flattened: each identifier, punctuation character and literal counts once, and
/// each delimited group once for its pair of delimiters.
fn tokens(stream: TokenStream) -> usize {
    stream
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => 1 + tokens(g.stream()),
            _ => 1,
        })
        .sum()
}

/// The messages of the `compile_error!`s in an expansion, if any.
fn errors(expansion: TokenStream) -> Option<String> {
    // Read off the top-level tokens, without parsing the function, which may be nested too
    // deeply for `syn`: `compile_error! { "message" }`.
    let tokens: Vec<TokenTree> = expansion.into_iter().collect();
    let messages: Vec<String> = tokens
        .windows(3)
        .filter_map(|w| match w {
            [
                TokenTree::Ident(name),
                TokenTree::Punct(bang),
                TokenTree::Group(body),
            ] if name == "compile_error" && bang.as_char() == '!' => {
                let lit: syn::LitStr = syn::parse2(body.stream()).expect("a string");
                Some(lit.value())
            }
            _ => None,
        })
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// The expansion of `item`, with no attribute arguments.
fn expand(item: &str) -> TokenStream {
    let item: TokenStream = item.parse().expect("the case is valid tokens");
    differentiate(TokenStream::new(), &item)
}

/// Runs longer than this are not repeated.
const SLOW: Duration = Duration::from_secs(10);

const RUNS: usize = 5;

/// The median of `runs`.
fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// What one case costs: the line a [`probe`] prints, fields separated by tabs.
///
/// `ok runs expand parse lower reverse emit tokens_in tokens_out lines` (times in
/// nanoseconds), or `error message`.
fn measure(item: &str) -> String {
    let item: TokenStream = item.parse().expect("the case is valid tokens");
    if crate::expand::nested_too_deep(&item).is_some() {
        // The entry point refuses it before parsing, as a compile error.
        let message = errors(differentiate(TokenStream::new(), &item));
        return format!("error\t{}", message.expect("an error"));
    }
    let stage = |name: &str| eprintln!("{STAGE}{name}");
    let mut expand = Vec::new();
    let mut stages: [Vec<Duration>; 4] = Default::default();
    let mut out = TokenStream::new();
    while expand.len() < RUNS {
        // Stage by stage, then the entry point as the compiler calls it.
        stage("parse");
        let start = Instant::now();
        let function: ItemFn = syn::parse2(item.clone()).expect("the case is a function");
        let parsed = Instant::now();
        stage("lower");
        let Ok(graph) = lower::lower(&function, &Options::default()) else {
            let message = errors(differentiate(TokenStream::new(), &item));
            return format!("error\t{}", message.expect("an error"));
        };
        let lowered = Instant::now();
        stage("reverse");
        let adjoint = reverse::reverse(graph);
        let reversed = Instant::now();
        stage("emit");
        let emitted = emit::reverse_fn(&adjoint);
        let done = Instant::now();
        stages[0].push(parsed - start);
        stages[1].push(lowered - parsed);
        stages[2].push(reversed - lowered);
        stages[3].push(done - reversed);
        if done - start > SLOW {
            // Too slow to repeat: the stages stand for the entry point, which adds only parsing
            // the attribute and this `quote!`.
            expand.push(done - start);
            out = quote::quote!(#function #emitted);
            break;
        }
        stage("drop");
        drop((emitted, adjoint, function));
        stage("expand");
        let start = Instant::now();
        out = differentiate(TokenStream::new(), &item);
        expand.push(start.elapsed());
    }
    stage("print");
    let file: syn::File = syn::parse2(out.clone()).expect("the expansion parses");
    let lines = prettyplease::unparse(&file).lines().count();
    let ns = |d: Duration| d.as_nanos().to_string();
    let mut line = format!("ok\t{}\t{}", expand.len(), ns(median(expand)));
    for s in stages {
        let _ = write!(line, "\t{}", ns(median(s)));
    }
    let _ = write!(line, "\t{}\t{}\t{lines}", tokens(item), tokens(out));
    stage("done");
    line
}

/// Marks the result line of a [`probe`] on stdout.
const RESULT: &str = "COST_RESULT\t";
/// Marks the stage a [`probe`] is in on stderr.
const STAGE: &str = "COST_STAGE\t";

/// Measures the case `AUTODIFF_COST_CASE` (`shape:size`) on a stack of `AUTODIFF_COST_STACK`
/// bytes and prints the result: the child process of [`table`].
#[test]
#[ignore = "the child process of `table`"]
fn probe() {
    let Ok(case) = std::env::var("AUTODIFF_COST_CASE") else {
        println!("set AUTODIFF_COST_CASE=shape:size, as in straight:1000");
        return;
    };
    let stack = std::env::var("AUTODIFF_COST_STACK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(COMPILER_STACK);
    let (key, size) = case.split_once(':').expect("shape:size");
    let shape = Shape::from_key(key).expect("a known shape");
    let item = shape.item(size.parse().expect("a size"));
    let line = on_stack(stack, move || measure(&item));
    println!("{RESULT}{line}");
}

/// The name the test harness gives the test `name` of this module, as in `check::cost::probe`.
fn test_name(name: &str) -> String {
    let module = module_path!();
    let module = module
        .split_once("::")
        .map_or(module, |(_crate, rest)| rest);
    format!("{module}::{name}")
}

/// The outcome of one case in a child process.
enum Outcome {
    /// The fields after `ok`.
    Measured(Vec<String>),
    /// A compile error, with its message.
    Error(String),
    /// The child died in this stage; its last line of output.
    Crashed(String, String),
}

/// Runs [`probe`] on `shape` at `size` in a child process.
fn run_child(shape: Shape, size: usize, stack: usize) -> Outcome {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args([&test_name("probe"), "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env("AUTODIFF_COST_CASE", format!("{}:{size}", shape.key()))
        .env("AUTODIFF_COST_STACK", stack.to_string())
        .output()
        .expect("run the test binary (replaced by a build while the table ran?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if let Some(line) = stdout
        .lines()
        .find_map(|l| l.split_once(RESULT).map(|(_, result)| result))
    {
        let mut fields = line.split('\t').map(str::to_owned);
        return match fields.next().as_deref() {
            Some("ok") => Outcome::Measured(fields.collect()),
            _ => Outcome::Error(fields.collect::<Vec<_>>().join(" ")),
        };
    }
    let stage = stderr
        .lines()
        .rev()
        .find_map(|l| l.split_once(STAGE).map(|(_, stage)| stage))
        .unwrap_or("start")
        .to_owned();
    let last = stderr
        .lines()
        .rfind(|l| !l.starts_with(STAGE) && !l.trim().is_empty())
        .unwrap_or("")
        .to_owned();
    Outcome::Crashed(stage, format!("{last} ({})", output.status))
}

/// The cases of the table, smallest first within each shape.
fn cases() -> Vec<(Shape, usize)> {
    let sizes: [(Shape, &[usize]); 5] = [
        (Shape::Straight, &[100, 300, 1_000, 3_000, 10_000]),
        (Shape::Loop, &[100, 1_000, 3_000]),
        (Shape::Nested, &[25, 50, 100, 250]),
        (Shape::If, &[25, 50, 100, 200, 400]),
        (Shape::For, &[25, 50, 100, 200, 400]),
    ];
    sizes
        .iter()
        .flat_map(|(shape, sizes)| sizes.iter().map(|s| (*shape, *s)))
        .collect()
}

/// Nesting beyond the limit: each should be a compile error.
const BEYOND: [(Shape, usize); 5] = [
    (Shape::Nested, 257),
    (Shape::Nested, 1_000),
    (Shape::If, 500),
    (Shape::If, 1_000),
    (Shape::For, 1_000),
];

/// Prints the tables (Markdown). `AUTODIFF_COST_MAX` skips the cases larger than it.
#[test]
#[ignore = "measures time; run with --ignored --nocapture"]
fn table() {
    let max = std::env::var("AUTODIFF_COST_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("\nExpansion cost ({profile} build of the macro; median of up to {RUNS} runs; ms)\n");
    println!(
        "| case | size | runs | expand | parse | lower | reverse | emit | tokens in | tokens out | out/size | out/in | lines | 8 MiB stack |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
    for (shape, size) in cases().into_iter().filter(|c| c.1 <= max) {
        let (outcome, stack) = match run_child(shape, size, COMPILER_STACK) {
            Outcome::Crashed(stage, why) => (
                run_child(shape, size, LARGE_STACK),
                format!("crashes in {stage}: {why}"),
            ),
            outcome => (outcome, "fits".to_owned()),
        };
        let name = shape.description();
        match outcome {
            Outcome::Measured(f) => {
                let n = |i: usize| f[i].parse::<f64>().expect("a number");
                let ms = |i: usize| format!("{:.1}", n(i) / 1e6);
                #[allow(clippy::cast_precision_loss, reason = "sizes are small")]
                let size_f = size as f64;
                println!(
                    "| {name} | {size} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {} | {stack} |",
                    f[0],
                    ms(1),
                    ms(2),
                    ms(3),
                    ms(4),
                    ms(5),
                    f[6],
                    f[7],
                    n(7) / size_f,
                    n(7) / n(6),
                    f[8],
                );
            }
            Outcome::Error(m) => println!("| {name} | {size} | error: {m} |||||||||||{stack} |"),
            Outcome::Crashed(stage, why) => {
                println!(
                    "| {name} | {size} | crashes in {stage} on 1 GiB too: {why} |||||||||||{stack} |"
                );
            }
        }
    }
    println!("\nBeyond the nesting limit (8 MiB stack)\n");
    println!("| case | size | outcome |");
    println!("|---|--:|---|");
    for (shape, size) in BEYOND.into_iter().filter(|c| c.1 <= max) {
        let outcome = match run_child(shape, size, COMPILER_STACK) {
            Outcome::Error(m) => format!("compile error: {m}"),
            Outcome::Measured(_) => "expands without error".to_owned(),
            Outcome::Crashed(stage, why) => format!("crashes in {stage}: {why}"),
        };
        println!("| {} | {size} | {outcome} |", shape.description());
    }
}

/// Levels of nesting in `e`, counted as lowering counts them: every sub-expression is one, and a
/// chain of binary operators is one with its operands a level deeper.
fn depth(e: &Expr) -> usize {
    1 + match e {
        Expr::Binary(b) => {
            let mut links = vec![depth(&b.right)];
            let mut left = &*b.left;
            while let Expr::Binary(l) = left {
                links.push(depth(&l.right));
                left = &l.left;
            }
            links.push(depth(left));
            links.into_iter().max().unwrap_or(0)
        }
        Expr::Call(c) => c.args.iter().map(depth).max().unwrap_or(0),
        Expr::Paren(p) => depth(&p.expr),
        _ => 0,
    }
}

#[test]
fn nested_expr_has_the_depth_it_says() {
    for d in [1, 2, 5, 250, 256, 257] {
        let f: ItemFn = syn::parse_str(&nested_expr(d)).unwrap();
        let Some(syn::Stmt::Expr(e, None)) = f.block.stmts.last() else {
            panic!("a tail expression");
        };
        assert_eq!(depth(e), d);
    }
}

/// The limit is 256 levels: one more is an error that says so, and so is far more, without
/// exhausting the stack.
#[test]
fn expression_nesting_beyond_the_limit_is_an_error() {
    let message =
        |depth: usize| on_stack(COMPILER_STACK, move || errors(expand(&nested_expr(depth))));
    assert_eq!(message(256), None);
    for depth in [257, 1_000] {
        let m = message(depth).expect("an error");
        assert!(m.contains("nested more than 256 levels deep"), "{m}");
    }
}

/// The error of an expression nested too deeply points at the expression, not at the function.
#[test]
fn nesting_error_is_spanned_on_the_expression() {
    let item: TokenStream = nested_expr(300).parse().unwrap();
    let out = differentiate(TokenStream::new(), &item);
    let error = out
        .into_iter()
        .find(|t| matches!(t, TokenTree::Ident(i) if i == "compile_error"))
        .expect("an error")
        .span();
    // The body's first token: `f64` of the outermost call.
    let expr_start = item
        .into_iter()
        .find_map(|t| match t {
            TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Brace => {
                g.stream().into_iter().next()
            }
            _ => None,
        })
        .expect("a body")
        .span();
    assert_eq!(format!("{error:?}"), format!("{expr_start:?}"));
}

/// The output grows by as many tokens from size `n` to `2n` as from `2n` to `3n`, within 5%:
/// no expression swell. Straight-line code is measured past 256 bound values from the smallest
/// size on, where a block declares its values first (`emit::Sweep::block`), which changes the
/// tokens a statement takes by a constant.
#[test]
fn output_grows_linearly() {
    for (shape, n) in [
        (Shape::Straight, 200),
        (Shape::Loop, 48),
        (Shape::If, 25),
        (Shape::For, 25),
        (Shape::Nested, 40),
    ] {
        let counts = on_stack(COMPILER_STACK, move || {
            [n, 2 * n, 3 * n].map(|size| tokens(expand(&shape.item(size))))
        });
        #[allow(clippy::cast_precision_loss, reason = "token counts are small")]
        let [first, second] = [counts[1] - counts[0], counts[2] - counts[1]].map(|d| d as f64);
        assert!(
            (second / first - 1.0).abs() < 0.05,
            "{shape:?}: {counts:?} tokens at sizes {n}, {}, {}",
            2 * n,
            3 * n
        );
    }
}

/// Whether a `use` imports `differentiate` and nothing else.
fn imports_only_differentiate(tree: &syn::UseTree) -> bool {
    match tree {
        syn::UseTree::Path(p) => imports_only_differentiate(&p.tree),
        syn::UseTree::Name(n) => n.ident == "differentiate",
        _ => false,
    }
}

/// The items of a file or module with each `#[differentiate]` function replaced by its
/// expansion: functions, methods in their `impl` blocks, and the items of inline modules.
fn expand_items(
    list: Vec<syn::Item>,
    expand: &mut dyn FnMut(TokenStream, &syn::Ident, TokenStream) -> syn::File,
) -> Vec<syn::Item> {
    // The attribute's arguments, if `attrs` holds `#[differentiate(..)]`, which it loses.
    let take_attribute = |attrs: &mut Vec<syn::Attribute>| {
        let at = attrs.iter().position(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "differentiate")
        })?;
        Some(match attrs.remove(at).meta {
            syn::Meta::List(l) => l.tokens,
            _ => TokenStream::new(),
        })
    };
    let mut items = Vec::new();
    for item in list {
        match item {
            syn::Item::Fn(mut f) => match take_attribute(&mut f.attrs) {
                Some(args) => {
                    items.extend(expand(args, &f.sig.ident, f.to_token_stream()).items);
                }
                None => items.push(syn::Item::Fn(f)),
            },
            // Methods: each expanded in its `impl` block.
            syn::Item::Impl(mut block) => {
                let mut impl_items = Vec::new();
                for item in std::mem::take(&mut block.items) {
                    let syn::ImplItem::Fn(mut f) = item else {
                        impl_items.push(item);
                        continue;
                    };
                    let Some(args) = take_attribute(&mut f.attrs) else {
                        impl_items.push(syn::ImplItem::Fn(f));
                        continue;
                    };
                    let out = expand(args, &f.sig.ident, f.to_token_stream());
                    impl_items.extend(out.items.into_iter().map(|item| match item {
                        syn::Item::Fn(f) => syn::parse_quote!(#f),
                        other => syn::ImplItem::Verbatim(other.to_token_stream()),
                    }));
                }
                block.items = impl_items;
                items.push(syn::Item::Impl(block));
            }
            syn::Item::Mod(mut module) => {
                if let Some((brace, content)) = module.content.take() {
                    module.content = Some((brace, expand_items(content, expand)));
                }
                items.push(syn::Item::Mod(module));
            }
            syn::Item::Use(u) if imports_only_differentiate(&u.tree) => {}
            other => items.push(other),
        }
    }
    items
}

/// Rewrites the file `AUTODIFF_EXPAND_IN` into `AUTODIFF_EXPAND_OUT` with every
/// `#[differentiate(...)]` function replaced by its expansion and `use ...::differentiate;`
/// removed: the same crate as plain Rust. The backward sweep may store a zero that nothing reads
/// (`d_u = 0.0;` after the last use of `d_u`); rustc does not report that inside a macro's
/// output, so the file allows `unused_assignments` to build as quietly as the macro's crate.
#[test]
#[ignore = "a tool: needs AUTODIFF_EXPAND_IN and AUTODIFF_EXPAND_OUT"]
fn expand_file() {
    let (Ok(input), Ok(output)) = (
        std::env::var("AUTODIFF_EXPAND_IN"),
        std::env::var("AUTODIFF_EXPAND_OUT"),
    ) else {
        println!("set AUTODIFF_EXPAND_IN and AUTODIFF_EXPAND_OUT");
        return;
    };
    let source = std::fs::read_to_string(&input).expect("read AUTODIFF_EXPAND_IN");
    let (expanded, count, spent) = on_stack(COMPILER_STACK, move || {
        let file: syn::File = syn::parse_file(&source).expect("the input parses");
        let functions = crate::expand::context::functions(&source);
        // Where each function is, as the macro reads it from the file: the k-th function of a
        // name met in the file's order is the k-th the file's lexer found. (Spans carry no lines
        // here: proc-macro2's `span-locations` would make every span larger, and the stack this
        // file measures deeper.)
        let mut seen: std::collections::HashMap<String, usize> =
            std::collections::HashMap::default();
        let mut context = |name: &syn::Ident| {
            let name = name.to_string();
            let k = seen.entry(name.clone()).or_default();
            let mut lines: Vec<usize> = functions
                .iter()
                .filter(|f| f.name == name)
                .map(|f| f.line)
                .collect();
            lines.sort_unstable();
            let line = lines.get(*k).copied();
            *k += 1;
            line.map(|line| crate::expand::context::of(&functions, &name, line))
                .unwrap_or_default()
        };
        let (mut count, mut spent) = (0, Duration::ZERO);
        let mut expand = |args: TokenStream, name: &syn::Ident, tokens: TokenStream| -> syn::File {
            let start = Instant::now();
            let out = crate::expand::differentiate_in(args, &tokens, &context(name));
            spent += start.elapsed();
            count += 1;
            syn::parse2(out).expect("the expansion parses")
        };
        let items = expand_items(file.items, &mut expand);
        let mut attrs = file.attrs;
        attrs.push(syn::parse_quote!(#![allow(unused_assignments)]));
        let text = prettyplease::unparse(&syn::File {
            attrs,
            items,
            ..file
        });
        (text, count, spent)
    });
    println!(
        "expanded {count} functions in {:.1} ms",
        spent.as_secs_f64() * 1e3
    );
    std::fs::write(&output, expanded).expect("write AUTODIFF_EXPAND_OUT");
}
