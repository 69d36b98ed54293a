use autodiff::differentiate;

#[derive(Default, Clone, Debug)]
struct P {
    a: f64,
    w: [f64; 2],
}

// A struct in `wrt` of a function with several outputs.
#[differentiate(reverse, forward, wrt(p, x))]
fn f(p: &P, x: f64) -> [f64; 2] {
    [p.a * x, p.w[0] * p.w[1]]
}

fn main() {}
