//! The computational graph: the intermediate representation every stage shares.
//!
//! A [`Graph`] is a list of [`Node`]s in evaluation order. A node is an operation or a variable;
//! its `args` are the edges that carry data into it, and they always point to earlier nodes, so
//! the list is a topological order and walking it backwards visits every consumer before its
//! producers. `let`, shadowing and reassignment never overwrite a node: each makes a new one,
//! which is what lets the backward sweep read every intermediate value it needs.
//!
//! Lowering builds the forward part from the user's body; the reverse and forward passes append
//! derivative nodes after it through [`crate::algebra::Builder`]. No stage after lowering sees
//! `syn`: constants the user spelled out travel as opaque token streams.

use crate::hash::HashSet;

use proc_macro2::{Ident, Span, TokenStream};

use crate::prim::Prim;

/// Index of a variable in [`Graph::vars`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub usize);

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// The two float types the macro differentiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FloatTy {
    F32,
    F64,
}

impl FloatTy {
    pub fn name(self) -> &'static str {
        match self {
            FloatTy::F32 => "f32",
            FloatTy::F64 => "f64",
        }
    }
}

/// What a node's value is, as far as differentiation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// A float; `None` for an unsuffixed literal whose type Rust infers from context.
    Float(Option<FloatTy>),
    /// Any integer: a constant for differentiation.
    Int,
    /// A comparison result.
    Bool,
    /// A constant of a type the macro does not see, such as a user's `const`.
    Other,
}

impl Ty {
    /// The float type of a value, if it is known to be a float.
    pub fn float(self) -> Option<FloatTy> {
        match self {
            Ty::Float(t) => t,
            _ => None,
        }
    }

    /// The type of `a op b` for an arithmetic operator.
    pub fn join(self, other: Ty) -> Ty {
        match (self, other) {
            (Ty::Float(Some(t)), _) | (_, Ty::Float(Some(t))) => Ty::Float(Some(t)),
            (Ty::Int, Ty::Int) => Ty::Int,
            (Ty::Int | Ty::Other, Ty::Int | Ty::Other) => Ty::Other,
            _ => Ty::Float(None),
        }
    }
}

/// A literal's value, kept so that derivative code can fold constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LitValue {
    Float(f64),
    Int(i128),
    Bool(bool),
}

/// Comparison operators, used by conditions and by the rules at kinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    /// The left matches the pattern on the right, a path such as an enum's unit variant
    /// (`Op::Add` in a `match` arm): `matches!(a, Op::Add)`, which needs no `PartialEq`.
    Is,
}

/// What a node computes.
#[derive(Clone, Debug)]
pub enum Op {
    /// The value of parameter `i` of the function.
    Param(usize),
    /// The tangent of parameter `i`, an input of `f_jvp`.
    Seed(usize),
    /// A literal; `tokens` holds the user's spelling when the user wrote it.
    Lit(LitValue, Option<TokenStream>),
    /// A named constant (`PI`, a user's `const`, `i32::MAX`), emitted as the user wrote it.
    Const(TokenStream),
    /// A well-known constant that derivative rules use, spelled for the node's float type.
    Known(KnownConst),
    /// A row of the table of local derivatives: arithmetic, a float method, a runtime function.
    Prim(Prim),
    /// `arg as T`.
    Cast(CastTo),
    /// `arg0 <op> arg1`, a `bool`.
    Cmp(CmpOp),
    /// `if arg0 { arg1 } else { arg2 }`.
    Select,
    /// `!arg0`, `arg0 && arg1`, `arg0 || arg1` on the flags that control flow uses.
    Not,
    And,
    Or,
    /// The value of a mutable variable at this point of the program.
    Read(VarId),
    /// `var[arg0]`, an element of an array or slice at this point of the program.
    Load(VarId),
    /// `var.len()`.
    Len(VarId),
    /// `[arg0; len]`, a local array filled with one value.
    Fill(TokenStream),
    /// `vec![arg0; arg1]`, a buffer whose length is known at run time.
    Vec,
    /// Assigned to a buffer: the buffer resized to `arg1` elements (new ones `arg0`), its
    /// other elements left as they are. A scratch buffer whose elements are all written before
    /// they are read, or never read, needs no zeroing.
    Resized,
    /// The index of the `for` loop with this number, inside its body.
    Counter(usize),
    /// The value the backward sweep takes back from a tape the forward sweep pushed it on.
    Pop(VarId),
    /// `self`, in a method.
    SelfValue(TokenStream),
    /// `arg0.name`: a field of a constant, such as `self.scale`.
    Member(TokenStream),
    /// `g(args)`: a call of a function the macro differentiates through `g_grad` / `g_jvp`.
    Call(Callee),
    /// `g_grad(args)`: the value and the partial derivatives, as a tuple.
    CallGrad(Callee),
    /// `g_jvp(args with tangents)`: the value and the directional derivative, as a tuple.
    CallJvp(Callee),
    /// `arg0.k`: an element of the tuple a `_grad` or `_jvp` call returns.
    Field(usize),
    /// A whole array or slice passed to a call, with the number of `&` written before it that
    /// give the expression the type the call's argument has: `x` (0), `&h` (1), `*p` (-1).
    Array(VarId, i8),
    /// `&var[arg0..arg1]`: part of an array or slice passed to a call.
    Part(VarId),
    /// `arg0[arg1]`: an element of an array a call returned, such as the gradient of a slice.
    Element,
    /// A call that writes into a buffer it borrows mutably: `g(&x, mu, &mut out)`, or one of
    /// its derivative functions. Its value is a tuple (`()` for the call itself).
    Invoke(Invoke),
    /// A method of an integer, a constant with no derivative: `arg0.name(arg1, ..)`, or with a
    /// type, `ty::name(args..)` (`i.pow(2)`, `a.abs_diff(b)`, `usize::pow(2, k)`).
    IntMethod(Option<TokenStream>, Ident),
    /// Of a call that writes several buffers, `g(x, &mut a, &mut b)`: in
    /// `Stmt::Assign(b, Written(call))`, which follows `Stmt::Assign(a, call)`, says that `call`
    /// writes `b` too. It names the call without using it (so the call stays where its own
    /// statement is) and prints nothing; the passes differentiate the call, every buffer it
    /// writes included, at the call's own statement. It is active where the call is.
    Written(NodeId),
    /// `&arg0.path[..]`: a float-array field of a struct parameter or of `self`, as a slice.
    FieldSlice(TokenStream),
    /// The gradient entry of a struct: `P::default()` with each field in `fields` set to the
    /// matching argument (a float, or an array adjoint for an array field).
    Gradient(StructGradient),
}

