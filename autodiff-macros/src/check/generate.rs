//! Random functions of the supported subset, as source text, drawn from a stream of choices.
//!
//! Every decision takes the next number of the stream; when the stream runs out every decision
//! is 0, and 0 is always the simplest option (no statement, the first parameter, no `else`).
//! So shrinking the stream, as proptest does, shrinks the program. The programs are meant to be
//! valid Rust: names are in scope, literals get a type before a method is called on them,
//! divisors and the arguments of `ln`, `sqrt`, `asin`, ... stay inside their domains, indices
//! inside their arrays, and every loop ends.
//!
//! With `hostile` set, a few of the decisions instead write something outside the subset (a
//! closure, a `match`, a generic signature, a bad attribute), for the fuzzer.

use std::fmt::Write as _;

/// A parameter of a generated function and what the checks pass for it.
#[derive(Clone, Debug)]
pub enum Param {
    Float(String),
    Array { name: String, len: usize },
    Slice { name: String, len: usize },
    Int { name: String, value: i128 },
}

impl Param {
    pub fn name(&self) -> &str {
        match self {
            Param::Float(n)
            | Param::Array { name: n, .. }
            | Param::Slice { name: n, .. }
            | Param::Int { name: n, .. } => n,
        }
    }
}

/// A generated function: `#[differentiate(attr)] source`.
#[derive(Clone, Debug)]
pub struct Program {
    /// The attribute's arguments, such as `wrt(x0)`, without the mode.
    pub attr: String,
    pub source: String,
    pub params: Vec<Param>,
}

#[derive(Clone, Debug)]
enum Kind {
    /// A float; `typed` once Rust knows it is an `f64` (not an unsuffixed literal's `{float}`).
    Float { mutable: bool, typed: bool },
    /// A `while` loop's counter: an integer variable.
    Int,
    /// A `for` loop's counter, with the values it takes (when known) and the slice it runs over.
    Counter {
        range: Option<(usize, usize)>,
        over: Option<String>,
    },
    /// An array of known length, or a slice (`len: None`, at least 2 elements).
    Array { len: Option<usize>, mutable: bool },
}

struct Local {
    name: String,
    kind: Kind,
}

/// An expression, and what its users need to know of it.
struct Ex {
    s: String,
    /// Whether its type is known to be `f64`.
    typed: bool,
    /// Whether it can be an operand or a receiver without parentheses.
    atom: bool,
}

impl Ex {
    fn new(s: String, typed: bool, atom: bool) -> Ex {
        Ex { s, typed, atom }
    }

    fn operand(&self) -> String {
        if self.atom {
            self.s.clone()
        } else {
            format!("({})", self.s)
        }
    }
}

const LITERALS: &[&str] = &["0.5", "2.0", "1.5", "0.25", "3.0", "1.0", "0.1", "4.0"];

/// Unary methods, each with the domain its argument is kept in.
const UNARY: &[(&str, Domain)] = &[
    ("exp", Domain::Bounded),
    ("exp2", Domain::Bounded),
    ("exp_m1", Domain::Bounded),
    ("ln", Domain::Positive),
    ("ln_1p", Domain::Positive),
    ("log2", Domain::Positive),
    ("log10", Domain::Positive),
    ("sqrt", Domain::Positive),
    ("cbrt", Domain::Positive),
    ("recip", Domain::Positive),
    ("sin", Domain::Any),
    ("cos", Domain::Any),
    ("tan", Domain::Unit),
    ("asin", Domain::Unit),
    ("acos", Domain::Unit),
    ("atan", Domain::Any),
    ("sinh", Domain::Bounded),
    ("cosh", Domain::Bounded),
    ("tanh", Domain::Any),
    ("asinh", Domain::Any),
    ("acosh", Domain::AboveOne),
    ("atanh", Domain::Unit),
    ("abs", Domain::Any),
    ("signum", Domain::Any),
    ("floor", Domain::Any),
    ("ceil", Domain::Any),
    ("round", Domain::Any),
    ("trunc", Domain::Any),
    ("fract", Domain::Any),
    ("to_radians", Domain::Any),
    ("to_degrees", Domain::Bounded),
];

#[derive(Clone, Copy)]
enum Domain {
    Any,
    /// In (-2, 2).
    Bounded,
    /// At least 0.5.
    Positive,
    /// In (-0.9, 0.9).
    Unit,
    /// At least 1.25.
    AboveOne,
}

