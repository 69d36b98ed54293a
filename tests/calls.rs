//! Calls between differentiated functions, hand-written derivatives, and methods.
// The differentiated bodies loop over integer ranges, the form `#[differentiate]` takes.
#![allow(clippy::needless_range_loop)]
use approx::assert_relative_eq;
use autodiff::differentiate;

#[differentiate(reverse, forward)]
fn square(x: f64) -> f64 {
    x * x
}

#[differentiate(reverse, forward)]
fn scaled_sin(a: f64, b: f64) -> f64 {
    a * b.sin()
}

/// Four levels of composition: `outer(x) = scaled_sin(square(x), x) + square(inner(x))`.
#[differentiate(reverse, forward)]
fn inner(x: f64) -> f64 {
    scaled_sin(square(x), x)
}

#[differentiate(reverse, forward)]
fn middle(x: f64, y: f64) -> f64 {
    let t = inner(x) * y;
    square(t) + inner(y)
}

#[differentiate(reverse, forward)]
fn outer(x: f64, y: f64, n: i32) -> f64 {
    let mut s = 0.0;
    for k in 0..n {
        s += middle(x, y) * f64::from(k);
    }
    if s > 1.0 {
        square(s).sqrt()
    } else {
        middle(y, x)
    }
}

/// An opaque function the macro cannot see into, with a hand-written derivative: the
/// `g_grad` convention is all it takes.
fn opaque(x: f64) -> f64 {
    // Imagine a lookup table or a foreign library.
    x.tanh() * 3.0
}

/// The hand-written derivative: value first, then one entry per float argument.
fn opaque_grad(x: f64) -> (f64, f64) {
    let t = x.tanh();
    (t * 3.0, 3.0 * (1.0 - t * t))
}

/// Forward mode's counterpart: value and directional derivative.
fn opaque_jvp(x: f64, d_x: f64) -> (f64, f64) {
    let (v, d) = opaque_grad(x);
    (v, d * d_x)
}

#[differentiate(reverse, forward)]
fn uses_opaque(x: f64, y: f64) -> f64 {
    opaque(x * y) + opaque(x) * y
}

/// A model with constants in its fields.
struct Model {
    scale: f64,
    bias: f64,
}

impl Model {
    #[differentiate(reverse, forward)]
    fn activation(&self, z: f64) -> f64 {
        (self.scale * z + self.bias).tanh()
    }

    #[differentiate(reverse, forward)]
    fn loss(&self, w: f64, x: f64) -> f64 {
        let a = self.activation(w * x);
        (a - 0.5).powi(2)
    }
}

#[differentiate(reverse, forward)]
fn single(x: f32, y: f32) -> f32 {
    square32(x) * y
}

#[differentiate(reverse, forward)]
fn square32(x: f32) -> f32 {
    x * x
}

/// `f_jvp` along each unit direction, against the gradient.
fn assert_modes_agree(grad: &[f64], jvp: impl Fn(usize) -> f64) {
    for (i, &g) in grad.iter().enumerate() {
        assert_relative_eq!(jvp(i), g, max_relative = 1e-12, epsilon = 1e-14);
    }
}

#[test]
fn composition_four_deep() {
    for &(x, y) in &[(0.3, 0.7), (-1.2, 0.4), (2.0, -0.5)] {
        let (v, dx, dy) = middle_grad(x, y);
        assert_eq!(v.to_bits(), middle(x, y).to_bits());
        autodiff::check_gradient(|p| middle(p[0], p[1]), &[x, y], &[dx, dy]).unwrap();
        // inner(x) = x² sin x, so inner' = 2x sin x + x² cos x.
        let (vi, di) = inner_grad(x);
        assert_eq!(vi, x * x * x.sin());
        assert_relative_eq!(
            di,
            2.0 * x * x.sin() + x * x * x.cos(),
            max_relative = 1e-12
        );
        assert_modes_agree(&[dx, dy], |i| {
            let d = [f64::from(u8::from(i == 0)), f64::from(u8::from(i == 1))];
            middle_jvp(x, d[0], y, d[1]).1
        });
    }
}

#[test]
fn calls_inside_loops_and_branches() {
    for &(x, y, n) in &[
        (0.3, 0.7, 3),
        (0.01, 0.02, 2),
        (1.1, -0.3, 0),
        (0.5, 0.5, 1),
    ] {
        let (v, dx, dy) = outer_grad(x, y, n);
        assert_eq!(v.to_bits(), outer(x, y, n).to_bits());
        autodiff::check_gradient(|p| outer(p[0], p[1], n), &[x, y], &[dx, dy]).unwrap();
        assert_relative_eq!(outer_jvp(x, 1.0, y, 0.0, n).1, dx, max_relative = 1e-12);
        assert_relative_eq!(outer_jvp(x, 0.0, y, 1.0, n).1, dy, max_relative = 1e-12);
    }
}

