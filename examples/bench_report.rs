//! Times every gradient contender of every benchmark function and prints the ratios between them:
//! per function, each contender's median time and its ratio to the primal, to the hand-written
//! adjoint and to the `#[differentiate]` gradient; then Rosenbrock's scaling over n.
//!
//! ```text
//! cargo run --release --example bench_report [-- --runs 9 --run-ms 10]
//! ```
//!
//! Each contender is first calibrated to a batch of calls lasting about `--run-ms`; the batch is
//! then timed `--runs` times, interleaved with the other contenders of the same function, and the
//! median time per call reported. `cargo bench --bench
//! gradients` measures the same closures with criterion.

// Timing arithmetic converts call counts and nanoseconds between integers and floats; the
// counts stay far below 2^52, where the conversions are exact.
#![allow(clippy::cast_precision_loss)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{Contender, Problem, ProblemVisitor, Visitor};

/// How long to time each contender.
#[derive(Clone, Copy)]
struct Settings {
    runs: usize,
    run_time: Duration,
}

/// Runs `call` `iters` times; the nanoseconds per call.
fn batch(iters: u64, call: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        call();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// Times the contenders of one problem at its first point. It is handed the contenders once to
/// calibrate, then once per run, so that the runs of different contenders interleave and a slow
/// drift of the machine does not favour one of them.
struct Timer {
    run_time: Duration,
    x: Vec<f64>,
    grad: Vec<f64>,
    /// Per contender: the calls per batch, and the nanoseconds per call of each run.
    samples: Vec<(Contender, u64, Vec<f64>)>,
}

impl Timer {
    fn measure(&mut self, who: Contender, mut call: impl FnMut()) {
        if let Some((_, iters, runs)) = self.samples.iter_mut().find(|(c, ..)| *c == who) {
            runs.push(batch(*iters, &mut call));
            return;
        }
        // Warm up and calibrate: double the batch until it lasts the run time.
        let mut iters: u64 = 1;
        while iters < 1 << 40 {
            let start = Instant::now();
            for _ in 0..iters {
                call();
            }
            if start.elapsed() >= self.run_time {
                break;
            }
            iters *= 2;
        }
        self.samples.push((who, iters, Vec::new()));
    }

    /// The median nanoseconds per call of each contender.
    fn medians(self) -> Vec<(Contender, f64)> {
        self.samples
            .into_iter()
            .map(|(who, _, mut runs)| {
                runs.sort_by(f64::total_cmp);
                (who, runs[runs.len() / 2])
            })
            .collect()
    }
}

impl Visitor for Timer {
    fn primal(&mut self, mut f: impl FnMut(&[f64]) -> f64) {
        let x = self.x.clone();
        self.measure(Contender::Primal, || {
            black_box(f(black_box(x.as_slice())));
        });
    }

    fn gradient(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        let x = self.x.clone();
        let mut grad = std::mem::take(&mut self.grad);
        self.measure(who, || {
            black_box(f(black_box(x.as_slice()), black_box(grad.as_mut_slice())));
            black_box(&grad);
        });
        self.grad = grad;
    }
}

/// One problem's median times.
struct Row {
    label: String,
    family: &'static str,
    size: Option<usize>,
    dim: usize,
    times: Vec<(Contender, f64)>,
}

impl Row {
    fn get(&self, who: Contender) -> Option<f64> {
        self.times
            .iter()
            .find(|(c, _)| *c == who)
            .map(|&(_, ns)| ns)
    }
}

struct TimeAll {
    settings: Settings,
    rows: Vec<Row>,
}

impl ProblemVisitor for TimeAll {
    fn problem<P: Problem>(&mut self, p: &P) {
        let x = p.points().swap_remove(0);
        let mut timer = Timer {
            run_time: self.settings.run_time,
            grad: vec![0.0; x.len()],
            x,
            samples: Vec::new(),
        };
        // One pass to calibrate, then the timed runs.
        for _ in 0..=self.settings.runs {
            common::contenders(p, &mut timer);
        }
        let row = Row {
            label: common::label(p),
            family: p.family(),
            size: p.size(),
            dim: p.dim(),
            times: timer.medians(),
        };
        print_row(&row);
        self.rows.push(row);
    }
}

/// Whether `who` is one of the implementations compared against.
fn is_peer(who: Contender) -> bool {
    matches!(
        who,
        Contender::NumDual | Contender::Echidna | Contender::Reverse | Contender::FiniteDiff
    )
}

/// A duration in nanoseconds, with a unit that keeps three or four significant digits.
fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.2} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn format_ratio(num: f64, den: Option<f64>) -> String {
    den.map_or_else(|| "—".to_owned(), |d| format!("{:.2}", num / d))
}

