//! Jacobians row by row: a function whose output array is written one element per iteration of
//! a loop, each element from the inputs alone,
//!
//! ```text
//! let mut r = [0.0; M];
//! for i in 0..M {
//!     .. // lets of the iteration's own values
//!     r[i] = value;
//! }
//! r
//! ```
//!
//! has for row `i` of its Jacobian the gradient of iteration `i`'s value. The iteration becomes a
//! scalar function of the parameters and the counter, `f_outputs_row(params.., i) -> T`, whose
//! ordinary `_grad` gives the row in one reverse sweep of that iteration alone. The Jacobian then
//! costs about one reverse sweep of the whole function, and a row's structural zeros cost nothing
//! but the zeros themselves, where dense forward or reverse sweeps propagate every direction
//! through every row.
//!
//! The shape is recognised in the syntax, conservatively: the body of the loop may assign only
//! what it declares itself, may not read the output array, may not leave the loop early
//! (`return`, `break`, `continue`) and may not borrow mutably. Anything else keeps the sweeps.

use crate::hash::HashSet;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Expr, Ident, ItemFn, Pat, Stmt};

/// The loop of a function computed row by row.
pub struct RowLoop {
    /// The loop's counter, `i`.
    pub counter: Ident,
    /// The loop body without its last statement, the store of the row.
    pub stmts: Vec<Stmt>,
    /// The row's value, stored as `r[i] = value;`.
    pub value: Expr,
}

/// `function`'s row loop, if its body is one, for an output array of length `len`.
pub fn row_loop(function: &ItemFn, len: &TokenStream) -> Option<RowLoop> {
    let [
        Stmt::Local(local),
        Stmt::Expr(Expr::ForLoop(for_loop), _),
        Stmt::Expr(tail, None),
    ] = function.block.stmts.as_slice()
    else {
        return None;
    };
    // `let mut r = [0.0; M];`
    let Pat::Ident(r) = &local.pat else {
        return None;
    };
    if r.by_ref.is_some() || r.subpat.is_some() {
        return None;
    }
    let array = &r.ident;
    let init = local.init.as_ref()?;
    if init.diverge.is_some() {
        return None;
    }
    let Expr::Repeat(repeat) = strip(&init.expr) else {
        return None;
    };
    if !is_zero(&repeat.expr) || !same(&repeat.len, len) {
        return None;
    }
    // The tail is `r`.
    if !is_name(tail, array) {
        return None;
    }
    // `for i in 0..M`, or `0..r.len()`.
    if !for_loop.attrs.is_empty() || for_loop.label.is_some() {
        return None;
    }
    let Pat::Ident(counter) = &*for_loop.pat else {
        return None;
    };
    if counter.by_ref.is_some() || counter.mutability.is_some() || counter.subpat.is_some() {
        return None;
    }
    let Expr::Range(range) = strip(&for_loop.expr) else {
        return None;
    };
    if !matches!(range.limits, syn::RangeLimits::HalfOpen(_)) {
        return None;
    }
    let start_zero = range.start.as_deref().is_some_and(|s| {
        matches!(strip(s), Expr::Lit(l) if matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == "0"))
    });
    let end = range.end.as_deref()?;
    let whole = same(end, len)
        || matches!(strip(end), Expr::MethodCall(m)
            if m.method == "len" && m.args.is_empty() && is_name(&m.receiver, array));
    if !start_zero || !whole {
        return None;
    }
    // The body: the row's own statements, then `r[i] = value;`.
    let (last, stmts) = for_loop.body.stmts.split_last()?;
    let Stmt::Expr(Expr::Assign(store), Some(_)) = last else {
        return None;
    };
    let Expr::Index(place) = strip(&store.left) else {
        return None;
    };
    if !is_name(&place.expr, array) || !is_name(&place.index, &counter.ident) {
        return None;
    }
    let mut scan = Scan {
        array,
        counter: &counter.ident,
        ok: true,
    };
    let mut declared = HashSet::default();
    for s in stmts {
        scan.stmt(s, &mut declared);
    }
    scan.expr(&store.right, &declared);
    scan.ok.then(|| RowLoop {
        counter: counter.ident.clone(),
        stmts: stmts.to_vec(),
        value: (*store.right).clone(),
    })
}