#[test]
fn hand_written_derivative() {
    for &(x, y) in &[(0.3, 0.7), (-1.0, 2.0)] {
        let (v, dx, dy) = uses_opaque_grad(x, y);
        assert_eq!(v, uses_opaque(x, y));
        // d/dx = 3 sech²(xy)·y + 3 sech²(x)·y; d/dy = 3 sech²(xy)·x + 3 tanh x.
        let sech2 = |t: f64| 1.0 - t.tanh() * t.tanh();
        assert_relative_eq!(
            dx,
            3.0 * sech2(x * y) * y + 3.0 * sech2(x) * y,
            max_relative = 1e-12
        );
        assert_relative_eq!(
            dy,
            3.0 * sech2(x * y) * x + 3.0 * x.tanh(),
            max_relative = 1e-12
        );
        assert_relative_eq!(uses_opaque_jvp(x, 1.0, y, 0.0).1, dx, max_relative = 1e-12);
        assert_relative_eq!(uses_opaque_jvp(x, 0.0, y, 1.0).1, dy, max_relative = 1e-12);
    }
}

#[test]
fn methods_with_self_as_a_constant() {
    let m = Model {
        scale: 1.5,
        bias: -0.2,
    };
    for &(w, x) in &[(0.3, 0.7), (-0.4, 1.3)] {
        let (v, dw, dx) = m.loss_grad(w, x);
        assert_eq!(v, m.loss(w, x));
        // a = tanh(s·w·x + b); L = (a - 0.5)²; dL/dw = 2(a - 0.5)(1 - a²)·s·x.
        let a = (m.scale * w * x + m.bias).tanh();
        let common = 2.0 * (a - 0.5) * (1.0 - a * a) * m.scale;
        assert_relative_eq!(dw, common * x, max_relative = 1e-12);
        assert_relative_eq!(dx, common * w, max_relative = 1e-12);
        assert_relative_eq!(m.loss_jvp(w, 1.0, x, 0.0).1, dw, max_relative = 1e-12);
        let (va, da) = m.activation_grad(w);
        assert_eq!(va, m.activation(w));
        autodiff::check_gradient(|p| m.activation(p[0]), &[w], &[da]).unwrap();
    }
}

#[test]
fn single_precision_calls() {
    let (v, dx, dy) = single_grad(1.5, 2.0);
    assert_eq!(v, single(1.5, 2.0));
    assert_eq!((dx, dy), (6.0, 2.25));
    assert_eq!(single_jvp(1.5, 1.0, 2.0, 0.0).1, 6.0);
}

/// `Σ wᵢ xᵢ` over slices, differentiated; called with slices below.
#[differentiate(reverse, forward)]
fn weighted(w: &[f64], x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..w.len() {
        s += w[i] * x[i];
    }
    s
}

/// `(Σ wᵢ xᵢ + b)²` through a call that takes the slices, and a local array passed by reference.
#[differentiate(reverse, forward)]
fn through_slices(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut h = [0.0; 3];
    for i in 0..3 {
        h[i] = x[i] * b;
    }
    let s = weighted(w, x) + b;
    s * s + weighted(w, &h)
}

#[test]
fn calls_with_slices_and_arrays() {
    let w = [0.5, -1.0, 2.0];
    let x = [1.5, 0.25, -0.75];
    let b = 0.3;
    let (v, dw, dx, db) = through_slices_grad(&w, &x, b);
    assert_eq!(v, through_slices(&w, &x, b));
    // f = s² + b Σ wᵢ xᵢ with s = Σ wᵢ xᵢ + b: ∂f/∂wᵢ = (2s + b) xᵢ, ∂f/∂xᵢ = (2s + b) wᵢ,
    // ∂f/∂b = 2s + Σ wᵢ xᵢ.
    let dot: f64 = w.iter().zip(&x).map(|(w, x)| w * x).sum();
    let s = dot + b;
    for i in 0..3 {
        assert_relative_eq!(dw[i], (2.0 * s + b) * x[i], max_relative = 1e-12);
        assert_relative_eq!(dx[i], (2.0 * s + b) * w[i], max_relative = 1e-12);
    }
    assert_relative_eq!(db, 2.0 * s + dot, max_relative = 1e-12);
    let tangent = through_slices_jvp(&w, &[1.0, 0.0, 0.0], &x, &[0.0; 3], b, 0.0).1;
    assert_relative_eq!(tangent, dw[0], max_relative = 1e-12);
    let tangent = through_slices_jvp(&w, &[0.0; 3], &x, &[0.0; 3], b, 1.0).1;
    assert_relative_eq!(tangent, db, max_relative = 1e-12);
}

/// `x₀² + x₁`, called below with whole arrays.
#[differentiate(reverse, forward)]
fn sum2(x: &[f64]) -> f64 {
    x[0] * x[0] + x[1]
}

/// A local array declared before the loop, overwritten in every iteration and passed whole:
/// each iteration's call must be differentiated at that iteration's contents. The loop only
/// accumulates, so its backward code runs inside it.
#[differentiate(reverse, forward)]
fn array_before_loop(a: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..a.len() {
        h[0] = a[i];
        h[1] = a[i];
        s += sum2(&h);
    }
    s
}

/// The same, reversed as a second loop (the output reads `s`).
#[differentiate(reverse, forward)]
fn array_before_loop_reversed(a: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..a.len() {
        h[0] = a[i];
        h[1] = a[i];
        s += sum2(&h);
    }
    s * s
}

/// Declared inside the loop, reversed as a second loop.
#[differentiate(reverse, forward)]
fn array_inside_loop_reversed(a: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        let mut h = [0.0; 2];
        h[0] = a[i];
        h[1] = a[i];
        s += sum2(&h);
    }
    s * s
}

