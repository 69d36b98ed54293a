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
