use autodiff::differentiate;

#[differentiate]
fn f(x: &[f64]) -> f64 {
    let mut q = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        q.push(x[i] * 2.0);
    }
    q[0]
}

#[differentiate]
fn g(x: f64) -> f64 {
    let v = vec![x, 2.0 * x];
    v[0]
}

#[differentiate]
fn h(x: f64, n: usize) -> f64 {
    let v = vec![0.0; x];
    let w = vec![true; n];
    v[0] + x
}

fn main() {}
