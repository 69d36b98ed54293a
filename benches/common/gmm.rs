//! (f) ADBench's Gaussian mixture model objective (microsoft/ADBench, `src/cpp/shared/gmm.h`),
//! differentiated with respect to its `k + d k + d (d + 1) / 2 · k` parameters, laid out in one
//! slice as ADBench lays out its gradient:
//!
//! | range | parameters |
//! |---|---|
//! | `0..k` | `alphas`, the unnormalised log weights |
//! | `k..k + d k` | `means`, component by component |
//! | `k + d k..` | `icf`, the inverse covariance factors, component by component |
//!
//! Three forms of the objective:
//!
//! - [`gmm_natural::gmm_objective`](super::gmm_natural::gmm_objective): ADBench's, with its
//!   helpers, run-time-sized temporaries and statement order, differentiated as written;
//! - [`gmm_objective`]: the fastest form for `#[differentiate]` today. Every helper is inlined
//!   where ADBench calls it, and each run-time-sized temporary is a local array of fixed capacity
//!   ([`MAX_D`], [`MAX_K`]) of which the first `d` or `k` entries are used; ADBench's statements,
//!   in ADBench's order, otherwise unchanged;
//! - [`gmm_objective_d`]: ADBench's hand-written gradient (`src/cpp/modules/manual/gmm_d.cpp`),
//!   the baseline.
//!
//! The data follow ADBench's generator (`data/gmm/gmm-data-gen.py`): `alphas`, `icf` and the
//! points standard normal, `means` uniform in `[0, 1)`, `γ = 1`, `m = 0`, from a fixed seed.
// ADBench's loops index several arrays with one counter, and its arguments are ADBench's.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]
// "ADBench" is a name, not code.
#![allow(clippy::doc_markdown)]
// Point and component counts are far below 2^52; the fixed-capacity temporaries stand in for
// `vec![0.0; d * k]`, which the macro did not take when this form was written (it does now:
// `gmm_natural` is ADBench's form, with `vec!`); kept as written, as a comparison.
#![allow(clippy::cast_precision_loss, clippy::large_stack_arrays)]

use super::gmm_natural::{Wishart, log_gamma_distrib, preprocess_qs, qtimesx, sqnorm, subtract};
use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// The largest dimension [`gmm_objective`] takes: the capacity of its per-point temporaries.
pub const MAX_D: usize = 64;
/// The largest number of components [`gmm_objective`] takes.
pub const MAX_K: usize = 200;

/// The `(d, k)` at which GMM is benchmarked, ADBench's sizes, with [`POINTS`] points.
pub const GMM_SIZES: [(usize, usize); 4] = [(2, 5), (10, 25), (20, 50), (64, 200)];
/// The number of points, ADBench's `1k` data sets.
pub const POINTS: usize = 1000;

