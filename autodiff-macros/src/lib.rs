//! The `#[differentiate]` attribute.
#![forbid(unsafe_code)]
