//! The oracle: forward mode by dual numbers, run over the primal program.
//!
//! A [`Dual`] carries a value and its derivative with respect to every input at once. The
//! derivatives below are written from the mathematics, one per operation, independently of the
//! rule table; only the conventions are the contract's (SPEC): the derivative of the
//! branch taken, `relu'(0) = abs'(0) = 0`, `max`/`min` at a tie follow the first argument,
//! piecewise-constant operations have derivative 0, and in the chain rule an exact zero factor
//! wins over an infinite one (`0 · ∞ = 0`), in every product.

use super::interpret::{Scalar, apply, sigmoid};
use crate::prim::Prim;

/// A value and its derivatives; an empty `d` is a constant (all zero).
#[derive(Clone, Debug)]
pub struct Dual {
    pub v: f64,
    pub d: Vec<f64>,
}

impl Dual {
    /// Input number `k` of `n`.
    pub fn input(v: f64, k: usize, n: usize) -> Dual {
        let mut d = vec![0.0; n];
        d[k] = 1.0;
        Dual { v, d }
    }

    /// The derivative along every input.
    pub fn gradient(&self, n: usize) -> Vec<f64> {
        let mut d = self.d.clone();
        d.resize(n, 0.0);
        d
    }
}

/// `Σ cₖ · d(argₖ)`, over the arguments that are not constants: a constant contributes
/// nothing, even with an infinite coefficient, and neither does a zero derivative.
fn chain(terms: &[(f64, &Dual)]) -> Vec<f64> {
    let n = terms.iter().map(|(_, a)| a.d.len()).max().unwrap_or(0);
    let mut d = vec![0.0; n];
    for (c, a) in terms {
        for (k, x) in a.d.iter().enumerate() {
            d[k] += times(*c, *x);
        }
    }
    d
}

/// `a · b` with `0 · ∞ = 0`.
fn times(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 { 0.0 } else { a * b }
}

impl Scalar for Dual {
    fn constant(value: f64) -> Self {
        Dual {
            v: value,
            d: Vec::new(),
        }
    }

    fn value(&self) -> f64 {
        self.v
    }

    fn powi(&self, n: i32) -> Self {
        let v = self.v.powi(n);
        let c = if n == 0 {
            0.0
        } else {
            f64::from(n) * self.v.powi(n - 1)
        };
        Dual {
            v,
            d: chain(&[(c, self)]),
        }
    }

    #[allow(clippy::cast_possible_truncation)] // that is what `as f32` does
    fn round_to_f32(&self) -> Self {
        Dual {
            v: f64::from(self.v as f32),
            d: self.d.clone(),
        }
    }

    fn prim(p: Prim, a: &[Dual]) -> Dual {
        let values: Vec<f64> = a.iter().map(|x| x.v).collect();
        let v = apply(p, &values);
        let x = values[0];
        let one = |c: f64| chain(&[(c, &a[0])]);
        let two = |c0: f64, c1: f64| chain(&[(c0, &a[0]), (c1, &a[1])]);
        let first_if = |take_first: bool| {
            if take_first {
                a[0].d.clone()
            } else {
                a[1].d.clone()
            }
        };
        let d = match p {
            Prim::Add => two(1.0, 1.0),
            Prim::Sub => two(1.0, -1.0),
            Prim::Mul => two(values[1], x),
            Prim::Div => two(1.0 / values[1], -x / (values[1] * values[1])),
            // a % b = a - b·trunc(a / b), with the quotient locally constant.
            Prim::Rem => two(1.0, -(x / values[1]).trunc()),
            Prim::Neg => one(-1.0),
            Prim::Powi => unreachable!("powi takes an integer exponent"),
            Prim::BitAnd | Prim::BitOr | Prim::BitXor | Prim::Shl | Prim::Shr => {
                unreachable!("bit operators are on integers")
            }
            Prim::Exp | Prim::ExpM1 => one(x.exp()),
            Prim::Sigmoid => one(sigmoid(x) * (1.0 - sigmoid(x))),
            Prim::Relu => one(if x > 0.0 { 1.0 } else { 0.0 }),
            Prim::ZeroWins => {
                if x == 0.0 {
                    Vec::new()
                } else {
                    a[1].d.clone()
                }
            }
            Prim::Exp2 => one(x.exp2() * std::f64::consts::LN_2),
            Prim::Ln => one(1.0 / x),
            Prim::Ln1p => one(1.0 / (1.0 + x)),
            // log_b x = ln x / ln b.
            Prim::Log => {
                let lb = values[1].ln();
                two(1.0 / (x * lb), -x.ln() / (values[1] * lb * lb))
            }
            Prim::Log2 => one(1.0 / (x * std::f64::consts::LN_2)),
            Prim::Log10 => one(1.0 / (x * std::f64::consts::LN_10)),
            Prim::Softplus => one(sigmoid(x)),
            Prim::Sqrt => one(0.5 / x.sqrt()),
            Prim::Cbrt => one(1.0 / (3.0 * x.cbrt().powi(2))),
            // d(x^y) = y·x^(y-1) dx + x^y·ln x dy; where x^y = 0 it is 0 for all nearby y.
            Prim::Powf => {
                let y = values[1];
                let dy = if v == 0.0 { 0.0 } else { v * x.ln() };
                two(times(y, x.powf(y - 1.0)), dy)
            }
            Prim::Recip => one(-1.0 / (x * x)),
            // x · (1 / v): 0 where x = 0, at the origin too.
            Prim::Hypot => two(times(x, 1.0 / v), times(values[1], 1.0 / v)),
            Prim::MulAdd => chain(&[(values[1], &a[0]), (x, &a[1]), (1.0, &a[2])]),
            Prim::Sin => one(x.cos()),
            Prim::Cos => one(-x.sin()),
            Prim::Tan => one(1.0 / (x.cos() * x.cos())),
            Prim::Asin => one(1.0 / (1.0 - x * x).sqrt()),
            Prim::Acos => one(-1.0 / (1.0 - x * x).sqrt()),
            Prim::Atan => one(1.0 / (1.0 + x * x)),
            // atan2(y, x): the angle of (x, y).
            Prim::Atan2 => {
                let (y, xx) = (x, values[1]);
                let r2 = xx * xx + y * y;
                two(times(xx, 1.0 / r2), -times(y, 1.0 / r2))
            }
            Prim::ToRadians => one(std::f64::consts::PI / 180.0),
            Prim::ToDegrees => one(180.0 / std::f64::consts::PI),
            Prim::Sinh => one(x.cosh()),
            Prim::Cosh => one(x.sinh()),
            Prim::Tanh => one(1.0 / (x.cosh() * x.cosh())),
            Prim::Asinh => one(1.0 / (x * x + 1.0).sqrt()),
            Prim::Acosh => one(1.0 / (x * x - 1.0).sqrt()),
            Prim::Atanh => one(1.0 / (1.0 - x * x)),
            Prim::Abs => one(if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }),
            Prim::Max => first_if(x >= values[1]),
            Prim::Min => first_if(x <= values[1]),
            Prim::Clamp => {
                if x < values[1] {
                    a[1].d.clone()
                } else if x > values[2] {
                    a[2].d.clone()
                } else {
                    a[0].d.clone()
                }
            }
            Prim::Fract => one(1.0),
            Prim::Signum | Prim::Floor | Prim::Ceil | Prim::Round | Prim::Trunc => Vec::new(),
        };
        Dual { v, d }
    }
}
