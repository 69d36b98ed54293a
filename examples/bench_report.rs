//! Times every gradient contender of every benchmark function and prints the ratios between them:
//! per function, each contender's median time and its ratio to the primal, to the hand-written
//! adjoint and to the `#[differentiate]` gradient; a summary of those ratios against the targets;
//! then Rosenbrock's scaling over n, which it also plots, log-log, as an SVG; then each
//! iterator form's gradient against its index-loop twin's (`benches/common/idioms.rs`; only
//! those with `--idioms`).
//!
//! ```text
//! cargo run --release --example bench_report [-- --runs 15 --run-ms 5 --markdown --svg PATH --only PREFIX --idioms]
//! ```
//!
//! Each contender is first calibrated to a batch of calls lasting about `--run-ms`; the batch is
//! then timed `--runs` times, interleaved with the other contenders of the same function, and the
//! median time per call reported, with the interquartile range of the runs as a fraction of the
//! median (`±`). Time the thread spends waiting for a CPU is not counted (see
//! `benches/common/clock.rs`). `--markdown` prints the tables as Markdown; the plot goes to
//! `benches/rosenbrock_scaling.svg` unless `--svg` names another file. `--only gmm` (repeatable)
//! times only the functions whose label starts with `gmm`. `cargo bench --bench
//! gradients` measures the same closures with criterion.

// Timing arithmetic converts call counts and nanoseconds between integers and floats; the
// counts stay far below 2^52, where the conversions are exact.
#![allow(clippy::cast_precision_loss)]

#[path = "../benches/common/clock.rs"]
mod clock;
// Each target uses its own part of the shared benchmark code.
#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use clock::Summary;
use common::{Contender, Problem, ProblemVisitor, Visitor};

/// How long to time each contender, and how to report.
struct Settings {
    /// Only the problems whose label starts with one of these, if any are given.
    only: Vec<String>,
    runs: usize,
    run_time: Duration,
    markdown: bool,
    svg: PathBuf,
    /// Only the iterator forms against their index loops.
    idioms_only: bool,
}

/// Times the contenders of one problem at its first point. It is handed the contenders once to
/// calibrate, then once per run, so that the runs of different contenders interleave and a slow
/// drift of the machine does not favour one of them.
struct Timer {
    run_ns: f64,
    x: Vec<f64>,
    grad: Vec<f64>,
    /// Per contender: the calls per batch, and the nanoseconds per call of each run.
    samples: Vec<(Contender, u64, Vec<f64>)>,
}

impl Timer {
    fn measure(&mut self, who: Contender, mut call: impl FnMut()) {
        if let Some((_, iters, runs)) = self.samples.iter_mut().find(|(c, ..)| *c == who) {
            runs.push(clock::batch(*iters, &mut call));
        } else {
            let iters = clock::calibrate(self.run_ns, &mut call);
            self.samples.push((who, iters, Vec::new()));
        }
    }

    /// The median and spread of each contender's time per call.
    fn summaries(self) -> Vec<(Contender, Summary)> {
        self.samples
            .into_iter()
            .map(|(who, _, mut runs)| (who, Summary::of(&mut runs)))
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

    fn accumulating(&mut self, who: Contender, f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        // The gradients add up in the buffer, zeroed once, as over a batch.
        self.grad.fill(0.0);
        self.gradient(who, f);
    }
}

/// One problem's times.
struct Row {
    label: String,
    family: &'static str,
    size: Option<usize>,
    dim: usize,
    times: Vec<(Contender, Summary)>,
}

impl Row {
    /// The median nanoseconds per call of `who`.
    fn get(&self, who: Contender) -> Option<f64> {
        self.times
            .iter()
            .find(|(c, _)| *c == who)
            .map(|(_, s)| s.median)
    }

