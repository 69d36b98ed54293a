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

use crate::hash::{HashMap, HashSet};
use std::rc::Rc;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    BinOp, Block, Expr, FnArg, Ident, Item, ItemFn, Lit, Local, Pat, ReturnType, Stmt, Type, UnOp,
};

use crate::expand::context::ParamKind;
use crate::graph::{
    self, CastTo, CmpOp, FloatTy, Graph, LitValue, Node, NodeId, Op, Param, Shape, Ty, Var, VarId,
};
use crate::names;
use crate::options::Options;
use crate::prim::{Prim, Syntax};

mod buffer;
mod call_into;
mod chains;
mod fields;
mod generic;
mod iter;
mod patterns;

use iter::View;

/// How deeply expressions may nest before lowering gives up with an error rather than risk
/// exhausting the compiler's stack. A chain of binary operators, `a + b + c + ..`, is one level
/// however long it is: only its operands are a level deeper. Every group of brackets, braces or
/// parentheses is at least one level, so for nesting in groups the binding limit is the group
/// limit checked before parsing (`expand`), which `syn`'s recursive parser needs; rustc 1.95
/// itself overflows its 8 MiB stack at about 1,100 nested parentheses and 850 right-nested
/// products `x * (x * (..))`.
pub(crate) const MAX_DEPTH: usize = 256;

/// The longest `else if` chain: each link nests one level, and a chain meets this limit before
/// the nesting limit unless it is itself nested deeply.
const MAX_CHAIN: usize = 200;

/// Both limits on a thread with a stack of its own (`expand::differentiate_at_any_depth`), where a
/// function that meets the others is expanded again: deeper than rustc itself compiles.
const DEEP_MAX_DEPTH: usize = 2048;

thread_local! {
    /// Whether this thread has the large stack of `DEEP_MAX_DEPTH`.
    static DEEP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether a limit of nesting has refused something since it was last asked.
    static LIMIT_MET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether the function being expanded is written in an `impl` block or a `trait`, as its
    /// source file says (`expand::context`).
    static IN_IMPL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether the function being expanded names `Self` in its signature or body, read from
    /// its tokens once by the driver ([`set_names_self`]); `None` outside an expansion.
    static NAMES_SELF: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    /// The functions differentiated in the same block as the one being expanded that have
    /// `g_grad_into`, with their parameters, as its source file says (`expand::context`).
    static SIBLINGS: std::cell::RefCell<HashMap<String, Vec<ParamKind>>> =
        std::cell::RefCell::new(HashMap::default());
}

/// How deeply expressions may nest on this thread.
pub(crate) fn max_depth() -> usize {
    if DEEP.get() {
        DEEP_MAX_DEPTH
    } else {
        MAX_DEPTH
    }
}

/// The longest `else if` chain or `match` on this thread.
pub(super) fn max_chain() -> usize {
    if DEEP.get() {
        DEEP_MAX_DEPTH
    } else {
        MAX_CHAIN
    }
}

/// Gives this thread the limits of a large stack.
pub(crate) fn set_deep() {
    DEEP.set(true);
}

/// Records what the source file says of the function being expanded: whether it is written in
/// an `impl` block or a `trait`, its siblings with `g_grad_into`, and the `impl` block's type
/// parameter bounded by `Float`.
pub(crate) fn set_context(
    in_impl: bool,
    siblings: HashMap<String, Vec<ParamKind>>,
    impl_float: Option<String>,
) {
    IN_IMPL.set(in_impl);
    SIBLINGS.set(siblings);
    generic::set_impl_float(impl_float);
}

/// Records that a limit of nesting refused something.
pub(crate) fn met_limit() {
    LIMIT_MET.set(true);
}

/// Whether a limit of nesting refused something since the last call.
pub(crate) fn take_limit_met() -> bool {
    LIMIT_MET.replace(false)
}

/// Errors collected across a stage, reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>, usize);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        self.1 += 1;
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// How many errors have been reported so far, with the uses of names whose value was an
    /// error: what is computed from them is not reported again.
    pub fn count(&self) -> usize {
        self.1
    }

    /// Notes a use of a name whose value was reported as an error.
    fn follow_on(&mut self) {
        self.1 += 1;
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// An operand of shared integer arithmetic: `i + 1` written twice is the same sum.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum OperandKey {
    Literal(i128),
    Node(NodeId),
}

/// Drops a function without recursion along the chains of binary operators in its body.
/// The float type parameter `function` is generic over, if any: bounded by `Float` in its own
/// generics, or, for a method of a generic `impl<T: Float>`, that `T`.
pub fn float_param(sig: &syn::Signature) -> Option<Ident> {
    generic::float_param(&sig.generics).or_else(|| generic::impl_float_param(sig))
}

pub fn dispose(item: ItemFn) {
    chains::dispose(*item.block);
}

pub fn lower(item: &ItemFn, options: &Options) -> syn::Result<Graph> {
    let mut cx = Lowerer {
        nodes: Vec::new(),
        vars: Vec::new(),
        blocks: vec![graph::Block::default()],
        known: HashMap::default(),
        loads: HashMap::default(),
        indices: HashMap::default(),
        scopes: Scopes::new(),
        items: Vec::new(),
        checks: Vec::new(),
        errors: Errors::default(),
        depth: 0,
        chain: 0,
        overflowed: false,
        loops: Vec::new(),
        ret: None,
        exit_target: None,
        aliases: Vec::new(),
        counters: 0,
        receiver: None,
        construct_names: HashMap::default(),
        tail_assigned: HashSet::default(),
        out_params: Vec::new(),
        structs: fields::Structs::default(),
        generic: None,
        float_ty: None,
        tails: Vec::new(),
        closures: Vec::new(),
        projections: HashMap::default(),
        const_arrays: HashMap::default(),
        tuples: Vec::new(),
        nested_params: HashMap::default(),
        nested_locals: HashMap::default(),
        ref_params: Vec::new(),
    };
    let output_ty = cx.signature(item);
    cx.float_ty = output_ty;
    let params = cx.params(item, options);
    cx.register_structs(&params);
    let output = cx.body(&item.block, output_ty.is_some());
    generic::set_float_param(None);
    cx.check_struct_uses(&params);
    cx.errors.finish()?;
    let body = cx.blocks.pop().expect("the body block");
    let mut sig = graph::Signature::of(item);
    lint_levels(chains::block(&item.block), &mut sig.attrs);
    let mut graph = Graph {
        sig,
        nodes: cx.nodes,
        vars: cx.vars,
        params,
        body,
        items: cx.items,
        checks: cx.checks,
        output,
        output_ty: output_ty.unwrap_or(FloatTy::F64),
        associated: cx.receiver.is_none() && associated(item),
        receiver: cx.receiver,
        self_active: cx.structs.self_active,
        fields: cx.structs.leaves,
        generic: cx.generic,
        aliases: cx.aliases,
        returned: cx.ret.and_then(|r| r.value),
    };
    // Reads of a variable made before its type was settled take its final type.
    for i in 0..graph.nodes.len() {
        if let Op::Read(v) | Op::Load(v) = graph.nodes[i].op
            && graph.nodes[i].ty == Ty::Float(None)
        {
            graph.nodes[i].ty = graph.vars[v.0].ty;
        }
    }
    type_literal_ranges(&mut graph);
    crate::activity::analyse(&mut graph);
    Ok(graph)
}

/// The lint levels that the body's statements and expressions set, `#[allow(..)]` and
/// `#[expect(..)]` (inner attributes too), as `allow`s: the generated functions carry the
/// statements' code without their attributes, so they carry these instead, and an `expect` there
/// could go unfulfilled. Token trees nest only as deep as brackets do, which `expand` bounds.
#[inline(never)]
fn lint_levels(tokens: TokenStream, out: &mut Vec<syn::Attribute>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in tokens.iter().enumerate() {
        let TokenTree::Group(g) = t else { continue };
        let after_pound = match i.checked_sub(1).map(|k| &tokens[k]) {
            Some(TokenTree::Punct(p)) if p.as_char() == '#' => true,
            Some(TokenTree::Punct(p)) if p.as_char() == '!' => {
                matches!(i.checked_sub(2).map(|k| &tokens[k]), Some(TokenTree::Punct(p)) if p.as_char() == '#')
            }
            _ => false,
        };
        if after_pound && g.delimiter() == proc_macro2::Delimiter::Bracket {
            let mut inner = g.stream().into_iter();
            if let (Some(TokenTree::Ident(level)), Some(TokenTree::Group(lints)), None) =
                (inner.next(), inner.next(), inner.next())
                && (level == "allow" || level == "expect")
                && lints.delimiter() == proc_macro2::Delimiter::Parenthesis
            {
                let lints = lints.stream();
                let attr: syn::Attribute = syn::parse_quote!(#[allow(#lints)]);
                let text = attr.to_token_stream().to_string();
                if !out.iter().any(|a| a.to_token_stream().to_string() == text) {
                    out.push(attr);
                }
            }
        } else {
            lint_levels(g.stream(), out);
        }
    }
}

/// `for i in 0..3` whose counter indexes an array has its end written `3usize`, the type the
/// user's code infers from the indexing: the derivative code may call an integer method on the
/// counter (`i.abs_diff(1)`) where no indexing has come before it to tell rustc its type.
fn type_literal_ranges(graph: &mut Graph) {
    let mut indices = Vec::new();
    let mut loops = Vec::new();
    graph.body.for_each_stmt(|s| match s {
        graph::Stmt::Store { index, .. } => indices.push(*index),
        graph::Stmt::For(l) => loops.push((l.counter, l.start, l.end)),
        _ => {}
    });
    for node in &graph.nodes {
        match node.op {
            Op::Load(_) | Op::Part(_) => indices.extend(&node.args),
            _ => {}
        }
    }
    // The counters an index is computed from, through integer arithmetic.
    let mut indexing = HashSet::default();
    let mut seen = HashSet::default();
    while let Some(n) = indices.pop() {
        if !seen.insert(n) {
            continue;
        }
        match graph.nodes[n.0].op {
            Op::Counter(c) => {
                indexing.insert(c);
            }
            Op::Prim(_) if graph.nodes[n.0].ty == Ty::Int => indices.extend(&graph.nodes[n.0].args),
            _ => {}
        }
    }
    let unsuffixed = |nodes: &[Node], n: NodeId| {
        matches!(&nodes[n.0].op, Op::Lit(LitValue::Int(_), Some(t))
            if syn::parse2::<syn::LitInt>(t.clone()).is_ok_and(|l| l.suffix().is_empty()))
    };
    for (counter, start, end) in loops {
        if indexing.contains(&counter)
            && unsuffixed(&graph.nodes, start)
            && unsuffixed(&graph.nodes, end)
            && let Op::Lit(LitValue::Int(v), tokens) = &mut graph.nodes[end.0].op
        {
            let literal = syn::LitInt::new(&format!("{v}usize"), Span::call_site());
            *tokens = Some(literal.to_token_stream());
        }
    }
}

/// What a name refers to.
#[derive(Clone, Copy)]
enum Bound {
    /// An immutable value, or a mutable one only ever reassigned in straight-line code.
    Node(NodeId),
    /// A variable assigned inside a branch or loop, or an array.
    Var(VarId),
    /// A part of an array: a window, a chunk, a sub-slice; its elements can be stored into when
    /// the binding is writable (`&mut x[a..b]`, `split_at_mut` of a buffer or an out-parameter).
    View(View),
    /// A closure bound with `let`, inlined where it is called.
    Closure(usize),
    /// A pair an iterator yields, bound to one name (`|s, t| s + t.1`): its parts, by index
    /// into `tuples`, are read as `t.0`, `t.1`.
    Tuple(usize),
    /// A binding whose value was reported as an error: its uses report nothing more.
    Failed,
}

struct Binding {
    name: String,
    bound: Bound,
    mutable: bool,
}

/// The names in scope, innermost block last, with an index by name: a body of thousands of
/// `let`s looks each name up in constant time.
struct Scopes {
    levels: Vec<Vec<Binding>>,
    /// Where the bindings of each name are, innermost last: level and position.
    index: HashMap<String, Vec<(usize, usize)>>,
}

impl Scopes {
    fn new() -> Self {
        Scopes {
            levels: vec![Vec::new()],
            index: HashMap::default(),
        }
    }

    fn open(&mut self) {
        self.levels.push(Vec::new());
    }

    fn close(&mut self) {
        for b in self.levels.pop().expect("a scope is open") {
            let name = names::plain(&b.name);
            let positions = self.index.get_mut(name).expect("indexed when bound");
            positions.pop();
            if positions.is_empty() {
                self.index.remove(name);
            }
        }
    }

    /// Binds in the innermost scope, or in the function's own (`level` 0).
    fn bind(&mut self, binding: Binding, outermost: bool) {
        let level = if outermost { 0 } else { self.levels.len() - 1 };
        let positions = self
            .index
            .entry(names::plain(&binding.name).to_owned())
            .or_default();
        let at = (level, self.levels[level].len());
        // A binding in the outermost scope made while inner ones are open (parameters are
        // bound first, so this does not happen after them) still shadows by level.
        let k = positions.partition_point(|&(l, _)| l <= level);
        positions.insert(k, at);
        self.levels[level].push(binding);
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        let &(level, at) = self.index.get(names::plain(name))?.last()?;
        Some(&self.levels[level][at])
    }

    /// Whether `name` is bound where it was at `at`, not shadowed since.
    fn binds_at(&self, name: &str, at: (usize, usize)) -> bool {
        self.index
            .get(names::plain(name))
            .and_then(|p| p.last())
            .is_some_and(|&last| last == at)
    }

    fn lookup_mut(&mut self, name: &str) -> Option<&mut Binding> {
        let &(level, at) = self.index.get(names::plain(name))?.last()?;
        Some(&mut self.levels[level][at])
    }

    /// The bindings of the function's own scope.
    fn outermost(&self) -> &[Binding] {
        &self.levels[0]
    }

    fn outermost_mut(&mut self, name: &str) -> Option<&mut Binding> {
        self.levels[0]
            .iter_mut()
            .rev()
            .find(|b| names::same(&b.name, name))
    }
}

/// Where the value of a branch, a `match` arm or an assignment goes: a scalar variable, each
/// element of an array, or each part of a tuple.
#[derive(Clone)]
pub(super) enum Target {
    Var(VarId),
    Array(VarId),
    Tuple(Vec<Target>),
}

/// The flags that `break` and `continue` set in the loop being lowered.
#[derive(Clone, Copy)]
struct LoopFlags {
    broke: Option<VarId>,
    continued: Option<VarId>,
}

/// The variables an early `return` sets: the value (none in a function that returns only
/// through out-parameters) and whether it happened.
#[derive(Clone, Copy)]
struct ReturnFlags {
    value: Option<VarId>,
    done: VarId,
}

struct Lowerer {
    nodes: Vec<Node>,
    vars: Vec<Var>,
    /// The blocks being built, innermost last: nodes and statements go into the last one.
    blocks: Vec<graph::Block>,
    /// What each variable is known to hold in the current straight-line stretch.
    known: HashMap<VarId, NodeId>,
    /// The elements loaded in the current straight-line stretch, by array and index node: a
    /// second `x[i]` is the same value, and its adjoint one sum.
    /// Loads since memory last changed, by array and index (a literal index by its value).
    loads: HashMap<(VarId, OperandKey), NodeId>,
    /// Integer arithmetic in the current straight-line stretch, by operation and operands.
    indices: HashMap<(Prim, OperandKey, OperandKey), NodeId>,
    /// The names in scope, innermost block last; a later binding shadows an earlier one.
    scopes: Scopes,
    items: Vec<TokenStream>,
    /// Compile-time checks emitted once beside the generated functions.
    checks: Vec<TokenStream>,
    errors: Errors,
    depth: usize,
    /// The `else if` links around the current point.
    chain: usize,
    overflowed: bool,
    /// The loops being lowered, innermost last.
    loops: Vec<LoopFlags>,
    ret: Option<ReturnFlags>,
    /// While the statements of a branch that assigns a target are lowered: that target, set to
    /// a constant nothing reads where a `break`, `continue` or `return` skips the branch's value.
    exit_target: Option<Target>,
    /// [`Graph::aliases`].
    aliases: Vec<(NodeId, String)>,
    counters: usize,
    /// `&self`, in a method.
    receiver: Option<TokenStream>,
    /// For each block (by its last statement), the names assigned in its branches and loops.
    construct_names: HashMap<usize, Rc<HashSet<String>>>,
    /// The names the last expression of the body or of a block assigns, when it is a branch or a
    /// loop: a `let mut` before it is a variable.
    tail_assigned: HashSet<String>,
    /// The indices of the out-parameters, `&mut [f64]`.
    out_params: Vec<usize>,
    /// Struct parameters and the fields the body reads.
    structs: fields::Structs,
    /// The float type parameter of a function generic over `T: Float`.
    generic: Option<Ident>,
    /// The float type the function returns, when it returns one.
    float_ty: Option<FloatTy>,
    /// For each block being lowered that binds a field with `let`, the tokens of the
    /// expression that ends it (see [`Lowerer::learn_bound_array_field`]).
    tails: Vec<Option<TokenStream>>,
    /// The closures bound with `let`, by [`Bound::Closure`].
    closures: Vec<iter::Closure>,
    /// For a closure bound with `let` that returns an array or a tuple, by its
    /// [`Bound::Closure`]: one closure per element, each computing that element alone.
    projections: HashMap<usize, patterns::Projection>,
    /// The constant arrays and slices the body reads (`const W: [f64; 5]`), by path: each a
    /// variable bound once at the top of the function, `let w = &W;`.
    const_arrays: HashMap<String, VarId>,
    /// The tuples bound to one name, by [`Bound::Tuple`].
    tuples: Vec<Vec<iter::Item>>,
    /// The parameters whose type is an array of arrays, constants of the function, with their
    /// elements' float type: the body reads them element by element, `m[i][j]`.
    nested_params: HashMap<usize, Option<FloatTy>>,
    /// The local arrays of arrays of constants (`let m = [[1.0, 0.5], [0.5, 2.0]];`), with
    /// their elements' float type where annotated.
    nested_locals: HashMap<VarId, Option<FloatTy>>,
    /// Where the parameters that are floats taken by reference (`x: &f64`) are bound, by
    /// name: a call that passes such a name on passes the reference.
    ref_params: Vec<(String, (usize, usize))>,
}

/// Whether the tokens contain an identifier: a cheap over-approximation of what a statement does.
fn mentions(tokens: TokenStream, word: &str) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == word,
        TokenTree::Group(g) => mentions(g.stream(), word),
        _ => false,
    })
}

