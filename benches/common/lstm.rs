//! (g) ADBench's LSTM objective (microsoft/ADBench, `src/cpp/shared/lstm.h`), differentiated with
//! respect to its `8 l b + 3 b` parameters, laid out in one slice as ADBench lays out its
//! gradient:
//!
//! | range | parameters |
//! |---|---|
//! | `0..8 l b` | `main_params`: per layer, the weights of the forget, input, output and change gates, then their biases, `b` each |
//! | `8 l b..8 l b + 3 b` | `extra_params`: the input weights, the output weights, the output biases |
//!
//! Three forms of the objective:
//!
//! - [`lstm_natural::lstm_objective`](super::lstm_natural::lstm_objective): ADBench's, with its
//!   helpers writing into buffers and its sub-slices: the target form for `#[differentiate]`,
//!   which refuses it today;
//! - [`lstm_objective`]: the closest form `#[differentiate]` accepts today: `lstm_model` takes
//!   the whole parameter and state slices and the layer's index instead of sub-slices, and
//!   `lstm_predict` is inlined where ADBench calls it; ADBench's statements, in ADBench's order,
//!   otherwise unchanged;
//! - [`lstm_objective_d`]: ADBench's hand-written gradient
//!   (`src/cpp/modules/manual/lstm_d.cpp`), the baseline: a forward propagation of the state's
//!   Jacobian with respect to the parameters.
//!
//! The data follow ADBench's generator (`data/lstm/gen_data.py`): the parameters and the initial
//! state uniform in `[0, 1)`, and the sequence `c` characters of text, each as its `b = 14` bits,
//! most significant first. ADBench's text (`lstm_full.txt`) is not reproduced: the characters
//! are drawn from a fixed seed with English letter frequencies, spaces, punctuation, line breaks
//! and the apostrophe U+2019 (which, as in ADBench's text, makes 14 bits the width).
// ADBench's loops index several arrays with one counter, and its arguments are ADBench's.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]
// "ADBench" is a name, not code.
#![allow(clippy::doc_markdown)]
// Character counts are far below 2^52.
#![allow(clippy::cast_precision_loss)]
// The state is copied element by element, as `#[differentiate]` takes it.
#![allow(clippy::manual_memcpy)]
// `self::sigmoid` is ADBench's own logistic function, differentiated through its
// `sigmoid_grad`: unqualified, the name would be taken for the runtime's `sigmoid`.
#![allow(unused_qualifications)]

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// The `(l, c)` at which LSTM is benchmarked: ADBench's layer and character counts.
pub const LSTM_SIZES: [(usize, usize); 4] = [(2, 1024), (2, 4096), (4, 1024), (4, 4096)];
/// The width of a character, ADBench's `b`: the bits of the widest character in its text.
pub const BITS: usize = 14;

/// The logistic function, ADBench's `sigmoid`.
#[differentiate]
#[must_use]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln(Σ exp(xᵢ) + 2)`, ADBench's `logsumexp` (the `+ 2` is ADBench's).
#[differentiate]
#[must_use]
pub fn logsumexp(vect: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..vect.len() {
        sum += vect[i].exp();
    }
    sum += 2.0;
    sum.ln()
}

/// ADBench's `lstm_model` for layer `layer`, in the form `#[differentiate]` accepts: the whole
/// parameter and state slices and the layer's index, where ADBench passes the layer's views;
/// the views are sub-slices taken here instead, and the state is indexed at the layer's hidden
/// and cell offsets.
#[differentiate]
pub fn lstm_model(
    hsize: usize,
    layer: usize,
    main_params: &[f64],
    state: &mut [f64],
    input: &[f64],
) {
    let params = 8 * hsize * layer;
    let weight_forget = &main_params[params..params + hsize];
    let weight_ingate = &main_params[params + hsize..params + 2 * hsize];
    let weight_outgate = &main_params[params + 2 * hsize..params + 3 * hsize];
    let weight_change = &main_params[params + 3 * hsize..params + 4 * hsize];
    let bias_forget = &main_params[params + 4 * hsize..params + 5 * hsize];
    let bias_ingate = &main_params[params + 5 * hsize..params + 6 * hsize];
    let bias_outgate = &main_params[params + 6 * hsize..params + 7 * hsize];
    let bias_change = &main_params[params + 7 * hsize..params + 8 * hsize];
    let hidden = 2 * hsize * layer;
    let cell = hidden + hsize;
    for i in 0..hsize {
        // gates for i-th cell/hidden
        let forget = self::sigmoid(input[i] * weight_forget[i] + bias_forget[i]);
        let ingate = self::sigmoid(state[hidden + i] * weight_ingate[i] + bias_ingate[i]);
        let outgate = self::sigmoid(input[i] * weight_outgate[i] + bias_outgate[i]);
        let change = (state[hidden + i] * weight_change[i] + bias_change[i]).tanh();

        state[cell + i] = state[cell + i] * forget + ingate * change;
        state[hidden + i] = outgate * state[cell + i].tanh();
    }
}

