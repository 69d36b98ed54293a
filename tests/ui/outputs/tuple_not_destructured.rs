use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> (f64, [f64; 2]) {
    let t = x * x;
    if x > 0.0 {
        return (t, [x, t]);
    }
    t
}

fn main() {}
