//! The table of local derivatives: one row per operation.
//!
//! Each row names an operation of the vocabulary in [`crate::prim`], its arguments, and for each
//! argument the incoming sensitivity `g` times the partial derivative of the output with respect
//! to that argument, written in the small expression language of [`crate::algebra`]. `out` is the
//! operation's own value, which many rules reuse (`exp`, `sqrt`, `tanh`).
//!
//! For a scalar operation, `g · ∂out/∂argᵢ` is the same linear map in both modes: the reverse
//! pass feeds in the adjoint of `out` and accumulates the result into the adjoint of `argᵢ`; the
//! forward pass feeds in the tangent of `argᵢ` and sums the results into the tangent of `out`.
//! So this one table serves both, and adding an operation means adding its name to the vocabulary
//! and one row here (lowering finds operations by their Rust spelling, emission prints them by it).
//!
//! Conventions at kinks (SPEC): the derivative is that of the branch the code takes, so
//! `relu'(0) = abs'(0) = 0`, `max`/`min` at a tie follow the first argument, and
//! piecewise-constant operations have derivative zero.
//!
//! `0 · ∞ = 0` (SPEC, numerical conventions): in the chain rule an exact zero factor wins over an
//! infinite one. The table marks the local derivatives that can be infinite: `singular(..)` where
//! the operation's value stays finite (`sqrt` at 0), `pole(..)` where it is infinite too (`ln` at
//! 0, `1 / 0`). [`chain`] applies the table with the guards, and only where they are needed:
//!
//! - a marked derivative is `0` when the incoming derivative is exactly `0`:
//!   `zero_wins(g, ..)`, the runtime's select (a branch would stall on the division it skips);
//! - where the incoming derivative may be infinite (it comes from a marked derivative, in the
//!   reverse pass from one nearer the output, in the forward pass from one nearer the inputs), a
//!   derivative that scales it is `0` when its partial is exactly `0`.
//!
//! A function with no marked derivative gets no guard at all. Where a partial is `0 / 0` with a
//! zero factor the rule writes the zero itself (`hypot`, `atan2` at the origin, `powf` with a zero
//! exponent), as `powi` with exponent 0 did already.

use crate::algebra::{Builder, Partial, Site, V, ZERO, pole, singular, when};
use crate::graph::KnownConst::{DegreesPerRadian, Ln2, Ln10, RadiansPerDegree};
use crate::graph::{Graph, NodeId, Op};
use crate::prim::Prim;

macro_rules! rule_table {
    (|$g:ident, $out:ident| $(
        $variant:ident ($($arg:ident),+) => [$($d:expr),+ $(,)?];
    )*) => {
        // Each row takes the arguments the vocabulary gives its operation.
        $(const _: () = assert!(Prim::$variant.arity() == [$(stringify!($arg)),+].len());)*

        /// `g` times the partial derivative of `out` with respect to each argument of `prim`.
        #[allow(unused_variables, clippy::too_many_lines)]
        fn prim_local_derivatives<'a>(prim: Prim, $g: V<'a>, $out: V<'a>, args: &[V<'a>]) -> Vec<Partial<'a>> {
            match prim {
                $(Prim::$variant => {
                    let mut args = args.iter().copied();
                    $(let $arg = args.next().expect("lowering checks arity");)+
                    vec![$(Partial::from($d)),+]
                })*
            }
        }
    };
}

