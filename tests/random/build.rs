//! Generates random straight-line programs for `tests/programs.rs`.
//!
//! Every program is emitted twice from one syntax tree: as an ordinary `f64` (or `f32`) function
//! marked `#[differentiate]`, and as the same function over `autodiff_random_tests::dual::Dual`, the
//! forward-mode oracle. Domains are respected by construction: each intermediate value carries an
//! upper bound on its magnitude, arguments of partial functions are passed through adapters that
//! keep them inside the domain (`v * v + 0.5` before `ln`, `0.875 * v.tanh()` before `asin`, ...), and
//! any value whose bound exceeds [`BOUND`] is squashed (`tanh`, `sin`, ...) before it is used.
//!
//! Environment variables:
//! - `AUTODIFF_RANDOM_SEED` (decimal or `0x` hex, default `0x5EED`);
//! - `AUTODIFF_RANDOM_PROGRAMS` (default 500);
//! - `AUTODIFF_RANDOM_ORACLE_ONLY=1` emits the programs without `#[differentiate]` (and without
//!   `f_grad`), which checks the generator and the oracle alone.
#![forbid(unsafe_code)]
#![allow(
    // The generator converts random integers to floats and indices; all values are small.
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss
)]

#[path = "build/flow.rs"]
mod flow;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

/// Default generator seed.
const DEFAULT_SEED: u64 = 0x5EED;
/// Default number of programs.
const DEFAULT_PROGRAMS: usize = 500;
/// Default number of programs with control flow and calls (`build/flow.rs`).
const DEFAULT_FLOW_PROGRAMS: usize = 500;
/// Default number of programs with several outputs, `m<i>` (`build/families.rs`).
const DEFAULT_MULTI_PROGRAMS: usize = 100;
/// Default number of programs differentiated to second order, `h<i>` (`build/families.rs`): their
/// expansions are the largest, so fewer.
const DEFAULT_HESSIAN_PROGRAMS: usize = 50;
/// Programs per generated module.
const CHUNK: usize = 50;
/// Evaluation points per program.
const POINTS: usize = 4;
/// Ceiling on the magnitude of intermediate values; larger ones are squashed before use.
const BOUND: f64 = 30.0;
/// Whether `autodiff::{sigmoid, relu, softplus}` accept `f32` (they are generic over `Float`).
const RUNTIME_IN_F32: bool = true;
/// Float parameter names.
const FLOAT_NAMES: [&str; 6] = ["x", "y", "z", "u", "v", "w"];
/// Names that an expansion might also pick for its own temporaries or results.
const TRICKY_NAMES: [&str; 10] = [
    "value", "t", "t_1", "d_x", "d_y", "d_value", "value_1", "grad", "tmp", "result",
];
/// Integer parameter names.
const INT_NAMES: [&str; 2] = ["n", "k"];

// ---------------------------------------------------------------------------------------------
// Random numbers

/// `SplitMix64`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        unreachable!("weights sum to {total}")
    }

    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            Op::Add | Op::Sub => ADD,
            Op::Mul | Op::Div => MUL,
        }
    }
}

/// Precedence levels of printed expressions.
const ADD: u8 = 1;
const MUL: u8 = 2;
const CAST: u8 = 3;
const NEG: u8 = 4;
const POSTFIX: u8 = 5;

/// A float expression.
#[derive(Clone, Debug)]
enum E {
    /// A float variable (parameter or local).
    Var(String),
    /// A positive float literal.
    Lit(f64),
    /// `std::f64::consts::NAME`.
    Consts(&'static str),
    /// A `const` item.
    Item(String),
    /// `<integer expression> as f64`.
    IntCast(String),
    Neg(Box<E>),
    Bin(Op, Box<E>, Box<E>),
    /// Redundant parentheses (around a binary operand).
    Paren(Box<E>),
    /// A float method, as `recv.name(args)` or `f64::name(recv, args)`.
    Method {
        name: &'static str,
        recv: Box<E>,
        args: Vec<Arg>,
        path: bool,
    },
    /// `sigmoid(x)`, `relu(x)`, `softplus(x)`.
    Runtime(&'static str, Box<E>),
    /// `{ let a = ..; let b = ..; tail }`.
    Block(Vec<(String, E)>, Box<E>),
}

#[derive(Clone, Debug)]
enum Arg {
    F(E),
    /// An integer argument (of `powi`).
    I(String),
}

fn bin(op: Op, l: E, r: E) -> E {
    E::Bin(op, Box::new(l), Box::new(r))
}

fn method(name: &'static str, recv: E, args: Vec<Arg>, path: bool) -> E {
    E::Method {
        name,
        recv: Box::new(recv),
        args,
        path,
    }
}

/// Whether `e` depends on no float variable.
fn is_const(e: &E) -> bool {
    match e {
        E::Lit(_) | E::Consts(_) | E::Item(_) | E::IntCast(_) => true,
        E::Var(_) | E::Block(..) => false,
        E::Neg(x) | E::Paren(x) | E::Runtime(_, x) => is_const(x),
        E::Bin(_, l, r) => is_const(l) && is_const(r),
        E::Method { recv, args, .. } => {
            is_const(recv)
                && args.iter().all(|a| match a {
                    Arg::F(e) => is_const(e),
                    Arg::I(_) => true,
                })
        }
    }
}

/// `op`, except that `a - a` (a lint, and not interesting) becomes `a + a`.
fn not_self_difference(op: Op, l: &E, r: &E) -> Op {
    let p = Printer {
        ty: "f64",
        dual: false,
    };
    if op == Op::Sub && p.expr(l) == p.expr(r) {
        Op::Add
    } else {
        op
    }
}

/// Whether every leaf of the constant `e` is a literal.
fn literals_only(e: &E) -> bool {
    match e {
        E::Lit(_) => true,
        E::Neg(x) | E::Paren(x) => literals_only(x),
        E::Bin(_, l, r) => literals_only(l) && literals_only(r),
        _ => false,
    }
}

fn runtime_names(e: &E, out: &mut BTreeSet<&'static str>) {
    match e {
        E::Var(_) | E::Lit(_) | E::Consts(_) | E::Item(_) | E::IntCast(_) => {}
        E::Neg(x) | E::Paren(x) => runtime_names(x, out),
        E::Runtime(name, x) => {
            out.insert(name);
            runtime_names(x, out);
        }
        E::Bin(_, l, r) => {
            runtime_names(l, out);
            runtime_names(r, out);
        }
        E::Method { recv, args, .. } => {
            runtime_names(recv, out);
            for a in args {
                if let Arg::F(e) = a {
                    runtime_names(e, out);
                }
            }
        }
        E::Block(stmts, tail) => {
            for (_, e) in stmts {
                runtime_names(e, out);
            }
            runtime_names(tail, out);
        }
    }
}

/// Prints expressions either as the original program (`dual == false`) or as the oracle.
#[derive(Clone, Copy)]
struct Printer {
    /// `"f64"` or `"f32"`.
    ty: &'static str,
    dual: bool,
}

fn literal(v: f64) -> String {
    format!("{v:?}")
}

impl Printer {
    fn expr(self, e: &E) -> String {
        self.print(e).0
    }

    fn operand(self, e: &E, min: u8) -> String {
        let (s, p) = self.print(e);
        if p < min { format!("({s})") } else { s }
    }

    fn print(self, e: &E) -> (String, u8) {
        if self.dual && is_const(e) {
            let primal = Printer {
                dual: false,
                ..self
            }
            .expr(e);
            let widened = if self.ty == "f32" && !literals_only(e) {
                format!("f64::from({primal})")
            } else {
                primal
            };
            return (format!("Dual::cst({widened})"), POSTFIX);
        }
        match e {
            E::Var(name) | E::Item(name) => (name.clone(), POSTFIX),
            E::Lit(v) => (literal(*v), POSTFIX),
            E::Consts(name) => (format!("std::{}::consts::{name}", self.ty), POSTFIX),
            E::IntCast(int) => (format!("{int} as {}", self.ty), CAST),
            E::Neg(x) => {
                let inner = if matches!(**x, E::Neg(_)) {
                    format!("({})", self.expr(x))
                } else {
                    self.operand(x, NEG)
                };
                (format!("-{inner}"), NEG)
            }
            E::Bin(op, l, r) => {
                let p = op.precedence();
                let l = self.operand(l, p);
                let r = if matches!(**r, E::Neg(_)) {
                    format!("({})", self.expr(r))
                } else {
                    self.operand(r, p + 1)
                };
                (format!("{l} {} {r}", op.symbol()), p)
            }
            E::Paren(x) => (format!("({})", self.expr(x)), POSTFIX),
            E::Method {
                name,
                recv,
                args,
                path,
            } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match a {
                        Arg::F(e) => self.expr(e),
                        Arg::I(s) => s.clone(),
                    })
                    .collect();
                // A literal receiver has an ambiguous type: call constants by path.
                if *path || is_const(recv) {
                    let owner = if self.dual { "Dual" } else { self.ty };
                    let mut all = vec![self.expr(recv)];
                    all.extend(args);
                    (format!("{owner}::{name}({})", all.join(", ")), POSTFIX)
                } else {
                    let recv = self.operand(recv, POSTFIX);
                    (format!("{recv}.{name}({})", args.join(", ")), POSTFIX)
                }
            }
            E::Runtime(name, x) => {
                let owner = if self.dual { "Dual::" } else { "" };
                (format!("{owner}{name}({})", self.expr(x)), POSTFIX)
            }
            E::Block(stmts, tail) => {
                let mut s = String::from("{ ");
                for (name, e) in stmts {
                    let _ = write!(s, "let {name} = {}; ", self.expr(e));
                }
                let _ = write!(s, "{} }}", self.expr(tail));
                (s, POSTFIX)
            }
        }
    }