/// ADBench's `gmm_objective` in the form `#[differentiate]` accepts today: `subtract`,
/// `Qtimesx`, `sqnorm`, `logsumexp`, `preprocess_qs` and `log_wishart_prior` inlined where they
/// are called, and the temporaries `Qdiags`, `sum_qs`, `xcentered`, `Qxcentered` and `main_term`
/// local arrays of capacity [`MAX_D`] · [`MAX_K`], [`MAX_K`], [`MAX_D`], [`MAX_D`] and [`MAX_K`]
/// instead of `vec![0.0; d * k]` and so on. Requires `d <= MAX_D` and `k <= MAX_K`.
#[differentiate(wrt(alphas, means, icf))]
#[must_use]
pub fn gmm_objective(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    wishart: &Wishart,
) -> f64 {
    let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let icf_sz = d * (d + 1) / 2;

    let mut qdiags = [0.0; MAX_D * MAX_K];
    let mut sum_qs = [0.0; MAX_K];
    let mut xcentered = [0.0; MAX_D];
    let mut qxcentered = [0.0; MAX_D];
    let mut main_term = [0.0; MAX_K];

    // preprocess_qs(d, k, icf, &mut sum_qs, &mut qdiags)
    for ik in 0..k {
        sum_qs[ik] = 0.0;
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * d + id] = q.exp();
        }
    }

    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            // subtract(d, &x[ix * d], &means[ik * d], xcentered)
            for id in 0..d {
                xcentered[id] = x[ix * d + id] - means[ik * d + id];
            }
            // Qtimesx(d, &Qdiags[ik * d], &icf[ik * icf_sz + d], xcentered, Qxcentered)
            for id in 0..d {
                qxcentered[id] = qdiags[ik * d + id] * xcentered[id];
            }
            let mut lparamsidx = 0;
            for i in 0..d {
                for j in i + 1..d {
                    qxcentered[j] += icf[ik * icf_sz + d + lparamsidx] * xcentered[i];
                    lparamsidx += 1;
                }
            }
            // sqnorm(d, Qxcentered)
            let mut sqnorm = qxcentered[0] * qxcentered[0];
            for id in 1..d {
                sqnorm += qxcentered[id] * qxcentered[id];
            }
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm;
        }
        // logsumexp(k, main_term)
        let mut mx = main_term[0];
        for ik in 1..k {
            mx = mx.max(main_term[ik]);
        }
        let mut semx = 0.0;
        for ik in 0..k {
            semx += (main_term[ik] - mx).exp();
        }
        slse += semx.ln() + mx;
    }

    // logsumexp(k, alphas)
    let mut mx = alphas[0];
    for ik in 1..k {
        mx = mx.max(alphas[ik]);
    }
    let mut semx = 0.0;
    for ik in 0..k {
        semx += (alphas[ik] - mx).exp();
    }
    let lse_alphas = semx.ln() + mx;

    let mut err = constant + slse - n as f64 * lse_alphas;

    // log_wishart_prior(d, k, wishart, sum_qs, Qdiags, icf)
    let n_wishart = d + wishart.m + 1;
    let c = n_wishart as f64 * d as f64 * (wishart.gamma.ln() - 0.5 * 2.0_f64.ln())
        - log_gamma_distrib(0.5 * n_wishart as f64, d);
    let mut out = 0.0;
    for ik in 0..k {
        // sqnorm(d, &Qdiags[ik * d]) + sqnorm(icf_sz - d, &icf[ik * icf_sz + d])
        let mut sqnorm_q = qdiags[ik * d] * qdiags[ik * d];
        for id in 1..d {
            sqnorm_q += qdiags[ik * d + id] * qdiags[ik * d + id];
        }
        let mut sqnorm_l = icf[ik * icf_sz + d] * icf[ik * icf_sz + d];
        for i in d + 1..icf_sz {
            sqnorm_l += icf[ik * icf_sz + i] * icf[ik * icf_sz + i];
        }
        let frobenius = sqnorm_q + sqnorm_l;
        out += 0.5 * wishart.gamma * wishart.gamma * frobenius - wishart.m as f64 * sum_qs[ik];
    }

    err += out - k as f64 * c;
    err
}

