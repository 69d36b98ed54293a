//! Random programs through lowering and both passes, run by the interpreter, against oracles.
//!
//! Each program runs four ways. The reference evaluator runs its source, on `f64` and on dual
//! numbers, sharing nothing with the macro: that is the oracle. The interpreter runs its primal
//! program (the graph's body before any pass), on `f64` and on dual numbers: lowering must
//! compute the source's value bit for bit and its derivatives. Then the reverse pass's `f_grad`
//! body and the forward pass's `f_jvp` body run on `f64`, and must agree with the oracle: the
//! value bit for bit, every gradient entry and the directional derivative within a tolerance.
//! Whatever the interpreter faults on (a value out of scope, a pop of an empty tape) is a
//! failure too, and so is a tape left holding values.
//!
//! `AUTODIFF_IR_PROGRAMS` sets how many programs the sweep draws (default 2,000) and
//! `AUTODIFF_IR_SEED` its seed (default 1). A failure is shrunk by proptest, then by deleting
//! statements from its source, and printed with that source; it then belongs in a `#[test]`
//! below. Failures of a kind already reported are counted by name, and the sweep goes on.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Instant;

use proc_macro2::TokenStream;
use proptest::collection::vec;
use proptest::prelude::any;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::generate::{self, Param, Program};
use super::interpret::{self, Input};
use super::oracle::Dual;
use super::reference;
use crate::graph::{Graph, NodeId, Origin};
use crate::{forward, lower, options, reverse};

/// How far a derivative may be from the oracle's, relative to the size of the terms summed.
const TOLERANCE: f64 = 1e-9;
/// Oracle derivatives beyond this are not compared: the program is near a singularity.
const LARGE: f64 = 1e10;

/// What one check of one program found, when nothing was wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Agreed,
    /// The oracle's value or derivatives are not finite, or are huge: nothing to compare.
    Skipped,
    /// A failure of a kind already reported, with its regression test below.
    KnownBug(&'static str),
}

/// A count or a seed from the environment, `_` allowed between digits.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A proptest runner with a fixed seed, no persisted failures, and `cases` cases.
pub fn runner(cases: u64, seed: u64) -> TestRunner {
    let config = Config {
        cases: u32::try_from(cases).unwrap_or(u32::MAX),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// The inputs of a program, taken in order from `numbers` (cycled if short).
fn inputs(program: &Program, numbers: &[f64]) -> Vec<Input<f64>> {
    let mut k = 0;
    let mut next = || {
        let x = if numbers.is_empty() {
            0.0
        } else {
            numbers[k % numbers.len()]
        };
        k += 1;
        x
    };
    program
        .params
        .iter()
        .map(|p| match p {
            Param::Float(_) => Input::Float(next()),
            Param::Array { len, .. } | Param::Slice { len, .. } => {
                Input::Array((0..*len).map(|_| next()).collect())
            }
            Param::Int { value, .. } => Input::Int(*value),
        })
        .collect()
}

/// The inputs as dual numbers, each float element its own direction; and how many there are.
fn dual_inputs(inputs: &[Input<f64>]) -> (Vec<Input<Dual>>, usize) {
    let n: usize = inputs
        .iter()
        .map(|i| match i {
            Input::Float(_) => 1,
            Input::Array(xs) => xs.len(),
            Input::Int(_) => 0,
        })
        .sum();
    let mut k = 0;
    let mut dual = |x: f64| {
        k += 1;
        Dual::input(x, k - 1, n)
    };
    let duals = inputs
        .iter()
        .map(|i| match i {
            Input::Float(x) => Input::Float(dual(*x)),
            Input::Array(xs) => Input::Array(xs.iter().map(|x| dual(*x)).collect()),
            Input::Int(v) => Input::Int(*v),
        })
        .collect();
    (duals, n)
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan()
}

fn close(got: f64, expected: f64, scale: f64) -> bool {
    (got - expected).abs() <= TOLERANCE * (1.0 + scale)
}

/// Checks one program at one point: `numbers` gives the inputs, then the tangent direction.
/// A panic of the pipeline is a failure like any other.
pub fn check(program: &Program, numbers: &[f64]) -> Result<Verdict, String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_unguarded(program, numbers)
    }));
    let failure = match run {
        Ok(Ok(verdict)) => return Ok(verdict),
        Ok(Err(message)) => message,
        Err(panic) => format!("the pipeline panics: {}", panic_message(&*panic)),
    };
    match known_bug(&failure) {
        Some(bug) => Ok(Verdict::KnownBug(bug)),
        None => Err(failure),
    }
}

