//! (e) The mean squared error of a one-hidden-layer perceptron, 8 inputs → 16 `tanh` units → 1
//! linear output, over a fixed batch of 4 samples, differentiated with respect to its 161
//! parameters, which are laid out in one slice:
//!
//! | range | parameters |
//! |---|---|
//! | `0..128` | hidden weights `W[j][k]`, row `j` per unit |
//! | `128..144` | hidden biases `b[j]` |
//! | `144..160` | output weights `v[j]` |
//! | `160` | output bias `c` |

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// Inputs per sample.
pub const INPUTS: usize = 8;
/// Hidden `tanh` units.
pub const HIDDEN: usize = 16;
/// Samples in the batch.
pub const BATCH: usize = 4;
/// Offset of the hidden biases in the parameter slice.
pub const HIDDEN_BIAS: usize = HIDDEN * INPUTS;
/// Offset of the output weights.
pub const OUT_WEIGHT: usize = HIDDEN_BIAS + HIDDEN;
/// Offset of the output bias.
pub const OUT_BIAS: usize = OUT_WEIGHT + HIDDEN;
/// The number of parameters.
pub const PARAMS: usize = OUT_BIAS + 1;

/// The loss, as `#[differentiate(wrt(w))]` takes it: `data` holds the samples one after
/// another, `targets` one target per sample.
#[differentiate(wrt(w))]
#[must_use]
#[allow(clippy::cast_precision_loss)] // A batch size is far below 2^52.
pub fn mlp_loss(w: &[f64], data: &[f64], targets: &[f64]) -> f64 {
    let mut loss = 0.0;
    for s in 0..targets.len() {
        let mut y = w[OUT_BIAS];
        for j in 0..HIDDEN {
            let mut z = w[HIDDEN_BIAS + j];
            for k in 0..INPUTS {
                z += w[j * INPUTS + k] * data[s * INPUTS + k];
            }
            y += w[OUT_WEIGHT + j] * z.tanh();
        }
        let r = y - targets[s];
        loss += r * r;
    }
    loss / targets.len() as f64
}

/// The MLP loss on a fixed batch.
pub struct Mlp {
    data: Vec<f64>,
    targets: Vec<f64>,
}

impl Mlp {
    /// The loss on a batch drawn once from a fixed seed.
    #[must_use]
    pub fn new() -> Self {
        let mut rng = Rng::new(5);
        Self {
            data: rng.vec(BATCH * INPUTS, -1.0, 1.0),
            targets: rng.vec(BATCH, -1.0, 1.0),
        }
    }
}

impl Default for Mlp {
    fn default() -> Self {
        Self::new()
    }
}

impl Problem for Mlp {
    fn family(&self) -> &'static str {
        "mlp"
    }

    fn dim(&self) -> usize {
        PARAMS
    }

    fn points(&self) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(6);
        (0..3).map(|_| rng.vec(PARAMS, -0.6, 0.6)).collect()
    }

    fn primal(&self, x: &[f64]) -> f64 {
        mlp_loss(x, &self.data, &self.targets)
    }

    #[allow(clippy::cast_precision_loss)] // A batch size is far below 2^52.
    fn eval<T: Real>(&self, w: &[T]) -> T {
        // The first sample starts the sum; `0.0 + r²` is `r²` exactly, so this agrees with the
        // primal bit for bit.
        let squared_error = |s: usize| {
            let x = &self.data[s * INPUTS..(s + 1) * INPUTS];
            let mut y = w[OUT_BIAS];
            for j in 0..HIDDEN {
                let mut z = w[HIDDEN_BIAS + j];
                for k in 0..INPUTS {
                    z = z + w[j * INPUTS + k] * x[k];
                }
                y = y + w[OUT_WEIGHT + j] * z.tanh();
            }
            let r = y - self.targets[s];
            r * r
        };
        let mut loss = squared_error(0);
        for s in 1..self.targets.len() {
            loss = loss + squared_error(s);
        }
        loss / self.targets.len() as f64
    }

    fn hand_written(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        self.hand_written_into(w, grad)
    }

    fn accumulates(&self) -> bool {
        true
    }

    #[allow(clippy::cast_precision_loss)] // A batch size is far below 2^52.
    fn hand_written_into(&self, w: &[f64], grad: &mut [f64]) -> f64 {
        assert_eq!(w.len(), PARAMS);
        assert_eq!(grad.len(), PARAMS);
        let (hidden_w, rest) = w.split_at(HIDDEN_BIAS);
        let (hidden_b, rest) = rest.split_at(HIDDEN);
        let (out_w, out_b) = rest.split_at(HIDDEN);
        let (g_hidden_w, g_rest) = grad.split_at_mut(HIDDEN_BIAS);
        let (g_hidden_b, g_rest) = g_rest.split_at_mut(HIDDEN);
        let (g_out_w, g_out_b) = g_rest.split_at_mut(HIDDEN);
        let scale = 1.0 / self.targets.len() as f64;

        let mut loss = 0.0;
        let mut h = [0.0; HIDDEN];
        for (x, &target) in self.data.chunks_exact(INPUTS).zip(&self.targets) {
            // Forward: the hidden activations are all the adjoint needs.
            let mut y = out_b[0];
            for (((hj, row), &bj), &vj) in h
                .iter_mut()
                .zip(hidden_w.chunks_exact(INPUTS))
                .zip(hidden_b)
                .zip(out_w)
            {
                let z = row.iter().zip(x).fold(bj, |z, (wk, xk)| z + wk * xk);
                *hj = z.tanh();
                y += vj * *hj;
            }
            let r = y - target;
            loss += r * r;

            // Adjoint, seeded with ∂loss/∂y = 2 r / batch.
            let dy = 2.0 * r * scale;
            g_out_b[0] += dy;
            for ((((&hj, &vj), gv), gb), g_row) in h
                .iter()
                .zip(out_w)
                .zip(g_out_w.iter_mut())
                .zip(g_hidden_b.iter_mut())
                .zip(g_hidden_w.chunks_exact_mut(INPUTS))
            {
                *gv += dy * hj;
                let dz = dy * vj * (1.0 - hj * hj);
                *gb += dz;
                for (gw, &xk) in g_row.iter_mut().zip(x) {
                    *gw += dz * xk;
                }
            }
        }
        loss * scale
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        v.accumulating(Contender::Generated, |w, g| {
            mlp_loss_grad_into(w, g, &self.data, &self.targets).0
        });
    }
}
