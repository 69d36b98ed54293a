use autodiff::differentiate;

// A function with out-parameters has several outputs and no Hessian.
#[differentiate(hessian)]
fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

fn main() {}
