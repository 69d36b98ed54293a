//! Forward-mode dual numbers: the oracle.
//!
//! A [`Dual`] carries a value `v` and a tangent `d` (the derivative of `v` along one seeded input
//! direction). Every operation below computes its value with the same `f64` operation the original
//! program uses and its tangent from the textbook derivative, written out by hand.
//!
//! Operations with a kink or a jump (`abs`, `max`, `floor`, ...) also record how far, measured along
//! the seeded direction, the evaluation point is from the nearest kink; see [`kink_margin`]. Finite
//! differences whose stencil crosses a kink are meaningless, and the harness uses the margin to skip
//! them.

use std::cell::Cell;
use std::cmp::Ordering;
use std::f64::consts::{LN_2, LN_10, PI};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

thread_local! {
    static KINK_MARGIN: Cell<f64> = const { Cell::new(f64::INFINITY) };
    static KINK_CLEARANCE: Cell<f64> = const { Cell::new(f64::INFINITY) };
}

/// Forgets the kinks recorded so far on this thread.
pub fn reset_kink_margin() {
    KINK_MARGIN.with(|m| m.set(f64::INFINITY));
    KINK_CLEARANCE.with(|m| m.set(f64::INFINITY));
}

/// The smallest distance to a kink, along the seeded direction, among the operations evaluated on
/// this thread since the last [`reset_kink_margin`] (`inf` if none depended on the seeded input).
#[must_use]
pub fn kink_margin() -> f64 {
    KINK_MARGIN.with(Cell::get)
}

/// The smallest distance, relative to `max(1, |argument|)`, between the argument of a kinked
/// operation and its kink, since the last [`reset_kink_margin`], whatever the seed. Where it is
/// near rounding level, the same program in another precision may take the other branch.
#[must_use]
pub fn kink_clearance() -> f64 {
    KINK_CLEARANCE.with(Cell::get)
}

/// Records that the argument of a kinked operation, of size `magnitude`, is `distance` away from
/// the kink and moves at `rate` per unit of the seeded input.
fn near_kink(distance: f64, rate: f64, magnitude: f64) {
    if rate > 0.0 {
        let margin = distance / rate;
        KINK_MARGIN.with(|m| m.set(m.get().min(margin)));
    }
    // An argument exactly on the kink is an exact result (say an integer from `floor`), the same
    // in any precision.
    if distance > 0.0 {
        let clearance = distance / magnitude.max(1.0);
        KINK_CLEARANCE.with(|m| m.set(m.get().min(clearance)));
    }
}

/// Distance from `x` to the nearest integer (the jumps of `floor`, `ceil`, `trunc`, `fract`).
fn distance_to_integer(x: f64) -> f64 {
    (x - x.round()).abs()
}

/// A dual number `v + d ε` with `ε² = 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual {
    /// The value.
    pub v: f64,
    /// The tangent: derivative of the value along the seeded direction.
    pub d: f64,
}

impl Dual {
    /// A value with the given tangent.
    #[must_use]
    pub const fn new(v: f64, d: f64) -> Self {
        Self { v, d }
    }

    /// A constant: tangent 0.
    #[must_use]
    pub const fn cst(v: f64) -> Self {
        Self { v, d: 0.0 }
    }

    /// Whether the value is finite (a predicate: no derivative).
    #[must_use]
    pub const fn is_finite(self) -> bool {
        self.v.is_finite()
    }

    /// Whether the value is NaN.
    #[must_use]
    pub const fn is_nan(self) -> bool {
        self.v.is_nan()
    }

    /// Whether the value's sign bit is set; the distance to 0 is recorded as a kink, as a
    /// comparison's distance to its tie, since finite differences must not cross it.
    #[must_use]
    pub fn is_sign_negative(self) -> bool {
        near_kink(self.v.abs(), self.d.abs(), self.v.abs());
        self.v.is_sign_negative()
    }

    /// The seeded input: tangent 1.
    #[must_use]
    pub const fn var(v: f64) -> Self {
        Self { v, d: 1.0 }
    }

