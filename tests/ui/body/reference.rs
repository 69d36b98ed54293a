use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 4]) -> f64 {
    let mut h = x;
    for v in h.iter_mut() {
        *v *= 2.0;
    }
    h[0]
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f([1.0; 4]);
}
