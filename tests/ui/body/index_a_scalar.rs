use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x[0] * 2.0
}

fn main() {
    let () = f(1.0);
}
