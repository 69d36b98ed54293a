//! Pairwise combinations of what the body may contain (SPEC, "The body: what it may contain")
//! with each mode (`reverse`, `forward`, `hessian`, `graph`, and all of them together), each
//! float type (`f64`, `f32`, generic `T: Float`), each parameter kind (scalar, `[f64; N]`,
//! `&[f64; N]`, `&[f64]`, a struct named in `wrt`, `&self`) and each output kind (float,
//! `[f64; M]`, `(f64, [f64; 2])`), and the numerical conventions (kinks, `0 · ∞ = 0`, `inf`
//! where the derivative is infinite) in every mode. Every derivative is checked against
//! fourth-order central differences of the original function (nested for Hessians), or, for
//! `f32` functions, of the same formula written by hand in `f64`, or against closed forms.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::needless_range_loop,
    clippy::type_complexity,
    clippy::let_and_return,
    // `match` on a `bool` is one of the constructs under test.
    clippy::match_bool
)]

use autodiff::num_traits::Float;
use autodiff::{differentiate, relu, sigmoid, softplus};

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{direction, dot, fd_gradient, fd_jacobian};

// ---------------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------------

/// Asserts `got` is `want` to `tol`, relative to each entry and to a hundredth of the largest.
#[track_caller]
fn near(what: &str, got: &[f64], want: &[f64], tol: f64) {
    near_floor(what, got, want, tol, 1e-12);
}

/// As [`near`], with an absolute floor (for second differences, whose rounding is about `1e-8`).
#[track_caller]
fn near_floor(what: &str, got: &[f64], want: &[f64], tol: f64, floor: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let bound = tol * (w.abs() + 1e-2 * scale) + floor;
        assert!((g - w).abs() <= bound, "{what}[{i}]: got {g:e}, want {w:e}");
    }
}

/// The row-major Hessian of `f` by nested central differences.
fn fd_hess(f: &dyn Fn(&[f64]) -> f64, p: &[f64]) -> Vec<f64> {
    fd_jacobian(|q| fd_gradient(f, q), p)
        .into_iter()
        .flatten()
        .collect()
}

fn mat_vec(m: &[f64], v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n).map(|i| dot(&m[i * n..(i + 1) * n], v)).collect()
}

fn flat<const N: usize, const M: usize>(h: &[[f64; N]; M]) -> Vec<f64> {
    h.iter().flatten().copied().collect()
}

fn flat32<const N: usize, const M: usize>(h: &[[f32; N]; M]) -> Vec<f64> {
    h.iter().flatten().map(|&v| f64::from(v)).collect()
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| f64::from(v)).collect()
}

fn narrow(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&v| v as f32).collect()
}

/// Every mode of a function with one float output, flattened to `f64` vectors: `(value, ...)`.
struct Modes<'a> {
    /// The function (or, for `f32`, the same formula in `f64`): the oracle's source.
    f: Box<dyn Fn(&[f64]) -> f64 + 'a>,
    grad: Box<dyn Fn(&[f64]) -> (f64, Vec<f64>) + 'a>,
    jvp: Box<dyn Fn(&[f64], &[f64]) -> (f64, f64) + 'a>,
    hessian: Box<dyn Fn(&[f64]) -> (f64, Vec<f64>, Vec<f64>) + 'a>,
    hvp: Box<dyn Fn(&[f64], &[f64]) -> (f64, Vec<f64>, Vec<f64>) + 'a>,
    graph: Box<dyn Fn(&[f64]) -> (f64, Vec<f64>) + 'a>,
}

/// Checks every mode at `p` against differences of `m.f`, to `tol` (about `1e-6` for `f64`
/// and `1e-3` for `f32`).
#[track_caller]
fn check_modes(what: &str, m: &Modes, p: &[f64], tol: f64) {
    let f0 = (m.f)(p);
    let g = fd_gradient(&*m.f, p);
    let h = fd_hess(&*m.f, p);
    let v = direction(p.len());
    let vt = tol.min(1e-6);
    let (val, gr) = (m.grad)(p);
    near(&format!("{what} value"), &[val], &[f0], vt);
    near(&format!("{what} grad"), &gr, &g, tol);
    let (val, t) = (m.jvp)(p, &v);
    near(&format!("{what} jvp value"), &[val], &[f0], vt);
    near(&format!("{what} jvp"), &[t], &[dot(&g, &v)], tol);
    let (val, hg, hess) = (m.hessian)(p);
    near(&format!("{what} hessian value"), &[val], &[f0], vt);
    near(&format!("{what} hessian grad"), &hg, &g, tol);
    near_floor(&format!("{what} hessian"), &hess, &h, 10.0 * tol, 1e-6);
    let (val, vg, hv) = (m.hvp)(p, &v);
    near(&format!("{what} hvp value"), &[val], &[f0], vt);
    near(&format!("{what} hvp grad"), &vg, &g, tol);
    near_floor(
        &format!("{what} hvp"),
        &hv,
        &mat_vec(&h, &v),
        10.0 * tol,
        1e-6,
    );
    let (val, adj) = (m.graph)(p);
    near(&format!("{what} graph value"), &[val], &[f0], vt);
    near(&format!("{what} graph adjoints"), &adj, &g, tol);
}

/// Checks every mode at `p` against a gradient and a row-major Hessian in closed form, along
/// the direction `v`, to `tol`.
#[track_caller]
fn check_closed(what: &str, m: &Modes, p: &[f64], grad: &[f64], hess: &[f64], tol: f64) {
    let f0 = (m.f)(p);
    let v = direction(p.len());
    let (val, gr) = (m.grad)(p);
    near(&format!("{what} value"), &[val], &[f0], tol);
    near(&format!("{what} grad"), &gr, grad, tol);
    let (val, t) = (m.jvp)(p, &v);
    near(&format!("{what} jvp value"), &[val], &[f0], tol);
    near(&format!("{what} jvp"), &[t], &[dot(grad, &v)], tol);
    let (_, hg, h) = (m.hessian)(p);
    near(&format!("{what} hessian grad"), &hg, grad, tol);
    near(&format!("{what} hessian"), &h, hess, tol);
    let (_, vg, hv) = (m.hvp)(p, &v);
    near(&format!("{what} hvp grad"), &vg, grad, tol);
    near(&format!("{what} hvp"), &hv, &mat_vec(hess, &v), tol);
    let (val, adj) = (m.graph)(p);
    near(&format!("{what} graph value"), &[val], &[f0], tol);
    near(&format!("{what} graph adjoints"), &adj, grad, tol);
}

/// The adjoints of the named nodes, and the output's value. An element of an array parameter
/// that this evaluation never reads (past a `break`) has no node: its adjoint is 0.
fn adjoints(g: &autodiff::Graph, out: &str, names: &[&str]) -> (f64, Vec<f64>) {
    let value = g.node(out).expect("output node").value();
    let adj = names
        .iter()
        .map(|n| match g.node(n) {
            Some(node) => node.adjoint(),
            None if n.ends_with(']') => 0.0,
            None => panic!("node {n}\n{g}"),
        })
        .collect();
    (value, adj)
}

fn with(mut v: Vec<f64>, last: f64) -> Vec<f64> {
    v.push(last);
    v
}

/// A parameter read from the flat `f64` vector the oracles work on; `Wide` is its `f64` form,
/// which the oracle takes.
trait In: Sized {
    type Wide: In;
    fn take(p: &[f64], at: &mut usize) -> Self;
    /// The names of its nodes in `f_graph`.
    fn names(name: &str, out: &mut Vec<String>);
}

impl In for f64 {
    type Wide = f64;
    fn take(p: &[f64], at: &mut usize) -> Self {
        *at += 1;
        p[*at - 1]
    }
    fn names(name: &str, out: &mut Vec<String>) {
        out.push(name.to_owned());
    }
}

impl In for f32 {
    type Wide = f64;
    fn take(p: &[f64], at: &mut usize) -> Self {
        f64::take(p, at) as f32
    }
    fn names(name: &str, out: &mut Vec<String>) {
        out.push(name.to_owned());
    }
}

impl<E: In, const N: usize> In for [E; N] {
    type Wide = [E::Wide; N];
    fn take(p: &[f64], at: &mut usize) -> Self {
        std::array::from_fn(|_| E::take(p, at))
    }
    fn names(name: &str, out: &mut Vec<String>) {
        out.extend((0..N).map(|i| format!("{name}[{i}]")));
    }
}

/// A result flattened to `f64`s: floats, arrays, `Vec`s, nested arrays and tuples of them.
trait Out {
    fn put(&self, out: &mut Vec<f64>);
}

impl Out for f64 {
    fn put(&self, out: &mut Vec<f64>) {
        out.push(*self);
    }
}

impl Out for f32 {
    fn put(&self, out: &mut Vec<f64>) {
        out.push(f64::from(*self));
    }
}

impl<E: Out, const N: usize> Out for [E; N] {
    fn put(&self, out: &mut Vec<f64>) {
        for e in self {
            e.put(out);
        }
    }
}

impl<E: Out> Out for Vec<E> {
    fn put(&self, out: &mut Vec<f64>) {
        for e in self {
            e.put(out);
        }
    }
}

macro_rules! out_tuple {
    ($($t:ident $i:tt),*) => {
        impl<$($t: Out),*> Out for ($($t,)*) {
            fn put(&self, out: &mut Vec<f64>) {
                $(self.$i.put(out);)*
            }
        }
    };
}
out_tuple!(A 0, B 1);
out_tuple!(A 0, B 1, C 2);
out_tuple!(A 0, B 1, C 2, D 3);
out_tuple!(A 0, B 1, C 2, D 3, E 4);
out_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
out_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);

fn flat_of(r: &impl Out) -> Vec<f64> {
    let mut out = Vec::new();
    r.put(&mut out);
    out
}

/// `(value, rest)` of a flattened `(value, entries...)`, the rest split after `n` entries.
fn split(r: &[f64], n: usize) -> (f64, Vec<f64>, Vec<f64>) {
    (r[0], r[1..=n].to_vec(), r[n + 1..].to_vec())
}

/// An argument as the function takes it: by value, by reference, or as a slice.
macro_rules! pass {
    (val $e:expr) => {
        $e
    };
    (ref $e:expr) => {
        &$e
    };
    (slice $e:expr) => {
        &$e[..]
    };
}

/// Every mode of a function with one float output, over the flat vector of its float
/// parameters: `modes!([oracle, f_grad, f_jvp, f_hessian, f_hvp, f_graph, "f"], (val x: f32,
/// slice y: [f32; 3]; k))`, each parameter passed `val`ue, `ref` or `slice` and typed as the
/// flat vector's entries are read into it (a slice as an array), then constants passed last.
/// The oracle takes the same parameters in `f64`.
macro_rules! modes {
    (
        [$f:expr, $grad:expr, $jvp:expr, $hessian:expr, $hvp:expr, $graph:expr, $out:literal],
        ($($m:ident $p:ident: $t:ty),* $(; $($c:expr),*)?)
    ) => {{
        #[allow(unused_mut, unused_variables)]
        let count = {
            let mut names: Vec<String> = Vec::new();
            $(<$t as In>::names(stringify!($p), &mut names);)*
            names
        };
        let n = count.len();
        Modes {
            f: Box::new(move |q: &[f64]| {
                let mut at = 0;
                $(let $p = <<$t as In>::Wide as In>::take(q, &mut at);)*
                flat_of(&$f($(pass!($m $p),)* $($($c),*)?))[0]
            }),
            grad: Box::new(move |q: &[f64]| {
                let mut at = 0;
                $(let $p = <$t as In>::take(q, &mut at);)*
                let (v, g, _) = split(&flat_of(&$grad($(pass!($m $p),)* $($($c),*)?)), n);
                (v, g)
            }),
            jvp: Box::new(move |q: &[f64], d: &[f64]| {
                let (mut at, mut dt) = (0, 0);
                $(let $p = (<$t as In>::take(q, &mut at), <$t as In>::take(d, &mut dt));)*
                let r = flat_of(&$jvp($(pass!($m $p.0), pass!($m $p.1),)* $($($c),*)?));
                (r[0], r[1])
            }),
            hessian: Box::new(move |q: &[f64]| {
                let mut at = 0;
                $(let $p = <$t as In>::take(q, &mut at);)*
                split(&flat_of(&$hessian($(pass!($m $p),)* $($($c),*)?)), n)
            }),
            hvp: Box::new(move |q: &[f64], d: &[f64]| {
                let (mut at, mut dt) = (0, 0);
                $(let $p = (<$t as In>::take(q, &mut at), <$t as In>::take(d, &mut dt));)*
                split(&flat_of(&$hvp($(pass!($m $p.0), pass!($m $p.1),)* $($($c),*)?)), n)
            }),
            graph: Box::new(move |q: &[f64]| {
                let mut at = 0;
                $(let $p = <$t as In>::take(q, &mut at);)*
                let names: Vec<&str> = count.iter().map(String::as_str).collect();
                adjoints(&$graph($(pass!($m $p),)* $($($c),*)?), $out, &names)
            }),
        }
    }};
}

// ---------------------------------------------------------------------------------------------
// Every float method in its path form `f64::m(x)` / `f32::m(x)`, and in method form on a
// generic `T`, in every mode
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn paths64(x: f64, y: f64) -> f64 {
    let a = f64::exp(x) + f64::exp2(x) + f64::exp_m1(x) + f64::ln(x + 2.0) + f64::ln_1p(x);
    let b = f64::log(x + 2.0, 3.0) + f64::log2(x + 2.0) + f64::log10(x + 2.0) + f64::sqrt(x + 2.0);
    let c = f64::cbrt(x) + f64::powi(x, 3) + f64::powf(y, x) + f64::sin(x) + f64::cos(y);
    let d = f64::asin(x * 0.5) + f64::acos(y * 0.3) + f64::atan(x) + f64::atan2(y, x);
    let e = f64::cosh(y) + f64::tanh(x) + f64::asinh(x) + f64::acosh(y + 2.0) + f64::sinh(x);
    let g = f64::abs(x) + f64::signum(x) + f64::max(x, y) + f64::min(x, y) + f64::tan(x);
    let h = f64::hypot(x, y) + f64::recip(y) + f64::mul_add(x, y, x) + f64::floor(x);
    let i = f64::round(x) + f64::trunc(y) + f64::fract(x) + f64::to_radians(y);
    let j = f64::to_degrees(x) * 0.01 + f64::clamp(x, -0.2, y) + f64::ceil(y) + f64::atanh(x);
    a * 0.1 + b + c * d + e + g * h + i * j
}

