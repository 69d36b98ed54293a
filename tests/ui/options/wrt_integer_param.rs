use autodiff::differentiate;

#[differentiate(wrt(x, n))]
fn f(x: f64, n: i32) -> f64 {
    x.powi(n)
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, 2);
}
