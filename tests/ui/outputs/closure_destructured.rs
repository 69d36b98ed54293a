use autodiff::differentiate;

// A closure called with a destructuring `let` is the closure, not a function with several
// outputs: a closure returning an array is refused on the array.
#[differentiate(reverse, forward)]
fn f(x: f64, y: f64) -> f64 {
    let h = |t: f64| [t, t * y];
    let [a, b] = h(x);
    a * b
}

fn main() {}
