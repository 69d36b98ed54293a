use autodiff::differentiate;

fn g(x: f64) -> [f64; 2] {
    [x, x]
}

#[differentiate]
fn f(x: f64) -> [f64; 2] {
    g(x)
}

fn main() {}
