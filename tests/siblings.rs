//! Calls of a function of slices differentiated in the same block as the caller: the caller
//! calls its `g_grad_into` with a scratch buffer per slice, kept from call to call, instead of
//! receiving a new `Vec` from `g_grad` at each call. Each gradient is checked against a closed
//! form derived by hand, and the loops' allocations are counted.
// Differentiated loops index their arrays: `for` runs over integer ranges.
#![allow(clippy::needless_range_loop)]

use allocation_counter::measure;
use approx::assert_relative_eq;
use autodiff::differentiate;
use autodiff::num_traits::Float;
use std::hint::black_box;

/// `Σ vᵢ²`.
#[differentiate(reverse, hessian)]
fn sqnorm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum()
}

/// `Σ cᵢ vᵢ`: two slices, both with buffers.
#[differentiate]
fn dot(v: &[f64], c: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * c[i];
    }
    s
}

/// `s · v[k]²`: a slice, a constant and a scalar, generic.
#[differentiate]
fn picked<T: Float>(v: &[T], k: usize, s: T) -> T {
    s * v[k] * v[k]
}

/// `ln ‖x‖²`, the value of the call used once.
#[differentiate]
fn log_norm(x: &[f64]) -> f64 {
    sqnorm(x).ln()
}

/// `Σᵢ ln(x₂ᵢ² + x₂ᵢ₊₁²)`: the call in a loop whose backward code runs inside it.
#[differentiate]
fn log_pairs(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() / 2 {
        s += sqnorm(&x[2 * i..2 * i + 2]).ln();
    }
    s
}

/// `Πᵢ (x₂ᵢ² + x₂ᵢ₊₁²)`: the call in a loop whose backward code is a second loop, the
/// gradients saved.
#[differentiate]
fn product_pairs(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() / 2 {
        p *= sqnorm(&x[2 * i..2 * i + 2]);
    }
    p
}

/// `‖x[..2]‖² · ‖x[2..]‖²`: two call sites in one expression.
#[differentiate]
fn two_sites(x: &[f64]) -> f64 {
    sqnorm(&x[..2]) * sqnorm(&x[2..])
}

/// A local buffer overwritten at each iteration and passed to the call: `bᵢ = (xᵢ, xᵢ x₀)`,
/// `Σᵢ ‖bᵢ‖⁴`.
#[differentiate]
fn buffer_per_iteration(x: &[f64]) -> f64 {
    let mut b = vec![0.0; 2];
    let mut s = 0.0;
    for i in 0..x.len() {
        b[0] = x[i];
        b[1] = x[i] * x[0];
        let q = sqnorm(&b);
        s += q * q;
    }
    s
}

/// `(Σ wᵢ dᵢ)²` with the data `d` constant: the callee still takes a buffer after it.
#[differentiate(wrt(w))]
fn fit(w: &[f64], data: &[f64]) -> f64 {
    let r = dot(w, data);
    r * r
}

/// A generic caller: `Σ_k s v[k]²` through the generic sibling, with `s = v[0]`.
#[differentiate]
fn picked_sum<T: Float>(v: &[T]) -> T {
    let mut s = T::zero();
    for k in 0..v.len() {
        s = s + picked(v, k, v[0]);
    }
    s
}

/// A caller with a Hessian: its second order goes through `sqnorm_hvp`.
#[differentiate(reverse, hessian)]
fn scaled_norm(x: &[f64], a: f64) -> f64 {
    a * sqnorm(x)
}

/// A function whose attribute names `wrt` is called through `g_grad`, as the macro does not
/// read which parameters it names.
#[differentiate(wrt(v, c))]
fn partial_dot(v: &[f64], c: &[f64]) -> f64 {
    dot(v, c)
}

/// The caller of `partial_dot`.
#[differentiate(wrt(x))]
fn through_partial(x: &[f64], c: &[f64]) -> f64 {
    partial_dot(x, c).exp()
}

/// A helper in another module: reached through `g_grad` (the file shows it is not beside).
mod elsewhere {
    use autodiff::differentiate;

    #[differentiate]
    pub fn cubes(v: &[f64]) -> f64 {
        v.iter().map(|a| a * a * a).sum()
    }
}

#[differentiate]
fn through_module(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() / 2 {
        s += elsewhere::cubes(&x[2 * i..2 * i + 2]);
    }
    s
}

