//! Every row of the derivative table, checked against independent oracles.
//!
//! Each operation gets a `#[differentiate(reverse, forward)]` function `f` that applies it to
//! its parameters, and a `scaled(s, ..) = s * f(..)` so that the rule is also exercised with an
//! incoming adjoint other than one. At several points, `f_grad` is compared with the closed-form
//! derivative written out below, with fourth-order finite differences of `f`, and with forward
//! mode (`f_jvp` along unit and pseudo-random directions); its value must equal `f` exactly.
//! The conventions at kinks, `f32` versions of the rules, and the structural features of a
//! body (fan-out, shadowing, `let mut`, blocks, constants, casts, `wrt`) follow.
// The original functions use `as` casts, the form the macro documents; for test code converting
// exact sample points, `From` would only add noise.
#![allow(
    clippy::cast_lossless,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

/// The finite-difference tolerance: the checker's default unless given.
macro_rules! fd {
    () => {
        autodiff::Tolerance::default()
    };
    ($fd:expr) => {
        $fd
    };
}

/// Checks `$f` (with its generated `$grad` and `$jvp`) against the closed-form gradient
/// `$closed`, an array with one entry per parameter, at each of `$points`. The parameters are
/// named `$x`, their tangents `$dx`. Without names, checks the enclosing module's `f`.
macro_rules! check_fn {
    ($f:ident, $grad:ident, $jvp:ident; |$($x:ident $dx:ident),+| $closed:expr,
     at $points:expr $(, fd = $fd:expr)?) => {
        crate::common::check(
            concat!(module_path!(), "::", stringify!($f)),
            &$points,
            fd!($($fd)?),
            |[$($x),+]| $f($($x),+),
            |[$($x),+]| {
                let (value, $($x),+) = $grad($($x),+);
                (value, [$($x),+])
            },
            |[$($x),+], [$($dx),+]| $jvp($($x, $dx),+),
            |[$($x),+]| {
                let _ = [$($x),+];
                $closed
            },
        )
    };
    (|$($x:ident $dx:ident),+| $closed:expr, at $points:expr $(, fd = $fd:expr)?) => {
        check_fn!(f, f_grad, f_jvp; |$($x $dx),+| $closed, at $points $(, fd = $fd)?)
    };
}

/// [`check_fn!`] on the enclosing module's `f`, then on its `scaled(s, ..) = s * f(..)`, whose
/// gradient is `(f(..), s · ∇f(..))`, at each point with `s = -1.75` and `s = 0.625`.
macro_rules! rule {
    (|$($x:ident $dx:ident),+| $closed:expr, at $points:expr $(, fd = $fd:expr)?) => {
        check_fn!(|$($x $dx),+| $closed, at $points $(, fd = $fd)?);
        let scaled_points: Vec<_> = $points
            .iter()
            .flat_map(|&[$($x),+]| [[-1.75, $($x),+], [0.625, $($x),+]])
            .collect();
        crate::common::check(
            concat!(module_path!(), "::scaled"),
            &scaled_points,
            fd!($($fd)?),
            |[s, $($x),+]| scaled(s, $($x),+),
            |[s, $($x),+]| {
                let (value, s, $($x),+) = scaled_grad(s, $($x),+);
                (value, [s, $($x),+])
            },
            |[s, $($x),+], [ds, $($dx),+]| scaled_jvp(s, ds, $($x, $dx),+),
            |[s, $($x),+]| {
                let [$($dx),+] = $closed;
                [f($($x),+), $(s * $dx),+]
            },
        );
    };
}

/// [`common::check_f32`] on `$f`; `$closed` is evaluated in `f64` at the same point.
macro_rules! check_f32 {
    ($f:ident, $grad:ident, $jvp:ident; |$($x:ident $dx:ident),+| $closed:expr,
     at $points:expr) => {
        crate::common::check_f32(
            concat!(module_path!(), "::", stringify!($f)),
            &$points,
            |[$($x),+]| $f($($x),+),
            |[$($x),+]| {
                let (value, $($x),+) = $grad($($x),+);
                (value, [$($x),+])
            },
            |[$($x),+], [$($dx),+]| $jvp($($x, $dx),+),
            |[$($x),+]| {
                let _ = [$($x),+];
                $closed
            },
        )
    };
}
// Arithmetic.

mod add {
    //! ∂(a + b) = (1, 1)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a + b
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * (a + b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| [1.0, 1.0],
            at [[1.5, -2.25], [-3.0, 0.5], [0.1, 7.0], [-0.7, -0.2]]
        );
    }
}

mod sub {
    //! ∂(a - b) = (1, -1)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a - b
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * (a - b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| [1.0, -1.0],
            at [[1.5, -2.25], [-3.0, 0.5], [0.1, 7.0], [-0.7, -0.2]]
        );
    }
}

mod mul {
    //! ∂(a b) = (b, a)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a * b
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * (a * b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| [b, a],
            at [[1.5, -2.25], [-3.0, 0.5], [0.1, 7.0], [-0.7, -0.2]]
        );
    }
}

mod div {
    //! ∂(a / b) = (1 / b, -a / b²)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a / b
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * (a / b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| [1.0 / b, -a / (b * b)],
            at [[1.5, -2.5], [-3.0, 0.4], [0.7, 7.0], [-2.2, -1.3]]
        );
    }
}

mod rem {
    //! a % b = a - b trunc(a / b), so ∂(a % b) = (1, -trunc(a / b)) away from the jumps
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a % b
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * (a % b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| [1.0, -(a / b).trunc()],
            at [[7.3, 2.0], [-7.3, 2.0], [5.5, -1.5], [0.4, 3.0], [-9.1, -2.5]]
        );
    }
}

mod neg {
    //! d(-x)/dx = -1
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        -x
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * -x
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [-1.0],
            at [[-2.5], [-0.3], [0.4], [6.0]]
        );
    }
}

// Exponentials and logarithms.

mod exp {
    //! d eˣ/dx = eˣ
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.exp()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.exp()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [x.exp()],
            at [[-3.0], [-0.5], [0.25], [2.0]]
        );
    }
}

mod exp2 {
    //! d 2ˣ/dx = 2ˣ ln 2
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.exp2()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.exp2()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [2.0_f64.powf(x) * std::f64::consts::LN_2],
            at [[-2.5], [-0.3], [0.7], [3.0]]
        );
    }
}

mod exp_m1 {
    //! d (eˣ - 1)/dx = eˣ
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.exp_m1()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.exp_m1()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [x.exp()],
            at [[-2.0], [-0.01], [0.3], [1.5]]
        );
    }
}

mod ln {
    //! d ln x/dx = 1 / x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.ln()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.ln()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / x],
            at [[0.1], [0.7], [2.5], [40.0]]
        );
    }
}

mod ln_1p {
    //! d ln(1 + x)/dx = 1 / (1 + x)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.ln_1p()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.ln_1p()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (1.0 + x)],
            at [[-0.5], [-0.1], [0.3], [5.0]]
        );
    }
}

mod log {
    //! `log_b x = ln x / ln b`: ∂/∂x = 1 / (x ln b), ∂/∂b = -ln x / (b ln² b)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64, b: f64) -> f64 {
        x.log(b)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64, b: f64) -> f64 {
        s * x.log(b)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx, b db| [1.0 / (x * b.ln()), -x.ln() / (b * b.ln() * b.ln())],
            at [[2.5, 3.0], [0.4, 10.0], [7.0, 0.5], [1.3, 2.0], [0.2, 0.3]]
        );
    }
}

mod log2 {
    //! d log₂ x/dx = 1 / (x ln 2)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.log2()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.log2()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (x * std::f64::consts::LN_2)],
            at [[0.2], [1.0], [3.5], [64.0]]
        );
    }
}

mod log10 {
    //! d log₁₀ x/dx = 1 / (x ln 10)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.log10()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.log10()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (x * std::f64::consts::LN_10)],
            at [[0.2], [1.0], [3.5], [64.0]]
        );
    }
}

// Powers and roots.

mod sqrt {
    //! d √x/dx = 1 / (2 √x)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.sqrt()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.sqrt()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.5 / x.sqrt()],
            at [[0.09], [1.0], [2.25], [100.0]]
        );
    }
}

mod cbrt {
    //! d ∛x/dx = |x|^(-2/3) / 3, on both sides of 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.cbrt()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.cbrt()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [x.abs().powf(-2.0 / 3.0) / 3.0],
            at [[-8.0], [-0.3], [0.5], [27.0]]
        );
    }
}

