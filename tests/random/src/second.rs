//! Checks the generated programs differentiated to second order: `f_hessian` and `f_hvp` (and
//! `f_hvp_into`) against the hyper-dual oracle ([`crate::hyper`]), the Hessian's symmetry, and the
//! value and gradient of each against `f` and `f_grad`. The oracle itself is checked on the way:
//! its gradient against the dual-number oracle, its Hessian against finite differences of the
//! dual-number oracle's gradient (where no kink is near).

use crate::dual::{self, Dual};
use crate::family::{Failure, Report, describe_point, direction, dot};
use crate::fd;
use crate::harness::{FD_CLEARANCE, FD_MAX_ERROR, Point, close};
use crate::hyper::Hyper;

/// `f`.
pub type ValueFn = fn(&[f64], &[i64]) -> f64;
/// `f_grad`: the value and the flat gradient.
pub type GradFn = fn(&[f64], &[i64]) -> (f64, Vec<f64>);
/// `f_hvp` (or `f_hvp_into`, its buffers' entries flattened in) along a flat direction: the
/// value, the flat gradient and the flat `H·v`.
pub type HvpFn = fn(&[f64], &[i64], &[f64]) -> (f64, Vec<f64>, Vec<f64>);
/// `f_hessian`: the value, the flat gradient and the Hessian, row-major.
pub type HessianFn = fn(&[f64], &[i64]) -> (f64, Vec<f64>, Vec<f64>);
/// The program over dual numbers.
pub type OracleFn = fn(&[Dual], &[i64]) -> Dual;
/// The program over hyper-dual numbers.
pub type HyperFn = fn(&[Hyper], &[i64]) -> Hyper;

/// A generated program with its entry points.
#[derive(Debug)]
pub struct Program {
    /// Function name, `h<index>`.
    pub name: &'static str,
    /// Source text.
    pub source: &'static str,
    /// Indices (among the flat floats) of the active ones.
    pub active: &'static [usize],
    /// Names of the flat floats.
    pub float_names: &'static [&'static str],
    /// Names of the integer parameters.
    pub int_names: &'static [&'static str],
    /// Points to check at.
    pub points: &'static [Point],
    /// The shapes of code the program contains.
    pub shapes: &'static [&'static str],
    /// The original function.
    pub value: ValueFn,
    /// `f_grad` (absent without the macro).
    pub grad: Option<GradFn>,
    /// `f_hvp`.
    pub hvp: Option<HvpFn>,
    /// `f_hvp_into` (for functions with slice parameters).
    pub hvp_into: Option<HvpFn>,
    /// `f_hessian`.
    pub hessian: Option<HessianFn>,
    /// The dual-number oracle.
    pub oracle: OracleFn,
    /// The hyper-dual oracle.
    pub hyper: HyperFn,
}

/// First-order entries against the dual-number oracle.
const FIRST: (f64, f64) = (1e-12, 1e-12);
/// Second-order entries against the hyper-dual oracle, relative to the entry and to the largest
/// entry of the Hessian (second derivatives of long chains lose a few more digits than gradients).
const SECOND: f64 = 1e-10;
/// Against finite differences of the gradient.
const FD: (f64, f64) = (1e-6, 1e-7);

/// Checks every program in `chunks`, or only those named in `AUTODIFF_RANDOM_ONLY`.
#[must_use]
pub fn run(chunks: &[&'static [Program]]) -> Report {
    let only = std::env::var("AUTODIFF_RANDOM_ONLY").ok();
    let mut report = Report::default();
    for program in chunks.iter().flat_map(|c| c.iter()) {
        if only
            .as_deref()
            .is_none_or(|l| l.split(',').any(|n| n.trim() == program.name))
        {
            report.program(program.shapes);
            report.with_macro = program.hessian.is_some();
            for point in program.points {
                report.points += 1;
                check_point(program, point, &mut report);
            }
        }
    }
    report
}

struct Recorder<'r> {
    program: &'static Program,
    at: String,
    report: &'r mut Report,
}

impl Recorder<'_> {
    fn fail(&mut self, oracle_fault: bool, message: String) {
        self.push(oracle_fault, false, message);
    }

    /// A second derivative of the macro's differs from the oracle's (or is not symmetric).
    fn fail_second(&mut self, message: String) {
        self.push(false, true, message);
    }

    fn push(&mut self, oracle_fault: bool, second_order: bool, message: String) {
        self.report.failures.push(Failure {
            program: self.program.name,
            source: self.program.source,
            at: self.at.clone(),
            oracle_fault,
            second_order,
            message,
        });
    }
}

/// The oracles at one point.
struct Oracle {
    value: f64,
    /// From dual numbers.
    gradient: Vec<f64>,
    /// From hyper-dual numbers, `hessian[i][j]`.
    hessian: Vec<Vec<f64>>,
    /// Largest magnitude of an entry of the Hessian.
    largest: f64,
    margins: Vec<f64>,
    clearance: f64,
}