/// [`gmm_objective`] with its loop over the points moved after the other two loops (the
/// log-sum-exp of `alphas` and the Wishart prior), and the per-point temporaries declared in the
/// loops that use them; the statements otherwise unchanged, so that the value is bit for bit
/// the same. Not how ADBench writes it: kept as a comparison, from when `#[differentiate]`
/// fused only the last accumulation loop of a function, in ADBench's order the prior's.
#[differentiate(wrt(alphas, means, icf))]
#[must_use]
pub fn gmm_objective_points_last(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    wishart: &Wishart,
) -> f64 {
    let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let icf_sz = d * (d + 1) / 2;

    let mut qdiags = [0.0; MAX_D * MAX_K];
    let mut sum_qs = [0.0; MAX_K];

    // preprocess_qs(d, k, icf, &mut sum_qs, &mut qdiags)
    for ik in 0..k {
        sum_qs[ik] = 0.0;
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * d + id] = q.exp();
        }
    }

    // logsumexp(k, alphas)
    let mut mx = alphas[0];
    for ik in 1..k {
        mx = mx.max(alphas[ik]);
    }
    let mut semx = 0.0;
    for ik in 0..k {
        semx += (alphas[ik] - mx).exp();
    }
    let lse_alphas = semx.ln() + mx;

    // log_wishart_prior(d, k, wishart, sum_qs, Qdiags, icf)
    let n_wishart = d + wishart.m + 1;
    let c = n_wishart as f64 * d as f64 * (wishart.gamma.ln() - 0.5 * 2.0_f64.ln())
        - log_gamma_distrib(0.5 * n_wishart as f64, d);
    let mut out = 0.0;
    for ik in 0..k {
        // sqnorm(d, &Qdiags[ik * d]) + sqnorm(icf_sz - d, &icf[ik * icf_sz + d])
        let mut sqnorm_q = qdiags[ik * d] * qdiags[ik * d];
        for id in 1..d {
            sqnorm_q += qdiags[ik * d + id] * qdiags[ik * d + id];
        }
        let mut sqnorm_l = icf[ik * icf_sz + d] * icf[ik * icf_sz + d];
        for i in d + 1..icf_sz {
            sqnorm_l += icf[ik * icf_sz + i] * icf[ik * icf_sz + i];
        }
        let frobenius = sqnorm_q + sqnorm_l;
        out += 0.5 * wishart.gamma * wishart.gamma * frobenius - wishart.m as f64 * sum_qs[ik];
    }

    let mut slse = 0.0;
    for ix in 0..n {
        let mut main_term = [0.0; MAX_K];
        for ik in 0..k {
            let mut xcentered = [0.0; MAX_D];
            let mut qxcentered = [0.0; MAX_D];
            // subtract(d, &x[ix * d], &means[ik * d], xcentered)
            for id in 0..d {
                xcentered[id] = x[ix * d + id] - means[ik * d + id];
            }
            // Qtimesx(d, &Qdiags[ik * d], &icf[ik * icf_sz + d], xcentered, Qxcentered)
            for id in 0..d {
                qxcentered[id] = qdiags[ik * d + id] * xcentered[id];
            }
            let mut lparamsidx = 0;
            for i in 0..d {
                for j in i + 1..d {
                    qxcentered[j] += icf[ik * icf_sz + d + lparamsidx] * xcentered[i];
                    lparamsidx += 1;
                }
            }
            // sqnorm(d, Qxcentered)
            let mut sqnorm = qxcentered[0] * qxcentered[0];
            for id in 1..d {
                sqnorm += qxcentered[id] * qxcentered[id];
            }
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm;
        }
        // logsumexp(k, main_term)
        let mut mx = main_term[0];
        for ik in 1..k {
            mx = mx.max(main_term[ik]);
        }
        let mut semx = 0.0;
        for ik in 0..k {
            semx += (main_term[ik] - mx).exp();
        }
        slse += semx.ln() + mx;
    }

    let mut err = constant + slse - n as f64 * lse_alphas;

    err += out - k as f64 * c;
    err
}

// ---------------------------------------------------------------------------------------------
// ADBench's Manual gradient, `src/cpp/modules/manual/gmm_d.cpp`.

/// `out = Qᵀ x` for the lower-triangular `Q` with diagonal `qdiag`, whose strictly lower part
/// follows the `d` log-diagonal entries in `icf`.
fn qtransposetimesx(qdiag: &[f64], icf: &[f64], x: &[f64], out: &mut [f64]) {
    let d = out.len();
    for i in 0..d {
        out[i] = qdiag[i] * x[i];
    }
    let mut lparamsidx = d;
    for i in 0..d {
        for j in i + 1..d {
            out[i] += icf[lparamsidx] * x[j];
            lparamsidx += 1;
        }
    }
}

/// `∂(−½‖Q x‖²)/∂ log Qᵢᵢ + 1` (the `+ 1` from `sum_qs`), per diagonal entry.
fn compute_q_inner_term(qdiag: &[f64], xcentered: &[f64], qxcentered: &[f64], out: &mut [f64]) {
    for (((o, q), xc), qxc) in out.iter_mut().zip(qdiag).zip(xcentered).zip(qxcentered) {
        *o = 1.0 - q * xc * qxc;
    }
}

/// `∂(−½‖Q x‖²)/∂Lᵢⱼ = −xᵢ (Q x)ⱼ` for the strictly lower part, by columns.
fn compute_l_inner_term(xcentered: &[f64], qxcentered: &[f64], out: &mut [f64]) {
    let d = xcentered.len();
    let mut lparamsidx = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[lparamsidx] = -xcentered[i] * qxcentered[j];
            lparamsidx += 1;
        }
    }
}

/// `ln Σ exp(xᵢ)`, overwriting `x` with its gradient, the softmax of `x`.
fn logsumexp_d(x: &mut [f64]) -> f64 {
    let max_elem = x
        .iter()
        .enumerate()
        .fold(0, |m, (i, &v)| if x[m] < v { i } else { m });
    let mx = x[max_elem];
    let mut semx = 0.0;
    for v in x.iter_mut() {
        *v = (*v - mx).exp();
        semx += *v;
    }
    if semx == 0.0 {
        x.fill(0.0);
    } else {
        x[max_elem] -= semx;
        for v in x.iter_mut() {
            *v /= semx;
        }
    }
    x[max_elem] += 1.0;
    semx.ln() + mx
}

