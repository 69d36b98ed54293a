//! The table of local derivatives: one row per operation.
//!
//! Each row names an operation, how it is written in Rust, its arguments, and for each argument
//! the incoming sensitivity `g` times the partial derivative of the output with respect to that
//! argument. `out` is the operation's own value, which many rules reuse (`exp`, `sqrt`, `tanh`).
//!
//! For a scalar operation, `g · ∂out/∂argᵢ` is the same linear map in both modes: the reverse
//! pass feeds in the adjoint of `out` and accumulates the result into the adjoint of `argᵢ`; the
//! forward pass feeds in the tangent of `argᵢ` and sums the results into the tangent of `out`.
//! So this one table serves both, and adding an operation means adding one row here (lowering
//! finds rows by their Rust spelling, emission prints them by it).
//!
//! Conventions at kinks (SPEC): the derivative is that of the branch the code takes, so
//! `relu'(0) = abs'(0) = 0`, `max`/`min` at a tie follow the first argument, and
//! piecewise-constant operations have derivative zero.

use crate::algebra::{Partial, V, ZERO, when};
use crate::graph::KnownConst::{DegreesPerRadian, Ln2, Ln10, RadiansPerDegree};
use crate::graph::Op;

/// How an operation is written in Rust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `a + b`.
    Infix,
    /// `-a`.
    Prefix,
    /// `x.exp()` or `f64::exp(x)`.
    Method,
    /// `::autodiff::sigmoid(x)`.
    Runtime,
}

macro_rules! rule_table {
    (|$g:ident, $out:ident| $(
        $variant:ident = $syntax:ident $name:literal ($($arg:ident),+) => [$($d:expr),+ $(,)?];
    )*) => {
        /// An operation of the table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Prim {
            $($variant),*
        }

        impl Prim {
            /// Every row, in table order.
            pub const ALL: &[Prim] = &[$(Prim::$variant),*];

            pub fn syntax(self) -> Syntax {
                match self {
                    $(Prim::$variant => Syntax::$syntax),*
                }
            }

            /// The operator or the method or function name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Prim::$variant => $name),*
                }
            }

            /// The number of arguments, the receiver of a method included.
            pub fn arity(self) -> usize {
                match self {
                    $(Prim::$variant => [$(stringify!($arg)),+].len()),*
                }
            }

            /// `g` times the partial derivative of `out` with respect to each argument.
            #[allow(unused_variables, clippy::too_many_lines)]
            fn local_derivatives<'a>(self, $g: V<'a>, $out: V<'a>, args: &[V<'a>]) -> Vec<Partial<'a>> {
                match self {
                    $(Prim::$variant => {
                        let mut args = args.iter().copied();
                        $(let $arg = args.next().expect("lowering checks arity");)+
                        vec![$(Partial::from($d)),+]
                    })*
                }
            }
        }
    };
}