/// The text a panic was raised with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Failures of the kinds already reported, each with its regression test below: the name of
/// the bug, so that a sweep counts them and goes on looking for others. None is open.
#[allow(clippy::unnecessary_wraps)] // the place for the next one
fn known_bug(_failure: &str) -> Option<&'static str> {
    None
}

fn check_unguarded(program: &Program, numbers: &[f64]) -> Result<Verdict, String> {
    let attr: TokenStream = program
        .attr
        .parse()
        .map_err(|e| format!("attribute does not tokenize: {e}"))?;
    let tokens: TokenStream = program
        .source
        .parse()
        .map_err(|e| format!("source does not tokenize: {e}"))?;
    let item: syn::ItemFn =
        syn::parse2(tokens.clone()).map_err(|e| format!("source does not parse: {e}"))?;
    let options = options::parse(attr.clone()).map_err(|e| format!("attribute rejected: {e}"))?;
    let graph = lower::lower(&item, &options).map_err(|e| format!("lowering rejected: {e}"))?;

    let inputs = inputs(program, numbers);
    let (duals, n) = dual_inputs(&inputs);
    // The source first: what it rejects is not a program of the subset.
    let source_value = reference::run(&item, &inputs)
        .map_err(|f| format!("the reference evaluator faults: {f}"))?;
    let source_dual = reference::run(&item, &duals)
        .map_err(|f| format!("the reference evaluator faults: {f}"))?;
    let value = interpret::primal(&graph, &inputs).map_err(|f| format!("primal faults: {f}"))?;
    let dual = interpret::primal(&graph, &duals).map_err(|f| format!("oracle faults: {f}"))?;
    if !same_bits(dual.v, value) {
        return Err(format!("oracle value {} is not the primal {value}", dual.v));
    }
    // Lowering against the reference evaluator of the source: the same value, bit for bit, and
    // the same derivatives.
    if !same_bits(value, source_value) {
        return Err(format!(
            "lowering: the primal program computes {value:e}, the function {source_value:e}"
        ));
    }
    let all = source_dual.gradient(n);
    if all.iter().all(|g| g.is_finite() && g.abs() <= LARGE) {
        for (k, (ir, src)) in dual.gradient(n).iter().zip(&all).enumerate() {
            if !close(*ir, *src, src.abs()) {
                return Err(format!(
                    "lowering: derivative {k} of the primal program is {ir:e}, of the function {src:e}"
                ));
            }
        }
    }
    // The oracle's derivatives, by parameter, with the active ones kept.
    let mut expected = Vec::new();
    let mut direction = Vec::new();
    let mut flat = 0;
    let mut dir_numbers = numbers.iter().rev().cycle();
    for (p, input) in graph.params.iter().zip(&inputs) {
        let width = match input {
            Input::Float(_) => 1,
            Input::Array(xs) => xs.len(),
            Input::Int(_) => 0,
        };
        if p.active {
            expected.extend_from_slice(&all[flat..flat + width]);
            let mut d = || *dir_numbers.next().unwrap_or(&1.0);
            direction.push(Some(match input {
                Input::Float(_) => Input::Float(d()),
                Input::Array(xs) => Input::Array(xs.iter().map(|_| d()).collect()),
                Input::Int(_) => return Err("an integer parameter is active".to_owned()),
            }));
        } else {
            direction.push(None);
        }
        flat += width;
    }
    if !value.is_finite() || expected.iter().any(|g| !g.is_finite() || g.abs() > LARGE) {
        return Ok(Verdict::Skipped);
    }

    let adjoint = reverse::reverse(graph.clone());
    contract(&graph, &adjoint.graph, adjoint.adjoint_of.keys(), "f_grad")?;
    let got = interpret::gradient(&adjoint, &inputs).map_err(|f| format!("f_grad faults: {f}"))?;
    if !same_bits(got.value, value) {
        return Err(format!(
            "f_grad's value {} is not the primal {value}",
            got.value
        ));
    }
    if got.entries.len() != expected.len() {
        return Err(format!(
            "f_grad returns {} gradient entries, expected {}",
            got.entries.len(),
            expected.len()
        ));
    }
    for (k, (g, e)) in got.entries.iter().zip(&expected).enumerate() {
        if !close(*g, *e, e.abs()) {
            return Err(format!(
                "gradient entry {k}: f_grad gives {g:e}, the oracle {e:e}\n  f_grad: {:?}\n  oracle: {expected:?}",
                got.entries
            ));
        }
    }
    if got.left_on_tapes > 0 {
        return Err(format!(
            "f_grad leaves {} values on its tapes",
            got.left_on_tapes
        ));
    }

    let flat_direction: Vec<f64> = direction
        .iter()
        .flatten()
        .flat_map(|d| match d {
            Input::Float(x) => vec![*x],
            Input::Array(xs) => xs.clone(),
            Input::Int(_) => vec![],
        })
        .collect();
    let want: f64 = expected
        .iter()
        .zip(&flat_direction)
        .map(|(g, d)| g * d)
        .sum();
    let scale: f64 = expected
        .iter()
        .zip(&flat_direction)
        .map(|(g, d)| (g * d).abs())
        .sum();
    let tangent = forward::forward(graph.clone());
    contract(&graph, &tangent.graph, tangent.tangent_of.keys(), "f_jvp")?;
    let (tvalue, derivative) = interpret::tangent(&tangent, &inputs, &direction)
        .map_err(|f| format!("f_jvp faults: {f}"))?;
    if !same_bits(tvalue, value) {
        return Err(format!("f_jvp's value {tvalue} is not the primal {value}"));
    }
    if !close(derivative, want, scale) {
        return Err(format!(
            "f_jvp gives {derivative:e} along {flat_direction:?}, the oracle {want:e}"
        ));
    }

    Ok(Verdict::Agreed)
}

