//! Integer methods in loops, a shape of the second stream (`int_method_*`, README, "Shapes from
//! a second stream"): `a[i.abs_diff(j)] * x.powi(i.pow(2) as i32 % 3)`, `a[(i + 1).rem_euclid(n)]`,
//! `vb[i.saturating_sub(1)] = ..`, `if i.is_power_of_two() { .. }`, `usize::pow(2, i as u32) as
//! f64`, on the loop's counter, an enclosing loop's counter, `n`, `k`, `x.len()` and names bound
//! to them, every index within its array by construction.

use super::{Arr, ArrKind, Counter, Family, Gen, NEW, Rng, TY, cst, lit, mentions};

/// A `usize` expression and the range of its values.
#[derive(Clone)]
struct IntE {
    s: String,
    lo: usize,
    hi: usize,
    /// Needs no parentheses as a receiver or before `as`.
    atom: bool,
}

impl IntE {
    fn operand(&self) -> String {
        if self.atom {
            self.s.clone()
        } else {
            format!("({})", self.s)
        }
    }
}

/// An integer the shape may use: a loop counter, `n`, `x.len()` or a name it bound.
#[derive(Clone)]
struct IntAtom {
    e: IntE,
    /// Its type is known where it is used (rustc refuses a method on a counter of a literal
    /// range before an indexing has told it the type): it may be a receiver.
    typed: bool,
    /// The shape this atom marks when used.
    mark: Option<&'static str>,
}

