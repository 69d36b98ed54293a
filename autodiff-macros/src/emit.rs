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

use crate::hash::{HashMap, HashSet};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ReturnType;

use crate::forward::{Seed, Tangent};
use crate::graph::{
    Block, CastTo, CmpOp, Count, CountOp, FloatTy, Graph, IntoBuffer, KnownConst, LitValue, Loop,
    MAX_INLINE, NodeId, Op, Place, Shape, Stmt, Ty, VarId,
};
use crate::names;
use crate::prim::{Prim, Syntax};
use crate::reverse::Adjoint;

mod lanes;
pub(crate) mod out_params;
mod reserve;
pub mod second;

/// Operator precedence of emitted expressions, loosest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    If,
    Or,
    And,
    Cmp,
    /// `& | ^ << >>`, whose operands are always atoms or prefixed, in parentheses otherwise.
    Bit,
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
#[derive(Default)]
struct Namer {
    used: HashSet<String>,
    /// The next suffix to try for each preferred name, so that naming stays linear.
    next: HashMap<String, usize>,
}

impl Namer {
    /// `preferred`, or `preferred_1`, `preferred_2`, ... if it is taken. Names are compared as
    /// identifiers: `r#x` and `x` are one name.
    fn fresh(&mut self, preferred: &str) -> Ident {
        let preferred = names::plain(preferred);
        let mut name = preferred.to_owned();
        let n = self.next.entry(preferred.to_owned()).or_insert(1);
        while self.used.contains(&name) {
            name = names::suffixed(preferred, *n);
            *n += 1;
        }
        let ident = names::ident(&name, Span::mixed_site());
        self.used.insert(name);
        ident
    }
}

/// A value the generated function returns, and the name it gets if it needs a `let`.
type Returned = (Option<NodeId>, String);

/// Where a statement is: its block (numbered in order) and its index there.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Pos {
    block: usize,
    index: usize,
}

/// The deepest expression written inline before a value gets a `let`.
const MAX_INLINE_DEPTH: usize = 48;

/// The most `let`s of values a block keeps as they are ([`Sweep::block`]).
const MAX_LETS_IN_SCOPE: usize = 256;

/// The names declared together by one `let (a, b, ..);` of a block past that many.
const NAMES_PER_DECLARATION: usize = 64;

/// A function body laid out for printing: what is live, what gets a `let`, and every name.
struct Sweep<'g> {
    graph: &'g Graph,
    live: Vec<bool>,
    /// Which nodes get a `let`; the others are written inline into their single use.
    bound: Vec<bool>,
    names: Vec<Option<Ident>>,
    var_names: Vec<Option<Ident>>,
    /// Variables that are assigned after they are declared, so they need `mut`.
    mutated: Vec<bool>,
    /// The name of each `for` loop's counter.
    counters: HashMap<usize, Ident>,
    /// Pops whose value nothing reads, written all the same (see [`Sweep::keep_pops`]).
    discarded: HashSet<NodeId>,
    /// With tangents carried in lanes (see [`lanes`]): which values and variables are lanes.
    lanes: Option<lanes::LaneSet>,
    /// Values whose float type Rust cannot tell where they are computed (see [`untyped`]).
    untyped: Vec<bool>,
    /// The scratch buffers of the calls of `g_grad_into` (see [`Sweep::call_grad_into`]).
    scratch: HashSet<VarId>,
    /// The room made on tapes before loops, by the loop's address (see [`reserve`]).
    reserves: HashMap<usize, Vec<reserve::Reserve>>,
}

/// What the layout learns in one walk over the code.
#[derive(Default)]
struct Walk {
    home: HashMap<NodeId, Pos>,
    /// The statements that use each node directly.
    stmt_uses: HashMap<NodeId, Vec<Pos>>,
    /// For each block, the statements that change a variable (`Some`) or may change any
    /// (`None`, control flow), with their indices.
    barriers: HashMap<usize, Vec<(usize, Option<VarId>)>>,
    mutated: HashSet<VarId>,
    blocks: usize,
}

impl Walk {
    fn block(&mut self, block: &Block) {
        let id = self.blocks;
        self.blocks += 1;
        for (index, stmt) in block.0.iter().enumerate() {
            let pos = Pos { block: id, index };
            let uses = |n: NodeId, w: &mut Walk| w.stmt_uses.entry(n).or_default().push(pos);
            let changes = match stmt {
                Stmt::Node(_) | Stmt::Assert { .. } => None,
                Stmt::Declare(v, _) | Stmt::Assign(v, _) | Stmt::Push(v, _) => Some(Some(*v)),
                Stmt::Store { var, .. } => Some(Some(*var)),
                Stmt::If { .. } | Stmt::For(Loop { .. }) | Stmt::While { .. } => Some(None),
            };
            if let Some(var) = changes {
                self.barriers.entry(id).or_default().push((index, var));
            }
            match stmt {
                Stmt::Node(n) => {
                    self.home.insert(*n, pos);
                }
                Stmt::Declare(_, init) => {
                    if let Some(n) = init {
                        uses(*n, self);
                    }
                }
                Stmt::Assign(v, n) | Stmt::Push(v, n) => {
                    self.mutated.insert(*v);
                    uses(*n, self);
                }
                Stmt::Assert { args, .. } => {
                    for &n in args {
                        uses(n, self);
                    }
                }
                Stmt::Store { var, index, value } => {
                    self.mutated.insert(*var);
                    uses(*index, self);
                    uses(*value, self);
                }
                Stmt::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    uses(*cond, self);
                    self.block(then);
                    self.block(otherwise);
                }
                Stmt::For(Loop {
                    start, end, body, ..
                }) => {
                    uses(*start, self);
                    uses(*end, self);
                    self.block(body);
                }
                Stmt::While { cond, test, body } => {
                    // The test is evaluated at the end of the condition block.
                    let cond_id = self.blocks;
                    self.block(cond);
                    self.stmt_uses.entry(*test).or_default().push(Pos {
                        block: cond_id,
                        index: cond.0.len(),
                    });
                    self.block(body);
                }
            }
        }
    }
}

