//! Finite-difference gradients: a second opinion that shares nothing with either AD.

/// The base step at `x`: `eps^(1/5) · max(1, |x|)`, rounded so that `x + h` is exactly
/// representable. This balances the truncation error of the fourth-order stencil against rounding
/// for functions whose derivatives are of the order of their values.
#[must_use]
pub fn step(x: f64) -> f64 {
    let h = f64::EPSILON.powf(0.2) * x.abs().max(1.0);
    (x + h) - x
}

/// A derivative estimated by finite differences, with an estimate of its error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The derivative.
    pub value: f64,
    /// An estimate of `|value - exact|` from the truncation error (the change between two steps).
    pub error: f64,
}

/// The fourth-order central difference
/// `(f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)) / 12h` in direction `i`.
fn central(f: &mut impl FnMut(&[f64]) -> f64, x: &[f64], i: usize, h: f64) -> f64 {
    let mut shifted = x.to_vec();
    let mut at = |k: f64| {
        shifted[i] = x[i] + k * h;
        f(&shifted)
    };
    let (m2, m1, p1, p2) = (at(-2.0), at(-1.0), at(1.0), at(2.0));
    (m2 - 8.0 * m1 + 8.0 * p1 - p2) / (12.0 * h)
}

/// Number of step halvings tried by [`partial`].
const HALVINGS: u32 = 8;

/// How many stencil half-widths (`2h`) must fit between `x` and the nearest kink.
const KINK_CLEARANCE: f64 = 4.0;

/// `∂f/∂x_i` at `x`, or `None` if `f` has a kink too close to `x` for any step.
///
/// Fourth-order central differences `D(h)` are taken with steps `h = step(x_i) / 2^k`, successive
/// ones are combined by Richardson extrapolation (the truncation error is `O(h⁴)`, so
/// `R = D(h) + (D(h) - D(2h))/15` cancels its leading term), and the extrapolation that changed
/// least from the previous one is returned, that change being the error estimate (Ridders' idea:
/// strongly oscillating functions need smaller steps than `step` assumes, and rounding forbids
/// tiny ones). `kink_margin` is the distance from `x_i` to the nearest kink or jump of `f` along
/// direction `i`: steps whose stencil would reach it are not used.
pub fn partial(
    f: &mut impl FnMut(&[f64]) -> f64,
    x: &[f64],
    i: usize,
    kink_margin: f64,
) -> Option<Estimate> {
    let h0 = step(x[i]);
    let mut best: Option<Estimate> = None;
    let mut previous_d: Option<f64> = None;
    let mut previous_r: Option<f64> = None;
    for k in 0..=HALVINGS {
        let h = h0 / f64::from(1_u32 << k);
        if 2.0 * h * KINK_CLEARANCE >= kink_margin {
            continue;
        }
        let d = central(f, x, i, h);
        if let Some(coarse) = previous_d {
            let r = d + (d - coarse) / 15.0;
            if let Some(previous_r) = previous_r {
                let error = (r - previous_r).abs();
                if best.is_none_or(|b| error < b.error) {
                    best = Some(Estimate { value: r, error });
                }
            }
            previous_r = Some(r);
        }
        previous_d = Some(d);
    }
    best
}

#[cfg(test)]
mod tests {
    #[test]
    fn differentiates_a_polynomial() {
        let mut f = |x: &[f64]| x[0].powi(5) + x[0] * x[1];
        let d = super::partial(&mut f, &[1.5, 2.0], 0, f64::INFINITY).unwrap();
        let exact = 5.0 * 1.5_f64.powi(4) + 2.0;
        assert!((d.value - exact).abs() < 1e-9 * exact, "{d:?} vs {exact}");
    }

    #[test]
    fn follows_fast_oscillation() {
        let mut f = |x: &[f64]| (300.0 * x[0]).sin();
        let d = super::partial(&mut f, &[0.3], 0, f64::INFINITY).unwrap();
        let exact = 300.0 * (90.0_f64).cos();
        assert!(
            (d.value - exact).abs() < 1e-6 * exact.abs(),
            "{d:?} vs {exact}"
        );
    }

    #[test]
    fn keeps_away_from_kinks() {
        let mut f = |x: &[f64]| x[0].abs();
        assert_eq!(super::partial(&mut f, &[1e-6], 0, 1e-6), None);
        let d = super::partial(&mut f, &[1e-3], 0, 1e-3).unwrap();
        assert!((d.value - 1.0).abs() < 1e-9, "{d:?}");
    }
}
