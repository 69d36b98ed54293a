//! [`Real`]: the arithmetic the benchmark functions use, implemented for `f64` and for each peer's
//! AD number, so that every function body is written once for all of them.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A scalar the benchmark bodies can be evaluated over. Constants enter only on the right of an
/// operator (`x * 0.5`, `x + 1.0`), which every peer supports without recording them.
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// The value, without derivatives: for comparisons, whose outcome is not differentiated.
    #[must_use]
    fn value(self) -> f64;
    /// `e^self`.
    #[must_use]
    fn exp(self) -> Self;
    /// The natural logarithm.
    #[must_use]
    fn ln(self) -> Self;
    /// Sine.
    #[must_use]
    fn sin(self) -> Self;
    /// Cosine.
    #[must_use]
    fn cos(self) -> Self;
    /// Hyperbolic tangent.
    #[must_use]
    fn tanh(self) -> Self;
    /// Square root.
    #[must_use]
    fn sqrt(self) -> Self;
    /// `1 / self`.
    #[must_use]
    fn recip(self) -> Self;
    /// `self^n`.
    #[must_use]
    fn powi(self, n: i32) -> Self;
    /// The logistic function, composed as `1 / (1 + e^-x)` for the peers (none ships it).
    #[must_use]
    fn sigmoid(self) -> Self {
        ((-self).exp() + 1.0).recip()
    }
}

impl Real for f64 {
    fn value(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn recip(self) -> Self {
        f64::recip(self)
    }
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
    fn sigmoid(self) -> Self {
        autodiff::sigmoid(self)
    }
}

impl Real for num_dual::Dual64 {
    fn value(self) -> f64 {
        self.re
    }
    fn exp(self) -> Self {
        num_dual::DualNum::exp(&self)
    }
    fn ln(self) -> Self {
        num_dual::DualNum::ln(&self)
    }
    fn sin(self) -> Self {
        num_dual::DualNum::sin(&self)
    }
    fn cos(self) -> Self {
        num_dual::DualNum::cos(&self)
    }
    fn tanh(self) -> Self {
        num_dual::DualNum::tanh(&self)
    }
    fn sqrt(self) -> Self {
        num_dual::DualNum::sqrt(&self)
    }
    fn recip(self) -> Self {
        num_dual::DualNum::recip(&self)
    }
    fn powi(self, n: i32) -> Self {
        num_dual::DualNum::powi(&self, n)
    }
}

impl Real for echidna::Reverse<f64> {
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

impl Real for reverse::Var<'_> {
    fn value(self) -> f64 {
        self.val()
    }
    fn exp(self) -> Self {
        reverse::Var::exp(&self)
    }
    fn ln(self) -> Self {
        reverse::Var::ln(&self)
    }
    fn sin(self) -> Self {
        reverse::Var::sin(&self)
    }
    fn cos(self) -> Self {
        reverse::Var::cos(&self)
    }
    fn tanh(self) -> Self {
        reverse::Var::tanh(&self)
    }
    fn sqrt(self) -> Self {
        reverse::Var::sqrt(&self)
    }
    fn recip(self) -> Self {
        reverse::Var::recip(&self)
    }
    fn powi(self, n: i32) -> Self {
        reverse::Var::powi(&self, n)
    }
}