#[differentiate(reverse, forward, hessian, graph)]
fn paths32(x: f32, y: f32) -> f32 {
    let a = f32::exp(x) + f32::exp2(x) + f32::exp_m1(x) + f32::ln(x + 2.0) + f32::ln_1p(x);
    let b = f32::log(x + 2.0, 3.0) + f32::log2(x + 2.0) + f32::log10(x + 2.0) + f32::sqrt(x + 2.0);
    let c = f32::cbrt(x) + f32::powi(x, 3) + f32::powf(y, x) + f32::sin(x) + f32::cos(y);
    let d = f32::asin(x * 0.5) + f32::acos(y * 0.3) + f32::atan(x) + f32::atan2(y, x);
    let e = f32::cosh(y) + f32::tanh(x) + f32::asinh(x) + f32::acosh(y + 2.0) + f32::sinh(x);
    let g = f32::abs(x) + f32::signum(x) + f32::max(x, y) + f32::min(x, y) + f32::tan(x);
    let h = f32::hypot(x, y) + f32::recip(y) + f32::mul_add(x, y, x) + f32::floor(x);
    let i = f32::round(x) + f32::trunc(y) + f32::fract(x) + f32::to_radians(y);
    let j = f32::to_degrees(x) * 0.01 + f32::clamp(x, -0.2, y) + f32::ceil(y) + f32::atanh(x);
    a * 0.1 + b + c * d + e + g * h + i * j
}

#[differentiate(reverse, forward, hessian, graph)]
fn methods_t<T: Float>(x: T, y: T) -> T {
    let two = T::one() + T::one();
    let a = x.exp() + x.exp2() + x.exp_m1() + (x + two).ln() + x.ln_1p() + (x + two).log(two);
    let b = (x + two).log2() + (x + two).log10() + (x + two).sqrt() + x.cbrt() + x.powi(3);
    let c = y.powf(x) + x.sin() + y.cos() + x.tan() + (x / two).asin() + (y / two).acos();
    let d = x.atan() + y.atan2(x) + x.sinh() + y.cosh() + x.tanh() + x.asinh();
    let e = (y + two).acosh() + (x / two).atanh() + x.abs() + x.signum() + x.max(y) + x.min(y);
    let f = x.hypot(y) + y.recip() + x.mul_add(y, x) + x.floor() + y.ceil() + x.round();
    let g = y.trunc() + x.fract() + y.to_radians() + x.to_degrees() / (two * two * two);
    a + b * c + d * e + f * g
}

#[test]
fn path_forms_of_every_method_in_every_mode_f64() {
    let m = modes!(
        [
            paths64,
            paths64_grad,
            paths64_jvp,
            paths64_hessian,
            paths64_hvp,
            paths64_graph,
            "paths64"
        ],
        (val x: f64, val y: f64)
    );
    check_modes("paths64", &m, &[0.3, 0.7], 1e-6);
    check_modes("paths64", &m, &[-0.4, 1.3], 1e-6);
}

#[test]
fn generic_methods_in_every_mode_at_f64() {
    let m = modes!(
        [
            methods_t::<f64>,
            methods_t_grad::<f64>,
            methods_t_jvp::<f64>,
            methods_t_hessian::<f64>,
            methods_t_hvp::<f64>,
            methods_t_graph::<f64>,
            "methods_t"
        ],
        (val x: f64, val y: f64)
    );
    check_modes("methods_t", &m, &[0.3, 0.7], 1e-6);
    check_modes("methods_t", &m, &[-0.6, 1.1], 1e-6);
}

#[test]
fn path_forms_of_every_method_in_every_mode_f32() {
    let m = modes!(
        [
            paths64,
            paths32_grad,
            paths32_jvp,
            paths32_hessian,
            paths32_hvp,
            paths32_graph,
            "paths32"
        ],
        (val x: f32, val y: f32)
    );
    // The points are exact in f32.
    check_modes("paths32", &m, &[0.25, 0.75], 2e-4);
    check_modes("paths32", &m, &[-0.375, 1.25], 2e-4);
}

#[test]
fn generic_methods_in_every_mode_at_f32() {
    let m = modes!(
        [
            methods_t::<f64>,
            methods_t_grad::<f32>,
            methods_t_jvp::<f32>,
            methods_t_hessian::<f32>,
            methods_t_hvp::<f32>,
            methods_t_graph::<f32>,
            "methods_t"
        ],
        (val x: f32, val y: f32)
    );
    check_modes("methods_t f32", &m, &[0.25, 0.75], 2e-4);
}

// ---------------------------------------------------------------------------------------------
// A generic iterator chain ending in `fold`, `sum` and `product` (through `zip`, `skip`, `take`,
// `rev`, `step_by`, `enumerate`, `map`) over a `[T; 4]`, every mode, at f64 and f32
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn fold_chain<T: Float + std::iter::Sum + std::iter::Product>(x: [T; 4], c: T) -> T {
    let s = x
        .iter()
        .zip(x.iter().skip(1))
        .map(|(a, b)| *a * *b)
        .fold(c, |acc, v| acc * c + v);
    let t: T = x.iter().take(3).rev().map(|&v| (v * c).sin()).sum();
    let p: T = x.iter().step_by(2).map(|v| v.exp()).product();
    let q = x.iter().enumerate().fold(T::zero(), |acc, (i, &v)| {
        acc + v * v * T::from(i + 1).unwrap()
    });
    s + t * p + q
}

#[test]
fn generic_iterator_chain_in_every_mode() {
    let m = modes!(
        [
            fold_chain::<f64>,
            fold_chain_grad::<f64>,
            fold_chain_jvp::<f64>,
            fold_chain_hessian::<f64>,
            fold_chain_hvp::<f64>,
            fold_chain_graph::<f64>,
            "fold_chain"
        ],
        (val x: [f64; 4], val c: f64)
    );
    check_modes("fold_chain", &m, &[0.3, -0.7, 1.1, 0.4, 0.8], 1e-6);
    let m = modes!(
        [
            fold_chain::<f64>,
            fold_chain_grad::<f32>,
            fold_chain_jvp::<f32>,
            fold_chain_hessian::<f32>,
            fold_chain_hvp::<f32>,
            fold_chain_graph::<f32>,
            "fold_chain"
        ],
        (val x: [f32; 4], val c: f32)
    );
    check_modes(
        "fold_chain f32",
        &m,
        &[0.25, -0.75, 1.125, 0.375, 0.875],
        2e-4,
    );
}

// ---------------------------------------------------------------------------------------------
// `match` on integers with guards, bindings and ranges, and on a `bool`, in `f32`, every mode
// (the graph in particular)
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn match_guard32(x: f32, y: f32, k: i32) -> f32 {
    let a = match k {
        0 => x * y,
        j if j < 0 => (x - y).powi(2),
        1..=3 => x.sin() * y,
        _ => x.hypot(y),
    };
    let b = match x > y {
        true => x,
        false => y,
    };
    let c = match k {
        m @ 4..=9 => x * m as f32,
        _ => y,
    };
    let r = a + b * c;
    r
}

fn match_guard64(x: f64, y: f64, k: i32) -> f64 {
    let a = match k {
        0 => x * y,
        j if j < 0 => (x - y).powi(2),
        1..=3 => x.sin() * y,
        _ => x.hypot(y),
    };
    let b = if x > y { x } else { y };
    let c = if (4..=9).contains(&k) {
        x * f64::from(k)
    } else {
        y
    };
    a + b * c
}

#[test]
fn match_with_guards_in_f32_in_every_mode() {
    for k in [0, -2, 2, 5, 12] {
        let m = modes!(
            [
                match_guard64,
                match_guard32_grad,
                match_guard32_jvp,
                match_guard32_hessian,
                match_guard32_hvp,
                match_guard32_graph,
                "match_guard32"
            ],
            (val x: f32, val y: f32; k)
        );
        for p in [[0.75, 0.5], [0.25, 1.5]] {
            check_modes(&format!("match k = {k}"), &m, &p, 2e-4);
            // The output is named after the function and after the bound name it ends with.
            let g = match_guard32_graph(p[0] as f32, p[1] as f32, k);
            let r = g.node("r").expect("r").value();
            assert_eq!(r, g.node("match_guard32").expect("output").value());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Several outputs: `chunks_exact` over a slice into a tuple `(f64, [f64; 2])`, forward and
// reverse (`_vjp`, `_jacobian` as a row-major `Vec`, `_jacobian_into`, `_vjp_into`, `_jvp`)
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward)]
fn chunk_stats(x: &[f64], c: f64) -> (f64, [f64; 2]) {
    let mut s = 0.0;
    let mut lo = 0.0;
    let mut hi = 0.0;
    for ch in x.chunks_exact(3) {
        s += ch[0] * ch[1] * c;
        lo += ch[0].min(ch[2]);
        hi += ch[1].max(ch[2]) * c;
    }
    (s, [lo, hi])
}

fn tuple_flat((a, [b, c]): (f64, [f64; 2])) -> Vec<f64> {
    vec![a, b, c]
}

#[test]
fn chunks_exact_over_a_slice_with_a_tuple_output() {
    // Seven entries: the last is not in a chunk.
    let p = [0.4, -1.2, 0.9, 1.5, 0.3, -0.6, 2.0, 0.7];
    let f = |q: &[f64]| tuple_flat(chunk_stats(&q[..7], q[7]));
    let jac = fd_jacobian(f, &p);
    let want: Vec<f64> = jac.iter().flatten().copied().collect();
    let (out, j) = chunk_stats_jacobian(&p[..7], p[7]);
    assert_eq!(tuple_flat(out), f(&p));
    assert_eq!(j.len(), 3 * 8);
    near("chunk_stats jacobian", &j, &want, 1e-6);
    let mut into = vec![f64::NAN; 24];
    let out = chunk_stats_jacobian_into(&p[..7], p[7], &mut into);
    assert_eq!(tuple_flat(out), f(&p));
    near("chunk_stats jacobian_into", &into, &want, 1e-6);
    let seed = (0.5, [-1.5, 2.0]);
    let s = tuple_flat(seed);
    let vjp: Vec<f64> = (0..8)
        .map(|j| (0..3).map(|i| s[i] * jac[i][j]).sum())
        .collect();
    let (out, dx, dc) = chunk_stats_vjp(&p[..7], p[7], seed);
    assert_eq!(tuple_flat(out), f(&p));
    assert_eq!(dx.len(), 7);
    near("chunk_stats vjp", &with(dx, dc), &vjp, 1e-6);
    // `_vjp_into` adds into the buffer.
    let mut dx = vec![1.0; 7];
    let (out, dc) = chunk_stats_vjp_into(&p[..7], &mut dx, p[7], seed);
    assert_eq!(tuple_flat(out), f(&p));
    let added: Vec<f64> = dx.iter().map(|v| v - 1.0).collect();
    near("chunk_stats vjp_into", &with(added, dc), &vjp, 1e-6);
    let v = direction(8);
    let (out, t) = chunk_stats_jvp(&p[..7], &v[..7], p[7], v[7]);
    assert_eq!(tuple_flat(out), f(&p));
    let want: Vec<f64> = jac.iter().map(|row| dot(row, &v)).collect();
    near("chunk_stats jvp", &tuple_flat(t), &want, 1e-6);
}

// ---------------------------------------------------------------------------------------------
// An array output `[f64; 3]` from a `&[f64; 2]` parameter destructured by `let [r, t] = *p;`,
// and a tuple output from a slice through `sum::<f64>()` and `map`
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward)]
fn polar(p: &[f64; 2], s: f64) -> [f64; 3] {
    let [r, t] = *p;
    [r * t.cos() * s, r * t.sin(), r.hypot(t) + s]
}

#[test]
fn array_output_from_a_referenced_array() {
    let p = [1.3, 0.6, -0.8];
    let f = |q: &[f64]| polar(&[q[0], q[1]], q[2]).to_vec();
    let jac = fd_jacobian(f, &p);
    let (out, j) = polar_jacobian(&[p[0], p[1]], p[2]);
    assert_eq!(out.to_vec(), f(&p));
    let j: [[f64; 3]; 3] = j;
    near("polar jacobian", &flat(&j), &flat_vec(&jac), 1e-6);
    let seed = [0.5, -1.0, 2.0];
    let (out, dp, ds) = polar_vjp(&[p[0], p[1]], p[2], seed);
    assert_eq!(out.to_vec(), f(&p));
    let dp: [f64; 2] = dp;
    let want: Vec<f64> = (0..3)
        .map(|j| (0..3).map(|i| seed[i] * jac[i][j]).sum())
        .collect();
    near("polar vjp", &[dp[0], dp[1], ds], &want, 1e-6);
    let v = direction(3);
    let (_, t) = polar_jvp(&[p[0], p[1]], &[v[0], v[1]], p[2], v[2]);
    let want: Vec<f64> = jac.iter().map(|row| dot(row, &v)).collect();
    near("polar jvp", &t, &want, 1e-6);
}

fn flat_vec(m: &[Vec<f64>]) -> Vec<f64> {
    m.iter().flatten().copied().collect()
}

#[differentiate(reverse, forward)]
fn moments(x: &[f64]) -> (f64, [f64; 2]) {
    let n = x.len() as f64;
    let m: f64 = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
    (m, [v, v.sqrt()])
}

#[test]
fn tuple_output_from_a_slice_through_iterator_sums() {
    let p = [0.4, -1.2, 0.9, 1.5];
    let f = |q: &[f64]| tuple_flat(moments(q));
    let jac = fd_jacobian(f, &p);
    let (out, j) = moments_jacobian(&p);
    assert_eq!(tuple_flat(out), f(&p));
    near("moments jacobian", &j, &flat_vec(&jac), 1e-6);
    let v = direction(4);
    let (_, t) = moments_jvp(&p, &v);
    let want: Vec<f64> = jac.iter().map(|row| dot(row, &v)).collect();
    near("moments jvp", &tuple_flat(t), &want, 1e-6);
    let seed = (1.0, [0.0, -2.0]);
    let (_, dx) = moments_vjp(&p, seed);
    let want: Vec<f64> = (0..4).map(|j| jac[0][j] - 2.0 * jac[2][j]).collect();
    near("moments vjp", &dx, &want, 1e-6);
}

// ---------------------------------------------------------------------------------------------
// A `&self` method with `wrt(self)` and `hessian`: closures capturing a local array built from
// the fields, and `self` itself
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Debug)]
struct Layer {
    w: [f64; 3],
    b: f64,
    tag: u32,
}

impl Layer {
    #[differentiate(reverse, forward, hessian, graph, wrt(self))]
    fn apply(&self, x: f64) -> f64 {
        let w = [self.w[0], self.w[1], self.w[2]];
        let b = self.b;
        let poly = |v: f64| w[0] + w[1] * v + w[2] * v * v + b;
        let direct = |v: f64| self.w[2] * v + self.b;
        let z = poly(x);
        (z * z + 1.0).sqrt() + poly(x * 0.5).tanh() * direct(x)
    }
}

