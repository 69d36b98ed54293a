use autodiff::differentiate;

#[differentiate]
fn f(x: f64, mut p: (f64, f64)) -> f64 {
    p.0 = x;
    let _q = p;
    x
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, (2.0, 3.0));
}
