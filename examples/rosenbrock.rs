//! Minimises the n-dimensional Rosenbrock function with L-BFGS, using the gradient
//! `#[differentiate]` generates.
//!
//! `cargo run --example rosenbrock` prints the function value as it falls to 0 at (1, …, 1).
use autodiff::differentiate;

/// `f(x) = Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])²`, whose minimum is 0 at `x = (1, …, 1)`.
#[differentiate]
fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// The value and gradient at `x`, the gradient written into `g` without allocating.
fn evaluate(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    let (value,) = rosenbrock_grad_into(x, g);
    value
}

/// Limited-memory BFGS with a backtracking (Armijo) line search.
fn lbfgs(x: &mut [f64], memory: usize, iterations: usize) -> f64 {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut f = evaluate(x, &mut g);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    for k in 0..iterations {
        // The two-loop recursion: d = −H·g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
            alphas.push(a);
        }
        let gamma = history
            .last()
            .map_or(1.0, |(s, y, _)| dot(s, y) / dot(y, y));
        for q in &mut q {
            *q *= gamma;
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
        }
        let d: Vec<f64> = q.iter().map(|q| -q).collect();

        let slope = dot(&g, &d);
        let mut step = 1.0;
        let mut trial = vec![0.0; n];
        let mut g_new = vec![0.0; n];
        let f_new = loop {
            trial
                .iter_mut()
                .zip(x.iter())
                .zip(&d)
                .for_each(|((t, x), d)| *t = x + step * d);
            let f_trial = evaluate(&trial, &mut g_new);
            if f_trial <= f + 1e-4 * step * slope || step < 1e-12 {
                break f_trial;
            }
            step *= 0.5;
        };
        let s: Vec<f64> = trial.iter().zip(x.iter()).map(|(t, x)| t - x).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == memory {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        x.copy_from_slice(&trial);
        g.copy_from_slice(&g_new);
        f = f_new;
        if k % 5 == 0 || f < 1e-20 {
            println!(
                "iteration {k:3}: f = {f:.3e}, |g| = {:.3e}",
                dot(&g, &g).sqrt()
            );
        }
        if f < 1e-20 {
            break;
        }
    }
    f
}

fn main() {
    let n = 10;
    let mut x: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    println!("Rosenbrock in {n} dimensions from the classic start (-1.2, 1, -1.2, 1, ...)");
    let f = lbfgs(&mut x, 7, 200);
    println!("minimum found: f = {f:.3e} at x = {x:.6?}");
    assert!(f < 1e-10, "L-BFGS did not converge");
    assert!(x.iter().all(|x| (x - 1.0).abs() < 1e-4));
}