    /// `f(self)` given `f(v)` and `f'(v)`.
    fn chain(self, value: f64, derivative: f64) -> Self {
        Self {
            v: value,
            d: derivative * self.d,
        }
    }

    /// `e^x`.
    #[must_use]
    pub fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }

    /// `2^x`; derivative `2^x ln 2`.
    #[must_use]
    pub fn exp2(self) -> Self {
        let e = self.v.exp2();
        self.chain(e, e * LN_2)
    }

    /// `e^x - 1`; derivative `e^x`.
    #[must_use]
    pub fn exp_m1(self) -> Self {
        self.chain(self.v.exp_m1(), self.v.exp())
    }

    /// `ln x`; derivative `1/x`.
    #[must_use]
    pub fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }

    /// `ln(1 + x)`; derivative `1/(1 + x)`.
    #[must_use]
    pub fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), 1.0 / (1.0 + self.v))
    }

    /// `log_b x = ln x / ln b`, differentiated in both `x` and `b`.
    #[must_use]
    pub fn log(self, base: Self) -> Self {
        let ln_x = self.v.ln();
        let ln_b = base.v.ln();
        Self {
            v: self.v.log(base.v),
            d: self.d / (self.v * ln_b) - ln_x * base.d / (base.v * ln_b * ln_b),
        }
    }

    /// `log₂ x`; derivative `1/(x ln 2)`.
    #[must_use]
    pub fn log2(self) -> Self {
        self.chain(self.v.log2(), 1.0 / (self.v * LN_2))
    }

    /// `log₁₀ x`; derivative `1/(x ln 10)`.
    #[must_use]
    pub fn log10(self) -> Self {
        self.chain(self.v.log10(), 1.0 / (self.v * LN_10))
    }

    /// `√x`; derivative `1/(2√x)`.
    #[must_use]
    pub fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }

    /// `∛x`; derivative `1/(3 ∛x²)`.
    #[must_use]
    pub fn cbrt(self) -> Self {
        let c = self.v.cbrt();
        self.chain(c, 1.0 / (3.0 * c * c))
    }

    /// `x^n`; derivative `n x^(n-1)`.
    #[must_use]
    pub fn powi(self, n: i32) -> Self {
        let derivative = if n == 0 {
            0.0
        } else {
            f64::from(n) * self.v.powi(n - 1)
        };
        self.chain(self.v.powi(n), derivative)
    }

    /// `x^y`, differentiated in both: `y x^(y-1) dx + x^y ln x dy`.
    #[must_use]
    pub fn powf(self, exponent: Self) -> Self {
        let p = self.v.powf(exponent.v);
        let mut d = exponent.v * self.v.powf(exponent.v - 1.0) * self.d;
        if exponent.d != 0.0 {
            d += p * self.v.ln() * exponent.d;
        }
        Self { v: p, d }
    }

    /// `sin x`; derivative `cos x`.
    #[must_use]
    pub fn sin(self) -> Self {
        self.chain(self.v.sin(), self.v.cos())
    }

    /// `cos x`; derivative `-sin x`.
    #[must_use]
    pub fn cos(self) -> Self {
        self.chain(self.v.cos(), -self.v.sin())
    }

    /// `tan x`; derivative `1 + tan² x`.
    #[must_use]
    pub fn tan(self) -> Self {
        let t = self.v.tan();
        self.chain(t, 1.0 + t * t)
    }

    /// `asin x`; derivative `1/√(1 - x²)`.
    #[must_use]
    pub fn asin(self) -> Self {
        self.chain(self.v.asin(), 1.0 / (1.0 - self.v * self.v).sqrt())
    }

    /// `acos x`; derivative `-1/√(1 - x²)`.
    #[must_use]
    pub fn acos(self) -> Self {
        self.chain(self.v.acos(), -1.0 / (1.0 - self.v * self.v).sqrt())
    }

    /// `atan x`; derivative `1/(1 + x²)`.
    #[must_use]
    pub fn atan(self) -> Self {
        self.chain(self.v.atan(), 1.0 / (1.0 + self.v * self.v))
    }

    /// `atan2(y, x)` with `self = y`; derivative `(x dy - y dx)/(x² + y²)`.
    #[must_use]
    pub fn atan2(self, x: Self) -> Self {
        let r2 = x.v * x.v + self.v * self.v;
        Self {
            v: self.v.atan2(x.v),
            d: (x.v * self.d - self.v * x.d) / r2,
        }
    }

    /// `sinh x`; derivative `cosh x`.
    #[must_use]
    pub fn sinh(self) -> Self {
        self.chain(self.v.sinh(), self.v.cosh())
    }

    /// `cosh x`; derivative `sinh x`.
    #[must_use]
    pub fn cosh(self) -> Self {
        self.chain(self.v.cosh(), self.v.sinh())
    }

    /// `tanh x`; derivative `1 - tanh² x`.
    #[must_use]
    pub fn tanh(self) -> Self {
        let t = self.v.tanh();
        self.chain(t, 1.0 - t * t)
    }

    /// `asinh x`; derivative `1/√(x² + 1)`.
    #[must_use]
    pub fn asinh(self) -> Self {
        self.chain(self.v.asinh(), 1.0 / (self.v * self.v + 1.0).sqrt())
    }

    /// `acosh x`; derivative `1/√(x² - 1)`.
    #[must_use]
    pub fn acosh(self) -> Self {
        self.chain(self.v.acosh(), 1.0 / (self.v * self.v - 1.0).sqrt())
    }

    /// `atanh x`; derivative `1/(1 - x²)`.
    #[must_use]
    pub fn atanh(self) -> Self {
        self.chain(self.v.atanh(), 1.0 / (1.0 - self.v * self.v))
    }

    /// `|x|`; derivative `sign x`, and 0 at 0.
    #[must_use]
    pub fn abs(self) -> Self {
        near_kink(self.v.abs(), self.d.abs(), self.v.abs());
        let derivative = if self.v > 0.0 {
            1.0
        } else if self.v < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.chain(self.v.abs(), derivative)
    }

    /// `sign x`: piecewise constant, derivative 0.
    #[must_use]
    pub fn signum(self) -> Self {
        near_kink(self.v.abs(), self.d.abs(), self.v.abs());
        Self::cst(self.v.signum())
    }

    /// `max(x, y)`: the derivative of the larger argument (the first at a tie).
    #[must_use]
    pub fn max(self, other: Self) -> Self {
        near_kink(
            (self.v - other.v).abs(),
            (self.d - other.d).abs(),
            self.v.abs().max(other.v.abs()),
        );
        let d = if self.v >= other.v { self.d } else { other.d };
        Self {
            v: self.v.max(other.v),
            d,
        }
    }

    /// `min(x, y)`: the derivative of the smaller argument (the first at a tie).
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        near_kink(
            (self.v - other.v).abs(),
            (self.d - other.d).abs(),
            self.v.abs().max(other.v.abs()),
        );
        let d = if self.v <= other.v { self.d } else { other.d };
        Self {
            v: self.v.min(other.v),
            d,
        }
    }

    /// `x` clamped to `[lo, hi]`: the derivative of whichever of the three is returned.
    #[must_use]
    pub fn clamp(self, lo: Self, hi: Self) -> Self {
        near_kink(
            (self.v - lo.v).abs().min((self.v - hi.v).abs()),
            self.d.abs() + lo.d.abs() + hi.d.abs(),
            self.v.abs().max(lo.v.abs()).max(hi.v.abs()),
        );
        let d = if self.v < lo.v {
            lo.d
        } else if self.v > hi.v {
            hi.d
        } else {
            self.d
        };
        Self {
            v: self.v.clamp(lo.v, hi.v),
            d,
        }
    }

    /// `√(x² + y²)`; derivative `(x dx + y dy)/√(x² + y²)`, and 0 at the origin (the macro's
    /// convention: a subgradient, not `0/0`).
    #[must_use]
    pub fn hypot(self, other: Self) -> Self {
        let h = self.v.hypot(other.v);
        let d = if h == 0.0 {
            0.0
        } else {
            (self.v * self.d + other.v * other.d) / h
        };
        Self { v: h, d }
    }

    /// `1/x`; derivative `-1/x²`.
    #[must_use]
    pub fn recip(self) -> Self {
        self.chain(self.v.recip(), -1.0 / (self.v * self.v))
    }

    /// `x a + b`; derivative `a dx + x da + db`.
    #[must_use]
    pub fn mul_add(self, a: Self, b: Self) -> Self {
        Self {
            v: self.v.mul_add(a.v, b.v),
            d: a.v * self.d + self.v * a.d + b.d,
        }
    }

    /// `⌊x⌋`: piecewise constant.
    #[must_use]
    pub fn floor(self) -> Self {
        near_kink(distance_to_integer(self.v), self.d.abs(), self.v.abs());
        Self::cst(self.v.floor())
    }

    /// `⌈x⌉`: piecewise constant.
    #[must_use]
    pub fn ceil(self) -> Self {
        near_kink(distance_to_integer(self.v), self.d.abs(), self.v.abs());
        Self::cst(self.v.ceil())
    }

    /// `x` rounded half away from zero: piecewise constant, jumps at half-integers.
    #[must_use]
    pub fn round(self) -> Self {
        near_kink(
            (self.v - (self.v.floor() + 0.5)).abs(),
            self.d.abs(),
            self.v.abs(),
        );
        Self::cst(self.v.round())
    }

    /// `x` rounded toward zero: piecewise constant.
    #[must_use]
    pub fn trunc(self) -> Self {
        near_kink(distance_to_integer(self.v), self.d.abs(), self.v.abs());
        Self::cst(self.v.trunc())
    }

    /// `x - trunc x`; derivative 1 between the jumps.
    #[must_use]
    pub fn fract(self) -> Self {
        near_kink(distance_to_integer(self.v), self.d.abs(), self.v.abs());
        self.chain(self.v.fract(), 1.0)
    }

    /// Degrees to radians; derivative `π/180`.
    #[must_use]
    pub fn to_radians(self) -> Self {
        self.chain(self.v.to_radians(), PI / 180.0)
    }

    /// Radians to degrees; derivative `180/π`.
    #[must_use]
    pub fn to_degrees(self) -> Self {
        self.chain(self.v.to_degrees(), 180.0 / PI)
    }

    /// The logistic function `1/(1 + e^-x)`; derivative `σ(x)(1 - σ(x))`.
    #[must_use]
    pub fn sigmoid(self) -> Self {
        let s = crate::prim::sigmoid(self.v);
        self.chain(s, s * (1.0 - s))
    }

    /// `max(x, 0)`; derivative 1 for `x > 0`, else 0.
    #[must_use]
    pub fn relu(self) -> Self {
        near_kink(self.v.abs(), self.d.abs(), self.v.abs());
        if self.v > 0.0 { self } else { Self::cst(0.0) }
    }

    /// `ln(1 + e^x)`; derivative `σ(x)`.
    #[must_use]
    pub fn softplus(self) -> Self {
        self.chain(crate::prim::softplus(self.v), crate::prim::sigmoid(self.v))
    }
}

