//! Raw identifiers (`r#type`) as parameters, locals, arrays, loop variables and call
//! arguments: the derivative names built from them (`d_type`, `type_next`, ...) are valid
//! identifiers, and keywords stay raw where the generated code writes them.
#![allow(non_snake_case, clippy::needless_range_loop)]
use autodiff::differentiate;

/// A raw local assigned in a loop: its adjoint and tangent variables are named after it.
#[differentiate(reverse, forward)]
fn raw_local_in_loop(x: f64, n: usize) -> f64 {
    let mut r#type = 0.0;
    for _ in 0..n {
        r#type = r#type * x + 1.0;
    }
    r#type * x
}

#[test]
fn raw_local_assigned_in_a_loop() {
    // f = x (1 + x + x²) for n = 3; f' = 1 + 2x + 3x².
    let x = 0.7;
    let (v, d) = raw_local_in_loop_grad(x, 3);
    assert_eq!(v, raw_local_in_loop(x, 3));
    assert!((d - (1.0 + 2.0 * x + 3.0 * x * x)).abs() < 1e-14, "{d}");
    let (vj, t) = raw_local_in_loop_jvp(x, 1.0, 3);
    assert_eq!(vj, v);
    assert!((t - d).abs() < 1e-14);
}

/// Parameters that are keywords and can only be written raw: `r#fn`, `r#match`, `r#loop`.
#[differentiate(reverse, forward)]
fn keyword_params(r#fn: f64, r#match: f64, r#loop: f64) -> f64 {
    let r#if = r#fn * r#match;
    r#if + r#loop.sin() * r#fn
}

#[test]
fn keyword_parameters() {
    let (a, b, c) = (0.3, -1.2, 0.8);
    let (v, da, db, dc) = keyword_params_grad(a, b, c);
    assert_eq!(v, keyword_params(a, b, c));
    // ∂/∂fn = match + sin(loop), ∂/∂match = fn, ∂/∂loop = cos(loop) fn.
    assert!((da - (b + c.sin())).abs() < 1e-15);
    assert!((db - a).abs() < 1e-15);
    assert!((dc - c.cos() * a).abs() < 1e-15);
    assert!((keyword_params_jvp(a, 1.0, b, 0.0, c, 0.0).1 - da).abs() < 1e-15);
    assert!((keyword_params_jvp(a, 0.0, b, 0.0, c, 1.0).1 - dc).abs() < 1e-15);
}

/// A raw parameter that is not a keyword (`r#x` is the identifier `x`), and a parameter named
/// like the derivative of another (`d_x`): the generated names must not collide.
#[differentiate(reverse, forward)]
fn raw_and_derivative_names(r#x: f64, d_x: f64) -> f64 {
    x * d_x + r#x * r#x
}

#[test]
fn raw_parameter_beside_a_derivative_name() {
    let (x, y) = (1.5, -0.5);
    let (v, dx, dy) = raw_and_derivative_names_grad(x, y);
    assert_eq!(v, raw_and_derivative_names(x, y));
    assert!((dx - (y + 2.0 * x)).abs() < 1e-15);
    assert!((dy - x).abs() < 1e-15);
    assert!((raw_and_derivative_names_jvp(x, 1.0, y, 0.0).1 - dx).abs() < 1e-15);
    assert!((raw_and_derivative_names_jvp(x, 0.0, y, 1.0).1 - dy).abs() < 1e-15);
}

/// Raw array parameters and a raw local array overwritten in a loop.
#[differentiate(reverse, forward)]
fn raw_arrays(r#struct: &[f64], r#in: [f64; 2]) -> f64 {
    let mut r#ref = [0.0; 2];
    let mut r#let = 0.0;
    for r#for in 0..r#struct.len() {
        r#ref[0] = r#struct[r#for] * r#in[0];
        r#ref[1] = r#struct[r#for] * r#in[1];
        r#let += r#ref[0] * r#ref[1];
    }
    r#let
}

#[test]
fn raw_arrays_and_loop_counter() {
    // f = Σ s_i² a b: ∂/∂s_i = 2 s_i a b, ∂/∂a = Σ s_i² b, ∂/∂b = Σ s_i² a.
    let s = [0.5, -1.0, 2.0];
    let ab = [1.5, -0.25];
    let sq: f64 = s.iter().map(|v| v * v).sum();
    let (v, ds, dab) = raw_arrays_grad(&s, ab);
    assert_eq!(v, raw_arrays(&s, ab));
    for i in 0..3 {
        assert!((ds[i] - 2.0 * s[i] * ab[0] * ab[1]).abs() < 1e-14);
    }
    assert!((dab[0] - sq * ab[1]).abs() < 1e-14);
    assert!((dab[1] - sq * ab[0]).abs() < 1e-14);
    let mut buffer = [0.0; 3];
    let (vi, dab_into) = raw_arrays_grad_into(&s, &mut buffer, ab);
    assert_eq!(vi, v);
    assert_eq!(buffer.to_vec(), ds);
    assert_eq!(dab_into, dab);
    let (vj, t) = raw_arrays_jvp(&s, &[0.0, 1.0, 0.0], ab, [0.0, 0.0]);
    assert_eq!(vj, v);
    assert!((t - ds[1]).abs() < 1e-14);
}

/// `wrt` names a raw parameter, as written or without `r#`.
#[differentiate(reverse, forward, wrt(r#type))]
fn wrt_raw(r#type: f64, r#const: f64) -> f64 {
    r#type * r#type * r#const
}

#[test]
fn wrt_names_a_raw_parameter() {
    let (v, d) = wrt_raw_grad(3.0, 0.5);
    assert_eq!(v, 4.5);
    assert_eq!(d, 3.0);
    assert_eq!(wrt_raw_jvp(3.0, 1.0, 0.5), (4.5, 3.0));
}

/// A differentiated callee with raw parameters, called with raw arguments in a loop.
#[differentiate(reverse, forward)]
fn raw_callee(r#use: f64, r#mod: f64) -> f64 {
    r#use * r#mod.exp()
}

#[differentiate(reverse, forward)]
fn raw_caller(r#where: &[f64], r#dyn: f64) -> f64 {
    let mut r#move = 0.0;
    for r#impl in 0..r#where.len() {
        r#move += raw_callee(r#where[r#impl], r#dyn);
    }
    r#move
}

#[test]
fn raw_arguments_of_a_call_in_a_loop() {
    let w = [1.0, 2.0, -0.5];
    let y = 0.25;
    let (v, dw, dy) = raw_caller_grad(&w, y);
    assert_eq!(v, raw_caller(&w, y));
    for d in &dw {
        assert!((d - y.exp()).abs() < 1e-15);
    }
    let sum: f64 = w.iter().sum();
    assert!((dy - sum * y.exp()).abs() < 1e-14);
    let (_, t) = raw_caller_jvp(&w, &[0.0; 3], y, 1.0);
    assert!((t - dy).abs() < 1e-14);
}

/// A slice parameter beside a parameter named like its gradient buffer: `f_grad` allocates the
/// buffer under a name of its own.
#[differentiate(reverse)]
fn slice_beside_d_name(x: &[f64], d_x: f64) -> f64 {
    x[0] * x[1] * d_x
}

#[test]
fn slice_gradient_beside_a_parameter_named_d_x() {
    let (v, dx, dd) = slice_beside_d_name_grad(&[2.0, 3.0], 0.5);
    assert_eq!(v, 3.0);
    assert_eq!(dx, vec![1.5, 1.0]);
    assert_eq!(dd, 6.0);
}
