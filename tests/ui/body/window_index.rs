use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 4]) -> f64 {
    x.windows(2).map(|w| w[0] * w[2]).sum()
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f([1.0; 4]);
}
