//! A single neuron trained by gradient descent, with gradients from `#[differentiate]`.
//!
//! ```text
//! x ──→ [×] ──→ [+] ──→ [σ] ──→ [-] ──→ [²] ──→ L
//! w ──→ [×] ↗ z     ↗ s      a   ↗ e
//! b ──────────┘         t ────────┘
//! ```
//!
//! `L = (σ(w·x + b) − t)²` at `x = 2`, `w = 0.5`, `b = 0.1`, `t = 1`: the forward pass, the
//! backward pass by the chain rule, the same numbers from the generated `neuron_grad`, then
//! twenty steps of gradient descent on `w` and `b`.
//!
//! Run with `cargo run --example neuron`.

use autodiff::{differentiate, sigmoid};

/// The squared error of a sigmoid neuron with weight `w` and bias `b` on input `x`, target `t`.
#[differentiate]
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
    println!("Forward pass:");
    let z = w * x;
    println!("  z = w·x   = {w} × {x} = {z}");
    let s = z + b;
    println!("  s = z + b = {z} + {b} = {s}");
    let a = sigmoid(s);
    println!("  a = σ(s)  = {a:.10}");
    let e = a - t;
    println!("  e = a − t = {e:.10}");
    let loss = e * e;
    println!("  L = e²    = {loss:.10}");

    println!();
    println!("Backward pass, one local derivative per edge:");
    let dl_de = 2.0 * e;
    println!("  ∂L/∂e = 2e        = {dl_de:.10}");
    let de_da = 1.0;
    println!("  ∂e/∂a = 1");
    let da_ds = a * (1.0 - a);
    println!("  ∂a/∂s = σ(s)(1 − σ(s)) = {da_ds:.10}");
    let (ds_dz, ds_db) = (1.0, 1.0);
    println!("  ∂s/∂z = ∂s/∂b = 1");
    let dz_dw = x;
    println!("  ∂z/∂w = x         = {dz_dw}");
    let dl_ds = dl_de * de_da * da_ds;
    let dl_dw = dl_ds * ds_dz * dz_dw;
    println!("  ∂L/∂w = ∂L/∂e · ∂e/∂a · ∂a/∂s · ∂s/∂z · ∂z/∂w = {dl_dw:.10}");
    let dl_db = dl_ds * ds_db;
    println!("  ∂L/∂b = ∂L/∂e · ∂e/∂a · ∂a/∂s · ∂s/∂b         = {dl_db:.10}");

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
