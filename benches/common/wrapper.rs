//! (f) A wrapper that passes its slice to a differentiated helper, as users split code into
//! functions: `wrapper(x) = energy(x)` and `wrapper_ln(x) = ln energy(x)`, with
//! `energy(x) = Σᵢ xᵢ² (1 + xᵢ²/2)`. The generated gradient goes through `energy_grad`; the
//! hand-written adjoint, in the same form, calls a hand-written adjoint of the helper.

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// The helper. (A range loop: the macro takes `for` over integer ranges.)
#[differentiate]
#[must_use]
#[allow(clippy::needless_range_loop)]
pub fn energy(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let t = x[i] * x[i];
        s += t * (1.0 + 0.5 * t);
    }
    s
}

/// The wrapper, passing its slice through.
#[differentiate]
#[must_use]
pub fn wrapper(x: &[f64]) -> f64 {
    energy(x)
}

/// The wrapper, using the helper's value.
#[differentiate]
#[must_use]
pub fn wrapper_ln(x: &[f64]) -> f64 {
    energy(x).ln()
}

/// The helper's adjoint by hand: its value, and `scale · ∇energy` added into `grad`.
fn energy_adjoint(x: &[f64], grad: &mut [f64], scale: f64) -> f64 {
    let mut s = 0.0;
    for (g, &xi) in grad.iter_mut().zip(x) {
        let t = xi * xi;
        s += t * (1.0 + 0.5 * t);
        *g += scale * (2.0 * xi + 2.0 * t * xi);
    }
    s
}

/// `wrapper` (`ln = false`) or `wrapper_ln` over `n` inputs.
pub struct Wrapper {
    n: usize,
    ln: bool,
}

impl Wrapper {
    #[must_use]
    pub const fn new(n: usize, ln: bool) -> Self {
        Self { n, ln }
    }
}

impl Problem for Wrapper {
    fn family(&self) -> &'static str {
        if self.ln { "wrapper_ln" } else { "wrapper" }
    }

    fn size(&self) -> Option<usize> {
        Some(self.n)
    }

    fn dim(&self) -> usize {
        self.n
    }

    fn points(&self) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(6);
        (0..3).map(|_| rng.vec(self.n, -1.5, 1.5)).collect()
    }

    fn primal(&self, x: &[f64]) -> f64 {
        if self.ln { wrapper_ln(x) } else { wrapper(x) }
    }

    fn eval<T: Real>(&self, x: &[T]) -> T {
        let term = |xi: T| {
            let t = xi * xi;
            t * (t * 0.5 + 1.0)
        };
        let mut s = term(x[0]);
        for &xi in &x[1..] {
            s = s + term(xi);
        }
        if self.ln { s.ln() } else { s }
    }

    fn hand_written(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        if self.ln {
            // The helper's gradient, then scaled by 1/energy once the energy is known.
            let e = energy_adjoint(x, grad, 1.0);
            let r = 1.0 / e;
            for g in grad.iter_mut() {
                *g *= r;
            }
            e.ln()
        } else {
            energy_adjoint(x, grad, 1.0)
        }
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        if self.ln {
            v.accumulating(Contender::Generated, |x, g| wrapper_ln_grad_into(x, g).0);
        } else {
            v.accumulating(Contender::Generated, |x, g| wrapper_grad_into(x, g).0);
        }
    }
}