mod powf {
    //! ∂xʸ/∂x = y xʸ⁻¹, ∂xʸ/∂y = xʸ ln x (x > 0)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64, y: f64) -> f64 {
        x.powf(y)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64, y: f64) -> f64 {
        s * x.powf(y)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx, y dy| [y * x.powf(y - 1.0), x.powf(y) * x.ln()],
            at [[1.5, 2.5], [0.3, -1.7], [4.0, 0.5], [2.2, -3.0], [0.8, 0.0]]
        );
    }

    #[differentiate(reverse, forward, hessian)]
    pub fn h(x: f64, y: f64) -> f64 {
        x.powf(y)
    }

    /// At a negative base `∂/∂y = xʸ ln x` is NaN, where `∂/∂x = y xʸ⁻¹` exists: a zero
    /// tangent (or direction) of `y` must not carry the NaN into it (Clad's `f_pow_zero`).
    #[test]
    fn a_negative_base_keeps_the_derivatives_in_x() {
        // (-2)³ = -8, ∂/∂x = 3 · 4 = 12, ∂²/∂x² = 3 · 2 · (-2) = -12.
        let (v, dx, dy) = f_grad(-2.0, 3.0);
        assert_eq!((v, dx), (-8.0, 12.0));
        assert!(dy.is_nan(), "xʸ ln x at x < 0 has no value: {dy}");
        assert_eq!(f_jvp(-2.0, 1.0, 3.0, 0.0), (-8.0, 12.0));
        let (_, gx, _, hx, _) = h_hvp(-2.0, 1.0, 3.0, 0.0);
        assert_eq!((gx, hx), (12.0, -12.0));
        let (_, _, _, hess) = h_hessian(-2.0, 3.0);
        assert_eq!(hess[0][0], -12.0);
        // x¹ at 0: ∂²/∂x² = y (y - 1) xʸ⁻² = 0 · ∞ = 0 along x, where ln 0 would make it NaN.
        let (_, gx, _, hx, _) = h_hvp(0.0, 1.0, 1.0, 0.0);
        assert_eq!((gx, hx), (1.0, 0.0));
    }
}

mod recip {
    //! d (1/x)/dx = -1 / x²
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.recip()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.recip()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [-1.0 / (x * x)],
            at [[-2.5], [-0.4], [0.3], [3.0]]
        );
    }
}

mod hypot {
    //! ∂√(x² + y²) = (x, y) / √(x² + y²)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64, y: f64) -> f64 {
        x.hypot(y)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64, y: f64) -> f64 {
        s * x.hypot(y)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx, y dy| [x / (x * x + y * y).sqrt(), y / (x * x + y * y).sqrt()],
            at [[3.0, 4.0], [-1.2, 0.5], [0.3, -2.0], [-5.0, -0.1]]
        );
    }
}

mod mul_add {
    //! ∂(x a + b) = (a, x, 1)
    // `scaled_jvp` takes a tangent after each of its four parameters.
    #![allow(clippy::too_many_arguments)]
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64, a: f64, b: f64) -> f64 {
        x.mul_add(a, b)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64, a: f64, b: f64) -> f64 {
        s * (x.mul_add(a, b))
    }

    #[test]
    fn rule() {
        rule!(
            |x dx, a da, b db| [a, x, 1.0],
            at [[1.5, -2.0, 0.5], [-0.3, 4.0, -1.0], [2.5, 0.7, 3.0], [-1.1, -0.6, -2.0]]
        );
    }
}

// `powi` with a literal exponent.

mod powi_0 {
    //! d x⁰/dx = 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.powi(0)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.powi(0)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.0],
            at [[-1.5], [-0.3], [0.4], [2.0]]
        );
    }
}

mod powi_1 {
    //! d x¹/dx = 1
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.powi(1)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.powi(1)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0],
            at [[-1.5], [-0.3], [0.4], [2.0]]
        );
    }
}

mod powi_2 {
    //! d x²/dx = 2x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.powi(2)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.powi(2)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [2.0 * x],
            at [[-1.5], [-0.3], [0.4], [2.0]]
        );
    }
}

mod powi_3 {
    //! d x³/dx = 3x²
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.powi(3)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.powi(3)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [3.0 * x * x],
            at [[-1.5], [-0.3], [0.4], [2.0]]
        );
    }
}

mod powi_neg2 {
    //! d x⁻²/dx = -2 / x³
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.powi(-2)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.powi(-2)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [-2.0 / (x * x * x)],
            at [[-1.5], [-0.3], [0.4], [2.0]]
        );
    }
}

// Trigonometry.

mod sin {
    //! d sin x/dx = cos x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.sin()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.sin()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [x.cos()],
            at [[-2.5], [-0.3], [0.4], [1.2], [4.0]]
        );
    }
}

mod cos {
    //! d cos x/dx = -sin x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.cos()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.cos()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [-x.sin()],
            at [[-2.5], [-0.3], [0.4], [1.2], [4.0]]
        );
    }
}

mod tan {
    //! d tan x/dx = 1 / cos² x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.tan()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.tan()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (x.cos() * x.cos())],
            at [[-2.5], [-1.2], [-0.3], [0.5], [1.0], [2.0]]
        );
    }
}

mod asin {
    //! d asin x/dx = 1 / √(1 - x²)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.asin()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.asin()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (1.0 - x * x).sqrt()],
            at [[-0.9], [-0.3], [0.2], [0.75]]
        );
    }
}

mod acos {
    //! d acos x/dx = -1 / √(1 - x²)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.acos()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.acos()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [-1.0 / (1.0 - x * x).sqrt()],
            at [[-0.9], [-0.3], [0.2], [0.75]]
        );
    }
}

mod atan {
    //! d atan x/dx = 1 / (1 + x²)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.atan()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.atan()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (1.0 + x * x)],
            at [[-5.0], [-0.5], [0.3], [2.0]]
        );
    }
}

mod atan2 {
    //! ∂atan2(y, x)/∂y = x / (x² + y²), ∂/∂x = -y / (x² + y²), in every quadrant
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(y: f64, x: f64) -> f64 {
        y.atan2(x)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, y: f64, x: f64) -> f64 {
        s * y.atan2(x)
    }

    #[test]
    fn rule() {
        rule!(
            |y dy, x dx| [x / (x * x + y * y), -y / (x * x + y * y)],
            at [[2.0, 1.0], [1.5, -0.5], [-0.3, -2.0], [-1.1, 0.7], [0.0, 3.0]]
        );
    }
}

mod to_radians {
    //! d (x π / 180)/dx = π / 180
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.to_radians()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.to_radians()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [std::f64::consts::PI / 180.0],
            at [[-270.0], [-1.5], [30.0], [400.0]]
        );
    }
}

mod to_degrees {
    //! d (x 180 / π)/dx = 180 / π
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.to_degrees()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.to_degrees()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [180.0 / std::f64::consts::PI],
            at [[-4.0], [-0.2], [0.5], [7.0]]
        );
    }
}

// Hyperbolic functions.

mod sinh {
    //! d sinh x/dx = cosh x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.sinh()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.sinh()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [x.cosh()],
            at [[-2.0], [-0.4], [0.6], [3.0]]
        );
    }
}

mod cosh {
    //! d cosh x/dx = sinh x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.cosh()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.cosh()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [x.sinh()],
            at [[-2.0], [-0.4], [0.6], [3.0]]
        );
    }
}

mod tanh {
    //! d tanh x/dx = 1 / cosh² x
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.tanh()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.tanh()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (x.cosh() * x.cosh())],
            at [[-2.0], [-0.4], [0.6], [3.0]]
        );
    }
}

mod asinh {
    //! d asinh x/dx = 1 / √(x² + 1)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.asinh()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.asinh()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (x * x + 1.0).sqrt()],
            at [[-3.0], [-0.5], [0.2], [10.0]]
        );
    }
}

mod acosh {
    //! d acosh x/dx = 1 / √(x² - 1) (x > 1)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.acosh()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.acosh()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (x * x - 1.0).sqrt()],
            at [[1.1], [1.5], [3.0], [20.0]]
        );
    }
}

mod atanh {
    //! d atanh x/dx = 1 / (1 - x²)
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.atanh()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.atanh()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (1.0 - x * x)],
            at [[-0.9], [-0.3], [0.2], [0.75]]
        );
    }
}

// Kinks and steps, away from the kinks (the kinks themselves are in `kinks`).

mod abs {
    //! d |x|/dx = sign x away from 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.abs()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.abs()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [if x > 0.0 { 1.0 } else { -1.0 }],
            at [[-2.0], [-0.3], [0.4], [5.0]]
        );
    }
}

mod signum {
    //! signum is piecewise constant: derivative 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.signum()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.signum()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.0],
            at [[-2.3], [-0.7], [0.4], [3.2]]
        );
    }
}

mod max {
    //! ∂max(a, b) = (1, 0) where a > b, (0, 1) where a < b
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a.max(b)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * a.max(b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| if a > b { [1.0, 0.0] } else { [0.0, 1.0] },
            at [[1.0, 1.2], [1.2, 1.0], [-3.0, -0.5], [-0.5, -3.0], [-2.0, 4.0]]
        );
    }
}

