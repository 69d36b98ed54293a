//! Lowering: the user's function, as `syn` parsed it, becomes a computational [`Graph`].
//!
//! Every expression becomes a node that keeps the span of the source it came from. Names are
//! resolved here, once: a `let`, a shadowing `let` or a reassignment binds the name to a new node,
//! and later uses of the name are edges to that node. So `let a = x + y; let a = a * y;` is two
//! nodes, and the backward sweep can still read the first `a`.
//!
//! Anything outside the supported subset is reported as a `syn::Error` on the offending tokens,
//! saying what is supported instead. Errors are collected, not returned at the first one: the
//! construct is replaced by a placeholder and lowering goes on, so the user sees every independent
//! mistake at once.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    BinOp, Block, Expr, FnArg, Ident, Item, ItemFn, Lit, Local, Pat, ReturnType, Stmt, Type, UnOp,
};

use crate::graph::{CastTo, CmpOp, FloatTy, Graph, LitValue, Node, NodeId, Op, Param, Ty};
use crate::options::Options;
use crate::rules::{Prim, Syntax};

/// How deeply expressions may nest before lowering gives up with an error rather than risk
/// exhausting the compiler's stack.
const MAX_DEPTH: usize = 256;

/// Errors collected across a stage, reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

pub fn lower(item: &ItemFn, options: &Options) -> syn::Result<Graph> {
    let mut cx = Lowerer {
        nodes: Vec::new(),
        scopes: vec![Vec::new()],
        items: Vec::new(),
        errors: Errors::default(),
        depth: 0,
        overflowed: false,
    };
    let output_ty = cx.signature(item);
    let params = cx.params(item, options);
    let output = cx.body(&item.block, output_ty.is_some());
    cx.errors.finish()?;
    Ok(Graph {
        nodes: cx.nodes,
        params,
        items: cx.items,
        output,
        output_ty: output_ty.unwrap_or(FloatTy::F64),
    })
}

struct Binding {
    name: String,
    node: NodeId,
    mutable: bool,
}

struct Lowerer {
    nodes: Vec<Node>,
    /// The names in scope, innermost block last; a later binding shadows an earlier one.
    scopes: Vec<Vec<Binding>>,
    items: Vec<TokenStream>,
    errors: Errors,
    depth: usize,
    overflowed: bool,
}

/// The float type a Rust type names, if it is `f32` or `f64`.
fn float_type(ty: &Type) -> Option<FloatTy> {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            if !last.arguments.is_none() {
                return None;
            }
            match last.ident.to_string().as_str() {
                "f64" => Some(FloatTy::F64),
                "f32" => Some(FloatTy::F32),
                _ => None,
            }
        }
        Type::Paren(p) => float_type(&p.elem),
        Type::Group(g) => float_type(&g.elem),
        _ => None,
    }
}

/// What differentiation needs to know of a type that is not a float.
fn constant_type(ty: &Type) -> Ty {
    const INTEGERS: &[&str] = &[
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
    ];
    match ty {
        Type::Path(p) if p.qself.is_none() => match p.path.get_ident() {
            Some(i) if INTEGERS.iter().any(|n| i == n) => Ty::Int,
            Some(i) if i == "bool" => Ty::Bool,
            _ => Ty::Other,
        },
        _ => Ty::Other,
    }
}

fn err(tokens: impl ToTokens, message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new_spanned(tokens, message)
}

impl Lowerer {
    fn push(&mut self, op: Op, args: Vec<NodeId>, ty: Ty, span: Span) -> NodeId {
        let active =
            matches!(ty, Ty::Float(_) | Ty::Other) && args.iter().any(|a| self.nodes[a.0].active);
        self.nodes.push(Node {
            op,
            args,
            ty,
            active,
            span,
            name: None,
        });
        NodeId(self.nodes.len() - 1)
    }

    /// Stands in for a construct that was reported, so lowering can go on.
    fn placeholder(&mut self, span: Span) -> NodeId {
        self.push(
            Op::Lit(LitValue::Float(0.0), None),
            vec![],
            Ty::Float(None),
            span,
        )
    }

