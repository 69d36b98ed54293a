//! The seed's worked examples, number for number.
use approx::assert_relative_eq;
use autodiff::{differentiate, sigmoid};

/// `f(x, y) = (x + y) · y`: `y` reaches the output along two paths.
#[differentiate(reverse, forward)]
fn f(x: f64, y: f64) -> f64 {
    (x + y) * y
}

/// The single neuron: `L = (σ(w·x + b) − t)²`.
#[differentiate]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let z = w * x;
    let s = z + b;
    let a = sigmoid(s);
    let e = a - t;
    e.powi(2)
}

#[test]
fn seed_graph_forward_and_backward() {
    // Forward pass: a = 2 + 3 = 5, f = 5 · 3 = 15.
    assert_eq!(f(2.0, 3.0), 15.0);
    // Backward pass: ∂f/∂x = y = 3, ∂f/∂y = (∂f/∂a · 1) + a = 3 + 5 = 8.
    assert_eq!(f_grad(2.0, 3.0), (15.0, 3.0, 8.0));
    // The closed form of f = xy + y² at other points: (y, x + 2y).
    for (x, y) in [(-1.5, 0.25), (10.0, -3.0), (0.0, 0.0)] {
        assert_eq!(f_grad(x, y), (f(x, y), y, x + 2.0 * y));
    }
}

#[test]
fn seed_graph_forward_mode_agrees() {
    // One forward pass per input direction.
    assert_eq!(f_jvp(2.0, 1.0, 3.0, 0.0), (15.0, 3.0));
    assert_eq!(f_jvp(2.0, 0.0, 3.0, 1.0), (15.0, 8.0));
}

#[test]
fn single_neuron() {
    let (x, w, b, t) = (2.0, 0.5, 0.1, 1.0);
    let (l, dx, dw, db, dt) = neuron_grad(x, w, b, t);
    assert_eq!(l, neuron(x, w, b, t));

    // The seed rounds σ(1.1) to 0.75 and gets L = 0.0625, ∂L/∂w = -0.1875; exactly:
    assert_relative_eq!(l, 0.062_370_014_857, max_relative = 1e-11);
    assert_relative_eq!(dw, -0.187_174_935_731, max_relative = 1e-11);

    // The closed form: with a = σ(wx + b), ∂L/∂s = 2(a − t)·a(1 − a).
    let a = 1.0 / (1.0 + (-(w * x + b)).exp());
    let ds = 2.0 * (a - t) * a * (1.0 - a);
    assert_relative_eq!(l, (a - t) * (a - t), max_relative = 1e-15);
    assert_relative_eq!(dw, ds * x, max_relative = 1e-14);
    assert_relative_eq!(db, ds, max_relative = 1e-14);
    assert_relative_eq!(dx, ds * w, max_relative = 1e-14);
    assert_relative_eq!(dt, -2.0 * (a - t), max_relative = 1e-14);
}

#[test]
fn single_neuron_against_finite_differences() {
    let point = [2.0, 0.5, 0.1, 1.0];
    let (_, dx, dw, db, dt) = neuron_grad(point[0], point[1], point[2], point[3]);
    autodiff::check_gradient(
        |v| neuron(v[0], v[1], v[2], v[3]),
        &point,
        &[dx, dw, db, dt],
    )
    .unwrap();
}
