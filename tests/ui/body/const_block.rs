use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x * const { 2.0 }
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
