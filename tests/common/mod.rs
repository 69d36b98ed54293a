//! Checks shared by the derivative-rule tests, and oracles the other tests share.
//!
//! [`check`] holds a generated gradient to three independent references at each point: a
//! closed form derived by hand, fourth-order finite differences of the original function, and
//! forward mode (`f_jvp` along the unit directions must give the gradient entries, and along a
//! pseudo-random direction their dot product). [`check_f32`] does the same for `f32` functions,
//! with the closed form evaluated in `f64`.

pub mod oracles;

use approx::relative_eq;
use autodiff::{Tolerance, check_gradient_with};

/// Relative tolerance between a generated `f64` derivative and its closed form.
pub const REL: f64 = 1e-12;

/// Relative tolerance between a generated `f32` derivative and its closed form in `f64`.
pub const REL_F32: f64 = 1e-5;

/// Finite differences of an `f32` function: each evaluation is only good to about `6e-8`
/// relative, which the stencil's `1.5 / h ≈ 2000` amplifies to about `1.2e-4 |f|`; `abs`
/// covers values up to about 15. The closed form, to [`REL_F32`], is the sharp check.
pub const FD_F32: Tolerance = Tolerance {
    rel: 1e-3,
    abs: 2e-3,
};

/// Equal as floating-point values, or both `NaN`.
#[must_use]
pub fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Asserts `got` is within `rel` (relative) of `want`; equal values, infinities included, pass.
pub fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        relative_eq!(got, want, max_relative = rel),
        "{what}: got {got:e}, want {want:e} (relative difference {:e} > {rel:e})",
        ((got - want) / want).abs(),
    );
}

/// A deterministic pseudo-random direction with components in `[-1, 1)`, none of them zero.
#[must_use]
pub fn direction<const N: usize>(seed: u64) -> [f64; N] {
    let mut state = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    std::array::from_fn(|_| {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        // 53 random bits mapped to [-1, 1); the `| 1` keeps the component away from zero.
        #[allow(clippy::cast_precision_loss)]
        let unit = (bits | 1) as f64 / (1_u64 << 53) as f64;
        2.0 * unit - 1.0
    })
}

/// Checks, at every point `p`:
///
/// - the value returned by `grad` equals `f(p)` exactly, and so does the value of `jvp`;
/// - every gradient entry equals the hand-derived `closed(p)` to [`REL`];
/// - the gradient passes [`autodiff::check_gradient_with`] on `f` with tolerance `fd`;
/// - `jvp(p, eᵢ)` is gradient entry `i` to [`REL`], for every unit direction `eᵢ`;
/// - `jvp(p, r)` is `Σ rᵢ ∂ᵢf` for a pseudo-random `r`, to [`REL`] relative to `Σ |rᵢ ∂ᵢf|`
///   (the scale of the terms, so that cancellation in the sum is not held against it).
pub fn check<const N: usize>(
    name: &str,
    points: &[[f64; N]],
    fd: Tolerance,
    f: impl Fn([f64; N]) -> f64,
    grad: impl Fn([f64; N]) -> (f64, [f64; N]),
    jvp: impl Fn([f64; N], [f64; N]) -> (f64, f64),
    closed: impl Fn([f64; N]) -> [f64; N],
) {
    assert!(!points.is_empty(), "{name}: no points");
    for (k, &p) in points.iter().enumerate() {
        let value = f(p);
        let (v, g) = grad(p);
        assert!(
            same(v, value),
            "{name} at {p:?}: f_grad value {v:e} != f {value:e}"
        );
        let want = closed(p);
        for i in 0..N {
            assert_close(
                &format!("{name}: ∂/∂x{i} at {p:?} against the closed form"),
                g[i],
                want[i],
                REL,
            );
        }
        check_gradient_with(
            |v: &[f64]| f(v.try_into().expect("one coordinate per parameter")),
            &p,
            &g,
            fd,
        )
        .unwrap_or_else(|e| panic!("{name} at {p:?} against finite differences: {e}"));
        for i in 0..N {
            let mut e = [0.0; N];
            e[i] = 1.0;
            let (vj, t) = jvp(p, e);
            assert!(
                same(vj, value),
                "{name} at {p:?}: f_jvp value {vj:e} != f {value:e}"
            );
            assert_close(
                &format!("{name}: f_jvp along e{i} at {p:?} against ∂/∂x{i}"),
                t,
                g[i],
                REL,
            );
        }
        let r = direction::<N>(k as u64 + 1);
        let (vj, t) = jvp(p, r);
        assert!(
            same(vj, value),
            "{name} at {p:?}: f_jvp value {vj:e} != f {value:e}"
        );
        let dot: f64 = r.iter().zip(&g).map(|(r, g)| r * g).sum();
        let scale: f64 = r.iter().zip(&g).map(|(r, g)| (r * g).abs()).sum();
        assert!(
            (t - dot).abs() <= REL * scale,
            "{name} at {p:?}: f_jvp along {r:?} is {t:e}, gradient · direction is {dot:e}"
        );
    }
}