    fn float(self) -> &'static str {
        if self.dual { "Dual" } else { self.ty }
    }

    fn statement(self, s: &S) -> String {
        match s {
            S::Const(name, v) => format!("const {name}: {} = {};", self.ty, literal(*v)),
            S::Let {
                name,
                mutable,
                typed,
                e,
            } => {
                let m = if *mutable { "mut " } else { "" };
                let t = if *typed {
                    format!(": {}", self.float())
                } else {
                    String::new()
                };
                format!("let {m}{name}{t} = {};", self.expr(e))
            }
            S::Assign { name, op, e } => {
                let op = op.map_or("", Op::symbol);
                format!("{name} {op}= {};", self.expr(e))
            }
        }
    }
}

/// A statement of a program body.
#[derive(Clone, Debug)]
enum S {
    /// `const NAME: f64 = lit;`
    Const(String, f64),
    Let {
        name: String,
        mutable: bool,
        typed: bool,
        e: E,
    },
    /// `name = e;` or `name op= e;`
    Assign { name: String, op: Option<Op>, e: E },
}

// ---------------------------------------------------------------------------------------------
// Generation

/// A float variable in scope.
#[derive(Clone, Debug)]
struct Var {
    name: String,
    bound: f64,
    mutable: bool,
    /// Written since last read: must be read again before the end (no dead stores).
    unread: bool,
    /// For `let mut`: reassigned at least once.
    assigned: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum IntKind {
    /// `i32` in `-2..=3`: usable as a `powi` exponent and in casts.
    I32,
    /// `usize` in `0..=4`: used in casts.
    Usize,
}

#[derive(Clone, Debug)]
struct IntParam {
    name: &'static str,
    kind: IntKind,
    used: bool,
}

#[derive(Clone, Debug)]
struct ConstItem {
    name: String,
    value: f64,
    used: bool,
}

/// `(expression, bound on its magnitude)`.
type B = (E, f64);

/// A positive expression with bounds `lo <= value <= hi`.
struct Positive {
    e: E,
    lo: f64,
    hi: f64,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    /// Whether runtime functions (`sigmoid`, ...) may be called.
    runtime: bool,
    vars: Vec<Var>,
    ints: Vec<IntParam>,
    consts: Vec<ConstItem>,
    fresh: usize,
}

impl Gen<'_> {
    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh - 1)
    }

    /// A fresh name for a `let`, now and then one that generated code might also want to use.
    fn fresh_let(&mut self) -> String {
        if self.rng.chance(0.05) {
            let name = self.rng.pick(&TRICKY_NAMES);
            if !self.visible().iter().any(|&i| self.vars[i].name == name) {
                return name.to_owned();
            }
        }
        self.fresh("t")
    }

    /// Indices of the variables not shadowed by a later one.
    fn visible(&self) -> Vec<usize> {
        (0..self.vars.len())
            .filter(|&i| {
                !self.vars[i + 1..]
                    .iter()
                    .any(|v| v.name == self.vars[i].name)
            })
            .collect()
    }

    fn read(&mut self, i: usize) -> B {
        self.vars[i].unread = false;
        (E::Var(self.vars[i].name.clone()), self.vars[i].bound)
    }

    /// A variable, preferring one that has not been read yet.
    fn var(&mut self) -> B {
        let visible = self.visible();
        let unread: Vec<usize> = visible
            .iter()
            .copied()
            .filter(|&i| self.vars[i].unread)
            .collect();
        let i = if !unread.is_empty() && self.rng.chance(0.5) {
            self.rng.pick(&unread)
        } else {
            self.rng.pick(&visible)
        };
        self.read(i)
    }

    /// A positive dyadic literal other than 1 (exactly representable in `f32`).
    fn lit(&mut self) -> f64 {
        loop {
            let k = self.rng.range(2, 48);
            if k != 16 {
                return k as f64 / 16.0;
            }
        }
    }

    /// An integer expression over an integer parameter, with a bound on its magnitude.
    fn int_expr(&mut self) -> (String, f64) {
        let i = self.rng.below(self.ints.len());
        self.ints[i].used = true;
        let name = self.ints[i].name;
        let max = match self.ints[i].kind {
            IntKind::I32 => 3.0,
            IntKind::Usize => 4.0,
        };
        match self.rng.below(3) {
            0 => (name.to_owned(), max),
            1 => {
                let c = self.rng.range(1, 3);
                (format!("({name} + {c})"), max + c as f64)
            }
            _ => {
                let c = self.rng.range(2, 3);
                (format!("({c} * {name} + 1)"), c as f64 * max + 1.0)
            }
        }
    }

    /// A constant: literal, `std` constant, `const` item or integer cast.
    fn constant(&mut self) -> B {
        let weights = [
            10,
            3,
            if self.consts.is_empty() { 0 } else { 4 },
            if self.ints.is_empty() { 0 } else { 3 },
        ];
        match self.rng.weighted(&weights) {
            0 => {
                let v = self.lit();
                (E::Lit(v), v)
            }
            1 => {
                let (name, v) = self.rng.pick(&[
                    ("PI", 3.15),
                    ("E", 2.72),
                    ("LN_2", 0.7),
                    ("SQRT_2", 1.42),
                    ("FRAC_PI_4", 0.79),
                    ("FRAC_1_SQRT_2", 0.71),
                    ("LN_10", 2.31),
                    ("FRAC_PI_3", 1.05),
                    ("TAU", 6.29),
                ]);
                (E::Consts(name), v)
            }
            2 => {
                let i = self.rng.below(self.consts.len());
                self.consts[i].used = true;
                (E::Item(self.consts[i].name.clone()), self.consts[i].value)
            }
            _ => {
                let (int, b) = self.int_expr();
                (E::IntCast(int), b)
            }
        }
    }

    /// An expression that may be constant.
    fn operand(&mut self, depth: usize) -> B {
        if self.rng.chance(0.25) {
            self.constant()
        } else {
            self.expr(depth)
        }
    }

    /// A non-constant expression of the given depth.
    fn expr(&mut self, depth: usize) -> B {
        if depth == 0 || self.rng.chance(0.2) {
            return self.var();
        }
        let weights = [30, 6, 34, 14, if self.runtime { 8 } else { 0 }];
        let b = match self.rng.weighted(&weights) {
            0 => self.binary(depth),
            1 => {
                let (x, b) = self.expr(depth - 1);
                (E::Neg(Box::new(x)), b)
            }
            2 => {
                let arg = self.expr(depth - 1);
                self.unary(arg)
            }
            3 => self.binary_method(depth),
            _ => {
                let arg = self.expr(depth - 1);
                self.runtime_call(arg)
            }
        };
        self.limit(b)
    }

    /// Squashes `b` if its bound exceeds [`BOUND`].
    fn limit(&mut self, b: B) -> B {
        if b.1 > BOUND { self.squash(b) } else { b }
    }

    /// Squashes `b` if its bound exceeds `max`, then scales it down if still needed.
    fn cap(&mut self, b: B, max: f64) -> B {
        if b.1 <= max {
            return b;
        }
        let (e, bound) = self.squash(b);
        if bound <= max {
            (e, bound)
        } else {
            (bin(Op::Mul, e, E::Lit(0.25)), bound * 0.25)
        }
    }

    fn path(&mut self) -> bool {
        self.rng.chance(0.3)
    }

    /// A bounded function of `b`.
    fn squash(&mut self, (e, _): B) -> B {
        let weights = [4, 2, 2, 2, if self.runtime { 2 } else { 0 }];
        let path = self.path();
        match self.rng.weighted(&weights) {
            0 => (method("tanh", e, vec![], path), 1.0),
            1 => (method("sin", e, vec![], path), 1.0),
            2 => (method("cos", e, vec![], path), 1.0),
            3 => (method("atan", e, vec![], path), 1.58),
            _ => (E::Runtime("sigmoid", Box::new(e)), 1.0),
        }
    }

    /// A positive function of `b`; with `strong`, bounded below by 1/2.
    fn positive(&mut self, b: B, strong: bool) -> Positive {
        let weak = u32::from(!strong);
        let runtime = u32::from(self.runtime);
        let weights = [4, 2 * weak, 2, 2, 2, 2, runtime * weak, runtime, weak, 2];
        let path = self.path();
        match self.rng.weighted(&weights) {
            0 => {
                let (e, b) = self.cap(b, 4.0);
                let c = self.rng.pick(&[0.5, 0.75, 1.25, 2.0]);
                let square = bin(Op::Mul, e.clone(), e);
                Positive {
                    e: bin(Op::Add, square, E::Lit(c)),
                    lo: c,
                    hi: b * b + c,
                }
            }
            1 => {
                let (e, b) = self.cap(b, 2.5);
                Positive {
                    e: method("exp", e, vec![], path),
                    lo: (-b).exp(),
                    hi: b.exp(),
                }
            }
            2 => {
                let (e, b) = self.cap(b, 3.0);
                Positive {
                    e: method("cosh", e, vec![], path),
                    lo: 1.0,
                    hi: b.cosh(),
                }
            }
            3 => {
                let name = self.rng.pick(&["sin", "cos"]);
                Positive {
                    e: bin(Op::Add, method(name, b.0, vec![], path), E::Lit(1.5)),
                    lo: 0.5,
                    hi: 2.5,
                }
            }
            4 => {
                let c = self.rng.pick(&[0.5, 0.75]);
                Positive {
                    e: bin(Op::Add, method("abs", b.0, vec![], path), E::Lit(c)),
                    lo: c,
                    hi: b.1 + c,
                }
            }
            5 => {
                let c = self.rng.pick(&[0.5, 0.75, 1.25]);
                Positive {
                    e: method("hypot", b.0, vec![Arg::F(E::Lit(c))], path),
                    lo: c,
                    hi: b.1 + c,
                }
            }
            6 => Positive {
                e: bin(Op::Add, E::Runtime("sigmoid", Box::new(b.0)), E::Lit(0.25)),
                lo: 0.25,
                hi: 1.25,
            },
            7 => Positive {
                e: bin(Op::Add, E::Runtime("softplus", Box::new(b.0)), E::Lit(0.5)),
                lo: 0.5,
                hi: b.1 + 1.2,
            },
            8 => Positive {
                e: bin(Op::Add, method("tanh", b.0, vec![], path), E::Lit(1.25)),
                lo: 0.25,
                hi: 2.25,
            },
            _ => {
                let (e, b) = self.cap(b, 5.0);
                let square = bin(Op::Mul, e.clone(), e);
                Positive {
                    e: method("sqrt", bin(Op::Add, square, E::Lit(1.0)), vec![], path),
                    lo: 1.0,
                    hi: (b * b + 1.0).sqrt(),
                }
            }
        }
    }

    /// A function of `b` with magnitude at most 0.9.
    fn unit(&mut self, b: B) -> B {
        let weights = [3, 2, 2, 2, u32::from(self.runtime), 1];
        let path = self.path();
        let (e, bound) = match self.rng.weighted(&weights) {
            0 => (method("tanh", b.0, vec![], path), 0.875),
            1 => (method("sin", b.0, vec![], path), 0.75),
            2 => (method("cos", b.0, vec![], path), 0.75),
            3 => {
                let (e, _) = self.cap(b, 5.0);
                let square = bin(Op::Mul, e.clone(), e.clone());
                let denominator = bin(Op::Add, square, E::Lit(1.0));
                return (bin(Op::Div, e, denominator), 0.5);
            }
            4 => {
                let s = E::Runtime("sigmoid", Box::new(b.0));
                return (bin(Op::Sub, s, E::Lit(0.5)), 0.5);
            }
            _ => (method("atan", b.0, vec![], path), 0.5),
        };
        if self.rng.chance(0.5) {
            (bin(Op::Mul, e, E::Lit(bound)), bound)
        } else {
            (bin(Op::Mul, E::Lit(bound), e), bound)
        }
    }

    /// A value bounded away from zero, positive or negative: `(expression, lo, hi)` with
    /// `lo <= |value| <= hi`.
    fn divisor(&mut self, b: B) -> Positive {
        let p = self.positive(b, false);
        if self.rng.chance(0.25) {
            Positive {
                e: E::Neg(Box::new(p.e)),
                ..p
            }
        } else {
            p
        }
    }

    /// A unary float function applied to `b`, respecting its domain.
    #[allow(clippy::too_many_lines)] // one arm per function of the supported list
    fn unary(&mut self, b: B) -> B {
        const NAMES: [&str; 33] = [
            "exp",
            "exp2",
            "exp_m1",
            "ln",
            "ln_1p",
            "log",
            "log2",
            "log10",
            "sqrt",
            "cbrt",
            "powi",
            "powf",
            "sin",
            "cos",
            "tan",
            "asin",
            "acos",
            "atan",
            "sinh",
            "cosh",
            "tanh",
            "asinh",
            "acosh",
            "atanh",
            "abs",
            "signum",
            "recip",
            "floor",
            "ceil",
            "round",
            "trunc",
            "fract",
            "to_radians",
        ];
        let name = if self.rng.chance(0.03) {
            "to_degrees"
        } else {
            self.rng.pick(&NAMES)
        };
        let path = self.path();
        let call = |e: E, args: Vec<Arg>| method(name, e, args, path);
        match name {
            "exp" | "exp_m1" => {
                let (e, b) = self.cap(b, 3.0);
                (call(e, vec![]), b.exp())
            }
            "exp2" => {
                let (e, b) = self.cap(b, 4.0);
                (call(e, vec![]), b.exp2())
            }
            "ln" | "log2" | "log10" | "sqrt" | "cbrt" => {
                let p = self.positive(b, false);
                let mut p_e = p.e;
                if name == "cbrt" && self.rng.chance(0.3) {
                    p_e = E::Neg(Box::new(p_e));
                }
                let ln = p.lo.ln().abs().max(p.hi.ln().abs());
                let bound = match name {
                    "ln" => ln,
                    "log2" => ln / std::f64::consts::LN_2,
                    "log10" => ln / std::f64::consts::LN_10,
                    "sqrt" => p.hi.sqrt(),
                    _ => p.hi.cbrt(),
                };
                (call(p_e, vec![]), bound)
            }
            "ln_1p" => {
                if self.rng.chance(0.5) {
                    let p = self.positive(b, false);
                    (call(p.e, vec![]), p.hi.ln_1p())
                } else {
                    let (e, _) = self.unit(b);
                    (call(e, vec![]), 2.31)
                }
            }
            "log" => {
                let p = self.positive(b, false);
                let ln_a = p.lo.ln().abs().max(p.hi.ln().abs());
                let (base, ln_b) = if self.rng.chance(0.5) {
                    let c = self.rng.pick(&[2.0, 3.0, 0.5, 10.0, 1.5, 0.25]);
                    (E::Lit(c), f64::ln(c).abs())
                } else {
                    let (v, vb) = self.var();
                    let (v, _) = self.cap((v, vb), 4.0);
                    let square = bin(Op::Mul, v.clone(), v);
                    (bin(Op::Add, square, E::Lit(1.5)), 1.5_f64.ln())
                };
                (call(p.e, vec![Arg::F(base)]), ln_a / ln_b)
            }
            "powi" => self.powi(b, path),
            "powf" => self.powf(b, path),
            "sin" | "cos" | "tanh" | "signum" | "fract" => (call(b.0, vec![]), 1.0),
            "tan" => {
                let (e, _) = self.cap(b, 1.0);
                (call(e, vec![]), 1.0_f64.tan())
            }
            "asin" | "acos" | "atanh" => {
                let (e, _) = self.unit(b);
                (call(e, vec![]), std::f64::consts::PI)
            }
            "atan" => (call(b.0, vec![]), 1.58),
            "sinh" | "cosh" => {
                let (e, b) = self.cap(b, 3.0);
                (call(e, vec![]), b.cosh())
            }
            "asinh" => (call(b.0, vec![]), b.1.asinh()),
            "acosh" => {
                let path2 = self.path();
                let (e, hi) = match self.rng.below(3) {
                    0 => {
                        let (e, b) = self.cap(b, 4.0);
                        let square = bin(Op::Mul, e.clone(), e);
                        (bin(Op::Add, square, E::Lit(1.5)), b * b + 1.5)
                    }
                    1 => {
                        let (e, b) = self.cap(b, 3.0);
                        let cosh = method("cosh", e, vec![], path2);
                        (bin(Op::Add, cosh, E::Lit(0.5)), b.cosh() + 0.5)
                    }
                    _ => {
                        let abs = method("abs", b.0, vec![], path2);
                        (bin(Op::Add, abs, E::Lit(1.5)), b.1 + 1.5)
                    }
                };
                (call(e, vec![]), hi.acosh())
            }
            "abs" => (call(b.0, vec![]), b.1),
            "recip" => {
                let d = self.divisor(b);
                (call(d.e, vec![]), 1.0 / d.lo)
            }
            "floor" | "ceil" | "round" | "trunc" => (call(b.0, vec![]), b.1 + 1.0),
            "to_radians" => (call(b.0, vec![]), b.1 * 0.0175),
            "to_degrees" => {
                let (e, b) = self.cap(b, 0.5);
                (call(e, vec![]), b * 57.3)
            }
            _ => unreachable!("{name}"),
        }
    }

    /// `b.powi(k)` with a literal exponent or an `i32` parameter.
    fn powi(&mut self, b: B, path: bool) -> B {
        let i32s: Vec<usize> = (0..self.ints.len())
            .filter(|&i| self.ints[i].kind == IntKind::I32)
            .collect();
        if !i32s.is_empty() && self.rng.chance(0.5) {
            let i = self.rng.pick(&i32s);
            self.ints[i].used = true;
            let (e, bound) = self.cap(b, 1.2);
            let p = self.positive((e, bound), true);
            let (e, lo, hi) = if p.hi > 3.0 {
                // Keep `hi^3` small: scale the base back below 3.
                let scale = 3.0 / p.hi.ceil();
                (bin(Op::Mul, p.e, E::Lit(scale)), p.lo * scale, p.hi * scale)
            } else {
                (p.e, p.lo, p.hi)
            };
            let name = self.ints[i].name;
            // The exponent is `n` in -2..=3, or integer arithmetic on it.
            let (exponent, min, max) = if self.rng.chance(0.3) {
                (format!("{name} + 1"), -1, 4)
            } else {
                (name.to_owned(), -2, 3)
            };
            let bound = hi.powi(max).max(lo.powi(min));
            return (method("powi", e, vec![Arg::I(exponent)], path), bound);
        }
        let k: i32 = self.rng.pick(&[2, 2, 3, 4, -1, -2]);
        if k > 0 {
            let (e, b) = self.cap(b, BOUND.powf(1.0 / f64::from(k)));
            (
                method("powi", e, vec![Arg::I(k.to_string())], path),
                b.powi(k),
            )
        } else {
            let p = self.positive(b, true);
            let bound = p.lo.powi(k);
            (
                method("powi", p.e, vec![Arg::I(k.to_string())], path),
                bound,
            )
        }
    }

    /// `base.powf(exponent)` with a positive base.
    fn powf(&mut self, b: B, path: bool) -> B {
        if self.rng.chance(0.25) {
            // A constant base: `f64::powf(1.5, x)`.
            let c: f64 = self.rng.pick(&[1.5, 2.5, 0.5, 0.75]);
            let (e, b) = self.cap(b, 3.0);
            let bound = c.max(1.0 / c).powf(b);
            return (method("powf", E::Lit(c), vec![Arg::F(e)], true), bound);
        }
        let (e, bound) = self.cap(b, 1.5);
        let p = self.positive((e, bound), true);
        let (exponent, max_exp) = if self.rng.chance(0.5) {
            let c: f64 = self.rng.pick(&[0.5, 1.5, 2.5, 1.25, 0.75]);
            let c_e = if self.rng.chance(0.3) {
                E::Neg(Box::new(E::Lit(c)))
            } else {
                E::Lit(c)
            };
            (c_e, c)
        } else {
            let v = self.var();
            let (e, b) = self.cap(v, 1.6);
            (e, b)
        };
        let bound = p.hi.max(1.0 / p.lo).powf(max_exp);
        (method("powf", p.e, vec![Arg::F(exponent)], path), bound)
    }

    /// A binary operator.
    fn binary(&mut self, depth: usize) -> B {
        let op = [Op::Add, Op::Sub, Op::Mul, Op::Div][self.rng.weighted(&[3, 3, 3, 2])];
        let (l, lb) = self.expr(depth - 1);
        if op == Op::Div {
            if self.rng.chance(0.2) {
                let (c, cb) = self.constant();
                let d = self.divisor((l, lb));
                return (bin(Op::Div, c, self.maybe_paren(d.e)), cb / d.lo);
            }
            let r = self.expr(depth - 1);
            let d = self.divisor(r);
            let l = self.maybe_paren(l);
            return (bin(Op::Div, l, d.e), lb / d.lo);
        }
        let (r, rb) = if self.rng.chance(0.05) {
            self.block(depth)
        } else {
            self.operand(depth - 1)
        };
        let bound = if op == Op::Mul { lb * rb } else { lb + rb };
        let (l, r) = if self.rng.chance(0.5) && !matches!(r, E::Block(..)) {
            (r, l)
        } else {
            (l, r)
        };
        let op = not_self_difference(op, &l, &r);
        let l = self.maybe_paren(l);
        let r = self.maybe_paren(r);
        (bin(op, l, r), bound)
    }

    /// Wraps a compound operand in redundant parentheses now and then.
    fn maybe_paren(&mut self, e: E) -> E {
        if matches!(e, E::Bin(..) | E::Method { .. }) && self.rng.chance(0.15) {
            E::Paren(Box::new(e))
        } else {
            e
        }
    }

    /// A two-argument float method.
    fn binary_method(&mut self, depth: usize) -> B {
        let name = self
            .rng
            .pick(&["atan2", "max", "min", "clamp", "hypot", "mul_add"]);
        let path = self.path();
        let a = self.expr(depth - 1);
        match name {
            "atan2" => {
                let other = self.expr(depth - 1);
                let p = self.positive(other, false);
                let (y, x) = if self.rng.chance(0.5) {
                    (a.0, p.e)
                } else {
                    (p.e, a.0)
                };
                (
                    method("atan2", y, vec![Arg::F(x)], path),
                    std::f64::consts::PI,
                )
            }
            "max" | "min" => {
                let (mut b, mut bb) = self.operand(depth - 1);
                let p = Printer {
                    ty: "f64",
                    dual: false,
                };
                if p.expr(&a.0) == p.expr(&b) {
                    let v = self.lit();
                    (b, bb) = (E::Lit(v), v);
                }
                // `x.min(c1).max(c2)` can be constant (a lint): bound by a variable instead.
                let nested = matches!(&a.0, E::Method { name, .. } if ["min", "max", "clamp"].contains(name));
                if nested && is_const(&b) {
                    let (v, vb) = self.var();
                    (b, bb) = (bin(Op::Mul, b, v), bb * vb);
                }
                (method(name, a.0, vec![Arg::F(b)], path), a.1.max(bb))
            }
            "clamp" => {
                if self.rng.chance(0.6) {
                    let lo = self.rng.pick(&[1.5, 0.75, 0.25]);
                    let hi = self.rng.pick(&[0.25, 0.5, 1.25]);
                    let args = vec![Arg::F(E::Neg(Box::new(E::Lit(lo)))), Arg::F(E::Lit(hi))];
                    (method("clamp", a.0, args, path), lo.max(hi))
                } else {
                    let (w, wb) = self.var();
                    let c = self.rng.pick(&[0.5, 1.0, 2.0]);
                    let lo = bin(Op::Sub, w.clone(), E::Lit(c));
                    let hi = bin(Op::Add, w, E::Lit(c));
                    (
                        method("clamp", a.0, vec![Arg::F(lo), Arg::F(hi)], path),
                        wb + c,
                    )
                }
            }
            "hypot" => {
                let other = self.expr(depth - 1);
                let p = self.positive(other, true);
                (method("hypot", a.0, vec![Arg::F(p.e)], path), a.1 + p.hi)
            }
            _ => {
                let (m, mb) = self.operand(depth - 1);
                let (c, cb) = self.operand(depth - 1);
                let args = vec![Arg::F(m), Arg::F(c)];
                (method("mul_add", a.0, args, path), a.1 * mb + cb)
            }
        }
    }

    fn runtime_call(&mut self, (e, b): B) -> B {
        match self.rng.below(3) {
            0 => (E::Runtime("sigmoid", Box::new(e)), 1.0),
            1 => (E::Runtime("relu", Box::new(e)), b),
            _ => (E::Runtime("softplus", Box::new(e)), b + 0.7),
        }
    }

    /// An expression that uses `base`.
    fn combine(&mut self, base: B, depth: usize) -> B {
        let base = if self.rng.chance(0.4) {
            self.unary(base)
        } else {
            base
        };
        let bare = matches!(base.0, E::Var(_));
        let b = match self.rng.below(3) {
            // Never `m = m;` or `let a = a;`.
            0 if !bare => base,
            _ => {
                let op = [Op::Add, Op::Sub, Op::Mul][self.rng.below(3)];
                let (other, ob) = self.operand(depth);
                let bound = if op == Op::Mul {
                    base.1 * ob
                } else {
                    base.1 + ob
                };
                let (l, r) = if self.rng.chance(0.5) {
                    (base.0, other)
                } else {
                    (other, base.0)
                };
                let op = not_self_difference(op, &l, &r);
                (bin(op, l, r), bound)
            }
        };
        self.limit(b)
    }

    /// Combines several terms into one expression; every term appears.
    fn fold(&mut self, terms: Vec<B>) -> B {
        let mut terms = terms.into_iter();
        let mut acc = terms.next().expect("at least one term");
        for (t, tb) in terms {
            let (t, tb) = if self.rng.chance(0.3) {
                let c = self.lit();
                (bin(Op::Mul, E::Lit(c), t), tb * c)
            } else {
                (t, tb)
            };
            let op = if acc.1 * tb <= BOUND && self.rng.chance(0.3) {
                Op::Mul
            } else if self.rng.chance(0.5) {
                Op::Sub
            } else {
                Op::Add
            };
            let bound = if op == Op::Mul {
                acc.1 * tb
            } else {
                acc.1 + tb
            };
            let op = not_self_difference(op, &acc.0, &t);
            acc = (bin(op, acc.0, t), bound);
        }
        acc
    }

    /// A block expression `{ let q = ..; [let q = ..;] tail }`.
    fn block(&mut self, depth: usize) -> B {
        let saved = self.vars.len();
        let mut stmts = Vec::new();
        for _ in 0..self.rng.range(1, 2) {
            let outer: Vec<usize> = self
                .visible()
                .into_iter()
                .filter(|&i| !self.vars[i].mutable)
                .collect();
            let (name, (e, bound)) = if !outer.is_empty() && self.rng.chance(0.3) {
                // Shadow an outer variable inside the block only.
                let i = self.rng.pick(&outer);
                let base = self.read(i);
                (self.vars[i].name.clone(), self.combine(base, 1))
            } else {
                (self.fresh("q"), self.expr(depth.max(2) - 1))
            };
            stmts.push((name.clone(), e));
            self.vars.push(Var {
                name,
                bound,
                mutable: false,
                unread: true,
                assigned: false,
            });
        }
        let inner: Vec<usize> = self
            .visible()
            .into_iter()
            .filter(|&i| i >= saved && self.vars[i].unread)
            .collect();
        let mut terms: Vec<B> = inner.into_iter().map(|i| self.read(i)).collect();
        if terms.len() < 2 {
            terms.push(self.operand(1));
        }
        let tail = self.fold(terms);
        self.vars.truncate(saved);
        self.limit((E::Block(stmts, Box::new(tail.0)), tail.1))
    }

    fn new_var(&mut self, name: String, bound: f64, mutable: bool) {
        self.vars.push(Var {
            name,
            bound,
            mutable,
            unread: true,
            assigned: false,
        });
    }

    /// Appends `let [mut] name[: f64] = e;` and brings `name` into scope.
    fn bind(&mut self, out: &mut Vec<S>, name: String, (e, bound): B, mutable: bool, typed: bool) {
        self.new_var(name.clone(), bound, mutable);
        out.push(S::Let {
            name,
            mutable,
            typed,
            e,
        });
    }

    /// Appends one random statement.
    fn statement(&mut self, out: &mut Vec<S>) {
        let visible = self.visible();
        let (mutables, immutables): (Vec<usize>, Vec<usize>) =
            visible.iter().partition(|&&i| self.vars[i].mutable);
        let weights = [
            40,
            if immutables.is_empty() { 0 } else { 14 },
            10,
            if mutables.is_empty() { 0 } else { 20 },
            8,
            if self.ints.is_empty() { 0 } else { 5 },
            2,
        ];
        let typed = self.rng.chance(0.2);
        match self.rng.weighted(&weights) {
            0 => {
                let depth = self.rng.range(1, 3);
                let b = self.expr(depth);
                let name = self.fresh_let();
                self.bind(out, name, b, false, typed);
            }
            1 => {
                // Shadowing: `let a = f(a, ..);`
                let i = self.rng.pick(&immutables);
                let base = self.read(i);
                let depth = self.rng.range(1, 2);
                let (e, b) = self.combine(base, depth);
                let var = &mut self.vars[i];
                var.bound = b;
                var.unread = true;
                out.push(S::Let {
                    name: var.name.clone(),
                    mutable: false,
                    typed,
                    e,
                });
            }
            2 => {
                let depth = self.rng.range(1, 3);
                let b = self.expr(depth);
                let name = self.fresh("m");
                self.bind(out, name, b, true, typed);
            }
            3 => {
                let i = self.rng.pick(&mutables);
                let s = self.assignment(i);
                out.push(s);
            }
            4 => {
                let depth = self.rng.range(1, 3);
                let b = self.block(depth);
                let name = self.fresh_let();
                self.bind(out, name, b, false, typed);
            }
            5 => {
                // A float computed from integers only, or scaled by one.
                let (int, ib) = self.int_expr();
                let b = if self.rng.chance(0.5) {
                    let c = self.lit();
                    (bin(Op::Mul, E::IntCast(int), E::Lit(c)), ib * c)
                } else {
                    let (v, vb) = self.expr(1);
                    (bin(Op::Mul, v, E::IntCast(int)), ib * vb)
                };
                let b = self.limit(b);
                let name = self.fresh("s");
                self.bind(out, name, b, false, typed);
            }
            _ => {
                // A local holding a constant.
                let (c, cb) = self.constant();
                let v = self.lit();
                let name = self.fresh("c");
                // Literal-only initialisers need the annotation to have a float type.
                let typed = typed || literals_only(&c);
                self.bind(
                    out,
                    name,
                    (bin(Op::Mul, c, E::Lit(v)), cb * v),
                    false,
                    typed,
                );
            }
        }
    }

    /// The right-hand side of `target op= rhs`, except that `m += c + m` (which reads like a
    /// botched `m = m + c`, a lint) becomes `m += (c + m).tanh()`.
    fn compound_rhs(&mut self, (e, b): B, target: &str) -> B {
        let is_target = |x: &E| matches!(x, E::Var(n) if n == target);
        match &e {
            E::Bin(_, l, r) if is_target(l) || is_target(r) => {
                let path = self.path();
                (method("tanh", e, vec![], path), 1.0)
            }
            _ => (e, b),
        }
    }

    /// An assignment to the mutable variable `i`.
    fn assignment(&mut self, i: usize) -> S {
        let name = self.vars[i].name.clone();
        let mb = self.vars[i].bound;
        let kind = if mb > BOUND / 2.0 {
            0
        } else {
            self.rng.weighted(&[3, 3, 2, 2, 2])
        };
        let (op, e, bound) = match kind {
            0 => {
                if !self.vars[i].unread && self.rng.chance(0.3) {
                    // Overwrite a value that has been read.
                    let (e, b) = self.expr(2);
                    // Not `m = m;`, nor `let t = m; m = t;` (which reads like a botched swap).
                    let (e, b) = if matches!(&e, E::Var(_)) {
                        self.unary((e, b))
                    } else {
                        (e, b)
                    };
                    (None, e, b)
                } else {
                    let base = self.read(i);
                    let base = self.cap(base, BOUND / 2.0);
                    let (e, b) = self.combine(base, 1);
                    (None, e, b)
                }
            }
            1 => {
                self.vars[i].unread = false;
                let op = if self.rng.chance(0.5) {
                    Op::Add
                } else {
                    Op::Sub
                };
                let rhs = self.operand(2);
                let rhs = self.cap(rhs, BOUND / 2.0);
                let (e, b) = self.compound_rhs(rhs, &name);
                (Some(op), e, mb + b)
            }
            2 => {
                self.vars[i].unread = false;
                let rhs = self.expr(2);
                let rhs = self.cap(rhs, (BOUND / mb.max(1.0)).max(1.0));
                let (e, b) = self.compound_rhs(rhs, &name);
                (Some(Op::Mul), e, mb * b)
            }
            3 => {
                self.vars[i].unread = false;
                let r = self.expr(1);
                let d = self.divisor(r);
                (Some(Op::Div), d.e, mb / d.lo)
            }
            _ => {
                // Plain reassignment that reads the old value.
                let base = self.read(i);
                let (e, b) = self.combine(base, 2);
                (None, e, b)
            }
        };
        let var = &mut self.vars[i];
        var.bound = bound;
        var.unread = true;
        var.assigned = true;
        S::Assign { name, op, e }
    }
}

