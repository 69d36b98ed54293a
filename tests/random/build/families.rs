//! Two more families of programs from the generator of `q<i>`, each with its own seed stream:
//!
//! - `m<i>` (for `tests/outputs.rs`): several outputs, returning `[f64; M]` (M = 2..4) or a tuple
//!   of floats and float arrays, with `#[differentiate(reverse, forward)]`;
//! - `h<i>` (for `tests/second_order.rs`): one float output with
//!   `#[differentiate(reverse, hessian)]`, within what second order accepts (no struct in
//!   `wrt`, no `wrt` callee): helpers, those with several outputs too, are differentiated with
//!   `hessian` (so `g_hvp` exists), those that write into buffers with `reverse, forward,
//!   hessian` (`g_jvp` for the caller's forward sweep, `g_hvp_into` for its backward sweep), and
//!   the hand-written `hand_mix`, `hand_norm`, `hand_xy` and `hand_stats` come with hand-written
//!   `_hvp`s.
//!
//! The body of a program is drawn exactly as for `q<i>` (branches, loops, early returns, local
//! arrays, slices, calls); only the parameters, the helpers' attribute, the calls allowed and the
//! returned value differ. Shapes of code of these families only are recorded next to the others
//! ([`MULTI_SHAPES`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{
    CAP, Counter, E, Enabled, FLOW_CHUNK, FLOW_LINTS, FLOW_POINTS, Family, FlowProgram, Gen,
    HAND_F64, HAND_R, HelperKind, ITER_SHAPES, Param, ParamKind, Part, Rng, Scalar, TY,
    VIEW_SHAPES, cst, indented, lit, literal, mentions, render, strip_attributes,
};

/// Shapes of the returned value, for the programs with several outputs.
pub const MULTI_SHAPES: &[&str] = &[
    "output_array",
    "output_tuple",
    "output_local_array",
    "early_return_outputs",
];

/// Shapes of these families that hit known bugs of the macro, generated only when
/// `AUTODIFF_RANDOM_KNOWN_BUGS` names them (or is `all`), with the family they belong to.
/// None is known today.
pub const BUGS: &[(&str, Family)] = &[];

/// Whether the known-bug shape `name` of these families is switched on.
pub fn bug_on(name: &str) -> bool {
    let known = std::env::var("AUTODIFF_RANDOM_KNOWN_BUGS").unwrap_or_default();
    known
        .split(',')
        .map(str::trim)
        .any(|w| w == "all" || w == name)
}

/// Shapes of `q<i>` that the `h<i>` programs cannot contain: `wrt` callees (the `g_hvp` of one
/// takes directions for its `wrt` parameters only).
const NOT_IN_HESSIAN: &[&str] = &["wrt_call"];

/// The shapes a family generates, comma-separated: those of `q<i>` switched on (less those it
/// cannot contain) and its own.
pub fn shapes(family: Family, enabled: &Enabled) -> String {
    let mut list: Vec<&str> = enabled
        .0
        .iter()
        .copied()
        .filter(|s| family != Family::Hessian || !NOT_IN_HESSIAN.contains(s))
        .filter(|s| !ITER_SHAPES.contains(s) && !VIEW_SHAPES.contains(s))
        .collect();
    if family == Family::Multi {
        list.extend(MULTI_SHAPES);
    }
    list.extend(
        BUGS.iter()
            .filter(|(s, f)| *f == family && bug_on(s))
            .map(|(s, _)| *s),
    );
    list.join(",")
}

/// The hand-written second-order derivatives of `hand_mix(u, v) = u tanh v + sin u` and of
/// `hand_norm(v) = √(1 + |v|²)` (`H = I/n − v vᵀ/n³`), the convention a user follows to supply
/// one: the value, the gradient, then `H·v` (of the slice's type: a `Vec` for a slice); and of
/// the functions with several outputs `hand_xy(r, t) = [r cos t, r sin t]` and
/// `hand_stats(w, s) = (s Σw, [1/q, s/q])`, `q = √(1 + |w|²)`: `_vjp`'s result (the output and
/// `seedᵀ·J`), then its tangent along the parameters' directions and the seed's, the output's
/// `J·v` and the gradient entries' `(seedᵀ·H)·v + v_seedᵀ·J`. Checked against central
/// differences of `_grad` and `_vjp` in `tests/second_order.rs` (`hand_written`).
const HAND_HVP: &str = "\
fn hand_mix_hvp(u: f64, v_u: f64, v: f64, v_v: f64) -> (f64, f64, f64, f64, f64) {
    let t = v.tanh();
    let s = 1.0 - t * t;
    let (h_uu, h_uv, h_vv) = (-u.sin(), s, -2.0 * u * t * s);
    (
        u * t + u.sin(),
        t + u.cos(),
        u * s,
        h_uu * v_u + h_uv * v_v,
        h_uv * v_u + h_vv * v_v,
    )
}
fn hand_norm_hvp(v: &[f64], d_v: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let (n, grad) = hand_norm_grad(v);
    let along = v.iter().zip(d_v).map(|(x, d)| x * d).sum::<f64>() / (n * n * n);
    let hv = v.iter().zip(d_v).map(|(x, d)| d / n - x * along).collect();
    (n, grad, hv)
}
#[allow(clippy::type_complexity)]
fn hand_xy_hvp(
    r: f64,
    v_r: f64,
    t: f64,
    v_t: f64,
    seed: [f64; 2],
    v_seed: [f64; 2],
) -> ([f64; 2], f64, f64, [f64; 2], f64, f64) {
    let (c, s) = (t.cos(), t.sin());
    let (value, d_r, d_t) = hand_xy_vjp(r, t, seed);
    let (_, tangent) = hand_xy_jvp(r, v_r, t, v_t);
    // d_r = w₀ c + w₁ s and d_t = r (w₁ c − w₀ s), w the seed, differentiated along
    // (v_r, v_t) and the seed's direction e.
    let [w0, w1] = seed;
    let [e0, e1] = v_seed;
    let hv_r = e0 * c + e1 * s + (w1 * c - w0 * s) * v_t;
    let hv_t = v_r * (w1 * c - w0 * s) + r * (e1 * c - e0 * s) - r * (w1 * s + w0 * c) * v_t;
    (value, d_r, d_t, tangent, hv_r, hv_t)
}
#[allow(clippy::type_complexity)]
fn hand_stats_hvp(
    w: &[f64],
    v_w: &[f64],
    s: f64,
    v_s: f64,
    seed: (f64, [f64; 2]),
    v_seed: (f64, [f64; 2]),
) -> ((f64, [f64; 2]), Vec<f64>, f64, (f64, [f64; 2]), Vec<f64>, f64) {
    let (value, d_w, d_s) = hand_stats_vjp(w, s, seed);
    let (_, tangent) = hand_stats_jvp(w, v_w, s, v_s);
    let (_, [r, _]) = value;
    let (d_m, [d_r, d_sr]) = seed;
    let (e_m, [e_r, e_sr]) = v_seed;
    // d_w_i = d_m s − a w_i r³ with a = d_r + d_sr s, and d_s = d_m Σw + d_sr r, differentiated
    // along (v_w, v_s) and the seed's direction e: ṙ = −r³ w·v_w, (r³)˙ = 3 r² ṙ.
    let r3 = r * r * r;
    let r_dot = -r3 * w.iter().zip(v_w).map(|(x, d)| x * d).sum::<f64>();
    let r3_dot = 3.0 * r * r * r_dot;
    let a = d_r + d_sr * s;
    let a_dot = e_r + e_sr * s + d_sr * v_s;
    let hv_w = w
        .iter()
        .zip(v_w)
        .map(|(x, d)| e_m * s + d_m * v_s - a_dot * x * r3 - a * (d * r3 + x * r3_dot))
        .collect();
    let hv_s = e_m * w.iter().sum::<f64>() + d_m * v_w.iter().sum::<f64>() + e_sr * r + d_sr * r_dot;
    (value, d_w, d_s, tangent, hv_w, hv_s)
}
";

