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
mod tape;

pub use activations::{relu, sigmoid, softplus};
pub use check::{
    ComponentMismatch, GradientMismatch, Tolerance, check_gradient, check_gradient_with, gradient,
};
pub use float::Float;
pub use graph::{Graph, GraphBuilder, GraphNode};
pub use tape::Tape;
