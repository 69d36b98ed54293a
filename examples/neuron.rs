//! A single neuron trained by gradient descent, with gradients from `#[differentiate]`.
//!
//! ```text
//! x ──→ [×] ──→ [+] ──→ [σ] ──→ [-] ──→ [²] ──→ L
//! w ──→ [×] ↗ z     ↗ s      a   ↗ e
//! b ──────────┘         t ────────┘
//! ```
//!
//! `L = (σ(w·x + b) − t)²` at `x = 2`, `w = 0.5`, `b = 0.1`, `t = 1`: the forward pass and the
//! backward pass by the chain rule, printed from the graph `neuron_graph` records (and drawn to
//! `docs/neuron.svg`), the same numbers from the generated `neuron_grad`, then twenty steps of
//! gradient descent on `w` and `b`.
//!
//! Run with `cargo run --example neuron`.

use autodiff::{differentiate, sigmoid};

/// The squared error of a sigmoid neuron with weight `w` and bias `b` on input `x`, target `t`.
#[differentiate(reverse, graph)]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let z = w * x;
    let s = z + b;
    let a = sigmoid(s);
    let e = a - t;
    e.powi(2)
}

/// Whether `got` agrees with `expected` to a relative `1e-12`.
fn close(got: f64, expected: f64) -> bool {
    (got - expected).abs() <= 1e-12 * got.abs().max(expected.abs())
}

fn main() {
    let (x, w, b, t) = (2.0, 0.5, 0.1, 1.0);
    println!("L = (σ(w·x + b) − t)² at x = {x}, w = {w}, b = {b}, t = {t}");
    println!();
    let graph = neuron_graph(x, w, b, t);
    print!("{graph}");
    let svg = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/neuron.svg");
    std::fs::write(svg, graph.to_svg()).expect("docs/ is writable");
    println!();
    println!("The picture: docs/neuron.svg");

    // The chain rule by hand, as numbers: ∂L/∂w = 2e · 1 · σ(s)(1 − σ(s)) · 1 · x.
    let a = sigmoid(w * x + b);
    let e = a - t;
    let loss = e * e;
    let dl_dw = 2.0 * e * (a * (1.0 - a)) * x;
    let dl_db = 2.0 * e * (a * (1.0 - a));
    let node = |name: &str| graph.node(name).expect("a node of the graph");
    assert!(close(node("neuron").value(), loss));
    assert!(close(node("w").adjoint(), dl_dw) && close(node("b").adjoint(), dl_db));
    assert!(close(graph.local("e", "neuron").expect("an edge"), 2.0 * e));
    // With σ(1.1) rounded to 0.75, as when the chain is worked out on paper:
    let a_rounded = 0.75;
    let dl_dw_rounded = 2.0 * (a_rounded - t) * 1.0 * (a_rounded * (1.0 - a_rounded)) * 1.0 * x;
    println!(
        "  (with σ(1.1) rounded to {a_rounded}: ∂L/∂w = {dl_dw_rounded}; exactly, σ(1.1) = {a:.10})"
    );

    println!();
    println!("The same from the generated neuron_grad:");
    let (value, dx, dw, db, dt) = neuron_grad(x, w, b, t);
    println!("  neuron_grad({x}, {w}, {b}, {t})");
    println!("    = (L, ∂L/∂x, ∂L/∂w, ∂L/∂b, ∂L/∂t)");
    println!("    = ({value:.10}, {dx:.10}, {dw:.10}, {db:.10}, {dt:.10})");
    assert_eq!(value, neuron(x, w, b, t));
    assert!(close(value, loss) && close(dw, dl_dw) && close(db, dl_db));

    // An oracle that is not the chain rule: fourth-order finite differences.
    autodiff::check_gradient(
        |v| neuron(v[0], v[1], v[2], v[3]),
        &[x, w, b, t],
        &[dx, dw, db, dt],
    )
    .expect("the gradient agrees with finite differences");
    println!("  check_gradient against finite differences: ok");

    println!();
    println!("Gradient descent on w and b, learning rate 1:");
    let rate = 1.0;
    let (mut w, mut b) = (w, b);
    let (first, ..) = neuron_grad(x, w, b, t);
    let mut previous = f64::INFINITY;
    for step in 0..=20 {
        let (loss, _, dw, db, _) = neuron_grad(x, w, b, t);
        println!("  step {step:2}: w = {w:.6}, b = {b:.6}, L = {loss:.8}");
        assert!(loss < previous, "the loss falls at every step");
        previous = loss;
        if step < 20 {
            w -= rate * dw;
            b -= rate * db;
        }
    }
    println!(
        "  the loss fell from {first:.8} to {previous:.8}; σ(w·x + b) = {:.6}, approaching t = {t}",
        sigmoid(w * x + b)
    );
    assert!(previous < first / 10.0);
}
