//! Syntax trees with long chains of binary operators: their tokens, for lowering's scans (does
//! a statement `return`, `break`, which names does it assign) and for spans, and their disposal,
//! without recursion along the chains.
//!
//! `syn` parses `a + b + c + ..` left-nested, and its printer recurses down the left spine, at
//! about 800 bytes of stack a term in the unoptimised build a proc macro runs as: a sum of
//! 10,000 terms, as symbolic code generators print them, took 8 MiB to print. Here a chain is
//! printed by a loop over its spine. The constructs lowering accepts are printed piece by
//! piece, so that a chain inside them (a `let`, a call's argument, a branch) is printed this way
//! too; anything else, and any node with attributes, is printed by `syn`. Parsed syntax trees
//! need none of the parentheses `syn`'s printer may add, so the tokens are the same.
//!
//! Dropping the tree recurses down the spine too, at a hundred bytes or so a term; [`dispose`]
//! takes it apart with a work list instead.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Block, Expr, Stmt};

pub fn stmt(s: &Stmt) -> TokenStream {
    let mut out = TokenStream::new();
    print_stmt(s, &mut out);
    out
}

pub fn block(b: &Block) -> TokenStream {
    let mut out = TokenStream::new();
    print_block(b, &mut out);
    out
}

pub fn expr(e: &Expr) -> TokenStream {
    let mut out = TokenStream::new();
    print_expr(e, &mut out);
    out
}

/// The span of `tokens` as `syn`'s `Spanned` computes it: the first token's joined to the
/// last's, or the first's where they cannot be joined.
pub fn span(tokens: TokenStream) -> Span {
    let mut spans = tokens.into_iter().map(|t| t.span());
    let Some(first) = spans.next() else {
        return Span::call_site();
    };
    spans
        .last()
        .and_then(|last| first.join(last))
        .unwrap_or(first)
}

/// `syn::spanned::Spanned::span` of an expression.
pub fn expr_span(e: &Expr) -> Span {
    span(expr(e))
}

fn print_stmt(s: &Stmt, out: &mut TokenStream) {
    match s {
        Stmt::Local(l) if l.attrs.is_empty() => {
            l.let_token.to_tokens(out);
            l.pat.to_tokens(out);
            if let Some(init) = &l.init {
                init.eq_token.to_tokens(out);
                print_expr(&init.expr, out);
                if let Some((else_token, diverge)) = &init.diverge {
                    else_token.to_tokens(out);
                    print_expr(diverge, out);
                }
            }
            l.semi_token.to_tokens(out);
        }
        Stmt::Expr(e, semi) => {
            print_expr(e, out);
            semi.to_tokens(out);
        }
        other => other.to_tokens(out),
    }
}

fn print_block(b: &Block, out: &mut TokenStream) {
    b.brace_token.surround(out, |out| {
        for s in &b.stmts {
            print_stmt(s, out);
        }
    });
}

fn print_args(args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>, out: &mut TokenStream) {
    for pair in args.pairs() {
        print_expr(pair.value(), out);
        pair.punct().to_tokens(out);
    }
}

/// Whether `e` carries attributes: then `syn` prints it, as it places them.
fn has_attrs(e: &Expr) -> bool {
    match e {
        Expr::Binary(x) => !x.attrs.is_empty(),
        Expr::Paren(x) => !x.attrs.is_empty(),
        Expr::Group(x) => !x.attrs.is_empty(),
        Expr::Unary(x) => !x.attrs.is_empty(),
        Expr::Cast(x) => !x.attrs.is_empty(),
        Expr::Call(x) => !x.attrs.is_empty(),
        Expr::MethodCall(x) => !x.attrs.is_empty(),
        Expr::Index(x) => !x.attrs.is_empty(),
        Expr::Field(x) => !x.attrs.is_empty(),
        Expr::Return(x) => !x.attrs.is_empty(),
        Expr::Assign(x) => !x.attrs.is_empty(),
        Expr::If(x) => !x.attrs.is_empty(),
        Expr::ForLoop(x) => !x.attrs.is_empty(),
        Expr::While(x) => !x.attrs.is_empty(),
        Expr::Loop(x) => !x.attrs.is_empty(),
        Expr::Block(x) => !x.attrs.is_empty(),
        Expr::Array(x) => !x.attrs.is_empty(),
        _ => true,
    }
}

