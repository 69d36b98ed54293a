//! [`Lanes`]: `L` tangents carried side by side, so that one forward sweep gives `L` columns of
//! a Jacobian.
//!
//! Forward-mode code is linear in its tangents: each tangent is a sum of tangents scaled by local
//! derivatives. Generated code for `f_jacobian` writes that code once with every tangent a
//! `Lanes<T, L>` instead of a `T`, seeded with the unit vectors, so the primal values and the
//! local derivatives are computed once for all `L` directions. Only the operations of linear
//! code exist: lanes plus or minus lanes, lanes times or over a scalar, negation.

use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// `L` tangents of one value, one per direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lanes<T, const L: usize>(pub [T; L]);

impl<T: num_traits::Float, const L: usize> Lanes<T, L> {
    /// Every lane `x`: the tangent of a constant when `x` is zero.
    #[inline]
    #[must_use]
    pub fn splat(x: T) -> Self {
        Self([x; L])
    }

    /// The unit tangent of direction `k`: one in lane `k`, zero elsewhere (none if `k ≥ L`).
    #[inline]
    #[must_use]
    pub fn unit(k: usize) -> Self {
        let mut lanes = [T::zero(); L];
        if let Some(lane) = lanes.get_mut(k) {
            *lane = T::one();
        }
        Self(lanes)
    }
}

/// [`crate::zero_wins`] lane by lane: each lane of `product` where `factor` is not `0`.
#[inline]
#[must_use]
pub fn zero_wins_lanes<T: num_traits::Float, const L: usize>(
    factor: T,
    product: Lanes<T, L>,
) -> Lanes<T, L> {
    Lanes(product.0.map(|p| crate::zero_wins(factor, p)))
}

/// [`crate::zero_wins`] lane by lane, each lane of `product` where that lane of `factor` is
/// not `0`: a tangent times a local derivative that may be infinite.
#[inline]
#[must_use]
pub fn zero_wins_each<T: num_traits::Float, const L: usize>(
    factor: Lanes<T, L>,
    product: Lanes<T, L>,
) -> Lanes<T, L> {
    let mut out = product.0;
    for (o, f) in out.iter_mut().zip(factor.0) {
        *o = crate::zero_wins(f, *o);
    }
    Lanes(out)
}

/// `t · g` lane by lane, `0` where a lane of `t` is `0` (`0 · ∞ = 0`): the tangent a call's
/// argument contributes, from the callee's partial derivative `g`.
#[inline]
#[must_use]
pub fn scaled_lanes<T: num_traits::Float, const L: usize>(t: Lanes<T, L>, g: T) -> Lanes<T, L> {
    Lanes(t.0.map(|t| crate::zero_wins(t, t * g)))
}

/// `Σₖ t[k] · g[k]`, each product as [`scaled_lanes`]: the tangent an array argument of a call
/// contributes, from the callee's gradient `g` with respect to it.
#[inline]
#[must_use]
pub fn dot_lanes<T: num_traits::Float, const L: usize>(
    t: &[Lanes<T, L>],
    g: impl AsRef<[T]>,
) -> Lanes<T, L> {
    t.iter()
        .zip(g.as_ref())
        .fold(Lanes::splat(T::zero()), |sum, (&t, &g)| {
            sum + scaled_lanes(t, g)
        })
}

impl<T: num_traits::Float, const L: usize> Add for Lanes<T, L> {
    type Output = Self;
    #[inline]
    fn add(self, other: Self) -> Self {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o = *o + b;
        }
        Self(out)
    }
}

impl<T: num_traits::Float, const L: usize> Sub for Lanes<T, L> {
    type Output = Self;
    #[inline]
    fn sub(self, other: Self) -> Self {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o = *o - b;
        }
        Self(out)
    }
}

impl<T: num_traits::Float, const L: usize> Neg for Lanes<T, L> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Self(self.0.map(|a| -a))
    }
}

impl<T: num_traits::Float, const L: usize> Mul<T> for Lanes<T, L> {
    type Output = Self;
    #[inline]
    fn mul(self, c: T) -> Self {
        Self(self.0.map(|a| a * c))
    }
}

impl<T: num_traits::Float, const L: usize> Div<T> for Lanes<T, L> {
    type Output = Self;
    #[inline]
    fn div(self, c: T) -> Self {
        Self(self.0.map(|a| a / c))
    }
}

impl<T: num_traits::Float, const L: usize> AddAssign for Lanes<T, L> {
    #[inline]
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl<T: num_traits::Float, const L: usize> SubAssign for Lanes<T, L> {
    #[inline]
    fn sub_assign(&mut self, other: Self) {
        *self = *self - other;
    }
}

impl<T: num_traits::Float, const L: usize> MulAssign<T> for Lanes<T, L> {
    #[inline]
    fn mul_assign(&mut self, c: T) {
        *self = *self * c;
    }
}

impl<T: num_traits::Float, const L: usize> DivAssign<T> for Lanes<T, L> {
    #[inline]
    fn div_assign(&mut self, c: T) {
        *self = *self / c;
    }
}

/// `c * lanes`, as generated code writes a local derivative before the tangent it scales.
macro_rules! scalar_times_lanes {
    ($($t:ty),*) => {$(
        impl<const L: usize> Mul<Lanes<$t, L>> for $t {
            type Output = Lanes<$t, L>;
            #[inline]
            fn mul(self, lanes: Lanes<$t, L>) -> Lanes<$t, L> {
                lanes * self
            }
        }
    )*};
}

scalar_times_lanes!(f32, f64);

#[cfg(test)]
mod tests {
    use super::{Lanes, dot_lanes, scaled_lanes, zero_wins_each, zero_wins_lanes};

    #[test]
    fn lanes_are_linear() {
        let a = Lanes([1.0, -2.0, 0.5]);
        let b = Lanes::<f64, 3>::unit(1);
        assert_eq!(b, Lanes([0.0, 1.0, 0.0]));
        assert_eq!(a + b * 2.0, Lanes([1.0, 0.0, 0.5]));
        assert_eq!(3.0 * a - b, Lanes([3.0, -7.0, 1.5]));
        assert_eq!(-a / 2.0, Lanes([-0.5, 1.0, -0.25]));
        let mut c = Lanes::<f64, 3>::splat(1.0);
        c += a;
        c -= b;
        c *= 2.0;
        c /= 4.0;
        assert_eq!(c, Lanes([1.0, -1.0, 0.75]));
        assert_eq!(Lanes::<f32, 2>::unit(5), Lanes([0.0, 0.0]));
        let inf = Lanes([f64::INFINITY, 1.0]);
        assert_eq!(zero_wins_lanes(0.0, inf), Lanes([0.0, 0.0]));
        assert_eq!(zero_wins_lanes(1.0, inf), inf);
        assert_eq!(zero_wins_each(Lanes([0.0, 1.0]), inf), Lanes([0.0, 1.0]));
        let t = Lanes([0.0, 2.0]);
        assert_eq!(scaled_lanes(t, f64::INFINITY), Lanes([0.0, f64::INFINITY]));
        let ts = [Lanes([1.0, 0.0]), Lanes([0.0, 1.0]), Lanes([2.0, 3.0])];
        assert_eq!(dot_lanes(&ts, [0.5, 4.0, -1.0]), Lanes([-1.5, 1.0]));
        let nan = dot_lanes(&ts, [f64::NAN]);
        assert!(nan.0[0].is_nan() && nan.0[1] == 0.0);
    }
}
