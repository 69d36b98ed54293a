//! The heap each gradient contender uses: for every benchmark function, one call of each
//! contender at the function's first point, with every allocation counted
//! (`allocation-counter`, which replaces the global allocator; that is why this is not part of
//! `bench_report`, whose times it would disturb).
//!
//! ```text
//! cargo run --release --example bench_memory [-- --markdown --only PREFIX]
//! ```
//!
//! `peak` is the most heap in use at once during the call, `allocated` the total allocated over
//! the call, `allocations` their number. A buffer the contender is handed (the gradient) is not
//! counted; local arrays live on the stack and are not counted either.

// Each target uses its own part of the shared benchmark code.
#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use common::{Contender, Problem, ProblemVisitor, Visitor};
use std::hint::black_box;

/// Measures one call of each contender.
struct Meter {
    x: Vec<f64>,
    rows: Vec<(Contender, allocation_counter::AllocationInfo)>,
}

impl Visitor for Meter {
    fn primal(&mut self, mut f: impl FnMut(&[f64]) -> f64) {
        let x = self.x.clone();
        let info = allocation_counter::measure(|| {
            black_box(f(black_box(&x)));
        });
        self.rows.push((Contender::Primal, info));
    }

    fn gradient(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        let x = self.x.clone();
        let mut grad = vec![0.0; x.len()];
        let info = allocation_counter::measure(|| {
            black_box(f(black_box(&x), black_box(&mut grad)));
        });
        self.rows.push((who, info));
    }

    fn accumulating(&mut self, who: Contender, f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        self.gradient(who, f);
    }
}

struct MeasureAll {
    only: Vec<String>,
    markdown: bool,
}

/// Bytes with a binary unit.
fn format_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // Display only.
    let b = bytes as f64;
    if bytes < 1 << 10 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

impl ProblemVisitor for MeasureAll {
    fn problem<P: Problem>(&mut self, p: &P) {
        let label = common::label(p);
        if !self.only.is_empty() && !self.only.iter().any(|o| label.starts_with(o.as_str())) {
            return;
        }
        let mut meter = Meter {
            x: p.points().swap_remove(0),
            rows: Vec::new(),
        };
        common::contenders(p, &mut meter);
        let peak = |who: Contender| {
            meter
                .rows
                .iter()
                .find(|(c, _)| *c == who)
                .map(|(_, i)| i.bytes_max)
        };
        let ratio = match (peak(Contender::Generated), peak(Contender::HandWritten)) {
            #[allow(clippy::cast_precision_loss)] // Display only.
            (Some(g), Some(h)) if h > 0 => format!("{:.2}", g as f64 / h as f64),
            (Some(0), Some(0)) => "both 0".to_owned(),
            _ => "—".to_owned(),
        };
        if self.markdown {
            println!(
                "\n### {label} ({} inputs): generated / hand_written peak {ratio}\n",
                p.dim()
            );
            println!("| contender | peak | allocated | allocations |");
            println!("|---|---:|---:|---:|");
        } else {
            println!(
                "\n{label} ({} inputs): generated / hand_written peak {ratio}",
                p.dim()
            );
        }
        for (who, info) in &meter.rows {
            let cells = [
                who.name().to_owned(),
                format_bytes(info.bytes_max),
                format_bytes(info.bytes_total),
                info.count_total.to_string(),
            ];
            if self.markdown {
                println!("| {} |", cells.join(" | "));
            } else {
                println!(
                    "  {:<13} {:>11} {:>11} {:>11}",
                    cells[0], cells[1], cells[2], cells[3]
                );
            }
        }
    }
}

fn main() {
    let mut all = MeasureAll {
        only: Vec::new(),
        markdown: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--markdown" => all.markdown = true,
            "--only" => all.only.push(
                args.next()
                    .unwrap_or_else(|| panic!("--only takes a label prefix")),
            ),
            other => panic!("unknown argument {other}; expected --markdown, --only PREFIX"),
        }
    }
    if !all.markdown {
        println!("heap per call: peak in use, total allocated, number of allocations");
    }
    common::problems(&mut all);
    common::adbench(&mut all);
}
