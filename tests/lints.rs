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
    #[differentiate(reverse, forward, graph, hessian)]
    #[must_use]
    pub fn seed(x: f64, y: f64) -> f64 {
        (x + y) * y
    }

    /// The negation of a negative constant: `-(-2.0)` in the generated code, which rustc's
    /// `double_negations` lint rejects when written `--2.0`.
    #[differentiate(reverse, forward, graph, hessian)]
    #[must_use]
    pub fn negated_constant(x: f64) -> f64 {
        let a = -2.0;
        x * -a
    }

    /// The right-hand side `f(t, y)` of an autonomous system, which leaves its time unused.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn oscillator(_t: f64, y: [f64; 2]) -> [f64; 2] {
        [y[1], -y[0]]
    }

    /// The single neuron's squared error.
    #[differentiate(reverse, graph)]
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
    #[differentiate(reverse, forward, graph, hessian)]
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
    #[differentiate(reverse, graph, hessian, wrt(y))]
    #[must_use]
    pub fn single(x: f32, y: f32, k: u8) -> f32 {
        let t = f32::exp(2.0) * y;
        t * x + f32::from(k) * y.sin()
    }

    /// Branches, loops, early exits, arrays and slices.
    #[differentiate(reverse, forward, graph, hessian)]
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
    #[differentiate(reverse, forward, graph, hessian)]
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

    /// `abs` of a value carried through a loop: its second order pops a tangent that nothing
    /// reads.
    #[differentiate(reverse, hessian)]
    #[must_use]
    pub fn carried_abs(x: f64) -> f64 {
        let mut acc = 0.0;
        let mut s = 1.0;
        for _ in 0..2 {
            s += x;
            acc += s.abs().sin();
        }
        acc
    }

    /// An early return of an element of a slice, then a `min` whose adjoint is zero: second order
    /// writes no `d = d` or `d = e + d` and no empty `if`.
    #[differentiate(reverse, hessian)]
    #[must_use]
    pub fn returns_early(n: usize, x: f64, a: &[f64]) -> f64 {
        let mut acc = x;
        if n == 0 {
            return acc;
        }
        if n > a.len() {
            return acc.atan() + a[1];
        }
        let t = x.min(a[0] * x);
        acc += t * 0.0;
        acc += x * a[0];
        acc * acc
    }

    /// A loop over `0..x.len() - 1` reading `x[i + 1]`, before which the gradient checks the
    /// length once.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn steps(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() - 1 {
            let d = x[i + 1] - x[i];
            s += d * d;
        }
        s
    }

    /// A local array declared in a loop body, stored to in some iterations only: its adjoint is
    /// zeroed where each iteration's backward code ends, and so is its tangent in second order.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn array_in_loop(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() {
            let mut h = [0.0; 2];
            if x[i] > 0.0 {
                h[0] = x[i] * x[i];
            }
            s += h[0].sin() + h[1];
        }
        s
    }

    /// Constant arrays and slices passed to a callee beside an active scalar: zero tangents.
    #[differentiate(reverse, forward, graph, wrt(c))]
    #[must_use]
    pub fn constant_slices(x: &[f64], c: f64) -> f64 {
        let h = [0.5; 2];
        chain(&h, c) + chain(x, c) + chain(&x[1..], c)
    }

    /// Calls: a slice passed straight through (its gradient added into the caller's buffer), a
    /// local array overwritten in a loop and passed whole (its gradients taped), and a constant
    /// struct and an integer argument; drawn with an edge from each element of the arrays.
    #[differentiate(reverse, forward, graph)]
    #[must_use]
    pub fn calls(x: &[f64], c: f64, k: &Scale) -> f64 {
        let mut h = [0.0; 2];
        let mut s = chain(x, c);
        for i in 0..x.len() {
            h[0] = x[i];
            h[1] = c;
            s = s * 0.5 + chain(&h, c) * scaled(k, k.n, x[i]);
        }
        s
    }

    /// A call in a loop reversed after it, whose partial derivatives go on the tape.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn taped_call(x: &[f64], y: f64, k: &Scale) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() {
            s += scaled(k, 2, x[i] * y) * y;
        }
        s.sqrt()
    }

    /// A constant parameter of a type the macro does not see.
    pub struct Scale {
        /// A factor.
        pub n: i32,
    }

    /// A helper with a struct and an integer argument.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn scaled(k: &Scale, n: i32, x: f64) -> f64 {
        x * f64::from(n + k.n)
    }

    /// A constant function: the parameter is unused and its gradient is zero.
    #[differentiate(reverse, forward, graph)]
    #[allow(unused_variables)]
    #[must_use]
    pub fn constant(x: f64) -> f64 {
        1.0
    }

    /// A buffer skipped past its end: the loop's range is empty at compile time.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn skip_past_end(x: f64) -> f64 {
        let mut b: Vec<f64> = vec![0.0; 3];
        b[0] = x;
        let mut s = 0.0;
        for v in b.iter().skip(3) {
            s += v * x;
        }
        s + b[0]
    }

    /// An element of a typed buffer read through a method before anything is stored.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn method_on_a_fresh_buffer(x: f64) -> f64 {
        let b: Vec<f64> = vec![0.0; 2];
        b[1].atan() + x
    }

    /// Three slices and an array output: the hidden function behind `attend_vjp` takes eight
    /// arguments (each slice with its buffer, the output as an out-parameter and its seed).
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn attend(query: &[f64], keys: &[f64], values: &[f64]) -> [f64; 2] {
        [query[0] * keys[0], values[0]]
    }

    /// An array parameter the body stores into, to second order: its direction is stored into
    /// too (`mut`), and one stored a constant as well.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn stored_parameter(mut v: [f64; 2], mut w: [f64; 2]) -> f64 {
        v[0] *= 2.0;
        w[1] = 1.0;
        v[0] * v[1] + w[0] * w[1]
    }

    /// A helper writing a buffer from three slices: its `_vjp_into` takes eight arguments.
    #[differentiate(reverse, forward, hessian)]
    pub fn fused_multiply_add(a: &[f64], b: &[f64], c: &[f64], out: &mut [f64]) {
        for i in 0..out.len() {
            out[i] = a[i] * b[i] + c[i];
        }
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
    assert_eq!(model::negated_constant_grad(3.0), (6.0, 2.0));
    assert_eq!(model::negated_constant_jvp(3.0, 1.0), (6.0, 2.0));
    // Σ (xᵢ₊₁ − xᵢ)² at (1, 2, 4) is 1 + 4, with gradient (−2, 2 − 4, 4).
    let (v, d) = model::steps_grad(&[1.0, 2.0, 4.0]);
    assert_eq!((v, d), (5.0, vec![-2.0, -2.0, 4.0]));
    let (v, dx, dy) = model::seed_grad(2.0, 3.0);
    assert_eq!((v, dx, dy), (15.0, 3.0, 8.0));
    // Nothing is skipped into: the value is `x`, its derivative 1.
    assert_eq!(model::skip_past_end_grad(0.7), (0.7, 1.0));
    assert_eq!(model::skip_past_end_jvp(0.7, 2.0), (0.7, 2.0));
    let (v, d, h) = model::method_on_a_fresh_buffer_hessian(0.7);
    assert_eq!((v, d, h), (0.7, 1.0, [[0.0]]));
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
    let k = model::Scale { n: 2 };
    let (v, d_x, _) = model::calls_grad(&[1.0, 3.0], 0.5, &k);
    assert_eq!(v.to_bits(), model::calls(&[1.0, 3.0], 0.5, &k).to_bits());
    let t = model::calls_jvp(&[1.0, 3.0], &[1.0, 0.0], 0.5, 0.0, &k).1;
    assert!((t - d_x[0]).abs() <= 1e-12 * t.abs());
    let g = model::calls_graph(&[1.0, 3.0], 0.5, &k);
    for (i, d) in d_x.iter().enumerate() {
        let a = g.node(&format!("x[{i}]")).map(autodiff::GraphNode::adjoint);
        assert!(a.is_some_and(|a| (a - d).abs() <= 1e-12 * d.abs()), "{g}");
    }
    let (_, d_c) = model::constant_slices_grad(&[1.0, 3.0, 2.0], 0.5);
    let g = model::constant_slices_graph(&[1.0, 3.0, 2.0], 0.5);
    assert_eq!(g.node("c").map(autodiff::GraphNode::adjoint), Some(d_c));
    let (v, _, _) = model::taped_call_grad(&[1.0, 3.0], 0.5, &k);
    assert_eq!(
        v.to_bits(),
        model::taped_call(&[1.0, 3.0], 0.5, &k).to_bits()
    );
}

