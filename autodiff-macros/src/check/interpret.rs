//! An interpreter of the IR: runs a [`Block`] of the code the passes produce on numbers.
//!
//! It is a direct evaluator, written to be checked by reading. A node is computed where a
//! [`Stmt::Node`] places it and keeps its value until its block ends, as the `let` that emission
//! writes for it would; leaves, and nodes no statement places, are computed where they are used,
//! as emission writes them inline there. Only the nodes that a statement or a result needs run,
//! as only those are emitted, so a dead `Pop` takes nothing off its tape. Whatever the generated
//! Rust would reject or panic on (a value used out of its scope, an uninitialised variable, a
//! pop of an empty tape, an index out of bounds, integer overflow) is a [`Fault`], not a guess.
//!
//! The numbers are generic: `f64` runs the code under test; the dual numbers of the oracle run
//! the primal program through the same evaluator. The table's operations on `f64` are std's
//! methods and the runtime's three functions, re-implemented as the runtime writes them.

use crate::hash::HashMap;
use std::cmp::Ordering::{Equal, Greater, Less};
use std::fmt;

use crate::forward::{Seed, Tangent};
use crate::graph::{
    Block, CastTo, CmpOp, Graph, KnownConst, LitValue, Loop, NodeId, Op, Stmt, Ty, VarId,
};
use crate::prim::Prim;
use crate::reverse::Adjoint;

/// Statements one run may execute before it is taken for an endless loop.
const STEP_LIMIT: usize = 1_000_000;

/// Why a run stopped: what the generated code would not compile or would panic on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault(pub String);

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fault<T>(message: impl Into<String>) -> Result<T, Fault> {
    Err(Fault(message.into()))
}

/// The numbers a program computes with.
pub trait Scalar: Clone + fmt::Debug {
    fn constant(value: f64) -> Self;
    fn value(&self) -> f64;
    /// A float operation of the table: every row but `powi`, whose exponent is an integer.
    fn prim(p: Prim, args: &[Self]) -> Self;
    fn powi(&self, n: i32) -> Self;
    /// `as f32` and back; the checks here only run `f64` programs.
    fn round_to_f32(&self) -> Self;
}

impl Scalar for f64 {
    fn constant(value: f64) -> Self {
        value
    }

    fn value(&self) -> f64 {
        *self
    }

    fn prim(p: Prim, a: &[f64]) -> f64 {
        apply(p, a)
    }

    fn powi(&self, n: i32) -> f64 {
        f64::powi(*self, n)
    }

    #[allow(clippy::cast_possible_truncation)] // that is what `as f32` does
    fn round_to_f32(&self) -> f64 {
        f64::from(*self as f32)
    }
}

