use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut acc = 0.0;
    let mut add = move |v: f64| acc += v * x;
    add(1.0);
    acc
}

fn main() {
    let () = f(1.0);
}