    /// The generated gradient's time over the primal's: at most 4 for a function with loops,
    /// whose backward sweep reads values back or recomputes them, 3 for straight-line code.
    fn primal_target(&self) -> f64 {
        // The benchmark functions with loops; the others are straight-line.
        if matches!(
            self.family,
            "rosenbrock"
                | "rosenbrock_1n"
                | "mlp"
                | "gmm"
                | "gmm_points_last"
                | "gmm_adbench"
                | "lstm"
                | "lstm_adbench"
        ) {
            4.0
        } else {
            3.0
        }
    }
}

/// The generated gradient's time over the hand-written adjoint's, at most.
const HAND_WRITTEN_TARGET: f64 = 1.10;

struct TimeAll<'s> {
    settings: &'s Settings,
    rows: Vec<Row>,
}

impl ProblemVisitor for TimeAll<'_> {
    fn problem<P: Problem>(&mut self, p: &P) {
        let label = common::label(p);
        if !self.settings.only.is_empty()
            && !self
                .settings
                .only
                .iter()
                .any(|o| label.starts_with(o.as_str()))
        {
            return;
        }
        let x = p.points().swap_remove(0);
        let mut timer = Timer {
            run_ns: self.settings.run_time.as_secs_f64() * 1e9,
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
            times: timer.summaries(),
        };
        eprintln!("timed {}", row.label);
        self.rows.push(row);
    }
}

/// The implementations compared against, in report order.
const PEERS: [Contender; 4] = [
    Contender::NumDual,
    Contender::Echidna,
    Contender::Reverse,
    Contender::FiniteDiff,
];

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

/// `num / den` to two decimals, a dash without a denominator.
fn format_ratio(num: f64, den: Option<f64>) -> String {
    den.map_or_else(|| "—".to_owned(), |d| format!("{:.2}", num / d))
}

/// `ratio` to two decimals, marked when it exceeds `target`.
fn against(ratio: f64, target: f64) -> String {
    if ratio <= target {
        format!("{ratio:.2}")
    } else {
        format!("{ratio:.2} ✗")
    }
}

/// A table printed either as aligned text or as Markdown; the first column is left-aligned.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|&h| h.to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    fn print(&self, markdown: bool) {
        let columns = self.header.len();
        if markdown {
            println!("| {} |", self.header.join(" | "));
            println!("|---|{}", "---:|".repeat(columns - 1));
            for row in &self.rows {
                println!("| {} |", row.join(" | "));
            }
            return;
        }
        let width = |c: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::from(" ");
            for (c, cell) in row.iter().enumerate() {
                let pad = widths[c] - cell.chars().count();
                if c == 0 {
                    let _ = write!(line, " {cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(line, "  {}{cell}", " ".repeat(pad));
                }
            }
            println!("{line}");
        }
    }
}

/// Prints a heading: `###` in Markdown, underlined text otherwise.
fn heading(title: &str, markdown: bool) {
    if markdown {
        println!("\n### {title}\n");
    } else {
        println!("\n{title}\n{}", "-".repeat(title.chars().count()));
    }
}

fn print_row(row: &Row, markdown: bool) {
    heading(&format!("{} ({} inputs)", row.label, row.dim), markdown);
    let mut table = Table::new(&[
        "contender",
        "median",
        "±",
        "/ primal",
        "/ hand_written",
        "/ generated",
    ]);
    let primal = row.get(Contender::Primal);
    let hand = row.get(Contender::HandWritten);
    let generated = row.get(Contender::Generated);
    for (who, s) in &row.times {
        table.push(vec![
            who.name().to_owned(),
            format_ns(s.median),
            format!("{:.0}%", 100.0 * s.spread),
            format_ratio(s.median, primal),
            format_ratio(s.median, hand),
            format_ratio(s.median, generated),
        ]);
    }
    table.print(markdown);
}