// ---------------------------------------------------------------------------------------------
// Programs

#[derive(Clone, Debug)]
enum Param {
    Float(&'static str),
    Int(&'static str, IntKind),
}

struct Program {
    name: String,
    single: bool,
    params: Vec<Param>,
    /// The `wrt(..)` list as written, if any.
    wrt: Option<Vec<&'static str>>,
    module_consts: Vec<(String, f64)>,
    body: Vec<S>,
    ret: E,
    points: Vec<(Vec<f64>, Vec<i64>)>,
}

impl Program {
    fn ty(&self) -> &'static str {
        if self.single { "f32" } else { "f64" }
    }

    fn floats(&self) -> Vec<&'static str> {
        self.params
            .iter()
            .filter_map(|p| match p {
                Param::Float(n) => Some(*n),
                Param::Int(..) => None,
            })
            .collect()
    }

    fn ints(&self) -> Vec<(&'static str, IntKind)> {
        self.params
            .iter()
            .filter_map(|p| match p {
                Param::Int(n, k) => Some((*n, *k)),
                Param::Float(_) => None,
            })
            .collect()
    }

    /// Indices of the active float parameters, in declaration order.
    fn active(&self) -> Vec<usize> {
        let floats = self.floats();
        (0..floats.len())
            .filter(|&i| self.wrt.as_ref().is_none_or(|w| w.contains(&floats[i])))
            .collect()
    }

