//! What each mode costs for a gradient: a function of n inputs and one output, its full gradient
//! computed by forward mode (`f_jvp` once per unit direction, n calls) and by reverse mode (one
//! call of `f_grad_into`), timed for n = 1, 10, 100, 1000.
//!
//! ```text
//! cargo run --release --example modes [-- --runs 15 --run-ms 10]
//! ```
//!
//! Forward mode carries one tangent through the function, so a gradient takes one pass per
//! input: n passes, each about as costly as the function. Reverse mode carries one adjoint back
//! from the output, so a gradient takes one forward and one backward sweep whatever n is. The
//! ratio of the two therefore grows like n. Before timing, the example checks that both modes
//! give the same gradient, entry by entry, to a relative `1e-12`.
//!
//! Each contender is calibrated to a batch of calls lasting about `--run-ms`; the batches of one
//! size are then timed `--runs` times, interleaved, and the median time per call reported. Time
//! the thread spends waiting for a CPU is not counted (see `benches/common/clock.rs`).

#![allow(
    // The macro differentiates `for` over integer ranges; iterating a slice directly is not
    // among the constructs it supports, so the loops index.
    clippy::needless_range_loop,
    // Timing arithmetic converts call counts and nanoseconds to floats; the counts stay far
    // below 2^52, where the conversions are exact.
    clippy::cast_precision_loss
)]

// Shared with the benchmark report, which also reads the spread of each sample.
#[allow(dead_code)]
#[path = "../benches/common/clock.rs"]
mod clock;

use std::hint::black_box;
use std::time::Duration;

use autodiff::differentiate;

/// `ln Σ exp(xᵢ)`, computed stably about the largest entry (softmax's normaliser): two loops,
/// the first a running maximum whose values the backward sweep reads back.
#[differentiate(reverse, forward)]
fn log_sum_exp(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        m = m.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] - m).exp();
    }
    m + s.ln()
}

/// The n-dimensional Rosenbrock function, `Σ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`.
#[differentiate(reverse, forward)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        sum += 100.0 * (t * t) + u * u;
    }
    sum
}

/// One function in its three generated forms.
struct Function {
    name: &'static str,
    /// The sizes it is timed at; Rosenbrock needs two inputs for a term.
    sizes: [usize; 4],
    primal: fn(&[f64]) -> f64,
    jvp: fn(&[f64], &[f64]) -> (f64, f64),
    grad_into: fn(&[f64], &mut [f64]) -> (f64,),
}

/// The gradient by forward mode: `jvp` along each unit direction, `dir` all zeros on entry and
/// on return.
fn forward_gradient(f: &Function, x: &[f64], dir: &mut [f64], grad: &mut [f64]) -> f64 {
    let mut value = 0.0;
    for i in 0..x.len() {
        dir[i] = 1.0;
        let (v, t) = (f.jvp)(x, dir);
        dir[i] = 0.0;
        grad[i] = t;
        value = v;
    }
    value
}

/// The gradient by reverse mode: one call, into a cleared buffer (`_grad_into` adds).
fn reverse_gradient(f: &Function, x: &[f64], grad: &mut [f64]) -> f64 {
    grad.fill(0.0);
    (f.grad_into)(x, grad).0
}

/// `n` deterministic pseudo-random numbers in `[-1.5, 1.5)` (`SplitMix64`).
fn point(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let unit = (z >> 11) as f64 / (1_u64 << 53) as f64;
            3.0 * unit - 1.5
        })
        .collect()
}

/// Panics unless the two modes agree on the value and every gradient entry to a relative `1e-12`.
fn check(f: &Function, x: &[f64]) {
    let n = x.len();
    let (mut dir, mut forward, mut reverse) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let vf = forward_gradient(f, x, &mut dir, &mut forward);
    let vr = reverse_gradient(f, x, &mut reverse);
    let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    let value = (f.primal)(x);
    assert!(
        n == 0 || (close(vf, value) && close(vr, value)),
        "{} n={n}: values {vf:e} (forward), {vr:e} (reverse), {value:e} (primal)",
        f.name
    );
    for (i, (&a, &b)) in forward.iter().zip(&reverse).enumerate() {
        assert!(
            close(a, b),
            "{} n={n}: ∂/∂x{i} is {a:e} by forward mode, {b:e} by reverse mode",
            f.name
        );
    }
}

