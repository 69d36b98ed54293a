use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 3]) -> f64 {
    let n = x.iter().map(|_| 1).sum::<usize>();
    x[0] * 2.0 + n as f64
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f([1.0; 3]);
}
