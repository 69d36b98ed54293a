//! Fields of structs: `p.a`, `p.layer.w[i]`, `self.scale`.
//!
//! The macro cannot see a struct's definition, so it learns the fields from their use: a field
//! that is indexed (or whose `len()` is taken, or that an iterator reads: `&p.w`, `p.w.iter()`,
//! `p.w.windows(2)`), or that is bound to a local the body uses so (`let w = p.w;`,
//! `let [a, b] = p.w;`), is a float array, any other is a scalar. Each
//! field the body reads becomes one leaf of the graph, read once at the top of the function:
//! a scalar field is a node, an array field a slice variable `let p_w = &p.w[..];`. When `wrt`
//! names the struct (or `self`), those leaves are active, and the struct's gradient entry is a
//! `P::default()` whose fields the body read hold their derivatives.

use crate::hash::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::Expr;

use super::{Bound, Lowerer, strip};
use crate::graph::{self, FieldLeaf, Node, NodeId, Op, Param, Shape, Ty, VarId};
use syn::spanned::Spanned;

/// What lowering knows of struct parameters and the fields the body reads.
#[derive(Default)]
pub(super) struct Structs {
    /// Struct parameters by index: whether `wrt` names them.
    params: HashMap<usize, bool>,
    pub self_active: bool,
    pub leaves: Vec<FieldLeaf>,
    /// The leaf of each field, by owner and path.
    index: HashMap<(Option<usize>, String), usize>,
}

/// Whether a parameter is a struct: a value of a type the macro does not know, not an array.
pub(super) fn is_struct(p: &Param, ty: Ty) -> bool {
    p.var.is_none() && p.float.is_none() && ty == Ty::Other
}

/// Whether the tokens use `name` as an array: `name[..]`, `&name`, `name.iter()`, `name.len()`
/// and the other methods of slices that the body may call.
/// Whether `name` is read inside an index, `x[v]` or `x[v + 1]` (a bracket holding no `;` or `,`
/// at its top, which an array's `[v; 3]` or `[v, w]` would): an integer, as every index is.
fn used_as_index(tokens: TokenStream, name: &proc_macro2::Ident) -> bool {
    use proc_macro2::{Delimiter, TokenTree};
    tokens.into_iter().any(|t| match t {
        TokenTree::Group(g) => {
            let inner = g.stream();
            let index = g.delimiter() == Delimiter::Bracket
                && !inner
                    .clone()
                    .into_iter()
                    .any(|t| matches!(&t, TokenTree::Punct(p) if matches!(p.as_char(), ';' | ',')))
                && super::mentions(inner.clone(), &name.to_string());
            index || used_as_index(inner, name)
        }
        _ => false,
    })
}

