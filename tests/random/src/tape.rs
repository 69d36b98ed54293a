//! A reverse-mode tape: the second, independent oracle.
//!
//! A [`Var`] is a value and the index of its node on a thread-local Wengert list. Every operation
//! computes its value with the `f64` operation the original program uses and records its operands
//! with their local partial derivatives, written out by hand from calculus. [`gradient`] runs the
//! program once over `Var`s and sweeps the list backwards, accumulating adjoints. It shares no code
//! with the macro, the runtime or the dual-number oracle (which is forward mode), so a bug of the
//! macro's backward sweep (which value of which iteration it reads, how it accumulates adjoints of
//! arrays passed to calls) cannot be reproduced here by accident.
//!
//! Comparisons compare values, so branches follow the primal evaluation, as the contract says.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// Index of a constant: no node, no adjoint.
const CONSTANT: u32 = u32::MAX;

/// One node of the tape: up to two operands with their local partial derivatives.
type Node = [(u32, f64); 2];

thread_local! {
    static TAPE: RefCell<Vec<Node>> = const { RefCell::new(Vec::new()) };
}

/// A value on the tape.
#[derive(Clone, Copy, Debug)]
pub struct Var {
    /// The value.
    pub v: f64,
    /// Index of its node, or [`CONSTANT`].
    i: u32,
}

impl Var {
    /// A constant: no node, derivative 0.
    #[must_use]
    pub const fn cst(v: f64) -> Self {
        Self { v, i: CONSTANT }
    }

    /// Whether the value is finite (a predicate: no derivative).
    #[must_use]
    pub const fn is_finite(self) -> bool {
        self.v.is_finite()
    }

    /// Whether the value is NaN.
    #[must_use]
    pub const fn is_nan(self) -> bool {
        self.v.is_nan()
    }

    /// Whether the value's sign bit is set.
    #[must_use]
    pub const fn is_sign_negative(self) -> bool {
        self.v.is_sign_negative()
    }

    /// A new node with the given operands and local partial derivatives.
    fn node(v: f64, operands: &[(Self, f64)]) -> Self {
        let mut node: Node = [(CONSTANT, 0.0); 2];
        let mut any = false;
        for (slot, &(x, partial)) in node.iter_mut().zip(operands) {
            if x.i != CONSTANT {
                *slot = (x.i, partial);
                any = true;
            }
        }
        if !any {
            return Self::cst(v);
        }
        let i = TAPE.with(|t| {
            let mut t = t.borrow_mut();
            t.push(node);
            u32::try_from(t.len() - 1).expect("tape index fits in u32")
        });
        Self { v, i }
    }

    /// `f(self)` given `f(v)` and `f'(v)`.
    fn unary(self, value: f64, derivative: f64) -> Self {
        Self::node(value, &[(self, derivative)])
    }

    /// `e^x`.
    #[must_use]
    pub fn exp(self) -> Self {
        let e = self.v.exp();
        self.unary(e, e)
    }

    /// `ln x`.
    #[must_use]
    pub fn ln(self) -> Self {
        self.unary(self.v.ln(), 1.0 / self.v)
    }

    /// `√x`.
    #[must_use]
    pub fn sqrt(self) -> Self {
        let r = self.v.sqrt();
        self.unary(r, 0.5 / r)
    }

    /// `xⁿ`.
    #[must_use]
    pub fn powi(self, n: i32) -> Self {
        self.unary(self.v.powi(n), f64::from(n) * self.v.powi(n - 1))
    }

    /// `sin x`.
    #[must_use]
    pub fn sin(self) -> Self {
        self.unary(self.v.sin(), self.v.cos())
    }

    /// `cos x`.
    #[must_use]
    pub fn cos(self) -> Self {
        self.unary(self.v.cos(), -self.v.sin())
    }

    /// `tanh x`.
    #[must_use]
    pub fn tanh(self) -> Self {
        let t = self.v.tanh();
        self.unary(t, 1.0 - t * t)
    }

