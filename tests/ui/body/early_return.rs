use autodiff::differentiate;

#[differentiate]
#[allow(unreachable_code)]
fn f(x: f64) -> f64 {
    return x * x;
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