    fn runtime_names(&self) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        for s in &self.body {
            match s {
                S::Let { e, .. } | S::Assign { e, .. } => runtime_names(e, &mut out),
                S::Const(..) => {}
            }
        }
        runtime_names(&self.ret, &mut out);
        out
    }

    /// The function, over `f64`/`f32` (`dual == false`) or over `Dual`.
    fn function(&self, dual: bool, attribute: bool) -> String {
        let printer = Printer {
            ty: self.ty(),
            dual,
        };
        let mut s = String::new();
        if attribute {
            match &self.wrt {
                None => s.push_str("#[differentiate(reverse, forward)]\n"),
                Some(w) => {
                    let _ = writeln!(
                        s,
                        "#[differentiate(reverse, forward, wrt({}))]",
                        w.join(", ")
                    );
                }
            }
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p {
                Param::Float(n) => format!("{n}: {}", printer.float()),
                Param::Int(n, IntKind::I32) => format!("{n}: i32"),
                Param::Int(n, IntKind::Usize) => format!("{n}: usize"),
            })
            .collect();
        let name = if dual {
            format!("{}_oracle", self.name)
        } else {
            self.name.clone()
        };
        let _ = writeln!(
            s,
            "fn {name}({}) -> {} {{",
            params.join(", "),
            printer.float()
        );
        for st in &self.body {
            let _ = writeln!(s, "    {}", printer.statement(st));
        }
        let _ = writeln!(s, "    {}\n}}", printer.expr(&self.ret));
        s
    }

    /// The source shown in failure reports.
    fn source(&self, attribute: bool) -> String {
        let mut s = String::new();
        for (name, v) in &self.module_consts {
            let _ = writeln!(s, "const {name}: {} = {};", self.ty(), literal(*v));
        }
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.function(false, attribute));
        s
    }

    /// The arguments of `f_jvp`: each active float followed by its tangent `dir[j]`.
    fn jvp_args(&self) -> String {
        let (mut fi, mut ii, mut di) = (0, 0, 0);
        let mut args = Vec::new();
        let cast = if self.single { " as f32" } else { "" };
        for p in &self.params {
            match p {
                Param::Float(n) => {
                    args.push(format!("xs[{fi}]{cast}"));
                    if self.wrt.as_ref().is_none_or(|w| w.contains(n)) {
                        args.push(format!("dir[{di}]{cast}"));
                        di += 1;
                    }
                    fi += 1;
                }
                Param::Int(_, kind) => {
                    args.push(int_arg(*kind, ii));
                    ii += 1;
                }
            }
        }
        args.join(", ")
    }

    /// The arguments of a call from the flat `xs: &[f64]`, `ns: &[i64]`.
    fn call_args(&self, dual: bool) -> String {
        let (mut fi, mut ii) = (0, 0);
        let mut args = Vec::new();
        for p in &self.params {
            match p {
                Param::Float(_) => {
                    args.push(if self.single && !dual {
                        format!("xs[{fi}] as f32")
                    } else {
                        format!("xs[{fi}]")
                    });
                    fi += 1;
                }
                Param::Int(_, kind) => {
                    args.push(int_arg(*kind, ii));
                    ii += 1;
                }
            }
        }
        args.join(", ")
    }
}