/// `‖x‖²` passed through: the call's adjoint is 1, so `sqnorm_grad_into` adds into `x`'s
/// buffer itself.
#[differentiate]
fn passed_through(x: &[f64]) -> f64 {
    sqnorm(x)
}

/// `Σ xᵢ²` as `dot(x, x)`: the buffer of `x` is passed once, after the first argument; the
/// second gets a scratch buffer.
#[differentiate]
fn dot_with_itself(x: &[f64]) -> f64 {
    dot(x, x)
}

/// `Σ wᵢ dᵢ`, passed through with the data constant.
#[differentiate(wrt(w))]
fn passed_fit(w: &[f64], data: &[f64]) -> f64 {
    dot(w, data)
}

/// `‖x‖²` through a call whose value an assertion reads too, and one in a branch: neither is
/// the output alone at the top of the body, so both go through scratch buffers.
#[differentiate]
fn checked_through(x: &[f64]) -> f64 {
    let q = sqnorm(x);
    assert!(q >= 0.0, "a norm is not negative");
    q
}

/// The same call twice, the first discarded: only the output's adds into `x`'s buffer.
#[differentiate]
#[allow(clippy::let_underscore_must_use)]
fn called_twice(x: &[f64]) -> f64 {
    let _ = sqnorm(x);
    sqnorm(x)
}

/// The output's call takes a scalar that another call computes from the same slice.
#[differentiate]
fn scaled_through(x: &[f64]) -> f64 {
    let a = sqnorm(x);
    picked(x, 1, a)
}

/// Fixed-size arrays passed through: their adjoints are local arrays, borrowed as slices.
#[differentiate]
fn array_through(x: [f64; 3]) -> f64 {
    sqnorm(&x)
}

#[differentiate]
fn ref_array_through(x: &[f64; 3]) -> f64 {
    sqnorm(x)
}

#[differentiate]
fn branch_through(x: &[f64], c: bool) -> f64 {
    if c { sqnorm(x) } else { dot(x, x) }
}

/// Associated functions call each other through `Self::`.
struct Shapes;

impl Shapes {
    #[differentiate]
    fn area(v: &[f64]) -> f64 {
        v[0] * v[1]
    }

    #[differentiate]
    fn log_areas(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() / 2 {
            s += Self::area(&x[2 * i..2 * i + 2]).ln();
        }
        s
    }
}

const X: [f64; 6] = [0.5, -1.25, 2.0, 0.75, -0.3, 1.5];

#[test]
fn a_call_used_once() {
    let (v, g) = log_norm_grad(&X);
    let q: f64 = X.iter().map(|a| a * a).sum();
    assert_relative_eq!(v, q.ln(), max_relative = 1e-14);
    for (gi, xi) in g.iter().zip(X) {
        assert_relative_eq!(*gi, 2.0 * xi / q, max_relative = 1e-14);
    }
}

#[test]
fn calls_in_a_fused_loop_and_in_a_taped_one() {
    let (v, g) = log_pairs_grad(&X);
    let (p, gp) = product_pairs_grad(&X);
    let pairs: Vec<f64> = X.chunks(2).map(|c| c[0] * c[0] + c[1] * c[1]).collect();
    assert_relative_eq!(
        v,
        pairs.iter().map(|q| q.ln()).sum::<f64>(),
        max_relative = 1e-14
    );
    let product: f64 = pairs.iter().product();
    assert_relative_eq!(p, product, max_relative = 1e-14);
    for i in 0..X.len() {
        let q = pairs[i / 2];
        assert_relative_eq!(g[i], 2.0 * X[i] / q, max_relative = 1e-14);
        assert_relative_eq!(gp[i], product / q * 2.0 * X[i], max_relative = 1e-14);
    }
}

#[test]
fn two_call_sites_of_one_sibling() {
    let x = [0.5, -1.25, 2.0, 0.75];
    let (a, b) = (x[0] * x[0] + x[1] * x[1], x[2] * x[2] + x[3] * x[3]);
    let (v, g) = two_sites_grad(&x);
    assert_relative_eq!(v, a * b, max_relative = 1e-14);
    let want = [
        2.0 * x[0] * b,
        2.0 * x[1] * b,
        2.0 * x[2] * a,
        2.0 * x[3] * a,
    ];
    for (gi, w) in g.iter().zip(want) {
        assert_relative_eq!(*gi, w, max_relative = 1e-14);
    }
}

