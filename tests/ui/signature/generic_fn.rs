use autodiff::differentiate;

#[differentiate]
fn f<T>(x: f64) -> f64 {
    x * x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f::<u8>(1.0);
}
