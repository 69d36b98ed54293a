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

#[differentiate(wrt(y), forward, reverse)]
fn h(x: f32, y: f32, n: i32) -> f32 {
    let c = (n as f32) * x;
    c * y.powi(n) + std::f32::consts::PI.ln() + f32::exp(2.0) + y.log(x) + y.to_radians() + y.exp2()
}

#[test]
fn f32_compiles() {
    let (v, dy) = h_grad(1.5, 0.7, 3);
    let (v2, t) = h_jvp(1.5, 0.7, 1.0, 3);
    assert_eq!(v, v2);
    assert_eq!(dy, t);
}
