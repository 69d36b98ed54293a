//! Patterns, `match`, array values and macros: the everyday Rust that lowers to the graph's
//! existing nodes and statements.
//!
//! `let [a, b] = *p;` binds each name to a load, `let (u, v) = (e1, e2);` to each value; an
//! array literal or `array.map(..)` is a local array; `match` on integers, `bool`s and ranges is
//! an `if` / `else if` chain; an assertion is a statement of the forward sweep.

use proc_macro2::{Literal, Span};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Pat, Stmt};

use super::iter::{Item, View};
use super::{Bound, Lowerer, Target, err, float_type, max_chain, met_limit, strip};
use crate::graph::{self, CastTo, CmpOp, LitValue, NodeId, Op, Shape, Ty, VarId};
use crate::prim::Prim;

/// What a `match` looks at.
enum Scrutinee {
    Value(NodeId),
    Tuple(Vec<Scrutinee>),
}

/// Whether an identifier pattern names a constant or a unit variant (`TWICE` of
/// `const TWICE: i32`, `Add` of `use Op::*`) rather than binding a name: as rustc resolves it,
/// for a name written as a binding is, in snake case.
fn constant_pattern(p: &syn::PatIdent) -> bool {
    p.by_ref.is_none()
        && p.mutability.is_none()
        && p.subpat.is_none()
        && p.ident
            .to_string()
            .starts_with(|c: char| c.is_ascii_uppercase())
}

/// Whether a pattern matches every value.
fn irrefutable(pat: &Pat) -> bool {
    match pat {
        Pat::Wild(_) => true,
        Pat::Ident(p) if constant_pattern(p) => false,
        Pat::Ident(p) => p.subpat.as_ref().is_none_or(|(_, s)| irrefutable(s)),
        Pat::Paren(p) => irrefutable(&p.pat),
        Pat::Or(o) => o.cases.iter().any(irrefutable),
        Pat::Tuple(t) => t
            .elems
            .iter()
            .all(|p| irrefutable(p) || matches!(p, Pat::Rest(_))),
        _ => false,
    }
}

/// The float type of the elements of an annotated array, `[f64; 3]`.
fn element_type(ty: &syn::Type) -> Option<graph::FloatTy> {
    match ty {
        syn::Type::Array(a) => float_type(&a.elem),
        syn::Type::Reference(r) => element_type(&r.elem),
        syn::Type::Paren(p) => element_type(&p.elem),
        _ => None,
    }
}

impl Lowerer {
    /// `let name = ...;` for the values that are not a single node: a closure, an array
    /// literal, `array.map(..)`, a view, `x.into()`. `false` if the value is none of these.
    /// An array of integer literals bound without `mut` in a branch, a loop or after an early
    /// `return`, `let k = [1usize, 0];`, declared in the function's own block, before the
    /// statement being lowered, as a constant table is ([`Lowerer::const_array`]): a call may
    /// take it as a constant argument, `h(x, &k, &mut out)`, and the call's derivative in the
    /// backward sweep, outside that block, reads it again. Its value is the same wherever it is
    /// computed.
    #[inline(never)]
    fn hoisted_array(
        &mut self,
        a: &syn::ExprArray,
        elem: Option<graph::FloatTy>,
        name: &str,
    ) -> VarId {
        let inner = self.blocks.split_off(1);
        let v = self.array_literal(a, elem, name);
        self.blocks.extend(inner);
        v
    }

