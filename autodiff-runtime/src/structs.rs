//! What generated code uses to build the gradient entry of a struct: `wrt(p)` on a parameter
//! `p: P` (or `wrt(self)`) gives a `P` whose float fields hold the derivatives.

/// A float-array field of a gradient struct, built from the derivatives of its elements.
///
/// Implemented for fixed-size arrays and `Vec`, the two ways a struct holds float arrays.
///
/// ```
/// use autodiff_runtime::FieldGradient;
///
/// let a: [f64; 2] = FieldGradient::from_gradient(&[1.0, 2.0]);
/// let v: Vec<f64> = FieldGradient::from_gradient(&[1.0, 2.0]);
/// assert_eq!((a, v), ([1.0, 2.0], vec![1.0, 2.0]));
/// ```
pub trait FieldGradient<T> {
    /// The field holding `gradient`, element for element.
    ///
    /// # Panics
    ///
    /// For a fixed-size array, if `gradient` has another length.
    fn from_gradient(gradient: &[T]) -> Self;
}

impl<T: Copy + Default, const N: usize> FieldGradient<T> for [T; N] {
    fn from_gradient(gradient: &[T]) -> Self {
        let mut a = [T::default(); N];
        a.copy_from_slice(gradient);
        a
    }
}

impl<T: Clone> FieldGradient<T> for Vec<T> {
    fn from_gradient(gradient: &[T]) -> Self {
        gradient.to_vec()
    }
}

// Fields of the other precision than the function: the derivatives are accumulated in the
// function's float type and stored in the field's, as for an `f32` parameter of an `f64`
// function (`f32` in, `f32` out).

impl<const N: usize> FieldGradient<f64> for [f32; N] {
    fn from_gradient(gradient: &[f64]) -> Self {
        assert_eq!(gradient.len(), N, "a gradient as long as the array");
        core::array::from_fn(|i| ScalarGradient::from_derivative(gradient[i]))
    }
}

impl<const N: usize> FieldGradient<f32> for [f64; N] {
    fn from_gradient(gradient: &[f32]) -> Self {
        assert_eq!(gradient.len(), N, "a gradient as long as the array");
        core::array::from_fn(|i| f64::from(gradient[i]))
    }
}

impl FieldGradient<f64> for Vec<f32> {
    fn from_gradient(gradient: &[f64]) -> Self {
        gradient
            .iter()
            .map(|&g| ScalarGradient::from_derivative(g))
            .collect()
    }
}

impl FieldGradient<f32> for Vec<f64> {
    fn from_gradient(gradient: &[f32]) -> Self {
        gradient.iter().map(|&g| f64::from(g)).collect()
    }
}

/// A float field of a gradient struct, built from its derivative, which is of the function's
/// float type: the same value, or an `f32` field's derivative rounded from the `f64` it was
/// accumulated in (`f32` in, `f32` out).
///
/// ```
/// use autodiff_runtime::ScalarGradient;
///
/// let same: f64 = ScalarGradient::from_derivative(0.1_f64);
/// let rounded: f32 = ScalarGradient::from_derivative(0.1_f64);
/// let widened: f64 = ScalarGradient::from_derivative(0.5_f32);
/// assert_eq!((same, rounded, widened), (0.1, 0.1, 0.5));
/// ```
pub trait ScalarGradient<T> {
    /// The field holding `derivative`.
    fn from_derivative(derivative: T) -> Self;
}

impl<T> ScalarGradient<T> for T {
    #[inline]
    fn from_derivative(derivative: T) -> Self {
        derivative
    }
}

impl ScalarGradient<f64> for f32 {
    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    fn from_derivative(derivative: f64) -> Self {
        derivative as f32
    }
}

impl ScalarGradient<f32> for f64 {
    #[inline]
    fn from_derivative(derivative: f32) -> Self {
        f64::from(derivative)
    }
}

/// `P::default()`, with the fields that `fill` sets: the gradient entry of a struct.
///
/// ```
/// #[derive(Default, Debug, PartialEq)]
/// struct P {
///     a: f64,
///     n: usize,
/// }
/// let g: P = autodiff_runtime::gradient_of(|g: &mut P| g.a = 2.0);
/// assert_eq!(g, P { a: 2.0, n: 0 });
/// ```
pub fn gradient_of<P: Default>(fill: impl FnOnce(&mut P)) -> P {
    let mut gradient = P::default();
    fill(&mut gradient);
    gradient
}