#[test]
fn closures_capturing_an_array_in_a_method_with_self_in_every_mode() {
    let at = |q: &[f64]| Layer {
        w: [q[0], q[1], q[2]],
        b: q[3],
        tag: 7,
    };
    let x = 0.8;
    let fields = |d: &Layer| vec![d.w[0], d.w[1], d.w[2], d.b];
    let f = |q: &[f64]| at(q).apply(x);
    let grad = |q: &[f64]| {
        let (v, d) = at(q).apply_grad(x);
        assert_eq!(d.tag, 0);
        (v, fields(&d))
    };
    let jvp = |q: &[f64], v: &[f64]| at(q).apply_jvp(&at(v), x);
    // The Hessian's order is the order the body reads the fields (SPEC leaves it open): find it
    // from the gradient of each unit direction through `_hvp`, which names the fields.
    let hvp = |q: &[f64], v: &[f64]| {
        let (val, d, hv) = at(q).apply_hvp(&at(v), x);
        (val, fields(&d), fields(&hv))
    };
    let hessian = |q: &[f64]| {
        let (val, d, h) = at(q).apply_hessian(x);
        assert_eq!(h.len(), 16);
        // Rows of H·eⱼ, by the hvp, fix the permutation of the flattened fields.
        let cols: Vec<Vec<f64>> = (0..4)
            .map(|j| {
                let mut e = vec![0.0; 4];
                e[j] = 1.0;
                hvp(q, &e).2
            })
            .collect();
        let mut full = vec![0.0; 16];
        for i in 0..4 {
            for j in 0..4 {
                full[i * 4 + j] = cols[j][i];
            }
        }
        let mut sorted_h = h.clone();
        let mut sorted_full = full.clone();
        sorted_h.sort_by(f64::total_cmp);
        sorted_full.sort_by(f64::total_cmp);
        near("apply hessian entries", &sorted_h, &sorted_full, 1e-12);
        (val, fields(&d), full)
    };
    let graph = |q: &[f64]| {
        let g = at(q).apply_graph(x);
        adjoints(
            &g,
            "apply",
            &["self.w[0]", "self.w[1]", "self.w[2]", "self.b"],
        )
    };
    let m = Modes {
        f: Box::new(&f),
        grad: Box::new(&grad),
        jvp: Box::new(&jvp),
        hessian: Box::new(&hessian),
        hvp: Box::new(&hvp),
        graph: Box::new(&graph),
    };
    check_modes("apply", &m, &[0.5, -0.3, 0.9, 0.2], 1e-6);
}

// ---------------------------------------------------------------------------------------------
// `while`, `continue`, `break`, `loop` and an early `return` in a generic function over a
// slice, every mode, on both sides of the early return
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn loops_t<T: Float>(x: &[T], a: T) -> T {
    let mut i = 0;
    let mut s = T::zero();
    while i < x.len() {
        if x[i] < T::zero() {
            i += 1;
            continue;
        }
        s = s + (x[i] + a).sqrt() * a;
        if s > T::from(10.0).unwrap() {
            break;
        }
        i += 1;
    }
    let mut t = s;
    loop {
        t = t * a;
        if t.abs() < T::one() {
            break;
        }
        if t.abs() > T::from(100.0).unwrap() {
            return t;
        }
    }
    t + s
}

#[test]
fn loops_with_break_continue_and_return_in_a_generic_function_in_every_mode() {
    // Through the `while` and the `loop` to the end; through the early `return`; and with a
    // negative entry skipped by `continue`.
    let points: [&[f64]; 3] = [
        &[0.3, 0.5, 0.2, 0.1, 0.7],
        &[2.0, 3.0, 2.5, 1.5, 2.2],
        &[0.3, -0.5, 0.2, 0.4, 0.6],
    ];
    let m = modes!(
        [
            loops_t::<f64>,
            loops_t_grad::<f64>,
            loops_t_jvp::<f64>,
            loops_t_hessian::<f64>,
            loops_t_hvp::<f64>,
            loops_t_graph::<f64>,
            "loops_t"
        ],
        (slice x: [f64; 4], val a: f64)
    );
    for p in points {
        check_modes("loops_t", &m, p, 1e-6);
    }
    let m = modes!(
        [
            loops_t::<f64>,
            loops_t_grad::<f32>,
            loops_t_jvp::<f32>,
            loops_t_hessian::<f32>,
            loops_t_hvp::<f32>,
            loops_t_graph::<f32>,
            "loops_t"
        ],
        (slice x: [f32; 4], val a: f32)
    );
    check_modes("loops_t f32", &m, &[0.25, 0.5, 0.125, 0.375, 0.75], 2e-4);
}

// ---------------------------------------------------------------------------------------------
// `vec![0.0; n]`, a local and a module `const`, `std::f32::consts::PI`, `for v in &buf`, in
// `f32` over a slice, every mode, and `_grad_into`; and `vec![T::zero(); n]` in a generic one
// ---------------------------------------------------------------------------------------------

const SCALE32: f32 = 1.5;

#[differentiate(reverse, forward, hessian, graph)]
fn buffers32(x: &[f32], s: f32) -> f32 {
    const HALF: f32 = 0.5;
    let n = x.len();
    let mut buf = vec![0.0; n];
    for i in 0..n {
        buf[i] = x[i] * s * SCALE32 + std::f32::consts::PI * HALF;
    }
    let mut acc = 0.0;
    for v in &buf {
        acc += v.sin();
    }
    acc * s
}

fn buffers64(x: &[f64], s: f64) -> f64 {
    x.iter()
        .map(|v| (v * s * 1.5 + std::f64::consts::FRAC_PI_2).sin())
        .sum::<f64>()
        * s
}

#[differentiate(reverse, forward, hessian, graph)]
fn buffers_t<T: Float>(x: &[T], s: T) -> T {
    let n = x.len();
    let mut buf = vec![T::zero(); n];
    for i in 0..n {
        buf[i] = x[i] * s;
    }
    for i in 1..n {
        buf[i] = buf[i] * buf[i - 1].cos();
    }
    buf.iter().fold(T::zero(), |a, &v| a + v * v)
}

#[test]
fn run_time_sized_buffers_and_constants_in_f32_in_every_mode() {
    let m = modes!(
        [
            buffers64,
            buffers32_grad,
            buffers32_jvp,
            buffers32_hessian,
            buffers32_hvp,
            buffers32_graph,
            "buffers32"
        ],
        (slice x: [f32; 3], val s: f32)
    );
    let p = [0.25, -0.5, 0.75, 0.625];
    check_modes("buffers32", &m, &p, 2e-4);
    // `_grad_into` adds the slice's gradient into the buffer and returns the rest.
    let (x, s) = (narrow(&p[..3]), p[3] as f32);
    let mut dx = vec![1.0_f32; 3];
    let (v, ds) = buffers32_grad_into(&x, &mut dx, s);
    let (v0, g, g_s) = buffers32_grad(&x, s);
    assert_eq!((v, ds), (v0, g_s));
    for i in 0..3 {
        assert_eq!(dx[i], 1.0 + g[i]);
    }
}

#[test]
fn run_time_sized_generic_buffer_in_every_mode() {
    let m = modes!(
        [
            buffers_t::<f64>,
            buffers_t_grad::<f64>,
            buffers_t_jvp::<f64>,
            buffers_t_hessian::<f64>,
            buffers_t_hvp::<f64>,
            buffers_t_graph::<f64>,
            "buffers_t"
        ],
        (slice x: [f64; 3], val s: f64)
    );
    check_modes("buffers_t", &m, &[0.4, -0.9, 1.3, 0.7], 1e-6);
    // `vec![x; n]` and `[2x; 3]` filled with an active value: f = n x · 2x + 8x³.
    let (x, n) = (1.5, 4);
    let (d, dd) = (4.0 * 4.0 * x + 24.0 * x * x, 16.0 + 48.0 * x);
    assert_eq!(fill_active_grad(x, n), (45.0, d));
    assert_eq!(fill_active_jvp(x, 0.5, n), (45.0, 0.5 * d));
    assert_eq!(fill_active_hessian(x, n), (45.0, d, [[dd]]));
    assert_eq!(fill_active_hvp(x, 0.5, n), (45.0, d, 0.5 * dd));
    assert_eq!(
        fill_active_graph(x, n)
            .node("x")
            .map(autodiff::GraphNode::adjoint),
        Some(d)
    );
}

// ---------------------------------------------------------------------------------------------
// Numerical conventions in every mode: kinks take the branch the code takes, `0 · ∞ = 0`, and
// `inf` where the true derivative is infinite, in f64, f32 and generic functions
// ---------------------------------------------------------------------------------------------

/// Norms at the origin: the gradient is the subgradient (0, 0), never NaN.
#[differentiate(reverse, forward, hessian, graph)]
fn norms_t<T: Float>(x: T, y: T) -> T {
    (x * x + y * y).sqrt() + x.hypot(y)
}

/// `x^y` at `x = 0`: ∂/∂y = xʸ ln x = 0 · (−∞) = 0.
#[differentiate(reverse, forward, hessian, graph)]
fn zero_base_t<T: Float>(x: T, y: T) -> T {
    x.powf(y)
}

/// `y √x` at `x = 0`: ∂/∂x = y / (2√x), infinite unless `y = 0`.
#[differentiate(reverse, forward, hessian, graph)]
fn root_t<T: Float>(x: T, y: T) -> T {
    let r = x.sqrt();
    y * r
}

/// Every mode's gradient entries (and the tangent along `v`) at one point, as `f64`.
fn gradients_everywhere<T: Float>(
    p: [T; 2],
    v: [T; 2],
    f_grad: fn(T, T) -> (T, T, T),
    f_jvp: fn(T, T, T, T) -> (T, T),
    f_hessian: fn(T, T) -> (T, T, T, [[T; 2]; 2]),
    f_hvp: fn(T, T, T, T) -> (T, T, T, T, T),
    f_graph: fn(T, T) -> autodiff::Graph,
) -> ([[f64; 2]; 4], f64) {
    let d = |v: T| v.to_f64().unwrap();
    let (_, a, b) = f_grad(p[0], p[1]);
    let (_, t) = f_jvp(p[0], v[0], p[1], v[1]);
    let (_, ha, hb, _) = f_hessian(p[0], p[1]);
    let (_, va, vb, _, _) = f_hvp(p[0], v[0], p[1], v[1]);
    let g = f_graph(p[0], p[1]);
    let adj = |n: &str| g.node(n).expect(n).adjoint();
    (
        [
            [d(a), d(b)],
            [d(ha), d(hb)],
            [d(va), d(vb)],
            [adj("x"), adj("y")],
        ],
        d(t),
    )
}

#[track_caller]
fn expect_everywhere(what: &str, got: ([[f64; 2]; 4], f64), grad: [f64; 2], tangent: f64) {
    let modes = ["grad", "hessian", "hvp", "graph"];
    for (mode, g) in modes.iter().zip(got.0) {
        assert_eq!(g, grad, "{what}: {mode}");
    }
    assert_eq!(got.1, tangent, "{what}: jvp");
}

fn conventions<T: Float + std::fmt::Debug + 'static>() {
    let t = |v: f64| T::from(v).unwrap();
    let z = T::zero();
    let v = [t(1.0), t(2.0)];
    // The norms at the origin: (0, 0) and a zero tangent, in every mode.
    let got = gradients_everywhere(
        [z, z],
        v,
        norms_t_grad,
        norms_t_jvp,
        norms_t_hessian,
        norms_t_hvp,
        norms_t_graph,
    );
    expect_everywhere("norms at the origin", got, [0.0, 0.0], 0.0);
    // 0^y for y = 2: ∂/∂x = 2·0 = 0 and ∂/∂y = 0 · ln 0 = 0.
    let got = gradients_everywhere(
        [z, t(2.0)],
        v,
        zero_base_t_grad,
        zero_base_t_jvp,
        zero_base_t_hessian,
        zero_base_t_hvp,
        zero_base_t_graph,
    );
    expect_everywhere("0^2", got, [0.0, 0.0], 0.0);
    // 0^y for y = 1/2: ∂/∂x = ∞, ∂/∂y = 0.
    let got = gradients_everywhere(
        [z, t(0.5)],
        v,
        zero_base_t_grad,
        zero_base_t_jvp,
        zero_base_t_hessian,
        zero_base_t_hvp,
        zero_base_t_graph,
    );
    expect_everywhere("0^0.5", got, [f64::INFINITY, 0.0], f64::INFINITY);
    // y √x at (0, 1): ∂/∂x = ∞, ∂/∂y = 0; along (0, 1) the tangent is 0 · ∞ + 0 = 0.
    let got = gradients_everywhere(
        [z, t(1.0)],
        [z, t(1.0)],
        root_t_grad,
        root_t_jvp,
        root_t_hessian,
        root_t_hvp,
        root_t_graph,
    );
    expect_everywhere("y sqrt x at (0, 1)", got, [f64::INFINITY, 0.0], 0.0);
    // ... and along (1, 2) it is ∞.
    let (_, tan) = root_t_jvp(z, t(1.0), t(1.0), t(2.0));
    assert_eq!(tan.to_f64(), Some(f64::INFINITY));
    // y √x at (0, 0): ∂/∂x = 0 · ∞ = 0, ∂/∂y = √0 = 0.
    let got = gradients_everywhere(
        [z, z],
        v,
        root_t_grad,
        root_t_jvp,
        root_t_hessian,
        root_t_hvp,
        root_t_graph,
    );
    expect_everywhere("y sqrt x at (0, 0)", got, [0.0, 0.0], 0.0);
}

#[test]
fn zero_times_infinity_and_infinite_derivatives_in_every_mode_f64() {
    conventions::<f64>();
}

#[test]
fn zero_times_infinity_and_infinite_derivatives_in_every_mode_f32() {
    conventions::<f32>();
}

/// Kinks at 0 in f32: `relu'(0) = 0`, `abs'(0) = 0`, `max` / `min` at a tie follow the first
/// argument, `signum` and `floor` are flat, and `x⁰ = 1` is flat in `x` even at 0.
#[differentiate(reverse, forward, hessian, graph)]
fn kinks32(x: f32, y: f32) -> f32 {
    let k = relu(x) + 2.0 * x.abs() + 3.0 * x.max(y) + 5.0 * y.min(x);
    let flat = 7.0 * x.signum() + 11.0 * x.floor() + x.powi(0) * y;
    let smooth = sigmoid(x) * 0.0 + softplus(y * 0.0);
    k + flat + smooth
}

#[test]
fn kinks_in_f32_in_every_mode() {
    // ∂/∂x = 3 (max) + 0.25·0 (sigmoid times 0); ∂/∂y = 5 (min) + 1 (x⁰ y) + softplus'(0)·0.
    let got = gradients_everywhere(
        [0.0, 0.0],
        [1.0, 2.0],
        kinks32_grad,
        kinks32_jvp,
        kinks32_hessian,
        kinks32_hvp,
        kinks32_graph,
    );
    expect_everywhere("kinks32 at 0", got, [3.0, 6.0], 15.0);
    let (_, _, _, h) = kinks32_hessian(0.0, 0.0);
    assert_eq!(h, [[0.0; 2]; 2]);
    let (_, _, _, hx, hy) = kinks32_hvp(0.0, 1.0, 0.0, 2.0);
    assert_eq!((hx, hy), (0.0, 0.0));
}