/// The parameter list: float names in random order, integers inserted at random positions.
fn signature(rng: &mut Rng) -> (Vec<Param>, Vec<&'static str>) {
    let n_float = rng.range(1, 6);
    let mut float_names = FLOAT_NAMES;
    rng.shuffle(&mut float_names);
    if rng.chance(0.1) {
        // A parameter with a name an expansion might also use.
        float_names[0] = rng.pick(&["value", "d_x", "t", "grad", "x_1"]);
    }
    let floats = float_names[..n_float].to_vec();
    let mut params: Vec<Param> = floats.iter().map(|&n| Param::Float(n)).collect();
    let n_int = if rng.chance(0.3) { rng.range(1, 2) } else { 0 };
    for &name in &INT_NAMES[..n_int] {
        let kind = if rng.chance(0.6) {
            IntKind::I32
        } else {
            IntKind::Usize
        };
        let at = rng.below(params.len() + 1);
        params.insert(at, Param::Int(name, kind));
    }
    (params, floats)
}

/// `Some(names)` for `#[differentiate(wrt(names))]`: a proper subset of `floats`, usually in
/// declaration order.
fn wrt(rng: &mut Rng, floats: &[&'static str]) -> Option<Vec<&'static str>> {
    if floats.len() < 2 || !rng.chance(0.15) {
        return None;
    }
    let k = rng.range(1, floats.len() - 1);
    let mut chosen = floats.to_vec();
    rng.shuffle(&mut chosen);
    chosen.truncate(k);
    if rng.chance(0.7) {
        chosen.sort_by_key(|n| floats.iter().position(|m| m == n));
    }
    Some(chosen)
}

fn generate(index: usize, seed: u64) -> Program {
    let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let _ = rng.next();
    let single = rng.chance(0.1);
    let runtime = !single || RUNTIME_IN_F32;
    let (params, floats) = signature(&mut rng);
    let wrt = wrt(&mut rng, &floats);
    let name = format!("p{index}");
    let mut body = Vec::new();
    let mut consts = Vec::new();
    let mut module_consts = Vec::new();
    if rng.chance(0.2) {
        let v = (rng.range(2, 40) * 2 + 1) as f64 / 16.0;
        body.push(S::Const("K0".to_owned(), v));
        consts.push(ConstItem {
            name: "K0".to_owned(),
            value: v,
            used: false,
        });
    }
    if rng.chance(0.15) {
        let v = (rng.range(2, 40) * 2 + 1) as f64 / 16.0;
        let cname = format!("MC{index}");
        module_consts.push((cname.clone(), v));
        consts.push(ConstItem {
            name: cname,
            value: v,
            used: false,
        });
    }
    let mut g = Gen {
        rng: &mut rng,
        runtime,
        vars: Vec::new(),
        ints: params
            .iter()
            .filter_map(|p| match p {
                Param::Int(n, k) => Some(IntParam {
                    name: n,
                    kind: *k,
                    used: false,
                }),
                Param::Float(_) => None,
            })
            .collect(),
        consts,
        fresh: 0,
    };
    for p in &params {
        if let Param::Float(n) = p {
            g.new_var((*n).to_owned(), 2.0, false);
        }
    }
    let statements = g.rng.range(2, 40);
    for _ in 0..statements {
        g.statement(&mut body);
    }
    finish(&mut g, &mut body);
    let ret = ret_expr(&mut g);
    let points = (0..POINTS)
        .map(|_| point(&mut rng, single, &params))
        .collect();
    Program {
        name,
        single,
        params,
        wrt,
        module_consts,
        body,
        ret,
        points,
    }
}

/// Uses every integer parameter and reassigns every `let mut`.
fn finish(g: &mut Gen<'_>, body: &mut Vec<S>) {
    for i in 0..g.ints.len() {
        if !g.ints[i].used {
            g.ints[i].used = true;
            let name = g.ints[i].name;
            let c = g.lit();
            let s = g.fresh("s");
            let bound = 5.0 * c;
            g.new_var(s.clone(), bound, false);
            body.push(S::Let {
                name: s,
                mutable: false,
                typed: false,
                e: bin(Op::Mul, E::IntCast(name.to_owned()), E::Lit(c)),
            });
        }
    }
    for i in g.visible() {
        if g.vars[i].mutable && !g.vars[i].assigned {
            let s = g.assignment(i);
            body.push(s);
        }
    }
}

/// The return expression: uses every value not read yet, so nothing is dead.
fn ret_expr(g: &mut Gen<'_>) -> E {
    let unread: Vec<usize> = g
        .visible()
        .into_iter()
        .filter(|&i| g.vars[i].unread)
        .collect();
    let mut terms: Vec<B> = unread.into_iter().map(|i| g.read(i)).collect();
    for i in 0..g.consts.len() {
        if !g.consts[i].used {
            g.consts[i].used = true;
            let c = E::Item(g.consts[i].name.clone());
            let (v, vb) = g.var();
            terms.push((bin(Op::Mul, c, v), vb * g.consts[i].value));
        }
    }
    g.rng.shuffle(&mut terms);
    if terms.len() < 2 {
        let extra = g.expr(2);
        terms.push(extra);
    }
    let (e, _) = g.fold(terms);
    if g.rng.chance(0.1) {
        // The result as a block expression: `{ let q = ..; q * q.tanh() }`.
        let name = g.fresh("q");
        let q = E::Var(name.clone());
        let tail = bin(Op::Mul, q.clone(), method("tanh", q, vec![], false));
        return E::Block(vec![(name, e)], Box::new(tail));
    }
    e
}

fn point(rng: &mut Rng, single: bool, params: &[Param]) -> (Vec<f64>, Vec<i64>) {
    let mut floats = Vec::new();
    let mut ints = Vec::new();
    for p in params {
        match p {
            Param::Float(_) => {
                let x = rng.unit() * 4.0 - 2.0;
                floats.push(if single { f64::from(x as f32) } else { x });
            }
            Param::Int(_, IntKind::I32) => ints.push(rng.range(0, 5) as i64 - 2),
            Param::Int(_, IntKind::Usize) => ints.push(rng.range(0, 4) as i64),
        }
    }
    (floats, ints)
}

// ---------------------------------------------------------------------------------------------
// Output

/// Lints allowed in the generated modules, each with its reason.
const ALLOWED_LINTS: &str = "\
#[allow(
    // Plain reassignment `m = m * e` is one of the constructs under test.
    clippy::assign_op_pattern,
    // `n as f64` on integer parameters is one of the constructs under test.
    clippy::cast_lossless,
    clippy::cast_precision_loss,
    // The wrappers narrow test inputs that are in range by construction.
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    // Programs have up to eight parameters.
    clippy::too_many_arguments,
    // Evaluation points are printed as shortest round-trip decimals.
    clippy::unreadable_literal,
    // Random compositions such as `x.max(-0.25).min(0.5)` are intended.
    clippy::manual_clamp,
    // Random expressions, not hand-written code: written as generated.
    clippy::suboptimal_flops,
    clippy::unnecessary_min_or_max,
)]
";

