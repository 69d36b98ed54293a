use autodiff::differentiate;

fn fill(_x: &f64, _out: &mut [f64]) {}

// A float passed by reference to a helper that writes into a buffer.
#[differentiate(reverse, forward, wrt(x))]
fn f(x: &f64) -> f64 {
    let mut o = vec![0.0; 3];
    fill(x, &mut o);
    o[1] + o[2]
}

fn main() {}