/// A program of one of the families, with the parts of its output.
pub struct Member {
    p: FlowProgram,
    /// Empty for one float.
    outputs: Vec<Part>,
}

impl Gen<'_> {
    /// A call for a second-order program: to a helper over floats (with an integer argument or
    /// not) or to the hand-written `hand_mix`.
    pub(super) fn call_expr_second(&mut self, depth: usize) -> E {
        let choice = self.rng.weighted(&[4, 2, 2, 2, 2, 2, 2]);
        let with_array = match choice {
            3 => self.call_slice(depth),
            4 => self.call_array(None),
            5 => self.call_hand_slice(),
            6 if self.has_params => self.call_params(depth),
            _ => None,
        };
        if let Some(e) = with_array {
            self.mark_call_context();
            return e;
        }
        let e = match choice {
            1 => self.call_int(depth),
            2 => {
                self.mark("call_hand_scalar");
                let a = self.small(depth, CAP);
                let b = self.small(depth, CAP);
                E {
                    s: format!("hand_mix({}, {})", a.s, b.s),
                    bound: a.bound + 1.0,
                    atom: true,
                    var: true,
                }
            }
            _ => {
                let h = self.helper_of(HelperKind::Scalar2);
                let a = self.small(depth, 2.0);
                let b = self.small(depth, 2.0);
                E {
                    s: format!("{}({}, {})", self.helpers[h].name, a.s, b.s),
                    bound: self.helpers[h].bound,
                    atom: true,
                    var: true,
                }
            }
        };
        self.mark_call_context();
        e
    }

    /// A value of the output's type whose first (or some) float is `first`, the others drawn.
    pub(super) fn output_value(&mut self, first: String) -> String {
        let parts = self.outputs.clone();
        let total: usize = parts
            .iter()
            .map(|p| match p {
                Part::Float => 1,
                Part::Array(n) => *n,
            })
            .sum();
        let at = self.rng.below(total);
        let mut first = Some(first);
        let mut slot = 0;
        let mut one = |g: &mut Self| {
            let s = if slot == at {
                first.take().unwrap_or_default()
            } else {
                let e = g.small(1, CAP);
                // Sometimes a constant output: a row of zeros.
                if e.var || g.rng.chance(0.3) {
                    e.s
                } else {
                    g.receiver(e).s
                }
            };
            slot += 1;
            s
        };
        let mut printed = Vec::new();
        for part in &parts {
            printed.push(match part {
                Part::Float => one(self),
                Part::Array(n) => {
                    let xs: Vec<String> = (0..*n).map(|_| one(self)).collect();
                    format!("[{}]", xs.join(", "))
                }
            });
        }
        if self.returned && self.loops + self.depth > 0 {
            self.shapes.insert("early_return_outputs");
        }
        if printed.len() == 1 {
            printed.remove(0)
        } else {
            format!("({})", printed.join(", "))
        }
    }
}

/// The output's type.
fn output_type(parts: &[Part]) -> String {
    let tys: Vec<String> = parts
        .iter()
        .map(|p| match p {
            Part::Float => TY.to_string(),
            Part::Array(n) => format!("[{TY}; {n}]"),
        })
        .collect();
    match tys.len() {
        0 => TY.to_string(),
        1 => tys[0].clone(),
        _ => format!("({})", tys.join(", ")),
    }
}

/// Number of floats in the output.
fn output_len(parts: &[Part]) -> usize {
    parts
        .iter()
        .map(|p| match p {
            Part::Float => 1,
            Part::Array(n) => *n,
        })
        .sum()
}