/// One line per function: the generated gradient against the hand-written adjoint and the
/// primal, with their targets, and each peer against the generated gradient.
fn print_summary(rows: &[Row], markdown: bool) {
    heading(
        "Summary: generated against its targets, peers against generated",
        markdown,
    );
    let mut table = Table::new(&[
        "function",
        "inputs",
        "generated / hand_written (≤ 1.10)",
        "generated / primal (≤ 3, loops ≤ 4)",
        "num_dual / generated",
        "echidna / generated",
        "reverse / generated",
        "finite_diff / generated",
    ]);
    for row in rows {
        let Some(g) = row.get(Contender::Generated) else {
            continue;
        };
        let mut cells = vec![
            row.label.clone(),
            row.dim.to_string(),
            row.get(Contender::HandWritten)
                .map_or_else(|| "—".to_owned(), |h| against(g / h, HAND_WRITTEN_TARGET)),
            row.get(Contender::Primal).map_or_else(
                || "—".to_owned(),
                |p| {
                    let target = row.primal_target();
                    format!("{} (≤ {target})", against(g / p, target))
                },
            ),
        ];
        cells.extend(PEERS.iter().map(|&who| {
            row.get(who)
                .map_or_else(|| "—".to_owned(), |ns| format!("{:.1}", ns / g))
        }));
        table.push(cells);
    }
    table.print(markdown);
    if !markdown {
        println!("  ✗: the target is missed");
    }
}

fn print_scaling(rows: &[&Row], family: &str, markdown: bool) {
    let table = |title: &str, cell: &dyn Fn(&Row, Contender) -> Option<String>| {
        heading(&format!("{family}: {title}, over n"), markdown);
        let mut header = vec!["n".to_owned()];
        header.extend(rows.iter().map(|r| r.size.unwrap_or(r.dim).to_string()));
        let mut t = Table {
            header,
            rows: Vec::new(),
        };
        for who in Contender::ALL {
            let cells: Vec<Option<String>> = rows.iter().map(|r| cell(r, who)).collect();
            if cells.iter().all(Option::is_none) {
                continue;
            }
            let mut line = vec![who.name().to_owned()];
            line.extend(
                cells
                    .into_iter()
                    .map(|c| c.unwrap_or_else(|| "—".to_owned())),
            );
            t.push(line);
        }
        t.print(markdown);
    };
    table("median per call", &|r, who| r.get(who).map(format_ns));
    table("median per input (÷ n)", &|r, who| {
        r.get(who).map(|ns| format_ns(ns / r.dim as f64))
    });
    table("ratio to generated", &|r, who| {
        let ns = r.get(who)?;
        (who != Contender::Generated).then(|| format_ratio(ns, r.get(Contender::Generated)))
    });
}

// ---------------------------------------------------------------------------------------------
// The plot.

/// How a contender is drawn: colour (Okabe–Ito, readable by colour-blind readers), marker,
/// dash pattern and legend text.
struct Style {
    who: Contender,
    colour: &'static str,
    marker: Marker,
    dash: Option<&'static str>,
    width: f64,
    legend: &'static str,
}

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    TriangleDown,
    Cross,
}

/// The contenders plotted, in legend order.
const STYLES: [Style; 7] = [
    Style {
        who: Contender::Generated,
        colour: "#0072B2",
        marker: Marker::Circle,
        dash: None,
        width: 3.0,
        legend: "generated reverse mode (_grad_into)",
    },
    Style {
        who: Contender::HandWritten,
        colour: "#009E73",
        marker: Marker::Square,
        dash: None,
        width: 2.0,
        legend: "hand-written adjoint",
    },
    Style {
        who: Contender::Echidna,
        colour: "#CC79A7",
        marker: Marker::Diamond,
        dash: None,
        width: 2.0,
        legend: "echidna (runtime tape)",
    },
    Style {
        who: Contender::Reverse,
        colour: "#E69F00",
        marker: Marker::TriangleDown,
        dash: None,
        width: 2.0,
        legend: "reverse (runtime tape)",
    },
    Style {
        who: Contender::NumDual,
        colour: "#D55E00",
        marker: Marker::Triangle,
        dash: None,
        width: 2.0,
        legend: "num-dual forward mode (n passes)",
    },
    Style {
        who: Contender::FiniteDiff,
        colour: "#000000",
        marker: Marker::Cross,
        dash: Some("7 4"),
        width: 2.0,
        legend: "central differences (2n+1 calls of f)",
    },
    Style {
        who: Contender::Primal,
        colour: "#888888",
        marker: Marker::Circle,
        dash: Some("3 3"),
        width: 1.5,
        legend: "the function alone (primal)",
    },
];

