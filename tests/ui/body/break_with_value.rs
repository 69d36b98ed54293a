use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut s = x;
    loop {
        s *= 2.0;
        if s > 10.0 {
            break s;
        }
    }
    s
}

fn main() {
    let () = f(1.0);
}