rule_table! { |g, out|
    // The seed's table.
    Add (a, b) => [g, g];
    Mul (a, b) => [g * b, g * a];
    // `0 · x⁻¹` at `x = 0` would be NaN; the derivative of `x⁰` is 0 everywhere. A negative
    // exponent has a pole at 0.
    Powi (x, n) => [
        pole_unless(n.literal().is_some_and(|n| n >= 0.0), g * when(n.eq(0), 0.0, n.to_float() * x.powi(n - 1))),
        ZERO,
    ];
    Exp (x) => [g * out];
    Sigmoid (x) => [g * (out * (1.0 - out))];
    Relu (x) => [when(x.gt(0.0), g, 0.0)];
    // The guard of the chain rule: `0` if the factor is `0`, else the product.
    ZeroWins (factor, product) => [ZERO, when(factor.eq(0.0), 0.0, g)];

    // Arithmetic.
    Sub (a, b) => [g, -g];
    Div (a, b) => [pole_unless(nonzero(b), g / b), pole_unless(nonzero(b), -(g * out / b))];
    Rem (a, b) => [g, -(g * (a / b).trunc())];
    Neg (a) => [-g];

    // Integer bit operators: integers have no derivative.
    BitAnd (a, b) => [ZERO, ZERO];
    BitOr (a, b) => [ZERO, ZERO];
    BitXor (a, b) => [ZERO, ZERO];
    Shl (a, b) => [ZERO, ZERO];
    Shr (a, b) => [ZERO, ZERO];

    // Exponentials and logarithms.
    Exp2 (x) => [g * (out * Ln2)];
    ExpM1 (x) => [g * (out + 1.0)];
    Ln (x) => [pole_unless(positive(x), g / x)];
    Ln1p (x) => [pole_unless(x.is_nonnegative(), g / (x + 1.0))];
    Log (x, base) => [
        pole(g / (x * base.ln())),
        pole(-(g * out / (base * base.ln()))),
    ];
    Log2 (x) => [pole_unless(positive(x), g / (x * Ln2))];
    Log10 (x) => [pole_unless(positive(x), g / (x * Ln10))];
    Softplus (x) => [g * x.sigmoid()];

    // Powers and roots. `sqrt'(0)` is infinite, as the mathematics says.
    Sqrt (x) => [singular_unless(positive(x), g / (2.0 * out))];
    // `(g / 3∛x) / ∛x` rather than `g / (3 ∛x²)`: at `x = 0` the latter's own derivative has the
    // factor `2 ∛x = 0` against an infinite one, which `0 · ∞ = 0` makes a second derivative of 0
    // where it is infinite.
    Cbrt (x) => [singular_unless(positive(x), g / (3.0 * out) / out)];
    // `y · xʸ⁻¹` is infinite at `x = 0` for `y < 1`, and 0 for `y = 0`. Where `xʸ = 0` it is 0 for
    // all nearby `y`: `0 · ln 0` would be NaN. A varying exponent is guarded at `x = 0` only, so
    // that at `y = 0` elsewhere the partial's own derivative in `y` is that of `y · xʸ⁻¹`.
    Powf (x, y) => [
        singular_unless(
            y.literal().is_some_and(|y| y >= 1.0) || positive(x),
            g * if y.literal().is_some() {
                when(y.eq(0.0), 0.0, y * x.powf(y - 1.0))
            } else {
                when(
                    x.eq(0.0),
                    when(y.eq(0.0), 0.0, y * x.powf(y - 1.0)),
                    y * x.powf(y - 1.0),
                )
            },
        ),
        // `xʸ ln x` is NaN for `x < 0` (and `-∞` for `xʸ = 1` at `x = 0`): marked so that a
        // zero tangent of `y` (or adjoint) makes the product 0, and the derivatives in `x`,
        // which exist there (`(-2)³`), stay finite.
        singular_unless(positive(x), g * when(out.eq(0.0), 0.0, out * x.ln())),
    ];
    // As `1 / x` is: `out * out` at `x = 0` would make the second derivative along a zero
    // direction `∞ · 0`.
    Recip (x) => [pole_unless(positive(x), -(g * out / x))];
    // At the origin `x / out` is `0 · ∞`: 0. Guarded there only (`out` is 0 nowhere else), so
    // that off the origin the partials, and their own derivatives, are `x / out`, `y / out`.
    Hypot (x, y) => [
        g * when(out.eq(0.0), 0.0, x / out),
        g * when(out.eq(0.0), 0.0, y / out),
    ];
    MulAdd (x, a, b) => [g * a, g * x, g];

    // Trigonometry.
    Sin (x) => [g * x.cos()];
    Cos (x) => [-(g * x.sin())];
    Tan (x) => [g * (1.0 + out * out)];
    Asin (x) => [singular(g / (1.0 - x * x).sqrt())];
    Acos (x) => [singular(-(g / (1.0 - x * x).sqrt()))];
    Atan (x) => [g / (1.0 + x * x)];
    // At the origin `x / (x² + y²)` is `0 · ∞`: 0. Guarded there only, so that on the axes the
    // partials' own derivatives are those of `x / (x² + y²)`, not of 0.
    Atan2 (y, x) => [
        g * when((x * x + y * y).eq(0.0), 0.0, x / (x * x + y * y)),
        -(g * when((x * x + y * y).eq(0.0), 0.0, y / (x * x + y * y))),
    ];
    ToRadians (x) => [g * RadiansPerDegree];
    ToDegrees (x) => [g * DegreesPerRadian];

    // Hyperbolic functions.
    Sinh (x) => [g * x.cosh()];
    Cosh (x) => [g * x.sinh()];
    Tanh (x) => [g * (1.0 - out * out)];
    Asinh (x) => [g / (x * x + 1.0).sqrt()];
    Acosh (x) => [singular(g / (x * x - 1.0).sqrt())];
    Atanh (x) => [pole(g / (1.0 - x * x))];

    // Kinks: the derivative of the branch taken.
    Abs (x) => [when(x.gt(0.0), g, when(x.lt(0.0), -g, 0.0))];
    Max (a, b) => [when(a.ge(b), g, 0.0), when(a.ge(b), 0.0, g)];
    Min (a, b) => [when(a.le(b), g, 0.0), when(a.le(b), 0.0, g)];
    Clamp (x, lo, hi) => [
        when(x.lt(lo), 0.0, when(x.gt(hi), 0.0, g)),
        when(x.lt(lo), g, 0.0),
        when(x.gt(hi), g, 0.0),
    ];
    Fract (x) => [g];

    // Piecewise constant.
    Signum (x) => [ZERO];
    Floor (x) => [ZERO];
    Ceil (x) => [ZERO];
    Round (x) => [ZERO];
    Trunc (x) => [ZERO];
}