/// A power of ten of nanoseconds as a time, e.g. `100 ns`, `1 µs`, `10 ms`.
fn decade_label(exponent: i32) -> String {
    let units = ["ns", "µs", "ms", "s"];
    let unit = usize::try_from(exponent.clamp(0, 9) / 3).unwrap_or(0);
    let mantissa = 10_u32.pow(u32::try_from(exponent.clamp(0, 9) % 3).unwrap_or(0));
    format!("{mantissa} {}", units[unit])
}

/// Appends `marker` centred on `(x, y)`.
fn marker(svg: &mut String, marker: Marker, x: f64, y: f64, colour: &str) {
    let r = 4.5;
    let _ = match marker {
        Marker::Circle => writeln!(
            svg,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{colour}"/>"#
        ),
        Marker::Square => writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{}" height="{}" fill="{colour}"/>"#,
            x - r,
            y - r,
            2.0 * r,
            2.0 * r
        ),
        Marker::Triangle | Marker::TriangleDown => {
            let s = if matches!(marker, Marker::Triangle) {
                1.0
            } else {
                -1.0
            };
            let h = 1.2 * r;
            writeln!(
                svg,
                r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"#,
                x,
                y - s * h,
                x - h,
                y + s * h * 0.8,
                x + h,
                y + s * h * 0.8
            )
        }
        Marker::Diamond => {
            let h = 1.35 * r;
            writeln!(
                svg,
                r#"<polygon points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}" fill="{colour}"/>"#,
                y - h,
                x + h,
                y + h,
                x - h
            )
        }
        Marker::Cross => writeln!(
            svg,
            r#"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="{colour}" stroke-width="2.5"/>"#,
            x - r,
            y - r,
            x + r,
            y + r,
            x - r,
            y + r,
            x + r,
            y - r
        ),
    };
}

/// The scaling of `rows` (one family at several sizes) as an SVG plot: time per gradient against
/// n, both axes logarithmic, one line per contender and a legend.
fn scaling_svg(rows: &[&Row], family: &str, caption: &str) -> String {
    const WIDTH: f64 = 960.0;
    const HEIGHT: f64 = 580.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 620.0;
    const TOP: f64 = 64.0;
    const BOTTOM: f64 = 500.0;

    let points = |who: Contender| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| Some((r.size.unwrap_or(r.dim) as f64, r.get(who)?)))
            .collect()
    };
    let all: Vec<(f64, f64)> = STYLES.iter().flat_map(|s| points(s.who)).collect();
    let (n_lo, n_hi) = all
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), &(n, _)| {
            (lo.min(n), hi.max(n))
        });
    let (t_lo, t_hi) = all
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), &(_, t)| {
            (lo.min(t), hi.max(t))
        });
    // Whole decades of time; n with a margin of a seventh of a decade either side.
    #[allow(clippy::cast_possible_truncation)] // Decades of nanoseconds: single digits.
    let (d_lo, d_hi) = (t_lo.log10().floor() as i32, t_hi.log10().ceil() as i32);
    let (x_lo, x_hi) = (n_lo.log10() - 0.15, n_hi.log10() + 0.15);
    let px = |n: f64| LEFT + (n.log10() - x_lo) / (x_hi - x_lo) * (RIGHT - LEFT);
    let py =
        |t: f64| BOTTOM - (t.log10() - f64::from(d_lo)) / f64::from(d_hi - d_lo) * (BOTTOM - TOP);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">