/// ADBench's `lstm_objective` in the form `#[differentiate]` accepts: `lstm_predict` inlined
/// where it is called (a call may write one buffer, and it writes the state and the
/// prediction), the state copied element by element, and [`lstm_model`] called with the layer's
/// index.
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
    let mut layer_state = vec![0.0; state.len()];
    for i in 0..state.len() {
        layer_state[i] = state[i];
    }
    let mut ypred = vec![0.0; b];
    let mut ynorm = vec![0.0; b];
    let in_weight = &extra_params[..b];
    let out_weight = &extra_params[b..2 * b];
    let out_bias = &extra_params[2 * b..3 * b];
    for t in 0..c - 1 {
        // lstm_predict(l, b, main_params, extra_params, &mut state, &sequence[t * b..], &mut ypred)
        let input = &sequence[t * b..(t + 1) * b];
        for i in 0..b {
            ypred[i] = input[i] * in_weight[i];
        }
        for i in 0..l {
            lstm_model(b, i, main_params, &mut layer_state, &ypred);
            // layer_output = state.layer_state[i].hidden
            for j in 0..b {
                ypred[j] = layer_state[2 * b * i + j];
            }
        }
        for i in 0..b {
            ypred[i] = ypred[i] * out_weight[i] + out_bias[i];
        }

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

// ---------------------------------------------------------------------------------------------
// ADBench's hand-written gradient (`lstm_d.cpp`, `lstm_d_structures.h`). ADBench's structures of
// pointers into one allocation are flat buffers here, indexed as those pointers index them:
//
// - a state element's gradient (`StateElementGradientPredict`, `GS = 10 l + 1` values): for each
//   of the 8 parameter kinds (weight, then bias, of the forget, input, output and change gates)
//   `l` derivatives, one per layer; then `l` by the previous hidden values, `l` by the previous
//   cell values, and 1 by the input weight;
// - a layer's state Jacobian (`LayerStateJacobianPredict`): `b` hidden then `b` cell elements;
//   the state's Jacobian (`StateJacobianPredict`): `l` layers;
// - a prediction element's gradient (`PredictionElementGradient`, `10 l + 3` values): the same,
//   then by the output weight and the output bias; the prediction's Jacobian: `b` elements;
// - a gradient by the parameters (`GradByParams`): the parameters' own layout.

/// The offset of the derivatives by the previous hidden values in an element's gradient.
const D_HIDDEN: usize = 8;
/// The offset of the derivatives by the previous cell values.
const D_CELL: usize = 9;
/// The offset of the derivative by the input weight.
const D_EXTRA_IN: usize = 10;

/// The derivatives of one new hidden or cell value of one layer (`StateElementGradientModel`).
// ADBench's field names.
#[allow(clippy::struct_field_names)]
#[derive(Clone, Copy, Default)]
struct ElementModel {
    /// By the weights of the forget, input, output and change gates.
    d_weight: [f64; 4],
    /// By their biases.
    d_bias: [f64; 4],
    d_hidden: f64,
    d_cell: f64,
    d_input: f64,
}

/// `sigmoid(x)` and its derivative (ADBench's `sigmoid_d`).
fn sigmoid_d(x: f64) -> (f64, f64) {
    let s = sigmoid(x);
    (s, s * (1.0 - s))
}

/// `tanh(x)` and its derivative (ADBench's `tanh_d`).
fn tanh_d(x: f64) -> (f64, f64) {
    let t = x.tanh();
    (t, 1.0 - t * t)
}

/// The value of [`logsumexp`] and its gradient, written into `jac` (ADBench's `logsumexp_d`).
fn logsumexp_d(vect: &[f64], jac: &mut [f64]) -> f64 {
    for i in 0..vect.len() {
        jac[i] = vect[i].exp();
    }
    let mut sum = 0.0;
    for i in 0..vect.len() {
        sum += jac[i];
    }
    sum += 2.0;
    for i in 0..vect.len() {
        jac[i] /= sum;
    }
    sum.ln()
}

/// One layer and the Jacobian of its new state with respect to its parameters, its previous
/// state and its input (ADBench's `lstm_model_d`): `params` the layer's `8 hsize` parameters,
/// `hidden` and `cell` its state, updated; `jac_hidden` and `jac_cell` the derivatives.
fn lstm_model_d(
    hsize: usize,
    params: &[f64],
    hidden: &mut [f64],
    cell: &mut [f64],
    input: &[f64],
    jac_hidden: &mut [ElementModel],
    jac_cell: &mut [ElementModel],
) {
    let weight = |gate: usize, i: usize| params[gate * hsize + i];
    let bias = |gate: usize, i: usize| params[(4 + gate) * hsize + i];
    for i in 0..hsize {
        // Only get relevant derivatives
        let forget_in = input[i] * weight(0, i) + bias(0, i);
        let (forget, forget_sd) = sigmoid_d(forget_in);
        let forget_dw = forget_sd * input[i];
        let forget_db = forget_sd;
        let forget_di = forget_sd * weight(0, i);

        let ingate_in = hidden[i] * weight(1, i) + bias(1, i);
        let (ingate, ingate_sd) = sigmoid_d(ingate_in);
        let ingate_dw = ingate_sd * hidden[i];
        let ingate_db = ingate_sd;
        let ingate_dh = ingate_sd * weight(1, i);

        let outgate_in = input[i] * weight(2, i) + bias(2, i);
        let (outgate, outgate_sd) = sigmoid_d(outgate_in);
        let outgate_dw = outgate_sd * input[i];
        let outgate_db = outgate_sd;
        let outgate_di = outgate_sd * weight(2, i);

        let change_in = hidden[i] * weight(3, i) + bias(3, i);
        let (change, change_td) = tanh_d(change_in);
        let change_dw = change_td * hidden[i];
        let change_db = change_td;
        let change_dh = change_td * weight(3, i);

        // Cell derivatives
        let orig_cell = cell[i];
        cell[i] = orig_cell * forget + ingate * change;
        let jc = ElementModel {
            d_weight: [
                orig_cell * forget_dw,
                change * ingate_dw,
                0.0,
                ingate * change_dw,
            ],
            d_bias: [
                orig_cell * forget_db,
                change * ingate_db,
                0.0,
                ingate * change_db,
            ],
            d_hidden: ingate * change_dh + change * ingate_dh,
            d_cell: forget,
            d_input: orig_cell * forget_di,
        };
        jac_cell[i] = jc;

        // Hidden derivatives
        let (hidden_t, mut hidden_td) = tanh_d(cell[i]);
        hidden[i] = outgate * hidden_t;
        hidden_td *= outgate;
        jac_hidden[i] = ElementModel {
            d_weight: [
                hidden_td * jc.d_weight[0],
                hidden_td * jc.d_weight[1],
                hidden_t * outgate_dw,
                hidden_td * jc.d_weight[3],
            ],
            d_bias: [
                hidden_td * jc.d_bias[0],
                hidden_td * jc.d_bias[1],
                hidden_t * outgate_db,
                hidden_td * jc.d_bias[3],
            ],
            d_hidden: hidden_td * jc.d_hidden,
            d_cell: hidden_td * jc.d_cell,
            d_input: outgate_di * hidden_t + hidden_td * jc.d_input,
        };
    }
}

/// One prediction with the Jacobians of the new state and of the prediction with respect to
/// the parameters and the previous state (ADBench's `lstm_predict_d`). `zero_layer` (one
/// layer's Jacobian) and `model_hidden`, `model_cell` are scratch buffers reused across calls.
fn lstm_predict_d(
    l: usize,
    b: usize,
    main_params: &[f64],
    extra_params: &[f64],
    state: &mut [f64],
    input: &[f64],
    zero_layer: &mut [f64],
    model_hidden: &mut [ElementModel],
    model_cell: &mut [ElementModel],
    output: &mut [f64],
    state_jac: &mut [f64],
    output_jac: &mut [f64],
) {
    let gs = 10 * l + 1;
    let ps = 10 * l + 3;
    let layer_size = 2 * b * gs;
    let (in_weight, rest) = extra_params.split_at(b);
    let (out_weight, out_bias) = rest.split_at(b);

    // Intial setup (from predict())
    for i in 0..b {
        output[i] = input[i] * in_weight[i];
        // note that the rest of zero_layer's d_hidden and d_cell are unused
        zero_layer[i * gs + D_EXTRA_IN * l] = input[i];
    }

    // Main LSTM loop (from predict())
    for i in 0..l {
        let (done, layer_state) = state.split_at_mut(2 * b * i);
        let (hidden, cell) = layer_state[..2 * b].split_at_mut(b);
        // The current output / next layer's input: the output, then the last layer's hidden.
        let layer_input: &[f64] = if i == 0 {
            output
        } else {
            &done[2 * b * (i - 1)..2 * b * (i - 1) + b]
        };
        lstm_model_d(
            b,
            &main_params[8 * b * i..8 * b * (i + 1)],
            hidden,
            cell,
            layer_input,
            model_hidden,
            model_cell,
        );
        // The Jacobian of the previous layer.
        let (before, this) = state_jac.split_at_mut(layer_size * i);
        let prev: &[f64] = if i == 0 {
            zero_layer
        } else {
            &before[layer_size * (i - 1)..]
        };
        let this = &mut this[..layer_size];

        // set state_jac's layer i
        for j in 0..b {
            let (h, c) = (j * gs, (j + b) * gs);
            let prev_h = j * gs;
            let hidden_j_d_input = model_hidden[j].d_input;
            let cell_j_d_input = model_cell[j].d_input;
            // derivatives by variables on which layer_output depends
            this[h + D_EXTRA_IN * l] = hidden_j_d_input * prev[prev_h + D_EXTRA_IN * l];
            this[c + D_EXTRA_IN * l] = cell_j_d_input * prev[prev_h + D_EXTRA_IN * l];
            for k in 0..i {
                for f in 0..10 {
                    this[h + f * l + k] = hidden_j_d_input * prev[prev_h + f * l + k];
                }
                for f in 0..10 {
                    this[c + f * l + k] = cell_j_d_input * prev[prev_h + f * l + k];
                }
            }
            // derivatives by variables on which lstm_model_d depends directly
            for (at, m) in [(h, &model_hidden[j]), (c, &model_cell[j])] {
                for gate in 0..4 {
                    this[at + gate * l + i] = m.d_weight[gate];
                    this[at + (4 + gate) * l + i] = m.d_bias[gate];
                }
                this[at + D_HIDDEN * l + i] = m.d_hidden;
                this[at + D_CELL * l + i] = m.d_cell;
            }
            // derivatives by variable on which lstm_model_d does not depend (zero)
            for k in i + 1..l {
                for f in 0..10 {
                    this[h + f * l + k] = 0.0;
                    this[c + f * l + k] = 0.0;
                }
            }
        }
    }
    let prev = if l == 0 {
        &*zero_layer
    } else {
        &state_jac[layer_size * (l - 1)..layer_size * l]
    };
    let layer_output = &state[2 * b * (l - 1)..2 * b * (l - 1) + b];

    // Final changes (from predict())
    for i in 0..b {
        let cur_out_weight = out_weight[i];
        let (p, prev_h) = (i * ps, i * gs);
        // compute output
        output[i] = layer_output[i] * cur_out_weight + out_bias[i];
        // compute the derivatives of output
        output_jac[p + D_EXTRA_IN * l] = cur_out_weight * prev[prev_h + D_EXTRA_IN * l];
        output_jac[p + D_EXTRA_IN * l + 1] = layer_output[i];
        output_jac[p + D_EXTRA_IN * l + 2] = 1.0;
        for j in 0..l {
            for f in 0..10 {
                output_jac[p + f * l + j] = cur_out_weight * prev[prev_h + f * l + j];
            }
        }
    }
}

/// The gradient of `logsumexp(prediction(params))` with respect to the parameters, into
/// `grad_lse`: ADBench's `logsumexp_grad`, renamed since `#[differentiate]` on [`logsumexp`]
/// emits a `logsumexp_grad` of its own.
fn logsumexp_grad_by_params(
    l: usize,
    b: usize,
    lse_d: &[f64],
    output_jac: &[f64],
    grad_lse: &mut [f64],
) {
    let ps = 10 * l + 3;
    let extra = 8 * b * l;
    for i in 0..b {
        let lse_d_i = lse_d[i];
        let p = i * ps;
        for j in 0..l {
            for f in 0..8 {
                grad_lse[8 * b * j + f * b + i] = lse_d_i * output_jac[p + f * l + j];
            }
        }
        grad_lse[extra + i] = lse_d_i * output_jac[p + D_EXTRA_IN * l];
        grad_lse[extra + b + i] = lse_d_i * output_jac[p + D_EXTRA_IN * l + 1];
        grad_lse[extra + 2 * b + i] = lse_d_i * output_jac[p + D_EXTRA_IN * l + 2];
    }
}

/// Adds one prediction's term to the loss gradient (ADBench's `update_loss_gradient`), from
/// the gold value `ygold`, the gradient of the log-sum-exp `grad_lse` and the prediction's
/// Jacobian.
fn update_loss_gradient(
    l: usize,
    b: usize,
    ygold: &[f64],
    grad_lse: &[f64],
    output_jac: &[f64],
    loss_grad: &mut [f64],
) {
    let ps = 10 * l + 3;
    let extra = 8 * b * l;
    for i in 0..b {
        let ygold_i = ygold[i];
        for j in 0..b {
            if i == j {
                let p = i * ps;
                for k in 0..l {
                    for f in 0..8 {
                        let at = 8 * b * k + f * b + j;
                        loss_grad[at] += ygold_i * (output_jac[p + f * l + k] - grad_lse[at]);
                    }
                }
                for e in 0..3 {
                    let at = extra + e * b + j;
                    loss_grad[at] += ygold_i * (output_jac[p + D_EXTRA_IN * l + e] - grad_lse[at]);
                }
            } else {
                for k in 0..l {
                    for f in 0..8 {
                        let at = 8 * b * k + f * b + j;
                        loss_grad[at] -= ygold_i * grad_lse[at];
                    }
                }
                for e in 0..3 {
                    let at = extra + e * b + j;
                    loss_grad[at] -= ygold_i * grad_lse[at];
                }
            }
        }
    }
}

/// Adds (D pred / D state_(t-1)) · (D state_(t-1) / D params) to the prediction's Jacobian
/// (ADBench's `update_pred_jacobian_with_prev_state_jacobian`).
fn update_pred_jacobian_with_prev_state_jacobian(
    l: usize,
    b: usize,
    prev_state_jac: &[f64],
    output_jac: &mut [f64],
) {
    let gs = 10 * l + 1;
    let ps = 10 * l + 3;
    let layer_size = 2 * b * gs;
    for pos in 0..b {
        let p = pos * ps;
        for i in 0..l {
            let d_hidden = output_jac[p + D_HIDDEN * l + i];
            let d_cell = output_jac[p + D_CELL * l + i];
            let h = layer_size * i + pos * gs;
            let c = layer_size * i + (pos + b) * gs;
            for j in 0..l {
                for f in 0..8 {
                    output_jac[p + f * l + j] += d_hidden * prev_state_jac[h + f * l + j]
                        + d_cell * prev_state_jac[c + f * l + j];
                }
            }
            output_jac[p + D_EXTRA_IN * l] += d_hidden * prev_state_jac[h + D_EXTRA_IN * l]
                + d_cell * prev_state_jac[c + D_EXTRA_IN * l];
        }
    }
}

/// Adds (D state_t / D state_(t-1)) · (D state_(t-1) / D params) to the state's Jacobian
/// (ADBench's `update_state_jacobian_with_prev_state_jacobian`).
fn update_state_jacobian_with_prev_state_jacobian(
    l: usize,
    b: usize,
    prev_state_jac: &[f64],
    state_jac: &mut [f64],
) {
    let gs = 10 * l + 1;
    let layer_size = 2 * b * gs;
    for pos in 0..b {
        for i in 0..l {
            let h = layer_size * i + pos * gs;
            let c = layer_size * i + (pos + b) * gs;
            for j in 0..l {
                let h_d_hidden = state_jac[h + D_HIDDEN * l + j];
                let h_d_cell = state_jac[h + D_CELL * l + j];
                let c_d_hidden = state_jac[c + D_HIDDEN * l + j];
                let c_d_cell = state_jac[c + D_CELL * l + j];
                let ph = layer_size * j + pos * gs;
                let pc = layer_size * j + (pos + b) * gs;
                for k in 0..l {
                    for f in 0..8 {
                        let (dh, dc) = (
                            prev_state_jac[ph + f * l + k],
                            prev_state_jac[pc + f * l + k],
                        );
                        state_jac[h + f * l + k] += h_d_hidden * dh + h_d_cell * dc;
                        state_jac[c + f * l + k] += c_d_hidden * dh + c_d_cell * dc;
                    }
                }
                let (dh, dc) = (
                    prev_state_jac[ph + D_EXTRA_IN * l],
                    prev_state_jac[pc + D_EXTRA_IN * l],
                );
                state_jac[h + D_EXTRA_IN * l] += h_d_hidden * dh + h_d_cell * dc;
                state_jac[c + D_EXTRA_IN * l] += c_d_hidden * dh + c_d_cell * dc;
            }
        }
    }
}

/// ADBench's Manual gradient of [`lstm_objective`] (`lstm_objective_d`): the loss, and its
/// gradient with respect to `main_params` then `extra_params` written into `grad`. Needs `c >= 3`.
#[must_use]
pub fn lstm_objective_d(
    l: usize,
    c: usize,
    b: usize,
    main_params: &[f64],
    extra_params: &[f64],
    state: &[f64],
    sequence: &[f64],
    grad: &mut [f64],
) -> f64 {
    assert!(c >= 3, "the Manual gradient needs at least 3 characters");
    let mut total = 0.0;
    let count = b * (c - 1);
    let total_params_count = 8 * l * b + 3 * b;
    let mut state = state.to_vec();
    let sequence_at = |t: usize| &sequence[t * b..(t + 1) * b];
    let gs = 10 * l + 1;
    let state_jac_size = 2 * b * gs * l;
    let mut ypred = vec![0.0; b];
    let mut lse_d = vec![0.0; b];
    let mut prev_state_jac = vec![0.0; state_jac_size];
    let mut state_jac = vec![0.0; state_jac_size];
    let mut ypred_jac = vec![0.0; (10 * l + 3) * b];
    let mut grad_lse_ypred = vec![0.0; total_params_count];

    // temps for lstm_predict_d
    let mut zero_layer = vec![0.0; 2 * b * gs];
    let mut model_hidden = vec![ElementModel::default(); b];
    let mut model_cell = vec![ElementModel::default(); b];

    let grad = &mut grad[..total_params_count];
    grad.fill(0.0);

    lstm_predict_d(
        l,
        b,
        main_params,
        extra_params,
        &mut state,
        sequence_at(0),
        &mut zero_layer,
        &mut model_hidden,
        &mut model_cell,
        &mut ypred,
        &mut prev_state_jac,
        &mut ypred_jac,
    );

    let mut lse = logsumexp_d(&ypred, &mut lse_d);
    logsumexp_grad_by_params(l, b, &lse_d, &ypred_jac, &mut grad_lse_ypred);

    let mut ygold = sequence_at(1);

    for i in 0..b {
        total += ygold[i] * (ypred[i] - lse);
    }

    update_loss_gradient(l, b, ygold, &grad_lse_ypred, &ypred_jac, grad);

    for t in 1..c - 2 {
        lstm_predict_d(
            l,
            b,
            main_params,
            extra_params,
            &mut state,
            sequence_at(t),
            &mut zero_layer,
            &mut model_hidden,
            &mut model_cell,
            &mut ypred,
            &mut state_jac,
            &mut ypred_jac,
        );

        // Adding (D state_t / D state_(t-1)) * (D state_(t-1) / D params) to state_jacobian w.r.t. params
        update_state_jacobian_with_prev_state_jacobian(l, b, &prev_state_jac, &mut state_jac);

        // Adding (D pred / D state_(t-1)) * (D state_(t-1) / D params) to ypred_jacobian w.r.t. params
        update_pred_jacobian_with_prev_state_jacobian(l, b, &prev_state_jac, &mut ypred_jac);

        lse = logsumexp_d(&ypred, &mut lse_d);
        // D logsumexp(pred) / D params
        logsumexp_grad_by_params(l, b, &lse_d, &ypred_jac, &mut grad_lse_ypred);

        ygold = sequence_at(t + 1);

        for i in 0..b {
            total += ygold[i] * (ypred[i] - lse);
        }

        update_loss_gradient(l, b, ygold, &grad_lse_ypred, &ypred_jac, grad);

        std::mem::swap(&mut state_jac, &mut prev_state_jac);
    }

    lstm_predict_d(
        l,
        b,
        main_params,
        extra_params,
        &mut state,
        sequence_at(c - 2),
        &mut zero_layer,
        &mut model_hidden,
        &mut model_cell,
        &mut ypred,
        &mut state_jac,
        &mut ypred_jac,
    );
    // No need to compute the jacobian for the last state
    // Adding (D pred / D state_(t-1)) * (D state_(t-1) / D params) to ypred_jacobian w.r.t. params
    update_pred_jacobian_with_prev_state_jacobian(l, b, &prev_state_jac, &mut ypred_jac);

    lse = logsumexp_d(&ypred, &mut lse_d);
    // D logsumexp(pred) / D params
    logsumexp_grad_by_params(l, b, &lse_d, &ypred_jac, &mut grad_lse_ypred);

    ygold = sequence_at(c - 1);

    for i in 0..b {
        total += ygold[i] * (ypred[i] - lse);
    }

    update_loss_gradient(l, b, ygold, &grad_lse_ypred, &ypred_jac, grad);

    for g in grad.iter_mut() {
        *g /= -(count as f64);
    }
    -total / count as f64
}

// ---------------------------------------------------------------------------------------------
// The benchmark problem.

/// The characters the text is drawn from, each as often as it appears here: roughly English
/// letter frequencies, with spaces, punctuation, line breaks and the apostrophe U+2019.
const TEXT_POOL: &str = "      eeeeeeeeeeeetttttttttaaaaaaaaoooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrdddd\
    lllluuummmwwffggyyppbbvkT,,..\n\u{2019}";

/// The LSTM objective on one data set.
pub struct Lstm {
    l: usize,
    c: usize,
    /// The initial state, `2 l b` values.
    state: Vec<f64>,
    /// The `c` characters, `b` bits each.
    sequence: Vec<f64>,
    /// The parameters drawn with the data: the point benchmarked.
    params: Vec<f64>,
    /// Whether the primal and the generated gradient are ADBench's own form,
    /// [`lstm_natural::lstm_objective`](super::lstm_natural::lstm_objective), or
    /// [`lstm_objective`].
    adbench: bool,
}

impl Lstm {
    /// ADBench's data with `l` layers and `c` characters of [`BITS`] bits, drawn from a fixed
    /// seed: `main_params`, `extra_params` and the state uniform in `[0, 1)`, in that order, as
    /// `gen_data.py` draws them, then the characters.
    ///
    /// # Panics
    ///
    /// If `l == 0` or `c < 3` (the Manual gradient's least).
    #[must_use]
    pub fn new(l: usize, c: usize) -> Self {
        assert!(l >= 1 && c >= 3, "LSTM needs l >= 1 and c >= 3");
        let b = BITS;
        let mut rng = Rng::new(0x4C53_544D);
        let main_params = rng.vec(8 * l * b, 0.0, 1.0);
        let extra_params = rng.vec(3 * b, 0.0, 1.0);
        let state = rng.vec(2 * l * b, 0.0, 1.0);
        let pool: Vec<char> = TEXT_POOL.chars().collect();
        let mut sequence = Vec::with_capacity(c * b);
        for _ in 0..c {
            // An index in 0..pool.len(): the product is below pool.len() and non-negative.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let k = rng.uniform(0.0, pool.len() as f64) as usize;
            let code = u32::from(pool[k.min(pool.len() - 1)]);
            sequence.extend((0..b).rev().map(|bit| f64::from((code >> bit) & 1)));
        }
        Self {
            l,
            c,
            state,
            sequence,
            params: [main_params, extra_params].concat(),
            adbench: false,
        }
    }

    /// The same data, with the objective in ADBench's own form,
    /// [`lstm_natural::lstm_objective`](super::lstm_natural::lstm_objective).
    #[must_use]
    pub fn adbench_form(l: usize, c: usize) -> Self {
        Self {
            adbench: true,
            ..Self::new(l, c)
        }
    }

    /// `params` split into `(main_params, extra_params)`.
    #[must_use]
    pub fn split<'a>(&self, params: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        params.split_at(8 * self.l * BITS)
    }

    /// The objective in ADBench's own form,
    /// [`lstm_natural::lstm_objective`](super::lstm_natural::lstm_objective).
    #[must_use]
    pub fn natural(&self, params: &[f64]) -> f64 {
        let (main_params, extra_params) = self.split(params);
        super::lstm_natural::lstm_objective(
            self.l,
            self.c,
            BITS,
            main_params,
            extra_params,
            &self.state,
            &self.sequence,
        )
    }
}

