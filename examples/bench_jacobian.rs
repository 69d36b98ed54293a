//! Times the Jacobians `#[differentiate]` generates for functions with several outputs and prints
//! the ratios: `f_jacobian` against the Jacobian written by hand in the same form and against
//! `num-dual`'s `jacobian` (vector dual numbers), at (outputs, inputs) = (2, 3), (10, 10), (100, 6)
//! and (2, 15), on a robot arm, the Lorenz-96 system, the residuals of a fit and the reprojection
//! error of bundle adjustment, `ADBench`'s, against its hand-written "Manual" Jacobian
//! (`benches/common/jacobian.rs`; they agree, `tests/bench_jacobian.rs`).
//!
//! ```text
//! cargo run --release --example bench_jacobian [-- --runs 15 --run-ms 5 --markdown]
//! ```
//!
//! As in `bench_hvp`: each contender is calibrated to a batch of calls lasting about `--run-ms`,
//! the batch timed `--runs` times, interleaved with the other contenders of the same row, and the
//! median time per call reported, `±` the interquartile range of the runs as a fraction of the
//! median, time spent waiting for a CPU excluded (`benches/common/clock.rs`).

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
use common::jacobian::{
    arm, arm_by_hand, arm_jacobian, arm_num_dual, lorenz96, lorenz96_by_hand, lorenz96_jacobian,
    lorenz96_num_dual, oscillation, oscillation_by_hand, oscillation_data, oscillation_jacobian,
    oscillation_num_dual, points,
};
use common::jacobian::{
    ba_observations, ba_reproj, ba_reproj_by_hand, ba_reproj_inline, ba_reproj_inline_jacobian,
    ba_reproj_jacobian, ba_reproj_num_dual,
};
use table::{Settings, against, format_ns, print_table, ratio, time};

/// The target for `f_jacobian` against the Jacobian written by hand.
const HAND_WRITTEN_TARGET: f64 = 1.10;

/// A row from the times of the primal, `f_jacobian`, the hand-written Jacobian and num-dual's.
fn row(label: &str, t: &[Summary]) -> Vec<String> {
    vec![
        label.to_owned(),
        format_ns(t[0]),
        format_ns(t[1]),
        format_ns(t[2]),
        format_ns(t[3]),
        against(t[1], t[2], HAND_WRITTEN_TARGET),
        ratio(t[3], t[1]),
        ratio(t[1], t[0]),
    ]
}

/// Times the primal, `f_jacobian`, the Jacobian by hand and num-dual's, in that order, each
/// called on the same arguments.
macro_rules! time_row {
    (@call $f:path, ($($arg:expr),+)) => {
        black_box($f($(black_box($arg)),+))
    };
    ($settings:expr, $args:tt, $($f:path),+) => {
        time($settings, |timer| {
            $(
                timer.measure(|| {
                    time_row!(@call $f, $args);
                });
            )+
        })
    };
}

fn main() {
    let settings = Settings::from_args();
    let (q, x, p) = points();
    let (t, y) = oscillation_data();
    let mut rows = Vec::new();
    let arm_times = time_row!(&settings, (q), arm, arm_jacobian, arm_by_hand, arm_num_dual);
    rows.push(row("arm (2 × 3)", &arm_times));
    eprintln!("timed arm");
    let lorenz_times = time_row!(
        &settings,
        (x),
        lorenz96,
        lorenz96_jacobian,
        lorenz96_by_hand,
        lorenz96_num_dual
    );
    rows.push(row("lorenz96 (10 × 10)", &lorenz_times));
    eprintln!("timed lorenz96");
    let oscillation_times = time_row!(
        &settings,
        (p, &t, &y),
        oscillation,
        oscillation_jacobian,
        oscillation_by_hand,
        oscillation_num_dual
    );
    rows.push(row("oscillation (100 × 6)", &oscillation_times));
    eprintln!("timed oscillation");
    let [(cam, xb, w, feat), _] = ba_observations();
    let ba_times = time_row!(
        &settings,
        (cam, xb, w, &feat),
        ba_reproj,
        ba_reproj_jacobian,
        ba_reproj_by_hand,
        ba_reproj_num_dual
    );
    rows.push(row("ba (2 × 15)", &ba_times));
    let inline_times = time_row!(
        &settings,
        (cam, xb, w, &feat),
        ba_reproj_inline,
        ba_reproj_inline_jacobian,
        ba_reproj_by_hand,
        ba_reproj_num_dual
    );
    rows.push(row("ba, one body (2 × 15)", &inline_times));
    eprintln!("timed ba");
    println!("\nJacobians: f_jacobian against the Jacobian by hand and num-dual's jacobian\n");
    print_table(
        &settings,
        &[
            "function (M × N)",
            "primal",
            "f_jacobian",
            "by hand",
            "num-dual",
            "f_jacobian / by hand",
            "num-dual / f_jacobian",
            "f_jacobian / primal",
        ],
        &rows,
    );
}