    /// `let m = [[1.0, 0.5], [0.5, 2.0]];`, an array of arrays of constants: bound once at the
    /// top of the function to a reference to it (a promoted constant), read `m[i][j]` with no
    /// derivative, as a `const` table is.
    fn constant_matrix(
        &mut self,
        init: &Expr,
        annotation: Option<&syn::Type>,
        name: &str,
    ) -> VarId {
        let span = init.span();
        let float = annotation.and_then(super::nested_float);
        let value = match annotation {
            Some(ty) => quote::quote_spanned!(span=> { let m: &#ty = &#init; m }),
            None => quote::quote_spanned!(span=> &#init),
        };
        let inner = self.blocks.split_off(1);
        let value = self.push(Op::Const(value), vec![], Ty::Other, span);
        let v = self.var(name, Ty::Float(float), Shape::Slice, span);
        self.emit(graph::Stmt::Declare(v, Some(value)));
        self.blocks.extend(inner);
        self.nested_locals.insert(v, float);
        v
    }

    pub(super) fn let_idiom(&mut self, local: &syn::Local, p: &syn::PatIdent, init: &Expr) -> bool {
        let annotation = match &local.pat {
            Pat::Type(t) => Some(&*t.ty),
            _ => None,
        };
        let mutable = p.mutability.is_some();
        let name = p.ident.to_string();
        if self.chooses_parts(init) {
            match self.parts_of(init, true) {
                Some(parts @ Parts::Array(_)) => {
                    // `let p = match k { 0 => [a, b], _ => [b, a] };`: a local array that each
                    // branch stores into.
                    let target = self.declare_target(&parts, Some(&local.pat), init.span());
                    self.assign_declared(init, &target);
                    if let Target::Array(v) = target {
                        self.bind(&p.ident, Bound::Var(v), mutable);
                    }
                    return true;
                }
                Some(Parts::Tuple(parts)) => {
                    let names: Vec<String> = (0..parts.len()).map(|k| format!("a{k}")).collect();
                    self.errors.push(err(
                        &p.ident,
                        format!(
                            "a tuple is bound by a pattern that names its parts: write `let ({}) = ...;`",
                            names.join(", ")
                        ),
                    ));
                    self.bind(&p.ident, Bound::Failed, mutable);
                    return true;
                }
                _ => {}
            }
        }
        match strip(init) {
            Expr::Closure(c) => {
                self.project_closure(c);
                self.bind_closure(&p.ident, c);
                true
            }
            Expr::Array(_)
                if !mutable
                    && super::constant_matrix(init, &|i| self.lookup(&i.to_string()).is_some()) =>
            {
                let v = self.constant_matrix(init, annotation, &name);
                self.bind(&p.ident, Bound::Var(v), false);
                true
            }
            Expr::Array(a)
                if a.elems
                    .first()
                    .is_some_and(|e| matches!(strip(e), Expr::Array(_) | Expr::Repeat(_))) =>
            {
                self.errors.push(super::nested_array_error(init));
                self.bind(&p.ident, Bound::Failed, mutable);
                true
            }
            Expr::Array(a) => {
                let elem = annotation.and_then(element_type);
                let v = if !mutable && super::integer_literals(init) {
                    self.hoisted_array(a, elem, &name)
                } else {
                    self.array_literal(a, elem, &name)
                };
                self.bind(&p.ident, Bound::Var(v), mutable);
                true
            }
            Expr::MethodCall(m)
                if m.method == "map"
                    && m.args.len() == 1
                    && (self.names_array(&m.receiver)
                        || matches!(strip(&m.receiver), Expr::Array(_))) =>
            {
                match self.array_map(m, &name) {
                    Some(v) => self.bind(&p.ident, Bound::Var(v), mutable),
                    None => self.bind(&p.ident, Bound::Failed, mutable),
                }
                true
            }
            Expr::MethodCall(m) if m.method == "into" && m.args.is_empty() => {
                let Some(t) = annotation.and_then(float_type) else {
                    return false;
                };
                let a = self.expr(&m.receiver);
                let n = self.push(
                    Op::Cast(CastTo::Float(t)),
                    vec![a],
                    Ty::Float(Some(t)),
                    m.span(),
                );
                self.bind_value(&p.ident, n, mutable, &[]);
                true
            }
            // `let t = tail;` of a writable view: the same view, moved.
            Expr::Path(_) if matches!(self.local_binding(init), Some((Bound::View(_), true))) => {
                let view = self.view_of(init).expect("a view");
                self.bind(&p.ident, Bound::View(view), true);
                true
            }
            // `let h = &mut state[a..b];`: a writable view of a buffer or an out-parameter.
            Expr::Reference(r) if r.mutability.is_some() && self.names_array(&r.expr) => {
                if self.writable_array(&r.expr) {
                    let view = self.view_of(&r.expr).expect("checked by names_array");
                    self.bind(&p.ident, Bound::View(view), true);
                } else {
                    self.errors.push(err(
                        &r.expr,
                        "`&mut` of an array this function cannot write: take it from a local buffer or an out-parameter `&mut [f64]`",
                    ));
                    self.bind(&p.ident, Bound::Failed, false);
                }
                true
            }
            // `let w: [f64; 3] = W;` of a constant `W`: read in place.
            Expr::Path(_) | Expr::Reference(_)
                if !mutable
                    && annotation.is_some_and(|t| super::array_type(t).is_some())
                    && !self.names_array(init)
                    && let Some(v) = self.const_array(init) =>
            {
                self.bind(&p.ident, Bound::Var(v), false);
                true
            }
            _ if self.names_array(init) => {
                let view = self.view_of(init).expect("checked by names_array");
                // `let q = h;` copies an array that may change later (a local array, or a `mut`
                // array parameter); a reference or a view of an array nothing stores into can
                // be read in place.
                let by_value = !matches!(strip(init), Expr::Reference(_));
                let var = &self.vars[view.var.0];
                let changes = match self.local_binding(init) {
                    Some((Bound::Var(_), writable)) => {
                        var.param.is_none()
                            || writable && matches!(var.shape, Shape::Array { by_ref: false, .. })
                    }
                    _ => false,
                };
                let source_changes = view.offset.is_none() && changes;
                if mutable || by_value && source_changes {
                    match self.copy_array(view, &name, init.span()) {
                        Some(v) => self.bind(&p.ident, Bound::Var(v), mutable),
                        None => {
                            self.errors.push(err(
                                init,
                                "only a whole array `[f64; N]` can be copied into a new array: index the original",
                            ));
                            self.bind(&p.ident, Bound::Failed, mutable);
                        }
                    }
                } else {
                    self.bind(&p.ident, Bound::View(view), false);
                }
                true
            }
            _ => false,
        }
    }

    /// `[a, b, c]`: a local array, declared and stored element by element.
    pub(super) fn array_literal(
        &mut self,
        a: &syn::ExprArray,
        elem: Option<graph::FloatTy>,
        name: &str,
    ) -> VarId {
        let span = a.span();
        let values: Vec<NodeId> = a.elems.iter().map(|e| self.expr(e)).collect();
        let mut ty = values
            .iter()
            .map(|v| self.nodes[v.0].ty)
            .find(|t| matches!(t, Ty::Float(Some(_))))
            .or_else(|| elem.map(|t| Ty::Float(Some(t))))
            .unwrap_or_else(|| {
                values
                    .first()
                    .map_or(Ty::Float(None), |v| self.nodes[v.0].ty)
            });
        if ty == Ty::Other {
            ty = Ty::Float(None);
        }
        if let Some(t) = ty.float() {
            for &v in &values {
                self.settle(v, t);
            }
        }
        let len = Literal::usize_unsuffixed(values.len());
        let var = self.var(
            name,
            ty,
            Shape::Array {
                len: proc_macro2::TokenStream::from(proc_macro2::TokenTree::Literal(len)),
                by_ref: false,
            },
            span,
        );
        self.declare_array(var, span);
        for (k, v) in values.into_iter().enumerate() {
            let index = self.int(k as i128, span);
            self.emit(graph::Stmt::Store {
                var,
                index,
                value: v,
            });
        }
        self.forget();
        var
    }

    /// `let mut var = [0; N];` of the variable's type and length.
    pub(super) fn declare_array(&mut self, var: VarId, span: Span) {
        let ty = self.vars[var.0].ty;
        let Shape::Array { len, .. } = self.vars[var.0].shape.clone() else {
            unreachable!("declared with an array shape");
        };
        let zero = if ty == Ty::Int {
            self.int(0, span)
        } else {
            self.push(Op::Lit(LitValue::Float(0.0), None), vec![], ty, span)
        };
        let fill = self.push(Op::Fill(len), vec![zero], ty, span);
        self.emit(graph::Stmt::Declare(var, Some(fill)));
    }

    /// The value of an expression as an item: a tuple of items, a view, or a number.
    fn item_of(&mut self, e: &Expr) -> Item {
        match strip(e) {
            Expr::Tuple(t) => Item::Tuple(t.elems.iter().map(|e| self.item_of(e)).collect()),
            Expr::Array(a) => Item::Tuple(a.elems.iter().map(|e| self.item_of(e)).collect()),
            _ => match self.view_of(e) {
                Some(v) => Item::View(v),
                None => Item::Value(self.expr(e)),
            },
        }
    }

    /// `let [a, b] = *p;`, `let (u, v) = (e1, e2);`: each name bound to its part.
    pub(super) fn let_pattern(&mut self, pat: &Pat, init: &Expr, rest: &[Stmt]) {
        let inner = match pat {
            Pat::Type(t) => &*t.pat,
            p => p,
        };
        let destructures = matches!(inner, Pat::Tuple(_) | Pat::Slice(_));
        if !destructures {
            self.expr(init);
            self.errors.push(err(
                pat,
                "only names, `_`, tuples `(a, b)` and arrays `[a, b]` can be bound by `let`",
            ));
            self.fail_names(pat);
            return;
        }
        if self.chooses_parts(init)
            && let Some(parts @ (Parts::Array(_) | Parts::Tuple(_))) = self.parts_of(init, true)
        {
            // `let (a, b) = if c { (x, y) } else { (y, x) };`: a variable per part, which each
            // branch assigns, then the pattern bound to them.
            let target = self.declare_target(&parts, Some(inner), init.span());
            let before = self.errors.count();
            self.assign_declared(init, &target);
            if self.errors.count() > before {
                self.fail_names(pat);
                return;
            }
            let item = self.target_item(&target, init.span());
            match (inner, item) {
                (Pat::Slice(s), Item::View(v)) => self.bind_let_slice(s, v, rest),
                (p, item) => self.bind_let(p, item, rest),
            }
            return;
        }
        if let Expr::MethodCall(m) = strip(init)
            && (m.method == "split_at" || m.method == "split_at_mut")
            && m.args.len() == 1
            && self.names_array(&m.receiver)
        {
            self.let_split(inner, m);
            return;
        }
        if let Expr::MethodCall(m) = strip(init)
            && m.method == "map"
            && m.args.len() == 1
            && self.names_array(&m.receiver)
            && let Pat::Slice(s) = inner
        {
            // `let [a, b] = p.map(|v| ..);`: the new array, destructured.
            match self.array_map(m, "mapped") {
                Some(var) => {
                    let view = View {
                        var,
                        offset: None,
                        len: None,
                        end: None,
                        refs: 0,
                    };
                    self.bind_let_slice(s, view, rest);
                }
                None => self.fail_names(pat),
            }
            return;
        }
        if let Expr::MethodCall(m) = strip(init)
            && m.method == "fold"
            && m.args.len() == 2
            && let Expr::Tuple(t) = strip(&m.args[0])
        {
            // `let (s, p) = x.iter().fold((0.0, 1.0), |(s, p), &v| (s + v, p * v));`
            match self.fold_tuple(m, t) {
                Some(item) => self.bind_let(inner, item, rest),
                None => self.fail_names(pat),
            }
            return;
        }
        if let Some(item) = self.sin_cos(init) {
            self.bind_let(inner, item, rest);
            return;
        }
        if matches!(strip(init), Expr::Call(_) | Expr::MethodCall(_)) && !self.names_array(init) {
            let before = self.errors.count();
            self.expr(init);
            if self.errors.count() > before {
                self.fail_names(pat);
                return;
            }
            self.errors.push(err(
                pat,
                "a call's result is destructured by names alone, `let (u, v) = g(..);` or `let [a, b] = g(..);`: for an array part or nested patterns, bind it with its type, `let (u, w): (f64, [f64; 2]) = g(..);`, then index `w[0]`",
            ));
            self.fail_names(pat);
            return;
        }
        let before = self.errors.count();
        let item = self.item_of(init);
        if self.errors.count() > before {
            self.fail_names(pat);
            return;
        }
        // `[a, b]` of a tuple of values built from an array literal.
        match (inner, item) {
            (Pat::Slice(s), Item::Tuple(items)) if s.elems.len() == items.len() => {
                for (p, item) in s.elems.iter().zip(items) {
                    self.bind_let(p, item, rest);
                }
            }
            (Pat::Slice(s), Item::View(v)) => self.bind_let_slice(s, v, rest),
            (p, item) => self.bind_let(p, item, rest),
        }
    }

    /// `let (s, c) = x.sin_cos();`, or by path, `f64::sin_cos(x)`, `T::sin_cos(x)`: the sine and
    /// the cosine of one value, a pair of nodes.
    #[inline(never)]
    fn sin_cos(&mut self, init: &Expr) -> Option<Item> {
        let (x, float) = match strip(init) {
            Expr::MethodCall(m)
                if m.method == "sin_cos" && m.args.is_empty() && m.turbofish.is_none() =>
            {
                (&*m.receiver, None)
            }
            Expr::Call(c) if c.args.len() == 1 => {
                let Expr::Path(p) = strip(&c.func) else {
                    return None;
                };
                let segments = &p.path.segments;
                let n = segments.len();
                if n < 2 || segments[n - 1].ident != "sin_cos" || p.qself.is_some() {
                    return None;
                }
                let owner = &segments[n - 2].ident;
                let float = if owner == "f64" {
                    Some(graph::FloatTy::F64)
                } else if owner == "f32" {
                    Some(graph::FloatTy::F32)
                } else if owner == "Float" || super::generic::is_float_param(owner) {
                    None
                } else {
                    return None;
                };
                (&c.args[0], float)
            }
            _ => return None,
        };
        let span = init.span();
        let x = self.expr(x);
        let ty = float.map_or(self.nodes[x.0].ty, |t| Ty::Float(Some(t)));
        let sin = self.push(Op::Prim(Prim::Sin), vec![x], ty, span);
        let cos = self.push(Op::Prim(Prim::Cos), vec![x], ty, span);
        Some(Item::Tuple(vec![Item::Value(sin), Item::Value(cos)]))
    }

    /// `let (a, b) = x.split_at(n);` or `x.split_at_mut(n)`: two views of `x`, `x[..n]` and
    /// `x[n..]`, writable for `split_at_mut` of a buffer or an out-parameter. The generated code
    /// indexes `x` itself, after the check `split_at` makes (`n <= x.len()`).
    fn let_split(&mut self, pat: &Pat, m: &syn::ExprMethodCall) {
        let mutable = m.method == "split_at_mut";
        if mutable && !self.writable_array(&m.receiver) {
            self.errors.push(err(
                &m.receiver,
                "`split_at_mut` of an array this function cannot write: split a local buffer or an out-parameter `&mut [f64]`, or use `split_at` to read",
            ));
            self.fail_names(pat);
            return;
        }
        let names: Option<Vec<&Pat>> = match pat {
            Pat::Tuple(t)
                if t.elems.len() == 2 && t.elems.iter().all(|p| {
                    matches!(p, Pat::Wild(_))
                        || matches!(p, Pat::Ident(i) if i.by_ref.is_none() && i.subpat.is_none())
                }) =>
            {
                Some(t.elems.iter().collect())
            }
            _ => None,
        };
        let Some(names) = names else {
            self.errors.push(err(
                pat,
                format!(
                    "bind the two parts to names: `let (a, b) = x.{}(n);`",
                    m.method
                ),
            ));
            self.fail_names(pat);
            return;
        };
        let span = m.span();
        let base = self.view_of(&m.receiver).expect("checked by names_array");
        let at = self.expr(&m.args[0]);
        if !matches!(self.nodes[at.0].ty, Ty::Int) {
            self.errors.push(err(
                &m.args[0],
                "the index to split at is an integer: write `x.split_at(n)` with `n: usize`",
            ));
            self.fail_names(pat);
            return;
        }
        let len = self.view_len(base, span);
        let within = self.push(Op::Cmp(CmpOp::Le), vec![at, len], Ty::Bool, span);
        self.emit(graph::Stmt::Assert {
            mac: syn::Ident::new("assert", span),
            operands: 1,
            args: vec![within],
            message: Some(quote::quote!("mid > len")),
        });
        let (first, second) = match base.offset {
            Some(o) => (o, self.iop(Prim::Add, o, at, span)),
            None => (self.int(0, span), at),
        };
        let rest = self.iop(Prim::Sub, len, at, span);
        let parts = [(first, at), (second, rest)];
        for (p, (offset, len)) in names.into_iter().zip(parts) {
            if let Pat::Ident(i) = p {
                let view = View {
                    var: base.var,
                    offset: Some(offset),
                    len: Some(len),
                    end: None,
                    refs: 0,
                };
                self.bind(&i.ident, Bound::View(view), mutable);
            }
        }
    }

    /// Whether a function can write the array an expression names: an out-parameter, a local
    /// array or buffer, a `mut` array parameter, or a writable view.
    pub(super) fn writable_array(&self, e: &Expr) -> bool {
        match strip(e) {
            Expr::Index(i) => self.writable_array(&i.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.writable_array(&u.expr),
            e => match self.local_binding(e) {
                Some((Bound::Var(v), writable)) => {
                    writable
                        || self.vars[v.0]
                            .param
                            .is_some_and(|p| self.out_params.contains(&p))
                }
                Some((Bound::View(_), writable)) => writable,
                _ => false,
            },
        }
    }

    /// Binds a pattern of a `let`: a mutable name a later branch or loop assigns becomes a
    /// variable, as in a plain `let mut`.
    fn bind_let(&mut self, pat: &Pat, item: Item, rest: &[Stmt]) {
        match (pat, item) {
            (Pat::Ident(p), Item::Value(n)) if p.subpat.is_none() && p.by_ref.is_none() => {
                self.bind_value(&p.ident, n, p.mutability.is_some(), rest);
            }
            (Pat::Tuple(t), Item::Tuple(items))
                if t.elems.len() == items.len()
                    && !t.elems.iter().any(|p| matches!(p, Pat::Rest(_))) =>
            {
                for (p, item) in t.elems.iter().zip(items) {
                    self.bind_let(p, item, rest);
                }
            }
            (Pat::Slice(s), Item::View(v)) => self.bind_let_slice(s, v, rest),
            (p @ Pat::Tuple(_), Item::Value(_)) => {
                self.errors.push(err(
                    p,
                    "only a tuple written out, `let (a, b) = (x, y);`, can be destructured: bind the parts one by one",
                ));
                self.fail_names(p);
            }
            (p, item) => self.bind_item(p, item),
        }
    }

    fn bind_let_slice(&mut self, s: &syn::PatSlice, view: View, rest: &[Stmt]) {
        if s.elems.iter().any(|p| matches!(p, Pat::Rest(_))) {
            self.bind_slice(s, view);
            return;
        }
        let span = s.span();
        for (k, p) in s.elems.iter().enumerate() {
            let index = self.int(k as i128, span);
            let n = self.view_load(view, index, span);
            self.bind_let(p, Item::Value(n), rest);
        }
    }

    /// The scrutinee of a `match`: a value, or a tuple of them, `match (k, flag)`.
    fn scrutinee(&mut self, e: &Expr) -> Scrutinee {
        match strip(e) {
            Expr::Tuple(t) => Scrutinee::Tuple(t.elems.iter().map(|e| self.scrutinee(e)).collect()),
            e => Scrutinee::Value(self.expr(e)),
        }
    }

    /// The test of a `match` pattern against the scrutinee, and binds its names; `None` when
    /// the pattern matches everything.
    fn pattern_test(&mut self, pat: &Pat, s: &Scrutinee) -> Option<NodeId> {
        let span = pat.span();
        let s = match (pat, s) {
            (Pat::Wild(_), _) => return None,
            (Pat::Paren(p), s) => return self.pattern_test(&p.pat, s),
            (Pat::Or(o), s) => {
                let mut any: Option<NodeId> = None;
                for case in &o.cases {
                    let t = self.pattern_test(case, s)?;
                    any = Some(match any {
                        Some(a) => self.push(Op::Or, vec![a, t], Ty::Bool, span),
                        None => t,
                    });
                }
                return any;
            }
            (Pat::Tuple(t), Scrutinee::Tuple(parts))
                if t.elems.len() == parts.len()
                    && !t.elems.iter().any(|p| matches!(p, Pat::Rest(_))) =>
            {
                let mut all: Option<NodeId> = None;
                for (p, part) in t.elems.iter().zip(parts) {
                    if let Some(t) = self.pattern_test(p, part) {
                        all = Some(match all {
                            Some(a) => self.push(Op::And, vec![a, t], Ty::Bool, span),
                            None => t,
                        });
                    }
                }
                return all;
            }
            (_, Scrutinee::Value(s)) => *s,
            (other, Scrutinee::Tuple(_)) => {
                self.errors.push(err(
                    other,
                    "match a tuple with a tuple pattern of the same length, as in `(0, true)`",
                ));
                self.fail_names(other);
                return Some(self.bool_lit(true, span));
            }
        };
        match pat {
            Pat::Wild(_) => None,
            // A constant or a unit variant named by an identifier: `matches!` leaves the
            // choice to rustc, as the pattern is written.
            Pat::Ident(p) if constant_pattern(p) => {
                let ident = &p.ident;
                // A `const` of a block is renamed where the generated functions declare it.
                let tokens = match self.lookup(&ident.to_string()).map(|b| b.bound) {
                    Some(Bound::Node(n)) if let Op::Const(t) = &self.nodes[n.0].op => t.clone(),
                    _ => quote::quote!(#ident),
                };
                let v = self.push(Op::Const(tokens), vec![], Ty::Other, span);
                Some(self.push(Op::Cmp(CmpOp::Is), vec![s, v], Ty::Bool, span))
            }
            Pat::Ident(p) => {
                if p.by_ref.is_some() {
                    self.errors.push(err(
                        p,
                        "`ref` bindings are not supported: bind a plain name",
                    ));
                }
                self.bind(&p.ident, Bound::Node(s), p.mutability.is_some());
                p.subpat
                    .as_ref()
                    .and_then(|(_, sub)| self.pattern_test(sub, &Scrutinee::Value(s)))
            }
            Pat::Lit(l) => {
                if let syn::Lit::Bool(b) = &l.lit {
                    return Some(if b.value {
                        s
                    } else {
                        self.push(Op::Not, vec![s], Ty::Bool, span)
                    });
                }
                let v = self.lit(&l.lit);
                Some(self.push(Op::Cmp(CmpOp::Eq), vec![s, v], Ty::Bool, span))
            }
            // A `const` or an enum's unit variant: `matches!`, as the pattern is written, so
            // that an enum without `PartialEq` compiles.
            Pat::Path(p) => {
                let v = self.path(p);
                Some(self.push(Op::Cmp(CmpOp::Is), vec![s, v], Ty::Bool, span))
            }
            Pat::Range(r) => {
                let mut test: Option<NodeId> = None;
                if let Some(start) = &r.start {
                    let a = self.expr(start);
                    test = Some(self.push(Op::Cmp(CmpOp::Le), vec![a, s], Ty::Bool, span));
                }
                if let Some(end) = &r.end {
                    let b = self.expr(end);
                    let op = match r.limits {
                        syn::RangeLimits::Closed(_) => CmpOp::Le,
                        syn::RangeLimits::HalfOpen(_) => CmpOp::Lt,
                    };
                    let t = self.push(Op::Cmp(op), vec![s, b], Ty::Bool, span);
                    // `if a <= k { k <= b } else { false }`: both bounds, without the
                    // `a <= k && k <= b` that reads as a hand-written `contains`.
                    test = Some(match test {
                        Some(a) => {
                            let no = self.bool_lit(false, span);
                            self.push(Op::Select, vec![a, t, no], Ty::Bool, span)
                        }
                        None => t,
                    });
                }
                test
            }
            other => {
                self.errors.push(err(
                    other,
                    "`match` patterns may be integer or `bool` literals, ranges `a..=b`, `|`, names, `_` and guards `k if k < 0`",
                ));
                Some(self.bool_lit(true, span))
            }
        }
    }

    /// `match` as a statement, or as a value assigned to `target`: an `if` / `else if` chain.
    pub(super) fn match_(&mut self, m: &syn::ExprMatch, target: Option<&Target>) {
        let s = self.scrutinee(&m.expr);
        if m.arms.is_empty() {
            self.errors
                .push(err(m, "a `match` without arms cannot be differentiated"));
            return;
        }
        if m.arms.len() > max_chain() {
            met_limit();
            self.errors.push(err(
                m.match_token,
                format!(
                    "`match` with more than {} arms: split it, or move part of it into a function",
                    max_chain()
                ),
            ));
            return;
        }
        self.arms(&m.arms, &s, target);
    }

    fn arms(&mut self, arms: &[syn::Arm], s: &Scrutinee, target: Option<&Target>) {
        let Some((arm, rest)) = arms.split_first() else {
            return;
        };
        let (pat, guard) = match &arm.pat {
            Pat::Guard(g) => (&*g.pat, Some(&*g.guard)),
            p => (p, None),
        };
        self.scopes.open();
        let test = self.pattern_test(pat, s);
        // The last arm runs when no other did: `match` is exhaustive, so its test (and a
        // guard, which makes it unreachable) need not be checked.
        let unconditional = rest.is_empty() || guard.is_none() && irrefutable(pat);
        if unconditional {
            let body = self.arm_body(&arm.body, target);
            self.emit_all(body);
            self.scopes.close();
            return;
        }
        let test = match (test, guard) {
            (Some(t), Some(g)) => {
                let g = self.expr(g);
                self.push(Op::And, vec![t, g], Ty::Bool, arm.body.span())
            }
            (None, Some(g)) => self.expr(g),
            (Some(t), None) => t,
            (None, None) => unreachable!("an unconditional arm is handled above"),
        };
        let then = self.arm_body(&arm.body, target);
        self.scopes.close();
        self.depth += 1;
        let otherwise = self.nested(|cx| cx.arms(rest, s, target));
        self.depth -= 1;
        self.forget();
        self.emit(graph::Stmt::If {
            cond: test,
            then,
            otherwise,
        });
    }

    fn arm_body(&mut self, body: &Expr, target: Option<&Target>) -> graph::Block {
        match (body, target) {
            (Expr::Block(b), _) if b.label.is_none() => self.branch(&b.block, target),
            // `_ => return x,`: the arm leaves, and the target gets a constant nothing reads.
            (e, Some(t)) if super::expr_diverges(e) => self.nested(|cx| {
                cx.set_dummy(t, e.span());
                cx.effect(e);
            }),
            (e, Some(t)) => self.nested(|cx| cx.assign_to(e, t)),
            (e, None) => self.nested(|cx| cx.effect(e)),
        }
    }

    /// A `match` used as a value: its arms assign a variable, read after it.
    pub(super) fn match_value(&mut self, m: &syn::ExprMatch) -> NodeId {
        let span = m.match_token.span;
        let v = self.var("value_of_if", Ty::Float(None), Shape::Scalar, span);
        self.emit(graph::Stmt::Declare(v, None));
        self.match_(m, Some(&Target::Var(v)));
        self.read(v, span)
    }

    /// A macro used as a statement: an assertion is kept; anything else is an error.
    pub(super) fn macro_stmt(&mut self, mac: &syn::Macro) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        match name.as_str() {
            "assert" | "debug_assert" | "assert_eq" | "assert_ne" | "debug_assert_eq"
            | "debug_assert_ne" => self.assertion(mac, &name),
            _ => self.errors.push(macro_error(mac, &name)),
        }
    }

    /// A macro used as a value.
    pub(super) fn macro_value(&mut self, mac: &syn::Macro) -> NodeId {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        self.fail(macro_error(mac, &name))
    }

    /// `assert!(cond)`, `assert_eq!(a, b, "message {}", x)`: the operands and the message's
    /// arguments are lowered, and the assertion is a statement of the forward sweep.
    fn assertion(&mut self, mac: &syn::Macro, name: &str) {
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        let args = match mac.parse_body_with(parser) {
            Ok(a) => a,
            Err(e) => {
                self.errors.push(e);
                return;
            }
        };
        let operands = if name.ends_with("_eq") || name.ends_with("_ne") {
            2
        } else {
            1
        };
        let args: Vec<&Expr> = args.iter().collect();
        if args.len() < operands {
            self.errors
                .push(err(mac, format!("`{name}!` takes {operands} operand(s)")));
            return;
        }
        let mut message = None;
        if let Some(m) = args.get(operands) {
            let Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = strip(m)
            else {
                self.errors.push(err(
                    m,
                    "the message of an assertion must be a string literal",
                ));
                return;
            };
            message = Some(s.clone());
        }
        let mut ids = Vec::new();
        for (k, a) in args.iter().enumerate() {
            if k == operands {
                continue;
            }
            ids.push(self.expr(a));
        }
        // `"x = {x}"`: each name captured inline becomes an argument after the others, named
        // by its position, `"x = {1}", x`, so that it is lowered (and renamed) like them.
        if let Some(s) = &message
            && captures_names(&s.value())
        {
            let explicit = args.len() - operands - 1;
            let (text, names) = inline_names(&s.value(), explicit);
            for name in &names {
                let ident = syn::Ident::new(name, s.span());
                let path: Expr = syn::parse_quote!(#ident);
                ids.push(self.expr(&path));
            }
            message = Some(syn::LitStr::new(&text, s.span()));
        }
        let mac_name = syn::Ident::new(name, mac.path.span());
        self.emit(graph::Stmt::Assert {
            mac: mac_name,
            operands,
            args: ids,
            message: message.map(|m| m.to_token_stream()),
        });
    }
}

/// The parts of a value lowered part by part: a number, an array of the length written, or a
/// tuple.
#[derive(Clone)]
pub(super) enum Parts {
    Scalar,
    Array(proc_macro2::TokenStream),
    Tuple(Vec<Parts>),
}

/// A closure bound with `let` that returns an array or a tuple: the closures that compute each
/// element, in order (an array's elements, then a tuple's parts depth first).
pub(super) struct Projection {
    parts: Parts,
    elements: Vec<usize>,
}

/// One step into a value: an element of an array, or a part of a tuple.
#[derive(Clone, Copy)]
enum Step {
    Index(usize),
    Field(usize),
}

/// The literal length of an array's parts, `[a, b]` or `[v; 3]`.
fn literal_len(len: &proc_macro2::TokenStream) -> Option<usize> {
    syn::parse2::<syn::LitInt>(len.clone())
        .ok()?
        .base10_parse::<usize>()
        .ok()
}

/// The paths to each number of a value of these parts, in order.
fn leaves(parts: &Parts) -> Option<Vec<Vec<Step>>> {
    match parts {
        Parts::Scalar => Some(vec![Vec::new()]),
        Parts::Array(len) => Some(
            (0..literal_len(len)?)
                .map(|k| vec![Step::Index(k)])
                .collect(),
        ),
        Parts::Tuple(ps) => {
            let mut all = Vec::new();
            for (k, p) in ps.iter().enumerate() {
                for mut path in leaves(p)? {
                    path.insert(0, Step::Field(k));
                    all.push(path);
                }
            }
            Some(all)
        }
    }
}

/// The expression a block ends with, if it ends with one.
fn tail_of(b: &syn::Block) -> Option<&Expr> {
    match b.stmts.last() {
        Some(Stmt::Expr(e, None)) => Some(e),
        _ => None,
    }
}

/// The expression for one element of an array- or tuple-valued expression: `[a, b]` gives
/// `a` or `b`; a block, an `if` and a `match` keep their statements and conditions, and each
/// of their values gives its element; anything else is indexed, `e[k]` or `e.k`.
fn project(e: &Expr, step: Step) -> Expr {
    match (e, step) {
        (Expr::Paren(p), _) => project(&p.expr, step),
        (Expr::Group(g), _) => project(&g.expr, step),
        (Expr::Array(a), Step::Index(k)) if k < a.elems.len() => a.elems[k].clone(),
        (Expr::Repeat(r), Step::Index(_)) => (*r.expr).clone(),
        (Expr::Tuple(t), Step::Field(k)) if k < t.elems.len() => t.elems[k].clone(),
        (Expr::Block(b), _) if b.label.is_none() => {
            let mut b = b.clone();
            project_block(&mut b.block, step);
            Expr::Block(b)
        }
        (Expr::If(i), _) => {
            let mut i = i.clone();
            project_block(&mut i.then_branch, step);
            if let Some((_, els)) = &mut i.else_branch {
                **els = project(els, step);
            }
            Expr::If(i)
        }
        (Expr::Match(m), _) => {
            let mut m = m.clone();
            for arm in &mut m.arms {
                *arm.body = project(&arm.body, step);
            }
            Expr::Match(m)
        }
        (e, _) if super::expr_diverges(e) => e.clone(),
        (e, Step::Index(k)) => {
            let k = Literal::usize_unsuffixed(k);
            syn::parse_quote_spanned!(e.span()=> (#e)[#k])
        }
        (e, Step::Field(k)) => {
            let k = syn::Index::from(k);
            syn::parse_quote_spanned!(e.span()=> (#e).#k)
        }
    }
}

fn project_block(b: &mut syn::Block, step: Step) {
    if let Some(Stmt::Expr(e, None)) = b.stmts.last_mut()
        && !super::expr_diverges(e)
    {
        *e = project(e, step);
    }
}

impl Lowerer {
    /// Whether an expression chooses or computes an array or tuple value that is lowered part by
    /// part: an `if`, a `match`, a block, or a call of a closure returning one.
    fn chooses_parts(&self, e: &Expr) -> bool {
        match strip(e) {
            Expr::If(_) | Expr::Match(_) => true,
            Expr::Block(b) => b.label.is_none(),
            _ => self.projected_call(e).is_some(),
        }
    }

    /// The closure bound with `let` that an expression calls, when it returns an array or a
    /// tuple.
    pub(super) fn projected_call(&self, e: &Expr) -> Option<usize> {
        let Expr::Call(c) = strip(e) else {
            return None;
        };
        let Expr::Path(p) = strip(&c.func) else {
            return None;
        };
        let ident = p.path.get_ident()?;
        match self.lookup(&ident.to_string())?.bound {
            Bound::Closure(k) if self.projections.contains_key(&k) => Some(k),
            _ => None,
        }
    }

    /// The parts of an expression's value, from the first branch that writes them out; `None`
    /// when nothing shows them. With `names`, a local array's name is an array too.
    pub(super) fn parts_of(&self, e: &Expr, names: bool) -> Option<Parts> {
        match strip(e) {
            Expr::Array(a) => Some(Parts::Array(
                Literal::usize_unsuffixed(a.elems.len()).into_token_stream(),
            )),
            Expr::Repeat(r) => Some(Parts::Array(r.len.to_token_stream())),
            Expr::Tuple(t) if !t.elems.is_empty() => Some(Parts::Tuple(
                t.elems
                    .iter()
                    .map(|e| self.parts_of(e, names).unwrap_or(Parts::Scalar))
                    .collect(),
            )),
            Expr::If(i) => tail_of(&i.then_branch)
                .and_then(|e| self.parts_of(e, names))
                .or_else(|| {
                    i.else_branch
                        .as_ref()
                        .and_then(|(_, e)| self.parts_of(e, names))
                }),
            Expr::Match(m) => m.arms.iter().find_map(|a| self.parts_of(&a.body, names)),
            Expr::Block(b) if b.label.is_none() => {
                tail_of(&b.block).and_then(|e| self.parts_of(e, names))
            }
            Expr::Call(_) => {
                let k = self.projected_call(e)?;
                Some(self.projections[&k].parts.clone())
            }
            Expr::Path(_) if names => match self.local_binding(e) {
                Some((Bound::Var(v), _)) => match &self.vars[v.0].shape {
                    Shape::Array { len, .. } => Some(Parts::Array(len.clone())),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// `let pair = |a: f64| [a * a, a.sin()];`: one closure per element, each the body with
    /// only that element's value, so that `pair(x)` can be stored element by element.
    fn project_closure(&mut self, c: &syn::ExprClosure) {
        if c.asyncness.is_some() || super::mentions(c.body.to_token_stream(), "return") {
            return;
        }
        let Some(parts) = self.parts_of(&c.body, false) else {
            return;
        };
        if matches!(parts, Parts::Scalar) {
            return;
        }
        let Some(paths) = leaves(&parts) else {
            return;
        };
        let mut elements = Vec::new();
        for path in paths {
            let mut body = (*c.body).clone();
            for step in path {
                body = project(&body, step);
            }
            let mut part = c.clone();
            *part.body = body;
            part.output = syn::ReturnType::Default;
            // Bound in a scope of its own: the element closures have no name in the body.
            self.scopes.open();
            let ident = syn::Ident::new("element", c.span());
            self.bind_closure(&ident, &part);
            self.scopes.close();
            elements.push(self.closures.len() - 1);
        }
        // The closure itself is bound next, at this index.
        self.projections
            .insert(self.closures.len(), Projection { parts, elements });
    }

    /// A variable for each part, named by the pattern where it names one, declared before the
    /// branches assign it.
    fn declare_target(&mut self, parts: &Parts, pat: Option<&Pat>, span: Span) -> Target {
        let pat = match pat {
            Some(Pat::Type(t)) => Some(&*t.pat),
            Some(Pat::Paren(p)) => Some(&*p.pat),
            p => p,
        };
        let name = match pat {
            Some(Pat::Ident(i)) => i.ident.to_string(),
            _ => "part".to_owned(),
        };
        match parts {
            Parts::Scalar => {
                let v = self.var(&name, Ty::Float(None), Shape::Scalar, span);
                self.emit(graph::Stmt::Declare(v, None));
                Target::Var(v)
            }
            Parts::Array(len) => {
                let v = self.var(
                    &name,
                    Ty::Float(None),
                    Shape::Array {
                        len: len.clone(),
                        by_ref: false,
                    },
                    span,
                );
                self.declare_array(v, span);
                Target::Array(v)
            }
            Parts::Tuple(ps) => {
                let subs: Vec<Option<&Pat>> = match pat {
                    Some(Pat::Tuple(t)) if t.elems.len() == ps.len() => {
                        t.elems.iter().map(Some).collect()
                    }
                    _ => vec![None; ps.len()],
                };
                Target::Tuple(
                    ps.iter()
                        .zip(subs)
                        .map(|(p, s)| self.declare_target(p, s, span))
                        .collect(),
                )
            }
        }
    }

    /// Assigns a value to variables just declared for it; an array of integers gets integer
    /// zeros where it was declared.
    fn assign_declared(&mut self, e: &Expr, target: &Target) {
        let declared = self.nodes.len();
        self.assign_to(e, target);
        self.integer_arrays(target, declared);
    }

    fn integer_arrays(&mut self, target: &Target, before: usize) {
        match target {
            Target::Var(_) => {}
            Target::Array(v) => {
                if self.vars[v.0].ty != Ty::Int {
                    return;
                }
                // The zero and the fill that `declare_array` pushed for it.
                for n in (0..before).rev() {
                    let node = &self.nodes[n];
                    if matches!(node.op, Op::Fill(_)) && node.ty == Ty::Float(None) {
                        let zero = node.args[0];
                        self.nodes[n].ty = Ty::Int;
                        self.nodes[zero.0].ty = Ty::Int;
                        self.nodes[zero.0].op = Op::Lit(LitValue::Int(0), None);
                        break;
                    }
                }
            }
            Target::Tuple(ts) => {
                for t in ts {
                    self.integer_arrays(t, before);
                }
            }
        }
    }

    /// The value of declared variables, as the item a pattern binds.
    fn target_item(&mut self, target: &Target, span: Span) -> Item {
        match target {
            Target::Var(v) => Item::Value(self.read(*v, span)),
            Target::Array(v) => Item::View(View {
                var: *v,
                offset: None,
                len: None,
                end: None,
                refs: 0,
            }),
            Target::Tuple(ts) => {
                Item::Tuple(ts.iter().map(|t| self.target_item(t, span)).collect())
            }
        }
    }

    /// On a path that leaves, a constant for each scalar part, which nothing reads: the
    /// variables are set on every path.
    pub(super) fn set_dummy(&mut self, target: &Target, span: Span) {
        match target {
            Target::Var(v) => {
                let dummy = self.dummy(*v, span);
                self.set(*v, dummy);
            }
            Target::Array(_) => {}
            Target::Tuple(ts) => {
                for t in ts {
                    self.set_dummy(t, span);
                }
            }
        }
    }

    /// `target = e`, part by part. Every part is computed before any is stored, so that
    /// `q = [q[1], q[0]];` reads the old elements.
    pub(super) fn assign_to(&mut self, e: &Expr, target: &Target) {
        let span = e.span();
        let len = match target {
            Target::Var(v) => {
                let value = self.expr(e);
                self.set(*v, value);
                return;
            }
            Target::Array(v) => match &self.vars[v.0].shape {
                Shape::Array { len, .. } => Some(len.clone()),
                _ => None,
            },
            Target::Tuple(_) => None,
        };
        match (strip(e), target) {
            (Expr::If(i), _) => self.if_(i, Some(target)),
            (Expr::Match(m), _) => self.match_(m, Some(target)),
            (Expr::Block(b), _) if b.label.is_none() => {
                let block = self.branch(&b.block, Some(target));
                self.emit_all(block);
            }
            (Expr::Array(a), Target::Array(v)) => {
                if let Some(n) = len.as_ref().and_then(literal_len)
                    && n != a.elems.len()
                {
                    self.errors.push(err(
                        a,
                        format!("expected an array of {n} elements, found {}", a.elems.len()),
                    ));
                    return;
                }
                let values: Vec<NodeId> = a.elems.iter().map(|e| self.expr(e)).collect();
                for (k, value) in values.into_iter().enumerate() {
                    self.store_element(*v, k, value, span);
                }
                self.forget();
            }
            (Expr::Repeat(r), Target::Array(v)) => {
                let value = self.expr(&r.expr);
                self.store_each(*v, span, &mut |_, _| value);
            }
            (Expr::Tuple(t), Target::Tuple(ts)) if t.elems.len() == ts.len() => {
                for (e, t) in t.elems.iter().zip(ts) {
                    self.assign_to(e, t);
                }
            }
            (Expr::Call(c), _) if self.projected_call(e).is_some() => {
                let k = self.projected_call(e).expect("checked by the guard");
                let elements = self.projections[&k].elements.clone();
                let parts = self.projections[&k].parts.clone();
                let args: Vec<&Expr> = c.args.iter().collect();
                let values: Vec<NodeId> = elements
                    .iter()
                    .map(|&j| self.call_closure(j, &args, span))
                    .collect();
                let mut values = values.into_iter();
                self.store_parts(target, &parts, &mut values, e);
                self.forget();
            }
            (_, Target::Array(v)) if self.names_array(e) => {
                let view = self.view_of(e).expect("checked by names_array");
                let v = *v;
                // All loads first: the source may be the array itself.
                self.store_each(v, span, &mut |cx, k| cx.view_load(view, k, span));
            }
            (_, Target::Array(_)) => self.errors.push(err(
                e,
                "an array value here is an array literal `[a, b]`, `[v; N]`, an array's name, a call of a closure returning an array, or an `if`, `match` or block ending in one",
            )),
            _ => self.errors.push(err(
                e,
                "a tuple value here is written out, `(a, b)`, or is a call of a closure returning a tuple, or an `if`, `match` or block ending in one",
            )),
        }
    }

    /// Stores the values of a closure's elements, in order, into the target.
    fn store_parts(
        &mut self,
        target: &Target,
        parts: &Parts,
        values: &mut dyn Iterator<Item = NodeId>,
        e: &Expr,
    ) {
        let span = e.span();
        match (target, parts) {
            (Target::Var(v), Parts::Scalar) => {
                if let Some(value) = values.next() {
                    self.set(*v, value);
                }
            }
            (Target::Array(v), Parts::Array(len)) => {
                for k in 0..literal_len(len).unwrap_or(0) {
                    if let Some(value) = values.next() {
                        self.store_element(*v, k, value, span);
                    }
                }
            }
            (Target::Tuple(ts), Parts::Tuple(ps)) if ts.len() == ps.len() => {
                for (t, p) in ts.iter().zip(ps) {
                    self.store_parts(t, p, values, e);
                }
            }
            _ => self.errors.push(err(
                e,
                "this closure's value does not have the parts the binding expects: bind it with a pattern of its shape, `let [a, b] = f(x);` or `let (u, v) = f(x);`",
            )),
        }
    }

    /// `v[k] = value`.
    fn store_element(&mut self, v: VarId, k: usize, value: NodeId, span: Span) {
        self.type_store(v, value);
        let index = self.int(k as i128, span);
        self.emit(graph::Stmt::Store {
            var: v,
            index,
            value,
        });
    }

    /// `for k in 0..v.len() { v[k] = value(k); }`.
    fn store_each(
        &mut self,
        v: VarId,
        span: Span,
        value: &mut dyn FnMut(&mut Self, NodeId) -> NodeId,
    ) {
        let whole = View {
            var: v,
            offset: None,
            len: None,
            end: None,
            refs: 0,
        };
        let count = self.view_len(whole, span);
        self.fill_loop(v, count, span, value);
    }
}

/// Whether a format string names an argument inline (`{x}`), which the generated code could
/// not resolve.
fn captures_names(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' {
            match chars.peek() {
                Some('{') => {
                    chars.next();
                }
                Some(c) if c.is_alphabetic() || *c == '_' => return true,
                _ => {}
            }
        }
    }
    false
}

/// The format string `s` with each name captured inline (`{x}`, `{x:.3}`) replaced by the
/// position of an argument after the `explicit` ones (`{1}`, `{1:.3}`), and the names in order
/// (a name captured twice is one argument).
fn inline_names(s: &str, explicit: usize) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut names: Vec<String> = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '{' {
            continue;
        }
        if chars.peek() == Some(&'{') {
            out.push(chars.next().expect("peeked"));
            continue;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek()
            && (c.is_alphanumeric() || c == '_')
        {
            name.push(c);
            chars.next();
        }
        if name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
            let at = match names.iter().position(|n| *n == name) {
                Some(k) => k,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            out.push_str(&(explicit + at).to_string());
        } else {
            out.push_str(&name);
        }
    }
    (out, names)
}

fn macro_error(mac: &syn::Macro, name: &str) -> syn::Error {
    let message = match name {
        "vec" => {
            "`vec!` is not supported in a differentiated function: use a fixed-size local array, as in `let mut h = [0.0; N];`".to_owned()
        }
        "println" | "print" | "eprintln" | "eprint" | "dbg" | "format" | "write" | "writeln" => {
            format!("`{name}!` is not supported in a differentiated function: print outside it, or assert with `assert!`")
        }
        _ => format!(
            "the macro `{name}!` is not supported in a differentiated function: write the computation with supported expressions (`assert!`, `debug_assert!`, `assert_eq!` and `assert_ne!` are kept)"
        ),
    };
    err(mac, message)
}