#[differentiate(reverse, forward, hessian, graph)]
fn prod_t<T: Float + std::iter::Product>(x: [T; 3]) -> T {
    x.iter().copied().product()
}
#[differentiate(reverse, forward, hessian, graph)]
fn prod_fold(x: &[f64]) -> f64 {
    x.iter().fold(1.0, |a, &v| a * v)
}
#[differentiate(reverse, forward, hessian, graph)]
fn pows(x: f64, y: f64) -> f64 {
    x.powf(2.0) + y.powf(3.0) + x.powi(2) * 3.0 + y.powi(3) * 5.0
}
#[differentiate(reverse, forward, hessian, graph)]
fn pows32(x: f32, y: f32) -> f32 {
    x.powf(2.0) + y.powf(3.0) + x.powi(2) * 3.0 + y.powi(3) * 5.0
}

#[differentiate(reverse, forward, hessian, graph)]
fn sqrt1(x: f64) -> f64 {
    x.sqrt()
}
#[differentiate(reverse, forward, hessian)]
fn local_wild(x: f64, y: f64) -> f64 {
    let (_, b) = (x * y, x + y);
    let [_, d] = [x, y * y];
    b * d
}

#[differentiate(reverse, forward, hessian, graph)]
fn amap32(x: [f32; 3], s: f32) -> f32 {
    let k = s * 2.0;
    let y = x.map(|v| v * k + s.sin());
    let f = |v: f32| v * y[0];
    let g = |v: f32| f(v) * 2.0 + k;
    x.iter().map(|&v| g(v)).sum::<f32>() + y[2]
}
#[differentiate(reverse, forward, hessian, graph)]
fn amap_t<T: Float>(x: [T; 3], s: T) -> T {
    let y = x.map(|v| v * s);
    y[0] * y[1] + y[2]
}
#[differentiate(reverse, forward)]
fn zips(x: &[f64], y: [f64; 3], z: &[f64; 3]) -> [f64; 2] {
    let mut a = 0.0;
    for (p, q) in x.iter().zip(y) {
        a += p * q;
    }
    let mut b = 0.0;
    for (p, q) in x.iter().zip(z.iter()) {
        b += p * q;
    }
    let c: f64 = y.iter().zip(z).map(|(u, v)| u * v).sum();
    [a + c, b]
}
#[differentiate(reverse, forward)]
fn windows32(x: &[f32]) -> [f32; 2] {
    let mut s = 0.0;
    let mut t = 0.0;
    for w in x.windows(3) {
        s += w[0] * w[2];
        t += w[1].sin();
    }
    [s, t]
}
#[differentiate(reverse, forward)]
fn tuple32(x: f32, y: f32) -> (f32, [f32; 2]) {
    (x * y, [x.sin(), y.cos()])
}
#[differentiate(reverse, forward, hessian, graph)]
fn debug_eq(x: [f64; 2], y: f64) -> f64 {
    debug_assert_eq!(x.len(), 2);
    debug_assert_ne!(x.len(), 3);
    assert_ne!(x.len(), 4);
    assert!(y > -1e300, "y = {y}");
    x[0] * y + x[1]
}
const NN: usize = 3;
#[differentiate(reverse, forward, hessian, graph)]
fn consts_t<T: Float>(x: [T; NN], y: T) -> T {
    let mut h = [T::zero(); NN];
    for i in 0..NN {
        h[i] = x[i] * y + T::epsilon();
    }
    h[0] * h[1] * h[2] + T::from(std::f64::consts::PI).unwrap() * y
}
#[differentiate(reverse, forward, hessian, graph)]
fn subslices(x: &[f64], y: f64) -> f64 {
    let a = &x[1..];
    let b = &x[..2];
    a[0] * b[1] * y + a.len() as f64
}
#[differentiate(reverse, forward, hessian, graph)]
fn shadow(x: f64, y: f64) -> f64 {
    let x = x * 2.0;
    let y = y + x;
    let x = x * y;
    x
}
#[differentiate(reverse, forward, hessian, graph)]
fn match_arrays(x: f64, y: f64, k: u8) -> f64 {
    let [a, b] = match k {
        0 => [x, y],
        _ => [y * x, x],
    };
    let (c, d) = if k > 1 { (a, b) } else { (b, a) };
    a * c + b * d
}
#[differentiate(reverse, forward, hessian, graph)]
fn early_in_for(x: &[f64], y: f64) -> f64 {
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate() {
        if i == 1 {
            continue;
        }
        s += v * y;
        if s > 3.0 {
            return s * s;
        }
    }
    s
}
#[differentiate(reverse, forward)]
fn early_multi(x: &[f64], y: f64) -> (f64, [f64; 2]) {
    let mut s = 0.0;
    for v in x {
        s += v * y;
        if s > 3.0 {
            return (s, [y, s * y]);
        }
    }
    (s * 2.0, [s, y])
}
#[differentiate(reverse, forward, hessian, graph)]
fn literal32(x: f32) -> f64 {
    f64::from(2.0_f32) * f64::from(x) + f64::from(x * x)
}
#[derive(Default, Clone, Debug)]
struct Pv {
    w: [f64; 2],
    b: f64,
}
// By value on purpose: the struct is the parameter kind under test.
#[allow(clippy::needless_pass_by_value)]
#[differentiate(reverse, forward, hessian, graph, wrt(p, x))]
fn by_value(p: Pv, x: f64) -> f64 {
    p.w[0] * x * x + p.w[1] * p.b
}
#[differentiate(reverse, forward, hessian, graph, wrt(p))]
fn by_ref_iter(p: &Pv, x: f64) -> f64 {
    p.w.iter().map(|v| v * x).sum::<f64>() + p.b
}

#[differentiate(reverse, forward, hessian, graph)]
fn widen(x: f32, y: &[f32], z: f64) -> f64 {
    let a: f64 = x.into();
    let b = f64::from(y[0]);
    let c: f64 = (x * y[1]).into();
    a * b + c.sin() * z + f64::from(y[1] * y[1]) * z
}

#[differentiate(reverse, forward, hessian, graph)]
fn refs(x: f64, y: [f64; 2]) -> f64 {
    let r = &x;
    let s = &y;
    let [a, b] = *s;
    *r * s[0] + (*s)[1] * *r + a * b
}

#[differentiate(reverse, forward, hessian, graph)]
fn activations32(x: f32, y: f32) -> f32 {
    sigmoid(x * y) + relu(x - y) + softplus(y) * relu(y)
}

fn activations64(x: f64, y: f64) -> f64 {
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let relu = |v: f64| v.max(0.0);
    let softplus = |v: f64| v.exp().ln_1p();
    sig(x * y) + relu(x - y) + softplus(y) * relu(y)
}

fn widen64(x: f64, y: &[f64], z: f64) -> f64 {
    x * y[0] + (x * y[1]).sin() * z + y[1] * y[1] * z
}

#[test]
fn into_and_from_between_float_types_in_every_mode() {
    // Mixed: the Hessian is in the output's type.
    let m = modes!(
        [widen64, widen_grad, widen_jvp, widen_hessian, widen_hvp, widen_graph, "widen"],
        (val x: f32, slice y: [f32; 2], val z: f64)
    );
    check_modes("widen", &m, &[0.5, 1.25, -0.75, 0.3], 2e-5);
}

#[test]
fn references_and_dereferences_in_every_mode() {
    // f = x y₀ + y₁ x + y₀ y₁.
    let (x, y) = (0.7, [-1.3, 2.1]);
    let grad = [y[0] + y[1], x + y[1], x + y[0]];
    let hess = [0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0];
    let m = modes!(
        [refs, refs_grad, refs_jvp, refs_hessian, refs_hvp, refs_graph, "refs"],
        (val x: f64, val y: [f64; 2])
    );
    check_closed("refs", &m, &[x, y[0], y[1]], &grad, &hess, 1e-15);
}

#[test]
fn runtime_activations_in_f32_in_every_mode() {
    let m = modes!(
        [
            activations64,
            activations32_grad,
            activations32_jvp,
            activations32_hessian,
            activations32_hvp,
            activations32_graph,
            "activations32"
        ],
        (val x: f32, val y: f32)
    );
    check_modes("activations32", &m, &[0.75, 0.5], 2e-4);
    check_modes("activations32", &m, &[-0.5, 1.25], 2e-4);
    check_modes("activations32", &m, &[0.25, -0.5], 2e-4);
}

fn amap64(x: [f64; 3], s: f64) -> f64 {
    let k = s * 2.0;
    let y = x.map(|v| v * k + s.sin());
    x.iter().map(|&v| v * y[0] * 2.0 + k).sum::<f64>() + y[2]
}

#[test]
fn array_map_and_closures_calling_closures_in_f32_and_generic_in_every_mode() {
    let m = modes!(
        [amap64, amap32_grad, amap32_jvp, amap32_hessian, amap32_hvp, amap32_graph, "amap32"],
        (val x: [f32; 3], val s: f32)
    );
    check_modes("amap32", &m, &[0.25, -0.5, 0.75, 0.625], 2e-4);

    // The generic one at f64: (x₀ s)(x₁ s) + x₂ s.
    let (x, s) = ([0.3, -1.1, 0.8], 0.7);
    let grad = [x[1] * s * s, x[0] * s * s, s, 2.0 * x[0] * x[1] * s + x[2]];
    #[rustfmt::skip]
    let hess = [
        0.0, s * s, 0.0, 2.0 * x[1] * s,
        s * s, 0.0, 0.0, 2.0 * x[0] * s,
        0.0, 0.0, 0.0, 1.0,
        2.0 * x[1] * s, 2.0 * x[0] * s, 1.0, 2.0 * x[0] * x[1],
    ];
    let m = modes!(
        [
            amap_t::<f64>,
            amap_t_grad::<f64>,
            amap_t_jvp::<f64>,
            amap_t_hessian::<f64>,
            amap_t_hvp::<f64>,
            amap_t_graph::<f64>,
            "amap_t"
        ],
        (val x: [f64; 3], val s: f64)
    );
    check_closed("amap_t", &m, &with(x.to_vec(), s), &grad, &hess, 1e-14);
}

fn jac_check(what: &str, f: &dyn Fn(&[f64]) -> Vec<f64>, p: &[f64], got: &[f64], tol: f64) {
    let want: Vec<f64> = fd_jacobian(f, p).into_iter().flatten().collect();
    near(what, got, &want, tol);
}

fn vjp_of(f: &dyn Fn(&[f64]) -> Vec<f64>, p: &[f64], seed: &[f64]) -> Vec<f64> {
    let jac = fd_jacobian(f, p);
    (0..p.len())
        .map(|j| (0..seed.len()).map(|i| seed[i] * jac[i][j]).sum())
        .collect()
}

fn jvp_of(f: &dyn Fn(&[f64]) -> Vec<f64>, p: &[f64], v: &[f64]) -> Vec<f64> {
    fd_jacobian(f, p).iter().map(|row| dot(row, v)).collect()
}

#[test]
fn several_outputs_through_zip_windows_and_early_returns() {
    // Mixed parameter kinds (a slice, an array, a referenced array): a row-major `Vec`.
    let p = [0.4, -1.2, 0.9, 1.5, 0.3, -0.6, 2.0, 0.7, -0.2];
    let split = |q: &[f64]| ([q[3], q[4], q[5]], [q[6], q[7], q[8]]);
    let f = |q: &[f64]| {
        let (y, z) = split(q);
        zips(&q[..3], y, &z).to_vec()
    };
    let (y, z) = split(&p);
    let (out, jac) = zips_jacobian(&p[..3], y, &z);
    assert_eq!(out.to_vec(), f(&p));
    jac_check("zips jacobian", &f, &p, &jac, 1e-6);
    let seed = [0.5, -2.0];
    let (_, dx, dy, dz) = zips_vjp(&p[..3], y, &z, seed);
    let got: Vec<f64> = dx.iter().chain(&dy).chain(&dz).copied().collect();
    near("zips vjp", &got, &vjp_of(&f, &p, &seed), 1e-6);
    let v = direction(9);
    let (vy, vz) = split(&v);
    let (_, t) = zips_jvp(&p[..3], &v[..3], y, vy, &z, &vz);
    near("zips jvp", &t, &jvp_of(&f, &p, &v), 1e-6);

    // f32 windows over a slice, differences of the same formula in f64.
    let x32 = [0.25_f32, -0.5, 0.75, 1.25, -1.0];
    let p: Vec<f64> = wide(&x32);
    let f = |q: &[f64]| {
        let (mut s, mut t) = (0.0, 0.0);
        for w in q.windows(3) {
            s += w[0] * w[2];
            t += w[1].sin();
        }
        vec![s, t]
    };
    let (out, jac) = windows32_jacobian(&x32);
    near("windows32 value", &wide(&out), &f(&p), 1e-6);
    jac_check("windows32 jacobian", &f, &p, &wide(&jac), 1e-5);
    let (_, dx) = windows32_vjp(&x32, [1.0, -0.5]);
    near(
        "windows32 vjp",
        &wide(&dx),
        &vjp_of(&f, &p, &[1.0, -0.5]),
        1e-5,
    );
    let v = direction(5);
    let (_, t) = windows32_jvp(&x32, &narrow(&v));
    near("windows32 jvp", &wide(&t), &jvp_of(&f, &p, &v), 1e-5);

    // An f32 tuple output: `[[f32; 2]; 3]`.
    let (x, y) = (0.75_f32, -0.5_f32);
    let (out, jac) = tuple32_jacobian(x, y);
    assert_eq!(out, tuple32(x, y));
    let (xd, yd) = (f64::from(x), f64::from(y));
    let want = [yd, xd, xd.cos(), 0.0, 0.0, -yd.sin()];
    near("tuple32 jacobian", &flat32(&jac), &want, 1e-6);
    let (_, t) = tuple32_jvp(x, 1.0, y, 2.0);
    let t = [t.0, t.1[0], t.1[1]];
    let want = [yd + 2.0 * xd, xd.cos(), -2.0 * yd.sin()];
    near("tuple32 jvp", &wide(&t), &want, 1e-6);

    // Both sides of the early return, with its own tuple.
    let f = |q: &[f64]| {
        let (a, [b, c]) = early_multi(&q[..3], q[3]);
        vec![a, b, c]
    };
    for p in [[0.5, 0.25, 0.75, 1.5], [2.5, 1.0, 0.5, 1.5]] {
        let (_, jac) = early_multi_jacobian(&p[..3], p[3]);
        jac_check("early_multi jacobian", &f, &p, &jac, 1e-6);
        let seed = (1.0, [-0.5, 0.25]);
        let (_, dx, dy) = early_multi_vjp(&p[..3], p[3], seed);
        near(
            "early_multi vjp",
            &with(dx, dy),
            &vjp_of(&f, &p, &[1.0, -0.5, 0.25]),
            1e-6,
        );
        let v = direction(4);
        let (_, (a, [b, c])) = early_multi_jvp(&p[..3], &v[..3], p[3], v[3]);
        near("early_multi jvp", &[a, b, c], &jvp_of(&f, &p, &v), 1e-6);
    }
}

