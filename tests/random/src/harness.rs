//! Checks generated programs: `f_grad` against the dual-number oracle and finite differences.

use std::fmt::{self, Write as _};

use crate::dual::{self, Dual};
use crate::fd;

/// One evaluation point: the float parameters, then the integer parameters, each in declaration
/// order (integers widened to `i64`; `f32` inputs are exactly representable in `f32`).
#[derive(Debug)]
pub struct Point {
    /// Float parameters.
    pub floats: &'static [f64],
    /// Integer parameters.
    pub ints: &'static [i64],
}

/// Evaluates the original function: the bits of its value (`f32` widened to `u64`) and the value.
pub type ValueFn = fn(&[f64], &[i64]) -> (u64, f64);
/// Evaluates `f_grad`: the bits of the value, the value and the gradient entries (as `f64`).
pub type GradFn = fn(&[f64], &[i64]) -> (u64, f64, Vec<f64>);
/// Calls `f_jvp` along a direction over the active parameters and returns the tangent.
pub type JvpFn = fn(&[f64], &[i64], &[f64]) -> f64;
/// Evaluates the oracle over dual numbers.
pub type OracleFn = fn(&[Dual], &[i64]) -> Dual;
/// Runs the program over the reverse-mode tape ([`crate::tape`]): its value and its gradient with
/// respect to every float parameter (active or not).
pub type TapeFn = fn(&[f64], &[i64]) -> (f64, Vec<f64>);

/// A generated program with its entry points.
#[derive(Debug)]
pub struct Program {
    /// Function name, `p<index>`.
    pub name: &'static str,
    /// Source text of the differentiated function (with the module constants it uses).
    pub source: &'static str,
    /// Whether the program computes in `f32`.
    pub single: bool,
    /// Indices (among the float parameters) of the parameters `f_grad` differentiates.
    pub active: &'static [usize],
    /// Names of the float parameters.
    pub float_names: &'static [&'static str],
    /// Names of the integer parameters.
    pub int_names: &'static [&'static str],
    /// Points to check at.
    pub points: &'static [Point],
    /// The original function.
    pub value: ValueFn,
    /// `f_grad`, absent when the programs were generated without `#[differentiate]`.
    pub grad: Option<GradFn>,
    /// `f_jvp`, forward mode, absent likewise.
    pub jvp: Option<JvpFn>,
    /// The dual-number oracle.
    pub oracle: OracleFn,
    /// The reverse-mode tape oracle, for the programs with control flow.
    pub tape: Option<TapeFn>,
    /// The shapes of code the program contains (for the programs with control flow).
    pub shapes: &'static [&'static str],
}

/// Which comparison failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The oracle's value differs from the original function's: a generator bug.
    OracleValue,
    /// The oracle disagrees with finite differences: a generator or oracle bug.
    OracleVsFiniteDifferences,
    /// The value is not finite: a generator bug.
    NonFinite,
    /// `f_grad(..).0` is not bit-identical to `f(..)`.
    ValueBits,
    /// `f_grad` returned the wrong number of entries.
    GradientLength,
    /// A gradient entry of `f_grad` differs from the oracle.
    Oracle,
    /// A gradient entry of `f_grad` differs from finite differences.
    FiniteDifferences,
    /// `f_jvp` along a direction differs from the gradient's dot product with it.
    ForwardReverse,
    /// A gradient entry of `f_grad` differs from the reverse-mode tape.
    Tape,
    /// The tape and the dual-number oracle disagree: an oracle bug.
    TapeVsOracle,
}

impl Check {
    /// Whether the failure points at the generator or the oracle rather than at `#[differentiate]`.
    #[must_use]
    pub fn is_generator_fault(self) -> bool {
        matches!(
            self,
            Self::OracleValue
                | Self::OracleVsFiniteDifferences
                | Self::NonFinite
                | Self::TapeVsOracle
        )
    }
}

/// A failed comparison.
#[derive(Debug)]
pub struct Failure {
    /// The program.
    pub program: &'static Program,
    /// Index of the point in `program.points`.
    pub point: usize,
    /// What was compared.
    pub check: Check,
    /// Expected and actual values.
    pub message: String,
}

/// Tolerances for one precision.
#[derive(Clone, Copy, Debug)]
struct Tolerance {
    /// Oracle value against the original function's value.
    value: (f64, f64),
    /// `f_grad` against the oracle.
    oracle: (f64, f64),
    /// `f_grad` against finite differences.
    fd: (f64, f64),
}

