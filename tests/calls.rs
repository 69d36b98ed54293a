//! Calls between differentiated functions, hand-written derivatives, and methods.
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