/// In a `while` loop, under a branch, and in a nested loop; `s` is multiplied, so nothing
/// fuses and every call's gradient goes on the tape.
#[differentiate(reverse, forward)]
fn array_in_while_and_branches(a: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 1.0;
    let mut i = 0;
    while i < a.len() {
        h[0] = a[i];
        h[1] = a[i] * a[i];
        if a[i] > 0.0 {
            s *= 1.0 + 0.1 * sum2(&h);
        } else {
            for j in 0..2 {
                h[j] *= 0.5;
            }
            s *= 1.0 + 0.2 * sum2(&h);
        }
        i += 1;
    }
    s
}

/// A whole array read by a call whose value is a constant factor: the backward sweep needs the
/// call's value of each iteration, not one computed again from the array's final contents.
#[differentiate(reverse, forward)]
fn constant_call_in_loop(a: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    let mut k = 0.0;
    for i in 0..a.len() {
        h[0] = k;
        h[1] = k;
        s += a[i] * sum2(&h);
        k += 1.0;
    }
    s * s
}

/// `Σ (aᵢ² + aᵢ)` and `(Σ aᵢ² + aᵢ)²`, with their gradients, by hand.
fn sum_closed(a: &[f64]) -> (f64, Vec<f64>) {
    let s: f64 = a.iter().map(|x| x * x + x).sum();
    (s, a.iter().map(|x| 2.0 * x + 1.0).collect())
}

/// `f_jvp` along each unit direction of a slice parameter, against `grad`.
fn assert_slice_modes_agree(grad: &[f64], jvp: impl Fn(&[f64]) -> f64) {
    for i in 0..grad.len() {
        let mut d = vec![0.0; grad.len()];
        d[i] = 1.0;
        assert_relative_eq!(jvp(&d), grad[i], max_relative = 1e-12, epsilon = 1e-14);
    }
}

#[test]
fn array_overwritten_in_a_loop_and_passed_whole() {
    let a = [1.0, 2.0, 3.0];
    let (v, d) = array_before_loop_grad(&a);
    assert_eq!(v.to_bits(), array_before_loop(&a).to_bits());
    assert_eq!(d, vec![3.0, 5.0, 7.0]);
    assert_slice_modes_agree(&d, |t| array_before_loop_jvp(&a, t).1);
    for &a in &[[1.0, 2.0, 3.0], [-0.5, 0.25, 1.5]] {
        let (s, ds) = sum_closed(&a);
        for (v, d) in [
            array_before_loop_reversed_grad(&a),
            array_inside_loop_reversed_grad(&a),
        ] {
            assert_relative_eq!(v, s * s, max_relative = 1e-12);
            for i in 0..3 {
                assert_relative_eq!(d[i], 2.0 * s * ds[i], max_relative = 1e-12);
            }
            autodiff::check_gradient(array_inside_loop_reversed, &a, &d).unwrap();
        }
        assert_eq!(
            array_before_loop_reversed_grad(&a).0.to_bits(),
            array_before_loop_reversed(&a).to_bits()
        );
        let (_, d) = array_inside_loop_reversed_grad(&a);
        assert_slice_modes_agree(&d, |t| array_inside_loop_reversed_jvp(&a, t).1);
        let (_, d) = array_before_loop_reversed_grad(&a);
        assert_slice_modes_agree(&d, |t| array_before_loop_reversed_jvp(&a, t).1);
    }
}

#[test]
fn array_passed_whole_in_while_branches_and_nested_loops() {
    for a in [
        vec![0.5, -0.3, 1.2, -0.7],
        vec![-1.0],
        vec![],
        vec![0.1, 0.2, -0.4, 0.8, -0.9],
    ] {
        let (v, d) = array_in_while_and_branches_grad(&a);
        assert_eq!(v.to_bits(), array_in_while_and_branches(&a).to_bits());
        // By hand: each factor is 1 + c·(u² + w) with (u, w) = (a, a²), halved when a ≤ 0.
        let mut expected = Vec::new();
        for (i, &x) in a.iter().enumerate() {
            let (c, h) = if x > 0.0 { (0.1, 1.0) } else { (0.2, 0.5) };
            let factor = 1.0 + c * ((h * x) * (h * x) + h * x * x);
            let dfactor = c * (2.0 * h * h * x + 2.0 * h * x);
            let rest: f64 = a
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &y)| {
                    let (c, h) = if y > 0.0 { (0.1, 1.0) } else { (0.2, 0.5) };
                    1.0 + c * ((h * y) * (h * y) + h * y * y)
                })
                .product();
            let _ = factor;
            expected.push(dfactor * rest);
        }
        for i in 0..a.len() {
            assert_relative_eq!(d[i], expected[i], max_relative = 1e-12, epsilon = 1e-15);
        }
        if !a.is_empty() {
            autodiff::check_gradient(array_in_while_and_branches, &a, &d).unwrap();
        }
        assert_slice_modes_agree(&d, |t| array_in_while_and_branches_jvp(&a, t).1);
    }
}

#[test]
fn constant_call_of_an_overwritten_array() {
    let a = [0.3, -1.1, 0.7, 2.0];
    let (v, d) = constant_call_in_loop_grad(&a);
    assert_eq!(v.to_bits(), constant_call_in_loop(&a).to_bits());
    // s = Σ aᵢ (i² + i), f = s².
    let c: Vec<f64> = (0..4).map(|i| f64::from(i * i + i)).collect();
    let s: f64 = a.iter().zip(&c).map(|(x, c)| x * c).sum();
    for i in 0..4 {
        assert_relative_eq!(d[i], 2.0 * s * c[i], max_relative = 1e-12);
    }
    assert_slice_modes_agree(&d, |t| constant_call_in_loop_jvp(&a, t).1);
}

