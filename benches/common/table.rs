//! The report tools' tables: contenders of a row timed interleaved (`clock.rs`), medians and
//! ratios printed as text or Markdown. Shared by `examples/bench_hvp.rs` and
//! `examples/bench_jacobian.rs`.

// Timing arithmetic converts call counts to floats; they stay far below 2^52.
#![allow(clippy::cast_precision_loss)]

use crate::clock::{self, Summary};

/// `--runs N`, `--run-ms MS`, `--markdown`.
pub struct Settings {
    pub runs: usize,
    pub run_ns: f64,
    pub markdown: bool,
}

impl Settings {
    /// From the command line, with 15 runs of 5 ms by default.
    ///
    /// # Panics
    ///
    /// On an unknown argument or a value that is not a positive integer.
    #[must_use]
    pub fn from_args() -> Self {
        let mut settings = Self {
            runs: 15,
            run_ns: 5e6,
            markdown: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> u32 {
                args.next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&v| v > 0)
                    .unwrap_or_else(|| panic!("{name} takes a positive integer"))
            };
            match arg.as_str() {
                "--runs" => settings.runs = value("--runs") as usize,
                "--run-ms" => settings.run_ns = f64::from(value("--run-ms")) * 1e6,
                "--markdown" => settings.markdown = true,
                other => {
                    panic!("unknown argument {other}; expected --runs N, --run-ms MS, --markdown")
                }
            }
        }
        if cfg!(debug_assertions) {
            eprintln!("warning: a debug build; run with --release for meaningful times");
        }
        println!(
            "median of {} runs of ~{} ms each, per call{}; ± is the interquartile range of the runs",
            settings.runs,
            settings.run_ns / 1e6,
            if clock::excludes_waits() {
                ", waits for a CPU excluded"
            } else {
                ""
            }
        );
        settings
    }
}

/// Times the contenders of one row: `round` hands each of them to [`Timer::measure`], in the
/// same order every time; it is called once to calibrate, then once per run.
pub struct Timer {
    run_ns: f64,
    next: usize,
    iters: Vec<u64>,
    runs: Vec<Vec<f64>>,
}

impl Timer {
    pub fn measure(&mut self, mut call: impl FnMut()) {
        let k = self.next;
        self.next += 1;
        if k < self.iters.len() {
            self.runs[k].push(clock::batch(self.iters[k], &mut call));
        } else {
            self.iters.push(clock::calibrate(self.run_ns, &mut call));
            self.runs.push(Vec::new());
        }
    }
}

pub fn time(settings: &Settings, mut round: impl FnMut(&mut Timer)) -> Vec<Summary> {
    let mut timer = Timer {
        run_ns: settings.run_ns,
        next: 0,
        iters: Vec::new(),
        runs: Vec::new(),
    };
    for _ in 0..=settings.runs {
        timer.next = 0;
        round(&mut timer);
    }
    timer
        .runs
        .iter_mut()
        .map(|r| Summary::of(r.as_mut_slice()))
        .collect()
}

pub fn format_ns(s: Summary) -> String {
    let ns = s.median;
    let time = if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    };
    format!("{time} ±{:.0}%", 100.0 * s.spread)
}

pub fn print_table(settings: &Settings, header: &[&str], rows: &[Vec<String>]) {
    if settings.markdown {
        println!("| {} |", header.join(" | "));
        println!("|---|{}", "---:|".repeat(header.len() - 1));
        for row in rows {
            println!("| {} |", row.join(" | "));
        }
        return;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            std::iter::once(header.iter().map(|h| h.chars().count()).nth(c))
                .chain(rows.iter().map(|r| Some(r[c].chars().count())))
                .flatten()
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                if c == 0 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        println!("  {}", padded.join("  "));
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// `a / b`, marked when above `target`.
pub fn against(a: Summary, b: Summary, target: f64) -> String {
    let r = a.median / b.median;
    if r <= target {
        format!("{r:.2}")
    } else {
        format!("{r:.2} ✗")
    }
}

pub fn ratio(a: Summary, b: Summary) -> String {
    format!("{:.2}", a.median / b.median)
}
