use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut s = x;
    while s < 10.0 {
        s *= 2.0;
    }
    s
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
