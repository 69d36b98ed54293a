//! (a) The seed's `f(x, y) = (x + y) · y`.

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// The seed's function, as `#[differentiate]` takes it.
#[differentiate]
pub fn seed(x: f64, y: f64) -> f64 {
    (x + y) * y
}

/// `(x + y) · y` over the inputs `[x, y]`.
pub struct Seed;

impl Problem for Seed {
    fn family(&self) -> &'static str {
        "seed"
    }

    fn dim(&self) -> usize {
        2
    }

    fn points(&self) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(1);
        let mut points = vec![vec![2.0, 3.0]];
        points.extend((0..3).map(|_| rng.vec(2, -4.0, 4.0)));
        points
    }

    fn primal(&self, x: &[f64]) -> f64 {
        seed(x[0], x[1])
    }

    fn eval<T: Real>(&self, x: &[T]) -> T {
        (x[0] + x[1]) * x[1]
    }

    fn hand_written(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (x, y) = (x[0], x[1]);
        let s = x + y;
        grad[0] = y;
        grad[1] = s + y;
        s * y
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        v.gradient(Contender::Generated, |x, g| {
            let (value, dx, dy) = seed_grad(x[0], x[1]);
            g[0] = dx;
            g[1] = dy;
            value
        });
    }
}
