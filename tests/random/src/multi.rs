//! Checks the generated programs with several outputs: `f_jacobian` row by row against the
//! reverse-mode tape and column by column against the dual-number oracle, `f_jacobian_into`
//! against `f_jacobian`, `f_vjp` (and `f_vjp_into`) against `seedᵀ·J`, `f_jvp` against `J·v`,
//! every value bit for bit against the function, and the Jacobian against finite differences
//! where no kink is near. Outputs are flattened in order (tuple elements, then array elements).

use crate::dual::{self, Dual};
use crate::family::{Failure, Report, describe_point, direction, dot};
use crate::fd;
use crate::harness::{FD_CLEARANCE, FD_MAX_ERROR, Point, close};

/// The function's outputs, flattened.
pub type ValueFn = fn(&[f64], &[i64]) -> Vec<f64>;
/// `f_jacobian`: the outputs and the Jacobian, row-major, over the active floats.
pub type JacobianFn = fn(&[f64], &[i64]) -> (Vec<f64>, Vec<f64>);
/// `f_jacobian_into`, writing into the buffer given; returns the outputs.
pub type JacobianIntoFn = fn(&[f64], &[i64], &mut [f64]) -> Vec<f64>;
/// `f_vjp` (or `f_vjp_into`, its buffers' entries flattened in) with a flat seed: the outputs and
/// the entries of `seedᵀ·J`.
pub type VjpFn = fn(&[f64], &[i64], &[f64]) -> (Vec<f64>, Vec<f64>);
/// `f_jvp` along a flat direction over the active floats: the outputs and the tangent.
pub type JvpFn = fn(&[f64], &[i64], &[f64]) -> (Vec<f64>, Vec<f64>);
/// The program over dual numbers, outputs flattened.
pub type OracleFn = fn(&[Dual], &[i64]) -> Vec<Dual>;
/// The program over the reverse-mode tape: the outputs and one row per output over every float.
pub type TapeFn = fn(&[f64], &[i64]) -> (Vec<f64>, Vec<Vec<f64>>);

/// A generated program with several outputs and its entry points.
#[derive(Debug)]
pub struct Program {
    /// Function name, `m<index>`.
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
    /// Number of floats in the output.
    pub outputs: usize,
    /// The original function.
    pub value: ValueFn,
    /// `f_jacobian` (absent without the macro).
    pub jacobian: Option<JacobianFn>,
    /// `f_jacobian_into` (for functions with slice parameters).
    pub jacobian_into: Option<JacobianIntoFn>,
    /// `f_vjp`.
    pub vjp: Option<VjpFn>,
    /// `f_vjp_into` (for functions with slice parameters).
    pub vjp_into: Option<VjpFn>,
    /// `f_jvp`.
    pub jvp: Option<JvpFn>,
    /// The dual-number oracle.
    pub oracle: OracleFn,
    /// The tape oracle.
    pub tape: TapeFn,
}

/// `f_jacobian` against the oracles, entry by entry.
const ENTRY: (f64, f64) = (1e-12, 1e-12);
/// Products (`seedᵀ·J`, `J·v`), relative to the sum of the terms' magnitudes.
const PRODUCT: f64 = 1e-11;
/// Against finite differences.
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
            report.with_macro = program.jacobian.is_some();
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
        self.report.failures.push(Failure {
            program: self.program.name,
            source: self.program.source,
            at: self.at.clone(),
            oracle_fault,
            second_order: false,
            message,
        });
    }

    /// The outputs of a derived function equal the function's, bit for bit.
    fn same_value(&mut self, what: &str, got: &[f64], want: &[f64]) {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        if bits(got) != bits(want) {
            self.fail(false, format!("{what} value {got:?}, f gives {want:?}"));
        }
    }
}

