//! Support code for the random-program tests of `autodiff`.
//!
//! The build script generates random straight-line programs twice: once as ordinary `f64`/`f32` Rust
//! functions marked `#[differentiate]`, once over the [`dual::Dual`] number type of this crate. The
//! dual version is the oracle: forward-mode derivatives written by hand from calculus, sharing no
//! code with the macro. A second family of programs, with branches, loops, early returns, local
//! arrays and calls, is also checked against [`tape`], an independent reverse-mode tape. [`fd`] holds a finite-difference gradient as a second opinion, and
//! [`harness`] compares the three. Programs with several outputs are checked by [`multi`]
//! (Jacobians against the tape and the dual numbers), programs differentiated to second order by
//! [`second`] against [`hyper`], a hyper-dual oracle; [`family`] holds their report.
#![forbid(unsafe_code)]

pub mod dual;
pub mod family;
pub mod fd;
pub mod harness;
pub mod hyper;
pub mod multi;
pub mod prim;
pub mod second;
pub mod tape;

/// Constants passed by reference to the generated programs with control flow (`p: &Params`), read
/// as `p.scale` and passed on to helpers.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// A float field.
    pub scale: f64,
    /// A float field.
    pub shift: f64,
    /// An integer field, used as a trip count.
    pub m: usize,
    /// An integer field, used as an exponent.
    pub k: i32,
}

impl Params {
    /// `scale · tanh u + shift · sin(u / 2)`: a differentiated method the programs call on their
    /// constant `p: &Params`, as `p.warp(u)`, in every mode (the oracles inline its body).
    #[autodiff::differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn warp(&self, u: f64) -> f64 {
        self.scale * u.tanh() + self.shift * (0.5 * u).sin()
    }
}