/// The runtime's `sigmoid`, as `autodiff-runtime` writes it.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A row of the table on `f64`, as the generated code computes it.
pub fn apply(p: Prim, a: &[f64]) -> f64 {
    match p {
        Prim::Add => a[0] + a[1],
        Prim::Sub => a[0] - a[1],
        Prim::Mul => a[0] * a[1],
        Prim::Div => a[0] / a[1],
        Prim::Rem => a[0] % a[1],
        Prim::Neg => -a[0],
        Prim::BitAnd | Prim::BitOr | Prim::BitXor | Prim::Shl | Prim::Shr => {
            unreachable!("bit operators are on integers")
        }
        #[allow(clippy::cast_possible_truncation)] // exponents are small integers
        Prim::Powi => a[0].powi(a[1] as i32),
        Prim::Exp => a[0].exp(),
        Prim::Sigmoid => sigmoid(a[0]),
        Prim::ZeroWins => {
            if a[0] == 0.0 {
                0.0
            } else {
                a[1]
            }
        }
        Prim::Relu => {
            if a[0] <= 0.0 {
                0.0
            } else {
                a[0]
            }
        }
        Prim::Exp2 => a[0].exp2(),
        Prim::ExpM1 => a[0].exp_m1(),
        Prim::Ln => a[0].ln(),
        Prim::Ln1p => a[0].ln_1p(),
        Prim::Log => a[0].log(a[1]),
        Prim::Log2 => a[0].log2(),
        Prim::Log10 => a[0].log10(),
        Prim::Softplus => a[0].max(0.0) + (-a[0].abs()).exp().ln_1p(),
        Prim::Sqrt => a[0].sqrt(),
        Prim::Cbrt => a[0].cbrt(),
        Prim::Powf => a[0].powf(a[1]),
        Prim::Recip => a[0].recip(),
        Prim::Hypot => a[0].hypot(a[1]),
        Prim::MulAdd => a[0].mul_add(a[1], a[2]),
        Prim::Sin => a[0].sin(),
        Prim::Cos => a[0].cos(),
        Prim::Tan => a[0].tan(),
        Prim::Asin => a[0].asin(),
        Prim::Acos => a[0].acos(),
        Prim::Atan => a[0].atan(),
        Prim::Atan2 => a[0].atan2(a[1]),
        Prim::ToRadians => a[0].to_radians(),
        Prim::ToDegrees => a[0].to_degrees(),
        Prim::Sinh => a[0].sinh(),
        Prim::Cosh => a[0].cosh(),
        Prim::Tanh => a[0].tanh(),
        Prim::Asinh => a[0].asinh(),
        Prim::Acosh => a[0].acosh(),
        Prim::Atanh => a[0].atanh(),
        Prim::Abs => a[0].abs(),
        Prim::Max => a[0].max(a[1]),
        Prim::Min => a[0].min(a[1]),
        Prim::Clamp => a[0].clamp(a[1], a[2]),
        Prim::Fract => a[0].fract(),
        Prim::Signum => a[0].signum(),
        Prim::Floor => a[0].floor(),
        Prim::Ceil => a[0].ceil(),
        Prim::Round => a[0].round(),
        Prim::Trunc => a[0].trunc(),
    }
}

/// A value: a float, an integer, a flag, or the elements of an array or a tape.
#[derive(Clone, Debug)]
pub enum Val<T> {
    F(T),
    I(i128),
    B(bool),
    Arr(Vec<Val<T>>),
}

/// What a parameter (or its tangent) is given.
#[derive(Clone, Debug)]
pub enum Input<T> {
    Float(T),
    Int(i128),
    Array(Vec<T>),
}

impl<T: Scalar> Input<T> {
    fn val(&self) -> Val<T> {
        match self {
            Input::Float(x) => Val::F(x.clone()),
            Input::Int(n) => Val::I(*n),
            Input::Array(xs) => Val::Arr(xs.iter().cloned().map(Val::F).collect()),
        }
    }
}

struct Machine<'g, T> {
    graph: &'g Graph,
    params: &'g [Input<T>],
    seeds: &'g [Option<Input<T>>],
    /// Nodes some statement places.
    placed: Vec<bool>,
    /// Nodes a statement or a result needs.
    live: Vec<bool>,
    nodes: Vec<Option<Val<T>>>,
    vars: Vec<Option<Val<T>>>,
    counters: HashMap<usize, i128>,
    steps: usize,
}

fn placed_nodes(block: &Block, placed: &mut [bool]) {
    for stmt in &block.0 {
        match stmt {
            Stmt::Node(n) => placed[n.0] = true,
            Stmt::If {
                then, otherwise, ..
            } => {
                placed_nodes(then, placed);
                placed_nodes(otherwise, placed);
            }
            Stmt::For(Loop { body, .. }) => placed_nodes(body, placed),
            Stmt::While { cond, body, .. } => {
                placed_nodes(cond, placed);
                placed_nodes(body, placed);
            }
            Stmt::Declare(..)
            | Stmt::Assign(..)
            | Stmt::Store { .. }
            | Stmt::Push(..)
            | Stmt::Assert { .. } => {}
        }
    }
}

fn float<T>(v: Val<T>, what: &str) -> Result<T, Fault> {
    match v {
        Val::F(x) => Ok(x),
        other => fault(format!("{what}: expected a float, found {}", kind(&other))),
    }
}

fn int<T>(v: &Val<T>, what: &str) -> Result<i128, Fault> {
    match v {
        Val::I(n) => Ok(*n),
        other => fault(format!(
            "{what}: expected an integer, found {}",
            kind(other)
        )),
    }
}

