//! Several outputs: functions returning `[f64; M]`, `[f32; M]` or a tuple of floats and float
//! arrays.
//!
//! Such a function is differentiated as the helper that writes its result into an out-parameter
//! (see `lower/call_into.rs`): the body is rewritten so that every returned value (the tail
//! expression, each `return`) is stored into `out_: &mut [T]` of length M, flattened (tuple
//! elements, then array elements), and the helper returns a constant `0.0`. The helper goes
//! through the ordinary stages, which emit its `_vjp_into` and `_jvp`; this module then emits the
//! functions of the contract over them: `f_vjp`, `f_jacobian` (and `_into` forms for slices) in
//! reverse mode, `f_jvp` in forward mode. The helper and its derivatives are hidden.

use crate::hash::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::spanned::Spanned;
use syn::{Block, Expr, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type};

use crate::options::Options;
use crate::prim::{Prim, Syntax};
use crate::{emit, expand, forward, lower};

mod rows;

/// The length of an array: a number when it is a literal, else its expression.
#[derive(Clone)]
struct Len {
    lit: Option<usize>,
    tokens: TokenStream,
}

impl Len {
    fn lit(n: usize) -> Self {
        let n_lit = proc_macro2::Literal::usize_unsuffixed(n);
        Self {
            lit: Some(n),
            tokens: quote!(#n_lit),
        }
    }

    fn of(e: &Expr) -> Self {
        if let Expr::Lit(l) = e
            && let syn::Lit::Int(i) = &l.lit
            && let Ok(n) = i.base10_parse::<usize>()
        {
            return Self::lit(n);
        }
        Self {
            lit: None,
            tokens: match e {
                Expr::Path(_) => quote!(#e),
                _ => quote!((#e)),
            },
        }
    }

    fn runtime(tokens: TokenStream) -> Self {
        Self { lit: None, tokens }
    }

    fn plus(&self, other: &Self) -> Self {
        match (self.lit, other.lit) {
            (Some(a), Some(b)) => Self::lit(a + b),
            (Some(0), _) => other.clone(),
            (_, Some(0)) => self.clone(),
            _ => {
                let (a, b) = (&self.tokens, &other.tokens);
                Self::runtime(quote!(#a + #b))
            }
        }
    }
}

impl ToTokens for Len {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.tokens.clone());
    }
}

/// One element of the output: a float, or an array of floats.
enum Part {
    Scalar,
    Array(Len),
}

impl Part {
    fn len(&self) -> Len {
        match self {
            Part::Scalar => Len::lit(1),
            Part::Array(l) => l.clone(),
        }
    }
}

/// The output's type, flattened.
struct Output {
    float: Type,
    ty: Type,
    parts: Vec<Part>,
    tuple: bool,
}

impl Output {
    fn offsets(&self) -> Vec<Len> {
        let mut at = Len::lit(0);
        let mut offsets = Vec::new();
        for p in &self.parts {
            offsets.push(at.clone());
            at = at.plus(&p.len());
        }
        offsets
    }

    fn m(&self) -> Len {
        self.parts
            .iter()
            .fold(Len::lit(0), |at, p| at.plus(&p.len()))
    }
}

thread_local! {
    /// The float type parameter (`T` of `fn f<T: Float>`) of the function being expanded.
    static FLOAT_PARAM: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Reads `function`'s float type parameter, if it is generic over one, as a float type from now
/// on (until the next function).
fn set_float_param(function: &ItemFn) {
    let param = lower::float_param(&function.sig).map(|t| t.to_string());
    FLOAT_PARAM.with(|f| *f.borrow_mut() = param);
}

/// `f64`, `f32`, or the float type parameter, if `ty` is one of them.
fn float_of(ty: &Type) -> Option<String> {
    let Type::Path(p) = ty else { return None };
    let ident = p.path.get_ident().filter(|_| p.qself.is_none())?;
    if ident == "f64"
        || ident == "f32"
        || FLOAT_PARAM.with(|f| f.borrow().as_ref().is_some_and(|t| ident == t))
    {
        Some(ident.to_string())
    } else {
        None
    }
}

fn part_of(ty: &Type) -> Option<(Part, String)> {
    match ty {
        Type::Array(a) => Some((Part::Array(Len::of(&a.len)), float_of(&a.elem)?)),
        Type::Paren(p) => part_of(&p.elem),
        _ => Some((Part::Scalar, float_of(ty)?)),
    }
}

/// The output of a function with several outputs, if it has one.
fn output(function: &ItemFn) -> Option<syn::Result<Output>> {
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return None;
    };
    let refuse = || {
        Some(Err(syn::Error::new(
            ty.span(),
            "several outputs are floats and float arrays of one float type: write `[f64; M]` or a tuple such as `(f64, [f64; 2])`",
        )))
    };
    let (parts, floats, tuple) = match &**ty {
        Type::Array(a) => {
            let float = float_of(&a.elem)?;
            (vec![Part::Array(Len::of(&a.len))], vec![float], false)
        }
        Type::Tuple(t) if !t.elems.is_empty() => {
            let mut parts = Vec::new();
            let mut floats = Vec::new();
            for e in &t.elems {
                let Some((p, f)) = part_of(e) else {
                    return refuse();
                };
                parts.push(p);
                floats.push(f);
            }
            (parts, floats, true)
        }
        _ => return None,
    };
    if floats.iter().any(|f| *f != floats[0]) {
        return refuse();
    }
    let float = syn::parse_str(&floats[0]).expect("a float type");
    Some(Ok(Output {
        float,
        ty: (**ty).clone(),
        parts,
        tuple,
    }))
}

/// Whether `function` returns several outputs (an array or a tuple).
pub fn several(function: &ItemFn) -> bool {
    matches!(&function.sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Array(_) | Type::Tuple(_)))
}

/// What a parameter is to the generated functions.
enum Kind {
    Scalar,
    Array(Len),
    RefArray(Len),
    Slice,
    Constant,
}

struct Param {
    name: Ident,
    ty: Type,
    kind: Kind,
    active: bool,
    /// Declared `mut`.
    mutable: bool,
    /// The names of its gradient (or tangent), direction and Hessian-vector product in the
    /// generated functions, apart from every name of the user's: `d_x`, `v_x`, `hv_x`.
    d: Ident,
    v: Ident,
    hv: Ident,
}

impl Param {
    /// The parameter as declared: `x: f64`, or the receiver, `&self`.
    fn decl(&self) -> TokenStream {
        let (n, t) = (&self.name, &self.ty);
        match t {
            _ if n != "self" => quote!(#n: #t),
            Type::Reference(r) if matches!(&*r.elem, Type::Path(p) if p.path.is_ident("Self")) => {
                let (lifetime, mutability) = (&r.lifetime, &r.mutability);
                quote!(&#lifetime #mutability self)
            }
            _ => quote!(self: #t),
        }
    }

    fn d(&self) -> Ident {
        self.d.clone()
    }

    fn len(&self) -> Len {
        match &self.kind {
            Kind::Scalar => Len::lit(1),
            Kind::Array(l) | Kind::RefArray(l) => l.clone(),
            Kind::Slice => {
                let n = &self.name;
                Len::runtime(quote!(#n.len()))
            }
            Kind::Constant => Len::lit(0),
        }
    }
}

fn kind(ty: &Type) -> Kind {
    match ty {
        Type::Array(a) if float_of(&a.elem).is_some() => Kind::Array(Len::of(&a.len)),
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Array(a) if float_of(&a.elem).is_some() => Kind::RefArray(Len::of(&a.len)),
            Type::Slice(s) if float_of(&s.elem).is_some() => Kind::Slice,
            _ => Kind::Constant,
        },
        _ if float_of(ty).is_some() => Kind::Scalar,
        _ => Kind::Constant,
    }
}

fn params(function: &ItemFn, options: &Options) -> syn::Result<Vec<Param>> {
    let sig = &function.sig;
    if sig
        .generics
        .params
        .iter()
        .all(|p| matches!(p, syn::GenericParam::Lifetime(_)))
        && !sig.generics.params.is_empty()
    {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a function with several outputs cannot have lifetime parameters yet: remove them and let the references' lifetimes be elided, as in `x: &[f64]`",
        ));
    }
    let float_param = lower::float_param(sig);
    if sig.generics.params.iter().any(|p| match p {
        syn::GenericParam::Type(t) => float_param.as_ref() != Some(&t.ident),
        syn::GenericParam::Lifetime(_) => false,
        syn::GenericParam::Const(_) => true,
    }) {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a function with several outputs may be generic over one float type only, `fn f<T: Float>(x: T) -> [T; 2]`: write the other parameters as concrete types",
        ));
    }
    let mut out = Vec::new();
    for arg in &sig.inputs {
        let t = match arg {
            FnArg::Typed(t) => t,
            FnArg::Receiver(r) => {
                if let Some(name) = options
                    .wrt
                    .as_ref()
                    .and_then(|w| w.iter().find(|n| *n == "self"))
                {
                    return Err(syn::Error::new(
                        name.span(),
                        "a function with several outputs differentiates float, float-array and slice parameters only: pass the floats of `self` as parameters, or return one float",
                    ));
                }
                // `self: &Self`, a constant passed through.
                let name = Ident::new("self", r.self_token.span);
                out.push(Param {
                    d: name.clone(),
                    v: name.clone(),
                    hv: name.clone(),
                    name,
                    ty: match &r.kind {
                        syn::ReceiverKind::Reference(_, lifetime, mutability) => {
                            syn::parse_quote!(&#lifetime #mutability Self)
                        }
                        syn::ReceiverKind::Typed(_, ty) => (**ty).clone(),
                        // The derivatives take `self` by reference, as those of one output.
                        _ => syn::parse_quote!(&Self),
                    },
                    kind: Kind::Constant,
                    active: false,
                    mutable: false,
                });
                continue;
            }
        };
        let Pat::Ident(p) = &*t.pat else {
            return Err(syn::Error::new(
                t.pat.span(),
                "expected a parameter name, as in `x: f64`",
            ));
        };
        let kind = kind(&t.ty);
        let float = !matches!(kind, Kind::Constant);
        let named = options
            .wrt
            .as_ref()
            .and_then(|w| w.iter().find(|n| **n == p.ident));
        if let (false, Some(name), Type::Reference(r)) = (float, named, &*t.ty)
            && r.mutability.is_none()
            && float_of(&r.elem).is_some()
        {
            let elem = &r.elem;
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "a function with several outputs differentiates floats taken by value: write `{}: {}`",
                    p.ident,
                    quote::quote!(#elem)
                ),
            ));
        }
        if let (false, Some(name)) = (float, named) {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "a function with several outputs differentiates float, float-array and slice parameters only: pass the floats of `{}` as parameters, or return one float",
                    p.ident
                ),
            ));
        }
        let active = float && options.wrt.as_ref().is_none_or(|w| w.contains(&p.ident));
        out.push(Param {
            d: p.ident.clone(),
            v: p.ident.clone(),
            hv: p.ident.clone(),
            name: p.ident.clone(),
            ty: (*t.ty).clone(),
            kind,
            active,
            mutable: p.mutability.is_some(),
        });
    }
    Ok(out)
}

