//! The Jacobian benchmark contenders (`benches/common/jacobian.rs`) compute what they are timed
//! for: at each function's point, `f_jacobian` agrees with the Jacobian written by hand, with
//! `num-dual`'s and with central differences of the primal, and the values with the primal.

// Dense matrices of fixed size read best with indices.
#![allow(clippy::needless_range_loop)]

#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use common::jacobian::{
    BA_N, LORENZ_N, POINTS, arm, arm_by_hand, arm_jacobian, arm_num_dual, ba_flatten,
    ba_observations, ba_reproj, ba_reproj_by_hand, ba_reproj_inline, ba_reproj_inline_jacobian,
    ba_reproj_jacobian, ba_reproj_num_dual, lorenz96, lorenz96_by_hand, lorenz96_jacobian,
    lorenz96_num_dual, oscillation, oscillation_by_hand, oscillation_data, oscillation_jacobian,
    oscillation_num_dual, points,
};

/// `|got - want| <= tol * max(|want|, 1e-3 max |want|)`, entry by entry; NaN fails.
fn assert_close<const M: usize, const N: usize>(
    what: &str,
    got: &[[f64; N]; M],
    want: &[[f64; N]; M],
    tol: f64,
) {
    let norm = want.iter().flatten().fold(0.0_f64, |m, w| m.max(w.abs()));
    for i in 0..M {
        for j in 0..N {
            let (g, w) = (got[i][j], want[i][j]);
            let within = (g - w).abs() <= tol * w.abs().max(1e-3 * norm);
            assert!(within, "{what}: [{i}][{j}] got {g:e}, want {w:e}");
        }
    }
}

/// The Jacobian of `f` at `x` by central differences, `jac[i][j] = ∂f_i/∂x_j`.
fn differences<const M: usize, const N: usize>(
    f: impl Fn([f64; N]) -> [f64; M],
    x: [f64; N],
) -> [[f64; N]; M] {
    let mut jac = [[0.0; N]; M];
    for j in 0..N {
        let h = 1e-6 * x[j].abs().max(1.0);
        let (mut up, mut down) = (x, x);
        up[j] += h;
        down[j] -= h;
        let (fu, fd) = (f(up), f(down));
        for i in 0..M {
            jac[i][j] = (fu[i] - fd[i]) / (2.0 * h);
        }
    }
    jac
}

#[test]
fn arm_jacobians_agree() {
    let (q, _, _) = points();
    let (value, jac) = arm_jacobian(q);
    let (hand_value, hand) = arm_by_hand(q);
    assert_eq!(value, arm(q));
    for i in 0..2 {
        assert!((value[i] - hand_value[i]).abs() <= 1e-14, "arm value {i}");
    }
    assert_close("arm by hand", &jac, &hand, 1e-13);
    assert_close("arm num-dual", &arm_num_dual(q).1, &hand, 1e-13);
    assert_close("arm differences", &differences(arm, q), &hand, 1e-7);
}

#[test]
fn lorenz96_jacobians_agree() {
    let (_, x, _) = points();
    let (value, jac) = lorenz96_jacobian(x);
    let (hand_value, hand) = lorenz96_by_hand(x);
    assert_eq!(value, lorenz96(x));
    assert_eq!(value, hand_value);
    assert_close::<LORENZ_N, LORENZ_N>("lorenz96 by hand", &jac, &hand, 1e-13);
    assert_close("lorenz96 num-dual", &lorenz96_num_dual(x).1, &hand, 1e-13);
    assert_close(
        "lorenz96 differences",
        &differences(lorenz96, x),
        &hand,
        1e-7,
    );
}

#[test]
fn oscillation_jacobians_agree() {
    let (_, _, p) = points();
    let (t, y) = oscillation_data();
    let (value, jac) = oscillation_jacobian(p, &t, &y);
    let (hand_value, hand) = oscillation_by_hand(p, &t, &y);
    assert_eq!(value, oscillation(p, &t, &y));
    for i in 0..POINTS {
        assert!((value[i] - hand_value[i]).abs() <= 1e-14 * (1.0 + hand_value[i].abs()));
    }
    assert_close::<POINTS, 6>("oscillation by hand", &jac, &hand, 1e-12);
    assert_close(
        "oscillation num-dual",
        &oscillation_num_dual(p, &t, &y).1,
        &hand,
        1e-12,
    );
    let fd = differences(|p| oscillation(p, &t, &y), p);
    assert_close("oscillation differences", &fd, &hand, 1e-6);
}

#[test]
fn ba_reproj_jacobians_agree() {
    for (cam, x, w, feat) in ba_observations() {
        let (value, jac) = ba_reproj_jacobian(cam, x, w, &feat);
        let (hand_value, hand) = ba_reproj_by_hand(cam, x, w, &feat);
        assert_eq!(value, ba_reproj(cam, x, w, &feat));
        for i in 0..2 {
            let within = (value[i] - hand_value[i]).abs() <= 1e-14 * (1.0 + hand_value[i].abs());
            assert!(
                within,
                "ba value {i}: {} against {}",
                value[i], hand_value[i]
            );
        }
        assert_close::<2, BA_N>("ba by hand", &jac, &hand, 1e-13);
        let (inline_value, inline) = ba_reproj_inline_jacobian(cam, x, w, &feat);
        assert_eq!(inline_value, ba_reproj_inline(cam, x, w, &feat));
        for i in 0..2 {
            assert!((inline_value[i] - hand_value[i]).abs() <= 1e-14 * (1.0 + hand_value[i].abs()));
        }
        assert_close("ba in one body", &inline, &hand, 1e-13);
        let (dual_value, dual) = ba_reproj_num_dual(cam, x, w, &feat);
        for i in 0..2 {
            assert!((dual_value[i] - hand_value[i]).abs() <= 1e-14 * (1.0 + hand_value[i].abs()));
        }
        assert_close("ba num-dual", &dual, &hand, 1e-13);
        let fd = differences(
            |p: [f64; BA_N]| {
                let cam = std::array::from_fn(|i| p[i]);
                ba_reproj(cam, [p[11], p[12], p[13]], p[14], &feat)
            },
            ba_flatten(cam, x, w),
        );
        assert_close("ba differences", &fd, &hand, 1e-6);
    }
}
