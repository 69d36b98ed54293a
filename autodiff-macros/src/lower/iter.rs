//! Iterators, closures and views, lowered to the counted loops and loads the graph already has.
//!
//! An iterator chain (`x.iter().zip(&y).map(|(a, b)| a * b).sum()`) becomes a [`Seq`]: how many
//! items it yields, computed before the loop, and how to compute the item of index `k` inside
//! it. A `for` loop over the chain, or the `sum`, `product` or `fold` that ends it, is then a
//! `for` over `0..count` whose body loads the items where the equivalent index loop loads them,
//! so the graph is the index loop's and reverse mode, fusion, taping and forward mode apply
//! unchanged. A window, a chunk or a sub-slice is a [`View`] of its array: an offset and a
//! length, with no copy. A closure is inlined where it is called.

use proc_macro2::{Ident, Span, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Pat};

use super::{Bound, LoopRange, Lowerer, err, float_type, generic, strip};
use crate::graph::{self, CmpOp, FloatTy, LitValue, NodeId, Op, Shape, Ty, VarId};
use crate::prim::{Prim, Syntax};

/// A run of an array's elements: `var[offset..offset + len]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct View {
    pub(super) var: VarId,
    /// `None` for the whole array.
    pub(super) offset: Option<NodeId>,
    /// `None` for the array's own length.
    pub(super) len: Option<NodeId>,
    /// `offset + len`, where the source wrote it (`&x[a..b]`).
    pub(super) end: Option<NodeId>,
    /// For the whole array, how its name is written from the variable's: `x` (0), `&x` (1),
    /// `*p` (-1), so that a name bound to it (`let h = &x;`) is passed to a call with its type.
    pub(super) refs: i8,
}

/// A closure bound with `let`, and what its body's free names were bound to where it was
/// written: a later `let` of the same name does not change what the closure reads.
pub(super) struct Closure {
    expr: syn::ExprClosure,
    /// Each captured name, what it is bound to, and whether the closure assigns it (a scalar
    /// variable the closure borrows mutably, which its calls change).
    captures: Vec<(String, Bound, bool)>,
}

/// The value an iterator yields.
#[derive(Clone)]
pub(super) enum Item {
    Value(NodeId),
    View(View),
    Tuple(Vec<Item>),
}

/// A function applied to items: a closure, a closure bound with `let`, or `f64::max`.
enum Fun<'a> {
    Closure(&'a syn::ExprClosure),
    Bound(usize),
    Method(Prim, Option<FloatTy>),
}