<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>
<text x="{:.1}" y="28" text-anchor="middle" font-size="17" font-weight="bold">{}: time per gradient against n (log-log)</text>
<text x="{:.1}" y="48" text-anchor="middle" font-size="12" fill="#444">{caption}</text>"##,
        WIDTH / 2.0,
        capitalised(family),
        WIDTH / 2.0,
    );

    // Grid and ticks: a line per decade of time, fainter lines at 2..9 of each; the same for n.
    let _ = writeln!(svg, r#"<g stroke-width="1">"#);
    for d in d_lo..=d_hi {
        let base = 10_f64.powi(d);
        let y = py(base);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#bbbbbb"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" stroke="none">{}</text>"#,
            LEFT - 8.0,
            y + 4.5,
            decade_label(d)
        );
        if d < d_hi {
            for m in 2..10 {
                let y = py(base * f64::from(m));
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#eeeeee"/>"##
                );
            }
        }
    }
    #[allow(clippy::cast_possible_truncation)] // Decades of n: single digits.
    let (e_lo, e_hi) = (x_lo.floor() as i32, x_hi.ceil() as i32);
    for e in e_lo..=e_hi {
        for m in 1..10 {
            let n = 10_f64.powi(e) * f64::from(m);
            let lg = n.log10();
            if lg < x_lo || lg > x_hi {
                continue;
            }
            let x = px(n);
            let stroke = if m == 1 { "#bbbbbb" } else { "#eeeeee" };
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{BOTTOM}" stroke="{stroke}"/>"#
            );
            // Label the decades, and the sizes measured.
            let measured = rows.iter().any(|r| r.size.unwrap_or(r.dim) as f64 == n);
            if m == 1 || measured {
                let _ = writeln!(
                    svg,
                    r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{n}</text>"#,
                    BOTTOM + 20.0
                );
            }
        }
    }
    let _ = writeln!(svg, "</g>");
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="black"/>
<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">n (inputs)</text>
<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" font-size="14">median time per gradient</text>"#,
        RIGHT - LEFT,
        BOTTOM - TOP,
        f64::midpoint(LEFT, RIGHT),
        BOTTOM + 44.0,
        f64::midpoint(TOP, BOTTOM),
    );

    // The lines, the primal first so that the gradients draw over it; legend to the right.
    for style in STYLES.iter().rev() {
        let pts = points(style.who);
        if pts.is_empty() {
            continue;
        }
        let path: Vec<String> = pts
            .iter()
            .map(|&(n, t)| format!("{:.1},{:.1}", px(n), py(t)))
            .collect();
        let dash = style
            .dash
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="{}"{dash}/>"#,
            path.join(" "),
            style.colour,
            style.width
        );
        for &(n, t) in &pts {
            marker(&mut svg, style.marker, px(n), py(t), style.colour);
        }
    }
    // The legend lists the lines in the order they end at the largest n, top to bottom.
    let last = |who: Contender| points(who).last().map(|&(_, t)| t);
    let mut legend: Vec<&Style> = STYLES.iter().filter(|s| last(s.who).is_some()).collect();
    legend.sort_by(|a, b| {
        last(b.who)
            .partial_cmp(&last(a.who))
            .unwrap_or(Ordering::Equal)
    });
    let (lx, mut ly) = (RIGHT + 22.0, TOP + 14.0);
    let _ = writeln!(
        svg,
        r#"<text x="{lx}" y="{ly}" font-weight="bold">gradient by</text>"#
    );
    for style in legend {
        ly += 28.0;
        let dash = style
            .dash
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{}" stroke-width="{}"{dash}/>"#,
            lx + 36.0,
            style.colour,
            style.width
        );
        marker(&mut svg, style.marker, lx + 18.0, ly, style.colour);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 46.0,
            ly + 4.5,
            style.legend
        );
    }
    // How to read the slopes.
    ly += 44.0;
    for line in [
        "On log-log axes a cost ∝ n is a line",
        "of slope 1, a cost ∝ n² one of slope 2.",
        "Forward mode and differences take",
        "n passes over the function: ∝ n².",
        "Reverse mode takes one pass: ∝ n.",
    ] {
        let _ = writeln!(
            svg,
            r##"<text x="{lx}" y="{ly:.1}" font-size="12" fill="#444">{line}</text>"##
        );
        ly += 17.0;
    }
    svg.push_str("</svg>\n");
    svg
}

/// `word` with its first letter in upper case.
fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

// ---------------------------------------------------------------------------------------------

