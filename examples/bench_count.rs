//! Calls one contender of one benchmark function a number of times and nothing else, for an
//! instruction count that does not depend on the machine's load:
//!
//! ```text
//! cargo build --release --example bench_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     --toggle-collect='*bench_count*repeat*' \
//!     target/release/examples/bench_count gmm/d2k5n1000 generated 20
//! ```
//!
//! The first argument is a label of `bench_report` (`gmm/d2k5n1000`, `rosenbrock/100`), the
//! second a contender (`primal`, `generated`, `hand_written`, ...), the third the number of
//! calls. With `--toggle-collect` on `repeat`, callgrind counts only the calls (and the zeroing
//! of the gradient buffer before each, a few instructions per entry): its `Collected` divided by
//! the number of calls is the count per call.

// Each target uses its own part of the shared benchmark code.
#[allow(dead_code)]
#[path = "../benches/common/mod.rs"]
mod common;

use common::{Contender, Problem, ProblemVisitor, Visitor};
use std::hint::black_box;

/// Calls the contender named `who` of the problem it is handed, `calls` times.
struct Caller {
    who: String,
    calls: usize,
    x: Vec<f64>,
    found: bool,
}

/// The loop callgrind counts in (`--toggle-collect='*bench_count*repeat*'`).
#[inline(never)]
fn repeat(
    calls: usize,
    x: &[f64],
    grad: &mut [f64],
    f: &mut impl FnMut(&[f64], &mut [f64]) -> f64,
) {
    for _ in 0..calls {
        grad.fill(0.0);
        black_box(f(black_box(x), black_box(&mut *grad)));
    }
}

impl Visitor for Caller {
    fn primal(&mut self, mut f: impl FnMut(&[f64]) -> f64) {
        if self.who == Contender::Primal.name() {
            self.found = true;
            let x = self.x.clone();
            repeat(self.calls, &x, &mut [], &mut |x, _| f(x));
        }
    }

    fn gradient(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        if self.who == who.name() {
            self.found = true;
            let x = self.x.clone();
            let mut grad = vec![0.0; x.len()];
            repeat(self.calls, &x, &mut grad, &mut f);
        }
    }

    fn accumulating(&mut self, who: Contender, f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        self.gradient(who, f);
    }
}

/// Finds the problem with the label asked for.
struct Find {
    label: String,
    caller: Caller,
    seen: bool,
}

impl ProblemVisitor for Find {
    fn problem<P: Problem>(&mut self, p: &P) {
        if common::label(p) != self.label {
            return;
        }
        self.seen = true;
        self.caller.x = p.points().swap_remove(0);
        common::contenders(p, &mut self.caller);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [label, who, calls] = args.as_slice() else {
        panic!(
            "usage: bench_count LABEL CONTENDER CALLS, e.g. bench_count gmm/d2k5n1000 generated 50"
        );
    };
    let calls = calls.parse().expect("CALLS is a number");
    let mut find = Find {
        label: label.clone(),
        caller: Caller {
            who: who.clone(),
            calls,
            x: Vec::new(),
            found: false,
        },
        seen: false,
    };
    common::problems(&mut find);
    common::adbench(&mut find);
    assert!(find.seen, "no benchmark function is labelled {label}");
    assert!(find.caller.found, "{label} has no contender {who}");
    println!("{label}: {calls} calls of {who}");
}