fn emit_program(out: &mut String, p: &Program, with_macro: bool) {
    let source = p.source(with_macro);
    let _ = writeln!(out, "    // {}", "-".repeat(92));
    for (name, v) in &p.module_consts {
        let _ = writeln!(out, "    const {name}: {} = {};", p.ty(), literal(*v));
    }
    for line in p.function(false, with_macro).lines() {
        let _ = writeln!(out, "    {line}");
    }
    for line in p.function(true, false).lines() {
        let _ = writeln!(out, "    {line}");
    }
    let ints = p.ints();
    let ns = if ints.is_empty() { "_ns" } else { "ns" };
    let name = &p.name;
    let (bits, widen) = if p.single {
        ("u64::from(v.to_bits())", "f64::from")
    } else {
        ("v.to_bits()", "")
    };
    let wide = |x: &str| {
        if widen.is_empty() {
            x.to_owned()
        } else {
            format!("{widen}({x})")
        }
    };
    let args = p.call_args(false);
    let _ = writeln!(
        out,
        "    fn {name}_value(xs: &[f64], {ns}: &[i64]) -> (u64, f64) {{\n        \
         let v = {name}({args});\n        ({bits}, {})\n    }}",
        wide("v")
    );
    if with_macro {
        let _ = writeln!(
            out,
            "    fn {name}_flat_jvp(xs: &[f64], {ns}: &[i64], dir: &[f64]) -> f64 {{\n        \
             let (_, t) = {name}_jvp({});\n        {}\n    }}",
            p.jvp_args(),
            wide("t")
        );
        let n = p.active().len();
        let ds: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
        let widened: Vec<String> = ds.iter().map(|d| wide(d)).collect();
        let _ = writeln!(
            out,
            "    fn {name}_flat_grad(xs: &[f64], {ns}: &[i64]) -> (u64, f64, Vec<f64>) {{\n        \
             let (v, {}) = {name}_grad({args});\n        ({bits}, {}, vec![{}])\n    }}",
            ds.join(", "),
            wide("v"),
            widened.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "    fn {name}_flat_oracle(xs: &[Dual], {ns}: &[i64]) -> Dual {{\n        \
         {name}_oracle({})\n    }}",
        p.call_args(true)
    );
    assert!(!source.contains('"'), "sources are printed as raw strings");
    let _ = writeln!(
        out,
        "    const {}_SOURCE: &str = r\"{source}\";",
        name.to_uppercase()
    );
}

fn f64_list(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| literal(*x))
        .collect::<Vec<_>>()
        .join(", ")
}

