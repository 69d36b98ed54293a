use autodiff::differentiate;

fn helper(_a: &[f64], _out: &mut [f64]) {}

#[differentiate]
fn f(x: &[f64], y: f64) -> f64 {
    let mut a = [0.0; 2];
    let mut b = vec![0.0; 2];
    let mut s = y;
    helper(x, &mut s);
    let t = helper(&a, &mut b);
    helper(&a, &mut b);
    b[0] + s + t
}

#[differentiate]
fn g(x: &[f64], out: &mut [f64; 2]) -> f64 {
    out[0] = x[0];
    x[0]
}

fn main() {}
