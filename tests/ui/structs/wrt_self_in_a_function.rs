use autodiff::differentiate;

#[differentiate(wrt(self, x))]
fn f(x: f64) -> f64 {
    x * x
}

#[differentiate(wrt(n))]
fn g(x: f64, n: usize) -> f64 {
    x * x
}

fn main() {}
