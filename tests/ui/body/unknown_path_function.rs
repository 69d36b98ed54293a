use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    std::hint::black_box(x)
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