/// Compares values only, so that a branch follows the primal evaluation, as the contract says;
/// the distance to the tie is recorded as a kink, since finite differences must not cross it.
impl PartialOrd for Dual {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        near_kink(
            (self.v - o.v).abs(),
            (self.d - o.d).abs(),
            self.v.abs().max(o.v.abs()),
        );
        self.v.partial_cmp(&o.v)
    }
}

impl Add for Dual {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self::new(self.v + rhs.v, self.d + rhs.d)
    }
}

impl Sub for Dual {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self::new(self.v - rhs.v, self.d - rhs.d)
    }
}

impl Mul for Dual {
    type Output = Self;
    fn mul(self, rhs: Self) -> Self {
        Self::new(self.v * rhs.v, self.d * rhs.v + self.v * rhs.d)
    }
}

impl Div for Dual {
    type Output = Self;
    fn div(self, rhs: Self) -> Self {
        let q = self.v / rhs.v;
        Self::new(q, (self.d - q * rhs.d) / rhs.v)
    }
}

impl Neg for Dual {
    type Output = Self;
    fn neg(self) -> Self {
        Self::new(-self.v, -self.d)
    }
}

impl AddAssign for Dual {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Dual {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl MulAssign for Dual {
    fn mul_assign(&mut self, rhs: Self) {
        *self = *self * rhs;
    }
}

impl DivAssign for Dual {
    fn div_assign(&mut self, rhs: Self) {
        *self = *self / rhs;
    }
}

#[cfg(test)]
mod tests {
    use super::Dual;

