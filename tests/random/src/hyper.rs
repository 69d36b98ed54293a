//! Hyper-dual numbers: the second-order oracle.
//!
//! A [`Hyper`] is `v + a ε₁ + b ε₂ + ab ε₁ε₂` with `ε₁² = ε₂² = 0`: seeded with `a = 1` on input
//! `i` and `b = 1` on input `j`, the `ab` part of the result is `∂²f/∂x_i∂x_j`; seeded with `b = v`
//! it is `(H·v)_i`. Every operation computes its value with the `f64` operation the original
//! program uses, and its parts from the first and second derivatives written out by hand (for
//! `f(x)`: `a' = f'·a`, `b' = f'·b`, `ab' = f'·ab + f''·a·b`). It shares no code with the macro,
//! the runtime or the first-order oracles.
//!
//! Comparisons compare values, so branches follow the primal evaluation, as the contract says;
//! at a kink (`abs`, `max`, `min`) the derivatives are those of the branch taken, with the same
//! tie rules as [`crate::dual::Dual`].

use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A hyper-dual number `v + a ε₁ + b ε₂ + ab ε₁ε₂`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hyper {
    /// The value.
    pub v: f64,
    /// The derivative along the first seeded direction.
    pub a: f64,
    /// The derivative along the second seeded direction.
    pub b: f64,
    /// The second derivative along both.
    pub ab: f64,
}

impl Hyper {
    /// A constant.
    #[must_use]
    pub const fn cst(v: f64) -> Self {
        Self {
            v,
            a: 0.0,
            b: 0.0,
            ab: 0.0,
        }
    }

    /// An input with first-order seeds `a` and `b` (and no second-order part).
    #[must_use]
    pub const fn seeded(v: f64, a: f64, b: f64) -> Self {
        Self { v, a, b, ab: 0.0 }
    }

    /// `f(self)` given `f(v)`, `f'(v)` and `f''(v)`.
    fn chain(self, value: f64, d1: f64, d2: f64) -> Self {
        Self {
            v: value,
            a: d1 * self.a,
            b: d1 * self.b,
            ab: d1 * self.ab + d2 * self.a * self.b,
        }
    }

    /// `f(self, y)` given its value, gradient `(fx, fy)` and Hessian `(fxx, fxy, fyy)`.
    #[allow(clippy::too_many_arguments)]
    fn chain2(self, y: Self, value: f64, fx: f64, fy: f64, fxx: f64, fxy: f64, fyy: f64) -> Self {
        Self {
            v: value,
            a: fx * self.a + fy * y.a,
            b: fx * self.b + fy * y.b,
            ab: fx * self.ab
                + fy * y.ab
                + fxx * self.a * self.b
                + fxy * (self.a * y.b + y.a * self.b)
                + fyy * y.a * y.b,
        }
    }

    /// `e^x`.
    #[must_use]
    pub fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e, e)
    }

    /// `ln x`: `1/x`, `-1/x²`.
    #[must_use]
    pub fn ln(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(self.v.ln(), r, -r * r)
    }

    /// `√x`: `1/(2√x)`, `-1/(4 x√x)`.
    #[must_use]
    pub fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s, -0.25 / (s * s * s))
    }

    /// `xⁿ`: `n xⁿ⁻¹`, `n(n-1) xⁿ⁻²`.
    #[must_use]
    pub fn powi(self, n: i32) -> Self {
        let f = f64::from(n);
        let d1 = if n == 0 { 0.0 } else { f * self.v.powi(n - 1) };
        let d2 = if n == 0 || n == 1 {
            0.0
        } else {
            f * (f - 1.0) * self.v.powi(n - 2)
        };
        self.chain(self.v.powi(n), d1, d2)
    }

    /// `sin x`: `cos x`, `-sin x`.
    #[must_use]
    pub fn sin(self) -> Self {
        let (s, c) = (self.v.sin(), self.v.cos());
        self.chain(s, c, -s)
    }

    /// `cos x`: `-sin x`, `-cos x`.
    #[must_use]
    pub fn cos(self) -> Self {
        let (s, c) = (self.v.sin(), self.v.cos());
        self.chain(c, -s, -c)
    }

    /// `tanh x`: `1 - t²`, `-2t(1 - t²)`.
    #[must_use]
    pub fn tanh(self) -> Self {
        let t = self.v.tanh();
        let d1 = 1.0 - t * t;
        self.chain(t, d1, -2.0 * t * d1)
    }

    /// `atan x`: `1/(1 + x²)`, `-2x/(1 + x²)²`.
    #[must_use]
    pub fn atan(self) -> Self {
        let q = 1.0 / (1.0 + self.v * self.v);
        self.chain(self.v.atan(), q, -2.0 * self.v * q * q)
    }

    /// `|x|`: `sign x` (0 at 0), no curvature.
    #[must_use]
    pub fn abs(self) -> Self {
        let d = if self.v > 0.0 {
            1.0
        } else if self.v < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.chain(self.v.abs(), d, 0.0)
    }

    /// `max(x, y)`: the larger argument, the first at a tie.
    #[must_use]
    pub fn max(self, other: Self) -> Self {
        if self.v >= other.v {
            Self {
                v: self.v.max(other.v),
                ..self
            }
        } else {
            Self {
                v: self.v.max(other.v),
                ..other
            }
        }
    }

    /// `min(x, y)`: the smaller argument, the first at a tie.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        if self.v <= other.v {
            Self {
                v: self.v.min(other.v),
                ..self
            }
        } else {
            Self {
                v: self.v.min(other.v),
                ..other
            }
        }
    }

    /// `h = √(x² + y²)`: gradient `(x, y)/h`, Hessian `(y², -xy, x²)/h³`; all 0 at the origin
    /// (the macro's convention).
    #[must_use]
    pub fn hypot(self, other: Self) -> Self {
        let (x, y) = (self.v, other.v);
        let h = x.hypot(y);
        if h == 0.0 {
            return self.chain2(other, h, 0.0, 0.0, 0.0, 0.0, 0.0);
        }
        let h3 = h * h * h;
        self.chain2(other, h, x / h, y / h, y * y / h3, -x * y / h3, x * x / h3)
    }
}

