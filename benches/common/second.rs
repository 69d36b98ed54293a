//! Second order: the contenders for Hessian-vector products and Hessians, shared by the report
//! (`examples/bench_hvp.rs`) and the agreement test (`tests/bench_agreement.rs`).
//!
//! The functions are those of [`super::rosenbrock`] and [`super::neuron`], as users write them,
//! with `#[differentiate(reverse, hessian)]`. Against `f_hvp`: a Hessian-vector product written by
//! hand for each, adding into caller buffers as `f_hvp_into` does. Against `f_hessian`: `num-dual`'s
//! hyper-dual numbers (`HyperDual64`, one pass per pair `i ≤ j`, as `second_partial_derivative`
//! does; its `hessian` needs the `nalgebra` feature, which this workspace does not enable) and
//! `echidna::hessian` (a bytecode tape recorded once, then one forward-over-reverse sweep per
//! input), both over the generic body [`Problem::eval`].

// Used by the report and its test, not by every target that includes the shared code.
#![allow(dead_code)]

use num_dual::{DualNum, HyperDual64};

use super::{Problem, Real};

/// The sizes at which Rosenbrock's second derivatives are benchmarked.
pub const SIZES: [usize; 3] = [2, 10, 100];

/// A direction for `H·v` at `n` inputs, deterministic and of mixed signs.
#[must_use]
pub fn direction(n: usize) -> Vec<f64> {
    super::Rng::new(11).vec(n, -1.0, 1.0)
}

/// Rosenbrock's value, gradient and `H·v` by hand, adding the gradient into `grad` and `H·v`
/// into `hv`, in the form of the hand-optimised adjoint (`Rosenbrock::hand_written_into`): one
/// pass over the pairs `(xᵢ, xᵢ₊₁)`, the contributions to entry `i + 1` carried to the next step.
///
/// # Panics
///
/// If a buffer's or the direction's length differs from `x`'s, or `x` has fewer than 2 entries.
pub fn rosenbrock_hvp_by_hand(x: &[f64], v: &[f64], grad: &mut [f64], hv: &mut [f64]) -> f64 {
    let n = x.len();
    assert!(v.len() == n && grad.len() == n && hv.len() == n);
    let mut sum = 0.0;
    let (mut carry, mut carry_hv) = (0.0, 0.0);
    for (((gi, hi), pair), dir) in grad[..n - 1]
        .iter_mut()
        .zip(hv[..n - 1].iter_mut())
        .zip(x.windows(2))
        .zip(v.windows(2))
    {
        let (xi, next) = (pair[0], pair[1]);
        let (vi, v_next) = (dir[0], dir[1]);
        let t = next - xi * xi;
        let u = 1.0 - xi;
        sum += 100.0 * (t * t) + u * u;
        // gᵢ += 200 tᵢ₋₁ − 400 xᵢ tᵢ − 2 uᵢ, and its derivative along v.
        let dt = v_next - 2.0 * xi * vi;
        *gi += carry - 400.0 * xi * t - 2.0 * u;
        *hi += carry_hv - 400.0 * (vi * t + xi * dt) + 2.0 * vi;
        carry = 200.0 * t;
        carry_hv = 200.0 * dt;
    }
    grad[n - 1] += carry;
    hv[n - 1] += carry_hv;
    sum
}