fn oracle(p: &Program, point: &Point, r: &mut Recorder<'_>) -> Oracle {
    let xs = point.floats;
    let constants: Vec<Dual> = xs.iter().map(|&x| Dual::cst(x)).collect();
    dual::reset_kink_margin();
    let value = (p.oracle)(&constants, point.ints).v;
    let clearance = dual::kink_clearance();
    let n = p.active.len();
    let mut gradient = Vec::new();
    let mut margins = Vec::new();
    for &i in p.active {
        let mut seeded = constants.clone();
        seeded[i] = Dual::var(xs[i]);
        dual::reset_kink_margin();
        gradient.push((p.oracle)(&seeded, point.ints).d);
        margins.push(dual::kink_margin());
    }
    let mut hessian = vec![vec![0.0; n]; n];
    for (a, &i) in p.active.iter().enumerate() {
        for (b, &j) in p.active.iter().enumerate().skip(a) {
            let mut seeded: Vec<Hyper> = xs.iter().map(|&x| Hyper::cst(x)).collect();
            seeded[i].a = 1.0;
            seeded[j].b = 1.0;
            let out = (p.hyper)(&seeded, point.ints);
            if !close(out.v, value, FIRST) {
                r.fail(
                    true,
                    format!("dual oracle value {value:?}, hyper-dual {:?}", out.v),
                );
            }
            for (k, got) in [(a, out.a), (b, out.b)] {
                if !close(got, gradient[k], FIRST) {
                    r.fail(
                        true,
                        format!(
                            "∂/∂{}: hyper-dual {got:?}, dual numbers {:?}",
                            p.float_names[p.active[k]], gradient[k]
                        ),
                    );
                }
            }
            hessian[a][b] = out.ab;
            hessian[b][a] = out.ab;
        }
    }
    let largest = hessian
        .iter()
        .flatten()
        .fold(0.0_f64, |m, h| m.max(h.abs()));
    Oracle {
        value,
        gradient,
        hessian,
        largest,
        margins,
        clearance,
    }
}

