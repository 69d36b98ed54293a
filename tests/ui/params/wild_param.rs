use autodiff::differentiate;

#[differentiate]
fn underscore(_: f64, y: f64) -> f64 {
    y * y
}

#[differentiate]
fn destructured([x, y]: [f64; 2]) -> f64 {
    x * y
}

fn main() {}
