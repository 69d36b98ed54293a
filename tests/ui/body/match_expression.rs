use autodiff::differentiate;

#[differentiate]
fn f(x: f64, k: Option<u8>) -> f64 {
    match k {
        Some(0) => x,
        _ => -x,
    }
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, None);
}