rule_table! { |g, out|
    // The seed's table.
    Add = Infix "+" (a, b) => [g, g];
    Mul = Infix "*" (a, b) => [g * b, g * a];
    // `0 · x⁻¹` at `x = 0` would be NaN; the derivative of `x⁰` is 0 everywhere.
    Powi = Method "powi" (x, n) => [g * when(n.eq(0), 0.0, n.to_float() * x.powi(n - 1)), ZERO];
    Exp = Method "exp" (x) => [g * out];
    Sigmoid = Runtime "sigmoid" (x) => [g * (out * (1.0 - out))];
    Relu = Runtime "relu" (x) => [when(x.gt(0.0), g, 0.0)];

    // Arithmetic.
    Sub = Infix "-" (a, b) => [g, -g];
    Div = Infix "/" (a, b) => [g / b, -(g * out / b)];
    Rem = Infix "%" (a, b) => [g, -(g * (a / b).trunc())];
    Neg = Prefix "-" (a) => [-g];

    // Exponentials and logarithms.
    Exp2 = Method "exp2" (x) => [g * (out * Ln2)];
    ExpM1 = Method "exp_m1" (x) => [g * (out + 1.0)];
    Ln = Method "ln" (x) => [g / x];
    Ln1p = Method "ln_1p" (x) => [g / (x + 1.0)];
    Log = Method "log" (x, base) => [g / (x * base.ln()), -(g * out / (base * base.ln()))];
    Log2 = Method "log2" (x) => [g / (x * Ln2)];
    Log10 = Method "log10" (x) => [g / (x * Ln10)];
    Softplus = Runtime "softplus" (x) => [g * x.sigmoid()];

    // Powers and roots. `sqrt'(0)` is infinite, as the mathematics says.
    Sqrt = Method "sqrt" (x) => [g / (2.0 * out)];
    Cbrt = Method "cbrt" (x) => [g / (3.0 * (out * out))];
    // Where `xʸ = 0` it is 0 for all nearby `y`: `0 · ln 0` would be NaN.
    Powf = Method "powf" (x, y) => [
        g * (y * x.powf(y - 1.0)),
        g * when(out.eq(0.0), 0.0, out * x.ln()),
    ];
    Recip = Method "recip" (x) => [-(g * (out * out))];
    Hypot = Method "hypot" (x, y) => [g * (x / out), g * (y / out)];
    MulAdd = Method "mul_add" (x, a, b) => [g * a, g * x, g];

    // Trigonometry.
    Sin = Method "sin" (x) => [g * x.cos()];
    Cos = Method "cos" (x) => [-(g * x.sin())];
    Tan = Method "tan" (x) => [g * (1.0 + out * out)];
    Asin = Method "asin" (x) => [g / (1.0 - x * x).sqrt()];
    Acos = Method "acos" (x) => [-(g / (1.0 - x * x).sqrt())];
    Atan = Method "atan" (x) => [g / (1.0 + x * x)];
    Atan2 = Method "atan2" (y, x) => [g * (x / (x * x + y * y)), -(g * (y / (x * x + y * y)))];
    ToRadians = Method "to_radians" (x) => [g * RadiansPerDegree];
    ToDegrees = Method "to_degrees" (x) => [g * DegreesPerRadian];

    // Hyperbolic functions.
    Sinh = Method "sinh" (x) => [g * x.cosh()];
    Cosh = Method "cosh" (x) => [g * x.sinh()];
    Tanh = Method "tanh" (x) => [g * (1.0 - out * out)];
    Asinh = Method "asinh" (x) => [g / (x * x + 1.0).sqrt()];
    Acosh = Method "acosh" (x) => [g / (x * x - 1.0).sqrt()];
    Atanh = Method "atanh" (x) => [g / (1.0 - x * x)];

    // Kinks: the derivative of the branch taken.
    Abs = Method "abs" (x) => [when(x.gt(0.0), g, when(x.lt(0.0), -g, 0.0))];
    Max = Method "max" (a, b) => [when(a.ge(b), g, 0.0), when(a.ge(b), 0.0, g)];
    Min = Method "min" (a, b) => [when(a.le(b), g, 0.0), when(a.le(b), 0.0, g)];
    Clamp = Method "clamp" (x, lo, hi) => [
        when(x.lt(lo), 0.0, when(x.gt(hi), 0.0, g)),
        when(x.lt(lo), g, 0.0),
        when(x.gt(hi), g, 0.0),
    ];
    Fract = Method "fract" (x) => [g];

    // Piecewise constant.
    Signum = Method "signum" (x) => [ZERO];
    Floor = Method "floor" (x) => [ZERO];
    Ceil = Method "ceil" (x) => [ZERO];
    Round = Method "round" (x) => [ZERO];
    Trunc = Method "trunc" (x) => [ZERO];
}

impl Prim {
    pub fn find(syntax: Syntax, name: &str) -> Option<Prim> {
        Prim::ALL
            .iter()
            .copied()
            .find(|p| p.syntax() == syntax && p.name() == name)
    }

    /// The names of every operation written with `syntax`, for error messages.
    pub fn names(syntax: Syntax) -> Vec<&'static str> {
        Prim::ALL
            .iter()
            .filter(|p| p.syntax() == syntax)
            .map(|p| p.name())
            .collect()
    }
}

/// The local derivatives of any graph operation: the table's rows, plus the structural
/// operations (casts, comparisons, selections) that every graph has.
pub fn local_derivatives<'a>(op: &Op, g: V<'a>, out: V<'a>, args: &[V<'a>]) -> Vec<Partial<'a>> {
    match op {
        Op::Prim(p) => p.local_derivatives(g, out, args),
        // A float-to-float cast passes the derivative through, converted to the other side's type.
        Op::Cast(_) => vec![Partial::from(g.across(out, args[0]))],
        Op::Select => vec![
            ZERO,
            Partial::from(when(args[0], g, 0.0)),
            Partial::from(when(args[0], 0.0, g)),
        ],
        // Conditions, indices and the values read from variables carry no derivative through
        // their arguments: the reverse and forward passes handle variables themselves.
        Op::Cmp(_)
        | Op::Not
        | Op::And
        | Op::Or
        | Op::Load(_)
        | Op::Fill(_)
        | Op::Read(_)
        | Op::Len(_)
        | Op::Counter(_)
        | Op::Pop(_)
        | Op::SelfValue(_)
        | Op::Member(_)
        | Op::CallGrad(_)
        | Op::CallJvp(_)
        | Op::Field(_)
        | Op::Array(..)
        | Op::Part(_)
        | Op::Element => vec![ZERO; args.len()],
        // A call `g(a, b)`: `g_grad(a, b)` returns the value, then one partial derivative per
        // float argument, in order (the convention `#[differentiate]` itself follows). The
        // gradient of an array argument is an array: the reverse pass adds it in a loop.
        Op::Call(callee) => {
            let grad = out.call_grad(callee, args);
            let mut entry = 0;
            callee
                .floats
                .iter()
                .zip(args)
                .map(|(&float, arg)| {
                    if float {
                        entry += 1;
                    }
                    if float && !arg.is_array() {
                        Partial::from(g * grad.field(entry))
                    } else {
                        ZERO
                    }
                })
                .collect()
        }
        Op::Param(_) | Op::Seed(_) | Op::Lit(..) | Op::Const(_) | Op::Known(_) => vec![],
    }
}
