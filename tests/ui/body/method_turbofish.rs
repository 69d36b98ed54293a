use autodiff::differentiate;

#[differentiate]
#[rustfmt::skip] // keeps the empty turbofish
fn f(x: f64) -> f64 {
    x.exp::<>()
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