/// `f64`: the oracle evaluates the same operations in the same precision.
const F64: Tolerance = Tolerance {
    value: (1e-12, 1e-12),
    oracle: (1e-12, 1e-12),
    fd: (1e-6, 1e-7),
};

/// `f32`: the oracle and the finite differences run in `f64`, so `f32` rounding dominates.
const F32: Tolerance = Tolerance {
    value: (1e-4, 1e-4),
    oracle: (1e-4, 1e-4),
    fd: (1e-4, 1e-4),
};

/// `f32` points whose [`dual::kink_clearance`] is below this are not compared with the `f64`
/// oracle.
const F32_CLEARANCE: f64 = 1e-4;

/// Finite differences are skipped at points whose [`dual::kink_clearance`] is below this.
pub(crate) const FD_CLEARANCE: f64 = 1e-9;

/// Finite-difference estimates whose error estimate exceeds this (relative to `max(1, |value|)`)
/// are not used: the function is too rough there (typically jumping back and forth at rounding
/// level) for differences to mean anything.
pub(crate) const FD_MAX_ERROR: f64 = 1e-5;

/// Oracle against finite differences (both in `f64`).
const ORACLE_FD: (f64, f64) = (1e-6, 1e-7);

/// `|got - want| <= rel |want| + abs`, and both NaN counts as equal.
pub(crate) fn close(got: f64, want: f64, (rel, abs): (f64, f64)) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    (got - want).abs() <= rel * want.abs() + abs
}

/// [`close`] to a finite-difference estimate, widened by twice its own error estimate.
fn close_fd(got: f64, want: fd::Estimate, (rel, abs): (f64, f64)) -> bool {
    close(got, want.value, (rel, abs + 2.0 * want.error))
}

/// The outcome of checking many programs.
#[derive(Debug, Default)]
pub struct Report {
    /// Programs checked.
    pub programs: usize,
    /// Programs in `f32`.
    pub single: usize,
    /// Programs differentiated with respect to a subset of their float parameters.
    pub subset: usize,
    /// Whether `f_grad` was available (programs generated with `#[differentiate]`).
    pub with_macro: bool,
    /// Points evaluated.
    pub points: usize,
    /// Gradient entries (active parameters × points).
    pub entries: usize,
    /// Gradient entries whose finite-difference check was skipped near a kink.
    pub fd_skipped: usize,
    /// Points of `f32` programs.
    pub f32_points: usize,
    /// `f32` points not compared with the oracle because `f32` and `f64` took different branches
    /// (or may: a kink within rounding distance).
    pub f32_diverged: usize,
    /// All failed comparisons.
    pub failures: Vec<Failure>,
    /// How many programs contain each shape, by name.
    pub shapes: std::collections::BTreeMap<&'static str, usize>,
}

impl Report {
    /// Whether few enough `f32` points diverged from the `f64` oracle (at most 1 in 20, judged
    /// from 100 points on): a bug in how the generator prints `f32` programs would make most of
    /// them diverge.
    #[must_use]
    pub fn f32_divergence_is_rare(&self) -> bool {
        self.f32_points < 100 || self.f32_diverged * 20 <= self.f32_points
    }

    /// One line of counts.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut failing: Vec<&str> = self.failures.iter().map(|f| f.program.name).collect();
        failing.dedup();
        format!(
            "{} programs ({} f32, {} with wrt), {} points ({} of {} f32 points branch apart from \
             the f64 oracle), {} gradient entries, {} finite-difference checks skipped near kinks, \
             f_grad {}; {} failed comparisons in {} programs",
            self.programs,
            self.single,
            self.subset,
            self.points,
            self.f32_diverged,
            self.f32_points,
            self.entries,
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
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        let mut i = 0;
        while i < self.failures.len() {
            let program = self.failures[i].program;
            let mut j = i;
            while j < self.failures.len() && std::ptr::eq(self.failures[j].program, program) {
                j += 1;
            }
            let generator = self.failures[i..j]
                .iter()
                .any(|x| x.check.is_generator_fault());
            writeln!(
                f,
                "\n=== {}{} ===\n{}",
                program.name,
                if generator {
                    " (generator/oracle fault)"
                } else {
                    ""
                },
                program.source.trim_end()
            )?;
            for failure in &self.failures[i..j] {
                let point = &program.points[failure.point];
                writeln!(
                    f,
                    "  at {}: {:?}: {}",
                    describe_point(program, point),
                    failure.check,
                    failure.message
                )?;
            }
            i = j;
        }
        Ok(())
    }
}

