//! Every benchmark contender computes the same gradient as the hand-written adjoint, at every
//! check point of every benchmark function: the AD contenders to 1e-10 relative, central finite
//! differences to 1e-5. The generic body the peers run agrees with the primal bit for bit.

#![allow(clippy::cast_precision_loss)] // Point counts are small.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{Contender, Problem, ProblemVisitor, Visitor};

/// Relative tolerance for the contenders that differentiate exactly.
const AD_TOLERANCE: f64 = 1e-10;
/// Relative tolerance for central finite differences.
const FD_TOLERANCE: f64 = 1e-5;

/// `|got - want| <= tol * max(|want|, 1e-3 ‖want‖∞)`: relative, with a floor so that a component
/// that happens to be near zero is judged against the scale of the whole gradient.
fn assert_close(label: &str, who: Contender, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{label}: {} gradient length",
        who.name()
    );
    let norm = want.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    let bad: Vec<String> = got
        .iter()
        .zip(want)
        .enumerate()
        .filter(|&(_, (g, w))| {
            // Written so that NaN fails.
            let within = (g - w).abs() <= tol * w.abs().max(1e-3 * norm);
            !within
        })
        .map(|(i, (g, w))| format!("  [{i}]: got {g:e}, hand-written {w:e}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{label}: {} gradient differs from the hand-written one beyond {tol:e}:\n{}",
        who.name(),
        bad.join("\n")
    );
}

/// Checks every contender of one problem against the hand-written adjoint at one point.
struct Check<'a> {
    label: &'a str,
    x: &'a [f64],
    value: f64,
    grad: &'a [f64],
    seen: Vec<Contender>,
}

impl Visitor for Check<'_> {
    fn primal(&mut self, mut f: impl FnMut(&[f64]) -> f64) {
        let value = f(self.x);
        assert!(
            (value - self.value).abs() <= 1e-12 * self.value.abs(),
            "{}: primal {value:e} vs hand-written value {:e}",
            self.label,
            self.value
        );
        self.seen.push(Contender::Primal);
    }

    fn gradient(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        // Start from garbage: every contender must overwrite the whole buffer.
        let mut grad = vec![f64::NAN; self.x.len()];
        let value = f(self.x, &mut grad);
        assert!(
            (value - self.value).abs() <= 1e-12 * self.value.abs(),
            "{}: {} value {value:e} vs hand-written value {:e}",
            self.label,
            who.name(),
            self.value
        );
        let tol = if who == Contender::FiniteDiff {
            FD_TOLERANCE
        } else {
            AD_TOLERANCE
        };
        assert_close(self.label, who, &grad, self.grad, tol);
        self.seen.push(who);
    }

    fn accumulating(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        // From zero it is the gradient; into a buffer that holds the gradient, twice that.
        self.gradient(who, |x, g| {
            g.fill(0.0);
            f(x, g)
        });
        let mut twice = self.grad.to_vec();
        f(self.x, &mut twice);
        let doubled: Vec<f64> = self.grad.iter().map(|g| 2.0 * g).collect();
        assert_close(self.label, who, &twice, &doubled, AD_TOLERANCE);
    }
}

/// Runs the check over every problem and records which contenders each one has.
#[derive(Default)]
struct CheckAll {
    seen: Vec<(String, Vec<Contender>)>,
}

impl ProblemVisitor for CheckAll {
    fn problem<P: Problem>(&mut self, p: &P) {
        let label = common::label(p);
        let points = p.points();
        assert!(points.len() >= 3, "{label}: fewer than 3 check points");
        let mut seen = Vec::new();
        for x in &points {
            assert_eq!(x.len(), p.dim(), "{label}: point dimension");
            let value = p.primal(x);
            assert!(value.is_finite(), "{label}: f({x:?}) = {value}");
            assert_eq!(
                p.eval(x.as_slice()).to_bits(),
                value.to_bits(),
                "{label}: the generic body differs from the primal"
            );
            let mut grad = vec![f64::NAN; x.len()];
            let hand_value = p.hand_written(x, &mut grad);
            assert!(
                grad.iter().all(|g| g.is_finite()),
                "{label}: hand-written gradient {grad:?}"
            );
            let mut check = Check {
                label: &label,
                x,
                value: hand_value,
                grad: &grad,
                seen: Vec::new(),
            };
            common::contenders(p, &mut check);
            seen = check.seen;
        }
        self.seen.push((label, seen));
    }
}

