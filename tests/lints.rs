//! Generated code is warning-free under the strictest lints a user may set.
//!
//! `cargo clippy --all-targets -- -D warnings` compiles this file in CI; a lint firing on any
//! function the macro generates fails the build.
#![deny(
    warnings,
    missing_docs,
    unused_qualifications,
    unused_results,
    clippy::all,
    clippy::pedantic
)]
// The user's own code below uses the mathematical names `x, y, a, b`, indexes arrays in range
// loops (`for` runs over integer ranges) and shows `continue`; those lints are about it, not
// about what the macro generates.
#![allow(
    clippy::many_single_char_names,
    clippy::needless_range_loop,
    clippy::needless_continue
)]

/// Public differentiated functions, whose generated siblings must carry docs.
pub mod model {
    use autodiff::{differentiate, relu, sigmoid, softplus};

    /// The seed's function.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn seed(x: f64, y: f64) -> f64 {
        (x + y) * y
    }

    /// The single neuron's squared error.
    #[differentiate]
    #[must_use]
    pub fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
        let z = w * x;
        let s = z + b;
        let a = sigmoid(s);
        let e = a - t;
        e.powi(2)
    }

    const SCALE: f64 = 0.5;

    /// Every operation of the table, with shadowing, reassignment, constants and casts.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn everything(x: f64, y: f64, n: i32, k: u16) -> f64 {
        use std::f64::consts::PI;
        const HALF: f64 = 0.5;
        let a = x.exp() + x.exp2() + x.exp_m1() + (x * x + 1.0).ln() + y.abs().ln_1p();
        let a = a + (y * y + 2.0).log(3.0) + (x * x + 1.0).log2() + (y * y + 1.0).log10();
        let mut b = (x * x + 1.0).sqrt() + x.cbrt() + x.powi(n) + (y * y + 1.0).powf(x);
        b += x.sin() * x.cos() + (x * HALF).tan() + (x * 0.1).asin() + (y * 0.1).acos();
        b -= x.atan() + y.atan2(x) + x.sinh() + x.cosh() + x.tanh() + x.asinh();
        b *= (y * y + 2.0).acosh() + (x * 0.1).atanh() + x.abs() + x.signum();
        b /= 1.0 + x.max(y).powi(2) + x.min(y).powi(2);
        let c = x.clamp(-1.0, 1.0) + x.hypot(y) + (x * x + 1.0).recip() + x.mul_add(y, 1.0);
        let c = c + x.floor() + x.ceil() + x.round() + x.trunc() + x.fract();
        let c = c + x.to_radians() + y.to_degrees() + sigmoid(x) + relu(y) + softplus(x);
        let d = f64::exp(x) * PI * SCALE - -x + f64::from(k) * y % 2.0;
        a * b + c * d
    }

    /// Single precision, with a parameter that is not differentiated.
    #[differentiate(wrt(y))]
    #[must_use]
    pub fn single(x: f32, y: f32, k: u8) -> f32 {
        let t = f32::exp(2.0) * y;
        t * x + f32::from(k) * y.sin()
    }

    /// Branches, loops, early exits, arrays and slices.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn control(x: &[f64], w: [f64; 3], b: f64, n: usize) -> f64 {
        let mut h = [0.0; 3];
        for i in 0..3 {
            let mut acc = b;
            for j in 0..x.len() {
                acc += w[i] * x[j];
            }
            h[i] = acc.tanh();
        }
        let mut s = 0.0;
        for i in (0..3).rev() {
            if h[i] > 0.0 {
                s += h[i] * h[i];
            } else if h[i] < -0.5 {
                continue;
            } else {
                s -= h[i];
            }
        }
        let mut k = 0;
        while k < n {
            s = 0.5 * (s + b / (s + 1.0));
            k += 1;
            if s > 100.0 {
                break;
            }
        }
        let mut p = 1.0;
        loop {
            p *= 1.5;
            if p > 4.0 {
                break;
            }
        }
        for i in 0..=2 {
            if w[i] > 10.0 {
                return s * p;
            }
        }
        let y = if b > 0.0 { s * b } else { s - b };
        y + p
    }

    /// A loop whose backward code runs inside it, with a carry to the next element, a result
    /// scaled after the loop, and `#[inline]`, which the generated functions carry.
    #[differentiate(reverse, forward)]
    #[inline]
    #[must_use]
    pub fn chain(x: &[f64], c: f64) -> f64 {
        let mut s = 0.0;
        for i in 1..x.len() {
            let d = x[i] - x[i - 1];
            s += d * d;
        }
        s * c + c
    }

    /// A constant function: the parameter is unused and its gradient is zero.
    #[differentiate(reverse, forward)]
    #[allow(unused_variables)]
    #[must_use]
    pub fn constant(x: f64) -> f64 {
        1.0
    }
}