/// Generates program `index` of `family` from its own stream.
#[allow(clippy::too_many_lines)]
pub fn generate(index: usize, seed: u64, enabled: &Enabled, family: Family) -> Member {
    let (salt, prefix) = match family {
        Family::Multi => (0x3A17_5EED_0B5E_0001, "m"),
        Family::Hessian => (0x4E55_1A2B_2ED0_0002, "h"),
        Family::Flow => unreachable!("q<i> programs come from flow::generate"),
    };
    let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F) ^ salt);
    rng.next();
    let name = format!("{prefix}{index}");
    let mut params = Vec::new();
    let scalars = rng.range(1, 3);
    let mut names = ["x", "y", "z"];
    if enabled.on("raw_ident_in_loop") && scalars > 1 && rng.chance(0.15) {
        names[rng.below(scalars)] = "r#match";
    }
    for n in names.iter().take(scalars) {
        params.push(Param {
            name: (*n).to_owned(),
            kind: ParamKind::Scalar,
        });
    }
    if rng.chance(0.5) {
        params.push(Param {
            name: "a".to_owned(),
            kind: ParamKind::Slice(rng.range(2, 5)),
        });
    }
    if rng.chance(0.35) {
        let len = rng.range(2, 4);
        let by_ref = rng.chance(0.5);
        params.push(Param {
            name: "b".to_owned(),
            kind: if by_ref {
                ParamKind::RefArray(len)
            } else {
                ParamKind::Array(len)
            },
        });
    }
    if rng.chance(0.45) {
        params.push(Param {
            name: "n".to_owned(),
            kind: ParamKind::Usize,
        });
    }
    if rng.chance(0.25) {
        params.push(Param {
            name: "k".to_owned(),
            kind: ParamKind::I32,
        });
    }
    if rng.chance(0.3) {
        params.push(Param {
            name: "p".to_owned(),
            kind: ParamKind::Params,
        });
    }
    if rng.chance(0.12) {
        params.push(Param {
            name: "c".to_owned(),
            kind: ParamKind::Inactive,
        });
    }
    rng.shuffle(&mut params);
    let outputs = if family == Family::Multi {
        let choices: [&[Part]; 10] = [
            &[Part::Array(2)],
            &[Part::Array(3)],
            &[Part::Array(4)],
            &[Part::Float, Part::Float],
            &[Part::Float, Part::Array(2)],
            &[Part::Array(2), Part::Float],
            &[Part::Float, Part::Float, Part::Float],
            &[Part::Float, Part::Array(3)],
            &[Part::Array(2), Part::Array(2)],
            &[Part::Float, Part::Array(2), Part::Float],
        ];
        choices[rng.below(choices.len())].to_vec()
    } else {
        Vec::new()
    };

    let mut g = Gen {
        rng,
        enabled,
        name: name.clone(),
        scalars: Vec::new(),
        arrays: Vec::new(),
        counters: Vec::new(),
        helpers: Vec::new(),
        helper_text: String::new(),
        shapes: BTreeSet::new(),
        fresh: 0,
        loops: 0,
        depth: 0,
        returned: false,
        branches: 0,
        trips: 1.0,
        indent: 1,
        calls: true,
        in_loop_arrays: Vec::new(),
        has_params: false,
        n: None,
        k: None,
        family,
        outputs: outputs.clone(),
        items: Vec::new(),
        short: Vec::new(),
        calls_made: 0,
        several: Vec::new(),
        filled: Vec::new(),
        writable: Vec::new(),
        top_buffers: Vec::new(),
        // The shapes of the second stream are drawn in `q<i>` only.
        extra: Rng(0),
        extra_helpers: Vec::new(),
        extra_fresh: 0,
        vsum: None,
        vtot: None,
        energy_helpers: Vec::new(),
        pair_helper: None,
        int_draws: 0,
        vint: None,
        real_draws: 0,
        vreal: None,
    };
    for p in &params {
        match p.kind {
            // Drawn in the `q<i>` programs only.
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {
                unreachable!("a family does not draw an unnamed parameter")
            }
            ParamKind::Scalar | ParamKind::Inactive => {
                if p.name.starts_with("r#") {
                    g.mark("raw_ident_in_loop");
                }
                if p.kind == ParamKind::Inactive {
                    g.mark("wrt_main");
                }
                g.scalars.push(Scalar {
                    name: p.name.clone(),
                    bound: 2.0,
                    acc: None,
                });
            }
            ParamKind::Slice(len) | ParamKind::Array(len) | ParamKind::RefArray(len) => {
                let (kind, shape) = match p.kind {
                    ParamKind::Slice(_) => (super::ArrKind::Slice, "slice_param"),
                    ParamKind::Array(_) => (super::ArrKind::Array, "array_param"),
                    _ => (super::ArrKind::RefArray, "ref_array_param"),
                };
                g.mark(shape);
                g.arrays.push(super::Arr {
                    name: p.name.clone(),
                    len,
                    bound: 2.0,
                    kind,
                    depth: 0,
                });
            }
            ParamKind::Usize => {
                g.mark("int_param");
                g.n = Some(p.name.clone());
            }
            ParamKind::I32 => {
                g.mark("int_param");
                g.k = Some(p.name.clone());
            }
            ParamKind::Params => g.has_params = true,
        }
    }
    g.scalars.sort_by_key(|s| s.name.starts_with("r#"));

    let acc = "acc".to_owned();
    let init = g.expr(2);
    let mut lines = vec![format!("    let mut {acc}: {TY} = {};", init.s)];
    g.scalars.push(Scalar {
        name: acc.clone(),
        bound: init.bound,
        acc: Some(0),
    });
    let array = g.rng.chance(0.5);
    g.for_loop(&mut lines, array);
    let budget = g.rng.range(2, 5);
    lines.extend(g.block(budget));
    let loose: Vec<String> = g
        .scalars
        .iter()
        .filter(|s| s.acc.is_some() && s.name != acc)
        .map(|s| s.name.clone())
        .collect();
    for s in loose {
        lines.push(format!("    {acc} += {s}.atan();"));
    }
    let text = lines.join("\n");
    for p in &params {
        if mentions(&text, &p.name) {
            continue;
        }
        let read = match p.kind {
            // Drawn in the `q<i>` programs only.
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {
                unreachable!("a family does not draw an unnamed parameter")
            }
            ParamKind::Scalar | ParamKind::Inactive => format!("{}.sin()", p.name),
            ParamKind::Slice(_) | ParamKind::Array(_) | ParamKind::RefArray(_) => {
                format!("{}[1]", p.name)
            }
            ParamKind::Usize => cst(&format!("{} as f64", p.name)),
            ParamKind::I32 => cst(&format!("f64::from({})", p.name)),
            ParamKind::Params => cst("p.scale"),
        };
        lines.push(format!("    {acc} += {read};"));
    }
    if g.shapes.contains("call") {
        let e = g.small(2, CAP);
        lines.push(format!("    {acc} += {};", e.s));
    } else {
        let call = g.call_expr(1);
        let call = g.tame(call, CAP);
        lines.push(format!("    {acc} += {};", call.s));
    }
    // From a second stream of its own (these families draw no other shape from one), so that
    // the rest of the program is drawn as before.
    g.extra = Rng(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F) ^ salt ^ 0xF1E1D);
    g.field_carried(&mut lines, &params, &acc);
    g.params_method(&mut lines, &params, &acc);
    if outputs.is_empty() {
        lines.push(g.result(&acc));
    } else if let [Part::Array(m)] = outputs[..]
        && g.rng.chance(0.6)
    {
        // A local array filled in a loop and returned whole.
        g.shapes.insert("output_local_array");
        g.shapes.insert("output_array");
        let o = g.fresh("o");
        let i = g.fresh("i");
        g.counters.push(Counter {
            name: i.clone(),
            below: m,
        });
        g.loops += 1;
        g.indent += 1;
        let e = g.small(2, CAP);
        let e = g.receiver(e);
        g.indent -= 1;
        g.loops -= 1;
        g.counters.pop();
        let counter = if mentions(&e.s, &i) {
            i
        } else {
            "_".to_owned()
        };
        let index = if counter == "_" {
            // Every element written: a sum over the loop instead.
            format!("{o}[0] += {};\n        {o}[{}] -= {};", e.s, m - 1, e.s)
        } else {
            format!("{o}[{counter}] = {};", e.s)
        };
        lines.push(format!("    let mut {o} = [{}; {m}];", lit(0.0)));
        lines.push(format!(
            "    for {counter} in 0..{m} {{\n        {index}\n    }}"
        ));
        let j = g.rng.below(m);
        lines.push(format!("    {o}[{j}] += {acc};"));
        lines.push(format!("    {o}"));
    } else {
        g.shapes.insert(if outputs.len() == 1 {
            "output_array"
        } else {
            "output_tuple"
        });
        let first = g.result(&acc);
        let value = g.output_value(first.trim().to_owned());
        lines.push(format!("    {value}"));
    }

    let mut signature = Vec::new();
    for p in &params {
        let ty = match p.kind {
            // Drawn in the `q<i>` programs only.
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {
                unreachable!("a family does not draw an unnamed parameter")
            }
            ParamKind::Scalar | ParamKind::Inactive => TY.to_string(),
            ParamKind::Slice(_) => format!("&[{TY}]"),
            ParamKind::Array(len) => format!("[{TY}; {len}]"),
            ParamKind::RefArray(len) => format!("&[{TY}; {len}]"),
            ParamKind::Usize => "usize".to_owned(),
            ParamKind::I32 => "i32".to_owned(),
            ParamKind::Params => "&Params".to_owned(),
        };
        signature.push(format!("{}: {ty}", p.name));
    }
    let function = format!(
        "fn {name}({}) -> {} {{\n{}\n}}\n",
        signature.join(", "),
        output_type(&outputs),
        lines.join("\n")
    );
    let modes = if family == Family::Hessian {
        "reverse, hessian"
    } else {
        "reverse, forward"
    };
    let attr = if params.iter().any(|p| p.kind == ParamKind::Inactive) {
        let mut wrt: Vec<&str> = params
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    ParamKind::Scalar
                        | ParamKind::Slice(_)
                        | ParamKind::Array(_)
                        | ParamKind::RefArray(_)
                )
            })
            .map(|p| p.name.as_str())
            .collect();
        g.rng.shuffle(&mut wrt);
        format!("#[differentiate({modes}, wrt({}))]", wrt.join(", "))
    } else {
        format!("#[differentiate({modes})]")
    };
    let constants = (
        g.rng.pick(&[0.5, 1.5, -0.75, 1.25]),
        g.rng.pick(&[0.25, -0.5, 1.0]),
        g.rng.range(0, 3),
        g.rng.range(0, 3) as i32 - 1,
    );
    let mut points = Vec::new();
    for k in 0..FLOW_POINTS {
        // Second order: the last point on round values (0, ±1, ½, …), where factors such as
        // `x - 1` are exactly 0: an adjoint that is 0 there still has a derivative.
        let round = family == Family::Hessian && k + 1 == FLOW_POINTS;
        let mut floats = Vec::new();
        let mut ints = Vec::new();
        for p in &params {
            let count = match p.kind {
                // Drawn in the `q<i>` programs only.
                ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {
                    unreachable!("a family does not draw an unnamed parameter")
                }
                ParamKind::Scalar | ParamKind::Inactive => 1,
                ParamKind::Slice(len) | ParamKind::Array(len) | ParamKind::RefArray(len) => len,
                ParamKind::Usize => {
                    ints.push(g.rng.range(0, 4) as i64);
                    0
                }
                ParamKind::I32 => {
                    ints.push(g.rng.range(0, 5) as i64 - 2);
                    0
                }
                ParamKind::Params => 0,
            };
            for _ in 0..count {
                floats.push(if round {
                    g.rng.pick(&[0.0, 0.5, 1.0, -1.0, 1.5, -0.5])
                } else {
                    4.0 * g.rng.unit() - 2.0
                });
            }
        }
        points.push((floats, ints));
    }
    Member {
        p: FlowProgram {
            name,
            helpers: g.helper_text,
            function,
            attr,
            params,
            shapes: g.shapes,
            constants,
            points,
        },
        outputs,
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// The arguments of a call from the flat `xs` and `ns`: with `dirs`, each active float parameter
/// is followed by its direction from `dir`; with `buffers`, each slice by the buffers named
/// `<prefix><k>` for the `k`-th slice (`&mut` buffers, as `_into` functions take them).
fn call_args(p: &FlowProgram, dirs: bool, buffers: &[&str]) -> String {
    let mut out = Vec::new();
    let (mut o, mut a, mut j, mut s) = (0, 0, 0, 0);
    let list = |v: &str, from: usize, len: usize| {
        (from..from + len)
            .map(|i| format!("{v}[{i}]"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for q in &p.params {
        match q.kind {
            // Drawn in the `q<i>` programs only.
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {
                unreachable!("a family does not draw an unnamed parameter")
            }
            ParamKind::Scalar | ParamKind::Inactive => {
                out.push(format!("xs[{o}]"));
                if dirs && q.kind == ParamKind::Scalar {
                    out.push(format!("dir[{a}]"));
                    a += 1;
                }
                o += 1;
            }
            ParamKind::Slice(len) => {
                out.push(format!("&xs[{o}..{}]", o + len));
                if dirs {
                    out.push(format!("&dir[{a}..{}]", a + len));
                    a += len;
                }
                for b in buffers {
                    out.push(format!("&mut {b}{s}"));
                }
                s += 1;
                o += len;
            }
            ParamKind::Array(len) | ParamKind::RefArray(len) => {
                let amp = if matches!(q.kind, ParamKind::RefArray(_)) {
                    "&"
                } else {
                    ""
                };
                out.push(format!("{amp}[{}]", list("xs", o, len)));
                if dirs {
                    out.push(format!("{amp}[{}]", list("dir", a, len)));
                    a += len;
                }
                o += len;
            }
            ParamKind::Usize => {
                out.push(format!("ns[{j}] as usize"));
                j += 1;
            }
            ParamKind::I32 => {
                out.push(format!("ns[{j}] as i32"));
                j += 1;
            }
            ParamKind::Params => out.push(format!("&{}_P", p.name.to_uppercase())),
        }
    }
    out.join(", ")
}

/// An expression flattening `value`, of the output's type, into a `Vec`.
fn flatten(parts: &[Part], value: &str) -> String {
    if let [Part::Array(_)] = parts {
        return format!("{value}.to_vec()");
    }
    let names: Vec<String> = (0..parts.len()).map(|i| format!("o{i}")).collect();
    let pieces: Vec<String> = names
        .iter()
        .zip(parts)
        .map(|(name, part)| match part {
            Part::Float => format!("vec![{name}]"),
            Part::Array(_) => format!("{name}.to_vec()"),
        })
        .collect();
    format!(
        "{{ let ({}) = {value}; [{}].concat() }}",
        names.join(", "),
        pieces.join(", ")
    )
}

/// A value of the output's type from the flat slice `flat`.
fn unflatten(parts: &[Part], flat: &str) -> String {
    let mut k = 0;
    let mut printed = Vec::new();
    for part in parts {
        match part {
            Part::Float => {
                printed.push(format!("{flat}[{k}]"));
                k += 1;
            }
            Part::Array(n) => {
                let xs: Vec<String> = (k..k + n).map(|i| format!("{flat}[{i}]")).collect();
                printed.push(format!("[{}]", xs.join(", ")));
                k += n;
            }
        }
    }
    if printed.len() == 1 {
        printed.remove(0)
    } else {
        format!("({})", printed.join(", "))
    }
}

/// Per active parameter: how its gradient-like entry `g<k>` becomes a `Vec`, and whether it is a
/// slice (whose entry goes into a buffer in the `_into` forms).
fn active_parts(p: &FlowProgram) -> Vec<(String, bool)> {
    let mut parts = Vec::new();
    for q in &p.params {
        match q.kind {
            // Drawn in the `q<i>` programs only.
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {
                unreachable!("a family does not draw an unnamed parameter")
            }
            ParamKind::Scalar => parts.push((format!("vec![g{}]", parts.len()), false)),
            ParamKind::Slice(_) => parts.push((format!("g{}.to_vec()", parts.len()), true)),
            ParamKind::Array(_) | ParamKind::RefArray(_) => {
                parts.push((format!("g{}.to_vec()", parts.len()), false));
            }
            _ => {}
        }
    }
    parts
}

/// The lengths of the slice parameters, in order.
fn slice_lens(p: &FlowProgram) -> Vec<usize> {
    p.params
        .iter()
        .filter_map(|q| match q.kind {
            ParamKind::Slice(len) => Some(len),
            _ => None,
        })
        .collect()
}

/// Prefill of the buffers of `_into` functions that add into them.
const BUFFER_FILL: &str = "0.25";

/// The buffers of an `_into` call, one per prefix and slice parameter (`d0`, `e0`, `d1`, ...),
/// filled with [`BUFFER_FILL`].
fn into_glue(p: &FlowProgram, prefixes: &[&str]) -> String {
    let mut out = String::new();
    for (s, len) in slice_lens(p).iter().enumerate() {
        for b in prefixes {
            let _ = write!(out, "let mut {b}{s} = [{BUFFER_FILL}; {len}]; ");
        }
    }
    out
}

fn emit_module_header(
    out: &mut String,
    index: usize,
    members: &[Member],
    with_macro: bool,
    family: Family,
) {
    out.push_str(FLOW_LINTS);
    let prefix = if family == Family::Multi {
        "multi"
    } else {
        "second"
    };
    let _ = writeln!(out, "mod {prefix}_{index:03} {{");
    if with_macro {
        out.push_str("    use autodiff::differentiate;\n");
    }
    if members.iter().any(|m| m.p.takes_params()) {
        out.push_str("    use autodiff_random_tests::Params;\n");
    }
    out.push_str("    use autodiff_random_tests::dual::Dual;\n");
    out.push_str("    use autodiff_random_tests::harness::Point;\n");
    if family == Family::Multi {
        out.push_str("    use autodiff_random_tests::multi::Program;\n\n");
    } else {
        out.push_str("    use autodiff_random_tests::hyper::Hyper;\n");
        out.push_str("    use autodiff_random_tests::second::Program;\n\n");
        indented(out, HAND_HVP, 1);
    }
    indented(out, HAND_F64, 1);
}

/// The oracle modules: the programs over `R` for each oracle type.
fn emit_oracles(out: &mut String, members: &[Member], oracles: &[(&str, &str)]) {
    let params = members.iter().any(|m| m.p.takes_params());
    for (module, ty) in oracles {
        let _ = writeln!(out, "\n    mod {module} {{");
        if params {
            out.push_str("        use autodiff_random_tests::Params;\n");
        }
        let _ = writeln!(out, "        use {ty} as R;\n");
        indented(out, HAND_R, 2);
        for m in members {
            let helpers = strip_attributes(&render(&m.p.helpers, true));
            indented(out, &helpers, 2);
            let function = render(&m.p.function, true).replacen("fn ", "pub(super) fn ", 1);
            indented(out, &function, 2);
        }
        out.push_str("    }\n");
    }
}

/// The source, the constant `Params` and the value glue of one program.
fn emit_common(out: &mut String, m: &Member, with_macro: bool) {
    let p = &m.p;
    let name = &p.name;
    let _ = writeln!(out, "    // {}", "-".repeat(92));
    indented(out, &p.source(with_macro), 1);
    if p.takes_params() {
        let (scale, shift, mm, k) = p.constants;
        let _ = writeln!(
            out,
            "    const {}_P: Params = Params {{ scale: {}, shift: {}, m: {mm}, k: {k} }};",
            name.to_uppercase(),
            literal(scale),
            literal(shift)
        );
    }
    let source = p.source(with_macro);
    assert!(!source.contains('"'), "sources are printed as raw strings");
    let _ = writeln!(
        out,
        "    const {}_SOURCE: &str = r\"{source}\";",
        name.to_uppercase()
    );
}

/// The `Program` entry's common fields.
fn entry_head(m: &Member) -> String {
    let p = &m.p;
    let name = &p.name;
    let (floats, active) = p.floats();
    let quoted = |xs: &[String]| {
        xs.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let int_names: Vec<String> = p
        .params
        .iter()
        .filter(|q| matches!(q.kind, ParamKind::Usize | ParamKind::I32))
        .map(|q| q.name.clone())
        .collect();
    let points: Vec<String> = p
        .points
        .iter()
        .map(|(f, i)| {
            let fs: Vec<String> = f.iter().map(|x| literal(*x)).collect();
            let is: Vec<String> = i.iter().map(ToString::to_string).collect();
            format!(
                "Point {{ floats: &[{}], ints: &[{}] }}",
                fs.join(", "),
                is.join(", ")
            )
        })
        .collect();
    let shapes: Vec<String> = p.shapes.iter().map(|s| format!("{s:?}")).collect();
    let active: Vec<String> = active.iter().map(ToString::to_string).collect();
    format!(
        "            name: {name:?},\n            source: {}_SOURCE,\n            \
         active: &[{}],\n            float_names: &[{}],\n            int_names: &[{}],\n            \
         points: &[\n                {},\n            ],\n            shapes: &[{}],\n",
        name.to_uppercase(),
        active.join(", "),
        quoted(&floats),
        quoted(&int_names),
        points.join(",\n                "),
        shapes.join(", "),
    )
}

fn emit_multi_chunk(out: &mut String, index: usize, members: &[Member], with_macro: bool) {
    emit_module_header(out, index, members, with_macro, Family::Multi);
    for m in members {
        emit_common(out, m, with_macro);
        let p = &m.p;
        let name = &p.name;
        let parts = &m.outputs;
        let ns = if p.has_ints() { "ns" } else { "_ns" };
        let call = call_args(p, false, &[]);
        let _ = writeln!(
            out,
            "    fn {name}_value(xs: &[f64], {ns}: &[i64]) -> Vec<f64> {{\n        {}\n    }}",
            flatten(parts, &format!("{name}({call})"))
        );
        let _ = writeln!(
            out,
            "    fn {name}_flat_oracle(xs: &[Dual], {ns}: &[i64]) -> Vec<Dual> {{\n        {}\n    }}",
            flatten(parts, &format!("over_dual::{name}({call})"))
        );
        let _ = writeln!(
            out,
            "    fn {name}_flat_tape(xs: &[f64], {ns}: &[i64]) -> (Vec<f64>, Vec<Vec<f64>>) {{\n        \
             autodiff_random_tests::tape::jacobian(xs, |xs| {})\n    }}",
            flatten(parts, &format!("over_tape::{name}({call})"))
        );
        if !with_macro {
            continue;
        }
        let slices = !slice_lens(p).is_empty();
        let jac = if slices { "jac" } else { "jac.concat()" };
        let _ = writeln!(
            out,
            "    fn {name}_flat_jacobian(xs: &[f64], {ns}: &[i64]) -> (Vec<f64>, Vec<f64>) {{\n        \
             let (o, jac) = {name}_jacobian({call});\n        ({}, {jac})\n    }}",
            flatten(parts, "o")
        );
        if slices {
            let _ = writeln!(
                out,
                "    fn {name}_flat_jacobian_into(xs: &[f64], {ns}: &[i64], jac: &mut [f64]) -> Vec<f64> {{\n        \
                 let o = {name}_jacobian_into({call}, jac);\n        {}\n    }}",
                flatten(parts, "o")
            );
        }
        let grads = active_parts(p);
        let gs: Vec<String> = (0..grads.len()).map(|k| format!("g{k}")).collect();
        let flat: Vec<String> = grads.iter().map(|(s, _)| s.clone()).collect();
        let _ = writeln!(
            out,
            "    fn {name}_flat_vjp(xs: &[f64], {ns}: &[i64], seed: &[f64]) -> (Vec<f64>, Vec<f64>) {{\n        \
             let (o, {}) = {name}_vjp({call}, {});\n        ({}, [{}].concat())\n    }}",
            gs.join(", "),
            unflatten(parts, "seed"),
            flatten(parts, "o"),
            flat.join(", ")
        );
        if slices {
            // The entries of the non-slice parameters are returned; the slices' are added into
            // buffers.
            let returned: Vec<String> = grads
                .iter()
                .enumerate()
                .filter(|(_, (_, slice))| !slice)
                .map(|(k, _)| format!("g{k}"))
                .collect();
            let mut entries = Vec::new();
            let mut s = 0;
            for (k, (part, slice)) in grads.iter().enumerate() {
                if *slice {
                    entries.push(format!(
                        "d{s}.iter().map(|b| b - {BUFFER_FILL}).collect::<Vec<f64>>()"
                    ));
                    s += 1;
                } else {
                    let _ = k;
                    entries.push(part.clone());
                }
            }
            let mut pattern = vec!["o".to_owned()];
            pattern.extend(returned);
            let _ = writeln!(
                out,
                "    fn {name}_flat_vjp_into(xs: &[f64], {ns}: &[i64], seed: &[f64]) -> (Vec<f64>, Vec<f64>) {{\n        \
                 {}\n        let ({},) = {name}_vjp_into({}, {});\n        ({}, [{}].concat())\n    }}",
                into_glue(p, &["d"]),
                pattern.join(", "),
                call_args(p, false, &["d"]),
                unflatten(parts, "seed"),
                flatten(parts, "o"),
                entries.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "    fn {name}_flat_jvp(xs: &[f64], {ns}: &[i64], dir: &[f64]) -> (Vec<f64>, Vec<f64>) {{\n        \
             let (o, t) = {name}_jvp({});\n        ({}, {})\n    }}",
            call_args(p, true, &[]),
            flatten(parts, "o"),
            flatten(parts, "t")
        );
    }
    emit_oracles(
        out,
        members,
        &[
            ("over_dual", "autodiff_random_tests::dual::Dual"),
            ("over_tape", "autodiff_random_tests::tape::Var"),
        ],
    );
    out.push_str("\n    pub(super) static PROGRAMS: &[Program] = &[\n");
    for m in members {
        let name = &m.p.name;
        let slices = !slice_lens(&m.p).is_empty();
        let some = |f: &str, on: bool| {
            if with_macro && on {
                format!("Some({name}_{f})")
            } else {
                "None".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "        Program {{\n{}            outputs: {},\n            value: {name}_value,\n            \
             jacobian: {},\n            jacobian_into: {},\n            vjp: {},\n            \
             vjp_into: {},\n            jvp: {},\n            oracle: {name}_flat_oracle,\n            \
             tape: {name}_flat_tape,\n        }},",
            entry_head(m),
            output_len(&m.outputs),
            some("flat_jacobian", true),
            some("flat_jacobian_into", slices),
            some("flat_vjp", true),
            some("flat_vjp_into", slices),
            some("flat_jvp", true),
        );
    }
    out.push_str("    ];\n}\n\n");
}

fn emit_second_chunk(out: &mut String, index: usize, members: &[Member], with_macro: bool) {
    emit_module_header(out, index, members, with_macro, Family::Hessian);
    for m in members {
        emit_common(out, m, with_macro);
        let p = &m.p;
        let name = &p.name;
        let ns = if p.has_ints() { "ns" } else { "_ns" };
        let call = call_args(p, false, &[]);
        let _ = writeln!(
            out,
            "    fn {name}_value(xs: &[f64], {ns}: &[i64]) -> f64 {{\n        {name}({call})\n    }}"
        );
        let _ = writeln!(
            out,
            "    fn {name}_flat_oracle(xs: &[Dual], {ns}: &[i64]) -> Dual {{\n        \
             over_dual::{name}({call})\n    }}"
        );
        let _ = writeln!(
            out,
            "    fn {name}_flat_hyper(xs: &[Hyper], {ns}: &[i64]) -> Hyper {{\n        \
             over_hyper::{name}({call})\n    }}"
        );
        if !with_macro {
            continue;
        }
        let grads = active_parts(p);
        let n = grads.len();
        let gs: Vec<String> = (0..n).map(|k| format!("g{k}")).collect();
        let hs: Vec<String> = (0..n).map(|k| format!("h{k}")).collect();
        let flat_g: Vec<String> = grads.iter().map(|(s, _)| s.clone()).collect();
        let flat_h: Vec<String> = flat_g
            .iter()
            .enumerate()
            .map(|(k, s)| s.replace(&format!("g{k}"), &format!("h{k}")))
            .collect();
        let slices = !slice_lens(p).is_empty();
        let _ = writeln!(
            out,
            "    fn {name}_flat_grad(xs: &[f64], {ns}: &[i64]) -> (f64, Vec<f64>) {{\n        \
             let (v, {}) = {name}_grad({call});\n        (v, [{}].concat())\n    }}",
            gs.join(", "),
            flat_g.join(", ")
        );
        let _ = writeln!(
            out,
            "    fn {name}_flat_hvp(xs: &[f64], {ns}: &[i64], dir: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {{\n        \
             let (v, {}, {}) = {name}_hvp({});\n        (v, [{}].concat(), [{}].concat())\n    }}",
            gs.join(", "),
            hs.join(", "),
            call_args(p, true, &[]),
            flat_g.join(", "),
            flat_h.join(", ")
        );
        if slices {
            let mut pattern = vec!["v".to_owned()];
            let (mut eg, mut eh) = (Vec::new(), Vec::new());
            let mut s = 0;
            for (k, (part, slice)) in grads.iter().enumerate() {
                if *slice {
                    for (prefix, list) in [("d", &mut eg), ("e", &mut eh)] {
                        list.push(format!(
                            "{prefix}{s}.iter().map(|b| b - {BUFFER_FILL}).collect::<Vec<f64>>()"
                        ));
                    }
                    s += 1;
                } else {
                    pattern.push(format!("g{k}"));
                    eg.push(part.clone());
                    eh.push(part.replace(&format!("g{k}"), &format!("h{k}")));
                }
            }
            for (k, (_, slice)) in grads.iter().enumerate() {
                if !slice {
                    pattern.push(format!("h{k}"));
                }
            }
            let _ = writeln!(
                out,
                "    fn {name}_flat_hvp_into(xs: &[f64], {ns}: &[i64], dir: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {{\n        \
                 {}\n        let ({},) = {name}_hvp_into({});\n        (v, [{}].concat(), [{}].concat())\n    }}",
                into_glue(p, &["d", "e"]),
                pattern.join(", "),
                call_args(p, true, &["d", "e"]),
                eg.join(", "),
                eh.join(", ")
            );
        }
        let hess = if slices { "hess" } else { "hess.concat()" };
        let _ = writeln!(
            out,
            "    fn {name}_flat_hessian(xs: &[f64], {ns}: &[i64]) -> (f64, Vec<f64>, Vec<f64>) {{\n        \
             let (v, {}, hess) = {name}_hessian({call});\n        (v, [{}].concat(), {hess})\n    }}",
            gs.join(", "),
            flat_g.join(", ")
        );
    }
    emit_oracles(
        out,
        members,
        &[
            ("over_dual", "autodiff_random_tests::dual::Dual"),
            ("over_hyper", "autodiff_random_tests::hyper::Hyper"),
        ],
    );
    out.push_str("\n    pub(super) static PROGRAMS: &[Program] = &[\n");
    for m in members {
        let name = &m.p.name;
        let slices = !slice_lens(&m.p).is_empty();
        let some = |f: &str, on: bool| {
            if with_macro && on {
                format!("Some({name}_{f})")
            } else {
                "None".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "        Program {{\n{}            value: {name}_value,\n            grad: {},\n            \
             hvp: {},\n            hvp_into: {},\n            hessian: {},\n            \
             oracle: {name}_flat_oracle,\n            hyper: {name}_flat_hyper,\n        }},",
            entry_head(m),
            some("flat_grad", true),
            some("flat_hvp", true),
            some("flat_hvp_into", slices),
            some("flat_hessian", true),
        );
    }
    out.push_str("    ];\n}\n\n");
}

/// Writes `multi.rs` (programs `m<first>..`) or `second.rs` (`h<first>..`).
#[allow(clippy::too_many_arguments)]
pub fn write(
    out_dir: &std::path::Path,
    family: Family,
    seed: u64,
    first: usize,
    count: usize,
    with_macro: bool,
) {
    let known = std::env::var("AUTODIFF_RANDOM_KNOWN_BUGS").unwrap_or_default();
    let enabled = Enabled::new(&known);
    let members: Vec<Member> = (first..first + count)
        .map(|i| generate(i, seed, &enabled, family))
        .collect();
    let (file, upper, what) = match family {
        Family::Multi => ("multi.rs", "MULTI", "with several outputs"),
        _ => ("second.rs", "SECOND", "differentiated to second order"),
    };
    let mut out = format!(
        "// @generated by tests/random/build.rs: programs {first}..{} {what} from seed \
         {seed:#x}. Do not edit.\n\n\
         /// The seed the programs were generated from.\n\
         const {upper}_SEED: u64 = {seed:#x};\n\
         /// The shapes generated (known-bug shapes only if named in `AUTODIFF_RANDOM_KNOWN_BUGS`).\n\
         const {upper}_SHAPES: &str = {:?};\n\n",
        first + count,
        shapes(family, &enabled)
    );
    let mut chunks = Vec::new();
    for (i, chunk) in members.chunks(FLOW_CHUNK).enumerate() {
        if family == Family::Multi {
            emit_multi_chunk(&mut out, i, chunk, with_macro);
            chunks.push(format!("multi_{i:03}::PROGRAMS"));
        } else {
            emit_second_chunk(&mut out, i, chunk, with_macro);
            chunks.push(format!("second_{i:03}::PROGRAMS"));
        }
    }
    let module = if family == Family::Multi {
        "multi"
    } else {
        "second"
    };
    let _ = writeln!(
        out,
        "/// All generated programs, by module.\n\
         static {upper}_CHUNKS: &[&[autodiff_random_tests::{module}::Program]] = &[{}];",
        chunks.join(", ")
    );
    let path = out_dir.join(file);
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    if family == Family::Hessian {
        write_hand(out_dir);
    }
}

/// Writes `hand.rs`: the hand-written callees over `f64` with their first- and second-order
/// derivatives, in a module `hand`, for the test checking the latter against differences of the
/// former.
fn write_hand(out_dir: &std::path::Path) {
    let mut out = String::from(
        "// @generated by tests/random/build.rs: the hand-written callees. Do not edit.\n\n",
    );
    out.push_str(FLOW_LINTS);
    out.push_str("mod hand {\n");
    for text in [HAND_F64, HAND_HVP] {
        // Public, for the test next to the module.
        let public: Vec<String> = text
            .lines()
            .map(|l| match l.strip_prefix("fn ") {
                Some(rest) => format!("pub(crate) fn {rest}"),
                None => l.to_owned(),
            })
            .collect();
        indented(&mut out, &public.join("\n"), 1);
    }
    out.push_str("}\n");
    let path = out_dir.join("hand.rs");
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
