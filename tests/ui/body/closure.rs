use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let g = |y: f64| {
        if y > 0.0 {
            return y;
        }
        -y
    };
    g(x)
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