#[test]
fn a_buffer_overwritten_at_each_iteration() {
    let (v, g) = buffer_per_iteration_grad(&X);
    let x0 = X[0];
    // qᵢ = xᵢ² (1 + x₀²); s = Σ qᵢ².
    let c = 1.0 + x0 * x0;
    let s: f64 = X.iter().map(|a| (a * a * c).powi(2)).sum();
    assert_relative_eq!(v, s, max_relative = 1e-13);
    let sum4: f64 = X.iter().map(|a| a.powi(4)).sum();
    for i in 0..X.len() {
        // ∂/∂xᵢ of xᵢ⁴ c² = 4 xᵢ³ c², plus for i = 0 the dependence through c.
        let mut want = 4.0 * X[i].powi(3) * c * c;
        if i == 0 {
            want += sum4 * 2.0 * c * 2.0 * x0;
        }
        assert_relative_eq!(g[i], want, max_relative = 1e-13);
    }
}

#[test]
fn a_constant_slice_gets_a_buffer_too() {
    let w = [0.5, -1.0, 2.0];
    let data = [1.5, 0.25, -0.5];
    let r: f64 = w.iter().zip(data).map(|(a, b)| a * b).sum();
    let (v, g) = fit_grad(&w, &data);
    assert_relative_eq!(v, r * r, max_relative = 1e-14);
    for (gi, di) in g.iter().zip(data) {
        assert_relative_eq!(*gi, 2.0 * r * di, max_relative = 1e-14);
    }
}

#[test]
fn generic_siblings_with_constants_and_scalars() {
    // Σ_k v₀ v_k²: ∂/∂v₀ = Σ_k v_k² + 2 v₀², ∂/∂v_k = 2 v₀ v_k for k > 0.
    let v = [1.5f64, -0.5, 2.0];
    let (s, g) = picked_sum_grad(&v);
    let sq: f64 = v.iter().map(|a| a * a).sum();
    assert_relative_eq!(s, v[0] * sq, max_relative = 1e-14);
    assert_relative_eq!(g[0], sq + 2.0 * v[0] * v[0], max_relative = 1e-14);
    for k in 1..3 {
        assert_relative_eq!(g[k], 2.0 * v[0] * v[k], max_relative = 1e-14);
    }
    let v32 = [1.5f32, -0.5, 2.0];
    let (_, g32) = picked_sum_grad(&v32);
    assert_relative_eq!(g32[1], 2.0 * 1.5 * -0.5, max_relative = 1e-6);
}

#[test]
fn second_order_of_a_caller() {
    let x = [0.5, -1.25, 2.0];
    let a = 1.5;
    let (v, gx, ga, h) = scaled_norm_hessian(&x, a);
    let q: f64 = x.iter().map(|b| b * b).sum();
    assert_relative_eq!(v, a * q, max_relative = 1e-14);
    assert_relative_eq!(ga, q, max_relative = 1e-14);
    // Parameters in order x₀, x₁, x₂, a.
    for i in 0..3 {
        assert_relative_eq!(gx[i], 2.0 * a * x[i], max_relative = 1e-14);
        for j in 0..3 {
            let want = if i == j { 2.0 * a } else { 0.0 };
            assert_relative_eq!(h[i * 4 + j], want, max_relative = 1e-14);
        }
        assert_relative_eq!(h[i * 4 + 3], 2.0 * x[i], max_relative = 1e-14);
    }
}

#[test]
fn callees_without_grad_into_beside_go_through_grad() {
    let x = [0.5, -1.0];
    let c = [2.0, 0.5];
    let (v, g) = through_partial_grad(&x, &c);
    let e = (x[0] * c[0] + x[1] * c[1]).exp();
    assert_relative_eq!(v, e, max_relative = 1e-14);
    assert_relative_eq!(g[0], e * c[0], max_relative = 1e-14);
    assert_relative_eq!(g[1], e * c[1], max_relative = 1e-14);
    let (_, g) = through_module_grad(&X);
    for (gi, xi) in g.iter().zip(X) {
        assert_relative_eq!(*gi, 3.0 * xi * xi, max_relative = 1e-14);
    }
}