#[test]
fn assertions_constants_subslices_and_shadowing_in_every_mode() {
    // Assertions are kept and have no derivative: x₀ y + x₁.
    let (x, y) = ([0.6, -0.4], 1.7);
    let grad = [y, 1.0, x[0]];
    let hess = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let m = modes!(
        [
            debug_eq,
            debug_eq_grad,
            debug_eq_jvp,
            debug_eq_hessian,
            debug_eq_hvp,
            debug_eq_graph,
            "debug_eq"
        ],
        (val x: [f64; 2], val y: f64)
    );
    check_closed("debug_eq", &m, &[x[0], x[1], y], &grad, &hess, 1e-15);

    // A module `const` sizing an array parameter and a local array, `T::epsilon()` and a
    // constant path through `T::from`: every mode, at f64.
    let m = modes!(
        [
            consts_t::<f64>,
            consts_t_grad::<f64>,
            consts_t_jvp::<f64>,
            consts_t_hessian::<f64>,
            consts_t_hvp::<f64>,
            consts_t_graph::<f64>,
            "consts_t"
        ],
        (val x: [f64; 3], val y: f64)
    );
    check_modes("consts_t", &m, &[0.5, -1.5, 0.75, 1.25], 1e-6);

    // Sub-slices `&x[1..]` and `&x[..2]` bound to locals: x₁² y + (n − 1).
    let x = [0.3, -0.9, 1.4, 2.0];
    let y = 0.6;
    let grad = [0.0, 2.0 * x[1] * y, 0.0, 0.0, x[1] * x[1]];
    let mut hess = vec![0.0; 25];
    hess[6] = 2.0 * y;
    hess[9] = 2.0 * x[1];
    hess[21] = 2.0 * x[1];
    let m = modes!(
        [
            subslices,
            subslices_grad,
            subslices_jvp,
            subslices_hessian,
            subslices_hvp,
            subslices_graph,
            "subslices"
        ],
        (slice x: [f64; 4], val y: f64)
    );
    check_closed("subslices", &m, &with(x.to_vec(), y), &grad, &hess, 1e-15);

    // Shadowed parameters: 2x (y + 2x), and the graph's output under both names.
    let (x, y) = (0.7, -0.3);
    let grad = [2.0 * y + 8.0 * x, 2.0 * x];
    let (v, dx, dy) = shadow_grad(x, y);
    assert_eq!(v, shadow(x, y));
    near("shadow grad", &[dx, dy], &grad, 1e-15);
    let (_, t) = shadow_jvp(x, 1.0, y, -2.0);
    near("shadow jvp", &[t], &[grad[0] - 2.0 * grad[1]], 1e-15);
    let (_, _, _, h) = shadow_hessian(x, y);
    assert_eq!(flat(&h), [8.0, 2.0, 2.0, 0.0]);
    let (_, _, _, hx, hy) = shadow_hvp(x, 1.0, y, -2.0);
    assert_eq!([hx, hy], [4.0, 2.0]);
    let g = shadow_graph(x, y);
    assert_eq!(g.node("shadow").expect("output").value(), v);
    assert_eq!(g.node("shadow").expect("output").adjoint(), 1.0);
}

#[test]
fn matches_binding_arrays_and_early_returns_from_a_for_in_every_mode() {
    for k in 0..3_u8 {
        let m = modes!(
            [
                match_arrays,
                match_arrays_grad,
                match_arrays_jvp,
                match_arrays_hessian,
                match_arrays_hvp,
                match_arrays_graph,
                "match_arrays"
            ],
            (val x: f64, val y: f64; k)
        );
        check_modes(&format!("match_arrays k = {k}"), &m, &[0.7, -1.3], 1e-6);
    }
    let m = modes!(
        [
            early_in_for,
            early_in_for_grad,
            early_in_for_jvp,
            early_in_for_hessian,
            early_in_for_hvp,
            early_in_for_graph,
            "early_in_for"
        ],
        (slice x: [f64; 4], val y: f64)
    );
    // To the end, skipping x₁; and out through the `return` at x₂.
    check_modes("early_in_for", &m, &[0.5, 3.0, 0.25, 0.75, 1.5], 1e-6);
    check_modes("early_in_for", &m, &[0.5, 3.0, 2.5, 0.75, 1.5], 1e-6);

    // `let (_, b) = (..);` and `let [_, d] = [..];` on local values: (x + y) y².
    let (v, dx, dy) = local_wild_grad(0.5, 2.0);
    assert_eq!((v, dx, dy), (10.0, 4.0, 14.0));
    let (_, _, _, h) = local_wild_hessian(0.5, 2.0);
    assert_eq!(h, [[0.0, 4.0], [4.0, 13.0]]);
}

#[test]
fn an_f32_parameter_with_an_f64_output_in_every_mode() {
    // 2x + x² (the square in f32, exact at this x).
    let x = 0.75_f32;
    let xd = f64::from(x);
    let (v, dx) = literal32_grad(x);
    assert_eq!(v, 2.0 * xd + xd * xd);
    let dx: f32 = dx;
    assert_eq!(f64::from(dx), 2.0 + 2.0 * xd);
    let (_, t) = literal32_jvp(x, 0.5);
    assert_eq!(t, 0.5 * (2.0 + 2.0 * xd));
    let (_, _, h) = literal32_hessian(x);
    assert_eq!(h, [[2.0]]);
    let (_, _, hv) = literal32_hvp(x, 0.5);
    assert_eq!(f64::from(hv), 1.0);
    let g = literal32_graph(x);
    assert_eq!(g.node("x").expect("x").adjoint(), 2.0 + 2.0 * xd);
}

#[test]
fn structs_by_value_and_by_reference_in_every_mode() {
    // w₀ x² + w₁ b, with respect to the struct and x.
    let p = Pv {
        w: [0.6, -1.1],
        b: 0.4,
    };
    let x = 1.3;
    let (v, dp, dx) = by_value_grad(p.clone(), x);
    assert_eq!(v, by_value(p.clone(), x));
    let grad = [x * x, p.b, p.w[1], 2.0 * p.w[0] * x];
    let got = [dp.w[0], dp.w[1], dp.b, dx];
    near("by_value grad", &got, &grad, 1e-15);
    let d = Pv {
        w: [0.5, -0.25],
        b: 2.0,
    };
    let dd = [d.w[0], d.w[1], d.b, -1.5];
    let (_, t) = by_value_jvp(p.clone(), d.clone(), x, dd[3]);
    near("by_value jvp", &[t], &[dot(&grad, &dd)], 1e-15);
    #[rustfmt::skip]
    let hess = [
        0.0, 0.0, 0.0, 2.0 * x,
        0.0, 0.0, 1.0, 0.0,
        0.0, 1.0, 0.0, 0.0,
        2.0 * x, 0.0, 0.0, 2.0 * p.w[0],
    ];
    let (_, hp, hgx, hv, hvx) = by_value_hvp(p.clone(), d.clone(), x, dd[3]);
    near(
        "by_value hvp grad",
        &[hp.w[0], hp.w[1], hp.b, hgx],
        &grad,
        1e-15,
    );
    near(
        "by_value hvp",
        &[hv.w[0], hv.w[1], hv.b, hvx],
        &mat_vec(&hess, &dd),
        1e-15,
    );
    let (_, _, _, h) = by_value_hessian(p.clone(), x);
    // Flattened in an order of its own: compare the entries as a multiset.
    let mut h: Vec<f64> = h.clone();
    let mut want = hess.to_vec();
    h.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    assert_eq!(h, want);
    let g = by_value_graph(p.clone(), x);
    let (_, adj) = adjoints(&g, "by_value", &["p.w[0]", "p.w[1]", "p.b", "x"]);
    near("by_value graph", &adj, &grad, 1e-15);

    // (w₀ + w₁) x + b through an iterator over the field, only the struct active.
    let (v, dp) = by_ref_iter_grad(&p, x);
    assert_eq!(v, by_ref_iter(&p, x));
    assert_eq!([dp.w[0], dp.w[1], dp.b], [x, x, 1.0]);
    let (_, t) = by_ref_iter_jvp(&p, &d, x);
    near(
        "by_ref_iter jvp",
        &[t],
        &[x * (d.w[0] + d.w[1]) + d.b],
        1e-15,
    );
    let (_, _, h) = by_ref_iter_hessian(&p, x);
    assert!(h.iter().all(|&e| e == 0.0));
    let g = by_ref_iter_graph(&p, x);
    let (_, adj) = adjoints(&g, "by_ref_iter", &["p.w[0]", "p.w[1]", "p.b"]);
    assert_eq!(adj, [x, x, 1.0]);
}

#[test]
fn products_with_a_zero_factor_and_powers_at_zero_in_every_mode() {
    // ∏ xᵢ at (0, 2, 3): the gradient is the product of the others, never 0/0.
    let x = [0.0, 2.0, 3.0];
    let grad = [6.0, 0.0, 0.0];
    let hess = [0.0, 3.0, 2.0, 3.0, 0.0, 0.0, 2.0, 0.0, 0.0];
    let d = [1.0, -1.0, 0.5];
    assert_eq!(prod_t_grad(x), (0.0, grad));
    assert_eq!(prod_t_jvp(x, d), (0.0, 6.0));
    let (_, _, h) = prod_t_hessian(x);
    assert_eq!(flat(&h), hess);
    let (_, _, hv) = prod_t_hvp(x, d);
    assert_eq!(hv.to_vec(), mat_vec(&hess, &d));
    let (_, adj) = adjoints(&prod_t_graph(x), "prod_t", &["x[0]", "x[1]", "x[2]"]);
    assert_eq!(adj, grad);
    let (_, g32) = prod_t_grad([0.0_f32, 2.0, 3.0]);
    assert_eq!(g32, [6.0, 0.0, 0.0]);
    let (_, _, h32) = prod_t_hessian([0.0_f32, 2.0, 3.0]);
    assert_eq!(flat32(&h32), hess);
    // Two zeros: every first derivative vanishes.
    assert_eq!(prod_t_grad([0.0, 0.0, 3.0]).1, [0.0; 3]);
    // The same through `fold` over a slice.
    assert_eq!(prod_fold_grad(&x).1, grad.to_vec());
    assert_eq!(prod_fold_jvp(&x, &d), (0.0, 6.0));
    assert_eq!(prod_fold_hessian(&x).2, hess.to_vec());
    assert_eq!(prod_fold_hvp(&x, &d).2, mat_vec(&hess, &d));
    let (_, adj) = adjoints(&prod_fold_graph(&x), "prod_fold", &["x[0]", "x[1]", "x[2]"]);
    assert_eq!(adj, grad);

    // x^2.0 + y^3.0 + 3x² + 5y³ at the origin: gradient 0, Hessian diag(2 + 6, 0).
    assert_eq!(pows_grad(0.0, 0.0), (0.0, 0.0, 0.0));
    assert_eq!(pows_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(pows_hessian(0.0, 0.0).3, [[8.0, 0.0], [0.0, 0.0]]);
    assert_eq!(pows_hvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 0.0, 8.0, 0.0));
    let (_, adj) = adjoints(&pows_graph(0.0, 0.0), "pows", &["x", "y"]);
    assert_eq!(adj, [0.0, 0.0]);
    assert_eq!(pows32_grad(0.0, 0.0), (0.0, 0.0, 0.0));
    assert_eq!(pows32_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(pows32_hessian(0.0, 0.0).3, [[8.0, 0.0], [0.0, 0.0]]);
    assert_eq!(pows32_hvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 0.0, 8.0, 0.0));

    // √x at 0: the gradient is ∞ in every mode; along a zero direction the tangent and
    // H·v are 0 (0 · ∞ = 0); along 1, H·v = −∞.
    assert_eq!(sqrt1_grad(0.0), (0.0, f64::INFINITY));
    assert_eq!(sqrt1_jvp(0.0, 0.0), (0.0, 0.0));
    assert_eq!(sqrt1_jvp(0.0, 1.0), (0.0, f64::INFINITY));
    assert_eq!(sqrt1_hvp(0.0, 0.0), (0.0, f64::INFINITY, 0.0));
    assert_eq!(sqrt1_hvp(0.0, 1.0), (0.0, f64::INFINITY, f64::NEG_INFINITY));
    assert_eq!(sqrt1_hessian(0.0).1, f64::INFINITY);
    assert_eq!(
        sqrt1_graph(0.0).node("x").expect("x").adjoint(),
        f64::INFINITY
    );
}

#[differentiate(reverse)]
fn powi_r(x: f32, k: i32) -> f32 {
    x.powi(k)
}
#[differentiate(forward)]
fn powi_f(x: f32, k: i32) -> f32 {
    x.powi(k)
}
#[differentiate(hessian)]
fn powi_h(x: f32, k: i32) -> f32 {
    x.powi(k)
}
#[differentiate(reverse)]
fn powi_t<T: Float>(x: T, k: i32) -> T {
    x.powi(k)
}
#[differentiate(reverse)]
fn powi_lit(x: f32) -> f32 {
    x.powi(3)
}
#[differentiate(reverse)]
fn cast_n(x: f32, n: usize) -> f32 {
    x * n as f32
}
#[differentiate(reverse, forward, hessian, graph)]
fn closures_more(x: [f64; 3], y: f64) -> f64 {
    let mut k = y;
    k *= 2.0;
    let f = |v: f64| {
        let t = v * k;
        t * t
    };
    let mut s = 0.0;
    for i in 0..3 {
        let g = |v: f64| v * x[i] + f(v);
        s += g(y);
    }
    s
}
#[differentiate(reverse, forward, hessian, graph)]
fn zip3(x: &[f32], y: [f32; 3], z: &[f32; 3]) -> f32 {
    let a: f32 = x.iter().zip(y).zip(z).map(|((a, b), c)| a * b * c).sum();
    let b: f32 = x.iter().rev().enumerate().map(|(i, v)| v * i as f32).sum();
    let c: f32 = x
        .iter()
        .enumerate()
        .rev()
        .skip(1)
        .map(|(i, v)| v * v * i as f32)
        .sum();
    a + b * c
}
#[differentiate(reverse, forward, hessian, graph)]
fn win_t<T: Float + std::iter::Sum>(x: &[T], s: T) -> T {
    let d: T = x.windows(2).map(|w| (w[1] - w[0]) * s).sum();
    let e: T = x.chunks_exact(2).map(|c| c[0] * c[1]).sum();
    -d * e + T::one() / s
}
#[differentiate(reverse, forward, hessian)]
fn compound32(x: [f32; 6], y: f32, n: usize, k: i32) -> f32 {
    let mut h = [0.0_f32; 3];
    for (i, c) in x.chunks_exact(2).enumerate() {
        h[i] += c[0] * y;
        h[i] *= c[1];
        h[i] /= y + 1.0;
        h[i] -= 1.0;
    }
    let m = n as f32;
    let r = if h[0] > 0.0 {
        h[0].powi(k)
    } else if h[1] > 0.0 {
        -h[1] * m
    } else {
        h[2]
    };
    r + h.iter().sum::<f32>() * x.len() as f32
}
#[differentiate(reverse, forward, hessian, graph, wrt(y))]
fn wrt_subset32(x: &[f32], y: f32, z: f32) -> f32 {
    x.iter().map(|v| v * y * z).sum::<f32>() + y * y
}
#[differentiate(reverse, forward)]
fn one_out(x: f64) -> [f64; 1] {
    [x.sin()]
}
#[differentiate(reverse, forward)]
fn one_tuple(x: f64, y: [f64; 2]) -> (f64, [f64; 1], f64) {
    (x * y[0], [y[1].exp()], x + y[1])
}