fn check_point(p: &'static Program, point: &Point, report: &mut Report) {
    let mut r = Recorder {
        program: p,
        at: describe_point(p.float_names, p.int_names, point),
        report,
    };
    let xs = point.floats;
    let value = (p.value)(xs, point.ints);
    let o = oracle(p, point, &mut r);
    if !value.is_finite() || o.hessian.iter().flatten().any(|h| !h.is_finite()) {
        r.fail(
            true,
            format!("value {value:?}, oracle Hessian {:?}", o.hessian),
        );
        return;
    }
    if !close(o.value, value, FIRST) {
        r.fail(true, format!("f = {value:?}, oracle {:?}", o.value));
    }
    let n = p.active.len();
    r.report.entries += n * n;
    let tolerance = (SECOND, SECOND * o.largest + 1e-12);
    // Finite differences of the dual-number oracle's gradient: column j of the Hessian. Not at
    // the point on round values, where a value can sit exactly where the gradient has a kink of
    // its own (`|x|·x` at 0), which the first-order kink margins do not see: there the hyper-dual
    // oracle alone judges (it is held to finite differences at the other points).
    let round = xs.iter().all(|x| (2.0 * x).fract() == 0.0);
    let mut fd_hess: Vec<Vec<Option<fd::Estimate>>> = vec![vec![None; n]; n];
    if o.clearance > FD_CLEARANCE && !round {
        for (b, (&j, &margin)) in p.active.iter().zip(&o.margins).enumerate() {
            for (a, &i) in p.active.iter().enumerate() {
                let mut f = |x: &[f64]| {
                    let mut seeded: Vec<Dual> = x.iter().map(|&v| Dual::cst(v)).collect();
                    seeded[i] = Dual::var(x[i]);
                    (p.oracle)(&seeded, point.ints).d
                };
                fd_hess[a][b] = fd::partial(&mut f, xs, j, margin)
                    .filter(|e| e.error <= FD_MAX_ERROR * e.value.abs().max(1.0));
            }
        }
    }
    for (a, row) in fd_hess.iter().enumerate() {
        for (b, estimate) in row.iter().enumerate() {
            match *estimate {
                Some(e) => {
                    r.report.fd_checked += 1;
                    let want = o.hessian[a][b];
                    if !close(want, e.value, (FD.0, FD.1 + 2.0 * e.error)) {
                        r.fail(
                            true,
                            format!(
                                "∂²/∂{}∂{}: hyper-dual {want:?}, finite differences of the \
                                 gradient {:?} ± {:.1e}",
                                p.float_names[p.active[a]],
                                p.float_names[p.active[b]],
                                e.value,
                                e.error
                            ),
                        );
                    }
                }
                None => r.report.fd_skipped += 1,
            }
        }
    }

    let Some(grad) = p.grad else { return };
    let (grad_value, gradient) = grad(xs, point.ints);
    if grad_value.to_bits() != value.to_bits() {
        r.fail(
            false,
            format!("f = {value:?}, f_grad(..).0 = {grad_value:?}"),
        );
    }
    if gradient.len() != n {
        r.fail(
            false,
            format!("f_grad has {} entries, expected {n}", gradient.len()),
        );
        return;
    }
    for (k, (&got, &want)) in gradient.iter().zip(&o.gradient).enumerate() {
        if !close(got, want, FIRST) {
            r.fail(
                false,
                format!(
                    "f_grad d/d{}: {got:?}, dual numbers {want:?}",
                    p.float_names[p.active[k]]
                ),
            );
        }
    }
    // The value and gradient of the second-order functions are those of `f` and `f_grad`.
    let same_first = |r: &mut Recorder<'_>, what: &str, v: f64, g: &[f64]| {
        if v.to_bits() != value.to_bits() {
            r.fail(false, format!("{what} value {v:?}, f gives {value:?}"));
        }
        let bits = |g: &[f64]| g.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        if bits(g) != bits(&gradient) {
            r.fail(
                false,
                format!("{what} gradient {g:?}, f_grad gives {gradient:?}"),
            );
        }
    };

    let v = direction(n, 0.0);
    let mut hv_macro = None;
    for (what, hvp) in [("f_hvp", p.hvp), ("f_hvp_into", p.hvp_into)] {
        let Some(hvp) = hvp else { continue };
        let (hv_value, g, hv) = hvp(xs, point.ints, &v);
        if what == "f_hvp" {
            same_first(&mut r, what, hv_value, &g);
        } else {
            // Added into buffers that held a constant, then taken back out: rounding allowed.
            if hv_value.to_bits() != value.to_bits() {
                r.fail(
                    false,
                    format!("{what} value {hv_value:?}, f gives {value:?}"),
                );
            }
            for (k, (&got, &want)) in g.iter().zip(&gradient).enumerate() {
                if !close(got, want, FIRST) {
                    r.fail(
                        false,
                        format!("{what} gradient entry {k}: {got:?}, f_grad {want:?}"),
                    );
                }
            }
        }
        if hv.len() != n {
            r.fail(
                false,
                format!("{what} has {} H·v entries, expected {n}", hv.len()),
            );
            continue;
        }
        for (a, &got) in hv.iter().enumerate() {
            let (want, scale) = dot(&o.hessian[a], &v);
            if !close(got, want, (0.0, SECOND * scale + tolerance.1)) {
                r.fail_second(format!(
                    "{what} along {v:?}, (H·v)_{}: {got:?}, hyper-dual oracle {want:?}",
                    p.float_names[p.active[a]]
                ));
            }
        }
        if let Some(first) = &hv_macro {
            for (a, (&got, &want)) in hv.iter().zip(first).enumerate() {
                if !close(got, want, FIRST) {
                    r.fail_second(format!("{what} (H·v)_{a}: {got:?}, f_hvp {want:?}"));
                }
            }
        } else {
            hv_macro = Some(hv);
        }
    }

    let Some(hessian) = p.hessian else { return };
    let (h_value, g, h) = hessian(xs, point.ints);
    same_first(&mut r, "f_hessian", h_value, &g);
    if h.len() != n * n {
        r.fail(
            false,
            format!("f_hessian has {} entries, expected {n}²", h.len()),
        );
        return;
    }
    for a in 0..n {
        for b in 0..n {
            let got = h[a * n + b];
            let want = o.hessian[a][b];
            let names = (p.float_names[p.active[a]], p.float_names[p.active[b]]);
            if !close(got, want, tolerance) {
                r.fail_second(format!(
                    "f_hessian ∂²/∂{}∂{}: {got:?}, hyper-dual oracle {want:?}",
                    names.0, names.1
                ));
            }
            let mirror = h[b * n + a];
            if b > a && !close(got, mirror, tolerance) {
                r.fail_second(format!(
                    "f_hessian is not symmetric: ∂²/∂{}∂{} = {got:?}, transposed {mirror:?}",
                    names.0, names.1
                ));
            }
            if let Some(e) = fd_hess[a][b]
                && !close(got, e.value, (FD.0, FD.1 + 2.0 * e.error))
            {
                r.fail_second(format!(
                    "f_hessian ∂²/∂{}∂{}: {got:?}, finite differences of the gradient {:?} \
                         ± {:.1e}",
                    names.0, names.1, e.value, e.error
                ));
            }
        }
    }
    // `f_hessian` times v is `f_hvp`.
    if let Some(hv) = hv_macro {
        for (a, &got) in hv.iter().enumerate() {
            let (want, scale) = dot(&h[a * n..(a + 1) * n], &v);
            if !close(got, want, (0.0, SECOND * scale + 1e-12)) {
                r.fail_second(format!(
                    "f_hvp (H·v)_{a}: {got:?}, f_hessian's row times v {want:?}"
                ));
            }
        }
    }
}
