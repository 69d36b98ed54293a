//! Times the second derivatives `#[differentiate(hessian)]` generates and prints the ratios:
//! `f_hvp` against a Hessian-vector product written by hand and against `f_grad`, and `f_hessian`
//! against `num-dual`'s hyper-dual numbers and `echidna`'s bytecode-tape Hessian, on the neuron and
//! on Rosenbrock's function as users write it (`benches/common/`, contenders in
//! `benches/common/second.rs`).
//!
//! ```text
//! cargo run --release --example bench_hvp [-- --runs 15 --run-ms 5 --markdown]
//! ```
//!
//! As in `bench_report`: each contender is calibrated to a batch of calls lasting about
//! `--run-ms`, the batch timed `--runs` times, interleaved with the other contenders of the same
//! row, and the median time per call reported, `±` the interquartile range of the runs as a
//! fraction of the median, time spent waiting for a CPU excluded (`benches/common/clock.rs`).
//! Functions of a slice add into buffers zeroed once, as `f_grad_into` and `f_hvp_into` do.

// Timing arithmetic converts call counts to floats; they stay far below 2^52.
#![allow(clippy::cast_precision_loss)]

#[path = "../benches/common/clock.rs"]
mod clock;
#[path = "../benches/common/table.rs"]
mod table;
// Each target uses its own part of the shared benchmark code.
#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;

use clock::Summary;
use common::neuron::{Neuron, neuron_grad, neuron_hessian, neuron_hvp};
use common::rosenbrock::{
    Rosenbrock, rosenbrock_grad_into, rosenbrock_hessian, rosenbrock_hvp_into,
};
use common::second::{
    SIZES, direction, echidna_hessian, neuron_hvp_by_hand, num_dual_hessian, rosenbrock_hvp_by_hand,
};
use common::{Problem, Rng};
use table::{Settings, against, format_ns, print_table, ratio, time};

/// The target for `f_hvp` against the hand-written product.
const HAND_WRITTEN_TARGET: f64 = 1.10;

/// One row of the `H·v` table from the times of `f_grad`, `f_hvp` and the hand-written `H·v`.
fn hvp_row(label: String, t: &[Summary]) -> Vec<String> {
    vec![
        label,
        format_ns(t[0]),
        format_ns(t[1]),
        format_ns(t[2]),
        against(t[1], t[2], HAND_WRITTEN_TARGET),
        ratio(t[1], t[0]),
    ]
}

fn hvp_table(settings: &Settings) {
    let mut rows = Vec::new();
    // The neuron: four scalars.
    let p = Neuron.points().swap_remove(0);
    let (x, w, b, t) = (p[0], p[1], p[2], p[3]);
    let v = direction(4);
    let times = time(settings, |timer| {
        timer.measure(|| {
            black_box(neuron_grad(
                black_box(x),
                black_box(w),
                black_box(b),
                black_box(t),
            ));
        });
        timer.measure(|| {
            black_box(neuron_hvp(
                black_box(x),
                black_box(v[0]),
                black_box(w),
                black_box(v[1]),
                black_box(b),
                black_box(v[2]),
                black_box(t),
                black_box(v[3]),
            ));
        });
        timer.measure(|| {
            black_box(neuron_hvp_by_hand(
                black_box(x),
                black_box(v[0]),
                black_box(w),
                black_box(v[1]),
                black_box(b),
                black_box(v[2]),
                black_box(t),
                black_box(v[3]),
            ));
        });
    });
    rows.push(hvp_row("neuron (4)".to_owned(), &times));
    eprintln!("timed neuron");
    // Rosenbrock over a slice; the buffers are zeroed once.
    for n in [2, 10, 100, 1000] {
        let x = Rosenbrock::new(n).points().swap_remove(0);
        let v = direction(n);
        let mut g = vec![0.0; n];
        let (mut g2, mut hv2) = (vec![0.0; n], vec![0.0; n]);
        let (mut g3, mut hv3) = (vec![0.0; n], vec![0.0; n]);
        let times = time(settings, |timer| {
            timer.measure(|| {
                black_box(rosenbrock_grad_into(black_box(&x), black_box(&mut g)));
            });
            timer.measure(|| {
                black_box(rosenbrock_hvp_into(
                    black_box(&x),
                    black_box(&v),
                    black_box(&mut g2),
                    black_box(&mut hv2),
                ));
            });
            timer.measure(|| {
                black_box(rosenbrock_hvp_by_hand(
                    black_box(&x),
                    black_box(&v),
                    black_box(&mut g3),
                    black_box(&mut hv3),
                ));
            });
        });
        rows.push(hvp_row(format!("rosenbrock/{n}"), &times));
        eprintln!("timed rosenbrock/{n}");
    }
    print_table(
        settings,
        &[
            "function (inputs)",
            "f_grad",
            "f_hvp",
            "H·v by hand",
            "f_hvp / by hand (≤ 1.10)",
            "f_hvp / f_grad",
        ],
        &rows,
    );
}