impl Problem for Lstm {
    fn family(&self) -> &'static str {
        if self.adbench { "lstm_adbench" } else { "lstm" }
    }

    fn label(&self) -> String {
        format!("{}/l{}c{}", self.family(), self.l, self.c)
    }

    fn dim(&self) -> usize {
        8 * self.l * BITS + 3 * BITS
    }

    fn points(&self) -> Vec<Vec<f64>> {
        super::near(&self.params)
    }

    fn primal(&self, params: &[f64]) -> f64 {
        if self.adbench {
            return self.natural(params);
        }
        let (main_params, extra_params) = self.split(params);
        lstm_objective(
            self.l,
            self.c,
            BITS,
            main_params,
            extra_params,
            &self.state,
            &self.sequence,
        )
    }

    fn eval<T: Real>(&self, params: &[T]) -> T {
        let (l, c, b) = (self.l, self.c, BITS);
        let (main_params, extra_params) = params.split_at(8 * l * b);
        let (in_weight, rest) = extra_params.split_at(b);
        let (out_weight, out_bias) = rest.split_at(b);
        // The operations of `lstm_objective`, in its order. The initial state enters as
        // `p · 0 + s`, exactly `s`, since only `f64`s can be a constant here; the sums start
        // from their first term (`0.0 + t` is `t` exactly).
        let zero = params[0] * 0.0;
        let mut state: Vec<T> = self.state.iter().map(|&s| zero + s).collect();
        let mut ypred: Vec<T> = vec![zero; b];
        let mut total: Option<T> = None;
        for t in 0..c - 1 {
            let input = &self.sequence[t * b..(t + 1) * b];
            for i in 0..b {
                ypred[i] = in_weight[i] * input[i];
            }
            for layer in 0..l {
                let p = &main_params[8 * b * layer..8 * b * (layer + 1)];
                let (hidden, cell) = (2 * b * layer, 2 * b * layer + b);
                for i in 0..b {
                    let forget = (ypred[i] * p[i] + p[4 * b + i]).sigmoid();
                    let ingate = (state[hidden + i] * p[b + i] + p[5 * b + i]).sigmoid();
                    let outgate = (ypred[i] * p[2 * b + i] + p[6 * b + i]).sigmoid();
                    let change = (state[hidden + i] * p[3 * b + i] + p[7 * b + i]).tanh();
                    state[cell + i] = state[cell + i] * forget + ingate * change;
                    state[hidden + i] = outgate * state[cell + i].tanh();
                }
                ypred[..b].copy_from_slice(&state[hidden..hidden + b]);
            }
            for i in 0..b {
                ypred[i] = ypred[i] * out_weight[i] + out_bias[i];
            }
            let mut sum = ypred[0].exp();
            for &y in &ypred[1..] {
                sum = sum + y.exp();
            }
            let lse = (sum + 2.0).ln();
            let ygold = &self.sequence[(t + 1) * b..(t + 2) * b];
            for i in 0..b {
                let term = (ypred[i] - lse) * ygold[i];
                total = Some(total.map_or(term, |s| s + term));
            }
        }
        let total = total.expect("at least one prediction");
        -total / (b * (c - 1)) as f64
    }

    fn hand_written(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let (main_params, extra_params) = self.split(params);
        lstm_objective_d(
            self.l,
            self.c,
            BITS,
            main_params,
            extra_params,
            &self.state,
            &self.sequence,
            grad,
        )
    }

    fn accumulates(&self) -> bool {
        true
    }

    fn has_peer(&self, who: Contender) -> bool {
        // A runtime tape records every operation, about 30 l b per character; forward mode
        // and differences take a pass per parameter.
        let work = self.l * self.c * BITS;
        match who {
            Contender::Echidna | Contender::Reverse => work <= 30_000,
            _ => work * self.dim() <= 1_000_000,
        }
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        v.accumulating(Contender::Generated, |params, g| {
            let (main_params, extra_params) = self.split(params);
            let (d_main, d_extra) = g.split_at_mut(8 * self.l * BITS);
            let grad_into = if self.adbench {
                super::lstm_natural::lstm_objective_grad_into
            } else {
                lstm_objective_grad_into
            };
            grad_into(
                self.l,
                self.c,
                BITS,
                main_params,
                d_main,
                extra_params,
                d_extra,
                &self.state,
                &self.sequence,
            )
            .0
        });
    }
}
