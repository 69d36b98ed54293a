//! Random programs with branches, loops, early returns, local arrays and calls (of functions with
//! several outputs too), differentiated by `#[differentiate(reverse, hessian)]`: `f_hessian` and
//! `f_hvp` against a hyper-dual oracle (itself checked against finite differences of the
//! dual-number gradient), the Hessian's symmetry, and their value and gradient against `f` and
//! `f_grad`; and the hand-written `_hvp`s of the callees. See `tests/random/README.md`.

include!(concat!(env!("OUT_DIR"), "/second.rs"));

fn report() -> autodiff_random_tests::family::Report {
    let report = autodiff_random_tests::second::run(SECOND_CHUNKS);
    println!("seed {SECOND_SEED:#x}: {}", report.summary());
    println!("shapes (programs containing each):");
    for (shape, count) in &report.shapes {
        println!("  {shape:28} {count}");
    }
    // In a full default run (50 programs) every shape switched on occurs; the rarest (`long_sum`)
    // in one program.
    if report.programs >= 50 && std::env::var("AUTODIFF_RANDOM_ONLY").is_err() {
        report.assert_shapes(SECOND_SHAPES, 1);
    }
    report
}

const REPRODUCE: &str = "reproduce with AUTODIFF_RANDOM_SEED, AUTODIFF_RANDOM_HESSIAN_FIRST and \
                         AUTODIFF_RANDOM_HESSIAN_PROGRAMS covering the failing index; \
                         AUTODIFF_RANDOM_ONLY=h1,h2 checks only the named programs";

/// Everything but the second derivatives: the expansions compile, the oracles agree with each
/// other and with finite differences, `f_grad` is right, and `f_hvp`, `f_hvp_into` and
/// `f_hessian` return the value of `f` and the gradient of `f_grad`.
#[test]
fn programs_differentiated_twice_match_the_oracles_to_first_order() {
    let report = report();
    assert!(
        report.first_order_failures() == 0,
        "seed {SECOND_SEED:#x} ({REPRODUCE})\n{report}"
    );
}