mod min {
    //! ∂min(a, b) = (1, 0) where a < b, (0, 1) where a > b
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(a: f64, b: f64) -> f64 {
        a.min(b)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, a: f64, b: f64) -> f64 {
        s * a.min(b)
    }

    #[test]
    fn rule() {
        rule!(
            |a da, b db| if a < b { [1.0, 0.0] } else { [0.0, 1.0] },
            at [[1.0, 1.2], [1.2, 1.0], [-3.0, -0.5], [-0.5, -3.0], [-2.0, 4.0]]
        );
    }
}

mod clamp {
    //! ∂clamp(x, lo, hi) = (1, 0, 0) inside, (0, 1, 0) below lo, (0, 0, 1) above hi
    // `scaled_jvp` takes a tangent after each of its four parameters.
    #![allow(clippy::too_many_arguments)]
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64, lo: f64, hi: f64) -> f64 {
        x.clamp(lo, hi)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64, lo: f64, hi: f64) -> f64 {
        s * (x.clamp(lo, hi))
    }

    #[test]
    fn rule() {
        rule!(
            |x dx, lo dlo, hi dhi| if x < lo { [0.0, 1.0, 0.0] } else if x > hi { [0.0, 0.0, 1.0] } else { [1.0, 0.0, 0.0] },
            at [[0.3, -1.0, 1.0], [-2.0, -1.0, 1.0], [2.5, -1.0, 1.0], [-0.5, -2.0, -0.1], [5.0, 1.0, 3.0], [-4.0, -3.0, 2.0]]
        );
    }
}

mod fract {
    //! fract x = x - trunc x: derivative 1 away from the integers
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.fract()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.fract()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0],
            at [[-2.3], [-0.7], [0.4], [3.2]]
        );
    }
}

// Piecewise constant.

mod floor {
    //! floor is piecewise constant: derivative 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.floor()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.floor()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.0],
            at [[-2.3], [-0.7], [0.4], [3.2]]
        );
    }
}

mod ceil {
    //! ceil is piecewise constant: derivative 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.ceil()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.ceil()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.0],
            at [[-2.3], [-0.7], [0.4], [3.2]]
        );
    }
}

mod round {
    //! round is piecewise constant: derivative 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.round()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.round()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.0],
            at [[-2.3], [-0.7], [0.4], [3.2]]
        );
    }
}

mod trunc {
    //! trunc is piecewise constant: derivative 0
    use autodiff::differentiate;

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        x.trunc()
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * x.trunc()
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [0.0],
            at [[-2.3], [-0.7], [0.4], [3.2]]
        );
    }
}

// The runtime functions.

mod sigmoid {
    //! σ(x) = 1 / (1 + e⁻ˣ), σ' = σ (1 - σ)
    use autodiff::{differentiate, sigmoid};

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        sigmoid(x)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * sigmoid(x)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| {
            let s = 1.0 / (1.0 + (-x).exp());
            [s * (1.0 - s)]
        },
            at [[-4.0], [-0.5], [0.3], [3.0]]
        );
    }
}

mod zero_wins {
    //! `zero_wins(f, p)` = 0 where f = 0, else p: ∂/∂f = 0, ∂/∂p = 1 where f ≠ 0, else 0
    use autodiff::{differentiate, zero_wins};

    #[differentiate(reverse, forward)]
    pub fn f(f: f64, p: f64) -> f64 {
        zero_wins(f, p)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, f: f64, p: f64) -> f64 {
        s * zero_wins(f, p)
    }

    #[test]
    fn rule() {
        rule!(|f df, p dp| [0.0, 1.0], at [[-1.5, 0.5], [2.0, -3.0], [0.7, 0.0]]);
        assert_eq!(f_grad(0.0, 2.0), (0.0, 0.0, 0.0));
        assert_eq!(f_jvp(0.0, 1.0, 2.0, 1.0), (0.0, 0.0));
        assert_eq!(f_grad(0.0, f64::NAN), (0.0, 0.0, 0.0));
        let (v, _, dp) = f_grad(1.0, f64::INFINITY);
        assert_eq!((v, dp), (f64::INFINITY, 1.0));
    }
}

mod relu {
    //! relu'(x) = 1 for x > 0, 0 for x < 0
    use autodiff::{differentiate, relu};

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        relu(x)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * relu(x)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [if x > 0.0 { 1.0 } else { 0.0 }],
            at [[-2.0], [-0.3], [0.4], [5.0]]
        );
    }
}

mod softplus {
    //! softplus(x) = ln(1 + eˣ), softplus' = 1 / (1 + e⁻ˣ)
    use autodiff::{differentiate, softplus};

    #[differentiate(reverse, forward)]
    pub fn f(x: f64) -> f64 {
        softplus(x)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64) -> f64 {
        s * softplus(x)
    }

    #[test]
    fn rule() {
        rule!(
            |x dx| [1.0 / (1.0 + (-x).exp())],
            at [[-4.0], [-0.5], [0.3], [3.0]]
        );
    }
}

mod powi {
    //! d xⁿ/dx = n xⁿ⁻¹ for an `i32` parameter `n`, which gets no gradient entry and no tangent.
    use crate::common;
    use autodiff::{Tolerance, differentiate};

    #[differentiate(reverse, forward)]
    pub fn f(x: f64, n: i32) -> f64 {
        x.powi(n)
    }

    #[differentiate(reverse, forward)]
    pub fn scaled(s: f64, x: f64, n: i32) -> f64 {
        s * x.powi(n)
    }

    #[test]
    fn rule() {
        for n in [-3, -2, -1, 0, 1, 2, 3, 5] {
            common::check(
                &format!("powi(x, {n})"),
                &[[-1.5], [-0.3], [0.4], [2.0]],
                Tolerance::default(),
                |[x]| f(x, n),
                |[x]| {
                    let (value, dx) = f_grad(x, n);
                    (value, [dx])
                },
                |[x], [dx]| f_jvp(x, dx, n),
                |[x]| [f64::from(n) * x.powi(n - 1)],
            );
            common::check(
                &format!("s * powi(x, {n})"),
                &[[-1.75, -1.5], [0.625, -0.3], [-1.75, 0.4], [0.625, 2.0]],
                Tolerance::default(),
                |[s, x]| scaled(s, x, n),
                |[s, x]| {
                    let (value, ds, dx) = scaled_grad(s, x, n);
                    (value, [ds, dx])
                },
                |[s, x], [ds, dx]| scaled_jvp(s, ds, x, dx, n),
                |[s, x]| [x.powi(n), s * f64::from(n) * x.powi(n - 1)],
            );
        }
    }
}

// Casts between `f32` and `f64`.

mod casts {
    //! A float-to-float `as` cast has derivative 1; the gradient entry has the parameter's type.
    use crate::common::{FD_F32, assert_close};
    use autodiff::{check_gradient_with, differentiate};

    /// `f32` in, `f64` out.
    #[differentiate(reverse, forward)]
    pub fn widen(x: f32, y: f64) -> f64 {
        (x as f64) * y + (x as f64).sin()
    }

    /// `f64` in, `f32` out.
    #[differentiate(reverse, forward)]
    pub fn narrow(x: f64, y: f32) -> f32 {
        (x as f32) * y + (x as f32).exp()
    }

    /// `c(x) = (x as f32) as f64` has derivative 1, so d (c(x) x)/dx = x + c(x), with the
    /// adjoint itself passing through `f32` on the way back.
    #[differentiate(reverse, forward)]
    pub fn round_trip(x: f64) -> f64 {
        ((x as f32) as f64) * x
    }

    #[test]
    fn widen_rule() {
        for (x, y) in [(1.5_f32, -2.0), (-0.25, 0.7), (3.0, 4.5), (-7.125, -0.3)] {
            let (value, dx, dy) = widen_grad(x, y);
            assert_eq!(value, widen(x, y));
            let xw = f64::from(x);
            // ∂/∂x = y + cos x, in f64, rounded to the parameter's f32.
            assert_close("widen ∂/∂x", f64::from(dx), y + xw.cos(), 1e-7);
            assert_close("widen ∂/∂y", dy, xw, 1e-15);
            check_gradient_with(
                |v| widen(v[0] as f32, v[1]),
                &[xw, y],
                &[f64::from(dx), dy],
                FD_F32,
            )
            .unwrap();
            let (vj, tx) = widen_jvp(x, 1.0, y, 0.0);
            assert_eq!(vj, value);
            assert_close("widen jvp e0", tx, y + xw.cos(), 1e-14);
            let (_, ty) = widen_jvp(x, 0.0, y, 1.0);
            assert_close("widen jvp e1", ty, dy, 1e-15);
            let (_, t) = widen_jvp(x, 0.5, y, -2.0);
            assert_close("widen jvp", t, 0.5 * (y + xw.cos()) - 2.0 * xw, 1e-14);
        }
    }