/// Run-time-sized buffers and helpers that write into them.
pub mod buffers {
    use autodiff::differentiate;

    /// Writes `a − b` into `out`.
    #[differentiate(reverse, forward)]
    pub fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
        for i in 0..out.len() {
            out[i] = a[i] - b[i];
        }
    }

    /// Writes `s · x` into `out` and returns `s`.
    #[differentiate(reverse, forward)]
    pub fn scale(x: &[f64], s: f64, out: &mut [f64]) -> f64 {
        for i in 0..out.len() {
            out[i] = s * x[i];
        }
        s
    }

    /// Calls `scale`, a helper that also returns a float, as a statement: its value is dropped.
    #[differentiate(reverse, forward, graph)]
    #[must_use]
    #[allow(unused_results)] // as the statement is written
    pub fn scaled_sum(x: &[f64], s: f64) -> f64 {
        let mut o = vec![0.0; x.len()];
        scale(x, s, &mut o);
        o[0] + o[1]
    }

    /// Writes `out ⊙ x` into `out`, reading it first.
    #[differentiate(reverse, forward)]
    pub fn scale_in_place(x: &[f64], out: &mut [f64]) {
        for i in 0..out.len() {
            out[i] *= x[i];
        }
    }

    /// Writes `out ⊙ x ⊙ x` into `out`, passing it on.
    #[differentiate(reverse, forward)]
    pub fn scale_twice(x: &[f64], out: &mut [f64]) {
        scale_in_place(x, out);
        scale_in_place(x, &mut *out);
    }

    /// `Σ vᵢ²`.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn sum_squares(v: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..v.len() {
            s += v[i] * v[i];
        }
        s
    }

    /// `Σ xᵢ²` through a name bound to the array.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn aliased(x: &[f64; 3]) -> f64 {
        let h = x;
        sum_squares(h)
    }

    /// Buffers at the top level and in a loop, written by helpers.
    #[differentiate(reverse, forward, wrt(x, mu))]
    #[must_use]
    pub fn objective(x: &[f64], mu: &[f64], data: &[f64]) -> f64 {
        let d = mu.len();
        let mut centred = vec![0.0; d];
        let mut total = 0.0;
        for i in 0..x.len() / d {
            let mut row = vec![0.0; d];
            for j in 0..d {
                row[j] = x[i * d + j];
            }
            subtract(&row, mu, &mut centred);
            for j in 0..d {
                total += centred[j] * centred[j] * data[j];
            }
        }
        total
    }
}