#[test]
fn associated_siblings() {
    let (v, g) = Shapes::log_areas_grad(&X);
    let want: f64 = X.chunks(2).map(|c| (c[0] * c[1]).ln()).sum();
    // Each pair's area: ln(a b) has derivatives 1/a and 1/b (the logarithm of a negative
    // area is NaN, whose derivative is still 1/a).
    assert!(v.is_nan() || (v - want).abs() < 1e-12);
    for (gi, xi) in g.iter().zip(X) {
        assert_relative_eq!(*gi, 1.0 / xi, max_relative = 1e-14);
    }
}

#[test]
fn a_loop_of_calls_allocates_as_a_single_call() {
    let few: Vec<f64> = (0..8).map(|i| f64::from(i) * 0.25 + 0.5).collect();
    let many: Vec<f64> = (0..800).map(|i| f64::from(i) * 0.0025 + 0.5).collect();
    let mut d_few = vec![0.0; few.len()];
    let mut d_many = vec![0.0; many.len()];
    let a = measure(|| {
        black_box(log_pairs_grad_into(black_box(&few), &mut d_few));
    });
    let b = measure(|| {
        black_box(log_pairs_grad_into(black_box(&many), &mut d_many));
    });
    // One scratch buffer of two elements, on the stack: no allocation for 400 calls or for 4.
    assert_eq!(a.count_total, 0);
    assert_eq!(b.count_total, 0);
}

#[test]
fn a_call_passed_through_adds_into_the_callers_buffer() {
    // `_grad_into` adds: start from a buffer that holds something.
    let mut d_x = [1.0; 6];
    let info = measure(|| {
        black_box(passed_through_grad_into(black_box(&X), &mut d_x));
    });
    assert_eq!(info.count_total, 0);
    for (d, x) in d_x.iter().zip(X) {
        assert_relative_eq!(*d, 1.0 + 2.0 * x, max_relative = 1e-14);
    }
    let q: f64 = X.iter().map(|a| a * a).sum();
    for (v, g) in [
        dot_with_itself_grad(&X),
        checked_through_grad(&X),
        branch_through_grad(&X, true),
        branch_through_grad(&X, false),
    ] {
        assert_relative_eq!(v, q, max_relative = 1e-14);
        for (gi, xi) in g.iter().zip(X) {
            assert_relative_eq!(*gi, 2.0 * xi, max_relative = 1e-14);
        }
    }
    let a = [X[0], X[1], X[2]];
    let qa: f64 = a.iter().map(|v| v * v).sum();
    for (v, g) in [array_through_grad(a), ref_array_through_grad(&a)] {
        assert_relative_eq!(v, qa, max_relative = 1e-14);
        for (gi, xi) in g.iter().zip(a) {
            assert_relative_eq!(*gi, 2.0 * xi, max_relative = 1e-14);
        }
    }
    let (v, g) = called_twice_grad(&X);
    assert_relative_eq!(v, q, max_relative = 1e-14);
    for (gi, xi) in g.iter().zip(X) {
        assert_relative_eq!(*gi, 2.0 * xi, max_relative = 1e-14);
    }
    // `q · x₁²`: `∂/∂xᵢ = 2xᵢ x₁² + [i = 1] 2 q x₁`.
    let (v, g) = scaled_through_grad(&X);
    assert_relative_eq!(v, q * X[1] * X[1], max_relative = 1e-14);
    for (i, (gi, xi)) in g.iter().zip(X).enumerate() {
        let own = if i == 1 { 2.0 * q * X[1] } else { 0.0 };
        assert_relative_eq!(*gi, 2.0 * xi * X[1] * X[1] + own, max_relative = 1e-14);
    }
    let data = [0.25, -2.0, 1.0, 0.5, 3.0, -1.5];
    let mut d_w = [0.5; 6];
    let (v,) = passed_fit_grad_into(&X, &mut d_w, &data);
    assert_relative_eq!(
        v,
        X.iter().zip(data).map(|(a, b)| a * b).sum::<f64>(),
        max_relative = 1e-14
    );
    for (d, c) in d_w.iter().zip(data) {
        assert_relative_eq!(*d, 0.5 + c, max_relative = 1e-14);
    }
}