    #[test]
    fn narrow_rule() {
        for (x, y) in [(1.5, -2.0_f32), (-0.25, 0.7), (3.0, 4.5), (-7.125, -0.3)] {
            let (value, dx, dy) = narrow_grad(x, y);
            assert_eq!(value, narrow(x, y));
            // ∂/∂x = y + eˣ, computed in f32 and returned as the parameter's f64.
            assert_close("narrow ∂/∂x", dx, f64::from(y) + x.exp(), 1e-6);
            assert_close("narrow ∂/∂y", f64::from(dy), x, 1e-15);
            check_gradient_with(
                |v| f64::from(narrow(v[0], v[1] as f32)),
                &[x, f64::from(y)],
                &[dx, f64::from(dy)],
                FD_F32,
            )
            .unwrap();
            let (vj, tx) = narrow_jvp(x, 1.0, y, 0.0);
            assert_eq!(vj, value);
            assert_close("narrow jvp e0", f64::from(tx), dx, 1e-6);
            let (_, ty) = narrow_jvp(x, 0.0, y, 1.0);
            assert_close("narrow jvp e1", f64::from(ty), f64::from(dy), 1e-6);
            let (_, t) = narrow_jvp(x, 0.5, y, -2.0);
            assert_close(
                "narrow jvp",
                f64::from(t),
                0.5 * dx - 2.0 * f64::from(dy),
                1e-6,
            );
        }
    }

    #[test]
    fn round_trip_rule() {
        // Exactly representable in f32: c(x) = x and the derivative is exactly 2x.
        for x in [1.5, -0.25, 3.0, -7.125] {
            assert_eq!(round_trip_grad(x), (x * x, 2.0 * x));
            assert_eq!(round_trip_jvp(x, 1.0), (x * x, 2.0 * x));
        }
        // Not representable: x + c(x) up to the f32 rounding of the adjoint.
        for x in [0.1, -1.3, 2.7, -40.9] {
            let (value, dx) = round_trip_grad(x);
            assert_eq!(value, round_trip(x));
            let c = f64::from(x as f32);
            assert_close("round_trip ∂/∂x", dx, x + c, 1e-7);
            check_gradient_with(
                |v| round_trip(v[0]),
                &[x],
                &[dx],
                autodiff::Tolerance {
                    rel: 1e-3,
                    abs: 1e-4,
                },
            )
            .unwrap();
            let (vj, t) = round_trip_jvp(x, 1.0);
            assert_eq!(vj, value);
            assert_close("round_trip jvp", t, x + c, 1e-7);
        }
    }
}

// The seed's table, row by row.

mod seed_table {
    //! a + b → (1, 1); a b → (b, a); a² → 2a; eᵃ → eᵃ; σ(a) → σ(a) (1 - σ(a));
    //! relu(a) → 1 if a > 0 else 0.
    use autodiff::{differentiate, relu, sigmoid};
    use std::f64::consts::E;

    #[differentiate(reverse, forward)]
    pub fn sum(a: f64, b: f64) -> f64 {
        a + b
    }

    #[differentiate(reverse, forward)]
    pub fn product(a: f64, b: f64) -> f64 {
        a * b
    }

    #[differentiate(reverse, forward)]
    pub fn square(a: f64) -> f64 {
        a.powi(2)
    }

    #[differentiate(reverse, forward)]
    pub fn square_by_product(a: f64) -> f64 {
        a * a
    }

    #[differentiate(reverse, forward)]
    pub fn exponential(a: f64) -> f64 {
        a.exp()
    }

    #[differentiate(reverse, forward)]
    pub fn logistic(a: f64) -> f64 {
        sigmoid(a)
    }

    #[differentiate(reverse, forward)]
    pub fn rectifier(a: f64) -> f64 {
        relu(a)
    }

    #[test]
    fn exact_values() {
        assert_eq!(sum_grad(2.0, 3.0), (5.0, 1.0, 1.0));
        assert_eq!(product_grad(2.0, 3.0), (6.0, 3.0, 2.0));
        assert_eq!(product_grad(-1.5, 4.0), (-6.0, 4.0, -1.5));
        assert_eq!(square_grad(3.0), (9.0, 6.0));
        assert_eq!(square_grad(-1.5), (2.25, -3.0));
        assert_eq!(square_by_product_grad(3.0), (9.0, 6.0));
        assert_eq!(square_by_product_grad(-1.5), (2.25, -3.0));
        assert_eq!(exponential_grad(0.0), (1.0, 1.0));
        let (v, d) = exponential_grad(1.0);
        assert_eq!(v, 1.0_f64.exp());
        approx::assert_relative_eq!(d, E, max_relative = 1e-15);
        assert_eq!(logistic_grad(0.0), (0.5, 0.25));
        // σ(ln 3) = 3/4, σ' = 3/4 · 1/4 = 3/16.
        let (v, d) = logistic_grad(3.0_f64.ln());
        approx::assert_relative_eq!(v, 0.75, max_relative = 1e-15);
        approx::assert_relative_eq!(d, 0.1875, max_relative = 1e-14);
        assert_eq!(rectifier_grad(2.0), (2.0, 1.0));
        assert_eq!(rectifier_grad(-2.0), (0.0, 0.0));
    }

    #[test]
    fn against_oracles() {
        let pairs = [[2.0, 3.0], [-1.5, 4.0], [0.3, -0.7], [-2.5, -1.25]];
        let singles = [[-2.0], [-0.4], [0.3], [1.7]];
        check_fn!(sum, sum_grad, sum_jvp; |a da, b db| [1.0, 1.0], at pairs);
        check_fn!(product, product_grad, product_jvp; |a da, b db| [b, a], at pairs);
        check_fn!(square, square_grad, square_jvp; |a da| [2.0 * a], at singles);
        check_fn!(
            square_by_product, square_by_product_grad, square_by_product_jvp;
            |a da| [2.0 * a],
            at singles
        );
        check_fn!(exponential, exponential_grad, exponential_jvp; |a da| [a.exp()], at singles);
        check_fn!(
            logistic, logistic_grad, logistic_jvp;
            |a da| {
                let s = 1.0 / (1.0 + (-a).exp());
                [s * (1.0 - s)]
            },
            at singles
        );
        check_fn!(
            rectifier, rectifier_grad, rectifier_jvp;
            |a da| [if a > 0.0 { 1.0 } else { 0.0 }],
            at singles
        );
    }
}

// Paths, constant operands and the `f64::method(x)` spelling.

mod spellings {
    //! `f64::method(x, ..)` is the same rule as `x.method(..)`; a constant operand gets no entry.
    use autodiff::differentiate;
    use std::f64::consts::LN_2;

    #[differentiate(reverse, forward)]
    pub fn path_exp(x: f64) -> f64 {
        f64::exp(x)
    }

    #[differentiate(reverse, forward)]
    pub fn path_powf(x: f64, y: f64) -> f64 {
        f64::powf(x, y)
    }

    #[differentiate(reverse, forward)]
    pub fn path_atan2(y: f64, x: f64) -> f64 {
        f64::atan2(y, x)
    }

    #[differentiate(reverse, forward)]
    pub fn path_mul_add(x: f64, a: f64, b: f64) -> f64 {
        f64::mul_add(x, a, b)
    }

    #[differentiate(reverse, forward)]
    pub fn path_max(a: f64, b: f64) -> f64 {
        f64::max(a, b)
    }

    #[differentiate(reverse, forward)]
    pub fn path_clamp(x: f64, lo: f64, hi: f64) -> f64 {
        f64::clamp(x, lo, hi)
    }

    /// 2ˣ through `powf` with a literal base: d/dx = 2ˣ ln 2.
    #[differentiate(reverse, forward)]
    pub fn literal_base(x: f64) -> f64 {
        2.0_f64.powf(x)
    }

    /// ∂/∂x of `x.powf(2.5) + x.log(10.0) + x.max(0.5) + x.clamp(-1.0, 1.0) + x.hypot(2.0)`:
    /// 2.5 x^1.5 + 1 / (x ln 10) + [x > 0.5] + [|x| ≤ 1] + x / √(x² + 4).
    #[differentiate(reverse, forward)]
    pub fn literal_operands(x: f64) -> f64 {
        x.powf(2.5) + x.log(10.0) + x.max(0.5) + x.clamp(-1.0, 1.0) + x.hypot(2.0)
    }