/// The oracles at one point: `J` column by column (dual numbers) and row by row (tape).
struct Oracles {
    /// `cols[j][i] = ∂out_i/∂active_j` from dual numbers.
    cols: Vec<Vec<f64>>,
    /// `rows[i][j]` from the tape.
    rows: Vec<Vec<f64>>,
    /// Distance to the nearest kink along each active float.
    margins: Vec<f64>,
    clearance: f64,
}

fn oracles(p: &Program, point: &Point, values: &[f64], r: &mut Recorder<'_>) -> Oracles {
    let constants: Vec<Dual> = point.floats.iter().map(|&x| Dual::cst(x)).collect();
    dual::reset_kink_margin();
    let _ = (p.oracle)(&constants, point.ints);
    let clearance = dual::kink_clearance();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut margins = Vec::new();
    for &i in p.active {
        let mut seeded = constants.clone();
        seeded[i] = Dual::var(point.floats[i]);
        dual::reset_kink_margin();
        let out = (p.oracle)(&seeded, point.ints);
        margins.push(dual::kink_margin());
        let v: Vec<f64> = out.iter().map(|d| d.v).collect();
        if v.len() != values.len() || v.iter().zip(values).any(|(a, b)| !close(*a, *b, ENTRY)) {
            r.fail(true, format!("f = {values:?}, dual-number oracle {v:?}"));
        }
        cols.push(out.iter().map(|d| d.d).collect());
    }
    let (tape_values, all) = (p.tape)(point.floats, point.ints);
    if tape_values
        .iter()
        .zip(values)
        .any(|(a, b)| !close(*a, *b, ENTRY))
    {
        r.fail(true, format!("f = {values:?}, tape {tape_values:?}"));
    }
    let rows: Vec<Vec<f64>> = all
        .iter()
        .map(|row| p.active.iter().map(|&j| row[j]).collect())
        .collect();
    for (i, row) in rows.iter().enumerate() {
        for (j, &t) in row.iter().enumerate() {
            let d = cols[j][i];
            if !close(t, d, ENTRY) {
                r.fail(
                    true,
                    format!(
                        "∂out{i}/∂{}: tape {t:?}, dual-number oracle {d:?}",
                        p.float_names[p.active[j]]
                    ),
                );
            }
        }
    }
    Oracles {
        cols,
        rows,
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
    let values = (p.value)(point.floats, point.ints);
    if values.len() != p.outputs || values.iter().any(|v| !v.is_finite()) {
        r.fail(
            true,
            format!("outputs {values:?}, expected {} finite", p.outputs),
        );
        return;
    }
    let o = oracles(p, point, &values, &mut r);
    let (m, n) = (p.outputs, p.active.len());
    r.report.entries += m * n;

    // Finite differences, per output and active float, of the function itself.
    let mut fd_jac: Vec<Vec<Option<fd::Estimate>>> = vec![vec![None; n]; m];
    for (j, (&i, &margin)) in p.active.iter().zip(&o.margins).enumerate() {
        for (k, row) in fd_jac.iter_mut().enumerate() {
            if o.clearance <= FD_CLEARANCE {
                continue;
            }
            let mut f = |x: &[f64]| (p.value)(x, point.ints)[k];
            row[j] = fd::partial(&mut f, point.floats, i, margin)
                .filter(|e| e.error <= FD_MAX_ERROR * e.value.abs().max(1.0));
        }
    }
    for (k, row) in fd_jac.iter().enumerate() {
        for (j, e) in row.iter().enumerate() {
            match e {
                Some(e) => {
                    r.report.fd_checked += 1;
                    let want = o.rows[k][j];
                    if !close(want, e.value, (FD.0, FD.1 + 2.0 * e.error)) {
                        r.fail(
                            true,
                            format!(
                                "∂out{k}/∂{}: oracle {want:?}, finite differences {:?} ± {:.1e}",
                                p.float_names[p.active[j]], e.value, e.error
                            ),
                        );
                    }
                }
                None => r.report.fd_skipped += 1,
            }
        }
    }

    let Some(jacobian) = p.jacobian else {
        return;
    };
    let (out, jac) = jacobian(point.floats, point.ints);
    r.same_value("f_jacobian", &out, &values);
    if jac.len() != m * n {
        r.fail(
            false,
            format!("f_jacobian has {} entries, expected {m}·{n}", jac.len()),
        );
        return;
    }
    for i in 0..m {
        for j in 0..n {
            let got = jac[i * n + j];
            let name = p.float_names[p.active[j]];
            if !close(got, o.rows[i][j], ENTRY) {
                r.fail(
                    false,
                    format!(
                        "f_jacobian[{i}][{j}] = ∂out{i}/∂{name}: {got:?}, tape (row {i}) {:?}",
                        o.rows[i][j]
                    ),
                );
            }
            if !close(got, o.cols[j][i], ENTRY) {
                r.fail(
                    false,
                    format!(
                        "f_jacobian[{i}][{j}] = ∂out{i}/∂{name}: {got:?}, dual numbers (column \
                         {j}) {:?}",
                        o.cols[j][i]
                    ),
                );
            }
            if let Some(e) = fd_jac[i][j]
                && !close(got, e.value, (FD.0, FD.1 + 2.0 * e.error))
            {
                r.fail(
                    false,
                    format!(
                        "f_jacobian[{i}][{j}] = ∂out{i}/∂{name}: {got:?}, finite differences \
                         {:?} ± {:.1e}",
                        e.value, e.error
                    ),
                );
            }
        }
    }
    if let Some(into) = p.jacobian_into {
        // Overwrites whatever the buffer held.
        let mut buffer = vec![7.5; m * n];
        let out = into(point.floats, point.ints, &mut buffer);
        r.same_value("f_jacobian_into", &out, &values);
        for (k, (&got, &want)) in buffer.iter().zip(&jac).enumerate() {
            if !close(got, want, ENTRY) {
                r.fail(
                    false,
                    format!(
                        "f_jacobian_into entry [{}][{}]: {got:?}, f_jacobian {want:?}",
                        k / n,
                        k % n
                    ),
                );
            }
        }
    }
    // seedᵀ·J against the tape's rows.
    let seed = direction(m, 0.05);
    for (what, vjp) in [("f_vjp", p.vjp), ("f_vjp_into", p.vjp_into)] {
        let Some(vjp) = vjp else { continue };
        let (out, grads) = vjp(point.floats, point.ints, &seed);
        r.same_value(what, &out, &values);
        if grads.len() != n {
            r.fail(
                false,
                format!("{what} has {} entries, expected {n}", grads.len()),
            );
            continue;
        }
        for (j, &got) in grads.iter().enumerate() {
            let column: Vec<f64> = o.rows.iter().map(|row| row[j]).collect();
            let (want, scale) = dot(&seed, &column);
            if !close(got, want, (0.0, PRODUCT * scale + ENTRY.1)) {
                r.fail(
                    false,
                    format!(
                        "{what} along seed {seed:?}, entry {}: {got:?}, seedᵀ·J (tape) {want:?}",
                        p.float_names[p.active[j]]
                    ),
                );
            }
        }
    }
    // J·v against the dual numbers' columns.
    if let Some(jvp) = p.jvp {
        let v = direction(n, 0.0);
        let (out, tangent) = jvp(point.floats, point.ints, &v);
        r.same_value("f_jvp", &out, &values);
        for (i, &got) in tangent.iter().enumerate() {
            let row: Vec<f64> = o.cols.iter().map(|c| c[i]).collect();
            let (want, scale) = dot(&row, &v);
            if !close(got, want, (0.0, PRODUCT * scale + ENTRY.1)) {
                r.fail(
                    false,
                    format!("f_jvp along {v:?}, output {i}: {got:?}, J·v (dual numbers) {want:?}"),
                );
            }
        }
    }
}
