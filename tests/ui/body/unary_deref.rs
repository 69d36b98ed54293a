use autodiff::differentiate;

/// A float type the macro does not see through.
type Real = f64;

#[differentiate]
fn f(x: f64, y: &Real) -> f64 {
    *y * x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, &2.0);
}
