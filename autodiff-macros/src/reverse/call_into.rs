//! Reversing a call that writes into a buffer: `g(&x, mu, &mut out);`.
//!
//! The backward code calls `g_vjp_into` with the adjoint of `out` as the seed: it adds the
//! gradient of each slice input into that input's adjoint buffer, returns the gradients of the
//! scalar inputs, and leaves in the seed buffer the adjoint of what `out` held before the call.
//! The call writes `out` again, into a scratch buffer of the same length, not into `out`.
//!
//! `g_vjp_into` needs the inputs as they were at the call. A parameter the body never writes is
//! still that, and so is an array whose writes all come before the top-level statement holding
//! the call; any other array (a local buffer a loop overwrites) is saved: the forward sweep
//! pushes its elements on a tape of its own after the call, and the backward code pops them into
//! a scratch buffer. The buffer `out` is an input too, since `g` may read it before writing it
//! (`out[i] = out[i] * x[i]`): the forward sweep pushes its elements before the call, and the
//! scratch buffer the backward code passes as `out` holds what `out` held then. Scratch buffers
//! and those tapes are declared once, where the function starts, and each reversed call resizes
//! its scratch buffers in place.
//!
//! A call of a function with several outputs, `let [a, b] = g(x);`, is reversed the same way
//! through `g_vjp`, which returns the gradient of every argument; `g` does not read the buffer,
//! which is not saved.

use super::Reverse;
use crate::algebra::Site;
use crate::graph::{
    Block, Callee, Graph, Invoke, LitValue, Loop, Node, NodeId, Op, Pass, Shape, Stmt, Ty, VarId,
};

/// An array input of a call, saved for the backward sweep.
#[derive(Clone)]
pub(super) struct Snapshot {
    pub input: VarId,
    pub tape: VarId,
    /// Saved before the call rather than after it: the buffer the call writes.
    pub before: bool,
    /// For the buffer the call writes: `g_overwrites`, false when `g_vjp_into` reads what the
    /// buffer held, the only case it is saved in.
    pub unless: Option<Callee>,
}

impl Reverse {
    fn push_node(&self, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        self.b.with_graph(|g| g.push(Node::new(op, args, ty)))
    }

    /// A buffer the backward code resizes to `len` (a node in scope here) and writes into:
    /// with `fill`, every element set to it first (zeros for an adjoint), else holding what it
    /// held (a buffer whose elements are all written before they are read, or never read).
    fn scratch(&mut self, ty: Ty, len: NodeId, fill: Option<f64>) -> VarId {
        let v = self.new_var("scratch", ty, Shape::Buffer(len), None);
        self.scratch.push(v);
        let float = ty.float().unwrap_or_else(|| self.output_ty());
        self.b.set_site(Site {
            span: proc_macro2::Span::call_site(),
            ty: float,
        });
        let value = self.b.lit(fill.unwrap_or(0.0));
        let op = if fill.is_some() { Op::Vec } else { Op::Resized };
        let filled = self.push_node(op, vec![value, len], ty);
        self.emit(Stmt::Assign(v, filled));
        v
    }

    /// Whether an array holds at the end of the function what it held at any call: a parameter
    /// nothing writes.
    fn unchanging(&self, v: VarId) -> bool {
        self.b.with_graph(|g| g.vars[v.0].param.is_some()) && !self.stored(v)
    }