#[test]
fn buffers_compile_and_run() {
    let (v, d_x, d_mu) = buffers::objective_grad(&[1.0, 2.0], &[0.5, 0.5], &[1.0, 1.0]);
    assert_eq!(
        v.to_bits(),
        buffers::objective(&[1.0, 2.0], &[0.5, 0.5], &[1.0, 1.0]).to_bits()
    );
    assert_eq!((d_x, d_mu), (vec![1.0, 3.0], vec![-1.0, -3.0]));
    let mut out = [0.0; 2];
    let mut d_out = [1.0, 1.0];
    let mut d_x = [0.0; 2];
    let (s, d_s) = buffers::scale_vjp_into(&[1.0, 2.0], &mut d_x, 2.0, &mut out, &mut d_out, 1.0);
    assert_eq!((s, d_s, d_x), (2.0, 4.0, [2.0, 2.0]));
    // o = s x: ∂(o₀ + o₁)/∂x = (s, s), ∂/∂s = x₀ + x₁.
    let (_, d_x, d_s) = buffers::scaled_sum_grad(&[1.0, 2.0], 0.5);
    assert_eq!((d_x, d_s), (vec![0.5, 0.5], 3.0));
    let (_, t) = buffers::scaled_sum_jvp(&[1.0, 2.0], &[1.0, 0.0], 0.5, 1.0);
    assert!((t - 3.5).abs() < 1e-12, "{t}");
    let mut out = [2.0, 3.0];
    let mut d_out = [1.0, 1.0];
    let mut d_x = [0.0; 2];
    buffers::scale_twice_vjp_into(&[1.0, 2.0], &mut d_x, &mut out, &mut d_out);
    assert_eq!((out, d_x, d_out), ([2.0, 12.0], [4.0, 12.0], [1.0, 4.0]));
    assert_eq!(
        buffers::aliased_grad(&[1.0, 2.0, 3.0]).1.map(f64::to_bits),
        [2.0, 4.0, 6.0].map(f64::to_bits)
    );
}

