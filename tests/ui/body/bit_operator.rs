use autodiff::differentiate;

#[differentiate]
fn f(x: f64, n: i32, flag: bool) -> f64 {
    let _m = n & 1;
    let _both = flag & (x > 0.0);
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, 2, true);
}
