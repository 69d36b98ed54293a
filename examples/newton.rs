//! Second-order methods against L-BFGS on Rosenbrock's function. Newton's method, with a
//! backtracking line search, and argmin's trust-region method (Steihaug's conjugate-gradient
//! subproblem solver) get the exact Hessian from `rosenbrock_hessian`, the latter through argmin's
//! `Hessian` trait; argmin's L-BFGS only the gradient, through its `Gradient` trait. The table
//! shows the cost after each iteration: the second-order methods converge quadratically once
//! close, L-BFGS superlinearly.
//!
//! ```text
//! cargo run --release --example newton
//! ```

use argmin::core::{CostFunction, Error, Executor, Gradient, Hessian, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use argmin::solver::trustregion::{Steihaug, TrustRegion};
use autodiff::differentiate;

/// Rosenbrock's function in n dimensions, `Σ (1 − xᵢ)² + 100 (xᵢ₊₁ − xᵢ²)²`.
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

struct Rosenbrock;

impl CostFunction for Rosenbrock {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        Ok(rosenbrock(x))
    }
}

impl Gradient for Rosenbrock {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok(rosenbrock_grad(x).1)
    }
}

impl Hessian for Rosenbrock {
    type Param = Vec<f64>;
    type Hessian = Vec<Vec<f64>>;
    fn hessian(&self, x: &Vec<f64>) -> Result<Vec<Vec<f64>>, Error> {
        // `f_hessian` of a slice is row-major, N·N.
        let (_, _, hess) = rosenbrock_hessian(x);
        Ok(hess.chunks_exact(x.len()).map(<[f64]>::to_vec).collect())
    }
}

/// The cost after each of the first `iterations` iterations of a solver.
fn costs(iterations: u64, run: impl Fn(u64) -> Result<f64, Error>) -> Result<Vec<f64>, Error> {
    (1..=iterations).map(run).collect()
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting.
#[allow(clippy::needless_range_loop)] // rows are combined by index
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}

/// Newton's method with a backtracking (Armijo) line search: the cost after each iteration.
fn newton(start: &[f64], iterations: u64) -> Result<Vec<f64>, Error> {
    let mut x = start.to_vec();
    let mut costs = Vec::new();
    for _ in 0..iterations {
        let g = Rosenbrock.gradient(&x)?;
        let h = Rosenbrock.hessian(&x)?;
        let step = solve(h, g.iter().map(|v| -v).collect());
        let slope: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
        let f = rosenbrock(&x);
        let mut t = 1.0;
        let mut next: Vec<f64> = x.iter().zip(&step).map(|(a, s)| a + t * s).collect();
        while rosenbrock(&next) > f + 1e-4 * t * slope && t > 1e-10 {
            t *= 0.5;
            next = x.iter().zip(&step).map(|(a, s)| a + t * s).collect();
        }
        x = next;
        costs.push(rosenbrock(&x));
    }
    Ok(costs)
}

fn main() -> Result<(), Error> {
    let start = vec![-1.2, 1.0];
    let iterations = 40;
    let newton = newton(&start, iterations)?;
    let lbfgs = costs(iterations, |k| {
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7);
        let result = Executor::new(Rosenbrock, solver)
            .configure(|state| state.param(start.clone()).max_iters(k))
            .run()?;
        Ok(rosenbrock(result.state().get_param().expect("a parameter")))
    })?;
    let trust = costs(iterations, |k| {
        let solver = TrustRegion::new(Steihaug::new().with_max_iters(20));
        let result = Executor::new(Rosenbrock, solver)
            .configure(|state| state.param(start.clone()).max_iters(k))
            .run()?;
        Ok(rosenbrock(result.state().get_param().expect("a parameter")))
    })?;
    println!("Rosenbrock in 2 dimensions from (-1.2, 1): cost after each iteration");
    println!(
        "| iteration | Newton with f_hessian | argmin's trust region with f_hessian | L-BFGS with f_grad |"
    );
    println!("|---|---|---|---|");
    for (k, ((n, t), l)) in newton.iter().zip(&trust).zip(&lbfgs).enumerate() {
        println!("| {} | {n:.3e} | {t:.3e} | {l:.3e} |", k + 1);
        if *n < 1e-20 && *t < 1e-20 && *l < 1e-20 {
            break;
        }
    }
    Ok(())
}
