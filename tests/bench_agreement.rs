//! Every benchmark contender computes the same gradient as the hand-written adjoint, at every
//! check point of every benchmark function: the AD contenders to 1e-10 relative, central finite
//! differences to 1e-5. The generic body the peers run agrees with the primal bit for bit.

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
            "mlp"
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
