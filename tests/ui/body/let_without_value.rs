use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let y;
    y = x * x;
    y
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
