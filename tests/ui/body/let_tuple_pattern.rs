use autodiff::differentiate;

#[differentiate]
fn f(p: (f64, f64)) -> f64 {
    let (a, b) = p;
    a * b
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f((1.0, 2.0));
}
