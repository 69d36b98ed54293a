use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut s = x;
    loop {
        s *= 2.0;
    }
}

fn main() {
    let () = f(1.0);
}