fn zip3_64(x: &[f64], y: &[f64], z: &[f64]) -> f64 {
    let a: f64 = (0..3).map(|i| x[i] * y[i] * z[i]).sum();
    let b: f64 = (0..3).map(|i| x[2 - i] * i as f64).sum();
    let c: f64 = (0..2).map(|i| x[i] * x[i] * i as f64).sum();
    a + b * c
}

fn compound64(x: &[f64], y: f64, n: usize, k: i32) -> f64 {
    let h: Vec<f64> = (0..3)
        .map(|i| x[2 * i] * y * x[2 * i + 1] / (y + 1.0) - 1.0)
        .collect();
    let r = if h[0] > 0.0 {
        h[0].powi(k)
    } else if h[1] > 0.0 {
        -h[1] * n as f64
    } else {
        h[2]
    };
    r + h.iter().sum::<f64>() * 6.0
}

#[test]
fn closures_in_loops_nested_zips_and_windows_over_slices_in_every_mode() {
    // Closures capturing a mutated local and a loop index: s = y Σx + 12 y⁴.
    let m = modes!(
        [
            closures_more,
            closures_more_grad,
            closures_more_jvp,
            closures_more_hessian,
            closures_more_hvp,
            closures_more_graph,
            "closures_more"
        ],
        (val x: [f64; 3], val y: f64)
    );
    check_modes("closures_more", &m, &[0.3, -0.5, 0.9, 0.7], 1e-6);
    // A closure with a loop in its body, one with two scalars, one taking `&f64`:
    // y Σx + x₀ y + x₂ y.
    let (x, y) = ([1.0, 2.0, 3.0], 0.5);
    let grad = [2.0 * y, y, 2.0 * y, 6.0 + x[0] + x[2]];
    let (v, dx, dy) = closure_loop_grad(x, y);
    assert_eq!(
        (v, with(dx.to_vec(), dy)),
        (closure_loop(x, y), grad.to_vec())
    );
    let (_, t) = closure_loop_jvp(x, [1.0, 0.0, -1.0], y, 2.0);
    assert_eq!(t, grad[0] - grad[2] + 2.0 * grad[3]);
    let (_, _, _, h) = closure_loop_hessian(x, y);
    assert_eq!(h[3], [2.0, 1.0, 2.0, 0.0]);
    let (_, adj) = adjoints(
        &closure_loop_graph(x, y),
        "closure_loop",
        &["x[0]", "x[1]", "x[2]", "y"],
    );
    assert_eq!(adj, grad);
    let (_, dx, dy) = closures_more_grad([0.3, -0.5, 0.9], 0.5);
    near(
        "closures_more closed form",
        &with(dx.to_vec(), dy),
        &[0.5, 0.5, 0.5, 0.7 + 48.0 * 0.125],
        1e-14,
    );

    // f32: zip of three (slice, array, referenced array), rev().enumerate(),
    // enumerate().rev().skip(1).
    let m = modes!(
        [
            |x: &[f64], y: [f64; 3], z: &[f64; 3]| zip3_64(x, &y, z),
            zip3_grad,
            zip3_jvp,
            zip3_hessian,
            zip3_hvp,
            zip3_graph,
            "zip3"
        ],
        (slice x: [f32; 3], val y: [f32; 3], ref z: [f32; 3])
    );
    let p = [0.25, -0.5, 0.75, 1.25, 0.5, -1.0, 0.375, 2.0, -0.625];
    check_modes("zip3", &m, &p, 2e-4);

    // Generic windows and chunks_exact over a slice, unary minus and T::one() / s.
    let m = modes!(
        [
            win_t::<f64>,
            win_t_grad::<f64>,
            win_t_jvp::<f64>,
            win_t_hessian::<f64>,
            win_t_hvp::<f64>,
            win_t_graph::<f64>,
            "win_t"
        ],
        (slice x: [f64; 4], val s: f64)
    );
    check_modes("win_t", &m, &[0.3, -0.5, 0.9, 1.2, 0.7], 1e-6);
}

#[test]
fn compound_assignments_casts_and_integer_exponents_in_f32() {
    // Each branch of the `if` / `else if` / `else`.
    let points: [[f64; 7]; 3] = [
        [1.5, 2.0, 0.5, 0.25, 0.75, -1.0, 1.5],
        [0.25, 1.0, 2.5, 1.5, 0.5, 0.75, 1.5],
        [0.25, 1.0, 0.5, 0.5, 2.5, 1.25, 0.5],
    ];
    for k in [-2, 3] {
        for p in points {
            let n = |p: &[f64]| {
                let x: Vec<f32> = narrow(&p[..6]);
                ([x[0], x[1], x[2], x[3], x[4], x[5]], p[6] as f32)
            };
            let f = |q: &[f64]| compound64(&q[..6], q[6], 4, k);
            let (x, y) = n(&p);
            let (v, dx, dy) = compound32_grad(x, y, 4, k);
            let want = fd_gradient(f, &p);
            near("compound32 value", &[f64::from(v)], &[f(&p)], 1e-5);
            near(
                "compound32 grad",
                &with(wide(&dx), f64::from(dy)),
                &want,
                2e-4,
            );
            let d = direction(7);
            let (dxs, dys) = n(&d);
            let (_, t) = compound32_jvp(x, dxs, y, dys, 4, k);
            near("compound32 jvp", &[f64::from(t)], &[dot(&want, &d)], 2e-4);
            let h = fd_hess(&f, &p);
            let (_, _, _, hess) = compound32_hessian(x, y, 4, k);
            near("compound32 hessian", &flat32(&hess), &h, 2e-3);
            let (_, _, _, hx, hy) = compound32_hvp(x, dxs, y, dys, 4, k);
            let hv = with(wide(&hx), f64::from(hy));
            near("compound32 hvp", &hv, &mat_vec(&h, &d), 2e-3);
        }
    }
    // An i32 exponent from a parameter, in f32 and generic, every mode but the graph.
    assert_eq!(powi_r_grad(2.0, 3), (8.0, 12.0));
    assert_eq!(powi_f_jvp(2.0, 0.5, 3), (8.0, 6.0));
    assert_eq!(powi_h_hessian(2.0, 3), (8.0, 12.0, [[12.0]]));
    assert_eq!(powi_h_hvp(2.0, 0.5, -2), (0.25, -0.25, 0.375 * 0.5));
    assert_eq!(powi_t_grad(2.0_f32, -2), (0.25, -0.25));
    assert_eq!(powi_lit_grad(2.0), (8.0, 12.0));
    assert_eq!(cast_n_grad(2.0, 3), (6.0, 3.0));
    // `wrt(y)` in f32 over a slice: Σx·y·z + y², only y active.
    assert_eq!(wrt_subset32_grad(&[1.0, 2.0], 0.5, 3.0), (4.75, 10.0));
    assert_eq!(
        wrt_subset32_hessian(&[1.0, 2.0], 0.5, 3.0),
        (4.75, 10.0, [[2.0]])
    );
    assert_eq!(
        wrt_subset32_hvp(&[1.0, 2.0], 0.5, 0.25, 3.0),
        (4.75, 10.0, 0.5)
    );
    assert_eq!(wrt_subset32_jvp(&[1.0, 2.0], 0.5, 0.25, 3.0), (4.75, 2.5));
    let g = wrt_subset32_graph(&[1.0, 2.0], 0.5, 3.0);
    assert_eq!(g.node("y").expect("y").adjoint(), 10.0);
}

#[test]
fn single_entry_arrays_in_outputs() {
    let x = 0.5_f64;
    let (out, jac) = one_out_jacobian(x);
    assert_eq!(out, [x.sin()]);
    assert_eq!(jac, [[x.cos()]]);
    assert_eq!(one_out_vjp(x, [2.0]), ([x.sin()], 2.0 * x.cos()));
    assert_eq!(one_out_jvp(x, 3.0), ([x.sin()], [3.0 * x.cos()]));
    let y = [1.0, 2.0];
    let (out, jac) = one_tuple_jacobian(x, y);
    assert_eq!(out, (x * y[0], [y[1].exp()], x + y[1]));
    let e = y[1].exp();
    assert_eq!(jac, [[y[0], x, 0.0], [0.0, 0.0, e], [1.0, 0.0, 1.0]]);
    let (_, dx, dy) = one_tuple_vjp(x, y, (1.0, [2.0], 3.0));
    assert_eq!((dx, dy), (y[0] + 3.0, [x, 2.0 * e + 3.0]));
    let (_, t) = one_tuple_jvp(x, 1.0, y, [0.0, 1.0]);
    assert_eq!(t, (y[0], [e], 2.0));
}
#[differentiate(reverse, forward, hessian, graph)]
fn float_match(x: f64, y: f64) -> f64 {
    let a = match x {
        v if v < 0.0 => v * y,
        v if v > 1.0 && y > 0.0 || !(y < 2.0 && x < 9.0) => v.sqrt(),
        _ => x * x,
    };
    let z = {
        let t = x * y;
        t.sin()
    };
    a + z
}
#[differentiate(reverse, forward, hessian, graph)]
fn fold_path_t<T: Float>(x: [T; 3]) -> T {
    x.iter().copied().fold(T::neg_infinity(), T::max)
}
#[differentiate(reverse, forward, hessian, graph)]
fn fold_path32(x: [f32; 3]) -> f32 {
    x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        + x.iter().copied().fold(f32::INFINITY, f32::min)
}
#[differentiate(reverse, forward, hessian, graph)]
fn rev_ranges<T: Float>(x: &[T], a: T) -> T {
    let mut s = T::zero();
    for i in (0..x.len()).rev() {
        s = s * a + x[i];
    }
    for i in (1..=2).rev() {
        s = s + x[i] * a;
    }
    s
}
#[differentiate(reverse, forward, hessian, graph)]
fn rm_r(x: f64, k: i32) -> f64 {
    let y = match k {
        0 => return x * 2.0,
        _ => x.sin(),
    };
    y * x
}
#[differentiate(reverse, forward, hessian, graph)]
fn ri_r(x: f64) -> f64 {
    let y = if x > 1.0 {
        return x * 2.0;
    } else {
        x.sin()
    };
    y * x
}
#[differentiate(reverse, forward, hessian)]
fn inner32(x: f32) -> f32 {
    x.sin() * x
}
#[differentiate(reverse, forward, hessian, graph)]
fn outer32(x: f32, y: f32) -> f32 {
    let f = |v: f32| inner32(v * y);
    inner32(f(x)) + f(y)
}
#[differentiate(reverse, forward, hessian, graph)]
fn typed_arrays(x: f64, y: f64) -> f64 {
    let v: [f64; 3] = [x, y, x * y];
    let mut w = [0.0; 3];
    for i in 0..3 {
        w[i] = v[i] * v[(i + 1) % 3];
    }
    let s: f64 = v.iter().zip(w.iter()).map(|(a, b)| a * b).sum();
    s
}
#[differentiate(reverse, forward, hessian, graph)]
fn rb_if(x: f64) -> f64 {
    let y = {
        if x > 0.0 {
            return x.exp();
        }
        x
    };
    y * x
}
#[differentiate(reverse, forward, hessian, graph)]
fn rb_match_stmt(x: f64, k: i32) -> f64 {
    let mut y = x;
    match k {
        0 => y = x.cos(),
        _ => {
            if x > 0.0 {
                return x.exp();
            }
        }
    }
    y * x
}

fn outer64(x: f64, y: f64) -> f64 {
    let inner = |v: f64| v.sin() * v;
    let f = |v: f64| inner(v * y);
    inner(f(x)) + f(y)
}

#[test]
fn float_guards_blocks_typed_arrays_and_reversed_ranges_in_every_mode() {
    // Guards on a float scrutinee with `&&`, `||` and `!`, in each arm.
    let f = |p: &[f64]| float_match(p[0], p[1]);
    let m = modes!(
        [
            float_match,
            float_match_grad,
            float_match_jvp,
            float_match_hessian,
            float_match_hvp,
            float_match_graph,
            "float_match"
        ],
        (val x: f64, val y: f64)
    );
    for p in [[1.5, 0.5], [-0.5, 0.5], [0.5, 0.5], [0.5, 2.5]] {
        check_modes("float_match", &m, &p, 1e-6);
        assert_eq!(f(&p), float_match_grad(p[0], p[1]).0);
    }
    let m = modes!(
        [
            typed_arrays,
            typed_arrays_grad,
            typed_arrays_jvp,
            typed_arrays_hessian,
            typed_arrays_hvp,
            typed_arrays_graph,
            "typed_arrays"
        ],
        (val x: f64, val y: f64)
    );
    check_modes("typed_arrays", &m, &[0.5, 0.75], 1e-6);
    // `(0..n).rev()` and `(1..=2).rev()` in a generic function, at f64 and f32.
    let m = modes!(
        [
            rev_ranges::<f64>,
            rev_ranges_grad::<f64>,
            rev_ranges_jvp::<f64>,
            rev_ranges_hessian::<f64>,
            rev_ranges_hvp::<f64>,
            rev_ranges_graph::<f64>,
            "rev_ranges"
        ],
        (slice x: [f64; 3], val a: f64)
    );
    check_modes("rev_ranges", &m, &[0.5, 2.0, 1.0, 0.7], 1e-6);
    let m = modes!(
        [
            rev_ranges::<f64>,
            rev_ranges_grad::<f32>,
            rev_ranges_jvp::<f32>,
            rev_ranges_hessian::<f32>,
            rev_ranges_hvp::<f32>,
            rev_ranges_graph::<f32>,
            "rev_ranges"
        ],
        (slice x: [f32; 3], val a: f32)
    );
    check_modes("rev_ranges f32", &m, &[0.5, 2.0, 1.0, 0.75], 2e-4);
}