/// Constants the macro cannot see the type of.
#[derive(Default)]
struct Params {
    scale: f64,
    shift: f64,
}

/// A differentiated helper taking a `&Params` (a constant: no gradient entry).
#[differentiate(reverse, forward)]
fn scaled(p: &Params, x: f64) -> f64 {
    p.scale * x * x + p.shift
}

#[differentiate(reverse, forward)]
fn uses_scaled(p: &Params, x: f64, y: f64) -> f64 {
    scaled(p, x * y) + y
}

/// `ADBench`'s Wishart prior: an integer field and a float field of a constant struct.
struct Wishart {
    gamma: f64,
    m: i32,
}

#[differentiate(reverse, forward)]
fn prior_term(m: i32, gamma: f64, x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += gamma * x[i] * x[i];
    }
    s * f64::from(m)
}

#[differentiate(reverse, forward)]
fn uses_prior(wishart: &Wishart, x: &[f64], w: f64) -> f64 {
    // A float field passes as a float once bound with its type.
    let gamma: f64 = wishart.gamma;
    w * prior_term(wishart.m, gamma, x)
}

/// A helper with `wrt` naming every float parameter: its `g_grad` has the usual entries.
#[differentiate(reverse, forward, wrt(x, y))]
fn wrt_all(n: i32, x: f64, y: f64) -> f64 {
    x * y * f64::from(n)
}

#[differentiate(reverse, forward)]
fn uses_wrt_all(x: f64, y: f64) -> f64 {
    wrt_all(3, x, y) + x
}

#[test]
fn struct_and_integer_arguments() {
    let p = Params {
        scale: 1.5,
        shift: -0.25,
    };
    let _ = Params::default();
    for &(x, y) in &[(0.3, 0.7), (-1.2, 0.4)] {
        let (v, dx, dy) = uses_scaled_grad(&p, x, y);
        assert_eq!(v.to_bits(), uses_scaled(&p, x, y).to_bits());
        // f = s (xy)² + shift + y: ∂x = 2 s x y², ∂y = 2 s x² y + 1.
        assert_relative_eq!(dx, 2.0 * p.scale * x * y * y, max_relative = 1e-12);
        assert_relative_eq!(dy, 2.0 * p.scale * x * x * y + 1.0, max_relative = 1e-12);
        assert_relative_eq!(
            uses_scaled_jvp(&p, x, 1.0, y, 0.0).1,
            dx,
            max_relative = 1e-12
        );
        assert_relative_eq!(
            uses_scaled_jvp(&p, x, 0.0, y, 1.0).1,
            dy,
            max_relative = 1e-12
        );
    }
    let wishart = Wishart { gamma: 0.5, m: 3 };
    let x = [0.5, -1.0, 2.0];
    let w = 0.75;
    let (v, dx, dw) = uses_prior_grad(&wishart, &x, w);
    assert_eq!(v.to_bits(), uses_prior(&wishart, &x, w).to_bits());
    // f = w m γ Σ xᵢ²: ∂xᵢ = 2 w m γ xᵢ, ∂w = m γ Σ xᵢ².
    let sq: f64 = x.iter().map(|x| x * x).sum();
    for i in 0..3 {
        assert_relative_eq!(dx[i], 2.0 * w * 3.0 * 0.5 * x[i], max_relative = 1e-12);
    }
    assert_relative_eq!(dw, 3.0 * 0.5 * sq, max_relative = 1e-12);
    assert_relative_eq!(
        uses_prior_jvp(&wishart, &x, &[0.0, 1.0, 0.0], w, 0.0).1,
        dx[1],
        max_relative = 1e-12
    );
    assert_relative_eq!(
        uses_prior_jvp(&wishart, &x, &[0.0; 3], w, 1.0).1,
        dw,
        max_relative = 1e-12
    );
    let (v, dx, dy) = uses_wrt_all_grad(0.5, -2.0);
    assert_eq!(v, uses_wrt_all(0.5, -2.0));
    assert_eq!((dx, dy), (3.0 * -2.0 + 1.0, 3.0 * 0.5));
    assert_eq!(uses_wrt_all_jvp(0.5, 1.0, -2.0, 0.0).1, dx);
}

/// `Σ xᵢ² · c + y·c` by hand, with only the `g_grad` and `g_jvp` the contract asks of a custom
/// derivative: a slice argument's gradient comes back as the `Vec` `g_grad` returns.
fn weighted_norm(x: &[f64], c: f64, y: f64) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() * c + y * c
}

fn weighted_norm_grad(x: &[f64], c: f64, y: f64) -> (f64, Vec<f64>, f64, f64) {
    let d = x.iter().map(|v| 2.0 * v * c).collect();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    (weighted_norm(x, c, y), d, sq + y, c)
}

