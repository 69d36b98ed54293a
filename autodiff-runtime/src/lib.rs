//! Runtime support for `autodiff`: functions with known derivatives for use inside
//! `#[differentiate]` bodies, and a finite-difference gradient checker for testing the
//! gradients it produces.
//!
//! - [`sigmoid`], [`relu`] and [`softplus`]: numerically stable activation functions,
//!   generic over [`Float`] (`f32` and `f64`), each documenting its derivative.
//! - [`gradient`], [`check_gradient`] and [`check_gradient_with`]: a fourth-order
//!   finite-difference gradient and a component-wise comparison against it, reporting a
//!   [`GradientMismatch`] with every component out of [`Tolerance`].
//! - [`Tape`]: the stack on which generated code saves the values a loop's backward sweep needs.
//! - [`zero_wins`]: the guard generated code uses where a derivative can meet an infinity
//!   (`0 · ∞ = 0`).
//! - [`gradient_of`], [`FieldGradient`] and [`ScalarGradient`]: how generated code builds the
//!   gradient entry of a struct parameter.
//! - [`Graph`]: the computational graph `#[differentiate(graph)]` records at a point, with
//!   values, adjoints and local derivatives, drawn as DOT or SVG.
//!
//! # Example
//!
//! ```
//! use autodiff_runtime::{check_gradient, sigmoid, softplus};
//!
//! // softplus' = sigmoid
//! for x in [-3.0, -0.5, 0.25, 4.0] {
//!     check_gradient(|v| softplus(v[0]), &[x], &[sigmoid(x)]).unwrap();
//! }
//! ```
#![forbid(unsafe_code)]

pub mod activations;
pub mod check;
mod float;
pub mod graph;
mod guard;
mod lanes;
#[doc(hidden)]
pub mod private;
mod structs;
mod tape;

pub use activations::{relu, sigmoid, softplus};
pub use check::{
    ComponentMismatch, GradientMismatch, Tolerance, check_gradient, check_gradient_with, gradient,
};
pub use float::Float;
pub use graph::{Graph, GraphBuilder, GraphNode};
pub use guard::zero_wins;
pub use structs::{FieldGradient, ScalarGradient, gradient_of};

/// The float trait of generic differentiated functions: `fn f<T: num_traits::Float>(..)`.
pub use num_traits;

/// `n` as the float type `T`: how generated code for a function generic over
/// [`num_traits::Float`] writes its constants and casts. A value `T` cannot represent is `NaN`
/// (no float type in use fails to represent an `f64` or an integer).
///
/// ```
/// let half: f32 = autodiff_runtime::cast(0.5_f64);
/// assert_eq!(half, 0.5);
/// ```
#[inline]
#[must_use]
pub fn cast<T: num_traits::Float, N: num_traits::ToPrimitive>(n: N) -> T {
    T::from(n).unwrap_or_else(T::nan)
}
pub use tape::Tape;