    /// Whether array `v` holds, wherever backward code reads it, what it held at `call`: every
    /// statement that writes it runs before the call, in a block the call's statement follows
    /// in, and no loop holds both (`let rot = [cam[0], cam[1], cam[2]];` before `g(rot)`, in
    /// the same branch or before it); and it is declared where backward code can name it.
    fn written_before(&self, v: VarId, call: NodeId) -> bool {
        self.b.with_graph(|g| {
            let mut places = Places {
                var: v,
                call,
                path: Vec::new(),
                writes: Vec::new(),
                call_at: None,
            };
            places.block(&g.body);
            let Some(call_at) = places.call_at else {
                return false;
            };
            // Backward code names the array where it runs: a parameter, or an array the
            // function's own block declares, is in scope there.
            let in_scope = g.vars[v.0].param.is_some()
                || g.body
                    .0
                    .iter()
                    .any(|s| matches!(s, Stmt::Declare(x, _) if *x == v));
            if !in_scope {
                return false;
            }
            places.writes.iter().all(|(w, _)| {
                // The first level where the two part: the write's statement must come first,
                // and no statement holding both may be a loop.
                let common = w.iter().zip(&call_at).take_while(|(a, b)| a == b).count();
                match (w.get(common), call_at.get(common)) {
                    (Some(a), Some(b)) => {
                        a.stmt < b.stmt && w[..common].iter().all(|level| !level.looped)
                    }
                    _ => false,
                }
            })
        })
    }

    /// The literal that buffer `out` holds in every element when `call` writes it: the `c` of
    /// its declaration `let mut out = vec![c; n];` in the function's block, when no loop holds
    /// the call and nothing else writes `out` before it. What `out` held before the call is
    /// then `c` again, and need not be saved (`let mut q = vec![0.0; k]; g(x, &mut q);`, the
    /// usual way to call a helper that writes a buffer).
    fn fresh_fill(&self, out: VarId, call: NodeId) -> Option<f64> {
        self.b.with_graph(|g| {
            let declared = g.body.0.iter().position(
                |s| matches!(s, Stmt::Declare(x, Some(n)) if *x == out && matches!(g.node(*n).op, Op::Vec)),
            )?;
            let Stmt::Declare(_, Some(init)) = &g.body.0[declared] else {
                return None;
            };
            let Op::Lit(LitValue::Float(fill), _) = g.node(g.node(*init).args[0]).op else {
                return None;
            };
            let mut places = Places {
                var: out,
                call,
                path: Vec::new(),
                writes: Vec::new(),
                call_at: None,
            };
            places.block(&g.body);
            let call_at = places.call_at?;
            if call_at.iter().any(|level| level.looped) || call_at[0].stmt <= declared {
                return None;
            }
            let own = |n: &Option<NodeId>| match n {
                Some(n) => *n == call || matches!(g.node(*n).op, Op::Written(c) if c == call),
                None => false,
            };
            let fresh = places.writes.iter().all(|(w, value)| {
                if own(value) || (w.len() == 1 && w[0].stmt == declared) {
                    return true;
                }
                // Where the write and the call part: the write comes after the call, or in
                // another branch of the statement holding both (no loop holds the call).
                let common = w.iter().zip(&call_at).take_while(|(a, b)| a == b).count();
                match (w.get(common), call_at.get(common)) {
                    (Some(a), Some(b)) => {
                        a.stmt > b.stmt
                            || (a.stmt == b.stmt
                                && a.block != b.block
                                && a.block != usize::MAX
                                && b.block != usize::MAX)
                    }
                    _ => false,
                }
            });
            fresh.then_some(fill)
        })
    }

    /// The length of what a call is passed of `input`: the part `bounds[0]..bounds[1]`, or the
    /// whole array, emitted here.
    fn part_len(&mut self, input: VarId, part: Option<&[NodeId]>) -> NodeId {
        let len = match part {
            Some(bounds) => self.push_node(
                Op::Prim(crate::prim::Prim::Sub),
                vec![bounds[1], bounds[0]],
                Ty::Int,
            ),
            None => self.push_node(Op::Len(input), vec![], Ty::Int),
        };
        self.emit(Stmt::Node(len));
        len
    }

    /// The length of array `v`, as the backward code here can read it.
    fn length_here(&mut self, v: VarId) -> NodeId {
        match self.b.with_graph(|g| g.vars[v.0].shape.clone()) {
            Shape::Buffer(len) => self.value(len),
            _ => {
                let len = self.push_node(Op::Len(v), vec![], Ty::Int);
                self.emit(Stmt::Node(len));
                len
            }
        }
    }