impl Add for Hyper {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            v: self.v + o.v,
            a: self.a + o.a,
            b: self.b + o.b,
            ab: self.ab + o.ab,
        }
    }
}

impl Sub for Hyper {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self {
            v: self.v - o.v,
            a: self.a - o.a,
            b: self.b - o.b,
            ab: self.ab - o.ab,
        }
    }
}

impl Mul for Hyper {
    type Output = Self;
    /// `(x y)'' = x'' y + x'₁ y'₂ + x'₂ y'₁ + x y''`.
    fn mul(self, o: Self) -> Self {
        Self {
            v: self.v * o.v,
            a: self.a * o.v + self.v * o.a,
            b: self.b * o.v + self.v * o.b,
            ab: self.ab * o.v + self.a * o.b + self.b * o.a + self.v * o.ab,
        }
    }
}

impl Div for Hyper {
    type Output = Self;
    /// `x / y` with the value of `f64` division; `∂/∂x = 1/y`, `∂/∂y = -x/y²`, `∂²/∂x∂y = -1/y²`,
    /// `∂²/∂y² = 2x/y³`.
    fn div(self, o: Self) -> Self {
        let (x, y) = (self.v, o.v);
        let r = 1.0 / y;
        self.chain2(o, x / y, r, -x * r * r, 0.0, -r * r, 2.0 * x * r * r * r)
    }
}

impl Neg for Hyper {
    type Output = Self;
    fn neg(self) -> Self {
        Self {
            v: -self.v,
            a: -self.a,
            b: -self.b,
            ab: -self.ab,
        }
    }
}

impl AddAssign for Hyper {
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl SubAssign for Hyper {
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl MulAssign for Hyper {
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl DivAssign for Hyper {
    fn div_assign(&mut self, o: Self) {
        *self = *self / o;
    }
}

/// Compares values only: a branch on `a < b` follows the primal evaluation.
impl PartialOrd for Hyper {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        self.v.partial_cmp(&o.v)
    }
}

#[cfg(test)]
mod tests {
    use super::Hyper;

    /// Every method's first and second derivatives against central differences of its value.
    #[test]
    fn methods_match_central_differences() {
        type Unary = fn(Hyper) -> Hyper;
        let methods: [(&str, Unary); 16] = [
            ("exp", Hyper::exp),
            ("ln", Hyper::ln),
            ("sqrt", Hyper::sqrt),
            ("powi", |x| x.powi(3)),
            ("powi negative", |x| x.powi(-2)),
            ("sin", Hyper::sin),
            ("cos", Hyper::cos),
            ("tanh", Hyper::tanh),
            ("atan", Hyper::atan),
            ("abs", Hyper::abs),
            ("max", |x| x.max(Hyper::cst(0.5) * x * x)),
            ("min", |x| x.min(Hyper::cst(0.5) * x * x)),
            ("hypot", |x| x.hypot(Hyper::cst(0.7))),
            ("hypot second", |x| Hyper::cst(0.7).hypot(x * x)),
            ("div", |x| x.sin() / (x * x + Hyper::cst(1.0))),
            ("div constant", |x| Hyper::cst(1.5) / x),
        ];
        for (name, f) in methods {
            for x in [0.3, 0.85, 1.35] {
                let h = 1e-4;
                let at = |t: f64| f(Hyper::cst(t)).v;
                let d1 = (at(x + h) - at(x - h)) / (2.0 * h);
                let d2 = (at(x + h) - 2.0 * at(x) + at(x - h)) / (h * h);
                let exact = f(Hyper::seeded(x, 1.0, 1.0));
                assert_eq!(exact.v, at(x), "{name} value at {x}");
                assert!(
                    (exact.a - d1).abs() <= 1e-6 * (1.0 + d1.abs()),
                    "{name}' at {x}: {} vs {d1}",
                    exact.a
                );
                assert_eq!(exact.a, exact.b, "{name}");
                assert!(
                    (exact.ab - d2).abs() <= 1e-5 * (1.0 + d2.abs()),
                    "{name}'' at {x}: {} vs {d2}",
                    exact.ab
                );
            }
        }
    }

    /// Mixed partials of `x y² / (x + y)` by hand.
    #[test]
    fn mixed_partials() {
        let (x0, y0) = (0.7, 1.3);
        let f = |x: Hyper, y: Hyper| x * y * y / (x + y);
        let out = f(Hyper::seeded(x0, 1.0, 0.0), Hyper::seeded(y0, 0.0, 1.0));
        // ∂²/∂x∂y of x y² / (x + y) = (2 x y (x + y) ... ) by hand: 2y/(x+y) - y²/(x+y)² -
        // 2xy/(x+y)² + 2xy²/(x+y)³.
        let s = x0 + y0;
        let want = 2.0 * y0 / s - y0 * y0 / (s * s) - 2.0 * x0 * y0 / (s * s)
            + 2.0 * x0 * y0 * y0 / (s * s * s);
        assert!((out.ab - want).abs() < 1e-14, "{} vs {want}", out.ab);
    }
}
