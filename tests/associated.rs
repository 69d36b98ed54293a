//! Associated functions that neither take `self` nor name `Self`: their tokens read the same as
//! a free function's, but the functions generated beside them call one another (`f_grad` calls
//! `f_grad_into`, `f_hessian` calls `f_hvp`, `f_jacobian` its sweeps) as `Self::..` in an
//! `impl` block or a `trait`. Each is checked against closed forms derived by hand.

use approx::assert_relative_eq;
use autodiff::differentiate;
use autodiff::num_traits::Float;

/// A namespace of formulas, as users group them.
pub struct Formulas;

impl Formulas {
    /// `x² y + sin(x y)`, with its Hessian.
    #[differentiate(hessian)]
    #[must_use]
    pub fn mixed(x: f64, y: f64) -> f64 {
        x * x * y + (x * y).sin()
    }

    /// `Σ xᵢ² (1 + xᵢ²/2)`, a function of a slice (`energy_grad` calls `energy_grad_into`).
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn energy(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for &v in x {
            let t = v * v;
            s += t * (1.0 + 0.5 * t);
        }
        s
    }

    /// Polar to Cartesian coordinates: several outputs.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn polar(r: f64, a: f64) -> [f64; 2] {
        [r * a.cos(), r * a.sin()]
    }

    /// A weighted sum of squares, `Σ wᵢ xᵢ²`, with the weights a constant slice: its Hessian
    /// goes through `weighted_hvp`.
    #[differentiate(wrt(x), hessian)]
    #[must_use]
    pub fn weighted(x: &[f64], w: &[f64]) -> f64 {
        x.iter().zip(w).map(|(&v, &c)| c * v * v).sum()
    }

    /// A private helper that only its gradient's callers use.
    #[differentiate]
    fn private_energy(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum()
    }

    /// Calls the private helper's gradient, so that it is used.
    #[must_use]
    pub fn private_gradient(x: &[f64]) -> Vec<f64> {
        Self::private_energy_grad(x).1
    }
}

/// A free function of the same name as the associated one: each keeps its own siblings.
#[differentiate]
#[must_use]
pub fn energy(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v * v).sum()
}

/// A trait whose provided function is differentiated.
pub trait Potential {
    /// `Σ cosh(xᵢ)`.
    #[differentiate]
    #[must_use]
    fn potential(x: &[f64]) -> f64 {
        x.iter().map(|v| v.cosh()).sum()
    }
}

impl Potential for Formulas {}

#[test]
fn hessian_of_an_associated_function() {
    let (x, y) = (0.7, -1.3);
    let (v, gx, gy, h) = Formulas::mixed_hessian(x, y);
    let c = (x * y).cos();
    let s = (x * y).sin();
    assert_relative_eq!(v, x * x * y + s, max_relative = 1e-14);
    assert_relative_eq!(gx, 2.0 * x * y + y * c, max_relative = 1e-14);
    assert_relative_eq!(gy, x * x + x * c, max_relative = 1e-14);
    let expected = [
        [2.0 * y - y * y * s, 2.0 * x + c - x * y * s],
        [2.0 * x + c - x * y * s, -x * x * s],
    ];
    for (row, want) in h.iter().zip(expected) {
        for (&a, b) in row.iter().zip(want) {
            assert_relative_eq!(a, b, max_relative = 1e-13);
        }
    }
}

#[test]
fn slices_of_an_associated_function() {
    let x = [0.5, -1.25, 2.0];
    let want: Vec<f64> = x.iter().map(|v| 2.0 * v + 2.0 * v * v * v).collect();
    let (v, g) = Formulas::energy_grad(&x);
    let e: f64 = x.iter().map(|v| v * v * (1.0 + 0.5 * v * v)).sum();
    assert_relative_eq!(v, e, max_relative = 1e-14);
    let mut d = [1.0; 3];
    let (v_into,) = Formulas::energy_grad_into(&x, &mut d);
    assert_relative_eq!(v_into, e, max_relative = 1e-14);
    for ((gi, di), wi) in g.iter().zip(d).zip(&want) {
        assert_relative_eq!(*gi, wi, max_relative = 1e-14);
        assert_relative_eq!(di, 1.0 + wi, max_relative = 1e-14);
    }
    let t = [0.25, 1.0, -0.5];
    let (_, tangent) = Formulas::energy_jvp(&x, &t);
    let dot: f64 = want.iter().zip(t).map(|(a, b)| a * b).sum();
    assert_relative_eq!(tangent, dot, max_relative = 1e-14);
    // The free function of the same name has its own.
    let (_, free) = energy_grad(&x);
    for (gi, v) in free.iter().zip(x) {
        assert_relative_eq!(*gi, 3.0 * v * v, max_relative = 1e-14);
    }
    let private = Formulas::private_gradient(&x);
    for (gi, v) in private.iter().zip(x) {
        assert_relative_eq!(*gi, 2.0 * v, max_relative = 1e-14);
    }
}

