use autodiff::differentiate;

// An out-parameter and an array output: refused on the return type.
#[differentiate(reverse, forward)]
fn centre(x: &[f64], out: &mut [f64]) -> [f64; 2] {
    let n = x.len() as f64;
    let mut mean = 0.0;
    for i in 0..x.len() {
        mean += x[i] / n;
    }
    let mut var = 0.0;
    for i in 0..x.len() {
        out[i] = x[i] - mean;
        var += out[i] * out[i] / n;
    }
    [mean, var]
}

fn main() {}