/// Expressions outside the subset, for the fuzzer.
const HOSTILE_EXPRS: &[&str] = &[
    "x0.foo()",
    "(|y: f64| y * 2.0)(x0)",
    "match x0 { _ => 1.0 }",
    "vec![1.0][0]",
    "(x0, x0).0",
    "&x0",
    "*x0",
    "x0?",
    "\"s\"",
    "'c'",
    "1u8",
    "340282366920938463463374607431768211456",
    "x0.powi(2.5)",
    "x0.max()",
    "f64::exp()",
    "f64::nope(x0)",
    "<f64>::exp(x0)",
    "<f64 as Trait>::g(x0)",
    "g::<f64>(x0)",
    "self.w",
    "x0.len()",
    "x0[0]",
    "unknown_name",
    "S { a: 1.0 }",
    "async { 1.0 }",
    "unsafe { x0 }",
    "x0 as Foo",
    "loop {}",
    "break",
    "return",
    "0..1",
    "[1.0; 2]",
    "[x0, x0]",
    "(x0 += 1.0)",
    "(x0 = 1.0)",
    "if let Some(v) = x0 { v } else { 1.0 }",
    "x0 << 2",
    "x0 & x0",
    "const { 1.0 }",
    "x0.await",
    "'a: { 1.0 }",
    "1e400",
    "x0.exp::<f64>()",
    "sigmoid(x0, x0)",
    "autodiff::relu()",
    "x0.clamp(1.0)",
    "f64::from(x0, x0)",
    "g(x0, [1.0; 2])",
    "x0 as f64 as i32 as f64",
    "{ x0; }",
    "{}",
    "if x0 > 0.0 { 1.0 }",
    "(if x0 > 0.0 { 1.0 } else if x0 < 1.0 { 2.0 })",
    "r#x0",
    "x0.sin().cos().tan().exp().ln()",
    "-(-(-(-x0)))",
    "!x0",
    "x0 == x0",
    "true",
    "std::f64::consts::PI.sin()",
    "i32::MAX as f64",
    "f32::exp(x0)",
    "(x0 as f32).exp() as f64",
    "1.0f32",
    "x0.mul_add(1.0)",
];

/// Statements outside the subset, for the fuzzer.
const HOSTILE_STMTS: &[&str] = &[
    "let (p, q) = (x0, x0);",
    "let _ = x0;",
    "let y;",
    "let y: f64;",
    "let Some(y) = Some(x0) else { return 0.0; };",
    "fn g() {}",
    "struct S;",
    "println!(\"x\");",
    "break;",
    "continue;",
    "return;",
    "'a: loop { break 'a; }",
    "loop {}",
    "loop { continue; }",
    "for i in v {}",
    "for (p, q) in 0..2 {}",
    "for i in 0.. {}",
    "for i in ..3 {}",
    "for i in (0..3).step_by(2) {}",
    "while let Some(y) = z {}",
    "x0 = 2.0;",
    "x0 += 2.0;",
    "a = [1.0; 3];",
    "xs[0] = 1.0;",
    "use std::f64::consts::PI;",
    "const K: f64 = 2.0;",
    "static S: f64 = 1.0;",
    "impl S {}",
    "#[cfg(x)] let y = 1.0;",
    "let y: i32 = x0;",
    "let mut h = [0.0; N];",
    "let h = [x0, x0];",
    "let h: Vec<f64> = Vec::new();",
    "x0;",
    ";",
    "{}",
    "unsafe {}",
    "let r#y = x0;",
    "let y = 'a: loop { break 'a 1.0; };",
    "let y = loop { break 2.0; };",
    "while x0 > 0.0 { break 'a; }",
    "if x0 > 0.0 { break; }",
    "let y = return 1.0;",
    "let y = { return 1.0; };",
    "let mut y = 0.0; y = y;",
    "let f = |z: f64| z;",
    "macro_rules! m { () => {} }",
    "let y = if true { x0 } else { return 0.0 };",
];

/// Signatures outside the subset: written instead of the function's header.
const HOSTILE_SIGNATURES: &[&str] = &[
    "const fn f(x0: f64) -> f64",
    "async fn f(x0: f64) -> f64",
    "unsafe fn f(x0: f64) -> f64",
    "extern \"C\" fn f(x0: f64) -> f64",
    "fn f<T>(x0: f64) -> f64",
    "fn f(x0: f64) -> f64 where f64: Copy",
    "fn f(x0: f64)",
    "fn f(x0: f64) -> ()",
    "fn f(x0: f64) -> i32",
    "fn f(x0: f64) -> (f64, f64)",
    "fn f(x0: &mut f64) -> f64",
    "fn f((x0, y): (f64, f64)) -> f64",
    "fn f(&self, x0: f64) -> f64",
    "fn f(self, x0: f64) -> f64",
    "fn f(&mut self, x0: f64) -> f64",
    "fn f(x0: impl Into<f64>) -> f64",
    "fn f(ref x0: f64) -> f64",
    "fn f(x0 @ _: f64) -> f64",
    "fn f(x0: f64, x0: f64) -> f64",
    "fn f(x0: Vec<f64>) -> f64",
    "fn f(x0: &mut [f64]) -> f64",
    "fn f(x0: f64) -> f32",
    "pub(crate) fn f(x0: f64) -> f64",
    "fn r#f(x0: f64) -> f64",
];