#[test]
fn every_contender_agrees_with_the_hand_written_adjoint() {
    let mut all = CheckAll::default();
    common::problems(&mut all);

    let labels: Vec<&str> = all.seen.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "seed",
            "neuron",
            "mixed8",
            "rosenbrock/2",
            "rosenbrock/10",
            "rosenbrock/100",
            "rosenbrock/1000",
            "rosenbrock_1n/2",
            "rosenbrock_1n/10",
            "rosenbrock_1n/100",
            "rosenbrock_1n/1000",
            "mlp",
            "wrapper/10",
            "wrapper_ln/10",
            "wrapper/1000",
            "wrapper_ln/1000"
        ]
    );
    for (label, seen) in &all.seen {
        assert_eq!(seen, &Contender::ALL, "{label}: contenders");
    }
}

#[test]
fn hand_written_values_match_closed_forms() {
    use common::{Problem, neuron::Neuron, rosenbrock::Rosenbrock, seed::Seed};
    let mut g = [0.0; 2];
    assert_eq!(Seed.hand_written(&[2.0, 3.0], &mut g), 15.0);
    assert_eq!(g, [3.0, 8.0]);

    // energy(1, -1) = 2 (1 + 1/2) = 3, with ∂ = 2x + 2x³ = (4, -4); through ln, divided by 3.
    let mut g = [9.0; 2];
    let plain = common::wrapper::Wrapper::new(2, false);
    assert_eq!(plain.hand_written(&[1.0, -1.0], &mut g), 3.0);
    assert_eq!(g, [4.0, -4.0]);
    let ln = common::wrapper::Wrapper::new(2, true);
    assert_eq!(ln.hand_written(&[1.0, -1.0], &mut g), 3.0_f64.ln());
    assert_eq!(g, [4.0 / 3.0, -4.0 / 3.0]);

    // The Rosenbrock minimum: f(1, ..., 1) = 0 with a zero gradient.
    let mut g = vec![1.0; 10];
    assert_eq!(Rosenbrock::new(10).hand_written(&[1.0; 10], &mut g), 0.0);
    assert!(g.iter().all(|&gi| gi == 0.0));

    // The seed's neuron: ∂L/∂w = -0.187174935731 at (x, w, b, t) = (2, 0.5, 0.1, 1).
    let mut g = [0.0; 4];
    let l = Neuron.hand_written(&[2.0, 0.5, 0.1, 1.0], &mut g);
    assert!((l - 0.062_370_014_857).abs() < 1e-11);
    assert!((g[1] + 0.187_174_935_731).abs() < 1e-11);
}

#[test]
fn iterator_forms_agree_with_their_index_loops() {
    // Each pair runs the same loop over the same values in the same order: the values and the
    // gradients are equal bit for bit.
    for (name, iter, index) in common::idioms::PAIRS {
        for n in common::idioms::SIZES {
            let x = common::Rng::new(7).vec(n, -1.5, 1.5);
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            let (va, vb) = (iter(&x, &mut a), index(&x, &mut b));
            assert_eq!(va.to_bits(), vb.to_bits(), "{name}, n = {n}: values");
            for (k, (ga, gb)) in a.iter().zip(&b).enumerate() {
                assert_eq!(ga.to_bits(), gb.to_bits(), "{name}, n = {n}: ∂/∂x{k}");
            }
        }
    }
}

/// Records the labels of the problems it is handed, without running them.
struct Labels(Vec<String>);

impl ProblemVisitor for Labels {
    fn problem<P: Problem>(&mut self, p: &P) {
        self.0.push(p.label());
    }
}