/// An active float parameter of another float type than the outputs' (`q: f32` of a function
/// returning `[f64; 2]`): its gradient entries would mix types in one Jacobian, which the
/// generated functions do not do.
fn mixed_floats(function: &ItemFn, params: &[Param], output: &Output) -> syn::Result<()> {
    let out = output.float.to_token_stream().to_string();
    for (p, arg) in params.iter().zip(&function.sig.inputs) {
        let FnArg::Typed(t) = arg else { continue };
        let elem = match &p.ty {
            Type::Array(a) => &*a.elem,
            Type::Reference(r) => match &*r.elem {
                Type::Array(a) => &*a.elem,
                Type::Slice(s) => &*s.elem,
                other => other,
            },
            other => other,
        };
        if p.active
            && let Some(float) = float_of(elem)
            && float != out
        {
            return Err(syn::Error::new(
                t.ty.span(),
                format!(
                    "a function with several outputs of `{out}` differentiates `{out}` parameters: take `{}` as `{out}`, or leave it out of `wrt(..)` to pass it as a constant",
                    p.name
                ),
            ));
        }
    }
    Ok(())
}

/// Every identifier in `tokens`, at any depth, without the `r#` of raw ones.
fn idents_in(tokens: TokenStream, names: &mut HashSet<String>) {
    use proc_macro2::TokenTree;
    let mut open = vec![tokens.into_iter()];
    while let Some(level) = open.last_mut() {
        match level.next() {
            Some(TokenTree::Group(g)) => open.push(g.stream().into_iter()),
            Some(TokenTree::Ident(i)) => {
                names.insert(crate::names::plain(&i.to_string()).to_owned());
            }
            Some(_) => {}
            None => {
                open.pop();
            }
        }
    }
}

/// Chooses the names of generated parameters and locals apart from each other and from every
/// identifier the user wrote in the function (parameters, locals, paths): a parameter may be
/// called `seed`, `v_x`, `d_x`, `jac` or `out_`.
struct Fresh {
    used: HashSet<String>,
}

impl Fresh {
    fn of(tokens: TokenStream) -> Self {
        let mut used = HashSet::default();
        idents_in(tokens, &mut used);
        Self { used }
    }

    /// `preferred`, or `preferred_1`, `preferred_2`, ... if it is taken (`out_1_` for `out_`:
    /// no double underscore, which is not snake case).
    fn fresh(&mut self, preferred: &str) -> Ident {
        let preferred = crate::names::plain(preferred);
        let mut name = preferred.to_owned();
        let mut n = 1;
        while self.used.contains(&name) {
            name = match preferred.strip_suffix('_') {
                Some(stem) => format!("{}_", crate::names::suffixed(stem, n)),
                None => crate::names::suffixed(preferred, n),
            };
            n += 1;
        }
        let ident = crate::names::ident(&name, Span::call_site());
        self.used.insert(name);
        ident
    }
}

/// The generated functions' own names, chosen by [`Fresh`].
struct Names {
    seed: Ident,
    v_seed: Ident,
    jac: Ident,
    out_: Ident,
    d_out_: Ident,
    v_out_: Ident,
    hv_out_: Ident,
    jac_: Ident,
    n_: Ident,
    i_: Ident,
    j_: Ident,
    t_: Ident,
    row_: Ident,
    value_: Ident,
    k_: Ident,
    chunk_: Ident,
    l_: Ident,
    x_: Ident,
    lanes_: Ident,
    lane_: Ident,
    columns_: Ident,
    rows_: Ident,
    output_: Ident,
    tangent_: Ident,
}

impl Names {
    fn new(fresh: &mut Fresh, out_: Ident) -> Self {
        let mut f = |name: &str| fresh.fresh(name);
        Self {
            seed: f("seed"),
            v_seed: f("v_seed"),
            jac: f("jac"),
            d_out_: f("d_out_"),
            v_out_: f("v_out_"),
            hv_out_: f("hv_out_"),
            jac_: f("jac_"),
            n_: f("n_"),
            i_: f("i_"),
            j_: f("j_"),
            t_: f("t_"),
            row_: f("row_"),
            value_: f("value_"),
            k_: f("k_"),
            chunk_: f("chunk_"),
            l_: f("l_"),
            x_: f("x_"),
            lanes_: f("W_"),
            lane_: f("L_"),
            columns_: f("columns_"),
            rows_: f("rows_"),
            output_: f("output_"),
            tangent_: f("tangent_"),
            out_,
        }
    }
}

/// Rewrites a function body so that it stores its result into `out_` and returns `0.0`.
struct Rewriter<'a> {
    output: &'a Output,
    out: Ident,
    /// A loop counter and a bound value, named apart from the user's names.
    k: Ident,
    value: Ident,
}

