//! Plain `f64` versions of the runtime functions, written independently of `autodiff-runtime`:
//! the oracle computes its values with them.

/// The logistic function `1/(1 + e^-x)`.
#[must_use]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `max(x, 0)`.
#[must_use]
pub fn relu(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

/// `ln(1 + e^x)`, evaluated without overflow for large `x`.
#[must_use]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}
