use autodiff::differentiate;

// A helper that writes into a buffer has no second-order form: a second-order caller is refused
// on the call.
#[differentiate(reverse, forward)]
fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

#[differentiate(reverse, hessian)]
fn f(x: &[f64], y: &[f64]) -> f64 {
    let mut d = vec![0.0; x.len()];
    subtract(x, y, &mut d);
    let mut s = 0.0;
    for i in 0..d.len() {
        s += d[i] * d[i];
    }
    s
}

fn main() {}
