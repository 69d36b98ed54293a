//! Run-time-sized local buffers: `let mut q = vec![0.0; n];`, `let mut q = x.to_vec();`.
//!
//! A buffer is a local array whose length is an integer node computed where it is declared
//! ([`Shape::Buffer`]). It is read, stored into and passed to calls as a local `[0.0; N]` is;
//! `q.len()` is that length node, so the backward sweep can recompute or save it like any
//! integer. The reverse pass gives it an adjoint buffer of the same length, the forward pass a
//! tangent buffer.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, GenericArgument, PathArguments, Type};

use super::iter::View;
use super::{Bound, Lowerer, err, float_type, strip};
use crate::graph::{self, FloatTy, LitValue, Op, Shape, Ty};
use crate::prim::Prim;

/// What the value of a `let` allocates, when it is a growable vector.
pub(super) enum Alloc<'a> {
    /// `vec![value; len]`.
    Repeat(syn::ExprRepeat, Span),
    /// `x.to_vec()`: a buffer holding a copy of an array, a slice or a part of one.
    Copy(&'a Expr, Span),
    /// `vec![a, b]`, `Vec::new()`, `Vec::with_capacity(n)`: refused, with what to write.
    Refused(&'a Expr, &'static str),
}

/// Whether `init` allocates a vector, and how.
pub(super) fn alloc(init: &Expr) -> Option<Alloc<'_>> {
    match strip(init) {
        Expr::Macro(m) if m.mac.path.is_ident("vec") => {
            let tokens = &m.mac.tokens;
            match syn::parse2::<syn::ExprRepeat>(quote::quote!([#tokens])) {
                Ok(r) => Some(Alloc::Repeat(r, m.span())),
                Err(_) => Some(Alloc::Refused(
                    init,
                    "only `vec![value; length]` buffers are supported: write `vec![0.0; n]`, then store into its elements",
                )),
            }
        }
        Expr::MethodCall(m) if m.method == "to_vec" && m.args.is_empty() => {
            Some(Alloc::Copy(&m.receiver, m.span()))
        }
        Expr::Call(c) => match strip(&c.func) {
            Expr::Path(p)
                if p.path.segments.len() == 2
                    && p.path.segments[0].ident == "Vec"
                    && ["new", "with_capacity"]
                        .iter()
                        .any(|n| p.path.segments[1].ident == n) =>
            {
                Some(Alloc::Refused(
                    init,
                    "a growing `Vec` (`Vec::new`, `Vec::with_capacity` and `push`) is not supported: allocate the buffer with its length, `vec![0.0; n]`, and store into its elements",
                ))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The element type of `Vec<f64>` (or `Vec<f32>`), for `let q: Vec<f64> = vec![..];`.
pub(super) fn vec_element(ty: &Type) -> Option<FloatTy> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => float_type(t),
        _ => None,
    }
}

/// The whole of an array, as a view.
pub(super) const fn whole(var: graph::VarId) -> View {
    View {
        var,
        offset: None,
        len: None,
        end: None,
        refs: 0,
    }
}

impl Lowerer {
    /// `let name = <alloc>;` for a vector allocation: a buffer, or the error that says what to
    /// write instead.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn vec_local(
        &mut self,
        local: &syn::Local,
        p: &syn::PatIdent,
        annotated: Option<FloatTy>,
        alloc: Alloc<'_>,
    ) {
        let annotated = annotated.or_else(|| match &local.pat {
            syn::Pat::Type(t) => vec_element(&t.ty),
            _ => None,
        });
        match alloc {
            Alloc::Repeat(r, span) => {
                self.buffer_local(&p.ident, p.mutability.is_some(), annotated, &r, span);
            }
            Alloc::Copy(source, span) if self.names_array(source) => {
                self.copy_local(&p.ident, p.mutability.is_some(), source, span);
            }
            Alloc::Copy(source, _) => {
                self.errors.push(err(
                    source,
                    "`to_vec` copies an array or a slice of floats: write `x.to_vec()` or `x[a..b].to_vec()`",
                ));
                self.bind(&p.ident, Bound::Failed, p.mutability.is_some());
            }
            Alloc::Refused(e, message) => {
                self.errors.push(err(e.to_token_stream(), message));
                // Bound all the same, to a buffer, so that indexing it reports nothing more.
                let len = self.push(Op::Lit(LitValue::Int(0), None), vec![], Ty::Int, e.span());
                let v = self.var(
                    &p.ident.to_string(),
                    Ty::Float(annotated),
                    Shape::Buffer(len),
                    p.ident.span(),
                );
                self.bind(&p.ident, Bound::Var(v), true);
            }
        }
    }

    /// `let [mut] name = x.to_vec();`: a buffer of `x`'s length, stored element by element.
    fn copy_local(&mut self, ident: &syn::Ident, mutable: bool, source: &Expr, span: Span) {
        let view = self.view_of(source).expect("checked by names_array");
        let len = self.view_len(view, span);
        let ty = self.vars[view.var.0].ty;
        let v = self.var(&ident.to_string(), ty, Shape::Buffer(len), ident.span());
        let zero = self.push(Op::Lit(LitValue::Float(0.0), None), vec![], ty, span);
        let init = self.push(Op::Vec, vec![zero, len], ty, span);
        self.emit(graph::Stmt::Declare(v, Some(init)));
        self.fill(whole(v), len, span, |cx, k| cx.view_load(view, k, span));
        self.bind(ident, Bound::Var(v), mutable);
    }

    /// A buffer holding a copy of `var[start..end]`: what a call reads of an array it also
    /// writes another part of (`g(q, &mut *v)` with `let (q, v) = state.split_at_mut(n);`).
    #[inline(never)]
    pub(super) fn copy_of_part(
        &mut self,
        var: graph::VarId,
        start: graph::NodeId,
        end: graph::NodeId,
        span: Span,
    ) -> graph::VarId {
        let len = self.iop(Prim::Sub, end, start, span);
        let source = View {
            var,
            offset: Some(start),
            len: Some(len),
            end: Some(end),
            refs: 0,
        };
        let ty = self.vars[var.0].ty;
        let name = format!("{}_read", self.vars[var.0].name);
        let v = self.var(&name, ty, Shape::Buffer(len), span);
        let zero = self.push(Op::Lit(LitValue::Float(0.0), None), vec![], ty, span);
        let init = self.push(Op::Vec, vec![zero, len], ty, span);
        self.emit(graph::Stmt::Declare(v, Some(init)));
        self.fill(whole(v), len, span, |cx, k| cx.view_load(source, k, span));
        v
    }

    /// `dst.copy_from_slice(src);` or `dst.fill(value);` as a statement, for an array this
    /// function can write (a local buffer or array, an out-parameter, a writable view): a loop
    /// that stores each element.
    pub(super) fn slice_write(&mut self, m: &syn::ExprMethodCall) {
        let span = m.span();
        let method = m.method.to_string();
        if !self.names_array(&m.receiver) || !self.writable_array(&m.receiver) {
            self.expr(&m.args[0]);
            self.errors.push(err(
                &m.receiver,
                format!("`{method}` writes an array: call it on a local buffer, an out-parameter `&mut [f64]` or a part of one, `&mut x[a..b]`"),
            ));
            return;
        }
        let dst = self.view_of(&m.receiver).expect("checked by names_array");
        let len = self.view_len(dst, span);
        if method == "fill" {
            let value = self.expr(&m.args[0]);
            self.fill(dst, len, span, |_, _| value);
            return;
        }
        let source = match strip(&m.args[0]) {
            Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
            e => e,
        };
        if !self.names_array(source) {
            self.expr(source);
            self.errors.push(err(
                &m.args[0],
                "`copy_from_slice` copies an array or a slice: write `dst.copy_from_slice(&x[a..b])`",
            ));
            return;
        }
        let src = self.view_of(source).expect("checked by names_array");
        let src_len = self.view_len(src, span);
        self.emit(graph::Stmt::Assert {
            mac: syn::Ident::new("assert_eq", span),
            operands: 2,
            args: vec![len, src_len],
            message: Some(quote::quote!(
                "source slice length does not match destination slice length"
            )),
        });
        self.fill(dst, len, span, |cx, k| cx.view_load(src, k, span));
    }

    /// `a.swap(i, j);` on an array this function can write: both elements loaded, then each
    /// stored where the other was, a permutation whose adjoints and tangents swap alike.
    #[inline(never)]
    pub(super) fn slice_swap(&mut self, m: &syn::ExprMethodCall) {
        let span = m.span();
        if !self.names_array(&m.receiver) || !self.writable_array(&m.receiver) {
            for a in &m.args {
                self.expr(a);
            }
            self.errors.push(err(
                &m.receiver,
                "`swap` permutes an array: call it on a local buffer or array, an out-parameter `&mut [f64]` or a part of one, `x[a..b].swap(i, j)`",
            ));
            return;
        }
        let view = self.view_of(&m.receiver).expect("checked by names_array");
        let mut at = Vec::new();
        for a in &m.args {
            let k = self.expr(a);
            at.push(match view.offset {
                Some(o) => self.offset_index(o, k, span),
                None => k,
            });
        }
        let ty = self.vars[view.var.0].ty;
        let first = self.push(Op::Load(view.var), vec![at[0]], ty, span);
        let second = self.push(Op::Load(view.var), vec![at[1]], ty, span);
        for (index, value) in [(at[0], second), (at[1], first)] {
            self.emit(graph::Stmt::Store {
                var: view.var,
                index,
                value,
            });
        }
        // Loads after a store read memory again.
        self.forget();
    }

    /// `for k in 0..len { dst[k] = value(k); }`.
    fn fill(
        &mut self,
        dst: View,
        len: graph::NodeId,
        span: Span,
        value: impl FnOnce(&mut Self, graph::NodeId) -> graph::NodeId,
    ) {
        let start = self.push(Op::Lit(LitValue::Int(0), None), vec![], Ty::Int, span);
        let counter = self.counters;
        self.counters += 1;
        let body = self.nested(|cx| {
            let k = cx.push(Op::Counter(counter), vec![], Ty::Int, span);
            cx.nodes[k.0].name = Some("k".to_owned());
            let value = value(cx, k);
            let index = match dst.offset {
                Some(o) => cx.offset_index(o, k, span),
                None => k,
            };
            cx.emit(graph::Stmt::Store {
                var: dst.var,
                index,
                value,
            });
        });
        self.emit(graph::Stmt::For(graph::Loop::counted(
            counter, "k", start, len, body,
        )));
    }

    /// `let [mut] name = vec![value; len];`: a buffer of run-time length.
    fn buffer_local(
        &mut self,
        ident: &syn::Ident,
        mutable: bool,
        annotated: Option<FloatTy>,
        r: &syn::ExprRepeat,
        span: Span,
    ) {
        let fill = self.expr(&r.expr);
        let len = self.expr(&r.len);
        if matches!(self.nodes[len.0].ty, Ty::Float(_)) {
            self.errors.push(err(
                &r.len,
                "the length of a buffer is an integer: write `vec![0.0; n]` with `n: usize`",
            ));
        }
        let ty = match (annotated, self.nodes[fill.0].ty) {
            (_, Ty::Float(Some(t))) | (Some(t), _) => Ty::Float(Some(t)),
            (None, Ty::Float(None)) => Ty::Float(None),
            (None, _) => {
                self.errors.push(err(
                    &r.expr,
                    "a buffer in a differentiated function holds floats: write `vec![0.0; n]`",
                ));
                Ty::Float(None)
            }
        };
        let name = ident.to_string();
        let v = self.var(&name, ty, Shape::Buffer(len), ident.span());
        // A constant fills the buffer as it is; any other value is stored into each element, so
        // that the stores carry its derivative.
        let constant = match strip(&r.expr) {
            Expr::Lit(_) => true,
            Expr::Path(_) => matches!(
                self.nodes[fill.0].op,
                Op::Lit(..) | Op::Const(_) | Op::Known(_)
            ),
            Expr::Unary(u) => {
                matches!(u.op, syn::UnOp::Neg(_)) && matches!(strip(&u.expr), Expr::Lit(_))
            }
            _ => false,
        };
        let first = if constant {
            fill
        } else {
            self.push(Op::Lit(LitValue::Float(0.0), None), vec![], ty, span)
        };
        let init = self.push(Op::Vec, vec![first, len], ty, span);
        self.emit(graph::Stmt::Declare(v, Some(init)));
        if !constant {
            self.fill(whole(v), len, span, |_, _| fill);
        }
        self.bind(ident, Bound::Var(v), mutable);
    }
}