    /// `atan x`.
    #[must_use]
    pub fn atan(self) -> Self {
        self.unary(self.v.atan(), 1.0 / (1.0 + self.v * self.v))
    }

    /// `|x|`; derivative `sign x`, and 0 at 0.
    #[must_use]
    pub fn abs(self) -> Self {
        let d = if self.v > 0.0 {
            1.0
        } else if self.v < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.unary(self.v.abs(), d)
    }

    /// `max(x, y)`: the larger argument's derivative, the first's at a tie.
    #[must_use]
    pub fn max(self, other: Self) -> Self {
        if self.v >= other.v {
            self.unary(self.v, 1.0)
        } else {
            other.unary(other.v, 1.0)
        }
    }

    /// `min(x, y)`: the smaller argument's derivative, the first's at a tie.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        if self.v <= other.v {
            self.unary(self.v, 1.0)
        } else {
            other.unary(other.v, 1.0)
        }
    }

    /// `√(x² + y²)`; partials 0 at the origin (the macro's convention: a subgradient).
    #[must_use]
    pub fn hypot(self, other: Self) -> Self {
        let h = self.v.hypot(other.v);
        let (dx, dy) = if h == 0.0 {
            (0.0, 0.0)
        } else {
            (self.v / h, other.v / h)
        };
        Self::node(h, &[(self, dx), (other, dy)])
    }
}

impl Add for Var {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self::node(self.v + o.v, &[(self, 1.0), (o, 1.0)])
    }
}

impl Sub for Var {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Self::node(self.v - o.v, &[(self, 1.0), (o, -1.0)])
    }
}

impl Mul for Var {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        Self::node(self.v * o.v, &[(self, o.v), (o, self.v)])
    }
}

impl Div for Var {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let q = self.v / o.v;
        Self::node(q, &[(self, 1.0 / o.v), (o, -q / o.v)])
    }
}

impl Neg for Var {
    type Output = Self;
    fn neg(self) -> Self {
        self.unary(-self.v, -1.0)
    }
}