/// The local derivatives of any graph operation: the table's rows, plus the structural
/// operations (casts, comparisons, selections) that every graph has.
pub fn local_derivatives<'a>(op: &Op, g: V<'a>, out: V<'a>, args: &[V<'a>]) -> Vec<Partial<'a>> {
    match op {
        Op::Prim(p) => prim_local_derivatives(*p, g, out, args),
        // A float-to-float cast passes the derivative through, converted to the other side's type.
        Op::Cast(_) => vec![Partial::from(g.across(out, args[0]))],
        Op::Select => vec![
            ZERO,
            Partial::from(when(args[0], g, 0.0)),
            Partial::from(when(args[0], 0.0, g)),
        ],
        // Conditions, indices, integer methods and the values read from variables carry no
        // derivative through their arguments: the reverse and forward passes handle variables
        // themselves.
        Op::Cmp(_)
        | Op::IntMethod(..)
        | Op::Not
        | Op::And
        | Op::Or
        | Op::Load(_)
        | Op::Fill(_)
        | Op::Vec
        | Op::Resized
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
        | Op::Invoke(_)
        | Op::Written(_)
        | Op::FieldSlice(_)
        | Op::Gradient(_)
        | Op::Element => vec![ZERO; args.len()],
        // A call `g(a, b)`: `g_grad(a, b)` returns the value, then one partial derivative per
        // float argument, in order (the convention `#[differentiate]` itself follows). The
        // gradient of an array argument is an array: the reverse pass adds it in a loop.
        Op::Call(callee) => {
            let grad = out.call_grad(callee, args);
            callee
                .entries()
                .zip(args)
                .map(|(entry, arg)| match entry {
                    // The callee's derivative may be infinite: it is not known here.
                    Some(k) if !arg.is_array() => singular(g * grad.field(k)),
                    _ => ZERO,
                })
                .collect()
        }
        Op::Param(_) | Op::Seed(_) | Op::Lit(..) | Op::Const(_) | Op::Known(_) => vec![],
    }
}

/// `g` times a partial derivative a callee returned, `p`, with the guards `chain` puts on a
/// `singular` partial: the callee's partial may be infinite where the adjoint is 0, and the
/// adjoint may be infinite where the partial is 0 (`sq(x).sqrt()` at 0); `0 · ∞ = 0`. For the
/// reverse pass, which takes the partials of a call from the forward sweep's `g_grad`.
pub fn times_callee_partial<'a>(g: V<'a>, p: V<'a>) -> V<'a> {
    let b = g.builder();
    let mut v = g * p;
    if b.may_be_infinite(g.id) {
        v = p.zero_wins(v);
    }
    v = g.zero_wins(v);
    b.mark_infinite(v.id);
    v
}

