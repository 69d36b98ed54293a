//! ADBench's LSTM objective (`src/cpp/shared/lstm.h` of microsoft/ADBench), ported to Rust as a
//! user would write it: the helpers `lstm_model` and `lstm_predict` writing into their buffers,
//! sub-slices for ADBench's parameter and state views (`WeightOrBias`, `LayerState`,
//! `InputSequence`), the state copied as ADBench copies its `std::vector` argument, and
//! ADBench's statement order. ADBench's `layer_output` pointer, which moves from the output
//! buffer to each layer's hidden state, is a copy of that hidden state into the output buffer
//! here (the borrow checker forbids reading one layer's state while the next is borrowed
//! mutably); the output buffer is overwritten afterwards, as in ADBench, so the values are the
//! same.
//!
//! `#[differentiate]` takes it as written; `benches/RESULTS.md` ("ADBench: LSTM") measures its
//! gradient against ADBench's hand-written one, and `tests/bench_agreement.rs` checks it. The
//! one concession is `self::sigmoid`: unqualified, `sigmoid` is the runtime's function (a
//! compile error says so when another is in scope). `sigmoid` and `logsumexp` are shared with
//! `lstm.rs`.
// ADBench's loops index several arrays with one counter, and its arguments are ADBench's.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]
// "ADBench" is a name, not code.
#![allow(clippy::doc_markdown)]
// Character counts are far below 2^52.
#![allow(clippy::cast_precision_loss)]
// `self::sigmoid` is ADBench's own logistic function, differentiated through its
// `sigmoid_grad`: unqualified, the name would be taken for the runtime's `sigmoid`.
#![allow(unused_qualifications)]

use super::lstm::{logsumexp, logsumexp_grad, sigmoid, sigmoid_grad};
use autodiff::differentiate;

/// One LSTM layer (ADBench's `lstm_model`): `params` are the layer's `8 hsize` parameters (the
/// weights of the forget, input, output and change gates, then their biases), `state` its hidden
/// values then its cell values, updated in place from `input`.
#[differentiate]
pub fn lstm_model(hsize: usize, params: &[f64], state: &mut [f64], input: &[f64]) {
    let weight_forget = &params[..hsize];
    let weight_ingate = &params[hsize..2 * hsize];
    let weight_outgate = &params[2 * hsize..3 * hsize];
    let weight_change = &params[3 * hsize..4 * hsize];
    let bias_forget = &params[4 * hsize..5 * hsize];
    let bias_ingate = &params[5 * hsize..6 * hsize];
    let bias_outgate = &params[6 * hsize..7 * hsize];
    let bias_change = &params[7 * hsize..8 * hsize];
    let (hidden, cell) = state.split_at_mut(hsize);
    for i in 0..hsize {
        // gates for i-th cell/hidden
        let forget = self::sigmoid(input[i] * weight_forget[i] + bias_forget[i]);
        let ingate = self::sigmoid(hidden[i] * weight_ingate[i] + bias_ingate[i]);
        let outgate = self::sigmoid(input[i] * weight_outgate[i] + bias_outgate[i]);
        let change = (hidden[i] * weight_change[i] + bias_change[i]).tanh();

        cell[i] = cell[i] * forget + ingate * change;
        hidden[i] = outgate * cell[i].tanh();
    }
}

/// The prediction for one character (ADBench's `lstm_predict`): `l` layers of `b` cells,
/// `main_params` the `8 b` parameters of each layer, `extra_params` the input weights, output
/// weights and output biases, `state` each layer's hidden then cell values (updated), `input`
/// the character's `b` bits; the prediction goes into `output`.
#[differentiate]
pub fn lstm_predict(
    l: usize,
    b: usize,
    main_params: &[f64],
    extra_params: &[f64],
    state: &mut [f64],
    input: &[f64],
    output: &mut [f64],
) {
    let in_weight = &extra_params[..b];
    let out_weight = &extra_params[b..2 * b];
    let out_bias = &extra_params[2 * b..3 * b];
    for i in 0..b {
        output[i] = input[i] * in_weight[i];
    }

    for i in 0..l {
        lstm_model(
            b,
            &main_params[8 * b * i..8 * b * (i + 1)],
            &mut state[2 * b * i..2 * b * (i + 1)],
            output,
        );
        // layer_output = state.layer_state[i].hidden
        for j in 0..b {
            output[j] = state[2 * b * i + j];
        }
    }

    for i in 0..b {
        output[i] = output[i] * out_weight[i] + out_bias[i];
    }
}

/// The loss of predicting each of `c` characters (`b` bits each, in `sequence`) from the ones
/// before it (ADBench's `lstm_objective`), from the initial `state`.
#[differentiate(wrt(main_params, extra_params))]
#[must_use]
pub fn lstm_objective(
    l: usize,
    c: usize,
    b: usize,
    main_params: &[f64],
    extra_params: &[f64],
    state: &[f64],
    sequence: &[f64],
) -> f64 {
    let mut total = 0.0;
    let mut count = 0;
    let mut state = state.to_vec();
    let mut ypred = vec![0.0; b];
    let mut ynorm = vec![0.0; b];
    for t in 0..c - 1 {
        lstm_predict(
            l,
            b,
            main_params,
            extra_params,
            &mut state,
            &sequence[t * b..(t + 1) * b],
            &mut ypred,
        );

        let lse = logsumexp(&ypred);
        for i in 0..b {
            ynorm[i] = ypred[i] - lse;
        }

        let ygold = &sequence[(t + 1) * b..(t + 2) * b];
        for i in 0..b {
            total += ygold[i] * ynorm[i];
        }

        count += b;
    }

    -total / count as f64
}
