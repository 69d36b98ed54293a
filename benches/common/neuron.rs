//! (b) The single neuron's squared error `L = (σ(w·x + b) − t)²`, differentiated with respect to
//! all four inputs `(x, w, b, t)`, as `#[differentiate]` does by default.

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::{differentiate, sigmoid};

/// The single neuron's squared error, as `#[differentiate]` takes it; its second derivatives are
/// benchmarked too (`super::second`).
#[differentiate(reverse, hessian)]
pub fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    (sigmoid(w * x + b) - t).powi(2)
}

/// The neuron over the inputs `[x, w, b, t]`.
pub struct Neuron;

impl Problem for Neuron {
    fn family(&self) -> &'static str {
        "neuron"
    }

    fn dim(&self) -> usize {
        4
    }

    fn points(&self) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(2);
        let mut points = vec![vec![2.0, 0.5, 0.1, 1.0]];
        points.extend((0..3).map(|_| rng.vec(4, -2.0, 2.0)));
        points
    }

    fn primal(&self, x: &[f64]) -> f64 {
        neuron(x[0], x[1], x[2], x[3])
    }

    fn eval<T: Real>(&self, x: &[T]) -> T {
        ((x[1] * x[0] + x[2]).sigmoid() - x[3]).powi(2)
    }

    fn hand_written(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (x, w, b, t) = (x[0], x[1], x[2], x[3]);
        let a = sigmoid(w * x + b);
        let e = a - t;
        let de = e + e;
        let ds = de * a * (1.0 - a);
        grad[0] = ds * w;
        grad[1] = ds * x;
        grad[2] = ds;
        grad[3] = -de;
        e * e
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        v.gradient(Contender::Generated, |x, g| {
            let (value, dx, dw, db, dt) = neuron_grad(x[0], x[1], x[2], x[3]);
            g[0] = dx;
            g[1] = dw;
            g[2] = db;
            g[3] = dt;
            value
        });
    }
}
