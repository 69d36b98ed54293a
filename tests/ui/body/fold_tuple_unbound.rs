use autodiff::differentiate;

#[differentiate]
fn f(x: &[f64]) -> f64 {
    let s = x.iter().fold((0.0, 1.0), |(s, p), &v| (s + v, p * v));
    s
}

fn main() {}
