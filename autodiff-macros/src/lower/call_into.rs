//! Helpers that write into buffers.
//!
//! A differentiated function may take `&mut [f64]` (or `&mut [f64; N]`) out-parameters, which
//! it writes: `fn subtract(a: &[f64], b: &[f64], out: &mut [f64])`. Such a parameter is an
//! output of the function, like its return value: inside the function it is an array the body
//! stores into, and its adjoint is a seed the caller gives (see the README's convention).
//!
//! A call that passes `&mut buffer` is a statement that writes the whole buffer, lowered to
//! `Stmt::Assign(buffer, Invoke)`; the reverse pass reverses it through `g_vjp_into`, the
//! forward pass through `g_jvp`. A function passes its own out-parameter on as `out` (or
//! `&mut *out`): a call statement that passes one and no `&mut` writes it.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Type};

use super::{Bound, Lowerer, array_type, err, float_type, strip};
use crate::graph::{self, FloatTy, Invoke, Op, Pass, Shape, Ty};

/// `&mut [f64]`: the float type of an out-parameter.
pub(super) fn out_param_type(ty: &Type) -> Option<(Shape, Option<FloatTy>)> {
    let Type::Reference(r) = ty else { return None };
    r.mutability?;
    match &*r.elem {
        Type::Slice(s) => Some((Shape::Slice, float_type(&s.elem))),
        // Refused by `params`, and read as a slice meanwhile.
        Type::Array(a) => Some((Shape::Slice, float_type(&a.elem))),
        _ => None,
    }
}

/// The error for an out-parameter of a fixed-size array type.
pub(super) fn fixed_size_out(ty: &Type) -> Option<syn::Error> {
    let Type::Reference(r) = ty else { return None };
    r.mutability?;
    let Type::Array(a) = &*r.elem else {
        return None;
    };
    float_type(&a.elem)?;
    Some(err(
        ty,
        "an out-parameter is a slice: write `out: &mut [f64]` (the caller may pass an array)",
    ))
}

/// Whether a function has an out-parameter, so that it may return nothing.
pub(super) fn has_out_params(sig: &syn::Signature) -> bool {
    sig.inputs.iter().any(|a| match a {
        syn::FnArg::Typed(t) => out_param_type(&t.ty).is_some_and(|(_, f)| f.is_some()),
        syn::FnArg::Receiver(_) => false,
    })
}