/// ADBench's hand-written gradient: the value of the GMM objective, and its gradient with
/// respect to `alphas`, `means` and `icf` written into `grad`, laid out as in the module docs.
pub fn gmm_objective_d(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    wishart: &Wishart,
    grad: &mut [f64],
) -> f64 {
    let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let icf_sz = d * (d + 1) / 2;

    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    let mut main_term = vec![0.0; k];
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];

    preprocess_qs(d, k, icf, &mut sum_qs, &mut qdiags);

    grad.fill(0.0);

    let mut curr_means_d = vec![0.0; d * k];
    let mut curr_q_d = vec![0.0; d * k];
    let mut curr_l_d = vec![0.0; (icf_sz - d) * k];

    let (alphas_d, rest) = grad.split_at_mut(k);
    let (means_d, icf_d) = rest.split_at_mut(d * k);

    let mut slse = 0.0;
    for curr_x in x.chunks_exact(d).take(n) {
        for ik in 0..k {
            let icf_k = &icf[ik * icf_sz..(ik + 1) * icf_sz];
            let qdiag = &qdiags[ik * d..(ik + 1) * d];
            subtract(curr_x, &means[ik * d..(ik + 1) * d], &mut xcentered);
            qtimesx(qdiag, &icf_k[d..], &xcentered, &mut qxcentered);
            qtransposetimesx(
                qdiag,
                icf_k,
                &qxcentered,
                &mut curr_means_d[ik * d..(ik + 1) * d],
            );
            compute_q_inner_term(
                qdiag,
                &xcentered,
                &qxcentered,
                &mut curr_q_d[ik * d..(ik + 1) * d],
            );
            compute_l_inner_term(
                &xcentered,
                &qxcentered,
                &mut curr_l_d[ik * (icf_sz - d)..(ik + 1) * (icf_sz - d)],
            );
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm(&qxcentered);
        }
        slse += logsumexp_d(&mut main_term);
        for ik in 0..k {
            let w = main_term[ik];
            alphas_d[ik] += w;
            let icf_dk = &mut icf_d[ik * icf_sz..(ik + 1) * icf_sz];
            for id in 0..d {
                means_d[ik * d + id] += curr_means_d[ik * d + id] * w;
                icf_dk[id] += curr_q_d[ik * d + id] * w;
            }
            for (g, l) in icf_dk[d..]
                .iter_mut()
                .zip(&curr_l_d[ik * (icf_sz - d)..(ik + 1) * (icf_sz - d)])
            {
                *g += l * w;
            }
        }
    }

    let mut lse_alphas_d = alphas[..k].to_vec();
    let lse_alphas = logsumexp_d(&mut lse_alphas_d);
    let gamma2 = wishart.gamma * wishart.gamma;
    for ik in 0..k {
        alphas_d[ik] -= n as f64 * lse_alphas_d[ik];
        let icf_dk = &mut icf_d[ik * icf_sz..(ik + 1) * icf_sz];
        for id in 0..d {
            let q = qdiags[ik * d + id];
            icf_dk[id] += gamma2 * q * q - wishart.m as f64;
        }
        for (g, l) in icf_dk[d..].iter_mut().zip(&icf[ik * icf_sz + d..]) {
            *g += gamma2 * l;
        }
    }

    let err = constant + slse - n as f64 * lse_alphas;
    err + super::gmm_natural::log_wishart_prior(d, k, wishart, &sum_qs, &qdiags, icf)
}

// ---------------------------------------------------------------------------------------------
// The benchmark problem.

/// The GMM objective on one data set.
pub struct Gmm {
    d: usize,
    k: usize,
    n: usize,
    /// The points, `d` coordinates each.
    x: Vec<f64>,
    wishart: Wishart,
    /// The parameters drawn with the data: the point benchmarked.
    params: Vec<f64>,
    /// Which form of the objective the primal and the generated gradient are.
    form: Form,
}

/// The forms of the objective.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// [`gmm_objective`]: helpers inlined, temporaries of fixed capacity.
    Inlined,
    /// [`gmm_objective_points_last`].
    PointsLast,
    /// ADBench's own, [`gmm_natural::gmm_objective`](super::gmm_natural::gmm_objective).
    Adbench,
}