    /// An array input of `call` as it was at the call: a scratch buffer the saved elements are
    /// popped into. `before` saves it before the call, as the buffer the call writes must be.
    fn restore_input(&mut self, call: NodeId, input: VarId, before: Option<&Callee>) -> VarId {
        let ty = self.b.with_graph(|g| g.vars[input.0].ty);
        let tape = self.new_var(
            "saved",
            ty,
            Shape::Tape(crate::graph::Count::Known(0)),
            None,
        );
        // `g_overwrites`: of `self.g`, `Self::g_overwrites`.
        let unless = before.map(|callee| {
            let prefix = if callee.prefix.to_string() == quote::quote!(self.).to_string() {
                quote::quote!(Self::)
            } else {
                callee.prefix.clone()
            };
            Callee {
                prefix,
                name: quote::format_ident!("{}_overwrites", callee.name, span = callee.name.span()),
                floats: Box::default(),
                buffers: None,
                refs: Box::default(),
                scratch: Vec::new(),
            }
        });
        self.snapshots.entry(call).or_default().push(Snapshot {
            input,
            tape,
            before: before.is_some(),
            unless: unless.clone(),
        });
        let len = self.length_here(input);
        // Every element is popped into it before the call reads it, or, for the buffer of a
        // helper that overwrites it, never read.
        let copy = self.scratch(ty, len, None);
        let counter = super::COPY_LOOPS + self.copies;
        self.copies += 1;
        let k = self.push_node(Op::Counter(counter), vec![], Ty::Int);
        self.b
            .with_graph(|g| g.nodes[k.0].name = Some("k".to_owned()));
        let pop = self.push_node(Op::Pop(tape), vec![], ty);
        let zero = self.b.int(0);
        let restore = Stmt::For(Loop {
            counter,
            name: "k".to_owned(),
            start: zero,
            end: len,
            inclusive: false,
            reverse: true,
            body: Block(vec![
                Stmt::Node(k),
                Stmt::Node(pop),
                Stmt::Store {
                    var: copy,
                    index: k,
                    value: pop,
                },
            ]),
        });
        let restore = self.unless(unless, restore);
        self.emit(restore);
        copy
    }

    /// `stmt`, or with `overwrites`, `if !g_overwrites() { stmt }`: the saving and restoring
    /// of what a buffer held before a call, which `g_vjp_into` reads only when the constant
    /// `g_overwrites()` is false.
    fn unless(&mut self, overwrites: Option<Callee>, stmt: Stmt) -> Stmt {
        let Some(overwrites) = overwrites else {
            return stmt;
        };
        let call = self.push_node(Op::Call(overwrites), vec![], Ty::Bool);
        let cond = self.push_node(Op::Not, vec![call], Ty::Bool);
        Stmt::If {
            cond,
            then: Block(vec![stmt]),
            otherwise: Block::default(),
        }
    }

