//! Constructs of real programs, a shape of the second stream (`real_*`, README, "Shapes from a
//! second stream"): `const` tables iterated (`W.iter().enumerate()`, `W.iter().zip(x)`) and
//! indexed (`W[i]`), float predicates as conditions (`x.is_finite()`, `x.is_nan()`,
//! `x.is_sign_negative()`, `(a..=b).contains(&x)`), `b.swap(i, j)` on a local array or a `&mut`
//! part of one, closures that assign a captured `let mut` and closures with array parameters,
//! `fold` over pairs and with a tuple accumulator, calls with several outputs by path
//! (`m::g(x)`), and helpers that write into a buffer taking a constant `&[usize]` before it,
//! called in loops on buffers declared before them.
//!
//! Over `f64` the iterator forms are printed as written; in the oracles the same iteration is an
//! index loop ([`split`]), so the oracles never run a form the macro lowers.

use super::{
    Arr, ArrKind, C0, C1, Counter, Family, Gen, NEW, Rng, Scalar, TY, cst, lit, mentions, split,
};

/// How an array is passed as `&[T]`, or iterated: `a` for slices and references to arrays, `&a`
/// for arrays and buffers.
fn by_ref(a: &Arr) -> String {
    match a.kind {
        ArrKind::Slice | ArrKind::RefArray => a.name.clone(),
        _ => format!("&{}", a.name),
    }
}

/// `AUTODIFF_RANDOM_REAL_RATE` (default 1): a factor on the probabilities with which these
/// constructs are drawn, for batches with more of them.
fn rate() -> f64 {
    static RATE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| {
        std::env::var("AUTODIFF_RANDOM_REAL_RATE").map_or(1.0, |s| {
            s.parse()
                .unwrap_or_else(|_| panic!("AUTODIFF_RANDOM_REAL_RATE: {s:?} is not a number"))
        })
    })
}

/// The constants of tables.
const TABLE: &[f64] = &[0.5, -0.25, 0.75, 1.5, -1.0, 0.125, 2.0, -0.5];

