//! The seed's worked examples.
use autodiff::{differentiate, sigmoid};

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    (x + y) * y
}

#[differentiate]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let z = w * x;
    let s = z + b;
    let a = sigmoid(s);
    let e = a - t;
    e.powi(2)
}

#[test]
fn seed_graph() {
    assert_eq!(f_grad(2.0, 3.0), (15.0, 3.0, 8.0));
}

#[test]
fn seed_neuron() {
    let (l, dx, dw, db, dt) = neuron_grad(2.0, 0.5, 0.1, 1.0);
    println!("{l} {dx} {dw} {db} {dt}");
}
