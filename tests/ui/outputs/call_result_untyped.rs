use autodiff::differentiate;

#[differentiate]
fn softmax2(z: [f64; 2]) -> [f64; 2] {
    let s = z[0].exp() + z[1].exp();
    [z[0].exp() / s, z[1].exp() / s]
}

#[differentiate]
fn pair(x: f64) -> (f64, [f64; 2]) {
    (x, [x * x, x.sin()])
}

// The result of a call bound without its type, then indexed.
#[differentiate]
fn cross_entropy(z: [f64; 2], k: usize) -> f64 {
    let p = softmax2(z);
    -p[k].ln()
}

// A nested pattern over a call's result.
#[differentiate]
fn nested(x: f64) -> f64 {
    let (a, [b, c]) = pair(x);
    a + b + c
}

// A pattern without its type whose array part is indexed.
#[differentiate]
fn indexed_part(x: f64) -> f64 {
    let (a, bc) = pair(x);
    a + bc[0]
}

// Both written with the type: accepted.
#[differentiate]
fn typed(x: f64, z: [f64; 2], k: usize) -> f64 {
    let (a, bc): (f64, [f64; 2]) = pair(x);
    let p: [f64; 2] = softmax2(z);
    a + bc[0] + bc[1] - p[k].ln()
}

fn main() {
    let _ = typed_grad(1.0, [0.5, -0.5], 1);
}
