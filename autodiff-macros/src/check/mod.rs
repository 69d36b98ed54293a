//! Evidence that the passes are right, in-process: an interpreter of the IR, random programs
//! checked against a dual-number oracle, and a fuzzer that the macro never panics.
//!
//! - [`interpret`] runs a block of IR on numbers, as the emitted Rust would.
//! - [`oracle`] gives it dual numbers: forward mode written from the mathematics.
//! - [`generate`] writes random functions of the supported subset from a stream of choices.
//! - [`programs`] runs them through lowering, the reverse and forward passes and the
//!   interpreter, against the oracle run over the primal program.
//! - [`fuzz`] feeds the whole macro random and pathological token streams.

mod chains;
mod cost;
mod fuzz;
mod generate;
mod interpret;
mod oracle;
mod programs;
mod reference;
