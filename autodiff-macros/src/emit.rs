//! Emission: a graph with its derivative sweep becomes a plain Rust function.
//!
//! The function body is one `let` per value worth naming, in graph order (the forward sweep, then
//! the derivative sweep), and a tuple of results. A value gets a `let` when the user named it,
//! when it is used more than once (the backward sweep reads forward values, so those are named),
//! or when it is a result. Every other operation is written inline into its single use, with the
//! parentheses precedence needs and no more, so the output reads like hand-written adjoint code.
//! Nodes nothing reads are not emitted.
//!
//! Hygiene: every identifier the macro makes has `Span::mixed_site()`, so a generated local can
//! neither capture nor be captured by a name in the user's scope; user tokens (constants, types)
//! keep their own spans, and operators carry the span of the source expression they came from so
//! a type error lands on the user's code. Names the user did not write are chosen not to collide
//! with any other generated name.

use std::collections::HashSet;

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{ItemFn, ReturnType};

use crate::forward::Tangent;
use crate::graph::{CastTo, CmpOp, FloatTy, Graph, KnownConst, LitValue, NodeId, Op, Ty};
use crate::reverse::Adjoint;
use crate::rules::{Prim, Syntax};

/// Operator precedence of emitted expressions, loosest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    If,
    Cmp,
    Sum,
    Product,
    Cast,
    Prefix,
    Atom,
}

/// An emitted expression and how tightly it binds.
struct Code {
    tokens: TokenStream,
    prec: Prec,
}

impl Code {
    fn new(tokens: TokenStream, prec: Prec) -> Self {
        Code { tokens, prec }
    }

    /// The expression, parenthesized unless it binds at least as tightly as `min`.
    fn at_least(self, min: Prec) -> TokenStream {
        if self.prec >= min {
            self.tokens
        } else {
            Group::new(Delimiter::Parenthesis, self.tokens).into_token_stream()
        }
    }
}

/// Chooses unique, readable names for generated values.
struct Namer {
    used: HashSet<String>,
}

impl Namer {
    fn fresh(&mut self, preferred: &str) -> Ident {
        let mut name = preferred.to_owned();
        let mut n = 1;
        while self.used.contains(&name) {
            name = format!("{preferred}_{n}");
            n += 1;
        }
        self.used.insert(name.clone());
        ident(&name)
    }
}

fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::mixed_site()),
        None => Ident::new(name, Span::mixed_site()),
    }
}

/// One sweep over a graph, laid out: which nodes a result depends on, and what each is called.
struct Sweep<'g> {
    graph: &'g Graph,
    /// Whether a result depends on the node; nodes that are not live are not emitted.
    live: Vec<bool>,
    /// Which nodes get a `let`.
    bound: Vec<bool>,
    /// The name of every bound node and of every input (parameters, tangent inputs).
    names: Vec<Option<Ident>>,
}

/// A value the generated function returns, and the name it gets if it needs a `let`.
type Returned = (Option<NodeId>, String);

