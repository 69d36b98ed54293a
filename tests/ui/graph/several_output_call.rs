use autodiff::differentiate;

// `graph` on a caller of a function with several outputs.
#[differentiate(reverse)]
fn pair(x: f64, y: f64) -> [f64; 2] { [x * y, x + y] }
#[differentiate(reverse, graph)]
fn caller(x: f64, y: f64) -> f64 {
    let [a, b] = pair(x, y);
    a * b
}
fn main() {}
