//! A reference evaluator of the source: the function as `syn` parsed it, run as Rust runs it.
//!
//! It shares nothing with lowering, so it checks lowering itself: the primal program must
//! compute what the function computes, and with dual numbers it is an oracle for the gradient
//! that does not go through the graph at all. It knows the subset the generator writes: `let`,
//! assignment, arithmetic, comparisons, casts, the table's methods and functions, blocks, `if`,
//! `for` over ranges, `while`, `loop`, `break`, `continue`, `return`, indexing and local arrays.

use crate::hash::HashMap;
use std::cmp::Ordering::{Equal, Greater, Less};

use syn::{BinOp, Expr, Lit, Pat, Stmt, UnOp};

use super::interpret::{Input, Scalar, Val, constant_value};
use crate::prim::{Prim, Syntax};

/// Statements and loop iterations one run may take.
const STEP_LIMIT: usize = 1_000_000;

/// Why evaluation left an expression early.
enum Exit<T> {
    Break,
    Continue,
    Return(Val<T>),
    Fault(String),
}

type Eval<T> = Result<Val<T>, Exit<T>>;

fn fault<T, R>(message: impl Into<String>) -> Result<R, Exit<T>> {
    Err(Exit::Fault(message.into()))
}

struct Evaluator<T> {
    scopes: Vec<HashMap<String, Val<T>>>,
    steps: usize,
}

/// Runs `item` on `inputs`, one per parameter.
pub fn run<T: Scalar>(item: &syn::ItemFn, inputs: &[Input<T>]) -> Result<T, String> {
    let mut scope = HashMap::default();
    for (arg, input) in item.sig.inputs.iter().zip(inputs) {
        let syn::FnArg::Typed(t) = arg else {
            return Err("a receiver".to_owned());
        };
        let Pat::Ident(p) = &*t.pat else {
            return Err("a parameter pattern".to_owned());
        };
        let value = match input {
            Input::Float(x) => Val::F(x.clone()),
            Input::Int(n) => Val::I(*n),
            Input::Array(xs) => Val::Arr(xs.iter().cloned().map(Val::F).collect()),
        };
        scope.insert(p.ident.to_string(), value);
    }
    let mut e = Evaluator {
        scopes: vec![scope],
        steps: 0,
    };
    let value = match e.block(&item.block) {
        Ok(v) | Err(Exit::Return(v)) => v,
        Err(Exit::Fault(f)) => return Err(f),
        Err(Exit::Break | Exit::Continue) => return Err("`break` outside a loop".to_owned()),
    };
    match value {
        Val::F(x) => Ok(x),
        _ => Err("the function does not return a float".to_owned()),
    }
}

fn float<T>(v: Val<T>) -> Result<T, Exit<T>> {
    match v {
        Val::F(x) => Ok(x),
        _ => fault("expected a float"),
    }
}

fn int<T>(v: &Val<T>) -> Result<i128, Exit<T>> {
    match v {
        Val::I(n) => Ok(*n),
        _ => fault("expected an integer"),
    }
}

fn flag<T>(v: &Val<T>) -> Result<bool, Exit<T>> {
    match v {
        Val::B(b) => Ok(*b),
        _ => fault("expected a bool"),
    }
}

/// The `()` of statements and of blocks without a value.
/// Whether `op` is a compound assignment, `+=` and the like.
fn compound(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
    )
}

fn unit<T>() -> Val<T> {
    Val::Arr(Vec::new())
}

impl<T: Scalar> Evaluator<T> {
    fn step(&mut self) -> Result<(), Exit<T>> {
        self.steps += 1;
        if self.steps > STEP_LIMIT {
            return fault("step limit exceeded");
        }
        Ok(())
    }

    fn lookup(&mut self, name: &str) -> Result<&mut Val<T>, Exit<T>> {
        match self.scopes.iter_mut().rev().find_map(|s| s.get_mut(name)) {
            Some(v) => Ok(v),
            None => fault(format!("`{name}` is not in scope")),
        }
    }

    fn block(&mut self, block: &syn::Block) -> Eval<T> {
        self.scopes.push(HashMap::default());
        let value = self.stmts(&block.stmts);
        self.scopes.pop();
        value
    }