/// A function for each construct: in the unoptimised build a function's frame holds the locals
/// of every arm, and this one recurses as deep as the nesting.
fn print_expr(e: &Expr, out: &mut TokenStream) {
    if has_attrs(e) {
        e.to_tokens(out);
        return;
    }
    match e {
        Expr::Binary(top) => print_chain(top, out),
        Expr::Paren(p) => p.paren_token.surround(out, |out| print_expr(&p.expr, out)),
        Expr::Group(g) => g.group_token.surround(out, |out| print_expr(&g.expr, out)),
        Expr::Unary(u) => {
            u.op.to_tokens(out);
            print_expr(&u.expr, out);
        }
        Expr::Cast(c) => print_cast(c, out),
        Expr::Call(c) => print_call(c, out),
        Expr::MethodCall(m) => print_method_call(m, out),
        Expr::Index(i) => print_index(i, out),
        Expr::Field(f) => print_field(f, out),
        Expr::Return(r) => print_return(r, out),
        Expr::Assign(a) => print_assign(a, out),
        Expr::If(i) => print_if(i, out),
        Expr::ForLoop(f) => print_for(f, out),
        Expr::While(w) => print_while(w, out),
        Expr::Loop(l) => print_loop(l, out),
        Expr::Block(b) => print_block_expr(b, out),
        Expr::Array(a) => a
            .bracket_token
            .surround(out, |out| print_args(&a.elems, out)),
        other => other.to_tokens(out),
    }
}

/// `a + b - c * d + ..`: the left spine in a loop.
fn print_chain(top: &syn::ExprBinary, out: &mut TokenStream) {
    let mut spine = vec![top];
    let mut leftmost = &*top.left;
    while let Expr::Binary(b) = leftmost {
        if !b.attrs.is_empty() {
            break;
        }
        spine.push(b);
        leftmost = &b.left;
    }
    print_expr(leftmost, out);
    for b in spine.into_iter().rev() {
        b.op.to_tokens(out);
        print_expr(&b.right, out);
    }
}

fn print_cast(c: &syn::ExprCast, out: &mut TokenStream) {
    print_expr(&c.expr, out);
    c.as_token.to_tokens(out);
    c.ty.to_tokens(out);
}

fn print_call(c: &syn::ExprCall, out: &mut TokenStream) {
    print_expr(&c.func, out);
    c.paren_token.surround(out, |out| print_args(&c.args, out));
}

fn print_method_call(m: &syn::ExprMethodCall, out: &mut TokenStream) {
    print_expr(&m.receiver, out);
    m.dot_token.to_tokens(out);
    m.method.to_tokens(out);
    m.turbofish.to_tokens(out);
    m.paren_token.surround(out, |out| print_args(&m.args, out));
}

fn print_index(i: &syn::ExprIndex, out: &mut TokenStream) {
    print_expr(&i.expr, out);
    i.bracket_token
        .surround(out, |out| print_expr(&i.index, out));
}

fn print_field(f: &syn::ExprField, out: &mut TokenStream) {
    print_expr(&f.base, out);
    f.dot_token.to_tokens(out);
    f.member.to_tokens(out);
}

fn print_return(r: &syn::ExprReturn, out: &mut TokenStream) {
    r.return_token.to_tokens(out);
    if let Some(e) = &r.expr {
        print_expr(e, out);
    }
}

fn print_assign(a: &syn::ExprAssign, out: &mut TokenStream) {
    print_expr(&a.left, out);
    a.eq_token.to_tokens(out);
    print_expr(&a.right, out);
}

/// `if .. {} else if .. {} else {}`: an `else if` chain in a loop, as `syn` prints it.
fn print_if(first: &syn::ExprIf, out: &mut TokenStream) {
    let mut i = first;
    loop {
        i.if_token.to_tokens(out);
        print_expr(&i.cond, out);
        print_block(&i.then_branch, out);
        let Some((else_token, otherwise)) = &i.else_branch else {
            return;
        };
        else_token.to_tokens(out);
        match &**otherwise {
            Expr::If(next) if next.attrs.is_empty() => i = next,
            other => return print_expr(other, out),
        }
    }
}

fn print_for(f: &syn::ExprForLoop, out: &mut TokenStream) {
    f.label.to_tokens(out);
    f.for_token.to_tokens(out);
    f.pat.to_tokens(out);
    f.in_token.to_tokens(out);
    print_expr(&f.expr, out);
    print_block(&f.body, out);
}