impl Gmm {
    /// ADBench's data at dimension `d` with `k` components and `n` points, drawn from a fixed
    /// seed: `alphas`, then `icf`, then the points from one standard normal stream, `means` from a
    /// uniform one, as `gmm-data-gen.py` draws them.
    ///
    /// # Panics
    ///
    /// If `d < 2`, `d > MAX_D`, `k == 0` or `k > MAX_K`.
    #[must_use]
    pub fn new(d: usize, k: usize, n: usize) -> Self {
        assert!((2..=MAX_D).contains(&d), "GMM needs 2 <= d <= {MAX_D}");
        assert!((1..=MAX_K).contains(&k), "GMM needs 1 <= k <= {MAX_K}");
        let icf_sz = d * (d + 1) / 2;
        let mut uniform = Rng::new(0x6A_4D4D);
        let mut normal = Rng::new(0x6E_6F72);
        let alphas = normal.normal_vec(k);
        let means = uniform.vec(d * k, 0.0, 1.0);
        let icf = normal.normal_vec(icf_sz * k);
        let x = normal.normal_vec(d * n);
        let params = [alphas, means, icf].concat();
        Self {
            d,
            k,
            n,
            x,
            wishart: Wishart { gamma: 1.0, m: 0 },
            params,
            form: Form::Inlined,
        }
    }

    /// The same data, with the objective in the comparison form [`gmm_objective_points_last`].
    #[must_use]
    pub fn points_last(d: usize, k: usize, n: usize) -> Self {
        Self {
            form: Form::PointsLast,
            ..Self::new(d, k, n)
        }
    }

    /// The same data, with the objective in ADBench's own form,
    /// [`gmm_natural::gmm_objective`](super::gmm_natural::gmm_objective).
    #[must_use]
    pub fn adbench_form(d: usize, k: usize, n: usize) -> Self {
        Self {
            form: Form::Adbench,
            ..Self::new(d, k, n)
        }
    }

    /// The problem's `(d, k, n)`.
    #[must_use]
    pub const fn shape(&self) -> (usize, usize, usize) {
        (self.d, self.k, self.n)
    }

    /// The points.
    #[must_use]
    pub fn data(&self) -> &[f64] {
        &self.x
    }

    /// The Wishart prior's parameters.
    #[must_use]
    pub const fn wishart(&self) -> &Wishart {
        &self.wishart
    }

    /// `params` split into `(alphas, means, icf)`.
    #[must_use]
    pub fn split<'a>(&self, params: &'a [f64]) -> (&'a [f64], &'a [f64], &'a [f64]) {
        let (alphas, rest) = params.split_at(self.k);
        let (means, icf) = rest.split_at(self.d * self.k);
        (alphas, means, icf)
    }

    /// The objective in ADBench's own form, [`gmm_natural::gmm_objective`](super::gmm_natural).
    #[must_use]
    pub fn natural(&self, params: &[f64]) -> f64 {
        let (alphas, means, icf) = self.split(params);
        super::gmm_natural::gmm_objective(
            self.d,
            self.k,
            self.n,
            alphas,
            means,
            icf,
            &self.x,
            &self.wishart,
        )
    }
}

