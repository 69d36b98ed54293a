use autodiff::differentiate;

#[derive(Default)]
struct P {
    w: f64,
}

#[differentiate(hessian, wrt(p))]
fn f(p: &P, x: f64) -> f64 {
    p.w * x
}

fn main() {}
