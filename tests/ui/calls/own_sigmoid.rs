use autodiff::differentiate;

/// A function of the user's own with the runtime's name: not the logistic function.
#[differentiate]
fn sigmoid(x: f64) -> f64 {
    x * x
}

/// Unqualified, `sigmoid` would be differentiated by the runtime's rule: refused.
#[differentiate]
fn f(x: f64) -> f64 {
    sigmoid(x) + x
}

fn main() {
    let _ = f_grad(1.0);
}