    /// Reverses `out = g(args)`, a call that writes the buffer `out`.
    pub(super) fn reverse_invoke(&mut self, out: VarId, call: NodeId) {
        let node = self.b.node(call);
        let Op::Invoke(invoke) = node.op.clone() else {
            return;
        };
        // The buffers the call writes: nothing to do unless one has an adjoint.
        let written = |b: &crate::algebra::Builder, a: &NodeId| match b.node(*a).op {
            Op::Array(v, _) | Op::Part(v) => Some(v),
            _ => None,
        };
        let outs: Vec<VarId> = node
            .args
            .iter()
            .zip(&invoke.modes)
            .filter(|(_, m)| **m == Pass::Mut)
            .filter_map(|(a, _)| written(&self.b, a))
            .collect();
        if !outs.iter().any(|v| self.var_adjoint.contains_key(v)) {
            return;
        }
        self.flush();
        let ty = self.b.with_graph(|g| g.vars[out.0].ty);
        let adj_out = self.var_adjoint.get(&out).copied();
        let mut args = Vec::new();
        let mut modes = Vec::new();
        let mut scalars = Vec::new();
        let mut entry = 0;
        // The adjoints passed so far, and the scratch buffers passed instead for a second part
        // of one array (`g(&x[0..2], &x[2..4], &mut d)`), added into its adjoint after the call.
        let mut passed: Vec<VarId> = Vec::new();
        let mut aliased: Vec<Aliased> = Vec::new();
        for ((&a, &mode), &float) in node
            .args
            .iter()
            .zip(&invoke.modes)
            .zip(&invoke.callee.floats)
        {
            match mode {
                // A function with several outputs does not read the buffer: its `g_vjp` takes
                // the buffer's adjoint as its seed.
                Pass::Mut if invoke.several => {
                    let adj_out = adj_out.expect("the buffer of a call with several outputs");
                    args.push(self.push_node(Op::Array(adj_out, 0), vec![], ty));
                    modes.push(Pass::Mut);
                }
                Pass::Mut => {
                    // What the buffer held before the call, which `g` may read; of
                    // `&mut out[a..b]`, that part, and that part of the adjoint.
                    let arg = self.b.node(a);
                    let Some(buffer) = written(&self.b, &a) else {
                        continue;
                    };
                    let buffer_ty = self.b.with_graph(|g| g.vars[buffer.0].ty);
                    let bounds = matches!(arg.op, Op::Part(_))
                        .then(|| vec![self.value(arg.args[0]), self.value(arg.args[1])]);
                    let scratch = match self.fresh_fill(buffer, call) {
                        Some(fill) => {
                            let len = self.length_here(buffer);
                            self.scratch(buffer_ty, len, Some(fill))
                        }
                        None => self.restore_input(call, buffer, Some(&invoke.callee)),
                    };
                    let adjoint = match self.var_adjoint.get(&buffer) {
                        Some(&d) => d,
                        // A buffer nothing reads afterwards: a zero seed, in a buffer of its
                        // length.
                        None => {
                            let len = self.length_here(buffer);
                            self.scratch(buffer_ty, len, Some(0.0))
                        }
                    };
                    for v in [scratch, adjoint] {
                        let node = match &bounds {
                            Some(b) => self.push_node(Op::Part(v), b.clone(), buffer_ty),
                            None => self.push_node(Op::Array(v, 0), vec![], buffer_ty),
                        };
                        args.push(node);
                    }
                    modes.extend([Pass::Mut, Pass::Mut]);
                }
                Pass::Ref => {
                    let arg = self.b.node(a);
                    let (x, part) = match arg.op {
                        Op::Array(x, _) => (x, None),
                        // `&x[start..end]`, its bounds where the backward code runs.
                        Op::Part(x) => (x, Some((arg.args[0], arg.args[1]))),
                        _ => continue,
                    };
                    let part = part.map(|(start, end)| vec![self.value(start), self.value(end)]);
                    let of = |v: VarId| match &part {
                        Some(bounds) => (Op::Part(v), bounds.clone()),
                        None => (Op::Array(v, 0), vec![]),
                    };
                    let x_ty = self.b.with_graph(|g| g.vars[x.0].ty);
                    let input = if self.unchanging(x) || self.written_before(x, call) {
                        x
                    } else {
                        self.restore_input(call, x, None)
                    };
                    let (op, bounds) = of(input);
                    args.push(self.push_node(op, bounds, x_ty));
                    let (op, bounds) = match self.var_adjoint.get(&x) {
                        Some(&d) if passed.contains(&d) => {
                            let (scratch, add) =
                                self.aliased_gradient(d, x_ty, input, part.clone());
                            aliased.push(add);
                            (Op::Array(scratch, 0), vec![])
                        }
                        Some(&d) => {
                            passed.push(d);
                            of(d)
                        }
                        // A constant input: its gradient goes into a buffer nothing reads, of
                        // the length of the part passed (not of the whole array: a part of a
                        // long constant array is passed in every iteration of a loop).
                        None => {
                            let len = self.part_len(input, part.as_deref());
                            (Op::Array(self.scratch(x_ty, len, None), 0), vec![])
                        }
                    };
                    args.push(self.push_node(op, bounds, x_ty));
                    modes.extend([Pass::Ref, Pass::Mut]);
                }
                Pass::Value => {
                    args.push(self.value(a));
                    modes.push(Pass::Value);
                    if float {
                        if self.b.node(a).active {
                            scalars.push((a, entry));
                        }
                        entry += 1;
                    }
                }
            }
        }
        // Every buffer the backward call writes: adjoints and scratch buffers. The statement
        // names the last, an adjoint (or declares the gradients of the scalar inputs); each
        // other follows as `Assign(b, Written(call))`, as a
        // call of the primal that writes several buffers does, so that the passes after this one
        // see every write (fusion must not move the backward code of a loop that reads one
        // of them, `d_y` of `g(&y[0..1], &mut b)`, ahead of the call).
        let mut targets: Vec<VarId> = Vec::new();
        for v in args
            .iter()
            .zip(&modes)
            .filter(|(_, m)| **m == Pass::Mut)
            .filter_map(|(a, _)| written(&self.b, a))
        {
            targets.retain(|&t| t != v);
            targets.push(v);
        }
        let vjp = self.push_node(
            Op::Invoke(Invoke {
                callee: invoke.callee.clone(),
                // The buffer passed as the output is a scratch buffer, dropped afterwards: a
                // call of one output buffer needs only the adjoints (`g_adjoint_into`).
                suffix: if invoke.several {
                    "vjp_into"
                } else {
                    "adjoint_into"
                },
                modes,
                several: invoke.several,
            }),
            args,
            Ty::Other,
        );
        // With scalar inputs, the statement declares the tuple of their gradients instead.
        let grads = if scalars.is_empty() {
            let target = targets
                .pop()
                .expect("a call into a buffer writes its adjoint");
            self.emit(Stmt::Assign(target, vjp));
            None
        } else {
            let grads = self.new_var("grads", Ty::Other, Shape::Scalar, None);
            self.emit(Stmt::Declare(grads, Some(vjp)));
            Some(grads)
        };
        for v in targets {
            let ty = self.b.with_graph(|g| g.vars[v.0].ty);
            let written = self.push_node(Op::Written(vjp), vec![], ty);
            self.emit(Stmt::Assign(v, written));
        }
        for add in aliased {
            self.add_aliased(add);
        }
        // The gradients of the scalar inputs, one tuple element each.
        let Some(grads) = grads else {
            return;
        };
        let read = self.read_node(grads);
        self.place(read);
        for (a, k) in scalars {
            let a_ty = self.b.node(a).ty;
            let field = self.push_node(Op::Field(k), vec![read], a_ty);
            self.place(field);
            self.contribute(a, field);
        }
    }