/// Attributes outside the subset.
const HOSTILE_ATTRS: &[&str] = &[
    "wrt()",
    "wrt(nope)",
    "wrt(x0, x0)",
    "forward(1)",
    "reverse, reverse",
    "wrt(x0), wrt(x0)",
    "= 1",
    "\"lit\"",
    "wrt",
    "wrt = x0",
    "forward, reverse, wrt(x0)",
    "unknown",
    "a::b",
    "wrt(n)",
    "wrt(1)",
    "reverse = true",
    ",",
    "forward,",
];

pub struct Gen<'c> {
    choices: &'c [u32],
    at: usize,
    out: String,
    indent: usize,
    scopes: Vec<Vec<Local>>,
    fresh: usize,
    loops: usize,
    blocks: usize,
    /// Statements still to write.
    budget: usize,
    /// Inside the value of an `if`: no `return`, `break` or `continue`.
    in_value: usize,
    hostile: bool,
}

/// A random function of the supported subset (or, `hostile`, of what is near it).
pub fn program(choices: &[u32], hostile: bool) -> Program {
    program_of_size(choices, hostile, 24)
}

/// A random function of at most `budget` statements.
pub fn program_of_size(choices: &[u32], hostile: bool, budget: usize) -> Program {
    let mut g = Gen {
        choices,
        at: 0,
        out: String::new(),
        indent: 1,
        scopes: vec![Vec::new()],
        fresh: 0,
        loops: 0,
        blocks: 0,
        budget,
        in_value: 0,
        hostile,
    };
    g.function()
}

