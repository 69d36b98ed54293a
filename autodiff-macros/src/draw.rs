//! `f_graph`: code that records the computational graph at a point.
//!
//! The generated function runs the lowered program as `f` does, one `let` per node, and records
//! each node that depends on an active parameter into an `autodiff::GraphBuilder`: its value,
//! the source text it came from, and the local derivative of each edge into it. The local
//! derivatives come from the one rule table: a row applied with an incoming adjoint of 1 gives
//! `∂node/∂argᵢ` for each argument, built as nodes through the algebra and printed beside the
//! node. Control flow is kept as it is, so the builder sees the branch taken and every iteration
//! of every loop. Reading a variable or an array element records no node: it is an edge from the
//! node last stored there. The builder runs the backward pass at the end, at run time.

use crate::hash::HashSet;

use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::Ident;

use crate::algebra::{Builder, Site};
use crate::graph::{
    Block, CastTo, CmpOp, FloatTy, Graph, Invoke, KnownConst, LitValue, Loop, NodeId, Op, Pass,
    Shape, Stmt, Ty, VarId,
};
use crate::prim::{Prim, Syntax};
use crate::rules;

/// How `f_graph` treats a node.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A scalar active parameter, recorded first.
    Param,
    /// A float field of a struct named in `wrt` (or of `self`), read where the function starts:
    /// a parameter node `p.a`, recorded there when an edge comes from it.
    Field,
    /// An operation, recorded with its local derivatives.
    Record,
    /// A value that is an earlier node: a variable, an array element, the branch taken.
    Alias,
    /// A constant: no node.
    Constant,
}

struct Draw<'g> {
    /// The lowered graph with the nodes of the local derivatives appended.
    graph: &'g Graph,
    /// How each node of the lowered graph is treated.
    kinds: Vec<Kind>,
    /// For each recorded node, the local derivative with respect to each argument.
    partials: Vec<Vec<Option<NodeId>>>,
    /// Values that need a `let`.
    needed: Vec<bool>,
    /// Nodes whose graph node is used.
    id_used: Vec<bool>,
    /// Variables assigned after they are declared.
    mutated: HashSet<VarId>,
    float: FloatTy,
}

fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::mixed_site()),
        None => Ident::new(name, Span::mixed_site()),
    }
}

/// Refuses what `f_graph` cannot draw, spanned on it: a function whose outputs are
/// out-parameters has no single output to seed, and a call of a function with several outputs
/// has no `g_vjp_into` whose columns would give its edges.
pub fn check(graph: &Graph) -> syn::Result<()> {
    if let Some(p) = graph.params.iter().find(|p| p.out()) {
        let name = p.name.trim_start_matches("r#");
        return Err(syn::Error::new(
            p.span,
            format!(
                "`graph` draws a function with one float output, and the out-parameter `{name}` is an output: draw a function that calls this one with a local `let mut {name} = vec![0.0; n];` and returns one float computed from it, or remove `graph` here"
            ),
        ));
    }
    // A call of a function with several outputs has no `g_vjp_into` to draw its edges from.
    for node in &graph.nodes {
        if let Op::Invoke(invoke) = &node.op
            && invoke.several
        {
            let name = &invoke.callee.name;
            return Err(syn::Error::new(
                node.span,
                format!(
                    "`graph` does not draw through a call of `{name}`, a function with several outputs: remove `graph` here, or draw a function without this call"
                ),
            ));
        }
    }
    Ok(())
}

/// `f_graph(params...) -> ::autodiff::Graph`; `code` is the text of `f_grad`.
pub fn graph_fn(lowered: &Graph, code: &str) -> TokenStream {
    let forward_len = lowered.nodes.len();
    let kinds: Vec<Kind> = lowered
        .nodes
        .iter()
        .map(|n| match n.op {
            Op::Param(i) => {
                let p = &lowered.params[i];
                if p.active && p.var.is_none() && !p.fields() {
                    Kind::Param
                } else {
                    Kind::Constant
                }
            }
            _ if !n.active || matches!(n.ty, Ty::Int | Ty::Bool) => Kind::Constant,
            Op::Member(_) => Kind::Field,
            Op::Prim(_) | Op::Cast(CastTo::Float(_)) | Op::Call(_) => Kind::Record,
            Op::Read(v) | Op::Load(v) if lowered.var(v).active => Kind::Alias,
            Op::Select => Kind::Alias,
            _ => Kind::Constant,
        })
        .collect();

    // The local derivatives: each row with an incoming adjoint of 1. Nothing of the forward
    // sweep is shared, so each derivative refers only to its node and the node's arguments.
    let builder = Builder::new(lowered.clone());
    builder.retain(|_| false);
    let mut partials = vec![Vec::new(); forward_len];
    for (i, node) in lowered.nodes.iter().enumerate() {
        if kinds[i] != Kind::Record {
            continue;
        }
        builder.set_site(Site {
            span: node.span,
            ty: node.ty.float().unwrap_or(lowered.output_ty),
        });
        let one = builder.v(builder.lit(1.0));
        let args: Vec<_> = node.args.iter().map(|&a| builder.v(a)).collect();
        let local = rules::local_derivatives(&node.op, one, builder.v(NodeId(i)), &args);
        partials[i] = local.into_iter().map(|p| p.value().map(|v| v.id)).collect();
        // An array argument of a call has for its partials the elements of its entry in the
        // same `g_grad` result as the scalars' (an array): one edge per element.
        if let Op::Call(callee) = &node.op {
            let grad = one.call_grad(callee, &args);
            for (k, entry) in callee.entries().enumerate() {
                if let (Some(entry), Some(_)) = (entry, array_argument(lowered, node.args[k])) {
                    partials[i][k] = Some(grad.field(entry).id);
                }
            }
        }
    }
    let graph = builder.finish();

    let mut draw = Draw {
        graph: &graph,
        kinds,
        partials,
        needed: vec![false; graph.nodes.len()],
        id_used: vec![false; forward_len],
        mutated: HashSet::default(),
        float: lowered.output_ty,
    };
    draw.analyse();
    draw.function(&lowered.sig, code)
}

/// An edge into a recorded node.
enum Edge {
    /// From a value, with its local derivative (`None` for 0).
    Value(NodeId, Option<NodeId>),
    /// From each element of an active array passed to a call (`var`, or `var[start..end]` for
    /// part of it), with the matching element of its gradient entry `local`.
    Elements {
        var: VarId,
        start: Option<NodeId>,
        local: NodeId,
    },
}

/// The active array or slice an argument passes whole or in part, with where the part starts.
fn array_argument(g: &Graph, arg: NodeId) -> Option<(VarId, Option<NodeId>)> {
    let node = g.node(arg);
    let (var, start) = match node.op {
        Op::Array(v, _) => (v, None),
        Op::Part(v) => (v, Some(node.args[0])),
        _ => return None,
    };
    g.var(var).active.then_some((var, start))
}