/// `x = 0.5, n = 2`, in a form that can be pasted into a call.
fn describe_point(program: &Program, point: &Point) -> String {
    let mut out = String::new();
    for (name, x) in program.float_names.iter().zip(point.floats) {
        let _ = write!(out, "{name} = {x:?}, ");
    }
    for (name, n) in program.int_names.iter().zip(point.ints) {
        let _ = write!(out, "{name} = {n}, ");
    }
    out.truncate(out.len().saturating_sub(2));
    out
}

/// Checks every program in `chunks`, or only those named in the comma-separated environment
/// variable `AUTODIFF_RANDOM_ONLY`.
#[must_use]
pub fn run(chunks: &[&'static [Program]]) -> Report {
    let only = std::env::var("AUTODIFF_RANDOM_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|n| n.trim() == name))
    };
    let mut report = Report::default();
    for program in chunks.iter().flat_map(|chunk| chunk.iter()) {
        if wanted(program.name) {
            check_program(program, &mut report);
        }
    }
    report
}

/// Checks one program at all its points, appending to `report`.
pub fn check_program(program: &'static Program, report: &mut Report) {
    report.programs += 1;
    report.single += usize::from(program.single);
    report.subset += usize::from(program.active.len() < program.float_names.len());
    report.with_macro = program.grad.is_some();
    for &shape in program.shapes {
        *report.shapes.entry(shape).or_default() += 1;
    }
    for (index, point) in program.points.iter().enumerate() {
        report.points += 1;
        check_point(program, index, point, report);
    }
}

/// The oracle at one point.
struct OracleResult {
    value: f64,
    /// Over the active parameters.
    gradient: Vec<f64>,
    /// Distance to the nearest kink along each active parameter.
    margins: Vec<f64>,
    /// Relative distance of any kinked operation from its kink ([`dual::kink_clearance`]).
    clearance: f64,
}

/// The oracle's value, gradient (over the active parameters) and kink margins.
fn oracle_gradient(program: &Program, floats: &[f64], ints: &[i64]) -> OracleResult {
    dual::reset_kink_margin();
    let constants: Vec<Dual> = floats.iter().map(|&x| Dual::cst(x)).collect();
    let mut value = (program.oracle)(&constants, ints).v;
    let clearance = dual::kink_clearance();
    let mut gradient = Vec::new();
    let mut margins = Vec::new();
    for &i in program.active {
        let mut seeded = constants.clone();
        seeded[i] = Dual::var(floats[i]);
        dual::reset_kink_margin();
        let out = (program.oracle)(&seeded, ints);
        value = out.v;
        gradient.push(out.d);
        margins.push(dual::kink_margin());
    }
    OracleResult {
        value,
        gradient,
        margins,
        clearance,
    }
}

/// Relative size of the input perturbation that probes `f32` rounding sensitivity (8 ulps).
const F32_NUDGE: f64 = 1.0 / (1_u32 << 20) as f64;

/// How many times the probed sensitivity is added to the `f32` tolerances.
const F32_NOISE_FACTOR: f64 = 4.0;

/// How much the oracle's value and gradient move when every input moves by [`F32_NUDGE`]
/// (relative, alternating signs, both ways). `f32` rounding perturbs intermediate values by
/// about as much, so this measures how much rounding alone can move an `f32` result in this
/// part of the program: an ill-conditioned program may legitimately differ from the `f64` oracle
/// by that much.
fn f32_noise(program: &Program, point: &Point, at: &OracleResult) -> (f64, Vec<f64>) {
    let mut value = 0.0_f64;
    let mut gradient = vec![0.0_f64; at.gradient.len()];
    for direction in [1.0, -1.0] {
        let nudged: Vec<f64> = point
            .floats
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let sign = if i % 2 == 0 { direction } else { -direction };
                x * (1.0 + sign * F32_NUDGE)
            })
            .collect();
        let there = oracle_gradient(program, &nudged, point.ints);
        value = value.max((there.value - at.value).abs());
        for (spread, (a, b)) in gradient
            .iter_mut()
            .zip(there.gradient.iter().zip(&at.gradient))
        {
            *spread = spread.max((a - b).abs());
        }
    }
    (value, gradient)
}

/// `(rel, abs)` widened by the probed `f32` noise.
fn noisy((rel, abs): (f64, f64), noise: f64) -> (f64, f64) {
    (rel, abs + F32_NOISE_FACTOR * noise)
}

/// Records the failures at one point.
struct Recorder<'r> {
    program: &'static Program,
    point: usize,
    report: &'r mut Report,
}