/// The fields of a struct's gradient entry; see [`Op::Gradient`].
#[derive(Clone, Debug)]
pub struct StructGradient {
    /// The struct's type: `P`, or `Self`.
    pub ty: TokenStream,
    /// Each field's path (`w`, `layer.w`) and whether it is an array.
    pub fields: Vec<(TokenStream, bool)>,
}

/// A float or float-array field of a struct parameter or of `self` that the body reads, whose
/// derivative is an entry of the struct's gradient when `wrt` names the struct.
#[derive(Clone, Debug)]
pub struct FieldLeaf {
    /// The parameter it belongs to; `None` for `self`.
    pub owner: Option<usize>,
    /// The path after the owner: `w`, `layer.w`.
    pub path: TokenStream,
    /// A float field: the node that reads it.
    pub node: Option<NodeId>,
    /// A float-array field: the slice variable that reads it.
    pub var: Option<VarId>,
    /// Whether its owner is named in `wrt`.
    pub active: bool,
}

/// A call with arguments passed by value, by reference or by mutable reference, to `g`,
/// `g_vjp_into` or `g_jvp` (see [`crate::reverse`]'s out-parameter calls).
#[derive(Clone, Debug)]
pub struct Invoke {
    pub callee: Callee,
    /// `""` for the call itself, else the suffix of the derivative function: `vjp_into`, `jvp`.
    pub suffix: &'static str,
    /// How each argument is passed.
    pub modes: Vec<Pass>,
    /// A call of a function with several outputs, `let [a, b] = g(x);`, which writes them into
    /// the buffer passed last: `g` returns them, and its derivatives are `g_vjp` and `g_jvp`
    /// (see [`crate::outputs::calls`]).
    pub several: bool,
}

/// How an argument of an [`Invoke`] is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// As the argument node prints.
    Value,
    /// `&v[..]` for an array or buffer.
    Ref,
    /// `&mut v[..]` for an array or buffer.
    Mut,
}

/// The function a call names: `g`, `module::g`, or a method `self.g`.
#[derive(Clone, Debug)]
pub struct Callee {
    /// What comes before the name: `module::`, `self.`, or nothing.
    pub prefix: TokenStream,
    pub name: Ident,
    /// Which arguments are floats, each with an entry in `g_grad`'s result.
    pub floats: Box<[bool]>,
    /// For a function differentiated in the same block, whose `g_grad_into` exists: for each
    /// argument, whether it is a slice after which `g_grad_into` takes a buffer into which it
    /// adds the slice's gradient.
    pub buffers: Option<Box<[bool]>>,
    /// Which arguments are floats passed by reference, `g(&y)` or `g(x)` of a parameter
    /// `x: &f64`: they, their tangents and their directions are passed as `&value`. Empty where
    /// none is.
    pub refs: Box<[bool]>,
    /// Of a `CallGrad` the reverse pass makes a call of `g_grad_into`: the buffer passed after
    /// each slice argument. Empty for a call of `g_grad`.
    pub scratch: Vec<IntoBuffer>,
}