fn weighted_norm_jvp(x: &[f64], d_x: &[f64], c: f64, d_c: f64, y: f64, d_y: f64) -> (f64, f64) {
    let sq: f64 = x.iter().map(|v| v * v).sum();
    let dsq: f64 = x.iter().zip(d_x).map(|(v, d)| 2.0 * v * d).sum();
    (
        weighted_norm(x, c, y),
        dsq * c + sq * d_c + d_y * c + y * d_c,
    )
}

/// The call's adjoint is 1.
#[differentiate(reverse, forward)]
fn passes_through(x: &[f64], c: f64) -> f64 {
    weighted_norm(x, c, 2.0 * c) + c
}

/// The same helper, scaled: through `weighted_norm_grad` and a scaled addition.
#[differentiate(reverse, forward)]
fn scales(x: &[f64], c: f64) -> f64 {
    weighted_norm(x, c, 2.0 * c) * c
}

/// The generated helper, in a wrapper.
#[differentiate(reverse, forward)]
fn wraps_generated(w: &[f64], x: &[f64]) -> f64 {
    weighted(w, x)
}

#[test]
fn slice_arguments_of_hand_written_and_generated_callees() {
    let x = [0.5, -1.5, 2.0];
    let c = 0.75;
    let sq: f64 = x.iter().map(|v| v * v).sum();
    // f = c·sq + 2c² + c: ∂xᵢ = 2 c xᵢ, ∂c = sq + 4c + 1.
    let (v, d, dc) = passes_through_grad(&x, c);
    assert_eq!(v.to_bits(), passes_through(&x, c).to_bits());
    for i in 0..3 {
        assert_relative_eq!(d[i], 2.0 * c * x[i], max_relative = 1e-12);
    }
    assert_relative_eq!(dc, sq + 4.0 * c + 1.0, max_relative = 1e-12);
    // Accumulates into the buffer, as `_grad_into` promises.
    let mut buf = [1.0; 3];
    let _ = passes_through_grad_into(&x, &mut buf, c);
    for i in 0..3 {
        assert_relative_eq!(buf[i], 1.0 + 2.0 * c * x[i], max_relative = 1e-12);
    }
    assert_relative_eq!(
        passes_through_jvp(&x, &[0.0, 1.0, 0.0], c, 0.0).1,
        d[1],
        max_relative = 1e-12
    );
    assert_relative_eq!(
        passes_through_jvp(&x, &[0.0; 3], c, 1.0).1,
        dc,
        max_relative = 1e-12
    );
    // f = (c·sq + 2c²) c: ∂xᵢ = 2 c² xᵢ, ∂c = 2 c sq + 6 c².
    let (v, d, dc) = scales_grad(&x, c);
    assert_eq!(v.to_bits(), scales(&x, c).to_bits());
    for i in 0..3 {
        assert_relative_eq!(d[i], 2.0 * c * c * x[i], max_relative = 1e-12);
    }
    assert_relative_eq!(dc, 2.0 * c * sq + 6.0 * c * c, max_relative = 1e-12);
    assert_relative_eq!(
        scales_jvp(&x, &[0.0; 3], c, 1.0).1,
        dc,
        max_relative = 1e-12
    );
    let w = [0.5, -1.0, 2.0];
    let (v, dw, dx) = wraps_generated_grad(&w, &x);
    assert_eq!(v.to_bits(), wraps_generated(&w, &x).to_bits());
    assert_eq!((dw, dx), (x.to_vec(), w.to_vec()));
    let _ = weighted_norm_grad(&x, c, 1.0);
}

/// A loop reversed after it (it stores into an array declared before it) whose calls on that
/// array sit in branches: array gradients and a call's value share the tape.
#[differentiate(reverse, forward)]
fn array_call_in_branch(a: &[f64], c: f64) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..a.len() {
        h[0] = a[i] * c;
        h[1] = a[i];
        if a[i] > 0.0 {
            s += sum2(&h);
        } else {
            s -= c * sum2(&h);
        }
    }
    s
}

/// The same with the array declared in the loop: the loop is fused, and the branch's array
/// gradients go on the tape within the iteration.
#[differentiate(reverse, forward)]
fn array_call_in_fused_branch(a: &[f64], c: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        let mut h = [0.0; 2];
        h[0] = a[i] * c;
        h[1] = a[i];
        if a[i] > 0.0 {
            s += sum2(&h);
        } else {
            s -= c * sum2(&h);
        }
    }
    s
}

/// Nested loops reversed as loops: the inner loop calls on an array the outer loop overwrote.
#[differentiate(reverse, forward)]
fn array_call_in_nested_loops(a: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut p = 1.0;
    for i in 0..a.len() {
        h[0] = a[i];
        for j in 0..2 {
            h[1] = a[i] * f64::from(j + 1);
            p *= 1.0 + 0.25 * sum2(&h);
        }
    }
    p
}