/// The contract between a pass and the graph it returns: the lowered nodes stay primal, the
/// primal nodes come before the derivative ones, and every node with an adjoint or a tangent is
/// an active primal node.
fn contract<'a>(
    lowered: &Graph,
    result: &Graph,
    mut derived: impl Iterator<Item = &'a NodeId>,
    pass: &str,
) -> Result<(), String> {
    if let Some(n) = (0..lowered.nodes.len()).find(|&i| !result.is_primal(NodeId(i))) {
        return Err(format!("{pass}: lowered node n{n} is not primal"));
    }
    let primal = result
        .nodes
        .iter()
        .take_while(|n| n.origin == Origin::Primal);
    if let Some(n) = (primal.count()..result.nodes.len()).find(|&i| result.is_primal(NodeId(i))) {
        return Err(format!("{pass}: primal node n{n} after derivative nodes"));
    }
    if let Some(n) = derived.find(|&&n| !result.is_primal(n) || !result.node(n).active) {
        return Err(format!(
            "{pass}: n{} has a derivative but is no active primal node",
            n.0
        ));
    }
    Ok(())
}

/// The failure report: the program, the point, and what went wrong.
fn report(program: &Program, numbers: &[f64], message: &str) -> String {
    let attr = if program.attr.is_empty() {
        String::new()
    } else {
        format!("({})", program.attr)
    };
    format!(
        "{message}\n#[differentiate{attr}]\n{}inputs: {:?}",
        program.source,
        inputs(program, numbers)
    )
}

/// What kind of failure a message reports: its text up to the first `:`.
fn failure_kind(message: &str) -> &str {
    message.split(':').next().unwrap_or(message)
}