/// The buffer that a call of `g_grad_into` adds a slice argument's gradient into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntoBuffer {
    /// A scratch buffer, zeroed before the call, kept from call to call: `CallGrad`'s tuple
    /// borrows the gradient from it where `g_grad`'s holds a `Vec`, and the backward code adds
    /// it, scaled by the call's adjoint, into the argument's adjoint.
    Scratch(VarId),
    /// The argument's adjoint itself, where the call's adjoint is 1 (the call is the function's
    /// output and nothing else reads it), so `g_grad_into`'s gradient needs no scaling and the
    /// backward code nothing: the argument's variable until the reverse pass has made its
    /// adjoint, then that adjoint.
    Adjoint(VarId),
    /// Zeros pushed on a tape (`tape.extend_zeroed(len)`), where the gradient of a call in a
    /// reversed loop is saved for the backward code: the call adds it there, and the backward
    /// code pops it element by element.
    Tape(VarId),
}

impl IntoBuffer {
    /// The scratch buffer, if it is one.
    pub fn scratch(self) -> Option<VarId> {
        match self {
            IntoBuffer::Scratch(v) => Some(v),
            IntoBuffer::Adjoint(_) | IntoBuffer::Tape(_) => None,
        }
    }
}

impl Callee {
    /// For the `count` arguments of a call of `g`, of `g_grad` (one per argument of `g`) or of
    /// `g_jvp` and `g_hvp` (each float argument followed by its tangent or direction): whether
    /// each is passed by reference.
    pub fn borrowed(&self, count: usize) -> Vec<bool> {
        if !self.refs.contains(&true) {
            return vec![false; count];
        }
        if count == self.refs.len() {
            return self.refs.to_vec();
        }
        let spread: Vec<bool> = self
            .refs
            .iter()
            .zip(&self.floats)
            .flat_map(|(&r, &float)| std::iter::repeat_n(r, 1 + usize::from(float)))
            .collect();
        if spread.len() == count {
            spread
        } else {
            vec![false; count]
        }
    }

    /// For each argument, its entry in `g_grad`'s result (entry 0 is the value): one per float
    /// argument, in order, and `None` for the others.
    pub fn entries(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.floats.iter().scan(0, |entry, &float| {
            Some(float.then(|| {
                *entry += 1;
                *entry
            }))
        })
    }
}

/// The target of an `as` cast.
#[derive(Clone, Debug)]
pub enum CastTo {
    /// `as f32` / `as f64`: differentiable between floats.
    Float(FloatTy),
    /// `f64::from(n)` for an integer the rules need as a float, such as a `powi` exponent.
    Lossless(FloatTy),
    /// Any other type, emitted as the user wrote it.
    Other(TokenStream, Ty),
}

/// Constants that derivative rules need, independent of the float type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KnownConst {
    Ln2,
    Ln10,
    /// π/180, the derivative of `to_radians`.
    RadiansPerDegree,
    /// 180/π, the derivative of `to_degrees`.
    DegreesPerRadian,
}

/// Which program a node belongs to: the user's, or the derivative code a pass built around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The program as lowered (with the `g_grad` calls the reverse pass evaluates it through):
    /// the forward sweep computes it where the body places it.
    Primal,
    /// Built by a differentiation pass: a derivative, a derivative input, or a primal value the
    /// derivative code recomputes or takes back from a tape.
    Derivative,
}

/// One operation or variable of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub args: Vec<NodeId>,
    pub ty: Ty,
    /// Whether the value depends on an active parameter: only active nodes get adjoints.
    pub active: bool,
    /// The source expression this node came from; emitted code is spanned here.
    pub span: Span,
    /// The user's name for the value, or a name the passes chose (`d_x`), used for readable code.
    pub name: Option<String>,
    /// Whether lowering or a differentiation pass made it.
    pub origin: Origin,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        matches!(
            self.op,
            Op::Param(_)
                | Op::Seed(_)
                | Op::Lit(..)
                | Op::Const(_)
                | Op::Known(_)
                | Op::Counter(_)
                | Op::SelfValue(_)
                | Op::Array(..)
        )
    }
}

/// A place a statement writes and a node reads: a variable, or an element of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub var: VarId,
    /// The element's index, for an element of an array.
    pub index: Option<NodeId>,
}