    /// For an input of a call whose array's adjoint `d` is already passed to the call (two
    /// parts of one array, or the array twice): a zeroed scratch buffer of the part's length to
    /// pass instead, and what to add into `d` after the call.
    #[inline(never)]
    fn aliased_gradient(
        &mut self,
        d: VarId,
        ty: Ty,
        input: VarId,
        part: Option<Vec<NodeId>>,
    ) -> (VarId, Aliased) {
        let len = self.part_len(input, part.as_deref());
        let scratch = self.scratch(ty, len, Some(0.0));
        let add = Aliased {
            adjoint: d,
            scratch,
            start: part.map(|bounds| bounds[0]),
            len,
            ty,
        };
        (scratch, add)
    }

    /// After the backward call: `d[start + k] += scratch[k]` for the gradient of a second part
    /// of one array.
    #[inline(never)]
    fn add_aliased(&mut self, add: Aliased) {
        let Aliased {
            adjoint,
            scratch,
            start,
            len,
            ty,
        } = add;
        let counter = super::COPY_LOOPS + self.copies;
        self.copies += 1;
        let k = self.push_node(Op::Counter(counter), vec![], Ty::Int);
        self.b
            .with_graph(|g| g.nodes[k.0].name = Some("k".to_owned()));
        let zero = self.b.int(0);
        let mut body = vec![Stmt::Node(k)];
        let at = match start {
            Some(start) => {
                let at = self.push_node(Op::Prim(crate::prim::Prim::Add), vec![start, k], Ty::Int);
                body.push(Stmt::Node(at));
                at
            }
            None => k,
        };
        let element = self.push_node(Op::Load(scratch), vec![k], ty);
        let current = self.push_node(Op::Load(adjoint), vec![at], ty);
        let sum = self.push_node(Op::Prim(crate::prim::Prim::Add), vec![current, element], ty);
        body.extend([
            Stmt::Node(element),
            Stmt::Node(current),
            Stmt::Node(sum),
            Stmt::Store {
                var: adjoint,
                index: at,
                value: sum,
            },
        ]);
        self.emit(Stmt::For(Loop {
            counter,
            name: "k".to_owned(),
            start: zero,
            end: len,
            inclusive: false,
            reverse: false,
            body: Block(body),
        }));
    }

