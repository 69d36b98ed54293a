//! Minimises the n-dimensional Rosenbrock function with argmin's L-BFGS, driven by the gradient
//! `#[differentiate]` generates: `rosenbrock_grad_into` fills a buffer, through argmin's
//! `CostFunction` and `Gradient` traits.
//!
//! `cargo run --example rosenbrock` prints the function value as it falls to 0 at (1, …, 1).
use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Error, Executor, Gradient, KV, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use autodiff::differentiate;

/// `f(x) = Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])²`, whose minimum is 0 at `x = (1, …, 1)`.
#[differentiate]
fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
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
        // `f_grad_into` adds into the buffer: it starts at zero.
        let mut g = vec![0.0; x.len()];
        let _ = rosenbrock_grad_into(x, &mut g);
        Ok(g)
    }
}

/// Prints the cost every fifth iteration.
struct Progress;

impl<I: State<Float = f64>> Observe<I> for Progress {
    fn observe_iter(&mut self, state: &I, _kv: &KV) -> Result<(), Error> {
        let k = state.get_iter();
        if k.is_multiple_of(5) {
            println!("iteration {k:3}: f = {:.3e}", state.get_best_cost());
        }
        Ok(())
    }
}

fn main() -> Result<(), Error> {
    let n = 10;
    let start: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    println!("Rosenbrock in {n} dimensions from the classic start (-1.2, 1, -1.2, 1, ...)");
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-12)?
        .with_tolerance_cost(0.0)?;
    let result = Executor::new(Rosenbrock, solver)
        .configure(|state| state.param(start).max_iters(200))
        .add_observer(Progress, ObserverMode::Always)
        .run()?;
    let state = result.state();
    let x = state.get_best_param().expect("a parameter");
    let f = state.get_best_cost();
    println!(
        "minimum found after {} iterations: f = {f:.3e} at x = {x:.6?}",
        state.get_iter()
    );
    assert!(f < 1e-10, "L-BFGS did not converge");
    assert!(x.iter().all(|x| (x - 1.0).abs() < 1e-4));
    Ok(())
}
