//! The report shared by the checks of the programs with several outputs ([`crate::multi`]) and of
//! the programs differentiated to second order ([`crate::second`]).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use crate::harness::Point;

/// A failed comparison.
#[derive(Debug)]
pub struct Failure {
    /// The program's name.
    pub program: &'static str,
    /// Its source.
    pub source: &'static str,
    /// The point, as `x = 0.5, n = 2`.
    pub at: String,
    /// Whether the comparison checks the generator or an oracle rather than `#[differentiate]`.
    pub oracle_fault: bool,
    /// Whether it compares second derivatives (`H·v` or Hessian entries) of the macro.
    pub second_order: bool,
    /// What was compared, with the expected and actual values.
    pub message: String,
}

/// The outcome of checking many programs.
#[derive(Debug, Default)]
pub struct Report {
    /// Programs checked.
    pub programs: usize,
    /// Points evaluated.
    pub points: usize,
    /// Entries compared with the oracles (Jacobian or Hessian entries).
    pub entries: usize,
    /// Entries also compared with finite differences.
    pub fd_checked: usize,
    /// Entries whose finite-difference check was skipped near a kink or a comparison.
    pub fd_skipped: usize,
    /// Whether the macro's functions were available.
    pub with_macro: bool,
    /// All failed comparisons.
    pub failures: Vec<Failure>,
    /// How many programs contain each shape, by name.
    pub shapes: BTreeMap<&'static str, usize>,
}

impl Report {
    /// Counts a program and its shapes.
    pub fn program(&mut self, shapes: &[&'static str]) {
        self.programs += 1;
        for &shape in shapes {
            *self.shapes.entry(shape).or_default() += 1;
        }
    }

    /// One line of counts.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut failing: Vec<&str> = self.failures.iter().map(|f| f.program).collect();
        failing.dedup();
        format!(
            "{} programs, {} points, {} entries against the oracles, {} also against finite \
             differences ({} skipped near kinks), macro {}; {} failed comparisons in {} programs",
            self.programs,
            self.points,
            self.entries,
            self.fd_checked,
            self.fd_skipped,
            if self.with_macro {
                "checked"
            } else {
                "absent (oracle only)"
            },
            self.failures.len(),
            failing.len(),
        )
    }

    /// The failures that do not compare second derivatives of the macro.
    #[must_use]
    pub fn first_order_failures(&self) -> usize {
        self.failures.iter().filter(|f| !f.second_order).count()
    }

    /// Asserts that every shape in `shapes` (comma-separated) occurs in at least `min` programs.
    ///
    /// # Panics
    ///
    /// If one does not.
    pub fn assert_shapes(&self, shapes: &str, min: usize) {
        for shape in shapes.split(',').filter(|s| !s.is_empty()) {
            let count = self.shapes.get(shape).copied().unwrap_or(0);
            assert!(
                count >= min,
                "shape {shape} occurs in only {count} programs"
            );
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        let mut i = 0;
        while i < self.failures.len() {
            let program = self.failures[i].program;
            let mut j = i;
            while j < self.failures.len() && self.failures[j].program == program {
                j += 1;
            }
            let oracle = self.failures[i..j].iter().any(|x| x.oracle_fault);
            writeln!(
                f,
                "\n=== {program}{} ===\n{}",
                if oracle {
                    " (generator/oracle fault)"
                } else {
                    ""
                },
                self.failures[i].source.trim_end()
            )?;
            for failure in &self.failures[i..j] {
                writeln!(f, "  at {}: {}", failure.at, failure.message)?;
            }
            i = j;
        }
        Ok(())
    }
}

/// `x = 0.5, n = 2`, in a form that can be pasted into a call.
#[must_use]
pub fn describe_point(float_names: &[&str], int_names: &[&str], point: &Point) -> String {
    let mut out = String::new();
    for (name, x) in float_names.iter().zip(point.floats) {
        let _ = write!(out, "{name} = {x:?}, ");
    }
    for (name, n) in int_names.iter().zip(point.ints) {
        let _ = write!(out, "{name} = {n}, ");
    }
    out.truncate(out.len().saturating_sub(2));
    out
}

/// A fixed direction (or seed) of length `n` with entries of both signs and different sizes.
#[must_use]
pub fn direction(n: usize, shift: f64) -> Vec<f64> {
    (0..n)
        .map(|k| {
            let k = f64::from(u32::try_from(k).unwrap_or(u32::MAX));
            (0.7 - 0.31 * k + shift) * (1.0 + 0.2 * k)
        })
        .collect()
}

/// `Σ a_k b_k` and `Σ |a_k b_k|` (the scale a rounding error of the sum is relative to).
#[must_use]
pub fn dot(a: &[f64], b: &[f64]) -> (f64, f64) {
    a.iter()
        .zip(b)
        .fold((0.0, 0.0), |(s, m), (x, y)| (s + x * y, m + (x * y).abs()))
}