    #[test]
    fn paths() {
        let pairs = [[1.5, 2.5], [0.3, -1.7], [4.0, 0.5], [2.2, -3.0]];
        check_fn!(path_exp, path_exp_grad, path_exp_jvp; |x dx| [x.exp()], at [[-1.0], [0.5]]);
        check_fn!(
            path_powf, path_powf_grad, path_powf_jvp;
            |x dx, y dy| [y * x.powf(y - 1.0), x.powf(y) * x.ln()],
            at pairs
        );
        check_fn!(
            path_atan2, path_atan2_grad, path_atan2_jvp;
            |y dy, x dx| [x / (x * x + y * y), -y / (x * x + y * y)],
            at [[2.0, 1.0], [1.5, -0.5], [-0.3, -2.0], [-1.1, 0.7]]
        );
        check_fn!(
            path_mul_add, path_mul_add_grad, path_mul_add_jvp;
            |x dx, a da, b db| [a, x, 1.0],
            at [[1.5, -2.0, 0.5], [-0.3, 4.0, -1.0]]
        );
        check_fn!(
            path_max, path_max_grad, path_max_jvp;
            |a da, b db| if a > b { [1.0, 0.0] } else { [0.0, 1.0] },
            at [[1.0, 1.2], [-0.5, -3.0]]
        );
        check_fn!(
            path_clamp, path_clamp_grad, path_clamp_jvp;
            |x dx, lo dlo, hi dhi| if x < lo {
                [0.0, 1.0, 0.0]
            } else if x > hi {
                [0.0, 0.0, 1.0]
            } else {
                [1.0, 0.0, 0.0]
            },
            at [[0.3, -1.0, 1.0], [-2.0, -1.0, 1.0], [2.5, -1.0, 1.0]]
        );
    }

    #[test]
    fn constant_operands() {
        check_fn!(
            literal_base, literal_base_grad, literal_base_jvp;
            |x dx| [x.exp2() * LN_2],
            at [[-2.5], [-0.3], [0.7], [3.0]]
        );
        check_fn!(
            literal_operands, literal_operands_grad, literal_operands_jvp;
            |x dx| [2.5 * x.powf(1.5)
                + 1.0 / (x * std::f64::consts::LN_10)
                + if x > 0.5 { 1.0 } else { 0.0 }
                + if x.abs() <= 1.0 { 1.0 } else { 0.0 }
                + x / (x * x + 4.0).sqrt()],
            at [[0.2], [0.8], [1.7], [6.0]]
        );
    }
}

// `f32` versions: f32 in, f32 out.

mod single {
    //! The rules in single precision, against the closed forms evaluated in `f64`.
    use autodiff::{differentiate, sigmoid};

    #[differentiate(reverse, forward)]
    pub fn exp(x: f32) -> f32 {
        x.exp()
    }

    #[differentiate(reverse, forward)]
    pub fn ln(x: f32) -> f32 {
        x.ln()
    }

    #[differentiate(reverse, forward)]
    pub fn sqrt(x: f32) -> f32 {
        x.sqrt()
    }

    #[differentiate(reverse, forward)]
    pub fn powf(x: f32, y: f32) -> f32 {
        x.powf(y)
    }

    #[differentiate(reverse, forward)]
    pub fn cube(x: f32) -> f32 {
        x.powi(3)
    }

    #[differentiate(reverse, forward)]
    pub fn hypot(x: f32, y: f32) -> f32 {
        x.hypot(y)
    }

    #[differentiate(reverse, forward)]
    pub fn sin(x: f32) -> f32 {
        x.sin()
    }

    #[differentiate(reverse, forward)]
    pub fn atan2(y: f32, x: f32) -> f32 {
        y.atan2(x)
    }

    #[differentiate(reverse, forward)]
    pub fn tanh(x: f32) -> f32 {
        x.tanh()
    }

    #[differentiate(reverse, forward)]
    pub fn logistic(x: f32) -> f32 {
        sigmoid(x)
    }

    #[differentiate(reverse, forward)]
    pub fn quotient(a: f32, b: f32) -> f32 {
        a / b
    }

    #[differentiate(reverse, forward)]
    pub fn mul_add(x: f32, a: f32, b: f32) -> f32 {
        x.mul_add(a, b)
    }

    #[differentiate(reverse, forward)]
    pub fn max(a: f32, b: f32) -> f32 {
        a.max(b)
    }

    #[test]
    fn exponentials() {
        check_f32!(exp, exp_grad, exp_jvp; |x dx| [x.exp()], at [[-2.0], [-0.5], [0.25], [1.5]]);
        check_f32!(ln, ln_grad, ln_jvp; |x dx| [1.0 / x], at [[0.125], [0.75], [2.5], [40.0]]);
        check_f32!(
            logistic, logistic_grad, logistic_jvp;
            |x dx| {
                let s = 1.0 / (1.0 + (-x).exp());
                [s * (1.0 - s)]
            },
            at [[-3.0], [-0.5], [0.25], [2.0]]
        );
    }

    #[test]
    fn powers() {
        check_f32!(sqrt, sqrt_grad, sqrt_jvp; |x dx| [0.5 / x.sqrt()], at [[0.25], [1.0], [2.5], [100.0]]);
        check_f32!(
            powf, powf_grad, powf_jvp;
            |x dx, y dy| [y * x.powf(y - 1.0), x.powf(y) * x.ln()],
            at [[1.5, 2.5], [0.25, -1.75], [4.0, 0.5], [2.25, -3.0]]
        );
        check_f32!(cube, cube_grad, cube_jvp; |x dx| [3.0 * x * x], at [[-1.5], [-0.25], [0.5], [2.0]]);
        check_f32!(
            hypot, hypot_grad, hypot_jvp;
            |x dx, y dy| [x / (x * x + y * y).sqrt(), y / (x * x + y * y).sqrt()],
            at [[3.0, 4.0], [-1.25, 0.5], [0.25, -2.0], [-5.0, -0.125]]
        );
    }

    #[test]
    fn trigonometry() {
        check_f32!(sin, sin_grad, sin_jvp; |x dx| [x.cos()], at [[-2.5], [-0.25], [0.5], [4.0]]);
        check_f32!(
            atan2, atan2_grad, atan2_jvp;
            |y dy, x dx| [x / (x * x + y * y), -y / (x * x + y * y)],
            at [[2.0, 1.0], [1.5, -0.5], [-0.25, -2.0], [-1.125, 0.75]]
        );
        check_f32!(
            tanh, tanh_grad, tanh_jvp;
            |x dx| [1.0 / (x.cosh() * x.cosh())],
            at [[-1.5], [-0.25], [0.5], [1.25]]
        );
    }

    #[test]
    fn arithmetic_and_kinks() {
        check_f32!(
            quotient, quotient_grad, quotient_jvp;
            |a da, b db| [1.0 / b, -a / (b * b)],
            at [[1.5, -2.5], [-3.0, 0.375], [0.75, 7.0], [-2.25, -1.25]]
        );
        check_f32!(
            mul_add, mul_add_grad, mul_add_jvp;
            |x dx, a da, b db| [a, x, 1.0],
            at [[1.5, -2.0, 0.5], [-0.25, 4.0, -1.0], [2.5, 0.75, 3.0]]
        );
        check_f32!(
            max, max_grad, max_jvp;
            |a da, b db| if a > b { [1.0, 0.0] } else { [0.0, 1.0] },
            at [[1.0, 1.25], [1.25, 1.0], [-3.0, -0.5], [-0.5, -3.0]]
        );
        // A tie follows the first argument in f32 too.
        assert_eq!(max_grad(0.5, 0.5), (0.5, 1.0, 0.0));
    }
}

// Conventions at kinks, and each kink approached from both sides.

mod kinks {
    //! At a kink the derivative is that of the branch the code takes; piecewise-constant
    //! operations have derivative 0; an infinite derivative is `inf`.
    use crate::common::assert_close;
    use crate::{abs, cbrt, ceil, clamp, floor, fract, max, min, powf, powi, powi_0, relu};
    use crate::{round, signum, sqrt, trunc};

    /// Far below the finite-difference step: the derivative of the side the point is on.
    const TINY: f64 = 1e-300;