impl Gen<'_> {
    /// The next decision, among `n` options.
    fn pick(&mut self, n: usize) -> usize {
        let c = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        usize::try_from(c).expect("u32 fits") % n
    }

    /// An optional thing, done with the given percentage; never once the choices run out.
    fn maybe(&mut self, percent: usize) -> bool {
        self.pick(100) >= 100 - percent
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn bind(&mut self, name: &str, kind: Kind) {
        self.scopes.last_mut().expect("a scope").push(Local {
            name: name.to_owned(),
            kind,
        });
    }

    /// The locals in scope that no later binding shadows.
    fn visible(&self) -> Vec<(&str, &Kind)> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for l in self.scopes.iter().rev().flat_map(|s| s.iter().rev()) {
            if !seen.contains(&l.name.as_str()) {
                seen.push(&l.name);
                out.push((l.name.as_str(), &l.kind));
            }
        }
        out.reverse();
        out
    }

    fn floats(&self) -> Vec<(String, bool, bool)> {
        self.visible()
            .into_iter()
            .filter_map(|(n, k)| match k {
                Kind::Float { mutable, typed } => Some((n.to_owned(), *mutable, *typed)),
                _ => None,
            })
            .collect()
    }

    fn scoped<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        self.scopes.push(Vec::new());
        self.indent += 1;
        self.blocks += 1;
        let r = f(self);
        self.blocks -= 1;
        self.indent -= 1;
        self.scopes.pop();
        r
    }

    fn function(&mut self) -> Program {
        let mut params = Vec::new();
        let mut texts = Vec::new();
        let floats = 1 + self.pick(3);
        for k in 0..floats {
            let name = format!("x{k}");
            let mutable = self.maybe(10);
            texts.push(format!("{}{name}: f64", if mutable { "mut " } else { "" }));
            self.bind(
                &name,
                Kind::Float {
                    mutable,
                    typed: true,
                },
            );
            params.push(Param::Float(name));
        }
        if self.maybe(30) {
            let len = 2 + self.pick(3);
            let (text, mutable) = match self.pick(3) {
                0 => (format!("a: [f64; {len}]"), false),
                1 => (format!("a: &[f64; {len}]"), false),
                _ => (format!("mut a: [f64; {len}]"), true),
            };
            texts.push(text);
            self.bind(
                "a",
                Kind::Array {
                    len: Some(len),
                    mutable,
                },
            );
            params.push(Param::Array {
                name: "a".to_owned(),
                len,
            });
        }
        if self.maybe(30) {
            let len = 2 + self.pick(3);
            texts.push("xs: &[f64]".to_owned());
            self.bind(
                "xs",
                Kind::Array {
                    len: None,
                    mutable: false,
                },
            );
            params.push(Param::Slice {
                name: "xs".to_owned(),
                len,
            });
        }
        if self.maybe(15) {
            let value = i128::try_from(self.pick(4)).expect("small");
            texts.push("n: usize".to_owned());
            self.bind("n", Kind::Int);
            params.push(Param::Int {
                name: "n".to_owned(),
                value,
            });
        }
        // A few swaps, so that parameters of every kind come in every order.
        for _ in 0..2 {
            let (i, j) = (self.pick(params.len()), self.pick(params.len()));
            params.swap(i, j);
            texts.swap(i, j);
        }
        let mut attr = String::new();
        if self.maybe(15) {
            let all: Vec<&str> = params
                .iter()
                .filter(|p| !matches!(p, Param::Int { .. }))
                .map(Param::name)
                .collect();
            let keep: Vec<bool> = all.iter().map(|_| self.maybe(50)).collect();
            let mut names: Vec<&str> = all
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(n, _)| *n)
                .collect();
            if names.is_empty() {
                names.push(all[0]);
            }
            attr = format!("wrt({})", names.join(", "));
        }
        if self.hostile && self.maybe(5) {
            attr = HOSTILE_ATTRS[self.pick(HOSTILE_ATTRS.len())].to_owned();
        }

        let count = self.pick(8);
        self.stmts(count);
        if self.maybe(10) {
            let e = self.tail();
            self.line(&format!("return {e};"));
        } else {
            let e = self.tail();
            self.line(&e);
        }
        let mut header = format!("fn f({}) -> f64", texts.join(", "));
        if self.hostile && self.maybe(5) {
            header = HOSTILE_SIGNATURES[self.pick(HOSTILE_SIGNATURES.len())].to_owned();
        }
        let source = format!("{header} {{\n{}}}\n", self.out);
        Program {
            attr,
            source,
            params,
        }
    }

    /// The value returned: an expression, plus some of the values in scope.
    fn tail(&mut self) -> String {
        let e = self.expr(3);
        let mut terms = String::new();
        for (name, _, _) in self.floats() {
            if self.maybe(40) {
                let _ = write!(terms, " + {name}");
            }
        }
        if terms.is_empty() {
            e.s
        } else {
            format!("{}{terms}", e.operand())
        }
    }

    fn stmts(&mut self, count: usize) {
        for _ in 0..count {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            self.stmt();
        }
    }

    fn stmt(&mut self) {
        let nested_ok = self.blocks < 3;
        let kind = self.pick(17);
        match kind {
            _ if self.hostile && kind == 16 && self.maybe(50) => {
                let s = HOSTILE_STMTS[self.pick(HOSTILE_STMTS.len())];
                self.line(s);
            }
            3 | 4 => self.assign(),
            5 if !self.floats().is_empty() => {
                // Shadowing: the new binding may read the one it hides.
                let floats = self.floats();
                let (name, _, _) = floats[self.pick(floats.len())].clone();
                let mutable = self.maybe(30);
                self.let_(&name, mutable);
            }
            6 if nested_ok => self.if_stmt(),
            7 if nested_ok && self.loops < 2 => self.for_loop(),
            8 if nested_ok && self.loops < 2 => self.while_loop(),
            9 => self.local_array(),
            10 => self.store(),
            11 if nested_ok => {
                self.line("{");
                self.scoped(|g| {
                    let n = 1 + g.pick(3);
                    g.stmts(n);
                });
                self.line("}");
            }
            12 if self.in_value == 0 && nested_ok => self.exit(),
            13 if nested_ok => self.if_value(),
            _ => {
                let name = self.fresh("v");
                self.let_(&name, kind == 2 || kind == 14);
            }
        }
    }

    fn let_(&mut self, name: &str, mutable: bool) {
        let e = self.expr(3);
        let annotate = !e.typed && self.maybe(60);
        let typed = e.typed || annotate;
        let m = if mutable { "mut " } else { "" };
        let ty = if annotate { ": f64" } else { "" };
        self.line(&format!("let {m}{name}{ty} = {};", e.s));
        self.bind(name, Kind::Float { mutable, typed });
    }

    fn assign(&mut self) {
        let targets: Vec<(String, bool, bool)> =
            self.floats().into_iter().filter(|f| f.1).collect();
        if targets.is_empty() {
            let name = self.fresh("v");
            self.let_(&name, true);
            return;
        }
        let (name, _, _) = targets[self.pick(targets.len())].clone();
        let e = self.expr(2);
        let line = match self.pick(5) {
            0 => format!("{name} = {};", e.s),
            1 => format!("{name} += {};", e.s),
            2 => format!("{name} -= {};", e.s),
            3 => format!("{name} *= {};", e.s),
            _ => format!("{name} /= {};", self.divisor(&e)),
        };
        self.line(&line);
    }

    /// `a / b` or `a % b` (`op`), with `b` kept away from zero.
    fn quotient(&mut self, d: usize, op: &str) -> Ex {
        let (a, b) = (self.expr(d), self.expr(d));
        let div = self.divisor(&b);
        Ex::new(
            format!("{} {op} {div}", a.operand()),
            a.typed || b.typed,
            false,
        )
    }

    /// A divisor kept away from zero.
    fn divisor(&mut self, e: &Ex) -> String {
        match self.pick(3) {
            0 => LITERALS[self.pick(LITERALS.len())].to_owned(),
            1 => format!("({} * {} + 0.5)", e.operand(), e.operand()),
            _ => format!("({} + 0.5)", self.method("abs", e, &[]).s),
        }
    }

    /// Often, a `let mut` before a loop or branch that its body then updates, so that values
    /// flow out of it.
    fn accumulator(&mut self) -> Option<String> {
        if !self.maybe(60) {
            return None;
        }
        let s = self.fresh("s");
        let init = if self.maybe(50) {
            "0.0".to_owned()
        } else {
            self.expr(1).s
        };
        self.line(&format!("let mut {s}: f64 = {init};"));
        self.bind(
            &s,
            Kind::Float {
                mutable: true,
                typed: true,
            },
        );
        Some(s)
    }

    /// `s += ..` (or another update) at the start of a body.
    fn accumulate(&mut self, s: Option<&String>) {
        if let Some(s) = s {
            let e = self.expr(2);
            let op = ["+=", "+=", "-=", "="][self.pick(4)];
            self.line(&format!("{s} {op} {};", e.s));
        }
    }

    fn if_stmt(&mut self) {
        let acc = self.accumulator();
        let c = self.cond();
        self.line(&format!("if {c} {{"));
        self.branch(acc.as_ref());
        let mut chain = 0;
        while chain < 2 && self.maybe(20) {
            chain += 1;
            let c = self.cond();
            self.line(&format!("}} else if {c} {{"));
            self.branch(acc.as_ref());
        }
        if self.maybe(50) {
            self.line("} else {");
            self.branch(acc.as_ref());
        }
        self.line("}");
    }

    fn branch(&mut self, acc: Option<&String>) {
        self.scoped(|g| {
            if g.maybe(70) {
                g.accumulate(acc);
            }
            let n = 1 + g.pick(3);
            g.stmts(n);
        });
    }

    fn for_loop(&mut self) {
        let acc = self.accumulator();
        let i = self.fresh("i");
        let slice = self
            .visible()
            .iter()
            .any(|(n, k)| *n == "xs" && matches!(k, Kind::Array { len: None, .. }));
        let array_len = self.visible().iter().find_map(|(n, k)| match k {
            Kind::Array { len: Some(len), .. } => Some((n.to_string(), *len)),
            _ => None,
        });
        let has_n = self
            .visible()
            .iter()
            .any(|(n, k)| *n == "n" && matches!(k, Kind::Int));
        let rev = self.maybe(25);
        let (range, kind) = match self.pick(5) {
            1 if slice => (
                "0..xs.len()".to_owned(),
                Kind::Counter {
                    range: None,
                    over: Some("xs".to_owned()),
                },
            ),
            2 if array_len.is_some() => {
                let (name, len) = array_len.expect("checked");
                (
                    format!("0..{name}.len()"),
                    Kind::Counter {
                        range: Some((0, len - 1)),
                        over: None,
                    },
                )
            }
            3 if has_n => (
                "0..n".to_owned(),
                Kind::Counter {
                    range: None,
                    over: None,
                },
            ),
            _ => {
                let lo = self.pick(2);
                let hi = lo + 1 + self.pick(3);
                let range = if self.maybe(30) {
                    format!("{lo}..={}", hi - 1)
                } else {
                    format!("{lo}..{hi}")
                };
                (
                    range,
                    Kind::Counter {
                        range: Some((lo, hi - 1)),
                        over: None,
                    },
                )
            }
        };
        let range = if rev {
            format!("({range}).rev()")
        } else {
            range
        };
        let unused = self.maybe(10);
        let pat = if unused { "_" } else { i.as_str() };
        self.line(&format!("for {pat} in {range} {{"));
        self.loops += 1;
        self.scoped(|g| {
            if !unused {
                g.bind(&i, kind);
            }
            g.accumulate(acc.as_ref());
            let n = 1 + g.pick(3);
            g.stmts(n);
        });
        self.loops -= 1;
        self.line("}");
    }

    fn while_loop(&mut self) {
        let acc = self.accumulator();
        let k = self.fresh("k");
        let n = 1 + self.pick(3);
        self.line(&format!("let mut {k} = 0;"));
        self.bind(&k, Kind::Int);
        let head = if self.maybe(40) {
            self.line("loop {");
            vec![format!("{k} += 1;"), format!("if {k} > {n} {{ break; }}")]
        } else {
            self.line(&format!("while {k} < {n} {{"));
            vec![format!("{k} += 1;")]
        };
        self.loops += 1;
        self.scoped(|g| {
            for l in &head {
                g.line(l);
            }
            g.accumulate(acc.as_ref());
            let n = 1 + g.pick(3);
            g.stmts(n);
        });
        self.loops -= 1;
        self.line("}");
    }

    fn local_array(&mut self) {
        let h = self.fresh("h");
        let len = 2 + self.pick(3);
        let fill = if self.maybe(25) {
            self.expr(1).s
        } else {
            "0.0".to_owned()
        };
        self.line(&format!("let mut {h} = [{fill}; {len}];"));
        self.bind(
            &h,
            Kind::Array {
                len: Some(len),
                mutable: true,
            },
        );
        if self.loops < 2 && self.blocks < 3 && self.maybe(70) {
            let i = self.fresh("i");
            self.line(&format!("for {i} in 0..{len} {{"));
            self.loops += 1;
            self.scoped(|g| {
                g.bind(
                    &i,
                    Kind::Counter {
                        range: Some((0, len - 1)),
                        over: None,
                    },
                );
                let e = g.expr(2);
                g.line(&format!("{h}[{i}] = {};", e.s));
            });
            self.loops -= 1;
            self.line("}");
        }
    }

    fn store(&mut self) {
        let arrays: Vec<(String, usize)> = self
            .visible()
            .into_iter()
            .filter_map(|(n, k)| match k {
                Kind::Array {
                    len: Some(len),
                    mutable: true,
                } => Some((n.to_owned(), *len)),
                _ => None,
            })
            .collect();
        if arrays.is_empty() {
            let name = self.fresh("v");
            self.let_(&name, false);
            return;
        }
        let (h, len) = arrays[self.pick(arrays.len())].clone();
        let i = self.index(&h, Some(len));
        let e = self.expr(2);
        let op = ["=", "+=", "-=", "*="][self.pick(4)];
        self.line(&format!("{h}[{i}] {op} {};", e.s));
    }

    fn exit(&mut self) {
        let c = self.cond();
        let what = if self.loops > 0 && self.pick(3) > 0 {
            if self.maybe(50) {
                "break;"
            } else {
                "continue;"
            }
            .to_owned()
        } else {
            let e = self.expr(2);
            format!("return {};", e.s)
        };
        self.line(&format!("if {c} {{"));
        self.scoped(|g| {
            if g.maybe(30) {
                g.assign();
            }
            g.line(&what);
        });
        self.line("}");
    }

    fn if_value(&mut self) {
        let name = self.fresh("v");
        let c = self.cond();
        self.line(&format!("let {name} = if {c} {{"));
        self.in_value += 1;
        let mut typed = self.value_branch();
        if self.maybe(20) {
            let c = self.cond();
            self.line(&format!("}} else if {c} {{"));
            typed |= self.value_branch();
        }
        self.line("} else {");
        typed |= self.value_branch();
        self.in_value -= 1;
        self.line("};");
        self.bind(
            &name,
            Kind::Float {
                mutable: false,
                typed,
            },
        );
    }

    fn value_branch(&mut self) -> bool {
        self.scoped(|g| {
            let n = g.pick(3);
            g.stmts(n);
            let e = g.expr(2);
            g.line(&e.s);
            e.typed
        })
    }

    fn cond(&mut self) -> String {
        let counters: Vec<String> = self
            .visible()
            .into_iter()
            .filter(|(_, k)| matches!(k, Kind::Counter { .. } | Kind::Int))
            .map(|(n, _)| n.to_owned())
            .collect();
        match self.pick(6) {
            1 => {
                let a = self.expr(1);
                let l = LITERALS[self.pick(LITERALS.len())];
                format!("{} >= {l}", a.operand())
            }
            2 => {
                let (a, b, c) = (self.expr(1), self.expr(1), self.expr(1));
                format!("{} > {} && {} < 1.0", a.operand(), b.operand(), c.operand())
            }
            3 => {
                let (a, b) = (self.expr(1), self.expr(1));
                format!("!({} < {})", a.operand(), b.operand())
            }
            4 if !counters.is_empty() => {
                let i = &counters[self.pick(counters.len())];
                if self.maybe(50) {
                    format!("{i} % 2 == 0")
                } else {
                    format!("{i} < 2")
                }
            }
            5 => {
                let (a, b, c) = (self.expr(1), self.expr(1), self.expr(1));
                format!(
                    "{} <= {} || {} > 0.5",
                    a.operand(),
                    b.operand(),
                    c.operand()
                )
            }
            _ => {
                let (a, b) = (self.expr(2), self.expr(2));
                format!("{} < {}", a.operand(), b.operand())
            }
        }
    }

    /// An index into `array` (of length `len`, or a slice of at least 2): a constant, or a
    /// counter whose values are in bounds.
    fn index(&mut self, array: &str, len: Option<usize>) -> String {
        let counters: Vec<String> = self
            .visible()
            .into_iter()
            .filter_map(|(n, k)| match k {
                Kind::Counter {
                    range: Some((_, hi)),
                    ..
                } if len.is_some_and(|len| *hi < len) => Some(n.to_owned()),
                Kind::Counter { over: Some(s), .. } if len.is_none() && s == array => {
                    Some(n.to_owned())
                }
                _ => None,
            })
            .collect();
        if !counters.is_empty() && self.maybe(60) {
            return counters[self.pick(counters.len())].clone();
        }
        match len {
            Some(len) => self.pick(len).to_string(),
            None if self.maybe(20) => "xs.len() - 1".to_owned(),
            None => self.pick(2).to_string(),
        }
    }

    fn method(&mut self, name: &str, recv: &Ex, args: &[String]) -> Ex {
        if !recv.typed || self.maybe(10) {
            let mut all = vec![recv.s.clone()];
            all.extend(args.iter().cloned());
            return Ex::new(format!("f64::{name}({})", all.join(", ")), true, true);
        }
        Ex::new(
            format!("{}.{name}({})", recv.operand(), args.join(", ")),
            true,
            true,
        )
    }

    fn in_domain(&mut self, domain: Domain, e: &Ex) -> Ex {
        match domain {
            Domain::Any => Ex::new(e.s.clone(), e.typed, e.atom),
            Domain::Bounded => {
                let f = ["sin", "tanh", "cos"][self.pick(3)];
                let m = self.method(f, e, &[]);
                Ex::new(format!("{} * 1.5", m.s), true, false)
            }
            Domain::Positive => {
                if self.maybe(50) {
                    Ex::new(
                        format!("{} * {} + 0.5", e.operand(), e.operand()),
                        e.typed,
                        false,
                    )
                } else {
                    let m = self.method("abs", e, &[]);
                    Ex::new(format!("{} + 0.5", m.s), true, false)
                }
            }
            Domain::Unit => {
                let m = self.method("tanh", e, &[]);
                Ex::new(format!("{} * 0.9", m.s), true, false)
            }
            Domain::AboveOne => Ex::new(
                format!("{} * {} + 1.25", e.operand(), e.operand()),
                e.typed,
                false,
            ),
        }
    }

    fn atom(&mut self) -> Ex {
        let floats = self.floats();
        let arrays: Vec<(String, Option<usize>)> = self
            .visible()
            .into_iter()
            .filter_map(|(n, k)| match k {
                Kind::Array { len, .. } => Some((n.to_owned(), *len)),
                _ => None,
            })
            .collect();
        let counters: Vec<String> = self
            .visible()
            .into_iter()
            .filter(|(_, k)| matches!(k, Kind::Counter { .. } | Kind::Int))
            .map(|(n, _)| n.to_owned())
            .collect();
        match self.pick(12) {
            4 | 5 => Ex::new(LITERALS[self.pick(LITERALS.len())].to_owned(), false, true),
            6 | 7 if !arrays.is_empty() => {
                let (a, len) = arrays[self.pick(arrays.len())].clone();
                let i = self.index(&a, len);
                Ex::new(format!("{a}[{i}]"), true, true)
            }
            8 if !counters.is_empty() => {
                let i = &counters[self.pick(counters.len())];
                Ex::new(format!("{i} as f64"), true, false)
            }
            9 if self.maybe(30) => Ex::new("std::f64::consts::PI".to_owned(), true, true),
            10 if arrays.iter().any(|(a, _)| a == "xs") => {
                Ex::new("xs.len() as f64".to_owned(), true, false)
            }
            11 if self.hostile && self.maybe(20) => Ex::new(
                HOSTILE_EXPRS[self.pick(HOSTILE_EXPRS.len())].to_owned(),
                true,
                false,
            ),
            _ => {
                let (name, _, typed) = floats[self.pick(floats.len())].clone();
                Ex::new(name, typed, true)
            }
        }
    }

    fn expr(&mut self, depth: usize) -> Ex {
        if depth == 0 {
            return self.atom();
        }
        let d = depth - 1;
        match self.pick(15) {
            3 | 4 => {
                let (a, b) = (self.expr(d), self.expr(d));
                let op = ["+", "-", "*"][self.pick(3)];
                Ex::new(
                    format!("{} {op} {}", a.operand(), b.operand()),
                    a.typed || b.typed,
                    false,
                )
            }
            5 => self.quotient(d, "/"),
            6 => {
                let a = self.expr(d);
                Ex::new(format!("-{}", a.operand()), a.typed, false)
            }
            7 | 8 => {
                let (name, domain) = UNARY[self.pick(UNARY.len())];
                let a = self.expr(d);
                let a = self.in_domain(domain, &a);
                self.method(name, &a, &[])
            }
            9 => self.binary_method(d),
            10 => {
                let a = self.expr(d);
                let f = ["sigmoid", "relu", "softplus"][self.pick(3)];
                let prefix = if self.maybe(30) { "autodiff::" } else { "" };
                Ex::new(format!("{prefix}{f}({})", a.s), a.typed, true)
            }
            11 => {
                let c = self.cond();
                let (a, b) = (self.expr(d), self.expr(d));
                Ex::new(
                    format!("if {c} {{ {} }} else {{ {} }}", a.s, b.s),
                    a.typed || b.typed,
                    false,
                )
            }
            12 => {
                let a = self.expr(d);
                let t = self.fresh("t");
                self.scopes.push(Vec::new());
                self.bind(
                    &t,
                    Kind::Float {
                        mutable: false,
                        typed: a.typed,
                    },
                );
                let b = self.expr(d);
                self.scopes.pop();
                let op = ["+", "-", "*"][self.pick(3)];
                Ex::new(
                    format!("{{ let {t} = {}; {t} {op} {} }}", a.s, b.operand()),
                    a.typed || b.typed,
                    false,
                )
            }
            13 => self.quotient(d, "%"),
            14 => {
                let a = self.expr(d);
                let counters: Vec<String> = self
                    .visible()
                    .into_iter()
                    .filter(|(_, k)| matches!(k, Kind::Counter { range: Some(_), .. }))
                    .map(|(n, _)| n.to_owned())
                    .collect();
                let (n, positive) = if !counters.is_empty() && self.maybe(30) {
                    (
                        format!("{} as i32", counters[self.pick(counters.len())]),
                        false,
                    )
                } else {
                    let n = [2, 3, 0, 1, -1, -2][self.pick(6)];
                    (n.to_string(), n < 0)
                };
                let base = if positive {
                    self.in_domain(Domain::Positive, &a)
                } else {
                    a
                };
                self.method("powi", &base, &[n])
            }
            _ => self.atom(),
        }
    }

    fn binary_method(&mut self, d: usize) -> Ex {
        let (a, b) = (self.expr(d), self.expr(d));
        match self.pick(8) {
            0 => self.method("max", &a, &[b.s]),
            1 => self.method("min", &a, &[b.s]),
            2 => self.method("atan2", &a, &[b.s]),
            3 => self.method("hypot", &a, &[b.s]),
            4 => {
                let base = self.in_domain(Domain::Positive, &a);
                let y = self.in_domain(Domain::Bounded, &b);
                self.method("powf", &base, &[y.s])
            }
            5 => {
                let x = self.in_domain(Domain::Positive, &a);
                let base = format!("{} * {} + 1.5", b.operand(), b.operand());
                self.method("log", &x, &[base])
            }
            6 => {
                let c = self.expr(d);
                self.method("mul_add", &a, &[b.s, c.s])
            }
            _ => {
                let lo = ["-1.0", "-0.5", "0.0"][self.pick(3)];
                let hi = ["1.0", "0.5", "2.0"][self.pick(3)];
                self.method("clamp", &a, &[lo.to_owned(), hi.to_owned()])
            }
        }
    }
}