/// [`check`] for a function of `f32` values: the gradient is compared with the closed form
/// evaluated in `f64` at the same point to [`REL_F32`], with finite differences of `f` to
/// [`FD_F32`], and with forward mode to [`REL_F32`].
pub fn check_f32<const N: usize>(
    name: &str,
    points: &[[f32; N]],
    f: impl Fn([f32; N]) -> f32,
    grad: impl Fn([f32; N]) -> (f32, [f32; N]),
    jvp: impl Fn([f32; N], [f32; N]) -> (f32, f32),
    closed: impl Fn([f64; N]) -> [f64; N],
) {
    assert!(!points.is_empty(), "{name}: no points");
    let wide = |p: [f32; N]| p.map(f64::from);
    #[allow(clippy::cast_possible_truncation)]
    let narrow = |p: &[f64]| -> [f32; N] { std::array::from_fn(|i| p[i] as f32) };
    for (k, &p) in points.iter().enumerate() {
        let value = f(p);
        let (v, g) = grad(p);
        assert!(
            v == value || (v.is_nan() && value.is_nan()),
            "{name} at {p:?}: f_grad value {v:e} != f {value:e}"
        );
        let want = closed(wide(p));
        for i in 0..N {
            assert_close(
                &format!("{name}: ∂/∂x{i} at {p:?} against the closed form"),
                f64::from(g[i]),
                want[i],
                REL_F32,
            );
        }
        check_gradient_with(|v| f64::from(f(narrow(v))), &wide(p), &wide(g), FD_F32)
            .unwrap_or_else(|e| panic!("{name} at {p:?} against finite differences: {e}"));
        for i in 0..N {
            let mut e = [0.0; N];
            e[i] = 1.0;
            let (vj, t) = jvp(p, e);
            assert!(
                vj == value,
                "{name} at {p:?}: f_jvp value {vj:e} != f {value:e}"
            );
            assert_close(
                &format!("{name}: f_jvp along e{i} at {p:?} against ∂/∂x{i}"),
                f64::from(t),
                f64::from(g[i]),
                REL_F32,
            );
        }
        let r = narrow(&direction::<N>(k as u64 + 1));
        let (vj, t) = jvp(p, r);
        assert!(
            vj == value,
            "{name} at {p:?}: f_jvp value {vj:e} != f {value:e}"
        );
        let dot: f64 = r
            .iter()
            .zip(&g)
            .map(|(&r, &g)| f64::from(r) * f64::from(g))
            .sum();
        let scale: f64 = r
            .iter()
            .zip(&g)
            .map(|(&r, &g)| (f64::from(r) * f64::from(g)).abs())
            .sum();
        assert!(
            (f64::from(t) - dot).abs() <= REL_F32 * scale,
            "{name} at {p:?}: f_jvp along {r:?} is {t:e}, gradient · direction is {dot:e}"
        );
    }
}

/// Fourth-order central differences of `f` at `p`, step `1e-3`: an oracle that knows nothing of
/// the generated code.
#[must_use]
pub fn differences(f: impl Fn(&[f64]) -> f64, p: &[f64]) -> Vec<f64> {
    let h = 1e-3;
    (0..p.len())
        .map(|i| {
            let at = |e: f64| {
                let mut q = p.to_vec();
                q[i] += e;
                f(&q)
            };
            (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h)
        })
        .collect()
}

/// Asserts every entry of `got` is within `tol` of `want`'s, relative to it or to 1, whichever
/// is larger.
pub fn assert_all_close_to(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

/// Central differences, step `1e-5`, of a gradient along `v` at `p` (both flattened over the
/// parameters): `H·v` by an oracle that knows nothing of the forward-over-reverse code.
#[must_use]
pub fn hv_by_differences(grad: impl Fn(&[f64]) -> Vec<f64>, p: &[f64], v: &[f64]) -> Vec<f64> {
    let h = 1e-5;
    let at = |e: f64| -> Vec<f64> {
        let q: Vec<f64> = p.iter().zip(v).map(|(a, b)| a + e * b).collect();
        grad(&q)
    };
    let (up, down) = (at(h), at(-h));
    up.iter()
        .zip(&down)
        .map(|(u, d)| (u - d) / (2.0 * h))
        .collect()
}

/// The gradient along each unit direction of `n` inputs, by forward mode: `jvp(e)` is the
/// directional derivative along `e`.
#[must_use]
pub fn by_jvp(n: usize, jvp: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let mut e = vec![0.0; n];
            e[i] = 1.0;
            jvp(&e)
        })
        .collect()
}