/// `ADBench`'s GMM objective, in the form `#[differentiate]` accepts and with its loop over the
/// points moved last: every contender agrees with `ADBench`'s hand-written (Manual) gradient,
/// including finite differences of the primal where they are affordable (the smallest two), at
/// three points each; and the objective in the form `#[differentiate]` accepts today gives the
/// value of the objective in `ADBench`'s own form.
#[test]
fn adbench_gmm_contenders_agree_with_the_manual_gradient() {
    use Contender::{Echidna, Generated, HandWritten, Primal, Reverse};
    use common::gmm::Gmm;
    let problems = [
        Gmm::new(3, 4, 20),
        Gmm::new(2, 5, 1000),
        Gmm::new(10, 25, 40),
        Gmm::points_last(3, 4, 20),
        Gmm::points_last(10, 25, 40),
        Gmm::adbench_form(3, 4, 20),
        Gmm::adbench_form(10, 25, 40),
    ];
    let all = check_against_natural(&problems, Gmm::natural);
    let seen: Vec<(&str, &[Contender])> = all
        .seen
        .iter()
        .map(|(l, s)| (l.as_str(), s.as_slice()))
        .collect();
    let tapes_only = &[Primal, Generated, HandWritten, Echidna, Reverse][..];
    assert_eq!(
        seen,
        [
            ("gmm/d3k4n20", &Contender::ALL[..]),
            ("gmm/d2k5n1000", &Contender::ALL[..]),
            ("gmm/d10k25n40", tapes_only),
            ("gmm_points_last/d3k4n20", &Contender::ALL[..]),
            ("gmm_points_last/d10k25n40", tapes_only),
            ("gmm_adbench/d3k4n20", &Contender::ALL[..]),
            ("gmm_adbench/d10k25n40", tapes_only),
        ]
    );

    // The benchmarked sizes are ADBench's.
    let mut labels = Labels(Vec::new());
    common::adbench(&mut labels);
    assert_eq!(
        labels.0,
        [
            "gmm/d2k5n1000",
            "gmm/d10k25n1000",
            "gmm/d20k50n1000",
            "gmm/d64k200n1000",
            "gmm_points_last/d2k5n1000",
            "gmm_points_last/d10k25n1000",
            "gmm_points_last/d20k50n1000",
            "gmm_points_last/d64k200n1000",
            "gmm_adbench/d2k5n1000",
            "gmm_adbench/d10k25n1000",
            "gmm_adbench/d20k50n1000",
            "gmm_adbench/d64k200n1000",
            "lstm/l2c1024",
            "lstm/l2c4096",
            "lstm/l4c1024",
            "lstm/l4c4096",
            "lstm_adbench/l2c1024",
            "lstm_adbench/l2c4096",
            "lstm_adbench/l4c1024",
            "lstm_adbench/l4c4096"
        ]
    );
}

/// Checks every contender of each problem ([`CheckAll`]) and that the accepted form gives the
/// value of `ADBench`'s own form (`natural`) at each check point, to 1e-12.
fn check_against_natural<P: Problem>(problems: &[P], natural: fn(&P, &[f64]) -> f64) -> CheckAll {
    let mut all = CheckAll::default();
    for p in problems {
        all.problem(p);
        for x in p.points() {
            let (natural, accepted) = (natural(p, &x), p.primal(&x));
            assert!(
                (natural - accepted).abs() <= 1e-12 * natural.abs(),
                "{}: ADBench's form {natural:e}, accepted form {accepted:e}",
                p.label()
            );
        }
    }
    all
}

/// `ADBench`'s LSTM objective, in its own form (`lstm_adbench`) and in the form with the helpers'
/// views as offsets (`lstm`): every contender agrees with `ADBench`'s hand-written (Manual)
/// gradient, including central finite differences of the primal on the small sizes (so the
/// Manual gradient is checked independently of the generated one), at three points each; and
/// both forms give the value of `ADBench`'s own form.
#[test]
fn adbench_lstm_contenders_agree_with_the_manual_gradient() {
    use Contender::{Echidna, Generated, HandWritten, Primal, Reverse};
    use common::lstm::Lstm;
    let problems = [
        Lstm::new(1, 4),
        Lstm::new(2, 8),
        Lstm::new(4, 5),
        Lstm::new(2, 64),
        Lstm::new(2, 1024),
        Lstm::adbench_form(1, 4),
        Lstm::adbench_form(4, 5),
        Lstm::adbench_form(2, 64),
    ];
    let all = check_against_natural(&problems, Lstm::natural);
    let seen: Vec<(&str, &[Contender])> = all
        .seen
        .iter()
        .map(|(l, s)| (l.as_str(), s.as_slice()))
        .collect();
    let tapes_only = &[Primal, Generated, HandWritten, Echidna, Reverse][..];
    assert_eq!(
        seen,
        [
            ("lstm/l1c4", &Contender::ALL[..]),
            ("lstm/l2c8", &Contender::ALL[..]),
            ("lstm/l4c5", &Contender::ALL[..]),
            ("lstm/l2c64", &Contender::ALL[..]),
            ("lstm/l2c1024", tapes_only),
            ("lstm_adbench/l1c4", &Contender::ALL[..]),
            ("lstm_adbench/l4c5", &Contender::ALL[..]),
            ("lstm_adbench/l2c64", &Contender::ALL[..]),
        ]
    );
}

