use autodiff::differentiate;

// A closure's array is bound before it is indexed.
#[differentiate(reverse, forward)]
fn indexed(x: f64, y: f64) -> f64 {
    let h = |t: f64| [t, t * y];
    h(x)[0] * h(x)[1]
}

// A closure's array used as a number.
#[differentiate]
fn as_number(x: f64) -> f64 {
    let h = |t: f64| [t, t * t];
    let s = h(x);
    s[0] + h(x).len() as f64
}

// A tuple chosen by a branch is bound by a pattern that names its parts.
#[differentiate]
fn named(x: f64, y: f64) -> f64 {
    let t = if x > y { (x, y) } else { (y, x) };
    let (a, b) = t;
    a * b
}

fn main() {}