impl<'g> Sweep<'g> {
    /// Lays out `code`, which computes `results` from `inputs`, naming what needs a name.
    fn new(
        graph: &'g Graph,
        code: &Block,
        inputs: &[(NodeId, Ident)],
        var_inputs: &[(VarId, Ident)],
        results: &[Returned],
        namer: &mut Namer,
    ) -> Self {
        let n = graph.nodes.len();
        let mut walk = Walk::default();
        walk.block(code);
        let end = Pos {
            block: 0,
            index: code.0.len(),
        };
        for id in results.iter().filter_map(|r| r.0) {
            walk.stmt_uses.entry(id).or_default().push(end);
        }
        // Pops are read by the backward code itself: a pop's tape is changed by it.
        for node in &graph.nodes {
            if let Op::Pop(v) = node.op {
                walk.mutated.insert(v);
            }
            // So are the scratch buffers of `g_grad_into`, and the buffers a call writes into.
            if let Op::CallGrad(c) = &node.op {
                walk.mutated
                    .extend(c.scratch.iter().filter_map(|b| b.scratch()));
            }
            if let Op::Invoke(invoke) = &node.op {
                for (a, mode) in node.args.iter().zip(&invoke.modes) {
                    if let (crate::graph::Pass::Mut, Op::Array(v, _) | Op::Part(v)) =
                        (mode, &graph.node(*a).op)
                    {
                        walk.mutated.insert(*v);
                    }
                }
            }
        }

        // Live: what a statement or a result uses, and what those use.
        let mut live = vec![false; n];
        let mut uses = vec![0usize; n];
        let mut work: Vec<NodeId> = Vec::new();
        for (id, positions) in &walk.stmt_uses {
            uses[id.0] += positions.len();
            work.push(*id);
        }
        while let Some(id) = work.pop() {
            if std::mem::replace(&mut live[id.0], true) {
                continue;
            }
            for a in &graph.nodes[id.0].args {
                uses[a.0] += 1;
                work.push(*a);
            }
        }
        let is_result: HashSet<NodeId> = results.iter().filter_map(|r| r.0).collect();
        let stored: HashSet<VarId> = walk.mutated.clone();

        // Inline or bind, users before what they use: where a node is written decides where
        // what it uses is written.
        let mut bound = vec![false; n];
        let mut written_at: Vec<Option<Pos>> = vec![None; n];
        let mut user: Vec<Option<NodeId>> = vec![None; n];
        for (i, node) in graph.nodes.iter().enumerate() {
            if live[i] {
                for a in &node.args {
                    user[a.0] = Some(NodeId(i));
                }
            }
        }
        for i in (0..n).rev() {
            if !live[i] {
                continue;
            }
            let id = NodeId(i);
            let node = &graph.nodes[i];
            let home = walk.home.get(&id).copied();
            if graph.is_cheap(id) || home.is_none() {
                written_at[i] = home;
                continue;
            }
            let home = home.expect("checked above");
            // A read of a variable stays before whatever changes that variable.
            let reads = match node.op {
                Op::Read(v) | Op::Pop(v) => Some(v),
                Op::Load(v) if stored.contains(&v) => Some(v),
                _ => None,
            };
            let single_use = if uses[i] == 1 {
                match walk.stmt_uses.get(&id).and_then(|p| p.first()) {
                    Some(&p) => Some(p),
                    None => user[i].and_then(|u| written_at[u.0]),
                }
            } else {
                None
            };
            let inline = !matches!(node.op, Op::Pop(_))
                && (node.name.is_none() || matches!(node.op, Op::Read(_)))
                && (!is_result.contains(&id) || matches!(node.op, Op::Read(_)))
                && single_use.is_some_and(|at| {
                    at.block == home.block
                        && at.index >= home.index
                        && reads.is_none_or(|v| {
                            walk.barriers.get(&home.block).is_none_or(|b| {
                                // In order of their index: only those between are looked at,
                                // so a block of thousands of stores stays linear.
                                let from = b.partition_point(|&(k, _)| k <= home.index);
                                !b[from..]
                                    .iter()
                                    .take_while(|&&(k, _)| k < at.index)
                                    .any(|&(_, changed)| changed.is_none_or(|c| c == v))
                            })
                        })
                });
            if inline {
                written_at[i] = single_use;
            } else {
                bound[i] = true;
                written_at[i] = Some(home);
            }
        }

        // An expression written inline is rendered recursively: past a depth, a value gets a
        // `let` after all (a sum of hundreds of contributions to one adjoint, say), so that
        // rendering stays within the stack and the lines stay readable.
        let mut depth = vec![0usize; n];
        for i in 0..n {
            if !live[i] || written_at[i].is_none() {
                continue;
            }
            let inlined_args = graph.nodes[i]
                .args
                .iter()
                .filter(|a| !bound[a.0])
                .map(|a| depth[a.0])
                .max()
                .unwrap_or(0);
            depth[i] = inlined_args + 1;
            if depth[i] > MAX_INLINE_DEPTH && !bound[i] && walk.home.contains_key(&NodeId(i)) {
                bound[i] = true;
                written_at[i] = walk.home.get(&NodeId(i)).copied();
                depth[i] = 0;
            }
        }

        // Names: variables, then bound nodes, in order.
        let var_names = graph
            .vars
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Some(match var_inputs.iter().find(|(w, _)| w.0 == i) {
                    Some((_, ident)) => ident.clone(),
                    None => namer.fresh(&v.name),
                })
            })
            .collect();
        let mut names: Vec<Option<Ident>> = vec![None; n];
        let mut counters = HashMap::default();
        // A loop whose counter nothing live reads prints it as `_`.
        for (i, node) in graph.nodes.iter().enumerate() {
            if let (Op::Counter(k), true) = (&node.op, live[i]) {
                let k = *k;
                let name = node.name.clone().unwrap_or_else(|| "i".to_owned());
                let ident = counters
                    .entry(k)
                    .or_insert_with(|| namer.fresh(&name))
                    .clone();
                names[i] = Some(ident);
            }
        }
        let result_names: HashMap<NodeId, &str> = results
            .iter()
            .filter_map(|(id, name)| id.map(|id| (id, name.as_str())))
            .collect();
        for i in 0..n {
            if bound[i] {
                let node = &graph.nodes[i];
                let preferred = match (&node.name, result_names.get(&NodeId(i))) {
                    (Some(name), _) => name.clone(),
                    (None, Some(name)) => (*name).to_owned(),
                    (None, None) => match node.op {
                        Op::Read(v) | Op::Pop(v) => graph.vars[v.0].name.clone(),
                        _ => "t".to_owned(),
                    },
                };
                names[i] = Some(namer.fresh(&preferred));
            }
        }
        for (id, name) in inputs {
            names[id.0] = Some(name.clone());
        }
        let mutated = (0..graph.vars.len())
            .map(|v| walk.mutated.contains(&VarId(v)))
            .collect();
        Sweep {
            graph,
            live,
            bound,
            names,
            var_names,
            mutated,
            counters,
            discarded: HashSet::default(),
            lanes: None,
            untyped: untyped(graph),
            scratch: graph
                .nodes
                .iter()
                .flat_map(|node| match &node.op {
                    Op::CallGrad(c) => &c.scratch[..],
                    _ => &[],
                })
                .filter_map(|b| b.scratch())
                .collect(),
            reserves: reserve::plan(graph, code),
        }
    }

    /// Writes each pop of `pairs` whose partner is written, even if nothing reads its value:
    /// a tangent tape is pushed wherever its primal tape is, so it must be popped wherever the
    /// primal tape is, or the pops after it read what an earlier push left.
    pub(crate) fn keep_pops(&mut self, pairs: &HashMap<NodeId, NodeId>) {
        for (&pop, &partner) in pairs {
            if self.live[partner.0] && !self.live[pop.0] {
                self.live[pop.0] = true;
                self.bound[pop.0] = true;
                self.discarded.insert(pop);
            }
        }
    }

    fn var(&self, v: VarId) -> &Ident {
        self.var_names[v.0]
            .as_ref()
            .expect("every variable is named")
    }

    /// `let _ = x;` for each input the code does not read, then the code, then the results.
    fn body(&self, code: &Block, inputs: &[(NodeId, Ident)], results: &[Returned]) -> TokenStream {
        let unused = inputs
            .iter()
            .filter(|(id, _)| !self.live[id.0])
            .map(|(_, ident)| quote!(let _ = #ident;));
        let stmts = self.block(code);
        // A function that only writes out-parameters returns nothing.
        let tuple = (!results.is_empty()).then(|| {
            let results = results.iter().enumerate().map(|(k, (id, _))| {
                let value = match id {
                    Some(id) => self.operand(*id).tokens,
                    None => zero_of(self.graph),
                };
                // With lanes, the second result is the output's tangent.
                match &self.lanes {
                    Some(l) if k == 1 && id.is_none_or(|id| !l.nodes[id.0]) => l.splat(&value),
                    _ => value,
                }
            });
            quote!((#(#results,)*))
        });
        quote! {
            #(#unused)*
            #stmts
            #tuple
        }
    }

    fn block(&self, block: &Block) -> TokenStream {
        let lets = block
            .0
            .iter()
            .filter(|s| matches!(s, Stmt::Node(n) if self.binds(*n)))
            .count();
        if lets <= MAX_LETS_IN_SCOPE {
            return block.0.iter().map(|s| self.stmt(s)).collect();
        }
        // Each `let` opens a scope inside the previous one, and LLVM writes the debug
        // information of nested scopes recursively: thousands of `let`s in one block (the
        // gradient of a 3,000-term sum of products) overflow its stack in a debug build. So
        // the values get their names in a few declarations first, `let (t, t_1, ..);`, and are
        // assigned where they were bound, which opens no scope. A value that borrows (`&` in
        // it) keeps its `let`, whose lifetime extension an assignment would not have.
        let mut names = Vec::new();
        let mut body = TokenStream::new();
        for stmt in &block.0 {
            if let Stmt::Node(n) = stmt
                && self.binds(*n)
            {
                let value = self.render(*n).tokens;
                // A borrow, whose temporary a `let` may keep alive.
                if !crate::lower::holds_punct(value.clone(), '&') {
                    let name = self.names[n.0].as_ref().expect("bound nodes are named");
                    names.push(name.clone());
                    body.extend(quote!(#name = #value;));
                    continue;
                }
            }
            body.extend(self.stmt(stmt));
        }
        let declarations = names.chunks(NAMES_PER_DECLARATION).map(|names| {
            let names = names.iter();
            quote!(let (#(#names,)*);)
        });
        quote!(#(#declarations)* #body)
    }

    /// Whether the statement of node `n` is a `let` of it: `let name = value;`.
    fn binds(&self, n: NodeId) -> bool {
        self.live[n.0] && self.bound[n.0] && !self.discarded.contains(&n)
    }

    fn stmt(&self, stmt: &Stmt) -> TokenStream {
        match stmt {
            Stmt::Node(n) => {
                if !(self.live[n.0] && self.bound[n.0]) {
                    return TokenStream::new();
                }
                if self.discarded.contains(n) {
                    let value = self.render(*n).tokens;
                    return quote!(let _ = #value;);
                }
                let name = self.names[n.0].as_ref().expect("bound nodes are named");
                let value = self.render(*n).tokens;
                quote!(let #name = #value;)
            }
            Stmt::Declare(v, init) => {
                let name = self.var(*v);
                let var = &self.graph.vars[v.0];
                let mutability = (self.mutated[v.0] && init.is_some()
                    || matches!(var.shape, Shape::Tape(_)))
                .then(|| quote!(mut));
                if self.scratch.contains(v) {
                    let t = self.float_type(var.ty);
                    return quote!(let mut #name = ::autodiff::private::Scratch::<#t>::new(););
                }
                if let Some(l) = &self.lanes
                    && l.vars[v.0]
                {
                    return match init {
                        Some(n) => {
                            let value = self.lane_value(*n);
                            quote!(let #mutability #name = #value;)
                        }
                        None => {
                            let t = &l.ty;
                            quote!(let #name: #t;)
                        }
                    };
                }
                match (init, &var.shape) {
                    (_, Shape::Tape(count)) => {
                        let capacity = capacity(count);
                        // `T: Float` does not imply `Default`: a generic function's float tapes
                        // are filled with its zero.
                        if self.graph.generic.is_some() && var.ty.float().is_some() {
                            let zero = zero_of(self.graph);
                            quote!(let mut #name = ::autodiff::Tape::<_, #capacity>::filled(#zero);)
                        } else {
                            quote!(let mut #name = ::autodiff::Tape::<_, #capacity>::new();)
                        }
                    }
                    // A buffer of a known float type is typed: `vec![0.0; n]` alone is not, and
                    // a method on an element read before any store would not resolve.
                    (Some(n), Shape::Buffer(_))
                        if var.ty.float().is_some()
                            && matches!(self.graph.node(*n).op, Op::Vec) =>
                    {
                        let value = self.operand(*n).tokens;
                        let t = self.float_type(var.ty);
                        quote!(let #mutability #name: ::std::vec::Vec<#t> = #value;)
                    }
                    (Some(n), _) => {
                        let value = self.operand(*n).tokens;
                        quote!(let #mutability #name = #value;)
                    }
                    // Typed where the type is known: a value built from literals alone (`if c
                    // { 2.0 } else { 1.0 }`) would otherwise have no float type for its methods.
                    (None, Shape::Scalar) if var.ty.float().is_some() => {
                        let t = self.float_type(var.ty);
                        quote!(let #name: #t;)
                    }
                    (None, _) => quote!(let #name;),
                }
            }
            Stmt::Assign(v, n) => {
                let name = self.var(*v);
                // A call that writes into buffers is a statement of its own, printed once for
                // all the buffers it writes.
                match self.graph.node(*n).op {
                    Op::Invoke(_) => {
                        let call = self.operand(*n).tokens;
                        return quote!(#call;);
                    }
                    Op::Written(_) => return TokenStream::new(),
                    _ => {}
                }
                // The adjoint of a buffer, zeroed to the buffer's length in its allocation; or a
                // scratch buffer, only resized.
                if let (Shape::Buffer(_), op @ (Op::Vec | Op::Resized)) =
                    (&self.graph.vars[v.0].shape, &self.graph.node(*n).op)
                {
                    let args = &self.graph.node(*n).args;
                    let (x, len) = (self.operand(args[0]).tokens, self.operand(args[1]).tokens);
                    if matches!(op, Op::Resized) {
                        return quote!(#name.resize(#len, #x););
                    }
                    return quote!(#name.clear(); #name.resize(#len, #x););
                }
                let place = Place {
                    var: *v,
                    index: None,
                };
                // `d_s = d_s` (the tangent of `s += c` for a constant `c`) does nothing.
                if !self.bound[n.0] && self.graph.node(*n).reads() == Some(place) {
                    return TokenStream::new();
                }
                if let Some((op, rhs)) = self.compound(place, *n) {
                    return quote!(#name #op #rhs;);
                }
                let value = self.stored(*v, *n);
                quote!(#name = #value;)
            }
            Stmt::Store { var, index, value } => {
                let name = self.var(*var);
                let i = self.operand(*index).tokens;
                let place = Place {
                    var: *var,
                    index: Some(*index),
                };
                // `hv_a[i] = hv_a[i]` (the tangent of `d_a[i] += c` for a constant `c`).
                if !self.bound[value.0] && self.graph.node(*value).reads() == Some(place) {
                    return TokenStream::new();
                }
                if let Some((op, rhs)) = self.compound(place, *value) {
                    return quote!(#name[#i] #op #rhs;);
                }
                let value = self.stored(*var, *value);
                quote!(#name[#i] = #value;)
            }
            Stmt::Push(v, n) => {
                let name = self.var(*v);
                let value = self.operand(*n).tokens;
                quote!(#name.push(#value);)
            }
            Stmt::Assert {
                mac,
                operands,
                args,
                message,
            } => {
                let values: Vec<TokenStream> =
                    args.iter().map(|&n| self.operand(n).tokens).collect();
                let (ops, rest) = values.split_at(*operands);
                match message {
                    Some(m) => quote!(::core::#mac!(#(#ops,)* #m #(, #rest)*);),
                    None => quote!(::core::#mac!(#(#ops),*);),
                }
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => self.if_stmt(*cond, then, otherwise),
            Stmt::For(Loop {
                counter,
                start,
                end,
                inclusive,
                reverse,
                body,
                ..
            }) => {
                // A range empty at compile time (a window longer than a local array) is kept, as
                // the types of what it would assign are inferred from it.
                let empty = matches!(
                    (self.graph.const_int(*start), self.graph.const_int(*end)),
                    (Some(s), Some(e)) if s > e || (s == e && !*inclusive)
                )
                .then(|| quote!(#[allow(clippy::reversed_empty_ranges)]));
                let i = self
                    .counters
                    .get(counter)
                    .map_or_else(|| quote!(_), ToTokens::to_token_stream);
                let (s, e) = (
                    self.operand(*start).at_least(Prec::Cast),
                    self.operand(*end).at_least(Prec::Cast),
                );
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
                let guard = if *inclusive {
                    None
                } else {
                    self.length_guard(*end)
                };
                let room = self.room(stmt);
                let body = self.block(body);
                quote!(#room #guard #empty for #i in #range { #body })
            }
            Stmt::While { cond, test, body } => {
                let c = self.block(cond);
                let body = self.block(body);
                if c.is_empty() {
                    let t = self.operand(*test).tokens;
                    quote!(while #t { #body })
                } else {
                    let t = self.operand(*test).at_least(Prec::Prefix);
                    quote!(loop { #c if !#t { break; } #body })
                }
            }
        }
    }

    /// `tape.reserve(n);` for each tape loop `stmt` fills (see [`reserve`]).
    fn room(&self, stmt: &Stmt) -> TokenStream {
        let Stmt::For(l) = stmt else {
            return TokenStream::new();
        };
        let Some(reserves) = self.reserves.get(&reserve::address(l)) else {
            return TokenStream::new();
        };
        reserves
            .iter()
            .filter_map(|r| {
                let n = self.amount(&r.amount)?;
                let tape = self.var(r.tape);
                Some(quote!(#tape.reserve(#n);))
            })
            .collect()
    }

    /// A count of values pushed, as a `usize` expression.
    fn amount(&self, amount: &reserve::Amount) -> Option<TokenStream> {
        use reserve::Amount;
        Some(match amount {
            Amount::Known(n) => {
                let n = Literal::usize_suffixed(usize::try_from(*n).ok()?);
                quote!(#n)
            }
            Amount::Trips {
                start,
                end,
                inclusive,
            } => {
                let (s, e) = (self.bound_value(*start)?, self.bound_value(*end)?);
                let e = if *inclusive {
                    quote!(::autodiff::private::wrapping_add(#e, 1))
                } else {
                    e
                };
                quote!(::autodiff::private::trips(#s, #e))
            }
            Amount::Len(v) => {
                let v = self.var(*v);
                quote!(#v.len())
            }
            Amount::Sum(terms) => {
                let mut terms = terms
                    .iter()
                    .map(|t| self.amount(t))
                    .collect::<Option<Vec<_>>>()?
                    .into_iter();
                let first = terms.next()?;
                terms.fold(first, |a, b| quote!(#a.saturating_add(#b)))
            }
            Amount::Times(a, b) => {
                let (a, b) = (self.amount(a)?, self.amount(b)?);
                quote!(#a.saturating_mul(#b))
            }
            Amount::Choose {
                test,
                then,
                otherwise,
            } => {
                let test = self.bound_value(*test)?;
                let (a, b) = (self.amount(then)?, self.amount(otherwise)?);
                quote!((if #test { #a } else { #b }))
            }
        })
    }

    /// An integer value the room made before a loop is computed from: what
    /// [`reserve`] accepts, written again from its parts (the names bound inside the loop are
    /// not in scope before it), its arithmetic without overflow checks.
    fn bound_value(&self, n: NodeId) -> Option<TokenStream> {
        let node = self.graph.node(n);
        Some(match &node.op {
            Op::Lit(value @ LitValue::Int(_), _) => literal(*value).tokens,
            Op::Param(_) => self.names[n.0].as_ref()?.to_token_stream(),
            Op::Const(tokens) => tokens.clone(),
            Op::Read(v) => self.var(*v).to_token_stream(),
            // Written from the array, not from a name bound to it.
            Op::Len(_) => self.render(n).tokens,
            Op::Counter(c) => self.counters.get(c)?.to_token_stream(),
            // The test of a branch on a constant function's value.
            Op::Not => {
                let x = self.bound_value(node.args[0])?;
                quote!(!#x)
            }
            Op::Call(_) if node.args.is_empty() => self.render(n).tokens,
            Op::Prim(op @ (Prim::Add | Prim::Sub | Prim::Mul)) => {
                let (a, b) = (
                    self.bound_value(node.args[0])?,
                    self.bound_value(node.args[1])?,
                );
                let f = match op {
                    Prim::Add => quote!(wrapping_add),
                    Prim::Sub => quote!(wrapping_sub),
                    _ => quote!(wrapping_mul),
                };
                quote!(::autodiff::private::#f(#a, #b))
            }
            _ => return None,
        })
    }

    /// For a loop over `..x.len() - c` with `x` a slice parameter, `assert!(end < x.len())`
    /// before it. The subtraction wraps only for a slice shorter than `c`, where the function
    /// itself panics in a debug build; otherwise the assertion holds, and it tells Rust that an
    /// index up to `i + c` is in bounds, so the loop's indexing needs no check per iteration.
    fn length_guard(&self, end: NodeId) -> Option<TokenStream> {
        let node = self.graph.node(end);
        let (Op::Prim(Prim::Sub), [len, c]) = (&node.op, node.args.as_slice()) else {
            return None;
        };
        let (Op::Len(v), Op::Lit(LitValue::Int(1..), _)) =
            (&self.graph.node(*len).op, &self.graph.node(*c).op)
        else {
            return None;
        };
        let var = &self.graph.vars[v.0];
        if var.param.is_none() || !matches!(var.shape, Shape::Slice) {
            return None;
        }
        let x = self.var(*v);
        let e = self.operand(end).at_least(Prec::Cast);
        Some(quote!(::core::assert!(#e < #x.len());))
    }

    fn if_stmt(&self, cond: NodeId, then: &Block, otherwise: &Block) -> TokenStream {
        let c = self.operand(cond).tokens;
        let t = self.block(then);
        let o = self.block(otherwise);
        // `if !true {}`, left where an early return ends a block: nothing to run.
        if t.is_empty() && o.is_empty() && self.inert(cond) {
            return TokenStream::new();
        }
        if o.is_empty() {
            return quote!(if #c { #t });
        }
        // `else if` rather than `else { if .. }`, as a person writes it.
        if let [
            Stmt::If {
                cond,
                then,
                otherwise,
            },
        ] = otherwise.0.as_slice()
        {
            let nested = self.if_stmt(*cond, then, otherwise);
            return quote!(if #c { #t } else #nested);
        }
        quote!(if #c { #t } else { #o })
    }

    /// Whether evaluating a node, as it is written, does nothing but compute a value: names,
    /// leaves and primitive operations on them, no calls.
    fn inert(&self, id: NodeId) -> bool {
        let node = self.graph.node(id);
        self.bound[id.0]
            || node.is_leaf()
            || matches!(
                node.op,
                Op::Prim(_) | Op::Cmp(_) | Op::Not | Op::And | Op::Or | Op::Select
            ) && node.args.iter().all(|&a| self.inert(a))
    }

    /// `x op= rhs` for an update `x = x op rhs` whose read of `x` is written inline.
    fn compound(&self, place: Place, value: NodeId) -> Option<(TokenStream, TokenStream)> {
        // `T: Float` does not imply `AddAssign`: a generic function writes `s = s + t` for its
        // floats (its integers, a loop's count of iterations, have `+=`).
        if self.graph.generic.is_some() && self.graph.vars[place.var.0].ty != Ty::Int {
            return None;
        }
        let (p, target, rhs) = self.graph.update(place, value)?;
        if self.bound[value.0] || self.bound[target.0] {
            return None;
        }
        let op = punct(&format!("{}=", p.name()), self.graph.node(value).span);
        let rhs_code = self.operand(rhs).tokens;
        let rhs_code = match &self.lanes {
            // `d += c` for a constant `c` of a sum in lanes: `c` in every lane.
            Some(l)
                if l.vars[place.var.0] && !l.nodes[rhs.0] && matches!(p, Prim::Add | Prim::Sub) =>
            {
                l.splat(&rhs_code)
            }
            _ => rhs_code,
        };
        Some((op, rhs_code))
    }

    /// `((t · a) · b) · c`, lanes `t` scaled by values, as `t · (a · b · c)`: one product of
    /// lanes instead of three. `None` unless `id` is such a chain of two or more factors.
    fn lane_product(&self, id: NodeId) -> Option<Code> {
        let l = self.lanes.as_ref()?;
        let mut scalars = Vec::new();
        let mut at = id;
        let lanes = loop {
            let node = self.graph.node(at);
            // A factor written inline is used here only; one with a name is a leaf.
            let inline = at == id || !self.bound[at.0];
            if !(inline && l.nodes[at.0] && matches!(node.op, Op::Prim(Prim::Mul))) {
                break at;
            }
            let (lane, scalar) = if l.nodes[node.args[0].0] {
                (node.args[0], node.args[1])
            } else {
                (node.args[1], node.args[0])
            };
            scalars.push(scalar);
            at = lane;
        };
        if scalars.len() < 2 {
            return None;
        }
        let span = self.graph.node(id).span;
        let star = punct("*", span);
        let mut factors = scalars.iter().rev().map(|&s| self.operand(s));
        let first = factors.next().expect("two factors").at_least(Prec::Product);
        let product = factors.fold(first, |acc, f| {
            let f = f.at_least(next(Prec::Product));
            quote!(#acc #star #f)
        });
        let lanes = self.operand(lanes).at_least(Prec::Product);
        Some(Code::new(quote!(#lanes #star (#product)), Prec::Product))
    }

    /// The tangent of a call in lanes, `(value, Σ ṫₖ · ∂g/∂aₖ)`, from the callee's gradient:
    /// `g_jvp` carries one direction, `g_grad` gives the partial derivatives every lane needs.
    /// `args` are those of `g_jvp`, each float argument followed by its tangent.
    fn lane_call(&self, c: &crate::graph::Callee, args: &[NodeId], span: Span) -> Code {
        let l = self.lanes.as_ref().expect("lanes");
        let mut primal = Vec::new();
        let mut terms = Vec::new();
        let mut rest = args.iter();
        for entry in c.entries() {
            let Some(&a) = rest.next() else { break };
            primal.push(a);
            let Some(entry) = entry else { continue };
            let Some(&t) = rest.next() else { break };
            if !l.nodes[t.0] {
                continue;
            }
            let e = syn::Index::from(entry);
            terms.push(match self.graph.node(t).op {
                Op::Array(v, _) => {
                    let name = self.var(v);
                    quote!(::autodiff::private::dot_lanes(&#name[..], &g_.#e))
                }
                Op::Part(_) => {
                    let t = self.operand(t).tokens;
                    quote!(::autodiff::private::dot_lanes(#t, &g_.#e))
                }
                _ => {
                    let t = self.operand(t).tokens;
                    quote!(::autodiff::private::scaled_lanes(#t, g_.#e))
                }
            });
        }
        let name = format_ident!("{}_grad", c.name, span = c.name.span());
        let call = self.call(c, &name, &primal, span).tokens;
        let n = Literal::usize_unsuffixed(c.floats.iter().filter(|&&f| f).count());
        let sum = if terms.is_empty() {
            l.splat(&quote!(0.0))
        } else {
            quote!(#(#terms)+*)
        };
        Code::new(
            quote_spanned! {span=> {
                let g_ = ::autodiff::private::entries::<#n, _>(#call);
                (g_.0, #sum)
            }},
            Prec::Atom,
        )
    }

    /// A value as stored into `var`: in every lane if the variable is lanes and the value not.
    fn stored(&self, var: VarId, value: NodeId) -> TokenStream {
        let tokens = self.operand(value).tokens;
        match &self.lanes {
            Some(l) if l.vars[var.0] && !l.nodes[value.0] => l.splat(&tokens),
            _ => tokens,
        }
    }

    /// The initial value of a variable that is lanes: a value that is not, in every lane, and
    /// an array or buffer of such values filled with lanes.
    fn lane_value(&self, n: NodeId) -> TokenStream {
        let l = self.lanes.as_ref().expect("lanes");
        if l.nodes[n.0] {
            return self.operand(n).tokens;
        }
        let node = self.graph.node(n);
        let arg = |k: usize| l.splat(&self.operand(node.args[k]).tokens);
        match &node.op {
            Op::Fill(_) if node.args.len() == 2 => {
                let (x, len) = (arg(0), self.operand(node.args[1]).tokens);
                quote!(::std::vec![#x; #len])
            }
            Op::Fill(len) => {
                let x = arg(0);
                quote!([#x; #len])
            }
            Op::Vec | Op::Resized => {
                let (x, len) = (arg(0), self.operand(node.args[1]).tokens);
                quote!(::std::vec![#x; #len])
            }
            _ => l.splat(&self.operand(n).tokens),
        }
    }

    /// The float type of a value of type `ty`: the function's type parameter, or `f64`/`f32`.
    fn float_type(&self, ty: Ty) -> TokenStream {
        match &self.graph.generic {
            Some(t) => quote!(#t),
            None => {
                let f = ty.float().unwrap_or(FloatTy::F64);
                let f = format_ident!("{}", f.name());
                quote!(#f)
            }
        }
    }

    /// A node as an operand: its name if it has one, a leaf as itself, otherwise inline.
    fn operand(&self, id: NodeId) -> Code {
        if let (true, Some(name)) = (self.bound[id.0], &self.names[id.0]) {
            return Code::new(name.to_token_stream(), Prec::Atom);
        }
        self.render(id)
    }

    /// A parameter, a tangent input or a loop counter, by its name; a float taken by reference,
    /// and its tangent or direction, are read through it.
    #[inline(never)]
    fn input(&self, id: NodeId) -> Code {
        let name = self.names[id.0].as_ref().expect("inputs are named");
        match self.graph.node(id).op {
            Op::Param(i) | Op::Seed(i) if self.graph.params.get(i).is_some_and(|p| p.by_ref) => {
                Code::new(quote!(*#name), Prec::Prefix)
            }
            _ => Code::new(name.to_token_stream(), Prec::Atom),
        }
    }

    fn render(&self, id: NodeId) -> Code {
        let node = self.graph.node(id);
        let span = node.span;
        let arg = |k: usize| self.operand(node.args[k]);
        match &node.op {
            Op::Param(_) | Op::Seed(_) | Op::Counter(_) => self.input(id),
            // A function generic over `T: Float` spells its constants through `T`.
            // A constant of a concrete type, `2.0` in `2.0 * PI`, is written as the body does.
            Op::Lit(LitValue::Float(v), _)
                if self.graph.generic.is_some() && node.ty != Ty::Other =>
            {
                let t = &self.graph.generic;
                let lit = float_literal(*v).tokens;
                Code::new(quote!(::autodiff::cast::<#t, f64>(#lit)), Prec::Atom)
            }
            Op::Known(k) if self.graph.generic.is_some() => {
                let t = &self.graph.generic;
                let value = known(*k, FloatTy::F64).tokens;
                Code::new(quote!(::autodiff::cast::<#t, f64>(#value)), Prec::Atom)
            }
            Op::Cast(CastTo::Float(_) | CastTo::Lossless(_)) if self.graph.generic.is_some() => {
                let t = &self.graph.generic;
                let a = arg(0).tokens;
                Code::new(
                    quote_spanned!(span=> ::autodiff::cast::<#t, _>(#a)),
                    Prec::Atom,
                )
            }
            Op::Lit(LitValue::Float(_), Some(tokens)) => {
                Code::new(typed_literal(tokens, node.ty), Prec::Atom)
            }
            Op::Lit(_, Some(tokens)) | Op::Const(tokens) | Op::SelfValue(tokens) => {
                Code::new(tokens.clone(), Prec::Atom)
            }
            Op::Lit(LitValue::Float(v), None) if node.ty.float() == Some(FloatTy::F32) => {
                // The `f32` the constant is, not the `f64` it was folded in.
                #[allow(clippy::cast_possible_truncation)]
                float32_literal(*v as f32)
            }
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
                // The left side in parentheses unless it is a single operand: it may end with an
                // `as` cast (`x * n as f64 < y`).
                let left = arg(0);
                let a = if left.prec >= Prec::Prefix {
                    left.tokens
                } else {
                    left.at_least(Prec::Atom)
                };
                let b = side(arg(1));
                // The pattern as the user wrote it, never a name bound to its value (which
                // `matches!` would take for a binding that matches everything).
                if *op == CmpOp::Is
                    && let Op::Const(pattern) = &self.graph.node(node.args[1]).op
                {
                    let a = arg(0).tokens;
                    return Code::new(
                        quote_spanned!(span=> ::core::matches!(#a, #pattern)),
                        Prec::Atom,
                    );
                }
                let op = match op {
                    CmpOp::Lt => quote_spanned!(span=> <),
                    CmpOp::Le => quote_spanned!(span=> <=),
                    CmpOp::Gt => quote_spanned!(span=> >),
                    CmpOp::Ge => quote_spanned!(span=> >=),
                    CmpOp::Ne => quote_spanned!(span=> !=),
                    CmpOp::Eq | CmpOp::Is => quote_spanned!(span=> ==),
                };
                Code::new(quote!(#a #op #b), Prec::Cmp)
            }
            Op::Not => {
                let a = arg(0).at_least(Prec::Prefix);
                Code::new(quote!(!#a), Prec::Prefix)
            }
            Op::And => {
                let (a, b) = (arg(0).at_least(Prec::And), arg(1).at_least(Prec::Cmp));
                Code::new(quote!(#a && #b), Prec::And)
            }
            Op::Or => {
                let (a, b) = (arg(0).at_least(Prec::Or), arg(1).at_least(Prec::And));
                Code::new(quote!(#a || #b), Prec::Or)
            }
            Op::Select => {
                let cond = arg(0).tokens;
                let mut then = arg(1).tokens;
                let mut otherwise = self.operand(node.args[2]);
                // A branch that is not lanes, of a value that is: in every lane.
                if let Some(l) = &self.lanes
                    && l.nodes[id.0]
                {
                    if !l.nodes[node.args[1].0] {
                        then = l.splat(&then);
                    }
                    if !l.nodes[node.args[2].0] {
                        otherwise = Code::new(l.splat(&otherwise.tokens), Prec::Atom);
                    }
                }
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
            Op::Read(v) => Code::new(self.var(*v).to_token_stream(), Prec::Atom),
            Op::Load(v) => {
                let name = self.var(*v);
                let i = arg(0).tokens;
                // `m[i][j]` of a constant array of arrays.
                if node.args.len() == 2 {
                    let j = arg(1).tokens;
                    return Code::new(quote_spanned!(span=> #name[#i][#j]), Prec::Atom);
                }
                Code::new(quote_spanned!(span=> #name[#i]), Prec::Atom)
            }
            Op::Len(v) => {
                let var = &self.graph.vars[v.0];
                // A local array's length is the constant it was declared with: the array itself
                // is out of scope in the backward code of the block that declares it.
                if let (None, Shape::Array { len, .. }) = (var.param, &var.shape) {
                    // `3usize`: an unsuffixed literal has no type of its own, which an integer
                    // method on the length needs (`h.len().pow(2)`).
                    if let Ok(n) = syn::parse2::<syn::LitInt>(len.clone())
                        && n.suffix().is_empty()
                    {
                        let n = syn::LitInt::new(&format!("{}usize", n.base10_digits()), span);
                        return Code::new(quote!(#n), Prec::Atom);
                    }
                    return Code::new(quote!((#len)), Prec::Atom);
                }
                let name = self.var(*v);
                Code::new(quote_spanned!(span=> #name.len()), Prec::Atom)
            }
            // `vec![x; n]` for a buffer as long as a slice.
            Op::Fill(_) if node.args.len() == 2 => {
                let (x, n) = (arg(0).tokens, arg(1).tokens);
                Code::new(quote!(::std::vec![#x; #n]), Prec::Atom)
            }
            Op::Fill(len) => {
                let x = arg(0).tokens;
                Code::new(quote!([#x; #len]), Prec::Atom)
            }
            Op::Vec | Op::Resized => {
                let (x, len) = (arg(0).tokens, arg(1).tokens);
                Code::new(quote_spanned!(span=> ::std::vec![#x; #len]), Prec::Atom)
            }
            Op::Pop(v) => {
                let name = self.var(*v);
                Code::new(quote!(#name.pop()), Prec::Atom)
            }
            Op::Member(name) => {
                let base = arg(0).at_least(Prec::Atom);
                Code::new(quote!(#base.#name), Prec::Atom)
            }
            Op::IntMethod(ty, name) => {
                let args: Vec<TokenStream> = (0..node.args.len()).map(|k| arg(k).tokens).collect();
                match ty {
                    Some(ty) => {
                        Code::new(quote_spanned!(span=> #ty::#name(#(#args),*)), Prec::Atom)
                    }
                    None => {
                        let base = arg(0).at_least(Prec::Atom);
                        let rest = &args[1..];
                        Code::new(quote_spanned!(span=> #base.#name(#(#rest),*)), Prec::Atom)
                    }
                }
            }
            Op::Call(c) => self.call(c, &c.name, &node.args, span),
            Op::Invoke(invoke) => self.invoke(invoke, &node.args, span),
            // Printed by the call's own statement.
            Op::Written(_) => Code::new(TokenStream::new(), Prec::Atom),
            Op::FieldSlice(path) => {
                let base = arg(0).at_least(Prec::Atom);
                Code::new(quote!(&#base.#path[..]), Prec::Prefix)
            }
            Op::Gradient(gradient) if gradient.fields.is_empty() => {
                let ty = &gradient.ty;
                Code::new(
                    quote!(<#ty as ::core::default::Default>::default()),
                    Prec::Atom,
                )
            }
            Op::Gradient(gradient) => {
                let ty = &gradient.ty;
                let sets = gradient.fields.iter().zip(&node.args).map(|((path, array), &a)| {
                    let value = self.operand(a).tokens;
                    if *array {
                        quote!(entry_.#path = ::autodiff::FieldGradient::from_gradient(&#value[..]);)
                    } else if self.graph.generic.is_none() && literal_only(self.graph, a) {
                        // An unsuffixed constant takes the field's type.
                        quote!(entry_.#path = #value;)
                    } else {
                        // Of the field's type: an `f32` field of an `f64` function holds its
                        // derivative rounded to `f32`.
                        quote!(entry_.#path = ::autodiff::ScalarGradient::from_derivative(#value);)
                    }
                });
                Code::new(
                    quote!(::autodiff::gradient_of(|entry_: &mut #ty| { #(#sets)* })),
                    Prec::Atom,
                )
            }
            Op::CallGrad(c) if !c.scratch.is_empty() => self.call_grad_into(c, &node.args, span),
            Op::CallGrad(c) => {
                let name = format_ident!("{}_grad", c.name, span = c.name.span());
                let call = self.call(c, &name, &node.args, span).tokens;
                // The value and one entry per float argument, checked where the call is.
                let n = c.floats.iter().filter(|&&f| f).count();
                let n = Literal::usize_unsuffixed(n);
                Code::new(
                    quote_spanned!(span=> ::autodiff::private::entries::<#n, _>(#call)),
                    Prec::Atom,
                )
            }
            Op::CallJvp(c) if self.lanes.as_ref().is_some_and(|l| l.nodes[id.0]) => {
                self.lane_call(c, &node.args, span)
            }
            Op::CallJvp(c) => {
                let name = format_ident!("{}_jvp", c.name, span = c.name.span());
                self.call(c, &name, &node.args, span)
            }
            Op::Field(k) => {
                let tuple = arg(0).at_least(Prec::Atom);
                // Spanned on what the entry belongs to: a missing entry is reported there.
                let k = syn::Index {
                    index: u32::try_from(*k).unwrap_or(u32::MAX),
                    span,
                };
                Code::new(quote!(#tuple.#k), Prec::Atom)
            }
            Op::Array(v, refs) => {
                let name = self.var(*v);
                match *refs {
                    0 => Code::new(quote!(#name), Prec::Atom),
                    ..0 => Code::new(quote!(*#name), Prec::Prefix),
                    1.. => {
                        let refs = (0..*refs).map(|_| quote!(&));
                        Code::new(quote!(#(#refs)*#name), Prec::Prefix)
                    }
                }
            }
            Op::Part(v) => {
                let name = self.var(*v);
                let (start, end) = (arg(0).tokens, arg(1).tokens);
                Code::new(quote!(&#name[#start..#end]), Prec::Prefix)
            }
            Op::Element => {
                let array = arg(0).at_least(Prec::Atom);
                let i = arg(1).tokens;
                Code::new(quote!(#array[#i]), Prec::Atom)
            }
        }
    }

    /// `g(&x[..], mu, &mut out[..])`, or a derivative function of `g`.
    fn invoke(&self, invoke: &crate::graph::Invoke, nodes: &[NodeId], span: Span) -> Code {
        use crate::graph::Pass;
        let c = &invoke.callee;
        let name = if invoke.suffix.is_empty() {
            c.name.clone()
        } else {
            format_ident!("{}_{}", c.name, invoke.suffix, span = c.name.span())
        };
        let prefix = &c.prefix;
        let borrowed = c.borrowed(nodes.len());
        let args = nodes
            .iter()
            .zip(&invoke.modes)
            .zip(borrowed)
            .map(|((&a, mode), by_ref)| {
                if by_ref && *mode == Pass::Value {
                    return respan(self.reference(a), span);
                }
                // Part of an array, `&x[start..end]` (`&mut` for an adjoint buffer).
                if let Op::Part(v) = self.graph.node(a).op {
                    let name = self.var(v);
                    let bounds = &self.graph.node(a).args;
                    let (start, end) = (
                        self.operand(bounds[0]).tokens,
                        self.operand(bounds[1]).tokens,
                    );
                    let borrow = if *mode == Pass::Mut {
                        quote!(&mut)
                    } else {
                        quote!(&)
                    };
                    return respan(quote!(#borrow #name[#start..#end]), span);
                }
                let t = match self.graph.node(a).op {
                    // Borrowed below; passed by value, an array prints as it does in a call.
                    Op::Array(v, _) if *mode != Pass::Value => self.var(v).to_token_stream(),
                    _ if *mode == Pass::Value => self.operand(a).tokens,
                    _ => self.operand(a).at_least(Prec::Atom),
                };
                respan(
                    match mode {
                        Pass::Value => t,
                        Pass::Ref => quote!(&#t[..]),
                        Pass::Mut => quote!(&mut #t[..]),
                    },
                    span,
                )
            });
        if invoke.several {
            let args: Vec<TokenStream> = args.collect();
            // Each array's length as a constant, if it has one: the buffer's is the number of
            // floats the pattern binds.
            let lens: Vec<Option<TokenStream>> = nodes
                .iter()
                .map(|&a| match &self.graph.node(a).op {
                    Op::Array(v, _) => match &self.graph.vars[v.0].shape {
                        Shape::Array { len, .. } => Some(len.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            return Code::new(several(invoke, prefix, &args, &lens, span), Prec::Atom);
        }
        // A helper that writes into a buffer may also return a float, which the statement
        // discards: its `g_vjp_into` then takes a seed, zero here, and `g_jvp` returns the value
        // and tangent. The runtime calls either form with the arguments as a tuple.
        let dispatch = match invoke.suffix {
            "vjp_into" | "adjoint_into" => Some(quote!(vjp_into)),
            "hvp_into" => Some(quote!(hvp_into)),
            "jvp" => Some(quote!(jvp)),
            _ => None,
        };
        match dispatch {
            Some(via) => Code::new(
                quote_spanned!(span=> ::autodiff::private::#via(#prefix #name, (#(#args,)*))),
                Prec::Atom,
            ),
            None => Code::new(quote_spanned!(span=> #prefix #name(#(#args),*)), Prec::Atom),
        }
    }

    /// `g_grad_into(args, buffers)` of a function differentiated beside this one, as a tuple
    /// shaped like `g_grad`'s: the value, then an entry per float argument, a slice's gradient
    /// borrowed from the scratch buffer passed after it (zeroed first, its memory kept from call
    /// to call), or `()` where the buffer is the slice's adjoint itself ([`IntoBuffer`]). Each slice is bound first, as `&[T]` (a `&mut` out-parameter reborrowed), so
    /// that its length sizes the buffer.
    fn call_grad_into(&self, c: &crate::graph::Callee, args: &[NodeId], span: Span) -> Code {
        let name = format_ident!("{}_grad_into", c.name, span = c.name.span());
        let prefix = &c.prefix;
        let buffers = c.buffers.as_deref().unwrap_or_default();
        let mut scratch = c.scratch.iter();
        let (mut bound, mut slices, mut passed) = (Vec::new(), Vec::new(), Vec::new());
        let mut entries = vec![quote!(g_.0)];
        let mut scalars = 0;
        let borrowed = c.borrowed(args.len());
        for (i, (&a, &float)) in args.iter().zip(&c.floats).enumerate() {
            let value = if borrowed[i] {
                self.reference(a)
            } else {
                self.operand(a).tokens
            };
            let value = respan(value, span);
            if buffers.get(i) == Some(&true) {
                let arg = format_ident!("a{}_", i);
                slices.push(quote!(::autodiff::private::slice(#value)));
                passed.push(quote!(#arg));
                match *scratch.next().expect("a buffer per slice") {
                    IntoBuffer::Scratch(s) => {
                        let s = self.var(s);
                        passed.push(quote!(::autodiff::private::zeroed(&mut #s, #arg.len())));
                        entries.push(quote!(&#s[..]));
                    }
                    // Added into where it belongs; the backward code reads no entry.
                    IntoBuffer::Adjoint(adjoint) => {
                        let adjoint = self.var(adjoint);
                        passed.push(quote!(&mut #adjoint[..]));
                        entries.push(quote!(()));
                    }
                    // Saved as it is made; the backward code pops it.
                    IntoBuffer::Tape(tape) => {
                        let tape = self.var(tape);
                        passed.push(quote!(#tape.extend_zeroed(#arg.len())));
                        entries.push(quote!(()));
                    }
                }
                bound.push(arg);
            } else {
                passed.push(value);
                if float {
                    scalars += 1;
                    let k = syn::Index::from(scalars);
                    entries.push(quote!(g_.#k));
                }
            }
        }
        Code::new(
            quote_spanned!(span=> {
                let (#(#bound,)*) = (#(#slices,)*);
                let g_ = #prefix #name(#(#passed),*);
                (#(#entries,)*)
            }),
            Prec::Atom,
        )
    }

    fn call(&self, c: &crate::graph::Callee, name: &Ident, args: &[NodeId], span: Span) -> Code {
        let prefix = &c.prefix;
        let borrowed = c.borrowed(args.len());
        let args = args.iter().zip(borrowed).map(|(&a, by_ref)| {
            let value = if by_ref {
                self.reference(a)
            } else {
                self.operand(a).tokens
            };
            respan(value, span)
        });
        Code::new(quote_spanned!(span=> #prefix #name(#(#args),*)), Prec::Atom)
    }

    /// `&value`: a float argument passed by reference, see [`crate::graph::Callee::refs`].
    fn reference(&self, a: NodeId) -> TokenStream {
        let value = self.operand(a).at_least(Prec::Prefix);
        quote!(&#value)
    }

    fn prim(&self, p: Prim, id: NodeId, span: Span) -> Code {
        let node = self.graph.node(id);
        let arg = |k: usize| self.operand(node.args[k]);
        match p.syntax() {
            Syntax::Infix if p.is_bitwise() => {
                // `(i + 1) & 1`, `(n as u32) << 2`: clear to the reader and to rustc.
                let (a, b) = (arg(0).at_least(Prec::Prefix), arg(1).at_least(Prec::Prefix));
                let op = punct(p.name(), span);
                Code::new(quote!(#a #op #b), Prec::Bit)
            }
            Syntax::Infix => {
                let prec = match p {
                    Prim::Add | Prim::Sub => Prec::Sum,
                    _ => Prec::Product,
                };
                if let Some(code) = self.lane_product(id) {
                    return code;
                }
                let (mut a, mut b) = (arg(0).at_least(prec), arg(1).at_least(next(prec)));
                // A sum of lanes and a value that is not: the value in every lane.
                if let Some(l) = &self.lanes
                    && l.nodes[id.0]
                    && matches!(p, Prim::Add | Prim::Sub)
                {
                    if !l.nodes[node.args[0].0] {
                        a = l.splat(&a);
                    }
                    if !l.nodes[node.args[1].0] {
                        b = l.splat(&b);
                    }
                }
                let op = punct(p.name(), span);
                Code::new(quote!(#a #op #b), prec)
            }
            Syntax::Prefix => {
                let a = arg(0).at_least(Prec::Prefix);
                // `-(-2.0)`, not `--2.0`, which rustc's `double_negations` lint rejects (a
                // negative literal the user wrote is one token run, `-2.0`).
                let a = match a.clone().into_iter().next() {
                    Some(TokenTree::Punct(m)) if m.as_char() == '-' => quote!((#a)),
                    _ => a,
                };
                let op = punct(p.name(), span);
                Code::new(quote!(#op #a), Prec::Prefix)
            }
            Syntax::Method => {
                let method = Ident::new(p.name(), span);
                let receiver = self.graph.node(node.args[0]);
                if node.ty == Ty::Int || (self.graph.generic.is_some() && node.ty == Ty::Other) {
                    // An integer's own method, `k.min(n)`: a constant, in any function; and a
                    // method of a concrete float in a generic one, `(2.0 * PI).sqrt()`.
                    let r = self.operand(node.args[0]).at_least(Prec::Atom);
                    let rest = node.args[1..].iter().map(|&a| self.operand(a).tokens);
                    return Code::new(quote!(#r.#method(#(#rest),*)), Prec::Atom);
                }
                if let Some(t) = &self.graph.generic {
                    // Through the trait, whatever the receiver: `T` has no inherent methods.
                    let args = node.args.iter().map(|&a| self.operand(a).tokens);
                    return Code::new(
                        quote!(<#t as ::autodiff::num_traits::Float>::#method(#(#args),*)),
                        Prec::Atom,
                    );
                }
                if matches!(receiver.op, Op::Lit(..))
                    || receiver.ty == Ty::Float(None)
                    || self.untyped[node.args[0].0]
                {
                    // A literal has no methods until its type is known: `f64::exp(2.0)`, and
                    // neither has a variable that starts as one: `f64::max(m, x)`.
                    let t = node.ty.float().unwrap_or(self.graph.output_ty);
                    let t = format_ident!("{}", t.name());
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
                if let Some(l) = &self.lanes
                    && l.nodes[id.0]
                {
                    // Validated: only the guard of a product is lanes; its factor is a value,
                    // or a tangent whose lanes each guard their own.
                    let f = if l.nodes[node.args[0].0] {
                        quote!(zero_wins_each)
                    } else {
                        quote!(zero_wins_lanes)
                    };
                    return Code::new(quote!(::autodiff::private::#f(#(#args),*)), Prec::Atom);
                }
                let f = Ident::new(p.name(), span);
                Code::new(quote!(::autodiff::#f(#(#args),*)), Prec::Atom)
            }
        }
    }
}

/// The precedence the right operand of a left-associative operator needs.
fn next(prec: Prec) -> Prec {
    match prec {
        Prec::If => Prec::Or,
        Prec::Or => Prec::And,
        Prec::And => Prec::Cmp,
        Prec::Cmp => Prec::Bit,
        Prec::Bit => Prec::Sum,
        Prec::Sum => Prec::Product,
        Prec::Product => Prec::Cast,
        Prec::Cast => Prec::Prefix,
        Prec::Prefix | Prec::Atom => Prec::Atom,
    }
}

/// The inline capacity of a tape that holds `count` values, as a constant expression.
fn capacity(count: &Count) -> TokenStream {
    match count {
        Count::Known(n) => {
            let n = Literal::u64_unsuffixed((*n).min(MAX_INLINE));
            quote!(#n)
        }
        Count::Const(_) | Count::Saturating(..) => {
            let e = count_expr(count);
            let max = Literal::u64_unsuffixed(MAX_INLINE);
            quote!({
                let n: usize = #e;
                if n > #max { #max } else { n }
            })
        }
        Count::Slice(_) | Count::Unknown => capacity(&count.inline_part()),
    }
}

/// A count as a `usize` constant expression.
fn count_expr(count: &Count) -> TokenStream {
    match count {
        Count::Known(n) => {
            let n = Literal::u64_suffixed(*n);
            quote!((#n as usize))
        }
        Count::Const(tokens) => quote!((#tokens) as usize),
        Count::Saturating(a, op, b) => {
            let (a, b) = (count_expr(a), count_expr(b));
            let method = match op {
                CountOp::Mul => "saturating_mul",
                CountOp::Add => "saturating_add",
                CountOp::Sub => "saturating_sub",
            };
            let method = Ident::new(method, Span::call_site());
            quote!((#a).#method(#b))
        }
        Count::Slice(_) | Count::Unknown => count_expr(&count.inline_part()),
    }
}

/// `tokens` located at the call they are an argument of (resolving as before): where rustc
/// refuses an argument the macro wrote (a tangent the callee's `wrt(..)` does not take), it points
/// at the call.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(g.span().located_at(span));
                t = TokenTree::Group(group);
            } else {
                t.set_span(t.span().located_at(span));
            }
            t
        })
        .collect()
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

/// A float literal as the user wrote it, with the suffix of the type it was given
/// (`let c: f64 = 0.5;`) when it has none, so it keeps that type wherever it is written.
fn typed_literal(tokens: &TokenStream, ty: Ty) -> TokenStream {
    let Some(t) = ty.float() else {
        return tokens.clone();
    };
    let text = tokens.to_string();
    if text.ends_with("f32") || text.ends_with("f64") {
        return tokens.clone();
    }
    let digits = if text.contains(['.', 'e', 'E']) && !text.ends_with('.') {
        text
    } else {
        format!("{}.0", text.trim_end_matches('.'))
    };
    match syn::parse_str::<syn::LitFloat>(&format!("{digits}_{}", t.name())) {
        Ok(lit) => {
            let mut lit = lit.token();
            if let Some(span) = tokens.clone().into_iter().next().map(|t| t.span()) {
                lit.set_span(span);
            }
            lit.into_token_stream()
        }
        Err(_) => tokens.clone(),
    }
}

fn float_literal(v: f64) -> Code {
    signed(v.is_sign_negative(), Literal::f64_unsuffixed(v.abs()))
}

/// An `f32` constant, with the shortest spelling of the `f32` (no excess digits).
fn float32_literal(v: f32) -> Code {
    signed(v.is_sign_negative(), Literal::f32_unsuffixed(v.abs()))
}

fn signed(negative: bool, lit: Literal) -> Code {
    if negative {
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

/// What generated functions share: the signature pieces of the user's function, from the
/// graph's [`crate::graph::Signature`].
/// `::<T>` to name a function by its type parameters: lifetimes are left to inference (a late
/// bound one cannot be given explicitly).
pub(crate) fn type_turbofish(generics: &syn::Generics) -> TokenStream {
    let args: Vec<&Ident> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(&t.ident),
            syn::GenericParam::Const(c) => Some(&c.ident),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    if args.is_empty() {
        TokenStream::new()
    } else {
        quote!(::<#(#args),*>)
    }
}

struct Signature<'a> {
    sig: &'a crate::graph::Signature,
    output: TokenStream,
}

impl<'a> Signature<'a> {
    fn new(graph: &'a Graph) -> Self {
        let sig = &graph.sig;
        let output = match &sig.output {
            ReturnType::Type(_, ty) => ty.to_token_stream(),
            ReturnType::Default => quote!(f64),
        };
        Signature { sig, output }
    }

    /// `#[cfg]`, `#[allow]` and `#[inline]` apply to generated functions as to the original.
    fn attrs(&self) -> impl Iterator<Item = &syn::Attribute> {
        self.sig.attrs.iter()
    }

    /// The function's generic parameters and `where` clause, which generated functions repeat.
    fn generics(&self) -> (TokenStream, TokenStream) {
        let (generics, _, where_clause) = self.sig.generics.split_for_impl();
        (generics.to_token_stream(), where_clause.to_token_stream())
    }

    fn ident(&self) -> &Ident {
        &self.sig.ident
    }

    fn vis(&self) -> &syn::Visibility {
        &self.sig.vis
    }

    fn name(&self, suffix: &str) -> Ident {
        format_ident!("{}_{}", self.sig.ident, suffix)
    }

    /// How docs link to the original: `f`, or `Self::f` for a method.
    fn link(&self, graph: &Graph) -> String {
        if graph.receiver.is_some() || graph.associated {
            format!("Self::{}", self.sig.ident)
        } else {
            self.sig.ident.to_string()
        }
    }

    /// `let _ = f;`: a generated function uses the original, so that a crate which only calls
    /// `f_grad` gets no "function `f` is never used" warning.
    fn use_original(&self, graph: &Graph) -> TokenStream {
        let f = &self.sig.ident;
        let turbofish = type_turbofish(&self.sig.generics);
        if graph.receiver.is_some() || graph.associated {
            quote!(let _ = Self::#f #turbofish;)
        } else {
            // Possibly an associated function: `f` may not name it (see `expand`).
            TokenStream::new()
        }
    }

    /// How a generated function calls another one generated beside it: `self.f_hvp` in a
    /// method, `Self::f_hvp` in an associated function, `f_hvp` otherwise.
    pub(crate) fn sibling(graph: &Graph, name: &Ident) -> TokenStream {
        match graph.receiver {
            Some(_) => quote!(self.#name),
            None if graph.associated => quote!(Self::#name),
            None => quote!(#name),
        }
    }

    /// `&self, ` for a method.
    fn receiver(graph: &Graph) -> TokenStream {
        match &graph.receiver {
            Some(r) => quote!(#r,),
            None => TokenStream::new(),
        }
    }

    fn call(&self, graph: &Graph) -> String {
        let params: Vec<&str> = graph.params.iter().map(|p| p.name.as_str()).collect();
        format!("{}({})", self.sig.ident, params.join(", "))
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

/// The names of a generated function's inputs, given first so that they keep the user's names.
struct Inputs {
    namer: Namer,
    /// Scalar parameters and tangent inputs, by node.
    nodes: Vec<(NodeId, Ident)>,
    /// Array and slice parameters, and the buffers or tangents that go with them, by variable.
    vars: Vec<(VarId, Ident)>,
}

impl Inputs {
    fn new(graph: &Graph) -> Self {
        let mut namer = Namer::default();
        let mut nodes = Vec::new();
        let mut vars = Vec::new();
        for p in &graph.params {
            let ident = namer.fresh(&p.name);
            match p.var {
                Some(v) => vars.push((v, ident)),
                None => nodes.push((p.node, ident)),
            }
        }
        Inputs { namer, nodes, vars }
    }

    fn param(&self, graph: &Graph, i: usize) -> &Ident {
        let p = &graph.params[i];
        match p.var {
            Some(v) => self.var(v).expect("array parameters are named"),
            None => {
                &self
                    .nodes
                    .iter()
                    .find(|(n, _)| *n == p.node)
                    .expect("named")
                    .1
            }
        }
    }

    fn var(&self, v: VarId) -> Option<&Ident> {
        self.vars.iter().find(|(w, _)| *w == v).map(|(_, i)| i)
    }
}

/// Whether a `mut` array parameter is written to, so the generated function keeps its `mut`.
fn stored_param(graph: &Graph, p: &crate::graph::Param) -> bool {
    p.mutable && p.var.is_some_and(|v| graph.body.stores(v))
}

/// The element type of an array or slice parameter (the type of a scalar one) as written:
/// `f64`, `f32`, or the float type parameter `T` of a generic function.
fn element_type(p: &crate::graph::Param) -> TokenStream {
    fn elem(ty: &syn::Type) -> Option<&syn::Type> {
        match ty {
            syn::Type::Array(a) => Some(&a.elem),
            syn::Type::Slice(s) => Some(&s.elem),
            syn::Type::Reference(r) => elem(&r.elem),
            syn::Type::Paren(p) => elem(&p.elem),
            _ => None,
        }
    }
    match syn::parse2::<syn::Type>(p.ty_tokens.clone()) {
        // `&f64`: the float it refers to.
        Ok(syn::Type::Reference(r)) if p.by_ref => r.elem.to_token_stream(),
        Ok(ty) => elem(&ty).map_or_else(|| ty.to_token_stream(), ToTokens::to_token_stream),
        Err(_) => format_ident!("{}", p.float.unwrap_or(FloatTy::F64).name()).to_token_stream(),
    }
}

/// `0.0` in the function's float type: spelled through `T` in a generic function.
fn zero_of(graph: &Graph) -> TokenStream {
    match &graph.generic {
        Some(t) => quote!(::autodiff::cast::<#t, f64>(0.0)),
        None => quote!(0.0),
    }
}

/// Whether a value is built from unsuffixed literals alone (`if c { 2.0 } else { 1.0 }`,
/// `-1.5`), so that Rust cannot tell its float type and a method call on it does not compile.
fn literal_only(graph: &Graph, id: NodeId) -> bool {
    let mut work = vec![id];
    while let Some(n) = work.pop() {
        let node = graph.node(n);
        match &node.op {
            Op::Lit(LitValue::Float(_), None) => {}
            Op::Select => work.extend(&node.args[1..]),
            Op::Prim(Prim::Add | Prim::Sub | Prim::Mul | Prim::Div | Prim::Neg) => {
                work.extend(&node.args);
            }
            _ => return false,
        }
    }
    true
}

/// Which values Rust cannot tell the float type of where they are computed, so that a method
/// called on one does not compile (E0689): unsuffixed literals, values built from them alone, and
/// values read from a variable (or popped from a tape) that starts as one, as `m` in
/// `let mut m = 0.0; for .. { m = f64::max(m, x); }`. Those are the values a method is printed
/// on by path. Others are typed: parameters, suffixed literals, casts, calls, method results,
/// and arithmetic with at least one typed operand (Rust unifies the operands of `+`).
fn untyped(graph: &Graph) -> Vec<bool> {
    // What may set each variable before it is read: its declarations, and pushes on a tape.
    fn sources(block: &Block, decls: &mut [Vec<Option<NodeId>>], pushes: &mut [Vec<NodeId>]) {
        for stmt in &block.0 {
            match stmt {
                Stmt::Declare(v, init) => decls[v.0].push(*init),
                Stmt::Push(v, n) => pushes[v.0].push(*n),
                Stmt::If {
                    then, otherwise, ..
                } => {
                    sources(then, decls, pushes);
                    sources(otherwise, decls, pushes);
                }
                Stmt::For(Loop { body, .. }) => sources(body, decls, pushes),
                Stmt::While { cond, body, .. } => {
                    sources(cond, decls, pushes);
                    sources(body, decls, pushes);
                }
                _ => {}
            }
        }
    }
    let mut decls = vec![Vec::new(); graph.vars.len()];
    let mut pushes = vec![Vec::new(); graph.vars.len()];
    sources(&graph.body, &mut decls, &mut pushes);
    // The least set of typed values and variables: grown until nothing changes.
    let mut typed = vec![false; graph.nodes.len()];
    let mut typed_var = vec![false; graph.vars.len()];
    loop {
        let mut changed = false;
        for (v, var) in graph.vars.iter().enumerate() {
            if typed_var[v] {
                continue;
            }
            let now = if var.param.is_some() {
                true
            } else if matches!(var.shape, Shape::Tape(_)) {
                pushes[v].iter().any(|n| typed[n.0])
            } else if decls[v].is_empty() {
                // Declared outside what this graph prints: as before, by its method form.
                true
            } else {
                decls[v].iter().all(|init| match init {
                    // A buffer of a float type is declared with it.
                    Some(n) if matches!(var.shape, Shape::Buffer(_)) => {
                        typed[n.0]
                            || (var.ty.float().is_some() && matches!(graph.node(*n).op, Op::Vec))
                    }
                    Some(n) => typed[n.0],
                    // `let r: f64;`, for a float scalar.
                    None => var.ty.float().is_some() && matches!(var.shape, Shape::Scalar),
                })
            };
            if now {
                typed_var[v] = true;
                changed = true;
            }
        }
        for (i, node) in graph.nodes.iter().enumerate() {
            if typed[i] {
                continue;
            }
            let arg = |k: usize| node.args.get(k).is_some_and(|a| typed[a.0]);
            let now = match &node.op {
                Op::Lit(LitValue::Float(_), None) => false,
                Op::Lit(LitValue::Float(_), Some(_)) => node.ty.float().is_some(),
                Op::Prim(p) => match p.syntax() {
                    Syntax::Method => true,
                    _ => node.args.iter().any(|a| typed[a.0]),
                },
                Op::Select => arg(1) || arg(2),
                Op::Fill(_) | Op::Vec | Op::Resized => arg(0),
                Op::Read(v) | Op::Load(v) | Op::Pop(v) => typed_var[v.0],
                _ => true,
            };
            if now {
                typed[i] = true;
                changed = true;
            }
        }
        if !changed {
            return typed.into_iter().map(|t| !t).collect();
        }
    }
}

/// The gradient type of a parameter: itself for scalars and arrays, `Vec` for a slice.
fn gradient_type(p: &crate::graph::Param) -> TokenStream {
    let float = element_type(p);
    match &p.shape {
        // A struct's gradient is a struct, by value.
        Shape::Scalar if p.fields() => match syn::parse2::<syn::Type>(p.ty_tokens.clone()) {
            Ok(syn::Type::Reference(r)) => r.elem.to_token_stream(),
            _ => p.ty_tokens.clone(),
        },
        Shape::Scalar if p.by_ref => float,
        Shape::Scalar => p.ty_tokens.clone(),
        Shape::Array { len, .. } => quote!([#float; #len]),
        Shape::Slice | Shape::Tape(_) | Shape::Buffer(_) => quote!(::std::vec::Vec<#float>),
    }
}

/// `f_grad`, and `f_grad_into` when the function takes slices: the value and the gradient, by
/// one forward and one backward sweep.
#[cfg(test)]
pub fn reverse_fn(adjoint: &Adjoint) -> TokenStream {
    reverse_fn_dual(adjoint, None)
}

/// [`reverse_fn`], with `fused` (from [`crate::reverse::reverse_assuming`]) the code to run
/// instead when the callees it assumes overwrite their buffers: `if g_overwrites() && … {
/// fused } else { adjoint }`, a condition of constants that folds away.
pub fn reverse_fn_dual(adjoint: &Adjoint, fused: Option<&Adjoint>) -> TokenStream {
    reverse_fn_as(adjoint, fused, out_params::Form::Vjp)
}

/// For a function with out-parameters, the hidden `f_adjoint_into` that callers' backward code
/// calls: [`reverse_fn_dual`]'s code without the stores into the out-parameters where
/// [`crate::reverse::discard::adjoint_only`] can remove them, else a call of `f_vjp_into`.
pub fn adjoint_into_fn(adjoint: &Adjoint, fused: Option<&Adjoint>) -> TokenStream {
    use crate::reverse::discard::adjoint_only;
    let only = adjoint_only(adjoint);
    let fused_only = fused.map(adjoint_only);
    match (only, fused_only) {
        (Some(a), None) => reverse_fn_as(&a, None, out_params::Form::AdjointOnly),
        (Some(a), Some(Some(f))) => reverse_fn_as(&a, Some(&f), out_params::Form::AdjointOnly),
        _ => reverse_fn_as(adjoint, fused, out_params::Form::AdjointByVjp),
    }
}

fn reverse_fn_as(
    adjoint: &Adjoint,
    fused: Option<&Adjoint>,
    form: out_params::Form,
) -> TokenStream {
    let graph = &adjoint.graph;
    let sig = Signature::new(graph);
    let (generics, where_clause) = sig.generics();
    let receiver = Signature::receiver(graph);
    let use_original = sig.use_original(graph);
    let active = active_params(graph);
    // A function with out-parameters gets `f_vjp_into` only: the seeds of its outputs are
    // buffers of the caller's.
    let outs = graph.params.iter().any(crate::graph::Param::out);
    let unit = graph.sig.returns_unit();
    let has_slices = outs || active.iter().any(|(_, p)| matches!(p.shape, Shape::Slice));
    let (inputs, seed, prelude, body) = laid_out(adjoint);
    let body = match fused {
        Some(fused) => {
            let (.., fused_body) = laid_out(fused);
            let cond = fused.assumed.iter().map(|callee| {
                let prefix = if callee.prefix.to_string() == quote!(self.).to_string() {
                    quote!(Self::)
                } else {
                    callee.prefix.clone()
                };
                let name = format_ident!("{}_overwrites", callee.name, span = callee.name.span());
                quote!(#prefix #name())
            });
            quote! {
                if #(#cond)&&* {
                    #fused_body
                } else {
                    #body
                }
            }
        }
        None => body,
    };
    let notes = dual_notes(adjoint, fused);
    let self_ty = adjoint.self_gradient.map(|_| quote!(Self,));

    let vis = sig.vis();
    let output = &sig.output;
    let items = &graph.items;
    let entries: Vec<String> = std::iter::once(sig.call(graph))
        .chain(
            adjoint
                .self_gradient
                .map(|_| format!("∂{}/∂self", sig.ident())),
        )
        .chain(
            active
                .iter()
                .map(|(_, p)| format!("∂{}/∂{}", sig.ident(), p.name)),
        )
        .collect();
    let attrs: Vec<_> = sig.attrs().collect();
    let name = sig.name("grad");
    let params = graph.params.iter().enumerate().map(|(i, p)| {
        let ident = inputs.param(graph, i);
        let ty = &p.ty_tokens;
        let mutability = stored_param(graph, p).then(|| quote!(mut));
        quote!(#mutability #ident: #ty)
    });
    let params: Vec<TokenStream> = params.collect();
    if !has_slices {
        let grad_tys = active.iter().map(|(_, p)| gradient_type(p));
        let mut doc = vec![
            format!(
                "The value of [`{}`] and its gradient, by reverse-mode automatic differentiation:",
                sig.link(graph)
            ),
            format!("returns `({})`.", entries.join(", ")),
        ];
        doc.extend(notes);
        let doc = doc_lines(&doc);
        return quote! {
            #(#doc)*
            #(#attrs)*
            #[must_use]
            #vis fn #name #generics(#receiver #(#params),*) -> (#output, #self_ty #(#grad_tys,)*) #where_clause {
                #use_original
                #(#items)*
                #(#prelude)*
                #body
            }
        };
    }

    if outs {
        let parts = out_params::Parts {
            adjoint,
            inputs: &inputs,
            unit,
            seed: seed.as_ref(),
            body: &body,
            prelude: &prelude,
            form,
        };
        return out_params::vjp_into(&parts);
    }

    // With slices: `f_grad_into` adds into caller buffers; `f_grad` allocates them.
    let into = sig.name("grad_into");
    let into_params = graph.params.iter().enumerate().map(|(i, p)| {
        let ident = inputs.param(graph, i);
        let ty = &p.ty_tokens;
        let mutability = stored_param(graph, p).then(|| quote!(mut));
        match (p.active, &p.shape, adjoint.array_gradients.get(&i)) {
            (true, Shape::Slice, Some(d)) => {
                let d = inputs.var(*d).expect("named above");
                let float = element_type(p);
                quote!(#ident: #ty, #d: &mut [#float])
            }
            _ => quote!(#mutability #ident: #ty),
        }
    });
    let returned: Vec<&(usize, &crate::graph::Param)> = active
        .iter()
        .filter(|(_, p)| !matches!(p.shape, Shape::Slice))
        .collect();
    let into_tys = returned.iter().map(|(_, p)| gradient_type(p));
    let buffers: Vec<String> = active
        .iter()
        .filter(|(_, p)| matches!(p.shape, Shape::Slice))
        .map(|(_, p)| format!("`{}`", names::derivative(&p.name)))
        .collect();
    let into_entries: Vec<String> = std::iter::once(sig.call(graph))
        .chain(
            returned
                .iter()
                .map(|(_, p)| format!("∂{}/∂{}", sig.ident(), p.name)),
        )
        .collect();
    let mut into_doc = vec![
        format!(
            "The value of [`{}`] and its gradient, by reverse-mode automatic differentiation,",
            sig.link(graph)
        ),
        format!(
            "adding the gradient of each slice into the buffer after it ({}), which must have its length;",
            buffers.join(", ")
        ),
        format!("returns `({})`.", into_entries.join(", ")),
        String::new(),
        "# Panics".to_owned(),
        String::new(),
        "If a buffer's length differs from its slice's.".to_owned(),
    ];
    into_doc.extend(notes);
    let into_doc = doc_lines(&into_doc);
    // Checked once up front, by one call that also cuts the buffer to the length of its slice,
    // which tells LLVM that the two lengths are one value, so an index in bounds for `x` needs
    // no check on `d_x`.
    let length_checks: Vec<TokenStream> = graph
        .params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let d = adjoint.array_gradients.get(&i)?;
            if !matches!(p.shape, Shape::Slice) {
                return None;
            }
            let x = inputs.param(graph, i);
            let d = inputs.var(*d).expect("named above");
            let message = format!("`{d}` must have the length of `{x}`");
            Some(quote! {
                let #d = ::autodiff::private::buffer(#d, #x.len(), #message);
            })
        })
        .collect();
    // `f_grad` over `f_grad_into`.
    let mut alloc = Vec::new();
    let mut call_args = Vec::new();
    let mut outer_results = vec![quote!(value)];
    let mut into_results = vec![quote!(value)];
    // The gradients' locals, named apart from the parameters (one may be called `d_x`).
    let mut locals = Namer::default();
    for i in 0..graph.params.len() {
        locals.fresh(&inputs.param(graph, i).to_string());
    }
    locals.fresh("value");
    if adjoint.self_gradient.is_some() {
        let d = format_ident!("d_self", span = Span::mixed_site());
        outer_results.push(quote!(#d));
        into_results.push(quote!(#d));
    }
    for (i, p) in graph.params.iter().enumerate() {
        let ident = inputs.param(graph, i);
        call_args.push(quote!(#ident));
        if !p.active {
            continue;
        }
        let d = locals.fresh(&names::derivative(&p.name));
        if matches!(p.shape, Shape::Slice) {
            let zero = zero_of(graph);
            alloc.push(quote!(let mut #d = ::autodiff::private::zeros(#ident.len(), #zero);));
            call_args.push(quote!(&mut #d));
        } else {
            into_results.push(quote!(#d));
        }
        outer_results.push(quote!(#d));
    }
    let grad_tys = active.iter().map(|(_, p)| gradient_type(p));
    let callee = Signature::sibling(graph, &into);
    let doc = doc_lines(&[
        format!(
            "The value of [`{}`] and its gradient, by reverse-mode automatic differentiation:",
            sig.link(graph)
        ),
        format!("returns `({})`.", entries.join(", ")),
        format!("[`{into}`] fills caller buffers instead of allocating."),
    ]);
    // Each slice brings its buffer: a function of four slices takes eight arguments.
    let arity = graph.params.len()
        + usize::from(graph.receiver.is_some())
        + active
            .iter()
            .filter(|(_, p)| matches!(p.shape, Shape::Slice))
            .count();
    let many = (arity > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    quote! {
        #(#into_doc)*
        #(#attrs)*
        #many
        #vis fn #into #generics(#receiver #(#into_params),*) -> (#output, #self_ty #(#into_tys,)*) #where_clause {
            #use_original
            #(#length_checks)*
            #(#items)*
            #(#prelude)*
            #body
        }

        #(#doc)*
        #(#attrs)*
        #[must_use]
        #vis fn #name #generics(#receiver #(#params),*) -> (#output, #self_ty #(#grad_tys,)*) #where_clause {
            #(#alloc)*
            let (#(#into_results,)*) = #callee(#(#call_args),*);
            (#(#outer_results,)*)
        }
    }
}

/// `f_jvp`: the value and the derivative along the direction given by the tangent inputs.
pub fn forward_fn(tangent: &Tangent) -> TokenStream {
    jvp_fn(tangent, false).expect("a tangent without lanes is always written")
}

/// The hidden `f_jvp_lanes::<L>`, forward mode carrying `L` directions at once, if the tangent
/// code is linear in lanes (see [`lanes`]).
pub fn forward_lanes_fn(tangent: &Tangent) -> Option<TokenStream> {
    jvp_fn(tangent, true)
}

/// `f_jvp`, or with `lanes` the hidden `f_jvp_lanes` whose tangents are lanes (`None` if the
/// tangent code is not linear in lanes; see [`lanes`]).
fn jvp_fn(tangent: &Tangent, lanes: bool) -> Option<TokenStream> {
    let graph = &tangent.graph;
    let lane_ty = lanes.then(|| lanes::lane_type(graph));
    let tangent_ty = |ty: &TokenStream| match &lane_ty {
        Some(lane) => lanes::replace_float(ty, lane),
        None => ty.clone(),
    };
    let sig = Signature::new(graph);
    let (generics, where_clause) = sig.generics();
    let receiver = Signature::receiver(graph);
    let use_original = sig.use_original(graph);
    let mut inputs = Inputs::new(graph);
    let mut params = Vec::new();
    // `wrt(self)`: the tangent of `self` comes first, as `self` does.
    if lanes && graph.receiver.is_some() {
        return None;
    }
    if graph.self_active {
        let d = inputs.namer.fresh("d_self");
        params.push(quote!(#d: &Self));
        inputs
            .nodes
            .push((tangent.self_seed.unwrap_or(NodeId(usize::MAX)), d));
    }
    for (i, p) in graph.params.iter().enumerate() {
        let ident = inputs.param(graph, i).clone();
        let ty = &p.ty_tokens;
        let mutability = stored_param(graph, p).then(|| quote!(mut));
        params.push(quote!(#mutability #ident: #ty));
        if !p.active {
            continue;
        }
        let d = inputs.namer.fresh(&names::derivative(&p.name));
        let d_ty = tangent_ty(ty);
        params.push(quote!(#mutability #d: #d_ty));
        match tangent.seeds.get(&i) {
            Some(Seed::Scalar(n)) => inputs.nodes.push((*n, d)),
            Some(Seed::Array(v)) => inputs.vars.push((*v, d)),
            None => inputs.nodes.push((NodeId(usize::MAX), d)),
        }
    }
    // A tangent input nothing reads is still an input.
    let unread: Vec<TokenStream> = inputs
        .nodes
        .iter()
        .filter(|(n, _)| n.0 == usize::MAX)
        .map(|(_, d)| quote!(let _ = #d;))
        .collect();
    inputs.nodes.retain(|(n, _)| n.0 != usize::MAX);
    // A function that returns nothing has its outputs in out-parameters, whose tangents it
    // writes into the buffers after them.
    let unit = graph.sig.returns_unit();
    let results = if unit {
        Vec::new()
    } else {
        vec![
            (Some(graph.output), "value".to_owned()),
            (tangent.derivative(), "tangent".to_owned()),
        ]
    };
    let mut sweep = Sweep::new(
        graph,
        &tangent.code,
        &inputs.nodes,
        &inputs.vars,
        &results,
        &mut inputs.namer,
    );
    if let Some(lane) = &lane_ty {
        let mut seeds = Vec::new();
        let mut seed_vars = Vec::new();
        for seed in tangent.seeds.values() {
            match seed {
                Seed::Scalar(n) => seeds.push(*n),
                Seed::Array(v) => seed_vars.push(*v),
            }
        }
        sweep.lanes = Some(lanes::analyse(
            &sweep,
            &tangent.code,
            &seeds,
            &seed_vars,
            lane.clone(),
        )?);
    }
    let body = sweep.body(&tangent.code, &inputs.nodes, &results);

    if let Some(lane) = &lane_ty {
        return Some(lanes::function(
            &sig, graph, &params, &unread, &body, lane, unit,
        ));
    }
    let name = sig.name("jvp");
    let vis = sig.vis();
    let attrs = sig.attrs();
    let output = &sig.output;
    let items = &graph.items;
    let direction: Vec<String> = graph
        .params
        .iter()
        .filter(|p| p.active)
        .map(|p| {
            format!(
                "∂{f}/∂{x} · {d}",
                f = sig.ident(),
                x = p.name,
                d = names::derivative(&p.name)
            )
        })
        .collect();
    let sum = if direction.is_empty() {
        "0".to_owned()
    } else {
        direction.join(" + ")
    };
    let mut doc = vec![
        format!(
            "The value of [`{}`] and its derivative along a direction, by forward-mode automatic",
            sig.link(graph)
        ),
        format!("differentiation: returns `({}, {sum})`.", sig.call(graph)),
    ];
    if graph.params.iter().any(crate::graph::Param::out) {
        doc.push(
            "The tangent of each out-parameter is written into the buffer after it.".to_owned(),
        );
    }
    if unit {
        "differentiation: writes the outputs, and their tangents into the buffers after them."
            .clone_into(&mut doc[1]);
    }
    let doc = doc_lines(&doc);
    let many = (params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let (must_use, ret) = if unit {
        (None, TokenStream::new())
    } else {
        (Some(quote!(#[must_use])), quote!(-> (#output, #output)))
    };
    Some(quote! {
        #(#doc)*
        #(#attrs)*
        #many
        #must_use
        #vis fn #name #generics(#receiver #(#params),*) #ret #where_clause {
            #use_original
            #(#items)*
            #(#unread)*
            #body
        }
    })
}

/// The "Loops" section of the documentation: the notes of `adjoint`, and with `fused` the code
/// run when its callees overwrite their buffers, the notes of both where they differ.
fn dual_notes(adjoint: &Adjoint, fused: Option<&Adjoint>) -> Vec<String> {
    let Some(fused) = fused else {
        return loop_notes(&adjoint.fusion_notes);
    };
    let callees: Vec<String> = fused
        .assumed
        .iter()
        .map(|c| format!("`{}_overwrites()`", c.name))
        .collect();
    let when = format!(
        "when {} {} true (each such helper writes every element of its out-parameters before reading any)",
        callees.join(" and "),
        if callees.len() == 1 { "is" } else { "are" }
    );
    // Notes are `- loop N (…): …`, in source order, each list without the loops it has
    // nothing to say about.
    let split = |note: &String| -> (usize, String, String) {
        let (head, text) = note.split_once(": ").unwrap_or((note, ""));
        let ordinal = head
            .trim_start_matches("- loop ")
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        (
            ordinal,
            head.to_owned(),
            text.trim_end_matches('.').to_owned(),
        )
    };
    let mut by_loop: std::collections::BTreeMap<usize, (String, Option<String>, Option<String>)> =
        std::collections::BTreeMap::new();
    for note in &fused.fusion_notes {
        let (ordinal, head, text) = split(note);
        by_loop.entry(ordinal).or_insert((head, None, None)).1 = Some(text);
    }
    for note in &adjoint.fusion_notes {
        let (ordinal, head, text) = split(note);
        by_loop.entry(ordinal).or_insert((head, None, None)).2 = Some(text);
    }
    let nothing = "backward code in a second loop; nothing saved on a tape".to_owned();
    let notes: Vec<String> = by_loop
        .into_values()
        .map(|(head, fused, other)| match (fused, other) {
            (Some(f), Some(o)) if f == o => format!("{head}: {f}."),
            (f, o) => format!(
                "{head}: {when}: {}; otherwise, {}.",
                f.unwrap_or_else(|| nothing.clone()),
                o.unwrap_or_else(|| nothing.clone())
            ),
        })
        .collect();
    loop_notes(&notes)
}

/// The documentation's note on how the backward code of the function's top-level loops runs:
/// which run it inside themselves, and what each saves on a tape.
fn loop_notes(fusion_notes: &[String]) -> Vec<String> {
    if fusion_notes.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        String::new(),
        "# Loops".to_owned(),
        String::new(),
        "How the backward code of the top-level loops runs (numbered in source order):".to_owned(),
        String::new(),
    ];
    lines.extend(fusion_notes.iter().cloned());
    lines
}

/// The active parameters of `graph`, with their places among all the parameters.
fn active_params(graph: &Graph) -> Vec<(usize, &crate::graph::Param)> {
    graph
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.active)
        .collect()
}

/// The body of the gradient function for `adjoint`, with the names of its inputs, its seed's
/// name and the declarations of array gradients that come first.
fn laid_out(adjoint: &Adjoint) -> (Inputs, Option<Ident>, Vec<TokenStream>, TokenStream) {
    let graph = &adjoint.graph;
    let mut inputs = Inputs::new(graph);
    let active = active_params(graph);
    let unit = graph.sig.returns_unit();
    let seed = adjoint.seed.map(|s| {
        let ident = inputs.namer.fresh("seed");
        inputs.nodes.push((s, ident.clone()));
        ident
    });

    // The gradient variables of array and slice parameters: buffers of `f_grad_into`, or
    // arrays declared at the start of `f_grad`.
    let mut prelude = Vec::new();
    for (i, p) in &active {
        let Some(&d) = adjoint.array_gradients.get(i) else {
            continue;
        };
        let ident = inputs.namer.fresh(&names::derivative(&p.name));
        inputs.vars.push((d, ident.clone()));
        if let Shape::Array { len, .. } = &p.shape {
            let zero = zero_of(graph);
            prelude.push(quote!(let mut #ident = [#zero; #len];));
        }
    }
    let mut results = vec![(Some(graph.output), "value".to_owned())];
    if unit {
        results.clear();
    }
    // `wrt(self)`: the gradient entry of `self` comes first, as `self` does.
    if let Some(g) = adjoint.self_gradient {
        results.push((Some(g), "d_self".to_owned()));
    }
    let gradients = adjoint.gradients();
    let mut scalar_grads = gradients.iter();
    for (i, p) in &active {
        match p.shape {
            Shape::Scalar => {
                let g = *scalar_grads.next().expect("one gradient per scalar");
                results.push((g, names::derivative(&p.name)));
            }
            Shape::Array { .. } => {
                let d = adjoint.array_gradients[i];
                results.push((adjoint.reads.get(&d).copied(), names::derivative(&p.name)));
            }
            Shape::Slice | Shape::Tape(_) | Shape::Buffer(_) => {}
        }
    }
    let sweep = Sweep::new(
        graph,
        &adjoint.code,
        &inputs.nodes,
        &inputs.vars,
        &results,
        &mut inputs.namer,
    );
    let body = sweep.body(&adjoint.code, &inputs.nodes, &results);
    (inputs, seed, prelude, body)
}

/// A call of a function with several outputs (see [`crate::outputs::calls`]), given its
/// arguments as printed for a call into a buffer (`&x[..]` for an array, `&mut out[..]` for the
/// buffer): `g` called with its floats written into the buffer, or the derivative the suffix
/// names, `g_vjp` (`vjp_into`) or `g_jvp` (`jvp`), through the runtime's adapters, which pass an
/// array as the type the callee takes and flatten and unflatten outputs and seeds.
fn several(
    invoke: &crate::graph::Invoke,
    prefix: &TokenStream,
    args: &[TokenStream],
    lens: &[Option<TokenStream>],
    span: Span,
) -> TokenStream {
    use crate::graph::Pass;
    // The buffer at `k`'s length, a const generic argument.
    let len = |k: usize| {
        let len = lens[k]
            .as_ref()
            .expect("the buffer of a call with several outputs is an array");
        if len.clone().into_iter().count() == 1 {
            len.clone()
        } else {
            quote!({ #len })
        }
    };
    let g = &invoke.callee.name;
    let private = quote_spanned!(span=> ::autodiff::private);
    let as_param = |a: &TokenStream| quote_spanned!(span=> #private::arg(#a));
    let (modes, floats) = (&invoke.modes, &invoke.callee.floats);
    let mut call = Vec::new();
    let mut i = 0;
    match invoke.suffix {
        "vjp_into" => {
            // Each argument with an entry in `g_vjp`'s result: floats returned to the caller,
            // arrays' added into their adjoint buffers.
            let (mut entries, mut returned, mut adds, mut seed) =
                (Vec::new(), Vec::new(), Vec::new(), None);
            for &float in floats {
                let entry = format_ident!("entry{}_", entries.len(), span = span);
                match modes[i] {
                    Pass::Value => {
                        call.push(args[i].clone());
                        if float {
                            entries.push(entry.clone());
                            returned.push(entry);
                        }
                        i += 1;
                    }
                    Pass::Ref => {
                        call.push(as_param(&args[i]));
                        let adjoint = &args[i + 1];
                        adds.push(quote_spanned!(span=> #private::add_into(#adjoint, #entry);));
                        entries.push(entry);
                        i += 2;
                    }
                    Pass::Mut => {
                        let (adjoint, len) = (&args[i], len(i));
                        seed = Some(
                            quote_spanned!(span=> #private::take_seed::<#len, _, _>(#adjoint)),
                        );
                        i += 1;
                    }
                }
            }
            let name = format_ident!("{}_vjp", g, span = g.span());
            let tail = (!returned.is_empty()).then(|| quote!((#(#returned,)*)));
            // One entry per float and array argument, checked where the call is (a callee
            // whose `wrt` leaves one out has fewer).
            let mut result = quote_spanned!(span=> #prefix #name(#(#call,)* #seed));
            if entries.len() <= 11 {
                let n = Literal::usize_unsuffixed(entries.len());
                result = quote_spanned!(g.span()=> ::autodiff::private::checked_entries::<#n, _>(#result));
            }
            quote_spanned! {span=> {
                let (_, #(#entries,)*) = #result;
                #(#adds)*
                #tail
            }}
        }
        "hvp_into" => {
            // As `vjp_into` through `g_hvp`, each argument followed by its tangent and each
            // adjoint by its tangent's buffer; the result's tangent part follows its `g_vjp` part.
            let (mut entries, mut hv_entries, mut returned, mut hv_returned, mut adds) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut seeds = Vec::new();
            for &float in floats {
                let entry = format_ident!("entry{}_", entries.len(), span = span);
                let hv_entry = format_ident!("hv_entry{}_", entries.len(), span = span);
                match modes[i] {
                    Pass::Value => {
                        if float {
                            call.extend(args[i..i + 2].iter().cloned());
                            entries.push(entry.clone());
                            hv_entries.push(hv_entry.clone());
                            returned.push(entry);
                            hv_returned.push(hv_entry);
                            i += 2;
                        } else {
                            call.push(args[i].clone());
                            i += 1;
                        }
                    }
                    Pass::Ref => {
                        call.extend(args[i..i + 2].iter().map(as_param));
                        let (adjoint, hv) = (&args[i + 2], &args[i + 3]);
                        adds.push(quote_spanned!(span=> #private::add_into(#adjoint, #entry);));
                        adds.push(quote_spanned!(span=> #private::add_into(#hv, #hv_entry);));
                        entries.push(entry);
                        hv_entries.push(hv_entry);
                        i += 4;
                    }
                    Pass::Mut => {
                        let len = len(i);
                        for adjoint in &args[i..i + 2] {
                            seeds.push(
                                quote_spanned!(span=> #private::take_seed::<#len, _, _>(#adjoint)),
                            );
                        }
                        i += 2;
                    }
                }
            }
            let name = format_ident!("{}_hvp", g, span = g.span());
            let tail = (!returned.is_empty()).then(|| quote!((#(#returned,)* #(#hv_returned,)*)));
            quote_spanned! {span=> {
                let (_, #(#entries,)* _, #(#hv_entries,)*) = #prefix #name(#(#call,)* #(#seeds,)*);
                #(#adds)*
                #tail
            }}
        }
        "jvp" | "hvp_forward" => {
            // The output and its tangent: from `g_jvp`, or under second order from `g_hvp` with
            // a zero seed, its gradient entries (one per float or array argument) skipped.
            let mut out = Vec::new();
            let mut skipped = Vec::new();
            for &float in floats {
                match modes[i] {
                    Pass::Value => {
                        let n = if float { 2 } else { 1 };
                        call.extend(args[i..i + n].iter().cloned());
                        if float {
                            skipped.push(quote!(_));
                        }
                        i += n;
                    }
                    Pass::Ref => {
                        call.extend(args[i..i + 2].iter().map(as_param));
                        skipped.push(quote!(_));
                        i += 2;
                    }
                    Pass::Mut => {
                        out.extend(args[i..i + 2].iter().cloned());
                        out.push(len(i));
                        i += 2;
                    }
                }
            }
            let (value, tangent, len) = (&out[0], &out[1], &out[2]);
            let result = if invoke.suffix == "jvp" {
                let name = format_ident!("{}_jvp", g, span = g.span());
                quote_spanned!(span=> let (output_, tangent_) = #prefix #name(#(#call,)*);)
            } else {
                let name = format_ident!("{}_hvp", g, span = g.span());
                quote_spanned! {span=>
                    let (output_, #(#skipped,)* tangent_, ..) = #prefix #name(
                        #(#call,)*
                        #private::zero_seed::<#len, _, _>(),
                        #private::zero_seed::<#len, _, _>(),
                    );
                }
            };
            quote_spanned! {span=> {
                #result
                #private::flatten_into_m::<#len, _, _>(&output_, #value);
                #private::flatten_into_m::<#len, _, _>(&tangent_, #tangent);
            }}
        }
        _ => {
            let mut out = None;
            for (k, (a, mode)) in args.iter().zip(modes).enumerate() {
                match mode {
                    Pass::Value => call.push(a.clone()),
                    Pass::Ref => call.push(as_param(a)),
                    Pass::Mut => out = Some((a, len(k))),
                }
            }
            let (out, len) = out.expect("a call with several outputs writes a buffer");
            quote_spanned!(span=> #private::flatten_into_m::<#len, _, _>(&#prefix #g(#(#call,)*), #out))
        }
    }
}
