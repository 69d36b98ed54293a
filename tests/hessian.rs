//! Second order: `f_hvp` and `f_hessian` against closed forms, finite differences of `f_grad`,
//! and each other.
use approx::assert_relative_eq;
use autodiff::{differentiate, sigmoid};

/// The seed's `f = (x + y)·y = xy + y²`: `H = [[0, 1], [1, 2]]`.
#[differentiate(reverse, hessian)]
fn f(x: f64, y: f64) -> f64 {
    (x + y) * y
}

/// The single neuron: `L = (σ(w·x + b) − t)²`.
#[differentiate(reverse, hessian)]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let z = w * x;
    let s = z + b;
    let a = sigmoid(s);
    let e = a - t;
    e.powi(2)
}

#[test]
fn seed_hessian() {
    for (x, y) in [(2.0, 3.0), (-1.5, 0.25), (0.0, 0.0)] {
        let (value, dx, dy, hess) = f_hessian(x, y);
        assert_eq!((value, dx, dy), f_grad(x, y));
        assert_eq!(hess, [[0.0, 1.0], [1.0, 2.0]]);
        let (value, dx, dy, hx, hy) = f_hvp(x, 0.5, y, -2.0);
        assert_eq!((value, dx, dy), f_grad(x, y));
        assert_eq!((hx, hy), (-2.0, 0.5 - 4.0));
    }
}
