use autodiff::differentiate;

#[differentiate(sideways)]
fn f(x: f64, y: &mut f64) -> f64 {
    let _g = |t: f64| t;
    let _u: f64;
    *y = x;
    x.copysign(1.0)
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0, &mut 2.0);
}
