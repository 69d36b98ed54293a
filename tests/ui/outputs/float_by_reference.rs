use autodiff::differentiate;

// Several outputs and a float taken by reference that `wrt` names.
#[differentiate(reverse, wrt(x, y))]
fn f(x: &f64, y: f64) -> [f64; 2] {
    [x * y, x.sin()]
}

fn main() {}
