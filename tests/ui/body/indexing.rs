use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 2]) -> f64 {
    x[0]
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f([1.0, 2.0]);
}