impl Node {
    /// The place a `Read` or a `Load` reads.
    pub fn reads(&self) -> Option<Place> {
        match self.op {
            Op::Read(var) => Some(Place { var, index: None }),
            Op::Load(var) => Some(Place {
                var,
                index: self.args.first().copied(),
            }),
            _ => None,
        }
    }
}

/// How many values a variable or parameter holds.
#[derive(Clone, Debug)]
pub enum Shape {
    Scalar,
    /// `[T; N]`, with `N` as written; `by_ref` for `&[T; N]`.
    Array {
        len: TokenStream,
        by_ref: bool,
    },
    /// `&[T]`.
    Slice,
    /// A local `vec![x; n]`, a buffer whose length is known at run time: the integer node `n`,
    /// computed where the buffer is declared.
    Buffer(NodeId),
    /// A stack of values the forward sweep saves for the backward sweep: the values of one
    /// block, since the next iteration of a loop overwrites them. It keeps as many values inline
    /// as the count says (at most [`MAX_INLINE`]).
    Tape(Count),
}

/// How many times something runs, or how many values a tape holds, as far as the compile time
/// knows: a number, or an expression over the user's integer constants that emission prints as a
/// constant expression.
#[derive(Clone, Debug)]
pub enum Count {
    Known(u64),
    /// An integer constant as the user wrote it: a `const`, an array's length `N`.
    Const(TokenStream),
    /// Saturating arithmetic on two counts that are not both known.
    Saturating(Box<Count>, CountOp, Box<Count>),
    /// `n` times the length of a slice parameter, give or take a constant: unknown, but the
    /// slice is often short (the coordinates of a point).
    Slice(u64),
    Unknown,
}

/// The saturating operation of a [`Count::Saturating`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountOp {
    Mul,
    Add,
    Sub,
}

/// The most values a tape keeps inline; beyond that it grows on the heap.
pub const MAX_INLINE: u64 = 1024;

/// The values a tape keeps inline for each value pushed per element of a slice parameter
/// ([`Count::Slice`]): the loop of a helper called once per point over the point's few
/// coordinates then never touches the heap, for 128 bytes of stack per tape of `f64`. (A loop of
/// any other unknown count keeps nothing inline: its pushes then test the heap part alone.)
pub const SLICE_INLINE: u64 = 16;

impl Count {
    fn combine(&self, other: &Count, known: fn(u64, u64) -> u64, op: CountOp) -> Count {
        match (self, other) {
            (Count::Known(a), Count::Known(b)) => Count::Known(known(*a, *b)),
            (Count::Unknown | Count::Slice(_), _) | (_, Count::Unknown | Count::Slice(_)) => {
                Count::Unknown
            }
            (a, b) => Count::Saturating(Box::new(a.clone()), op, Box::new(b.clone())),
        }
    }

    pub fn times(&self, other: &Count) -> Count {
        match (self, other) {
            (Count::Known(1), x) | (x, Count::Known(1)) => x.clone(),
            (Count::Slice(a), Count::Known(b)) | (Count::Known(b), Count::Slice(a)) => {
                Count::Slice(a.saturating_mul(*b))
            }
            _ => self.combine(other, u64::saturating_mul, CountOp::Mul),
        }
    }

    pub fn minus(&self, other: &Count) -> Count {
        match (self, other) {
            (_, Count::Known(0)) | (Count::Slice(_), Count::Known(_)) => self.clone(),
            _ => self.combine(other, u64::saturating_sub, CountOp::Sub),
        }
    }

    pub fn plus(&self, other: &Count) -> Count {
        match (self, other) {
            (Count::Known(0), x)
            | (x, Count::Known(0))
            | (x @ Count::Slice(_), Count::Known(_))
            | (Count::Known(_), x @ Count::Slice(_)) => x.clone(),
            (Count::Slice(a), Count::Slice(b)) => Count::Slice(a.saturating_add(*b)),
            _ => self.combine(other, u64::saturating_add, CountOp::Add),
        }
    }

    /// What a tape keeps inline of this many values: what is known at compile time, and
    /// [`SLICE_INLINE`] for each value pushed per element of a slice parameter.
    pub fn inline_part(&self) -> Count {
        match self {
            Count::Unknown => Count::Known(0),
            Count::Slice(n) => Count::Known(n.saturating_mul(SLICE_INLINE)),
            other => other.clone(),
        }
    }
}

/// A mutable variable: a local assigned inside a branch or loop, a local array, or an array or
/// slice parameter. Everything else is a node.
#[derive(Clone, Debug)]
pub struct Var {
    pub name: String,
    /// The type of the value, or of each element.
    pub ty: Ty,
    pub shape: Shape,
    /// Whether it may hold a value that depends on an active parameter.
    pub active: bool,
    /// The parameter it is, if it is one.
    pub param: Option<usize>,
    pub span: Span,
}

