//! Criterion benchmarks: for each function, the primal, the gradient emitted by
//! `#[differentiate]`, a hand-written adjoint, and the peers (`num-dual`, `echidna`, `reverse`,
//! central finite differences), all in one group so that their times compare directly.
//!
//! `cargo bench --bench gradients`, or for a quick run
//! `cargo bench --bench gradients -- --warm-up-time 1 --measurement-time 2` (naming the target:
//! the library's own bench harness rejects criterion's options);
//! `cargo run --release --example bench_report` prints the ratios between the contenders.

use std::hint::black_box;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, measurement::WallTime};

// Shared with the agreement test and the report, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::{Contender, Problem, ProblemVisitor, Visitor};

/// Registers each contender of one problem in its group, at the problem's first point.
struct Register<'g, 'c> {
    group: &'g mut BenchmarkGroup<'c, WallTime>,
    size: Option<usize>,
    x: Vec<f64>,
    grad: Vec<f64>,
}

impl Register<'_, '_> {
    fn id(&self, who: Contender) -> BenchmarkId {
        match self.size {
            Some(n) => BenchmarkId::new(who.name(), n),
            None => BenchmarkId::from_parameter(who.name()),
        }
    }
}

impl Visitor for Register<'_, '_> {
    fn primal(&mut self, mut f: impl FnMut(&[f64]) -> f64) {
        let id = self.id(Contender::Primal);
        let x = &self.x;
        self.group
            .bench_function(id, |b| b.iter(|| f(black_box(x.as_slice()))));
    }

    fn gradient(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        let id = self.id(who);
        let (x, grad) = (&self.x, &mut self.grad);
        self.group.bench_function(id, |b| {
            b.iter(|| {
                let value = f(black_box(x.as_slice()), black_box(grad.as_mut_slice()));
                black_box(&grad);
                value
            });
        });
    }

    fn accumulating(&mut self, who: Contender, f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        // The gradients add up in the buffer, zeroed once, as over a batch.
        self.grad.fill(0.0);
        self.gradient(who, f);
    }
}

struct Groups<'c>(&'c mut Criterion);

impl ProblemVisitor for Groups<'_> {
    fn problem<P: Problem>(&mut self, p: &P) {
        let mut group = self.0.benchmark_group(p.family());
        if p.dim() >= 100 {
            // The slowest contenders (forward mode, finite differences) take milliseconds here:
            // fewer, flat samples keep the run within the measurement time.
            group.sampling_mode(SamplingMode::Flat).sample_size(20);
        }
        let x = p.points().swap_remove(0);
        let grad = vec![0.0; x.len()];
        common::contenders(
            p,
            &mut Register {
                group: &mut group,
                size: p.size(),
                x,
                grad,
            },
        );
        group.finish();
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    common::problems(&mut Groups(&mut criterion));
    criterion.final_summary();
}
