use autodiff::differentiate;

/// Its `g_vjp` has an entry for `b` only: the data slice `x` is left out of `wrt`.
#[differentiate(reverse, wrt(b))]
fn residuals(b: [f64; 2], x: &[f64]) -> [f64; 2] {
    [b[0] * x[0], b[1] * x[1]]
}

#[differentiate(reverse)]
fn cost(b: [f64; 2], x: &[f64]) -> f64 {
    let r: [f64; 2] = residuals(b, x);
    r[0] * r[0] + r[1]
}

fn main() {
    let _ = cost_grad([1.0, 2.0], &[3.0, 4.0]);
}