    /// In the forward sweep, before `stmt` (`before`) or after it: what the backward code of a
    /// call needs saved.
    pub(super) fn save_inputs(&mut self, stmt: &Stmt, out: &mut Vec<Stmt>, before: bool) {
        let Stmt::Assign(_, call) = stmt else {
            return;
        };
        let Some(snapshots) = self.snapshots.get(call).cloned() else {
            return;
        };
        for Snapshot {
            input,
            tape,
            unless,
            ..
        } in snapshots.into_iter().filter(|s| s.before == before)
        {
            let ty = self.b.with_graph(|g| g.vars[input.0].ty);
            let len = self.push_node(Op::Len(input), vec![], Ty::Int);
            let zero = self.b.int(0);
            let counter = super::COPY_LOOPS + self.copies;
            self.copies += 1;
            let k = self.push_node(Op::Counter(counter), vec![], Ty::Int);
            self.b
                .with_graph(|g| g.nodes[k.0].name = Some("k".to_owned()));
            let load = self.push_node(Op::Load(input), vec![k], ty);
            out.push(Stmt::Node(len));
            let save = Stmt::For(Loop {
                counter,
                name: "k".to_owned(),
                start: zero,
                end: len,
                inclusive: false,
                reverse: false,
                body: Block(vec![
                    Stmt::Node(k),
                    Stmt::Node(load),
                    Stmt::Push(tape, load),
                ]),
            });
            out.push(self.unless(unless, save));
        }
    }

    /// Where the function starts: the scratch buffers, empty, and the tapes of saved inputs.
    pub(super) fn call_declarations(&self, used: impl Fn(VarId) -> bool) -> Vec<Stmt> {
        let mut decls = Vec::new();
        for &v in self.scratch.iter().filter(|&&v| used(v)) {
            let ty = self.b.with_graph(|g| g.vars[v.0].ty);
            let empty = self.push_node(Op::Lit(LitValue::Int(0), None), vec![], Ty::Int);
            let float = ty.float().unwrap_or_else(|| self.output_ty());
            self.b.set_site(Site {
                span: proc_macro2::Span::call_site(),
                ty: float,
            });
            let zero = self.b.lit(0.0);
            let zeros = self.push_node(Op::Vec, vec![zero, empty], ty);
            decls.push(Stmt::Declare(v, Some(zeros)));
        }
        let mut tapes: Vec<VarId> = self
            .snapshots
            .values()
            .flat_map(|s| s.iter().map(|s| s.tape))
            .collect();
        tapes.sort();
        decls.extend(tapes.into_iter().map(|t| Stmt::Declare(t, None)));
        decls
    }
}

