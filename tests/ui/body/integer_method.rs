use autodiff::differentiate;

// An integer method the body does not take.
#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    let m = n.saturating_sub(1);
    x * m as f64
}

fn main() {}
