use autodiff::differentiate;

// One error for the construct, none for the uses of the name it would have bound.
#[differentiate]
fn f(x: [f64; 3]) -> f64 {
    let h: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
    let mut s = h[0] * h[1] + h.len() as f64;
    for v in h.iter() {
        s += v;
    }
    let t = s * h[2];
    t + s
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f([1.0; 3]);
}