/// The median nanoseconds per call of each of `calls`, timed in `runs` interleaved rounds.
fn time(runs: usize, run_time: Duration, calls: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let run_ns = run_time.as_secs_f64() * 1e9;
    let iters: Vec<u64> = calls
        .iter_mut()
        .map(|c| clock::calibrate(run_ns, c))
        .collect();
    let mut samples = vec![Vec::with_capacity(runs); calls.len()];
    for _ in 0..runs {
        for ((call, &n), s) in calls.iter_mut().zip(&iters).zip(&mut samples) {
            s.push(clock::batch(n, call));
        }
    }
    samples
        .iter_mut()
        .map(|s| clock::Summary::of(s).median)
        .collect()
}

/// A duration in nanoseconds, with a unit that keeps three or four significant digits.
fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn parse_args() -> (usize, Duration, bool) {
    let (mut runs, mut run_ms, mut markdown) = (15, 10, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .unwrap_or_else(|| panic!("{name} takes a positive integer"))
        };
        match arg.as_str() {
            "--runs" => runs = usize::try_from(value("--runs")).unwrap_or(15),
            "--run-ms" => run_ms = value("--run-ms"),
            "--markdown" => markdown = true,
            other => panic!("unknown argument {other}; expected --runs N, --run-ms MS, --markdown"),
        }
    }
    (runs, Duration::from_millis(run_ms), markdown)
}

fn main() {
    let (runs, run_time, markdown) = parse_args();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful times");
    }
    let functions = [
        Function {
            name: "log_sum_exp",
            sizes: [1, 10, 100, 1000],
            primal: log_sum_exp,
            jvp: log_sum_exp_jvp,
            grad_into: log_sum_exp_grad_into,
        },
        Function {
            name: "rosenbrock",
            sizes: [2, 10, 100, 1000],
            primal: rosenbrock,
            jvp: rosenbrock_jvp,
            grad_into: rosenbrock_grad_into,
        },
    ];
    println!(
        "median of {runs} runs of ~{} ms each, per gradient{}; forward = n calls of f_jvp, \
         reverse = 1 call of f_grad_into",
        run_time.as_millis(),
        if clock::excludes_waits() {
            ", waits for a CPU excluded"
        } else {
            ""
        }
    );
    for f in &functions {
        for (seed, &n) in f.sizes.iter().enumerate() {
            for k in 0..3 {
                check(f, &point(100 * seed as u64 + k, n));
            }
        }
        println!(
            "\n{}: forward and reverse gradients agree to 1e-12 relative",
            f.name
        );
        let header = [
            "n",
            "primal",
            "one f_jvp",
            "forward (n × f_jvp)",
            "reverse (f_grad_into)",
            "forward / reverse",
        ];
        if markdown {
            println!("\n| {} |", header.join(" | "));
            println!("|{}", "---:|".repeat(header.len()));
        } else {
            println!(
                "  {:>5} {:>11} {:>11} {:>20} {:>22} {:>18}",
                header[0], header[1], header[2], header[3], header[4], header[5]
            );
        }
        for (seed, &n) in f.sizes.iter().enumerate() {
            let x = point(100 * seed as u64, n);
            let (mut dir, mut forward_grad, mut reverse_grad) =
                (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let mut unit = vec![0.0; n];
            unit[n / 2] = 1.0;
            let [primal, jvp, forward, reverse] = time(
                runs,
                run_time,
                &mut [
                    &mut || {
                        black_box((f.primal)(black_box(&x)));
                    },
                    &mut || {
                        black_box((f.jvp)(black_box(&x), black_box(&unit)));
                    },
                    &mut || {
                        let v = forward_gradient(f, black_box(&x), &mut dir, &mut forward_grad);
                        black_box((v, &forward_grad));
                    },
                    &mut || {
                        let v = reverse_gradient(f, black_box(&x), &mut reverse_grad);
                        black_box((v, &reverse_grad));
                    },
                ],
            )[..] else {
                unreachable!("four contenders")
            };
            let cells = [
                n.to_string(),
                format_ns(primal),
                format_ns(jvp),
                format_ns(forward),
                format_ns(reverse),
                format!("{:.1}", forward / reverse),
            ];
            if markdown {
                println!("| {} |", cells.join(" | "));
            } else {
                println!(
                    "  {:>5} {:>11} {:>11} {:>20} {:>22} {:>18}",
                    cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
                );
            }
        }
    }
}
