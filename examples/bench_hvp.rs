//! Times `f_hvp` against `f_grad` and against a hand-written Hessian-vector product, on
//! Rosenbrock's function over a slice at n = 2, 10 and 100, and prints the ratios.
//!
//! ```text
//! cargo run --release --example bench_hvp
//! ```
//!
//! Each function is timed in batches of calls lasting about 5 ms, 15 times, interleaved; the
//! median time per call is reported. Forward mode over the reverse sweep costs, by theory, a
//! small constant times the gradient (about 2 to 4).

// Timing arithmetic converts call counts to floats; they stay far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::hint::black_box;
use std::time::Instant;

use autodiff::differentiate;

/// Rosenbrock's function, `Σ (1 − xᵢ)² + 100 (xᵢ₊₁ − xᵢ²)²`.
#[differentiate(reverse, hessian)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
    }
    s
}

/// The gradient and `H·v` of Rosenbrock's function, by hand, adding into the buffers.
fn hand_hvp(x: &[f64], v: &[f64], g: &mut [f64], hv: &mut [f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
        g[i] += -2.0 * a - 400.0 * b * x[i];
        g[i + 1] += 200.0 * b;
        // The block of this term: [[2 + 1200 xᵢ² − 400 xᵢ₊₁, −400 xᵢ], [−400 xᵢ, 200]].
        let h00 = 2.0 + 1200.0 * x[i] * x[i] - 400.0 * x[i + 1];
        let h01 = -400.0 * x[i];
        hv[i] += h00 * v[i] + h01 * v[i + 1];
        hv[i + 1] += h01 * v[i] + 200.0 * v[i + 1];
    }
    s
}

/// The median nanoseconds per call of `f`, batches interleaved with the others'.
fn time(fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let batch: Vec<u64> = fs
        .iter_mut()
        .map(|f| {
            let mut n = 1u64;
            loop {
                let start = Instant::now();
                for _ in 0..n {
                    f();
                }
                if start.elapsed().as_micros() > 5_000 {
                    return n;
                }
                n *= 2;
            }
        })
        .collect();
    let mut runs = vec![Vec::new(); fs.len()];
    for _ in 0..15 {
        for (k, f) in fs.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..batch[k] {
                f();
            }
            runs[k].push(start.elapsed().as_nanos() as f64 / batch[k] as f64);
        }
    }
    runs.into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

fn main() {
    println!("| n | f_grad_into | f_hvp_into | hand-written H·v | f_hvp / f_grad | f_hvp / hand |");
    println!("|---|---|---|---|---|---|");
    for n in [2, 10, 100] {
        let x: Vec<f64> = (0..n).map(|i| 0.5 + 0.1 * f64::from(i % 7)).collect();
        let v: Vec<f64> = (0..n).map(|i| 1.0 - 0.2 * f64::from(i % 5)).collect();
        let (mut g, mut hv) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        // The generated and the hand-written products agree.
        let (mut g2, mut hv2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let _ = rosenbrock_hvp_into(&x, &v, &mut g, &mut hv);
        let _ = hand_hvp(&x, &v, &mut g2, &mut hv2);
        for i in 0..x.len() {
            assert!((hv[i] - hv2[i]).abs() <= 1e-9 * (1.0 + hv2[i].abs()));
        }
        let mut g1 = vec![0.0; x.len()];
        let (mut g3, mut hv3) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let t = time(&mut [
            &mut || {
                black_box(rosenbrock_grad_into(black_box(&x), black_box(&mut g1)));
            },
            &mut || {
                black_box(rosenbrock_hvp_into(
                    black_box(&x),
                    black_box(&v),
                    black_box(&mut g),
                    black_box(&mut hv),
                ));
            },
            &mut || {
                black_box(hand_hvp(
                    black_box(&x),
                    black_box(&v),
                    black_box(&mut g3),
                    black_box(&mut hv3),
                ));
            },
        ]);
        println!(
            "| {n} | {:.1} ns | {:.1} ns | {:.1} ns | {:.2} | {:.2} |",
            t[0],
            t[1],
            t[2],
            t[1] / t[0],
            t[1] / t[2]
        );
    }
}