fn print_row(row: &Row) {
    println!("\n{} ({} inputs)", row.label, row.dim);
    println!(
        "  {:<14} {:>12} {:>10} {:>14} {:>12}",
        "contender", "median", "/ primal", "/ hand_written", "/ generated"
    );
    let primal = row.get(Contender::Primal);
    let hand = row.get(Contender::HandWritten);
    let generated = row.get(Contender::Generated);
    for &(who, ns) in &row.times {
        println!(
            "  {:<14} {:>12} {:>10} {:>14} {:>12}",
            who.name(),
            format_ns(ns),
            format_ratio(ns, primal),
            format_ratio(ns, hand),
            format_ratio(ns, generated),
        );
    }
    match generated {
        Some(g) => {
            let peers = row
                .times
                .iter()
                .filter(|(c, _)| is_peer(*c))
                .map(|&(c, ns)| format!("{} {:.1}", c.name(), ns / g))
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "  generated / hand_written = {}, generated / primal = {}; peer / generated: {peers}",
                format_ratio(g, hand),
                format_ratio(g, primal),
            );
        }
        None => println!("  no generated contender"),
    }
}

fn print_scaling(rows: &[Row], family: &str) {
    let rows: Vec<&Row> = rows.iter().filter(|r| r.family == family).collect();
    if rows.is_empty() {
        return;
    }
    let table = |title: &str, cell: &dyn Fn(&Row, Contender) -> Option<String>| {
        println!("\n{family}: {title}, over n");
        print!("  {:<14}", "n =");
        for row in &rows {
            print!("{:>12}", row.size.unwrap_or(row.dim));
        }
        println!();
        for who in Contender::ALL {
            let cells: Vec<Option<String>> = rows.iter().map(|r| cell(r, who)).collect();
            if cells.iter().all(Option::is_none) {
                continue;
            }
            print!("  {:<14}", who.name());
            for c in cells {
                print!("{:>12}", c.unwrap_or_else(|| "—".to_owned()));
            }
            println!();
        }
    };
    table("median per call", &|r, who| r.get(who).map(format_ns));
    table("median per input (÷ n)", &|r, who| {
        r.get(who).map(|ns| format_ns(ns / r.dim as f64))
    });
    table("ratio to hand_written", &|r, who| {
        let ns = r.get(who)?;
        (who != Contender::HandWritten).then(|| format_ratio(ns, r.get(Contender::HandWritten)))
    });
}

fn parse_args() -> Settings {
    let mut settings = Settings {
        runs: 9,
        run_time: Duration::from_millis(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a positive integer"))
        };
        match arg.as_str() {
            "--runs" => settings.runs = usize::try_from(value("--runs")).unwrap_or(9).max(1),
            "--run-ms" => settings.run_time = Duration::from_millis(value("--run-ms").max(1)),
            other => panic!("unknown argument {other}; expected --runs N, --run-ms MS"),
        }
    }
    settings
}

fn main() {
    let settings = parse_args();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful times");
    }
    println!(
        "median of {} runs of ~{} ms each, per call; ratios are of median times",
        settings.runs,
        settings.run_time.as_millis()
    );
    let mut all = TimeAll {
        settings,
        rows: Vec::new(),
    };
    common::problems(&mut all);
    print_scaling(&all.rows, "rosenbrock");
}
