use autodiff::differentiate;

#[differentiate]
fn f(x: [f64; 2]) -> f64 {
    x[0] = 1.0;
    x[0] + x[1]
}

fn main() {
    let () = f([1.0, 2.0]);
}
