use autodiff::differentiate;

#[differentiate]
fn f(x: f64, n: i32) -> f64 {
    let _m = n & 1;
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, 2);
}
