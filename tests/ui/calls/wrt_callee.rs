use autodiff::differentiate;

/// Its `g_grad` has an entry for `x` only.
#[differentiate(wrt(x))]
fn g(a: f64, x: f64) -> f64 {
    a * x
}

#[differentiate]
fn f(x: f64) -> f64 {
    g(2.0, x) * x
}

fn main() {
    let _ = f_grad(1.0);
}