impl Gen<'_> {
    /// After a statement (the places of [`Gen::extra_int_methods`]), with probability `p`, one to
    /// three constructs of real programs ([`Gen::real_statement`]), drawn from a stream forked
    /// from the second one without advancing it, their names numbered apart (`vr100301`), adding
    /// into `vreal` only: the rest of the program is printed as without them. `counter` is an
    /// enclosing loop's counter that lines of the first stream read.
    pub(super) fn extra_real(&mut self, lines: &mut Vec<String>, counter: Option<Counter>, p: f64) {
        if self.family != Family::Flow
            || !self.calls
            || !self.items.is_empty()
            || !self.on("real_block")
        {
            return;
        }
        self.real_draws += 1;
        let mut fork = Rng(self.extra.0
            ^ (self.real_draws as u64).wrapping_mul(0xA24B_AED4_963E_E407)
            ^ 0x5EA1_0C0D);
        fork.next();
        if !fork.chance(p * rate()) {
            return;
        }
        let saved = std::mem::replace(&mut self.extra, fork);
        let fresh = std::mem::replace(&mut self.extra_fresh, 100_000 + 100 * self.real_draws);
        self.in_second_stream(counter.into_iter().collect(), |g| {
            g.mark("real_block");
            let count = g.rng.range(1, 3);
            for _ in 0..count {
                g.real_statement(lines);
            }
        });
        self.extra_fresh = fresh;
        self.extra = saved;
    }

    fn real_fresh(&mut self) -> usize {
        self.extra_fresh += 1;
        self.extra_fresh
    }

    /// Adds `bound` (per run of the lines, times the enclosing loops' trips) to `vreal`'s bound.
    fn real_add(&mut self, bound: f64) {
        self.vreal = Some(self.vreal.unwrap_or(0.0) + self.trips * bound);
    }

    /// Arrays in scope that may be read (elements at most 4).
    fn real_arrays(&self, min_len: usize) -> Vec<Arr> {
        self.arrays
            .iter()
            .filter(|a| a.len >= min_len && a.bound <= 4.0)
            .cloned()
            .collect()
    }

    /// One construct.
    fn real_statement(&mut self, lines: &mut Vec<String>) {
        let on = |g: &Self, s: &'static str| u32::from(g.on(s));
        let kind = self.rng.weighted(&[
            3 * on(self, "real_const_table"),
            2 * on(self, "real_predicate"),
            2 * on(self, "real_swap"),
            2 * on(self, "real_closure_assign"),
            on(self, "real_closure_array"),
            2 * on(self, "real_fold_pairs"),
            2 * on(self, "real_call_path"),
            2 * on(self, "real_buffer_index_helper"),
        ]);
        match kind {
            0 => self.real_const_table(lines),
            1 => self.real_predicate(lines),
            2 => self.real_swap(lines),
            3 => self.real_closure_assign(lines),
            4 => self.real_closure_array(lines),
            5 => self.real_fold(lines),
            6 => self.real_call_path(lines),
            _ => self.real_buffer_index(lines),
        }
    }

    /// `const VRW: [T; L] = [..];` iterated, `for (i, w) in VRW.iter().enumerate()`,
    /// `for (w, v) in VRW.iter().zip(a)`, `VRW.iter().zip(a).map(|(p, q)| p * q).sum()`, or
    /// indexed, `VRW[i]` with a loop counter or a literal.
    fn real_const_table(&mut self, lines: &mut Vec<String>) {
        self.mark("real_const_table");
        // From a fork of this stream, which it does not advance: a table that is an array of
        // arrays, read `VRM[i][j]`, declared where it is read (in a loop's body, a branch).
        let mut fork = Rng(self.rng.0 ^ 0x7AB1_E0F0_2D00_0001);
        if self.on("real_const_matrix") && fork.chance(0.5) {
            self.mark("real_const_matrix");
            let m = format!("VRM{}", self.extra_fresh + 50);
            let rows: Vec<String> = (0..2)
                .map(|_| format!("[{}, {}]", lit(fork.pick(TABLE)), lit(fork.pick(TABLE))))
                .collect();
            self.extra_line(
                lines,
                &format!("const {m}: [[{TY}; 2]; 2] = [{}];", rows.join(", ")),
            );
            let usable: Vec<String> = self
                .counters
                .iter()
                .filter(|c| c.below <= 2)
                .map(|c| c.name.clone())
                .collect();
            let mut index = || {
                if !usable.is_empty() && fork.chance(0.6) {
                    usable[fork.below(usable.len())].clone()
                } else {
                    fork.below(2).to_string()
                }
            };
            let (i, j) = (index(), index());
            self.extra_line(lines, &format!("vreal += {m}[{i}][{j}] * vreal.sin();"));
            self.real_add(2.0);
        }
        let k = self.real_fresh();
        let l = self.rng.range(2, 5);
        let table = format!("VRW{k}");
        let values: Vec<String> = (0..l).map(|_| lit(self.rng.pick(TABLE))).collect();
        self.extra_line(
            lines,
            &format!("const {table}: [{TY}; {l}] = [{}];", values.join(", ")),
        );
        let arrays = self.real_arrays(1);
        match self.rng.below(4) {
            0 => {
                // `for (vri, vrw) in VRW.iter().enumerate()`.
                self.mark("real_const_iter");
                let (vri, vrw) = (format!("vri{k}"), format!("vrw{k}"));
                let head = split(
                    &format!("for ({vri}, {vrw}) in {table}.iter().enumerate() {{"),
                    &format!("for {vri} in 0..{l} {{ let {vrw} = {table}[{vri}];"),
                );
                self.extra_line(lines, &head);
                self.indent += 1;
                let long: Vec<Arr> = arrays.iter().filter(|a| a.len >= l).cloned().collect();
                let trips = self.trips;
                self.trips *= l as f64;
                self.counters.push(Counter {
                    name: vri.clone(),
                    below: l,
                });
                let e = self.var_small(1.0);
                let (read, b) = if long.is_empty() {
                    (
                        format!("{} * {}", lit(0.25), cst(&format!("{vri} as f64"))),
                        0.25 * l as f64,
                    )
                } else {
                    let a = long[self.rng.below(long.len())].clone();
                    (format!("{}[{vri}]", a.name), a.bound)
                };
                // `vrw` first: `&f64 * f64` over `f64`.
                self.extra_line(
                    lines,
                    &format!("vreal += {vrw} * {read} * {};", e.operand()),
                );
                self.real_add(l as f64 * 2.0 * b * e.bound);
                self.counters.pop();
                self.trips = trips;
                self.indent -= 1;
                self.extra_line(lines, "}");
            }
            1 if !arrays.is_empty() => {
                // A loop or a sum over `VRW.iter().zip(a)`.
                self.mark("real_const_iter");
                let a = arrays[self.rng.below(arrays.len())].clone();
                let m = l.min(a.len);
                let (vrw, vrv) = (format!("vrw{k}"), format!("vrv{k}"));
                let j = format!("vrj{k}");
                if self.rng.chance(0.5) {
                    let head = split(
                        &format!(
                            "for ({vrw}, {vrv}) in {table}.iter().zip({}) {{",
                            by_ref(&a)
                        ),
                        &format!(
                            "for {j} in 0..{m} {{ let {vrw} = {table}[{j}]; let {vrv} = {}[{j}];",
                            a.name
                        ),
                    );
                    self.extra_line(lines, &head);
                    self.indent += 1;
                    let e = self.var_small(1.0);
                    self.extra_line(lines, &format!("vreal += {vrw} * {vrv} * {};", e.operand()));
                    self.indent -= 1;
                    self.extra_line(lines, "}");
                    self.real_add(m as f64 * 2.0 * a.bound * e.bound);
                } else {
                    let s = format!("vrs{k}");
                    let text = split(
                        &format!(
                            "let {s}: {TY} = {table}.iter().zip({}).map(|(wp, wq)| wp * wq).sum();",
                            by_ref(&a)
                        ),
                        &format!(
                            "let mut {s} = {C0}-0.0{C1}; for {j} in 0..{m} {{ {s} += {table}[{j}] * {}[{j}]; }}",
                            a.name
                        ),
                    );
                    self.extra_line(lines, &text);
                    let bound = m as f64 * 2.0 * a.bound;
                    let read = if bound > 8.0 {
                        format!("{s}.atan()")
                    } else {
                        s.clone()
                    };
                    let e = self.var_small(1.0);
                    self.extra_line(lines, &format!("vreal += {read} * {};", e.operand()));
                    self.real_add(bound.min(8.0) * e.bound);
                }
            }
            _ => {
                // `VRW[c]` with a loop counter in scope, or a literal.
                self.mark("real_const_index");
                let usable: Vec<Counter> = self
                    .counters
                    .iter()
                    .filter(|c| c.below <= l)
                    .cloned()
                    .collect();
                let idx = if !usable.is_empty() && self.rng.chance(0.7) {
                    usable[self.rng.below(usable.len())].name.clone()
                } else {
                    self.rng.below(l).to_string()
                };
                let e = self.var_small(2.0);
                self.extra_line(
                    lines,
                    &format!("vreal += {table}[{idx}] * {};", e.operand()),
                );
                if self.rng.chance(0.4) {
                    let e2 = self.var_small(1.0);
                    self.extra_line(
                        lines,
                        &format!("vreal += {table}[{table}.len() - 1] * {};", e2.operand()),
                    );
                    self.real_add(2.0 * e2.bound);
                }
                self.real_add(2.0 * e.bound);
            }
        }
    }

    /// `let vrp = e;` then `if P { .. } else { .. }` on a float predicate of it.
    fn real_predicate(&mut self, lines: &mut Vec<String>) {
        self.mark("real_predicate");
        let k = self.real_fresh();
        let p = format!("vrp{k}");
        let e = self.var_small(4.0);
        self.extra_line(lines, &format!("let {p} = {};", e.s));
        let ends = [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5];
        // A negated condition has no `else` (`clippy::if_not_else`).
        let otherwise = self.rng.chance(0.6);
        let cond = match self.rng.below(6) {
            0 => format!("{p}.is_finite()"),
            1 if !otherwise => format!("!{p}.is_nan()"),
            1 | 2 => format!("{p}.is_nan()"),
            3 => format!("{p}.is_sign_negative()"),
            _ => {
                self.mark("real_range_contains");
                let lo = self.rng.below(ends.len() - 1);
                let hi = self.rng.range(lo + 1, ends.len() - 1);
                let not = if !otherwise && self.rng.chance(0.5) {
                    "!"
                } else {
                    ""
                };
                format!(
                    "{not}({}..={}).contains(&{p})",
                    lit(ends[lo]),
                    lit(ends[hi])
                )
            }
        };
        let a = self.var_small(2.0);
        self.extra_line(lines, &format!("if {cond} {{"));
        self.indent += 1;
        self.extra_line(lines, &format!("vreal += {} * {p};", a.operand()));
        self.indent -= 1;
        let mut bound = a.bound * 4.0;
        if otherwise {
            let b = self.var_small(4.0);
            self.extra_line(lines, "} else {");
            self.indent += 1;
            self.extra_line(lines, &format!("vreal -= {};", b.s));
            self.indent -= 1;
            bound = bound.max(b.bound);
        }
        self.extra_line(lines, "}");
        self.real_add(bound);
    }

    /// `b.swap(i, j);` on a local array or buffer, or `let vrs = &mut b[o..o + l]; vrs.swap(0,
    /// l - 1);`, then elements of `b` read.
    fn real_swap(&mut self, lines: &mut Vec<String>) {
        self.mark("real_swap");
        let (b, decl) = self.view_target(true);
        lines.extend(decl);
        let k = self.real_fresh();
        let usable: Vec<Counter> = self
            .counters
            .iter()
            .filter(|c| c.below <= b.len)
            .cloned()
            .collect();
        if b.len >= 3 && self.rng.chance(0.4) {
            self.mark("real_swap_slice");
            let l = self.rng.range(2, b.len);
            let o = self.rng.below(b.len - l + 1);
            let s = format!("vrs{k}");
            self.extra_line(
                lines,
                &format!("let {s} = &mut {}[{o}..{}];", b.name, o + l),
            );
            self.extra_line(lines, &format!("{s}.swap(0, {});", l - 1));
            if self.rng.chance(0.5) {
                self.extra_line(lines, &format!("{s}[1] *= {};", lit(0.5)));
            }
        } else {
            let i = if !usable.is_empty() && self.rng.chance(0.5) {
                usable[self.rng.below(usable.len())].name.clone()
            } else {
                self.rng.below(b.len).to_string()
            };
            let mut j = self.rng.below(b.len);
            if i == j.to_string() {
                j = (j + 1) % b.len;
            }
            self.extra_line(lines, &format!("{}.swap({i}, {j});", b.name));
        }
        let reads = self.rng.range(1, 2);
        for _ in 0..reads {
            let j = self.rng.below(b.len);
            let e = self.var_small(1.0);
            self.extra_line(
                lines,
                &format!("vreal += {}[{j}] * {};", b.name, e.operand()),
            );
            self.real_add(b.bound * e.bound);
        }
    }

    /// `let mut vrc = 0.0; let mut vradd = |v: T| vrc += v * w;` called two or three times (or
    /// in a loop), then `vrc` read.
    fn real_closure_assign(&mut self, lines: &mut Vec<String>) {
        self.mark("real_closure_assign");
        let k = self.real_fresh();
        let (c, add, v) = (format!("vrc{k}"), format!("vradd{k}"), format!("vrv{k}"));
        let w = self.var_small(1.0);
        self.extra_line(lines, &format!("let mut {c} = {};", lit(0.0)));
        let body = if self.rng.chance(0.3) {
            format!("{{ {c} += {v} * {}; {c} *= {}; }}", w.operand(), lit(0.5))
        } else {
            format!("{c} += {v} * {}", w.operand())
        };
        self.extra_line(lines, &format!("let mut {add} = |{v}: {TY}| {body};"));
        let mut calls = 0.0;
        let arrays = self.real_arrays(2);
        if !arrays.is_empty() && self.rng.chance(0.3) {
            let a = arrays[self.rng.below(arrays.len())].clone();
            let j = format!("vrj{k}");
            self.extra_line(lines, &format!("for {j} in 0..{} {{", a.len.min(3)));
            self.indent += 1;
            self.extra_line(lines, &format!("{add}({}[{j}]);", a.name));
            self.indent -= 1;
            self.extra_line(lines, "}");
            calls += a.len.min(3) as f64 * a.bound;
        }
        let n = self.rng.range(1, 3);
        for _ in 0..n {
            let e = self.var_small(2.0);
            self.extra_line(lines, &format!("{add}({});", e.s));
            calls += e.bound;
        }
        self.extra_line(lines, &format!("vreal += {c};"));
        self.real_add(calls * w.bound);
    }

    /// `let vrg = |p: [T; 2]| ..;` called on arrays `[e1, e2]`.
    fn real_closure_array(&mut self, lines: &mut Vec<String>) {
        self.mark("real_closure_array");
        let k = self.real_fresh();
        let (g, p) = (format!("vrg{k}"), format!("vrq{k}"));
        let w = self.var_small(1.0);
        self.extra_line(
            lines,
            &format!(
                "let {g} = |{p}: [{TY}; 2]| {p}[0] * {p}[1].tanh() + {p}[1] * {};",
                w.operand()
            ),
        );
        let n = self.rng.range(1, 2);
        for _ in 0..n {
            let (a, b) = (self.var_small(2.0), self.var_small(2.0));
            self.extra_line(lines, &format!("vreal += {g}([{}, {}]);", a.s, b.s));
            self.real_add(2.0 + 2.0 * w.bound);
        }
    }

    /// `a.iter().zip(b).fold(0.0, |s, (p, q)| s + p * q)`, or with a tuple accumulator bound by
    /// a pattern.
    fn real_fold(&mut self, lines: &mut Vec<String>) {
        let arrays = self.real_arrays(1);
        if arrays.is_empty() {
            return self.real_closure_assign(lines);
        }
        self.mark("real_fold_pairs");
        let k = self.real_fresh();
        let a = arrays[self.rng.below(arrays.len())].clone();
        let b = arrays[self.rng.below(arrays.len())].clone();
        let m = a.len.min(b.len);
        let (s, t, j) = (format!("vrf{k}"), format!("vrt{k}"), format!("vrj{k}"));
        let zero = lit(0.0);
        let bound_s = m as f64 * a.bound * b.bound;
        let read = |x: &str, bound: f64| {
            if bound > 4.0 {
                format!("{x}.atan()")
            } else {
                x.to_owned()
            }
        };
        if self.rng.chance(0.5) {
            let text = split(
                &format!(
                    "let {s} = {}.iter().zip({}).fold({zero}, |s, (p, q)| s + p * q);",
                    a.name,
                    by_ref(&b)
                ),
                &format!(
                    "let mut {s} = {zero}; for {j} in 0..{m} {{ {s} = {s} + {}[{j}] * {}[{j}]; }}",
                    a.name, b.name
                ),
            );
            self.extra_line(lines, &text);
            let e = self.var_small(1.0);
            self.extra_line(
                lines,
                &format!("vreal += {} * {};", read(&s, bound_s), e.operand()),
            );
            self.real_add(bound_s.min(4.0) * e.bound);
        } else {
            self.mark("real_fold_tuple");
            let text = split(
                &format!(
                    "let ({s}, {t}) = {}.iter().zip({}).fold(({zero}, {zero}), |(s, t), (p, q)| (s + p * q, t + (p - q).sin()));",
                    a.name,
                    by_ref(&b)
                ),
                &format!(
                    "let mut {s} = {zero}; let mut {t} = {zero}; for {j} in 0..{m} {{ let (p, q) = ({}[{j}], {}[{j}]); {s} = {s} + p * q; {t} = {t} + (p - q).sin(); }}",
                    a.name, b.name
                ),
            );
            self.extra_line(lines, &text);
            let e = self.var_small(1.0);
            self.extra_line(
                lines,
                &format!(
                    "vreal += {} * {} + {};",
                    read(&s, bound_s),
                    e.operand(),
                    read(&t, m as f64)
                ),
            );
            self.real_add(bound_s.min(4.0) * e.bound + (m as f64).min(4.0));
        }
    }

    /// A helper of two floats with two outputs, `[T; 2]` or `(T, T)`, in a module of its own,
    /// called by path: `let [a, b] = m::g(..);`, `let (a, b) = m::g(..);` or `let y: [T; 2] =
    /// m::g(..);`.
    fn real_call_path(&mut self, lines: &mut Vec<String>) {
        self.mark("real_call_path");
        let k = self.real_fresh();
        let module = format!("{}_m{k}", self.name);
        let tuple = self.rng.chance(0.4);
        let scalar = |name: &str| Scalar {
            name: name.to_owned(),
            bound: 2.0,
            acc: None,
        };
        let mut h = self.sub(vec![scalar("u"), scalar("v")], Vec::new());
        let (e1, e2) = (h.var_small(2.0), h.var_small(2.0));
        let (o1, o2) = (
            format!("{} + {} * u", e1.s, lit(0.5)),
            format!("{} - v.tanh()", e2.s),
        );
        let (ret, value) = if tuple {
            self.mark("real_call_path_tuple");
            (format!("({TY}, {TY})"), format!("({o1}, {o2})"))
        } else {
            (format!("[{TY}; 2]"), format!("[{o1}, {o2}]"))
        };
        let text = format!(
            "mod {module} {{\n#[allow(unused_imports)]\nuse super::*;\n\
             #[differentiate(reverse, forward)]\npub fn g(u: {TY}, v: {TY}) -> {ret} {{\n    {value}\n}}\n}}\n"
        );
        self.real_helper_text(&text);
        let (x, y) = (self.var_small(2.0), self.var_small(2.0));
        let (r1, r2) = (format!("vra{k}"), format!("vrb{k}"));
        let call = format!("{module}::g({}, {})", x.s, y.s);
        let (first, second) = if !tuple && self.rng.chance(0.35) {
            let yv = format!("vry{k}");
            self.extra_line(lines, &format!("let {yv}: [{TY}; 2] = {call};"));
            (format!("{yv}[0]"), format!("{yv}[1]"))
        } else if tuple {
            self.extra_line(lines, &format!("let ({r1}, {r2}) = {call};"));
            (r1, r2)
        } else {
            self.extra_line(lines, &format!("let [{r1}, {r2}] = {call};"));
            (r1, r2)
        };
        let e = self.var_small(1.0);
        self.extra_line(
            lines,
            &format!("vreal += {first} * {} + {second};", e.operand()),
        );
        self.real_add(3.0 * e.bound + 3.0);
    }

    /// Helper text of this family (marked as the second stream's).
    fn real_helper_text(&mut self, text: &str) {
        use std::fmt::Write as _;
        for l in text.lines() {
            let _ = writeln!(self.helper_text, "{NEW}{l}");
        }
    }

    /// A helper `fn h(x: &[T], idx: &[usize], s: T, out: &mut [T])` that writes
    /// `out[i]` from `x[idx[i]]` (overwriting it or updating what it held), at the top level or in
    /// a module (called by path), called in a loop on a buffer declared before it, with a
    /// constant index array (`let vrk = [2usize, 0];` or `const VRK: [usize; 2] = [..];`).
    fn real_buffer_index(&mut self, lines: &mut Vec<String>) {
        let arrays = self.real_arrays(1);
        if arrays.is_empty() {
            return self.real_call_path(lines);
        }
        self.mark("real_buffer_index_helper");
        let k = self.real_fresh();
        let a = arrays[self.rng.below(arrays.len())].clone();
        let update = self.rng.chance(0.5);
        let body = match (update, self.rng.below(2)) {
            (true, _) => format!(
                "{} * out[i] + {} * x[idx[i]] * s.tanh()",
                lit(0.5),
                lit(0.5)
            ),
            (false, 0) => "x[idx[i]] * s.tanh()".to_owned(),
            (false, _) => format!("x[idx[i]].tanh() * s + {} * x[idx[0]]", lit(0.25)),
        };
        let in_module = self.rng.chance(0.35);
        let fn_text = format!(
            "#[differentiate(reverse, forward)]\n{}fn {{NAME}}(x: &[{TY}], idx: &[usize], s: {TY}, out: &mut [{TY}]) {{\n    \
             for i in 0..out.len() {{\n        out[i] = {body};\n    }}\n}}\n",
            if in_module { "pub " } else { "" }
        );
        let callee = if in_module {
            self.mark("real_call_path");
            let module = format!("{}_m{k}", self.name);
            let text = format!(
                "mod {module} {{\n#[allow(unused_imports)]\nuse super::*;\n{}}}\n",
                fn_text.replace("{NAME}", "h")
            );
            self.real_helper_text(&text);
            format!("{module}::h")
        } else {
            let name = format!("{}_r{k}", self.name);
            let text = fn_text.replace("{NAME}", &name);
            self.real_helper_text(&text);
            name
        };
        // The indices, at most 3 of them, within `a`.
        let m = self.rng.range(1, 3);
        let idx: Vec<String> = (0..m).map(|_| self.rng.below(a.len).to_string()).collect();
        let ix = format!("vrk{k}");
        // A local index array declared in a block (a loop body, a branch, after an early
        // `return`) is out of scope where the backward sweep passes it (a known bug).
        let top = self.depth == 0 && self.loops == 0 && !self.returned;
        let local = self.rng.chance(0.5);
        let in_block = local && !top && self.on("real_index_array_in_block");
        if in_block {
            self.mark("real_index_array_in_block");
        }
        let idx_arg = if !local || !(top || in_block) {
            let name = ix.to_uppercase();
            self.extra_line(
                lines,
                &format!("const {name}: [usize; {m}] = [{}];", idx.join(", ")),
            );
            format!("&{name}")
        } else {
            let mut first = idx.clone();
            first[0] = format!("{}usize", first[0]);
            self.extra_line(lines, &format!("let {ix} = [{}];", first.join(", ")));
            format!("&{ix}")
        };
        // The buffer, declared before the loop (or, for an overwriting helper, with zeros).
        let buf = format!("vrb{k}");
        let zero = lit(0.0);
        if self.rng.chance(0.4) {
            self.extra_line(
                lines,
                &format!("let mut {buf}: Vec<{TY}> = vec![{zero}; {m}];"),
            );
        } else {
            self.extra_line(
                lines,
                &format!("let mut {buf}: [{TY}; {m}] = [{zero}; {m}];"),
            );
        }
        let x = by_ref(&a);
        if self.rng.chance(0.85) {
            self.mark("real_buffer_in_loop");
            let j = format!("vrj{k}");
            let trips = self.rng.range(2, 3);
            self.extra_line(lines, &format!("for {j} in 0..{trips} {{"));
            self.indent += 1;
            let saved = self.trips;
            self.trips *= trips as f64;
            self.counters.push(Counter {
                name: j.clone(),
                below: trips,
            });
            let s = self.var_small(2.0);
            // The counter read, in the argument or as the index of what is read back.
            let s_text = if mentions(&s.s, &j) {
                s.s.clone()
            } else {
                format!(
                    "{} + {} * {}",
                    s.operand(),
                    lit(0.125),
                    cst(&format!("{j} as f64"))
                )
            };
            self.extra_line(
                lines,
                &format!("{callee}({x}, {idx_arg}, {s_text}, &mut {buf});"),
            );
            let e = self.var_small(1.0);
            let at = if trips <= m {
                j.clone()
            } else {
                self.rng.below(m).to_string()
            };
            self.extra_line(lines, &format!("vreal += {buf}[{at}] * {};", e.operand()));
            self.real_add(4.0 * e.bound);
            self.counters.pop();
            self.trips = saved;
            self.indent -= 1;
            self.extra_line(lines, "}");
        } else {
            let s = self.var_small(2.0);
            self.extra_line(
                lines,
                &format!("{callee}({x}, {idx_arg}, {}, &mut {buf});", s.s),
            );
        }
        let e = self.var_small(1.0);
        let j = self.rng.below(m);
        self.extra_line(lines, &format!("vreal += {buf}[{j}] * {};", e.operand()));
        self.real_add(4.0 * e.bound);
    }
}