/// A sequence of statements: the program's structure around the graph's nodes.
#[derive(Clone, Debug, Default)]
pub struct Block(pub Vec<Stmt>);

/// A statement. Nodes compute values; the other statements change variables or steer control.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// Computes a node here.
    Node(NodeId),
    /// `let mut var = value;`, or `let var;` assigned later (the value of an `if`).
    Declare(VarId, Option<NodeId>),
    /// `var = value;`.
    Assign(VarId, NodeId),
    /// `var[index] = value;`.
    Store {
        var: VarId,
        index: NodeId,
        value: NodeId,
    },
    If {
        cond: NodeId,
        then: Block,
        otherwise: Block,
    },
    /// `for counter in start..end` (or `..=`, or `.rev()`).
    For(Loop),
    /// `while { cond; test } { body }`: `cond` computes `test` before each iteration.
    While {
        cond: Block,
        test: NodeId,
        body: Block,
    },
    /// Saves a value for the backward sweep on a tape.
    Push(VarId, NodeId),
    /// `mac!(args.., message, message args..)`: an assertion of the user's, kept in the
    /// forward sweep, with no derivative. `args` are the operands, then the message's arguments.
    Assert {
        mac: Ident,
        operands: usize,
        args: Vec<NodeId>,
        message: Option<TokenStream>,
    },
}
/// A counted loop: `for name in start..end { body }`, `..=` when `inclusive`, `.rev()` when
/// `reverse`. Passes that copy a loop with new code keep its header: [`Loop::with_body`].
#[derive(Clone, Debug)]
pub struct Loop {
    /// The loop's number, which `Op::Counter` nodes name.
    pub counter: usize,
    pub name: String,
    pub start: NodeId,
    pub end: NodeId,
    pub inclusive: bool,
    pub reverse: bool,
    pub body: Block,
}

impl Loop {
    /// `for name in start..end { body }`, forwards and exclusive.
    pub fn counted(counter: usize, name: &str, start: NodeId, end: NodeId, body: Block) -> Loop {
        Loop {
            counter,
            name: name.to_owned(),
            start,
            end,
            inclusive: false,
            reverse: false,
            body,
        }
    }

    /// The same header over another body.
    pub fn with_body(&self, body: Block) -> Loop {
        Loop {
            counter: self.counter,
            name: self.name.clone(),
            start: self.start,
            end: self.end,
            inclusive: self.inclusive,
            reverse: self.reverse,
            body,
        }
    }
}

/// What a parameter is, beyond its shape and activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An input.
    Input,
    /// An out-parameter `&mut [f64]`: an output of the function, whose adjoint is a seed.
    Out,
    /// A struct named in `wrt`: its float fields are active, and its gradient entry is a struct.
    Fields,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    /// Scalar, array or slice; arrays and slices are read through [`Param::var`].
    pub shape: Shape,
    pub var: Option<VarId>,
    /// The parameter's type exactly as written.
    pub ty_tokens: TokenStream,
    /// Its float type, for `f32`/`f64` parameters.
    pub float: Option<FloatTy>,
    /// Whether `f_grad` returns a gradient entry for it.
    pub active: bool,
    /// Whether the user declared it `mut`.
    pub mutable: bool,
    /// What kind of input it is, beyond its shape.
    pub role: Role,
    /// A float taken by reference, `x: &f64` named in `wrt`: its value is `*x`, its tangent and
    /// direction are references too, its gradient entry a float.
    pub by_ref: bool,
    pub node: NodeId,
    pub span: Span,
}

/// What generated functions repeat of the original's signature: its name, visibility,
/// generics, return type and the attributes that apply to them too.
#[derive(Clone)]
pub struct Signature {
    pub ident: Ident,
    pub vis: syn::Visibility,
    pub generics: syn::Generics,
    pub output: syn::ReturnType,
    /// `#[cfg]`, `#[allow]` and `#[inline]`, which apply to generated functions as to the
    /// original.
    pub attrs: Vec<syn::Attribute>,
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fn {}", self.ident)
    }
}

