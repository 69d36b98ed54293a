use autodiff::differentiate;

// A function with several outputs has no second-order form: a second-order caller is refused on
// the call.
#[differentiate(reverse, forward)]
fn rot(a: f64, r: f64) -> [f64; 2] {
    [r * a.cos(), r * a.sin()]
}

#[differentiate(reverse, hessian)]
fn f(x: f64, y: f64) -> f64 {
    let [u, v] = rot(x, y);
    u * v
}

fn main() {}