    fn fail(&mut self, error: syn::Error) -> NodeId {
        let span = error.span();
        self.errors.push(error);
        self.placeholder(span)
    }

    /// Checks what the signature may be, and returns the float type the function returns.
    fn signature(&mut self, item: &ItemFn) -> Option<FloatTy> {
        let sig = &item.sig;
        if let Some(t) = &sig.constness {
            self.errors.push(err(
                t,
                "a `const fn` cannot be differentiated: remove `const`",
            ));
        }
        if let Some(t) = &sig.asyncness {
            self.errors.push(err(
                t,
                "an `async fn` cannot be differentiated: differentiate a plain `fn` and call it",
            ));
        }
        if let syn::Safety::Unsafe(t) = &sig.safety {
            self.errors.push(err(
                t,
                "an `unsafe fn` cannot be differentiated: only safe, pure numeric functions are supported",
            ));
        }
        if let Some(abi) = &sig.abi {
            self.errors.push(err(
                abi,
                "an `extern` function cannot be differentiated: remove the ABI and wrap the function instead",
            ));
        }
        let generic =
            "generic functions cannot be differentiated: write the function for `f64` or `f32`";
        if !sig.generics.params.is_empty() {
            self.errors.push(err(&sig.generics, generic));
        } else if let Some(w) = &sig.generics.where_clause {
            self.errors.push(err(w, generic));
        }
        if let Some(v) = &sig.variadic {
            self.errors
                .push(err(v, "variadic functions cannot be differentiated"));
        }
        match &sig.output {
            ReturnType::Type(_, ty) => {
                let float = float_type(ty);
                if float.is_none() {
                    self.errors.push(err(
                        ty,
                        "a differentiated function must return `f64` or `f32`: the gradient is that of one scalar output",
                    ));
                }
                float
            }
            ReturnType::Default => {
                self.errors.push(syn::Error::new(
                    sig.paren_token.span.close(),
                    "a differentiated function must return `f64` or `f32`: add `-> f64`",
                ));
                None
            }
        }
    }

    fn params(&mut self, item: &ItemFn, options: &Options) -> Vec<Param> {
        let mut params = Vec::new();
        for arg in &item.sig.inputs {
            let typed = match arg {
                FnArg::Receiver(r) => {
                    self.errors.push(err(
                        r,
                        "methods with `self` are not supported yet: write a free function that takes the fields it needs",
                    ));
                    continue;
                }
                FnArg::Typed(t) => t,
            };
            let Pat::Ident(pat) = &*typed.pat else {
                self.errors.push(err(
                    &typed.pat,
                    "parameters must be plain names such as `x: f64`; destructure inside the body",
                ));
                continue;
            };
            if let Some(r) = &pat.by_ref {
                self.errors.push(err(
                    r,
                    "`ref` parameters are not supported: use a plain name",
                ));
            }
            if let Some((at, _)) = &pat.subpat {
                self.errors
                    .push(err(at, "`@` patterns are not supported: use a plain name"));
            }
            if let Type::Reference(r) = &*typed.ty
                && let Some(m) = &r.mutability
            {
                self.errors.push(err(
                    m,
                    "`&mut` parameters are not supported: a differentiated function is pure; take the value and return the result",
                ));
            }
            let float = float_type(&typed.ty);
            let ty = float.map_or_else(|| constant_type(&typed.ty), |t| Ty::Float(Some(t)));
            let index = params.len();
            let name = pat.ident.to_string();
            let node = self.push(Op::Param(index), vec![], ty, pat.ident.span());
            self.nodes[node.0].name = Some(name.clone());
            params.push(Param {
                name: name.clone(),
                ty_tokens: typed.ty.to_token_stream(),
                float,
                active: float.is_some(),
                mutable: pat.mutability.is_some(),
                node,
                span: pat.ident.span(),
            });
            self.scopes[0].push(Binding {
                name,
                node,
                mutable: pat.mutability.is_some(),
            });
        }
        if let Some(wrt) = &options.wrt {
            self.restrict(&mut params, wrt);
        }
        for p in &params {
            self.nodes[p.node.0].active = p.active;
        }
        params
    }

