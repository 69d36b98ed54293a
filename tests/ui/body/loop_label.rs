use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut s = 0.0;
    'outer: for i in 0..3 {
        s += x * f64::from(i);
    }
    s
}

fn main() {
    let () = f(1.0);
}