/// Scratch buffers resized to one length known where the function starts (a parameter, a
/// slice parameter's length, a constant), and never zeroed, are declared at that length and not
/// resized again: `let mut scratch = vec![0.0; d];` rather than `scratch.resize(d, 0.0)` at
/// every reversed call of a loop. `decls` declares them; `code` is everything after.
pub(super) fn sized_once(graph: &mut Graph, decls: &mut [Stmt], code: &mut [&mut Vec<Stmt>]) {
    // The assignments that size `v` (not the calls that write it, `Written`).
    fn sizes(graph: &Graph, stmt: &Stmt, v: VarId) -> bool {
        matches!(stmt, Stmt::Assign(w, n) if *w == v && !matches!(graph.node(*n).op, Op::Written(_)))
    }
    fn assigns(graph: &Graph, block: &[Stmt], v: VarId, found: &mut Vec<NodeId>) {
        for stmt in block {
            stmt.for_each_stmt(|s| {
                if let Stmt::Assign(_, n) = s
                    && sizes(graph, s, v)
                {
                    found.push(*n);
                }
            });
        }
    }
    fn without(graph: &Graph, block: &[Stmt], v: VarId) -> Vec<Stmt> {
        block
            .iter()
            .filter(|s| !sizes(graph, s, v))
            .map(|s| s.with_blocks(|b| Block(without(graph, &b.0, v))))
            .collect()
    }
    let known = |graph: &Graph, n: NodeId| match graph.node(n).op {
        Op::Param(_) | Op::Lit(..) | Op::Const(_) => true,
        Op::Len(x) => graph.vars[x.0].param.is_some(),
        _ => false,
    };
    for decl in decls.iter_mut() {
        let Stmt::Declare(v, Some(init)) = *decl else {
            continue;
        };
        if !matches!(graph.node(init).op, Op::Vec) {
            continue;
        }
        let mut found = Vec::new();
        for block in code.iter() {
            assigns(graph, block, v, &mut found);
        }
        let Some(&first) = found.first() else {
            continue;
        };
        let len = graph.node(first).args[1];
        let same = found
            .iter()
            .all(|&n| matches!(graph.node(n).op, Op::Resized) && graph.node(n).args[1] == len);
        if !(same && known(graph, len)) {
            continue;
        }
        // The length computed again where the function starts (a name bound to it may come
        // later); a parameter is its own name.
        let len = match graph.node(len).op {
            Op::Param(_) => len,
            _ => {
                let copy = graph.node(len).clone();
                graph.push(Node::new(copy.op, copy.args, copy.ty))
            }
        };
        let resized = graph.node(first);
        let sized = Node::new(Op::Vec, vec![resized.args[0], len], resized.ty);
        *decl = Stmt::Declare(v, Some(graph.push(sized)));
        for block in code.iter_mut() {
            **block = without(graph, block, v);
        }
    }
}

/// The gradient of a second part of one array passed to a call, in a scratch buffer, to add
/// into the array's adjoint after the call.
#[derive(Clone, Copy)]
pub(super) struct Aliased {
    adjoint: VarId,
    scratch: VarId,
    /// Where the part starts, `None` for the whole array.
    start: Option<NodeId>,
    len: NodeId,
    ty: Ty,
}

/// Where a statement lies: at each level, its statement's index in its block, which of that
/// statement's blocks holds the next level, and whether that statement is a loop.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Level {
    stmt: usize,
    block: usize,
    looped: bool,
}

/// The places of the statements that write `var` and of the one that makes `call`.
struct Places {
    var: VarId,
    call: NodeId,
    path: Vec<Level>,
    /// Each write's place and the value the statement gives `var` (none for a store).
    writes: Vec<(Vec<Level>, Option<NodeId>)>,
    call_at: Option<Vec<Level>>,
}

impl Places {
    fn block(&mut self, block: &Block) {
        for (index, stmt) in block.0.iter().enumerate() {
            let here = Level {
                stmt: index,
                block: usize::MAX,
                looped: false,
            };
            let written = match stmt {
                Stmt::Store { var, .. } if *var == self.var => Some(None),
                Stmt::Assign(var, n) | Stmt::Declare(var, Some(n)) if *var == self.var => {
                    Some(Some(*n))
                }
                _ => None,
            };
            if let Some(value) = written {
                let mut at = self.path.clone();
                at.push(here);
                self.writes.push((at, value));
            }
            if matches!(stmt, Stmt::Assign(_, n) if *n == self.call) && self.call_at.is_none() {
                let mut at = self.path.clone();
                at.push(here);
                self.call_at = Some(at);
            }
            let looped = matches!(stmt, Stmt::For(_) | Stmt::While { .. });
            for (k, nested) in stmt.blocks().into_iter().enumerate() {
                self.path.push(Level {
                    stmt: index,
                    block: k,
                    looped,
                });
                self.block(nested);
                self.path.pop();
            }
        }
    }
}