/// Several outputs: Jacobians by reverse sweeps and by forward sweeps in lanes.
pub mod outputs {
    use autodiff::differentiate;

    /// The state's size.
    pub const N: usize = 20;

    /// A planar two-link arm's tip.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn arm(q: [f64; 2]) -> [f64; 2] {
        let a = q[0] + q[1];
        [q[0].cos() + 0.5 * a.cos(), q[0].sin() + 0.5 * a.sin()]
    }

    /// A chain of coupled oscillators, more inputs than one sweep carries.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn chain(x: [f64; N], k: f64) -> [f64; N] {
        let mut dx = [0.0; N];
        for i in 1..N - 1 {
            dx[i] = k * (x[i - 1] - 2.0 * x[i] + x[i + 1]) - x[i].sin();
        }
        dx
    }

    /// Windows and chunks longer than a local array: loops over ranges empty at compile time.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn short_windows(x: f64) -> f64 {
        let h = [x, x * x];
        h.windows(3).map(|w| w[0] * w[2]).sum::<f64>()
            + h.chunks_exact(3).map(|c| c[1]).sum::<f64>()
            + x
    }

    /// The Lorenz-96 system's right-hand side, one output an iteration from the inputs alone,
    /// so that its Jacobian is taken row by row.
    #[differentiate(reverse)]
    #[must_use]
    pub fn lorenz96_rows(x: [f64; N], forcing: f64) -> [f64; N] {
        let mut dx = [0.0; N];
        for i in 0..dx.len() {
            let next = x[(i + 1) % N];
            let back2 = x[(i + N - 2) % N];
            dx[i] = (next - back2) * x[(i + N - 1) % N] - x[i] + forcing;
        }
        dx
    }

    /// The mean and the second moment of weighted values.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn moments(w: &[f64], b: f64) -> (f64, f64) {
        let mut m = 0.0;
        let mut s = 0.0;
        for i in 0..w.len() {
            m += w[i] * b;
            s += w[i] * w[i] * b;
        }
        (m, s)
    }

    /// Polar to Cartesian coordinates, with derivatives by hand.
    #[must_use]
    pub fn to_xy(r: f64, t: f64) -> [f64; 2] {
        [r * t.cos(), r * t.sin()]
    }

    /// `to_xy` and `seedᵀ·J`, by hand.
    #[must_use]
    pub fn to_xy_vjp(r: f64, t: f64, seed: [f64; 2]) -> ([f64; 2], f64, f64) {
        let (c, s) = (t.cos(), t.sin());
        (
            to_xy(r, t),
            seed[0] * c + seed[1] * s,
            r * (seed[1] * c - seed[0] * s),
        )
    }

    /// `to_xy` and its tangent, by hand.
    #[must_use]
    pub fn to_xy_jvp(r: f64, d_r: f64, t: f64, d_t: f64) -> ([f64; 2], [f64; 2]) {
        let (c, s) = (t.cos(), t.sin());
        (to_xy(r, t), [d_r * c - r * s * d_t, d_r * s + r * c * d_t])
    }

    /// Calls with several outputs: generated, with a slice, and hand-written in a loop.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn through_calls(q: [f64; 2], w: &[f64], b: f64) -> f64 {
        let [x, y] = arm(q);
        let (m, s) = moments(w, b);
        let mut t = x * y + m - s;
        for k in 0..2 {
            let [u, v] = to_xy(t, b * f64::from(k));
            t = u + 0.5 * v;
        }
        t
    }
}