/// Shrinks a failing program's source further than the stream of choices can: deletes
/// statements and blocks, and replaces parenthesized or braced groups by `x0`, as long as the
/// same kind of failure remains.
fn minimize(program: &Program, numbers: &[f64], failure: &str) -> (Program, String) {
    let kind = failure_kind(failure).to_owned();
    let mut best = (program.clone(), failure.to_owned());
    let mut budget = 5_000;
    'search: loop {
        let lines: Vec<String> = best.0.source.lines().map(str::to_owned).collect();
        let mut candidates = Vec::new();
        // Statements and whole blocks, between the header and the last two lines.
        for i in 1..lines.len().saturating_sub(2) {
            if lines[i].trim_start().starts_with('}') {
                continue;
            }
            let mut depth = 0i64;
            for (j, line) in lines.iter().enumerate().skip(i) {
                depth += net_braces(line);
                if depth <= 0 {
                    let mut c = lines.clone();
                    c.drain(i..=j);
                    candidates.push(c);
                    break;
                }
            }
        }
        // Groups inside a line.
        for (i, line) in lines.iter().enumerate().skip(1) {
            for (start, end) in groups(line) {
                // Not the parentheses of a call.
                if line[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let mut c = lines.clone();
                c[i] = format!("{}x0{}", &line[..start], &line[end + 1..]);
                candidates.push(c);
            }
        }
        for c in candidates {
            if budget == 0 {
                break 'search;
            }
            budget -= 1;
            let candidate = Program {
                source: c.join("\n") + "\n",
                ..best.0.clone()
            };
            if let Err(e) = check(&candidate, numbers)
                && failure_kind(&e) == kind
            {
                best = (candidate, e);
                continue 'search;
            }
        }
        break;
    }
    best
}

fn net_braces(line: &str) -> i64 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The spans of the balanced `(..)` and `{..}` groups of a line, outermost first.
fn groups(line: &str) -> Vec<(usize, usize)> {
    let mut open = Vec::new();
    let mut out = Vec::new();
    for (k, c) in line.char_indices() {
        match c {
            '(' | '{' => open.push(k),
            ')' | '}' => {
                if let Some(start) = open.pop() {
                    out.push((start, k));
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|&(s, e)| (s, std::cmp::Reverse(e)));
    out
}

/// The parameters of a function's signature, as the checks pass them: `f64` a float, `[f64; N]`
/// an array, `&[f64]` a slice of 3, an integer the value 2.
fn params_of(item: &syn::ItemFn) -> Vec<Param> {
    item.sig
        .inputs
        .iter()
        .filter_map(|arg| {
            let syn::FnArg::Typed(t) = arg else {
                return None;
            };
            let syn::Pat::Ident(p) = &*t.pat else {
                return None;
            };
            let name = p.ident.to_string();
            let ty = quote::ToTokens::to_token_stream(&t.ty).to_string();
            let array_len = ty
                .split(';')
                .nth(1)
                .and_then(|n| n.trim().trim_end_matches(']').trim().parse().ok());
            Some(match (ty.as_str(), array_len) {
                ("f64", _) => Param::Float(name),
                (_, Some(len)) => Param::Array { name, len },
                (_, None) if ty.contains('[') => Param::Slice { name, len: 3 },
                _ => Param::Int { name, value: 2 },
            })
        })
        .collect()
}

/// Checks `#[differentiate(attr)] source` at each point: what a regression test runs.
#[track_caller]
fn regression(attr: &str, source: &str, points: &[&[f64]]) {
    let item: syn::ItemFn = syn::parse_str(source).expect("a function");
    let program = Program {
        attr: attr.to_owned(),
        source: source.to_owned(),
        params: params_of(&item),
    };
    for numbers in points {
        if let Err(e) = check_unguarded(&program, numbers) {
            panic!("{}", report(&program, numbers, &e));
        }
    }
}

#[test]
fn random_programs_agree_with_the_oracle() {
    let cases = env_number("AUTODIFF_IR_PROGRAMS", 2_000);
    let seed = env_number("AUTODIFF_IR_SEED", 1);
    let agreed = Cell::new(0u64);
    let skipped = Cell::new(0u64);
    let known = RefCell::new(BTreeMap::<&str, u64>::new());
    let start = Instant::now();
    let strategy = (vec(any::<u32>(), 0..400), vec(-2.0f64..2.0, 24));
    let result = runner(cases, seed).run(&strategy, |(choices, numbers)| {
        let program = generate::program(&choices, false);
        match check(&program, &numbers) {
            Ok(Verdict::Agreed) => agreed.set(agreed.get() + 1),
            Ok(Verdict::Skipped) => skipped.set(skipped.get() + 1),
            Ok(Verdict::KnownBug(what)) => {
                *known.borrow_mut().entry(what).or_insert(0) += 1;
            }
            Err(e) => return Err(TestCaseError::fail(e)),
        }
        Ok(())
    });
    eprintln!(
        "random programs: {} agreed, {} skipped, known bugs {:?}, seed {seed}, {:.1?}",
        agreed.get(),
        skipped.get(),
        known.borrow(),
        start.elapsed()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(message, (choices, numbers))) => {
            let program = generate::program(&choices, false);
            let (program, message) = minimize(&program, &numbers, message.message());
            panic!(
                "a random program fails (seed {seed}):\n{}",
                report(&program, &numbers, &message)
            );
        }
        Err(e) => panic!("{e}"),
    }
    // Most programs must be compared, not skipped.
    assert!(
        skipped.get() * 10 <= agreed.get() + skipped.get(),
        "too many programs skipped"
    );
}

// Regression tests: the programs the sweep found, shrunk.

/// After a statement that may `break` (a loop), the rest of the body is lowered under a guard
/// and the value the body ends with is replaced by 0: `f_grad` returns `(0.0, 0.0)`.
#[test]
fn value_after_a_loop_with_break() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            let mut k = 0;
            loop {
                k += 1;
                if k > 1 {
                    break;
                }
            }
            let y = x * 2.0;
            y
        }",
        &[&[0.5], &[-1.5]],
    );
}