impl<'g> Sweep<'g> {
    /// Lays out the sweep computing `results` from `inputs`, naming what needs a name.
    fn new(
        graph: &'g Graph,
        inputs: &[(NodeId, Ident)],
        results: &[Returned],
        namer: &mut Namer,
    ) -> Self {
        let n = graph.nodes.len();
        let mut live = vec![false; n];
        let mut uses = vec![0usize; n];
        for (id, _) in results {
            if let Some(id) = id {
                live[id.0] = true;
                uses[id.0] += 1;
            }
        }
        for i in (0..n).rev() {
            if live[i] {
                for a in &graph.nodes[i].args {
                    live[a.0] = true;
                    uses[a.0] += 1;
                }
            }
        }
        let mut preferred: Vec<Option<String>> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let (live, uses) = (live[i], uses[i]);
                (live && !graph.is_cheap(NodeId(i)) && (uses > 1 || node.name.is_some())).then(
                    || {
                        node.name
                            .clone()
                            .unwrap_or_else(|| if uses > 1 { "t" } else { "v" }.to_owned())
                    },
                )
            })
            .collect();
        for (id, name) in results {
            if let Some(id) = id
                && !graph.is_cheap(*id)
                && graph.node(*id).name.is_none()
            {
                preferred[id.0] = Some(name.clone());
            }
        }
        let bound = preferred.iter().map(Option::is_some).collect();
        let mut names: Vec<Option<Ident>> = preferred
            .iter()
            .map(|p| p.as_deref().map(|p| namer.fresh(p)))
            .collect();
        for (id, name) in inputs {
            names[id.0] = Some(name.clone());
        }
        Sweep {
            graph,
            live,
            bound,
            names,
        }
    }

    /// `let _ = x;` for each input the sweep does not read, so the function is warning-free,
    /// then one `let` per bound node, then the tuple of results.
    fn body(&self, inputs: &[(NodeId, Ident)], results: &[Returned]) -> TokenStream {
        let unused = inputs
            .iter()
            .filter(|(id, _)| !self.live[id.0])
            .map(|(_, ident)| quote!(let _ = #ident;));
        let stmts = self
            .names
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.bound[i])
            .filter_map(|(i, name)| {
                let name = name.as_ref()?;
                let value = self.render(NodeId(i)).tokens;
                Some(quote! { let #name = #value; })
            });
        let results = results.iter().map(|(id, _)| match id {
            Some(id) => self.operand(*id).tokens,
            None => float_literal(0.0).tokens,
        });
        quote! {
            #(#unused)*
            #(#stmts)*
            (#(#results,)*)
        }
    }

    /// A node as an operand: its name if it has one, a leaf as itself, otherwise inline.
    fn operand(&self, id: NodeId) -> Code {
        if let (true, Some(name)) = (self.bound[id.0], &self.names[id.0]) {
            return Code::new(name.to_token_stream(), Prec::Atom);
        }
        self.render(id)
    }

    fn render(&self, id: NodeId) -> Code {
        let node = self.graph.node(id);
        let span = node.span;
        let arg = |k: usize| self.operand(node.args[k]);
        match &node.op {
            Op::Param(_) | Op::Seed(_) => Code::new(
                self.names[id.0]
                    .as_ref()
                    .expect("inputs are named")
                    .to_token_stream(),
                Prec::Atom,
            ),
            Op::Lit(_, Some(tokens)) | Op::Const(tokens) => Code::new(tokens.clone(), Prec::Atom),
            Op::Lit(value, None) => literal(*value),
            Op::Known(k) => known(*k, node.ty.float().unwrap_or(FloatTy::F64)),
            Op::Prim(p) => self.prim(*p, id, span),
            Op::Cast(CastTo::Float(t)) => {
                let a = arg(0).at_least(Prec::Cast);
                let t = format_ident!("{}", t.name());
                Code::new(quote_spanned!(span=> #a as #t), Prec::Cast)
            }
            Op::Cast(CastTo::Lossless(FloatTy::F64)) => {
                let a = arg(0).tokens;
                Code::new(
                    quote_spanned!(span=> ::core::primitive::f64::from(#a)),
                    Prec::Atom,
                )
            }
            // `i32` to `f32` rounds above 2^24; `powi` exponents are far smaller.
            Op::Cast(CastTo::Lossless(FloatTy::F32)) => {
                let a = arg(0).at_least(Prec::Cast);
                Code::new(quote_spanned!(span=> #a as f32), Prec::Cast)
            }
            Op::Cast(CastTo::Other(ty, _)) => {
                let a = arg(0).at_least(Prec::Cast);
                Code::new(quote_spanned!(span=> #a as #ty), Prec::Cast)
            }
            Op::Cmp(op) => {
                // `a as f64 < b` would parse `<` as the start of generic arguments.
                let side = |c: Code| {
                    if c.prec == Prec::Cast {
                        Code::new(c.tokens, Prec::Sum).at_least(Prec::Atom)
                    } else {
                        c.at_least(Prec::Sum)
                    }
                };
                let (a, b) = (side(arg(0)), side(arg(1)));
                let op = match op {
                    CmpOp::Lt => quote_spanned!(span=> <),
                    CmpOp::Le => quote_spanned!(span=> <=),
                    CmpOp::Gt => quote_spanned!(span=> >),
                    CmpOp::Ge => quote_spanned!(span=> >=),
                    CmpOp::Eq => quote_spanned!(span=> ==),
                    CmpOp::Ne => quote_spanned!(span=> !=),
                };
                Code::new(quote!(#a #op #b), Prec::Cmp)
            }
            Op::Select => {
                let cond = arg(0).tokens;
                let then = arg(1).tokens;
                let otherwise = self.operand(node.args[2]);
                // `else if` rather than `else { if .. }`, as a person writes it.
                let otherwise = if otherwise.prec == Prec::If {
                    otherwise.tokens
                } else {
                    let t = otherwise.tokens;
                    quote!({ #t })
                };
                Code::new(
                    quote_spanned!(span=> if #cond { #then } else #otherwise),
                    Prec::If,
                )
            }
        }
    }

    fn prim(&self, p: Prim, id: NodeId, span: Span) -> Code {
        let node = self.graph.node(id);
        let arg = |k: usize| self.operand(node.args[k]);
        match p.syntax() {
            Syntax::Infix => {
                let prec = match p {
                    Prim::Add | Prim::Sub => Prec::Sum,
                    _ => Prec::Product,
                };
                let a = arg(0).at_least(prec);
                let b = arg(1).at_least(next(prec));
                let op = punct(p.name(), span);
                Code::new(quote!(#a #op #b), prec)
            }
            Syntax::Prefix => {
                let a = arg(0).at_least(Prec::Prefix);
                let op = punct(p.name(), span);
                Code::new(quote!(#op #a), Prec::Prefix)
            }
            Syntax::Method => {
                let method = Ident::new(p.name(), span);
                let receiver = self.graph.node(node.args[0]);
                if matches!(receiver.op, Op::Lit(..)) || receiver.ty == Ty::Float(None) {
                    // A literal has no methods until its type is known: `f64::exp(2.0)`.
                    let t = format_ident!("{}", node.ty.float().unwrap_or(FloatTy::F64).name());
                    let args = node.args.iter().map(|&a| self.operand(a).tokens);
                    return Code::new(
                        quote!(::core::primitive::#t::#method(#(#args),*)),
                        Prec::Atom,
                    );
                }
                let r = self.operand(node.args[0]).at_least(Prec::Atom);
                let rest = node.args[1..].iter().map(|&a| self.operand(a).tokens);
                Code::new(quote!(#r.#method(#(#rest),*)), Prec::Atom)
            }
            Syntax::Runtime => {
                let args = node.args.iter().map(|&a| self.operand(a).tokens);
                let f = Ident::new(p.name(), span);
                Code::new(quote!(::autodiff::#f(#(#args),*)), Prec::Atom)
            }
        }
    }
}

/// The precedence the right operand of a left-associative operator needs.
fn next(prec: Prec) -> Prec {
    match prec {
        Prec::If => Prec::Cmp,
        Prec::Cmp => Prec::Sum,
        Prec::Sum => Prec::Product,
        Prec::Product => Prec::Cast,
        Prec::Cast => Prec::Prefix,
        Prec::Prefix | Prec::Atom => Prec::Atom,
    }
}

fn punct(op: &str, span: Span) -> TokenStream {
    op.chars()
        .enumerate()
        .map(|(i, c)| {
            let spacing = if i + 1 < op.len() {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            let mut p = Punct::new(c, spacing);
            p.set_span(span);
            TokenTree::Punct(p)
        })
        .collect()
}

fn literal(value: LitValue) -> Code {
    match value {
        LitValue::Float(v) => float_literal(v),
        LitValue::Int(v) => {
            let lit = Literal::i128_unsuffixed(v.abs()).into_token_stream();
            if v < 0 {
                Code::new(quote!(-#lit), Prec::Prefix)
            } else {
                Code::new(lit, Prec::Atom)
            }
        }
        LitValue::Bool(b) => Code::new(quote!(#b), Prec::Atom),
    }
}

fn float_literal(v: f64) -> Code {
    let lit = Literal::f64_unsuffixed(v.abs());
    if v.is_sign_negative() {
        Code::new(quote!(-#lit), Prec::Prefix)
    } else {
        Code::new(lit.into_token_stream(), Prec::Atom)
    }
}

fn known(k: KnownConst, ty: FloatTy) -> Code {
    let t = format_ident!("{}", ty.name());
    let consts = quote!(::core::#t::consts);
    match k {
        KnownConst::Ln2 => Code::new(quote!(#consts::LN_2), Prec::Atom),
        KnownConst::Ln10 => Code::new(quote!(#consts::LN_10), Prec::Atom),
        KnownConst::RadiansPerDegree => Code::new(quote!(#consts::PI / 180.0), Prec::Product),
        KnownConst::DegreesPerRadian => Code::new(quote!(180.0 / #consts::PI), Prec::Product),
    }
}

/// What generated functions share: the signature pieces of the user's function.
struct Signature<'a> {
    item: &'a ItemFn,
    output: TokenStream,
}

impl<'a> Signature<'a> {
    fn new(item: &'a ItemFn) -> Self {
        let output = match &item.sig.output {
            ReturnType::Type(_, ty) => ty.to_token_stream(),
            ReturnType::Default => quote!(f64),
        };
        Signature { item, output }
    }

    /// `#[cfg]` and `#[allow]` apply to generated functions as to the original.
    fn attrs(&self) -> impl Iterator<Item = &syn::Attribute> {
        self.item
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("allow"))
    }

    fn name(&self, suffix: &str) -> Ident {
        format_ident!("{}_{}", self.item.sig.ident, suffix)
    }

    fn call(&self, graph: &Graph) -> String {
        let params: Vec<&str> = graph.params.iter().map(|p| p.name.as_str()).collect();
        format!("{}({})", self.item.sig.ident, params.join(", "))
    }
}

/// `///` lines, and a last one that says where the function comes from.
fn doc_lines(lines: &[String]) -> Vec<TokenStream> {
    lines
        .iter()
        .map(String::as_str)
        .chain(["", "Generated by `#[differentiate]`."])
        .map(|line| {
            let line = format!(" {line}");
            quote!(#[doc = #line])
        })
        .collect()
}

/// A namer that has given the parameters their own names, and those names.
fn name_params(graph: &Graph) -> (Namer, Vec<(NodeId, Ident)>) {
    let mut namer = Namer {
        used: HashSet::new(),
    };
    let params = graph
        .params
        .iter()
        .map(|p| (p.node, namer.fresh(&p.name)))
        .collect();
    (namer, params)
}

/// `d_x` for the parameter `x`, also for a raw identifier `r#x`.
fn d_name(name: &str) -> String {
    format!("d_{}", name.trim_start_matches("r#"))
}

/// `f_grad`: the value and the gradient, by one forward and one backward sweep.
pub fn reverse_fn(item: &ItemFn, adjoint: &Adjoint) -> TokenStream {
    let graph = &adjoint.graph;
    let sig = Signature::new(item);
    let (mut namer, params) = name_params(graph);
    let active: Vec<_> = graph.params.iter().filter(|p| p.active).collect();
    let mut results = vec![(Some(graph.output), "value".to_owned())];
    results.extend(
        active
            .iter()
            .zip(&adjoint.gradients)
            .map(|(p, g)| (*g, d_name(&p.name))),
    );
    let body = Sweep::new(graph, &params, &results, &mut namer).body(&params, &results);

    let name = sig.name("grad");
    let vis = &item.vis;
    let attrs = sig.attrs();
    let output = &sig.output;
    let inputs = graph.params.iter().zip(&params).map(|(p, (_, ident))| {
        let ty = &p.ty_tokens;
        quote!(#ident: #ty)
    });
    let grad_tys = active.iter().map(|p| &p.ty_tokens);
    let items = &graph.items;
    let entries: Vec<String> = std::iter::once(sig.call(graph))
        .chain(
            active
                .iter()
                .map(|p| format!("∂{}/∂{}", item.sig.ident, p.name)),
        )
        .collect();
    let doc = doc_lines(&[
        format!(
            "The value of [`{}`] and its gradient, by reverse-mode automatic differentiation:",
            item.sig.ident
        ),
        format!("returns `({})`.", entries.join(", ")),
    ]);
    quote! {
        #(#doc)*
        #(#attrs)*
        #[must_use]
        #vis fn #name(#(#inputs),*) -> (#output, #(#grad_tys),*) {
            #(#items)*
            #body
        }
    }
}

/// `f_jvp`: the value and the derivative along the direction given by the tangent inputs.
pub fn forward_fn(item: &ItemFn, tangent: &Tangent) -> TokenStream {
    let graph = &tangent.graph;
    let sig = Signature::new(item);
    let (mut namer, mut inputs) = name_params(graph);
    // The forward pass made one tangent input per active parameter.
    let seeds: Vec<(usize, NodeId, Ident)> = graph
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n.op {
            Op::Seed(p) => Some((p, NodeId(i), namer.fresh(&d_name(&graph.params[p].name)))),
            _ => None,
        })
        .collect();
    inputs.extend(seeds.iter().map(|(_, id, ident)| (*id, ident.clone())));
    let results = vec![
        (Some(graph.output), "value".to_owned()),
        (tangent.tangent, "tangent".to_owned()),
    ];
    let body = Sweep::new(graph, &inputs, &results, &mut namer).body(&inputs, &results);

    let name = sig.name("jvp");
    let vis = &item.vis;
    let attrs = sig.attrs();
    let output = &sig.output;
    let params = graph.params.iter().enumerate().map(|(i, p)| {
        let ident = &inputs[i].1;
        let ty = &p.ty_tokens;
        match seeds.iter().find(|(q, ..)| *q == i) {
            Some((_, _, d)) => quote!(#ident: #ty, #d: #ty),
            None => quote!(#ident: #ty),
        }
    });
    let items = &graph.items;
    let direction: Vec<String> = graph
        .params
        .iter()
        .filter(|p| p.active)
        .map(|p| {
            format!(
                "∂{f}/∂{x} · {d}",
                f = item.sig.ident,
                x = p.name,
                d = d_name(&p.name)
            )
        })
        .collect();
    let sum = if direction.is_empty() {
        "0".to_owned()
    } else {
        direction.join(" + ")
    };
    let doc = doc_lines(&[
        format!(
            "The value of [`{}`] and its derivative along a direction, by forward-mode automatic",
            item.sig.ident
        ),
        format!("differentiation: returns `({}, {sum})`.", sig.call(graph)),
    ]);
    quote! {
        #(#doc)*
        #(#attrs)*
        #[must_use]
        #vis fn #name(#(#params),*) -> (#output, #output) {
            #(#items)*
            #body
        }
    }
}
