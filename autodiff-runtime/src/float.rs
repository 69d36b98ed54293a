//! The [`Float`] trait: the scalar types the runtime functions accept.

use core::fmt::Debug;
use core::ops::{Add, Div, Mul, Neg, Sub};

mod sealed {
    /// Private supertrait: only this crate can implement [`Float`](super::Float).
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A primitive floating-point type: implemented for exactly [`f32`] and [`f64`].
///
/// The trait carries only what the runtime functions need: copy semantics, the four
/// arithmetic operators and negation, comparisons, the constants `0` and `1`, and
/// four methods that forward to the inherent methods of the same name. It is sealed,
/// so it cannot be implemented outside this crate; its purpose is to let
/// [`sigmoid`](crate::sigmoid), [`relu`](crate::relu) and [`softplus`](crate::softplus)
/// accept both precisions, the way `#[differentiate]` accepts both `f32` and `f64`
/// parameters.
///
/// # Examples
///
/// ```
/// use autodiff_runtime::Float;
///
/// fn square_plus_one<T: Float>(x: T) -> T {
///     x * x + T::ONE
/// }
///
/// assert_eq!(square_plus_one(3.0_f64), 10.0);
/// assert_eq!(square_plus_one(3.0_f32), 10.0);
/// ```
pub trait Float:
    sealed::Sealed
    + Copy
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The additive identity, `0.0`.
    const ZERO: Self;
    /// The multiplicative identity, `1.0`.
    const ONE: Self;

    /// `e^self`, as [`f64::exp`].
    #[must_use]
    fn exp(self) -> Self;
    /// `ln(1 + self)`, accurate even when `self` is close to zero, as [`f64::ln_1p`].
    #[must_use]
    fn ln_1p(self) -> Self;
    /// The absolute value, as [`f64::abs`].
    #[must_use]
    fn abs(self) -> Self;
    /// The larger of `self` and `other`, as [`f64::max`] (a `NaN` argument is ignored).
    #[must_use]
    fn max(self, other: Self) -> Self;
}

macro_rules! impl_float {
    ($t:ident) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;

            #[inline]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
        }
    };
}

impl_float!(f32);
impl_float!(f64);

#[cfg(test)]
mod tests {
    use super::Float;

    fn via_trait<T: Float>(x: T, y: T) -> (T, T, T, T) {
        (x.exp(), x.ln_1p(), (-x).abs(), x.max(y))
    }

    #[test]
    fn methods_forward_to_inherent_f64() {
        let x = 0.75_f64;
        assert_eq!(via_trait(x, 2.0), (x.exp(), x.ln_1p(), x, 2.0));
        assert_eq!(f64::ZERO, 0.0);
        assert_eq!(f64::ONE, 1.0);
    }

    #[test]
    fn methods_forward_to_inherent_f32() {
        let x = 0.75_f32;
        assert_eq!(via_trait(x, 2.0), (x.exp(), x.ln_1p(), x, 2.0));
        assert_eq!(f32::ZERO, 0.0);
        assert_eq!(f32::ONE, 1.0);
    }
}