fn emit_table_entry(out: &mut String, p: &Program, with_macro: bool) {
    let name = &p.name;
    let quoted = |xs: Vec<&str>| {
        xs.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let active: Vec<String> = p.active().iter().map(ToString::to_string).collect();
    let points: Vec<String> = p
        .points
        .iter()
        .map(|(f, i)| {
            let ints: Vec<String> = i.iter().map(ToString::to_string).collect();
            format!(
                "Point {{ floats: &[{}], ints: &[{}] }}",
                f64_list(f),
                ints.join(", ")
            )
        })
        .collect();
    let (grad, jvp) = if with_macro {
        (
            format!("Some({name}_flat_grad)"),
            format!("Some({name}_flat_jvp)"),
        )
    } else {
        ("None".to_owned(), "None".to_owned())
    };
    let _ = writeln!(
        out,
        "        Program {{\n            name: {name:?},\n            source: {}_SOURCE,\n            \
         single: {},\n            active: &[{}],\n            float_names: &[{}],\n            \
         int_names: &[{}],\n            points: &[\n                {},\n            ],\n            \
         value: {name}_value,\n            grad: {grad},\n            jvp: {jvp},\n            oracle: {name}_flat_oracle,\n            \
         tape: None,\n            shapes: &[],\n        }},",
        name.to_uppercase(),
        p.single,
        active.join(", "),
        quoted(p.floats()),
        quoted(p.ints().iter().map(|(n, _)| *n).collect()),
        points.join(",\n                "),
    );
}

fn emit_chunk(out: &mut String, index: usize, programs: &[Program], with_macro: bool) {
    out.push_str(ALLOWED_LINTS);
    let _ = writeln!(out, "mod chunk_{index:02} {{");
    if with_macro {
        out.push_str("    use autodiff::differentiate;\n");
    }
    let runtime: BTreeSet<&str> = programs.iter().flat_map(Program::runtime_names).collect();
    if !runtime.is_empty() {
        let names: Vec<&str> = runtime.into_iter().collect();
        let _ = writeln!(out, "    use autodiff::{{{}}};", names.join(", "));
    }
    out.push_str("    use autodiff_random_tests::dual::Dual;\n");
    out.push_str("    use autodiff_random_tests::harness::{Point, Program};\n\n");
    for p in programs {
        emit_program(out, p, with_macro);
        out.push('\n');
    }
    out.push_str("    pub(super) static PROGRAMS: &[Program] = &[\n");
    for p in programs {
        emit_table_entry(out, p, with_macro);
    }
    out.push_str("    ];\n}\n\n");
}

fn parse_seed(s: &str) -> u64 {
    let s = s.trim();
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.unwrap_or_else(|e| panic!("AUTODIFF_RANDOM_SEED={s:?}: {e}"))
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_SEED");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_PROGRAMS");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_ORACLE_ONLY");
    println!("cargo::rerun-if-changed=build/flow.rs");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_FLOW_PROGRAMS");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_FLOW_FIRST");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_KNOWN_BUGS");
    println!("cargo::rerun-if-env-changed=AUTODIFF_RANDOM_REAL_RATE");
    println!("cargo::rerun-if-changed=build/families.rs");
    for var in [
        "AUTODIFF_RANDOM_MULTI_PROGRAMS",
        "AUTODIFF_RANDOM_MULTI_FIRST",
        "AUTODIFF_RANDOM_HESSIAN_PROGRAMS",
        "AUTODIFF_RANDOM_HESSIAN_FIRST",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let seed = env::var("AUTODIFF_RANDOM_SEED").map_or(DEFAULT_SEED, |s| parse_seed(&s));
    let count = env::var("AUTODIFF_RANDOM_PROGRAMS").map_or(DEFAULT_PROGRAMS, |s| {
        s.trim()
            .parse()
            .unwrap_or_else(|e| panic!("AUTODIFF_RANDOM_PROGRAMS={s:?}: {e}"))
    });
    let with_macro =
        env::var("AUTODIFF_RANDOM_ORACLE_ONLY").map_or(true, |s| s.is_empty() || s == "0");

    let programs: Vec<Program> = (0..count).map(|i| generate(i, seed)).collect();
    let mut out = format!(
        "// @generated by tests/random/build.rs: {count} programs from seed {seed:#x}. Do not edit.\n\n\
         /// The seed the programs were generated from.\n\
         const GENERATOR_SEED: u64 = {seed:#x};\n\n"
    );
    let mut chunks = Vec::new();
    for (i, chunk) in programs.chunks(CHUNK).enumerate() {
        emit_chunk(&mut out, i, chunk, with_macro);
        chunks.push(format!("chunk_{i:02}::PROGRAMS"));
    }
    let _ = writeln!(
        out,
        "/// All generated programs, by module.\n\
         static PROGRAM_CHUNKS: &[&[autodiff_random_tests::harness::Program]] = &[{}];",
        chunks.join(", ")
    );
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let path = out_dir.join("programs.rs");
    fs::write(&path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));

    let number = |var: &str, default: usize| {
        env::var(var).map_or(default, |s| {
            s.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{var}={s:?}: {e}"))
        })
    };
    let flow_count = number("AUTODIFF_RANDOM_FLOW_PROGRAMS", DEFAULT_FLOW_PROGRAMS);
    let flow_first = number("AUTODIFF_RANDOM_FLOW_FIRST", 0);
    flow::write(&out_dir, seed, flow_first, flow_count, with_macro);
    for (family, what, default) in [
        (flow::Family::Multi, "MULTI", DEFAULT_MULTI_PROGRAMS),
        (flow::Family::Hessian, "HESSIAN", DEFAULT_HESSIAN_PROGRAMS),
    ] {
        let count = number(&format!("AUTODIFF_RANDOM_{what}_PROGRAMS"), default);
        let first = number(&format!("AUTODIFF_RANDOM_{what}_FIRST"), 0);
        flow::families::write(&out_dir, family, seed, first, count, with_macro);
    }
}

/// The argument for integer parameter `ii` of the flat `ns: &[i64]`, cast to its type.
fn int_arg(kind: IntKind, ii: usize) -> String {
    let ty = if kind == IntKind::I32 { "i32" } else { "usize" };
    format!("ns[{ii}] as {ty}")
}