fn hessian_row(label: String, n: usize, t: &[Summary]) -> Vec<String> {
    vec![
        label,
        format_ns(t[0]),
        format_ns(t[1]),
        format_ns(t[2]),
        ratio(t[1], t[0]),
        ratio(t[2], t[0]),
        format!("{:.2}", t[0].median / (n as f64 * t[3].median)),
    ]
}

fn hessian_table(settings: &Settings) {
    let mut rows = Vec::new();
    let p = Neuron.points().swap_remove(0);
    let (x, w, b, t) = (p[0], p[1], p[2], p[3]);
    let v = direction(4);
    let times = time(settings, |timer| {
        timer.measure(|| {
            black_box(neuron_hessian(
                black_box(x),
                black_box(w),
                black_box(b),
                black_box(t),
            ));
        });
        timer.measure(|| {
            black_box(num_dual_hessian(&Neuron, black_box(&p)));
        });
        timer.measure(|| {
            black_box(echidna_hessian(&Neuron, black_box(&p)));
        });
        timer.measure(|| {
            black_box(neuron_hvp(
                black_box(x),
                black_box(v[0]),
                black_box(w),
                black_box(v[1]),
                black_box(b),
                black_box(v[2]),
                black_box(t),
                black_box(v[3]),
            ));
        });
    });
    rows.push(hessian_row("neuron (4)".to_owned(), 4, &times));
    eprintln!("timed neuron's Hessian");
    for n in SIZES {
        let problem = Rosenbrock::new(n);
        let x = problem.points().swap_remove(0);
        let v = Rng::new(3).vec(n, -1.0, 1.0);
        let (mut g, mut hv) = (vec![0.0; n], vec![0.0; n]);
        let times = time(settings, |timer| {
            timer.measure(|| {
                black_box(rosenbrock_hessian(black_box(&x)));
            });
            timer.measure(|| {
                black_box(num_dual_hessian(&problem, black_box(&x)));
            });
            timer.measure(|| {
                black_box(echidna_hessian(&problem, black_box(&x)));
            });
            timer.measure(|| {
                black_box(rosenbrock_hvp_into(
                    black_box(&x),
                    black_box(&v),
                    black_box(&mut g),
                    black_box(&mut hv),
                ));
            });
        });
        rows.push(hessian_row(format!("rosenbrock/{n}"), n, &times));
        eprintln!("timed rosenbrock/{n}'s Hessian");
    }
    print_table(
        settings,
        &[
            "function (inputs)",
            "f_hessian",
            "num-dual (hyper-dual)",
            "echidna::hessian",
            "num-dual / f_hessian",
            "echidna / f_hessian",
            "f_hessian / (N · f_hvp)",
        ],
        &rows,
    );
}

fn main() {
    let settings = Settings::from_args();
    println!("\nHessian-vector products: f_hvp against H·v by hand and against f_grad\n");
    hvp_table(&settings);
    println!(
        "\nHessians: f_hessian against num-dual and echidna; the last column is f_hessian over N products\n"
    );
    hessian_table(&settings);
}
