use autodiff::differentiate;

#[differentiate]
fn f(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x.iter() {
        s += v;
    }
    s
}

fn main() {
    let () = f(&[1.0]);
}