fn parse_args() -> Settings {
    let mut settings = Settings {
        only: Vec::new(),
        runs: 15,
        run_time: Duration::from_millis(5),
        markdown: false,
        svg: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/rosenbrock_scaling.svg"
        )),
        idioms_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|&v| v > 0)
                .unwrap_or_else(|| panic!("{name} takes a positive integer"))
        };
        match arg.as_str() {
            "--runs" => settings.runs = usize::try_from(value("--runs")).unwrap_or(15),
            "--run-ms" => settings.run_time = Duration::from_millis(value("--run-ms")),
            "--markdown" => settings.markdown = true,
            "--idioms" => settings.idioms_only = true,
            "--only" => settings.only.push(
                args.next()
                    .unwrap_or_else(|| panic!("--only takes a label prefix")),
            ),
            "--svg" => {
                settings.svg = args
                    .next()
                    .map_or_else(|| panic!("--svg takes a path"), PathBuf::from);
            }
            other => panic!(
                "unknown argument {other}; expected --runs N, --run-ms MS, --markdown, --svg PATH, \
                 --only PREFIX, --idioms"
            ),
        }
    }
    settings
}

fn main() {
    let settings = parse_args();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful times");
    }
    let how = format!(
        "median of {} runs of ~{} ms each, per call{}",
        settings.runs,
        settings.run_time.as_millis(),
        if clock::excludes_waits() {
            ", waits for a CPU excluded"
        } else {
            ""
        }
    );
    println!("{how}; ratios are of median times; ± is the interquartile range of the runs");
    if settings.idioms_only {
        print_idioms(&settings);
        return;
    }
    let mut all = TimeAll {
        settings: &settings,
        rows: Vec::new(),
    };
    common::problems(&mut all);
    common::adbench(&mut all);
    for row in &all.rows {
        print_row(row, settings.markdown);
    }
    print_summary(&all.rows, settings.markdown);
    let family = "rosenbrock";
    let scaling: Vec<&Row> = all.rows.iter().filter(|r| r.family == family).collect();
    if !scaling.is_empty() {
        print_scaling(&scaling, family, settings.markdown);
        let svg = scaling_svg(&scaling, family, &how);
        if !settings.only.is_empty() {
            return;
        }
        match std::fs::write(&settings.svg, svg) {
            Ok(()) => println!("\nplot: {}", settings.svg.display()),
            Err(e) => eprintln!("cannot write {}: {e}", settings.svg.display()),
        }
    }
    print_idioms(&settings);
}

/// Each iterator form's gradient against its index-loop twin's, interleaved run by run.
fn print_idioms(settings: &Settings) {
    heading(
        "Iterator forms against index loops (gradient, target: within 5%)",
        settings.markdown,
    );
    let mut table = Table::new(&["pair", "n", "iterator", "index loop", "ratio"]);
    for (name, iter, index) in common::idioms::PAIRS {
        for n in common::idioms::SIZES {
            let x = common::Rng::new(7).vec(n, -1.5, 1.5);
            let mut grad = vec![0.0; n];
            let run_ns = settings.run_time.as_nanos() as f64;
            let mut time = |f: fn(&[f64], &mut [f64]) -> f64, iters: Option<u64>| {
                let mut call = || {
                    black_box(f(black_box(x.as_slice()), black_box(grad.as_mut_slice())));
                };
                let iters = iters.unwrap_or_else(|| clock::calibrate(run_ns, &mut call));
                (iters, clock::batch(iters, &mut call))
            };
            let (a_iters, _) = time(iter, None);
            let (b_iters, _) = time(index, None);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..settings.runs {
                a.push(time(iter, Some(a_iters)).1);
                b.push(time(index, Some(b_iters)).1);
            }
            let (a, b) = (Summary::of(&mut a), Summary::of(&mut b));
            table.push(vec![
                name.to_owned(),
                n.to_string(),
                format!("{} ±{:.0}%", format_ns(a.median), 100.0 * a.spread),
                format!("{} ±{:.0}%", format_ns(b.median), 100.0 * b.spread),
                format!("{:.3}", a.median / b.median),
            ]);
        }
    }
    table.print(settings.markdown);
}