impl Rewriter<'_> {
    fn store_part(
        &self,
        part: &Part,
        offset: &Len,
        e: Expr,
        stmts: &mut Vec<Stmt>,
    ) -> syn::Result<()> {
        let out = &self.out;
        match part {
            Part::Scalar => stmts.push(syn::parse_quote!(#out[#offset] = #e;)),
            Part::Array(len) => match strip(e) {
                Expr::Array(a) => {
                    if let Some(n) = len.lit
                        && a.elems.len() != n
                    {
                        return Err(syn::Error::new(
                            a.span(),
                            format!("this array has {} elements, the output {n}", a.elems.len()),
                        ));
                    }
                    for (k, x) in a.elems.into_iter().enumerate() {
                        let at = offset.plus(&Len::lit(k));
                        stmts.push(syn::parse_quote!(#out[#at] = #x;));
                    }
                }
                Expr::Path(p) => match len.lit {
                    Some(n) => {
                        for k in 0..n {
                            let at = offset.plus(&Len::lit(k));
                            let k = proc_macro2::Literal::usize_unsuffixed(k);
                            stmts.push(syn::parse_quote!(#out[#at] = #p[#k];));
                        }
                    }
                    None => {
                        let k = &self.k;
                        let at = offset.plus(&Len::runtime(quote!(#k)));
                        stmts.push(syn::parse_quote!(for #k in 0..#len { #out[#at] = #p[#k]; }));
                    }
                },
                // `z.map(|v| v * v)`, `g(x)`: bound with the output's type, then stored.
                other => {
                    let float = &self.output.float;
                    let n = &len.tokens;
                    let name = Ident::new(&self.value.to_string(), other.span());
                    stmts.push(syn::parse_quote!(let #name: [#float; #n] = #other;));
                    self.store_part(part, offset, syn::parse_quote!(#name), stmts)?;
                }
            },
        }
        Ok(())
    }

    /// The statements that store the value of `e`, in tail position.
    fn tail(&self, e: Expr, stmts: &mut Vec<Stmt>) -> syn::Result<()> {
        match strip(e) {
            Expr::Block(mut b) if b.label.is_none() => {
                self.block_tail(&mut b.block)?;
                stmts.push(Stmt::Expr(Expr::Block(b), None));
            }
            Expr::If(mut i) => {
                self.block_tail(&mut i.then_branch)?;
                if let Some((_, e)) = i.else_branch.take() {
                    let mut inner = Vec::new();
                    self.tail(*e, &mut inner)?;
                    let block: Block = syn::parse_quote!({ #(#inner)* });
                    i.else_branch = Some((
                        syn::token::Else::default(),
                        Box::new(Expr::Block(syn::ExprBlock {
                            attrs: Vec::new(),
                            label: None,
                            block,
                        })),
                    ));
                }
                stmts.push(Stmt::Expr(Expr::If(i), None));
            }
            Expr::Match(mut m) => {
                for arm in &mut m.arms {
                    let body =
                        std::mem::replace(&mut *arm.body, Expr::Verbatim(TokenStream::new()));
                    let mut inner = Vec::new();
                    self.tail(body, &mut inner)?;
                    *arm.body = syn::parse_quote!({ #(#inner)* });
                }
                stmts.push(Stmt::Expr(Expr::Match(m), None));
            }
            Expr::Return(r) if rewritten(&r) => stmts.push(syn::parse_quote!(return 0.0;)),
            Expr::Return(r) => {
                if let Some(v) = r.expr {
                    self.tail(*v, stmts)?;
                }
                stmts.push(syn::parse_quote!(return 0.0;));
            }
            Expr::Tuple(t) if self.output.tuple && t.elems.len() == self.output.parts.len() => {
                let offsets = self.output.offsets();
                for ((e, part), off) in t.elems.into_iter().zip(&self.output.parts).zip(&offsets) {
                    self.store_part(part, off, e, stmts)?;
                }
            }
            e if !self.output.tuple => {
                self.store_part(&self.output.parts[0], &Len::lit(0), e, stmts)?;
            }
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "a tuple output is returned as a tuple `(a, [b, c])` of its elements",
                ));
            }
        }
        Ok(())
    }

    /// Rewrites the `return`s of a block and its tail expression.
    fn block_tail(&self, block: &mut Block) -> syn::Result<()> {
        self.returns(block)?;
        if let Some(Stmt::Expr(_, None)) = block.stmts.last() {
            let Some(Stmt::Expr(e, None)) = block.stmts.pop() else {
                unreachable!()
            };
            let mut stmts = Vec::new();
            self.tail(e, &mut stmts)?;
            block.stmts.extend(stmts);
        }
        Ok(())
    }

    /// Rewrites every `return v` in `block` (outside tail position) into stores and `return 0.0`.
    fn returns(&self, block: &mut Block) -> syn::Result<()> {
        for stmt in &mut block.stmts {
            match stmt {
                Stmt::Local(l) => {
                    if let Some(init) = &mut l.init {
                        self.returns_in(&mut init.expr)?;
                    }
                }
                Stmt::Expr(e, _) => self.returns_in(e)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn returns_in(&self, e: &mut Expr) -> syn::Result<()> {
        match e {
            Expr::Return(r) if rewritten(r) => {}
            Expr::Return(_) => {
                let Expr::Return(r) = std::mem::replace(e, Expr::Verbatim(TokenStream::new()))
                else {
                    unreachable!()
                };
                let mut stmts = Vec::new();
                self.tail(Expr::Return(r), &mut stmts)?;
                *e = syn::parse_quote!({ #(#stmts)* });
            }
            Expr::Block(b) => self.returns(&mut b.block)?,
            Expr::If(i) => {
                self.returns_in(&mut i.cond)?;
                self.returns(&mut i.then_branch)?;
                if let Some((_, e)) = &mut i.else_branch {
                    self.returns_in(e)?;
                }
            }
            Expr::Match(m) => {
                self.returns_in(&mut m.expr)?;
                for arm in &mut m.arms {
                    self.returns_in(&mut arm.body)?;
                }
            }
            Expr::ForLoop(f) => self.returns(&mut f.body)?,
            Expr::While(w) => self.returns(&mut w.body)?,
            Expr::Loop(l) => self.returns(&mut l.body)?,
            Expr::Paren(p) => self.returns_in(&mut p.expr)?,
            _ => {}
        }
        Ok(())
    }
}

/// Whether a `return` is one the rewriter wrote, `return 0.0` after the stores: the function
/// returns several outputs, so `return 0.0` is not one the user could write.
fn rewritten(r: &syn::ExprReturn) -> bool {
    matches!(r.expr.as_deref(), Some(Expr::Lit(l)) if matches!(&l.lit, syn::Lit::Float(f) if f.base10_digits() == "0.0"))
}

fn strip(e: Expr) -> Expr {
    match e {
        Expr::Paren(p) => strip(*p.expr),
        Expr::Group(g) => strip(*g.expr),
        e => e,
    }
}

/// Adds `#[doc(hidden)]` to every function in `tokens`.
fn hide(tokens: TokenStream) -> syn::Result<TokenStream> {
    let file: syn::File = syn::parse2(tokens)?;
    let items = file.items.into_iter().map(|mut item| {
        if let syn::Item::Fn(f) = &mut item {
            // Calls of the helper's derivatives in differentiated callers discard the value.
            f.attrs.retain(|a| !a.path().is_ident("must_use"));
            f.attrs.push(syn::parse_quote!(#[doc(hidden)]));
            f.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
        }
        item
    });
    Ok(quote!(#(#items)*))
}

/// Emits the derivative functions of a function with several outputs.
/// An out-parameter `&mut [f64]` of a function with several outputs, which it does not
/// support.
fn out_param(function: &ItemFn) -> Option<&syn::PatType> {
    function.sig.inputs.iter().find_map(|a| match a {
        FnArg::Typed(t)
            if matches!(&*t.ty, Type::Reference(r) if r.mutability.is_some()
                && matches!(&*r.elem, Type::Slice(_) | Type::Array(_))) =>
        {
            Some(t)
        }
        _ => None,
    })
}

#[cold]
#[inline(never)]
fn out_param_error(function: &ItemFn, out: &syn::PatType) -> syn::Error {
    let name = out.pat.to_token_stream();
    let message = format!(
        "a function with an out-parameter (`{name}`) returns nothing or a float, not an array or a tuple: write these outputs into an out-parameter as well (`stats: &mut [f64]`), or return every output and take no out-parameter"
    );
    match &function.sig.output {
        ReturnType::Type(_, ty) => syn::Error::new_spanned(ty, message),
        ReturnType::Default => syn::Error::new(function.sig.output.span(), message),
    }
}

pub fn generate(options: &Options, function: &ItemFn) -> syn::Result<TokenStream> {
    set_float_param(function);
    let output = match output(function) {
        Some(o) => o?,
        None => {
            return Err(syn::Error::new(
                function.sig.output.span(),
                "several outputs are floats and float arrays of one float type: write `[f64; M]` or a tuple such as `(f64, [f64; 2])`",
            ));
        }
    };
    if options.graph {
        return Err(syn::Error::new(
            Span::call_site(),
            "`graph` draws functions with one float output; remove it here",
        ));
    }
    if let Some(out) = out_param(function) {
        return Err(out_param_error(function, out));
    }
    let mut params = params(function, options)?;
    mixed_floats(function, &params, &output)?;
    let f = &function.sig.ident;
    let helper_name = format_ident!("{}_outputs", f);
    // Every generated name apart from the user's: a parameter may be called `seed` or `out_`.
    let mut fresh = Fresh::of(function.to_token_stream());
    let out = fresh.fresh("out_");
    let float = &output.float;

    // The helper: the body writing into `out_`.
    let rewriter = Rewriter {
        output: &output,
        out: out.clone(),
        k: fresh.fresh("k_"),
        value: fresh.fresh("value_"),
    };
    for p in &mut params {
        p.d = fresh.fresh(&crate::names::derivative(&p.name.to_string()));
        p.v = fresh.fresh(&format!("v_{}", crate::names::plain(&p.name.to_string())));
        p.hv = fresh.fresh(&format!("hv_{}", crate::names::plain(&p.name.to_string())));
    }
    let names = Names::new(&mut fresh, out.clone());
    let mut body = (*function.block).clone();
    rewriter.block_tail(&mut body)?;
    let zero = match lower::float_param(&function.sig) {
        Some(t) => quote!(#t::zero()),
        None => quote!(0.0),
    };
    body.stmts.push(Stmt::Expr(syn::parse_quote!(#zero), None));
    let mut helper = function.clone();
    helper.attrs.clear();
    helper.sig.ident = helper_name.clone();
    helper
        .sig
        .inputs
        .push(syn::parse_quote!(#out: &mut [#float]));
    helper.sig.output = syn::parse_quote!(-> #float);
    helper.block = Box::new(body);
    // A tail the rewriter bound, `let value_: [f64; 2] = g(x);`, is a call with several outputs.
    if let Some(rewritten) = calls(&helper) {
        helper = rewritten;
    }
    let helper_options = Options {
        reverse: true,
        forward: true,
        hessian: options.hessian,
        wrt: options.wrt.clone(),
        ..Options::default()
    };
    let graph = lower::lower(&helper, &helper_options)?;
    // `f_jacobian`'s forward sweeps in lanes, several columns a sweep.
    let float_param = lower::float_param(&function.sig);
    let lanes = if options.reverse && float_param.is_none() {
        emit::forward_lanes_fn(&forward::forward(graph.clone()))
    } else {
        None
    };
    let derived = hide(expand::derive(&helper_options, graph)?)?;
    primal_calls(&mut helper.block);
    let vis = &function.vis;
    let helper_tokens = quote! {
        #[doc(hidden)]
        #[allow(clippy::all, clippy::pedantic, dead_code, unused_mut, unused_variables, unreachable_code)]
        #helper
    };
    lower::dispose(helper);

    // `f_jacobian` row by row, where each iteration of the function's loop writes one output.
    let row_grad = match (options.reverse, output.parts.as_slice()) {
        (true, [Part::Array(len)]) if !output.tuple && params.iter().all(|p| !p.mutable) => {
            rows::row_loop(function, &len.tokens)
                .filter(|row| params.iter().all(|p| p.name != row.counter))
        }
        _ => None,
    };
    let row_grad = match row_grad {
        Some(row) => {
            let row_name = format_ident!("{}_outputs_row", f);
            let counter = &row.counter;
            let (stmts, value) = (&row.stmts, &row.value);
            let mut row_fn = function.clone();
            row_fn.attrs.clear();
            row_fn.sig.ident = row_name.clone();
            row_fn.sig.inputs.push(syn::parse_quote!(#counter: usize));
            row_fn.sig.output = syn::parse_quote!(-> #float);
            row_fn.block = Box::new(syn::parse_quote!({ #(#stmts)* #value }));
            let row_options = Options {
                reverse: true,
                wrt: options.wrt.clone(),
                ..Options::default()
            };
            let graph = lower::lower(&row_fn, &row_options)?;
            let derived = hide(expand::derive(&row_options, graph)?)?;
            primal_calls(&mut row_fn.block);
            let row_tokens = quote! {
                #[doc(hidden)]
                #[allow(clippy::all, clippy::pedantic, dead_code, unused_mut, unused_variables)]
                #row_fn
                #derived
            };
            lower::dispose(row_fn);
            Some((format_ident!("{}_grad", row_name), row_tokens))
        }
        None => None,
    };
    let jvp_lanes = lanes
        .as_ref()
        .map(|_| format_ident!("{}_jvp_lanes", helper_name));
    let (generics, _, where_clause) = function.sig.generics.split_for_impl();
    let emitter = Gen {
        f,
        vis,
        float,
        output: &output,
        params: &params,
        vjp_into: format_ident!("{}_vjp_into", helper_name),
        hvp_into: format_ident!("{}_hvp_into", helper_name),
        jvp: format_ident!("{}_jvp", helper_name),
        jvp_lanes,
        row_grad: row_grad.as_ref().map(|(name, _)| name.clone()),
        names,
        at: if lower::associated(function) || function.sig.receiver().is_some() {
            quote!(Self::)
        } else {
            TokenStream::new()
        },
        generics: generics.to_token_stream(),
        where_clause: where_clause.to_token_stream(),
        zero: float_literal(float_param.as_ref(), 0.0),
        one: float_literal(float_param.as_ref(), 1.0),
    };
    let mut tokens = quote!(#helper_tokens #derived);
    if let Some((_, row_tokens)) = row_grad {
        tokens.extend(row_tokens);
    }
    tokens.extend(lanes.clone());
    if options.reverse {
        tokens.extend(emitter.vjp());
        tokens.extend(emitter.jacobian());
    }
    if options.forward {
        tokens.extend(emitter.jvp());
    }
    if options.hessian {
        tokens.extend(emitter.hvp());
    }
    Ok(tokens)
}

/// `value` of the float type: a literal, or in a function generic over `T`, cast to `T`.
fn float_literal(generic: Option<&Ident>, value: f64) -> TokenStream {
    let lit = proc_macro2::Literal::f64_suffixed(value);
    match generic {
        Some(t) => quote!(::autodiff::cast::<#t, f64>(#lit)),
        None => {
            let lit = proc_macro2::Literal::f64_unsuffixed(value);
            quote!(#lit)
        }
    }
}

struct Gen<'a> {
    f: &'a Ident,
    vis: &'a syn::Visibility,
    float: &'a Type,
    output: &'a Output,
    params: &'a [Param],
    vjp_into: Ident,
    /// The helper's `_hvp_into`, with `hessian`.
    hvp_into: Ident,
    jvp: Ident,
    /// `f_outputs_jvp_lanes`, if the tangent code is linear in lanes and the number of columns
    /// known at compile time.
    jvp_lanes: Option<Ident>,
    /// `f_outputs_row_grad`, the gradient of one iteration of a loop that writes one output an
    /// iteration (`rows.rs`).
    row_grad: Option<Ident>,
    /// `Self::` before the names of generated functions, in an associated function.
    at: TokenStream,
    names: Names,
    /// The function's generics, `<T: Float>`, and its `where` clause, for every generated
    /// function.
    generics: TokenStream,
    where_clause: TokenStream,
    /// `0.0` and `1.0` of the float type.
    zero: TokenStream,
    one: TokenStream,
}

/// The suffix of the name `calls` gives a call of a function with several outputs, `g` called
/// as `g_outputs_call(x, &mut buffer)`, by which lowering tells it from a call of a helper that
/// writes into a buffer. No such function exists: `g` is called, and `g_vjp` and `g_jvp`.
pub const CALL_MARKER: &str = "_outputs_call";

/// The most columns of a Jacobian one forward sweep in lanes computes.
const MAX_LANES: usize = 16;
/// The columns a sweep in lanes computes when their number is known at run time only.
const RUNTIME_LANES: usize = 8;

impl Gen<'_> {
    fn has_slices(&self) -> bool {
        self.params
            .iter()
            .any(|p| p.active && matches!(p.kind, Kind::Slice))
    }

    fn sig_params(&self) -> Vec<TokenStream> {
        self.params.iter().map(Param::decl).collect()
    }

    /// Parameters with a `&mut [T]` buffer after each active slice.
    fn buffer_params(&self) -> Vec<TokenStream> {
        let float = self.float;
        let mut out = Vec::new();
        for p in self.params {
            out.push(p.decl());
            if p.active && matches!(p.kind, Kind::Slice) {
                let d = p.d();
                out.push(quote!(#d: &mut [#float]));
            }
        }
        out
    }

    fn names(&self) -> Vec<&Ident> {
        self.params.iter().map(|p| &p.name).collect()
    }

    /// The arguments of the helper's `_vjp_into`, the slices' buffers named `d_<name>`.
    fn vjp_args(&self, borrow: bool) -> Vec<TokenStream> {
        let mut out = Vec::new();
        for p in self.params {
            let n = &p.name;
            out.push(quote!(#n));
            if p.active && matches!(p.kind, Kind::Slice) {
                let d = p.d();
                out.push(if borrow { quote!(&mut #d) } else { quote!(#d) });
            }
        }
        out
    }

    /// The names of the gradients `_vjp_into` returns: active parameters that are not slices.
    fn returned_grads(&self) -> Vec<Ident> {
        self.params
            .iter()
            .filter(|p| p.active && !matches!(p.kind, Kind::Slice | Kind::Constant))
            .map(Param::d)
            .collect()
    }

    fn grad_type(&self, p: &Param) -> TokenStream {
        let float = self.float;
        match &p.kind {
            Kind::Scalar => quote!(#float),
            Kind::Array(l) | Kind::RefArray(l) => quote!([#float; #l]),
            Kind::Slice => quote!(::std::vec::Vec<#float>),
            Kind::Constant => quote!(()),
        }
    }

    /// `let mut d_out_ = ...;` holding `seed` flattened.
    fn pack_seed(&self) -> TokenStream {
        self.pack(&self.names.seed, &self.names.d_out_)
    }

    /// `let mut buf = ...;` holding the output-typed `value` flattened.
    fn pack(&self, value: &Ident, buf: &Ident) -> TokenStream {
        let (float, m, zero) = (self.float, self.output.m(), &self.zero);
        if !self.output.tuple {
            return quote!(let mut #buf: [#float; #m] = #value;);
        }
        let mut stmts = Vec::new();
        for (k, (part, off)) in self
            .output
            .parts
            .iter()
            .zip(self.output.offsets())
            .enumerate()
        {
            let k = syn::Index::from(k);
            stmts.push(match part {
                Part::Scalar => quote!(#buf[#off] = #value.#k;),
                Part::Array(l) => {
                    let end = off.plus(l);
                    quote!(#buf[#off..#end].copy_from_slice(&#value.#k);)
                }
            });
        }
        quote! {
            let mut #buf: [#float; #m] = [#zero; #m];
            #(#stmts)*
        }
    }

    /// The output rebuilt from the flat array `buf`.
    fn unpack(&self, buf: &Ident) -> TokenStream {
        let Names { k_, .. } = &self.names;
        if !self.output.tuple {
            return quote!(#buf);
        }
        let elems =
            self.output
                .parts
                .iter()
                .zip(self.output.offsets())
                .map(|(part, off)| match part {
                    Part::Scalar => quote!(#buf[#off]),
                    Part::Array(_) => {
                        let at = off.plus(&Len::runtime(quote!(#k_)));
                        quote!(::core::array::from_fn(|#k_| #buf[#at]))
                    }
                });
        quote!((#(#elems,)*))
    }

    fn vjp(&self) -> TokenStream {
        let at = &self.at;
        let use_original = self.use_original();
        let Names {
            seed,
            out_,
            d_out_,
            output_,
            ..
        } = &self.names;
        let Gen { f, vis, float, .. } = *self;
        let (generics, where_clause, zero) = (&self.generics, &self.where_clause, &self.zero);
        let out_ty = &self.output.ty;
        let m = self.output.m();
        let pack = self.pack_seed();
        let unpack = self.unpack(out_);
        let vjp_into = &self.vjp_into;
        let grads = self.returned_grads();
        let name = format_ident!("{}_vjp", f);
        let doc = format!(
            " The value of [`{f}`] and the vector-Jacobian product `seedᵀ·J` of its outputs, by reverse-mode automatic differentiation: returns `(output, gradients...)`, one gradient per active parameter.\n\n Generated by `#[differentiate]`."
        );
        if !self.has_slices() {
            return self.vjp_plain(&name, &doc);
        }
        let into_name = format_ident!("{}_vjp_into", f);
        let into_params = self.buffer_params();
        let args = self.vjp_args(false);
        let non_slice_tys = self
            .params
            .iter()
            .filter(|p| p.active && !matches!(p.kind, Kind::Slice | Kind::Constant))
            .map(|p| self.grad_type(p));
        let into_doc = format!(
            " The value of [`{f}`] and the vector-Jacobian product `seedᵀ·J` of its outputs, by reverse-mode automatic differentiation: the gradient of each slice is added into the buffer after it; returns `(output, gradients of the other active parameters...)`.\n\n # Panics\n\n If a buffer's length differs from its slice's.\n\n Generated by `#[differentiate]`."
        );
        let all_tys = self
            .params
            .iter()
            .filter(|p| p.active)
            .map(|p| self.grad_type(p));
        let all = self.params.iter().filter(|p| p.active).map(Param::d);
        let buffers = self
            .params
            .iter()
            .filter(|p| p.active && matches!(p.kind, Kind::Slice))
            .map(|p| {
                let (n, d) = (&p.name, p.d());
                quote!(let mut #d: ::std::vec::Vec<#float> = ::std::vec![#zero; #n.len()];)
            });
        let plain_params = self.sig_params();
        let call_args = self.vjp_args(true);
        quote! {
            #[doc = #into_doc]
            #[must_use]
            #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
            #vis fn #into_name #generics (#(#into_params,)* #seed: #out_ty) -> (#out_ty, #(#non_slice_tys,)*) #where_clause {
                #use_original
                let mut #out_: [#float; #m] = [#zero; #m];
                #pack
                let (_, #(#grads,)*) = #at #vjp_into(#(#args,)* &mut #out_, &mut #d_out_);
                (#unpack, #(#grads,)*)
            }
            #[doc = #doc]
            #[must_use]
            #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
            #vis fn #name #generics (#(#plain_params,)* #seed: #out_ty) -> (#out_ty, #(#all_tys,)*) #where_clause {
                #(#buffers)*
                let (#output_, #(#grads,)*) = #at #into_name(#(#call_args,)* #seed);
                (#output_, #(#all,)*)
            }
        }
    }

    fn vjp_plain(&self, name: &Ident, doc: &str) -> TokenStream {
        let at = &self.at;
        let use_original = self.use_original();
        let Names {
            seed, out_, d_out_, ..
        } = &self.names;
        let Gen { vis, float, .. } = *self;
        let (generics, where_clause, zero) = (&self.generics, &self.where_clause, &self.zero);
        let out_ty = &self.output.ty;
        let m = self.output.m();
        let pack = self.pack_seed();
        let unpack = self.unpack(out_);
        let vjp_into = &self.vjp_into;
        let grads = self.returned_grads();
        let tys = self
            .params
            .iter()
            .filter(|p| p.active)
            .map(|p| self.grad_type(p));
        let params = self.sig_params();
        let args = self.vjp_args(true);
        quote! {
            #[doc = #doc]
            #[must_use]
            #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
            #vis fn #name #generics (#(#params,)* #seed: #out_ty) -> (#out_ty, #(#tys,)*) #where_clause {
                #use_original
                let mut #out_: [#float; #m] = [#zero; #m];
                #pack
                let (_, #(#grads,)*) = #at #vjp_into(#(#args,)* &mut #out_, &mut #d_out_);
                (#unpack, #(#grads,)*)
            }
        }
    }

    /// `f_hvp` (over `f_hvp_into` with slices): the helper's `_hvp_into` with the seed and its
    /// tangent flattened, the outputs and their tangents rebuilt.
    fn hvp(&self) -> TokenStream {
        let at = &self.at;
        let use_original = self.use_original();
        let Names {
            seed,
            v_seed,
            out_,
            d_out_,
            v_out_,
            hv_out_,
            output_,
            tangent_,
            ..
        } = &self.names;
        let Gen { f, vis, float, .. } = *self;
        let (generics, where_clause, zero) = (&self.generics, &self.where_clause, &self.zero);
        let out_ty = &self.output.ty;
        let m = self.output.m();
        let (out, v_out, d_out, hv_out) = (out_, v_out_, d_out_, hv_out_);
        let pack_seed = self.pack(seed, d_out);
        let pack_v_seed = self.pack(v_seed, hv_out);
        let (unpack, unpack_v) = (self.unpack(out), self.unpack(v_out));
        let hv = |p: &Param| p.hv.clone();
        let v = |p: &Param| p.v.clone();
        // Parameters and arguments of `f_hvp_into` (the helper's, with slices' buffers) and of
        // `f_hvp`.
        let (mut into_params, mut plain_params, mut args, mut plain_args) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in self.params {
            let (n, t) = (&p.name, &p.ty);
            into_params.push(p.decl());
            plain_params.push(p.decl());
            args.push(quote!(#n));
            plain_args.push(quote!(#n));
            if !p.active {
                continue;
            }
            let v = v(p);
            into_params.push(quote!(#v: #t));
            plain_params.push(quote!(#v: #t));
            args.push(quote!(#v));
            plain_args.push(quote!(#v));
            if let Kind::Slice = p.kind {
                let (d, hv) = (p.d(), hv(p));
                into_params.push(quote!(#d: &mut [#float], #hv: &mut [#float]));
                args.push(quote!(#d, #hv));
                plain_args.push(quote!(&mut #d, &mut #hv));
            }
        }
        let returned: Vec<&Param> = self
            .params
            .iter()
            .filter(|p| p.active && !matches!(p.kind, Kind::Slice | Kind::Constant))
            .collect();
        let grads: Vec<Ident> = returned.iter().map(|p| p.d()).collect();
        let hvs: Vec<Ident> = returned.iter().map(|p| hv(p)).collect();
        let tys: Vec<TokenStream> = returned.iter().map(|p| self.grad_type(p)).collect();
        let hvp_into = &self.hvp_into;
        let name = format_ident!("{}_hvp", f);
        let doc = format!(
            " The value of [`{f}`], the vector-Jacobian product `seedᵀ·J` of its outputs, and the tangents of both along the direction given after each parameter and `{v_seed}` after `{seed}`, by forward mode over the reverse sweep: returns `(output, gradients..., tangent, tangents of the gradients...)`, that is `f_vjp`'s result followed by its tangent. With `{seed}` fixed (`{v_seed}` zero) the gradients' tangents are `(seedᵀ·H)·v`, `H` the outputs' Hessians.\n\n Generated by `#[differentiate]`."
        );
        let body = |args: &[TokenStream]| {
            quote! {
                #use_original
                let mut #out: [#float; #m] = [#zero; #m];
                let mut #v_out: [#float; #m] = [#zero; #m];
                #pack_seed
                #pack_v_seed
                let (_, #(#grads,)* #(#hvs,)*) = #at #hvp_into(#(#args,)* &mut #out, &mut #v_out, &mut #d_out, &mut #hv_out);
                (#unpack, #(#grads,)* #unpack_v, #(#hvs,)*)
            }
        };
        if !self.has_slices() {
            let body = body(&args);
            return quote! {
                #[doc = #doc]
                #[must_use]
                #[allow(
                clippy::too_many_arguments,
                clippy::type_complexity,
                clippy::used_underscore_binding
            )]
                #vis fn #name #generics (#(#plain_params,)* #seed: #out_ty, #v_seed: #out_ty) -> (#out_ty, #(#tys,)* #out_ty, #(#tys,)*) #where_clause {
                    #body
                }
            };
        }
        let into_name = format_ident!("{}_hvp_into", f);
        let into_body = body(&args);
        let into_doc = format!(
            " The value of [`{f}`], the vector-Jacobian product `seedᵀ·J` of its outputs, and the tangents of both along the direction given after each parameter and `{v_seed}` after `{seed}`, by forward mode over the reverse sweep: the gradient of each slice and its tangent are added into the two buffers after its direction; returns `(output, gradients of the other active parameters..., tangent, their tangents...)`.\n\n # Panics\n\n If a direction's or a buffer's length differs from its slice's.\n\n Generated by `#[differentiate]`."
        );
        let all: Vec<&Param> = self.params.iter().filter(|p| p.active).collect();
        let all_tys: Vec<TokenStream> = all.iter().map(|p| self.grad_type(p)).collect();
        let all_grads: Vec<Ident> = all.iter().map(|p| p.d()).collect();
        let all_hvs: Vec<Ident> = all.iter().map(|p| hv(p)).collect();
        let buffers = self
            .params
            .iter()
            .filter(|p| p.active && matches!(p.kind, Kind::Slice))
            .map(|p| {
                let (n, d, hv) = (&p.name, p.d(), hv(p));
                quote! {
                    let mut #d: ::std::vec::Vec<#float> = ::std::vec![#zero; #n.len()];
                    let mut #hv: ::std::vec::Vec<#float> = ::std::vec![#zero; #n.len()];
                }
            });
        quote! {
            #[doc = #into_doc]
            #[must_use]
            #[allow(
                clippy::too_many_arguments,
                clippy::type_complexity,
                clippy::used_underscore_binding
            )]
            #vis fn #into_name #generics (#(#into_params,)* #seed: #out_ty, #v_seed: #out_ty) -> (#out_ty, #(#tys,)* #out_ty, #(#tys,)*) #where_clause {
                #into_body
            }
            #[doc = #doc]
            #[must_use]
            #[allow(
                clippy::too_many_arguments,
                clippy::type_complexity,
                clippy::used_underscore_binding
            )]
            #vis fn #name #generics (#(#plain_params,)* #seed: #out_ty, #v_seed: #out_ty) -> (#out_ty, #(#all_tys,)* #out_ty, #(#all_tys,)*) #where_clause {
                #(#buffers)*
                let (#output_, #(#grads,)* #tangent_, #(#hvs,)*) = #at #into_name(#(#plain_args,)* #seed, #v_seed);
                (#output_, #(#all_grads,)* #tangent_, #(#all_hvs,)*)
            }
        }
    }

    /// The arguments of the helper's `_jvp` given tangents named `d_<name>` (arrays by value,
    /// `&[T; N]` and slices borrowed).
    fn jvp_args(&self, borrow_refs: bool) -> Vec<TokenStream> {
        let mut out = Vec::new();
        for p in self.params {
            let n = &p.name;
            out.push(quote!(#n));
            if p.active {
                let d = p.d();
                out.push(match p.kind {
                    Kind::RefArray(_) | Kind::Slice if borrow_refs => quote!(&#d),
                    _ => quote!(#d),
                });
            }
        }
        out
    }

    /// `let _ = Self::f;` in an associated function, so that `f` counts as used; a function that
    /// may be free or associated is allowed to be unused instead (see `expand`).
    fn use_original(&self) -> TokenStream {
        let f = self.f;
        if self.at.is_empty() {
            TokenStream::new()
        } else {
            quote!(let _ = Self::#f;)
        }
    }

    fn jvp(&self) -> TokenStream {
        let at = &self.at;
        let use_original = self.use_original();
        let Names { out_, d_out_, .. } = &self.names;
        let Gen { f, vis, float, .. } = *self;
        let (generics, where_clause, zero) = (&self.generics, &self.where_clause, &self.zero);
        let out_ty = &self.output.ty;
        let m = self.output.m();
        let name = format_ident!("{}_jvp", f);
        let mut params = Vec::new();
        for p in self.params {
            let t = &p.ty;
            params.push(p.decl());
            if p.active {
                let d = p.d();
                params.push(quote!(#d: #t));
            }
        }
        let args = self.jvp_args(false);
        let jvp = &self.jvp;
        let unpack_v = self.unpack(out_);
        let unpack_t = self.unpack(d_out_);
        let doc = format!(
            " The value of [`{f}`] and its derivative along a direction, by forward-mode automatic differentiation: returns `(output, tangent)`, the tangent of the output's type.\n\n Generated by `#[differentiate]`."
        );
        quote! {
            #[doc = #doc]
            #[must_use]
            #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
            #vis fn #name #generics (#(#params,)*) -> (#out_ty, #out_ty) #where_clause {
                #use_original
                let mut #out_: [#float; #m] = [#zero; #m];
                let mut #d_out_: [#float; #m] = [#zero; #m];
                let _ = #at #jvp(#(#args,)* &mut #out_, &mut #d_out_);
                (#unpack_v, #unpack_t)
            }
        }
    }

    /// The sweeps that fill the Jacobian: `row_(i)` is the place of row `i` (a mutable slice),
    /// `set(i, j)` of an entry. `offsets` are the columns of the active parameters.
    fn sweeps(
        &self,
        n: &Len,
        offsets: &[(usize, Len)],
        rows: &TokenStream,
        col: &TokenStream,
    ) -> TokenStream {
        let at = &self.at;
        let Names {
            out_,
            d_out_,
            i_,
            j_,
            t_,
            row_,
            columns_,
            rows_,
            ..
        } = &self.names;
        let (float, zero, one) = (self.float, &self.zero, &self.one);
        let m = self.output.m();
        let vjp_into = &self.vjp_into;
        let jvp = &self.jvp;
        let grads = self.returned_grads();
        // Reverse: one sweep per row.
        let mut fill_row = Vec::new();
        let mut clear = Vec::new();
        let mut buffers = Vec::new();
        for (k, off) in offsets {
            let p = &self.params[*k];
            let d = p.d();
            let end = off.plus(&p.len());
            fill_row.push(match p.kind {
                Kind::Scalar => quote!(#row_[#off] = #d;),
                _ => quote!(#row_[#off..#end].copy_from_slice(&#d);),
            });
            if let Kind::Slice = p.kind {
                let name = &p.name;
                buffers.push(
                    quote!(let mut #d: ::std::vec::Vec<#float> = ::std::vec![#zero; #name.len()];),
                );
                clear.push(quote!(#d.fill(#zero);));
            }
        }
        let args = self.vjp_args(true);
        let reverse = quote! {
            #(#buffers)*
            for #i_ in 0..#m {
                let mut #d_out_: [#float; #m] = [#zero; #m];
                #d_out_[#i_] = #one;
                #(#clear)*
                let (_, #(#grads,)*) = #at #vjp_into(#(#args,)* &mut #out_, &mut #d_out_);
                let #row_ = #rows;
                #(#fill_row)*
            }
        };
        // Forward: one sweep per column.
        let mut tangents = Vec::new();
        let mut slice_buffers = Vec::new();
        for (k, off) in offsets {
            let p = &self.params[*k];
            let d = p.d();
            let end = off.plus(&p.len());
            let at = if off.lit == Some(0) {
                quote!(#j_)
            } else {
                quote!(#j_ - #off)
            };
            tangents.push(match &p.kind {
                Kind::Scalar => quote!(let #d: #float = if #j_ == #off { #one } else { #zero };),
                Kind::Array(l) | Kind::RefArray(l) => quote! {
                    let mut #d: [#float; #l] = [#zero; #l];
                    if (#off..#end).contains(&#j_) { #d[#at] = #one; }
                },
                _ => {
                    let name = &p.name;
                    slice_buffers.push(quote!(let mut #d: ::std::vec::Vec<#float> = ::std::vec![#zero; #name.len()];));
                    quote! {
                        #d.fill(#zero);
                        if (#off..#end).contains(&#j_) { #d[#at] = #one; }
                    }
                }
            });
        }
        let args = self.jvp_args(true);
        // At least one sweep, which computes the output: with no column (an empty slice, or no
        // float parameter) a sweep of zero tangents.
        let forward = quote! {
            #(#slice_buffers)*
            for #j_ in 0..::core::cmp::max(#n, 1) {
                #(#tangents)*
                let mut #d_out_: [#float; #m] = [#zero; #m];
                let _ = #at #jvp(#(#args,)* &mut #out_, &mut #d_out_);
                if #j_ < #n {
                    for (#i_, #t_) in #d_out_.iter().enumerate() {
                        #col = *#t_;
                    }
                }
            }
        };
        if let Some((prelude, lanes)) = self.lanes_sweep(n, offsets, col) {
            // A direction in lanes costs about 0.4 of a reverse sweep (measured: Lorenz-96's ten
            // lanes 0.37 each, bundle adjustment's fifteen 0.39): lanes while 2 N ≤ 5 M.
            let nt = &n.tokens;
            return match (m.lit, n.lit) {
                (Some(m), Some(n)) if 2 * n <= 5 * m => quote!(#prelude #lanes),
                (Some(_), Some(_)) => reverse,
                _ => quote! {
                    #prelude
                    let (#columns_, #rows_): (usize, usize) = (#nt, #m);
                    if 2 * #columns_ <= 5 * #rows_ { #lanes } else { #reverse }
                },
            };
        }
        match (m.lit, n.lit) {
            (Some(m), Some(n)) if m <= n => reverse,
            (Some(_), Some(_)) => forward,
            _ => quote! {
                if #m <= #n { #reverse } else { #forward }
            },
        }
    }

    /// The Jacobian row by row: iteration `i_` of the function's loop, differentiated alone,
    /// gives output `i_` and row `i_`.
    fn rows(&self, row_grad: &Ident, offsets: &[(usize, Len)]) -> TokenStream {
        let at = &self.at;
        let Names {
            out_,
            jac_,
            i_,
            row_,
            value_,
            ..
        } = &self.names;
        let m = self.output.m();
        let grads = self.returned_grads();
        let names = self.names();
        let fill_row = offsets.iter().map(|(k, off)| {
            let p = &self.params[*k];
            let d = p.d();
            let end = off.plus(&p.len());
            match p.kind {
                Kind::Scalar => quote!(#row_[#off] = #d;),
                _ => quote!(#row_[#off..#end].copy_from_slice(&#d);),
            }
        });
        quote! {
            for #i_ in 0..#m {
                let (#value_, #(#grads,)*) = #at #row_grad(#(#names,)* #i_);
                #out_[#i_] = #value_;
                let #row_ = &mut #jac_[#i_];
                #(#fill_row)*
            }
        }
    }

    /// Forward sweeps with the `n` unit directions in lanes, `W_` columns a sweep, and the
    /// number of sweeps.
    fn lanes_sweep(
        &self,
        n: &Len,
        offsets: &[(usize, Len)],
        col: &TokenStream,
    ) -> Option<(TokenStream, TokenStream)> {
        let at = &self.at;
        let Names {
            out_,
            d_out_,
            jac_,
            i_,
            j_,
            t_,
            row_,
            k_,
            chunk_,
            l_,
            x_,
            lanes_,
            lane_,
            ..
        } = &self.names;
        let jvp_lanes = self.jvp_lanes.as_ref()?;
        let float = self.float;
        let m = self.output.m();
        let runtime = offsets
            .iter()
            .any(|(k, _)| matches!(self.params[*k].kind, Kind::Slice));
        let nt = &n.tokens;
        let width = match n.lit {
            Some(n) => {
                let w = proc_macro2::Literal::usize_unsuffixed(n.clamp(1, MAX_LANES));
                quote!(#w)
            }
            None if runtime => {
                let w = proc_macro2::Literal::usize_unsuffixed(RUNTIME_LANES);
                quote!(#w)
            }
            None => {
                let max = proc_macro2::Literal::usize_unsuffixed(MAX_LANES);
                quote!(if #nt == 0 { 1 } else if #nt < #max { #nt } else { #max })
            }
        };
        let prelude_tokens = quote! {
            const #lanes_: usize = #width;
            type #lane_ = ::autodiff::private::Lanes<#float, #lanes_>;
        };
        let mut seeds = Vec::new();
        for (k, off) in offsets {
            let p = &self.params[*k];
            let d = p.d();
            let at = if off.lit == Some(0) {
                quote!(#k_)
            } else {
                quote!(#off + #k_)
            };
            seeds.push(match &p.kind {
                Kind::Scalar => quote!(let #d = #lane_::unit(usize::wrapping_sub(#off, #chunk_));),
                Kind::Array(l) | Kind::RefArray(l) => quote! {
                    let #d: [#lane_; #l] =
                        ::core::array::from_fn(|#k_| #lane_::unit(usize::wrapping_sub(#at, #chunk_)));
                },
                Kind::Slice => {
                    let name = &p.name;
                    quote! {
                        let #d: ::std::vec::Vec<#lane_> = (0..#name.len())
                            .map(|#k_| #lane_::unit(usize::wrapping_sub(#at, #chunk_)))
                            .collect();
                    }
                }
                Kind::Constant => return None,
            });
        }
        let args = self.jvp_args(true);
        // One sweep of exactly the columns of an array Jacobian: each row is a sweep's lanes.
        if n.lit.is_some_and(|n| (1..=MAX_LANES).contains(&n)) && !self.has_slices() {
            let code = quote! {
                let #chunk_: usize = 0;
                #(#seeds)*
                let mut #d_out_: [#lane_; #m] = [#lane_::splat(0.0); #m];
                let _ = #at #jvp_lanes::<#lanes_>(#(#args,)* &mut #out_, &mut #d_out_);
                for (#row_, #t_) in #jac_.iter_mut().zip(&#d_out_) {
                    *#row_ = #t_.0;
                }
            };
            return Some((quote! { #prelude_tokens }, code));
        }
        // At least one sweep, which computes the output (see `forward` above).
        let code = quote! {
            for #chunk_ in (0..::core::cmp::max(#nt, 1)).step_by(#lanes_) {
                #(#seeds)*
                let mut #d_out_: [#lane_; #m] = [#lane_::splat(0.0); #m];
                let _ = #at #jvp_lanes::<#lanes_>(#(#args,)* &mut #out_, &mut #d_out_);
                for (#i_, #t_) in #d_out_.iter().enumerate() {
                    for (#l_, #x_) in #t_.0.iter().enumerate() {
                        let #j_ = #chunk_ + #l_;
                        if #j_ < #nt {
                            #col = *#x_;
                        }
                    }
                }
            }
        };
        Some((prelude_tokens, code))
    }

    fn jacobian(&self) -> TokenStream {
        let at = &self.at;
        let use_original = self.use_original();
        let Names {
            jac,
            out_,
            jac_,
            n_,
            i_,
            j_,
            output_,
            ..
        } = &self.names;
        let jac_message = format!("`{jac}` must have length M·N");
        let Gen { f, vis, float, .. } = *self;
        let (generics, where_clause, zero) = (&self.generics, &self.where_clause, &self.zero);
        let out_ty = &self.output.ty;
        let m = self.output.m();
        let mut offsets = Vec::new();
        let mut n = Len::lit(0);
        for (k, p) in self.params.iter().enumerate() {
            if !p.active {
                continue;
            }
            offsets.push((k, n.clone()));
            n = n.plus(&p.len());
        }
        let names = self.names();
        let params = self.sig_params();
        let unpack = self.unpack(out_);
        let name = format_ident!("{}_jacobian", f);
        if !self.has_slices() {
            let sweeps = match &self.row_grad {
                Some(row_grad) if n.lit != Some(1) => self.rows(row_grad, &offsets),
                _ => self.sweeps(
                    &n,
                    &offsets,
                    &quote!(&mut #jac_[#i_]),
                    &quote!(#jac_[#i_][#j_]),
                ),
            };
            let doc = format!(
                " The value of [`{f}`] and its Jacobian `jac[i][j] = ∂output_i/∂input_j` (outputs and active inputs flattened in order), by automatic differentiation in the mode that needs fewer sweeps.\n\n Generated by `#[differentiate]`."
            );
            return quote! {
                #[doc = #doc]
                #[must_use]
                #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
                #vis fn #name #generics (#(#params,)*) -> (#out_ty, [[#float; #n]; #m]) #where_clause {
                    #use_original
                    let mut #out_: [#float; #m] = [#zero; #m];
                    let mut #jac_: [[#float; #n]; #m] = [[#zero; #n]; #m];
                    #sweeps
                    (#unpack, #jac_)
                }
            };
        }
        let into = format_ident!("{}_jacobian_into", f);
        let sweeps = self.sweeps(
            &Len::runtime(quote!(#n_)),
            &offsets,
            &quote!(&mut #jac[#i_ * #n_..(#i_ + 1) * #n_]),
            &quote!(#jac[#i_ * #n_ + #j_]),
        );
        let into_doc = format!(
            " The value of [`{f}`]; overwrites `{jac}` (of length M·N, row-major) with its Jacobian `∂output_i/∂input_j` (outputs and active inputs flattened in order), by automatic differentiation in the mode that needs fewer sweeps.\n\n # Panics\n\n If `{jac}`'s length is not M·N.\n\n Generated by `#[differentiate]`."
        );
        let doc = format!(
            " The value of [`{f}`] and its Jacobian, a vector of length M·N in row-major order: `jac[i * n + j] = ∂output_i/∂input_j` (outputs and active inputs flattened in order).\n\n Generated by `#[differentiate]`."
        );
        quote! {
            #[doc = #into_doc]
            #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
            #vis fn #into #generics (#(#params,)* #jac: &mut [#float]) -> #out_ty #where_clause {
                #use_original
                let #n_: usize = #n;
                ::core::assert_eq!(#jac.len(), #m * #n_, #jac_message);
                let mut #out_: [#float; #m] = [#zero; #m];
                #sweeps
                #unpack
            }
            #[doc = #doc]
            #[must_use]
            #[allow(clippy::too_many_arguments, clippy::used_underscore_binding)]
            #vis fn #name #generics (#(#params,)*) -> (#out_ty, ::std::vec::Vec<#float>) #where_clause {
                let #n_: usize = #n;
                let mut #jac_: ::std::vec::Vec<#float> = ::std::vec![#zero; #m * #n_];
                let #output_ = #at #into(#(#names,)* &mut #jac_);
                (#output_, #jac_)
            }
        }
    }
}

/// Rewrites `let [a, b] = g(x, y);` and `let (u, v) = g(x);` in `function`'s body into a call
/// that writes `g`'s floats into a buffer, `g_outputs_call(x, y, &mut buffer)` (see
/// [`CALL_MARKER`]), and reads of the buffer. Lowered as a call into a buffer, it is emitted as
/// `g(x, y)` flattened into the buffer, and differentiated through `g_vjp` and `g_jvp`,
/// generated by `#[differentiate]` on `g` or written by hand. `None` when there is no such
/// call.
pub fn calls(function: &ItemFn) -> Option<ItemFn> {
    set_float_param(function);
    // Most bodies have no such call: look without recursion (an `else if` chain may be
    // thousands long) before cloning.
    if !has_call_let(&function.block) {
        return None;
    }
    let mut block = (*function.block).clone();
    let mut count = Calls::new(function.to_token_stream());
    let locals = local_names(function);
    calls_in(&mut block, &mut count, &locals);
    if count.count == 0 {
        return None;
    }
    let mut rewritten = function.clone();
    rewritten.block = Box::new(block);
    Some(rewritten)
}

/// The calls `calls` has rewritten, and the names of its buffers and loop counter, apart from
/// every name of the function's.
struct Calls {
    count: usize,
    fresh: Fresh,
    k: Ident,
}

impl Calls {
    fn new(function: TokenStream) -> Self {
        let mut fresh = Fresh::of(function);
        let k = fresh.fresh("k_");
        Self { count: 0, fresh, k }
    }

    /// The buffer of the next call, `outputs_0_`.
    fn buffer(&mut self) -> Ident {
        let name = self.fresh.fresh(&format!("outputs_{}_", self.count));
        self.count += 1;
        name
    }
}

/// The names the function binds itself, its parameters and every `let`'s: a call of one is a
/// call of a closure, inlined where it is called, not of a function with several outputs.
fn local_names(function: &ItemFn) -> HashSet<String> {
    use proc_macro2::TokenTree;
    let mut names: HashSet<String> = function
        .sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => Some(i.ident.to_string()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let mut open = vec![function.block.to_token_stream().into_iter()];
    let mut after_let = false;
    while let Some(level) = open.last_mut() {
        let Some(tree) = level.next() else {
            open.pop();
            continue;
        };
        match tree {
            TokenTree::Group(g) => {
                after_let = false;
                open.push(g.stream().into_iter());
            }
            TokenTree::Ident(i) if i == "let" => after_let = true,
            TokenTree::Ident(i) if after_let && i == "mut" => {}
            TokenTree::Ident(i) if after_let => {
                names.insert(i.to_string());
                after_let = false;
            }
            _ => after_let = false,
        }
    }
    names
}

/// Whether a block has a destructuring `let` of a call, at any depth; found with a stack.
fn has_call_let(block: &Block) -> bool {
    let mut blocks = vec![block];
    let mut exprs: Vec<&Expr> = Vec::new();
    while let Some(block) = blocks.pop() {
        for stmt in &block.stmts {
            match stmt {
                Stmt::Local(l) => {
                    if call_let(
                        stmt,
                        &mut Calls::new(TokenStream::new()),
                        &HashSet::default(),
                    )
                    .is_some()
                    {
                        return true;
                    }
                    // `let y = g(x);`, whose uses `calls_in` reads. An unqualified `relu`,
                    // `sigmoid` or `softplus` is the runtime's, which returns one float (the
                    // expansion checks that the name in scope is the runtime's).
                    if let (Pat::Ident(_), Some(init)) = (&l.pat, &l.init)
                        && let Expr::Call(call) = &*init.expr
                        && let Expr::Path(callee) = &*call.func
                        && let Some(called) = called_path(&callee.path)
                        && !(called.prefix.is_empty()
                            && Prim::find(Syntax::Runtime, &called.name.to_string()).is_some())
                    {
                        return true;
                    }
                    if let Some(init) = &l.init {
                        exprs.push(&init.expr);
                    }
                }
                Stmt::Expr(e, _) => exprs.push(e),
                _ => {}
            }
        }
        while let Some(e) = exprs.pop() {
            match e {
                Expr::Block(b) => blocks.push(&b.block),
                Expr::If(i) => {
                    blocks.push(&i.then_branch);
                    if let Some((_, e)) = &i.else_branch {
                        exprs.push(e);
                    }
                }
                Expr::ForLoop(f) => blocks.push(&f.body),
                Expr::While(w) => blocks.push(&w.body),
                Expr::Loop(l) => blocks.push(&l.body),
                Expr::Paren(p) => exprs.push(&p.expr),
                Expr::Closure(c) => exprs.push(&c.body),
                Expr::Match(m) => exprs.extend(m.arms.iter().map(|a| &*a.body)),
                _ => {}
            }
        }
    }
    false
}

fn calls_in(block: &mut Block, count: &mut Calls, locals: &HashSet<String>) {
    let stmts = std::mem::take(&mut block.stmts);
    let replaced: Vec<Option<Vec<Stmt>>> = (0..stmts.len())
        .map(|i| {
            if untyped_names_indexed(&stmts[i], &stmts[i + 1..]) {
                // Left as written: lowering reports the pattern, saying to give its type.
                return None;
            }
            call_let(&stmts[i], count, locals)
                .or_else(|| indexed_call_let(&stmts[i], &stmts[i + 1..], count, locals))
        })
        .collect();
    for (mut stmt, replaced) in stmts.into_iter().zip(replaced) {
        if let Some(replaced) = replaced {
            block.stmts.extend(replaced);
            continue;
        }
        match &mut stmt {
            Stmt::Local(l) => {
                if let Some(init) = &mut l.init {
                    calls_in_expr(&mut init.expr, count, locals);
                }
            }
            Stmt::Expr(e, _) => calls_in_expr(e, count, locals),
            _ => {}
        }
        block.stmts.push(stmt);
    }
}

fn calls_in_expr(e: &mut Expr, count: &mut Calls, locals: &HashSet<String>) {
    match e {
        Expr::Block(b) => calls_in(&mut b.block, count, locals),
        Expr::If(i) => {
            calls_in(&mut i.then_branch, count, locals);
            if let Some((_, e)) = &mut i.else_branch {
                calls_in_expr(e, count, locals);
            }
        }
        Expr::ForLoop(f) => calls_in(&mut f.body, count, locals),
        Expr::While(w) => calls_in(&mut w.body, count, locals),
        Expr::Loop(l) => calls_in(&mut l.body, count, locals),
        // A closure's body is inlined where it is called, and a `match` arm is a branch.
        Expr::Closure(c) => calls_in_expr(&mut c.body, count, locals),
        Expr::Match(m) => {
            for arm in &mut m.arms {
                calls_in_expr(&mut arm.body, count, locals);
            }
        }
        _ => {}
    }
}

/// A function called by name: `g`, or by path, `kin::g`.
struct Called<'e> {
    /// What comes before the name: `kin::`, or nothing.
    prefix: TokenStream,
    name: &'e Ident,
}

impl Called<'_> {
    /// The call of `g_outputs_call`, the helper that writes `g`'s floats into a buffer.
    fn helper(&self) -> TokenStream {
        let prefix = &self.prefix;
        let helper = format_ident!("{}{}", self.name, CALL_MARKER);
        quote!(#prefix #helper)
    }
}

/// The path `g` or `a::b::g` (no generic arguments) of a function, as [`Called`].
fn called_path(path: &syn::Path) -> Option<Called<'_>> {
    if path.segments.iter().any(|s| !s.arguments.is_none()) {
        return None;
    }
    // `f64::sin_cos(x)`, `std::..`: not a differentiated function's.
    let first = path.segments.first()?.ident.to_string();
    if path.segments.len() > 1
        && matches!(
            first.as_str(),
            "f32" | "f64" | "std" | "core" | "alloc" | "autodiff" | "num_traits"
        )
    {
        return None;
    }
    // `T::sin_cos(x)`, `Float::sin_cos(x)`: the float method, by a type's path (a module's is
    // in lower case).
    if path.segments.len() == 2
        && path.segments[1].ident == "sin_cos"
        && first != "Self"
        && first.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return None;
    }
    let mut prefix = TokenStream::new();
    path.leading_colon.to_tokens(&mut prefix);
    for pair in path.segments.pairs() {
        if let syn::punctuated::Pair::Punctuated(seg, sep) = pair {
            seg.to_tokens(&mut prefix);
            sep.to_tokens(&mut prefix);
        }
    }
    let name = &path.segments.last()?.ident;
    Some(Called { prefix, name })
}

/// `g(..)` or `kin::g(..)`, a call of a function by a name the body does not bind (a
/// closure's is inlined) or by a path.
fn called_function<'e>(
    e: &'e Expr,
    locals: &HashSet<String>,
) -> Option<(Called<'e>, &'e syn::ExprCall)> {
    let Expr::Call(call) = e else { return None };
    let Expr::Path(callee) = &*call.func else {
        return None;
    };
    if callee.qself.is_some() {
        return None;
    }
    let called = called_path(&callee.path)?;
    if callee.path.segments.len() == 1 && locals.contains(&called.name.to_string()) {
        return None;
    }
    Some((called, call))
}

/// A call of `callee` that writes its floats into the array `ident`, declared by `declare`.
fn whole_array_call(
    callee: &Called<'_>,
    call: &syn::ExprCall,
    declare: &TokenStream,
    ident: &Ident,
    count: &mut Calls,
) -> Vec<Stmt> {
    let helper = callee.helper();
    let buffer = count.buffer();
    let (mut stmts, args) = bind_array_arguments(call, &buffer, count);
    stmts.push(syn::parse_quote!(#declare));
    stmts.push(syn::parse_quote!(#helper(#(#args,)* &mut #ident);));
    stmts
}

/// `let y = g(x);` without a type, when every later use of `y` in the block is an element at a
/// literal index, `y[0]`: an array of as many floats as the largest index says (one more), bound
/// whole as `let y: [f64; 2] = g(x);` is. Should `g` return more floats than the indices read,
/// the derivatives do not compile, and the message says to give the type.
fn indexed_call_let(
    stmt: &Stmt,
    later: &[Stmt],
    count: &mut Calls,
    locals: &HashSet<String>,
) -> Option<Vec<Stmt>> {
    let Stmt::Local(l) = stmt else { return None };
    let init = l.init.as_ref()?;
    let Pat::Ident(name) = &l.pat else {
        return None;
    };
    if init.diverge.is_some() || name.subpat.is_some() || name.by_ref.is_some() {
        return None;
    }
    let (callee, call) = called_function(&init.expr, locals)?;
    let len = literal_indices(&name.ident, later)?;
    let ident = &name.ident;
    Some(whole_array_call(
        &callee,
        call,
        &quote!(let mut #ident = [0.0; #len];),
        ident,
        count,
    ))
}

/// `let (u, f) = g(x);`, a pattern without a type (which takes every element as a float), one of
/// whose names `stmts` index (`f[0]`): an array element, which needs the pattern's type.
fn untyped_names_indexed(stmt: &Stmt, later: &[Stmt]) -> bool {
    let Stmt::Local(l) = stmt else { return false };
    let Some(names) = bound_names(&l.pat) else {
        return false;
    };
    if !matches!(l.init.as_ref().map(|i| &*i.expr), Some(Expr::Call(_))) {
        return false;
    }
    let mut indexed = false;
    each_use(
        later,
        |i| names.iter().flatten().any(|n| n.ident == *i),
        |next| {
            indexed = bracket(next).is_some();
            !indexed
        },
    );
    indexed
}

/// One more than the largest index `name` is read at in `stmts`, if it is read and only ever as
/// `name[literal]` (a field `.name` is another thing).
fn literal_indices(name: &Ident, stmts: &[Stmt]) -> Option<usize> {
    use proc_macro2::TokenTree;
    let mut len = Some(0);
    each_use(
        stmts,
        |i| i == name,
        |next| {
            let literal = bracket(next).and_then(|g| {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                let [TokenTree::Literal(lit)] = inner.as_slice() else {
                    return None;
                };
                syn::parse_str::<syn::LitInt>(&lit.to_string())
                    .ok()?
                    .base10_parse::<usize>()
                    .ok()
            });
            len = literal.and_then(|k| len.map(|l: usize| l.max(k + 1)));
            len.is_some()
        },
    );
    len.filter(|&l| l > 0)
}

/// The bracketed group `[..]` that `next` is, if it is one.
fn bracket(next: Option<&proc_macro2::TokenTree>) -> Option<&proc_macro2::Group> {
    match next {
        Some(proc_macro2::TokenTree::Group(g))
            if g.delimiter() == proc_macro2::Delimiter::Bracket =>
        {
            Some(g)
        }
        _ => None,
    }
}

/// Calls `visit` with the token after each use in `stmts`, at any depth, of a name `wanted`
/// takes (not a field `.name`), until it returns false.
fn each_use(
    stmts: &[Stmt],
    wanted: impl Fn(&Ident) -> bool,
    mut visit: impl FnMut(Option<&proc_macro2::TokenTree>) -> bool,
) {
    use proc_macro2::TokenTree;
    let mut tokens = TokenStream::new();
    for stmt in stmts {
        stmt.to_tokens(&mut tokens);
    }
    let mut open = vec![tokens.into_iter().peekable()];
    let mut after_dot = false;
    while let Some(level) = open.last_mut() {
        let Some(tree) = level.next() else {
            open.pop();
            continue;
        };
        match tree {
            TokenTree::Group(g) => {
                after_dot = false;
                open.push(g.stream().into_iter().peekable());
            }
            TokenTree::Ident(i) if !after_dot && wanted(&i) => {
                if !visit(level.peek()) {
                    return;
                }
            }
            TokenTree::Punct(p) => after_dot = p.as_char() == '.',
            _ => after_dot = false,
        }
    }
}

/// The text of a function `calls` rewrote, to be compiled as the primal: each
/// `g_outputs_call(x, &mut buffer);` made `g(x)` with its floats written into the buffer.
pub fn primal_calls(block: &mut Block) {
    for stmt in &mut block.stmts {
        match stmt {
            Stmt::Expr(Expr::Call(call), Some(_)) => {
                if let Expr::Path(callee) = &*call.func
                    && let Some(called) = called_path(&callee.path)
                    && let Some(g) = called.name.to_string().strip_suffix(CALL_MARKER)
                    && let Some(out) = call.args.pop()
                {
                    let g = Ident::new(g, called.name.span());
                    let prefix = &called.prefix;
                    let args = &call.args;
                    *stmt = syn::parse_quote!(
                        ::autodiff::private::flatten_into(&#prefix #g(#args), #out);
                    );
                }
            }
            Stmt::Local(l) => {
                if let Some(init) = &mut l.init {
                    primal_calls_in(&mut init.expr);
                }
            }
            Stmt::Expr(e, _) => primal_calls_in(e),
            _ => {}
        }
    }
}

fn primal_calls_in(e: &mut Expr) {
    match e {
        Expr::Block(b) => primal_calls(&mut b.block),
        Expr::If(i) => {
            primal_calls(&mut i.then_branch);
            if let Some((_, e)) = &mut i.else_branch {
                primal_calls_in(e);
            }
        }
        Expr::ForLoop(f) => primal_calls(&mut f.body),
        Expr::While(w) => primal_calls(&mut w.body),
        Expr::Loop(l) => primal_calls(&mut l.body),
        _ => {}
    }
}

/// The names a destructuring pattern binds, each with its `mut`, if it is `[a, b]` or `(a, b)`;
/// `None` for a part it ignores with `_`.
fn bound_names(pat: &Pat) -> Option<Vec<Option<&syn::PatIdent>>> {
    let elems = match pat {
        Pat::Slice(s) => &s.elems,
        Pat::Tuple(t) => &t.elems,
        _ => return None,
    };
    let names: Vec<Option<&syn::PatIdent>> = elems
        .iter()
        .map(|p| match p {
            Pat::Ident(i) if i.subpat.is_none() && i.by_ref.is_none() => Some(Some(i)),
            Pat::Wild(_) => Some(None),
            _ => None,
        })
        .collect::<Option<_>>()?;
    names.iter().any(Option::is_some).then_some(names)
}

/// The arguments of a call into a buffer, an array literal (`g([x[0], x[1]])`) bound first by a
/// name made from `prefix`, since a call into a buffer takes arrays by name.
fn bind_array_arguments(
    call: &syn::ExprCall,
    prefix: &Ident,
    count: &mut Calls,
) -> (Vec<Stmt>, Vec<Expr>) {
    let mut stmts: Vec<Stmt> = Vec::new();
    let mut args: Vec<Expr> = Vec::new();
    for (k, arg) in call.args.iter().enumerate() {
        if matches!(arg, Expr::Array(_)) {
            let name = count.fresh.fresh(&format!("{prefix}arg{k}_"));
            stmts.push(syn::parse_quote!(let #name = #arg;));
            args.push(syn::parse_quote!(#name));
        } else {
            args.push(arg.clone());
        }
    }
    (stmts, args)
}

/// `self.g(x)` as the call it is, `Self::g(self, x)`.
fn method_of_self(e: &Expr) -> Option<Expr> {
    let Expr::MethodCall(m) = e else { return None };
    if m.turbofish.is_some()
        || !matches!(strip(m.receiver.as_ref().clone()), Expr::Path(p) if p.path.is_ident("self"))
    {
        return None;
    }
    let (method, args) = (&m.method, m.args.iter());
    Some(syn::parse_quote_spanned!(m.method.span()=> Self::#method(self, #(#args),*)))
}

fn call_let(stmt: &Stmt, count: &mut Calls, locals: &HashSet<String>) -> Option<Vec<Stmt>> {
    let Stmt::Local(l) = stmt else { return None };
    let init = l.init.as_ref()?;
    if init.diverge.is_some() {
        return None;
    }
    let of_self = method_of_self(&init.expr);
    let init_expr = of_self.as_ref().unwrap_or(&init.expr);
    // `let y: [f64; 2] = g(x);`: the array `y` is the call's buffer.
    if let Pat::Type(t) = &l.pat
        && let Pat::Ident(name) = &*t.pat
        && name.subpat.is_none()
        && name.by_ref.is_none()
        && let Type::Array(a) = &*t.ty
        && float_of(&a.elem).is_some()
        && let Some((callee, call)) = called_function(init_expr, locals)
    {
        let (ident, len, elem) = (&name.ident, &a.len, &a.elem);
        return Some(whole_array_call(
            &callee,
            call,
            &quote!(let mut #ident: [#elem; #len] = [0.0; #len];),
            ident,
            count,
        ));
    }
    // `let (u, v): (f64, [f64; 2]) = g(x);` says which elements are arrays; without a type,
    // every element is a float.
    let (pat, parts) = match &l.pat {
        Pat::Type(t) => {
            let parts: Vec<Part> = match &*t.ty {
                Type::Tuple(tuple) => tuple
                    .elems
                    .iter()
                    .map(|e| part_of(e).map(|(p, _)| p))
                    .collect::<Option<_>>()?,
                Type::Array(a) => {
                    let Len { lit: Some(n), .. } = Len::of(&a.len) else {
                        return None;
                    };
                    (0..n).map(|_| Part::Scalar).collect()
                }
                _ => return None,
            };
            (&*t.pat, Some(parts))
        }
        pat => (pat, None),
    };
    let names = bound_names(pat)?;
    let parts = parts.unwrap_or_else(|| names.iter().map(|_| Part::Scalar).collect());
    if parts.len() != names.len() {
        return None;
    }
    let (callee, call) = called_function(init_expr, locals)?;
    let helper = callee.helper();
    let buffer = count.buffer();
    let k = count.k.clone();
    let m = parts.iter().fold(Len::lit(0), |at, p| at.plus(&p.len()));
    let (mut stmts, args) = bind_array_arguments(call, &buffer, count);
    stmts.push(syn::parse_quote!(let mut #buffer = [0.0; #m];));
    stmts.push(syn::parse_quote!(#helper(#(#args,)* &mut #buffer);));
    let mut at = Len::lit(0);
    for (name, part) in names.into_iter().zip(&parts) {
        let Some(name) = name else {
            // `_`: the part is computed (its seed is zero) and not bound.
            at = at.plus(&part.len());
            continue;
        };
        let (mutability, ident) = (&name.mutability, &name.ident);
        match part {
            Part::Scalar => stmts.push(syn::parse_quote!(let #mutability #ident = #buffer[#at];)),
            Part::Array(len) => {
                stmts.push(syn::parse_quote!(let mut #ident = [0.0; #len];));
                let from = at.plus(&Len::runtime(quote!(#k)));
                stmts.push(syn::parse_quote!(for #k in 0..#len { #ident[#k] = #buffer[#from]; }));
            }
        }
        at = at.plus(&part.len());
    }
    Some(stmts)
}