impl Recorder<'_> {
    fn fail(&mut self, check: Check, message: String) {
        self.report.failures.push(Failure {
            program: self.program,
            point: self.point,
            check,
            message,
        });
    }
}

/// What `f_grad` should return at one point.
struct Expected {
    /// Bits of the original function's value.
    bits: u64,
    value: f64,
    /// The oracle's gradient.
    oracle: Vec<f64>,
    /// Finite differences, where no kink is in the way.
    fd: Vec<Option<fd::Estimate>>,
    /// Estimated `f32` rounding noise of each entry (0 for `f64`).
    noise: Vec<f64>,
    /// Whether the `f64` oracle describes the program here (not so for `f32` next to a kink).
    comparable: bool,
    /// The tape's gradient over the active parameters, if the program has a tape oracle.
    tape: Option<Vec<f64>>,
}

fn check_point(program: &'static Program, index: usize, point: &Point, report: &mut Report) {
    let mut recorder = Recorder {
        program,
        point: index,
        report,
    };
    if let Some(expected) = expect(point, &mut recorder)
        && let Some(grad) = program.grad
    {
        check_grad(grad, point, &expected, &mut recorder);
        if let Some(jvp) = program.jvp
            && expected.comparable
        {
            check_jvp(grad, jvp, point, &mut recorder);
        }
    }
}

/// Evaluates the original function, the oracle and finite differences, and checks that they
/// agree (which validates the generator and the oracle).
fn expect(point: &Point, r: &mut Recorder<'_>) -> Option<Expected> {
    let program = r.program;
    let tolerance = if program.single { F32 } else { F64 };
    let (bits, value) = (program.value)(point.floats, point.ints);
    let at = oracle_gradient(program, point.floats, point.ints);
    let (value_noise, noise) = if program.single {
        f32_noise(program, point, &at)
    } else {
        (0.0, vec![0.0; at.gradient.len()])
    };
    let OracleResult {
        value: oracle_value,
        gradient: oracle,
        margins,
        clearance,
    } = at;
    if !value.is_finite() || oracle.iter().any(|d| !d.is_finite()) {
        r.fail(
            Check::NonFinite,
            format!("value {value:?}, oracle gradient {oracle:?}"),
        );
        return None;
    }
    let value_agrees = close(oracle_value, value, noisy(tolerance.value, value_noise));
    let comparable = if program.single {
        // The oracle computes `f32` programs in `f64`. Where a kinked operation is within
        // rounding distance of its kink, or the values disagree (a jump was crossed: `floor` of
        // `y - ((y - c) + c)` is `floor(0)` in `f64` but may be `floor(-1.2e-7)` in `f32`), the two
        // take different branches and the oracle does not describe the `f32` evaluation.
        r.report.f32_points += 1;
        clearance > F32_CLEARANCE && value_agrees
    } else {
        if !value_agrees {
            r.fail(
                Check::OracleValue,
                format!("f = {value:?}, oracle value {oracle_value:?}"),
            );
        }
        true
    };
    r.report.f32_diverged += usize::from(!comparable);

    // Finite differences of the original function, or for `f32` programs of the oracle's `f64`
    // value, which computes the same function without `f32` rounding.
    let mut f = |x: &[f64]| {
        if program.single {
            let duals: Vec<Dual> = x.iter().map(|&v| Dual::cst(v)).collect();
            (program.oracle)(&duals, point.ints).v
        } else {
            (program.value)(x, point.ints).1
        }
    };
    // A kinked operation whose argument is within rounding error of the kink (say `x.ceil()` of
    // `(z + 1.0) - z`) may jump back and forth between neighbouring inputs however slowly its
    // argument moves: no difference quotient means anything there.
    let fd: Vec<Option<fd::Estimate>> = program
        .active
        .iter()
        .zip(&margins)
        .map(|(&i, &margin)| {
            if clearance > FD_CLEARANCE {
                fd::partial(&mut f, point.floats, i, margin)
                    .filter(|e| e.error <= FD_MAX_ERROR * e.value.abs().max(1.0))
            } else {
                None
            }
        })
        .collect();
    r.report.entries += oracle.len();
    r.report.fd_skipped += fd.iter().filter(|x| x.is_none()).count();
    for (k, (&want, fd)) in oracle.iter().zip(&fd).enumerate() {
        if let Some(fd) = *fd
            && comparable
            && !close_fd(want, fd, ORACLE_FD)
        {
            r.fail(
                Check::OracleVsFiniteDifferences,
                format!(
                    "d/d{}: oracle {want:?}, finite differences {:?} ± {:.1e}",
                    program.float_names[program.active[k]], fd.value, fd.error
                ),
            );
        }
    }
    let tape = program.tape.map(|tape| {
        let (tape_value, all) = tape(point.floats, point.ints);
        let gradient: Vec<f64> = program.active.iter().map(|&i| all[i]).collect();
        if !close(tape_value, value, tolerance.value) {
            r.fail(
                Check::TapeVsOracle,
                format!("f = {value:?}, tape value {tape_value:?}"),
            );
        }
        for (k, (&t, &want)) in gradient.iter().zip(&oracle).enumerate() {
            if comparable && !close(t, want, tolerance.oracle) {
                r.fail(
                    Check::TapeVsOracle,
                    format!(
                        "d/d{}: tape {t:?}, dual-number oracle {want:?}",
                        program.float_names[program.active[k]]
                    ),
                );
            }
        }
        gradient
    });
    Some(Expected {
        bits,
        value,
        oracle,
        fd,
        noise,
        comparable,
        tape,
    })
}