    /// Every method's tangent against a central difference of its value.
    #[test]
    fn every_method_matches_finite_differences() {
        type Unary = fn(Dual) -> Dual;
        let methods: [(&str, Unary); 40] = [
            ("exp", Dual::exp),
            ("exp2", Dual::exp2),
            ("exp_m1", Dual::exp_m1),
            ("ln", Dual::ln),
            ("ln_1p", Dual::ln_1p),
            ("log", |x| x.log(Dual::cst(3.0))),
            ("log base", |x| Dual::cst(2.5).log(x + Dual::cst(1.0))),
            ("log2", Dual::log2),
            ("log10", Dual::log10),
            ("sqrt", Dual::sqrt),
            ("cbrt", Dual::cbrt),
            ("powi", |x| x.powi(3)),
            ("powi negative", |x| x.powi(-2)),
            ("powf", |x| x.powf(Dual::cst(1.7))),
            ("powf exponent", |x| Dual::cst(1.3).powf(x)),
            ("sin", Dual::sin),
            ("cos", Dual::cos),
            ("tan", Dual::tan),
            ("asin", |x| (x * Dual::cst(0.5)).asin()),
            ("acos", |x| (x * Dual::cst(0.5)).acos()),
            ("atan", Dual::atan),
            ("atan2", |x| x.atan2(Dual::cst(0.7))),
            ("atan2 x", |x| Dual::cst(0.7).atan2(x)),
            ("sinh", Dual::sinh),
            ("cosh", Dual::cosh),
            ("tanh", Dual::tanh),
            ("asinh", Dual::asinh),
            ("acosh", |x| (x + Dual::cst(1.5)).acosh()),
            ("atanh", |x| (x * Dual::cst(0.5)).atanh()),
            ("abs", Dual::abs),
            ("max", |x| x.max(Dual::cst(0.2))),
            ("min", |x| x.min(Dual::cst(0.2))),
            ("clamp", |x| {
                Dual::cst(0.5).clamp(x - Dual::cst(1.0), x + Dual::cst(1.0))
            }),
            ("hypot", |x| x.hypot(Dual::cst(0.7))),
            ("recip", Dual::recip),
            ("mul_add", |x| x.mul_add(x, Dual::cst(0.3))),
            ("fract", Dual::fract),
            ("to_degrees", Dual::to_degrees),
            ("sigmoid", Dual::sigmoid),
            ("softplus", Dual::softplus),
        ];
        for (name, f) in methods {
            for x in [0.3, 0.85, 1.35] {
                let h = 1e-6;
                let numeric = (f(Dual::cst(x + h)).v - f(Dual::cst(x - h)).v) / (2.0 * h);
                let exact = f(Dual::var(x));
                assert_eq!(exact.v, f(Dual::cst(x)).v, "{name} value at {x}");
                assert!(
                    (exact.d - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
                    "{name} at {x}: {} vs {numeric}",
                    exact.d
                );
            }
        }
    }

    #[test]
    fn product_rule() {
        let x = Dual::var(3.0);
        let y = x * x * Dual::cst(2.0);
        assert_eq!(y, Dual::new(18.0, 12.0));
    }

    #[test]
    fn quotient_rule() {
        let x = Dual::var(2.0);
        let y = Dual::cst(1.0) / x;
        assert_eq!(y, Dual::new(0.5, -0.25));
    }
}