fn flag<T>(v: &Val<T>, what: &str) -> Result<bool, Fault> {
    match v {
        Val::B(b) => Ok(*b),
        other => fault(format!("{what}: expected a bool, found {}", kind(other))),
    }
}

fn kind<T>(v: &Val<T>) -> &'static str {
    match v {
        Val::F(_) => "a float",
        Val::I(_) => "an integer",
        Val::B(_) => "a bool",
        Val::Arr(_) => "an array",
    }
}

fn index<T>(v: &Val<T>, len: usize) -> Result<usize, Fault> {
    let i = int(v, "index")?;
    match usize::try_from(i) {
        Ok(i) if i < len => Ok(i),
        _ => fault(format!("index {i} out of bounds for length {len}")),
    }
}

/// A named constant of `f64`, by the last segment of its path.
pub fn constant_value(tokens: &proc_macro2::TokenStream) -> Result<f64, Fault> {
    use std::f64::consts;
    let text = tokens.to_string().replace(' ', "");
    let name = text.rsplit("::").next().unwrap_or("");
    let path_is_f64 = text.contains("f64::consts::") || !text.contains("::");
    let value = match name {
        "PI" => consts::PI,
        "E" => consts::E,
        "TAU" => consts::TAU,
        "LN_2" => consts::LN_2,
        "LN_10" => consts::LN_10,
        "SQRT_2" => consts::SQRT_2,
        "FRAC_PI_2" => consts::FRAC_PI_2,
        _ => return fault(format!("unknown constant `{text}`")),
    };
    if path_is_f64 {
        Ok(value)
    } else {
        fault(format!("constant `{text}` is not an `f64` constant"))
    }
}

impl<'g, T: Scalar> Machine<'g, T> {
    fn new(
        graph: &'g Graph,
        code: &Block,
        results: &[NodeId],
        params: &'g [Input<T>],
        seeds: &'g [Option<Input<T>>],
    ) -> Self {
        let mut placed = vec![false; graph.nodes.len()];
        placed_nodes(code, &mut placed);
        Machine {
            graph,
            params,
            seeds,
            placed,
            live: graph.live(code, results),
            nodes: vec![None; graph.nodes.len()],
            vars: vec![None; graph.vars.len()],
            counters: HashMap::default(),
            steps: 0,
        }
    }

    fn block(&mut self, block: &Block) -> Result<(), Fault> {
        self.stmts(block)?;
        self.end_scope(block);
        Ok(())
    }

    /// Values computed and variables declared in a block go out of scope with it.
    fn end_scope(&mut self, block: &Block) {
        for stmt in &block.0 {
            match stmt {
                Stmt::Node(n) => self.nodes[n.0] = None,
                Stmt::Declare(v, _) => self.vars[v.0] = None,
                _ => {}
            }
        }
    }