impl AddAssign for Var {
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl SubAssign for Var {
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl MulAssign for Var {
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl DivAssign for Var {
    fn div_assign(&mut self, o: Self) {
        *self = *self / o;
    }
}

/// Compares values only: a branch on `a < b` follows the primal evaluation.
impl PartialEq for Var {
    fn eq(&self, o: &Self) -> bool {
        self.v == o.v
    }
}

impl PartialOrd for Var {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        self.v.partial_cmp(&o.v)
    }
}

/// Runs `f` on fresh inputs `xs` over a new tape and returns its value and its gradient with
/// respect to every input, by one backward sweep over the tape.
///
/// # Panics
///
/// If the tape grows beyond `u32::MAX` nodes.
pub fn gradient(xs: &[f64], f: impl FnOnce(&[Var]) -> Var) -> (f64, Vec<f64>) {
    TAPE.with(|t| t.borrow_mut().clear());
    // The inputs are the first nodes, without operands.
    let inputs: Vec<Var> = xs
        .iter()
        .map(|&v| {
            TAPE.with(|t| {
                let mut t = t.borrow_mut();
                t.push([(CONSTANT, 0.0); 2]);
                let i = u32::try_from(t.len() - 1).expect("tape index fits in u32");
                Var { v, i }
            })
        })
        .collect();
    let out = f(&inputs);
    let tape = TAPE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let mut adjoint = vec![0.0; tape.len()];
    if out.i != CONSTANT {
        adjoint[out.i as usize] = 1.0;
    }
    for k in (xs.len()..tape.len()).rev() {
        let a = adjoint[k];
        if a == 0.0 {
            continue;
        }
        for &(operand, partial) in &tape[k] {
            if operand != CONSTANT {
                adjoint[operand as usize] += a * partial;
            }
        }
    }
    adjoint.truncate(xs.len());
    (out.v, adjoint)
}

/// Runs `f` on fresh inputs `xs` over a new tape and returns its outputs and their Jacobian, one
/// row per output (with respect to every input), by one backward sweep over the tape per output.
///
/// # Panics
///
/// If the tape grows beyond `u32::MAX` nodes.
pub fn jacobian(xs: &[f64], f: impl FnOnce(&[Var]) -> Vec<Var>) -> (Vec<f64>, Vec<Vec<f64>>) {
    TAPE.with(|t| t.borrow_mut().clear());
    let inputs: Vec<Var> = xs
        .iter()
        .map(|&v| {
            TAPE.with(|t| {
                let mut t = t.borrow_mut();
                t.push([(CONSTANT, 0.0); 2]);
                let i = u32::try_from(t.len() - 1).expect("tape index fits in u32");
                Var { v, i }
            })
        })
        .collect();
    let outs = f(&inputs);
    let tape = TAPE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let rows = outs
        .iter()
        .map(|out| {
            let mut adjoint = vec![0.0; tape.len()];
            if out.i != CONSTANT {
                adjoint[out.i as usize] = 1.0;
            }
            for k in (xs.len()..tape.len()).rev() {
                let a = adjoint[k];
                if a == 0.0 {
                    continue;
                }
                for &(operand, partial) in &tape[k] {
                    if operand != CONSTANT {
                        adjoint[operand as usize] += a * partial;
                    }
                }
            }
            adjoint.truncate(xs.len());
            adjoint
        })
        .collect();
    (outs.iter().map(|o| o.v).collect(), rows)
}

#[cfg(test)]
mod tests {
    use super::{Var, gradient, jacobian};

    #[test]
    fn jacobian_rows() {
        // (x y, x + sin y): rows (y, x) and (1, cos y).
        let (v, j) = jacobian(&[2.0, 3.0], |v| vec![v[0] * v[1], v[0] + v[1].sin()]);
        assert_eq!(v, vec![6.0, 2.0 + 3.0_f64.sin()]);
        assert_eq!(j, vec![vec![3.0, 2.0], vec![1.0, 3.0_f64.cos()]]);
    }

    #[test]
    fn product_and_quotient() {
        // f = x y / (x + y): ∂f/∂x = y² / (x + y)², ∂f/∂y = x² / (x + y)².
        let (v, g) = gradient(&[2.0, 3.0], |v| v[0] * v[1] / (v[0] + v[1]));
        assert_eq!(v, 1.2);
        assert!((g[0] - 9.0 / 25.0).abs() < 1e-15);
        assert!((g[1] - 4.0 / 25.0).abs() < 1e-15);
    }

    #[test]
    fn fan_out_and_loops_accumulate() {
        // s = Σ_{k<3} sin(x) · x = 3 x sin x: ∂s/∂x = 3 (sin x + x cos x).
        let x0: f64 = 0.7;
        let (_, g) = gradient(&[x0], |v| {
            let mut s = Var::cst(0.0);
            for _ in 0..3 {
                s += v[0].sin() * v[0];
            }
            s
        });
        assert!((g[0] - 3.0 * (x0.sin() + x0 * x0.cos())).abs() < 1e-14);
    }

    #[test]
    fn methods_match_central_differences() {
        type Unary = fn(Var) -> Var;
        let methods: [(&str, Unary); 12] = [
            ("exp", Var::exp),
            ("ln", Var::ln),
            ("sqrt", Var::sqrt),
            ("powi", |x| x.powi(3)),
            ("sin", Var::sin),
            ("cos", Var::cos),
            ("tanh", Var::tanh),
            ("atan", Var::atan),
            ("abs", Var::abs),
            ("max", |x| x.max(Var::cst(0.5))),
            ("min", |x| x.min(Var::cst(0.5))),
            ("hypot", |x| x.hypot(Var::cst(0.7))),
        ];
        for (name, f) in methods {
            for x in [0.3, 0.85, 1.35] {
                let h = 1e-6;
                let numeric = (f(Var::cst(x + h)).v - f(Var::cst(x - h)).v) / (2.0 * h);
                let (_, g) = gradient(&[x], |v| f(v[0]));
                assert!(
                    (g[0] - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
                    "{name} at {x}: {} vs {numeric}",
                    g[0]
                );
            }
        }
    }
}