/// A return type that is not a float, an array or a tuple of them.
#[cold]
#[inline(never)]
fn return_type(ty: &Type, not_generic: bool) -> syn::Error {
    let base = "a differentiated function returns `f64` or `f32`, or several outputs: `[f64; M]` or a tuple of floats and float arrays";
    match ty {
        // `-> T` in `impl<T: Float> S<T>`: the macro sees the method, not the `impl` block.
        Type::Path(p)
            if not_generic
                && p.qself.is_none()
                && p.path.get_ident().is_some_and(|t| {
                    t.to_string().starts_with(|c: char| c.is_ascii_uppercase())
                }) =>
        {
            let t = p.path.get_ident().expect("checked by the guard");
            err(
                ty,
                format!(
                    "{base}; if `{t}` is a float type parameter of the `impl` block (`impl<{t}: Float> S<{t}>`), the macro cannot see it: write the method in an `impl S<f64>` block, or differentiate a free function generic over `{t}: Float` that takes the fields it reads"
                ),
            )
        }
        _ => err(ty, base),
    }
}

/// A parameter bound by a pattern rather than a name (but `_` or an array's): the generated
/// functions pass each parameter on by its name.
#[cold]
#[inline(never)]
fn param_pattern(pat: &Pat, ty: &Type) -> syn::Error {
    let tidy = |t: TokenStream| {
        t.to_string()
            .replace(" ,", ",")
            .replace(" ;", ";")
            .replace("( ", "(")
            .replace(" )", ")")
            .replace("[ ", "[")
            .replace(" ]", "]")
            .replace("& ", "&")
    };
    // `_` and array patterns are named before lowering (`expand::name_parameters`).
    let message = format!(
        "a differentiated function passes its parameters on by name: name this one, as in `p: {}`, and destructure it in the body, `let {} = p;`",
        tidy(ty.to_token_stream()),
        tidy(pat.to_token_stream())
    );
    err(pat, message)
}

/// Whether a function takes `self` in some form.
pub fn has_receiver(item: &ItemFn) -> bool {
    item.sig
        .inputs
        .iter()
        .any(|a| matches!(a, FnArg::Receiver(_)))
}

/// Whether a function without receiver is an associated function of an `impl` block or a
/// `trait`, which generated code names as `Self::f`: it names `Self`, in its signature or its
/// body, or its source file shows the block around it (`expand::context`).
pub fn associated(item: &ItemFn) -> bool {
    !has_receiver(item)
        && (IN_IMPL.get()
            || NAMES_SELF.get().unwrap_or_else(|| {
                mentions(item.sig.to_token_stream(), "Self")
                    // Printed a statement at a time without recursion: a body may be one long
                    // chain.
                    || item
                        .block
                        .stmts
                        .iter()
                        .any(|s| mentions(chains::stmt(s), "Self"))
            }))
}

/// Records whether the function being expanded names `Self` outside its outer attributes (its
/// signature or body), from the tokens the macro was given, for [`associated`]; `None` when the
/// expansion ends. Printing the parsed function again to look would cost more than the rest of
/// lowering a short function.
pub(crate) fn set_names_self(item: Option<&TokenStream>) {
    NAMES_SELF.set(item.map(|item| {
        // The function's tokens without the `#[attr]`s before it: its signature and body.
        let mut rest = TokenStream::new();
        let mut top = item.clone().into_iter().peekable();
        while let Some(t) = top.next() {
            if matches!(&t, TokenTree::Punct(p) if p.as_char() == '#')
                && matches!(top.peek(), Some(TokenTree::Group(g))
                    if g.delimiter() == proc_macro2::Delimiter::Bracket)
            {
                top.next();
                continue;
            }
            rest.extend([t]);
        }
        mentions(rest, "Self")
    }));
}

/// Whether `e` is an array of arrays of number literals (negated or not) and paths of
/// constants (`PI`, `W`, `std::f64::consts::E`; a one-name path that `local` does not call one
/// of the function's names), `[[1.0, -0.5], [0.5, 2.0]]` or `[[0.25; 3]; 3]`: a table with no
/// derivative.
pub(super) fn constant_matrix(e: &Expr, local: &dyn Fn(&Ident) -> bool) -> bool {
    let entry = |e: &Expr| -> bool {
        let mut e = strip(e);
        while let Expr::Unary(u) = e
            && matches!(u.op, UnOp::Neg(_))
        {
            e = strip(&u.expr);
        }
        match e {
            Expr::Lit(l) => matches!(l.lit, Lit::Float(_) | Lit::Int(_)),
            Expr::Path(p) => p.qself.is_none() && p.path.get_ident().is_none_or(|i| !local(i)),
            _ => false,
        }
    };
    let row = |e: &Expr| match strip(e) {
        Expr::Array(a) => !a.elems.is_empty() && a.elems.iter().all(entry),
        Expr::Repeat(r) => entry(&r.expr),
        _ => false,
    };
    match strip(e) {
        Expr::Array(a) => !a.elems.is_empty() && a.elems.iter().all(row),
        Expr::Repeat(r) => row(&r.expr),
        _ => false,
    }
}

/// Whether a type is an integer, or an array, slice or `Vec` of integers (`usize`, `&[i32]`,
/// `Vec<usize>`).
pub(super) fn integer_elements(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            match &last.arguments {
                syn::PathArguments::None => INTEGERS.contains(&last.ident.to_string().as_str()),
                syn::PathArguments::AngleBracketed(a) if last.ident == "Vec" => {
                    matches!(a.args.first(), Some(syn::GenericArgument::Type(t)) if integer_elements(t))
                }
                _ => false,
            }
        }
        Type::Array(a) => integer_elements(&a.elem),
        Type::Slice(s) => integer_elements(&s.elem),
        Type::Reference(r) => integer_elements(&r.elem),
        Type::Paren(p) => integer_elements(&p.elem),
        _ => false,
    }
}

/// Whether a type is an array, slice or `Vec` of integers (`&[usize]`, `Vec<i32>`), not an
/// integer.
pub(super) fn integer_array(ty: &Type) -> bool {
    match ty {
        Type::Array(_) | Type::Slice(_) => integer_elements(ty),
        Type::Path(p) => {
            p.path.segments.last().is_some_and(|s| s.ident == "Vec") && integer_elements(ty)
        }
        Type::Reference(r) => integer_array(&r.elem),
        Type::Paren(p) => integer_array(&p.elem),
        _ => false,
    }
}

/// Whether the tokens hold the punctuation `c` at any depth: a statement (`;`) in a `while`
/// condition, a borrow (`&`) in a value the emission binds.
pub(crate) fn holds_punct(tokens: TokenStream, c: char) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Punct(p) => p.as_char() == c,
        TokenTree::Group(g) => holds_punct(g.stream(), c),
        _ => false,
    })
}

/// Whether `e` is an array of integer literals, `[1usize, 0]`, `[-1, 2]` or `[0usize; 3]`.
pub(super) fn integer_literals(e: &Expr) -> bool {
    let literal = |e: &Expr| match strip(e) {
        Expr::Lit(l) => matches!(l.lit, Lit::Int(_)),
        Expr::Unary(u) => {
            matches!(u.op, UnOp::Neg(_))
                && matches!(strip(&u.expr), Expr::Lit(l) if matches!(l.lit, Lit::Int(_)))
        }
        _ => false,
    };
    match strip(e) {
        Expr::Array(a) => !a.elems.is_empty() && a.elems.iter().all(literal),
        Expr::Repeat(r) => literal(&r.expr),
        _ => false,
    }
}

/// The names assigned (`x = ..`, `x op= ..`, `x[i] = ..`) anywhere in the tokens.
pub(super) fn assigned(tokens: TokenStream, names: &mut Vec<String>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            TokenTree::Group(g) => assigned(g.stream(), names),
            TokenTree::Ident(ident) => {
                let mut j = i + 1;
                if let Some(TokenTree::Group(g)) = tokens.get(j)
                    && g.delimiter() == proc_macro2::Delimiter::Bracket
                {
                    j += 1;
                }
                let joint = |k: usize, c: &str| {
                    matches!(tokens.get(k), Some(TokenTree::Punct(p))
                        if c.contains(p.as_char()) && p.spacing() == proc_macro2::Spacing::Joint)
                };
                let eq = |k: usize| matches!(tokens.get(k), Some(TokenTree::Punct(p)) if p.as_char() == '=');
                let is_assign = match tokens.get(j) {
                    Some(TokenTree::Punct(p))
                        if p.as_char() == '=' && p.spacing() == proc_macro2::Spacing::Alone =>
                    {
                        true
                    }
                    // `x op= ..`, and `x <<= ..`, `x >>= ..` (not `x >= ..`).
                    _ => {
                        (joint(j, "+-*/%&|^") && eq(j + 1))
                            || (joint(j, "<") && joint(j + 1, "<") && eq(j + 2))
                            || (joint(j, ">") && joint(j + 1, ">") && eq(j + 2))
                    }
                };
                if is_assign {
                    names.push(ident.to_string());
                }
            }
            _ => {}
        }
    }
}

/// Whether `word` (`break`, `continue`) occurs outside the loops nested in the tokens.
fn escapes(tokens: TokenStream, word: &str) -> bool {
    let mut in_loop_header = false;
    for t in tokens {
        match t {
            TokenTree::Ident(i) if i == "for" || i == "while" || i == "loop" => {
                in_loop_header = true;
            }
            TokenTree::Ident(i) if i == word => return true,
            TokenTree::Group(g)
                if in_loop_header && g.delimiter() == proc_macro2::Delimiter::Brace =>
            {
                // The body of a nested loop: its exits are its own.
                in_loop_header = false;
            }
            TokenTree::Group(g) if escapes(g.stream(), word) => return true,
            _ => {}
        }
    }
    false
}

/// Whether a statement contains a branch, a loop, or a closure (whose body runs where it is
/// called: a name it assigns is a variable): `if`, `for`, `while`, `loop`, `match` or a `|`, in
/// one walk over the tokens.
fn has_control_flow(tokens: &TokenStream) -> bool {
    let mut work = vec![tokens.clone()];
    while let Some(tokens) = work.pop() {
        for t in tokens {
            match t {
                TokenTree::Ident(i) => {
                    if matches!(
                        i.to_string().as_str(),
                        "if" | "for" | "while" | "loop" | "match"
                    ) {
                        return true;
                    }
                }
                TokenTree::Punct(p) if p.as_char() == '|' => return true,
                TokenTree::Group(g) => work.push(g.stream()),
                _ => {}
            }
        }
    }
    false
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
                // The type parameter of a function generic over `T: Float` is a float type.
                _ if p.path.segments.len() == 1 && generic::is_float_param(&last.ident) => {
                    Some(FloatTy::F64)
                }
                _ => None,
            }
        }
        Type::Paren(p) => float_type(&p.elem),
        Type::Group(g) => float_type(&g.elem),
        _ => None,
    }
}

/// The float type of a shared reference to a float, `&f64`, `&f32` or `&T`.
fn float_reference(ty: &Type) -> Option<FloatTy> {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => float_type(&r.elem),
        Type::Paren(p) => float_reference(&p.elem),
        Type::Group(g) => float_reference(&g.elem),
        _ => None,
    }
}

/// What differentiation needs to know of a type that is not a float.
/// Rust's integer types.
const INTEGERS: &[&str] = &[
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
];

/// The type of what an integer method returns, as the graph types it: a flag for `is_*`, else
/// an integer (or what the method's own chain makes of it, `i.checked_sub(1).unwrap_or(0)`).
fn int_method_type(name: &str) -> Ty {
    if name.starts_with("is_") {
        Ty::Bool
    } else {
        Ty::Int
    }
}

