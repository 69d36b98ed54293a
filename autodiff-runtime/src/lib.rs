//! Functions with known derivatives for use inside `#[differentiate]` bodies.
#![forbid(unsafe_code)]