#[test]
fn early_returns_from_arms_branches_blocks_and_statements_in_every_mode() {
    let xs = [[-0.5], [0.5], [1.5]];
    for k in [0, 1] {
        let m = modes!(
            [rm_r, rm_r_grad, rm_r_jvp, rm_r_hessian, rm_r_hvp, rm_r_graph, "rm_r"],
            (val x: f64; k)
        );
        let s = modes!(
            [
                rb_match_stmt,
                rb_match_stmt_grad,
                rb_match_stmt_jvp,
                rb_match_stmt_hessian,
                rb_match_stmt_hvp,
                rb_match_stmt_graph,
                "rb_match_stmt"
            ],
            (val x: f64; k)
        );
        for x in xs {
            check_modes(&format!("rm_r k = {k}"), &m, &x, 1e-6);
            check_modes(&format!("rb_match_stmt k = {k}"), &s, &x, 1e-6);
        }
    }
    let i = modes!(
        [ri_r, ri_r_grad, ri_r_jvp, ri_r_hessian, ri_r_hvp, ri_r_graph, "ri_r"],
        (val x: f64)
    );
    let b = modes!(
        [rb_if, rb_if_grad, rb_if_jvp, rb_if_hessian, rb_if_hvp, rb_if_graph, "rb_if"],
        (val x: f64)
    );
    for x in xs {
        check_modes("ri_r", &i, &x, 1e-6);
        check_modes("rb_if", &b, &x, 1e-6);
    }
}

#[test]
fn nested_calls_through_closures_and_folds_by_paths_in_f32() {
    let m = modes!(
        [
            outer64,
            outer32_grad,
            outer32_jvp,
            outer32_hessian,
            outer32_hvp,
            outer32_graph,
            "outer32"
        ],
        (val x: f32, val y: f32)
    );
    check_modes("outer32", &m, &[0.5, 0.75], 2e-4);
    // max + min by `f32::max` / `f32::min`: the gradient picks the argmax and the argmin.
    let x = [0.5_f32, 2.0, 1.0];
    assert_eq!(fold_path32_grad(x), (2.5, [1.0, 1.0, 0.0]));
    assert_eq!(fold_path32_jvp(x, [1.0, 2.0, 4.0]), (2.5, 3.0));
    assert_eq!(fold_path32_hessian(x).2, [[0.0; 3]; 3]);
    assert_eq!(fold_path32_hvp(x, [1.0, 2.0, 4.0]).2, [0.0; 3]);
    let (_, adj) = adjoints(
        &fold_path32_graph(x),
        "fold_path32",
        &["x[0]", "x[1]", "x[2]"],
    );
    assert_eq!(adj, [1.0, 1.0, 0.0]);
    // A tie follows the first argument: the running maximum.
    assert_eq!(fold_path32_grad([2.0, 2.0, 2.0]).1, [2.0, 0.0, 0.0]);
    // The generic one, by a closure.
    assert_eq!(fold_path_t_grad([0.5, 2.0, 1.0]), (2.0, [0.0, 1.0, 0.0]));
    assert_eq!(
        fold_path_t_jvp([0.5_f32, 2.0, 1.0], [1.0, 2.0, 4.0]),
        (2.0, 2.0)
    );
    assert_eq!(fold_path_t_hessian([0.5, 2.0, 1.0]).2, [[0.0; 3]; 3]);
    let g = fold_path_t_graph([0.5, 2.0, 1.0]);
    assert_eq!(g.node("x[1]").expect("x[1]").adjoint(), 1.0);
}
#[differentiate(reverse, forward, hessian, graph)]
fn gen_leaf<T: Float>(x: T, y: T) -> T {
    (x * y).sin() + x
}
#[differentiate(reverse, forward, hessian, graph)]
fn call_gen32(x: f32, y: f32) -> f32 {
    gen_leaf(x, y) * gen_leaf(y, x * x)
}
#[differentiate(reverse, forward, hessian)]
fn arr_leaf(p: [f64; 2]) -> f64 {
    p[0] * p[1].cos()
}
#[differentiate(reverse, forward, hessian)]
fn slice_leaf(p: &[f64]) -> f64 {
    p.iter().map(|v| v * v).sum()
}
#[differentiate(reverse, forward, hessian, graph)]
fn call_literals(x: f64, y: f64) -> f64 {
    arr_leaf([x, y * 2.0]) + slice_leaf(&[x, y, x * y])
}
#[differentiate(reverse, forward, hessian, graph)]
fn call_in_chain(x: &[f64], y: f64) -> f64 {
    x.iter().map(|&v| gen_leaf(v, y)).sum::<f64>()
}
#[derive(Default, Clone)]
struct Inner32 {
    w: [f32; 2],
}
#[derive(Default, Clone)]
struct Outer32 {
    layer: Inner32,
    b: f32,
}
// `&[f32; 2]` on purpose: the referenced array is the parameter kind under test.
#[allow(clippy::trivially_copy_pass_by_ref)]
#[differentiate(reverse, forward, hessian, graph, wrt(p, x))]
fn nested32(p: &Outer32, x: &[f32; 2]) -> f32 {
    (p.layer.w[0] * x[0] + p.layer.w[1] * x[1] + p.b).tanh()
}
#[differentiate(reverse, forward, hessian, graph)]
fn graph_api32(x: f32, y: f32) -> f32 {
    let e = x * y;
    let s = e * e;
    let t = s + e.sin();
    t
}

fn call_gen64(x: f64, y: f64) -> f64 {
    let g = |a: f64, b: f64| (a * b).sin() + a;
    g(x, y) * g(y, x * x)
}

#[test]
fn calls_to_generic_functions_with_literal_arrays_and_slices_in_every_mode() {
    // An f32 function calling a generic one twice.
    let m = modes!(
        [
            call_gen64,
            call_gen32_grad,
            call_gen32_jvp,
            call_gen32_hessian,
            call_gen32_hvp,
            call_gen32_graph,
            "call_gen32"
        ],
        (val x: f32, val y: f32)
    );
    check_modes("call_gen32", &m, &[0.5, 0.75], 2e-4);
    // Array and slice literals as arguments.
    let m = modes!(
        [
            call_literals,
            call_literals_grad,
            call_literals_jvp,
            call_literals_hessian,
            call_literals_hvp,
            call_literals_graph,
            "call_literals"
        ],
        (val x: f64, val y: f64)
    );
    check_modes("call_literals", &m, &[0.5, 0.75], 1e-6);
    // A generic call inside a `map` over a slice.
    let m = modes!(
        [
            call_in_chain,
            call_in_chain_grad,
            call_in_chain_jvp,
            call_in_chain_hessian,
            call_in_chain_hvp,
            call_in_chain_graph,
            "call_in_chain"
        ],
        (slice x: [f64; 3], val y: f64)
    );
    check_modes("call_in_chain", &m, &[0.5, 0.75, -1.25, 0.3], 1e-6);
}

#[test]
fn nested_struct_fields_in_f32_with_a_referenced_array_in_every_mode() {
    // tanh(w₀x₀ + w₁x₁ + b) with respect to the struct and the array.
    let p = Outer32 {
        layer: Inner32 { w: [0.5, -0.25] },
        b: 0.125,
    };
    let x = [1.0_f32, 2.0];
    let z = 0.5 * 1.0 - 0.25 * 2.0 + 0.125_f64;
    let s = 1.0 - z.tanh().powi(2);
    // Order: w₀, w₁, b, x₀, x₁.
    let grad = [s * 1.0, s * 2.0, s, s * 0.5, s * -0.25];
    let (v, dp, dx) = nested32_grad(&p, &x);
    near("nested32 value", &[f64::from(v)], &[z.tanh()], 1e-6);
    let got = [dp.layer.w[0], dp.layer.w[1], dp.b, dx[0], dx[1]];
    near("nested32 grad", &wide(&got), &grad, 1e-6);
    let d = Outer32 {
        layer: Inner32 { w: [1.0, 0.5] },
        b: -1.0,
    };
    let dd = [1.0, 0.5, -1.0, 0.25, 2.0];
    let (_, t) = nested32_jvp(&p, &d, &x, &[0.25, 2.0]);
    near("nested32 jvp", &[f64::from(t)], &[dot(&grad, &dd)], 1e-6);
    // H = s'' · a aᵀ + s · (the bilinear part), with a = ∂z and s'' = −2 tanh z (1 − tanh² z).
    let a = [1.0, 2.0, 1.0, 0.5, -0.25];
    let c = -2.0 * z.tanh() * s;
    let mut hess = vec![0.0; 25];
    for i in 0..5 {
        for j in 0..5 {
            hess[i * 5 + j] = c * a[i] * a[j];
        }
    }
    // ∂²z/∂wᵢ∂xᵢ = 1.
    for (i, j) in [(0, 3), (1, 4)] {
        hess[i * 5 + j] += s;
        hess[j * 5 + i] += s;
    }
    let (_, hp, hx, hvp, hvx) = nested32_hvp(&p, &d, &x, &[0.25, 2.0]);
    let g = [hp.layer.w[0], hp.layer.w[1], hp.b, hx[0], hx[1]];
    near("nested32 hvp grad", &wide(&g), &grad, 1e-6);
    let hv = [hvp.layer.w[0], hvp.layer.w[1], hvp.b, hvx[0], hvx[1]];
    near("nested32 hvp", &wide(&hv), &mat_vec(&hess, &dd), 1e-5);
    let (_, _, _, h) = nested32_hessian(&p, &x);
    let mut h: Vec<f64> = wide(&h);
    let mut want = hess.clone();
    h.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    near("nested32 hessian entries", &h, &want, 1e-5);
    let g = nested32_graph(&p, &x);
    let names = ["p.layer.w[0]", "p.layer.w[1]", "p.b", "x[0]", "x[1]"];
    let (_, adj) = adjoints(&g, "nested32", &names);
    near("nested32 graph", &adj, &grad, 1e-6);
}

#[test]
fn graph_api_on_f32_generic_and_method_functions() {
    // e = xy, s = e², t = s + sin e.
    let (x, y) = (0.5_f32, 0.75_f32);
    let g = graph_api32_graph(x, y);
    let (xd, yd) = (f64::from(x), f64::from(y));
    let e = xd * yd;
    let de = 2.0 * e + e.cos();
    assert_eq!(g.node("e").expect("e").value(), e);
    near("e adjoint", &[g.node("e").unwrap().adjoint()], &[de], 1e-6);
    near(
        "x adjoint",
        &[g.node("x").unwrap().adjoint()],
        &[de * yd],
        1e-6,
    );
    // One edge per pair, summing both uses of `e` in `e * e`.
    assert_eq!(g.local("e", "s"), Some(2.0 * e));
    assert_eq!(g.local("x", "e"), Some(yd));
    assert_eq!(g.local("s", "t"), Some(1.0));
    assert_eq!(g.local("x", "t"), None);
    assert_eq!(g.local("x", "nowhere"), None);
    // Both names find the output.
    let out = g.node("graph_api32").expect("output").value();
    assert_eq!(g.node("t").expect("t").value(), out);
    assert_eq!(out, f64::from(graph_api32(x, y)));
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph"), "{dot}");
    for name in ["x", "y", "e", "s", "t"] {
        assert!(
            dot.contains(&format!("label=\"{name}")) || dot.contains(&format!(": {name} = ")),
            "{name} in {dot}"
        );
    }
    assert_eq!(dot.matches("adjoint = ").count(), g.nodes().len(), "{dot}");
    let svg = g.to_svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let text = g.to_string();
    assert!(
        text.contains("Forward pass") && text.contains("Backward pass"),
        "{text}"
    );

    // A generic function's graph at f32 and at f64 holds the same structure.
    let g32 = fold_chain_graph([0.25_f32, -0.75, 1.125, 0.375], 0.875);
    let g64 = fold_chain_graph([0.25_f64, -0.75, 1.125, 0.375], 0.875);
    assert_eq!(g32.nodes().len(), g64.nodes().len());
    for n in ["x[0]", "x[3]", "c", "fold_chain"] {
        let (a, b) = (g32.node(n).unwrap(), g64.node(n).unwrap());
        near(
            n,
            &[a.value(), a.adjoint()],
            &[b.value(), b.adjoint()],
            1e-5,
        );
    }

    // A method with `wrt(self)`: the fields' nodes are named through `self`.
    let l = Layer {
        w: [0.5, -0.3, 0.9],
        b: 0.2,
        tag: 1,
    };
    let g = l.apply_graph(0.8);
    let (v, d) = l.apply_grad(0.8);
    assert_eq!(g.node("apply").unwrap().value(), v);
    assert_eq!(g.node("self.b").unwrap().adjoint(), d.b);
    assert!(g.to_dot().contains("self.w[2]"));
}
#[differentiate(reverse, forward, hessian, graph)]
fn clamp_at(x: f64, lo: f64, hi: f64) -> f64 {
    x.clamp(lo, hi)
}