impl Signature {
    pub fn of(item: &syn::ItemFn) -> Self {
        let mut attrs = item
            .attrs
            .iter()
            .filter(|a| {
                let path = a.path();
                path.is_ident("cfg") || path.is_ident("allow") || path.is_ident("inline")
            })
            .cloned()
            .collect::<Vec<_>>();
        // A parameter the function leaves unused, `_t`, is passed on by generated code (to the
        // hidden function of several outputs, to the original).
        let underscored = item.sig.inputs.iter().any(|input| {
            matches!(input, syn::FnArg::Typed(t)
                if matches!(&*t.pat, syn::Pat::Ident(p) if p.ident.to_string().starts_with('_')))
        });
        if underscored {
            attrs.push(syn::parse_quote!(#[allow(clippy::used_underscore_binding)]));
        }
        Signature {
            ident: item.sig.ident.clone(),
            vis: item.vis.clone(),
            generics: item.sig.generics.clone(),
            output: item.sig.output.clone(),
            attrs,
        }
    }

    /// Whether the function returns nothing: its outputs are out-parameters.
    pub fn returns_unit(&self) -> bool {
        matches!(self.output, syn::ReturnType::Default)
    }
}

/// A lowered function: its signature and parameters, the nodes of its body and the node it
/// returns.
#[derive(Clone, Debug)]
pub struct Graph {
    pub sig: Signature,
    pub nodes: Vec<Node>,
    pub vars: Vec<Var>,
    pub params: Vec<Param>,
    /// The function body, in which every node is computed at a [`Stmt::Node`].
    pub body: Block,
    /// `const` items declared inside the body, copied verbatim into generated functions.
    pub items: Vec<TokenStream>,
    /// Items that check at compile time what the macro assumed of names it cannot resolve (an
    /// unqualified `sigmoid` is the runtime's), emitted once beside the generated functions.
    pub checks: Vec<TokenStream>,
    pub output: NodeId,
    pub output_ty: FloatTy,
    /// `&self`, for a method: passed through unchanged.
    pub receiver: Option<TokenStream>,
    /// Whether a function without receiver names `Self` (in its signature or body), so is an
    /// associated function of an `impl` block: generated code calls its siblings as `Self::f`.
    pub associated: bool,
    /// Whether `wrt` names `self`.
    pub self_active: bool,
    /// The fields of structs the body reads.
    pub fields: Vec<FieldLeaf>,
    /// The float type parameter `T` of a function generic over `T: Float`, which every float
    /// type, constant and cast of the generated functions is spelled with.
    pub generic: Option<Ident>,
    /// Names a `let` gives to a value that already is a node with no name of its own or another
    /// name (`let a = x;`, `let b = a;`), in program order: `f_graph` finds the node by them too.
    pub aliases: Vec<(NodeId, String)>,
    /// The variable that an early `return` assigns the returned value to, named by no one.
    pub returned: Option<VarId>,
}

impl Param {
    /// Whether it is an out-parameter.
    pub fn out(&self) -> bool {
        self.role == Role::Out
    }

    /// Whether it is a struct named in `wrt`.
    pub fn fields(&self) -> bool {
        self.role == Role::Fields
    }
}

impl Stmt {
    /// The same statement with each block nested in it replaced by `f` of that block.
    pub fn with_blocks(&self, mut f: impl FnMut(&Block) -> Block) -> Stmt {
        match self {
            Stmt::If {
                cond,
                then,
                otherwise,
            } => Stmt::If {
                cond: *cond,
                then: f(then),
                otherwise: f(otherwise),
            },
            Stmt::For(l) => Stmt::For(l.with_body(f(&l.body))),
            Stmt::While { cond, test, body } => Stmt::While {
                cond: f(cond),
                test: *test,
                body: f(body),
            },
            other => other.clone(),
        }
    }

    /// The blocks nested directly in this statement, in order (a `while`'s condition first).
    pub fn blocks(&self) -> Vec<&Block> {
        match self {
            Stmt::If {
                then, otherwise, ..
            } => vec![then, otherwise],
            Stmt::For(Loop { body, .. }) => vec![body],
            Stmt::While { cond, body, .. } => vec![cond, body],
            _ => Vec::new(),
        }
    }
}

/// A walk over statements in program order, the one place that knows where each statement
/// nests blocks and which nodes it uses: a `while` runs its condition block, then reads its
/// test, then runs its body. Override [`Visit::block`] to see each nested block (and call
/// [`walk_block`] to go on into its statements), [`Visit::stmt`] to see each statement (and call
/// [`walk_stmt`] to go on into what it nests) and [`Visit::use_node`] to see each node a
/// statement uses directly.
pub trait Visit<'a> {
    fn block(&mut self, block: &'a Block) {
        walk_block(self, block);
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        walk_stmt(self, stmt);
    }

    fn use_node(&mut self, _node: NodeId) {}
}

/// Visits each statement of `block`, in order.
pub fn walk_block<'a, V: Visit<'a> + ?Sized>(v: &mut V, block: &'a Block) {
    for stmt in &block.0 {
        v.stmt(stmt);
    }
}

/// Visits the nodes `stmt` uses and the statements of the blocks it nests, in program order.
pub fn walk_stmt<'a, V: Visit<'a> + ?Sized>(v: &mut V, stmt: &'a Stmt) {
    match stmt {
        Stmt::Node(_) | Stmt::Declare(_, None) => {}
        Stmt::Declare(_, Some(n)) | Stmt::Assign(_, n) | Stmt::Push(_, n) => v.use_node(*n),
        Stmt::Assert { args, .. } => args.iter().for_each(|&n| v.use_node(n)),
        Stmt::Store { index, value, .. } => {
            v.use_node(*index);
            v.use_node(*value);
        }
        Stmt::If {
            cond,
            then,
            otherwise,
        } => {
            v.use_node(*cond);
            v.block(then);
            v.block(otherwise);
        }
        Stmt::For(Loop {
            start, end, body, ..
        }) => {
            v.use_node(*start);
            v.use_node(*end);
            v.block(body);
        }
        Stmt::While { cond, test, body } => {
            v.block(cond);
            v.use_node(*test);
            v.block(body);
        }
    }
}

/// A [`Visit`] that calls a closure on every statement.
struct EachStmt<F>(F);

impl<'a, F: FnMut(&'a Stmt)> Visit<'a> for EachStmt<F> {
    fn stmt(&mut self, stmt: &'a Stmt) {
        (self.0)(stmt);
        walk_stmt(self, stmt);
    }
}