impl Draw<'_> {
    fn node_kind(&self, id: NodeId) -> Kind {
        self.kinds.get(id.0).copied().unwrap_or(Kind::Constant)
    }

    /// Whether a node stands for a graph node (rather than a constant).
    fn tracked(&self, id: NodeId) -> bool {
        self.node_kind(id) != Kind::Constant
    }

    /// The edges into a recorded node: from each argument that is a node, and from each element
    /// of an active array argument of a call, with their local derivatives.
    fn edges(&self, id: NodeId) -> Vec<Edge> {
        let node = self.graph.node(id);
        node.args
            .iter()
            .enumerate()
            .filter_map(|(k, &a)| {
                let local = self.partials[id.0].get(k).copied().flatten();
                if let (Op::Call(_), Some(local), Some((var, start))) =
                    (&node.op, local, array_argument(self.graph, a))
                {
                    return Some(Edge::Elements { var, start, local });
                }
                self.tracked(a).then_some(Edge::Value(a, local))
            })
            .collect()
    }

    /// Works out which values and which graph nodes the generated code uses, so that it binds
    /// nothing it does not use.
    fn analyse(&mut self) {
        let g = self.graph;
        let output = g.output;
        let mut stmt_uses = Vec::new();
        g.body.for_each_use(&mut |n| stmt_uses.push(n));
        let mut stored = Vec::new();
        collect_stores(&g.body, &mut stored, &mut self.mutated);

        self.id_used[output.0] = true;
        // A name a `let` gives a value finds its node.
        for (n, _) in &g.aliases {
            if self.tracked(*n) {
                self.id_used[n.0] = true;
            }
        }
        for (i, node) in g.nodes.iter().enumerate().take(self.kinds.len()) {
            if self.kinds[i] == Kind::Alias && node.name.is_some() {
                self.id_used[i] = true;
            }
        }
        for &(var, value) in &stored {
            if g.var(var).active && g.is_primal(value) {
                self.id_used[value.0] = true;
            }
        }
        // A call that writes into an active buffer draws an edge from each scalar it is passed.
        for &(var, value) in &stored {
            if g.var(var).active && matches!(g.node(value).op, Op::Invoke(_)) {
                for &a in &g.node(value).args {
                    if self.tracked(a) {
                        self.id_used[a.0] = true;
                    }
                }
            }
        }
        // Fills record the node of the value they fill with.
        for (var, value) in &stored {
            if g.var(*var).active && matches!(g.node(*value).op, Op::Fill(_)) {
                let arg = g.node(*value).args[0];
                self.id_used[arg.0] = true;
            }
        }
        for i in (0..self.kinds.len()).rev() {
            let id = NodeId(i);
            match self.kinds[i] {
                Kind::Record => {
                    for edge in self.edges(id) {
                        if let Edge::Value(a, _) = edge {
                            self.id_used[a.0] = true;
                        }
                    }
                }
                Kind::Alias if self.id_used[i] => {
                    if let Op::Select = g.node(id).op {
                        let args = &g.node(id).args;
                        self.id_used[args[1].0] = true;
                        self.id_used[args[2].0] = true;
                    }
                }
                _ => {}
            }
        }

        self.needed[output.0] = true;
        for n in stmt_uses {
            self.needed[n.0] = true;
        }
        for i in (0..self.kinds.len()).rev() {
            let id = NodeId(i);
            let node = g.node(id);
            match self.kinds[i] {
                Kind::Record => {
                    self.needed[i] = true;
                    let mut work: Vec<NodeId> =
                        self.partials[i].iter().flatten().copied().collect();
                    let mut seen = HashSet::default();
                    while let Some(d) = work.pop() {
                        if !seen.insert(d) {
                            continue;
                        }
                        self.needed[d.0] = true;
                        if !g.is_primal(d) {
                            work.extend(&g.node(d).args);
                        }
                    }
                }
                Kind::Field if self.id_used[i] => self.needed[i] = true,
                Kind::Alias if self.id_used[i] => {
                    // The branch taken, the index of the element.
                    if matches!(node.op, Op::Select | Op::Load(_)) {
                        self.needed[node.args[0].0] = true;
                    }
                    if matches!(node.op, Op::Load(_)) {
                        self.needed[i] = true;
                    }
                }
                _ => {}
            }
            if self.needed[i] {
                for &a in &node.args {
                    self.needed[a.0] = true;
                }
            }
        }
    }

    fn function(&self, sig: &crate::graph::Signature, code: &str) -> TokenStream {
        let g = self.graph;
        let f = &sig.ident;
        let vis = &sig.vis;
        let name = format_ident!("{}_graph", f);
        let (generics, _, where_clause) = sig.generics.split_for_impl();
        let turbofish = crate::emit::type_turbofish(&sig.generics);
        let (receiver, use_original, link) = match &g.receiver {
            Some(r) => (
                quote!(#r,),
                quote!(let _ = Self::#f #turbofish;),
                format!("Self::{f}"),
            ),
            None if g.associated => (
                TokenStream::new(),
                quote!(let _ = Self::#f #turbofish;),
                format!("Self::{f}"),
            ),
            // Possibly an associated function: `f` may not name it (see `expand`).
            None => (TokenStream::new(), TokenStream::new(), f.to_string()),
        };
        let params = g.params.iter().map(|p| {
            let ident = ident(&p.name);
            let ty = &p.ty_tokens;
            let stored = p.mutable && p.var.is_some_and(|v| g.body.stores(v));
            let mutability = stored.then(|| quote!(mut));
            quote!(#mutability #ident: #ty)
        });
        let record_params = g.params.iter().enumerate().filter_map(|(i, p)| {
            if self.node_kind(p.node) != Kind::Param {
                return None;
            }
            let value = ident(&p.name);
            let value = if p.by_ref {
                quote!(*#value)
            } else {
                quote!(#value)
            };
            let text = p.name.trim_start_matches("r#");
            let builder = Ident::new("__graph", Span::mixed_site());
            let call = quote!(#builder.param(#text, ::autodiff::cast::<f64, _>(#value)));
            Some(if self.id_used[p.node.0] {
                let id = format_ident!("__p{}", i, span = Span::mixed_site());
                quote!(let #id = #call;)
            } else {
                quote!(let _ = #call;)
            })
        });
        let param_aliases: TokenStream = g
            .params
            .iter()
            .filter(|p| self.node_kind(p.node) == Kind::Param)
            .map(|p| self.aliases(p.node))
            .collect();
        let items = &g.items;
        let body = self.block(&g.body);
        let output = self.operand(g.output);
        let output_id = self.id(g.output);
        let source = self.source(g.output);
        let function = f.to_string();
        let doc = [
            format!(
                " The computational graph of [`{link}`] at this point: each node's value and adjoint"
            ),
            " (∂output/∂node, the output's adjoint seeded with 1) and each edge's local derivative."
                .to_owned(),
            " Print it for the forward and backward passes, or draw it with `to_dot` / `to_svg`.".to_owned(),
            String::new(),
            " Generated by `#[differentiate(graph)]`.".to_owned(),
        ];
        let graph_ident = Ident::new("__graph", Span::mixed_site());
        quote! {
            #(#[doc = #doc])*
            #[allow(clippy::all, clippy::pedantic)]
            #vis fn #name #generics(#receiver #(#params),*) -> ::autodiff::Graph #where_clause {
                #use_original
                #(#items)*
                let mut #graph_ident = ::autodiff::GraphBuilder::new(#function, #code);
                #(#record_params)*
                #param_aliases
                #body
                #graph_ident.finish(#output_id, ::autodiff::cast::<f64, _>(#output), #source)
            }
        }
    }

    fn var(&self, v: VarId) -> TokenStream {
        let var = self.graph.var(v);
        match var.param {
            Some(i) => {
                let ident = ident(&self.graph.params[i].name);
                quote!(#ident)
            }
            None => {
                let ident = format_ident!("__v{}", v.0, span = Span::mixed_site());
                quote!(#ident)
            }
        }
    }

    fn block(&self, block: &Block) -> TokenStream {
        block.0.iter().map(|s| self.stmt(s)).collect()
    }

    fn stmt(&self, stmt: &Stmt) -> TokenStream {
        let graph = Ident::new("__graph", Span::mixed_site());
        match stmt {
            Stmt::Node(n) => self.node(*n),
            Stmt::Declare(v, init) => {
                let name = self.var(*v);
                let Some(n) = init else {
                    // Typed where the type is known: a value built from literals alone (`if c
                    // { 2.0 } else { 1.0 }`) would otherwise have no float type for its methods.
                    let var = self.graph.var(*v);
                    return match (&self.graph.generic, var.ty.float(), &var.shape) {
                        (Some(t), Some(_), Shape::Scalar) => quote!(let #name: #t;),
                        (None, Some(f), Shape::Scalar) => {
                            let f = format_ident!("{}", f.name());
                            quote!(let #name: #f;)
                        }
                        _ => quote!(let #name;),
                    };
                };
                let mutability = self.mutated.contains(v).then(|| quote!(mut));
                let value = self.operand(*n);
                let record = self.record_store(*v, *n, None);
                quote!(let #mutability #name = #value; #record)
            }
            Stmt::Assign(v, n) if matches!(self.graph.node(*n).op, Op::Invoke(_)) => {
                self.invoke(*v, *n)
            }
            Stmt::Assign(v, n) => {
                let name = self.var(*v);
                let value = self.operand(*n);
                let record = self.record_store(*v, *n, None);
                quote!(#name = #value; #record)
            }
            Stmt::Store { var, index, value } => {
                let name = self.var(*var);
                let i = self.operand(*index);
                let x = self.operand(*value);
                let record = self.record_store(*var, *value, Some(*index));
                quote!(#name[#i] = #x; #record)
            }
            Stmt::Push(..) | Stmt::Assert { .. } => TokenStream::new(),
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.operand(*cond);
                let t = self.block(then);
                let o = self.block(otherwise);
                if o.is_empty() {
                    quote!(if #c { #t })
                } else {
                    quote!(if #c { #t } else { #o })
                }
            }
            Stmt::For(Loop {
                counter,
                name,
                start,
                end,
                inclusive,
                reverse,
                body,
            }) => {
                let i = format_ident!("__c{}", counter, span = Span::mixed_site());
                let (s, e) = (self.operand(*start), self.operand(*end));
                let range = if *inclusive {
                    quote!(#s..=#e)
                } else {
                    quote!(#s..#e)
                };
                let range = if *reverse {
                    quote!((#range).rev())
                } else {
                    range
                };
                let label = if name == "_" { "" } else { name.as_str() };
                let body = self.block(body);
                quote! {
                    #graph.enter_loop(#label);
                    for #i in #range {
                        #graph.iteration(#i);
                        #body
                    }
                    #graph.exit_loop();
                }
            }
            Stmt::While { cond, test, body } => {
                let c = self.block(cond);
                let t = self.operand(*test);
                let body = self.block(body);
                quote! {
                    #graph.enter_loop("");
                    loop {
                        #graph.iteration("");
                        #c
                        if !#t {
                            break;
                        }
                        #body
                    }
                    #graph.exit_loop();
                }
            }
        }
    }

    /// Tells the builder which node a variable (or one of its elements) now holds.
    fn record_store(&self, v: VarId, value: NodeId, index: Option<NodeId>) -> TokenStream {
        let g = self.graph;
        let var = g.var(v);
        if !var.active {
            return TokenStream::new();
        }
        let graph = Ident::new("__graph", Span::mixed_site());
        let k = v.0;
        // The variable lowering makes for an `if` used as a value, and the one an early `return`
        // assigns, are named by no one.
        let name = match var.name.as_str() {
            _ if g.returned == Some(v) => "",
            "value_of_if" => "",
            name => name.trim_start_matches("r#"),
        };
        if let Some(index) = index {
            let i = self.operand(index);
            let id = self.id(value);
            return quote!(#graph.store(#k, #name, #i, #id););
        }
        match g.node(value).op {
            Op::Fill(_) => {
                let id = self.id(g.node(value).args[0]);
                return quote!(#graph.fill(#k, #id););
            }
            // The slice of an array field: its elements are parameter nodes, made when read.
            Op::FieldSlice(_) => return TokenStream::new(),
            _ => {}
        }
        if matches!(var.shape, Shape::Scalar) {
            let id = self.id(value);
            quote!(#graph.set(#k, #name, #id);)
        } else {
            quote!(#graph.fill(#k, ::core::option::Option::None);)
        }
    }

    /// The statements that compute a node and record it.
    fn node(&self, n: NodeId) -> TokenStream {
        let g = self.graph;
        let node = g.node(n);
        // A call that writes into a buffer is made by the statement that assigns the buffer.
        if node.is_leaf() || matches!(node.op, Op::Invoke(_)) {
            return TokenStream::new();
        }
        let graph = Ident::new("__graph", Span::mixed_site());
        let value_name = self.value_ident(n);
        let value = if self.needed[n.0] {
            let e = self.expr(n);
            quote!(let #value_name = #e;)
        } else {
            TokenStream::new()
        };
        let id_name = format_ident!("__i{}", n.0, span = Span::mixed_site());
        let record = match self.node_kind(n) {
            Kind::Record => {
                let mut lets = TokenStream::new();
                let mut derived: Vec<NodeId> = Vec::new();
                let mut work: Vec<NodeId> = self.partials[n.0].iter().flatten().copied().collect();
                while let Some(d) = work.pop() {
                    if !g.is_primal(d) && !derived.contains(&d) {
                        derived.push(d);
                        work.extend(&g.node(d).args);
                    }
                }
                derived.sort();
                for d in derived {
                    if g.node(d).is_leaf() {
                        continue;
                    }
                    let name = self.value_ident(d);
                    let e = self.expr(d);
                    lets.extend(quote!(let #name = #e;));
                }
                let edges = self.edges(n);
                let edges = if edges.iter().any(|e| matches!(e, Edge::Elements { .. })) {
                    // With an array argument, the edges are collected at run time.
                    let list = Ident::new("__edges", Span::mixed_site());
                    let pushes = edges.into_iter().map(|edge| match edge {
                        Edge::Value(a, d) => {
                            let edge = self.value_edge(a, d);
                            quote!(#list.push(#edge);)
                        }
                        Edge::Elements { var, start, local } => {
                            self.element_edges(&list, var, start, local)
                        }
                    });
                    lets.extend(quote!(let mut #list = ::std::vec::Vec::new(); #(#pushes)*));
                    quote!(&#list)
                } else {
                    let edges = edges.into_iter().map(|edge| match edge {
                        Edge::Value(a, d) => self.value_edge(a, d),
                        Edge::Elements { .. } => unreachable!("no array argument"),
                    });
                    quote!(&[#(#edges),*])
                };
                let op = op_label(&node.op);
                let source = self.source(n);
                let name = match &node.name {
                    Some(s) => {
                        let s = s.trim_start_matches("r#");
                        quote!(::core::option::Option::Some(#s))
                    }
                    None => quote!(::core::option::Option::None),
                };
                let call = quote!(#graph.op(#op, #source, #name, ::autodiff::cast::<f64, _>(#value_name), #edges));
                let recorded = if lets.is_empty() {
                    call
                } else {
                    quote!({ #lets #call })
                };
                if self.id_used[n.0] {
                    quote!(let #id_name = #recorded;)
                } else {
                    quote!(let _ = #recorded;)
                }
            }
            Kind::Field if self.id_used[n.0] => {
                let name = self.field_name(n).unwrap_or_else(|| self.text(n, 0, true));
                quote!(let #id_name = #graph.param(#name, ::autodiff::cast::<f64, _>(#value_name));)
            }
            Kind::Alias if self.id_used[n.0] => match node.op {
                Op::Read(v) => {
                    let k = v.0;
                    quote!(let #id_name = #graph.get(#k);)
                }
                Op::Load(v) => {
                    let k = v.0;
                    let i = self.operand(node.args[0]);
                    let param = self.param_name(v);
                    quote!(let #id_name = #graph.load(#k, #i, #param, ::autodiff::cast::<f64, _>(#value_name));)
                }
                Op::Select => {
                    let c = self.operand(node.args[0]);
                    let (a, b) = (self.id(node.args[1]), self.id(node.args[2]));
                    quote!(let #id_name: ::core::option::Option<usize> = if #c { #a } else { #b };)
                }
                _ => TokenStream::new(),
            },
            _ => TokenStream::new(),
        };
        let aliases = self.aliases(n);
        quote!(#value #record #aliases)
    }

    /// Tells the builder the names a `let` gave node `n` when it was already a node: a read
    /// or an element named by the `let`, or a value of another name.
    fn aliases(&self, n: NodeId) -> TokenStream {
        let g = self.graph;
        let kind = self.node_kind(n);
        if matches!(kind, Kind::Constant) || !self.id_used[n.0] {
            return TokenStream::new();
        }
        let own = match (kind, &g.node(n).name) {
            (Kind::Alias, Some(name)) => Some(name),
            _ => None,
        };
        let others = g
            .aliases
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, name)| name);
        let graph = Ident::new("__graph", Span::mixed_site());
        let id = self.id(n);
        own.into_iter()
            .chain(others)
            .map(|name| {
                let name = name.trim_start_matches("r#");
                quote!(#graph.alias(#name, #id);)
            })
            .collect()
    }

    /// `g(.., &mut out);`, a call that writes into the buffer `out`, and, when `out` is active,
    /// a node for each element it wrote. Element `j`'s local derivatives are row `j` of the
    /// call's Jacobian, from `g_vjp_into` seeded with the `j`-th unit vector: from each element
    /// of each array passed to it, from each scalar, and from each element `out` held before
    /// the call (the call may read it). An element of an array whose local derivative is zero
    /// at the point gets no edge: most of such a Jacobian is.
    fn invoke(&self, out: VarId, call: NodeId) -> TokenStream {
        let g = self.graph;
        let node = g.node(call);
        let Op::Invoke(invoke) = &node.op else {
            unreachable!("a call that writes into a buffer")
        };
        let Invoke { callee, modes, .. } = invoke;
        let prefix = &callee.prefix;
        let name = &callee.name;
        let array = |a: NodeId| match g.node(a).op {
            Op::Array(v, _) | Op::Part(v) => Some(v),
            _ => None,
        };
        // `&x[start..end]`: the part's bounds, else the whole array's.
        let range = |a: NodeId| match g.node(a).op {
            Op::Part(_) => {
                let bounds = &g.node(a).args;
                let (start, end) = (self.operand(bounds[0]), self.operand(bounds[1]));
                (quote!(#start..#end), Some(start))
            }
            _ => (quote!(..), None),
        };
        // `start + k`, or `k` for a whole array.
        let at = |start: &Option<TokenStream>, k: &Ident| match start {
            Some(start) => quote!(#start + #k),
            None => quote!(#k),
        };
        let args: Vec<TokenStream> = node
            .args
            .iter()
            .zip(modes)
            .map(|(&a, mode)| match (mode, array(a)) {
                (Pass::Ref, Some(v)) => {
                    let (t, (r, _)) = (self.var(v), range(a));
                    quote!(&#t[#r])
                }
                (Pass::Mut, Some(v)) => {
                    let (t, (r, _)) = (self.var(v), range(a));
                    quote!(&mut #t[#r])
                }
                _ => self.operand(a),
            })
            .collect();
        // The part of `out` the call writes.
        let (window, first) = node
            .args
            .iter()
            .zip(modes)
            .find(|(a, mode)| **mode == Pass::Mut && array(**a) == Some(out))
            .map_or_else(|| (quote!(..), None), |(&a, _)| range(a));
        let made = quote!(#prefix #name(#(#args),*););
        if !g.var(out).active {
            return made;
        }

        let graph = Ident::new("__graph", Span::mixed_site());
        let before = Ident::new("__before", Span::mixed_site());
        let j = Ident::new("__j", Span::mixed_site());
        let k = Ident::new("__k", Span::mixed_site());
        let partial = Ident::new("__partial", Span::mixed_site());
        let from = Ident::new("__from", Span::mixed_site());
        let scratch = Ident::new("__scratch", Span::mixed_site());
        let seed = Ident::new("__seed", Span::mixed_site());
        let grads = Ident::new("__grads", Span::mixed_site());
        let list = Ident::new("__edges", Span::mixed_site());
        let ids = Ident::new("__ids", Span::mixed_site());
        let out_name = self.var(out);
        let out_number = out.0;
        let element = |number: usize,
                       var: VarId,
                       buffer: &Ident,
                       values: TokenStream,
                       start: &Option<TokenStream>| {
            let param = self.param_name(var);
            let index = at(start, &k);
            quote! {
                for (#k, #partial) in #buffer.iter().enumerate() {
                    if ::autodiff::cast::<f64, _>(*#partial) != 0.0 {
                        let #from = #graph.load(
                            #number,
                            #index,
                            #param,
                            ::autodiff::cast::<f64, _>(#values[#index]),
                        );
                        #list.push((#from, ::autodiff::cast::<f64, _>(*#partial)));
                    }
                }
            }
        };

        // The arguments of `g_vjp_into`, and the edges each gives.
        let mut vjp_args = Vec::new();
        let mut buffers = Vec::new();
        let mut edges = Vec::new();
        let mut entry = 0;
        for (i, ((&a, mode), &float)) in node.args.iter().zip(modes).zip(&callee.floats).enumerate()
        {
            match (mode, array(a)) {
                (Pass::Mut, _) => {
                    vjp_args.push(quote!(&mut #scratch[..]));
                    vjp_args.push(quote!(&mut #seed[..]));
                }
                (Pass::Ref, Some(v)) => {
                    let input = self.var(v);
                    let (r, start) = range(a);
                    let buffer = format_ident!("__d{}", i, span = Span::mixed_site());
                    let zero = self.float(0.0);
                    buffers.push(quote!(let mut #buffer = ::std::vec![#zero; #input[#r].len()];));
                    vjp_args.push(quote!(&#input[#r]));
                    vjp_args.push(quote!(&mut #buffer[..]));
                    if g.var(v).active {
                        edges.push(element(v.0, v, &buffer, quote!(#input), &start));
                    }
                }
                _ => {
                    vjp_args.push(self.operand(a));
                    if float {
                        if self.tracked(a) {
                            let id = self.id(a);
                            let field = syn::Index::from(entry);
                            edges.push(quote! {
                                #list.push((#id, ::autodiff::cast::<f64, _>(#grads.#field)));
                            });
                        }
                        entry += 1;
                    }
                }
            }
        }
        edges.push(element(out_number, out, &seed, quote!(#before), &first));
        let uses_grads = node
            .args
            .iter()
            .zip(modes)
            .zip(&callee.floats)
            .any(|((&a, mode), &float)| *mode == Pass::Value && float && self.tracked(a));
        let grads = if uses_grads {
            quote!(let #grads =)
        } else {
            quote!(let _ =)
        };
        let vjp = format_ident!("{}_vjp_into", name, span = name.span());
        let op = op_label(&node.op);
        let source = self.source(call);
        let label = g.var(out).name.trim_start_matches("r#");
        let (zero, one) = (self.float(0.0), self.float(1.0));
        let written = at(&first, &j);
        quote! {
            let #before = #out_name.to_vec();
            #made
            let mut #ids = ::std::vec::Vec::with_capacity(#out_name[#window].len());
            for #j in 0..#out_name[#window].len() {
                let mut #scratch = #before[#window].to_vec();
                let mut #seed = #before[#window].to_vec();
                for #partial in #seed.iter_mut() {
                    *#partial = #zero;
                }
                #seed[#j] = #one;
                #(#buffers)*
                // With a zero seed for the float a helper may also return.
                #grads ::autodiff::private::vjp_into(#prefix #vjp, (#(#vjp_args,)*));
                let mut #list = ::std::vec::Vec::new();
                #(#edges)*
                #ids.push(#graph.op(
                    #op,
                    #source,
                    ::core::option::Option::None,
                    ::autodiff::cast::<f64, _>(#out_name[#written]),
                    &#list,
                ));
            }
            for (#j, #from) in #ids.into_iter().enumerate() {
                #graph.store(#out_number, #label, #written, #from);
            }
        }
    }

    /// The name of the parameter an array variable reads, whose elements are parameter nodes
    /// (`x` for `x[3]`, `p.w` for `p.w[3]`), as an `Option<&str>` in the generated code; `None`
    /// for a local array.
    fn param_name(&self, v: VarId) -> TokenStream {
        let g = self.graph;
        let name = match g.var(v).param {
            Some(p) => Some(g.params[p].name.trim_start_matches("r#").to_owned()),
            None => g
                .fields
                .iter()
                .find(|f| f.var == Some(v) && f.active)
                .map(|f| self.leaf_path(f.owner, &f.path)),
        };
        match name {
            Some(name) => quote!(::core::option::Option::Some(#name)),
            None => quote!(::core::option::Option::None),
        }
    }

    /// `p.layer.w`, `self.b`: a field as the source writes it.
    fn leaf_path(&self, owner: Option<usize>, path: &TokenStream) -> String {
        let owner = match owner {
            Some(p) => self.graph.params[p]
                .name
                .trim_start_matches("r#")
                .to_owned(),
            None => "self".to_owned(),
        };
        format!("{owner}.{}", path.to_string().replace(' ', ""))
    }

    /// A variable as the source names it: `h`, or `p.w` for the slice of an array field.
    fn var_text(&self, v: VarId) -> String {
        let g = self.graph;
        match g.fields.iter().find(|f| f.var == Some(v)) {
            Some(f) => self.leaf_path(f.owner, &f.path),
            None => g.var(v).name.trim_start_matches("r#").to_owned(),
        }
    }

    /// The name of the parameter node of a float field: `p.a`, `self.b`.
    fn field_name(&self, n: NodeId) -> Option<String> {
        let g = self.graph;
        g.fields
            .iter()
            .find(|f| f.node == Some(n))
            .map(|f| self.leaf_path(f.owner, &f.path))
    }

    /// A float constant of the function's float type, left to inference: `0.0`, or spelled
    /// through `T` in a function generic over `T: Float`.
    fn float(&self, v: f64) -> TokenStream {
        let lit = literal(LitValue::Float(v), None);
        match &self.graph.generic {
            Some(t) => quote!(::autodiff::cast::<#t, f64>(#lit)),
            None => lit,
        }
    }

    /// `(id, local)` for the edge from `a`, whose local derivative is `d` (`None` for 0).
    fn value_edge(&self, a: NodeId, d: Option<NodeId>) -> TokenStream {
        let id = self.id(a);
        let local = match d {
            Some(d) => self.operand(d),
            None => quote!(0.0),
        };
        quote!((#id, ::autodiff::cast::<f64, _>(#local)))
    }

    /// Pushes onto `list` an edge from each element of the array `var` passed to a call (from
    /// `start` on, for part of it): from the node last stored in the element, or for an
    /// element of an array parameter its parameter node, with the matching element of the
    /// gradient entry `local` for its local derivative.
    fn element_edges(
        &self,
        list: &Ident,
        var: VarId,
        start: Option<NodeId>,
        local: NodeId,
    ) -> TokenStream {
        let graph = Ident::new("__graph", Span::mixed_site());
        let k = Ident::new("__k", Span::mixed_site());
        let partial = Ident::new("__partial", Span::mixed_site());
        let from = Ident::new("__from", Span::mixed_site());
        let name = self.var(var);
        let number = var.0;
        let index = match start {
            Some(start) => {
                let start = self.operand(start);
                quote!(#start + #k)
            }
            None => quote!(#k),
        };
        let param = self.param_name(var);
        let gradient = self.operand(local);
        quote! {
            for (#k, #partial) in #gradient.iter().enumerate() {
                let #from = #graph.load(
                    #number,
                    #index,
                    #param,
                    ::autodiff::cast::<f64, _>(#name[#index]),
                );
                #list.push((#from, ::autodiff::cast::<f64, _>(*#partial)));
            }
        }
    }

    /// The source text of a node, rebuilt from the graph: named values by their names, the
    /// rest as the expression that computes them (`(x + y) * y`, `s + w * x[i]`).
    fn source(&self, n: NodeId) -> String {
        let text = self.text(n, 0, true);
        if text.chars().count() > 80 {
            let mut t: String = text.chars().take(79).collect();
            t.push('…');
            t
        } else {
            text
        }
    }

    /// The text of a node as an operand (`top` for the node itself, which is never just its name).
    fn text(&self, n: NodeId, depth: usize, top: bool) -> String {
        let g = self.graph;
        let node = g.node(n);
        if let Some(field) = self.field_name(n) {
            return field;
        }
        if !top && let Some(name) = &node.name {
            return name.trim_start_matches("r#").to_owned();
        }
        if depth > 6 {
            return "…".to_owned();
        }
        let arg = |k: usize| self.text(node.args[k], depth + 1, false);
        // An operand of an infix operator, in parentheses when it is a lower-precedence one.
        let operand = |k: usize, prec: u8| {
            let a = node.args[k];
            let t = self.text(a, depth + 1, false);
            let inner = g.node(a);
            let p = match inner.op {
                Op::Prim(q) if inner.name.is_none() && q.syntax() == Syntax::Infix => precedence(q),
                Op::Cmp(_) | Op::Select if inner.name.is_none() => 0,
                _ => u8::MAX,
            };
            if p < prec { format!("({t})") } else { t }
        };
        match &node.op {
            Op::Param(i) => g.params[*i].name.trim_start_matches("r#").to_owned(),
            Op::Lit(_, Some(t)) | Op::Const(t) | Op::SelfValue(t) => t.to_string().replace(' ', ""),
            Op::Lit(v, None) => match v {
                LitValue::Float(v) => format!("{v:?}"),
                LitValue::Int(v) => v.to_string(),
                LitValue::Bool(b) => b.to_string(),
            },
            Op::Counter(_) => node.name.clone().unwrap_or_else(|| "i".to_owned()),
            Op::Read(v) | Op::Array(v, 0) => self.var_text(*v),
            Op::Array(v, ..0) => format!("*{}", self.var_text(*v)),
            Op::Array(v, refs) => format!(
                "{}{}",
                "&".repeat(refs.unsigned_abs().into()),
                self.var_text(*v)
            ),
            Op::Part(v) => format!("&{}[{}..{}]", self.var_text(*v), arg(0), arg(1)),
            Op::Load(v) if node.args.len() == 2 => {
                format!("{}[{}][{}]", self.var_text(*v), arg(0), arg(1))
            }
            Op::Load(v) => format!("{}[{}]", self.var_text(*v), arg(0)),
            Op::Len(v) => format!("{}.len()", self.var_text(*v)),
            Op::Prim(p) => match p.syntax() {
                Syntax::Infix if p.is_bitwise() => {
                    let side = u8::MAX - 1;
                    format!("{} {} {}", operand(0, side), p.name(), operand(1, side))
                }
                Syntax::Infix => {
                    let prec = precedence(*p);
                    // The right operand of `-` and `/` needs parentheses at equal precedence.
                    let right = if matches!(p, Prim::Sub | Prim::Div | Prim::Rem) {
                        prec + 1
                    } else {
                        prec
                    };
                    format!("{} {} {}", operand(0, prec), p.name(), operand(1, right))
                }
                Syntax::Prefix => format!("{}{}", p.name(), operand(0, u8::MAX - 1)),
                Syntax::Method => {
                    let rest: Vec<String> = (1..node.args.len()).map(arg).collect();
                    format!(
                        "{}.{}({})",
                        operand(0, u8::MAX - 1),
                        p.name(),
                        rest.join(", ")
                    )
                }
                Syntax::Runtime => {
                    let args: Vec<String> = (0..node.args.len()).map(arg).collect();
                    format!("{}({})", p.name(), args.join(", "))
                }
            },
            Op::Cast(CastTo::Float(t) | CastTo::Lossless(t)) => {
                format!("{} as {}", operand(0, u8::MAX - 1), t.name())
            }
            Op::Cast(CastTo::Other(ty, _)) => {
                format!(
                    "{} as {}",
                    operand(0, u8::MAX - 1),
                    ty.to_string().replace(' ', "")
                )
            }
            Op::Cmp(op) => {
                let op = match op {
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Is => return format!("matches!({}, {})", arg(0), arg(1)),
                };
                format!("{} {op} {}", arg(0), arg(1))
            }
            Op::Select => format!("if {} {{ {} }} else {{ {} }}", arg(0), arg(1), arg(2)),
            Op::Call(c) => {
                let args: Vec<String> = (0..node.args.len()).map(arg).collect();
                format!("{}({})", c.name, args.join(", "))
            }
            Op::Invoke(invoke) => {
                let args: Vec<String> = (0..node.args.len())
                    .map(|k| match invoke.modes.get(k) {
                        Some(Pass::Ref) => format!("&{}", arg(k)),
                        Some(Pass::Mut) => format!("&mut {}", arg(k)),
                        _ => arg(k),
                    })
                    .collect();
                format!("{}({})", invoke.callee.name, args.join(", "))
            }
            Op::Member(name) => format!("{}.{}", arg(0), name.to_string().replace(' ', "")),
            _ => op_label(&node.op),
        }
    }

    fn value_ident(&self, n: NodeId) -> Ident {
        if self.graph.is_primal(n) {
            format_ident!("__n{}", n.0, span = Span::mixed_site())
        } else {
            format_ident!("__d{}", n.0, span = Span::mixed_site())
        }
    }

    /// The graph node of a value: `Some(id)` in the generated code, or `None` for a constant.
    fn id(&self, n: NodeId) -> TokenStream {
        match self.node_kind(n) {
            Kind::Constant => quote!(::core::option::Option::<usize>::None),
            Kind::Param => {
                let Op::Param(i) = self.graph.node(n).op else {
                    unreachable!("a parameter node")
                };
                let id = format_ident!("__p{}", i, span = Span::mixed_site());
                quote!(#id)
            }
            Kind::Record | Kind::Alias | Kind::Field => {
                let id = format_ident!("__i{}", n.0, span = Span::mixed_site());
                quote!(#id)
            }
        }
    }

    /// A node as an operand: a leaf written in place, anything else by its `let` name.
    fn operand(&self, n: NodeId) -> TokenStream {
        let node = self.graph.node(n);
        if node.is_leaf() {
            return self.leaf(n);
        }
        let name = self.value_ident(n);
        quote!(#name)
    }

    fn leaf(&self, n: NodeId) -> TokenStream {
        let node = self.graph.node(n);
        match &node.op {
            Op::Param(i) => {
                let p = &self.graph.params[*i];
                let ident = ident(&p.name);
                if p.by_ref {
                    quote!((*#ident))
                } else {
                    quote!(#ident)
                }
            }
            // A function generic over `T: Float` spells its constants through `T`.
            // A constant of a concrete type, `2.0` in `2.0 * PI`, is written as the body does.
            Op::Lit(LitValue::Float(v), _)
                if self.graph.generic.is_some() && node.ty != Ty::Other =>
            {
                self.float(*v)
            }
            Op::Known(k) if self.graph.generic.is_some() => {
                let t = &self.graph.generic;
                let value = known(*k, FloatTy::F64);
                quote!(::autodiff::cast::<#t, f64>(#value))
            }
            Op::Lit(LitValue::Float(_), Some(tokens)) => typed_literal(tokens, node.ty),
            Op::Lit(_, Some(tokens)) | Op::Const(tokens) | Op::SelfValue(tokens) => tokens.clone(),
            Op::Lit(value, None) => literal(*value, node.ty.float()),
            Op::Known(k) => known(*k, node.ty.float().unwrap_or(self.float)),
            Op::Counter(c) => {
                let i = format_ident!("__c{}", c, span = Span::mixed_site());
                quote!(#i)
            }
            Op::Array(v, refs) => {
                let name = self.var(*v);
                match *refs {
                    0 => name,
                    ..0 => quote!(*#name),
                    1.. => {
                        let refs = (0..*refs).map(|_| quote!(&));
                        quote!(#(#refs)*#name)
                    }
                }
            }
            Op::Seed(_) => quote!(0.0),
            _ => unreachable!("not a leaf"),
        }
    }

    /// The expression that computes a node from its operands.
    fn expr(&self, n: NodeId) -> TokenStream {
        let g = self.graph;
        let node = g.node(n);
        let arg = |k: usize| self.operand(node.args[k]);
        match &node.op {
            Op::Prim(p) => match p.syntax() {
                Syntax::Infix => {
                    let (a, b) = (arg(0), arg(1));
                    let op: TokenStream = p.name().parse().expect("an operator");
                    quote!(#a #op #b)
                }
                Syntax::Prefix => {
                    let a = arg(0);
                    // `-(-2.0)`: rustc's `double_negations` lint rejects `--2.0`.
                    let a = match a.clone().into_iter().next() {
                        Some(TokenTree::Punct(m)) if m.as_char() == '-' => quote!((#a)),
                        _ => a,
                    };
                    let op: TokenStream = p.name().parse().expect("an operator");
                    quote!(#op #a)
                }
                Syntax::Method => {
                    let method = Ident::new(p.name(), Span::call_site());
                    let args = node.args.iter().map(|&a| self.operand(a));
                    if let Some(t) = &g.generic
                        && node.ty != Ty::Other
                    {
                        // Through the trait, whatever the receiver: `T` has no inherent methods.
                        return quote!(<#t as ::autodiff::num_traits::Float>::#method(#(#args),*));
                    }
                    // By path, whatever the receiver, as a float: a variable that starts as a
                    // literal (`let mut m = 0.0;`) has no methods where rustc meets it. An
                    // integer's method stays a method.
                    if node.ty == Ty::Int || (g.generic.is_some() && node.ty == Ty::Other) {
                        let r = arg(0);
                        let rest = node.args[1..].iter().map(|&a| self.operand(a));
                        quote!(#r.#method(#(#rest),*))
                    } else {
                        let t = format_ident!("{}", node.ty.float().unwrap_or(self.float).name());
                        quote!(::core::primitive::#t::#method(#(#args),*))
                    }
                }
                Syntax::Runtime => {
                    let f = Ident::new(p.name(), Span::call_site());
                    let args = node.args.iter().map(|&a| self.operand(a));
                    quote!(::autodiff::#f(#(#args),*))
                }
            },
            Op::Cast(CastTo::Float(_) | CastTo::Lossless(_)) if g.generic.is_some() => {
                let a = arg(0);
                let t = &g.generic;
                quote!(::autodiff::cast::<#t, _>(#a))
            }
            Op::Cast(CastTo::Float(t)) => {
                let a = arg(0);
                let t = format_ident!("{}", t.name());
                quote!(#a as #t)
            }
            Op::Cast(CastTo::Lossless(FloatTy::F64)) => {
                let a = arg(0);
                quote!(::core::primitive::f64::from(#a))
            }
            // `f32: From<i32>` does not hold; as `emit` writes it, `powi` exponents are small.
            Op::Cast(CastTo::Lossless(FloatTy::F32)) => {
                let a = arg(0);
                quote!(#a as f32)
            }
            Op::Cast(CastTo::Other(ty, _)) => {
                let a = arg(0);
                quote!(#a as #ty)
            }
            Op::Cmp(op) => {
                let (a, b) = (arg(0), arg(1));
                if *op == CmpOp::Is
                    && let Op::Const(pattern) = &self.graph.node(node.args[1]).op
                {
                    return quote!(::core::matches!(#a, #pattern));
                }
                let op = match op {
                    CmpOp::Lt => quote!(<),
                    CmpOp::Le => quote!(<=),
                    CmpOp::Gt => quote!(>),
                    CmpOp::Ge => quote!(>=),
                    CmpOp::Ne => quote!(!=),
                    CmpOp::Eq | CmpOp::Is => quote!(==),
                };
                quote!(#a #op #b)
            }
            Op::Not => {
                let a = arg(0);
                quote!(!#a)
            }
            Op::And => {
                let (a, b) = (arg(0), arg(1));
                quote!(#a && #b)
            }
            Op::Or => {
                let (a, b) = (arg(0), arg(1));
                quote!(#a || #b)
            }
            Op::Select => {
                let (c, a, b) = (arg(0), arg(1), arg(2));
                quote!(if #c { #a } else { #b })
            }
            Op::Read(v) => self.var(*v),
            Op::Load(v) => {
                let name = self.var(*v);
                let i = arg(0);
                // `m[i][j]` of a constant table.
                if node.args.len() == 2 {
                    let j = arg(1);
                    return quote!(#name[#i][#j]);
                }
                quote!(#name[#i])
            }
            Op::Len(v) => {
                let name = self.var(*v);
                quote!(#name.len())
            }
            Op::Fill(len) => {
                let x = arg(0);
                quote!([#x; #len])
            }
            Op::Vec | Op::Resized => {
                let (x, len) = (arg(0), arg(1));
                quote!(::std::vec![#x; #len])
            }
            Op::Member(name) => {
                let base = arg(0);
                quote!(#base.#name)
            }
            Op::Call(c) | Op::CallGrad(c) | Op::CallJvp(c) => {
                let name = match &node.op {
                    Op::CallGrad(_) => format_ident!("{}_grad", c.name, span = c.name.span()),
                    Op::CallJvp(_) => format_ident!("{}_jvp", c.name, span = c.name.span()),
                    _ => c.name.clone(),
                };
                let prefix = &c.prefix;
                let borrowed = c.borrowed(node.args.len());
                let args = node.args.iter().zip(borrowed).map(|(&a, by_ref)| {
                    let value = self.operand(a);
                    if by_ref { quote!(&(#value)) } else { value }
                });
                quote!(#prefix #name(#(#args),*))
            }
            Op::Field(k) => {
                let tuple = arg(0);
                let k = syn::Index::from(*k);
                quote!(#tuple.#k)
            }
            Op::Element => {
                let (a, i) = (arg(0), arg(1));
                quote!(#a[#i])
            }
            Op::Part(v) => {
                let name = self.var(*v);
                let (start, end) = (arg(0), arg(1));
                quote!(&#name[#start..#end])
            }
            Op::FieldSlice(path) => {
                let base = arg(0);
                quote!(&#base.#path[..])
            }
            Op::Pop(_) => quote!(0.0),
            Op::IntMethod(Some(ty), name) => {
                let args = (0..node.args.len()).map(arg);
                quote!(#ty::#name(#(#args),*))
            }
            Op::IntMethod(None, name) => {
                let base = arg(0);
                let rest = (1..node.args.len()).map(arg);
                quote!((#base).#name(#(#rest),*))
            }
            _ => self.leaf(n),
        }
    }
}

/// Every `(variable, value)` stored at any depth, and the variables assigned after declaration.
fn collect_stores(block: &Block, into: &mut Vec<(VarId, NodeId)>, mutated: &mut HashSet<VarId>) {
    block.for_each_stmt(|stmt| match stmt {
        Stmt::Declare(v, Some(n)) => into.push((*v, *n)),
        Stmt::Assign(v, n) => {
            into.push((*v, *n));
            mutated.insert(*v);
        }
        Stmt::Store { var, value, .. } => {
            into.push((*var, *value));
            mutated.insert(*var);
        }
        _ => {}
    });
}

fn precedence(p: Prim) -> u8 {
    match p {
        _ if p.is_bitwise() => 0,
        Prim::Add | Prim::Sub => 1,
        _ => 2,
    }
}

/// How an operation is shown in a drawing.
fn op_label(op: &Op) -> String {
    match op {
        Op::Prim(Prim::Mul) => "×".to_owned(),
        Op::Prim(Prim::Div) => "÷".to_owned(),
        Op::Prim(Prim::Sub) => "−".to_owned(),
        Op::Prim(Prim::Neg) => "neg".to_owned(),
        Op::Prim(Prim::Sigmoid) => "σ".to_owned(),
        Op::Prim(p) => p.name().to_owned(),
        Op::Cast(CastTo::Float(t) | CastTo::Lossless(t)) => format!("as {}", t.name()),
        Op::Call(c) => c.name.to_string(),
        Op::Invoke(i) => i.callee.name.to_string(),
        Op::IntMethod(_, name) => name.to_string(),
        _ => "op".to_owned(),
    }
}

/// A float literal as the user wrote it, with the suffix of the type it was given when it has
/// none, so it keeps that type wherever it is written.
fn typed_literal(tokens: &TokenStream, ty: Ty) -> TokenStream {
    let Some(t) = ty.float() else {
        return tokens.clone();
    };
    let text = tokens.to_string();
    if text.ends_with("f32") || text.ends_with("f64") {
        return tokens.clone();
    }
    match text.trim_end_matches('.').parse::<f64>() {
        Ok(v) => literal(LitValue::Float(v), Some(t)),
        Err(_) => tokens.clone(),
    }
}

fn literal(value: LitValue, ty: Option<FloatTy>) -> TokenStream {
    match value {
        LitValue::Float(v) => {
            let lit = match ty {
                Some(FloatTy::F32) =>
                {
                    #[allow(clippy::cast_possible_truncation)]
                    Literal::f32_suffixed((v as f32).abs())
                }
                Some(FloatTy::F64) => Literal::f64_suffixed(v.abs()),
                None => Literal::f64_unsuffixed(v.abs()),
            };
            if v.is_sign_negative() {
                quote!(-#lit)
            } else {
                quote!(#lit)
            }
        }
        LitValue::Int(v) => {
            let lit = Literal::i128_unsuffixed(v.abs());
            if v < 0 { quote!(-#lit) } else { quote!(#lit) }
        }
        LitValue::Bool(b) => quote!(#b),
    }
}

/// The constants the rules use, each as one call so that it needs no parentheses.
fn known(k: KnownConst, ty: FloatTy) -> TokenStream {
    let t = format_ident!("{}", ty.name());
    let one = literal(LitValue::Float(1.0), Some(ty));
    match k {
        KnownConst::Ln2 => quote!(::core::#t::consts::LN_2),
        KnownConst::Ln10 => quote!(::core::#t::consts::LN_10),
        KnownConst::RadiansPerDegree => quote!(::core::primitive::#t::to_radians(#one)),
        KnownConst::DegreesPerRadian => quote!(::core::primitive::#t::to_degrees(#one)),
    }
}