/// Whether a loop body keeps to what a row may do.
struct Scan<'a> {
    array: &'a Ident,
    counter: &'a Ident,
    ok: bool,
}

impl Scan<'_> {
    fn stmt(&mut self, s: &Stmt, declared: &mut HashSet<String>) {
        match s {
            Stmt::Local(l) => {
                if let Some(init) = &l.init {
                    self.expr(&init.expr, declared);
                    if init.diverge.is_some() {
                        self.ok = false;
                    }
                }
                self.pattern(&l.pat, declared);
            }
            Stmt::Expr(e, _) => self.expr(e, declared),
            Stmt::Macro(m) => self.mac(&m.mac),
            Stmt::Item(_) => self.ok = false,
        }
    }

    fn pattern(&mut self, p: &Pat, declared: &mut HashSet<String>) {
        match p {
            Pat::Ident(i) => {
                if i.ident == *self.array || i.ident == *self.counter {
                    self.ok = false;
                }
                declared.insert(i.ident.to_string());
            }
            Pat::Type(t) => self.pattern(&t.pat, declared),
            Pat::Tuple(t) => t.elems.iter().for_each(|p| self.pattern(p, declared)),
            Pat::Slice(s) => s.elems.iter().for_each(|p| self.pattern(p, declared)),
            Pat::Paren(p) => self.pattern(&p.pat, declared),
            Pat::Reference(r) => self.pattern(&r.pat, declared),
            Pat::Wild(_) | Pat::Rest(_) => {}
            _ => self.ok = false,
        }
    }

    /// The variable an assignment writes, the root of `a[i].b`, must be the iteration's own.
    fn assigned(&mut self, e: &Expr, declared: &HashSet<String>) {
        match strip(e) {
            Expr::Path(p) => match p.path.get_ident() {
                Some(i) if declared.contains(&i.to_string()) => {}
                _ => self.ok = false,
            },
            Expr::Index(i) => {
                self.expr(&i.index, declared);
                self.assigned(&i.expr, declared);
            }
            Expr::Field(f) => self.assigned(&f.base, declared),
            _ => self.ok = false,
        }
    }

    fn block(&mut self, b: &syn::Block, declared: &HashSet<String>) {
        let mut inner = declared.clone();
        for s in &b.stmts {
            self.stmt(s, &mut inner);
        }
    }

    fn mac(&mut self, m: &syn::Macro) {
        let known = [
            "assert",
            "debug_assert",
            "assert_eq",
            "debug_assert_eq",
            "vec",
        ];
        if !known.iter().any(|k| m.path.is_ident(k)) || self.mentions(&m.tokens) {
            self.ok = false;
        }
    }

    /// Whether tokens name the output array.
    fn mentions(&self, tokens: &TokenStream) -> bool {
        tokens.clone().into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == *self.array,
            proc_macro2::TokenTree::Group(g) => self.mentions(&g.stream()),
            _ => false,
        })
    }

    fn expr(&mut self, e: &Expr, declared: &HashSet<String>) {
        if !self.ok {
            return;
        }
        match e {
            Expr::Lit(_) => {}
            Expr::Path(p) => {
                if p.path.is_ident(self.array) {
                    self.ok = false;
                }
            }
            Expr::Assign(a) => {
                self.expr(&a.right, declared);
                self.assigned(&a.left, declared);
            }
            Expr::Binary(b) => {
                self.expr(&b.right, declared);
                if is_compound(&b.op) {
                    self.assigned(&b.left, declared);
                } else {
                    self.expr(&b.left, declared);
                }
            }
            Expr::Unary(u) => self.expr(&u.expr, declared),
            Expr::Paren(p) => self.expr(&p.expr, declared),
            Expr::Group(g) => self.expr(&g.expr, declared),
            Expr::Index(i) => {
                self.expr(&i.expr, declared);
                self.expr(&i.index, declared);
            }
            Expr::Field(f) => self.expr(&f.base, declared),
            Expr::Cast(c) => self.expr(&c.expr, declared),
            Expr::MethodCall(m) => {
                self.expr(&m.receiver, declared);
                m.args.iter().for_each(|a| self.expr(a, declared));
            }
            Expr::Call(c) => {
                self.expr(&c.func, declared);
                c.args.iter().for_each(|a| self.expr(a, declared));
            }
            Expr::Array(a) => a.elems.iter().for_each(|x| self.expr(x, declared)),
            Expr::Tuple(t) => t.elems.iter().for_each(|x| self.expr(x, declared)),
            Expr::Repeat(r) => {
                self.expr(&r.expr, declared);
                self.expr(&r.len, declared);
            }
            Expr::Range(r) => {
                r.start.iter().for_each(|x| self.expr(x, declared));
                r.end.iter().for_each(|x| self.expr(x, declared));
            }
            Expr::Reference(r) => {
                if r.mutability.is_some() {
                    self.ok = false;
                }
                self.expr(&r.expr, declared);
            }
            Expr::Block(b) if b.label.is_none() => self.block(&b.block, declared),
            Expr::If(i) => {
                self.expr(&i.cond, declared);
                self.block(&i.then_branch, declared);
                if let Some((_, e)) = &i.else_branch {
                    self.expr(e, declared);
                }
            }
            Expr::ForLoop(f) if f.label.is_none() => {
                self.expr(&f.expr, declared);
                let mut inner = declared.clone();
                self.pattern(&f.pat, &mut inner);
                self.block(&f.body, &inner);
            }
            Expr::While(w) if w.label.is_none() => {
                self.expr(&w.cond, declared);
                self.block(&w.body, declared);
            }
            Expr::Match(m) => {
                self.expr(&m.expr, declared);
                for arm in &m.arms {
                    let mut inner = declared.clone();
                    self.pattern_of_arm(&arm.pat, &mut inner);
                    self.expr(&arm.body, &inner);
                }
            }
            Expr::Closure(c) => {
                let mut inner = declared.clone();
                for p in &c.inputs {
                    self.pattern(p, &mut inner);
                }
                self.expr(&c.body, &inner);
            }
            Expr::Macro(m) => self.mac(&m.mac),
            // `return`, `break`, `continue`, `loop`, `?`, labelled blocks and the rest.
            _ => self.ok = false,
        }
    }

    fn pattern_of_arm(&mut self, p: &Pat, declared: &mut HashSet<String>) {
        match p {
            Pat::Lit(_) | Pat::Range(_) | Pat::Wild(_) | Pat::Path(_) => {}
            Pat::Guard(g) => {
                self.pattern_of_arm(&g.pat, declared);
                self.expr(&g.guard, declared);
            }
            Pat::Or(o) => o
                .cases
                .iter()
                .for_each(|p| self.pattern_of_arm(p, declared)),
            _ => self.pattern(p, declared),
        }
    }
}

fn is_compound(op: &syn::BinOp) -> bool {
    use syn::BinOp::{
        AddAssign, BitAndAssign, BitOrAssign, BitXorAssign, DivAssign, MulAssign, RemAssign,
        ShlAssign, ShrAssign, SubAssign,
    };
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        _ => e,
    }
}

fn is_name(e: &Expr, name: &Ident) -> bool {
    matches!(strip(e), Expr::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}

fn is_zero(e: &Expr) -> bool {
    match strip(e) {
        Expr::Lit(l) => match &l.lit {
            syn::Lit::Float(f) => f.base10_parse::<f64>().is_ok_and(|v| v == 0.0),
            syn::Lit::Int(i) => i.base10_digits() == "0",
            _ => false,
        },
        _ => false,
    }
}

/// Whether an expression is written as the tokens of a length.
fn same(e: &Expr, len: &TokenStream) -> bool {
    let bare = |s: String| s.trim_start_matches('(').trim_end_matches(')').to_owned();
    bare(strip(e).to_token_stream().to_string()) == bare(len.to_string())
}