#[test]
fn calls_with_several_outputs_compile_and_run() {
    let (q, w, b) = ([0.3, 0.4], [1.0, 2.0], 0.5);
    let (v, d_q, d_w, d_b) = outputs::through_calls_grad(q, &w, b);
    assert_eq!(v.to_bits(), outputs::through_calls(q, &w, b).to_bits());
    let (u, t) = outputs::through_calls_jvp(q, [1.0, 0.0], &w, &[0.0, 0.0], b, 0.0);
    assert_eq!(u.to_bits(), v.to_bits());
    assert!((t - d_q[0]).abs() < 1e-12);
    assert_eq!((d_w.len(), d_b.is_finite()), (2, true));
}

/// Structs, `self` and generic functions.
pub mod structs {
    use autodiff::differentiate;
    use autodiff::num_traits::Float;

    /// A model's parameters.
    #[derive(Default, Debug, Clone, PartialEq)]
    pub struct Model {
        /// Weights.
        pub w: Vec<f64>,
        /// Bias.
        pub b: f64,
        /// How many weights to use.
        pub used: usize,
    }

    impl Model {
        /// A linear model's squared error at one point.
        #[differentiate(reverse, forward, hessian, wrt(self, x))]
        #[must_use]
        pub fn loss(&self, x: &[f64], y: f64) -> f64 {
            let mut p = self.b;
            for i in 0..self.used {
                p += self.w[i] * x[i];
            }
            (p - y) * (p - y)
        }

        /// The same error with `self` a constant, differentiated twice.
        #[differentiate(reverse, hessian)]
        #[must_use]
        pub fn fit(&self, x: &[f64], y: f64) -> f64 {
            let mut p = self.b;
            for i in 0..self.used {
                p += self.w[i] * x[i] * x[i];
            }
            (p - y) * (p - y)
        }
    }

    /// A struct parameter by reference.
    #[differentiate(reverse, forward, hessian, wrt(m))]
    #[must_use]
    pub fn penalty(m: &Model, k: f64) -> f64 {
        k * m.b * m.b + m.w[0]
    }

    /// A struct parameter by value, with a constant struct by value, differentiated twice.
    #[differentiate(reverse, hessian, wrt(m, k))]
    #[must_use]
    #[allow(clippy::needless_pass_by_value)]
    pub fn owned(m: Model, other: Model, k: f64) -> f64 {
        k * m.b * m.w[1] + other.b * m.w[0] * m.w[0]
    }

    /// A generic function.
    ///
    /// # Panics
    ///
    /// Never: every float type represents `0.5`.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn soft<T: Float>(x: T, w: &[T]) -> T {
        let mut s = T::zero();
        for i in 0..w.len() {
            s = s + (w[i] * x).exp();
        }
        s.ln() * T::from(0.5).unwrap()
    }
}