    /// Applies `wrt(...)`: only the named parameters are active.
    fn restrict(&mut self, params: &mut [Param], wrt: &[Ident]) {
        for name in wrt {
            match params.iter().find(|p| name == &p.name) {
                None => self.errors.push(err(
                    name,
                    format!(
                        "`wrt` names `{name}`, which is not a parameter; the parameters are: {}",
                        params
                            .iter()
                            .map(|p| format!("`{}`", p.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                Some(p) if p.float.is_none() => self.errors.push(err(
                    name,
                    format!(
                        "`wrt` names `{name}`, which is not an `f64` or `f32` parameter; only float parameters have gradients"
                    ),
                )),
                Some(_) => {}
            }
        }
        for p in params.iter_mut() {
            p.active = p.float.is_some() && wrt.iter().any(|w| w == &p.name);
        }
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|b| b.name == name)
    }

    fn bind(&mut self, ident: &Ident, node: NodeId, mutable: bool) {
        let name = ident.to_string();
        let n = &mut self.nodes[node.0];
        if n.name.is_none() && !n.is_leaf() {
            n.name = Some(name.clone());
        }
        self.scopes
            .last_mut()
            .expect("a scope is always open")
            .push(Binding {
                name,
                node,
                mutable,
            });
    }

    /// The function body: statements, then the value returned.
    fn body(&mut self, block: &Block, returns_float: bool) -> NodeId {
        let (stmts, tail) = match block.stmts.split_last() {
            Some((Stmt::Expr(Expr::Return(ret), _), rest)) => {
                let value = ret.expr.as_deref();
                (
                    rest,
                    value.map(Tail::Expr).unwrap_or(Tail::Missing(ret.span())),
                )
            }
            Some((Stmt::Expr(e, None), rest)) => (rest, Tail::Expr(e)),
            _ => (
                &block.stmts[..],
                Tail::Missing(block.brace_token.span.close()),
            ),
        };
        for stmt in stmts {
            self.stmt(stmt);
        }
        match tail {
            Tail::Expr(e) => self.expr(e),
            // Without a float return type that error is already reported.
            Tail::Missing(span) if !returns_float => self.placeholder(span),
            Tail::Missing(span) => self.fail(syn::Error::new(
                span,
                "the body must end with the value it returns, an expression of type `f64` or `f32`",
            )),
        }
    }

    fn block(&mut self, block: &Block) -> NodeId {
        self.scopes.push(Vec::new());
        let (stmts, tail) = match block.stmts.split_last() {
            Some((Stmt::Expr(e, None), rest)) => (rest, Some(e)),
            _ => (&block.stmts[..], None),
        };
        for stmt in stmts {
            self.stmt(stmt);
        }
        let value = match tail {
            Some(e) => self.expr(e),
            None => self.fail(syn::Error::new(
                block.brace_token.span.close(),
                "a block used as a value must end with an expression",
            )),
        };
        self.scopes.pop();
        value
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Local(local) => self.local(local),
            Stmt::Item(Item::Const(_) | Item::Use(_)) => {
                self.items.push(stmt.to_token_stream());
            }
            Stmt::Item(item) => self.errors.push(err(
                item,
                "only `const` and `use` items may appear inside a differentiated function: move this item outside",
            )),
            Stmt::Macro(m) => self.errors.push(err(
                &m.mac,
                "macros are not supported in a differentiated function: write the computation with supported expressions",
            )),
            Stmt::Expr(Expr::Assign(assign), _) => {
                let value = self.expr(&assign.right);
                self.assign(&assign.left, value);
            }
            Stmt::Expr(Expr::Binary(b), _) if compound(&b.op).is_some() => {
                let prim = compound(&b.op).expect("checked by the guard");
                let current = self.expr(&b.left);
                let rhs = self.expr(&b.right);
                let span = b.span();
                let ty = self.nodes[current.0].ty.join(self.nodes[rhs.0].ty);
                let value = self.push(Op::Prim(prim), vec![current, rhs], ty, span);
                self.assign(&b.left, value);
            }
            Stmt::Expr(Expr::Return(r), _) => self.errors.push(err(
                r,
                "an early `return` is not supported yet: return the value as the function's last expression",
            )),
            Stmt::Expr(e, _) => {
                // A value computed and dropped has no effect on the result; it is still checked.
                self.expr(e);
            }
        }
    }

    fn local(&mut self, local: &Local) {
        let (pat, annotated) = match &local.pat {
            Pat::Type(t) => (&*t.pat, float_type(&t.ty)),
            pat => (pat, None),
        };
        let Some(init) = &local.init else {
            let placeholder = self.fail(err(
                local,
                "a `let` without a value is not supported: give the binding its value, as in `let y = x * 2.0;`",
            ));
            // Bound all the same, so later uses of the name report nothing more.
            if let Pat::Ident(p) = pat {
                self.bind(&p.ident, placeholder, true);
            }
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.errors.push(err(
                else_token,
                "`let ... else` is not supported: bind a plain name",
            ));
        }
        let value = self.expr(&init.expr);
        if let (Some(t), Ty::Float(None)) = (annotated, self.nodes[value.0].ty) {
            self.nodes[value.0].ty = Ty::Float(Some(t));
        }
        match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                self.bind(&p.ident, value, p.mutability.is_some());
            }
            Pat::Wild(_) => {}
            other => self.errors.push(err(
                other,
                "only plain names can be bound: write `let name = ...;`",
            )),
        }
    }

    /// `name = value` or `name op= value`: the name now refers to a new node.
    fn assign(&mut self, target: &Expr, value: NodeId) {
        let Expr::Path(p) = target else {
            self.errors.push(err(
                target,
                "only local variables can be assigned to: write `name = ...` or `name += ...`",
            ));
            return;
        };
        let Some(ident) = p.path.get_ident() else {
            self.errors
                .push(err(target, "only local variables can be assigned to"));
            return;
        };
        match self.lookup(&ident.to_string()) {
            Some(b) if b.mutable => self.bind(ident, value, true),
            Some(_) => self.errors.push(err(
                ident,
                format!("cannot assign twice to immutable variable `{ident}`: declare it with `let mut {ident}`"),
            )),
            None => self.errors.push(err(
                ident,
                format!("`{ident}` is not a local variable of this function"),
            )),
        }
    }

    fn expr(&mut self, expr: &Expr) -> NodeId {
        if self.depth >= MAX_DEPTH {
            if self.overflowed {
                return self.placeholder(expr.span());
            }
            self.overflowed = true;
            let first = expr
                .to_token_stream()
                .into_iter()
                .next()
                .map_or_else(|| expr.span(), |t| t.span());
            return self.fail(syn::Error::new(
                first,
                format!("expression nested more than {MAX_DEPTH} levels deep: split it with `let` bindings"),
            ));
        }
        self.depth += 1;
        let node = self.expr_inner(expr);
        self.depth -= 1;
        node
    }

    fn expr_inner(&mut self, expr: &Expr) -> NodeId {
        let span = expr.span();
        match expr {
            Expr::Lit(lit) => self.lit(&lit.lit),
            Expr::Path(p) if p.qself.is_none() => self.path(p),
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Block(b) if b.label.is_none() => self.block(&b.block),
            Expr::Unary(u) => match u.op {
                UnOp::Neg(_) => {
                    let a = self.expr(&u.expr);
                    let ty = self.nodes[a.0].ty;
                    self.push(Op::Prim(Prim::Neg), vec![a], ty, span)
                }
                _ => self.fail(err(
                    u.op,
                    "only unary minus is supported: `!` and `*` have no derivative here",
                )),
            },
            Expr::Binary(b) => self.binary(b),
            Expr::Cast(c) => {
                let a = self.expr(&c.expr);
                let (to, ty) = match float_type(&c.ty) {
                    Some(t) => (CastTo::Float(t), Ty::Float(Some(t))),
                    None => {
                        let ty = constant_type(&c.ty);
                        (CastTo::Other(c.ty.to_token_stream(), ty), ty)
                    }
                };
                self.push(Op::Cast(to), vec![a], ty, span)
            }
            Expr::MethodCall(m) => {
                if let Some(t) = &m.turbofish {
                    return self.fail(err(t, "method calls with turbofish are not supported"));
                }
                let name = m.method.to_string();
                let Some(prim) = Prim::find(Syntax::Method, &name) else {
                    return self.fail(err(
                        &m.method,
                        format!(
                            "`{name}` is not a supported method; the differentiable methods are: {}",
                            Prim::names(Syntax::Method).join(", ")
                        ),
                    ));
                };
                let mut args = vec![&*m.receiver];
                args.extend(m.args.iter());
                self.apply(prim, &args, span, &m.method, None)
            }
            Expr::Call(c) => self.call(c),
            other => self.fail(unsupported(other)),
        }
    }

    fn lit(&mut self, lit: &Lit) -> NodeId {
        let span = lit.span();
        let tokens = Some(lit.to_token_stream());
        let suffix_ty = |suffix: &str| match suffix {
            "f64" => Some(FloatTy::F64),
            "f32" => Some(FloatTy::F32),
            _ => None,
        };
        match lit {
            Lit::Float(f) => match f.base10_parse::<f64>() {
                Ok(v) => self.push(
                    Op::Lit(LitValue::Float(v), tokens),
                    vec![],
                    Ty::Float(suffix_ty(f.suffix())),
                    span,
                ),
                Err(e) => self.fail(e),
            },
            Lit::Int(i) => {
                if let Some(t) = suffix_ty(i.suffix()) {
                    return match i.base10_parse::<f64>() {
                        Ok(v) => self.push(
                            Op::Lit(LitValue::Float(v), tokens),
                            vec![],
                            Ty::Float(Some(t)),
                            span,
                        ),
                        Err(e) => self.fail(e),
                    };
                }
                match i.base10_parse::<i128>() {
                    Ok(v) => self.push(Op::Lit(LitValue::Int(v), tokens), vec![], Ty::Int, span),
                    Err(_) => self.fail(err(
                        i,
                        "integer literal too large: integer constants must fit in `i128`",
                    )),
                }
            }
            Lit::Bool(b) => self.push(
                Op::Lit(LitValue::Bool(b.value), tokens),
                vec![],
                Ty::Bool,
                span,
            ),
            other => self.fail(err(
                other,
                "only numeric and `bool` literals are supported in a differentiated function",
            )),
        }
    }

    fn path(&mut self, p: &syn::ExprPath) -> NodeId {
        if let Some(ident) = p.path.get_ident()
            && let Some(b) = self.lookup(&ident.to_string())
        {
            return b.node;
        }
        // Not a local: a constant such as `PI`, `SCALE` or `std::f64::consts::E`. Its type is
        // known when the path goes through `f64` or `f32`.
        let ty = p
            .path
            .segments
            .iter()
            .find_map(|s| match s.ident.to_string().as_str() {
                "f64" => Some(Ty::Float(Some(FloatTy::F64))),
                "f32" => Some(Ty::Float(Some(FloatTy::F32))),
                _ => None,
            })
            .unwrap_or(Ty::Other);
        self.push(Op::Const(p.to_token_stream()), vec![], ty, p.span())
    }

    fn binary(&mut self, b: &syn::ExprBinary) -> NodeId {
        let span = b.span();
        let arith = match b.op {
            BinOp::Add(_) => Some(Prim::Add),
            BinOp::Sub(_) => Some(Prim::Sub),
            BinOp::Mul(_) => Some(Prim::Mul),
            BinOp::Div(_) => Some(Prim::Div),
            BinOp::Rem(_) => Some(Prim::Rem),
            _ => None,
        };
        let cmp = match b.op {
            BinOp::Lt(_) => Some(CmpOp::Lt),
            BinOp::Le(_) => Some(CmpOp::Le),
            BinOp::Gt(_) => Some(CmpOp::Gt),
            BinOp::Ge(_) => Some(CmpOp::Ge),
            BinOp::Eq(_) => Some(CmpOp::Eq),
            BinOp::Ne(_) => Some(CmpOp::Ne),
            _ => None,
        };
        if arith.is_none() && cmp.is_none() {
            let message = if compound(&b.op).is_some() {
                "a compound assignment is a statement: write it on its own line, as in `s += x;`"
            } else {
                "this operator is not supported: use `+ - * / %` and comparisons"
            };
            return self.fail(err(b.op, message));
        }
        let l = self.expr(&b.left);
        let r = self.expr(&b.right);
        if let Some(prim) = arith {
            let ty = self.nodes[l.0].ty.join(self.nodes[r.0].ty);
            self.push(Op::Prim(prim), vec![l, r], ty, span)
        } else {
            let op = cmp.expect("checked above");
            self.push(Op::Cmp(op), vec![l, r], Ty::Bool, span)
        }
    }

    /// `f64::exp(x)`, `sigmoid(x)`, `autodiff::relu(x)`.
    fn call(&mut self, c: &syn::ExprCall) -> NodeId {
        let span = c.span();
        let Expr::Path(func) = &*c.func else {
            return self.fail(err(
                &c.func,
                "call the function by name, as in `sigmoid(x)` or `f64::exp(x)`",
            ));
        };
        let segments: Vec<String> = func
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        let name = segments.last().map_or("", String::as_str);
        // `<f64>::exp(x)` names its type in the qualified self.
        let qualified = func.qself.as_ref().and_then(|q| float_type(&q.ty));
        let owner = match qualified {
            Some(t) => Some(t.name()),
            None => segments.len().checked_sub(2).map(|i| segments[i].as_str()),
        };
        let args: Vec<&Expr> = c.args.iter().collect();
        let last = &func
            .path
            .segments
            .last()
            .expect("a path has a segment")
            .ident;
        match owner {
            Some(owner @ ("f64" | "f32")) => {
                let ty = if owner == "f64" { FloatTy::F64 } else { FloatTy::F32 };
                if name == "from" && args.len() == 1 {
                    // `f64::from(x)`, the lossless cast: differentiable as `x as f64` is.
                    let a = self.expr(args[0]);
                    return self.push(Op::Cast(CastTo::Float(ty)), vec![a], Ty::Float(Some(ty)), span);
                }
                match Prim::find(Syntax::Method, name) {
                    Some(prim) => self.apply(prim, &args, span, last, Some(ty)),
                    None => self.fail(err(
                        last,
                        format!(
                            "`{owner}::{name}` is not supported; the differentiable methods are: {}",
                            Prim::names(Syntax::Method).join(", ")
                        ),
                    )),
                }
            }
            None | Some("autodiff" | "autodiff_runtime") => match Prim::find(Syntax::Runtime, name)
            {
                Some(prim) => self.apply(prim, &args, span, last, None),
                None => self.fail(err(
                    &c.func,
                    format!(
                        "calls to `{name}` are not supported yet; the functions with known derivatives are: {}, and the `f64`/`f32` methods",
                        Prim::names(Syntax::Runtime).join(", ")
                    ),
                )),
            },
            Some(_) => self.fail(err(
                &c.func,
                format!(
                    "calls to `{}` are not supported yet; the functions with known derivatives are: {}, and the `f64`/`f32` methods",
                    segments.join("::"),
                    Prim::names(Syntax::Runtime).join(", ")
                ),
            )),
        }
    }

    /// Lowers the arguments of a table operation and builds its node.
    fn apply(
        &mut self,
        prim: Prim,
        args: &[&Expr],
        span: Span,
        name: &Ident,
        float: Option<FloatTy>,
    ) -> NodeId {
        if args.len() != prim.arity() {
            let (what, expected, found) = match (prim.syntax(), float) {
                (Syntax::Method, None) => (
                    format!("the method `{}`", prim.name()),
                    prim.arity() - 1,
                    args.len() - 1,
                ),
                (Syntax::Method, Some(t)) => (
                    format!("`{}::{}`", t.name(), prim.name()),
                    prim.arity(),
                    args.len(),
                ),
                _ => (
                    format!("the function `{}`", prim.name()),
                    prim.arity(),
                    args.len(),
                ),
            };
            let plural = if expected == 1 { "" } else { "s" };
            return self.fail(err(
                name,
                format!("{what} takes {expected} argument{plural}, found {found}"),
            ));
        }
        let ids: Vec<NodeId> = args.iter().map(|a| self.expr(a)).collect();
        if let Some(t) = float {
            // `f64::exp(2.0)` fixes the type of an unsuffixed literal receiver.
            let receiver = &mut self.nodes[ids[0].0];
            if receiver.ty == Ty::Float(None) {
                receiver.ty = Ty::Float(Some(t));
            }
        }
        let ty = match prim.syntax() {
            Syntax::Infix => self.nodes[ids[0].0].ty.join(self.nodes[ids[1].0].ty),
            _ => ids
                .iter()
                .map(|a| self.nodes[a.0].ty)
                .find(|t| matches!(t, Ty::Float(Some(_))))
                .unwrap_or(self.nodes[ids[0].0].ty),
        };
        self.push(Op::Prim(prim), ids, ty, span)
    }
}

enum Tail<'a> {
    Expr(&'a Expr),
    Missing(Span),
}

fn compound(op: &BinOp) -> Option<Prim> {
    match op {
        BinOp::AddAssign(_) => Some(Prim::Add),
        BinOp::SubAssign(_) => Some(Prim::Sub),
        BinOp::MulAssign(_) => Some(Prim::Mul),
        BinOp::DivAssign(_) => Some(Prim::Div),
        BinOp::RemAssign(_) => Some(Prim::Rem),
        _ => None,
    }
}

/// The error for an expression outside the supported subset, naming what to use instead.
fn unsupported(expr: &Expr) -> syn::Error {
    let what = match expr {
        Expr::Closure(_) => {
            "closures are not supported: write the computation inline, or as a `#[differentiate]` function and call it"
        }
        Expr::Macro(_) => {
            "macros are not supported in a differentiated function: write the computation with supported expressions"
        }
        Expr::Unsafe(_) => "`unsafe` blocks are not supported: a differentiated body is safe Rust",
        Expr::Async(_) | Expr::Await(_) => {
            "`async` code cannot be differentiated: differentiate a plain `fn` and call it"
        }
        Expr::If(_) | Expr::Match(_) => {
            "branches are not supported yet: use `max`, `min`, `clamp`, `abs` or `relu` for kinks"
        }
        Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) | Expr::Break(_) | Expr::Continue(_) => {
            "loops are not supported yet: write the computation without loops"
        }
        Expr::Return(_) => {
            "an early `return` is not supported yet: return the value as the function's last expression"
        }
        Expr::Index(_) | Expr::Array(_) | Expr::Repeat(_) => {
            "arrays and indexing are not supported yet: use scalar `f64` or `f32` values"
        }
        Expr::Field(_) | Expr::Struct(_) | Expr::Tuple(_) => {
            "structs, fields and tuples are not supported: pass the scalars as parameters"
        }
        Expr::Reference(_) | Expr::RawAddr(_) => {
            "references are not supported in a differentiated body: use the values directly"
        }
        Expr::Try(_) | Expr::TryBlock(_) => {
            "`?` is not supported: a differentiated function returns `f64` or `f32`"
        }
        Expr::Assign(_) => {
            "an assignment is a statement: write it on its own line, as in `x = x * 2.0;`"
        }
        Expr::Block(_) => "labeled blocks are not supported: remove the label",
        Expr::Let(_) => "`let` expressions are not supported",
        Expr::Range(_) => "ranges are not supported here",
        Expr::Const(_) => "`const` blocks are not supported: use a `const` item",
        _ => "this expression is not supported in a differentiated function",
    };
    err(
        expr,
        format!(
            "{what}\n(supported: literals, constants, `let`, `+ - * / %`, unary `-`, `as` casts, the `f64`/`f32` math methods, `sigmoid`, `relu`, `softplus`, blocks)"
        ),
    )
}