/// `singular(v)` unless `finite` (known at compile time: a literal exponent).
fn singular_unless(finite: bool, v: V<'_>) -> Partial<'_> {
    if finite { Partial::Of(v) } else { singular(v) }
}

/// `pole(v)` unless `finite` (known at compile time: a nonzero literal divisor).
fn pole_unless(finite: bool, v: V<'_>) -> Partial<'_> {
    if finite { Partial::Of(v) } else { pole(v) }
}

/// Whether `b` is a nonzero literal or a value bounded away from zero, so that dividing by it
/// has no pole.
fn nonzero(b: V<'_>) -> bool {
    b.literal().is_some_and(|b| b != 0.0) || positive(b)
}

/// Whether `x` is at least some positive constant for every input, as the algebra can tell at
/// compile time (`x² + 1`, `√(x² + y² + 1)`): no pole or infinite derivative at 0 can reach it.
fn positive(x: V<'_>) -> bool {
    x.is_bounded_away_from_zero()
}

/// Which pass applies the chain rule: where an infinite derivative can come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Adjoints flow from the output: the one reaching a pole is zero where the function's value
    /// is finite (whatever flattened the infinite value has derivative 0 there), so only
    /// singular derivatives make adjoints infinite.
    Reverse,
    /// Tangents flow from the inputs: one leaving a pole is infinite whatever comes after.
    Forward,
}

/// The chain rule at one operation: for each argument, the incoming derivative `g` times the
/// partial derivative (`None` where it is zero), with the `0 · ∞ = 0` guards where needed, and
/// the results that may be infinite marked for the guards downstream.
pub fn chain<'a>(op: &Op, g: V<'a>, out: V<'a>, args: &[V<'a>], mode: Mode) -> Vec<Option<V<'a>>> {
    let b = g.builder();
    let partials = local_derivatives(op, g, out, args);
    // The partials themselves, to test for zero, only where `g` may be infinite.
    let unit = b
        .may_be_infinite(g.id)
        .then(|| local_derivatives(op, b.v(b.lit(1.0)), out, args));
    partials
        .into_iter()
        .enumerate()
        .map(|(k, partial)| {
            let mut v = partial.value()?;
            if let Some(d) = unit.as_ref().and_then(|u| u[k].value())
                && !d.is_routing()
            {
                v = d.zero_wins(v);
            }
            let infinite = match partial {
                Partial::Singular(_) => true,
                Partial::Pole(_) => mode == Mode::Forward,
                Partial::Of(_) | Partial::Zero => false,
            };
            if matches!(partial, Partial::Singular(_) | Partial::Pole(_)) {
                v = g.zero_wins(v);
            }
            if infinite {
                b.mark_infinite(v.id);
            }
            Some(v)
        })
        .collect()
}

/// Whether some active operation of `graph` has a local derivative that can make a derivative
/// infinite in `mode`: then the values of derivative variables may be infinite too.
pub fn has_infinite_derivative(graph: &Graph, mode: Mode) -> bool {
    let b = Builder::new(graph.clone());
    graph.nodes.iter().enumerate().any(|(i, node)| {
        let active_args = || node.args.iter().any(|a| graph.node(*a).active);
        match &node.op {
            _ if !node.active => false,
            // The tangent a callee's `_jvp` returns may be infinite.
            Op::Call(_) if mode == Mode::Forward => active_args(),
            Op::Prim(_) | Op::Call(_) => {
                b.set_site(Site {
                    span: node.span,
                    ty: node.ty.float().unwrap_or(graph.output_ty),
                });
                let args: Vec<V> = node.args.iter().map(|&a| b.v(a)).collect();
                let me = b.v(NodeId(i));
                local_derivatives(&node.op, me, me, &args)
                    .into_iter()
                    .zip(&node.args)
                    .any(|(p, a)| {
                        graph.node(*a).active
                            && match p {
                                Partial::Singular(_) => true,
                                Partial::Pole(_) => mode == Mode::Forward,
                                Partial::Of(_) | Partial::Zero => false,
                            }
                    })
            }
            _ => false,
        }
    })
}