/// Forward and reverse mode agree: the directional derivative `f_jvp` gives along a direction is
/// the dot product of `f_grad`'s gradient with it (relative to the sum of the magnitudes of the
/// terms, so that cancellation in the sum is no failure).
fn check_jvp(grad: GradFn, jvp: JvpFn, point: &Point, r: &mut Recorder<'_>) {
    // Relative to the terms' magnitudes, with the absolute floor of the oracle comparison: tiny
    // results of long chains (say 5e-12) carry relative rounding errors above 1e-11.
    let (tolerance, floor) = if r.program.single {
        (1e-4, F32.oracle.1)
    } else {
        (1e-11, F64.oracle.1)
    };
    let (_, _, gradient) = grad(point.floats, point.ints);
    // A fixed direction with entries of both signs and different sizes.
    let direction: Vec<f64> = (0..gradient.len())
        .map(|k| {
            let k = f64::from(u32::try_from(k).unwrap_or(u32::MAX));
            (0.7 - 0.31 * k) * (1.0 + 0.2 * k)
        })
        .collect();
    let dot: f64 = gradient.iter().zip(&direction).map(|(g, d)| g * d).sum();
    let scale: f64 = gradient
        .iter()
        .zip(&direction)
        .map(|(g, d)| (g * d).abs())
        .sum();
    let tangent = jvp(point.floats, point.ints, &direction);
    if !close(tangent, dot, (0.0, tolerance * scale + floor)) {
        r.fail(
            Check::ForwardReverse,
            format!(
                "f_jvp along {direction:?} gives {tangent:?}, the gradient's dot product {dot:?}"
            ),
        );
    }
}

/// Checks `f_grad` against the expectations.
fn check_grad(grad: GradFn, point: &Point, expected: &Expected, r: &mut Recorder<'_>) {
    let program = r.program;
    let tolerance = if program.single { F32 } else { F64 };
    let (bits, value, gradient) = grad(point.floats, point.ints);
    if bits != expected.bits {
        r.fail(
            Check::ValueBits,
            format!("f = {:?}, f_grad(..).0 = {value:?}", expected.value),
        );
    }
    if gradient.len() != expected.oracle.len() {
        r.fail(
            Check::GradientLength,
            format!(
                "{} gradient entries, expected {}",
                gradient.len(),
                expected.oracle.len()
            ),
        );
        return;
    }
    if !expected.comparable {
        return;
    }
    for (k, &got) in gradient.iter().enumerate() {
        let name = program.float_names[program.active[k]];
        let (want, noise) = (expected.oracle[k], expected.noise[k]);
        let note = if program.single {
            format!(" (f32 rounding noise estimate {noise:.1e})")
        } else {
            String::new()
        };
        if !close(got, want, noisy(tolerance.oracle, noise)) {
            r.fail(
                Check::Oracle,
                format!("d/d{name}: f_grad {got:?}, oracle {want:?}{note}"),
            );
        }
        if let Some(tape) = &expected.tape
            && !close(got, tape[k], tolerance.oracle)
        {
            r.fail(
                Check::Tape,
                format!("d/d{name}: f_grad {got:?}, tape {:?}", tape[k]),
            );
        }
        if let Some(fd) = expected.fd[k]
            && !close_fd(got, fd, noisy(tolerance.fd, noise))
        {
            r.fail(
                Check::FiniteDifferences,
                format!(
                    "d/d{name}: f_grad {got:?}, finite differences {:?} ± {:.1e}{note}",
                    fd.value, fd.error
                ),
            );
        }
    }
}