fn used_as_array(tokens: TokenStream, name: &proc_macro2::Ident) -> bool {
    use proc_macro2::{Delimiter, TokenTree};
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            TokenTree::Group(g) if used_as_array(g.stream(), name) => return true,
            TokenTree::Ident(id) if id == name => {
                let after = tokens.get(i + 1);
                let indexed = matches!(after, Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket);
                let method = matches!(after, Some(TokenTree::Punct(p)) if p.as_char() == '.')
                    && matches!(tokens.get(i + 2), Some(TokenTree::Ident(m)) if [
                        "iter", "len", "windows", "chunks_exact", "chunks", "into_iter", "map", "split_at"
                    ].iter().any(|n| m == n));
                // `for v in &w`, `dot(&w, x)`, `x.iter().zip(&w)`; not `v * &s`.
                let borrowed = i > 0
                    && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '&')
                    && (i == 1
                        || match &tokens[i - 2] {
                            TokenTree::Ident(k) => k == "in",
                            TokenTree::Punct(p) => p.as_char() == ',',
                            _ => false,
                        });
                if indexed || method || borrowed {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

impl Lowerer {
    /// Records the struct parameters, once `wrt` is applied, and checks the parameters of a
    /// function generic over `T: Float` (see [`Lowerer::check_generic_params`]).
    pub(super) fn register_structs(&mut self, params: &[Param]) {
        self.check_generic_params(params);
        for (i, p) in params.iter().enumerate() {
            if is_struct(p, self.nodes[p.node.0].ty) {
                self.structs.params.insert(i, p.fields());
            }
        }
    }

    /// Appends a node to the top-level block: a field is read once, where the function starts.
    fn push_top(&mut self, op: Op, args: Vec<NodeId>, ty: Ty, span: Span) -> NodeId {
        self.nodes.push(Node {
            op,
            args,
            ty,
            active: false,
            span,
            name: None,
            origin: graph::Origin::Primal,
        });
        let id = NodeId(self.nodes.len() - 1);
        self.blocks[0].0.push(graph::Stmt::Node(id));
        id
    }

    /// The owner and path of `p.a.b` or `self.a`, when `p` is a struct parameter.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    fn field_path(&mut self, e: &Expr) -> Option<(Option<usize>, NodeId, TokenStream)> {
        let (owner, p, path) = self.field_owner(e)?;
        let root = match owner {
            None => self.push_top(
                Op::SelfValue(p.to_token_stream()),
                vec![],
                Ty::Other,
                p.span(),
            ),
            Some(_) => {
                let ident = p.path.get_ident()?;
                let Bound::Node(n) = self.lookup(&ident.to_string())?.bound else {
                    return None;
                };
                n
            }
        };
        Some((owner, root, path))
    }

    /// The owner, root path and member path of `p.a.b` or `self.a`, when `p` is a struct
    /// parameter, without lowering anything.
    fn field_owner<'e>(
        &self,
        e: &'e Expr,
    ) -> Option<(Option<usize>, &'e syn::ExprPath, TokenStream)> {
        let mut members = Vec::new();
        let mut base = strip(e);
        while let Expr::Field(f) = base {
            let syn::Member::Named(name) = &f.member else {
                return None;
            };
            members.push(name.clone());
            base = strip(&f.base);
        }
        if members.is_empty() {
            return None;
        }
        members.reverse();
        let Expr::Path(p) = base else { return None };
        let owner = if p.path.is_ident("self") {
            self.receiver.as_ref()?;
            None
        } else {
            let ident = p.path.get_ident()?;
            let Bound::Node(n) = self.lookup(&ident.to_string())?.bound else {
                return None;
            };
            let Op::Param(i) = self.nodes[n.0].op else {
                return None;
            };
            self.structs.params.get(&i)?;
            Some(i)
        };
        Some((owner, p, quote!(#(#members).*)))
    }

    /// The leaf of a field, if the body has read it already.
    fn known_leaf(&self, e: &Expr) -> Option<&FieldLeaf> {
        let (owner, _, path) = self.field_owner(e)?;
        let &k = self.structs.index.get(&(owner, path.to_string()))?;
        Some(&self.structs.leaves[k])
    }

    /// The name of a struct parameter that `wrt` leaves out, if `e` is one: the receiver of a
    /// method of its type, `m.pred(x)`, called as `self.pred(x)` is.
    pub(super) fn constant_struct<'e>(&self, e: &'e Expr) -> Option<&'e proc_macro2::Ident> {
        let Expr::Path(p) = strip(e) else { return None };
        let ident = p.path.get_ident()?;
        let Bound::Node(n) = self.lookup(&ident.to_string())?.bound else {
            return None;
        };
        let Op::Param(i) = self.nodes[n.0].op else {
            return None;
        };
        (self.structs.params.get(&i) == Some(&false)).then_some(ident)
    }

    /// Whether `e` is a field of a struct parameter or of `self`.
    pub(super) fn names_field(&self, e: &Expr) -> bool {
        self.field_owner(e).is_some()
    }

    /// The slice variable of `p.w` when the body already uses it as an array, without lowering
    /// anything: such a field is an array wherever an array's name is (`&p.w`, `&p.w[a..b]`).
    pub(super) fn known_array_field(&self, e: &Expr) -> Option<VarId> {
        self.known_leaf(e)?.var
    }

    /// Learns that the field under `&`, `*` and sub-slicing in `e` (`&p.w`, `p.w`,
    /// `&self.w[1..]`) is an array, where the context wants one (an iterator's source, the
    /// receiver of `windows`). A field the body already read whole as a value is a number to
    /// the macro: that is an error, reported here, and the result is `false`.
    pub(super) fn learn_array_field(&mut self, e: &Expr) -> bool {
        let mut base = strip(e);
        loop {
            base = match base {
                Expr::Reference(r) if r.mutability.is_none() => strip(&r.expr),
                Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => strip(&u.expr),
                Expr::Index(i) if matches!(strip(&i.index), Expr::Range(_)) => strip(&i.expr),
                _ => break,
            };
        }
        if !matches!(base, Expr::Field(_)) {
            return true;
        }
        match self.known_leaf(base) {
            None => {
                self.field_array(base);
                true
            }
            Some(leaf) if leaf.var.is_some() => true,
            Some(_) => {
                let name = base.to_token_stream().to_string().replace(' ', "");
                self.errors.push(syn::Error::new(
                    base.span(),
                    format!(
                        "`{name}` is read whole as a value earlier in the body (`let a = {name};` or a call `f(&{name})`), so the macro takes it for a number: read an array field only through its elements and iterators (`{name}[i]`, `{name}.iter()`, `&{name}`), and pass `&{name}` to a call only after the body has indexed or iterated over it"
                    ),
                ));
                false
            }
        }
    }

    /// `let w = self.w;`, `let [a, b] = m.w;`, `let w: [f64; 2] = p.w;`: a field that the body
    /// has not read yet, bound by an array pattern, with an array type, or to a name that the
    /// statements after it index or iterate over, is an array field.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn learn_bound_array_field(
        &mut self,
        pat: &syn::Pat,
        init: &Expr,
        rest: &[syn::Stmt],
    ) {
        // `let v: usize = m.idx[c];`, or `let v = m.idx[c];` then `x[v]`: an element of an
        // integer field.
        if let Expr::Index(i) = strip(init)
            && !matches!(strip(&i.index), Expr::Range(_))
        {
            let integer = match pat {
                syn::Pat::Type(t) => super::integer_elements(&t.ty),
                syn::Pat::Ident(p) => self.used_later(rest, &p.ident, used_as_index),
                _ => false,
            };
            if integer {
                self.integer_field_array(&i.expr);
            }
            return;
        }
        let mut base = strip(init);
        while let Expr::Reference(syn::ExprReference {
            expr,
            mutability: None,
            ..
        })
        | Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Deref(_),
            expr,
            ..
        }) = base
        {
            base = strip(expr);
        }
        if !matches!(base, Expr::Field(_))
            || !self.names_field(base)
            || self.known_leaf(base).is_some()
        {
            return;
        }
        let (pat, typed) = match pat {
            syn::Pat::Type(t) if super::integer_array(&t.ty) => {
                self.integer_field_array(init);
                return;
            }
            syn::Pat::Type(t) => (&*t.pat, super::array_type(&t.ty).is_some()),
            p => (p, false),
        };
        let array = typed
            || match pat {
                syn::Pat::Slice(_) => true,
                syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                    self.used_later(rest, &p.ident, used_as_array)
                }
                _ => false,
            };
        if array {
            self.learn_array_field(init);
        }
    }

    /// Whether `used` holds of `name` in the statements after a `let` or in the expression that
    /// ends their block.
    fn used_later(
        &self,
        rest: &[syn::Stmt],
        name: &proc_macro2::Ident,
        used: fn(TokenStream, &proc_macro2::Ident) -> bool,
    ) -> bool {
        rest.iter().any(|s| used(super::chains::stmt(s), name))
            || self
                .tails
                .last()
                .and_then(Clone::clone)
                .is_some_and(|t| used(t, name))
    }

    /// Records the tokens of the expression that ends a block, when a `let` among `stmts` binds
    /// a field: [`Lowerer::learn_bound_array_field`] looks for the name's uses there too.
    /// Popped by the caller once the block is lowered.
    #[inline(never)]
    pub(super) fn push_tail(&mut self, stmts: &[syn::Stmt], tail: Option<&Expr>) {
        let binds_field = stmts.iter().any(|s| {
            let syn::Stmt::Local(l) = s else { return false };
            let Some(init) = &l.init else { return false };
            let mut e = strip(&init.expr);
            while let Expr::Reference(syn::ExprReference { expr, .. })
            | Expr::Unary(syn::ExprUnary { expr, .. }) = e
            {
                e = strip(expr);
            }
            matches!(e, Expr::Field(_))
        });
        let tokens = tail.filter(|_| binds_field).map(super::chains::expr);
        self.tails.push(tokens);
    }

    /// Whether `v` is the slice of an array field.
    pub(super) fn is_field(&self, v: VarId) -> bool {
        self.structs.leaves.iter().any(|f| f.var == Some(v))
    }

    fn owner_active(&self, owner: Option<usize>) -> bool {
        match owner {
            Some(i) => self.structs.params.get(&i).copied().unwrap_or(false),
            None => self.structs.self_active,
        }
    }

    /// `p.a`: the node of a scalar field, made once.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn field_value(&mut self, e: &Expr) -> Option<NodeId> {
        let (owner, root, path) = self.field_path(e)?;
        let key = (owner, path.to_string());
        if let Some(&k) = self.structs.index.get(&key)
            && let Some(n) = self.structs.leaves[k].node
        {
            return Some(n);
        }
        let node = self.push_top(Op::Member(path.clone()), vec![root], Ty::Other, e.span());
        self.nodes[node.0].name = Some(key.1.replace(' ', "").replace('.', "_"));
        let active = self.owner_active(owner);
        self.structs.index.insert(key, self.structs.leaves.len());
        self.structs.leaves.push(FieldLeaf {
            owner,
            path,
            node: Some(node),
            var: None,
            active,
        });
        Some(node)
    }

    /// `p.w.len()`: the length of an array field, without a slice that nothing indexes.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn field_len(&mut self, e: &Expr) -> Option<NodeId> {
        let (owner, root, path) = self.field_path(e)?;
        let key = (owner, path.to_string());
        if let Some(&k) = self.structs.index.get(&key)
            && let Some(v) = self.structs.leaves[k].var
            && let Shape::Buffer(len) = self.vars[v.0].shape
        {
            return Some(len);
        }
        Some(self.push_top(
            Op::Member(quote!(#path.len())),
            vec![root],
            Ty::Int,
            e.span(),
        ))
    }

    /// `p.w` indexed: the slice variable of an array field, made once.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn field_array(&mut self, e: &Expr) -> Option<VarId> {
        self.field_array_of(e, Ty::Float(None))
    }

    /// An array field of integers, `m.idx` of `idx: Vec<usize>`, where the body says so: bound
    /// with its type, `let idx: &[usize] = &m.idx;`, an element bound with its type, `let v:
    /// usize = m.idx[c];`, or an element used as an index, `x[m.idx[c]]`. A constant, whatever
    /// its owner.
    pub(super) fn integer_field_array(&mut self, e: &Expr) {
        let mut base = strip(e);
        while let Expr::Reference(syn::ExprReference { expr, .. })
        | Expr::Unary(syn::ExprUnary { expr, .. }) = base
        {
            base = strip(expr);
        }
        if matches!(base, Expr::Field(_))
            && self.names_field(base)
            && self.known_leaf(base).is_none()
        {
            let _ = self.field_array_of(base, Ty::Int);
        }
    }

    fn field_array_of(&mut self, e: &Expr, ty: Ty) -> Option<VarId> {
        let (owner, root, path) = self.field_path(e)?;
        let key = (owner, path.to_string());
        if let Some(&k) = self.structs.index.get(&key)
            && let Some(v) = self.structs.leaves[k].var
        {
            return Some(v);
        }
        let span = e.span();
        let len = self.push_top(Op::Member(quote!(#path.len())), vec![root], Ty::Int, span);
        let name = format!(
            "{}_{}",
            owner.map_or_else(
                || "self".to_owned(),
                |_| self.nodes[root.0].name.clone().unwrap_or_default()
            ),
            key.1.replace(' ', "").replace('.', "_")
        );
        let v = self.var(&name, ty, Shape::Buffer(len), span);
        let slice = self.push_top(Op::FieldSlice(path.clone()), vec![root], Ty::Other, span);
        self.blocks[0].0.push(graph::Stmt::Declare(v, Some(slice)));
        let active = ty != Ty::Int && self.owner_active(owner);
        self.structs.index.insert(key, self.structs.leaves.len());
        self.structs.leaves.push(FieldLeaf {
            owner,
            path,
            node: None,
            var: Some(v),
            active,
        });
        Some(v)
    }
}

impl Lowerer {
    /// The arguments of a call that are fields of a struct `wrt` names (or of `self` with
    /// `wrt(self)`), or float arithmetic of them, such as `g(x, self.m)` or
    /// `g(self.m + self.s)`: floats, whose derivatives flow through the call's gradient
    /// entries, as they do through `let m: f64 = self.m;`.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn type_field_args(&mut self, ids: &[NodeId]) {
        let float = ids
            .iter()
            .find_map(|a| match self.nodes[a.0].ty {
                Ty::Float(Some(t)) => Some(t),
                _ => None,
            })
            .or(self.float_ty)
            .unwrap_or(graph::FloatTy::F64);
        for &a in ids {
            if self.nodes[a.0].ty == Ty::Other && self.reads_active_field(a) {
                self.annotate(a, float);
            }
        }
    }

    /// Whether `n` is an active field, or float arithmetic over fields and constants that reads
    /// one.
    fn reads_active_field(&self, n: NodeId) -> bool {
        let mut work = vec![n];
        let mut found = false;
        while let Some(n) = work.pop() {
            let node = &self.nodes[n.0];
            if node.ty != Ty::Other {
                return false;
            }
            match &node.op {
                Op::Member(_) => {
                    found |= self
                        .structs
                        .leaves
                        .iter()
                        .any(|l| l.active && l.node == Some(n));
                }
                Op::Const(_) => {}
                Op::Prim(p) if p.is_float_arithmetic() => work.extend(node.args.iter().copied()),
                _ => return false,
            }
        }
        found
    }

    /// A struct that `wrt` names contributes to the result only through the fields the body
    /// reads: a call that takes the struct whole, or a method of `self` with `wrt(self)`, would
    /// hide its fields from the gradient, so it is an error rather than a zero.
    pub(super) fn check_struct_uses(&mut self, params: &[Param]) {
        let mut errors = Vec::new();
        for node in &self.nodes {
            let callee = match &node.op {
                Op::Call(c) => c,
                Op::Invoke(i) => &i.callee,
                _ => continue,
            };
            let through_self = self.structs.self_active
                && callee.prefix.to_string().trim_start().starts_with("self");
            let whole = node.args.iter().find_map(|a| match self.nodes[a.0].op {
                Op::Param(i) if params[i].fields() => Some(params[i].name.clone()),
                Op::SelfValue(_) if self.structs.self_active => Some("self".to_owned()),
                _ => None,
            });
            let g = &callee.name;
            let message = match (through_self, whole) {
                (true, _) => format!(
                    "`wrt` names `self`, and the call `self.{g}(..)` would hide how the result depends on the fields of `self` (the macro cannot add `{g}_grad`'s `Self` gradient to this one's): make `{g}` an associated function of the fields it reads, as in `fn {g}(v: f64, a: f64) -> f64`, and call it as `Self::{g}(v, self.a)`; fields passed as arguments get their derivatives"
                ),
                (false, Some(name)) => format!(
                    "`wrt` names `{name}`, and passing it whole to `{g}` would hide how the result depends on its fields: make `{g}` take the fields it reads, as in `{g}(x, {name}.a)` (`&{name}.w` for an array field); fields passed as arguments get their derivatives"
                ),
                (false, None) => continue,
            };
            errors.push(syn::Error::new(node.span, message));
        }
        for e in errors {
            self.errors.push(e);
        }
    }
}