#[test]
fn array_calls_in_fused_branches_and_nested_loops() {
    let a = [0.5, -0.75, 1.25, -0.3];
    let c = 1.5;
    let (v, d, dc) = array_call_in_fused_branch_grad(&a, c);
    assert_eq!(v.to_bits(), array_call_in_fused_branch(&a, c).to_bits());
    let (v2, d2, dc2) = array_call_in_branch_grad(&a, c);
    assert_eq!(v2.to_bits(), array_call_in_branch(&a, c).to_bits());
    // The same sums, added in the other order: equal to rounding.
    assert_eq!((v2, &d2), (v, &d));
    assert_relative_eq!(dc2, dc, max_relative = 1e-14);
    // Each term is sum2(c aᵢ, aᵢ) = c² aᵢ² + aᵢ, added when aᵢ > 0, subtracted times c otherwise.
    let (mut dc_expected, mut dd) = (0.0, [0.0; 4]);
    for (i, &x) in a.iter().enumerate() {
        let term = c * c * x * x + x;
        if x > 0.0 {
            dd[i] = 2.0 * c * c * x + 1.0;
            dc_expected += 2.0 * c * x * x;
        } else {
            dd[i] = -c * (2.0 * c * c * x + 1.0);
            dc_expected += -(term + c * 2.0 * c * x * x);
        }
    }
    for i in 0..4 {
        assert_relative_eq!(d[i], dd[i], max_relative = 1e-12);
    }
    assert_relative_eq!(dc, dc_expected, max_relative = 1e-12);
    assert_slice_modes_agree(&d, |t| array_call_in_fused_branch_jvp(&a, t, c, 0.0).1);
    assert_relative_eq!(
        array_call_in_fused_branch_jvp(&a, &[0.0; 4], c, 1.0).1,
        dc,
        max_relative = 1e-12
    );

    let (v, d) = array_call_in_nested_loops_grad(&a);
    assert_eq!(v.to_bits(), array_call_in_nested_loops(&a).to_bits());
    autodiff::check_gradient(array_call_in_nested_loops, &a, &d).unwrap();
    // p = Πᵢ Πⱼ (1 + (aᵢ² + (j + 1) aᵢ) / 4): ∂p/∂aᵢ = p Σⱼ (2aᵢ + j + 1) / 4 / factorᵢⱼ.
    for i in 0..4 {
        let x = a[i];
        let expected: f64 = (1..=2)
            .map(|k| {
                let k = f64::from(k);
                0.25 * (2.0 * x + k) / (1.0 + 0.25 * (x * x + k * x))
            })
            .sum::<f64>()
            * v;
        assert_relative_eq!(d[i], expected, max_relative = 1e-12);
    }
    assert_slice_modes_agree(&d, |t| array_call_in_nested_loops_jvp(&a, t).1);
}

/// Counts its calls, to check that a callee runs once per call of the caller's code.
fn counted(x: f64) -> f64 {
    CALLS.with(|c| c.set(c.get() + 1));
    x * 2.0
}

fn counted_grad(x: f64) -> (f64, f64) {
    CALLS.with(|c| c.set(c.get() + 1));
    (x * 2.0, 2.0)
}

fn counted_jvp(x: f64, d_x: f64) -> (f64, f64) {
    CALLS.with(|c| c.set(c.get() + 1));
    (x * 2.0, 2.0 * d_x)
}

thread_local! {
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An active call and a constant one in a loop reversed after it.
#[differentiate(reverse, forward)]
fn counts_calls(x: &[f64], n: i32) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        let c = counted(f64::from(n));
        p *= counted(x[i]) * c;
    }
    p
}

#[test]
fn each_call_runs_once() {
    let x = [0.5, 1.5, -2.0];
    CALLS.with(|c| c.set(0));
    let (v, d) = counts_calls_grad(&x, 3);
    assert_eq!(CALLS.with(std::cell::Cell::get), 6);
    assert_eq!(v.to_bits(), counts_calls(&x, 3).to_bits());
    autodiff::check_gradient(|p| counts_calls(p, 3), &x, &d).unwrap();
    // Forward mode too: `g_jvp` gives the value along with the tangent.
    CALLS.with(|c| c.set(0));
    let (v, t) = counts_calls_jvp(&x, &[0.0, 1.0, 0.0], 3);
    assert_eq!(CALLS.with(std::cell::Cell::get), 6);
    assert_eq!(v.to_bits(), counts_calls(&x, 3).to_bits());
    assert_relative_eq!(t, d[1], max_relative = 1e-12);
}

/// One slice passed twice: `Σ wᵢ²`, then doubled.
#[differentiate(reverse, forward)]
fn self_dot(w: &[f64]) -> f64 {
    weighted(w, w)
}

#[differentiate(reverse, forward)]
fn self_dot_twice(w: &[f64]) -> f64 {
    2.0 * weighted(w, w)
}

#[test]
fn one_slice_passed_twice() {
    let w = [0.5, -1.0, 2.0];
    let (v, d) = self_dot_grad(&w);
    assert_eq!(v.to_bits(), self_dot(&w).to_bits());
    assert_eq!(d, vec![1.0, -2.0, 4.0]);
    let (v, d) = self_dot_twice_grad(&w);
    assert_eq!(v.to_bits(), self_dot_twice(&w).to_bits());
    assert_eq!(d, vec![2.0, -4.0, 8.0]);
    assert_slice_modes_agree(&d, |t| self_dot_twice_jvp(&w, t).1);
}

/// `Σᵢ sin(vᵢ s)`, of a slice and a scalar.
#[differentiate(reverse, forward)]
fn sine_sum(v: &[f64], s: f64) -> f64 {
    let mut t = 0.0;
    for i in 0..v.len() {
        t += (v[i] * s).sin();
    }
    t
}

/// `Σᵢ vᵢ² s`, of an array by reference and a scalar.
#[differentiate(reverse, forward)]
fn scaled_squares(v: &[f64; 2], s: f64) -> f64 {
    (v[0] * v[0] + v[1] * v[1]) * s
}

