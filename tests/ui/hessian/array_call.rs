use autodiff::differentiate;

#[differentiate(hessian)]
fn total(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i];
    }
    s
}

#[differentiate(hessian)]
fn f(x: &[f64], y: f64) -> f64 {
    total(x) * y
}

fn main() {}