/// The Manual gradient at closed forms: with one component the mixture is one Gaussian, and the
/// gradient with respect to `alphas` vanishes (the weights are normalised); with the means at
/// the points' centroid and identity covariance, the gradient with respect to the means is zero.
#[test]
fn manual_gmm_gradient_matches_closed_forms() {
    use common::gmm::{Gmm, gmm_objective_d};
    let p = Gmm::new(2, 1, 10);
    let (d, k, n) = p.shape();
    let x = p.data();
    let mut centroid = vec![0.0; d];
    for point in x.chunks_exact(d) {
        for (c, v) in centroid.iter_mut().zip(point) {
            *c += v / n as f64;
        }
    }
    let alphas = [0.3];
    let icf = vec![0.0; d * (d + 1) / 2 * k];
    let mut grad = vec![f64::NAN; k + d * k + icf.len()];
    gmm_objective_d(d, k, n, &alphas, &centroid, &icf, x, p.wishart(), &mut grad);
    assert!(grad[0].abs() < 1e-12, "∂/∂alpha = {}", grad[0]);
    assert!(
        grad[1..=d].iter().all(|g| g.abs() < 1e-12),
        "∂/∂means = {:?}",
        &grad[1..=d]
    );
}

/// Second order through the GMM objective as its benchmark suite writes it: `H·v` goes through the helpers'
/// `g_hvp` (`sqnorm`, `logsumexp`, `log_wishart_prior`) and, for the helpers that write into
/// buffers (`subtract`, `qtimesx`, `preprocess_qs`), their `g_jvp` and `g_hvp_into`. The oracle
/// is central differences of the suite's hand-written (Manual) gradient along `v`.
#[test]
fn adbench_gmm_hvp_matches_differences_of_the_manual_gradient() {
    use common::Problem;
    use common::gmm::{Gmm, gmm_objective_d};
    use common::gmm_natural::gmm_objective_hvp;
    for (d, k, n) in [(2, 3, 7), (4, 5, 12)] {
        let p = Gmm::adbench_form(d, k, n);
        let x = p.data();
        let params = p.points().swap_remove(0);
        let dim = params.len();
        let v: Vec<f64> = (0..dim)
            .map(|i| ((i * 7 + 3) % 11) as f64 / 11.0 - 0.45)
            .collect();
        let (alphas, means, icf) = p.split(&params);
        let (v_alphas, v_means, v_icf) = p.split(&v);
        let (value, d_alphas, d_means, d_icf, hv_alphas, hv_means, hv_icf) = gmm_objective_hvp(
            d,
            k,
            n,
            alphas,
            v_alphas,
            means,
            v_means,
            icf,
            v_icf,
            x,
            p.wishart(),
        );
        let manual = |at: &[f64]| {
            let (alphas, means, icf) = p.split(at);
            let mut grad = vec![0.0; dim];
            gmm_objective_d(d, k, n, alphas, means, icf, x, p.wishart(), &mut grad);
            grad
        };
        // The value and gradient are `f_grad`'s, which agrees with Manual.
        assert!((value - p.natural(&params)).abs() <= 1e-12 * value.abs().max(1.0));
        let grad = [d_alphas, d_means, d_icf].concat();
        for (g, m) in grad.iter().zip(manual(&params)) {
            assert!(
                (g - m).abs() <= 1e-10 * (1.0 + m.abs()),
                "gradient {g} against Manual {m}"
            );
        }
        let h = 1e-5;
        let shifted =
            |e: f64| -> Vec<f64> { params.iter().zip(&v).map(|(a, b)| a + e * b).collect() };
        let (up, down) = (manual(&shifted(h)), manual(&shifted(-h)));
        let hv = [hv_alphas, hv_means, hv_icf].concat();
        for (i, got) in hv.iter().enumerate() {
            let want = (up[i] - down[i]) / (2.0 * h);
            assert!(
                (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "(d, k, n) = ({d}, {k}, {n}): (H·v)[{i}] = {got}, differences of Manual {want}"
            );
        }
    }
}