/// Constant arrays and slices passed to callees beside an active scalar: a local array of
/// constants, one filled from a parameter outside `wrt`, a slice parameter outside `wrt`, part
/// of it, and an array parameter by reference outside `wrt`. Their tangents in `g_jvp` are zeros
/// of their length.
#[differentiate(reverse, forward, wrt(x))]
fn constant_array_arguments(x: f64, c: f64, w: &[f64], a: &[f64; 2]) -> f64 {
    let h = [0.5; 2];
    let mut k = [0.0; 2];
    let mut m = 1.0;
    for j in 0..2 {
        k[j] = c.exp() * m;
        m += 1.0;
    }
    sine_sum(&h, x)
        + sine_sum(&k, x)
        + sine_sum(w, x)
        + sine_sum(&w[1..3], x)
        + scaled_squares(a, x)
        + scaled_squares(&k, x)
}

#[test]
fn constant_array_arguments_get_zero_tangents() {
    let (x, c) = (0.7_f64, -0.3_f64);
    let w = [0.4, -1.1, 0.9];
    let a = [1.5, -0.5];
    let k = [c.exp(), 2.0 * c.exp()];
    // ∂x of Σ sin(vᵢ x) is Σ vᵢ cos(vᵢ x); of (Σ vᵢ²) x it is Σ vᵢ².
    let ds = |v: &[f64]| v.iter().map(|&u| u * (u * x).cos()).sum::<f64>();
    let dq = |v: &[f64]| v.iter().map(|&u| u * u).sum::<f64>();
    let want = ds(&[0.5, 0.5]) + ds(&k) + ds(&w) + ds(&w[1..3]) + dq(&a) + dq(&k);
    let (v, dx) = constant_array_arguments_grad(x, c, &w, &a);
    assert_eq!(
        v.to_bits(),
        constant_array_arguments(x, c, &w, &a).to_bits()
    );
    assert_relative_eq!(dx, want, max_relative = 1e-12);
    let (v, t) = constant_array_arguments_jvp(x, 1.0, c, &w, &a);
    assert_eq!(
        v.to_bits(),
        constant_array_arguments(x, c, &w, &a).to_bits()
    );
    assert_relative_eq!(t, want, max_relative = 1e-12);
    let (_, t) = constant_array_arguments_jvp(x, -2.5, c, &w, &a);
    assert_relative_eq!(t, -2.5 * want, max_relative = 1e-12);
}