#[test]
fn structs_compile_and_run() {
    let m = structs::Model {
        w: vec![0.5, 2.0],
        b: 1.0,
        used: 2,
    };
    let (v, d_m, d_x) = m.loss_grad(&[1.0, 1.0], 3.0);
    assert_eq!(v.to_bits(), 0.25_f64.to_bits());
    assert_eq!(
        (d_m.b, d_m.w.clone(), d_x),
        (1.0, vec![1.0, 1.0], vec![0.5, 2.0])
    );
    let (_, d_m) = structs::penalty_grad(&m, 2.0);
    assert_eq!((d_m.b, d_m.w), (4.0, vec![1.0, 0.0]));
    let (s, ..) = structs::soft_grad(1.0_f32, &[0.0, 0.0]);
    assert!((s - 2.0_f32.ln() * 0.5).abs() < 1e-6);
    // `[b, w₀, w₁]`, then the two entries of `x`.
    let (_, _, _, hess) = m.loss_hessian(&[1.0, 1.0], 3.0);
    assert_eq!(hess.len(), 25);
    assert_eq!(hess[0].to_bits(), 2.0_f64.to_bits());
    let (_, _, hess) = structs::penalty_hessian(&m, 2.0);
    assert_eq!(hess, [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let (_, _, d_k, hess) = structs::owned_hessian(m.clone(), m.clone(), 2.0);
    assert_eq!(d_k.to_bits(), (m.b * m.w[1]).to_bits());
    // `[b, w₀, w₁, k]`: ∂²/∂w₀² = 2·other.b, ∂²/∂b∂w₁ = k, ∂²/∂b∂k = w₁, ∂²/∂w₁∂k = b.
    assert_eq!(hess.len(), 16);
    assert_eq!((hess[5], hess[2], hess[3], hess[11]), (2.0, 2.0, 2.0, 1.0));
}

/// Lints the user allows on one statement or expression, which the generated functions copy
/// without the statement's attributes.
pub mod statement_attributes {
    use autodiff::differentiate;

    /// A range test written out, allowed on its `let`.
    #[differentiate(reverse, forward, hessian, graph)]
    #[must_use]
    pub fn guarded(x: f64) -> f64 {
        #[allow(clippy::manual_range_contains)]
        let inside = x >= 0.0 && x <= 1.0;
        if inside { x * x } else { x }
    }

    /// The same expected on an `if` statement, and a float comparison expected on a `let`.
    #[differentiate(reverse, forward, hessian, graph)]
    #[must_use]
    pub fn clipped(x: f64, y: f64) -> f64 {
        let mut s = x * y;
        #[expect(
            clippy::manual_range_contains,
            reason = "the bounds read as an interval"
        )]
        if x >= 0.0 && x <= 1.0 {
            s += x;
        }
        #[expect(clippy::float_cmp)]
        let same = x == y;
        if same { s * 2.0 } else { s }
    }
}

#[test]
fn statement_attributes_compile_and_run() {
    use statement_attributes::{clipped_grad, clipped_hvp, clipped_jvp, guarded_grad, guarded_hvp};
    assert_eq!(guarded_grad(0.5), (0.25, 1.0));
    assert_eq!(guarded_grad(2.0), (2.0, 1.0));
    assert_eq!(guarded_hvp(0.5, 1.0), (0.25, 1.0, 2.0));
    // s = x y (+ x on [0, 1]), doubled where x = y.
    assert_eq!(clipped_grad(0.5, 3.0), (2.0, 4.0, 0.5));
    assert_eq!(clipped_grad(2.0, 2.0), (8.0, 4.0, 4.0));
    assert_eq!(clipped_jvp(0.5, 1.0, 3.0, 0.0), (2.0, 4.0));
    assert_eq!(clipped_hvp(0.5, 1.0, 3.0, 0.0), (2.0, 4.0, 0.5, 0.0, 1.0));
    let g = statement_attributes::guarded_graph(0.5);
    assert_eq!(g.node("x").map(autodiff::GraphNode::adjoint), Some(1.0));
}

/// Several outputs from a generic function and from methods.
pub mod generic_outputs {
    use autodiff::differentiate;
    use num_traits::Float;

