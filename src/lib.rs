//! Compile-time reverse-mode automatic differentiation.
//!
//! `#[differentiate]` reads a function's body, builds its computational graph at compile time,
//! applies the chain rule backwards over it with one table of local derivatives, and emits a
//! sibling `f_grad` that returns the value and the gradient. `f_grad` is plain Rust: no graph,
//! tape or closure exists at run time.
//!
//! ```
//! use autodiff::differentiate;
//!
//! #[differentiate]
//! fn f(x: f64, y: f64) -> f64 {
//!     (x + y) * y
//! }
//!
//! let (value, dx, dy) = f_grad(2.0, 3.0);
//! assert_eq!((value, dx, dy), (15.0, 3.0, 8.0));
//! ```
//!
//! `#[differentiate(graph)]` emits `f_graph`, which returns the computational graph at a point,
//! with every value, adjoint and local derivative ([`Graph`]):
//!
//! ```
//! use autodiff::differentiate;
//!
//! #[differentiate(graph)]
//! fn f(x: f64, y: f64) -> f64 {
//!     let a = x + y;
//!     a * y
//! }
//!
//! let g = f_graph(2.0, 3.0);
//! assert_eq!(g.node("f").unwrap().value(), 15.0);
//! assert_eq!(g.node("a").unwrap().adjoint(), 3.0);
//! assert_eq!(g.node("y").unwrap().adjoint(), 8.0);
//! assert_eq!(g.local("y", "f"), Some(5.0));
//! assert_eq!(g.local("x", "f"), None);
//! assert!(g.to_string().contains("∂f/∂y = (∂f/∂a · ∂a/∂y) + ∂f/∂y(×) = (3 · 1) + 5 = 8"));
//! assert!(g.to_svg().starts_with("<svg"));
//! ```
//!
//! See the README for the supported syntax and conventions.
#![forbid(unsafe_code)]

// Generated code names everything by absolute path, `::autodiff::sigmoid` included; this lets the
// crate's own tests and doc examples use the macro too.
extern crate self as autodiff;

pub use autodiff_macros::differentiate;
pub use autodiff_runtime::*;
