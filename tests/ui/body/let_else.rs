use autodiff::differentiate;

#[differentiate]
fn f(x: f64, n: u8) -> f64 {
    let 1.. = n else { return 0.0 };
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, 2);
}
