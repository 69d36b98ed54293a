use autodiff::differentiate;

#[differentiate]
#[allow(unused_unsafe)]
fn f(x: f64) -> f64 {
    unsafe { x * x }
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
