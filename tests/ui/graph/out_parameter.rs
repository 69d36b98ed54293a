use autodiff::differentiate;

// An out-parameter is an output: `f_graph` draws a function with one float output.
#[differentiate(reverse, graph)]
fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

// So is one beside a returned float.
#[differentiate(graph)]
fn scale(x: &[f64], s: f64, out: &mut [f64]) -> f64 {
    for i in 0..out.len() {
        out[i] = s * x[i];
    }
    s
}

fn main() {}