fn print_while(w: &syn::ExprWhile, out: &mut TokenStream) {
    w.label.to_tokens(out);
    w.while_token.to_tokens(out);
    print_expr(&w.cond, out);
    print_block(&w.body, out);
}

fn print_loop(l: &syn::ExprLoop, out: &mut TokenStream) {
    l.label.to_tokens(out);
    l.loop_token.to_tokens(out);
    print_block(&l.body, out);
}

fn print_block_expr(b: &syn::ExprBlock, out: &mut TokenStream) {
    b.label.to_tokens(out);
    print_block(&b.block, out);
}

/// Drops a function's body without recursion along its chains of binary operators: the
/// expressions of the constructs printed here are taken out of their parents onto a work list,
/// so each is dropped with its children gone; anything else is dropped as it is.
pub fn dispose(block: Block) {
    let mut exprs: Vec<Expr> = Vec::new();
    let mut blocks = vec![block];
    loop {
        if let Some(b) = blocks.pop() {
            for s in b.stmts {
                match s {
                    Stmt::Local(l) => {
                        if let Some(init) = l.init {
                            exprs.push(*init.expr);
                            if let Some((_, diverge)) = init.diverge {
                                exprs.push(*diverge);
                            }
                        }
                    }
                    Stmt::Expr(e, _) => exprs.push(e),
                    other => drop(other),
                }
            }
            continue;
        }
        let Some(e) = exprs.pop() else {
            break;
        };
        match e {
            Expr::Binary(b) => exprs.extend([*b.left, *b.right]),
            Expr::Paren(p) => exprs.push(*p.expr),
            Expr::Group(g) => exprs.push(*g.expr),
            Expr::Unary(u) => exprs.push(*u.expr),
            Expr::Cast(c) => exprs.push(*c.expr),
            Expr::Call(c) => {
                exprs.push(*c.func);
                exprs.extend(c.args);
            }
            Expr::MethodCall(m) => {
                exprs.push(*m.receiver);
                exprs.extend(m.args);
            }
            Expr::Index(i) => exprs.extend([*i.expr, *i.index]),
            Expr::Field(f) => exprs.push(*f.base),
            Expr::Return(r) => exprs.extend(r.expr.map(|e| *e)),
            Expr::Assign(a) => exprs.extend([*a.left, *a.right]),
            Expr::If(i) => {
                exprs.push(*i.cond);
                blocks.push(i.then_branch);
                exprs.extend(i.else_branch.map(|(_, e)| *e));
            }
            Expr::ForLoop(f) => {
                exprs.push(*f.expr);
                blocks.push(f.body);
            }
            Expr::While(w) => {
                exprs.push(*w.cond);
                blocks.push(w.body);
            }
            Expr::Loop(l) => blocks.push(l.body),
            Expr::Block(b) => blocks.push(b.block),
            Expr::Array(a) => exprs.extend(a.elems),
            other => drop(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens are `syn`'s, for every construct printed here and some that are not.
    #[test]
    fn prints_what_syn_prints() {
        let body: Block = syn::parse_str(
            "{
                let a = x * y + (z - 1.0) / w.sqrt() - f(a + b, c) * v[i + 1] as f64;
                let b: [f64; 2] = [a + 1.0, -a];
                s += a * b[0] + p.q;
                t = if a < b { a + b + c } else if c { d } else { e };
                for i in 0..n { if g(i) { break; } s = s + x[i] * x[i]; }
                while s < 1.0 && !done { s = s * 2.0; continue; }
                'outer: loop { return s + 1.0; }
                { let u = s; }
                let w = match s { _ => 1.0 } + #[allow(unused)] 2.0;
                let v = |q: f64| q * q;
                s + t * u - v(1.0)
            }",
        )
        .expect("a block");
        for s in &body.stmts {
            assert_eq!(stmt(s).to_string(), s.to_token_stream().to_string());
        }
        assert_eq!(block(&body).to_string(), body.to_token_stream().to_string());
    }

    /// A chain of 20,000 terms prints, and is dropped, on a 1 MiB stack.
    #[test]
    fn long_chain_prints_without_recursion() {
        let source = format!("{{ let s = x{}; s }}", " + x * y".repeat(20_000));
        let tokens = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let b: Block = syn::parse_str(&source).expect("a block");
                let n = stmt(&b.stmts[0]).into_iter().count();
                dispose(b);
                n
            })
            .expect("spawn")
            .join()
            .expect("no overflow");
        assert_eq!(tokens, 5 + 4 * 20_000);
    }
}
