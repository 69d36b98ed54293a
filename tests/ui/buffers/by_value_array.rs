use autodiff::differentiate;

fn fixed(_a: [f64; 2], _out: &mut [f64]) {}

// An array passed by value to a helper that writes into a buffer, directly and through a name
// bound to it.
#[differentiate]
fn g(x: [f64; 2]) -> f64 {
    let mut b = vec![0.0; 2];
    fixed(x, &mut b);
    let h = x;
    fixed(h, &mut b);
    b[0]
}

fn main() {}