    fn stmts(&mut self, block: &Block) -> Result<(), Fault> {
        for stmt in &block.0 {
            self.steps += 1;
            if self.steps > STEP_LIMIT {
                return fault("step limit exceeded: the loop does not end");
            }
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> Result<(), Fault> {
        match stmt {
            Stmt::Node(n) => {
                if self.live[n.0] {
                    let v = self.compute(*n)?;
                    self.nodes[n.0] = Some(v);
                }
            }
            Stmt::Declare(v, init) => {
                self.vars[v.0] = match init {
                    Some(n) => Some(self.get(*n)?),
                    None if matches!(self.graph.vars[v.0].shape, crate::graph::Shape::Tape(_)) => {
                        Some(Val::Arr(Vec::new()))
                    }
                    None => None,
                };
            }
            Stmt::Assign(v, n) => {
                let value = self.get(*n)?;
                match (&self.vars[v.0], &value) {
                    // The adjoint of an array declared in a loop, zeroed for the next run.
                    (Some(Val::Arr(old)), Val::Arr(new)) if old.len() == new.len() => {
                        self.vars[v.0] = Some(value);
                    }
                    (Some(Val::Arr(_)), _) => return fault("assignment to a whole array"),
                    _ => self.vars[v.0] = Some(value),
                }
            }
            Stmt::Store {
                var,
                index: i,
                value,
            } => {
                let i = self.get(*i)?;
                let value = self.get(*value)?;
                let Some(Val::Arr(elements)) = &mut self.vars[var.0] else {
                    return fault(format!("store into `{}`, not an array", self.name(*var)));
                };
                let i = index(&i, elements.len())?;
                elements[i] = value;
            }
            Stmt::Push(v, n) => {
                let value = self.get(*n)?;
                let Some(Val::Arr(tape)) = &mut self.vars[v.0] else {
                    return fault("push onto a tape not declared");
                };
                tape.push(value);
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                if flag(&self.get(*cond)?, "condition")? {
                    self.block(then)?;
                } else {
                    self.block(otherwise)?;
                }
            }
            Stmt::For(Loop {
                counter,
                start,
                end,
                inclusive,
                reverse,
                body,
                ..
            }) => {
                let s = int(&self.get(*start)?, "range start")?;
                let e = int(&self.get(*end)?, "range end")?;
                let e = if *inclusive { e + 1 } else { e };
                let mut range: Box<dyn Iterator<Item = i128>> = Box::new(s..e);
                if *reverse {
                    range = Box::new((s..e).rev());
                }
                let outer = self.counters.get(counter).copied();
                for i in range {
                    self.counters.insert(*counter, i);
                    self.block(body)?;
                }
                match outer {
                    Some(i) => self.counters.insert(*counter, i),
                    None => self.counters.remove(counter),
                };
            }
            Stmt::While { cond, test, body } => loop {
                // `loop { cond; if !test { break; } body }`: the condition's values are in
                // scope in the body.
                self.stmts(cond)?;
                let go = flag(&self.get(*test)?, "loop condition")?;
                if go {
                    self.block(body)?;
                }
                self.end_scope(cond);
                if !go {
                    break;
                }
                self.steps += 1;
                if self.steps > STEP_LIMIT {
                    return fault("step limit exceeded: the loop does not end");
                }
            },
            // The program's own assertions check nothing the interpreter needs.
            Stmt::Assert { .. } => {}
        }
        Ok(())
    }

    fn name(&self, v: VarId) -> &str {
        &self.graph.vars[v.0].name
    }

    /// The value of a node where it is used.
    fn get(&mut self, n: NodeId) -> Result<Val<T>, Fault> {
        let node = &self.graph.nodes[n.0];
        if node.is_leaf() || !self.placed[n.0] {
            return self.compute(n);
        }
        match &self.nodes[n.0] {
            Some(v) => Ok(v.clone()),
            None => fault(format!(
                "node {} ({:?}) used where it is not computed, or out of its scope",
                n.0, node.op
            )),
        }
    }

    fn var(&self, v: VarId) -> Result<&Val<T>, Fault> {
        match &self.vars[v.0] {
            Some(value) => Ok(value),
            None => fault(format!(
                "`{}` read before it is set, or out of scope",
                self.name(v)
            )),
        }
    }

    fn compute(&mut self, n: NodeId) -> Result<Val<T>, Fault> {
        let graph = self.graph;
        let node = &graph.nodes[n.0];
        let mut args = Vec::with_capacity(node.args.len());
        for &a in &node.args {
            args.push(self.get(a)?);
        }
        Ok(match &node.op {
            Op::Param(i) => match self.params.get(*i) {
                Some(input) => input.val(),
                None => return fault(format!("no input for parameter {i}")),
            },
            Op::Seed(i) => match self.seeds.get(*i) {
                Some(Some(input)) => input.val(),
                _ => return fault(format!("no tangent input for parameter {i}")),
            },
            Op::Lit(LitValue::Float(x), _) => Val::F(T::constant(*x)),
            Op::Lit(LitValue::Int(x), _) => Val::I(*x),
            Op::Lit(LitValue::Bool(b), _) => Val::B(*b),
            Op::Const(tokens) => Val::F(T::constant(constant_value(tokens)?)),
            Op::Known(k) => {
                use std::f64::consts::{LN_2, LN_10, PI};
                Val::F(T::constant(match k {
                    KnownConst::Ln2 => LN_2,
                    KnownConst::Ln10 => LN_10,
                    KnownConst::RadiansPerDegree => PI / 180.0,
                    KnownConst::DegreesPerRadian => 180.0 / PI,
                }))
            }
            Op::Prim(p) => prim(*p, args)?,
            Op::Cast(to) => cast(to, args.into_iter().next())?,
            Op::Cmp(op) => Val::B(compare(*op, &args[0], &args[1])?),
            Op::Select => {
                let mut args = args.into_iter();
                let c = flag(&args.next().expect("three arguments"), "select")?;
                let (then, otherwise) = (args.next(), args.next());
                if c { then } else { otherwise }.expect("three arguments")
            }
            Op::Not => Val::B(!flag(&args[0], "`!`")?),
            Op::And => Val::B(flag(&args[0], "`&&`")? && flag(&args[1], "`&&`")?),
            Op::Or => Val::B(flag(&args[0], "`||`")? || flag(&args[1], "`||`")?),
            // A whole array is read only to be returned, as a gradient.
            Op::Read(v) => self.var(*v)?.clone(),
            Op::Load(v) => match self.var(*v)? {
                Val::Arr(elements) => elements[index(&args[0], elements.len())?].clone(),
                _ => return fault(format!("`{}` indexed, not an array", self.name(*v))),
            },
            // A local array's length is the constant it was declared with, as emission writes
            // it: the backward code of its block has no array in scope.
            Op::Len(v) if self.graph.vars[v.0].param.is_none() => {
                let crate::graph::Shape::Array { len, .. } = &self.graph.vars[v.0].shape else {
                    return fault(format!("`{}.len()` of a scalar", self.name(*v)));
                };
                let Ok(len) = len.to_string().parse::<i128>() else {
                    return fault(format!("array length `{len}` is not a literal"));
                };
                Val::I(len)
            }
            Op::Len(v) => match self.var(*v)? {
                Val::Arr(elements) => Val::I(i128::try_from(elements.len()).expect("small")),
                _ => return fault(format!("`{}.len()` of a scalar", self.name(*v))),
            },
            Op::Fill(len) => {
                let Ok(len) = len.to_string().parse::<usize>() else {
                    return fault(format!("array length `{len}` is not a literal"));
                };
                Val::Arr(vec![args[0].clone(); len])
            }
            Op::Vec | Op::Resized => {
                let len = int(&args[1], "length")?;
                let Ok(len) = usize::try_from(len) else {
                    return fault(format!("buffer length {len} is negative"));
                };
                Val::Arr(vec![args[0].clone(); len])
            }
            Op::Counter(k) => match self.counters.get(k) {
                Some(&i) => Val::I(i),
                None => return fault(format!("counter of loop {k} used outside the loop")),
            },
            Op::Pop(v) => {
                let name = self.graph.vars[v.0].name.clone();
                match &mut self.vars[v.0] {
                    Some(Val::Arr(tape)) => match tape.pop() {
                        Some(value) => value,
                        None => return fault(format!("pop of the empty tape `{name}`")),
                    },
                    _ => return fault(format!("pop of `{name}`, not a declared tape")),
                }
            }
            op @ (Op::SelfValue(_)
            | Op::Member(_)
            | Op::Call(_)
            | Op::CallGrad(_)
            | Op::CallJvp(_)
            | Op::Field(_)
            | Op::Array(..)
            | Op::Part(_)
            | Op::Invoke(_)
            | Op::Written(_)
            | Op::IntMethod(..)
            | Op::FieldSlice(_)
            | Op::Gradient(_)
            | Op::Element) => return fault(format!("{op:?} is not interpreted")),
        })
    }
}

/// A row of the table: on integers for arithmetic on integers, else on floats.
fn prim<T: Scalar>(p: Prim, args: Vec<Val<T>>) -> Result<Val<T>, Fault> {
    if let [Val::I(a), rest @ ..] = args.as_slice() {
        let b = match rest {
            [Val::I(b)] => Some(*b),
            [] => None,
            _ => return fault(format!("`{}` of an integer and a non-integer", p.name())),
        };
        let v = match (p, b) {
            (Prim::Add, Some(b)) => a.checked_add(b),
            (Prim::Sub, Some(b)) => a.checked_sub(b),
            (Prim::Mul, Some(b)) => a.checked_mul(b),
            (Prim::Div, Some(b)) => a.checked_div(b),
            (Prim::Rem, Some(b)) => a.checked_rem(b),
            (Prim::BitAnd, Some(b)) => Some(a & b),
            (Prim::BitOr, Some(b)) => Some(a | b),
            (Prim::BitXor, Some(b)) => Some(a ^ b),
            (Prim::Shl, Some(b)) => u32::try_from(b).ok().and_then(|b| a.checked_shl(b)),
            (Prim::Shr, Some(b)) => u32::try_from(b).ok().and_then(|b| a.checked_shr(b)),
            (Prim::Neg, None) => a.checked_neg(),
            _ => return fault(format!("`{}` of an integer", p.name())),
        };
        return match v {
            Some(v) => Ok(Val::I(v)),
            None => fault(format!(
                "integer overflow or division by zero in `{}`",
                p.name()
            )),
        };
    }
    if p == Prim::Powi {
        let mut args = args.into_iter();
        let x = float(args.next().expect("two arguments"), "powi")?;
        let n = int(&args.next().expect("two arguments"), "powi exponent")?;
        let Ok(n) = i32::try_from(n) else {
            return fault("powi exponent out of `i32`");
        };
        return Ok(Val::F(x.powi(n)));
    }
    let xs = args
        .into_iter()
        .map(|a| float(a, p.name()))
        .collect::<Result<Vec<T>, Fault>>()?;
    if p == Prim::Clamp
        && !matches!(
            xs[1].value().partial_cmp(&xs[2].value()),
            Some(Less | Equal)
        )
    {
        return fault("`clamp` with min > max or NaN: std panics");
    }
    Ok(Val::F(T::prim(p, &xs)))
}

fn compare<T: Scalar>(op: CmpOp, a: &Val<T>, b: &Val<T>) -> Result<bool, Fault> {
    let ordering = match (a, b) {
        (Val::F(a), Val::F(b)) => a.value().partial_cmp(&b.value()),
        (Val::I(a), Val::I(b)) => Some(a.cmp(b)),
        (Val::B(a), Val::B(b)) => Some(a.cmp(b)),
        _ => return fault(format!("comparison of {} and {}", kind(a), kind(b))),
    };
    Ok(match (op, ordering) {
        (CmpOp::Lt, o) => o == Some(Less),
        (CmpOp::Le, o) => matches!(o, Some(Less | Equal)),
        (CmpOp::Gt, o) => o == Some(Greater),
        (CmpOp::Ge, o) => matches!(o, Some(Greater | Equal)),
        (CmpOp::Eq | CmpOp::Is, o) => o == Some(Equal),
        (CmpOp::Ne, o) => o != Some(Equal),
    })
}

fn cast<T: Scalar>(to: &CastTo, arg: Option<Val<T>>) -> Result<Val<T>, Fault> {
    let Some(arg) = arg else {
        return fault("a cast without an argument");
    };
    #[allow(clippy::cast_precision_loss)] // as `as f64` does
    Ok(match (to, arg) {
        (CastTo::Float(crate::graph::FloatTy::F64), Val::F(x)) => Val::F(x),
        (CastTo::Float(crate::graph::FloatTy::F32), Val::F(x)) => Val::F(x.round_to_f32()),
        (CastTo::Float(_) | CastTo::Lossless(_), Val::I(n)) => Val::F(T::constant(n as f64)),
        (CastTo::Other(_, Ty::Int), Val::I(n)) => Val::I(n),
        #[allow(clippy::cast_possible_truncation)] // `as` saturates, as here
        (CastTo::Other(_, Ty::Int), Val::F(x)) => Val::I(x.value() as i128),
        (to, arg) => return fault(format!("cast {to:?} of {}", kind(&arg))),
    })
}

/// Runs the primal program of a graph, before the passes: its value.
pub fn primal<T: Scalar>(graph: &Graph, inputs: &[Input<T>]) -> Result<T, Fault> {
    let mut m = Machine::new(graph, &graph.body, &[graph.output], inputs, &[]);
    set_arrays(&mut m, inputs);
    m.stmts(&graph.body)?;
    float(m.get(graph.output)?, "the result")
}

fn set_arrays<T: Scalar>(m: &mut Machine<'_, T>, inputs: &[Input<T>]) {
    for (p, input) in m.graph.params.iter().zip(inputs) {
        if let Some(v) = p.var {
            m.vars[v.0] = Some(input.val());
        }
    }
}

/// What `f_grad` computes: the value, and every gradient entry flattened in declaration order
/// (an array or slice parameter contributes one entry per element).
#[derive(Clone, Debug)]
pub struct Gradient {
    pub value: f64,
    pub entries: Vec<f64>,
    /// Values left on tapes at the end: pushed and never popped.
    pub left_on_tapes: usize,
}

/// Runs `f_grad`'s body: the forward sweep and the backward sweep.
pub fn gradient(adjoint: &Adjoint, inputs: &[Input<f64>]) -> Result<Gradient, Fault> {
    let graph = &adjoint.graph;
    let mut results: Vec<NodeId> = vec![graph.output];
    results.extend(adjoint.gradients().into_iter().flatten());
    results.extend(adjoint.reads.values());
    let mut m = Machine::new(graph, &adjoint.code, &results, inputs, &[]);
    set_arrays(&mut m, inputs);
    // The buffers of array and slice gradients start at zero, as `f_grad` allocates them.
    for (i, d) in &adjoint.array_gradients {
        let Some(Input::Array(xs)) = inputs.get(*i) else {
            return fault(format!(
                "parameter {i} has an array gradient but no array input"
            ));
        };
        m.vars[d.0] = Some(Val::Arr(vec![Val::F(0.0); xs.len()]));
    }
    m.stmts(&adjoint.code)?;
    let value = float(m.get(graph.output)?, "the value")?;
    let mut entries = Vec::new();
    let gradients = adjoint.gradients();
    let mut scalar = gradients.iter();
    for (i, p) in graph.params.iter().enumerate().filter(|(_, p)| p.active) {
        if p.var.is_some() {
            let d = adjoint.array_gradients[&i];
            let read = adjoint.reads[&d];
            let Val::Arr(elements) = m.get(read)? else {
                return fault(format!("the gradient of `{}` is not an array", p.name));
            };
            for e in elements {
                entries.push(float(e, "a gradient element")?);
            }
        } else {
            match scalar.next() {
                Some(Some(g)) => entries.push(float(m.get(*g)?, "a gradient")?),
                Some(None) => entries.push(0.0),
                None => return fault("fewer gradient entries than active scalar parameters"),
            }
        }
    }
    let left_on_tapes = m
        .vars
        .iter()
        .zip(&graph.vars)
        .filter(|(_, var)| matches!(var.shape, crate::graph::Shape::Tape(_)))
        .map(|(value, _)| match value {
            Some(Val::Arr(tape)) => tape.len(),
            _ => 0,
        })
        .sum();
    Ok(Gradient {
        value,
        entries,
        left_on_tapes,
    })
}

/// Runs `f_jvp`'s body with a tangent input for each active parameter: the value and the
/// directional derivative.
pub fn tangent(
    tangent: &Tangent,
    inputs: &[Input<f64>],
    direction: &[Option<Input<f64>>],
) -> Result<(f64, f64), Fault> {
    let graph = &tangent.graph;
    let mut results = vec![graph.output];
    results.extend(tangent.derivative());
    let mut m = Machine::new(graph, &tangent.code, &results, inputs, direction);
    set_arrays(&mut m, inputs);
    for (i, seed) in &tangent.seeds {
        if let Seed::Array(d) = seed {
            let Some(Some(input)) = direction.get(*i) else {
                return fault(format!("no tangent input for parameter {i}"));
            };
            m.vars[d.0] = Some(input.val());
        }
    }
    m.stmts(&tangent.code)?;
    let value = float(m.get(graph.output)?, "the value")?;
    let derivative = match tangent.derivative() {
        Some(d) => float(m.get(d)?, "the tangent")?,
        None => 0.0,
    };
    Ok((value, derivative))
}