/// A `mut` parameter assigned in a branch: the name once stood for the value computed inside
/// the branch, out of scope after it.
#[test]
fn mut_parameter_assigned_in_a_branch() {
    regression(
        "",
        "fn f(x: f64, mut y: f64) -> f64 {
            if x > 0.0 {
                y = x * 2.0;
            }
            y
        }",
        &[&[0.5, 0.3], &[-0.5, 0.3]],
    );
}

/// A parameter outside `wrt` whose elements are stored active values: its derivative array
/// `d_a` is used by both passes and declared by neither.
#[test]
fn inactive_mut_array_parameter_stored_an_active_value() {
    regression(
        "wrt(x)",
        "fn f(x: f64, mut a: [f64; 2]) -> f64 {
            a[0] = x * x;
            a[0] + a[1]
        }",
        &[&[0.5, 1.0, 2.0]],
    );
}

/// `[value; n]` with an active value: neither pass differentiates through the fill, so the
/// gradient is 0 instead of 6.
#[test]
fn local_array_filled_with_an_active_value() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            let h = [x * 3.0; 2];
            h[0] + h[1]
        }",
        &[&[0.5]],
    );
}

/// A store nothing reads sent its zero adjoint through the local derivative of what was stored:
/// `0 · sqrt'(0)` is NaN, and so was the gradient (1). An array whose values never reach the
/// result is now inactive, and its stores are not reversed.
#[test]
fn zero_adjoint_through_a_dead_store() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            let mut h = [0.0; 1];
            h[0] = (x - x).sqrt();
            x
        }",
        &[&[0.5]],
    );
}

/// The backward sweep of a loop whose bound is `h.len()`, for an array declared inside a
/// branch, once read `h` where it is not in scope; emission now writes the declared length.
#[test]
fn array_length_as_the_bound_of_a_loop_in_a_branch() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            let mut s = x;
            if x > 0.0 {
                let h = [0.0; 3];
                for _ in 0..h.len() {
                    s = s * x;
                }
            }
            s
        }",
        &[&[0.5], &[-0.5]],
    );
}