enum Kind<'a> {
    /// `start..end`: the item of index `k` is `start + k`.
    Range(NodeId),
    Elems(View),
    /// `windows(size)` (one element apart) and `chunks_exact(size)` (`size` apart): views of
    /// `size` elements.
    Views {
        of: View,
        size: NodeId,
        chunks: bool,
    },
    Enumerate(Box<Seq<'a>>),
    Zip(Box<Seq<'a>>, Box<Seq<'a>>),
    Map(Box<Seq<'a>>, Fun<'a>, Span),
    Rev(Box<Seq<'a>>),
    Skip(Box<Seq<'a>>, NodeId),
    Take(Box<Seq<'a>>),
    StepBy(Box<Seq<'a>>, NodeId),
}

/// An iterator: how many items it yields and how to compute each.
struct Seq<'a> {
    kind: Kind<'a>,
    count: NodeId,
}

/// The adaptors an iterator chain may go through, for error messages.
const ADAPTORS: &str = "`iter`, `into_iter`, `copied`, `cloned`, `enumerate`, `zip`, `map`, `rev`, `skip`, `take`, `step_by`, `windows`, `chunks_exact`";

/// Whether an expression is visibly an iterator chain: a method of one, or a range.
fn is_chain(e: &Expr) -> bool {
    match strip(e) {
        Expr::MethodCall(m) => matches!(
            m.method.to_string().as_str(),
            "iter"
                | "into_iter"
                | "iter_mut"
                | "copied"
                | "cloned"
                | "enumerate"
                | "zip"
                | "map"
                | "rev"
                | "skip"
                | "take"
                | "step_by"
                | "windows"
                | "chunks_exact"
                | "chunks"
                | "filter"
                | "filter_map"
                | "flat_map"
                | "take_while"
                | "skip_while"
                | "chain"
                | "cycle"
                | "scan"
                | "peekable"
                | "inspect"
        ),
        Expr::Range(_) => true,
        _ => false,
    }
}

/// Whether the tokens mention `word` anywhere.
fn mentions(e: &impl ToTokens, word: &str) -> bool {
    super::mentions(e.to_token_stream(), word)
}

/// The identifiers in a token stream.
fn idents(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for t in tokens {
        match t {
            TokenTree::Ident(i) => out.push(i.to_string()),
            TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

impl Lowerer {
    pub(super) fn int(&mut self, v: i128, span: Span) -> NodeId {
        self.push(Op::Lit(LitValue::Int(v), None), vec![], Ty::Int, span)
    }

    fn int_value(&self, n: NodeId) -> Option<i128> {
        match self.nodes[n.0].op {
            Op::Lit(LitValue::Int(v), _) => Some(v),
            _ => None,
        }
    }

    /// Integer arithmetic on indices and counts, shared within a stretch as `i + 1` is.
    pub(super) fn iop(&mut self, prim: Prim, a: NodeId, b: NodeId, span: Span) -> NodeId {
        match (prim, self.int_value(a), self.int_value(b)) {
            (Prim::Add, Some(x), Some(y)) => return self.int(x + y, span),
            (Prim::Sub, Some(x), Some(y)) if x >= y => return self.int(x - y, span),
            (Prim::Mul, Some(x), Some(y)) => return self.int(x * y, span),
            (Prim::Add, Some(0), _) | (Prim::Mul, Some(1), _) => return b,
            (Prim::Add | Prim::Sub, _, Some(0)) | (Prim::Mul | Prim::Div, _, Some(1)) => return a,
            _ => {}
        }
        let key = (prim, self.operand_key(a), self.operand_key(b));
        if let Some(&n) = self.indices.get(&key) {
            return n;
        }
        let n = self.push(Op::Prim(prim), vec![a, b], Ty::Int, span);
        self.indices.insert(key, n);
        n
    }

    /// `if b <= a { a - b } else { 0 }`.
    fn saturating_sub(&mut self, a: NodeId, b: NodeId, span: Span) -> NodeId {
        if self.int_value(b) == Some(0) {
            return a;
        }
        // Known at compile time: a literal, so that an empty loop is seen to be one.
        if let (Some(x), Some(y)) = (self.int_value(a), self.int_value(b)) {
            return self.int((x - y).max(0), span);
        }
        let cond = self.push(Op::Cmp(CmpOp::Le), vec![b, a], Ty::Bool, span);
        let diff = self.iop(Prim::Sub, a, b, span);
        let zero = self.int(0, span);
        self.push(Op::Select, vec![cond, diff, zero], Ty::Int, span)
    }

    /// Whether two counts are the same number by construction: one node, equal literals, or
    /// the lengths of two arrays declared with the same length.
    fn same_count(&self, a: NodeId, b: NodeId) -> bool {
        if a == b {
            return true;
        }
        match (&self.nodes[a.0].op, &self.nodes[b.0].op) {
            (Op::Lit(LitValue::Int(x), _), Op::Lit(LitValue::Int(y), _)) => x == y,
            (Op::Len(x), Op::Len(y)) => match (&self.vars[x.0].shape, &self.vars[y.0].shape) {
                (Shape::Array { len: l, .. }, Shape::Array { len: m, .. }) => {
                    l.to_string() == m.to_string()
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn min_count(&mut self, a: NodeId, b: NodeId, span: Span) -> NodeId {
        if self.same_count(a, b) {
            return a;
        }
        if let (Some(x), Some(y)) = (self.int_value(a), self.int_value(b)) {
            return self.int(x.min(y), span);
        }
        let cond = self.push(Op::Cmp(CmpOp::Le), vec![a, b], Ty::Bool, span);
        self.push(Op::Select, vec![cond, a, b], Ty::Int, span)
    }

    pub(super) fn view_len(&mut self, view: View, span: Span) -> NodeId {
        match (view.len, &self.vars[view.var.0].shape) {
            (Some(n), _) => n,
            // A run-time-sized buffer's length is the node it was allocated with.
            (None, Shape::Buffer(len)) => *len,
            (None, _) => self.push(Op::Len(view.var), vec![], Ty::Int, span),
        }
    }

    /// Where a view at offset `start` ends: `&x[start..end]`.
    pub(super) fn view_end(&mut self, view: View, start: NodeId, span: Span) -> NodeId {
        view.end.unwrap_or_else(|| {
            let len = self.view_len(view, span);
            self.iop(Prim::Add, start, len, span)
        })
    }

    /// `view[k]`: a load of the array at the view's offset plus `k`.
    pub(super) fn view_load(&mut self, view: View, k: NodeId, span: Span) -> NodeId {
        let i = match view.offset {
            Some(o) => self.offset_index(o, k, span),
            None => k,
        };
        let key = (view.var, self.operand_key(i));
        if let Some(&n) = self.loads.get(&key) {
            return n;
        }
        let ty = self.vars[view.var.0].ty;
        let n = self.push(Op::Load(view.var), vec![i], ty, span);
        self.loads.insert(key, n);
        n
    }

    /// `o + k`, the index of element `k` of a view at offset `o`; for a window whose counter
    /// is shifted, `o = i - c`, the element `d` is at `i + (d - c)` or `i - (c - d)`.
    pub(super) fn offset_index(&mut self, o: NodeId, k: NodeId, span: Span) -> NodeId {
        if let Some(d) = self.int_value(k)
            && let (Op::Prim(Prim::Sub), [i, c]) =
                (&self.nodes[o.0].op, self.nodes[o.0].args.as_slice())
            && matches!(self.nodes[i.0].op, Op::Counter(_))
            && let Some(c) = self.int_value(*c)
        {
            let i = *i;
            return if d >= c {
                let e = self.int(d - c, span);
                self.iop(Prim::Add, i, e, span)
            } else {
                let e = self.int(c - d, span);
                self.iop(Prim::Sub, i, e, span)
            };
        }
        self.iop(Prim::Add, o, k, span)
    }

    /// Whether an expression names an array, a slice or a view, without lowering anything.
    pub(super) fn names_array(&self, e: &Expr) -> bool {
        match strip(e) {
            Expr::Path(_) => {
                matches!(self.local_binding(e), Some((Bound::View(_), _)))
                    || matches!(
                        self.local_binding(e),
                        Some((Bound::Var(v), _)) if !matches!(self.vars[v.0].shape, Shape::Scalar)
                    )
            }
            Expr::Reference(r) => r.mutability.is_none() && self.names_array(&r.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.names_array(&u.expr),
            Expr::Index(i) => {
                matches!(strip(&i.index), Expr::Range(_)) && self.names_array(&i.expr)
            }
            Expr::Field(_) => self.known_array_field(e).is_some(),
            _ => false,
        }
    }

    /// The array, slice or view an expression names: `x`, `&x`, `*p`, `&x[a..b]`, a window.
    pub(super) fn view_of(&mut self, e: &Expr) -> Option<View> {
        if !self.names_array(e) {
            return None;
        }
        match strip(e) {
            Expr::Path(_) => match self.local_binding(e)? {
                (Bound::View(v), _) => Some(v),
                (Bound::Var(v), _) => Some(View {
                    var: v,
                    offset: None,
                    len: None,
                    end: None,
                    refs: 0,
                }),
                _ => None,
            },
            Expr::Reference(r) => self.view_of(&r.expr).map(|v| View {
                refs: v.refs.saturating_add(1),
                ..v
            }),
            Expr::Unary(u) => self.view_of(&u.expr).map(|v| View {
                refs: v.refs.saturating_sub(1),
                ..v
            }),
            Expr::Index(i) => {
                let base = self.view_of(&i.expr)?;
                let Expr::Range(r) = strip(&i.index) else {
                    return None;
                };
                let span = i.span();
                let start = match &r.start {
                    Some(s) => self.expr(s),
                    None => self.int(0, span),
                };
                let end = match &r.end {
                    Some(e) => {
                        let e = self.expr(e);
                        if matches!(r.limits, syn::RangeLimits::Closed(_)) {
                            let one = self.int(1, span);
                            self.iop(Prim::Add, e, one, span)
                        } else {
                            e
                        }
                    }
                    None => self.view_len(base, span),
                };
                let len = self.iop(Prim::Sub, end, start, span);
                let offset = match base.offset {
                    Some(o) => self.iop(Prim::Add, o, start, span),
                    None => start,
                };
                Some(View {
                    var: base.var,
                    offset: Some(offset),
                    len: Some(len),
                    end: base.offset.is_none().then_some(end),
                    refs: 0,
                })
            }
            Expr::Field(_) => self.known_array_field(e).map(|var| View {
                var,
                offset: None,
                len: None,
                end: None,
                refs: 0,
            }),
            _ => None,
        }
    }

    /// `w[k]` for a view `w`, `(*p)[k]`, or a sub-slice used as a value (an error).
    pub(super) fn view_index(&mut self, index: &syn::ExprIndex) -> Option<NodeId> {
        let span = index.span();
        if matches!(strip(&index.index), Expr::Range(_)) {
            return Some(self.fail(err(
                index,
                "a sub-slice is not a number: pass it to a function as `&x[a..b]`, bind it with `let s = &x[a..b];`, or iterate over it",
            )));
        }
        if let Some((Bound::Failed, _)) = self.local_binding(&index.expr) {
            self.errors.follow_on();
            return Some(self.placeholder(span));
        }
        let through_view = matches!(self.local_binding(&index.expr), Some((Bound::View(_), _)))
            || matches!(strip(&index.expr), Expr::Unary(_) | Expr::Reference(_));
        if !through_view {
            return None;
        }
        let view = self.view_of(&index.expr)?;
        let k = self.expr(&index.index);
        if let (Some(at), Some(len)) = (self.int_value(k), view.len.and_then(|l| self.int_value(l)))
            && at >= len
        {
            return Some(self.fail(err(
                &index.index,
                format!("index {at} is past the end of this window or chunk of {len} elements"),
            )));
        }
        Some(self.view_load(view, k, span))
    }

    /// `*x`: the value itself for a number (the items of `x.iter()` are references).
    pub(super) fn deref(&mut self, u: &syn::ExprUnary) -> NodeId {
        if self.names_array(&u.expr) {
            return self.fail(err(
                u,
                "`*` of an array is an array: use its elements, as in `p[0]`, or destructure it: `let [a, b] = *p;`",
            ));
        }
        let n = self.expr(&u.expr);
        if self.nodes[n.0].ty == Ty::Other {
            // A reference parameter such as `y: &f64`: the macro sees no float in its type.
            return self.fail(err(
                u.op,
                "`*` of a parameter is not supported: take the parameter by value, as in `y: f64`",
            ));
        }
        n
    }

    /// The item of index `k` of an iterator, computed inside its loop.
    fn item_at(&mut self, seq: &Seq<'_>, k: NodeId, span: Span) -> Item {
        match &seq.kind {
            Kind::Range(start) => Item::Value(self.iop(Prim::Add, *start, k, span)),
            Kind::Elems(v) => Item::Value(self.view_load(*v, k, span)),
            Kind::Views { of, size, chunks } => {
                let start = if *chunks {
                    self.iop(Prim::Mul, k, *size, span)
                } else {
                    k
                };
                let offset = match of.offset {
                    Some(o) => self.iop(Prim::Add, o, start, span),
                    None => start,
                };
                Item::View(View {
                    var: of.var,
                    offset: Some(offset),
                    len: Some(*size),
                    end: None,
                    refs: 0,
                })
            }
            Kind::Enumerate(s) => {
                let item = self.item_at(s, k, span);
                Item::Tuple(vec![Item::Value(k), item])
            }
            Kind::Zip(a, b) => {
                let a = self.item_at(a, k, span);
                let b = self.item_at(b, k, span);
                Item::Tuple(vec![a, b])
            }
            Kind::Map(s, f, at) => {
                let item = self.item_at(s, k, span);
                Item::Value(self.apply_fun(f, vec![item], *at))
            }
            Kind::Rev(s) => {
                let one = self.int(1, span);
                let last = self.iop(Prim::Sub, s.count, one, span);
                let i = self.iop(Prim::Sub, last, k, span);
                self.item_at(s, i, span)
            }
            Kind::Skip(s, n) => {
                let i = self.iop(Prim::Add, k, *n, span);
                self.item_at(s, i, span)
            }
            Kind::Take(s) => self.item_at(s, k, span),
            Kind::StepBy(s, step) => {
                let i = self.iop(Prim::Mul, k, *step, span);
                self.item_at(s, i, span)
            }
        }
    }

    /// An iterator chain, or `None` once an error is reported.
    fn seq<'a>(&mut self, e: &'a Expr) -> Option<Seq<'a>> {
        let span = e.span();
        if !self.learn_array_field(e) {
            return None;
        }
        if let Some(view) = self.view_of(e) {
            let count = self.view_len(view, span);
            return Some(Seq {
                kind: Kind::Elems(view),
                count,
            });
        }
        match strip(e) {
            Expr::Range(r) => {
                let (Some(start), Some(end)) = (&r.start, &r.end) else {
                    self.errors
                        .push(err(r, "the range needs both bounds, as in `0..n`"));
                    return None;
                };
                let start = self.expr(start);
                let mut end = self.expr(end);
                if matches!(r.limits, syn::RangeLimits::Closed(_)) {
                    let one = self.int(1, span);
                    end = self.iop(Prim::Add, end, one, span);
                }
                let count = self.saturating_sub(end, start, span);
                Some(Seq {
                    kind: Kind::Range(start),
                    count,
                })
            }
            Expr::MethodCall(m) => self.adaptor(m),
            Expr::Path(_) if matches!(self.local_binding(e), Some((Bound::Failed, _))) => {
                self.errors.follow_on();
                None
            }
            // `[1.0, 2.0].iter()`: a local array; `W.iter()` of a constant `W`.
            Expr::Array(a) => {
                let var = self.array_literal(a, None, "items");
                Some(self.whole(var, span))
            }
            _ if self.nested_array(e) && !matches!(strip(e), Expr::Index(_)) => {
                self.errors.push(super::nested_array_error(e));
                None
            }
            _ if let Some(var) = self.const_array(e) => Some(self.whole(var, span)),
            other => {
                self.errors.push(err(
                    other,
                    "expected an array, a slice or an iterator over one: `x.iter()`, `&x`, `x.windows(2)`, a range `a..b`",
                ));
                None
            }
        }
    }

    /// The items of a whole array.
    fn whole<'a>(&mut self, var: VarId, span: Span) -> Seq<'a> {
        let view = View {
            var,
            offset: None,
            len: None,
            end: None,
            refs: 0,
        };
        let count = self.view_len(view, span);
        Seq {
            kind: Kind::Elems(view),
            count,
        }
    }

    fn adaptor<'a>(&mut self, m: &'a syn::ExprMethodCall) -> Option<Seq<'a>> {
        let span = m.span();
        let name = m.method.to_string();
        let args: Vec<&Expr> = m.args.iter().collect();
        let inner = |cx: &mut Self| cx.seq(&m.receiver).map(Box::new);
        let one = |cx: &mut Self| -> Option<&'a Expr> {
            if args.len() == 1 {
                Some(args[0])
            } else {
                cx.errors.push(err(
                    &m.method,
                    format!("`{name}` takes 1 argument, found {}", args.len()),
                ));
                None
            }
        };
        match name.as_str() {
            "iter" | "into_iter" | "copied" | "cloned" | "by_ref" if args.is_empty() => {
                self.seq(&m.receiver)
            }
            "enumerate" if args.is_empty() => {
                let s = inner(self)?;
                let count = s.count;
                Some(Seq {
                    kind: Kind::Enumerate(s),
                    count,
                })
            }
            "rev" if args.is_empty() => {
                let s = inner(self)?;
                let count = s.count;
                Some(Seq {
                    kind: Kind::Rev(s),
                    count,
                })
            }
            "zip" => {
                let other = one(self)?;
                let a = inner(self)?;
                let b = Box::new(self.seq(other)?);
                let count = self.min_count(a.count, b.count, span);
                Some(Seq {
                    kind: Kind::Zip(a, b),
                    count,
                })
            }
            "skip" | "take" | "step_by" => {
                let n = one(self)?;
                let s = inner(self)?;
                let n = self.expr(n);
                let (kind, count) = match name.as_str() {
                    "skip" => {
                        let count = self.saturating_sub(s.count, n, span);
                        (Kind::Skip(s, n), count)
                    }
                    "take" => {
                        let count = self.min_count(s.count, n, span);
                        (Kind::Take(s), count)
                    }
                    _ if let (Some(c), Some(k)) = (self.int_value(s.count), self.int_value(n))
                        && k > 0 =>
                    {
                        let count = self.int((c + k - 1) / k, span);
                        (Kind::StepBy(s, n), count)
                    }
                    _ => {
                        // ceil(count / step): `if count == 0 { 0 } else { (count - 1) / step + 1 }`.
                        let zero = self.int(0, span);
                        let one = self.int(1, span);
                        let empty =
                            self.push(Op::Cmp(CmpOp::Eq), vec![s.count, zero], Ty::Bool, span);
                        let last = self.iop(Prim::Sub, s.count, one, span);
                        let steps = self.iop(Prim::Div, last, n, span);
                        let taken = self.iop(Prim::Add, steps, one, span);
                        let count = self.push(Op::Select, vec![empty, zero, taken], Ty::Int, span);
                        (Kind::StepBy(s, n), count)
                    }
                };
                Some(Seq { kind, count })
            }
            "windows" | "chunks_exact" => {
                let size = one(self)?;
                if !self.learn_array_field(&m.receiver) {
                    return None;
                }
                let Some(of) = self.view_of(&m.receiver) else {
                    self.errors.push(err(
                        &m.receiver,
                        format!("`{name}` needs an array or a slice, as in `x.{name}(2)`"),
                    ));
                    return None;
                };
                let size = self.expr(size);
                let len = self.view_len(of, span);
                let chunks = name == "chunks_exact";
                let count = if chunks {
                    self.iop(Prim::Div, len, size, span)
                } else {
                    // len - size + 1 windows, none when the array is shorter than a window.
                    let one = self.int(1, span);
                    let longer = self.iop(Prim::Add, len, one, span);
                    self.saturating_sub(longer, size, span)
                };
                Some(Seq {
                    kind: Kind::Views { of, size, chunks },
                    count,
                })
            }
            "map" => {
                let f = one(self)?;
                let s = inner(self)?;
                let f = self.fun(f)?;
                let count = s.count;
                Some(Seq {
                    kind: Kind::Map(s, f, span),
                    count,
                })
            }
            _ => {
                let hint = match name.as_str() {
                    "chunks" => {
                        "use `chunks_exact(k)` (the last, shorter chunk of `chunks` is not supported)"
                    }
                    "iter_mut" => {
                        "write into the array by index: `for i in 0..x.len() { x[i] = ... }`"
                    }
                    "filter" | "filter_map" | "take_while" | "skip_while" => {
                        "write a `for` loop with an `if` inside"
                    }
                    _ => "write a `for` loop",
                };
                self.errors.push(err(
                    &m.method,
                    format!(
                        "`{name}` is not a supported iterator adaptor: {hint}; the supported adaptors are {ADAPTORS}"
                    ),
                ));
                None
            }
        }
    }

    /// The function of a `map` or a `fold`: a closure, a closure bound with `let`, or a float
    /// method by path (`f64::max`).
    fn fun<'a>(&mut self, e: &'a Expr) -> Option<Fun<'a>> {
        match strip(e) {
            Expr::Closure(c) => {
                if self.check_closure(c) {
                    Some(Fun::Closure(c))
                } else {
                    None
                }
            }
            Expr::Path(p) => {
                if let Some(ident) = p.path.get_ident()
                    && let Some(b) = self.lookup(&ident.to_string())
                {
                    return match b.bound {
                        Bound::Closure(k) => Some(Fun::Bound(k)),
                        Bound::Failed => {
                            self.errors.follow_on();
                            None
                        }
                        _ => {
                            self.errors
                                .push(err(p, format!("`{ident}` is not a closure")));
                            None
                        }
                    };
                }
                let segments: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let name = segments.last().map_or("", String::as_str);
                let owner = segments.len().checked_sub(2).map(|i| segments[i].as_str());
                let found = match owner {
                    _ if p.qself.is_none() && generic::float_method_path(&p.path).is_some() => {
                        generic::float_method_path(&p.path)
                    }
                    Some("f64") => {
                        Prim::find(Syntax::Method, name).map(|p| (p, Some(FloatTy::F64)))
                    }
                    Some("f32") => {
                        Prim::find(Syntax::Method, name).map(|p| (p, Some(FloatTy::F32)))
                    }
                    _ => Prim::find(Syntax::Runtime, name).map(|p| (p, None)),
                };
                if let Some((prim, ty)) = found {
                    return Some(Fun::Method(prim, ty));
                }
                // A function passed by name, `.map(stencil)`: the closure `|v| stencil(v)`, which
                // clippy would have the user write back as `stencil`.
                if p.qself.is_none() && p.path.segments.iter().all(|s| s.arguments.is_none()) {
                    let span = p.span();
                    let item = Ident::new("__autodiff_item", span);
                    let expr: syn::ExprClosure =
                        syn::parse_quote_spanned!(span=> |#item| #p(#item));
                    self.closures.push(Closure {
                        expr,
                        captures: Vec::new(),
                    });
                    return Some(Fun::Bound(self.closures.len() - 1));
                }
                self.errors.push(err(
                    p,
                    "pass a closure, as in `|v| v * 2.0`, a closure bound with `let`, or a float method such as `f64::max`",
                ));
                None
            }
            other => {
                self.errors.push(err(
                    other,
                    "pass a closure, as in `|v| v * 2.0`, a closure bound with `let`, or a float method such as `f64::max`",
                ));
                None
            }
        }
    }

    /// Reports what a closure may not do; `true` if it is fine.
    fn check_closure(&mut self, c: &syn::ExprClosure) -> bool {
        if mentions(&c.body, "return") {
            self.errors.push(err(
                &c.body,
                "`return` inside a closure is not supported: make the closure's body an expression (`if .. { a } else { b }`)",
            ));
            return false;
        }
        if let Some(a) = &c.asyncness {
            self.errors
                .push(err(a, "`async` closures cannot be differentiated"));
            return false;
        }
        true
    }

    /// Applies a function to items: a closure's body is lowered here, with its parameters
    /// bound to the items.
    fn apply_fun(&mut self, f: &Fun<'_>, items: Vec<Item>, span: Span) -> NodeId {
        match f {
            Fun::Closure(c) => self.inline(c, &[], items, span, false),
            Fun::Bound(k) => {
                let closure = &self.closures[*k];
                let c = closure.expr.clone();
                let captures = closure.captures.clone();
                self.inline(&c, &captures, items, span, false)
            }
            Fun::Method(prim, ty) => {
                let mut ids = Vec::new();
                for item in items {
                    match item {
                        Item::Value(n) => ids.push(n),
                        Item::Tuple(t) => {
                            for i in t {
                                match i {
                                    Item::Value(n) => ids.push(n),
                                    _ => {
                                        return self
                                            .fail(syn::Error::new(span, "expected numbers"));
                                    }
                                }
                            }
                        }
                        Item::View(_) => {
                            return self.fail(syn::Error::new(
                                span,
                                "this function takes numbers, not a slice: pass a closure",
                            ));
                        }
                    }
                }
                if ids.len() != prim.arity() {
                    return self.fail(syn::Error::new(
                        span,
                        format!(
                            "`{}` takes {} argument(s) here, found {}: pass a closure",
                            prim.name(),
                            prim.arity(),
                            ids.len()
                        ),
                    ));
                }
                let t = ty.map_or_else(
                    || {
                        ids.iter()
                            .map(|a| self.nodes[a.0].ty)
                            .find(|t| matches!(t, Ty::Float(Some(_))))
                            .unwrap_or(Ty::Float(None))
                    },
                    |t| Ty::Float(Some(t)),
                );
                self.push(Op::Prim(*prim), ids, t, span)
            }
        }
    }

    /// A closure's body, with its captures and parameters bound.
    /// Called for what it does (`add(v);`, a body that ends with a statement), `effect` lowers
    /// the body as a statement.
    fn inline(
        &mut self,
        c: &syn::ExprClosure,
        captures: &[(String, Bound, bool)],
        items: Vec<Item>,
        span: Span,
        effect: bool,
    ) -> NodeId {
        if c.inputs.len() != items.len() {
            return self.fail(syn::Error::new(
                span,
                format!(
                    "this closure takes {} argument(s), called with {}",
                    c.inputs.len(),
                    items.len()
                ),
            ));
        }
        self.scopes.open();
        for (name, bound, mutable) in captures {
            self.scopes.bind(
                super::Binding {
                    name: name.clone(),
                    bound: *bound,
                    mutable: *mutable,
                },
                false,
            );
        }
        for (pat, item) in c.inputs.iter().zip(items) {
            self.bind_item(pat, item);
        }
        if effect {
            self.effect(&c.body);
            self.scopes.close();
            return self.placeholder(span);
        }
        let v = self.expr(&c.body);
        if let syn::ReturnType::Type(_, t) = &c.output
            && let Some(f) = float_type(t)
        {
            self.settle(v, f);
        }
        self.scopes.close();
        v
    }

    /// Binds a pattern (of a `for`, a closure parameter, a `let`) to an item.
    pub(super) fn bind_item(&mut self, pat: &Pat, item: Item) {
        match (pat, item) {
            (Pat::Ident(p), item) if p.subpat.is_none() && p.by_ref.is_none() => match item {
                Item::Value(n) => self.bind(&p.ident, Bound::Node(n), p.mutability.is_some()),
                Item::View(v) => self.bind(&p.ident, Bound::View(v), false),
                Item::Tuple(parts) => {
                    self.tuples.push(parts);
                    self.bind(&p.ident, Bound::Tuple(self.tuples.len() - 1), false);
                }
            },
            (Pat::Wild(_), _) => {}
            (Pat::Reference(r), item) if r.mutability.is_none() => self.bind_item(&r.pat, item),
            (Pat::Paren(p), item) => self.bind_item(&p.pat, item),
            (Pat::Type(t), item) => {
                if let (Item::Value(n), Some(f)) = (&item, float_type(&t.ty)) {
                    self.settle(*n, f);
                }
                self.bind_item(&t.pat, item);
            }
            (Pat::Tuple(t), Item::Tuple(items))
                if t.elems.len() == items.len()
                    && !t.elems.iter().any(|p| matches!(p, Pat::Rest(_))) =>
            {
                for (p, item) in t.elems.iter().zip(items) {
                    self.bind_item(p, item);
                }
            }
            (Pat::Slice(s), Item::View(view)) => self.bind_slice(s, view),
            (pat, item) => {
                let what = match item {
                    Item::Value(_) => "a number",
                    Item::View(_) => "a slice",
                    Item::Tuple(_) => "a tuple",
                };
                let message = match (pat, &item) {
                    (Pat::Slice(_), Item::Value(_)) => "this array pattern binds a value that the macro takes for a number: destructure an array, such as a parameter `[f64; N]`, a local array or an array field (`let [a, b] = p.w;` where the body reads `p.w` no other way), or bind the value to a name".to_owned(),
                    (Pat::Tuple(_), Item::Tuple(_)) => "this tuple pattern does not match the tuple's length, or has `..`: name each part, as in `(a, b)`".to_owned(),
                    _ => format!(
                        "this pattern cannot bind {what}: use a name, `_`, `&v`, `(a, b)` for a pair, or `[a, b]` for an array"
                    ),
                };
                self.errors.push(err(pat, message));
                self.fail_names(pat);
            }
        }
    }

    /// `[a, b, .., z]` of an array or a view: each name is a load.
    pub(super) fn bind_slice(&mut self, s: &syn::PatSlice, view: View) {
        let span = s.span();
        let elems: Vec<&Pat> = s.elems.iter().collect();
        let rest = elems.iter().position(|p| matches!(p, Pat::Rest(_)));
        for (k, p) in elems.iter().enumerate() {
            if Some(k) == rest {
                continue;
            }
            let index = match rest {
                Some(r) if k > r => {
                    let len = self.view_len(view, span);
                    let back = self.int((elems.len() - k) as i128, span);
                    self.iop(Prim::Sub, len, back, span)
                }
                _ => self.int(k as i128, span),
            };
            let n = self.view_load(view, index, span);
            self.bind_item(p, Item::Value(n));
        }
    }

    /// Binds every name in a pattern that failed, so its uses report nothing more.
    pub(super) fn fail_names(&mut self, pat: &Pat) {
        match pat {
            Pat::Ident(p) => self.bind(&p.ident, Bound::Failed, true),
            Pat::Tuple(t) => t.elems.iter().for_each(|p| self.fail_names(p)),
            Pat::Slice(t) => t.elems.iter().for_each(|p| self.fail_names(p)),
            Pat::Reference(r) => self.fail_names(&r.pat),
            Pat::Paren(p) => self.fail_names(&p.pat),
            Pat::Type(t) => self.fail_names(&t.pat),
            _ => {}
        }
    }

    /// `for pattern in iterator { .. }`: a counted loop that computes the item first.
    pub(super) fn for_iter(&mut self, f: &syn::ExprForLoop) {
        let Some(seq) = self.seq(&f.expr) else {
            // Still lower the body, so that its own mistakes are reported.
            self.scopes.open();
            self.fail_names(&f.pat);
            let _ = self.nested(|cx| {
                cx.stmts(&f.body.stmts, &mut |_| None);
            });
            self.scopes.close();
            return;
        };
        let (seq, reverse) = unrev(seq);
        let span = f.expr.span();
        let (start, end) = self.loop_range(&seq, reverse, span);
        let name = match (&seq.kind, &*f.pat) {
            (Kind::Enumerate(_), Pat::Tuple(t)) => match t.elems.first() {
                Some(Pat::Ident(p)) => p.ident.to_string(),
                _ => "i".to_owned(),
            },
            _ => "i".to_owned(),
        };
        let range = LoopRange {
            start,
            end,
            inclusive: false,
            reverse,
        };
        self.counted_loop(f, range, name, &mut |cx, counter| {
            let k = cx.iop(Prim::Sub, counter, start, span);
            let item = cx.item_at(&seq, k, span);
            cx.bind_item(&f.pat, item);
        });
    }

    /// The counter's range of a loop over `seq`; the item of counter `i` is that of index
    /// `i - start`. Usually `0..count`; a loop driven by `x.windows(size)` counts over
    /// `size - 1..x.len()`, whose last window ends at the counter: the range is empty when `x` is
    /// shorter than a window, so there is no saturating count, and `i < x.len()` bounds every
    /// element of the window for the optimiser as the index loop `x[i - 1]`, `x[i]` does.
    fn loop_range(&mut self, seq: &Seq<'_>, reverse: bool, span: Span) -> (NodeId, NodeId) {
        fn windows(seq: &Seq<'_>) -> Option<(View, NodeId)> {
            match &seq.kind {
                Kind::Views {
                    of,
                    size,
                    chunks: false,
                } => Some((*of, *size)),
                Kind::Map(s, ..) | Kind::Enumerate(s) => windows(s),
                _ => None,
            }
        }
        if !reverse
            && let Some((of, size)) = windows(seq)
            && of.offset.is_none()
            && self.int_value(size).is_some_and(|s| s >= 1)
        {
            let one = self.int(1, span);
            let start = self.iop(Prim::Sub, size, one, span);
            let end = self.view_len(of, span);
            return (start, end);
        }
        (self.int(0, span), seq.count)
    }

    /// `sum`, `product` and `fold` ending a chain; `None` for a method that is not one of them.
    pub(super) fn iterator_method(&mut self, m: &syn::ExprMethodCall) -> Option<NodeId> {
        let name = m.method.to_string();
        let span = m.span();
        match name.as_str() {
            "sum" | "product" if m.args.is_empty() => {
                let mut ty = None;
                if let Some(t) = &m.turbofish {
                    let types: Vec<&syn::GenericArgument> = t.args.iter().collect();
                    match types.as_slice() {
                        [syn::GenericArgument::Type(t)] if float_type(t).is_some() => {
                            ty = float_type(t);
                        }
                        _ => {
                            return Some(self.fail(err(
                                t,
                                format!("write `{name}::<f64>()` or `{name}::<f32>()`: only a float result is differentiated"),
                            )));
                        }
                    }
                }
                let Some(seq) = self.seq(&m.receiver) else {
                    return Some(self.placeholder(span));
                };
                let (init, op) = if name == "sum" {
                    // `Sum` for floats starts from -0.0, so that an empty sum is -0.0.
                    let zero = self.push(
                        Op::Lit(LitValue::Float(0.0), None),
                        vec![],
                        Ty::Float(ty),
                        span,
                    );
                    let init = self.push(Op::Prim(Prim::Neg), vec![zero], Ty::Float(ty), span);
                    (init, Prim::Add)
                } else {
                    let one = self.push(
                        Op::Lit(LitValue::Float(1.0), None),
                        vec![],
                        Ty::Float(ty),
                        span,
                    );
                    (one, Prim::Mul)
                };
                let total = self.unbound_name(&name);
                Some(self.reduce(seq, init, &total, span, &mut |cx, acc, item| match item {
                    Item::Value(v) => {
                        let t = cx.nodes[acc.0].ty.join(cx.nodes[v.0].ty);
                        cx.push(Op::Prim(op), vec![acc, v], t, span)
                    }
                    _ => cx.fail(syn::Error::new(
                        span,
                        format!("`{name}` needs numbers: `map` the items to numbers first"),
                    )),
                }))
            }
            "fold" if m.args.len() == 2 && matches!(strip(&m.args[0]), Expr::Tuple(_)) => {
                Some(self.fail(err(
                    &m.args[0],
                    "a `fold` with a tuple accumulator makes a tuple: bind it with a pattern, as in `let (s, p) = x.iter().fold((0.0, 1.0), |(s, p), &v| (s + v, p * v));`",
                )))
            }
            "fold" if m.args.len() == 2 => {
                let init = &m.args[0];
                let f = &m.args[1];
                let Some(seq) = self.seq(&m.receiver) else {
                    return Some(self.placeholder(span));
                };
                let init = self.expr(init);
                let Some(f) = self.fun(f) else {
                    return Some(self.placeholder(span));
                };
                let acc_name = match &f {
                    Fun::Closure(c) => match c.inputs.first() {
                        Some(Pat::Ident(p)) => p.ident.to_string(),
                        _ => self.unbound_name("acc"),
                    },
                    _ => self.unbound_name("acc"),
                };
                Some(self.reduce(seq, init, &acc_name, span, &mut |cx, acc, item| {
                    cx.apply_fun(&f, vec![Item::Value(acc), item], span)
                }))
            }
            "map" if m.args.len() == 1 && self.names_array(&m.receiver) => Some(self.fail(err(
                &m.method,
                "`array.map(..)` makes an array: bind it, as in `let y = x.map(|v| v * 2.0);`, or sum it with `x.iter().map(..).sum::<f64>()`",
            ))),
            "map" if m.args.len() == 1 && self.names_field(&m.receiver) => Some(self.fail(err(
                &m.method,
                "`map` of a field array is not supported: iterate over it, as in `p.w.iter().map(|v| ..).sum::<f64>()`, or fill a local array by index: `let mut y = [0.0; N]; for i in 0..N { y[i] = .. }`",
            ))),
            "contains" if m.args.len() == 1 && matches!(strip(&m.receiver), Expr::Range(_)) => {
                Some(self.range_contains(m))
            }
            "into" if m.args.is_empty() => Some(self.fail(err(
                &m.method,
                "`.into()` needs its target type: write `let y: f64 = x.into();` or `f64::from(x)`",
            ))),
            _ if is_chain(&m.receiver) && Prim::find(Syntax::Method, &name).is_none() => {
                Some(self.fail(err(
                    &m.method,
                    format!(
                        "`{name}` cannot end an iterator chain here: end it with `sum()`, `product()` or `fold(init, |acc, v| ..)`, or loop over it with `for`; the supported adaptors are {ADAPTORS}"
                    ),
                )))
            }
            _ => None,
        }
    }

    /// `x.iter().fold((a, b), |(s, p), v| (.., ..))`: one accumulator variable per part of the
    /// tuple (of numbers), which the closure's tuple assigns each time; the tuple of their
    /// values after the loop.
    #[inline(never)]
    pub(super) fn fold_tuple(
        &mut self,
        m: &syn::ExprMethodCall,
        init: &syn::ExprTuple,
    ) -> Option<Item> {
        let span = m.span();
        let seq = self.seq(&m.receiver)?;
        let inits: Vec<NodeId> = init.elems.iter().map(|e| self.expr(e)).collect();
        let (c, captures) = match self.fun(&m.args[1])? {
            Fun::Closure(c) => (c.clone(), Vec::new()),
            Fun::Bound(k) => (
                self.closures[k].expr.clone(),
                self.closures[k].captures.clone(),
            ),
            Fun::Method(..) => {
                self.errors.push(err(
                    &m.args[1],
                    "a `fold` with a tuple accumulator takes a closure that returns the new tuple, as in `|(s, p), &v| (s + v, p * v)`",
                ));
                return None;
            }
        };
        if c.inputs.len() != 2 {
            self.errors.push(err(
                &c.inputs,
                format!(
                    "a `fold` closure takes 2 arguments, found {}",
                    c.inputs.len()
                ),
            ));
            return None;
        }
        let names: Vec<String> = match c.inputs.first() {
            Some(Pat::Tuple(t)) if t.elems.len() == inits.len() => t
                .elems
                .iter()
                .enumerate()
                .map(|(k, p)| match p {
                    Pat::Ident(i) => i.ident.to_string(),
                    _ => format!("acc{k}"),
                })
                .collect(),
            _ => (0..inits.len()).map(|k| format!("acc{k}")).collect(),
        };
        let accs: Vec<VarId> = inits
            .iter()
            .zip(&names)
            .map(|(&n, name)| {
                let ty = self.nodes[n.0].ty;
                let v = self.var(name, ty, Shape::Scalar, span);
                self.emit(graph::Stmt::Declare(v, Some(n)));
                v
            })
            .collect();
        let (seq, reverse) = unrev(seq);
        let counter = self.counters;
        self.counters += 1;
        let (start, end) = self.loop_range(&seq, reverse, span);
        let body = self.nested(|cx| {
            let i = cx.push(Op::Counter(counter), vec![], Ty::Int, span);
            cx.nodes[i.0].name = Some("i".to_owned());
            let k = cx.iop(Prim::Sub, i, start, span);
            let item = cx.item_at(&seq, k, span);
            let current = accs
                .iter()
                .map(|&v| Item::Value(cx.read(v, span)))
                .collect();
            cx.scopes.open();
            for (name, bound, mutable) in &captures {
                cx.scopes.bind(
                    super::Binding {
                        name: name.clone(),
                        bound: *bound,
                        mutable: *mutable,
                    },
                    false,
                );
            }
            cx.bind_item(&c.inputs[0], Item::Tuple(current));
            cx.bind_item(&c.inputs[1], item);
            let target =
                super::Target::Tuple(accs.iter().map(|&v| super::Target::Var(v)).collect());
            cx.assign_to(&c.body, &target);
            cx.scopes.close();
        });
        self.fold_loop(counter, start, end, reverse, body);
        Some(Item::Tuple(
            accs.iter()
                .map(|&v| Item::Value(self.read(v, span)))
                .collect(),
        ))
    }

    /// `(a..b).contains(&x)`, `(a..=b).contains(&x)`: `a <= x && x < b` (`x <= b`), a condition
    /// with no derivative; a missing bound is no test.
    #[inline(never)]
    fn range_contains(&mut self, m: &syn::ExprMethodCall) -> NodeId {
        let span = m.span();
        let Expr::Range(r) = strip(&m.receiver) else {
            unreachable!("checked by the caller")
        };
        let x = self.expr(&m.args[0]);
        let mut test = None;
        if let Some(start) = &r.start {
            let a = self.expr(start);
            test = Some(self.push(Op::Cmp(CmpOp::Le), vec![a, x], Ty::Bool, span));
        }
        if let Some(end) = &r.end {
            let b = self.expr(end);
            let op = if matches!(r.limits, syn::RangeLimits::Closed(_)) {
                CmpOp::Le
            } else {
                CmpOp::Lt
            };
            let below = self.push(Op::Cmp(op), vec![x, b], Ty::Bool, span);
            // `if a <= x { x < b } else { false }`: `a <= x && x < b` is what clippy's
            // `manual_range_contains` rejects in the generated code.
            test = Some(match test {
                Some(t) => {
                    let no = self.bool_lit(false, span);
                    self.push(Op::Select, vec![t, below, no], Ty::Bool, span)
                }
                None => below,
            });
        }
        test.unwrap_or_else(|| self.bool_lit(true, span))
    }

    /// A loop over an iterator that folds its items into an accumulator.
    /// `name`, or `name_1`, `name_2`, ... if the body has bound it: the name of a chain's running
    /// total, which the graph shows and finds, must not hide the body's own `sum` or `acc`.
    #[inline(never)]
    fn unbound_name(&self, name: &str) -> String {
        let mut k = 0;
        let mut candidate = name.to_owned();
        while self.lookup(&candidate).is_some() {
            k += 1;
            candidate = format!("{name}_{k}");
        }
        candidate
    }

    fn reduce(
        &mut self,
        seq: Seq<'_>,
        init: NodeId,
        name: &str,
        span: Span,
        step: &mut dyn FnMut(&mut Self, NodeId, Item) -> NodeId,
    ) -> NodeId {
        let ty = self.nodes[init.0].ty;
        let acc = self.var(name, ty, Shape::Scalar, span);
        self.emit(graph::Stmt::Declare(acc, Some(init)));
        let (seq, reverse) = unrev(seq);
        let counter = self.counters;
        self.counters += 1;
        let (start, end) = self.loop_range(&seq, reverse, span);
        let body = self.nested(|cx| {
            let i = cx.push(Op::Counter(counter), vec![], Ty::Int, span);
            cx.nodes[i.0].name = Some("i".to_owned());
            let k = cx.iop(Prim::Sub, i, start, span);
            let item = cx.item_at(&seq, k, span);
            let current = cx.read(acc, span);
            let next = step(cx, current, item);
            cx.set(acc, next);
        });
        self.fold_loop(counter, start, end, reverse, body);
        self.read(acc, span)
    }

    /// The loop of a `fold` (or `sum`, `product`) over the items `start..end`, its counter `i`,
    /// after which the values the body computed are forgotten.
    fn fold_loop(
        &mut self,
        counter: usize,
        start: NodeId,
        end: NodeId,
        reverse: bool,
        body: graph::Block,
    ) {
        self.emit(graph::Stmt::For(graph::Loop {
            counter,
            name: "i".to_owned(),
            start,
            end,
            inclusive: false,
            reverse,
            body,
        }));
        self.forget();
    }

    /// `let f = |x| ..;`: remembered with what its free names are bound to now.
    pub(super) fn bind_closure(&mut self, ident: &Ident, c: &syn::ExprClosure) {
        if !self.check_closure(c) {
            self.bind(ident, Bound::Failed, false);
            return;
        }
        let mut names = Vec::new();
        idents(c.body.to_token_stream(), &mut names);
        names.sort();
        names.dedup();
        let mut assigned = Vec::new();
        super::assigned(c.body.to_token_stream(), &mut assigned);
        let mut captures = Vec::new();
        for name in names {
            let Some(b) = self.lookup(&name) else {
                continue;
            };
            let changed = b.mutable && assigned.contains(&name);
            if changed {
                let bound = self.changed_capture(c, &name, b.bound);
                captures.push((name, bound, true));
                continue;
            }
            let bound = match b.bound {
                // A scalar variable is read where the closure is written: a `move` closure
                // copies it there, and a borrowing one forbids changing it while it lives.
                Bound::Var(v) if matches!(self.vars[v.0].shape, Shape::Scalar) => {
                    Bound::Node(self.read(v, ident.span()))
                }
                Bound::Var(v) if c.capture.is_some() && self.vars[v.0].param.is_none() => {
                    self.errors.push(err(
                        c.capture,
                        format!("a `move` closure that copies the local array `{name}` is not supported: remove `move`"),
                    ));
                    Bound::Failed
                }
                other => other,
            };
            captures.push((name, bound, false));
        }
        self.closures.push(Closure {
            expr: c.clone(),
            captures,
        });
        self.bind(ident, Bound::Closure(self.closures.len() - 1), false);
    }

    /// What a closure that assigns the captured `name` binds it to: the scalar variable itself,
    /// which each call changes (the closure borrows it mutably, so nothing else changes it
    /// meanwhile).
    #[cold]
    #[inline(never)]
    fn changed_capture(&mut self, c: &syn::ExprClosure, name: &str, bound: Bound) -> Bound {
        match bound {
            Bound::Var(v) if matches!(self.vars[v.0].shape, Shape::Scalar) => {
                if c.capture.is_some() {
                    self.errors.push(err(
                        c.capture,
                        format!("a `move` closure changes its own copy of `{name}`, not `{name}`: remove `move`, or return the new value from the closure"),
                    ));
                    return Bound::Failed;
                }
                Bound::Var(v)
            }
            Bound::Failed => Bound::Failed,
            Bound::Var(_) | Bound::View(_) => bound,
            _ => {
                self.errors.push(err(
                    &c.body,
                    format!("this closure assigns the captured `{name}`, which the macro cannot follow here: return the new value from the closure, `{name} = f({name}, ..);`"),
                ));
                Bound::Failed
            }
        }
    }

    /// `f(a, b);` for a closure `f` bound with `let`, as a statement: its body, inlined as one.
    pub(super) fn closure_effect(&mut self, call: &syn::ExprCall) {
        let k = self.called_closure(call).expect("checked by the caller");
        let span = call.span();
        let mut items = Vec::new();
        for a in &call.args {
            items.push(self.closure_arg(a));
        }
        let closure = &self.closures[k];
        let c = closure.expr.clone();
        let captures = closure.captures.clone();
        self.inline(&c, &captures, items, span, true);
    }

    /// The closure bound with `let` that a call calls, if it calls one.
    pub(super) fn called_closure(&self, call: &syn::ExprCall) -> Option<usize> {
        let Expr::Path(p) = strip(&call.func) else {
            return None;
        };
        match self.lookup(&p.path.get_ident()?.to_string())?.bound {
            Bound::Closure(k) => Some(k),
            _ => None,
        }
    }

    /// An argument of a closure bound with `let`: an array (a literal one is a new local array),
    /// a view, or a number.
    fn closure_arg(&mut self, a: &Expr) -> Item {
        if let Expr::Array(lit) = strip(a) {
            let var = self.array_literal(lit, None, "arg");
            return Item::View(View {
                var,
                offset: None,
                len: None,
                end: None,
                refs: 0,
            });
        }
        match self.view_of(a) {
            Some(v) => Item::View(v),
            None => Item::Value(self.expr(a)),
        }
    }

    /// `x.map(|v| ..)` of an array `[f64; N]`: a new local array of the closure's values.
    pub(super) fn array_map(&mut self, m: &syn::ExprMethodCall, name: &str) -> Option<VarId> {
        let span = m.span();
        // `[x, y, x * y].map(..)`: the literal is a local array first.
        let view = match strip(&m.receiver) {
            Expr::Array(literal) => {
                super::buffer::whole(self.array_literal(literal, None, "items"))
            }
            _ => self.view_of(&m.receiver)?,
        };
        let len = match (&self.vars[view.var.0].shape, view.offset) {
            (Shape::Array { len, .. }, None) => len.clone(),
            _ => {
                self.errors.push(err(
                    &m.method,
                    "`map` makes a new array from an array `[f64; N]`; for a slice, write `x.iter().map(..)`",
                ));
                return None;
            }
        };
        let f = self.fun(&m.args[0])?;
        let out = self.var(
            name,
            Ty::Float(None),
            Shape::Array { len, by_ref: false },
            span,
        );
        self.declare_array(out, span);
        let count = self.view_len(view, span);
        self.fill_loop(out, count, span, &mut |cx, k| {
            let item = Item::Value(cx.view_load(view, k, span));
            cx.apply_fun(&f, vec![item], span)
        });
        Some(out)
    }

    /// `let q = p;` of an array: a new local array with the same elements.
    pub(super) fn copy_array(&mut self, view: View, name: &str, span: Span) -> Option<VarId> {
        let (Shape::Array { len, .. }, None) = (&self.vars[view.var.0].shape, view.offset) else {
            return None;
        };
        let len = len.clone();
        let ty = self.vars[view.var.0].ty;
        let out = self.var(name, ty, Shape::Array { len, by_ref: false }, span);
        self.declare_array(out, span);
        let count = self.view_len(view, span);
        self.fill_loop(out, count, span, &mut |cx, k| cx.view_load(view, k, span));
        Some(out)
    }

    /// Gives an array whose type is not known yet the type of a value stored into it (a float's
    /// or an integer's), and an untyped literal stored into a typed array that array's type.
    pub(super) fn type_store(&mut self, out: VarId, value: NodeId) {
        match (self.vars[out.0].ty, self.nodes[value.0].ty) {
            (Ty::Float(None), t @ (Ty::Float(Some(_)) | Ty::Int)) => self.vars[out.0].ty = t,
            (Ty::Float(Some(t)), _) => self.settle(value, t),
            _ => {}
        }
    }

    /// `for k in 0..count { out[k] = value(k); }`.
    pub(super) fn fill_loop(
        &mut self,
        out: VarId,
        count: NodeId,
        span: Span,
        value: &mut dyn FnMut(&mut Self, NodeId) -> NodeId,
    ) {
        let counter = self.counters;
        self.counters += 1;
        let start = self.int(0, span);
        let body = self.nested(|cx| {
            let k = cx.push(Op::Counter(counter), vec![], Ty::Int, span);
            cx.nodes[k.0].name = Some("k".to_owned());
            let v = value(cx, k);
            cx.type_store(out, v);
            cx.emit(graph::Stmt::Store {
                var: out,
                index: k,
                value: v,
            });
        });
        self.emit(graph::Stmt::For(graph::Loop {
            counter,
            name: "k".to_owned(),
            start,
            end: count,
            inclusive: false,
            reverse: false,
            body,
        }));
        self.forget();
    }

    /// `f(a, b)` for a closure `f` bound with `let`: its body, inlined.
    pub(super) fn call_closure(&mut self, k: usize, args: &[&Expr], span: Span) -> NodeId {
        let mut items = Vec::new();
        for a in args {
            items.push(self.closure_arg(a));
        }
        self.apply_fun(&Fun::Bound(k), items, span)
    }
}

/// A top-level `rev` (under elementwise `map`s) runs the loop backwards instead of computing
/// reversed indices.
fn unrev(seq: Seq<'_>) -> (Seq<'_>, bool) {
    match seq.kind {
        Kind::Rev(inner) => {
            let (s, r) = unrev(*inner);
            (s, !r)
        }
        Kind::Map(inner, f, span) => {
            let (s, r) = unrev(*inner);
            (
                Seq {
                    kind: Kind::Map(Box::new(s), f, span),
                    count: seq.count,
                },
                r,
            )
        }
        kind => (
            Seq {
                kind,
                count: seq.count,
            },
            false,
        ),
    }
}