/// `Σ vᵢ²`, taking a slice.
#[differentiate(reverse, forward, hessian)]
fn norm2(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// `v₀ v₁ v₂`, taking a reference to an array.
#[differentiate(reverse, forward, hessian)]
fn cubic3(v: &[f64; 3]) -> f64 {
    v[0] * v[1] * v[2]
}

/// `v₀ + v₁² + v₂³`, taking an array by value.
#[differentiate(reverse, forward, hessian)]
fn poly3(v: [f64; 3]) -> f64 {
    v[0] + v[1] * v[1] + v[2] * v[2] * v[2]
}

/// A reference to an array passed on directly, through a name bound to it and through a copy:
/// each argument has the type the callee's parameter has.
#[differentiate(reverse, forward, hessian)]
fn ref_direct(x: &[f64; 3]) -> f64 {
    norm2(x) + cubic3(x) + poly3(*x)
}

#[differentiate(reverse, forward, hessian)]
fn ref_alias(x: &[f64; 3]) -> f64 {
    let h = x;
    norm2(h) + cubic3(h) + poly3(*h)
}

#[differentiate(reverse, forward, hessian)]
fn ref_copy(x: &[f64; 3]) -> f64 {
    let h = *x;
    norm2(&h) + cubic3(&h) + poly3(h)
}

/// An array parameter by value, passed on directly, through a copy and through a reference.
#[differentiate(reverse, forward, hessian)]
fn value_direct(x: [f64; 3]) -> f64 {
    norm2(&x) + cubic3(&x) + poly3(x)
}

#[differentiate(reverse, forward, hessian)]
fn value_alias(x: [f64; 3]) -> f64 {
    let h = x;
    norm2(&h) + cubic3(&h) + poly3(h)
}

#[differentiate(reverse, forward, hessian)]
fn value_borrow(x: [f64; 3]) -> f64 {
    let h = &x;
    norm2(h) + cubic3(h) + poly3(*h)
}

/// A constant array passed through a name bound to it: `x c₀ c₁ c₂ + c₀ + c₁² + c₂³ + Σ cᵢ²`.
#[differentiate(reverse, forward, wrt(x))]
fn constant_alias(x: f64, c: &[f64; 3]) -> f64 {
    let h = c;
    x * cubic3(h) + poly3(*h) + norm2(h)
}

/// What `f_hvp` returns for an array of three: the value, the gradient and `H·v`.
type Hvp3 = (f64, [f64; 3], [f64; 3]);

/// The value, the gradient of `f_grad` and of `f_hvp`, the tangent along `v` and `H·v`.
type Modes = (f64, [f64; 3], [f64; 3], f64, [f64; 3]);

#[test]
fn whole_arrays_passed_with_the_type_of_the_callee_parameter() {
    let x = [0.3, -0.7, 1.1];
    // f = Σ xᵢ² + x₀x₁x₂ + x₀ + x₁² + x₂³ in every form.
    let want = [
        2.0 * x[0] + x[1] * x[2] + 1.0,
        4.0 * x[1] + x[0] * x[2],
        2.0 * x[2] + x[0] * x[1] + 3.0 * x[2] * x[2],
    ];
    let hessian = [
        [2.0, x[2], x[1]],
        [x[2], 4.0, x[0]],
        [x[1], x[0], 2.0 + 6.0 * x[2]],
    ];
    let f = |x: &[f64]| {
        let (a, b, c) = (x[0], x[1], x[2]);
        a * a + b * b + c * c + a * b * c + a + b * b + c * c * c
    };
    let v = [0.5, -0.25, 0.75];
    let want_hv: Vec<f64> = hessian
        .iter()
        .map(|row| row.iter().zip(&v).map(|(h, v)| h * v).sum())
        .collect();
    let by_ref = |grad: fn(&[f64; 3]) -> (f64, [f64; 3]),
                  jvp: fn(&[f64; 3], &[f64; 3]) -> (f64, f64),
                  hvp: fn(&[f64; 3], &[f64; 3]) -> Hvp3|
     -> Modes {
        let (value, g) = grad(&x);
        let (_, t) = jvp(&x, &v);
        let (_, hg, hv) = hvp(&x, &v);
        (value, g, hg, t, hv)
    };
    let by_value = |grad: fn([f64; 3]) -> (f64, [f64; 3]),
                    jvp: fn([f64; 3], [f64; 3]) -> (f64, f64),
                    hvp: fn([f64; 3], [f64; 3]) -> Hvp3|
     -> Modes {
        let (value, g) = grad(x);
        let (_, t) = jvp(x, v);
        let (_, hg, hv) = hvp(x, v);
        (value, g, hg, t, hv)
    };
    for (name, (value, grad, hvp_grad, tangent, hv)) in [
        (
            "ref_direct",
            by_ref(ref_direct_grad, ref_direct_jvp, ref_direct_hvp),
        ),
        (
            "ref_alias",
            by_ref(ref_alias_grad, ref_alias_jvp, ref_alias_hvp),
        ),
        (
            "ref_copy",
            by_ref(ref_copy_grad, ref_copy_jvp, ref_copy_hvp),
        ),
        (
            "value_direct",
            by_value(value_direct_grad, value_direct_jvp, value_direct_hvp),
        ),
        (
            "value_alias",
            by_value(value_alias_grad, value_alias_jvp, value_alias_hvp),
        ),
        (
            "value_borrow",
            by_value(value_borrow_grad, value_borrow_jvp, value_borrow_hvp),
        ),
    ] {
        assert_relative_eq!(value, f(&x), max_relative = 1e-12);
        for i in 0..3 {
            assert_relative_eq!(grad[i], want[i], max_relative = 1e-12);
            assert_relative_eq!(hvp_grad[i], want[i], max_relative = 1e-12);
            assert_relative_eq!(hv[i], want_hv[i], max_relative = 1e-12);
        }
        autodiff::check_gradient(f, &x, &grad).unwrap_or_else(|e| panic!("{name}: {e}"));
        let along: f64 = grad.iter().zip(&v).map(|(g, v)| g * v).sum();
        assert_relative_eq!(tangent, along, max_relative = 1e-12);
    }

    let c = x;
    let (value, d_x) = constant_alias_grad(2.0, &c);
    assert_relative_eq!(
        value,
        2.0 * c[0] * c[1] * c[2] + f(&c) - c[0] * c[1] * c[2],
        max_relative = 1e-12
    );
    assert_relative_eq!(d_x, c[0] * c[1] * c[2], max_relative = 1e-12);
    let (_, t) = constant_alias_jvp(2.0, 1.0, &c);
    assert_relative_eq!(t, d_x, max_relative = 1e-12);
}

/// A module with a function of its own named as a runtime function.
// `self::sigmoid` is the point: the path says which function is meant.
#[allow(unused_qualifications)]
mod own_names {
    use autodiff::differentiate;

    /// Not the logistic function.
    #[differentiate(reverse, forward)]
    pub fn sigmoid(x: f64) -> f64 {
        x * x
    }

    /// Called by its path, `sigmoid` is the user's, differentiated through its own `sigmoid_grad`.
    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        self::sigmoid(x) * x
    }

    /// The runtime's, by its path, beside the user's.
    #[differentiate(reverse, forward)]
    pub fn g(x: f64) -> f64 {
        autodiff::sigmoid(x) + self::sigmoid(x)
    }
}

#[test]
fn a_function_named_as_a_runtime_function_is_the_users_by_its_path() {
    for x in [0.7, -1.3] {
        let (v, d) = own_names::f_grad(x);
        assert_eq!(v, own_names::f(x));
        assert_relative_eq!(v, x * x * x, max_relative = 1e-15);
        assert_relative_eq!(d, 3.0 * x * x, max_relative = 1e-14);
        let (_, t) = own_names::f_jvp(x, 1.0);
        assert_relative_eq!(t, d, max_relative = 1e-14);
        let (v, d) = own_names::g_grad(x);
        let s = 1.0 / (1.0 + (-x).exp());
        assert_relative_eq!(v, s + x * x, max_relative = 1e-15);
        assert_relative_eq!(d, s * (1.0 - s) + 2.0 * x, max_relative = 1e-14);
    }
}