    /// Polar to Cartesian coordinates.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn polar<T: Float>(r: T, theta: T) -> [T; 2] {
        [r * theta.cos(), r * theta.sin()]
    }

    /// The mean and the variance of a slice.
    ///
    /// # Panics
    ///
    /// If the slice's length is not a `T`.
    #[differentiate]
    #[must_use]
    pub fn moments<T: Float>(x: &[T]) -> (T, T) {
        let n = T::from(x.len()).unwrap();
        let mut s = T::zero();
        let mut q = T::zero();
        for &v in x {
            s = s + v;
            q = q + v * v;
        }
        let mean = s / n;
        (mean, q / n - mean * mean)
    }

    /// A two-link arm.
    pub struct Arm<T> {
        /// The first link's length.
        pub l1: T,
        /// The second link's length.
        pub l2: T,
    }

    impl<T: Float> Arm<T> {
        /// The tip's position.
        #[differentiate(reverse, forward)]
        #[must_use]
        pub fn tip(&self, a: T, b: T) -> [T; 2] {
            [
                self.l1 * a.cos() + self.l2 * (a + b).cos(),
                self.l1 * a.sin() + self.l2 * (a + b).sin(),
            ]
        }
    }
}

/// Associated functions that neither take `self` nor name `Self`, whose siblings call one
/// another as `Self::..`.
pub mod associated {
    use autodiff::differentiate;

    /// A namespace of formulas.
    pub struct Formulas;

    impl Formulas {
        /// `x² y`.
        #[differentiate(hessian)]
        #[must_use]
        pub fn mixed(x: f64, y: f64) -> f64 {
            x * x * y
        }

        /// The sum of squares of a slice.
        #[differentiate(reverse, forward, hessian)]
        #[must_use]
        pub fn squares(x: &[f64]) -> f64 {
            x.iter().map(|v| v * v).sum()
        }

        /// Polar to Cartesian coordinates.
        #[differentiate(reverse, forward, hessian)]
        #[must_use]
        pub fn polar(r: f64, a: f64) -> [f64; 2] {
            [r * a.cos(), r * a.sin()]
        }

        /// A private helper used only through its gradient.
        #[differentiate]
        fn cubes(x: &[f64]) -> f64 {
            x.iter().map(|v| v * v * v).sum()
        }

        /// The gradient of the private helper.
        #[must_use]
        pub fn cubes_gradient(x: &[f64]) -> Vec<f64> {
            Self::cubes_grad(x).1
        }
    }
}

/// Calls of functions of slices differentiated beside the caller: through `g_grad_into`, with
/// a scratch buffer, or with the caller's own buffer where the call is the output.
pub mod siblings {
    use autodiff::differentiate;

    /// `Σ xᵢ⁴`.
    #[differentiate]
    #[must_use]
    pub fn quartic(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v * v * v).sum()
    }

    /// `Σ wᵢ xᵢ`.
    #[differentiate]
    #[must_use]
    pub fn weighted(w: &[f64], x: &[f64]) -> f64 {
        w.iter().zip(x).map(|(a, b)| a * b).sum()
    }

    /// The helper passed through.
    #[differentiate]
    #[must_use]
    pub fn passed(x: &[f64]) -> f64 {
        quartic(x)
    }

    /// A fixed-size array passed through, with constant weights.
    #[differentiate(wrt(x))]
    #[must_use]
    pub fn passed_array(x: [f64; 3], w: &[f64]) -> f64 {
        weighted(w, &x)
    }

    /// The helper's value scaled, and called per pair.
    #[differentiate]
    #[must_use]
    pub fn pairs(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() / 2 {
            s += quartic(&x[2 * i..2 * i + 2]).ln_1p();
        }
        s + weighted(x, x).sqrt()
    }
}

/// Parameters bound by `_` and by an array's pattern.
pub mod patterns {
    use autodiff::differentiate;

    /// A decay that leaves its time unused.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn decay(_: f64, y: f64) -> f64 {
        -0.5 * y
    }

    /// The area of a rectangle.
    #[differentiate(reverse, forward, hessian)]
    #[must_use]
    pub fn area([w, h]: [f64; 2]) -> f64 {
        w * h
    }

    /// A reference to a point.
    #[differentiate]
    #[must_use]
    pub fn norm(&[a, b]: &[f64; 2]) -> f64 {
        a.hypot(b)
    }
}
