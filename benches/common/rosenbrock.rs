//! (d) The n-dimensional Rosenbrock function over a slice,
//! `f(x) = Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²` for `i` in `0..n-1`: a loop whose backward sweep
//! runs over the values the forward sweep kept. Written as usual, over `0..n - 1` with `x[i + 1]`,
//! and, as a comparison, over `1..n` with `x[i - 1]`.

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// The Rosenbrock function as it is usually written (and as the README shows it): over
/// `0..x.len() - 1`, reading `x[i]` and `x[i + 1]`. Its second derivatives are benchmarked too
/// (`super::second`).
#[differentiate(reverse, hessian)]
#[must_use]
pub fn rosenbrock(x: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        sum += 100.0 * (t * t) + u * u;
    }
    sum
}

/// The same function over `1..x.len()`, reading `x[i - 1]` and `x[i]`: kept beside
/// [`rosenbrock`] as a comparison. Rust can tell that both indices are in bounds here, and drops
/// the checks, in the function and in its gradient; over `0..x.len() - 1` it cannot (for an
/// empty slice the subtraction wraps), see `benches/RESULTS.md`.
#[differentiate]
#[must_use]
pub fn rosenbrock_1n(x: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 1..x.len() {
        let t = x[i] - x[i - 1] * x[i - 1];
        let u = 1.0 - x[i - 1];
        sum += 100.0 * (t * t) + u * u;
    }
    sum
}

/// Rosenbrock in `n >= 2` dimensions, in either form.
pub struct Rosenbrock {
    n: usize,
    /// Over `1..n` ([`rosenbrock_1n`]) rather than `0..n - 1` ([`rosenbrock`]).
    shifted: bool,
}

impl Rosenbrock {
    /// Rosenbrock over `n` inputs, [`rosenbrock`].
    ///
    /// # Panics
    ///
    /// If `n < 2`.
    #[must_use]
    pub fn new(n: usize) -> Self {
        assert!(n >= 2, "Rosenbrock needs at least 2 dimensions");
        Self { n, shifted: false }
    }

    /// Rosenbrock over `n` inputs, in the comparison form [`rosenbrock_1n`].
    ///
    /// # Panics
    ///
    /// If `n < 2`.
    #[must_use]
    pub fn shifted(n: usize) -> Self {
        Self {
            shifted: true,
            ..Self::new(n)
        }
    }
}

impl Problem for Rosenbrock {
    fn family(&self) -> &'static str {
        if self.shifted {
            "rosenbrock_1n"
        } else {
            "rosenbrock"
        }
    }

    fn size(&self) -> Option<usize> {
        Some(self.n)
    }

    fn dim(&self) -> usize {
        self.n
    }

    fn points(&self) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(4);
        (0..3).map(|_| rng.vec(self.n, -1.5, 1.5)).collect()
    }

    fn primal(&self, x: &[f64]) -> f64 {
        if self.shifted {
            rosenbrock_1n(x)
        } else {
            rosenbrock(x)
        }
    }

    fn eval<T: Real>(&self, x: &[T]) -> T {
        // The first term starts the sum, since only `f64`s can be a constant zero here;
        // `0.0 + term` is `term` exactly, so this agrees with the primal bit for bit.
        let term = |i: usize| {
            let t = x[i + 1] - x[i] * x[i];
            let u = -(x[i] - 1.0);
            (t * t) * 100.0 + u * u
        };
        let mut sum = term(0);
        for i in 1..x.len() - 1 {
            sum = sum + term(i);
        }
        sum
    }

    fn hand_written(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        self.hand_written_into(x, grad)
    }

    fn accumulates(&self) -> bool {
        true
    }

    fn hand_written_into(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        // One pass: gᵢ += 200 tᵢ₋₁ − 400 xᵢ tᵢ − 2 uᵢ, each component updated once, no bounds
        // checks in the loop.
        let n = x.len();
        assert_eq!(grad.len(), n);
        let mut sum = 0.0;
        let mut carry = 0.0;
        for (gi, pair) in grad[..n - 1].iter_mut().zip(x.windows(2)) {
            let (xi, next) = (pair[0], pair[1]);
            let t = next - xi * xi;
            let u = 1.0 - xi;
            sum += 100.0 * (t * t) + u * u;
            *gi += carry - 400.0 * xi * t - 2.0 * u;
            carry = 200.0 * t;
        }
        grad[n - 1] += carry;
        sum
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        if self.shifted {
            v.accumulating(Contender::Generated, |x, g| rosenbrock_1n_grad_into(x, g).0);
        } else {
            v.accumulating(Contender::Generated, |x, g| rosenbrock_grad_into(x, g).0);
        }
    }
}
