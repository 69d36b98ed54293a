use autodiff::differentiate;

/// Its `g_jvp` takes a tangent for `x` only: the call in `f_jvp` passes one for `a` too, and rustc
/// refuses it at the call (the tangent of `a` cannot be dropped without a wrong derivative).
#[differentiate(forward, wrt(x))]
fn g(a: f64, x: f64) -> f64 {
    a * x
}

#[differentiate(forward)]
fn f(x: f64, a: f64) -> f64 {
    g(a, x) * x
}

fn main() {
    let _ = f_jvp(1.0, 1.0, 2.0, 0.0);
}
