//! Support code for the random-program tests of `autodiff`.
//!
//! The build script generates random straight-line programs twice: once as ordinary `f64`/`f32` Rust
//! functions marked `#[differentiate]`, once over the [`dual::Dual`] number type of this crate. The
//! dual version is the oracle: forward-mode derivatives written by hand from calculus, sharing no
//! code with the macro. [`fd`] holds a finite-difference gradient as a second opinion, and
//! [`harness`] compares the three.
#![forbid(unsafe_code)]

pub mod dual;
pub mod fd;
pub mod harness;
pub mod prim;
