use autodiff::differentiate;

#[differentiate]
fn f((x, y): (f64, f64)) -> f64 {
    x * y
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f((1.0, 2.0));
}
