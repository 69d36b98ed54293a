//! The second-order benchmark contenders (`benches/common/second.rs`) compute what they are timed
//! for: at every check point of the neuron and of Rosenbrock, `f_hvp` agrees with the
//! Hessian-vector product written by hand, and `f_hessian` with `num-dual`'s hyper-dual Hessian,
//! with `echidna`'s, and with central differences of the hand-written adjoint.

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use common::neuron::{Neuron, neuron_hessian, neuron_hvp};
use common::rosenbrock::{Rosenbrock, rosenbrock_hessian, rosenbrock_hvp_into};
use common::second::{
    SIZES, direction, echidna_hessian, neuron_hvp_by_hand, num_dual_hessian, rosenbrock_hvp_by_hand,
};
use common::{Problem, Rng};

/// `|got - want| <= tol * max(|want|, 1e-3 ‖want‖∞)`, entry by entry; NaN fails.
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let norm = want.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let within = (g - w).abs() <= tol * w.abs().max(1e-3 * norm);
        assert!(within, "{what}: [{i}] got {g:e}, want {w:e}");
    }
}

/// The Hessian by central differences of the hand-written adjoint, row-major.
fn differences<P: Problem>(p: &P, x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut hess = vec![0.0; n * n];
    let mut xs = x.to_vec();
    let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
    for j in 0..n {
        let h = 1e-5 * x[j].abs().max(1.0);
        xs[j] = x[j] + h;
        p.hand_written(&xs, &mut up);
        xs[j] = x[j] - h;
        p.hand_written(&xs, &mut down);
        xs[j] = x[j];
        for i in 0..n {
            hess[i * n + j] = (up[i] - down[i]) / (2.0 * h);
        }
    }
    hess
}

/// `hess · v` for a row-major `hess`.
fn times(hess: &[f64], v: &[f64]) -> Vec<f64> {
    hess.chunks_exact(v.len())
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

#[test]
fn neuron_contenders_agree() {
    for (k, p) in Neuron.points().into_iter().enumerate() {
        let v = Rng::new(k as u64).vec(4, -1.0, 1.0);
        let by_hand = neuron_hvp_by_hand(p[0], v[0], p[1], v[1], p[2], v[2], p[3], v[3]);
        let generated = neuron_hvp(p[0], v[0], p[1], v[1], p[2], v[2], p[3], v[3]);
        let flat = |t: (f64, f64, f64, f64, f64, f64, f64, f64, f64)| {
            vec![t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8]
        };
        assert_close("neuron f_hvp", &flat(generated), &flat(by_hand), 1e-12);

        let (value, dx, dw, db, dt, hess) = neuron_hessian(p[0], p[1], p[2], p[3]);
        let hess: Vec<f64> = hess.iter().flatten().copied().collect();
        let fd = differences(&Neuron, &p);
        assert_close("neuron f_hessian vs differences", &hess, &fd, 1e-6);
        let hv = times(&hess, &v);
        assert_close("neuron f_hessian · v", &hv, &flat(by_hand)[5..], 1e-12);

        let (nd_value, nd_grad, nd_hess) = num_dual_hessian(&Neuron, &p);
        assert_close("neuron num-dual", &nd_hess, &hess, 1e-12);
        assert_close(
            "neuron num-dual gradient",
            &nd_grad,
            &[dx, dw, db, dt],
            1e-12,
        );
        assert!((nd_value - value).abs() <= 1e-15 * value.abs());
        let (e_value, e_grad, e_hess) = echidna_hessian(&Neuron, &p);
        let e_hess: Vec<f64> = e_hess.into_iter().flatten().collect();
        assert_close("neuron echidna", &e_hess, &hess, 1e-12);
        assert_close("neuron echidna gradient", &e_grad, &[dx, dw, db, dt], 1e-12);
        assert!((e_value - value).abs() <= 1e-15 * value.abs());
    }
}

#[test]
fn rosenbrock_contenders_agree() {
    for n in SIZES.into_iter().chain([1000]) {
        let problem = Rosenbrock::new(n);
        let v = direction(n);
        for x in problem.points() {
            let (mut g, mut hv) = (vec![0.0; n], vec![0.0; n]);
            let (mut g_hand, mut hv_hand) = (vec![0.0; n], vec![0.0; n]);
            let (value,) = rosenbrock_hvp_into(&x, &v, &mut g, &mut hv);
            let value_hand = rosenbrock_hvp_by_hand(&x, &v, &mut g_hand, &mut hv_hand);
            assert!((value - value_hand).abs() <= 1e-12 * value.abs());
            assert_close("rosenbrock gradient", &g, &g_hand, 1e-12);
            assert_close("rosenbrock f_hvp", &hv, &hv_hand, 1e-12);
            // Both add into their buffers: a second call doubles them.
            rosenbrock_hvp_by_hand(&x, &v, &mut g_hand, &mut hv_hand);
            let twice: Vec<f64> = hv.iter().map(|h| 2.0 * h).collect();
            assert_close("rosenbrock H·v by hand, twice", &hv_hand, &twice, 1e-12);
            if n > 100 {
                continue;
            }

            let (h_value, h_grad, hess) = rosenbrock_hessian(&x);
            assert_eq!(h_value, value);
            assert_close("rosenbrock f_hessian gradient", &h_grad, &g, 1e-12);
            assert_close("rosenbrock f_hessian · v", &times(&hess, &v), &hv, 1e-10);
            let fd = differences(&problem, &x);
            assert_close("rosenbrock f_hessian vs differences", &hess, &fd, 1e-6);
            let (_, nd_grad, nd_hess) = num_dual_hessian(&problem, &x);
            assert_close("rosenbrock num-dual", &nd_hess, &hess, 1e-12);
            assert_close("rosenbrock num-dual gradient", &nd_grad, &g, 1e-12);
            let (_, e_grad, e_hess) = echidna_hessian(&problem, &x);
            let e_hess: Vec<f64> = e_hess.into_iter().flatten().collect();
            assert_close("rosenbrock echidna", &e_hess, &hess, 1e-12);
            assert_close("rosenbrock echidna gradient", &e_grad, &g, 1e-12);
        }
    }
}
