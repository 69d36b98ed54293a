//! Trains a small multilayer perceptron — one hidden `tanh` layer — on a toy data set, with the
//! gradient of its loss from `#[differentiate]`.
//!
//! `cargo run --example mlp` prints the loss as it falls.
use autodiff::differentiate;

/// Inputs per example.
const INPUTS: usize = 2;
/// Hidden units.
const HIDDEN: usize = 8;
/// Weights: input→hidden, hidden biases, hidden→output, output bias, all in one slice.
const WEIGHTS: usize = HIDDEN * INPUTS + HIDDEN + HIDDEN + 1;

/// Mean squared error of the network on `n` examples: `data` holds each example's inputs followed
/// by its target. Only the weights are differentiated.
#[differentiate(wrt(w))]
#[allow(clippy::cast_precision_loss)] // a count of examples, far below 2^52
fn loss(w: &[f64], data: &[f64], n: usize) -> f64 {
    let input_weights = &w[..HIDDEN * INPUTS];
    let biases = &w[HIDDEN * INPUTS..HIDDEN * (INPUTS + 1)];
    let output_weights = &w[HIDDEN * (INPUTS + 1)..WEIGHTS - 1];
    let mut total = 0.0;
    for example in data.chunks_exact(INPUTS + 1).take(n) {
        let hidden = input_weights
            .chunks_exact(INPUTS)
            .zip(biases)
            .zip(output_weights)
            .map(|((row, b), v)| {
                let z = b + row.iter().zip(example).map(|(a, x)| a * x).sum::<f64>();
                v * z.tanh()
            })
            .sum::<f64>();
        let err = w[WEIGHTS - 1] + hidden - example[INPUTS];
        total += err * err;
    }
    total / (n as f64)
}

/// A deterministic pseudo-random number in [-1, 1).
fn noise(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    #[allow(clippy::cast_precision_loss)] // 53 random bits, exactly representable
    let unit = (*state >> 11) as f64 / (1u64 << 53) as f64;
    2.0 * unit - 1.0
}

fn main() {
    // The data set: y = sin(2 x0) · x1 on a 7×7 grid of [-1, 1]².
    let mut data = Vec::new();
    for a in 0..7 {
        for b in 0..7 {
            let (x0, x1) = (f64::from(a) / 3.0 - 1.0, f64::from(b) / 3.0 - 1.0);
            data.extend([x0, x1, (2.0 * x0).sin() * x1]);
        }
    }
    let n = data.len() / (INPUTS + 1);

    let mut state = 7;
    let mut w: Vec<f64> = (0..WEIGHTS).map(|_| 0.5 * noise(&mut state)).collect();
    let mut grad = vec![0.0; WEIGHTS];
    // Adam, with the gradient added into a reused buffer by `loss_grad_into`.
    let (mut m, mut v) = (vec![0.0; WEIGHTS], vec![0.0; WEIGHTS]);
    let (rate, beta1, beta2) = (0.02, 0.9, 0.999);
    // The gradient of the initial weights, against finite differences of the loss.
    let (_, start) = loss_grad(&w, &data, n);
    autodiff::check_gradient(|w| loss(w, &data, n), &w, &start)
        .unwrap_or_else(|e| panic!("the gradient disagrees with finite differences: {e}"));
    let first = loss(&w, &data, n);
    let mut last = first;
    for step in 1..=1500 {
        grad.fill(0.0);
        let (value,) = loss_grad_into(&w, &mut grad, &data, n);
        for k in 0..WEIGHTS {
            m[k] = beta1 * m[k] + (1.0 - beta1) * grad[k];
            v[k] = beta2 * v[k] + (1.0 - beta2) * grad[k] * grad[k];
            let m_hat = m[k] / (1.0 - beta1.powi(step));
            let v_hat = v[k] / (1.0 - beta2.powi(step));
            w[k] -= rate * m_hat / (v_hat.sqrt() + 1e-8);
        }
        if step == 1 || step % 150 == 0 {
            println!("step {step:4}: loss = {value:.6}");
        }
        last = value;
    }
    println!("loss fell from {first:.4} to {last:.6} on {n} examples");
    assert!(last < first / 20.0, "training did not reduce the loss");
}