impl Problem for Gmm {
    fn family(&self) -> &'static str {
        match self.form {
            Form::Inlined => "gmm",
            Form::PointsLast => "gmm_points_last",
            Form::Adbench => "gmm_adbench",
        }
    }

    fn label(&self) -> String {
        format!("{}/d{}k{}n{}", self.family(), self.d, self.k, self.n)
    }

    fn dim(&self) -> usize {
        self.k + self.d * self.k + self.d * (self.d + 1) / 2 * self.k
    }

    fn points(&self) -> Vec<Vec<f64>> {
        super::near(&self.params)
    }

    fn primal(&self, params: &[f64]) -> f64 {
        let (alphas, means, icf) = self.split(params);
        let f = match self.form {
            Form::Inlined => gmm_objective,
            Form::PointsLast => gmm_objective_points_last,
            Form::Adbench => super::gmm_natural::gmm_objective,
        };
        f(
            self.d,
            self.k,
            self.n,
            alphas,
            means,
            icf,
            &self.x,
            &self.wishart,
        )
    }

    fn eval<T: Real>(&self, params: &[T]) -> T {
        let (d, k, n) = (self.d, self.k, self.n);
        let icf_sz = d * (d + 1) / 2;
        let (alphas, rest) = params.split_at(k);
        let (means, icf) = rest.split_at(d * k);
        let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln();

        // The operations of `gmm_objective`, in its order; the sums start from their first term
        // (`0.0 + t` is `t` exactly), since only `f64`s can be a constant zero here.
        let mut qdiags = Vec::with_capacity(d * k);
        let mut sum_qs = Vec::with_capacity(k);
        for ik in 0..k {
            let mut s = icf[ik * icf_sz];
            qdiags.push(s.exp());
            for id in 1..d {
                let q = icf[ik * icf_sz + id];
                s = s + q;
                qdiags.push(q.exp());
            }
            sum_qs.push(s);
        }
        let logsumexp = |v: &[T]| {
            let mx = v
                .iter()
                .skip(1)
                .fold(v[0], |m, &e| if m.value() < e.value() { e } else { m });
            let mut semx = (v[0] - mx).exp();
            for &e in &v[1..] {
                semx = semx + (e - mx).exp();
            }
            semx.ln() + mx
        };
        let mut slse: Option<T> = None;
        let mut main_term = Vec::with_capacity(k);
        let mut xcentered = Vec::with_capacity(d);
        let mut qxcentered = Vec::with_capacity(d);
        for point in self.x.chunks_exact(d).take(n) {
            main_term.clear();
            for ik in 0..k {
                xcentered.clear();
                xcentered.extend((0..d).map(|id| -(means[ik * d + id] - point[id])));
                qxcentered.clear();
                qxcentered.extend((0..d).map(|id| qdiags[ik * d + id] * xcentered[id]));
                let mut lparamsidx = 0;
                for i in 0..d {
                    for j in i + 1..d {
                        qxcentered[j] =
                            qxcentered[j] + icf[ik * icf_sz + d + lparamsidx] * xcentered[i];
                        lparamsidx += 1;
                    }
                }
                let mut sqnorm = qxcentered[0] * qxcentered[0];
                for &q in &qxcentered[1..] {
                    sqnorm = sqnorm + q * q;
                }
                main_term.push(alphas[ik] + sum_qs[ik] - sqnorm * 0.5);
            }
            let lse = logsumexp(&main_term);
            slse = Some(slse.map_or(lse, |s| s + lse));
        }
        let slse = slse.expect("at least one point");
        let lse_alphas = logsumexp(alphas);
        let err = slse + constant - lse_alphas * n as f64;

        let n_wishart = d + self.wishart.m + 1;
        let gamma = self.wishart.gamma;
        let c = n_wishart as f64 * d as f64 * (gamma.ln() - 0.5 * 2.0_f64.ln())
            - log_gamma_distrib(0.5 * n_wishart as f64, d);
        let mut out: Option<T> = None;
        for ik in 0..k {
            let q = &qdiags[ik * d..(ik + 1) * d];
            let mut sqnorm_q = q[0] * q[0];
            for &e in &q[1..] {
                sqnorm_q = sqnorm_q + e * e;
            }
            let l = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
            let mut sqnorm_l = l[0] * l[0];
            for &e in &l[1..] {
                sqnorm_l = sqnorm_l + e * e;
            }
            let term =
                (sqnorm_q + sqnorm_l) * (0.5 * gamma * gamma) - sum_qs[ik] * self.wishart.m as f64;
            out = Some(out.map_or(term, |o| o + term));
        }
        let out = out.expect("at least one component");
        err + (out - k as f64 * c)
    }

    fn hand_written(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (alphas, means, icf) = self.split(params);
        gmm_objective_d(
            self.d,
            self.k,
            self.n,
            alphas,
            means,
            icf,
            &self.x,
            &self.wishart,
            grad,
        )
    }

    fn accumulates(&self) -> bool {
        true
    }

    fn has_peer(&self, who: Contender) -> bool {
        // A runtime tape records every operation, about n k d² / 2 of them: gigabytes from
        // d = 20 on. Forward mode and differences take a pass per parameter.
        let work = self.d * self.d * self.k * self.n;
        match who {
            Contender::Echidna | Contender::Reverse => work <= 3_000_000,
            _ => work * self.dim() <= 1_000_000,
        }
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        let f = match self.form {
            Form::Inlined => gmm_objective_grad_into,
            Form::PointsLast => gmm_objective_points_last_grad_into,
            Form::Adbench => super::gmm_natural::gmm_objective_grad_into,
        };
        v.accumulating(Contender::Generated, |params, g| {
            let (alphas, means, icf) = self.split(params);
            let (d_alphas, rest) = g.split_at_mut(self.k);
            let (d_means, d_icf) = rest.split_at_mut(self.d * self.k);
            f(
                self.d,
                self.k,
                self.n,
                alphas,
                d_alphas,
                means,
                d_means,
                icf,
                d_icf,
                &self.x,
                &self.wishart,
            )
            .0
        });
    }
}