    fn stmts(&mut self, stmts: &[Stmt]) -> Eval<T> {
        let mut value = unit();
        for (k, stmt) in stmts.iter().enumerate() {
            self.step()?;
            value = unit();
            match stmt {
                Stmt::Local(local) => {
                    let pat = match &local.pat {
                        Pat::Type(t) => &*t.pat,
                        p => p,
                    };
                    let (Pat::Ident(p), Some(init)) = (pat, &local.init) else {
                        return fault("only `let name = value;`");
                    };
                    let v = self.expr(&init.expr)?;
                    self.scopes
                        .last_mut()
                        .expect("a scope")
                        .insert(p.ident.to_string(), v);
                }
                Stmt::Expr(e, semi) => {
                    let v = self.expr(e)?;
                    if semi.is_none() && k + 1 == stmts.len() {
                        value = v;
                    }
                }
                Stmt::Item(_) | Stmt::Macro(_) => return fault("items and macros"),
            }
        }
        Ok(value)
    }

    fn expr(&mut self, e: &Expr) -> Eval<T> {
        match e {
            Expr::Lit(l) => match &l.lit {
                Lit::Float(f) if f.suffix().is_empty() || f.suffix() == "f64" => {
                    let v: f64 = f.base10_parse().map_err(|e| Exit::Fault(e.to_string()))?;
                    Ok(Val::F(T::constant(v)))
                }
                Lit::Int(i) if i.suffix().is_empty() => Ok(Val::I(
                    i.base10_parse().map_err(|e| Exit::Fault(e.to_string()))?,
                )),
                Lit::Bool(b) => Ok(Val::B(b.value)),
                _ => fault("a literal of another type"),
            },
            Expr::Path(p) => match p.path.get_ident() {
                Some(name) => Ok(self.lookup(&name.to_string())?.clone()),
                None => match constant_value(&quote::ToTokens::to_token_stream(&p.path)) {
                    Ok(v) => Ok(Val::F(T::constant(v))),
                    Err(f) => fault(f.0),
                },
            },
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Block(b) => self.block(&b.block),
            Expr::Unary(u) => {
                let v = self.expr(&u.expr)?;
                match (&u.op, v) {
                    (UnOp::Neg(_), Val::F(x)) => Ok(Val::F(T::prim(Prim::Neg, &[x]))),
                    (UnOp::Neg(_), Val::I(n)) => Ok(Val::I(-n)),
                    (UnOp::Not(_), Val::B(b)) => Ok(Val::B(!b)),
                    _ => fault("a unary operator"),
                }
            }
            Expr::Binary(b) => self.binary(b),
            Expr::Assign(a) => {
                let v = self.expr(&a.right)?;
                self.store(&a.left, v)?;
                Ok(unit())
            }
            Expr::Cast(c) => {
                let v = self.expr(&c.expr)?;
                let ty = quote::ToTokens::to_token_stream(&c.ty).to_string();
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                match (ty.as_str(), v) {
                    ("f64", Val::F(x)) => Ok(Val::F(x)),
                    ("f64", Val::I(n)) => Ok(Val::F(T::constant(n as f64))),
                    ("i32" | "usize" | "i64", Val::I(n)) => Ok(Val::I(n)),
                    ("i32" | "usize" | "i64", Val::F(x)) => Ok(Val::I(x.value() as i128)),
                    _ => fault(format!("a cast to `{ty}`")),
                }
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                if name == "len" {
                    return match self.expr(&m.receiver)? {
                        Val::Arr(xs) => Ok(Val::I(i128::try_from(xs.len()).expect("small"))),
                        _ => fault("`len` of a scalar"),
                    };
                }
                let Some(p) = Prim::find(Syntax::Method, &name) else {
                    return fault(format!("the method `{name}`"));
                };
                let mut args = vec![self.expr(&m.receiver)?];
                for a in &m.args {
                    args.push(self.expr(a)?);
                }
                apply(p, args)
            }
            Expr::Call(c) => {
                let Expr::Path(f) = &*c.func else {
                    return fault("a call of an expression");
                };
                let segments: Vec<String> = f
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let name = segments.last().map_or("", String::as_str);
                let p = match segments.first().map(String::as_str) {
                    Some("f64") if segments.len() == 2 => Prim::find(Syntax::Method, name),
                    _ => Prim::find(Syntax::Runtime, name),
                };
                let Some(p) = p else {
                    return fault(format!("the function `{name}`"));
                };
                let mut args = Vec::new();
                for a in &c.args {
                    args.push(self.expr(a)?);
                }
                apply(p, args)
            }
            Expr::If(i) => {
                if flag(&self.expr(&i.cond)?)? {
                    self.block(&i.then_branch)
                } else {
                    match &i.else_branch {
                        Some((_, e)) => self.expr(e),
                        None => Ok(unit()),
                    }
                }
            }
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::While(w) => {
                loop {
                    self.step()?;
                    if !flag(&self.expr(&w.cond)?)? {
                        break;
                    }
                    match self.block(&w.body) {
                        Ok(_) | Err(Exit::Continue) => {}
                        Err(Exit::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(unit())
            }
            Expr::Loop(l) => {
                loop {
                    self.step()?;
                    match self.block(&l.body) {
                        Ok(_) | Err(Exit::Continue) => {}
                        Err(Exit::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(unit())
            }
            Expr::Break(_) => Err(Exit::Break),
            Expr::Continue(_) => Err(Exit::Continue),
            Expr::Return(r) => {
                let v = match &r.expr {
                    Some(e) => self.expr(e)?,
                    None => unit(),
                };
                Err(Exit::Return(v))
            }
            Expr::Index(i) => {
                let index = int(&self.expr(&i.index)?)?;
                let element = |array: &Val<T>| match array {
                    Val::Arr(xs) => match usize::try_from(index).ok().and_then(|k| xs.get(k)) {
                        Some(v) => Ok(v.clone()),
                        None => fault("index out of bounds"),
                    },
                    _ => fault("indexing a scalar"),
                };
                // An element of a named array, without a copy of the array for every load.
                if let Expr::Path(p) = &*i.expr
                    && let Some(name) = p.path.get_ident()
                {
                    return element(self.lookup(&name.to_string())?);
                }
                element(&self.expr(&i.expr)?)
            }
            Expr::Repeat(r) => {
                let v = self.expr(&r.expr)?;
                let len = int(&self.expr(&r.len)?)?;
                let len = usize::try_from(len).map_err(|e| Exit::Fault(e.to_string()))?;
                Ok(Val::Arr(vec![v; len]))
            }
            _ => fault("an expression outside the subset"),
        }
    }

    /// A chain of binary operators, `a + b - c * d + ..`, left-nested as `syn` parses it:
    /// evaluated along its left spine in a loop, so that a sum of thousands of terms takes no
    /// more stack than one of two.
    fn binary(&mut self, top: &syn::ExprBinary) -> Eval<T> {
        if compound(&top.op) {
            let l = self.expr(&top.left)?;
            return self.link(top, l);
        }
        let mut spine = vec![top];
        let mut leftmost = &*top.left;
        while let Expr::Binary(b) = leftmost {
            if compound(&b.op) {
                break;
            }
            spine.push(b);
            leftmost = &b.left;
        }
        let mut acc = self.expr(leftmost)?;
        for b in spine.into_iter().rev() {
            acc = self.link(b, acc)?;
        }
        Ok(acc)
    }

    /// `l op b.right`, with `l` the value of `b.left`.
    fn link(&mut self, b: &syn::ExprBinary, l: Val<T>) -> Eval<T> {
        let arith = |op: &BinOp| match op {
            BinOp::Add(_) | BinOp::AddAssign(_) => Some(Prim::Add),
            BinOp::Sub(_) | BinOp::SubAssign(_) => Some(Prim::Sub),
            BinOp::Mul(_) | BinOp::MulAssign(_) => Some(Prim::Mul),
            BinOp::Div(_) | BinOp::DivAssign(_) => Some(Prim::Div),
            BinOp::Rem(_) | BinOp::RemAssign(_) => Some(Prim::Rem),
            _ => None,
        };
        let assign = compound(&b.op);
        match b.op {
            BinOp::And(_) => {
                let l = flag(&l)?;
                return Ok(Val::B(l && flag(&self.expr(&b.right)?)?));
            }
            BinOp::Or(_) => {
                let l = flag(&l)?;
                return Ok(Val::B(l || flag(&self.expr(&b.right)?)?));
            }
            _ => {}
        }
        let r = self.expr(&b.right)?;
        if let Some(p) = arith(&b.op) {
            let v = match (l, r) {
                (Val::F(x), Val::F(y)) => Val::F(T::prim(p, &[x, y])),
                (Val::I(x), Val::I(y)) => Val::I(match p {
                    Prim::Add => x + y,
                    Prim::Sub => x - y,
                    Prim::Mul => x * y,
                    Prim::Div if y != 0 => x / y,
                    Prim::Rem if y != 0 => x % y,
                    _ => return fault("integer division by zero"),
                }),
                _ => return fault("arithmetic on mixed types"),
            };
            if assign {
                self.store(&b.left, v)?;
                return Ok(unit());
            }
            return Ok(v);
        }
        let ordering = match (&l, &r) {
            (Val::F(x), Val::F(y)) => x.value().partial_cmp(&y.value()),
            (Val::I(x), Val::I(y)) => Some(x.cmp(y)),
            _ => return fault("comparison of mixed types"),
        };
        Ok(Val::B(match b.op {
            BinOp::Lt(_) => ordering == Some(Less),
            BinOp::Le(_) => matches!(ordering, Some(Less | Equal)),
            BinOp::Gt(_) => ordering == Some(Greater),
            BinOp::Ge(_) => matches!(ordering, Some(Greater | Equal)),
            BinOp::Eq(_) => ordering == Some(Equal),
            BinOp::Ne(_) => ordering != Some(Equal),
            _ => return fault("an operator outside the subset"),
        }))
    }

    /// `name = v` or `name[i] = v`.
    fn store(&mut self, target: &Expr, v: Val<T>) -> Result<(), Exit<T>> {
        match target {
            Expr::Path(p) => {
                let Some(name) = p.path.get_ident() else {
                    return fault("assignment to a path");
                };
                *self.lookup(&name.to_string())? = v;
                Ok(())
            }
            Expr::Index(i) => {
                let index = int(&self.expr(&i.index)?)?;
                let Expr::Path(p) = &*i.expr else {
                    return fault("assignment to an element of an expression");
                };
                let Some(name) = p.path.get_ident() else {
                    return fault("assignment to a path");
                };
                match self.lookup(&name.to_string())? {
                    Val::Arr(xs) => match usize::try_from(index).ok().and_then(|k| xs.get_mut(k)) {
                        Some(slot) => {
                            *slot = v;
                            Ok(())
                        }
                        None => fault("index out of bounds"),
                    },
                    _ => fault("indexing a scalar"),
                }
            }
            _ => fault("assignment to an expression"),
        }
    }

    fn for_loop(&mut self, f: &syn::ExprForLoop) -> Eval<T> {
        let (range, reverse) = match &*f.expr {
            Expr::MethodCall(m) if m.method == "rev" => (&*m.receiver, true),
            e => (e, false),
        };
        let mut range = range;
        while let Expr::Paren(p) = range {
            range = &p.expr;
        }
        let Expr::Range(r) = range else {
            return fault("`for` over something else than a range");
        };
        let (Some(start), Some(end)) = (&r.start, &r.end) else {
            return fault("an open range");
        };
        let start = int(&self.expr(start)?)?;
        let mut end = int(&self.expr(end)?)?;
        if matches!(r.limits, syn::RangeLimits::Closed(_)) {
            end += 1;
        }
        let mut counters: Vec<i128> = (start..end).collect();
        if reverse {
            counters.reverse();
        }
        let name = match &*f.pat {
            Pat::Ident(p) => Some(p.ident.to_string()),
            _ => None,
        };
        for i in counters {
            self.step()?;
            self.scopes.push(HashMap::default());
            if let Some(name) = &name {
                self.scopes
                    .last_mut()
                    .expect("pushed")
                    .insert(name.clone(), Val::I(i));
            }
            let body = self.block(&f.body);
            self.scopes.pop();
            match body {
                Ok(_) | Err(Exit::Continue) => {}
                Err(Exit::Break) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(unit())
    }
}

fn apply<T: Scalar>(p: Prim, args: Vec<Val<T>>) -> Eval<T> {
    if args.len() != p.arity() {
        return fault(format!("`{}` with {} arguments", p.name(), args.len()));
    }
    if p == Prim::Powi {
        let mut args = args.into_iter();
        let x = float(args.next().expect("two"))?;
        let n = int(&args.next().expect("two"))?;
        let n = i32::try_from(n).map_err(|e| Exit::Fault(e.to_string()))?;
        return Ok(Val::F(x.powi(n)));
    }
    let xs = args
        .into_iter()
        .map(float)
        .collect::<Result<Vec<T>, Exit<T>>>()?;
    if p == Prim::Clamp
        && !matches!(
            xs[1].value().partial_cmp(&xs[2].value()),
            Some(Less | Equal)
        )
    {
        return fault("`clamp` with min > max");
    }
    Ok(Val::F(T::prim(p, &xs)))
}