#[differentiate(reverse, forward, hessian, graph)]
fn atan2_0(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

#[differentiate(reverse, forward, hessian, graph)]
fn sqsq(x: f64) -> f64 {
    x.sqrt() * x.sqrt()
}

#[differentiate(hessian)]
fn s_asin(x: f64) -> f64 {
    x.asin()
}
#[differentiate(hessian)]
fn s_acos(x: f64) -> f64 {
    x.acos()
}
#[differentiate(hessian)]
fn s_acosh(x: f64) -> f64 {
    x.acosh()
}
#[differentiate(hessian)]
fn s_powf(x: f64) -> f64 {
    x.powf(0.5)
}
#[differentiate(hessian)]
fn s_div(x: f64) -> f64 {
    1.0 / x
}
#[differentiate(hessian)]
fn s_ln(x: f64) -> f64 {
    x.ln()
}
#[differentiate(hessian)]
fn s_powi(x: f64) -> f64 {
    x.powi(-1)
}
#[differentiate(hessian)]
fn s_hypot(x: f64, y: f64) -> f64 {
    x.hypot(y)
}
#[differentiate(hessian)]
fn s_norm(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

#[test]
fn second_order_at_singular_points_follows_the_conventions() {
    let inf = f64::INFINITY;
    // Gradient ±∞ and Hessian ±∞ where the true derivatives are infinite; H·0 = 0 (0 · ∞ = 0).
    assert_eq!(
        s_asin_hessian(1.0),
        (std::f64::consts::FRAC_PI_2, inf, [[inf]])
    );
    assert_eq!(s_asin_hvp(1.0, 0.0).2, 0.0);
    assert_eq!(s_acos_hessian(1.0), (0.0, -inf, [[-inf]]));
    assert_eq!(s_acos_hvp(1.0, 0.0).2, 0.0);
    assert_eq!(s_acosh_hessian(1.0), (0.0, inf, [[-inf]]));
    assert_eq!(s_acosh_hvp(1.0, 0.0).2, 0.0);
    assert_eq!(s_powf_hessian(0.0), (0.0, inf, [[-inf]]));
    assert_eq!(s_powf_hvp(0.0, 0.0).2, 0.0);
    assert_eq!(s_ln_hessian(0.0), (-inf, inf, [[-inf]]));
    assert_eq!(s_ln_hvp(0.0, 0.0).2, 0.0);
    assert_eq!(s_div_hessian(0.0), (inf, -inf, [[inf]]));
    assert_eq!(s_div_hvp(0.0, 0.0).2, 0.0);
    assert_eq!(s_powi_hessian(0.0), (inf, -inf, [[inf]]));
    assert_eq!(s_powi_hvp(0.0, 0.0).2, 0.0);
    // hypot and the norm off the origin: ∂²/∂x² = y² / r³ = 1 at (0, 1).
    assert_eq!(
        s_hypot_hessian(0.0, 1.0),
        (1.0, 0.0, 1.0, [[1.0, 0.0], [0.0, 0.0]])
    );
    assert_eq!(
        s_norm_hessian(0.0, 1.0),
        (1.0, 0.0, 1.0, [[1.0, 0.0], [0.0, 0.0]])
    );
    assert_eq!(s_hypot_hvp(0.0, 1.0, 1.0, 0.0), (1.0, 0.0, 1.0, 1.0, 0.0));
    // At the origin the gradients are the subgradient (0, 0) and H·0 = 0.
    assert_eq!(s_hypot_hvp(0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0, 0.0));
    assert_eq!(s_norm_hvp(0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0, 0.0));
    // A clamp at either bound follows the branch the code takes (the value itself): ∂/∂x = 1.
    for x in [0.0, 1.0] {
        assert_eq!(clamp_at_grad(x, 0.0, 1.0), (x, 1.0, 0.0, 0.0));
        assert_eq!(clamp_at_jvp(x, 1.0, 0.0, 2.0, 1.0, 4.0), (x, 1.0));
        assert_eq!(clamp_at_hessian(x, 0.0, 1.0).4, [[0.0; 3]; 3]);
        let g = clamp_at_graph(x, 0.0, 1.0);
        let (_, adj) = adjoints(&g, "clamp_at", &["x", "lo", "hi"]);
        assert_eq!(adj, [1.0, 0.0, 0.0]);
    }
    // √x · √x at 0: each factor's ∞ meets the other's 0.
    assert_eq!(sqsq_grad(0.0), (0.0, 0.0));
    assert_eq!(sqsq_jvp(0.0, 1.0), (0.0, 0.0));
    assert_eq!(sqsq_hvp(0.0, 0.0), (0.0, 0.0, 0.0));
    assert_eq!(
        sqsq_graph(0.0).node("x").map(autodiff::GraphNode::adjoint),
        Some(0.0)
    );
    // atan2 at the origin: 0, not NaN.
    let (_, dy, dx) = atan2_0_grad(0.0, 0.0);
    assert!(dy == 0.0 && dx == 0.0);
}
#[differentiate(graph)]
fn gnames(x: [f64; 3], y: f64) -> f64 {
    let a = y * 2.0;
    let a = a * a;
    let mut s = 0.0;
    for i in 0..3 {
        let t = x[i] * y;
        s += t;
    }
    s * a
}
#[differentiate(reverse, forward)]
fn multi32(x: &[f32], s: f32) -> (f32, [f32; 2]) {
    let a: f32 = x.iter().map(|v| v * s).sum();
    (a, [a * a, x[0] * s])
}
#[differentiate(reverse, forward, hessian)]
fn into_t<T: Float>(x: &[T], w: &[T], s: T) -> T {
    x.iter()
        .zip(w)
        .map(|(a, b)| *a * *b * s)
        .fold(T::zero(), |p, q| p + q)
}

#[derive(Default, Clone)]
struct Sl32 {
    w: [f32; 2],
}
impl Sl32 {
    #[differentiate(reverse, forward, hessian, graph, wrt(self, x))]
    fn fit(&self, x: &[f32]) -> f32 {
        x.iter().map(|v| (v * self.w[0] - self.w[1]).powi(2)).sum()
    }
}
#[test]
fn buffer_helpers_in_f32_and_generic_and_a_method_over_a_slice() {
    // f32 several outputs over a slice: (a, [a², x₀ s]) with a = s Σx.
    let x = [1.0_f32, 2.0, 3.0];
    let s = 0.5_f32;
    #[rustfmt::skip]
    let want = [
        0.5, 0.5, 0.5, 6.0,
        3.0, 3.0, 3.0, 36.0,
        0.5, 0.0, 0.0, 1.0,
    ];
    let mut jac = vec![f32::NAN; 12];
    let out = multi32_jacobian_into(&x, s, &mut jac);
    assert_eq!(out, (3.0, [9.0, 0.5]));
    assert_eq!(wide(&jac), want);
    let (_, jac) = multi32_jacobian(&x, s);
    assert_eq!(wide(&jac), want);
    let mut dx = vec![1.0_f32; 3];
    let (out, ds) = multi32_vjp_into(&x, &mut dx, s, (1.0, [1.0, 1.0]));
    assert_eq!((out, ds), ((3.0, [9.0, 0.5]), 43.0));
    assert_eq!(dx, [5.0, 4.5, 4.5]);
    let (_, (ta, [tb, tc])) = multi32_jvp(&x, &[1.0, 0.0, 0.0], s, 1.0);
    assert_eq!([ta, tb, tc], [6.5, 39.0, 1.5]);

    // A generic `_grad_into` with two slices adds into both buffers: Σ xᵢ wᵢ s.
    let (x, w) = ([1.0, 2.0, 3.0], [0.5, 0.25, 1.0]);
    let (mut dx, mut dw) = (vec![1.0; 3], vec![2.0; 3]);
    let (v, ds) = into_t_grad_into(&x, &mut dx, &w, &mut dw, 2.0);
    assert_eq!((v, ds), (8.0, 4.0));
    assert_eq!((dx, dw), (vec![2.0, 1.5, 3.0], vec![4.0, 6.0, 8.0]));
    let (v, gx, gw, gs, h) = into_t_hessian(&[1.0_f32, 2.0], &[0.5, 0.25], 2.0);
    assert_eq!((v, gx, gw, gs), (2.0, vec![1.0, 0.5], vec![2.0, 4.0], 1.0));
    // Order x₀, x₁, w₀, w₁, s: ∂²/∂xᵢ∂wᵢ = s, ∂²/∂xᵢ∂s = wᵢ, ∂²/∂wᵢ∂s = xᵢ.
    #[rustfmt::skip]
    let hess = [
        0.0, 0.0, 2.0, 0.0, 0.5,
        0.0, 0.0, 0.0, 2.0, 0.25,
        2.0, 0.0, 0.0, 0.0, 1.0,
        0.0, 2.0, 0.0, 0.0, 2.0,
        0.5, 0.25, 1.0, 2.0, 0.0,
    ];
    assert_eq!(wide(&h), hess);

    // A method over a slice with `wrt(self, x)`, f32: Σ (xᵢ w₀ − w₁)².
    let m = Sl32 { w: [0.5, 2.0] };
    let x = [1.0_f32, 2.0];
    let (v, d, dx) = m.fit_grad(&x);
    assert_eq!((v, d.w, dx), (3.25, [-7.0, 5.0], vec![-1.5, -1.0]));
    let (_, t) = m.fit_jvp(&Sl32 { w: [1.0, 0.0] }, &x, &[0.0, 0.0]);
    assert_eq!(t, -7.0);
    // Order w₀, w₁, x₀, x₁ (the order the body reads them).
    let (_, _, _, h) = m.fit_hessian(&x);
    #[rustfmt::skip]
    let hess = [
        10.0, -6.0, -2.0, 0.0,
        -6.0, 4.0, -1.0, -1.0,
        -2.0, -1.0, 0.5, 0.0,
        0.0, -1.0, 0.0, 0.5,
    ];
    assert_eq!(wide(&h), hess);
    let g = m.fit_graph(&x);
    let (_, adj) = adjoints(&g, "fit", &["self.w[0]", "self.w[1]", "x[0]", "x[1]"]);
    assert_eq!(adj, [-7.0, 5.0, -1.5, -1.0]);

    // Graph names: the last of shadowed bindings, a binding inside a loop, a reassigned sum.
    let g = gnames_graph([1.0, 2.0, 3.0], 0.5);
    let node = |n: &str| g.node(n).map(|n| (n.value(), n.adjoint()));
    assert_eq!(node("a"), Some((1.0, 3.0)));
    assert_eq!(node("t"), Some((1.5, 1.0)));
    assert_eq!(node("s"), Some((3.0, 1.0)));
    assert_eq!(node("gnames"), Some((3.0, 1.0)));
    assert_eq!(node("y").map(|n| n.1), Some(18.0));
}
#[differentiate(reverse, forward, hessian, graph)]
fn match_more(x: [f32; 4], k: i32) -> f32 {
    let mut s = 0.0;
    for i in 0..4 {
        s += match i % 3 {
            0 | 2 => x[i] * x[i],
            _ => x[i].sin(),
        };
    }
    let c = match k {
        i32::MIN..=-1 => s * 2.0,
        0..3 => s.sqrt(),
        3.. => -s,
    };
    c
}
#[test]
fn or_patterns_and_open_ranges_in_match_in_f32_in_every_mode() {
    let x = [0.5_f32, 1.0, -0.75, 2.0];
    let xd = wide(&x);
    // s = x₀² + sin x₁ + x₂² + x₃² (index 3 is 0 mod 3).
    let s = xd[0] * xd[0] + xd[1].sin() + xd[2] * xd[2] + xd[3] * xd[3];
    let gs = [2.0 * xd[0], xd[1].cos(), 2.0 * xd[2], 2.0 * xd[3]];
    let hs = [2.0, -xd[1].sin(), 2.0, 2.0];
    let v = [1.0, -0.5, 0.25, 2.0];
    for k in [-5, 1, 7] {
        // c = 2s, √s or −s, with its gradient and Hessian.
        let (c, dc, ddc) = match k {
            ..=-1 => (2.0 * s, 2.0, 0.0),
            0..3 => (s.sqrt(), 0.5 / s.sqrt(), -0.25 / (s * s.sqrt())),
            _ => (-s, -1.0, 0.0),
        };
        let grad: Vec<f64> = gs.iter().map(|g| dc * g).collect();
        let mut hess = vec![0.0; 16];
        for i in 0..4 {
            for j in 0..4 {
                hess[i * 4 + j] = ddc * gs[i] * gs[j] + if i == j { dc * hs[i] } else { 0.0 };
            }
        }
        let what = format!("match_more k = {k}");
        let (val, g) = match_more_grad(x, k);
        near(&what, &[f64::from(val)], &[c], 1e-6);
        near(&what, &wide(&g), &grad, 1e-6);
        let (_, t) = match_more_jvp(x, narrow(&v).try_into().unwrap(), k);
        near(&what, &[f64::from(t)], &[dot(&grad, &v)], 1e-6);
        let (_, _, h) = match_more_hessian(x, k);
        near(&what, &flat32(&h), &hess, 1e-5);
        let (_, _, hv) = match_more_hvp(x, narrow(&v).try_into().unwrap(), k);
        near(&what, &wide(&hv), &mat_vec(&hess, &v), 1e-5);
        let g = match_more_graph(x, k);
        let (_, adj) = adjoints(&g, "match_more", &["x[0]", "x[1]", "x[2]", "x[3]"]);
        near(&what, &adj, &grad, 1e-6);
    }
}
#[differentiate(reverse, forward, hessian, graph)]
fn fill_active(x: f64, n: usize) -> f64 {
    let v = vec![x; n];
    let a = [x * 2.0; 3];
    v.iter().sum::<f64>() * a[1] + a.iter().product::<f64>()
}
#[differentiate(reverse, forward, hessian, graph)]
fn idx_chain(x: [f64; 6], y: f64) -> f64 {
    let a: f64 = x
        .iter()
        .skip(1)
        .enumerate()
        .map(|(i, v)| v * (i as f64 + 1.0))
        .sum();
    let b: f64 = x
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, v)| v * i as f64)
        .sum();
    let c: f64 = x
        .iter()
        .enumerate()
        .step_by(2)
        .map(|(i, v)| v * v * i as f64)
        .sum();
    let d: f64 = x
        .iter()
        .step_by(2)
        .enumerate()
        .map(|(i, v)| v * i as f64)
        .sum();
    let e: f64 = x
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1] - w[0]) * i as f64)
        .sum();
    let f: f64 = x
        .chunks_exact(2)
        .rev()
        .enumerate()
        .map(|(i, c)| c[0] * c[1] * i as f64)
        .sum();
    let g: f64 = x
        .iter()
        .zip(x.iter().rev())
        .enumerate()
        .map(|(i, (p, q))| p * q * i as f64)
        .sum();
    let h: f64 = x
        .iter()
        .skip(1)
        .take(3)
        .rev()
        .enumerate()
        .map(|(i, v)| v * i as f64)
        .sum();
    let k: f64 = x.iter().rev().skip(2).step_by(2).map(|v| v * y).sum();
    a + b * y + c + d * y + e + f + g + h * y + k
}
fn idx_chain64(x: &[f64], y: f64) -> f64 {
    let a: f64 = (1..6).map(|j| x[j] * j as f64).sum();
    let b: f64 = (1..6).map(|j| x[j] * j as f64).sum();
    let c: f64 = [0, 2, 4].iter().map(|&j| x[j] * x[j] * j as f64).sum();
    let d: f64 = x[2] + 2.0 * x[4];
    let e: f64 = (0..5).map(|j| (x[j + 1] - x[j]) * j as f64).sum();
    let f: f64 = x[2] * x[3] + 2.0 * x[0] * x[1];
    let g: f64 = (0..6).map(|j| x[j] * x[5 - j] * j as f64).sum();
    let h: f64 = x[2] + 2.0 * x[1];
    let k: f64 = (x[3] + x[1]) * y;
    a + b * y + c + d * y + e + f + g + h * y + k
}
#[test]
fn enumerate_indices_before_and_after_adaptors_in_every_mode() {
    let p = [0.3, -0.7, 1.1, 0.4, 0.8, -1.2, 0.6];
    let arr = |q: &[f64]| [q[0], q[1], q[2], q[3], q[4], q[5]];
    // The same sums written with explicit indices.
    assert!((idx_chain(arr(&p), p[6]) - idx_chain64(&p[..6], p[6])).abs() < 1e-14);
    let m = modes!(
        [
            |x: [f64; 6], y: f64| idx_chain64(&x, y),
            idx_chain_grad,
            idx_chain_jvp,
            idx_chain_hessian,
            idx_chain_hvp,
            idx_chain_graph,
            "idx_chain"
        ],
        (val x: [f64; 6], val y: f64)
    );
    check_modes("idx_chain", &m, &p, 1e-6);
}
#[differentiate(reverse, forward, hessian, graph)]
fn closure_loop(x: [f64; 3], y: f64) -> f64 {
    let f = |v: f64| {
        let mut s = 0.0;
        for i in 0..3 {
            s += v * x[i];
        }
        s
    };
    let g = |a: f64, b: f64| a * b;
    let h = |v: &f64| v * y;
    f(y) + g(x[0], y) + h(&x[2])
}