/// The tangent variable of an `if` is a run-time 0 where its value is locally constant
/// (`x.round()`), and `0 · ∂atan2/∂y` at the origin was NaN: `f_jvp` gave NaN where the
/// derivative is 1 (`f_grad` gets 1). At the origin `∂atan2/∂y = x / (x² + y²)` is `0 · ∞ = 0`.
#[test]
fn zero_tangent_through_a_singular_atan2() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            let y = if x < 5.0 { x.round() } else { x };
            y.atan2(0.0) + x
        }",
        &[&[0.3]],
    );
}

/// The backward code of the branch uses the recomputed `y * y + 0.5` before the `let` of the
/// `y * y` it adds to (the `atan2` rule's `y * y` is the same value): `f_grad` does not compile.
#[test]
fn recomputed_value_in_a_reversed_branch() {
    regression(
        "",
        "fn f(x: f64, y: f64) -> f64 {
            if x > y { y.atan2((y * y + 0.5).ln()) } else { x }
        }",
        &[&[1.5, 0.3]],
    );
}

/// A `return` inside a block statement does not stop the statements after it in the block: a
/// later `return` overwrites the value (`f(0.5)` is 0.5, the primal program computes 1.0).
#[test]
fn return_inside_a_block_statement() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            {
                if x > 0.0 {
                    return x;
                }
                if x > -1.0 {
                    return 2.0 * x;
                }
            }
            3.0 * x
        }",
        &[&[0.5], &[-0.5], &[-1.5]],
    );
}

/// `x = s` where `s` was read from `x` before `x` changed: the forward pass takes the tangent
/// assignment `d_x = d_s` for `d_x = d_x` and leaves it out, so `f_jvp` keeps the tangent of
/// `x * y` (0.7 at `y = 0.7` along 0.5) where the derivative of `f(y) = y` is 1 (0.5).
#[test]
fn assignment_of_an_earlier_read() {
    regression(
        "",
        "fn f(y: f64) -> f64 {
            let mut x = y;
            if y > 10.0 {
                x = 0.0;
            }
            let s = x;
            if y > -10.0 {
                x = x * y;
                x = s;
            }
            x
        }",
        &[&[0.7, 0.5]],
    );
}

/// `[x; 2]` with `x` a parameter: the fill was taken for a constant, so the gradient was 0
/// instead of 1. A name that is not a constant is now stored into each element, like a
/// computed fill value (`[x * 3.0; 2]`).
#[test]
fn local_array_filled_with_a_parameter() {
    regression(
        "",
        "fn f(x: f64) -> f64 {
            let h = [x; 2];
            h[1]
        }",
        &[&[0.5]],
    );
}

/// A loop with nothing to reverse before the backward code of what follows it: that code was
/// pruned of the values only later code used, and the gradient of `x2` was lost (0 instead of
/// about 1.16).
#[test]
fn loop_with_nothing_to_reverse_before_the_tail() {
    regression(
        "wrt(x2)",
        "fn f(x0: f64, x1: f64, x2: f64) -> f64 {
            let mut h1 = [0.0; 2];
            let mut s3: f64 = 0.0;
            for i4 in 0..1 {
                s3 += x0;
            }
            s3 -= (x2 * x2 + 0.5).powf(x0.sin() * 1.5);
            (-(if x0.ln_1p() >= 2.0 { x0.powi(-1) } else { h1[0] - h1[1] })) + x1 + s3
        }",
        &[&[
            -0.537_405_956_245_703_2,
            -1.989_478_163_593_562_5,
            0.294_877_044_323_739_35,
        ]],
    );
}

/// The backward code of a fused loop needs `sigmoid(x1)` (the derivative of `softplus`), which
/// the function computes only after the loop; sharing it put a use before its definition. It is
/// now computed before the loop.
#[test]
fn fused_loop_sharing_a_value_computed_after_it() {
    regression(
        "",
        "fn f(x0: f64, x1: f64, x2: f64) -> f64 {
            for i5 in 0..1 {
                let mut s6: f64 = softplus(x1);
                for i7 in 0..1 {
                    s6 += x0 % x0;
                }
            }
            { let t9 = x0; t9 + (f64::atan2(1.0, x2) + sigmoid(x1)) }
        }",
        &[&[
            1.123_641_845_403_308_8,
            0.229_033_849_744_527,
            0.107_396_210_088_992_65,
        ]],
    );
}