/// A [`Visit`] that calls a closure on every node a statement uses.
struct EachUse<F>(F);

impl<F: FnMut(NodeId)> Visit<'_> for EachUse<F> {
    fn use_node(&mut self, node: NodeId) {
        (self.0)(node);
    }
}

impl Stmt {
    /// The place an `Assign` or a `Store` writes, and the value it writes there.
    pub fn writes(&self) -> Option<(Place, NodeId)> {
        match *self {
            Stmt::Assign(var, value) => Some((Place { var, index: None }, value)),
            Stmt::Store { var, index, value } => Some((
                Place {
                    var,
                    index: Some(index),
                },
                value,
            )),
            _ => None,
        }
    }

    /// Calls `f` on this statement and on every statement nested in it, each before the blocks
    /// it nests.
    pub fn for_each_stmt<'a>(&'a self, f: impl FnMut(&'a Stmt)) {
        EachStmt(f).stmt(self);
    }

    /// Whether this statement (or one nested in it) stores into `var`.
    pub fn stores(&self, var: VarId) -> bool {
        let mut stores = false;
        self.for_each_stmt(|s| {
            // A call that writes into an array assigns it.
            stores |= matches!(s, Stmt::Store { var: v, .. } | Stmt::Assign(v, _) if *v == var);
        });
        stores
    }
}

impl Block {
    /// Calls `f` on every statement of this block and of the blocks nested in it, each before
    /// the blocks it nests.
    pub fn for_each_stmt<'a>(&'a self, f: impl FnMut(&'a Stmt)) {
        walk_block(&mut EachStmt(f), self);
    }

    /// Whether a statement of this block (or a nested one) stores into `var`.
    pub fn stores(&self, var: VarId) -> bool {
        self.0.iter().any(|s| s.stores(var))
    }

    /// Calls `f` on every node a statement of this block (or a nested one) uses directly.
    pub fn for_each_use(&self, f: &mut impl FnMut(NodeId)) {
        walk_block(&mut EachUse(f), self);
    }
}

impl Graph {
    /// Whether `n` has the same value before, in each iteration of and after the loop over
    /// `counter`, and can be evaluated again there: it is not computed in the body (`inside`, the
    /// nodes the body places), and what it is computed from is neither the loop's counter nor a
    /// variable the body writes (`written`), nor a call or a value taken off a tape. A node
    /// `placed` outside the body is a name bound before the loop.
    pub fn invariant_in_loop(
        &self,
        n: NodeId,
        counter: usize,
        inside: &HashSet<NodeId>,
        written: &HashSet<VarId>,
        placed: &HashSet<NodeId>,
    ) -> bool {
        let mut work = vec![n];
        let mut seen = HashSet::default();
        while let Some(n) = work.pop() {
            if !seen.insert(n) {
                continue;
            }
            let node = self.node(n);
            // A constant is the same wherever the body places it, and is written where it is used.
            if matches!(
                node.op,
                Op::Param(_) | Op::Lit(..) | Op::Const(_) | Op::Known(_)
            ) {
                continue;
            }
            if inside.contains(&n) || matches!(node.op, Op::Counter(c) if c == counter) {
                return false;
            }
            if placed.contains(&n) {
                // A name bound before the loop.
                continue;
            }
            let fine = match node.op {
                Op::Read(v) | Op::Load(v) | Op::Len(v) => !written.contains(&v),
                Op::Counter(_)
                | Op::Param(_)
                | Op::Lit(..)
                | Op::Const(_)
                | Op::Known(_)
                | Op::Prim(_)
                | Op::Cast(_)
                | Op::Cmp(_)
                | Op::Select
                | Op::Not
                | Op::And
                | Op::Or => true,
                _ => false,
            };
            if !fine {
                return false;
            }
            work.extend(&node.args);
        }
        true
    }

