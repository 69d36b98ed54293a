use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let _g = |y: f64| y * y;
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