#[test]
fn several_outputs_of_an_associated_function() {
    let (r, a) = (1.5, 0.4);
    let (value, jac) = Formulas::polar_jacobian(r, a);
    assert_relative_eq!(value[0], r * a.cos(), max_relative = 1e-14);
    let want = [[a.cos(), -r * a.sin()], [a.sin(), r * a.cos()]];
    for (row, w) in jac.iter().zip(want) {
        for (&j, wj) in row.iter().zip(w) {
            assert_relative_eq!(j, wj, max_relative = 1e-14);
        }
    }
    let (_, dr, da) = Formulas::polar_vjp(r, a, [2.0, -1.0]);
    assert_relative_eq!(dr, 2.0 * want[0][0] - want[1][0], max_relative = 1e-14);
    assert_relative_eq!(da, 2.0 * want[0][1] - want[1][1], max_relative = 1e-14);
    let (_, tangent) = Formulas::polar_jvp(r, 0.5, a, 2.0);
    assert_relative_eq!(
        tangent[1],
        0.5 * want[1][0] + 2.0 * want[1][1],
        max_relative = 1e-14
    );
}

#[test]
fn hessian_of_an_associated_function_of_slices() {
    let x = [0.5, -1.0, 2.0];
    let w = [3.0, 0.5, -2.0];
    let (v, g, h) = Formulas::weighted_hessian(&x, &w);
    assert_relative_eq!(v, 0.75 + 0.5 - 8.0, max_relative = 1e-14);
    for i in 0..3 {
        assert_relative_eq!(g[i], 2.0 * w[i] * x[i], max_relative = 1e-14);
        for j in 0..3 {
            let want = if i == j { 2.0 * w[i] } else { 0.0 };
            assert_relative_eq!(h[i * 3 + j], want, max_relative = 1e-14);
        }
    }
}

#[test]
fn provided_function_of_a_trait() {
    let x = [0.3, -0.8];
    let (v, g) = <Formulas as Potential>::potential_grad(&x);
    assert_relative_eq!(v, 0.3f64.cosh() + 0.8f64.cosh(), max_relative = 1e-14);
    for (gi, v) in g.iter().zip(x) {
        assert_relative_eq!(*gi, v.sinh(), max_relative = 1e-14);
    }
}

/// A spring generic over its float type, whose type parameter has a name longer than a letter:
/// the macro reads the bound `Real: Float` from the `impl` block in the source file.
pub struct Spring<Real> {
    k: Real,
    rest: Real,
}

impl<Real: Float + Default> Spring<Real> {
    /// `k (x - rest)² / 2`.
    #[differentiate(reverse, forward)]
    pub fn energy(&self, x: Real) -> Real {
        let d = x - self.rest;
        self.k * d * d / (Real::one() + Real::one())
    }

    /// `s sin x`, an associated function of the same block.
    #[differentiate]
    pub fn wave(x: Real, s: Real) -> Real {
        s * x.sin()
    }
}

/// The bound in a `where` clause.
pub struct Scaled<Weight> {
    w: Weight,
}

impl<Weight> Scaled<Weight>
where
    Weight: Float,
{
    /// `w x³`.
    #[differentiate]
    pub fn cube(&self, x: Weight) -> Weight {
        self.w * x * x * x
    }
}

#[test]
fn methods_of_a_generic_impl_block() {
    let spring = Spring { k: 3.0, rest: 0.5 };
    let (v, d) = spring.energy_grad(2.0);
    assert_relative_eq!(v, 3.375, max_relative = 1e-15);
    assert_relative_eq!(d, 4.5, max_relative = 1e-15);
    let (_, t) = spring.energy_jvp(2.0, -2.0);
    assert_relative_eq!(t, -9.0, max_relative = 1e-15);
    let single = Spring {
        k: 3.0_f32,
        rest: 0.5,
    };
    let (v, d) = single.energy_grad(2.0);
    assert_relative_eq!(v, 3.375, max_relative = 1e-6);
    assert_relative_eq!(d, 4.5, max_relative = 1e-6);
    let (v, dx, ds) = Spring::<f64>::wave_grad(0.5, 2.0);
    assert_relative_eq!(v, 2.0 * 0.5_f64.sin(), max_relative = 1e-15);
    assert_relative_eq!(dx, 2.0 * 0.5_f64.cos(), max_relative = 1e-15);
    assert_relative_eq!(ds, 0.5_f64.sin(), max_relative = 1e-15);
    let (v, d) = Scaled { w: 2.0 }.cube_grad(1.5);
    assert_relative_eq!(v, 6.75, max_relative = 1e-15);
    assert_relative_eq!(d, 13.5, max_relative = 1e-15);
}