    /// The value of an integer node known at compile time: a literal, an array's literal
    /// length, or `+ - * /` of those.
    pub fn const_int(&self, n: NodeId) -> Option<i128> {
        let node = self.node(n);
        match (&node.op, node.args.as_slice()) {
            (Op::Lit(LitValue::Int(v), _), _) => Some(*v),
            (Op::Len(v), _) => match &self.vars[v.0].shape {
                Shape::Array { len, .. } => {
                    let text = len.to_string();
                    text.trim_matches(|c| c == '(' || c == ')' || c == ' ')
                        .trim_end_matches("usize")
                        .replace('_', "")
                        .parse()
                        .ok()
                }
                _ => None,
            },
            (Op::Prim(p), [a, b]) => {
                let (a, b) = (self.const_int(*a)?, self.const_int(*b)?);
                match p {
                    Prim::Add => a.checked_add(b),
                    Prim::Sub => a.checked_sub(b),
                    Prim::Mul => a.checked_mul(b),
                    Prim::Div if b != 0 => Some(a / b),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The nodes that `code` or `results` need, directly or through arguments.
    pub fn live(&self, code: &Block, results: &[NodeId]) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        let mut work = results.to_vec();
        code.for_each_use(&mut |n| work.push(n));
        while let Some(id) = work.pop() {
            if !std::mem::replace(&mut live[id.0], true) {
                work.extend(&self.nodes[id.0].args);
            }
        }
        live
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// An update `place op= rhs`: whether `value`, written to `place`, is `place op rhs` for an
    /// arithmetic operator with the read of `place` on the left, or `rhs op place` for `+` and
    /// `*`, which commute exactly in floating point. The operator, the read and `rhs`.
    pub fn update(&self, place: Place, value: NodeId) -> Option<(Prim, NodeId, NodeId)> {
        let node = self.node(value);
        let Op::Prim(p @ (Prim::Add | Prim::Sub | Prim::Mul | Prim::Div)) = node.op else {
            return None;
        };
        let [left, right] = node.args[..] else {
            return None;
        };
        if self.node(left).reads() == Some(place) {
            return Some((p, left, right));
        }
        (matches!(p, Prim::Add | Prim::Mul) && self.node(right).reads() == Some(place))
            .then_some((p, right, left))
    }

    /// Whether a node belongs to the program as lowered, rather than to derivative code.
    pub fn is_primal(&self, id: NodeId) -> bool {
        self.node(id).origin == Origin::Primal
    }

    pub fn var(&self, id: VarId) -> &Var {
        &self.vars[id.0]
    }

    /// Appends a node exactly as given: lowering uses this, so that the forward sweep computes
    /// what the user wrote, operation for operation.
    /// `var[index] += value` for a pass: the load, the sum and the store, each placed.
    pub fn add_to_element(
        &mut self,
        var: VarId,
        index: NodeId,
        value: NodeId,
        ty: Ty,
    ) -> Vec<Stmt> {
        let load = self.push(Node::new(Op::Load(var), vec![index], ty));
        let total = self.push(Node::new(Op::Prim(Prim::Add), vec![load, value], ty));
        vec![
            Stmt::Node(load),
            Stmt::Node(total),
            Stmt::Store {
                var,
                index,
                value: total,
            },
        ]
    }

    pub fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        NodeId(self.nodes.len() - 1)
    }

    /// Every call through `g_grad` alone, as the second order needs (`g_hvp` has no `_into`
    /// form that the forward pass over the reverse one could call).
    pub fn without_grad_into(mut self) -> Self {
        for node in &mut self.nodes {
            if let Op::Call(c) = &mut node.op {
                c.buffers = None;
            }
        }
        self
    }

    /// Leaves and negated literals are written inline wherever they are used: they cost nothing
    /// to repeat.
    pub fn is_cheap(&self, id: NodeId) -> bool {
        let node = self.node(id);
        node.is_leaf()
            || matches!(node.op, Op::Prim(Prim::Neg))
                && matches!(self.node(node.args[0]).op, Op::Lit(..))
    }
}