/// The neuron's value, gradient and `H·v` by hand, with the signature of `neuron_hvp`:
/// `(L, ∂L/∂x, ∂L/∂w, ∂L/∂b, ∂L/∂t, (H·v)_x, (H·v)_w, (H·v)_b, (H·v)_t)`.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
#[must_use]
pub fn neuron_hvp_by_hand(
    x: f64,
    vx: f64,
    w: f64,
    vw: f64,
    b: f64,
    vb: f64,
    t: f64,
    vt: f64,
) -> (f64, f64, f64, f64, f64, f64, f64, f64, f64) {
    let a = autodiff::sigmoid(w * x + b);
    let slope = a * (1.0 - a);
    let e = a - t;
    let de = e + e;
    let ds = de * slope;
    // Along v: ṡ, ȧ = σ'ṡ, ė = ȧ − vₜ; d(ds) = 2ė σ' + de σ'' ṡ with σ'' ṡ = ȧ (1 − 2a).
    let s_dot = vw * x + w * vx + vb;
    let a_dot = slope * s_dot;
    let e_dot = a_dot - vt;
    let ds_dot = 2.0 * e_dot * slope + de * a_dot * (1.0 - 2.0 * a);
    (
        e * e,
        ds * w,
        ds * x,
        ds,
        -de,
        ds_dot * w + ds * vw,
        ds_dot * x + ds * vx,
        ds_dot,
        -2.0 * e_dot,
    )
}

/// `num-dual`'s Hessian by hyper-dual numbers: for each pair `i ≤ j` one pass with `ε₁` on `xᵢ`
/// and `ε₂` on `xⱼ`, whose `ε₁ε₂` part is `Hᵢⱼ`; the gradient from the passes with `i = j`.
/// Returns the value, the gradient and the Hessian row-major.
pub fn num_dual_hessian<P: Problem>(p: &P, x: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let n = x.len();
    let mut xd: Vec<HyperDual64> = x.iter().map(|&v| HyperDual64::from_re(v)).collect();
    let mut grad = vec![0.0; n];
    let mut hess = vec![0.0; n * n];
    let mut value = 0.0;
    for i in 0..n {
        xd[i].eps1 = 1.0;
        for j in i..n {
            xd[j].eps2 = 1.0;
            let y = p.eval(&xd);
            xd[j].eps2 = 0.0;
            hess[i * n + j] = y.eps1eps2;
            hess[j * n + i] = y.eps1eps2;
            if i == j {
                grad[i] = y.eps1;
                value = y.re;
            }
        }
        xd[i].eps1 = 0.0;
    }
    (value, grad, hess)
}

/// `echidna::hessian`: the function recorded on a bytecode tape, then one forward-over-reverse
/// sweep of the tape per input. Returns echidna's own `(value, gradient, rows)`.
pub fn echidna_hessian<P: Problem>(p: &P, x: &[f64]) -> (f64, Vec<f64>, Vec<Vec<f64>>) {
    echidna::hessian(|xs| p.eval(xs), x)
}

impl Real for HyperDual64 {
    fn value(self) -> f64 {
        self.re
    }
    fn exp(self) -> Self {
        DualNum::exp(&self)
    }
    fn ln(self) -> Self {
        DualNum::ln(&self)
    }
    fn sin(self) -> Self {
        DualNum::sin(&self)
    }
    fn cos(self) -> Self {
        DualNum::cos(&self)
    }
    fn tanh(self) -> Self {
        DualNum::tanh(&self)
    }
    fn sqrt(self) -> Self {
        DualNum::sqrt(&self)
    }
    fn recip(self) -> Self {
        DualNum::recip(&self)
    }
    fn powi(self, n: i32) -> Self {
        DualNum::powi(&self, n)
    }
}

impl Real for echidna::BReverse<f64> {
    fn value(self) -> f64 {
        echidna::Scalar::value(&self)
    }
    fn exp(self) -> Self {
        num_traits::Float::exp(self)
    }
    fn ln(self) -> Self {
        num_traits::Float::ln(self)
    }
    fn sin(self) -> Self {
        num_traits::Float::sin(self)
    }
    fn cos(self) -> Self {
        num_traits::Float::cos(self)
    }
    fn tanh(self) -> Self {
        num_traits::Float::tanh(self)
    }
    fn sqrt(self) -> Self {
        num_traits::Float::sqrt(self)
    }
    fn recip(self) -> Self {
        num_traits::Float::recip(self)
    }
    fn powi(self, n: i32) -> Self {
        num_traits::Float::powi(self, n)
    }
}
