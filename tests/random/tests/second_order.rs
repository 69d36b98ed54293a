//! Random programs with branches, loops, early returns, local arrays and calls, differentiated by
//! `#[differentiate(reverse, hessian)]`: `f_hessian` and `f_hvp` against a hyper-dual oracle
//! (itself checked against finite differences of the dual-number gradient), the Hessian's
//! symmetry, and their value and gradient against `f` and `f_grad`. See `tests/random/README.md`.

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