impl Gen<'_> {
    /// After a statement (the same places as [`Gen::extra_statement`]), with probability `p`, a
    /// loop with integer methods ([`Gen::int_method_statement`]). Drawn from a stream forked from
    /// the second one without advancing it, so the other shapes of the second stream are drawn
    /// as before. `counter` is an enclosing loop's counter that lines of the first stream read.
    pub(super) fn extra_int_methods(
        &mut self,
        lines: &mut Vec<String>,
        counter: Option<Counter>,
        p: f64,
    ) {
        if self.family != Family::Flow
            || !self.calls
            || !self.items.is_empty()
            || !self.on("int_method_loop")
        {
            return;
        }
        self.int_draws += 1;
        let mut fork = Rng(self.extra.0
            ^ (self.int_draws as u64).wrapping_mul(0x9E6C_63D0_676A_9A99)
            ^ 0x1B17_5EED);
        fork.next();
        if !fork.chance(p) {
            return;
        }
        // An enclosing counter is typed if a line before indexes with it.
        let outer = counter.map(|c| {
            let plain = format!("[{}]", c.name);
            let typed = lines.iter().any(|l| l.contains(&plain));
            (c, typed)
        });
        let saved = std::mem::replace(&mut self.extra, fork);
        // Its names numbered apart (`vi4701`), so those of the other shapes are as before.
        let fresh = std::mem::replace(&mut self.extra_fresh, 100 * self.int_draws);
        let counters = outer.iter().map(|(c, _)| c.clone()).collect();
        self.in_second_stream(counters, |g| g.int_method_statement(lines, outer.as_ref()));
        self.extra_fresh = fresh;
        self.extra = saved;
    }

    /// A loop of its own, `for vi in R { .. }`, its range a literal (`0..3`, `(0..3).rev()`,
    /// `0..=2`: its first statement indexes with `vi`, as rustc needs before a method on it) or
    /// typed (`0..x.len()`, `0..n.min(3)`, `0..n.saturating_sub(1)`, `0..x.len().div_ceil(2)`:
    /// a method on `vi` may come first), with 2 to 4 statements that put integer methods in
    /// indices of reads and stores, in `powi` exponents, in casts, in conditions, in `let`s and
    /// in the bound of an inner loop; then an element of the array it stored into added into
    /// `vint`.
    fn int_method_statement(&mut self, lines: &mut Vec<String>, outer: Option<&(Counter, bool)>) {
        self.mark("int_method_loop");
        // What it reads: arrays in scope (not short slices); what it writes: a local array.
        let readable: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| a.len >= 1 && a.bound <= 8.0)
            .cloned()
            .collect();
        let stores = self.rng.chance(0.6) || readable.is_empty();
        let (target, decl) = if stores {
            let (b, decl) = self.view_target(false);
            (Some(b), decl)
        } else {
            (None, Vec::new())
        };
        lines.extend(decl);
        let mut arrays = readable;
        if let Some(b) = &target
            && !arrays.iter().any(|a| a.name == b.name)
        {
            arrays.push(b.clone());
        }
        let longest = arrays.iter().map(|a| a.len).max().unwrap_or(1);
        self.extra_fresh += 1;
        let vi = format!("vi{}", self.extra_fresh);
        // The range, its bound, and whether its counter must index first: a literal one
        // (`0..3`), or `0..h.len()` of a local array, whose length the expansion writes as a
        // literal (a known bug with a method on the counter first, `int_method_local_len`).
        let local_len = self.on("int_method_local_len");
        let sources: Vec<Arr> = arrays
            .iter()
            .filter(|a| local_len || !a.kind.local())
            .cloned()
            .collect();
        let pick = |g: &mut Self, min: usize| -> Option<Arr> {
            let s: Vec<&Arr> = sources.iter().filter(|a| a.len >= min).collect();
            (!s.is_empty()).then(|| s[g.rng.below(s.len())].clone())
        };
        let by_len = pick(self, 2);
        let (range, below, literal) = match self.rng.weighted(&[3, 1, 1, 3, 2, 1, 1]) {
            0..=2 if longest >= 2 => {
                let l = self.rng.range(2, longest.min(4));
                match self.rng.below(4) {
                    0 => (format!("(0..{l}).rev()"), l, true),
                    1 => (format!("0..={}", l - 1), l, true),
                    _ => (format!("0..{l}"), l, true),
                }
            }
            4 if self.n.is_some() => {
                let n = self.n.clone().unwrap_or_default();
                self.mark("int_method_int_param");
                if self.rng.chance(0.5) {
                    let l = self.rng.range(1, longest.min(4));
                    (format!("0..{n}.min({l})"), l, false)
                } else {
                    (format!("0..{n}.saturating_sub(1)"), 3, false)
                }
            }
            5 | 6 if by_len.is_some() => {
                let a = by_len.unwrap_or_else(|| arrays[0].clone());
                self.mark(if a.kind.local() {
                    "int_method_local_len"
                } else {
                    "int_method_len"
                });
                if self.rng.chance(0.5) {
                    let l = a.len.div_ceil(2);
                    (format!("0..{}.len().div_ceil(2)", a.name), l, false)
                } else {
                    (
                        format!("0..{}.len().saturating_sub(1)", a.name),
                        a.len - 1,
                        false,
                    )
                }
            }
            _ => {
                if let Some(a) = pick(self, 1) {
                    if a.kind.local() {
                        self.mark("int_method_local_len");
                    }
                    (format!("0..{}.len()", a.name), a.len, false)
                } else {
                    // No array whose length the expansion keeps: a literal range.
                    let l = longest.min(3);
                    (format!("0..{l}"), l, true)
                }
            }
        };
        let below = below.max(1);
        // The atoms: the counter, an enclosing one, `n`, lengths.
        let mut atoms = vec![IntAtom {
            e: IntE {
                s: vi.clone(),
                lo: 0,
                hi: below - 1,
                atom: true,
            },
            typed: true,
            mark: None,
        }];
        if let Some((c, typed)) = outer {
            atoms.push(IntAtom {
                e: IntE {
                    s: c.name.clone(),
                    lo: 0,
                    hi: c.below.max(1) - 1,
                    atom: true,
                },
                typed: *typed,
                mark: Some("int_method_outer_counter"),
            });
        }
        if let Some(n) = &self.n {
            atoms.push(IntAtom {
                e: IntE {
                    s: n.clone(),
                    lo: 0,
                    hi: 4,
                    atom: true,
                },
                typed: true,
                mark: Some("int_method_int_param"),
            });
        }
        for a in arrays.iter().filter(|a| local_len || !a.kind.local()) {
            atoms.push(IntAtom {
                e: IntE {
                    s: format!("{}.len()", a.name),
                    lo: a.len,
                    hi: a.len,
                    atom: true,
                },
                typed: true,
                mark: Some(if a.kind.local() {
                    "int_method_local_len"
                } else {
                    "int_method_len"
                }),
            });
        }
        let mut cx = Cx {
            arrays,
            target: target.clone(),
            atoms,
            cur: target.as_ref().map_or(0.0, |b| b.bound),
            added: 0.0,
            inner: 0,
            stored: false,
        };
        self.counters.push(Counter {
            name: vi.clone(),
            below,
        });
        self.loops += 1;
        let trips = self.trips;
        self.trips *= below as f64;
        self.indent += 1;
        let mut body = Vec::new();
        // A literal range: its counter indexes first (`vint += a[vi] * e;` or `vb[vi] = e;`).
        let plain: Vec<usize> = (0..cx.arrays.len())
            .filter(|&i| cx.arrays[i].len >= below)
            .collect();
        if literal || (!plain.is_empty() && self.rng.chance(0.4)) {
            let tgt_ok = cx.target.as_ref().is_some_and(|b| b.len >= below);
            if tgt_ok && self.rng.chance(0.4) {
                let b = cx.target.clone().unwrap_or_else(|| cx.arrays[0].clone());
                let e = self.var_small(cx.cur);
                // Not `vb[vi] = vb[vi];` (`clippy::self_assignment`): its negation.
                let value = if e.s == format!("{}[{vi}]", b.name) {
                    format!("-{}", e.s)
                } else {
                    e.s.clone()
                };
                self.extra_line(&mut body, &format!("{}[{vi}] = {value};", b.name));
            } else {
                let a = cx.arrays[plain[self.rng.below(plain.len())]].clone();
                let e = self.small(2, 2.0);
                self.extra_line(
                    &mut body,
                    &format!("vint += {}[{vi}] * {};", a.name, e.operand()),
                );
                cx.added += self.trips * a.bound * e.bound;
            }
        }
        let count = self.rng.range(2, 4);
        for _ in 0..count {
            self.int_stmt(&mut body, &mut cx, true);
        }
        // The target stored into at least once (a new one is declared `let mut`).
        if cx.target.is_some() && !cx.stored {
            self.int_store(&mut body, &mut cx);
        }
        // The counter as a receiver at least once.
        let receiver = [format!("{vi}."), format!("({vi} +"), format!("({vi} *")];
        if !body
            .iter()
            .any(|l| receiver.iter().any(|r| l.contains(r.as_str())))
        {
            let a = cx.arrays[self.rng.below(cx.arrays.len())].clone();
            let i = self.int_on(&cx, &cx.atoms[0].clone());
            let idx = self.int_index(&i, &a);
            let e = self.small(2, 2.0);
            self.mark("int_method_index");
            self.extra_line(
                &mut body,
                &format!("vint += {}[{idx}] * {};", a.name, e.operand()),
            );
            cx.added += self.trips * a.bound * e.bound;
        }
        self.indent -= 1;
        self.trips = trips;
        self.loops -= 1;
        self.counters.pop();
        if literal {
            self.mark("int_method_literal_range");
        } else {
            // The first use of the counter is not a plain index: a method (or a cast) first.
            let text = body.join("\n").replace(NEW, "");
            if let Some(at) = find_ident(&text, &vi)
                && !(text[..at].ends_with('[') && text[at + vi.len()..].starts_with(']'))
            {
                self.mark("int_method_before_index");
            }
        }
        self.extra_line(lines, &format!("for {vi} in {range} {{"));
        lines.extend(body);
        self.extra_line(lines, "}");
        // What the loop stored: an element of the array, read back.
        let mut added = cx.added;
        if let Some(b) = &cx.target
            && lines
                .iter()
                .any(|l| l.contains(NEW) && l.contains(&format!("{}[", b.name)))
        {
            let j = self.rng.below(b.len);
            let e = self.small(2, 2.0);
            self.extra_line(
                lines,
                &format!("vint += {}[{j}] * {};", b.name, e.operand()),
            );
            added += self.trips * cx.cur * e.bound;
        }
        self.vint = Some(self.vint.unwrap_or(0.0) + added);
    }

    /// A statement of the loop's body: a read `vint += a[IDX] * e;` (with `x.powi(EXP)` as the
    /// factor sometimes), a cast `vint += (E as f64) * e;`, a store into the target array, and
    /// with `nest` an `if` on an integer condition, a `let vm = E;` read after it, or an inner
    /// loop `for vj in 0..E { .. }`.
    fn int_stmt(&mut self, body: &mut Vec<String>, cx: &mut Cx, nest: bool) {
        let has_target = cx.target.is_some();
        let kind = self.rng.weighted(&[
            4,
            3,
            2,
            u32::from(has_target) * 4,
            u32::from(nest) * 2,
            u32::from(nest) * 2,
            u32::from(nest && cx.inner == 0) * 2,
        ]);
        match kind {
            0 => {
                // A read through an integer method.
                let a = cx.arrays[self.rng.below(cx.arrays.len())].clone();
                let i = self.int_expr(cx, 1);
                let idx = self.int_index(&i, &a);
                let e = self.small(2, 2.0);
                self.mark("int_method_index");
                self.extra_line(
                    body,
                    &format!("vint += {}[{idx}] * {};", a.name, e.operand()),
                );
                cx.added += self.trips * a.bound * e.bound;
            }
            1 => {
                // `a[IDX] * x.powi(EXP)` (or `f64::powi(x, EXP)`).
                let a = cx.arrays[self.rng.below(cx.arrays.len())].clone();
                let i = self.int_expr(cx, 1);
                let idx = if self.rng.chance(0.3) {
                    // A plain counter, or a literal, here.
                    let c = &cx.atoms[0].e;
                    if c.hi < a.len {
                        c.s.clone()
                    } else {
                        self.rng.below(a.len).to_string()
                    }
                } else {
                    self.mark("int_method_index");
                    self.int_index(&i, &a)
                };
                let exp = self.int_exponent(cx);
                let (pow, pb) = self.int_powi(&exp);
                self.mark("int_method_exponent");
                self.extra_line(body, &format!("vint += {}[{idx}] * {pow};", a.name));
                cx.added += self.trips * a.bound * pb;
            }
            2 => {
                // A cast of an integer method.
                let (c, hi) = self.int_cast(cx);
                let e = self.var_small(1.0);
                let scale = if hi > 4.0 {
                    format!("{} * ", lit(0.125))
                } else {
                    String::new()
                };
                self.mark("int_method_cast");
                self.extra_line(body, &format!("vint += {scale}{c} * {};", e.operand()));
                let f = if hi > 4.0 { 0.125 } else { 1.0 };
                cx.added += self.trips * hi * f * e.bound;
            }
            3 => self.int_store(body, cx),
            4 => {
                // `if COND { .. }` (and `else { .. }`).
                let c = self.int_condition(cx);
                self.mark("int_method_condition");
                self.extra_line(body, &format!("if {c} {{"));
                self.indent += 1;
                self.int_stmt(body, cx, false);
                self.indent -= 1;
                if self.rng.chance(0.3) {
                    self.extra_line(body, "} else {");
                    self.indent += 1;
                    self.int_stmt(body, cx, false);
                    self.indent -= 1;
                }
                self.extra_line(body, "}");
            }
            5 => {
                // `let vm: usize = E;`, read by the next statement.
                let i = self.int_expr(cx, 1);
                self.extra_fresh += 1;
                let vm = format!("vm{}", self.extra_fresh);
                let ty = if self.rng.chance(0.6) { ": usize" } else { "" };
                self.mark("int_method_let");
                self.extra_line(body, &format!("let {vm}{ty} = {};", i.s));
                let atom = IntAtom {
                    e: IntE {
                        s: vm.clone(),
                        lo: i.lo,
                        hi: i.hi,
                        atom: true,
                    },
                    typed: true,
                    mark: None,
                };
                // Read through an index, an exponent or a cast, sometimes as a receiver.
                let read = if self.rng.chance(0.4) {
                    self.int_on(cx, &atom)
                } else {
                    atom.e.clone()
                };
                match self.rng.below(3) {
                    0 => {
                        let exp = exponent_of(&read);
                        let (pow, pb) = self.int_powi(&exp);
                        self.mark("int_method_exponent");
                        self.extra_line(body, &format!("vint += {pow};"));
                        cx.added += self.trips * pb;
                    }
                    1 => {
                        let e = self.var_small(1.0);
                        let (c, hi) = (cst(&format!("{} as f64", read.operand())), read.hi);
                        let (scale, f) = if hi > 4 {
                            (format!("{} * ", lit(0.125)), 0.125)
                        } else {
                            (String::new(), 1.0)
                        };
                        self.mark("int_method_cast");
                        self.extra_line(body, &format!("vint += {scale}{c} * {};", e.operand()));
                        cx.added += self.trips * hi as f64 * f * e.bound;
                    }
                    _ => {
                        let a = cx.arrays[self.rng.below(cx.arrays.len())].clone();
                        let idx = self.int_index(&read, &a);
                        let e = self.small(2, 2.0);
                        self.mark("int_method_index");
                        self.extra_line(
                            body,
                            &format!("vint += {}[{idx}] * {};", a.name, e.operand()),
                        );
                        cx.added += self.trips * a.bound * e.bound;
                    }
                }
            }
            _ => {
                // `for vj in 0..E { .. }`, `E` an integer method at most the arrays' length.
                let longest = cx.arrays.iter().map(|a| a.len).max().unwrap_or(1);
                let i = self.int_expr(cx, 0);
                let top = self.rng.range(1, longest.min(4));
                let (bound, below) = if i.hi <= top {
                    (i.s.clone(), i.hi)
                } else {
                    (format!("{}.min({top})", i.operand()), top)
                };
                self.extra_fresh += 1;
                let vj = format!("vj{}", self.extra_fresh);
                self.mark("int_method_inner_bound");
                self.extra_line(body, &format!("for {vj} in 0..{bound} {{"));
                let below = below.max(1);
                cx.atoms.insert(
                    1,
                    IntAtom {
                        e: IntE {
                            s: vj.clone(),
                            lo: 0,
                            hi: below - 1,
                            atom: true,
                        },
                        typed: true,
                        mark: None,
                    },
                );
                cx.inner += 1;
                self.counters.push(Counter {
                    name: vj.clone(),
                    below,
                });
                let trips = self.trips;
                self.trips *= below as f64;
                self.loops += 1;
                self.indent += 1;
                let before = body.len();
                self.int_stmt(body, cx, false);
                // The inner counter read (else `_`): in an index.
                if !body[before..]
                    .iter()
                    .any(|l| mentions(&l.replace(NEW, ""), &vj))
                {
                    let a = cx.arrays[self.rng.below(cx.arrays.len())].clone();
                    let idx = self.int_index(&cx.atoms[1].e.clone(), &a);
                    let e = self.small(2, 2.0);
                    self.extra_line(
                        body,
                        &format!("vint += {}[{idx}] * {};", a.name, e.operand()),
                    );
                    cx.added += self.trips * a.bound * e.bound;
                }
                self.indent -= 1;
                self.loops -= 1;
                self.trips = trips;
                self.counters.pop();
                cx.inner -= 1;
                cx.atoms.remove(1);
                self.extra_line(body, "}");
            }
        }
    }

    /// A store into the target array at an index with an integer method: `vb[P] = e;`,
    /// `vb[P] = vb[Q] * e;`, `vb[P] *= e;`, `vb[P] = 0.5 * vb[Q] + e;`, each keeping every element
    /// within the array's bound.
    fn int_store(&mut self, body: &mut Vec<String>, cx: &mut Cx) {
        let Some(b) = cx.target.clone() else {
            return;
        };
        // Not `vb[i.min(vb.len() - 1)] = ..` on a `Vec`: the index would borrow what
        // `IndexMut` already borrows mutably (E0502).
        let own = format!("{}.len()", b.name);
        let mut p = None;
        for _ in 0..8 {
            let i = self.int_expr(cx, 1);
            let q = self.int_index(&i, &b);
            if b.kind != ArrKind::Buffer || !q.contains(&own) {
                p = Some(q);
                break;
            }
        }
        let p = p.unwrap_or_else(|| format!("{}.rem_euclid({})", cx.atoms[0].e.s, b.len));
        cx.stored = true;
        self.mark("int_method_store");
        let limit = cx.cur;
        match self.rng.below(4) {
            0 => {
                let e = self.var_small(limit);
                self.extra_line(body, &format!("{}[{p}] = {};", b.name, e.s));
            }
            1 => {
                let j = self.int_expr(cx, 0);
                let q = self.int_index(&j, &b);
                let e = self.var_small(1.0);
                self.extra_line(
                    body,
                    &format!("{}[{p}] = {}[{q}] * {};", b.name, b.name, e.operand()),
                );
            }
            2 => {
                let e = self.var_small(1.0);
                // `vb[P] *= e` with `e` reading `vb` borrows `vb` mutably before `e` reads it
                // where the element type is not a primitive (the oracles' `R`: E0502).
                let line = if mentions(&e.s, &b.name) {
                    format!("{}[{p}] = {}[{p}] * {};", b.name, b.name, e.operand())
                } else {
                    format!("{}[{p}] *= {};", b.name, e.s)
                };
                self.extra_line(body, &line);
            }
            _ => {
                let j = self.int_expr(cx, 0);
                let q = self.int_index(&j, &b);
                let e = self.var_small(limit / 2.0);
                self.extra_line(
                    body,
                    &format!(
                        "{}[{p}] = {} * {}[{q}] + {};",
                        b.name,
                        lit(0.5),
                        b.name,
                        e.s
                    ),
                );
            }
        }
    }

    /// A base for `powi` that is never zero (an exponent may be 0), with the bound on it:
    /// `x.tanh() + 1.25`, `x.hypot(0.5)` or `x * x + 0.5`, and whether it needs parentheses as a
    /// receiver.
    fn pow_base(&mut self) -> (String, f64, bool) {
        match self.rng.below(3) {
            0 => {
                let x = self.var_small(2.0);
                (
                    format!("{}.tanh() + {}", x.operand(), lit(1.25)),
                    2.25,
                    true,
                )
            }
            1 => {
                let x = self.var_small(1.5);
                (format!("{}.hypot({})", x.operand(), lit(0.5)), 1.6, false)
            }
            _ => {
                let x = self.var_small(1.0);
                let o = x.operand();
                (format!("{o} * {o} + {}", lit(0.5)), 1.5, true)
            }
        }
    }

    /// `x.powi(e)`, or `f64::powi(x, e)` (`R::powi` in the oracles), of a [`Gen::pow_base`],
    /// and the bound on it (`e` at most 2).
    fn int_powi(&mut self, exp: &str) -> (String, f64) {
        let (x, b, paren) = self.pow_base();
        let s = if self.rng.chance(0.2) {
            format!("{TY}::powi({x}, {exp})")
        } else if paren {
            format!("({x}).powi({exp})")
        } else {
            format!("{x}.powi({exp})")
        };
        (s, b * b)
    }

    /// An atom: the loop's counter most often (an inner loop's first), else an enclosing
    /// counter, `n`, a length, or `(c + 1)`, `(c * 2)` of the counter.
    fn int_atom(&mut self, cx: &Cx, receiver: bool) -> IntE {
        let usable: Vec<&IntAtom> = cx.atoms.iter().filter(|a| a.typed || !receiver).collect();
        let weights: Vec<u32> = (0..usable.len())
            .map(|i| {
                if i == 0 {
                    5
                } else if i == 1 {
                    3
                } else {
                    1
                }
            })
            .collect();
        let a = usable[self.rng.weighted(&weights)].clone();
        if let Some(m) = a.mark {
            self.mark(m);
        }
        match self.rng.below(6) {
            0 if a.typed => IntE {
                s: format!("{} + 1", a.e.s),
                lo: a.e.lo + 1,
                hi: a.e.hi + 1,
                atom: false,
            },
            1 if a.typed => IntE {
                s: format!("{} * 2", a.e.s),
                lo: a.e.lo * 2,
                hi: a.e.hi * 2,
                atom: false,
            },
            _ => a.e,
        }
    }

    /// An integer expression with at least one integer method.
    fn int_expr(&mut self, cx: &Cx, depth: usize) -> IntE {
        let r = if depth > 0 && self.rng.chance(0.3) {
            self.int_expr(cx, depth - 1)
        } else {
            self.int_atom(cx, true)
        };
        self.int_on(
            cx,
            &IntAtom {
                e: r,
                typed: true,
                mark: None,
            },
        )
    }

    /// An integer method on `r`.
    fn int_on(&mut self, cx: &Cx, r: &IntAtom) -> IntE {
        let r = r.e.clone();
        let o = r.operand();
        let chain = |s: String, lo: usize, hi: usize| IntE {
            s,
            lo,
            hi,
            atom: true,
        };
        match self.rng.below(13) {
            0 | 1 if r.hi <= 6 => chain(format!("{o}.pow(2)"), r.lo * r.lo, r.hi * r.hi),
            2 | 3 => {
                let y = if self.rng.chance(0.5) {
                    let l = self.rng.below(3);
                    IntE {
                        s: l.to_string(),
                        lo: l,
                        hi: l,
                        atom: true,
                    }
                } else {
                    self.int_atom(cx, false)
                };
                chain(format!("{o}.abs_diff({})", y.s), 0, r.hi.max(y.hi))
            }
            4 => {
                let m = self.rng.range(2, 4);
                chain(format!("{o}.rem_euclid({m})"), 0, (m - 1).min(r.hi))
            }
            5 => {
                let c = self.rng.range(1, 2);
                chain(
                    format!("{o}.saturating_sub({c})"),
                    r.lo.saturating_sub(c),
                    r.hi.saturating_sub(c),
                )
            }
            6 => {
                let c = self.rng.range(1, 2);
                let d = self.rng.below(3);
                let hi = if r.hi >= c { (r.hi - c).max(d) } else { d };
                let lo = if r.lo >= c { (r.lo - c).min(d) } else { 0 };
                chain(format!("{o}.checked_sub({c}).unwrap_or({d})"), lo, hi)
            }
            7 if r.hi <= 3 => IntE {
                s: format!("usize::pow(2, {o} as u32)"),
                lo: 1 << r.lo,
                hi: 1 << r.hi,
                atom: true,
            },
            8 => {
                let y = self.int_atom(cx, false);
                if self.rng.chance(0.5) {
                    chain(format!("{o}.min({})", y.s), r.lo.min(y.lo), r.hi.min(y.hi))
                } else {
                    chain(format!("{o}.max({})", y.s), r.lo.max(y.lo), r.hi.max(y.hi))
                }
            }
            9 => {
                if self.rng.chance(0.5) {
                    chain(format!("{o}.div_euclid(2)"), r.lo / 2, r.hi / 2)
                } else {
                    chain(
                        format!("{o}.div_ceil(2)"),
                        r.lo.div_ceil(2),
                        r.hi.div_ceil(2),
                    )
                }
            }
            10 => chain(format!("{o}.isqrt()"), r.lo.isqrt(), r.hi.isqrt()),
            11 if r.hi <= 8 => chain(
                format!("{o}.next_power_of_two()"),
                r.lo.next_power_of_two(),
                r.hi.next_power_of_two(),
            ),
            11 => chain(format!("{o}.wrapping_add(1)"), r.lo + 1, r.hi + 1),
            _ => {
                // `usize::abs_diff(a, b)`, `usize::min(a, b)`: the path forms.
                let y = self.int_atom(cx, false);
                if self.rng.chance(0.5) {
                    chain(
                        format!("usize::abs_diff({}, {})", r.s, y.s),
                        0,
                        r.hi.max(y.hi),
                    )
                } else {
                    chain(
                        format!("usize::saturating_sub({}, {})", r.s, y.s),
                        0,
                        r.hi.saturating_sub(y.lo),
                    )
                }
            }
        }
    }

    /// `i` as an index into `a`: as it is if it stays below `a.len()`, else wrapped (`% L`,
    /// `.min(L - 1)`, `.rem_euclid(L)`, `L` a literal or `a.len()`).
    fn int_index(&mut self, i: &IntE, a: &Arr) -> String {
        if i.hi < a.len && self.rng.chance(0.7) {
            return i.s.clone();
        }
        let l = if self.rng.chance(0.4) {
            format!("{}.len()", a.name)
        } else {
            a.len.to_string()
        };
        match self.rng.below(3) {
            0 => format!("{} % {l}", i.operand()),
            1 => format!("{}.min({l} - 1)", i.operand()),
            _ => format!("{}.rem_euclid({l})", i.operand()),
        }
    }

    /// A `powi` exponent in `0..=2` from an integer method: `(E as i32) % 3` or, with the `i32`
    /// parameter `k`, `k.rem_euclid(3)`, `k.pow(2) % 3`, `k.abs_diff(1) as i32 % 3`,
    /// `k.signum() + 1`, `i32::pow(k, 2) % 3`, `k.unsigned_abs().min(2) as i32`.
    fn int_exponent(&mut self, cx: &Cx) -> String {
        if let Some(k) = self.k.clone()
            && self.rng.chance(0.35)
        {
            self.mark("int_method_int_param");
            return match self.rng.below(6) {
                0 => format!("{k}.rem_euclid(3)"),
                1 => format!("{k}.pow(2) % 3"),
                2 => format!("{k}.abs_diff(1) as i32 % 3"),
                3 => format!("{k}.signum() + 1"),
                4 => format!("i32::pow({k}, 2) % 3"),
                _ => format!("{k}.unsigned_abs().min(2) as i32"),
            };
        }
        let i = self.int_expr(cx, 1);
        if self.rng.chance(0.15) {
            return format!("i32::try_from({}).unwrap_or(0) % 3", i.s);
        }
        exponent_of(&i)
    }

    /// A cast `E as f64` (a constant: `R::cst(..)` in the oracles) and the bound on its value:
    /// `n.pow(2) as f64`, `usize::pow(2, i as u32) as f64`, `f64::from(k.pow(2))`, ...
    fn int_cast(&mut self, cx: &Cx) -> (String, f64) {
        if let Some(k) = self.k.clone()
            && self.rng.chance(0.3)
        {
            self.mark("int_method_int_param");
            return match self.rng.below(3) {
                0 => (cst(&format!("f64::from({k}.pow(2))")), 9.0),
                1 => (cst(&format!("f64::from({k}.rem_euclid(4))")), 3.0),
                _ => (cst(&format!("f64::from({k}.abs_diff(-1))")), 4.0),
            };
        }
        let i = self.int_expr(cx, 1);
        (cst(&format!("{} as f64", i.operand())), i.hi as f64)
    }

    /// A condition on integer methods: `E.is_power_of_two()`, `E.is_multiple_of(2)`,
    /// `E.checked_sub(1).is_some()`, `usize::is_power_of_two(E)`, `E.abs_diff(c) <= 1`, or of
    /// `k`: `k.is_positive()`, `k.rem_euclid(2) == 0`.
    fn int_condition(&mut self, cx: &Cx) -> String {
        if let Some(k) = self.k.clone()
            && self.rng.chance(0.25)
        {
            self.mark("int_method_int_param");
            return match self.rng.below(3) {
                0 => format!("{k}.is_positive()"),
                1 => format!("{k}.is_negative()"),
                _ => format!("{k}.rem_euclid(2) == 0"),
            };
        }
        let i = if self.rng.chance(0.5) {
            self.int_atom(cx, true)
        } else {
            self.int_expr(cx, 0)
        };
        let o = i.operand();
        match self.rng.below(5) {
            0 => format!("{o}.is_power_of_two()"),
            1 => format!("{o}.is_multiple_of(2)"),
            2 => format!("{o}.checked_sub(1).is_some()"),
            3 => format!("usize::is_power_of_two({})", i.s),
            _ => {
                let y = self.int_atom(cx, false);
                format!("{o}.abs_diff({}) <= 1", y.s)
            }
        }
    }
}

/// A `powi` exponent in `0..=2` of `i`.
fn exponent_of(i: &IntE) -> String {
    if i.hi <= 2 {
        format!("{} as i32", i.operand())
    } else {
        format!("{} as i32 % 3", i.operand())
    }
}

/// Where `name` first occurs in `text` as a whole identifier.
fn find_ident(text: &str, name: &str) -> Option<usize> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(at) = text[from..].find(name) {
        let at = from + at;
        let end = at + name.len();
        let before = text[..at].chars().next_back().is_some_and(ident);
        let after = text[end..].chars().next().is_some_and(ident);
        if !before && !after {
            return Some(at);
        }
        from = end;
    }
    None
}

/// What the statements of one loop of the shape share.
struct Cx {
    /// The arrays it reads (and the one it writes).
    arrays: Vec<Arr>,
    /// The local array it stores into, if any.
    target: Option<Arr>,
    /// The integers it uses: the loop's counter first (an inner loop's inserted second).
    atoms: Vec<IntAtom>,
    /// The bound on the target's elements, which every store keeps.
    cur: f64,
    /// The bound on what it added into `vint`.
    added: f64,
    /// Inner loops open.
    inner: usize,
    /// Whether a store into the target was written.
    stored: bool,
}
