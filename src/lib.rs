//! Compile-time reverse-mode automatic differentiation.
#![forbid(unsafe_code)]