    #[test]
    fn relu_at_zero() {
        assert_eq!(relu::f_grad(0.0), (0.0, 0.0));
        assert_eq!(relu::f_jvp(0.0, 1.0), (0.0, 0.0));
        assert_eq!(relu::f_grad(-0.0), (0.0, 0.0));
        assert_eq!(relu::scaled_grad(3.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(relu::f_grad(TINY), (TINY, 1.0));
        assert_eq!(relu::f_jvp(TINY, 1.0), (TINY, 1.0));
        assert_eq!(relu::f_grad(-TINY), (0.0, 0.0));
        assert_eq!(relu::f_jvp(-TINY, 1.0), (0.0, 0.0));
    }

    #[test]
    fn abs_at_zero() {
        assert_eq!(abs::f_grad(0.0), (0.0, 0.0));
        assert_eq!(abs::f_jvp(0.0, 1.0), (0.0, 0.0));
        assert_eq!(abs::f_grad(-0.0), (0.0, 0.0));
        assert_eq!(abs::scaled_grad(3.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(abs::f_grad(TINY), (TINY, 1.0));
        assert_eq!(abs::f_jvp(TINY, 1.0), (TINY, 1.0));
        assert_eq!(abs::f_grad(-TINY), (TINY, -1.0));
        assert_eq!(abs::f_jvp(-TINY, 1.0), (TINY, -1.0));
    }

    #[test]
    fn max_min_tie_follows_first_argument() {
        for a in [-1.5, 0.0, 2.0, TINY] {
            assert_eq!(max::f_grad(a, a), (a, 1.0, 0.0), "max({a}, {a})");
            assert_eq!(max::f_jvp(a, 1.0, a, 0.0), (a, 1.0));
            assert_eq!(max::f_jvp(a, 0.0, a, 1.0), (a, 0.0));
            assert_eq!(min::f_grad(a, a), (a, 1.0, 0.0), "min({a}, {a})");
            assert_eq!(min::f_jvp(a, 1.0, a, 0.0), (a, 1.0));
            assert_eq!(min::f_jvp(a, 0.0, a, 1.0), (a, 0.0));
        }
    }

    #[test]
    fn max_min_on_both_sides_of_a_tie() {
        for a in [-1.5, 2.0] {
            let (up, down) = (f64::next_up(a), f64::next_down(a));
            assert_eq!(max::f_grad(a, down), (a, 1.0, 0.0));
            assert_eq!(max::f_grad(a, up), (up, 0.0, 1.0));
            assert_eq!(max::f_grad(down, a), (a, 0.0, 1.0));
            assert_eq!(max::f_grad(up, a), (up, 1.0, 0.0));
            assert_eq!(min::f_grad(a, up), (a, 1.0, 0.0));
            assert_eq!(min::f_grad(a, down), (down, 0.0, 1.0));
            assert_eq!(min::f_grad(up, a), (a, 0.0, 1.0));
            assert_eq!(min::f_grad(down, a), (down, 1.0, 0.0));
        }
        assert_eq!(max::f_grad(0.0, TINY), (TINY, 0.0, 1.0));
        assert_eq!(max::f_grad(0.0, -TINY), (0.0, 1.0, 0.0));
        assert_eq!(min::f_grad(0.0, TINY), (0.0, 1.0, 0.0));
        assert_eq!(min::f_grad(0.0, -TINY), (-TINY, 0.0, 1.0));
    }

    /// `f64::clamp` is `if x < lo { lo } else if x > hi { hi } else { x }`: at either bound the
    /// branch taken returns `x`, so the derivative goes to `x`, none to the bound.
    #[test]
    fn clamp_at_and_around_its_bounds() {
        let (lo, hi) = (-1.0, 2.0);
        assert_eq!(clamp::f_grad(lo, lo, hi), (lo, 1.0, 0.0, 0.0));
        assert_eq!(clamp::f_grad(hi, lo, hi), (hi, 1.0, 0.0, 0.0));
        assert_eq!(clamp::f_jvp(lo, 1.0, lo, 0.0, hi, 0.0), (lo, 1.0));
        assert_eq!(clamp::f_jvp(lo, 0.0, lo, 1.0, hi, 0.0), (lo, 0.0));
        assert_eq!(clamp::f_jvp(hi, 0.0, lo, 0.0, hi, 1.0), (hi, 0.0));
        assert_eq!(
            clamp::f_grad(f64::next_down(lo), lo, hi),
            (lo, 0.0, 1.0, 0.0)
        );
        assert_eq!(
            clamp::f_grad(f64::next_up(lo), lo, hi),
            (f64::next_up(lo), 1.0, 0.0, 0.0)
        );
        assert_eq!(
            clamp::f_grad(f64::next_down(hi), lo, hi),
            (f64::next_down(hi), 1.0, 0.0, 0.0)
        );
        assert_eq!(clamp::f_grad(f64::next_up(hi), lo, hi), (hi, 0.0, 0.0, 1.0));
        // Bounds at zero, approached from both sides.
        assert_eq!(clamp::f_grad(-TINY, 0.0, 1.0), (0.0, 0.0, 1.0, 0.0));
        assert_eq!(clamp::f_grad(TINY, 0.0, 1.0), (TINY, 1.0, 0.0, 0.0));
        assert_eq!(clamp::f_grad(TINY, -1.0, 0.0), (0.0, 0.0, 0.0, 1.0));
        assert_eq!(clamp::f_grad(-TINY, -1.0, 0.0), (-TINY, 1.0, 0.0, 0.0));
        // Degenerate interval: x itself at lo == hi, then below and above it.
        assert_eq!(clamp::f_grad(1.0, 1.0, 1.0), (1.0, 1.0, 0.0, 0.0));
        assert_eq!(clamp::f_grad(0.5, 1.0, 1.0), (1.0, 0.0, 1.0, 0.0));
        assert_eq!(clamp::f_grad(1.5, 1.0, 1.0), (1.0, 0.0, 0.0, 1.0));
    }

    #[test]
    fn piecewise_constant_have_zero_derivative_everywhere() {
        type Pair = (
            fn(f64) -> (f64, f64),
            fn(f64, f64) -> (f64, f64),
            fn(f64) -> f64,
        );
        let ops: [(&str, Pair); 5] = [
            ("floor", (floor::f_grad, floor::f_jvp, floor::f)),
            ("ceil", (ceil::f_grad, ceil::f_jvp, ceil::f)),
            ("round", (round::f_grad, round::f_jvp, round::f)),
            ("trunc", (trunc::f_grad, trunc::f_jvp, trunc::f)),
            ("signum", (signum::f_grad, signum::f_jvp, signum::f)),
        ];
        // The jumps (integers, half-integers for `round`, zero for `signum`), both sides of
        // each, and points between them.
        let mut points = vec![0.0, -0.0, TINY, -TINY, 0.3, -0.7];
        for jump in [-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 3.0] {
            points.extend([jump, f64::next_down(jump), f64::next_up(jump)]);
        }
        for (name, (grad, jvp, f)) in ops {
            for &x in &points {
                let (v, d) = grad(x);
                assert_eq!(v, f(x), "{name}({x:e}) value");
                assert_eq!(d, 0.0, "{name}'({x:e})");
                assert_eq!(jvp(x, 1.0), (f(x), 0.0), "{name} jvp at {x:e}");
            }
        }
    }

    /// `fract x = x - trunc x`: the derivative of the branch taken is 1, at the integers too.
    #[test]
    fn fract_at_integers() {
        for x in [-2.0, -1.0, 0.0, 1.0, 3.0] {
            assert_eq!(fract::f_grad(x), (0.0, 1.0));
            assert_eq!(fract::f_jvp(x, 1.0), (0.0, 1.0));
            let below = f64::next_down(x);
            assert_eq!(fract::f_grad(below).1, 1.0);
            assert_eq!(fract::f_grad(f64::next_up(x)).1, 1.0);
        }
    }

    #[test]
    fn sqrt_at_zero_is_infinite() {
        assert_eq!(sqrt::f_grad(0.0), (0.0, f64::INFINITY));
        assert_eq!(sqrt::f_jvp(0.0, 1.0), (0.0, f64::INFINITY));
        assert_eq!(sqrt::scaled_grad(2.0, 0.0), (0.0, 0.0, f64::INFINITY));
        // From the right the derivative is finite and huge: 1 / (2 √x).
        let (v, d) = sqrt::f_grad(TINY);
        assert_eq!(v, TINY.sqrt());
        assert_close("sqrt'(1e-300)", d, 0.5e150, 1e-15);
        let (_, d) = sqrt::f_grad(f64::MIN_POSITIVE);
        assert_close(
            "sqrt'(MIN_POSITIVE)",
            d,
            0.5 / f64::MIN_POSITIVE.sqrt(),
            1e-15,
        );
    }

    #[test]
    fn cbrt_at_zero_is_infinite() {
        assert_eq!(cbrt::f_grad(0.0), (0.0, f64::INFINITY));
        assert_eq!(cbrt::f_jvp(0.0, 1.0), (0.0, f64::INFINITY));
        // ∛ is increasing on both sides: 1 / (3 |x|^(2/3)) = 1 / (3e-200) at ±1e-300.
        for x in [TINY, -TINY] {
            let (v, d) = cbrt::f_grad(x);
            assert_eq!(v, x.cbrt());
            assert_close("cbrt'(±1e-300)", d, 1.0 / 3.0e-200, 1e-14);
        }
    }

    /// x⁰ = 1 everywhere, 0⁰ included (`powi` gives 1), so d x⁰/dx = 0 at 0.
    #[test]

    fn powi_literal_zero_at_zero() {
        assert_eq!(powi_0::f_grad(0.0), (1.0, 0.0));
        assert_eq!(powi_0::f_jvp(0.0, 1.0), (1.0, 0.0));
    }

    /// The same with the exponent a parameter `n = 0`.
    #[test]

    fn powi_parameter_zero_at_zero() {
        assert_eq!(powi::f_grad(0.0, 0), (1.0, 0.0));
        assert_eq!(powi::f_jvp(0.0, 1.0, 0), (1.0, 0.0));
    }

    /// n xⁿ⁻¹ at 0 for n ≥ 1: 1 for n = 1, 0 above.
    #[test]
    fn powi_positive_at_zero() {
        assert_eq!(powi::f_grad(0.0, 1), (0.0, 1.0));
        assert_eq!(powi::f_grad(0.0, 2), (0.0, 0.0));
        assert_eq!(powi::f_grad(0.0, 3), (0.0, 0.0));
        assert_eq!(powi::f_jvp(0.0, 1.0, 1), (0.0, 1.0));
        assert_eq!(powi::f_jvp(0.0, 1.0, 2), (0.0, 0.0));
    }

    /// 0ʸ = 0 for every y > 0, so ∂/∂y = 0 there (as JAX defines it), and ∂/∂x = y 0ʸ⁻¹ is 0
    /// for y > 1.
    #[test]
    fn powf_at_zero_base() {
        assert_eq!(powf::f_grad(0.0, 2.5), (0.0, 0.0, 0.0));
        assert_eq!(powf::f_jvp(0.0, 0.0, 2.5, 1.0), (0.0, 0.0));
    }
}

// The structure of a body.

mod structure {
    //! Fan-out, shadowing, `let mut` with compound assignment, blocks, constants, casts of
    //! integer parameters, and inactive float parameters.
    use crate::common;
    use autodiff::{Tolerance, differentiate};
    use std::f64::consts::{E, TAU};

    const SCALE: f64 = 2.5;
    const OFFSET: f64 = -0.75;

    /// `t = x y` is used five times and `x` three: with `t / y = x`,
    /// `f = t + t² + eᵗ + x² y - x`.
    #[differentiate(reverse, forward)]
    pub fn fan_out(x: f64, y: f64) -> f64 {
        let t = x * y;
        t + t * t + t.exp() + x * t - t / y
    }

    /// `s = sin x` used five times: `f = s³ + 2 s`.
    #[differentiate(reverse, forward)]
    pub fn fan_out_one(x: f64) -> f64 {
        let s = x.sin();
        s * s * s + s + s
    }

    /// `f = (x + 1)² (y - 1) y`, through four shadowings, one of a parameter.
    #[differentiate(reverse, forward)]
    pub fn shadowing(x: f64, y: f64) -> f64 {
        let a = x + 1.0;
        let a = a * a;
        let x = a * y;
        let a = x - a;
        a * y
    }

    /// With `n = x² + 2xy - sin y` and `q = n / y`: `f = q² + x`.
    #[differentiate(reverse, forward)]
    pub fn let_mut(x: f64, y: f64) -> f64 {
        let mut acc = x;
        acc += 2.0 * y;
        acc *= x;
        acc -= y.sin();
        acc /= y;
        acc = acc * acc + x;
        acc
    }

    /// A typed `let mut` reassigned from its own value: with `z = x y - x`, `f = sin z + z`.
    #[differentiate(reverse, forward)]
    pub fn reassign(x: f64, y: f64) -> f64 {
        let mut z: f64 = x;
        z = z * y - x;
        z = z.sin() + z;
        z
    }

    /// With `b = x y + x` and `s = sin b`: `f = b s² + y`.
    #[differentiate(reverse, forward)]
    pub fn blocks(x: f64, y: f64) -> f64 {
        let b = {
            let t = x * y;
            t + x
        };
        let c = {
            let s = b.sin();
            s * s
        };
        {
            let u = b * c;
            u + y
        }
    }

    /// `f = 2.5 sin(π x) + τ y² - 0.75 + 3 x + y ln e`.
    #[differentiate(reverse, forward)]
    pub fn constants(x: f64, y: f64) -> f64 {
        const LOCAL: f64 = 3.0;
        (x * std::f64::consts::PI).sin() * SCALE + TAU * y * y + OFFSET + LOCAL * x + E.ln() * y
    }

    /// Integer parameters are constants: with `m = 2n + 1`, `f = m x + k xⁿ + n / (k + 1)`.
    #[differentiate(reverse, forward)]
    pub fn int_casts(x: f64, n: i32, k: usize) -> f64 {
        let m = n * 2 + 1;
        x * (m as f64) + (k as f64) * x.powi(n) + (n as f64) / (k as f64 + 1.0)
    }

    /// `c` is inactive: `f_grad` returns `(f, ∂/∂x, ∂/∂y)` and `f_jvp` takes no tangent for it.
    #[differentiate(reverse, forward, wrt(x, y))]
    pub fn wrt_outer(x: f64, c: f64, y: f64, n: i32) -> f64 {
        x * c + (y * c).sin() + (n as f64) * x * y
    }

    /// Only `c` is active.
    #[differentiate(reverse, forward, wrt(c))]
    pub fn wrt_middle(x: f64, c: f64, y: f64) -> f64 {
        x * c + (y * c).sin()
    }

    const PAIRS: [[f64; 2]; 4] = [[0.7, -1.3], [-0.4, 0.9], [1.1, 0.6], [-1.5, -0.8]];

    #[test]
    fn fan_out_rule() {
        check_fn!(
            fan_out, fan_out_grad, fan_out_jvp;
            |x dx, y dy| {
                let t = x * y;
                [
                    y + 2.0 * t * y + y * t.exp() + 2.0 * x * y - 1.0,
                    x + 2.0 * t * x + x * t.exp() + x * x,
                ]
            },
            at PAIRS
        );
        check_fn!(
            fan_out_one, fan_out_one_grad, fan_out_one_jvp;
            |x dx| [(3.0 * x.sin() * x.sin() + 2.0) * x.cos()],
            at [[-2.0], [-0.3], [0.5], [2.5]]
        );
    }

    #[test]
    fn shadowing_rule() {
        check_fn!(
            shadowing, shadowing_grad, shadowing_jvp;
            |x dx, y dy| [
                2.0 * (x + 1.0) * (y - 1.0) * y,
                (x + 1.0) * (x + 1.0) * (2.0 * y - 1.0),
            ],
            at PAIRS
        );
    }

    #[test]
    fn let_mut_rule() {
        check_fn!(
            let_mut, let_mut_grad, let_mut_jvp;
            |x dx, y dy| {
                let n = x * x + 2.0 * x * y - y.sin();
                let q = n / y;
                let dq_dx = (2.0 * x + 2.0 * y) / y;
                let dq_dy = ((2.0 * x - y.cos()) * y - n) / (y * y);
                [2.0 * q * dq_dx + 1.0, 2.0 * q * dq_dy]
            },
            at PAIRS
        );
        check_fn!(
            reassign, reassign_grad, reassign_jvp;
            |x dx, y dy| {
                let d = (x * y - x).cos() + 1.0;
                [d * (y - 1.0), d * x]
            },
            at PAIRS
        );
    }

    #[test]
    fn blocks_rule() {
        check_fn!(
            blocks, blocks_grad, blocks_jvp;
            |x dx, y dy| {
                let b = x * y + x;
                let s = b.sin();
                let df_db = s * s + 2.0 * b * s * b.cos();
                [df_db * (y + 1.0), df_db * x + 1.0]
            },
            at PAIRS
        );
    }

    #[test]
    fn constants_rule() {
        check_fn!(
            constants, constants_grad, constants_jvp;
            |x dx, y dy| {
                use std::f64::consts::PI;
                [PI * (PI * x).cos() * 2.5 + 3.0, 2.0 * TAU * y + E.ln()]
            },
            at PAIRS
        );
    }

    #[test]
    fn int_casts_rule() {
        for (n, k) in [(3, 2), (2, 5), (-1, 0), (0, 3), (-2, 1)] {
            common::check(
                &format!("int_casts(x, {n}, {k})"),
                &[[-1.2], [-0.4], [0.7], [1.5]],
                Tolerance::default(),
                |[x]| int_casts(x, n, k),
                |[x]| {
                    let (value, dx) = int_casts_grad(x, n, k);
                    (value, [dx])
                },
                |[x], [dx]| int_casts_jvp(x, dx, n, k),
                |[x]| [f64::from(2 * n + 1) + k as f64 * f64::from(n) * x.powi(n - 1)],
            );
        }
    }

    #[test]
    fn inactive_float_parameters() {
        for (c, n) in [(0.8, 2), (-1.3, -1), (2.5, 0)] {
            common::check(
                &format!("wrt_outer(x, {c}, y, {n})"),
                &PAIRS,
                Tolerance::default(),
                |[x, y]| wrt_outer(x, c, y, n),
                |[x, y]| {
                    let (value, dx, dy) = wrt_outer_grad(x, c, y, n);
                    (value, [dx, dy])
                },
                |[x, y], [dx, dy]| wrt_outer_jvp(x, dx, c, y, dy, n),
                |[x, y]| {
                    let n = f64::from(n);
                    [c + n * y, c * (y * c).cos() + n * x]
                },
            );
        }
        for [x, y] in PAIRS {
            common::check(
                &format!("wrt_middle({x}, c, {y})"),
                &[[-1.3], [0.2], [0.8], [2.5]],
                Tolerance::default(),
                |[c]| wrt_middle(x, c, y),
                |[c]| {
                    let (value, dc) = wrt_middle_grad(x, c, y);
                    (value, [dc])
                },
                |[c], [dc]| wrt_middle_jvp(x, c, dc, y),
                |[c]| [x + y * (y * c).cos()],
            );
        }
    }
}

// `0 · ∞ = 0`: in the chain rule an exact zero factor wins over an infinite one.

mod zero_times_infinity {
    //! Where a local derivative is infinite (`sqrt` at 0) and the factor it meets is exactly 0,
    //! the product is 0, in both modes: a gradient entry is NaN only where the function's own
    //! computation is. Where nothing multiplies the infinity by 0, it stays `inf`.
    use autodiff::differentiate;

    /// The Euclidean norm, as people write it.
    #[differentiate(reverse, forward)]
    pub fn norm(x: f64, y: f64) -> f64 {
        (x * x + y * y).sqrt()
    }

    #[differentiate(reverse, forward)]
    pub fn norm_f32(x: f32, y: f32) -> f32 {
        (x * x + y * y).sqrt()
    }

    #[differentiate(reverse, forward)]
    pub fn hypot(x: f64, y: f64) -> f64 {
        x.hypot(y)
    }

    #[differentiate(reverse, forward)]
    pub fn hypot_f32(x: f32, y: f32) -> f32 {
        x.hypot(y)
    }

    #[differentiate(reverse, forward)]
    pub fn atan2(y: f64, x: f64) -> f64 {
        y.atan2(x)
    }

    /// `√x · y` at `(0, 0)`: `∂/∂x = y / (2√x) = 0 · ∞`. In the forward pass the infinite
    /// tangent of `√x` meets the zero `y`; in the reverse pass the zero adjoint `y` meets `√'(0)`.
    #[differentiate(reverse, forward)]
    pub fn root_times(x: f64, y: f64) -> f64 {
        x.sqrt() * y
    }

    /// `|x|` written as `√(x²)`: `(1 / (2√(x²))) · 2x` is `∞ · 0` at 0.
    #[differentiate(reverse, forward)]
    pub fn abs_by_root(x: f64) -> f64 {
        (x * x).sqrt()
    }

    /// `x²` written through a pole: `exp(2 ln x)`. At 0 the value is `exp(-∞) = 0`; the tangent of
    /// `ln x` is infinite and meets `exp(-∞) = 0`, the adjoint reaching `ln` is `2 · 0`.
    #[differentiate(reverse, forward)]
    pub fn square_through_ln(x: f64) -> f64 {
        (x.ln() * 2.0).exp()
    }

    /// The zero comes from a parameter at run time, in a loop: the adjoint variable carries it.
    #[differentiate(reverse, forward)]
    #[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
    pub fn roots_in_a_loop(x: &[f64], w: f64) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() {
            s += w * x[i].sqrt();
        }
        s
    }

    #[test]
    fn norm_at_the_origin_is_zero() {
        assert_eq!(norm_grad(0.0, 0.0), (0.0, 0.0, 0.0));
        for (dx, dy) in [(1.0, 0.0), (0.0, 1.0), (-0.3, 2.5)] {
            assert_eq!(norm_jvp(0.0, dx, 0.0, dy), (0.0, 0.0));
        }
        assert_eq!(norm_f32_grad(0.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(norm_f32_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
        // One coordinate zero: (x, y) / r, the zero entry exactly 0.
        assert_eq!(norm_grad(0.0, -2.0), (2.0, 0.0, -1.0));
        assert_eq!(norm_jvp(0.0, 1.0, -2.0, 1.0), (2.0, -1.0));
        // Elsewhere the guards change nothing: (x, y) / r.
        let (v, dx, dy) = norm_grad(3.0, 4.0);
        assert_eq!(v, 5.0);
        crate::common::assert_close("∂norm/∂x", dx, 0.6, 1e-15);
        crate::common::assert_close("∂norm/∂y", dy, 0.8, 1e-15);
    }

    #[test]
    fn hypot_at_the_origin_is_zero() {
        assert_eq!(hypot_grad(0.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(hypot_jvp(0.0, 1.0, 0.0, -1.0), (0.0, 0.0));
        assert_eq!(hypot_f32_grad(0.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(hypot_f32_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
        assert_eq!(hypot_grad(0.0, 2.0), (2.0, 0.0, 1.0));
        assert_eq!(hypot_grad(-3.0, 4.0), (5.0, -0.6, 0.8));
        assert_eq!(hypot_jvp(-3.0, 1.0, 4.0, 1.0), (5.0, -0.6 + 0.8));
    }

    /// `∂atan2/∂y = x / (x² + y²)`: `0 · ∞ = 0` at the origin, where `atan2(0, 0) = 0`.
    #[test]
    fn atan2_at_the_origin_is_zero() {
        assert_eq!(atan2_grad(0.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(atan2_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
        assert_eq!(atan2_grad(0.0, 2.0), (0.0, 0.5, 0.0));
    }

    #[test]
    fn zero_factor_wins_in_both_modes() {
        assert_eq!(root_times_grad(0.0, 0.0), (0.0, 0.0, 0.0));
        assert_eq!(root_times_jvp(0.0, 1.0, 0.0, 0.0), (0.0, 0.0));
        assert_eq!(root_times_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
        // A nonzero factor: the infinity stays, as the mathematics says.
        assert_eq!(root_times_grad(0.0, 2.0), (0.0, f64::INFINITY, 0.0));
        assert_eq!(root_times_jvp(0.0, 1.0, 2.0, 0.0), (0.0, f64::INFINITY));
        assert_eq!(root_times_grad(4.0, 3.0), (6.0, 0.75, 2.0));

        assert_eq!(abs_by_root_grad(0.0), (0.0, 0.0));
        assert_eq!(abs_by_root_jvp(0.0, 1.0), (0.0, 0.0));
        assert_eq!(abs_by_root_grad(-2.0), (2.0, -1.0));
        assert_eq!(abs_by_root_jvp(-2.0, 1.0), (2.0, -1.0));
    }

    /// At a pole (`ln` at 0, where the value is infinite too) the zero wins as well.
    #[test]
    fn zero_factor_wins_at_a_pole() {
        assert_eq!(square_through_ln_grad(0.0), (0.0, 0.0));
        assert_eq!(square_through_ln_jvp(0.0, 1.0), (0.0, 0.0));
        // Elsewhere: 2x.
        let (v, d) = square_through_ln_grad(1.5);
        crate::common::assert_close("exp(2 ln x)", v, 2.25, 1e-15);
        crate::common::assert_close("d exp(2 ln x)", d, 3.0, 1e-15);
        let (_, t) = square_through_ln_jvp(1.5, 1.0);
        crate::common::assert_close("d exp(2 ln x)", t, 3.0, 1e-15);
    }

    #[test]
    fn zero_weight_over_roots_of_zero() {
        let x = [0.0, 4.0, 0.0];
        // ∂/∂xᵢ = w / (2√xᵢ), ∂/∂w = Σ√xᵢ.
        assert_eq!(
            roots_in_a_loop_grad(&x, 0.0),
            (0.0, vec![0.0, 0.0, 0.0], 2.0)
        );
        assert_eq!(
            roots_in_a_loop_grad(&x, 1.0),
            (2.0, vec![f64::INFINITY, 0.25, f64::INFINITY], 2.0)
        );
        assert_eq!(
            roots_in_a_loop_jvp(&x, &[1.0, 1.0, 1.0], 0.0, 0.0),
            (0.0, 0.0)
        );
        assert_eq!(
            roots_in_a_loop_jvp(&x, &[0.0, 1.0, 0.0], 1.0, 1.0),
            (2.0, 2.25)
        );
    }

    /// NaN where the function's own computation is NaN.
    #[test]
    fn nan_only_where_the_function_is_nan() {
        let (v, dx, _) = norm_grad(f64::NAN, 0.0);
        assert!(v.is_nan() && dx.is_nan());
        let (v, d) = abs_by_root_grad(f64::NAN);
        assert!(v.is_nan() && d.is_nan());
    }
}