/// Everyday Rust: iterator chains, closures, patterns, `match`, array values and assertions.
pub mod idioms {
    use autodiff::differentiate;

    /// Iterators over slices and arrays, ending in `sum`, `product` and `fold`.
    #[differentiate(reverse, forward)]
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn chains(x: &[f64], w: [f64; 4]) -> f64 {
        let dot: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
        let rosenbrock = x
            .windows(2)
            .map(|p| 100.0 * (p[1] - p[0] * p[0]).powi(2) + (1.0 - p[0]).powi(2))
            .sum::<f64>();
        let pairs: f64 = w.chunks_exact(2).map(|c| c[0] * c[1]).product();
        let folded = w
            .iter()
            .rev()
            .skip(1)
            .step_by(2)
            .fold(1.0, |acc, v| acc * 0.5 + v);
        let mut s = dot + rosenbrock + pairs + folded;
        for (i, v) in x.iter().enumerate().take(3) {
            s += i as f64 * v.sin();
        }
        s
    }

    /// Closures, patterns, array values, `match` and assertions.
    ///
    /// # Panics
    ///
    /// If `p[0]` is a million or more in magnitude.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn patterns(p: &[f64; 2], k: i32, flag: bool) -> f64 {
        assert!(p[0].abs() < 1e6, "p[0] = {}", p[0]);
        debug_assert_eq!(p.len(), 2);
        let [x, y] = *p;
        let (u, v) = (x * y, x - y);
        let scale = |t: f64| t * u;
        let c = [0.5, -1.0];
        let squares = p.map(|t| t * t);
        let base = match k {
            0 => u,
            n if n < 0 => v,
            1..=9 => scale(v),
            _ => c[0] * x + c[1] * y,
        };
        let sign = match (k, flag) {
            (_, true) => 1.0,
            _ => -1.0,
        };
        sign * base + squares.iter().sum::<f64>()
    }
}

#[test]
fn lint_crate_compiles_and_runs() {
    let (v, dx, dy) = model::seed_grad(2.0, 3.0);
    assert_eq!((v, dx, dy), (15.0, 3.0, 8.0));
    let (v, t) = model::seed_jvp(2.0, 1.0, 3.0, 0.0);
    assert_eq!((v, t), (15.0, 3.0));
    let (l, ..) = model::neuron_grad(2.0, 0.5, 0.1, 1.0);
    assert!(l > 0.0);
    let (v, ..) = model::everything_grad(0.3, 0.7, 2, 3);
    assert_eq!(v.to_bits(), model::everything(0.3, 0.7, 2, 3).to_bits());
    let (v, _) = model::single_grad(0.3, 0.7, 2);
    assert_eq!(v.to_bits(), model::single(0.3, 0.7, 2).to_bits());
    assert_eq!(model::constant_grad(1.0), (1.0, 0.0));
    let x = [0.5, -0.25];
    let w = [0.3, -0.2, 0.1];
    let (v, _, _, _) = model::control_grad(&x, w, 0.7, 3);
    assert_eq!(v.to_bits(), model::control(&x, w, 0.7, 3).to_bits());
    assert_eq!(model::constant_jvp(1.0, 1.0), (1.0, 0.0));
    // (x₁ − x₀)² c + c: ∂/∂x₀ = −2 (x₁ − x₀) c, ∂/∂x₁ = 2 (x₁ − x₀) c, ∂/∂c = (x₁ − x₀)² + 1.
    let (v, d_x, d_c) = model::chain_grad(&[1.0, 3.0], 0.5);
    assert_eq!((v, d_x, d_c), (2.5, vec![-2.0, 2.0], 5.0));
    let x = [0.5, -0.25, 1.5];
    let w = [0.3, -0.2, 0.1, 0.7];
    let (v, _, _) = idioms::chains_grad(&x, w);
    assert_eq!(v.to_bits(), idioms::chains(&x, w).to_bits());
    let (v, _) = idioms::chains_jvp(&x, &x, w, w);
    assert_eq!(v.to_bits(), idioms::chains(&x, w).to_bits());
    for k in [-1, 0, 3, 12] {
        let (v, _) = idioms::patterns_grad(&[0.5, -0.25], k, k > 0);
        assert_eq!(
            v.to_bits(),
            idioms::patterns(&[0.5, -0.25], k, k > 0).to_bits()
        );
    }
}