/// The second derivatives against the hyper-dual oracle: `H·v` from `f_hvp` and `f_hvp_into`,
/// and the Hessian from `f_hessian`.
#[test]
fn programs_differentiated_twice_match_the_oracles() {
    let report = report();
    assert!(
        report.failures.is_empty(),
        "seed {SECOND_SEED:#x} ({REPRODUCE})\n{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// Reduced from programs that got wrong second derivatives from `#[differentiate(hessian)]`, each
// against a closed form or the hyper-dual oracle: a value saved on a tape whose tangent nothing
// read left the tangent tape unpopped, so the pops after it read tangents of other values.

mod tangent_tapes {
    #![allow(clippy::float_cmp)]

    use autodiff::differentiate;
    use autodiff_random_tests::hyper::Hyper;

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-10 * (1.0 + want.abs())
    }

    /// `abs` of a value carried from one iteration of a loop to the next.
    #[differentiate(reverse, hessian)]
    fn abs_in_loop(x: f64) -> f64 {
        let mut acc: f64 = 0.0;
        let mut s: f64 = 1.0;
        for _ in 0..2 {
            s += x;
            acc += s.abs().sin();
        }
        acc
    }

    #[test]
    fn abs_of_a_value_carried_through_a_loop() {
        // 1 + x and 1 + 2x are positive: f = sin(1 + x) + sin(1 + 2x).
        let x = 0.3;
        let (_, d, h) = abs_in_loop_hessian(x);
        assert!(close(d, (1.0 + x).cos() + 2.0 * (1.0 + 2.0 * x).cos()));
        let want = -(1.0 + x).sin() - 4.0 * (1.0 + 2.0 * x).sin();
        assert!(close(h[0][0], want), "f'' = {}, expected {want}", h[0][0]);
    }

    /// `hypot` of a negated value inside an `if`.
    #[differentiate(reverse, hessian)]
    fn hypot_in_branch(n: usize, x: f64) -> f64 {
        let mut acc: f64 = x;
        if n > 0 {
            let t = (-acc).hypot(x * 3.0 + 0.5);
            acc += t;
        }
        acc
    }

    #[test]
    fn hypot_of_a_negated_value_in_a_branch() {
        // f = x + √q with q = x² + (3x + 0.5)² = 10x² + 3x + 0.25.
        let x: f64 = 0.494_685_278_160_827_3;
        let q = 10.0 * x * x + 3.0 * x + 0.25;
        let dq = 20.0 * x + 3.0;
        let (_, d, h) = hypot_in_branch_hessian(1, x);
        assert!(close(d, 1.0 + dq / (2.0 * q.sqrt())));
        let want = 20.0 / (2.0 * q.sqrt()) - dq * dq / (4.0 * q.powf(1.5));
        assert!(close(h[0][0], want), "f'' = {}, expected {want}", h[0][0]);
    }

    /// `u²`, differentiated to second order.
    #[differentiate(reverse, hessian)]
    fn square(u: f64) -> f64 {
        u * u
    }

    /// `min` of a call, after an early return, with a second call in a branch.
    #[differentiate(reverse, hessian)]
    fn min_of_a_call(n: usize, x: f64, y: f64, b: f64) -> f64 {
        let mut acc: f64 = x;
        if n == 0 {
            return acc;
        }
        let t: f64 = y.min(square(b * y));
        if n > 0 {
            acc += square(b * y);
        }
        acc += t * 0.0;
        acc * acc
    }

    #[test]
    fn min_of_a_call_after_an_early_return() {
        // f = g² with g = x + b²y²: H = 2 ∇g ∇gᵀ + 2 g ∇²g over (x, y, b).
        let (x, y, b) = (0.5, 0.7, 1.1);
        let g = x + b * b * y * y;
        let grad = [1.0, 2.0 * b * b * y, 2.0 * b * y * y];
        let second = [
            [0.0, 0.0, 0.0],
            [0.0, 2.0 * b * b, 4.0 * b * y],
            [0.0, 4.0 * b * y, 2.0 * y * y],
        ];
        let (_, dx, dy, db, h) = min_of_a_call_hessian(3, x, y, b);
        for (got, want) in [dx, dy, db].iter().zip(grad) {
            assert!(close(*got, 2.0 * g * want));
        }
        for i in 0..3 {
            for j in 0..3 {
                let want = 2.0 * grad[i] * grad[j] + 2.0 * g * second[i][j];
                assert!(
                    close(h[i][j], want),
                    "H[{i}][{j}] = {}, expected {want}",
                    h[i][j]
                );
            }
        }
    }

    /// A local array overwritten in every iteration of a loop, read with a value carried from
    /// one iteration to the next.
    #[differentiate(reverse, hessian)]
    fn local_array(x: f64) -> f64 {
        let mut acc: f64 = x;
        let mut h = [0.0; 2];
        for i in 0..2 {
            h[0] = x.sin();
            h[1] = x.sin();
            let t = ((h[i] - acc.atan()) * (h[i] - acc.atan()) + 0.5).sqrt();
            acc += t.atan();
            acc += (-h[0]) * h[1].cos().exp();
        }
        acc
    }

    /// The same function over hyper-dual numbers.
    fn local_array_hyper(x: Hyper) -> Hyper {
        let c = Hyper::cst;
        let mut acc = x;
        let mut h = [c(0.0); 2];
        for i in 0..2 {
            h[0] = x.sin();
            h[1] = x.sin();
            let t = ((h[i] - acc.atan()) * (h[i] - acc.atan()) + c(0.5)).sqrt();
            acc += t.atan();
            acc += (-h[0]) * h[1].cos().exp();
        }
        acc
    }

    #[test]
    fn local_array_overwritten_in_a_loop() {
        let x = 0.3;
        let want = local_array_hyper(Hyper::seeded(x, 1.0, 1.0));
        let (_, d, h) = local_array_hessian(x);
        assert!(close(d, want.a));
        assert!(
            close(h[0][0], want.ab),
            "f'' = {}, expected {}",
            h[0][0],
            want.ab
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The hand-written callees' second derivatives (`build/families.rs`): each `_hvp` against central
// differences of its `_grad` or `_vjp` along the directions (and the seed's), its value and
// gradient against `_grad` or `_vjp`, its tangent against `_jvp` and differences of the function.

include!(concat!(env!("OUT_DIR"), "/hand.rs"));

mod hand_written {
    use super::hand::{
        hand_mix, hand_mix_grad, hand_mix_hvp, hand_norm, hand_norm_grad, hand_norm_hvp,
        hand_stats, hand_stats_hvp, hand_stats_jvp, hand_stats_vjp, hand_xy, hand_xy_hvp,
        hand_xy_jvp, hand_xy_vjp,
    };

    /// `(f(h) − f(−h)) / 2h`, entry by entry: the derivative at 0 of a function of one step.
    fn diff(f: impl Fn(f64) -> Vec<f64>) -> Vec<f64> {
        let h = 1e-5;
        let (up, down) = (f(h), f(-h));
        up.iter()
            .zip(&down)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect()
    }

    fn close(got: &[f64], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-7 * (1.0 + w.abs()),
                "{what}: {g}, differences {w} (got {got:?}, differences {want:?})"
            );
        }
    }

    /// `x + e·d`, entry by entry.
    fn moved(x: &[f64], d: &[f64], e: f64) -> Vec<f64> {
        x.iter().zip(d).map(|(a, b)| a + e * b).collect()
    }

    #[test]
    fn hand_mix_hvp_is_the_derivative_of_its_gradient() {
        for (u, v, v_u, v_v) in [
            (0.3, -1.2, 1.0, 0.5),
            (-1.7, 0.4, -0.3, 2.0),
            (0.0, 0.0, 1.0, 1.0),
        ] {
            let (value, d_u, d_v, hv_u, hv_v) = hand_mix_hvp(u, v_u, v, v_v);
            assert_eq!((value, d_u, d_v), hand_mix_grad(u, v));
            assert_eq!(value, hand_mix(u, v));
            let fd = diff(|e| {
                let (_, d_u, d_v) = hand_mix_grad(u + e * v_u, v + e * v_v);
                vec![d_u, d_v]
            });
            close(&[hv_u, hv_v], &fd, "hand_mix H·v");
        }
    }

    #[test]
    fn hand_norm_hvp_is_the_derivative_of_its_gradient() {
        let cases: [(&[f64], &[f64]); 3] = [
            (&[0.5, -1.5, 2.0], &[1.0, 0.25, -0.75]),
            (&[1.2], &[-0.4]),
            (&[], &[]),
        ];
        for (v, d_v) in cases {
            let (value, grad, hv) = hand_norm_hvp(v, d_v);
            assert_eq!((value, grad), hand_norm_grad(v));
            assert_eq!(value, hand_norm(v));
            let fd = diff(|e| hand_norm_grad(&moved(v, d_v, e)).1);
            close(&hv, &fd, "hand_norm H·v");
        }
    }

    #[test]
    fn hand_xy_hvp_is_the_derivative_of_its_vjp() {
        let cases = [
            (1.7, 0.6, 0.3, -1.1, [0.8, -0.4], [0.25, 1.5]),
            (-0.9, 2.4, 1.0, 0.5, [-1.3, 0.7], [0.0, 0.0]),
            (0.0, -1.0, -0.6, 1.2, [0.0, 0.0], [1.0, -2.0]),
        ];
        for (r, t, v_r, v_t, seed, v_seed) in cases {
            let (value, d_r, d_t, tangent, hv_r, hv_t) = hand_xy_hvp(r, v_r, t, v_t, seed, v_seed);
            assert_eq!((value, d_r, d_t), hand_xy_vjp(r, t, seed));
            assert_eq!((value, tangent), hand_xy_jvp(r, v_r, t, v_t));
            let fd = diff(|e| hand_xy(r + e * v_r, t + e * v_t).to_vec());
            close(&tangent, &fd, "hand_xy J·v");
            let fd = diff(|e| {
                let seed = [seed[0] + e * v_seed[0], seed[1] + e * v_seed[1]];
                let (_, d_r, d_t) = hand_xy_vjp(r + e * v_r, t + e * v_t, seed);
                vec![d_r, d_t]
            });
            close(&[hv_r, hv_t], &fd, "hand_xy (seedᵀ·H)·v + v_seedᵀ·J");
        }
    }

    #[test]
    fn hand_stats_hvp_is_the_derivative_of_its_vjp() {
        let cases: [(&[f64], &[f64], f64, f64); 4] = [
            (&[0.5, -1.5, 2.0], &[1.0, 0.25, -0.75], 0.7, -0.4),
            (&[1.2], &[-0.4], -1.3, 1.0),
            (&[0.0, 0.0], &[1.0, -1.0], 0.0, 0.5),
            (&[], &[], 1.1, 0.9),
        ];
        let seeds = [
            ((0.6, [-1.1, 0.3]), (0.2, [0.9, -0.5])),
            ((0.0, [0.0, 0.0]), (1.0, [0.5, 2.0])),
            ((-0.8, [0.4, 1.6]), (0.0, [0.0, 0.0])),
        ];
        for (w, v_w, s, v_s) in cases {
            for (seed, v_seed) in seeds {
                let (value, d_w, d_s, tangent, hv_w, hv_s) =
                    hand_stats_hvp(w, v_w, s, v_s, seed, v_seed);
                assert_eq!((value, d_w, d_s), hand_stats_vjp(w, s, seed));
                assert_eq!((value, tangent), hand_stats_jvp(w, v_w, s, v_s));
                let flat = |(m, [a, b]): (f64, [f64; 2])| vec![m, a, b];
                let fd = diff(|e| flat(hand_stats(&moved(w, v_w, e), s + e * v_s)));
                close(&flat(tangent), &fd, "hand_stats J·v");
                let fd = diff(|e| {
                    let seed = (
                        seed.0 + e * v_seed.0,
                        [seed.1[0] + e * v_seed.1[0], seed.1[1] + e * v_seed.1[1]],
                    );
                    let (_, mut d_w, d_s) = hand_stats_vjp(&moved(w, v_w, e), s + e * v_s, seed);
                    d_w.push(d_s);
                    d_w
                });
                let mut got = hv_w;
                got.push(hv_s);
                close(&got, &fd, "hand_stats (seedᵀ·H)·v + v_seedᵀ·J");
            }
        }
    }
}