fn constant_type(ty: &Type) -> Ty {
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
        self.emit(graph::Stmt::Node(id));
        id
    }

    fn emit(&mut self, stmt: graph::Stmt) {
        self.blocks
            .last_mut()
            .expect("a block is always open")
            .0
            .push(stmt);
    }

    fn var(&mut self, name: &str, ty: Ty, shape: Shape, span: Span) -> VarId {
        self.vars.push(Var {
            name: name.to_owned(),
            ty,
            shape,
            active: false,
            param: None,
            span,
        });
        VarId(self.vars.len() - 1)
    }

    /// A `bool` variable that control flow sets, starting `false`.
    fn flag(&mut self, name: &str, span: Span) -> VarId {
        let v = self.var(name, Ty::Bool, Shape::Scalar, span);
        let f = self.bool_lit(false, span);
        self.emit(graph::Stmt::Declare(v, Some(f)));
        v
    }

    fn bool_lit(&mut self, value: bool, span: Span) -> NodeId {
        self.push(Op::Lit(LitValue::Bool(value), None), vec![], Ty::Bool, span)
    }

    fn read(&mut self, v: VarId, span: Span) -> NodeId {
        if let Some(&n) = self.known.get(&v) {
            return n;
        }
        let ty = self.vars[v.0].ty;
        let n = self.push(Op::Read(v), vec![], ty, span);
        self.known.insert(v, n);
        n
    }

    /// An integer operand, by value when it is a literal.
    fn operand_key(&self, n: NodeId) -> OperandKey {
        match self.nodes[n.0].op {
            Op::Lit(LitValue::Int(v), _) => OperandKey::Literal(v),
            _ => OperandKey::Node(n),
        }
    }

    /// Forgets what variables and array elements hold, where control flow joins or memory
    /// changes.
    fn forget(&mut self) {
        self.known.clear();
        self.loads.clear();
        self.indices.clear();
    }

    fn set(&mut self, v: VarId, value: NodeId) {
        // `let mut s = 0.0;` takes the type of what is stored in it later.
        match (self.vars[v.0].ty, self.nodes[value.0].ty) {
            (Ty::Float(None), Ty::Float(Some(t))) => self.vars[v.0].ty = Ty::Float(Some(t)),
            // The value of an `if` or a `match` whose branches are integers.
            (Ty::Float(None), Ty::Int) => self.vars[v.0].ty = Ty::Int,
            _ => {}
        }
        self.emit(graph::Stmt::Assign(v, value));
        self.known.insert(v, value);
    }

    /// Lowers statements into a new block and returns it; what is known of variables before it
    /// is not known inside it, nor after it.
    fn nested(&mut self, f: impl FnOnce(&mut Self)) -> graph::Block {
        self.forget();
        self.blocks.push(graph::Block::default());
        self.scopes.open();
        f(self);
        self.scopes.close();
        self.forget();
        self.blocks.pop().expect("pushed above")
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
        let generic = "only functions generic over a float type are differentiated: bound the type parameter by `num_traits::Float` (`fn f<T: Float>`), or write the function for `f64` or `f32`";
        let float_param =
            generic::float_param(&sig.generics).or_else(|| generic::impl_float_param(sig));
        generic::set_float_param(float_param.as_ref());
        if float_param.is_some() {
            self.generic = float_param;
        } else if sig
            .generics
            .params
            .iter()
            .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        {
            // Lifetimes are copied to the generated functions as they are.
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
                    self.errors.push(return_type(ty, self.generic.is_none()));
                }
                float
            }
            // A function with an out-parameter returns through it.
            ReturnType::Default if call_into::has_out_params(sig) => None,
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
                    if r.mutability.is_some()
                        || !matches!(
                            r.kind,
                            syn::ReceiverKind::Reference(_, _, None) | syn::ReceiverKind::Value
                        )
                    {
                        self.errors.push(err(
                            r,
                            "a differentiated method takes `&self` or `self`: it only reads its fields (`wrt(self)` gives them derivatives)",
                        ));
                    }
                    // `self` by value: the generated functions borrow it, since they only read
                    // its fields and call each other with it.
                    self.receiver = Some(if matches!(r.kind, syn::ReceiverKind::Value) {
                        quote::quote_spanned!(r.self_token.span=> &self)
                    } else {
                        r.to_token_stream()
                    });
                    continue;
                }
                FnArg::Typed(t) => t,
            };
            let Pat::Ident(pat) = &*typed.pat else {
                self.errors.push(param_pattern(&typed.pat, &typed.ty));
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
            let (shape, mut float, out) = call_into::param_shape(&typed.ty);
            // `x: &f64`: a float read through the reference, a constant unless `wrt` names it.
            let by_ref = float.is_none() && !out && float_reference(&typed.ty).is_some();
            if by_ref {
                float = float_reference(&typed.ty);
            }
            if let Some(e) = call_into::fixed_size_out(&typed.ty) {
                self.errors.push(e);
            }
            if let Type::Reference(r) = &*typed.ty
                && let Some(m) = &r.mutability
                && !out
            {
                self.errors.push(err(
                    m,
                    "`&mut` parameters are not supported: a differentiated function is pure; take the value and return the result",
                ));
            }
            let ty = float.map_or_else(|| constant_type(&typed.ty), |t| Ty::Float(Some(t)));
            let index = params.len();
            if nested_array_type(&typed.ty) {
                self.nested_params.insert(index, nested_float(&typed.ty));
            }
            let name = pat.ident.to_string();
            let node = self.push(Op::Param(index), vec![], ty, pat.ident.span());
            self.nodes[node.0].name = Some(name.clone());
            let (var, bound) = match shape {
                Shape::Scalar => (None, Bound::Node(node)),
                _ => {
                    let v = self.var(&name, ty, shape.clone(), pat.ident.span());
                    self.vars[v.0].param = Some(index);
                    (Some(v), Bound::Var(v))
                }
            };
            params.push(Param {
                name: name.clone(),
                shape,
                var,
                ty_tokens: typed.ty.to_token_stream(),
                float,
                active: float.is_some() && !by_ref,
                mutable: pat.mutability.is_some(),
                role: if out {
                    graph::Role::Out
                } else {
                    graph::Role::Input
                },
                by_ref,
                node,
                span: pat.ident.span(),
            });
            if out {
                self.out_params.push(index);
            }
            if by_ref {
                self.ref_params
                    .push((name.clone(), (0, self.scopes.outermost().len())));
            }
            self.scopes.bind(
                Binding {
                    name,
                    bound,
                    mutable: pat.mutability.is_some(),
                },
                true,
            );
        }
        if let Some(wrt) = &options.wrt {
            self.restrict(&mut params, wrt);
        }
        self.concrete_constants(&mut params);
        params
    }

    /// Applies `wrt(...)`: only the named parameters are active.
    fn restrict(&mut self, params: &mut [Param], wrt: &[Ident]) {
        for name in wrt {
            if name == "self" {
                if self.receiver.is_some() {
                    self.structs.self_active = true;
                } else {
                    self.errors.push(err(
                        name,
                        "`wrt` names `self`, but this function is not a method",
                    ));
                }
                continue;
            }
            match params
                .iter()
                .find(|p| names::same(&name.to_string(), &p.name))
            {
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
                Some(p) if p.float.is_none() && !fields::is_struct(p, self.nodes[p.node.0].ty) => {
                    self.errors.push(err(
                        name,
                        format!(
                            "`wrt` names `{name}`, which is not an `f64` or `f32` parameter or a struct; only floats and structs of floats have gradients"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        for p in params.iter_mut() {
            let named = wrt.iter().any(|w| names::same(&w.to_string(), &p.name));
            if named && fields::is_struct(p, self.nodes[p.node.0].ty) {
                p.role = graph::Role::Fields;
            }
            p.active = p.out() || (p.float.is_some() || p.fields()) && named;
        }
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.scopes.lookup(name)
    }

    /// Gives a node its user's name, for readable generated code; a node that cannot take it
    /// (a parameter, a value named already) keeps it as an alias, for `f_graph`.
    fn name(&mut self, node: NodeId, name: &str) {
        let n = &mut self.nodes[node.0];
        if n.name.is_none() && !n.is_leaf() {
            n.name = Some(name.to_owned());
        } else if n.name.as_deref() != Some(name) && name != "_" {
            self.aliases.push((node, name.to_owned()));
        }
    }

    fn bind(&mut self, ident: &Ident, bound: Bound, mutable: bool) {
        let name = ident.to_string();
        if let Bound::Node(node) = bound {
            self.name(node, &name);
        }
        self.scopes.bind(
            Binding {
                name,
                bound,
                mutable,
            },
            false,
        );
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
            // A function that returns through out-parameters ends with a statement.
            Some((Stmt::Expr(e, None), rest)) if returns_float || self.out_params.is_empty() => {
                (rest, Tail::Expr(e))
            }
            _ => (
                &block.stmts[..],
                Tail::Missing(block.brace_token.span.close()),
            ),
        };
        // The tokens of each statement, printed once for the scans below.
        let printed: Vec<TokenStream> = block.stmts.iter().map(chains::stmt).collect();
        // A `mut` parameter assigned in a branch or loop becomes a variable, as a `let mut` does.
        let mut names = Vec::new();
        for tokens in printed.iter().filter(|t| has_control_flow(t)) {
            assigned(tokens.clone(), &mut names);
        }
        let rebound: Vec<(String, NodeId, Ty, Span)> = self
            .scopes
            .outermost()
            .iter()
            .filter_map(|b| match b.bound {
                Bound::Node(n) if b.mutable && names.contains(&b.name) => {
                    Some((b.name.clone(), n, self.nodes[n.0].ty, self.nodes[n.0].span))
                }
                _ => None,
            })
            .collect();
        for (name, node, ty, span) in rebound {
            let v = self.var(&name, ty, Shape::Scalar, span);
            self.emit(graph::Stmt::Declare(v, Some(node)));
            self.known.insert(v, node);
            let binding = self.scopes.outermost_mut(&name).expect("found above");
            binding.bound = Bound::Var(v);
        }
        if let Tail::Expr(e) = tail {
            self.note_tail_assigned(Some(e));
        }
        // `stmts` is the block's statements but the last, or all of them. A tail that is not
        // itself a `return` may return early from inside (`if k == 0 { return x; } else { .. }`).
        let tail_returns = matches!(tail, Tail::Expr(_))
            && !matches!(block.stmts.last(), Some(Stmt::Expr(Expr::Return(_), _)))
            && printed
                .get(stmts.len())
                .is_some_and(|t| mentions(t.clone(), "return"));
        let early_return = tail_returns
            || printed[..stmts.len()]
                .iter()
                .any(|t| mentions(t.clone(), "return"));
        // A `loop` left only by `return` is a statement like any other: the `let`s before it see
        // what it assigns.
        let (stmts, tail) = match tail {
            // One with neither is reported as the statement it is: it never ends.
            Tail::Expr(Expr::Loop(l))
                if tail_returns || !escapes(chains::block(&l.body), "break") =>
            {
                (&block.stmts[..], Tail::Loop)
            }
            tail => (stmts, tail),
        };
        if early_return {
            // Every exit assigns the value and sets `returned`; what follows an exit is guarded.
            let span = block.brace_token.span.open();
            let returns_nothing = !returns_float && !self.out_params.is_empty();
            let value = (!returns_nothing).then(|| {
                let value = self.var("result", Ty::Float(None), Shape::Scalar, span);
                let zero = self.push(
                    Op::Lit(LitValue::Float(0.0), None),
                    vec![],
                    Ty::Float(None),
                    span,
                );
                self.emit(graph::Stmt::Declare(value, Some(zero)));
                value
            });
            let done = self.flag("returned", span);
            self.ret = Some(ReturnFlags { value, done });
        }
        self.push_tail(
            stmts,
            match tail {
                Tail::Expr(e) => Some(e),
                Tail::Missing(_) | Tail::Loop => None,
            },
        );
        let value = self.stmts(stmts, &mut |cx: &mut Self| match tail {
            Tail::Loop => None,
            Tail::Expr(e) => {
                let v = cx.expr(e);
                if let Some(r) = cx.ret
                    && let Some(result) = r.value
                {
                    if tail_returns {
                        cx.set_unless_returned(result, v, chains::expr_span(e));
                    } else {
                        cx.set(result, v);
                    }
                }
                Some(v)
            }
            // Without a float return type that error is already reported.
            Tail::Missing(span) if !returns_float => Some(cx.placeholder(span)),
            Tail::Missing(span) => Some(cx.fail(syn::Error::new(
                span,
                "the body must end with the value it returns, an expression of type `f64` or `f32`",
            ))),
        });
        self.tails.pop();
        match (self.ret.and_then(|r| r.value), value) {
            (Some(result), _) => {
                self.forget();
                self.read(result, block.brace_token.span.close())
            }
            (None, Some(v)) => v,
            (None, None) => self.placeholder(block.brace_token.span.close()),
        }
    }

    /// `result = v` unless a `return` inside the tail expression has set it already.
    #[inline(never)]
    fn set_unless_returned(&mut self, result: VarId, v: NodeId, span: Span) {
        let cond = self.still_running(span);
        let then = self.nested(|cx| cx.set(result, v));
        self.emit(graph::Stmt::If {
            cond,
            then,
            otherwise: graph::Block::default(),
        });
        self.forget();
    }

    /// Lowers statements; after one that may `break`, `continue` or `return`, the rest run only
    /// if it did not. `tail` lowers what ends the block and returns its value, if any.
    fn stmts(
        &mut self,
        stmts: &[Stmt],
        tail: &mut dyn FnMut(&mut Self) -> Option<NodeId>,
    ) -> Option<NodeId> {
        let target = self.exit_target.take();
        for (k, stmt) in stmts.iter().enumerate() {
            self.stmt(stmt, &stmts[k + 1..]);
            // A statement exits the block if it may `return`, or `break`/`continue` the loop
            // being lowered (those inside a loop nested in the statement stop at that loop);
            // its tokens are printed only where it could.
            let exits = (self.ret.is_some() || !self.loops.is_empty()) && {
                let tokens = chains::stmt(stmt);
                self.ret.is_some() && mentions(tokens.clone(), "return")
                    || !self.loops.is_empty()
                        && (escapes(tokens.clone(), "break") || escapes(tokens, "continue"))
            };
            if exits && (k + 1 < stmts.len() || self.ret.is_some() && self.loops.is_empty()) {
                let cond = self.still_running(chains::span(chains::stmt(stmt)));
                let rest = &stmts[k + 1..];
                let mut value = None;
                let then = self.nested(|cx| {
                    cx.exit_target.clone_from(&target);
                    value = cx.stmts(rest, tail);
                });
                let otherwise = self.skipped_value(target.as_ref(), cond);
                self.emit(graph::Stmt::If {
                    cond,
                    then,
                    otherwise,
                });
                // A value computed under the guard reaches the caller through a variable.
                let _ = value;
                return None;
            }
        }
        tail(self)
    }

    /// Where a guard skips the rest of a branch that assigns `target`, the target gets a
    /// constant, which nothing reads, so that it is set on every path.
    #[inline(never)]
    fn skipped_value(&mut self, target: Option<&Target>, cond: NodeId) -> graph::Block {
        match target {
            Some(t) => {
                let span = self.nodes[cond.0].span;
                self.nested(|cx| cx.set_dummy(t, span))
            }
            None => graph::Block::default(),
        }
    }

    /// `true` while no `break`, `continue` or `return` has happened.
    fn still_running(&mut self, span: Span) -> NodeId {
        let mut flags = Vec::new();
        if let Some(l) = self.loops.last() {
            flags.extend(l.broke);
            flags.extend(l.continued);
        }
        if let Some(r) = self.ret {
            flags.push(r.done);
        }
        let mut any: Option<NodeId> = None;
        for f in flags {
            let v = self.read(f, span);
            any = Some(match any {
                None => v,
                Some(a) => self.push(Op::Or, vec![a, v], Ty::Bool, span),
            });
        }
        match any {
            Some(a) => self.push(Op::Not, vec![a], Ty::Bool, span),
            None => self.bool_lit(true, span),
        }
    }

    fn block(&mut self, block: &Block) -> NodeId {
        self.scopes.open();
        let (stmts, tail) = match block.stmts.split_last() {
            Some((Stmt::Expr(e, None), rest)) => (rest, Some(e)),
            _ => (&block.stmts[..], None),
        };
        self.push_tail(stmts, tail);
        self.note_tail_assigned(tail);
        for (k, stmt) in stmts.iter().enumerate() {
            self.stmt(stmt, &stmts[k + 1..]);
        }
        self.tails.pop();
        let value = match tail {
            Some(e) => self.expr(e),
            None => self.fail(syn::Error::new(
                block.brace_token.span.close(),
                "a block used as a value must end with an expression",
            )),
        };
        self.scopes.close();
        value
    }

    /// A block whose value, if any, goes to `target`: a branch or a loop body.
    fn branch(&mut self, block: &Block, target: Option<&Target>) -> graph::Block {
        self.nested(|cx| {
            // A branch that ends by leaving (`else { return x; }`) has no value: the target
            // gets a constant, which nothing reads, so that it is set on every path.
            if let Some(t) = target
                && block.stmts.last().is_some_and(diverges)
            {
                let span = block.brace_token.span.close();
                cx.set_dummy(t, span);
                cx.stmts(&block.stmts, &mut |_| None);
                return;
            }
            let (stmts, tail) = match (target, block.stmts.split_last()) {
                (Some(_), Some((Stmt::Expr(e, None), rest))) => (rest, Some(e)),
                _ => (&block.stmts[..], None),
            };
            cx.exit_target = target.cloned();
            cx.push_tail(stmts, tail);
            cx.note_tail_assigned(tail);
            cx.stmts(stmts, &mut |cx: &mut Self| {
                match (tail, target) {
                    (Some(e), Some(t)) => cx.assign_to(e, t),
                    (None, Some(_)) => {
                        cx.fail(syn::Error::new(
                            block.brace_token.span.close(),
                            "this branch must end with the value of the `if`",
                        ));
                    }
                    _ => {}
                }
                None
            });
            cx.tails.pop();
        })
    }

    /// A constant of the type of `target`, for a path on which its value is never read.
    pub(super) fn dummy(&mut self, target: VarId, span: Span) -> NodeId {
        match self.vars[target.0].ty {
            Ty::Int => self.int(0, span),
            Ty::Bool => self.bool_lit(false, span),
            ty => self.push(Op::Lit(LitValue::Float(0.0), None), vec![], ty, span),
        }
    }

    fn stmt(&mut self, stmt: &Stmt, rest: &[Stmt]) {
        match stmt {
            Stmt::Local(local) => self.local(local, rest),
            // A `const` of a nested block, renamed: the generated functions declare the body's
            // items at their top, where one of a block would take the place of a constant of
            // the same name outside it, or clash with another block's.
            Stmt::Item(Item::Const(c)) if self.scopes.levels.len() > 1 => self.block_const(c),
            Stmt::Item(Item::Const(_) | Item::Use(_)) => {
                self.items.push(stmt.to_token_stream());
            }
            Stmt::Item(item) => self.errors.push(err(
                item,
                "only `const` and `use` items may appear inside a differentiated function: move this item outside",
            )),
            Stmt::Macro(m) => self.macro_stmt(&m.mac),
            Stmt::Expr(e, _) => self.effect(e),
        }
    }

    /// `const C: f64 = 7.0;` inside a block: declared at the top of the generated functions as
    /// `C_IN_BLOCK_k`, and `C` bound to it in the block's scope.
    #[inline(never)]
    fn block_const(&mut self, c: &syn::ItemConst) {
        let span = c.ident.span();
        let renamed = Ident::new(&format!("{}_IN_BLOCK_{}", c.ident, self.items.len()), span);
        let mut item = c.clone();
        item.ident = renamed.clone();
        self.items.push(item.to_token_stream());
        let node = self.push(Op::Const(quote::quote!(#renamed)), vec![], Ty::Other, span);
        self.bind(&c.ident, Bound::Node(node), false);
    }

    /// An expression evaluated for what it does: an assignment, a branch, a loop, an exit.
    fn effect(&mut self, e: &Expr) {
        let construct = matches!(
            e,
            Expr::If(_)
                | Expr::ForLoop(_)
                | Expr::While(_)
                | Expr::Loop(_)
                | Expr::Block(_)
                | Expr::Match(_)
        );
        if construct {
            if self.depth >= max_depth() {
                if !self.overflowed {
                    self.overflowed = true;
                    met_limit();
                    let first = chains::expr(e)
                        .into_iter()
                        .next()
                        .map_or_else(|| e.span(), |t| t.span());
                    self.errors.push(syn::Error::new(
                        first,
                        format!(
                            "branches and loops nested more than {} levels deep: move the inner ones into a function",
                            max_depth()
                        ),
                    ));
                }
                return;
            }
            self.depth += 1;
            self.effect_inner(e);
            self.depth -= 1;
        } else {
            self.effect_inner(e);
        }
    }

    fn effect_inner(&mut self, e: &Expr) {
        match e {
            Expr::Call(c) if self.writes_into(c) => self.call_into(c),
            Expr::MethodCall(m)
                if call_into::as_self_call(m).is_some_and(|c| self.writes_into(&c)) =>
            {
                let c = call_into::as_self_call(m).expect("checked by the guard");
                self.call_into(&c);
            }
            Expr::Call(c) if self.called_closure(c).is_some() => self.closure_effect(c),
            Expr::MethodCall(m)
                if (m.method == "copy_from_slice" || m.method == "fill") && m.args.len() == 1 =>
            {
                self.slice_write(m);
            }
            Expr::MethodCall(m) if m.method == "swap" && m.args.len() == 2 => self.slice_swap(m),
            Expr::Assign(assign) => {
                if let Some(v) = self.whole_array(&assign.left) {
                    // `q = [q[1], q[0]];`: every element is computed before any is stored.
                    self.assign_to(&assign.right, &Target::Array(v));
                } else if let Expr::Index(index) = &*assign.left {
                    let value = self.expr(&assign.right);
                    self.store(index, |_, _| value);
                } else {
                    let value = self.expr(&assign.right);
                    self.assign(&assign.left, value);
                }
            }
            Expr::Binary(b) if compound(&b.op).is_some() => {
                let prim = compound(&b.op).expect("checked by the guard");
                let span = binary_span(b);
                let op_span = b.op.span();
                if let Expr::Index(index) = &*b.left {
                    let rhs = self.expr(&b.right);
                    self.store(index, |cx, current| {
                        cx.compound_value(prim, current, rhs, span, op_span)
                    });
                } else {
                    let current = self.expr(&b.left);
                    let rhs = self.expr(&b.right);
                    let value = self.compound_value(prim, current, rhs, span, op_span);
                    self.assign(&b.left, value);
                }
            }
            Expr::If(i) => self.if_(i, None),
            Expr::Match(m) => self.match_(m, None),
            Expr::Macro(m) => self.macro_stmt(&m.mac),
            Expr::ForLoop(f) => self.for_(f),
            Expr::While(w) => self.while_(w),
            Expr::Loop(l) => self.loop_(l),
            Expr::Break(b) => self.exit(b.span(), b.expr.is_some() || b.label.is_some(), true),
            Expr::Continue(c) => self.exit(c.span(), c.label.is_some(), false),
            Expr::Return(r) => self.return_(r),
            Expr::Block(b) if b.label.is_none() => {
                self.scopes.open();
                self.stmts(&b.block.stmts, &mut |_| None);
                self.scopes.close();
            }
            e => {
                // A value computed and dropped has no effect on the result; it is still checked.
                self.expr(e);
            }
        }
    }

    /// `!a`: the negation of a `bool`, or the bitwise complement of an integer.
    #[inline(never)]
    fn not(&mut self, a: &Expr, span: Span) -> NodeId {
        let a = self.expr(a);
        let ty = if self.nodes[a.0].ty == Ty::Int {
            Ty::Int
        } else {
            Ty::Bool
        };
        self.push(Op::Not, vec![a], ty, span)
    }

    /// The value `current op rhs` that `place op= rhs` assigns.
    #[inline(never)]
    fn compound_value(
        &mut self,
        prim: Prim,
        current: NodeId,
        rhs: NodeId,
        span: Span,
        op_span: Span,
    ) -> NodeId {
        let ty = if prim.is_bitwise() {
            match self.bitwise_type(prim, current, rhs, op_span) {
                Ok(ty) => ty,
                Err(placeholder) => return placeholder,
            }
        } else {
            self.nodes[current.0].ty.join(self.nodes[rhs.0].ty)
        };
        self.push(Op::Prim(prim), vec![current, rhs], ty, span)
    }

    fn local(&mut self, local: &Local, rest: &[Stmt]) {
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
                self.bind(&p.ident, Bound::Node(placeholder), true);
            }
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.errors.push(err(
                else_token,
                "`let ... else` is not supported: bind a plain name",
            ));
        }
        self.learn_bound_array_field(&local.pat, &init.expr, rest);
        let Pat::Ident(p) = pat else {
            if matches!(pat, Pat::Wild(_)) {
                self.expr(&init.expr);
            } else {
                self.let_pattern(pat, &init.expr, rest);
            }
            return;
        };
        if p.by_ref.is_some() || p.subpat.is_some() {
            self.errors.push(err(
                pat,
                "only plain names can be bound: write `let name = ...;`",
            ));
        }
        let name = p.ident.to_string();
        if let Some(alloc) = buffer::alloc(&init.expr) {
            self.vec_local(local, p, annotated, alloc);
            return;
        }
        if let Expr::Repeat(r) = &*init.expr
            && matches!(strip(&r.expr), Expr::Array(_) | Expr::Repeat(_))
        {
            self.errors.push(nested_array_error(&init.expr));
            self.bind(&p.ident, Bound::Failed, p.mutability.is_some());
            return;
        }
        if let Expr::Repeat(r) = &*init.expr {
            // A local array: `let mut h = [0.0; 4];`.
            let fill = self.expr(&r.expr);
            // A literal or a named constant (`PI`, a `const`) fills the array as it is; a
            // parameter or a variable is stored into each element, like a computed value.
            let constant = match strip(&r.expr) {
                Expr::Lit(_) => true,
                Expr::Path(_) => matches!(
                    self.nodes[fill.0].op,
                    Op::Lit(..) | Op::Const(_) | Op::Known(_)
                ),
                Expr::Unary(u) => {
                    matches!(u.op, UnOp::Neg(_)) && matches!(strip(&u.expr), Expr::Lit(_))
                }
                _ => false,
            };
            let ty = match (annotated, self.nodes[fill.0].ty) {
                (_, Ty::Float(Some(t))) | (Some(t), _) => Ty::Float(Some(t)),
                (None, ty) => ty,
            };
            let len = r.len.to_token_stream();
            let v = self.var(
                &name,
                ty,
                Shape::Array {
                    len: len.clone(),
                    by_ref: false,
                },
                p.ident.span(),
            );
            if constant {
                let init = self.push(Op::Fill(len), vec![fill], ty, r.span());
                self.emit(graph::Stmt::Declare(v, Some(init)));
            } else {
                // `[x * 3.0; 2]`: zeros, then the value stored in each element, so that the
                // stores carry its derivative.
                let zero = self.push(Op::Lit(LitValue::Float(0.0), None), vec![], ty, r.span());
                let init = self.push(Op::Fill(len.clone()), vec![zero], ty, r.span());
                self.emit(graph::Stmt::Declare(v, Some(init)));
                let n = match syn::parse2::<syn::LitInt>(len.clone())
                    .map(|l| l.base10_parse::<i128>())
                {
                    Ok(Ok(n)) => {
                        self.push(Op::Lit(LitValue::Int(n), None), vec![], Ty::Int, r.span())
                    }
                    _ => self.push(Op::Const(len), vec![], Ty::Int, r.span()),
                };
                let start = self.push(Op::Lit(LitValue::Int(0), None), vec![], Ty::Int, r.span());
                let counter = self.counters;
                self.counters += 1;
                let body = self.nested(|cx| {
                    let k = cx.push(Op::Counter(counter), vec![], Ty::Int, r.span());
                    cx.nodes[k.0].name = Some("k".to_owned());
                    cx.emit(graph::Stmt::Store {
                        var: v,
                        index: k,
                        value: fill,
                    });
                });
                self.emit(graph::Stmt::For(graph::Loop {
                    counter,
                    name: "k".to_owned(),
                    start,
                    end: n,
                    inclusive: false,
                    reverse: false,
                    body,
                }));
            }
            self.bind(&p.ident, Bound::Var(v), p.mutability.is_some());
            return;
        }
        if self.let_idiom(local, p, &init.expr) {
            return;
        }
        let before = self.errors.count();
        let value = self.expr(&init.expr);
        if self.errors.count() > before {
            // Reported once: the uses of the name report nothing more.
            self.bind(&p.ident, Bound::Failed, true);
            return;
        }
        if let Some(t) = annotated {
            // `let c: f64 = self.scale;`, `let mut acc: f64 = p.scale * p.scale;`: constants of a
            // type the macro could not see, and arithmetic on them, are floats.
            self.annotate(value, t);
            self.settle(value, t);
        } else if let Pat::Type(t) = &local.pat
            && constant_type(&t.ty) == Ty::Int
            && self.nodes[value.0].ty == Ty::Other
            && matches!(self.nodes[value.0].op, Op::Member(_) | Op::Const(_))
        {
            // `let n: usize = self.n;`: a field or a constant the type names an integer.
            self.nodes[value.0].ty = Ty::Int;
        }
        self.bind_value(&p.ident, value, p.mutability.is_some(), rest);
    }

    /// Binds a name to a value: a node, or a variable when a branch or a loop among `rest`
    /// assigns it.
    fn bind_value(&mut self, ident: &Ident, value: NodeId, mutable: bool, rest: &[Stmt]) {
        let name = ident.to_string();
        if let Op::Read(v) = self.nodes[value.0].op
            && self.vars[v.0].name == "value_of_if"
        {
            // `let y = if .. { a } else { b };` names the variable the branches assign.
            self.vars[v.0].name.clone_from(&name);
        }
        if mutable
            && (self.tail_assigned.contains(&name)
                || self.assigned_in_constructs(rest).contains(&name))
        {
            let ty = self.nodes[value.0].ty;
            let v = self.var(&name, ty, Shape::Scalar, ident.span());
            self.emit(graph::Stmt::Declare(v, Some(value)));
            self.known.insert(v, value);
            self.bind(ident, Bound::Var(v), true);
        } else {
            self.bind(ident, Bound::Node(value), mutable);
        }
    }

    /// The names a block's last expression assigns when it is a branch or a loop, `{ let mut a
    /// = x; if c { a = 2.0 * a; a } else { a } }`: a `let mut` before it is a variable, as one
    /// before a statement that assigns it is ([`Lowerer::assigned_in_constructs`] sees the
    /// statements but not the tail).
    fn note_tail_assigned(&mut self, tail: Option<&Expr>) {
        let Some(tail) = tail else { return };
        let tokens = chains::expr(tail);
        if has_control_flow(&tokens) {
            let mut names = Vec::new();
            assigned(tokens, &mut names);
            self.tail_assigned.extend(names);
        }
    }

    /// The names assigned inside branches and loops among `rest`, the statements after a `let`.
    /// Computed once per block, from the first `let` that asks (an over-approximation for later
    /// ones, which only makes more variables than needed): scanning at every `let` is quadratic.
    fn assigned_in_constructs(&mut self, rest: &[Stmt]) -> Rc<HashSet<String>> {
        let Some(last) = rest.last() else {
            return Rc::default();
        };
        let key = std::ptr::from_ref(last).addr();
        if let Some(names) = self.construct_names.get(&key) {
            return names.clone();
        }
        let mut names = Vec::new();
        for stmt in rest.iter().filter(|s| has_control_flow(&chains::stmt(s))) {
            assigned(chains::stmt(stmt), &mut names);
        }
        let names: Rc<HashSet<String>> = Rc::new(names.into_iter().collect());
        self.construct_names.insert(key, names.clone());
        names
    }

    /// The binding a path names, if it names a local.
    fn local_binding(&self, e: &Expr) -> Option<(Bound, bool)> {
        let Expr::Path(p) = e else { return None };
        let ident = p.path.get_ident()?;
        let b = self.lookup(&ident.to_string())?;
        Some((b.bound, b.mutable))
    }

    /// Types as the float `t` a value annotated so whose type the macro could not see: a field or
    /// a `const`, and arithmetic of them.
    fn annotate(&mut self, node: NodeId, t: FloatTy) {
        let mut work = vec![node];
        while let Some(n) = work.pop() {
            if self.nodes[n.0].ty != Ty::Other {
                continue;
            }
            match self.nodes[n.0].op {
                Op::Member(_) | Op::Const(_) => {}
                Op::Prim(p) if p.is_float_arithmetic() => work.extend(self.nodes[n.0].args.clone()),
                _ => continue,
            }
            self.nodes[n.0].ty = Ty::Float(Some(t));
        }
    }

    /// `let c: f64 = 2.0 * 0.5;` gives its literals a type: they keep it wherever the value is
    /// written.
    fn settle(&mut self, node: NodeId, t: FloatTy) {
        if self.nodes[node.0].ty != Ty::Float(None) {
            return;
        }
        self.nodes[node.0].ty = Ty::Float(Some(t));
        if let Op::Prim(_) = self.nodes[node.0].op {
            for a in self.nodes[node.0].args.clone() {
                self.settle(a, t);
            }
        }
    }

    /// `name = value` or `name op= value`: the name now refers to a new node.
    fn assign(&mut self, target: &Expr, value: NodeId) {
        if let Expr::Unary(u) = strip(target)
            && matches!(u.op, UnOp::Deref(_))
            && let Some((Bound::Failed, _)) = self.local_binding(&u.expr)
        {
            // `*v = ..` through a name whose value was reported.
            return;
        }
        let Expr::Path(p) = target else {
            self.errors.push(err(
                target,
                "only local variables and array elements can be assigned to: write `name = ...` or `h[i] = ...`",
            ));
            return;
        };
        let Some(ident) = p.path.get_ident() else {
            self.errors
                .push(err(target, "only local variables can be assigned to"));
            return;
        };
        let name = ident.to_string();
        match self.local_binding(target) {
            Some((Bound::Var(v), true)) if matches!(self.vars[v.0].shape, Shape::Scalar) => {
                self.set(v, value);
            }
            Some((Bound::Node(_), true)) => {
                self.name(value, &name);
                let binding = self.scopes.lookup_mut(&name).expect("found above");
                binding.bound = Bound::Node(value);
            }
            Some((Bound::Var(_), true)) => self.errors.push(err(
                ident,
                format!("`{ident}` is an array: assign to its elements, as in `{ident}[i] = ...`"),
            )),
            Some((Bound::Failed, _)) => {}
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

    /// The local array (or `mut` array parameter) a whole-array assignment `q = ...` replaces.
    fn whole_array(&self, target: &Expr) -> Option<VarId> {
        match self.local_binding(target) {
            Some((Bound::Var(v), true))
                if matches!(self.vars[v.0].shape, Shape::Array { by_ref: false, .. }) =>
            {
                Some(v)
            }
            _ => None,
        }
    }

    /// The array variable an indexing expression reads or writes.
    fn array_of(&mut self, base: &Expr) -> Option<VarId> {
        if let Some(v) = self.field_array(base) {
            return Some(v);
        }
        match self.local_binding(base) {
            Some((Bound::Var(v), _)) if !matches!(self.vars[v.0].shape, Shape::Scalar) => Some(v),
            Some((Bound::Failed, _)) => {
                self.errors.follow_on();
                None
            }
            Some((Bound::View(_), _)) => {
                self.errors.push(err(
                    base,
                    "a window, chunk or sub-slice is read-only: copy it into a local array `[0.0; N]` to change it, or take it with `&mut x[a..b]` or `split_at_mut` from a buffer or an out-parameter",
                ));
                None
            }
            Some((Bound::Node(n), _))
                if matches!(self.nodes[n.0].op, Op::Call(_) | Op::CallGrad(_)) =>
            {
                self.errors.push(err(
                    base,
                    "this holds a call's result, whose type is not written here: to index it, write the type where it is bound, `let p: [f64; 2] = g(..);`",
                ));
                None
            }
            None if self.projected_call(base).is_some() => {
                self.errors.push(err(
                    base,
                    "this closure returns an array: bind its value, `let p = h(..);` or `let [a, b] = h(..);`, then index `p[0]`",
                ));
                None
            }
            _ if let Some(v) = self.const_array(base) => Some(v),
            _ if self.nested_array(base) => {
                let mut root = strip(base);
                while let Expr::Index(i) = root {
                    root = strip(&i.expr);
                }
                if matches!(self.local_binding(root), Some((Bound::Failed, _))) {
                    self.errors.follow_on();
                } else {
                    self.errors.push(nested_array_error(base));
                }
                None
            }
            Some((Bound::Node(n), _))
                if matches!(self.nodes[n.0].op, Op::Load(v)
                    if self.const_arrays.values().any(|&c| c == v)) =>
            {
                self.errors.push(err(
                    base,
                    "this is a row of a table of constants: read its elements where the table is indexed, `t[i][j]`",
                ));
                None
            }
            _ => {
                self.errors.push(err(
                    base,
                    "only arrays and slices can be indexed: a parameter `[f64; N]`, `&[f64]`, or a local `[0.0; N]`",
                ));
                None
            }
        }
    }

    /// Whether an expression is an array of arrays: `m[i]` being indexed, or a parameter
    /// typed `[[f64; K]; N]` or `&[[f64; K]]`.
    #[inline(never)]
    pub(super) fn nested_array(&self, e: &Expr) -> bool {
        match strip(e) {
            Expr::Index(_) => true,
            Expr::Reference(r) => self.nested_array(&r.expr),
            Expr::Path(_) => {
                let nested = |v: VarId| {
                    self.vars[v.0]
                        .param
                        .is_some_and(|k| self.nested_params.contains_key(&k))
                };
                match self.local_binding(e) {
                    // The parameter, or one of its rows (`p` of `points.iter()`).
                    Some((Bound::Node(n), _)) => match self.nodes[n.0].op {
                        Op::Param(k) => self.nested_params.contains_key(&k),
                        Op::Load(v) => nested(v),
                        _ => false,
                    },
                    Some((Bound::Var(v), _)) => nested(v),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// `x[m.idx[c]]`: an element of a field used as an index is an integer, and so is the field.
    #[inline(never)]
    fn index_of_field(&mut self, index: &Expr) {
        if let Expr::Index(i) = strip(index)
            && !matches!(strip(&i.index), Expr::Range(_))
        {
            self.integer_field_array(&i.expr);
        }
    }

    /// `m[i][j]` of a constant array of arrays: a parameter typed `[[f64; K]; N]`, `&[[f64; K]; N]`
    /// or `&[[f64; K]]` that `wrt` cannot name, or a `const` the function does not bind (a
    /// Butcher tableau, a convolution kernel): a load with two indices, with no derivative.
    #[inline(never)]
    fn nested_element(&mut self, index: &syn::ExprIndex) -> Option<NodeId> {
        let Expr::Index(row) = strip(&index.expr) else {
            return None;
        };
        let (v, float) = match self.local_binding(strip(&row.expr)) {
            Some((Bound::Var(v), _)) => {
                let float = match self.vars[v.0].param {
                    Some(k) => *self.nested_params.get(&k)?,
                    None => *self.nested_locals.get(&v)?,
                };
                (v, float)
            }
            Some((Bound::Node(_), _)) | None => (self.const_array(&row.expr)?, None),
            Some((Bound::Failed, _)) => {
                self.errors.follow_on();
                return Some(self.placeholder(index.span()));
            }
            _ => return None,
        };
        let i = self.expr(&row.index);
        let j = self.expr(&index.index);
        Some(self.push(Op::Load(v), vec![i, j], Ty::Float(float), index.span()))
    }

    /// A constant array or slice the function does not bind, `W` or `&W` of `const W: [f64; 5]`
    /// or `const W: &[f64]`, where the body reads an array: a variable bound once at the top of
    /// the function to a reference to it, with no derivative.
    #[inline(never)]
    pub(super) fn const_array(&mut self, e: &Expr) -> Option<VarId> {
        let p = match strip(e) {
            Expr::Path(p) => p,
            Expr::Reference(r) if r.mutability.is_none() => match strip(&r.expr) {
                Expr::Path(p) => p,
                _ => return None,
            },
            _ => return None,
        };
        if p.qself.is_some() || p.path.is_ident("self") {
            return None;
        }
        let mut path = p.path.clone();
        if let Some(ident) = p.path.get_ident()
            && let Some(b) = self.lookup(&ident.to_string())
        {
            // `let w = W;` bound the constant by name: the constant itself.
            let Bound::Node(n) = b.bound else {
                return None;
            };
            match &self.nodes[n.0].op {
                Op::Const(tokens) if !b.mutable && self.nodes[n.0].ty == Ty::Other => {
                    path = syn::parse2::<syn::Path>(tokens.clone()).ok()?;
                }
                _ => return None,
            }
        }
        let key = path.to_token_stream().to_string();
        if let Some(&v) = self.const_arrays.get(&key) {
            return Some(v);
        }
        let span = p.span();
        let ident = path.segments.last()?.ident.to_string();
        let last = ident.to_lowercase();
        // `let m2 = &m2;` of a lower-case `const m2` would be a pattern of the constant.
        let name = match names::plain(&last) {
            plain if plain == ident => format!("{plain}_table"),
            plain => plain.to_owned(),
        };
        // Declared in the function's own block, before the statement being lowered, so that
        // every later use, in any branch or loop, sees it.
        let inner = self.blocks.split_off(1);
        let value = self.push(
            Op::Const(quote::quote_spanned!(span=> &#path)),
            vec![],
            Ty::Other,
            span,
        );
        let v = self.var(&name, Ty::Float(None), Shape::Slice, span);
        self.emit(graph::Stmt::Declare(v, Some(value)));
        self.blocks.extend(inner);
        self.const_arrays.insert(key, v);
        Some(v)
    }

    /// `h[i] = value(current)`, where `current` is the element's value before.
    fn store(&mut self, index: &syn::ExprIndex, value: impl FnOnce(&mut Self, NodeId) -> NodeId) {
        // A writable view, `let (hidden, cell) = state.split_at_mut(n);`: its array at its offset.
        if let Some((Bound::View(view), true)) = self.local_binding(strip(&index.expr)) {
            let k = self.expr(&index.index);
            let i = match view.offset {
                Some(o) => self.offset_index(o, k, index.span()),
                None => k,
            };
            let ty = self.vars[view.var.0].ty;
            let current = self.push(Op::Load(view.var), vec![i], ty, index.span());
            let value = value(self, current);
            self.emit(graph::Stmt::Store {
                var: view.var,
                index: i,
                value,
            });
            self.forget();
            return;
        }
        let Some(v) = self.array_of(&index.expr) else {
            return;
        };
        if self.is_field(v) {
            self.errors.push(err(
                &index.expr,
                "fields are read-only in a differentiated function: copy the field into a local buffer first",
            ));
            return;
        }
        let is_param = self.vars[v.0]
            .param
            .is_some_and(|p| !self.out_params.contains(&p));
        if is_param
            && !self
                .lookup(&self.vars[v.0].name.clone())
                .is_some_and(|b| b.mutable)
        {
            self.errors.push(err(
                &index.expr,
                "a parameter cannot be assigned to: copy it into a local array first",
            ));
            return;
        }
        let i = self.expr(&index.index);
        let ty = self.vars[v.0].ty;
        let current = self.push(Op::Load(v), vec![i], ty, index.span());
        let value = value(self, current);
        self.emit(graph::Stmt::Store {
            var: v,
            index: i,
            value,
        });
        // Loads after a store read memory again.
        self.forget();
    }

    /// `if cond { .. } else { .. }`; with a `target`, each branch assigns its value to it.
    fn if_(&mut self, e: &syn::ExprIf, target: Option<&Target>) {
        let cond = self.expr(&e.cond);
        let then = self.branch(&e.then_branch, target);
        let otherwise = match &e.else_branch {
            None => {
                if target.is_some() {
                    self.errors.push(err(
                        e.if_token,
                        "an `if` used as a value needs an `else` branch",
                    ));
                }
                graph::Block::default()
            }
            Some((_, els)) => match &**els {
                Expr::Block(b) => self.branch(&b.block, target),
                // Each `else if` is an `if` inside the `else` branch, one level deeper.
                Expr::If(nested) if self.chain >= max_chain() => {
                    if !self.overflowed {
                        self.overflowed = true;
                        met_limit();
                        self.errors.push(err(
                            nested.if_token,
                            format!(
                                "`else if` chain longer than {} branches: split it, or move part of it into a function",
                                max_chain()
                            ),
                        ));
                    }
                    graph::Block::default()
                }
                Expr::If(nested) => {
                    self.depth += 1;
                    self.chain += 1;
                    let block = self.nested(|cx| cx.if_(nested, target));
                    self.chain -= 1;
                    self.depth -= 1;
                    block
                }
                other => {
                    self.errors
                        .push(err(other, "expected a block after `else`"));
                    graph::Block::default()
                }
            },
        };
        self.forget();
        self.emit(graph::Stmt::If {
            cond,
            then,
            otherwise,
        });
    }

    /// An `if` used as a value: its branches assign a variable, read after it.
    fn if_value(&mut self, e: &syn::ExprIf) -> NodeId {
        let span = e.if_token.span;
        let v = self.var("value_of_if", Ty::Float(None), Shape::Scalar, span);
        self.emit(graph::Stmt::Declare(v, None));
        self.if_(e, Some(&Target::Var(v)));
        // The branches decide the type (`set` makes it an integer's); any float will do for a
        // literal-only `if`.
        if matches!(self.vars[v.0].ty, Ty::Float(_)) {
            let ty = self.nodes.iter().rev().find_map(|n| match (n.ty, &n.op) {
                (Ty::Float(Some(t)), _) => Some(t),
                _ => None,
            });
            self.vars[v.0].ty = Ty::Float(ty);
        }
        self.read(v, span)
    }

    /// Lowers a loop body with the flags its `break`s and `continue`s set.
    fn loop_body(&mut self, body: &Block, span: Span, flags: LoopFlags) -> graph::Block {
        self.loops.push(flags);
        let block = self.nested(|cx| {
            if let Some(c) = flags.continued {
                let f = cx.bool_lit(false, span);
                cx.set(c, f);
            }
            cx.stmts(&body.stmts, &mut |_| None);
        });
        self.loops.pop();
        block
    }

    /// The flags a loop needs: only those its body can set.
    fn loop_flags(&mut self, body: &Block, span: Span) -> LoopFlags {
        let tokens = chains::block(body);
        LoopFlags {
            broke: escapes(tokens.clone(), "break").then(|| self.flag("broke", span)),
            continued: escapes(tokens, "continue").then(|| self.flag("continued", span)),
        }
    }

    /// The condition that keeps a loop going after a `break` or a `return`.
    fn not_exited(&mut self, flags: LoopFlags, span: Span) -> Option<NodeId> {
        let mut exited: Option<NodeId> = None;
        for f in flags.broke.into_iter().chain(self.ret.map(|r| r.done)) {
            let v = self.read(f, span);
            exited = Some(match exited {
                None => v,
                Some(a) => self.push(Op::Or, vec![a, v], Ty::Bool, span),
            });
        }
        exited.map(|e| self.push(Op::Not, vec![e], Ty::Bool, span))
    }

    fn for_(&mut self, f: &syn::ExprForLoop) {
        if let Some(label) = &f.label {
            self.errors.push(err(
                label,
                "loop labels are not supported: use `break` on the innermost loop",
            ));
        }
        let (range, reverse) = match &*f.expr {
            Expr::MethodCall(m) if m.method == "rev" && m.args.is_empty() => {
                (strip(&m.receiver), true)
            }
            other => (strip(other), false),
        };
        let Expr::Range(range) = range else {
            self.for_iter(f);
            return;
        };
        let (Some(start), Some(end)) = (&range.start, &range.end) else {
            self.errors
                .push(err(range, "the range needs both bounds, as in `0..n`"));
            return;
        };
        let inclusive = matches!(range.limits, syn::RangeLimits::Closed(_));
        let start = self.expr(start);
        let end = self.expr(end);
        let name = match &*f.pat {
            Pat::Ident(p) => p.ident.to_string(),
            Pat::Wild(_) => "_".to_owned(),
            other => {
                self.errors.push(err(
                    other,
                    "the loop variable of a range must be a name or `_`",
                ));
                "_".to_owned()
            }
        };
        let range = LoopRange {
            start,
            end,
            inclusive,
            reverse,
        };
        self.counted_loop(f, range, name, &mut |cx, i| {
            if let Pat::Ident(p) = &*f.pat {
                cx.bind(&p.ident, Bound::Node(i), false);
            }
        });
    }

    /// `for` over a counter: `bind` binds the loop's pattern from the counter, then the body
    /// follows.
    fn counted_loop(
        &mut self,
        f: &syn::ExprForLoop,
        range: LoopRange,
        name: String,
        bind: &mut dyn FnMut(&mut Self, NodeId),
    ) {
        let span = f.for_token.span;
        let LoopRange {
            start,
            end,
            inclusive,
            reverse,
        } = range;
        let flags = self.loop_flags(&f.body, span);
        let counter = self.counters;
        self.counters += 1;
        let mut body = {
            self.forget();
            self.blocks.push(graph::Block::default());
            self.scopes.open();
            let i = self.push(Op::Counter(counter), vec![], Ty::Int, f.pat.span());
            self.nodes[i.0].name = Some(name.clone());
            bind(self, i);
            let inner = self.loop_body(&f.body, span, flags);
            self.emit_all(inner);
            self.scopes.close();
            self.forget();
            self.blocks.pop().expect("pushed above")
        };
        if flags.broke.is_some() || self.ret.is_some() {
            // After a `break` (or `return`) the remaining iterations do nothing.
            let guarded = std::mem::take(&mut body);
            body = self.nested(|cx| {
                let Some(cond) = cx.not_exited(flags, span) else {
                    return;
                };
                cx.emit(graph::Stmt::If {
                    cond,
                    then: guarded,
                    otherwise: graph::Block::default(),
                });
            });
        }
        self.emit(graph::Stmt::For(graph::Loop {
            counter,
            name,
            start,
            end,
            inclusive,
            reverse,
            body,
        }));
    }

    fn emit_all(&mut self, block: graph::Block) {
        for stmt in block.0 {
            self.emit(stmt);
        }
    }

    fn while_(&mut self, w: &syn::ExprWhile) {
        let span = w.while_token.span;
        if let Some(label) = &w.label {
            self.errors.push(err(
                label,
                "loop labels are not supported: use `break` on the innermost loop",
            ));
        }
        // A condition with statements, `while { r = x * x; r < 1.0 } { .. }` (the do-while of
        // Rust): the loop it is, `loop { if !{ r = x * x; r < 1.0 } { break; } .. }`, so that its
        // assignments are statements of the loop's body, which the backward sweep reverses, and
        // a `break` in the body leaves before the condition runs again.
        if holds_punct(w.cond.to_token_stream(), ';') {
            let (cond, body) = (&w.cond, &w.body);
            let as_loop: syn::ExprLoop = syn::parse_quote_spanned!(span=>
                loop {
                    if !(#cond) {
                        break;
                    }
                    #body
                }
            );
            self.loop_(&as_loop);
            return;
        }
        let flags = self.loop_flags(&w.body, span);
        let mut test = None;
        let cond = self.nested(|cx| {
            let c = cx.expr(&w.cond);
            test = Some(match cx.not_exited(flags, span) {
                Some(running) => cx.push(Op::And, vec![running, c], Ty::Bool, span),
                None => c,
            });
        });
        let body = self.loop_body(&w.body, span, flags);
        self.emit(graph::Stmt::While {
            cond,
            test: test.expect("set above"),
            body,
        });
    }

    fn loop_(&mut self, l: &syn::ExprLoop) {
        let span = l.loop_token.span;
        if let Some(label) = &l.label {
            self.errors.push(err(
                label,
                "loop labels are not supported: use `break` on the innermost loop",
            ));
        }
        let flags = self.loop_flags(&l.body, span);
        if flags.broke.is_none() && self.ret.is_none() {
            self.errors.push(err(
                l.loop_token,
                "a `loop` without `break` or `return` never ends: add a `break` or a `return`, or use `while` or `for`",
            ));
            return;
        }
        let mut test = None;
        let cond = self.nested(|cx| {
            test = Some(match cx.not_exited(flags, span) {
                Some(t) => t,
                None => cx.bool_lit(true, span),
            });
        });
        let body = self.loop_body(&l.body, span, flags);
        self.emit(graph::Stmt::While {
            cond,
            test: test.expect("set above"),
            body,
        });
    }

    /// `break` or `continue`: sets the innermost loop's flag.
    fn exit(&mut self, span: Span, unsupported: bool, is_break: bool) {
        let word = if is_break { "break" } else { "continue" };
        if unsupported {
            self.errors.push(syn::Error::new(
                span,
                format!("`{word}` with a label or a value is not supported: use a plain `{word}`"),
            ));
            return;
        }
        let flag = self
            .loops
            .last()
            .and_then(|l| if is_break { l.broke } else { l.continued });
        match flag {
            Some(f) => {
                let t = self.bool_lit(true, span);
                self.set(f, t);
            }
            None => self
                .errors
                .push(syn::Error::new(span, format!("`{word}` outside of a loop"))),
        }
    }

    fn return_(&mut self, r: &syn::ExprReturn) {
        let Some(flags) = self.ret else {
            self.errors.push(err(
                r,
                "`return` is supported as the last statement or inside the body's statements",
            ));
            return;
        };
        let span = match (&r.expr, flags.value) {
            (Some(e), Some(result)) => {
                let v = self.expr(e);
                self.set(result, v);
                let first = r.return_token.span;
                first.join(last_span(e)).unwrap_or(first)
            }
            (None, None) => r.return_token.span,
            (None, Some(_)) => {
                self.errors
                    .push(err(r, "`return` needs the value of the function"));
                return;
            }
            (Some(e), None) => {
                self.errors.push(err(
                    e,
                    "this function returns through its out-parameters: write `return;`",
                ));
                return;
            }
        };
        let t = self.bool_lit(true, span);
        self.set(flags.done, t);
        // Every enclosing loop stops.
        let broke: Vec<VarId> = self.loops.iter().filter_map(|l| l.broke).collect();
        for b in broke {
            self.set(b, t);
        }
    }

    fn expr(&mut self, expr: &Expr) -> NodeId {
        if self.depth >= max_depth() {
            if self.overflowed {
                return self.placeholder(first_span(expr));
            }
            self.overflowed = true;
            met_limit();
            return self.fail(syn::Error::new(
                first_span(expr),
                format!(
                    "expression nested more than {} levels deep, more than the macro follows (a flat chain `a + b + c + ..` of any length is fine): split it with `let` bindings",
                    max_depth()
                ),
            ));
        }
        self.depth += 1;
        let node = self.expr_inner(expr);
        self.depth -= 1;
        node
    }

    fn expr_inner(&mut self, expr: &Expr) -> NodeId {
        if let Expr::Binary(b) = expr {
            return self.binary_chain(b);
        }
        let span = chains::expr_span(expr);
        match expr {
            Expr::Lit(lit) => self.lit(&lit.lit),
            Expr::Path(p) if p.qself.is_none() => self.path(p),
            Expr::If(i) => self.if_value(i),
            Expr::Field(f) if matches!(f.member, syn::Member::Named(_)) => self.field(f, expr),
            Expr::Field(f) => self.tuple_field(f, expr),
            Expr::Index(index) => {
                if let Some(n) = self.view_index(index) {
                    return n;
                }
                if let Some(n) = self.nested_element(index) {
                    return n;
                }
                let Some(v) = self.array_of(&index.expr) else {
                    return self.placeholder(span);
                };
                self.index_of_field(&index.index);
                let i = self.expr(&index.index);
                let key = (v, self.operand_key(i));
                if let Some(&n) = self.loads.get(&key) {
                    return n;
                }
                let ty = self.vars[v.0].ty;
                let n = self.push(Op::Load(v), vec![i], ty, span);
                self.loads.insert(key, n);
                n
            }
            Expr::MethodCall(m) if m.method == "len" && m.args.is_empty() => self.len(m, span),
            // `x.is_empty()`, as `assert!(!x.is_empty())` writes it: `x.len() == 0`.
            Expr::MethodCall(m) if m.method == "is_empty" && m.args.is_empty() => {
                let len = self.len(m, span);
                let zero = self.push(Op::Lit(LitValue::Int(0), None), vec![], Ty::Int, span);
                self.push(Op::Cmp(CmpOp::Eq), vec![len, zero], Ty::Bool, span)
            }
            // `T::from(c).unwrap()` in a function generic over `T: Float`.
            Expr::MethodCall(m)
                if self.generic.is_some() && (m.method == "unwrap" || m.method == "expect") =>
            {
                match self.generic_constant(expr) {
                    Some(n) => n,
                    None => self.fail(unsupported(expr)),
                }
            }
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Block(b) if b.label.is_none() => self.block(&b.block),
            Expr::Unary(u) => match u.op {
                UnOp::Neg(_) => {
                    let a = self.expr(&u.expr);
                    let ty = self.nodes[a.0].ty;
                    self.push(Op::Prim(Prim::Neg), vec![a], ty, span)
                }
                UnOp::Not(_) => self.not(&u.expr, span),
                UnOp::Deref(_) => self.deref(u),
                _ => self.fail(err(
                    u.op,
                    "dereferencing is not supported: use the values directly",
                )),
            },
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
                if let Some(n) = self.iterator_method(m) {
                    return n;
                }
                if let Some(t) = &m.turbofish {
                    return self.fail(err(
                        t,
                        "method calls with turbofish are not supported: remove it (`sum::<f64>()` and `product::<f64>()` are the exceptions)",
                    ));
                }
                let name = m.method.to_string();
                if let Expr::Path(r) = strip(&m.receiver)
                    && r.path.is_ident("self")
                    && Prim::find(Syntax::Method, &name).is_none()
                {
                    // Another method of this type, differentiated through `self.name_grad(..)`.
                    let prefix = quote::quote!(self.);
                    let args: Vec<&Expr> = m.args.iter().collect();
                    return self.user_call(prefix, &m.method, &args, span);
                }
                if let Some(n) = self.struct_method(m, span) {
                    return n;
                }
                let Some(prim) = Prim::find(Syntax::Method, &name) else {
                    return self.int_method(m, span);
                };
                let mut args = vec![&*m.receiver];
                args.extend(m.args.iter());
                self.apply(prim, &args, span, &m.method, None)
            }
            Expr::Call(c) => self.call(c),
            Expr::Match(m) => self.match_value(m),
            Expr::Macro(m) => self.macro_value(&m.mac),
            Expr::Reference(r) if r.mutability.is_none() && !self.names_array(&r.expr) => {
                // `&x` of a value is the value: arithmetic on `&f64` reads through it.
                self.expr(&r.expr)
            }
            other => self.fail(unsupported(other)),
        }
    }

    /// `t.0` of a pair bound to the name `t`.
    #[inline(never)]
    fn tuple_field(&mut self, f: &syn::ExprField, expr: &Expr) -> NodeId {
        let syn::Member::Unnamed(index) = &f.member else {
            unreachable!("named fields are read by `field`")
        };
        let Some((Bound::Tuple(k), _)) = self.local_binding(strip(&f.base)) else {
            return self.fail(unsupported(expr));
        };
        match self.tuples[k].get(index.index as usize) {
            Some(iter::Item::Value(n)) => *n,
            Some(_) => self.fail(err(
                f,
                "this part is not a number: destructure the item, as in `(i, w)`, and use `w`",
            )),
            None => self.fail(err(
                &f.member,
                format!("this item has {} parts", self.tuples[k].len()),
            )),
        }
    }

    /// `p.a`: a field of a struct parameter or of `self`, else of a constant.
    fn field(&mut self, f: &syn::ExprField, expr: &Expr) -> NodeId {
        if let Some(n) = self.field_value(expr) {
            return n;
        }
        let base = self.expr(&f.base);
        let name = f.member.to_token_stream();
        self.push(Op::Member(name), vec![base], Ty::Other, expr.span())
    }

    /// `x.len()`: a constant, or the length node of a buffer or an array field.
    fn len(&mut self, m: &syn::ExprMethodCall, span: Span) -> NodeId {
        if let Some(view) = self.view_of(&m.receiver) {
            let n = self.view_len(view, span);
            return self.usize_literal(n, span);
        }
        if let Some(n) = self.field_len(&m.receiver) {
            return n;
        }
        let Some(v) = self.array_of(&m.receiver) else {
            return self.placeholder(span);
        };
        if let Shape::Buffer(len) = self.vars[v.0].shape {
            return self.usize_literal(len, span);
        }
        self.push(Op::Len(v), vec![], Ty::Int, span)
    }

    /// The length of a buffer, `3` of `vec![x; 3]` or `[0.0; 3]`, as a `usize`: written `3usize`,
    /// since an unsuffixed literal has no type of its own (`h.len().pow(2)` would not compile).
    fn usize_literal(&mut self, len: NodeId, span: Span) -> NodeId {
        match &self.nodes[len.0].op {
            Op::Lit(LitValue::Int(n), tokens)
                if tokens.as_ref().is_none_or(|t| {
                    syn::parse2::<syn::LitInt>(t.clone()).is_ok_and(|l| l.suffix().is_empty())
                }) =>
            {
                let literal = syn::LitInt::new(&format!("{n}usize"), span).to_token_stream();
                let n = *n;
                self.push(
                    Op::Lit(LitValue::Int(n), Some(literal)),
                    vec![],
                    Ty::Int,
                    span,
                )
            }
            _ => len,
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
                    generic::written_float(Ty::Float(suffix_ty(f.suffix()))),
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
                            generic::written_float(Ty::Float(Some(t))),
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
            // Constants with no derivative, emitted as written: `c == 'a'`, `mode == "relu"`,
            // and a byte, an integer: `b'0'`.
            Lit::Byte(_) => self.push(Op::Const(lit.to_token_stream()), vec![], Ty::Int, span),
            Lit::Char(_) | Lit::Str(_) | Lit::ByteStr(_) | Lit::CStr(_) => {
                self.push(Op::Const(lit.to_token_stream()), vec![], Ty::Other, span)
            }
            other => self.fail(err(
                other,
                "this literal is not supported in a differentiated function: use numbers, `bool`s, characters, bytes and strings",
            )),
        }
    }

    fn path(&mut self, p: &syn::ExprPath) -> NodeId {
        if p.path.is_ident("self") {
            if self.receiver.is_none() {
                return self.fail(err(p, "`self` is only available in a method"));
            }
            return self.push(
                Op::SelfValue(p.to_token_stream()),
                vec![],
                Ty::Other,
                p.span(),
            );
        }
        if let Some(ident) = p.path.get_ident()
            && let Some(b) = self.lookup(&ident.to_string())
        {
            return match b.bound {
                Bound::Node(n) => n,
                Bound::Var(v) if matches!(self.vars[v.0].shape, Shape::Scalar) => {
                    self.read(v, ident.span())
                }
                Bound::Var(_) | Bound::View(_) => self.fail(err(
                    ident,
                    format!("`{ident}` is an array: use its elements, as in `{ident}[i]`, or `{ident}.len()`"),
                )),
                Bound::Closure(_) => self.fail(err(
                    ident,
                    format!("`{ident}` is a closure: call it, as in `{ident}(x)`"),
                )),
                Bound::Tuple(_) => self.fail(err(
                    ident,
                    format!("`{ident}` is a pair: use its parts, `{ident}.0` and `{ident}.1`, or destructure it, as in `(i, v)`"),
                )),
                Bound::Failed => {
                    self.errors.follow_on();
                    self.placeholder(ident.span())
                }
            };
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
            .map_or(Ty::Other, generic::written_float);
        self.push(Op::Const(p.to_token_stream()), vec![], ty, p.span())
    }

    /// A chain of binary operators, `a + b - c * d + ..`. `syn` parses it left-nested, so its
    /// left spine is as deep as the chain is long (a sum of 10,000 terms printed by a symbolic
    /// code generator is 10,000 levels deep); it is lowered by walking down the spine, not by
    /// recursion, and the spine does not count as nesting: only the operands are a level deeper.
    fn binary_chain(&mut self, top: &syn::ExprBinary) -> NodeId {
        let mut spine = vec![top];
        let mut leftmost = &*top.left;
        while let Expr::Binary(b) = leftmost {
            spine.push(b);
            leftmost = &b.left;
        }
        let first = first_span(leftmost);
        let mut acc = self.expr(leftmost);
        for b in spine.into_iter().rev() {
            // `binary_span(b)`, without walking down the spine again for every link.
            let span = first.join(last_span(&b.right)).unwrap_or(first);
            acc = self.binary(b, acc, span);
        }
        acc
    }

    /// `l op b.right`, with `l` lowered already.
    fn binary(&mut self, b: &syn::ExprBinary, l: NodeId, span: Span) -> NodeId {
        let arith = match b.op {
            BinOp::Add(_) => Some(Prim::Add),
            BinOp::Sub(_) => Some(Prim::Sub),
            BinOp::Mul(_) => Some(Prim::Mul),
            BinOp::Div(_) => Some(Prim::Div),
            BinOp::Rem(_) => Some(Prim::Rem),
            BinOp::BitAnd(_) => Some(Prim::BitAnd),
            BinOp::BitOr(_) => Some(Prim::BitOr),
            BinOp::BitXor(_) => Some(Prim::BitXor),
            BinOp::Shl(_) => Some(Prim::Shl),
            BinOp::Shr(_) => Some(Prim::Shr),
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
        if let BinOp::And(_) | BinOp::Or(_) = b.op {
            let r = self.expr(&b.right);
            let op = if matches!(b.op, BinOp::And(_)) {
                Op::And
            } else {
                Op::Or
            };
            return self.push(op, vec![l, r], Ty::Bool, span);
        }
        if arith.is_none() && cmp.is_none() {
            let message = if compound(&b.op).is_some() {
                "a compound assignment is a statement: write it on its own line, as in `s += x;`"
            } else {
                "this operator is not supported: use `+ - * / %`, the integer operators `& | ^ << >>`, comparisons, `&&`, `||` and `!`"
            };
            return self.fail(err(b.op, message));
        }
        let r = self.expr(&b.right);
        if let Some(prim) = arith {
            let ty = if prim.is_bitwise() {
                match self.bitwise_type(prim, l, r, b.op.span()) {
                    Ok(ty) => ty,
                    Err(placeholder) => return placeholder,
                }
            } else {
                let ty = self.nodes[l.0].ty.join(self.nodes[r.0].ty);
                self.arithmetic_type(l, r, ty)
            };
            // Index arithmetic is shared, so that `x[i + 1]` twice is one element.
            if ty == Ty::Int {
                let key = (prim, self.operand_key(l), self.operand_key(r));
                if let Some(&n) = self.indices.get(&key) {
                    return n;
                }
                let n = self.push(Op::Prim(prim), vec![l, r], ty, span);
                self.indices.insert(key, n);
                return n;
            }
            self.push(Op::Prim(prim), vec![l, r], ty, span)
        } else {
            let op = cmp.expect("checked above");
            self.push(Op::Cmp(op), vec![l, r], Ty::Bool, span)
        }
    }

    /// The type of `l op r` for a bit operator `& | ^ << >>`: an integer (a constant, with no
    /// derivative), of the left operand's type for a shift. On anything but integers it is an
    /// error, returned as the placeholder that stands for the value.
    #[inline(never)]
    fn bitwise_type(&mut self, prim: Prim, l: NodeId, r: NodeId, span: Span) -> Result<Ty, NodeId> {
        let (lt, rt) = (self.nodes[l.0].ty, self.nodes[r.0].ty);
        let integer = |t: Ty| matches!(t, Ty::Int | Ty::Other);
        if integer(lt) && integer(rt) {
            return Ok(if matches!(prim, Prim::Shl | Prim::Shr) {
                lt
            } else {
                lt.join(rt)
            });
        }
        let op = prim.name();
        let message = if lt == Ty::Bool || rt == Ty::Bool {
            let instead = match prim {
                Prim::BitAnd => "`&&`",
                Prim::BitOr => "`||`",
                Prim::BitXor => "`!=`",
                _ => "an `if`",
            };
            format!("`{op}` is supported on integers only: on `bool`s write {instead}")
        } else {
            format!(
                "`{op}` is defined on integers only, and an operand here is a float: use it on integer indices and counters, as in `x[i {op} 1]`"
            )
        };
        Err(self.fail(syn::Error::new(span, message)))
    }

    /// `f64::exp(x)`, `sigmoid(x)`, `autodiff::relu(x)`.
    fn call(&mut self, c: &syn::ExprCall) -> NodeId {
        // `c.span()`, without printing the arguments.
        let first = first_span(&c.func);
        let span = first.join(c.paren_token.span.join()).unwrap_or(first);
        // `T::one()`, `T::zero()` in a function generic over `T: Float`.
        if self.generic.is_some()
            && let Some(n) = self.generic_constant_call(c)
        {
            return n;
        }
        if call_into::writes_into(c) {
            return self.fail(err(
                c,
                "a call that writes into a `&mut` buffer is a statement: write `g(.., &mut out);` on its own line, then read `out`",
            ));
        }
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
        if let Some(ident) = func.path.get_ident()
            && let Some(Binding {
                bound: Bound::Closure(k),
                ..
            }) = self.lookup(&ident.to_string())
        {
            let k = *k;
            return self.call_closure(k, &args, span);
        }
        if func.qself.is_none()
            && let Some(n) = self.float_method_call(&func.path, &args, span)
        {
            return n;
        }
        let last = &func
            .path
            .segments
            .last()
            .expect("a path has a segment")
            .ident;
        match owner {
            Some(owner @ ("f64" | "f32")) => {
                let ty = if owner == "f64" {
                    FloatTy::F64
                } else {
                    FloatTy::F32
                };
                if name == "from" && args.len() == 1 {
                    // `f64::from(x)`, the lossless cast: differentiable as `x as f64` is.
                    let a = self.expr(args[0]);
                    return self.push(
                        Op::Cast(CastTo::Float(ty)),
                        vec![a],
                        Ty::Float(Some(ty)),
                        span,
                    );
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
            Some(owner) if INTEGERS.contains(&owner) && last_segment_plain(&func.path) => {
                // `usize::pow(2, k)`, `i64::rem_euclid(a, b)`: a constant.
                let ty = Ident::new(owner, first_span(&c.func));
                let ids: Vec<NodeId> = args.iter().map(|a| self.expr(a)).collect();
                if let Some(a) = ids
                    .iter()
                    .position(|a| !matches!(self.nodes[a.0].ty, Ty::Int | Ty::Bool))
                {
                    return self.fail(err(
                        args[a],
                        format!(
                            "`{owner}::{name}` takes integers here: convert this argument with `as`"
                        ),
                    ));
                }
                let result = int_method_type(name);
                self.push(
                    Op::IntMethod(Some(ty.into_token_stream()), last.clone()),
                    ids,
                    result,
                    span,
                )
            }
            None | Some("autodiff" | "autodiff_runtime")
                if Prim::find(Syntax::Runtime, name).is_some() =>
            {
                let prim = Prim::find(Syntax::Runtime, name).expect("checked by the guard");
                if owner.is_none() {
                    // Unqualified, the name is whatever is in scope: a function of the user's
                    // own called `sigmoid` must not be differentiated as the runtime's. The
                    // expansion does not compile unless it is the runtime's.
                    let id = last;
                    let check = quote::quote_spanned! {id.span()=>
                        const _: () = ::autodiff::private::unqualified_name_is_the_runtime_function(::autodiff::#id::<f64>, #id);
                    };
                    let text = check.to_string();
                    if !self.checks.iter().any(|i| i.to_string() == text) {
                        self.checks.push(check);
                    }
                }
                self.apply(prim, &args, span, last, None)
            }
            _ if func.qself.is_some() => self.fail(err(
                &c.func,
                "qualified calls are supported for `<f64>::method` only",
            )),
            _ if !last_segment_plain(&func.path) => self.fail(err(
                &c.func,
                "generic calls are not supported: call a function of `f64` or `f32`",
            )),
            _ => {
                // A user function, differentiated through `name_grad` and `name_jvp`.
                let mut prefix = TokenStream::new();
                let path = &func.path;
                if let Some(colon) = &path.leading_colon {
                    colon.to_tokens(&mut prefix);
                }
                for pair in path.segments.pairs() {
                    if let syn::punctuated::Pair::Punctuated(seg, sep) = pair {
                        seg.to_tokens(&mut prefix);
                        sep.to_tokens(&mut prefix);
                    }
                }
                self.user_call(prefix, last, &args, span)
            }
        }
    }

    /// `g(args)` for a function the macro does not know: scalars in, a float out.
    fn user_call(
        &mut self,
        prefix: TokenStream,
        name: &Ident,
        args: &[&Expr],
        span: Span,
    ) -> NodeId {
        let mut ids = Vec::new();
        let mut refs = Vec::new();
        for a in args {
            refs.push(self.passes_reference(a));
            // A whole array or slice: `x`, or `&h` for a local array.
            let (inner, by_ref) = match strip(a) {
                Expr::Reference(r) if r.mutability.is_none() => (&*r.expr, true),
                other => (other, false),
            };
            // A `let` table of constants, bound to a reference to it: `*t` by value, `t` by
            // reference, a constant argument.
            if let Some((Bound::Var(v), _)) = self.local_binding(inner)
                && self.nested_locals.contains_key(&v)
            {
                let refs = i8::from(by_ref) - 1;
                ids.push(self.push(Op::Array(v, refs), vec![], Ty::Other, a.span()));
                continue;
            }
            if let Some((Bound::Var(v), _)) = self.local_binding(inner)
                && !matches!(self.vars[v.0].shape, Shape::Scalar)
            {
                let ty = self.vars[v.0].ty;
                ids.push(self.push(Op::Array(v, i8::from(by_ref)), vec![], ty, a.span()));
                continue;
            }
            // `g(&A)` of a constant the function does not bind: passed as written, by reference.
            if by_ref
                && let Expr::Path(p) = inner
                && p.qself.is_none()
                && p.path
                    .get_ident()
                    .is_none_or(|i| self.lookup(&i.to_string()).is_none())
                && !self.names_field(inner)
            {
                let span = a.span();
                let path = &p.path;
                ids.push(self.push(
                    Op::Const(quote::quote_spanned!(span=> &#path)),
                    vec![],
                    Ty::Other,
                    span,
                ));
                continue;
            }
            // `g(&f)` of `let f = h(v);`: `h` may return an array, which the macro cannot see.
            if by_ref
                && let Some((Bound::Node(n), _)) = self.local_binding(inner)
                && matches!(self.nodes[n.0].op, Op::Call(_) | Op::CallGrad(_))
            {
                ids.push(self.fail(err(
                    a,
                    "this holds a call's result, whose type the macro cannot see: an array is passed on when its type is written where it is bound, `let p: [f64; 2] = g(..);`, and a float by value, `h(s)`",
                )));
                continue;
            }
            if let Expr::Array(literal) = strip(inner) {
                // `g(&[0.5, x])`: a local array passed whole.
                let v = self.array_literal(literal, None, "array");
                let ty = self.vars[v.0].ty;
                ids.push(self.push(Op::Array(v, i8::from(by_ref)), vec![], ty, a.span()));
                continue;
            }
            // `g(&p.w)`, `g(&p.w[1..])`: a field passed by reference is an array field, even
            // where the body reads it no other way.
            if by_ref && self.names_field(field_under_range(inner)) && !self.learn_array_field(a) {
                ids.push(self.placeholder(a.span()));
                continue;
            }
            if self.names_array(a) {
                let view = self.view_of(a).expect("checked by names_array");
                let ty = self.vars[view.var.0].ty;
                let node = match view.offset {
                    // Written with the `&`s of the argument and of the names bound on the way.
                    None => self.push(Op::Array(view.var, view.refs), vec![], ty, a.span()),
                    Some(start) => {
                        // `&x[start..start + len]`: a window, a chunk or a sub-slice.
                        let end = self.view_end(view, start, a.span());
                        self.push(Op::Part(view.var), vec![start, end], ty, a.span())
                    }
                };
                ids.push(node);
                continue;
            }
            ids.push(self.expr(a));
        }
        self.type_field_args(&ids);
        let floats: Box<[bool]> = ids
            .iter()
            // A constant of a type the macro does not see (a struct, a field, a `const`) has no
            // entry: `g_grad`'s arity is checked where it is called.
            .map(|a| matches!(self.nodes[a.0].ty, Ty::Float(_)))
            .collect();
        let ty = ids
            .iter()
            .find_map(|a| match self.nodes[a.0].ty {
                Ty::Float(Some(t)) => Some(Ty::Float(Some(t))),
                _ => None,
            })
            .unwrap_or(Ty::Float(None));
        let buffers = self
            .sibling_buffers(&prefix, name, &ids)
            .map(Vec::into_boxed_slice);
        // Only a float is passed by reference as a float is: an array has its own node.
        for (r, a) in refs.iter_mut().zip(&ids) {
            let node = &self.nodes[a.0];
            *r &=
                matches!(node.ty, Ty::Float(_)) && !matches!(node.op, Op::Array(..) | Op::Part(_));
        }
        if !refs.contains(&true) {
            refs.clear();
        }
        let callee = graph::Callee {
            prefix,
            name: name.clone(),
            floats,
            buffers,
            refs: refs.into(),
            scratch: Vec::new(),
        };
        self.push(Op::Call(callee), ids, ty, span)
    }

    /// Whether a call's argument is a reference to a float: `&y`, or a parameter `x: &f64`
    /// passed on by its name.
    pub(super) fn passes_reference(&self, a: &Expr) -> bool {
        match strip(a) {
            Expr::Reference(r) => r.mutability.is_none(),
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().is_some_and(|i| {
                let name = i.to_string();
                self.ref_params
                    .iter()
                    .any(|(n, at)| names::same(n, &name) && self.scopes.binds_at(&name, *at))
            }),
            _ => false,
        }
    }

    /// For a call `g(args)` of a function differentiated in the same block, with `g_grad_into`:
    /// for each argument, whether it is a slice after which `g_grad_into` takes a buffer. `None`
    /// where the arguments do not match `g`'s parameters as its source reads (`g_grad` is then
    /// called, as for any function).
    #[inline(never)]
    fn sibling_buffers(
        &self,
        prefix: &TokenStream,
        name: &Ident,
        args: &[NodeId],
    ) -> Option<Vec<bool>> {
        let prefix = prefix.to_string();
        let by_name = match prefix.as_str() {
            "" => !IN_IMPL.get(),
            "Self ::" => IN_IMPL.get(),
            _ => false,
        };
        if !by_name {
            return None;
        }
        let params = SIBLINGS.with_borrow(|s| s.get(&name.to_string()).cloned())?;
        if params.len() != args.len() {
            return None;
        }
        params
            .iter()
            .zip(args)
            .map(|(param, &a)| {
                let node = &self.nodes[a.0];
                let array = matches!(node.op, Op::Array(..) | Op::Part(_));
                let float = matches!(node.ty, Ty::Float(_));
                match param {
                    ParamKind::Slice if array && float => Some(true),
                    ParamKind::Float if !array && float => Some(false),
                    ParamKind::Constant if !float => Some(false),
                    _ => None,
                }
            })
            .collect()
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
        // `f64::exp(2.0)` has the type its path names, whatever the receiver's.
        if let Some(t) = float {
            return self.push(Op::Prim(prim), ids, Ty::Float(Some(t)), span);
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

/// Whether the last segment of a path has no generic arguments.
fn last_segment_plain(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.arguments.is_none())
}

/// `b.span()`, without printing the chain of operators `b` may be.
fn binary_span(b: &syn::ExprBinary) -> Span {
    let first = first_span(&b.left);
    first.join(last_span(&b.right)).unwrap_or(first)
}

/// The span of the first token of `e`, found without printing a chain of binary operators.
fn first_span(e: &Expr) -> Span {
    let mut e = e;
    while let Expr::Binary(b) = e {
        e = &b.left;
    }
    chains::expr(e)
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// The span of the last token of `e`, found without printing a chain of binary operators.
fn last_span(e: &Expr) -> Span {
    let mut e = e;
    while let Expr::Binary(b) = e {
        e = &b.right;
    }
    chains::expr(e)
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |t| t.span())
}

/// An expression without the parentheses around it.
fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        e => e,
    }
}

/// `[f64; N]`, `&[f64; N]` or `&[f64]` (or `f32`): the shape and the element's float type.
/// Whether a type is an array or slice of arrays, `[[f64; K]; N]` or `&[[f64; K]]`.
fn nested_array_type(ty: &Type) -> bool {
    match ty {
        Type::Array(a) => matches!(&*a.elem, Type::Array(_)),
        Type::Slice(sl) => matches!(&*sl.elem, Type::Array(_)),
        Type::Reference(r) => nested_array_type(&r.elem),
        Type::Paren(p) => nested_array_type(&p.elem),
        _ => false,
    }
}

/// The float type of the elements of an array or slice of arrays, `[[f32; K]; N]` or
/// `&[[f64; K]]`.
fn nested_float(ty: &Type) -> Option<FloatTy> {
    match ty {
        Type::Array(syn::TypeArray { elem, .. }) | Type::Slice(syn::TypeSlice { elem, .. }) => {
            match &**elem {
                Type::Array(row) => float_type(&row.elem),
                _ => None,
            }
        }
        Type::Reference(r) => nested_float(&r.elem),
        Type::Paren(p) => nested_float(&p.elem),
        _ => None,
    }
}

fn array_type(ty: &Type) -> Option<(Shape, Option<FloatTy>)> {
    match ty {
        Type::Array(a) => Some((
            Shape::Array {
                len: a.len.to_token_stream(),
                by_ref: false,
            },
            float_type(&a.elem),
        )),
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Array(a) => Some((
                Shape::Array {
                    len: a.len.to_token_stream(),
                    by_ref: true,
                },
                float_type(&a.elem),
            )),
            Type::Slice(sl) => Some((Shape::Slice, float_type(&sl.elem))),
            _ => None,
        },
        Type::Paren(p) => array_type(&p.elem),
        _ => None,
    }
}

/// The range a counted loop runs over.
#[derive(Clone, Copy)]
struct LoopRange {
    start: NodeId,
    end: NodeId,
    inclusive: bool,
    reverse: bool,
}

enum Tail<'a> {
    Expr(&'a Expr),
    Missing(Span),
    /// The last statement is a `loop` left only by `return`, which sets the value.
    Loop,
}

fn compound(op: &BinOp) -> Option<Prim> {
    match op {
        BinOp::AddAssign(_) => Some(Prim::Add),
        BinOp::SubAssign(_) => Some(Prim::Sub),
        BinOp::MulAssign(_) => Some(Prim::Mul),
        BinOp::DivAssign(_) => Some(Prim::Div),
        BinOp::RemAssign(_) => Some(Prim::Rem),
        BinOp::BitAndAssign(_) => Some(Prim::BitAnd),
        BinOp::BitOrAssign(_) => Some(Prim::BitOr),
        BinOp::BitXorAssign(_) => Some(Prim::BitXor),
        BinOp::ShlAssign(_) => Some(Prim::Shl),
        BinOp::ShrAssign(_) => Some(Prim::Shr),
        _ => None,
    }
}

/// The error for an expression outside the supported subset, naming what to use instead.
fn unsupported(expr: &Expr) -> syn::Error {
    let what = match expr {
        Expr::Closure(_) => {
            "a closure is supported bound with `let` and called (`let f = |v: f64| v * v; f(x)`), or as the argument of `map` or `fold`"
        }
        Expr::Macro(_) => {
            "macros are not supported in a differentiated function: write the computation with supported expressions"
        }
        Expr::Unsafe(_) => "`unsafe` blocks are not supported: a differentiated body is safe Rust",
        Expr::Async(_) | Expr::Await(_) => {
            "`async` code cannot be differentiated: differentiate a plain `fn` and call it"
        }
        Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) | Expr::Break(_) | Expr::Continue(_) => {
            "a loop is a statement, not a value: end the block with the value computed after it"
        }
        Expr::Return(_) => "`return` is a statement: write `return value;` on its own line",
        Expr::Array(_) | Expr::Repeat(_) => {
            "an array is a value of a `let`, of an assignment to a whole array, of an argument or of an iterator's source: bind it, as in `let c = [a, b];` or `let mut h = [0.0; N];`"
        }
        Expr::Field(_) | Expr::Struct(_) | Expr::Tuple(_) => {
            "tuples and struct literals are not supported: read named fields, or pass the scalars as parameters"
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
            "{what}\n(supported: literals, constants, `let` and patterns, `+ - * / %`, comparisons, `as` casts, the `f64`/`f32` math methods, `sigmoid`, `relu`, `softplus`, blocks, `if`, `match`, `for` over ranges and iterators, `while`, `loop`, `break`, `continue`, `return`, indexing, arrays, iterator chains ending in `sum`, `product` or `fold`, closures, assertions)"
        ),
    )
}

/// Whether a statement always leaves its block: `return`, `break`, `continue`, or a macro that
/// panics.
pub(crate) fn diverges(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Expr(e, _) => expr_diverges(e),
        Stmt::Macro(m) => macro_diverges(&m.mac),
        _ => false,
    }
}

/// Whether an expression always leaves its block (see [`diverges`]).
pub(crate) fn expr_diverges(e: &Expr) -> bool {
    match strip(e) {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(m) => macro_diverges(&m.mac),
        _ => false,
    }
}

fn macro_diverges(mac: &syn::Macro) -> bool {
    mac.path.segments.last().is_some_and(|s| {
        matches!(
            s.ident.to_string().as_str(),
            "panic" | "unreachable" | "todo" | "unimplemented"
        )
    })
}

/// `p.w` of `p.w[a..b]`, or the expression itself.
pub(super) fn field_under_range(e: &Expr) -> &Expr {
    match strip(e) {
        Expr::Index(i) if matches!(strip(&i.index), Expr::Range(_)) => strip(&i.expr),
        other => other,
    }
}

impl Lowerer {
    /// `m.pred(x)`, a method of a struct parameter's type, the struct a constant (`wrt` leaves
    /// it out): differentiated through `m.pred_grad(..)`, as a method of `self` is. Out of the
    /// recursive lowering of expressions, whose stack frame bounds how deep they may nest.
    #[inline(never)]
    fn struct_method(&mut self, m: &syn::ExprMethodCall, span: Span) -> Option<NodeId> {
        if Prim::find(Syntax::Method, &m.method.to_string()).is_some() {
            return None;
        }
        let owner = self.constant_struct(&m.receiver)?;
        // Named as generated code names its parameters (`emit::Namer`).
        let owner = names::ident(&owner.to_string(), Span::mixed_site());
        let prefix = quote::quote!(#owner.);
        let args: Vec<&Expr> = m.args.iter().collect();
        Some(self.user_call(prefix, &m.method, &args, span))
    }

    /// `i.pow(2)`, `a.abs_diff(b)`: a method of an integer (one the table of float methods does
    /// not name), a constant the function computes as written. Of anything else, the error.
    /// Out of the recursive lowering of expressions, whose stack frame bounds how deep an
    /// expression may nest.
    #[inline(never)]
    fn int_method(&mut self, m: &syn::ExprMethodCall, span: Span) -> NodeId {
        if self.names_array(&m.receiver) {
            return self.fail(unsupported_method(&m.method));
        }
        let receiver = self.expr(&m.receiver);
        if matches!(self.nodes[receiver.0].ty, Ty::Float(_))
            && m.args.is_empty()
            && float_predicate(&m.method.to_string())
        {
            // `x.is_finite()`: a condition, with no derivative.
            return self.push(
                Op::IntMethod(None, m.method.clone()),
                vec![receiver],
                Ty::Bool,
                span,
            );
        }
        if self.nodes[receiver.0].ty != Ty::Int {
            return self.fail(unsupported_method(&m.method));
        }
        let mut ids = vec![receiver];
        ids.extend(m.args.iter().map(|a| self.expr(a)));
        // Its value is a constant only if every argument is (no integer method takes a float).
        if let Some(a) = ids[1..]
            .iter()
            .position(|a| !matches!(self.nodes[a.0].ty, Ty::Int | Ty::Bool))
        {
            return self.fail(err(
                &m.args[a],
                format!(
                    "the integer method `{}` takes integers here: convert this argument with `as`",
                    m.method
                ),
            ));
        }
        let ty = int_method_type(&m.method.to_string());
        self.push(Op::IntMethod(None, m.method.clone()), ids, ty, span)
    }
}

/// The error for a method the body does not take, out of the recursive lowering of expressions,
/// whose stack frame bounds how deep an expression may nest.
#[cold]
#[inline(never)]
fn unsupported_method(method: &Ident) -> syn::Error {
    let name = method.to_string();
    let bind = match name.as_str() {
        "split_at" | "split_at_mut" => Some("let (a, b) = x.{}(n);"),
        "to_vec" => Some("let s = x.{}();"),
        _ => None,
    };
    if let Some(bind) = bind {
        return err(
            method,
            format!(
                "`{name}` of an array is supported as the value of a `let`: write `{}`",
                bind.replace("{}", &name)
            ),
        );
    }
    if integer_method(&name) {
        return err(
            method,
            format!(
                "`{name}` is a method of integers, and the macro cannot see that this receiver is one: bind it to a name with its type first, as in `let n: usize = self.n;`{}",
                if name == "pow" {
                    " (a float takes `powi` or `powf`)"
                } else {
                    ""
                }
            ),
        );
    }
    err(
        method,
        format!(
            "`{name}` is not a supported method; the differentiable methods are: {}; a method of a type of your own is called by its path: `Type::{name}(receiver, ..)`",
            Prim::names(Syntax::Method).join(", ")
        ),
    )
}

/// The error for reading an array of arrays.
#[cold]
#[inline(never)]
pub(super) fn nested_array_error(e: &Expr) -> syn::Error {
    err(
        e,
        "an array of arrays (`[[f64; K]; N]`, `&[[f64; K]]`) is read only as a table of constants, element by element: `m[i][j]` of a `const`, of a parameter that `wrt` leaves out, or of a `let` of literals without `mut`; for one with derivatives, or to take a row `m[i]`, flatten it, `[f64; N * K]` or `&[f64]` indexed `m[i * K + j]`, or pass one array per row",
    )
}

/// The `bool` methods of a float: conditions with no derivative.
fn float_predicate(name: &str) -> bool {
    matches!(
        name,
        "is_finite"
            | "is_infinite"
            | "is_nan"
            | "is_normal"
            | "is_subnormal"
            | "is_sign_positive"
            | "is_sign_negative"
    )
}

/// Methods of Rust's integer types, and of no float type, that the body does not take.
fn integer_method(name: &str) -> bool {
    matches!(
        name,
        "pow"
            | "isqrt"
            | "ilog"
            | "ilog2"
            | "ilog10"
            | "abs_diff"
            | "count_ones"
            | "count_zeros"
            | "leading_zeros"
            | "trailing_zeros"
            | "is_power_of_two"
            | "next_power_of_two"
    ) || ["checked_", "wrapping_", "saturating_", "overflowing_"]
        .iter()
        .any(|p| name.starts_with(p))
}