/// `self.g(x, &mut out)`, a method of the same `impl` called on `self`, as the call it is,
/// `Self::g(self, x, &mut out)`: so a method that writes into a buffer is called like a function
/// that does.
pub(super) fn as_self_call(m: &syn::ExprMethodCall) -> Option<syn::ExprCall> {
    let Expr::Path(receiver) = strip(&m.receiver) else {
        return None;
    };
    if !receiver.path.is_ident("self") || m.turbofish.is_some() {
        return None;
    }
    let method = &m.method;
    let func: Expr = syn::parse_quote_spanned!(method.span()=> Self::#method);
    let mut args = syn::punctuated::Punctuated::new();
    args.push((*m.receiver).clone());
    args.extend(m.args.iter().cloned());
    Some(syn::ExprCall {
        attrs: m.attrs.clone(),
        func: Box::new(func),
        paren_token: m.paren_token,
        args,
    })
}

/// Whether a call passes a `&mut` argument: a call of a helper that writes into a buffer.
pub(super) fn writes_into(c: &syn::ExprCall) -> bool {
    c.args
        .iter()
        .any(|a| matches!(strip(a), Expr::Reference(r) if r.mutability.is_some()))
}

impl Lowerer {
    /// Whether `e` names an out-parameter of the function, `out`, or a writable view, `tail`
    /// of `let (head, tail) = s.split_at_mut(n);`: a `&mut [f64]` the call may write.
    fn names_out_param(&self, e: &Expr) -> bool {
        match self.local_binding(strip(e)) {
            Some((Bound::Var(v), _)) => self.vars[v.0]
                .param
                .is_some_and(|p| self.out_params.contains(&p)),
            Some((Bound::View(_), writable)) => writable,
            _ => false,
        }
    }

    /// Whether a call statement writes into a buffer: it passes `&mut buffer`, or passes on an
    /// out-parameter, `g(x, out);`, which the callee may write as well as read.
    pub(super) fn writes_into(&self, c: &syn::ExprCall) -> bool {
        writes_into(c) || c.args.iter().any(|a| self.names_out_param(a))
    }

    /// An argument that names an array of integers or of another constant type, whole or a
    /// part (`idx`, `&idx[a..b]`): passed as it is, without a derivative buffer.
    #[inline(never)]
    fn constant_array_arg(&mut self, a: &Expr) -> Option<graph::NodeId> {
        if !self.names_array(a) {
            return None;
        }
        let view = self.view_of(a)?;
        if matches!(self.vars[view.var.0].ty, Ty::Float(_)) {
            return None;
        }
        let ty = self.vars[view.var.0].ty;
        Some(match view.offset {
            None => self.push(Op::Array(view.var, view.refs), vec![], ty, a.span()),
            Some(start) => {
                let end = self.view_end(view, start, a.span());
                self.push(Op::Part(view.var), vec![start, end], ty, a.span())
            }
        })
    }

    /// `&K` of a constant item that is not a float (`const K: [usize; 2]`, a constant struct),
    /// lowered to `K`: passed on with its `&`, as written.
    #[inline(never)]
    fn constant_reference(&mut self, a: &Expr, n: graph::NodeId) -> graph::NodeId {
        let Expr::Reference(r) = strip(a) else {
            return n;
        };
        let node = &self.nodes[n.0];
        match &node.op {
            Op::Const(tokens) if r.mutability.is_none() && node.ty == Ty::Other => {
                let tokens = tokens.clone();
                let span = a.span();
                self.push(
                    Op::Const(quote::quote_spanned!(span=> &#tokens)),
                    vec![],
                    Ty::Other,
                    span,
                )
            }
            _ => n,
        }
    }

    /// Whether a scalar argument is a float, with a derivative: not a reference to a constant
    /// (`&cfg`), nor a parameter of a type that is not a float (`cfg: &Cfg`).
    #[inline(never)]
    fn float_arg(&self, a: &Expr, n: graph::NodeId) -> bool {
        let node = &self.nodes[n.0];
        match node.ty {
            Ty::Float(_) => true,
            Ty::Other => {
                // The receiver, `Self::g(self, x)`, is a constant.
                !matches!(strip(a), Expr::Reference(_))
                    && !matches!(node.op, Op::Param(_))
                    && !matches!(strip(a), Expr::Path(p) if p.path.is_ident("self"))
            }
            _ => false,
        }
    }

    /// An input that is a part of an array the call writes another part of (`g(q, &mut *v)`
    /// with `let (q, v) = state.split_at_mut(n);`) is read from a copy made before the call.
    #[inline(never)]
    fn copy_read_parts(
        &mut self,
        args: &mut [graph::NodeId],
        modes: &[Pass],
        outs: &[graph::VarId],
        span: proc_macro2::Span,
    ) {
        for (a, mode) in args.iter_mut().zip(modes) {
            let node = &self.nodes[a.0];
            if *mode != Pass::Ref {
                continue;
            }
            let Op::Part(v) = node.op else { continue };
            if !outs.contains(&v) {
                continue;
            }
            let (start, end) = (node.args[0], node.args[1]);
            let copy = self.copy_of_part(v, start, end, span);
            let ty = self.vars[copy.0].ty;
            *a = self.push(Op::Array(copy, 0), vec![], ty, span);
        }
    }

    /// `g(&x, mu, &mut out);`: a statement that writes `out`.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn call_into(&mut self, c: &syn::ExprCall) {
        let span = c.span();
        let Expr::Path(func) = &*c.func else {
            self.errors.push(err(
                &c.func,
                "call the function by name, as in `subtract(&x, &mu, &mut out)`",
            ));
            return;
        };
        let path = &func.path;
        let last = &path.segments.last().expect("a path has a segment").ident;
        // `g_outputs_call(x, &mut buffer)`, written by `outputs::calls` for `let [a, b] = g(x);`.
        let several = last
            .to_string()
            .strip_suffix(crate::outputs::CALL_MARKER)
            .map(|g| syn::Ident::new(g, last.span()));
        let mut prefix = TokenStream::new();
        if let Some(colon) = &path.leading_colon {
            colon.to_tokens(&mut prefix);
        }
        for pair in path.segments.pairs() {
            if let syn::punctuated::Pair::Punctuated(seg, sep) = pair {
                seg.to_tokens(&mut prefix);
                sep.to_tokens(&mut prefix);
            }
        }
        let mut args = Vec::new();
        let mut modes = Vec::new();
        let mut floats = Vec::new();
        let mut outs: Vec<graph::VarId> = Vec::new();
        // Without a `&mut`, the out-parameter passed on is what the call writes.
        let explicit = writes_into(c);
        let passed_on: Vec<&Expr> = c.args.iter().filter(|a| self.names_out_param(a)).collect();
        if !explicit && passed_on.len() > 1 {
            several_passed_on(&mut self.errors, passed_on[0], passed_on[1]);
            return;
        }
        for a in &c.args {
            let (target, mutable) = match strip(a) {
                // `&mut *out`: an out-parameter passed on.
                Expr::Reference(r)
                    if r.mutability.is_some()
                        && matches!(strip(&r.expr), Expr::Unary(u)
                            if matches!(u.op, syn::UnOp::Deref(_)) && self.names_out_param(&u.expr)) =>
                {
                    let Expr::Unary(u) = strip(&r.expr) else {
                        unreachable!("matched by the guard")
                    };
                    (strip(&u.expr), true)
                }
                Expr::Reference(r) => (strip(&r.expr), r.mutability.is_some()),
                other if !explicit && self.names_out_param(other) => (other, true),
                other => (other, false),
            };
            // `idx` or `&idx[a..b]` with `idx: &[usize]`: a constant array, passed as it is.
            if !mutable && let Some(n) = self.constant_array_arg(a) {
                args.push(n);
                floats.push(false);
                modes.push(Pass::Value);
                continue;
            }
            // The `&`s of the argument's type, counted from an owned array.
            let mut refs = i8::from(matches!(strip(a), Expr::Reference(_)));
            // `&p.w`, `&p.w[a..b]`: an array field, read.
            if !mutable
                && refs > 0
                && self.names_field(super::field_under_range(target))
                && !self.learn_array_field(a)
            {
                continue;
            }
            let field = (!mutable).then(|| self.known_array_field(target)).flatten();
            // `&[m, m]`: a local array, as `let tmp = [m, m];` would be.
            let literal = match target {
                Expr::Array(l) if !mutable => Some(self.array_literal(l, None, "array")),
                _ => None,
            };
            let array = match self.local_binding(target) {
                _ if field.is_some() => field.map(|v| (v, false)),
                _ if literal.is_some() => literal.map(|v| (v, false)),
                Some((Bound::Var(v), writable))
                    if !matches!(self.vars[v.0].shape, Shape::Scalar) =>
                {
                    Some((v, writable))
                }
                // A name bound to a whole array, `let h = &x;`: the array itself.
                Some((Bound::View(view), _)) if view.offset.is_none() && !mutable => {
                    refs += view.refs;
                    Some((view.var, false))
                }
                _ => None,
            };
            if let Some((v, _)) = array
                && !matches!(
                    self.vars[v.0].shape,
                    Shape::Array { by_ref: false, .. } | Shape::Buffer(_)
                )
            {
                refs += 1;
            }
            match (array, mutable) {
                (Some((v, writable)), true) => {
                    let is_out = self.vars[v.0]
                        .param
                        .is_some_and(|p| self.out_params.contains(&p));
                    if outs.contains(&v) {
                        self.errors.push(err(
                            a,
                            "this call writes the same buffer twice: pass each buffer once",
                        ));
                    } else if !(is_out || writable && self.vars[v.0].param.is_none()) {
                        self.errors.push(err(
                            a,
                            format!(
                                "`{}` is not a local buffer: pass a local `let mut {} = vec![0.0; n];` or an out-parameter",
                                self.vars[v.0].name, self.vars[v.0].name
                            ),
                        ));
                    }
                    outs.push(v);
                    modes.push(Pass::Mut);
                }
                // `g(h, ..)` with `h: [f64; N]`: the helper takes the array by value, and its
                // `g_vjp_into` returns that input's gradient, which a caller does not read. (A
                // function with several outputs returns it from `g_vjp`.)
                (Some((v, _)), false)
                    if refs <= 0
                        && matches!(self.vars[v.0].shape, Shape::Array { .. })
                        && several.is_none() =>
                {
                    let name = target.to_token_stream();
                    self.errors.push(err(
                        a,
                        format!(
                            "an array passed by value to a helper that writes into a buffer is not supported: make the helper's parameter a slice `&[f64]` and pass `&{name}`"
                        ),
                    ));
                    continue;
                }
                (Some(_), false) => modes.push(Pass::Ref),
                // `&mut h[a..b]`: part of a local buffer or an out-parameter, written.
                (None, true) if self.names_array(target) => {
                    let view = self.view_of(target).expect("checked by names_array");
                    let v = view.var;
                    let is_out = self.vars[v.0]
                        .param
                        .is_some_and(|p| self.out_params.contains(&p));
                    let writable = matches!(self.local_binding(target), Some((_, true)))
                        || self.vars[v.0].param.is_none();
                    if outs.contains(&v) {
                        self.errors.push(err(
                            a,
                            "this call writes two parts of one buffer, which is not supported: let it write a separate buffer, `let mut b = vec![0.0; n];`, and copy that in with `copy_from_slice`",
                        ));
                        continue;
                    }
                    let Some(start) = view.offset.filter(|_| is_out || writable) else {
                        self.errors.push(err(
                            a,
                            "only a local buffer or array, or an out-parameter, can be written by a call, whole or as `&mut h[a..b]`",
                        ));
                        continue;
                    };
                    let end = self.view_end(view, start, a.span());
                    let ty = self.vars[v.0].ty;
                    outs.push(v);
                    floats.push(true);
                    args.push(self.push(Op::Part(v), vec![start, end], ty, a.span()));
                    modes.push(Pass::Mut);
                    continue;
                }
                (None, true) => {
                    self.errors.push(err(
                        a,
                        "only a local buffer or array can be written by a call: `&mut out` with `let mut out = vec![0.0; n];`",
                    ));
                    continue;
                }
                // `&x[a..b]`, or a name bound to it: part of an array, read.
                (None, false) if self.names_array(a) => {
                    let view = self.view_of(a).expect("checked by names_array");
                    let Some(start) = view.offset else {
                        self.errors.push(err(
                            a,
                            "pass an array to a helper that writes into a buffer by its name, or a part of it as `&x[a..b]`",
                        ));
                        continue;
                    };
                    let end = self.view_end(view, start, a.span());
                    let ty = self.vars[view.var.0].ty;
                    floats.push(true);
                    args.push(self.push(Op::Part(view.var), vec![start, end], ty, a.span()));
                    modes.push(Pass::Ref);
                    continue;
                }
                (None, false) => {
                    let n = self.expr(a);
                    if matches!(self.nodes[n.0].ty, Ty::Float(_)) && self.passes_reference(a) {
                        self.errors.push(err(
                            a,
                            "a helper that writes into a buffer takes its floats by value: make its parameter `f64` (or `f32`) and pass the value, as in `*x`",
                        ));
                        continue;
                    }
                    let n = self.constant_reference(a, n);
                    floats.push(self.float_arg(a, n));
                    args.push(n);
                    modes.push(Pass::Value);
                    continue;
                }
            }
            let v = array.expect("matched above").0;
            let ty = self.vars[v.0].ty;
            floats.push(true);
            args.push(self.push(Op::Array(v, 0), vec![], ty, a.span()));
        }
        let Some(&out) = outs.first() else { return };
        self.copy_read_parts(&mut args, &modes, &outs, span);
        let callee = graph::Callee {
            prefix,
            name: several.clone().unwrap_or_else(|| last.clone()),
            floats: floats.into(),
            buffers: None,
            refs: Box::default(),
            scratch: Vec::new(),
        };
        let call = self.push(
            Op::Invoke(Invoke {
                callee,
                suffix: "",
                modes,
                several: several.is_some(),
            }),
            args,
            Ty::Other,
            span,
        );
        self.emit(graph::Stmt::Assign(out, call));
        // The other buffers it writes.
        for &other in &outs[1..] {
            let ty = self.vars[other.0].ty;
            let written = self.push(Op::Written(call), vec![], ty, span);
            self.emit(graph::Stmt::Assign(other, written));
        }
        // Loads after the call read memory again.
        self.forget();
    }
}

/// The error for a call passing on two out-parameters or writable views, `g(q, v)`.
#[cold]
#[inline(never)]
fn several_passed_on(errors: &mut super::Errors, first: &Expr, second: &Expr) {
    let (a, b) = (first.to_token_stream(), second.to_token_stream());
    errors.push(err(
        second,
        format!(
            "this call passes several out-parameters, and the macro cannot tell which it writes: pass the one it writes as `&mut *{b}` (or `&mut *{a}`); the others are then inputs, which it reads"
        ),
    ));
}

/// The shape of a parameter: an array or slice, an out-parameter, or a scalar.
pub(super) fn param_shape(ty: &Type) -> (Shape, Option<FloatTy>, bool) {
    if let Some((shape, float)) = array_type(ty) {
        return (shape, float, false);
    }
    if let Some((shape, float)) = out_param_type(ty)
        && float.is_some()
    {
        return (shape, float, true);
    }
    (Shape::Scalar, float_type(ty), false)
}
