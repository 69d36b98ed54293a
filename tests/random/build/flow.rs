//! Random programs with control flow and calls, for `tests/flow.rs`.
//!
//! Each program `q<i>` comes with its own helpers (callees). The text of a program and its helpers is
//! generated once, with two markers: constants are wrapped in [`C0`]..[`C1`] and the float type is
//! [`TY`]. It is printed three times: over `f64` with `#[differentiate(reverse, forward)]` (markers
//! dropped, `TY` = `f64`), and over the dual-number oracle and the reverse-mode tape oracle (`TY` =
//! `R`, constants wrapped in `R::cst(..)`, with `R` the oracle's type). The oracles thus run the
//! program's own Rust, not anything the macro derived from it.
//!
//! Shapes of code are drawn per program and recorded by name ([`SHAPES`]); those that hit a known
//! bug of the macro are generated only when `AUTODIFF_RANDOM_KNOWN_BUGS` names them (or is `all`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Rng, literal};

#[path = "families.rs"]
pub mod families;
#[path = "ints.rs"]
mod ints;
#[path = "real.rs"]
mod real;

/// Opens a constant (printed as `R::cst(` in the oracles).
const C0: char = '\u{1}';
/// Closes a constant.
const C1: char = '\u{2}';
/// The float type.
const TY: char = '\u{3}';
/// Opens text printed only over `f64` (an iterator), followed by [`IT1`], the text printed only
/// in the oracles (the same iteration as an index loop), and [`IT2`].
const IT0: char = '\u{4}';
/// Separates the `f64` text from the oracles' text.
const IT1: char = '\u{5}';
/// Closes the oracles' text.
const IT2: char = '\u{6}';
/// Opens a line of a shape drawn from the second stream of a program ([`VIEW_SHAPES`]): printed
/// as nothing, and the line is not seen by the checks of what later lines read ([`mentions`]),
/// so that the lines around it are drawn and printed as without it.
const NEW: char = '\u{7}';

/// `iter` over `f64`, `index` in the oracles.
fn split(iter: &str, index: &str) -> String {
    format!("{IT0}{iter}{IT1}{index}{IT2}")
}

/// Programs per generated module.
const FLOW_CHUNK: usize = 25;
/// Evaluation points per program.
const FLOW_POINTS: usize = 3;
/// Ceiling on the magnitude of values used as operands; larger ones are squashed first.
const CAP: f64 = 30.0;

/// Every shape of code the generator produces, and whether it is switched off by default because
/// it hits a known bug of the macro (named in `AUTODIFF_RANDOM_KNOWN_BUGS` to switch it on).
pub const SHAPES: &[(&str, bool)] = &[
    ("if_stmt", false),
    ("if_else_if", false),
    ("if_expr", false),
    ("for", false),
    ("for_rev", false),
    ("for_inclusive", false),
    ("nested_for", false),
    ("while", false),
    ("while_float_condition", false),
    ("loop_break", false),
    ("break", false),
    ("continue", false),
    ("early_return", false),
    ("early_return_in_loop", false),
    ("local_array_in_loop", false),
    ("slice_param", false),
    ("array_param", false),
    ("ref_array_param", false),
    ("int_param", false),
    ("params_read", false),
    ("call", false),
    ("call_in_loop", false),
    ("call_in_branch", false),
    ("call_slice", false),
    ("call_array", false),
    ("call_local_array_after_loop", false),
    ("call_int_arg", false),
    ("call_hand_scalar", false),
    ("call_hand_slice", false),
    ("raw_ident", false),
    ("long_sum", false),
    ("wrt_main", false),
    ("array_call_in_loop", false),
    ("hand_array_call_in_loop", false),
    ("array_in_loop_call", false),
    ("array_in_block_call", false),
    ("params_call", false),
    ("params_with_counted_loop", false),
    ("int_field_call", false),
    ("wrt_call", false),
    ("raw_ident_in_loop", false),
    ("long_sum_over_256", false),
    ("for_iter", false),
    ("for_ref", false),
    ("for_slice_ref", false),
    ("for_enumerate", false),
    ("for_zip", false),
    ("for_windows", false),
    ("for_chunks_exact", false),
    ("iter_sum", false),
    ("iter_product", false),
    ("iter_fold", false),
    ("iter_map", false),
    ("iter_rev", false),
    ("iter_skip", false),
    ("iter_take", false),
    ("iter_step_by", false),
    ("iter_enumerate", false),
    ("iter_zip", false),
    ("iter_windows", false),
    ("iter_chunks_exact", false),
    ("iter_empty", false),
    ("closure_let", false),
    ("call_in_closure", false),
    ("array_map", false),
    ("iter_loop_call", false),
    ("iter_loop_local_array", false),
    ("short_slice", false),
    ("window_longer_than_local_array", false),
    ("call_several", false),
    ("call_hand_several", false),
    ("call_several_in_loop", false),
    ("call_several_in_branch", false),
    ("call_several_array_arg", false),
    ("call_several_local_array_in_loop", false),
    ("several_result_array", false),
    ("several_results_read_later", false),
    ("buffer_call", false),
    ("buffer_overwrite", false),
    ("buffer_update", false),
    ("buffer_two", false),
    ("buffer_value_dropped", false),
    ("buffer_vec", false),
    ("buffer_local_array", false),
    ("buffer_existing_array", false),
    ("buffer_part_read", false),
    ("buffer_part_written", false),
    ("buffer_counter_part", false),
    ("buffer_call_in_loop", false),
    ("buffer_overwritten_in_loop", false),
    ("buffer_call_in_branch", false),
    ("buffer_read_later", false),
    ("buffer_in_result", false),
    ("packed_index", false),
    ("packed_index_in_loop", false),
    ("split_copy", false),
    ("fill_part", false),
    ("copy_into_part", false),
    // Not a bug: a call that writes into a buffer is a statement (README, "Known limitations"),
    // so a helper's float value cannot be used yet.
    ("buffer_value_used", true),
    // A `vec!` buffer read through a method before a call writes it (the expansion once lost its
    // element type; README, "Known-bug shapes").
    ("buffer_vec_read_first", false),
    // `x.iter().skip(m)` over a `vec![0.0; n]` with `m >= n` (once `clippy::reversed_empty_ranges`
    // on the expansion).
    ("skip_past_vec_buffer", false),
    ("let_view_written", false),
    ("let_view_to_helper", false),
    ("helper_view_of_out", false),
    // A linear buffer helper shaped as ADBench's `qtimesx`: its overwrite loop, then adds into
    // later elements through a running integer index, so the hidden `g_adjoint_into` that a
    // caller's backward code calls runs none of its forward sweep but the counting loop.
    ("helper_triangle", false),
    ("several_result_to_buffer_helper", false),
    ("several_result_copied_to_buffer_helper", false),
    ("accumulation_loop_call", false),
    ("accumulation_call_before_stores", false),
    ("accumulation_call_after_stores", false),
    ("accumulation_call_part", false),
    ("accumulation_call_counter_part", false),
    ("accumulation_single_stores", false),
    ("accumulation_vec_buffer", false),
    ("accumulation_helper_reused", false),
    ("accumulation_loop_not_last", false),
    // A top-level loop carrying its state through `tanh` (so its backward code runs after it)
    // that calls a sibling of two slices on two arrays: the call's two saved gradients once came
    // back swapped (CHANGELOG, "Fixed").
    ("recurrence_two_slices", false),
    ("int_method_loop", false),
    ("int_method_index", false),
    ("int_method_store", false),
    ("int_method_exponent", false),
    ("int_method_cast", false),
    ("int_method_condition", false),
    ("int_method_let", false),
    ("int_method_inner_bound", false),
    ("int_method_literal_range", false),
    ("int_method_before_index", false),
    ("int_method_int_param", false),
    ("int_method_len", false),
    ("int_method_outer_counter", false),
    // `h.len()` of a local array as an integer-method receiver, or `0..h.len()` with a method on
    // the counter before an index: the expansion wrote the length as an unsuffixed literal
    // (E0689; README, "Known-bug shapes"; fixed since, the length is written `3usize`).
    ("int_method_local_len", false),
    // Constructs of real programs, from a fork of the second stream (`build/real.rs`).
    ("real_block", false),
    ("real_const_table", false),
    ("real_const_iter", false),
    ("real_const_index", false),
    // A table of constants that is an array of arrays, `const VRM: [[f64; 2]; 2]` declared where
    // it is read (often in a loop's body), read `VRM[i][j]`: a load with two indices, and a
    // `const` of a nested block, which the generated functions declare renamed.
    ("real_const_matrix", false),
    ("real_predicate", false),
    ("real_range_contains", false),
    ("real_swap", false),
    ("real_swap_slice", false),
    ("real_closure_assign", false),
    ("real_closure_array", false),
    ("real_fold_pairs", false),
    ("real_fold_tuple", false),
    ("real_call_path", false),
    ("real_call_path_tuple", false),
    ("real_buffer_index_helper", false),
    ("real_buffer_in_loop", false),
    // A local index array `let k = [2usize, 0];` declared in a block (a loop body, a branch, after
    // an early `return`) and passed to a helper that writes into a buffer: the backward sweep
    // passed `&k` where it is not in scope (E0425; fixed, README, "Known-bug shapes").
    ("real_index_array_in_block", false),
    // The result passed to a slice helper with a slice parameter, `h(x, (acc).atan())`: the
    // output is the call, and the caller's own buffer goes to `h_grad_into`.
    ("result_through_helper", false),
    // Parameters without a name of their own: `_: f64`, and arrays bound by a pattern,
    // `[pw0, pw1]: [f64; 2]` or `&[pw0, pw1]: &[f64; 2]`, whose elements the result reads.
    ("unused_param", false),
    ("pattern_param", false),
    // A local started from a field of `p`, `let mut pr = p.scale;` (a value whose type the
    // macro cannot tell), carried through a loop by an active factor and read through `sin`:
    // second order once kept no tangents for the tape it was saved on (CHANGELOG, "Fixed").
    ("field_carried", false),
    // A method of `Params` marked `#[differentiate(reverse, forward, hessian)]` (`Params::warp`
    // in the library), called on the constant `p: &Params` as users call one, `p.warp(u)`: in a
    // loop over a few iterations and on a value the loop carried. The oracles inline its body.
    ("params_method", false),
    // A counted `while` printed as Rust's do-while, `while { j += 1; acc = acc * 0.75 + 0.25 *
    // acc.sin(); j <= n } { .. }`: a condition with statements, whose assignments the backward
    // sweep once left out (a silent wrong gradient).
    ("while_condition_block", false),
];

/// The shapes drawn from a program's second stream ([`Gen::extra`]), in the `q<i>` programs
/// only: views `&mut b[o..o + l]` of a local array or buffer, bound by `let` and written through
/// (`let_view_written`), passed to a helper that writes into a buffer (`let_view_to_helper`), and
/// helpers that write their buffer through a view of it (`helper_view_of_out`); the array a call
/// with several outputs returns, passed right after the call, whole or a part, to a helper that
/// writes into a buffer (`several_result_to_buffer_helper`), or copied element by element by a
/// loop into a local array first (`several_result_copied_to_buffer_helper`); accumulation loops
/// at the top level that write a local array of their own and pass it, whole or a part, to a
/// scalar helper whose value they add up, before or after the stores of the iteration
/// (`accumulation_*`, [`Gen::accumulation_statement`]).
pub const VIEW_SHAPES: &[&str] = &[
    "let_view_written",
    "let_view_to_helper",
    "helper_view_of_out",
    "helper_triangle",
    "several_result_to_buffer_helper",
    "several_result_copied_to_buffer_helper",
    "accumulation_loop_call",
    "accumulation_call_before_stores",
    "accumulation_call_after_stores",
    "accumulation_call_part",
    "accumulation_call_counter_part",
    "accumulation_single_stores",
    "accumulation_vec_buffer",
    "accumulation_helper_reused",
    "accumulation_loop_not_last",
    "recurrence_two_slices",
    "int_method_loop",
    "int_method_index",
    "int_method_store",
    "int_method_exponent",
    "int_method_cast",
    "int_method_condition",
    "int_method_let",
    "int_method_inner_bound",
    "int_method_literal_range",
    "int_method_before_index",
    "int_method_int_param",
    "int_method_len",
    "int_method_outer_counter",
    "int_method_local_len",
    "real_block",
    "real_const_table",
    "real_const_iter",
    "real_const_index",
    "real_const_matrix",
    "real_predicate",
    "real_range_contains",
    "real_swap",
    "real_swap_slice",
    "real_closure_assign",
    "real_closure_array",
    "real_fold_pairs",
    "real_fold_tuple",
    "real_call_path",
    "real_call_path_tuple",
    "real_buffer_index_helper",
    "real_buffer_in_loop",
    "real_index_array_in_block",
    "result_through_helper",
    "unused_param",
    "pattern_param",
];

/// The shapes with iterators, generated in the `q<i>` programs only.
pub const ITER_SHAPES: &[&str] = &[
    "for_iter",
    "for_ref",
    "for_slice_ref",
    "for_enumerate",
    "for_zip",
    "for_windows",
    "for_chunks_exact",
    "iter_sum",
    "iter_product",
    "iter_fold",
    "iter_map",
    "iter_rev",
    "iter_skip",
    "iter_take",
    "iter_step_by",
    "iter_enumerate",
    "iter_zip",
    "iter_windows",
    "iter_chunks_exact",
    "iter_empty",
    "closure_let",
    "call_in_closure",
    "array_map",
    "iter_loop_call",
    "iter_loop_local_array",
    "short_slice",
    "window_longer_than_local_array",
    "skip_past_vec_buffer",
];

/// Which shapes are on.
pub struct Enabled(BTreeSet<&'static str>);

impl Enabled {
    /// The default shapes plus the known-bug shapes named in `known` (comma-separated, or `all`).
    pub fn new(known: &str) -> Self {
        let wanted: Vec<&str> = known.split(',').map(str::trim).collect();
        for w in &wanted {
            assert!(
                w.is_empty()
                    || *w == "all"
                    || SHAPES.iter().any(|(s, bug)| s == w && *bug)
                    || families::BUGS.iter().any(|(s, _)| s == w),
                "AUTODIFF_RANDOM_KNOWN_BUGS: {w:?} is not a known-bug shape"
            );
        }
        Self(
            SHAPES
                .iter()
                .filter(|(s, bug)| !bug || wanted.contains(&"all") || wanted.contains(s))
                .map(|(s, _)| *s)
                .collect(),
        )
    }

    fn on(&self, shape: &str) -> bool {
        self.0.contains(shape)
    }

    /// The names switched on, comma-separated.
    pub fn list(&self) -> String {
        self.0.iter().copied().collect::<Vec<_>>().join(",")
    }
}

/// Where a part of an array starts: a loop counter (`base`) or a literal offset `o`.
struct Place {
    base: Option<String>,
    o: usize,
}

impl Place {
    /// The part's range, `c..c + l` or `o..o + l`.
    fn range(&self, l: usize) -> String {
        match &self.base {
            Some(c) => format!("{c}..{c} + {l}"),
            None => format!("{}..{}", self.o, self.o + l),
        }
    }

    /// The index in the array of element `r` of the part.
    fn at(&self, r: usize) -> String {
        match &self.base {
            Some(c) if r == 0 => c.clone(),
            Some(c) => format!("{c} + {r}"),
            None => (self.o + r).to_string(),
        }
    }
}

/// `x` as a constant.
fn lit(x: f64) -> String {
    format!("{C0}{}{C1}", literal(x))
}

/// Any constant expression.
fn cst(s: &str) -> String {
    format!("{C0}{s}{C1}")
}

/// Prints marked text for `f64` (`oracle == false`) or for an oracle type `R`.
fn render(s: &str, oracle: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    // Per open [`IT0`]: whether in its `f64` part.
    let mut parts: Vec<bool> = Vec::new();
    for ch in s.chars() {
        match ch {
            IT0 => parts.push(true),
            IT1 => {
                if let Some(last) = parts.last_mut() {
                    *last = false;
                }
            }
            IT2 => {
                parts.pop();
            }
            _ if parts.contains(&oracle) => {}
            C0 => {
                if oracle {
                    out.push_str("R::cst(");
                }
            }
            C1 => {
                if oracle {
                    out.push(')');
                }
            }
            TY => out.push_str(if oracle { "R" } else { "f64" }),
            NEW => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `name` occurs in `text` as a whole identifier, outside the lines of the second stream
/// (marked [`NEW`]): what those read changes nothing the first stream decides.
fn mentions(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '#';
    text.lines()
        .filter(|l| !l.contains(NEW))
        .any(|l| l.split(|c: char| !ident(c)).any(|t| t == name))
}

/// An expression with a bound on its magnitude.
#[derive(Clone)]
struct E {
    s: String,
    bound: f64,
    /// Needs no parentheses as an operand or receiver.
    atom: bool,
    /// Depends on a float variable (so that it can be a method receiver in `f64`).
    var: bool,
}

impl E {
    fn operand(&self) -> String {
        if self.atom {
            self.s.clone()
        } else {
            format!("({})", self.s)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ParamKind {
    Scalar,
    /// A scalar excluded by `wrt`.
    Inactive,
    Slice(usize),
    Array(usize),
    RefArray(usize),
    Usize,
    I32,
    Params,
    /// A float parameter written `_` (an ODE right-hand side's unused time): active, its
    /// gradient entry 0.
    Unused,
    /// `[pw0, pw1]: [f64; N]`, an array bound by a pattern, its elements read as scalars.
    Pattern(usize),
    /// `&[pw0, pw1]: &[f64; N]`.
    RefPattern(usize),
}

impl ParamKind {
    /// How it is written in a signature, its type `ty` given.
    fn declared(self, name: &str, ty: &str) -> String {
        let elements = |len: usize| {
            (0..len)
                .map(|i| format!("{name}{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::Unused => format!("_: {ty}"),
            Self::Pattern(len) => format!("[{}]: {ty}", elements(len)),
            Self::RefPattern(len) => format!("&[{}]: {ty}", elements(len)),
            _ => format!("{name}: {ty}"),
        }
    }
}

struct Param {
    name: String,
    kind: ParamKind,
}

/// An array in scope: a parameter or a local.
#[derive(Clone)]
struct Arr {
    name: String,
    len: usize,
    /// Bound on its elements.
    bound: f64,
    kind: ArrKind,
    /// Block depth of its declaration (0: the function's top level).
    depth: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ArrKind {
    Slice,
    Array,
    RefArray,
    Local,
    /// A local run-time buffer `let mut b = vec![0.0; m];`.
    Buffer,
}

impl ArrKind {
    /// A local array or buffer (not a parameter).
    fn local(self) -> bool {
        matches!(self, Self::Local | Self::Buffer)
    }
}

/// A float scalar in scope.
#[derive(Clone)]
struct Scalar {
    name: String,
    bound: f64,
    /// Declared `let mut` and updated by `+=` (an accumulator); `depth` is the loop depth at which
    /// it was declared.
    acc: Option<usize>,
}

/// A loop counter in scope, with an exclusive bound on its values.
#[derive(Clone)]
struct Counter {
    name: String,
    below: usize,
}

/// What a helper takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HelperKind {
    /// `(u, v)` floats.
    Scalar2,
    /// `(v: &[T], s: T)`.
    Slice,
    /// `(v: [T; N])` or `(v: &[T; N])`.
    Array(usize, bool),
    /// `(p: &Params, u: T)`.
    Params,
    /// `(m: usize, u: T)`.
    Int,
    /// `#[differentiate(wrt(u))]` on `(u: T, c: T)`.
    Wrt,
    /// `(u: T, v: T) -> [T; 2]` (with `true`) or `-> (T, T)`: several outputs.
    Several2(bool),
    /// `(u: T, w) -> (T, [T; 2])`, `w` a slice `&[T]` (`None`), `[T; N]` or `&[T; N]` (with
    /// `true`): several outputs.
    SeveralWith(Option<(usize, bool)>),
    /// `(v: &[T], s: T, out: &mut [T])`: writes into a buffer.
    Buffer(Write),
}

/// What a helper that writes into buffers does with them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Write {
    /// `out[i] = ..` for every `i`.
    Overwrite,
    /// Reads what `out` held: `out[i] = out[i] * a + b`, or `out[i] *= a; out[i] += b;`.
    Update,
    /// Two buffers, `(v, s, out, aux)`: `out[i] = ..; aux[i] = 0.5 * aux[i] + out[i] * a;`.
    Two,
    /// Overwrites `out` and returns a float.
    Value,
}

struct Helper {
    name: String,
    kind: HelperKind,
    /// Bound on its value.
    bound: f64,
}

struct Gen<'e> {
    rng: Rng,
    enabled: &'e Enabled,
    name: String,
    scalars: Vec<Scalar>,
    arrays: Vec<Arr>,
    counters: Vec<Counter>,
    helpers: Vec<Helper>,
    helper_text: String,
    shapes: BTreeSet<&'static str>,
    fresh: usize,
    /// Loop nesting depth.
    loops: usize,
    /// Block nesting depth.
    depth: usize,
    /// Whether an early `return` has been generated.
    returned: bool,
    /// Number of enclosing `if` branches.
    branches: usize,
    /// Product of the trip-count bounds of the enclosing loops.
    trips: f64,
    /// Inside a loop whose body must not be left by `return`.
    indent: usize,
    /// Whether calls may be generated (not inside helpers).
    calls: bool,
    /// Local arrays declared inside a loop body (the loops we are in).
    in_loop_arrays: Vec<String>,
    has_params: bool,
    /// Name of the `usize` parameter, if any.
    n: Option<String>,
    /// Name of the `i32` parameter, if any.
    k: Option<String>,
    /// Which family of programs is generated (the `q<i>` programs are [`Family::Flow`]).
    family: Family,
    /// The output's parts, for a function with several outputs (empty: one float).
    outputs: Vec<Part>,
    /// Items bound by the enclosing iterator loops and closures.
    items: Vec<Item>,
    /// Slices of 0 to 2 elements, only iterated over (never indexed).
    short: Vec<Arr>,
    /// Calls generated so far.
    calls_made: usize,
    /// Names bound to the results of calls with several outputs.
    several: Vec<String>,
    /// Local arrays overwritten in every iteration of the loops we are in.
    filled: Vec<String>,
    /// Local arrays and buffers declared `let mut` (which a call may write), with the loop depth
    /// of their declaration.
    writable: Vec<(String, usize)>,
    /// Buffers written by calls, declared at the function's top level (in scope at its end),
    /// with their lengths.
    top_buffers: Vec<(String, usize)>,
    /// The program's second stream, from which the shapes of [`VIEW_SHAPES`] are drawn: whether a
    /// statement gets one, and everything in it. `rng` draws exactly what it drew before these
    /// shapes existed, so the rest of the program is printed as before, and the lines of those
    /// shapes are inserted into it.
    extra: Rng,
    /// Helpers written for those shapes (`q<i>_w<k>`), and whether each writes through a view.
    extra_helpers: Vec<(String, bool)>,
    /// Numbers of the names those shapes give (`vw<k>`, `vb<k>`).
    extra_fresh: usize,
    /// The bound on `vsum`, the accumulator those shapes add into (declared first, added into the
    /// result last), once one has.
    vsum: Option<f64>,
    /// The bound on `vtot`, the accumulator of the accumulation loops of the second stream
    /// ([`Gen::accumulation_statement`]; declared first, added into the result last, squashed
    /// only if its bound passes [`CAP`], which those loops avoid), once one has.
    vtot: Option<f64>,
    /// Scalar helpers written for those loops (`q<i>_e<k>`), with the least length of slice each
    /// reads and the bound on its value.
    energy_helpers: Vec<(String, usize, f64)>,
    /// The helper of two slices written for [`Gen::recurrence_statement`] (`q<i>_t`), once one is.
    pair_helper: Option<String>,
    /// Places where a loop with integer methods could have been drawn so far (which seeds the
    /// stream it is drawn from, [`Gen::extra_int_methods`]).
    int_draws: usize,
    /// The bound on `vint`, the accumulator of the loops with integer methods (declared first,
    /// added into the result last, as `vsum`), once one has.
    vint: Option<f64>,
    /// Places where constructs of real programs could have been drawn so far (which seeds the
    /// stream they are drawn from, [`Gen::extra_real`]).
    real_draws: usize,
    /// The bound on `vreal`, the accumulator of those constructs (declared first, added into the
    /// result last, as `vsum`), once one has.
    vreal: Option<f64>,
}

/// An item bound by an iterator loop or a closure (`v`, `w`), with the expressions reading it
/// (`*v`, `w[0]`, `w[1]`).
#[derive(Clone)]
struct Item {
    name: String,
    reads: Vec<E>,
}

/// The families of generated programs: the same generator, each with its own restrictions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    /// `q<i>`: one float output, `#[differentiate(reverse, forward)]`.
    Flow,
    /// `m<i>`: several outputs (float arrays and tuples), `#[differentiate(reverse, forward)]`.
    Multi,
    /// `h<i>`: `#[differentiate(reverse, hessian)]`, within what second order accepts: no `wrt`
    /// callees, no structs in `wrt`.
    Hessian,
}

/// A part of a function's output: a float, or a float array of the given length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    Float,
    Array(usize),
}

impl<'e> Gen<'e> {
    fn on(&self, shape: &'static str) -> bool {
        self.enabled.on(shape)
    }

    fn mark(&mut self, shape: &'static str) {
        debug_assert!(SHAPES.iter().any(|(s, _)| *s == shape), "{shape}");
        self.shapes.insert(shape);
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn pad(&self) -> String {
        "    ".repeat(self.indent)
    }

    // -----------------------------------------------------------------------------------------
    // Expressions

    /// A leaf: a float variable, an array element, a constant.
    fn leaf(&mut self) -> E {
        for _ in 0..4 {
            // Items of iterator loops and closures in scope are read as often as scalars.
            let choices = if self.items.is_empty() { 10 } else { 14 };
            match self.rng.below(choices) {
                10..=13 => {
                    let item = &self.items[self.rng.below(self.items.len())];
                    return item.reads[self.rng.below(item.reads.len())].clone();
                }
                0..=3 if !self.scalars.is_empty() => {
                    let i = self.rng.below(self.scalars.len());
                    let s = self.scalars[i].clone();
                    if s.name.starts_with("r#") && (self.loops > 0 || self.depth > 0) {
                        // Raw identifiers inside loops and branches hit a known bug.
                        if !self.on("raw_ident_in_loop") {
                            continue;
                        }
                        self.mark("raw_ident_in_loop");
                    }
                    // Accumulators are squashed when read inside a loop (their bound is not
                    // known there) or when large.
                    if (s.acc.is_some() && self.loops > 0) || s.bound > CAP {
                        let f = self.rng.pick(&["atan", "tanh"]);
                        return E {
                            s: format!("{}.{f}()", s.name),
                            bound: 1.6,
                            atom: true,
                            var: true,
                        };
                    }
                    return E {
                        s: s.name,
                        bound: s.bound,
                        atom: true,
                        var: true,
                    };
                }
                4..=6 if !self.arrays.is_empty() => {
                    let a = self.arrays[self.rng.below(self.arrays.len())].clone();
                    let usable: Vec<Counter> = self
                        .counters
                        .iter()
                        .filter(|c| c.below <= a.len)
                        .cloned()
                        .collect();
                    let index = if !usable.is_empty() && self.rng.chance(0.7) {
                        usable[self.rng.below(usable.len())].name.clone()
                    } else {
                        self.rng.below(a.len).to_string()
                    };
                    return E {
                        s: format!("{}[{index}]", a.name),
                        bound: a.bound,
                        atom: true,
                        var: true,
                    };
                }
                7 if !self.counters.is_empty() => {
                    let c = self.counters[self.rng.below(self.counters.len())].clone();
                    return E {
                        s: cst(&format!("{} as f64", c.name)),
                        bound: c.below as f64,
                        atom: false,
                        var: false,
                    };
                }
                8 if self.has_params => {
                    let field = self.rng.pick(&["scale", "shift"]);
                    self.mark("params_read");
                    return E {
                        s: cst(&format!("p.{field}")),
                        bound: 2.0,
                        atom: true,
                        var: false,
                    };
                }
                9 if self.n.is_some() => {
                    let n = self.n.clone().unwrap_or_default();
                    return E {
                        s: cst(&format!("{n} as f64")),
                        bound: 4.0,
                        atom: false,
                        var: false,
                    };
                }
                _ => {}
            }
        }
        let x = self.rng.pick(&[0.25, 0.5, 0.75, 1.5, 2.0, 1.25, 0.125]);
        E {
            s: lit(x),
            bound: x,
            atom: true,
            var: false,
        }
    }

    /// A leaf that depends on a float variable.
    fn var_leaf(&mut self) -> E {
        for _ in 0..8 {
            let e = self.leaf();
            if e.var {
                return e;
            }
        }
        // Every program has a float parameter in scope.
        let s = self.scalars[0].clone();
        self.read_scalar(&s)
    }

    fn read_scalar(&self, s: &Scalar) -> E {
        if (s.acc.is_some() && self.loops > 0) || s.bound > CAP {
            E {
                s: format!("{}.atan()", s.name),
                bound: 1.6,
                atom: true,
                var: true,
            }
        } else {
            E {
                s: s.name.clone(),
                bound: s.bound,
                atom: true,
                var: true,
            }
        }
    }

    /// `e` squashed below `limit` if its bound is above.
    fn tame(&mut self, e: E, limit: f64) -> E {
        if e.bound <= limit {
            return e;
        }
        let f = self.rng.pick(&["tanh", "sin", "atan", "cos"]);
        let e = self.receiver(e);
        E {
            s: format!("{}.{f}()", e.operand()),
            bound: 1.6,
            atom: true,
            var: true,
        }
    }

    /// `e`, made to depend on a variable if it does not (a method cannot be called on a constant in
    /// `f64`: its type would be ambiguous).
    fn receiver(&mut self, e: E) -> E {
        if e.var {
            return e;
        }
        let v = self.var_leaf();
        let v = self.tame(v, CAP);
        E {
            s: format!("{} + {}", e.operand(), v.operand()),
            bound: e.bound + v.bound,
            atom: false,
            var: true,
        }
    }

    /// A float expression of nesting depth at most `depth`.
    fn expr(&mut self, depth: usize) -> E {
        if depth == 0 {
            return self.leaf();
        }
        let call_weight = if self.calls { 2 } else { 0 };
        match self.rng.weighted(&[3, 5, 5, call_weight]) {
            0 => self.leaf(),
            1 => {
                let l = self.expr(depth - 1);
                let r = self.expr(depth - 1);
                self.binary(l, r)
            }
            2 => {
                let a = self.expr(depth - 1);
                self.unary(a)
            }
            _ => self.call_expr(depth - 1),
        }
    }

    fn binary(&mut self, l: E, r: E) -> E {
        match self.rng.below(5) {
            0 | 1 => {
                let (l, r) = (self.tame(l, CAP), self.tame(r, CAP));
                let op = if self.rng.chance(0.5) { "+" } else { "-" };
                // `a - (b + c)` needs its parentheses, `a + b + c` does not.
                let rs = if r.atom {
                    r.s.clone()
                } else {
                    format!("({})", r.s)
                };
                E {
                    s: format!("{} {op} {rs}", l.s),
                    bound: l.bound + r.bound,
                    atom: false,
                    var: l.var || r.var,
                }
            }
            2 | 3 => {
                let (mut l, mut r) = (self.tame(l, CAP), self.tame(r, CAP));
                if l.bound * r.bound > CAP {
                    l = self.tame(l, 2.0);
                    r = self.tame(r, 8.0);
                }
                E {
                    s: format!("{} * {}", l.operand(), r.operand()),
                    bound: l.bound * r.bound,
                    atom: false,
                    var: l.var || r.var,
                }
            }
            _ => {
                let l = self.tame(l, CAP);
                let r = self.tame(r, CAP);
                let r = self.receiver(r);
                let d = r.operand();
                E {
                    s: format!("{} / ({d} * {d} + {})", l.operand(), lit(1.0)),
                    bound: l.bound,
                    atom: false,
                    var: true,
                }
            }
        }
    }

    fn unary(&mut self, a: E) -> E {
        let a = self.tame(a, CAP);
        let a = self.receiver(a);
        let o = a.operand();
        let (s, bound) = match self.rng.below(13) {
            0 => (format!("{o}.sin()"), 1.0),
            1 => (format!("{o}.cos()"), 1.0),
            2 => (format!("{o}.tanh()"), 1.0),
            3 => (format!("{o}.atan()"), 1.6),
            4 => {
                let a = self.tame(a, 3.0);
                let o = a.operand();
                (format!("{o}.exp()"), a.bound.exp())
            }
            5 => (
                format!("({o} * {o} + {}).ln()", lit(1.0)),
                (a.bound * a.bound + 1.0).ln(),
            ),
            6 => (format!("({o} * {o} + {}).sqrt()", lit(0.5)), a.bound + 1.0),
            7 => (format!("{o}.abs()"), a.bound),
            8 => {
                let a = self.tame(a, 5.0);
                let o = a.operand();
                (format!("{o}.powi(2)"), a.bound * a.bound)
            }
            9 | 10 => {
                let b = self.expr(1);
                let b = self.tame(b, CAP);
                let f = if self.rng.chance(0.5) { "max" } else { "min" };
                (format!("{o}.{f}({})", b.s), a.bound.max(b.bound))
            }
            11 => {
                let b = self.expr(1);
                let b = self.tame(b, CAP);
                // Never both zero at random points.
                let b = E {
                    s: format!("{} + {}", b.operand(), lit(0.5)),
                    bound: b.bound + 0.5,
                    atom: false,
                    var: b.var,
                };
                (format!("{o}.hypot({})", b.s), a.bound + b.bound)
            }
            _ => {
                if let Some(k) = self.k.clone() {
                    // `(t * t + 1)^k` with `k` in -2..=3 and `|t| <= 1`.
                    let t = self.tame(a, 1.0);
                    let t = t.operand();
                    (format!("({t} * {t} + {}).powi({k})", lit(1.0)), 8.0)
                } else {
                    (format!("-{o}"), a.bound)
                }
            }
        };
        E {
            atom: !s.starts_with('-'),
            s,
            bound,
            var: true,
        }
    }

    /// A float expression bounded by `limit`.
    fn small(&mut self, depth: usize, limit: f64) -> E {
        let e = self.expr(depth);
        let mut e = self.tame(e, limit);
        // Fields of `p` have a type the macro cannot see: a constant built from them alone, as
        // an argument of a call, would need a typed binding (`let s: f64 = p.scale;`). Scaled
        // by a float literal, it is a float expression.
        if !e.var && e.s.contains("p.") {
            e.s = format!("{} * {}", lit(0.5), e.operand());
            e.atom = false;
        }
        e
    }

    // -----------------------------------------------------------------------------------------
    // Calls

    fn helper_of(&mut self, kind: HelperKind) -> usize {
        if let Some(i) = self.helpers.iter().position(|h| h.kind == kind)
            && self.rng.chance(0.6)
        {
            return i;
        }
        self.new_helper(kind)
    }

    /// The body of a helper: a fresh generator over the helper's own parameters.
    /// A generator for the body of a helper's loop `for i in 0..array.len()` over a slice
    /// parameter `array` (elements at most 4), with a float parameter `scalar` (at most 2):
    /// about five iterations.
    fn slice_loop_body(&mut self, scalar: &str, array: &str) -> Gen<'e> {
        let mut g = self.sub(
            vec![Scalar {
                name: scalar.to_owned(),
                bound: 2.0,
                acc: None,
            }],
            vec![Arr {
                name: array.to_owned(),
                len: 1,
                bound: 4.0,
                kind: ArrKind::Slice,
                depth: 0,
            }],
        );
        g.counters.push(Counter {
            name: "i".to_owned(),
            below: 1,
        });
        g.loops = 1;
        g.trips = 5.0;
        g
    }

    fn sub(&mut self, scalars: Vec<Scalar>, arrays: Vec<Arr>) -> Gen<'e> {
        Gen {
            rng: Rng(self.rng.next()),
            enabled: self.enabled,
            name: String::new(),
            scalars,
            arrays,
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
            calls: false,
            in_loop_arrays: Vec::new(),
            has_params: false,
            n: None,
            k: None,
            family: self.family,
            outputs: Vec::new(),
            items: Vec::new(),
            short: Vec::new(),
            calls_made: 0,
            several: Vec::new(),
            filled: Vec::new(),
            writable: Vec::new(),
            top_buffers: Vec::new(),
            // Helpers' bodies draw no shape of the second stream.
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
        }
    }

    fn new_helper(&mut self, kind: HelperKind) -> usize {
        let name = format!("{}_g{}", self.name, self.helpers.len());
        let scalar = |name: &str| Scalar {
            name: name.to_owned(),
            bound: 2.0,
            acc: None,
        };
        let (attr, signature, body, bound) = match kind {
            HelperKind::Scalar2 => {
                // Raw identifiers as parameter names (of a helper without loops or branches:
                // with them, raw identifiers hit a known bug).
                let raw = self.on("raw_ident") && self.rng.chance(0.2);
                let (u, v) = if raw {
                    self.mark("raw_ident");
                    ("r#type", "r#match")
                } else {
                    ("u", "v")
                };
                let mut g = self.sub(vec![scalar(u), scalar(v)], Vec::new());
                let (body, bound) = g.helper_scalar_body(u, v, raw);
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}({u}: {TY}, {v}: {TY}) -> {TY}"),
                    body,
                    bound,
                )
            }
            HelperKind::Slice => {
                let mut g = self.slice_loop_body("s", "v");
                let e = g.small(2, 4.0);
                let t = lit(g.rng.pick(&[0.0, 0.5, 1.0]));
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}(v: &[{TY}], s: {TY}) -> {TY}"),
                    format!(
                        "    let mut t: {TY} = {t};\n    for i in 0..v.len() {{\n        t += (v[i] * s).sin() + {};\n    }}\n    t\n",
                        e.s
                    ),
                    5.0 * e.bound + 6.0,
                )
            }
            HelperKind::Array(len, by_ref) => {
                let mut g = self.sub(
                    Vec::new(),
                    vec![Arr {
                        name: "v".to_owned(),
                        len,
                        bound: 4.0,
                        kind: ArrKind::Array,
                        depth: 0,
                    }],
                );
                let mut terms = Vec::new();
                let mut bound = 0.0;
                for j in 0..len {
                    let mut e = g.small(1, 4.0);
                    if !mentions(&e.s, "v") {
                        e = E {
                            s: format!("v[{j}] * {}", e.operand()),
                            bound: 4.0 * e.bound,
                            atom: false,
                            var: true,
                        };
                    }
                    bound += e.bound;
                    terms.push(e.s);
                }
                let amp = if by_ref { "&" } else { "" };
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}(v: {amp}[{TY}; {len}]) -> {TY}"),
                    format!("    {}\n", terms.join(" + ")),
                    bound,
                )
            }
            HelperKind::Params => {
                let mut g = self.sub(vec![scalar("u")], Vec::new());
                g.has_params = true;
                let e = g.small(2, 4.0);
                let f = g.rng.pick(&["sin", "tanh", "cos"]);
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}(p: &Params, u: {TY}) -> {TY}"),
                    format!(
                        "    {C0}p.scale{C1} * u.{f}() + {C0}p.shift{C1} * {}\n",
                        e.operand()
                    ),
                    2.0 + 2.0 * e.bound,
                )
            }
            HelperKind::Int => {
                let mut g = self.sub(vec![scalar("u")], Vec::new());
                let e = g.small(1, 2.0);
                let f = g.rng.pick(&["sin", "tanh", "cos"]);
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}(m: usize, u: {TY}) -> {TY}"),
                    format!(
                        "    let mut t = u;\n    for j in 0..m {{\n        t = (t * {}).{f}() + {C0}j as f64{C1} * {};\n    }}\n    t\n",
                        lit(0.5),
                        e.operand()
                    ),
                    12.0,
                )
            }
            HelperKind::Wrt => {
                let mut g = self.sub(vec![scalar("u"), scalar("c")], Vec::new());
                let e = g.small(2, 4.0);
                (
                    // A `wrt` on a callee names every float parameter, as the caller's `g_grad`
                    // and `g_jvp` calls ask; here out of declaration order.
                    "#[differentiate(reverse, forward, wrt(c, u))]".to_owned(),
                    format!("fn {name}(u: {TY}, c: {TY}) -> {TY}"),
                    format!("    (u * c).sin() + {}\n", e.operand()),
                    5.0,
                )
            }
            HelperKind::Several2(array) => {
                // The body of a scalar helper, its value `h` one output and another drawn.
                let mut g = self.sub(vec![scalar("u"), scalar("v")], Vec::new());
                let (body, bound) = g.helper_scalar_body("u", "v", false);
                let body = body.strip_suffix("    h\n").unwrap_or_default().to_owned();
                let h = E {
                    s: "h".to_owned(),
                    bound,
                    atom: true,
                    var: true,
                };
                let other = g.small(2, CAP);
                let other = g.receiver(other);
                let (ty, value, bound) = if array {
                    // Array elements are read unsquashed: at most 4, as local arrays' are.
                    let a = g.tame(h, 4.0);
                    let b = g.tame(other, 4.0);
                    (format!("[{TY}; 2]"), format!("[{}, {}]", a.s, b.s), 4.0)
                } else {
                    (
                        format!("({TY}, {TY})"),
                        format!("(h, {})", other.s),
                        bound.max(other.bound),
                    )
                };
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}(u: {TY}, v: {TY}) -> {ty}"),
                    format!("{body}    {value}\n"),
                    bound,
                )
            }
            HelperKind::SeveralWith(arg) => {
                let mut g = self.slice_loop_body("u", "w");
                let e = g.small(2, 4.0);
                let f = g.small(1, 2.0);
                let (t0, t1) = (
                    lit(g.rng.pick(&[0.0, 0.5, 1.0])),
                    lit(g.rng.pick(&[0.0, -0.5, 1.0])),
                );
                let c = lit(g.rng.pick(&[0.5, 1.0, 2.0]));
                let ty = match arg {
                    None => format!("&[{TY}]"),
                    Some((len, by_ref)) => {
                        format!("{}[{TY}; {len}]", if by_ref { "&" } else { "" })
                    }
                };
                (
                    "#[differentiate(reverse, forward)]".to_owned(),
                    format!("fn {name}(u: {TY}, w: {ty}) -> ({TY}, [{TY}; 2])"),
                    format!(
                        "    let mut s: {TY} = {t0};\n    let mut m: {TY} = {t1};\n    \
                         for i in 0..w.len() {{\n        s += (w[i] * u).sin() + {};\n        \
                         m += w[i] * {};\n    }}\n    (s, [m.tanh() * {c}, (s * u).sin()])\n",
                        e.s,
                        f.operand()
                    ),
                    6.0 * (1.0 + e.bound) + 1.0,
                )
            }
            HelperKind::Buffer(write) => self.buffer_helper(&name, write),
        };
        let attr = match (self.family, kind) {
            // A second-order caller calls a buffer helper's `g_jvp` in its forward sweep and its
            // `g_hvp_into` in its backward sweep; its first-order forms, `g_vjp_into`.
            (Family::Hessian, HelperKind::Buffer(_)) => {
                "#[differentiate(reverse, forward, hessian)]".to_owned()
            }
            (Family::Hessian, _) => attr.replace("forward", "hessian"),
            _ => attr,
        };
        let _ = write!(self.helper_text, "{attr}\n{signature} {{\n{body}}}\n");
        self.helpers.push(Helper { name, kind, bound });
        self.helpers.len() - 1
    }

    /// A helper that writes into a buffer `out` (and `aux`), element by element over
    /// `out.len()`, reading `v[i]` (the caller passes a `v` at least as long): the attribute, the
    /// signature, the body and a bound on its value. Every element it writes is at most 4 in
    /// magnitude if what the buffers held was (they are read unsquashed, as local arrays are).
    fn buffer_helper(&mut self, name: &str, write: Write) -> (String, String, String, f64) {
        let mut g = self.slice_loop_body("s", "v");
        // An element: depends on `v` or `s`, at most `limit`.
        let elem = |g: &mut Gen<'_>, limit: f64| {
            let e = g.small(2, limit);
            let e = g.receiver(e);
            g.tame(e, limit)
        };
        // The elements (the first two scaled by 0.25: factors at most 0.5), each parameter read
        // by one of them (a factor at most 1 on the first).
        let limits: &[f64] = match write {
            Write::Overwrite => &[4.0],
            Write::Update | Write::Two => &[2.0, 2.0],
            Write::Value => &[4.0, 1.0],
        };
        let mut es: Vec<E> = limits.iter().map(|&l| elem(&mut g, l)).collect();
        for (p, factor) in [("s", "s.tanh()"), ("v", "v[i].cos()")] {
            if !es.iter().any(|e| mentions(&e.s, p)) {
                es[0].s = format!("{} * {factor}", es[0].operand());
                es[0].atom = false;
            }
        }
        let half = |e: &E| format!("{} * {}", lit(0.25), e.operand());
        let mut sig = format!("fn {name}(v: &[{TY}], s: {TY}, out: &mut [{TY}])");
        let (body, bound) = match write {
            Write::Overwrite => (format!("        out[i] = {};\n", es[0].s), 0.0),
            Write::Update => {
                let (a, b) = (half(&es[0]), &es[1]);
                let text = if g.rng.chance(0.5) {
                    format!("        out[i] = out[i] * {a} + {};\n", b.operand())
                } else {
                    format!("        out[i] *= {a};\n        out[i] += {};\n", b.s)
                };
                (text, 0.0)
            }
            Write::Two => {
                sig = format!("fn {name}(v: &[{TY}], s: {TY}, out: &mut [{TY}], aux: &mut [{TY}])");
                (
                    format!(
                        "        out[i] = {};\n        aux[i] = {} * aux[i] + out[i] * {};\n",
                        es[1].s,
                        lit(0.5),
                        half(&es[0])
                    ),
                    0.0,
                )
            }
            Write::Value => {
                let _ = write!(sig, " -> {TY}");
                (
                    format!(
                        "        out[i] = {};\n        t += out[i] * {};\n",
                        es[0].s,
                        es[1].operand()
                    ),
                    1.0 + 4.0 * 4.0 * es[1].bound,
                )
            }
        };
        let body = if write == Write::Value {
            let t0 = lit(g.rng.pick(&[0.0, 0.5, 1.0]));
            format!(
                "    let mut t: {TY} = {t0};\n    for i in 0..out.len() {{\n{body}    }}\n    t\n"
            )
        } else {
            format!("    for i in 0..out.len() {{\n{body}    }}\n")
        };
        (
            "#[differentiate(reverse, forward)]".to_owned(),
            sig,
            body,
            bound,
        )
    }

    /// An arbitrary scalar helper body: a few statements, maybe a branch or a loop.
    fn helper_scalar_body(&mut self, u: &str, v: &str, straight: bool) -> (String, f64) {
        let mut lines = Vec::new();
        let init = self.small(2, 4.0);
        lines.push(format!("    let mut h = {} + {u} * {v};", init.operand()));
        let mut bound = init.bound + 4.0;
        let shape = if straight { 2 } else { self.rng.below(3) };
        match shape {
            0 => {
                let c = self.condition();
                let a = self.small(2, 4.0);
                let b = self.small(2, 4.0);
                lines.push(format!(
                    "    if {c} {{\n        h += {};\n    }} else {{\n        h -= {};\n    }}",
                    a.s, b.s
                ));
                bound += a.bound.max(b.bound);
            }
            1 => {
                let e = self.small(2, 2.0);
                lines.push(format!(
                    "    for j in 0..3 {{\n        h = h * {} + {} * {C0}j as f64{C1};\n    }}",
                    lit(0.5),
                    e.operand()
                ));
                bound += 6.0 * e.bound;
            }
            _ => {
                let e = self.small(2, 4.0);
                lines.push(format!("    h *= {};", e.s));
                bound *= e.bound;
            }
        }
        lines.push("    h".to_owned());
        (lines.join("\n") + "\n", bound)
    }

    /// A call, as an expression.
    fn call_expr(&mut self, depth: usize) -> E {
        if self.family == Family::Hessian {
            return self.call_expr_second(depth);
        }
        let choice = self.rng.weighted(&[4, 2, 2, 2, 2, 2, 2, 2]);
        let e = match choice {
            1 => self.call_slice(depth),
            2 => self.call_array(None),
            3 if self.has_params => self.call_params(depth),
            4 => Some(self.call_int(depth)),
            5 => self.call_wrt(depth),
            6 => {
                self.mark("call_hand_scalar");
                let a = self.small(depth, CAP);
                let b = self.small(depth, CAP);
                Some(E {
                    s: format!("hand_mix({}, {})", a.s, b.s),
                    bound: a.bound + 1.0,
                    atom: true,
                    var: true,
                })
            }
            7 => self.call_hand_slice(),
            _ => None,
        };
        if let Some(e) = e {
            self.mark_call_context();
            return e;
        }
        let h = self.helper_of(HelperKind::Scalar2);
        let a = self.small(depth, 2.0);
        let b = self.small(depth, 2.0);
        self.mark_call_context();
        E {
            s: format!("{}({}, {})", self.helpers[h].name, a.s, b.s),
            bound: self.helpers[h].bound,
            atom: true,
            var: true,
        }
    }

    pub(super) fn mark_call_context(&mut self) {
        self.calls_made += 1;
        self.mark("call");
        if self.loops > 0 {
            self.mark("call_in_loop");
        }
    }

    pub(super) fn call_slice(&mut self, depth: usize) -> Option<E> {
        let arrays: Vec<Arr> = self.arrays.clone();
        let a = arrays.get(self.rng.below(arrays.len().max(1)))?.clone();
        let arg = self.whole_array_arg(&a, true, false)?;
        let h = self.helper_of(HelperKind::Slice);
        let s = self.small(depth, 2.0);
        self.mark("call_slice");
        let bound = self.helpers[h].bound.max(5.0 * a.bound * 4.0 + 1.0);
        Some(E {
            s: format!("{}({arg}, {})", self.helpers[h].name, s.s),
            bound,
            atom: true,
            var: true,
        })
    }

    pub(super) fn call_hand_slice(&mut self) -> Option<E> {
        let arrays: Vec<Arr> = self.arrays.clone();
        let a = arrays.get(self.rng.below(arrays.len().max(1)))?.clone();
        let arg = self.whole_array_arg(&a, true, true)?;
        self.mark("call_hand_slice");
        Some(E {
            s: format!("hand_norm({arg})"),
            bound: 1.0 + a.bound * (a.len as f64).sqrt(),
            atom: true,
            var: true,
        })
    }

    pub(super) fn call_array(&mut self, only: Option<&str>) -> Option<E> {
        let arrays: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| {
                !matches!(a.kind, ArrKind::Slice | ArrKind::Buffer)
                    && only.is_none_or(|n| n == a.name)
            })
            .cloned()
            .collect();
        let a = arrays.get(self.rng.below(arrays.len().max(1)))?.clone();
        let by_ref = self.rng.chance(0.5);
        let arg = self.whole_array_arg(&a, by_ref, false)?;
        let h = self.helper_of(HelperKind::Array(a.len, by_ref));
        self.mark("call_array");
        Some(E {
            s: format!("{}({arg})", self.helpers[h].name),
            bound: self.helpers[h].bound * a.bound.max(1.0),
            atom: true,
            var: true,
        })
    }

    /// The argument that passes `a` whole (`&a`, `a`, `*a`), or `None` if the shape is off.
    fn whole_array_arg(&mut self, a: &Arr, by_ref: bool, hand: bool) -> Option<String> {
        if a.kind.local() {
            // Declared in the current loop body, or before the loop we are in.
            let inside = self.in_loop_arrays.contains(&a.name);
            let shape = if hand {
                "hand_array_call_in_loop"
            } else {
                "array_call_in_loop"
            };
            if self.loops > 0 && inside {
                if !self.on("array_in_loop_call") {
                    return None;
                }
                self.mark("array_in_loop_call");
            } else if a.depth > 0 {
                if !self.on("array_in_block_call") {
                    return None;
                }
                self.mark("array_in_block_call");
            } else if self.loops > 0 {
                if !self.on(shape) {
                    return None;
                }
                self.mark(shape);
            } else {
                self.mark("call_local_array_after_loop");
            }
        }
        Some(match (a.kind, by_ref) {
            (ArrKind::Slice | ArrKind::RefArray, true)
            | (ArrKind::Array | ArrKind::Local, false) => a.name.clone(),
            // `*b` is not supported yet; a `Vec` is passed by reference.
            (ArrKind::RefArray | ArrKind::Slice | ArrKind::Buffer, false) => return None,
            (ArrKind::Array | ArrKind::Local | ArrKind::Buffer, true) => format!("&{}", a.name),
        })
    }

    pub(super) fn call_params(&mut self, depth: usize) -> Option<E> {
        if !self.on("params_call") {
            return None;
        }
        let h = self.helper_of(HelperKind::Params);
        let u = self.small(depth, 4.0);
        self.mark("params_call");
        Some(E {
            s: format!("{}(p, {})", self.helpers[h].name, u.s),
            bound: self.helpers[h].bound,
            atom: true,
            var: true,
        })
    }

    fn call_int(&mut self, depth: usize) -> E {
        let field = self.has_params && self.on("int_field_call") && self.rng.chance(0.5);
        let m = if field {
            self.mark("int_field_call");
            "p.m".to_owned()
        } else if let Some(n) = self.n.clone() {
            n
        } else if let Some(c) = self.counters.last() {
            c.name.clone()
        } else {
            self.rng.range(0, 3).to_string()
        };
        let h = self.helper_of(HelperKind::Int);
        let u = self.small(depth, 2.0);
        self.mark("call_int_arg");
        E {
            s: format!("{}({m}, {})", self.helpers[h].name, u.s),
            bound: self.helpers[h].bound,
            atom: true,
            var: true,
        }
    }

    fn call_wrt(&mut self, depth: usize) -> Option<E> {
        if !self.on("wrt_call") {
            return None;
        }
        let h = self.helper_of(HelperKind::Wrt);
        let u = self.small(depth, 4.0);
        // The argument for `c` is a constant: a field of `p` scaled by a float literal, so that
        // it has a float type the macro sees.
        let c = if self.has_params && self.rng.chance(0.5) {
            format!("{} * {}", lit(0.5), cst("p.scale"))
        } else {
            lit(self.rng.pick(&[0.5, 1.5, 2.0]))
        };
        self.mark("wrt_call");
        Some(E {
            s: format!("{}({}, {c})", self.helpers[h].name, u.s),
            bound: self.helpers[h].bound,
            atom: true,
            var: true,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Statements

impl Gen<'_> {
    /// A condition over values.
    fn condition(&mut self) -> String {
        let ints: Vec<String> = self
            .counters
            .iter()
            .map(|c| c.name.clone())
            .chain(self.n.clone())
            .collect();
        if !ints.is_empty() && self.rng.chance(0.25) {
            let i = ints[self.rng.below(ints.len())].clone();
            return match self.rng.below(3) {
                0 => format!("{i} % 2 == 0"),
                1 => format!("{i} > {}", self.rng.below(3)),
                _ => format!("{i} < {}", self.rng.range(1, 3)),
            };
        }
        let a = self.expr(1);
        let a = self.receiver(a);
        let op = self.rng.pick(&["<", ">", "<=", ">="]);
        let b = if self.rng.chance(0.5) {
            self.leaf()
        } else {
            let x = self.rng.pick(&[0.0, 0.5, 1.0, 0.25]);
            E {
                s: lit(x),
                bound: x,
                atom: true,
                var: false,
            }
        };
        let c = format!("{} {op} {}", a.operand(), b.operand());
        if self.rng.chance(0.1) && !ints.is_empty() {
            let i = ints[self.rng.below(ints.len())].clone();
            format!("{c} && {i} > 0")
        } else {
            c
        }
    }

    fn line(&self, lines: &mut Vec<String>, text: &str) {
        lines.push(format!("{}{text}", self.pad()));
    }

    /// The accumulators in scope.
    fn accumulators(&self) -> Vec<usize> {
        (0..self.scalars.len())
            .filter(|&i| self.scalars[i].acc.is_some())
            .collect()
    }

    /// `acc += e;` on some accumulator in scope, or on the innermost one.
    fn update_on(&mut self, lines: &mut Vec<String>, depth: usize, innermost: bool) {
        let accs = self.accumulators();
        let i = if innermost {
            accs[accs.len() - 1]
        } else {
            accs[self.rng.below(accs.len())]
        };
        let e = self.small(depth, CAP);
        let op = if self.rng.chance(0.75) { "+=" } else { "-=" };
        let name = self.scalars[i].name.clone();
        self.line(lines, &format!("{name} {op} {};", e.s));
        self.scalars[i].bound += self.trips * e.bound;
    }

    fn update(&mut self, lines: &mut Vec<String>, depth: usize) {
        self.update_on(lines, depth, false);
    }

    /// A block of about `budget` statements at the current indentation; locals declared in it
    /// that nothing reads are added into an accumulator at its end, so that every program is free
    /// of unused values.
    fn block(&mut self, budget: usize) -> Vec<String> {
        let (ns, na, nc) = (self.scalars.len(), self.arrays.len(), self.counters.len());
        let mut lines = Vec::new();
        let mut declared: Vec<(String, usize)> = Vec::new();
        let mut declared_arrays: Vec<(String, usize)> = Vec::new();
        // Buffers declared by a statement (for a call to write), with the end of its lines.
        let mut buffers: Vec<(String, usize)> = Vec::new();
        // The ends of the accumulation loops of the second stream drawn here.
        let mut accumulations: Vec<usize> = Vec::new();
        for _ in 0..budget.max(1) {
            let before = self.scalars.len();
            let before_arrays = self.arrays.len();
            let at = lines.len();
            self.statement(&mut lines);
            for s in &self.scalars[before..] {
                declared.push((s.name.clone(), at));
            }
            for a in self.arrays.get(before_arrays..).unwrap_or_default() {
                declared_arrays.push((a.name.clone(), at));
                if self.writable.iter().any(|(n, _)| *n == a.name) {
                    buffers.push((a.name.clone(), lines.len()));
                }
            }
            self.extra_statement(&mut lines, None, 0.05);
            self.extra_int_methods(&mut lines, None, 0.03);
            self.extra_real(&mut lines, None, 0.04);
            if self.extra_accumulation(&mut lines) {
                accumulations.push(lines.len());
            }
            self.extra_recurrence(&mut lines);
        }
        // An accumulation loop of the second stream followed by another loop at the top level.
        let pad = self.pad();
        let heads = ["for ", "while ", "loop "].map(|h| format!("{pad}{h}"));
        if accumulations.iter().any(|&at| {
            lines[at..].iter().any(|l| {
                let l = l.replace([NEW, IT0], "");
                heads.iter().any(|h| l.starts_with(h.as_str()))
            })
        }) {
            self.mark("accumulation_loop_not_last");
        }
        // Buffers written by a call read by a later statement.
        for (name, end) in buffers {
            if lines[end..].iter().any(|l| mentions(l, &name)) {
                self.mark("buffer_read_later");
            }
        }
        // Results of calls with several outputs read by a later statement.
        for (name, at) in declared.iter().chain(&declared_arrays) {
            if self.several.contains(name) && lines[at + 1..].iter().any(|l| mentions(l, name)) {
                self.mark("several_results_read_later");
            }
        }
        // Fold unread locals (and this block's accumulators, whose last value would otherwise be
        // unread) into an accumulator declared outside this block.
        let outer: Vec<usize> = (0..ns).filter(|&i| self.scalars[i].acc.is_some()).collect();
        for (name, at) in declared {
            let Some(s) = self.scalars.iter().find(|s| s.name == name).cloned() else {
                continue;
            };
            let read = lines[at + 1..].iter().any(|l| mentions(l, &name));
            if read && s.acc.is_none() {
                continue;
            }
            let target = outer[self.rng.below(outer.len())];
            let e = self.read_scalar(&s);
            let e = if self.loops > 0 || e.bound > CAP {
                E {
                    s: format!("{}.atan()", s.name),
                    bound: 1.6,
                    atom: true,
                    var: true,
                }
            } else {
                e
            };
            let target_name = self.scalars[target].name.clone();
            self.line(&mut lines, &format!("{target_name} += {};", e.s));
            self.scalars[target].bound += self.trips * e.bound;
        }
        // Arrays bound to a call's results that nothing read (local arrays filled in a loop are
        // read in it).
        for (name, at) in declared_arrays {
            let Some(a) = self.arrays.iter().find(|a| a.name == name).cloned() else {
                continue;
            };
            if lines[at + 1..].iter().any(|l| mentions(l, &name)) {
                continue;
            }
            let target = outer[self.rng.below(outer.len())];
            let target_name = self.scalars[target].name.clone();
            let terms: Vec<String> = (0..a.len).map(|j| format!("{name}[{j}]")).collect();
            self.line(
                &mut lines,
                &format!("{target_name} += {};", terms.join(" - ")),
            );
            self.scalars[target].bound += self.trips * a.bound * a.len as f64;
        }
        self.scalars.truncate(ns);
        self.arrays.truncate(na);
        self.counters.truncate(nc);
        lines
    }

    /// A nested block, one level deeper.
    fn nested(&mut self, budget: usize) -> Vec<String> {
        self.indent += 1;
        self.depth += 1;
        let lines = self.block(budget);
        self.depth -= 1;
        self.indent -= 1;
        lines
    }

    fn statement(&mut self, lines: &mut Vec<String>) {
        let loops_ok = self.loops < 2 && self.depth < 3;
        // `while` and `loop` with an integer counter, in a function that takes `&Params`, may
        // hit a bug (the counter pushed on a tape of floats).
        let counted_ok = loops_ok && (!self.has_params || self.on("params_with_counted_loop"));
        let nest = u32::from(self.depth < 3);
        let long = u32::from(
            !self.shapes.contains("long_sum")
                && !self.shapes.contains("long_sum_over_256")
                && self.depth == 0,
        );
        let iter = if self.family == Family::Flow && !self.iterables().is_empty() {
            3
        } else {
            0
        };
        let several = if self.calls { 2 } else { 0 };
        let buffer = u32::from(self.calls && self.on("buffer_call"));
        let packed = u32::from(loops_ok && self.loops == 0 && self.on("packed_index"));
        let parts = u32::from(self.on("split_copy"));
        let weights = [
            4,                            // let
            4,                            // update
            3 * nest,                     // if statement
            2,                            // if expression
            if loops_ok { 3 } else { 0 }, // for
            u32::from(counted_ok),        // while
            u32::from(counted_ok),        // loop
            2,                            // early return
            if loops_ok { 2 } else { 0 }, // local array overwritten in a loop
            long,                         // long sum
            iter,                         // a chain ending in `sum`, `product` or `fold`
            several,                      // a call with several outputs
            buffer,                       // a call that writes into a buffer
            packed,                       // a running index into packed storage
            parts,                        // parts of a copy written where they lie
        ];
        match self.rng.weighted(&weights) {
            0 => self.let_statement(lines),
            1 => self.update(lines, 2),
            2 => self.if_statement(lines),
            3 => self.if_expression(lines),
            4 => self.for_loop(lines, false),
            5 => self.while_loop(lines),
            6 => self.loop_break(lines),
            7 => self.early_return(lines),
            8 => self.for_loop(lines, true),
            9 => self.long_sum(lines),
            10 => self.iter_statement(lines),
            11 => self.several_call(lines),
            12 => {
                if !self.buffer_call(lines, None) {
                    self.let_statement(lines);
                }
            }
            13 => {
                if !self.packed_index(lines) {
                    self.let_statement(lines);
                }
            }
            _ => {
                if !self.written_parts(lines) {
                    self.let_statement(lines);
                }
            }
        }
    }

    /// An array of at least `min_len` elements and an accumulator in scope (its index in
    /// `scalars`), drawn in that order; `None`, having drawn nothing, when either is missing.
    fn array_and_accumulator(&mut self, min_len: usize) -> Option<(Arr, usize)> {
        let arrays: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| a.len >= min_len)
            .cloned()
            .collect();
        let accumulators = self.accumulators();
        if arrays.is_empty() || accumulators.is_empty() {
            return None;
        }
        let target = accumulators[self.rng.below(accumulators.len())];
        let a = arrays[self.rng.below(arrays.len())].clone();
        Some((a, target))
    }

    /// A running index into packed storage, as `ADBench`'s `Qtimesx` walks a triangle:
    /// `let mut k = 0;`, then `s += a[k] * e; k += 1;` in a triangle of two loops (`s` an
    /// accumulator in scope), which the backward sweep steps back rather than saves; or, in the
    /// body of an outer loop, `k` declared there from its counter. Returns `false`, having
    /// generated nothing, when no array is long enough or no accumulator is in scope.
    fn packed_index(&mut self, lines: &mut Vec<String>) -> bool {
        let Some((a, target)) = self.array_and_accumulator(1) else {
            return false;
        };
        let outer = self.on("packed_index_in_loop") && self.rng.chance(0.5);
        let reps = if outer { self.rng.range(2, 3) } else { 1 };
        // The triangle's size: m (m - 1) / 2 entries from offset at most reps - 1.
        let mut m = 2;
        while m < 4 && (m + 1) * m / 2 + reps - 1 <= a.len {
            m += 1;
        }
        if m * (m - 1) / 2 + reps - 1 > a.len {
            return false;
        }
        self.mark("packed_index");
        let acc = self.scalars[target].name.clone();
        let (k, i) = (self.fresh("k"), self.fresh("i"));
        if outer {
            self.mark("packed_index_in_loop");
            let r = self.fresh("r");
            self.line(lines, &format!("for {r} in 0..{reps} {{"));
            self.indent += 1;
            self.line(lines, &format!("let mut {k} = {r};"));
        } else {
            self.line(lines, &format!("let mut {k} = 0;"));
        }
        self.line(lines, &format!("for {i} in 0..{m} {{"));
        self.indent += 1;
        self.line(lines, &format!("for _ in {i} + 1..{m} {{"));
        self.indent += 1;
        let e = self.small(2, 4.0);
        self.line(
            lines,
            &format!("{acc} += {}[{k}] * {};", a.name, e.operand()),
        );
        self.line(lines, &format!("{k} += 1;"));
        self.indent -= 1;
        self.line(lines, "}");
        self.indent -= 1;
        self.line(lines, "}");
        if outer {
            self.indent -= 1;
            self.line(lines, "}");
        }
        self.scalars[target].bound +=
            self.trips * (m * (m - 1) / 2 * reps) as f64 * a.bound * e.bound;
        true
    }

    /// Parts of a copy written where they lie: `let mut b = a.to_vec();`,
    /// `let (p, q) = b.split_at_mut(c);`, a store into `p`, then `q.fill(e)`,
    /// `q.copy_from_slice(&a[..l])` or a store into `q`, and `b` read afterwards into an
    /// accumulator in scope. Returns `false`, having generated nothing, when no array has two
    /// elements or no accumulator is in scope.
    fn written_parts(&mut self, lines: &mut Vec<String>) -> bool {
        let Some((a, target)) = self.array_and_accumulator(2) else {
            return false;
        };
        let len = a.len;
        let c = self.rng.range(1, len - 1);
        self.mark("split_copy");
        let (b, p, q) = (self.fresh("b"), self.fresh("p"), self.fresh("q"));
        self.line(lines, &format!("let mut {b} = {}.to_vec();", a.name));
        self.line(lines, &format!("let ({p}, {q}) = {b}.split_at_mut({c});"));
        let e = self.small(2, 4.0);
        self.line(lines, &format!("{p}[0] *= {};", e.s));
        let mut bound = a.bound * e.bound.max(1.0);
        match self.rng.below(3) {
            0 => {
                self.mark("fill_part");
                let f = self.small(2, 4.0);
                self.line(lines, &format!("{q}.fill({});", f.s));
                bound = bound.max(f.bound);
            }
            1 => {
                self.mark("copy_into_part");
                self.line(
                    lines,
                    &format!("{q}.copy_from_slice(&{}[..{}]);", a.name, len - c),
                );
                bound = bound.max(a.bound);
            }
            _ => {
                let f = self.small(2, 4.0);
                self.line(lines, &format!("{q}[{}] += {};", len - c - 1, f.s));
                bound = bound.max(a.bound + f.bound);
            }
        }
        let acc = self.scalars[target].name.clone();
        self.line(lines, &format!("{acc} += {b}[0] * {b}[{}];", len - 1));
        self.scalars[target].bound += self.trips * bound * bound;
        true
    }

    // -----------------------------------------------------------------------------------------
    // Shapes of the second stream

    /// A line of a shape of the second stream (marked [`NEW`]).
    fn extra_line(&self, lines: &mut Vec<String>, text: &str) {
        lines.push(format!("{}{NEW}{text}", self.pad()));
    }

    /// After a statement, with probability `p` drawn from the second stream, a view shape of
    /// [`VIEW_SHAPES`] ([`Gen::view_statement`]). `counter` is a loop counter it may take as an offset: one that lines of
    /// the first stream read (a counter they do not read is printed `_`). The shape is drawn with
    /// the streams swapped and everything else it could change put back: it reads what is in
    /// scope, but calls nothing but buffer helpers of its own or already written, declares
    /// nothing later lines see, and adds into `vsum` only.
    fn extra_statement(&mut self, lines: &mut Vec<String>, counter: Option<Counter>, p: f64) {
        let views = [
            "let_view_written",
            "let_view_to_helper",
            "helper_view_of_out",
        ];
        if self.family != Family::Flow
            || !self.calls
            || !self.items.is_empty()
            || !views.iter().any(|s| self.on(s))
            || !self.extra.chance(p)
        {
            return;
        }
        self.in_second_stream(counter.into_iter().collect(), |g| g.view_statement(lines));
    }

    /// Runs `draw` with the streams swapped, `counters` the only loop counters in scope, and
    /// everything else the second stream could change put back: the shapes but for those of
    /// [`VIEW_SHAPES`], the count of calls (and it checks that no name of the first stream was
    /// taken).
    fn in_second_stream(&mut self, counters: Vec<Counter>, draw: impl FnOnce(&mut Self)) {
        std::mem::swap(&mut self.rng, &mut self.extra);
        let shapes = self.shapes.clone();
        let (calls_made, fresh) = (self.calls_made, self.fresh);
        let counters = std::mem::replace(&mut self.counters, counters);
        self.calls = false;
        draw(self);
        self.calls = true;
        self.counters = counters;
        let drawn = std::mem::replace(&mut self.shapes, shapes);
        self.shapes
            .extend(drawn.into_iter().filter(|s| VIEW_SHAPES.contains(s)));
        self.calls_made = calls_made;
        debug_assert_eq!(self.fresh, fresh, "the second stream names its own locals");
        std::mem::swap(&mut self.rng, &mut self.extra);
    }

    /// An expression that depends on a float variable, at most `limit` (halved until it is).
    fn var_small(&mut self, limit: f64) -> E {
        let e = self.small(2, limit);
        let e = self.receiver(e);
        let mut e = self.tame(e, limit);
        while e.bound > limit {
            e = E {
                s: format!("{} * {}", lit(0.5), e.operand()),
                bound: e.bound / 2.0,
                atom: false,
                var: e.var,
            };
        }
        e
    }

    /// The array a view writes: a local array or buffer in scope that a call may write, or a new
    /// one (`vb<k>`, not seen by later lines), a copy `a.to_vec()` of an array in scope or
    /// `vec![0.0; m]` or `[0.0; m]` filled element by element; with the lines declaring it.
    /// With `array`, a new one is more often a local array `[0.0; m]` (a `Vec` written by a
    /// helper hid the bug of `q945` where an array did not; README, "Known-bug shapes").
    fn view_target(&mut self, array: bool) -> (Arr, Vec<String>) {
        let existing: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| {
                a.len >= 2
                    && a.kind.local()
                    && a.bound <= 4.0
                    && self.writable.iter().any(|(n, _)| *n == a.name)
            })
            .cloned()
            .collect();
        if !existing.is_empty() && self.rng.chance(0.7) {
            return (existing[self.rng.below(existing.len())].clone(), Vec::new());
        }
        self.extra_fresh += 1;
        let name = format!("vb{}", self.extra_fresh);
        let mut lines = Vec::new();
        let sources: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| a.len >= 2 && a.bound <= 4.0)
            .cloned()
            .collect();
        if !sources.is_empty() && self.rng.chance(if array { 0.15 } else { 0.4 }) {
            let a = sources[self.rng.below(sources.len())].clone();
            self.extra_line(
                &mut lines,
                &format!("let mut {name} = {}.to_vec();", a.name),
            );
            let arr = Arr {
                name,
                len: a.len,
                bound: a.bound,
                kind: ArrKind::Buffer,
                depth: self.depth,
            };
            return (arr, lines);
        }
        let m = self.rng.range(2, 4);
        let vec = self.rng.chance(if array { 0.2 } else { 0.5 });
        let zero = lit(0.0);
        let decl = if vec {
            format!("let mut {name}: Vec<{TY}> = vec![{zero}; {m}];")
        } else {
            format!("let mut {name}: [{TY}; {m}] = [{zero}; {m}];")
        };
        self.extra_line(&mut lines, &decl);
        for j in 0..m {
            let e = self.var_small(4.0);
            self.extra_line(&mut lines, &format!("{name}[{j}] = {};", e.s));
        }
        let arr = Arr {
            name,
            len: m,
            bound: 4.0,
            kind: if vec { ArrKind::Buffer } else { ArrKind::Local },
            depth: self.depth,
        };
        (arr, lines)
    }

    /// `n` stores through the view `vw`, whose element `j` is at most `cur[j]`, each leaving it at
    /// most `limit`: `vw[j] = e;`, `vw[j] = vw[k] * e;`, `vw[j] *= e;` or `vw[j] += e;` (after
    /// `vw[j] *= 0.5;` when the sum could pass `limit`).
    fn view_stores(
        &mut self,
        lines: &mut Vec<String>,
        vw: &str,
        cur: &mut [f64],
        limit: f64,
        n: usize,
    ) {
        for _ in 0..n {
            let j = self.rng.below(cur.len());
            match self.rng.weighted(&[2, 1, 2, 3]) {
                0 => {
                    let e = self.var_small(limit);
                    self.extra_line(lines, &format!("{vw}[{j}] = {};", e.s));
                    cur[j] = e.bound;
                }
                1 => {
                    let k = self.rng.below(cur.len());
                    let e = self.var_small(1.0);
                    self.extra_line(lines, &format!("{vw}[{j}] = {vw}[{k}] * {};", e.operand()));
                    cur[j] = cur[k] * e.bound;
                }
                2 => {
                    let e = self.var_small(1.0);
                    self.extra_line(lines, &format!("{vw}[{j}] *= {};", e.s));
                    cur[j] *= e.bound;
                }
                _ => {
                    if cur[j] > limit / 2.0 {
                        self.extra_line(lines, &format!("{vw}[{j}] *= {};", lit(0.5)));
                        cur[j] *= 0.5;
                    }
                    let e = self.var_small(limit - cur[j]);
                    self.extra_line(lines, &format!("{vw}[{j}] += {};", e.s));
                    cur[j] += e.bound;
                }
            }
        }
    }

    /// What a buffer helper reads as `v`, at least `k` elements: an array in scope, whole or
    /// `&a[o..o + k]` (`None` when none is that long).
    fn view_source(&mut self, k: usize) -> Option<String> {
        let sources: Vec<Arr> = self.arrays.iter().filter(|a| a.len >= k).cloned().collect();
        if sources.is_empty() {
            return None;
        }
        let a = sources[self.rng.below(sources.len())].clone();
        if a.len == k || self.rng.chance(0.4) {
            return Some(match a.kind {
                ArrKind::Slice | ArrKind::RefArray => a.name,
                _ => format!("&{}", a.name),
            });
        }
        let o = self.rng.below(a.len - k + 1);
        Some(format!("&{}[{o}..{}]", a.name, o + k))
    }

    /// A helper that writes into a buffer for a shape of the second stream: a buffer helper of
    /// the program already written, or a new one (`q<i>_w<k>`), which writes through a view of
    /// its buffer if `view` (always) or sometimes. Returns its name and whether it writes through
    /// a view.
    fn view_callee(&mut self, view: bool) -> (String, bool) {
        let written: Vec<String> = self
            .helpers
            .iter()
            .filter(|h| {
                matches!(
                    h.kind,
                    HelperKind::Buffer(Write::Overwrite | Write::Update | Write::Value)
                )
            })
            .map(|h| h.name.clone())
            .collect();
        let own: Vec<(String, bool)> = self
            .extra_helpers
            .iter()
            .filter(|(_, v)| *v || !view)
            .cloned()
            .collect();
        let choice = self.rng.weighted(&[
            u32::from(!view && !written.is_empty()) * 3,
            u32::from(!own.is_empty()) * 2,
            2,
        ]);
        match choice {
            0 => (written[self.rng.below(written.len())].clone(), false),
            1 => own[self.rng.below(own.len())].clone(),
            _ => {
                let name = format!("{}_w{}", self.name, self.extra_helpers.len());
                let through_view = view || (self.on("helper_view_of_out") && self.rng.chance(0.5));
                let text = if through_view {
                    self.view_helper(&name)
                } else if self.on("helper_triangle") && self.rng.chance(0.5) {
                    self.mark("helper_triangle");
                    self.triangle_helper(&name)
                } else {
                    let write = if self.rng.chance(0.5) {
                        Write::Overwrite
                    } else {
                        Write::Update
                    };
                    let (attr, signature, body, _) = self.buffer_helper(&name, write);
                    format!("{attr}\n{signature} {{\n{body}}}\n")
                };
                for l in text.lines() {
                    let _ = writeln!(self.helper_text, "{NEW}{l}");
                }
                self.extra_helpers.push((name.clone(), through_view));
                (name, through_view)
            }
        }
    }

    /// A helper `fn g(v: &[T], s: T, out: &mut [T])` (the caller passes `v` at least as long as
    /// `out`) shaped as `qtimesx` of the GMM benchmark: `out[i] = ..` over `out.len()` (at most 3.5), then
    /// `out[j] += v[i] / 16 / (1 + c)` for `j > i`, `c` counting the terms. Linear in what it
    /// adds, so its adjoints need nothing its forward sweep computes but the count; every element
    /// stays below 4 in magnitude (at most three terms of at most ¼).
    fn triangle_helper(&mut self, name: &str) -> String {
        let mut g = self.slice_loop_body("s", "v");
        let e = g.small(2, 3.5);
        let e = g.receiver(e);
        let mut e = g.tame(e, 3.5);
        for (p, factor) in [("s", "s.tanh()"), ("v", "v[i].cos()")] {
            if !mentions(&e.s, p) {
                e.s = format!("{} * {factor}", e.operand());
                e.atom = false;
            }
        }
        format!(
            "#[differentiate(reverse, forward)]\nfn {name}(v: &[{TY}], s: {TY}, out: &mut [{TY}]) {{\n    \
             for i in 0..out.len() {{\n        out[i] = {};\n    }}\n    let mut c = 0;\n    \
             for i in 0..out.len() {{\n        for j in i + 1..out.len() {{\n            \
             out[j] += {} * v[i] / ({} + {C0}c as f64{C1});\n            c += 1;\n        }}\n    }}\n}}\n",
            e.s,
            lit(0.0625),
            lit(1.0),
        )
    }

    /// A helper `fn g(v: &[T], s: T, out: &mut [T])` (the caller passes `out` of at least one
    /// element, `v` at least as long) that writes `out` through views of it:
    /// - `let (head, tail) = out.split_at_mut(1);`, `head[0] = ..` (or `*=`), then
    ///   `tail[i] = tail[i] * a + .. v[i + 1]` over `tail.len()`;
    /// - `let m = &mut out[1..];`, `m[i] *= a; m[i] += .. v[i + 1]` over `m.len()`, then
    ///   `out[0] *= ..`;
    /// - `let (m, end) = out.split_at_mut(out.len() - 1);`, `m[i] = ..` over `m.len()`, then
    ///   `end[0] = end[0] * a + ..`.
    ///
    /// Every element it writes is at most 4 in magnitude if what the buffer held was (`|a| <=
    /// 0.5`, what is added at most 2), as [`Gen::buffer_helper`]'s.
    fn view_helper(&mut self, name: &str) -> String {
        let mut g = self.slice_loop_body("s", "v");
        // Outside the loop: `v[0]` only.
        let mut h = self.sub(
            vec![Scalar {
                name: "s".to_owned(),
                bound: 2.0,
                acc: None,
            }],
            vec![Arr {
                name: "v".to_owned(),
                len: 1,
                bound: 4.0,
                kind: ArrKind::Slice,
                depth: 0,
            }],
        );
        let variant = g.rng.below(3);
        // The factor, in the loop (`tail[i] * a`, `m[i] *= a`) or after it (`end[0] * a`).
        let mut a = if variant == 2 {
            h.var_small(0.5)
        } else {
            g.var_small(0.5)
        };
        // What the loop stores or adds (at most 4 or 2), and what is stored into, multiplies or
        // is added to the element outside it: `head[0] = e` (at most 4) or `head[0] *= e`,
        // `out[0] *= e` (at most 1), `end[0] * a + e` (at most 2).
        let (inner, outer, assign) = if variant == 2 {
            let mut e = g.var_small(4.0);
            if !mentions(&e.s, "v") {
                e.s = format!("{} * v[i].cos()", e.operand());
            }
            (e.s, h.var_small(2.0).operand(), false)
        } else {
            let b = g.var_small(1.0);
            let assign = variant == 0 && h.rng.chance(0.5);
            let limit = if assign { 4.0 } else { 1.0 };
            (
                format!("{} + {} * v[i + 1]", b.s, lit(0.25)),
                h.var_small(limit).s,
                assign,
            )
        };
        // Every parameter is read: `s` through the factor `a` if nothing else reads it.
        if ![&a.s, &inner, &outer].iter().any(|e| mentions(e, "s")) {
            a.s = format!("{} * s.tanh()", a.operand());
            a.atom = false;
        }
        let (a, a_times) = (a.s.clone(), a.operand());
        let body = match variant {
            0 => {
                let op = if assign { "=" } else { "*=" };
                format!(
                    "    let (head, tail) = out.split_at_mut(1);\n    head[0] {op} {outer};\n    \
                     for i in 0..tail.len() {{\n        tail[i] = tail[i] * {a_times} + {inner};\n    }}\n"
                )
            }
            1 => format!(
                "    let m = &mut out[1..];\n    for i in 0..m.len() {{\n        m[i] *= {a};\n        \
                 m[i] += {inner};\n    }}\n    out[0] *= {outer};\n"
            ),
            _ => format!(
                "    let (m, end) = out.split_at_mut(out.len() - 1);\n    for i in 0..m.len() {{\n        \
                 m[i] = {inner};\n    }}\n    end[0] = end[0] * {a_times} + {outer};\n"
            ),
        };
        format!(
            "#[differentiate(reverse, forward)]\nfn {name}(v: &[{TY}], s: {TY}, out: &mut \
             [{TY}]) {{\n{body}}}\n"
        )
    }

    /// A shape of [`VIEW_SHAPES`]: a view `let vw = &mut b[o..o + l];` of a local array or buffer
    /// `b` (`o` a literal or the loop counter given), written through (`let_view_written`), or
    /// passed to a helper that writes into a buffer, whole (an implicit reborrow) or as
    /// `&mut vw[..k]`, and written or read through after the call (`let_view_to_helper`); or a
    /// part `&mut b[o..o + l]` passed to a helper that writes through a view of its buffer
    /// (`helper_view_of_out`). Then an element of `b` is added into `vsum`. Every element of `b`
    /// stays at most 4 in magnitude (at most its bound, without a helper).
    fn view_statement(&mut self, lines: &mut Vec<String>) {
        let on = |g: &Self, s: &'static str| u32::from(g.on(s));
        let mut kind = self.rng.weighted(&[
            3 * on(self, "let_view_written"),
            3 * on(self, "let_view_to_helper"),
            2 * on(self, "helper_view_of_out"),
        ]);
        let (b, decl) = self.view_target(false);
        // `b` is not read while a view of it lives: not in scope for the expressions until then.
        let arrays = self.arrays.clone();
        self.arrays.retain(|a| a.name != b.name);
        let longest = self.arrays.iter().map(|a| a.len).max().unwrap_or(0);
        if kind > 0 && longest == 0 {
            if !self.on("let_view_written") {
                self.arrays = arrays;
                return;
            }
            kind = 0;
        }
        lines.extend(decl);
        // The view's length and place (a helper's `v` is at least as long as what it writes).
        let l = if kind == 2 {
            self.rng.range(1, b.len.min(longest))
        } else {
            self.rng.range(1, b.len)
        };
        let place = self.place(b.len, l, 0.6);
        let range = place.range(l);
        let mut cur = vec![b.bound; l];
        // The bound on `b`'s elements afterwards.
        let mut bound = b.bound;
        if kind == 2 {
            self.mark("helper_view_of_out");
            let (g, _) = self.view_callee(true);
            let v = self.view_source(l).unwrap_or_default();
            let s = self.small(2, 2.0);
            let out = if l == b.len && place.base.is_none() && self.rng.chance(0.3) {
                format!("&mut {}", b.name)
            } else {
                format!("&mut {}[{range}]", b.name)
            };
            self.extra_line(lines, &format!("{g}({v}, {}, {out});", s.s));
            bound = bound.max(4.0);
        } else {
            self.extra_fresh += 1;
            let vw = format!("vw{}", self.extra_fresh);
            self.extra_line(lines, &format!("let {vw} = &mut {}[{range}];", b.name));
            if kind == 0 {
                self.mark("let_view_written");
                let n = self.rng.range(1, 3);
                self.view_stores(lines, &vw, &mut cur, b.bound, n);
            } else {
                self.mark("let_view_to_helper");
                if self.rng.chance(0.4) {
                    self.view_stores(lines, &vw, &mut cur, b.bound, 1);
                }
                let k = if l <= longest && self.rng.chance(0.5) {
                    l
                } else {
                    self.rng.range(1, l.min(longest))
                };
                let (g, through_view) = self.view_callee(false);
                if through_view {
                    self.mark("helper_view_of_out");
                }
                let v = self.view_source(k).unwrap_or_default();
                let s = self.small(2, 2.0);
                let out = if k == l && self.rng.chance(0.7) {
                    vw.clone()
                } else {
                    format!("&mut {vw}[..{k}]")
                };
                self.extra_line(lines, &format!("{g}({v}, {}, {out});", s.s));
                for c in cur.iter_mut().take(k) {
                    *c = c.max(4.0);
                }
                bound = bound.max(4.0);
                // Through the view after the call: stores, a read into `vsum`, or both.
                let after = self.rng.below(3);
                if after != 1 {
                    let n = self.rng.range(1, 2);
                    self.view_stores(lines, &vw, &mut cur, bound, n);
                }
                if after != 0 {
                    let j = self.rng.below(l);
                    let e = self.small(2, 2.0);
                    self.extra_line(lines, &format!("vsum += {vw}[{j}] * {};", e.operand()));
                    self.vsum = Some(self.vsum.unwrap_or(0.0) + self.trips * cur[j] * e.bound);
                }
            }
            bound = cur.iter().copied().fold(bound, f64::max);
        }
        self.arrays = arrays;
        // The array itself, after the view: an element of the part or any other.
        let read = self.read_back(lines, &b, &place, l, 0.6);
        self.vsum = Some(self.vsum.unwrap_or(0.0) + self.trips * bound * read);
    }

    /// `vsum += b[j] * e;` after a write through a part of `b` at `place`: with probability `p`
    /// `j` is one of the part's first `count` elements, else any element of `b`. Returns the
    /// bound of `e`.
    fn read_back(
        &mut self,
        lines: &mut Vec<String>,
        b: &Arr,
        place: &Place,
        count: usize,
        p: f64,
    ) -> f64 {
        let j = if self.rng.chance(p) {
            place.at(self.rng.below(count))
        } else {
            self.rng.below(b.len).to_string()
        };
        let e = self.small(2, 2.0);
        self.extra_line(
            lines,
            &format!("vsum += {}[{j}] * {};", b.name, e.operand()),
        );
        e.bound
    }

    /// Right after a call with several outputs that bound the array `y` (`let y: [T; 2] =
    /// g(..);` or the array of `let (t, y): (T, [T; 2]) = g(..);`), with probability 0.35 drawn
    /// from the second stream, a shape of it ([`Gen::several_to_buffer_statement`]). Its
    /// offsets may be a loop counter that a line of the first stream in this block already reads
    /// (the loop does not print it `_`).
    fn several_to_buffer(&mut self, lines: &mut Vec<String>, y: &Arr) {
        let shapes = [
            "several_result_to_buffer_helper",
            "several_result_copied_to_buffer_helper",
        ];
        if self.family != Family::Flow
            || !self.calls
            || !self.items.is_empty()
            || !shapes.iter().any(|s| self.on(s))
            || !self.extra.chance(0.35)
        {
            return;
        }
        let read: Vec<Counter> = self
            .counters
            .iter()
            .filter(|c| lines.iter().any(|l| mentions(l, &c.name)))
            .cloned()
            .collect();
        self.in_second_stream(read, |g| g.several_to_buffer_statement(lines, y));
    }

    /// The array `y` a call with several outputs just bound (elements at most 4), whole (`&y`)
    /// or a part (`&y[0..1]`, `&y[1..2]`, `&y[i..i + 1]` with a loop counter), passed to a
    /// helper that writes into a buffer (`several_result_to_buffer_helper`); or first copied
    /// element by element into a local array of its own, `for k in 0..2 { vb[k] = y[k] * e; }`,
    /// and a part of that passed (`several_result_copied_to_buffer_helper`). The helper is one of
    /// the program's buffer helpers or one of the second stream's ([`Gen::view_callee`]); it
    /// writes an array as the view shapes do ([`Gen::view_target`]): a part `&mut b[o..o + k]`
    /// or the whole of a local array or buffer in scope or of a new one, or a let-bound view of
    /// it. Then an element of what it wrote is added into `vsum`.
    fn several_to_buffer_statement(&mut self, lines: &mut Vec<String>, y: &Arr) {
        let copy = self.rng.weighted(&[
            u32::from(self.on("several_result_to_buffer_helper")),
            u32::from(self.on("several_result_copied_to_buffer_helper")),
        ]) == 1;
        let src = if copy {
            self.mark("several_result_copied_to_buffer_helper");
            self.extra_fresh += 1;
            let (h, k) = (
                format!("vb{}", self.extra_fresh),
                format!("vk{}", self.extra_fresh),
            );
            let zero = lit(0.0);
            let vec = self.rng.chance(0.5);
            let decl = if vec {
                format!("let mut {h}: Vec<{TY}> = vec![{zero}; 2];")
            } else {
                format!("let mut {h}: [{TY}; 2] = [{zero}; 2];")
            };
            self.extra_line(lines, &decl);
            let e = self.var_small(1.0);
            let (range, read) = match self.rng.below(4) {
                0 => (format!("0..{}.len()", y.name), format!("{}[{k}]", y.name)),
                1 => ("0..2".to_owned(), format!("{}[1 - {k}]", y.name)),
                _ => ("0..2".to_owned(), format!("{}[{k}]", y.name)),
            };
            self.extra_line(lines, &format!("for {k} in {range} {{"));
            self.extra_line(lines, &format!("    {h}[{k}] = {read} * {};", e.operand()));
            self.extra_line(lines, "}");
            Arr {
                name: h,
                len: 2,
                bound: 4.0,
                kind: if vec { ArrKind::Buffer } else { ArrKind::Local },
                depth: self.depth,
            }
        } else {
            self.mark("several_result_to_buffer_helper");
            y.clone()
        };
        // What the helper reads: the whole, or one element at a literal or a counter.
        let (read, ls) = if self.rng.chance(0.35) {
            (format!("&{}", src.name), 2)
        } else {
            let counters: Vec<String> = self
                .counters
                .iter()
                .filter(|c| c.below >= 1 && c.below <= src.len)
                .map(|c| c.name.clone())
                .collect();
            if !counters.is_empty() && self.rng.chance(0.5) {
                let c = counters[self.rng.below(counters.len())].clone();
                (format!("&{}[{c}..{c} + 1]", src.name), 1)
            } else {
                let o = self.rng.below(src.len);
                (format!("&{}[{o}..{}]", src.name, o + 1), 1)
            }
        };
        let (b, decl) = self.view_target(true);
        // `b` is not read while the call or a view of it writes it.
        let arrays = self.arrays.clone();
        self.arrays.retain(|a| a.name != b.name);
        lines.extend(decl);
        // The length written (at most what `v` holds) and of a view around it.
        let k = if ls == 2 && self.rng.chance(0.5) {
            2
        } else {
            1
        };
        let view = self.rng.chance(0.4);
        let l = if view { self.rng.range(k, b.len) } else { k };
        let place = self.place(b.len, l, 0.5);
        let range = place.range(l);
        let (g, through_view) = self.view_callee(false);
        if through_view {
            self.mark("helper_view_of_out");
        }
        let s = self.small(2, 2.0);
        if view {
            self.extra_fresh += 1;
            let vw = format!("vw{}", self.extra_fresh);
            self.extra_line(lines, &format!("let {vw} = &mut {}[{range}];", b.name));
            let out = if k == l && self.rng.chance(0.7) {
                vw.clone()
            } else {
                format!("&mut {vw}[..{k}]")
            };
            self.extra_line(lines, &format!("{g}({read}, {}, {out});", s.s));
            if self.rng.chance(0.5) {
                let j = self.rng.below(k);
                let e = self.small(2, 2.0);
                self.extra_line(lines, &format!("vsum += {vw}[{j}] * {};", e.operand()));
                self.vsum = Some(self.vsum.unwrap_or(0.0) + self.trips * 4.0 * e.bound);
            }
        } else {
            let out = if l == b.len && place.base.is_none() && self.rng.chance(0.4) {
                format!("&mut {}", b.name)
            } else {
                format!("&mut {}[{range}]", b.name)
            };
            self.extra_line(lines, &format!("{g}({read}, {}, {out});", s.s));
        }
        self.arrays = arrays;
        // What the call wrote (or, less often, any element of `b`), and sometimes the copy.
        let mut added = 4.0 * self.read_back(lines, &b, &place, k, 0.75);
        // Rarely the copy (read after the call, it hid that bug too).
        if copy && self.rng.chance(0.1) {
            let j = self.rng.below(2);
            let e = self.small(2, 2.0);
            self.extra_line(
                lines,
                &format!("vsum += {}[{j}] * {};", src.name, e.operand()),
            );
            added += 4.0 * e.bound;
        }
        self.vsum = Some(self.vsum.unwrap_or(0.0) + self.trips * added);
    }

    /// After a statement of the function's top-level block, with probability 0.08 drawn from the
    /// second stream, an accumulation loop over a local array of its own
    /// ([`Gen::accumulation_statement`]), unless the bound of `vtot` would pass [`CAP`] (then
    /// `vtot` would be squashed at the end and no loop that adds into it could be fused).
    /// Returns whether it drew one.
    fn extra_accumulation(&mut self, lines: &mut Vec<String>) -> bool {
        if self.family != Family::Flow
            || !self.calls
            || !self.items.is_empty()
            || self.loops > 0
            || self.depth > 0
            || !self.on("accumulation_loop_call")
            || !self.extra.chance(0.08)
            || self.vtot.unwrap_or(0.0) > CAP - 8.0
        {
            return false;
        }
        self.in_second_stream(Vec::new(), |g| g.accumulation_statement(lines));
        true
    }

    /// At the top level, with probability drawn from the second stream, a
    /// [`Gen::recurrence_statement`].
    fn extra_recurrence(&mut self, lines: &mut Vec<String>) {
        if self.family != Family::Flow
            || !self.calls
            || !self.items.is_empty()
            || self.loops > 0
            || self.depth > 0
            || !self.on("recurrence_two_slices")
            || !self.extra.chance(0.06)
            || self.vtot.unwrap_or(0.0) > CAP - 8.0
        {
            return;
        }
        self.in_second_stream(Vec::new(), |g| g.recurrence_statement(lines));
    }

    /// A loop whose state goes through `tanh`, so that its backward code runs after it, calling
    /// a sibling of two slices on parts of two arrays in scope (`recurrence_two_slices`):
    ///
    /// ```text
    /// let mut vh3: T = 0.0;
    /// for _ in 0..3 {
    ///     vh3 = (vh3 * 0.5 + 0.25 * q7_t(&x[1..3], &b[0..2])).tanh();
    /// }
    /// vtot += vh3;
    /// ```
    ///
    /// with `q<i>_t(a, b) = Σ aᵢ sin(bᵢ)` over the shorter (an array passed whole may be longer
    /// than the part beside it). Each iteration saves both of the call's gradients on
    /// the tape, which the backward code takes back last first. `vh` stays below 1.
    fn recurrence_statement(&mut self, lines: &mut Vec<String>) {
        let l = self.rng.range(1, 3);
        let (Some(a), Some(b)) = (self.view_source(l), self.view_source(l)) else {
            return;
        };
        self.mark("recurrence_two_slices");
        let name = if let Some(name) = &self.pair_helper {
            name.clone()
        } else {
            let name = format!("{}_t", self.name);
            let text = format!(
                "#[differentiate(reverse, forward)]\nfn {name}(a: &[{TY}], b: &[{TY}]) -> {TY} {{\n    \
                 let mut t: {TY} = {};\n    for i in 0..a.len().min(b.len()) {{\n        t += a[i] * b[i].sin();\n    \
                 }}\n    t\n}}\n",
                lit(0.0)
            );
            for l in text.lines() {
                let _ = writeln!(self.helper_text, "{NEW}{l}");
            }
            self.pair_helper = Some(name.clone());
            name
        };
        self.extra_fresh += 1;
        let h = format!("vh{}", self.extra_fresh);
        let trips = self.rng.range(2, 4);
        self.extra_line(lines, &format!("let mut {h}: {TY} = {};", lit(0.0)));
        self.extra_line(lines, &format!("for _ in 0..{trips} {{"));
        lines.push(format!(
            "{}    {NEW}{h} = ({h} * {} + {} * {name}({a}, {b})).tanh();",
            self.pad(),
            lit(0.5),
            lit(0.25)
        ));
        self.extra_line(lines, "}");
        self.extra_line(lines, &format!("vtot += {h};"));
        self.vtot = Some(self.vtot.unwrap_or(0.0) + 1.0);
    }

    /// A helper `fn g(v: &[T], s: T) -> T` for [`Gen::accumulation_statement`] (`q<i>_e<k>`),
    /// reading elements of `v` at most 4 and `s` at most 2: a loop `t += (v[i] * s).sin() * a +
    /// v[i] * b` over `v.len()` (any length; the callers pass at most 5 elements), or
    /// `v[0] * v[1] * c + e` (the callers pass at least 2). Returns its text, the least length
    /// it needs and the bound on its value.
    fn energy_helper(&mut self, name: &str) -> (String, usize, f64) {
        let scalar = |name: &str, bound: f64| Scalar {
            name: name.to_owned(),
            bound,
            acc: None,
        };
        let (body, least, bound) = if self.rng.chance(0.5) {
            let mut g = self.slice_loop_body("s", "v");
            let a = g.var_small(1.0);
            let b = g.var_small(0.5);
            let t = self.rng.pick(&[0.0, 0.5, 1.0]);
            (
                format!(
                    "    let mut t: {TY} = {};\n    for i in 0..v.len() {{\n        t += (v[i] * s).sin() * {} + v[i] * {};\n    }}\n    t\n",
                    lit(t),
                    a.operand(),
                    b.operand()
                ),
                1,
                5.0 * (a.bound + 4.0 * b.bound) + t,
            )
        } else {
            let mut g = self.sub(
                vec![scalar("a", 4.0), scalar("b", 4.0), scalar("s", 2.0)],
                Vec::new(),
            );
            let mut e = g.var_small(2.0);
            if !mentions(&e.s, "s") {
                e.s = format!("{} * s.cos()", e.operand());
                e.atom = false;
            }
            let c = self.rng.pick(&[0.125, 0.25]);
            (
                format!(
                    "    let a = v[0];\n    let b = v[1];\n    a * b * {} + {}\n",
                    lit(c),
                    e.s
                ),
                2,
                16.0 * c + e.bound,
            )
        };
        (
            format!(
                "#[differentiate(reverse, forward)]\nfn {name}(v: &[{TY}], s: {TY}) -> {TY} {{\n{body}}}\n"
            ),
            least,
            bound,
        )
    }

    /// The helper an accumulation loop calls: one of the program's slice helpers `(v: &[T], s:
    /// T)` (also called by lines of the first stream), one of [`Gen::energy_helper`]'s already
    /// written, or a new one. Returns its name, the least length it needs and its bound, and
    /// whether it is also called elsewhere.
    fn energy_callee(&mut self) -> (String, usize, f64, bool) {
        let program: Vec<(String, usize, f64)> = self
            .helpers
            .iter()
            .filter(|h| h.kind == HelperKind::Slice)
            .map(|h| (h.name.clone(), 1, h.bound))
            .collect();
        let choice = self.rng.weighted(&[
            u32::from(!program.is_empty()) * 2,
            u32::from(!self.energy_helpers.is_empty()) * 2,
            3,
        ]);
        match choice {
            0 => {
                let (n, l, b) = program[self.rng.below(program.len())].clone();
                (n, l, b, true)
            }
            1 => {
                let (n, l, b) =
                    self.energy_helpers[self.rng.below(self.energy_helpers.len())].clone();
                (n, l, b, true)
            }
            _ => {
                let name = format!("{}_e{}", self.name, self.energy_helpers.len());
                let (text, least, bound) = self.energy_helper(&name);
                for l in text.lines() {
                    let _ = writeln!(self.helper_text, "{NEW}{l}");
                }
                self.energy_helpers.push((name.clone(), least, bound));
                (name, least, bound, false)
            }
        }
    }

    /// An accumulation loop at the top level over a local array of its own, declared before it
    /// (`accumulation_loop_call`):
    ///
    /// ```text
    /// let mut vb: [T; L] = [0.0; L];          // or `vec![0.0; L]`
    /// for vi in 0..N {                        // `N` a literal, `x.len()` or `n`
    ///     vtot += c * g(&vb[0..2], s);        // before the stores: the previous iteration's
    ///     for vj in 0..L { vb[vj] = e; }      // or single stores `vb[1] = e;`
    ///     vtot += c * g(&vb[vi..vi + 2], s);  // after them: this iteration's
    /// }
    /// ```
    ///
    /// `g` a scalar-returning helper ([`Gen::energy_callee`]) given the whole array or a part
    /// (`&vb[a..b]`, `&vb[..k]`, `&vb[vi..vi + k]`), called before the stores
    /// (`accumulation_call_before_stores`: it reads what the iteration before stored, the zeros
    /// in the first), after them (`accumulation_call_after_stores`) or both; sometimes called
    /// after the loop too, on another array or on `vb` (`accumulation_helper_reused`, also when
    /// the helper is one the program calls elsewhere). Everything is added into `vtot`, scaled
    /// so that each call adds at most 2.5 (each loop at most 7.5).
    fn accumulation_statement(&mut self, lines: &mut Vec<String>) {
        self.mark("accumulation_loop_call");
        self.extra_fresh += 1;
        let k = self.extra_fresh;
        let (h, i, j) = (format!("vb{k}"), format!("vi{k}"), format!("vj{k}"));
        let sources: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| !a.kind.local() && (1..=5).contains(&a.len))
            .cloned()
            .collect();
        let (range, trips) = match self.rng.below(4) {
            0 | 1 if !sources.is_empty() => {
                let a = &sources[self.rng.below(sources.len())];
                (format!("0..{}.len()", a.name), a.len)
            }
            2 if self.n.is_some() => (format!("0..{}", self.n.clone().unwrap_or_default()), 4),
            _ => {
                let t = self.rng.range(2, 4);
                (format!("0..{t}"), t)
            }
        };
        let (g, least, hb, reused) = self.energy_callee();
        let len = self.rng.range(least.max(2), 4);
        let vec = self.rng.chance(0.25);
        let zero = lit(0.0);
        let decl = if vec {
            self.mark("accumulation_vec_buffer");
            format!("let mut {h}: Vec<{TY}> = vec![{zero}; {len}];")
        } else {
            format!("let mut {h}: [{TY}; {len}] = [{zero}; {len}];")
        };
        // The scale: a power of two with `trips * c * hb` at most 2.5.
        let mut c = 1.0;
        while trips as f64 * c * hb > 2.5 {
            c /= 2.0;
        }
        let scaled = |call: String| {
            if c == 1.0 {
                call
            } else {
                format!("{} * {call}", lit(c))
            }
        };
        // Where the calls are: before the stores, after them, or both.
        let place = self.rng.weighted(&[3, 2, 2]);
        let (before, after) = (place != 1, place != 0);
        let counter = Counter {
            name: i.clone(),
            below: trips,
        };
        self.counters = vec![counter];
        self.loops += 1;
        let mut body: Vec<String> = Vec::new();
        let mut bound = 0.0;
        let mut call = |g2: &mut Self, body: &mut Vec<String>| {
            // The argument: whole, `&vb[a..b]`, `&vb[..k]` or `&vb[vi..vi + k]`.
            let l = g2.rng.range(least.max(1), len);
            let arg = match g2.rng.weighted(&[2, 3, 2, 3]) {
                0 => format!("&{h}"),
                2 => {
                    g2.mark("accumulation_call_part");
                    format!("&{h}[..{l}]")
                }
                3 if trips - 1 + l <= len => {
                    g2.mark("accumulation_call_part");
                    g2.mark("accumulation_call_counter_part");
                    format!("&{h}[{i}..{i} + {l}]")
                }
                _ => {
                    g2.mark("accumulation_call_part");
                    let o = g2.rng.below(len - l + 1);
                    format!("&{h}[{o}..{}]", o + l)
                }
            };
            let s = g2.small(2, 2.0);
            body.push(format!(
                "    {NEW}vtot += {};",
                scaled(format!("{g}({arg}, {})", s.s))
            ));
            bound += trips as f64 * c * hb;
        };
        if before {
            self.mark("accumulation_call_before_stores");
            call(self, &mut body);
        }
        // The stores: a covering loop, or single stores of some elements.
        if self.rng.chance(0.6) {
            let by_len = self.rng.chance(0.2);
            self.counters.push(Counter {
                name: j.clone(),
                below: len,
            });
            self.loops += 1;
            let e = self.var_small(4.0);
            self.loops -= 1;
            self.counters.pop();
            // `0..vb.len()` storing what does not depend on the counter is a fill
            // (`clippy::manual_slice_fill`).
            let end = if by_len && mentions(&e.s, &j) {
                format!("{h}.len()")
            } else {
                len.to_string()
            };
            body.push(format!("    {NEW}for {j} in 0..{end} {{"));
            body.push(format!("        {NEW}{h}[{j}] = {};", e.s));
            body.push(format!("    {NEW}}}"));
        } else {
            self.mark("accumulation_single_stores");
            let mut at: Vec<usize> = (0..len).collect();
            self.rng.shuffle(&mut at);
            at.truncate(self.rng.range(1, len));
            for at in at {
                let e = self.var_small(4.0);
                body.push(format!("    {NEW}{h}[{at}] = {};", e.s));
            }
        }
        if after {
            self.mark("accumulation_call_after_stores");
            call(self, &mut body);
        }
        self.loops -= 1;
        self.counters.clear();
        let read = body.iter().any(|l| mentions(&l.replace(NEW, ""), &i));
        self.extra_line(lines, &decl);
        self.extra_line(
            lines,
            &format!("for {} in {range} {{", if read { i.as_str() } else { "_" }),
        );
        for l in body {
            lines.push(format!("{}{l}", self.pad()));
        }
        self.extra_line(lines, "}");
        // The helper called after the loop too: on `vb` (what the last iteration stored) or on
        // another array in scope.
        let mut reused = reused;
        if self.rng.chance(0.3) {
            let arg = if self.rng.chance(0.3) {
                Some(format!("&{h}"))
            } else {
                self.view_source(least.max(1))
            };
            if let Some(arg) = arg {
                let s = self.small(2, 2.0);
                self.extra_line(
                    lines,
                    &format!("vtot += {};", scaled(format!("{g}({arg}, {})", s.s))),
                );
                bound += c * hb;
                reused = true;
            }
        }
        if reused {
            self.mark("accumulation_helper_reused");
        }
        self.vtot = Some(self.vtot.unwrap_or(0.0) + bound);
    }

    fn local_name(&mut self) -> String {
        if self.loops == 0
            && self.depth == 0
            && self.on("raw_ident_in_loop")
            && self.rng.chance(0.08)
        {
            self.mark("raw_ident_in_loop");
            let raw = self.rng.pick(&["r#match", "r#ref", "r#loop"]);
            if !self.scalars.iter().any(|s| s.name == raw) {
                return raw.to_owned();
            }
        }
        self.fresh("t")
    }

    fn let_statement(&mut self, lines: &mut Vec<String>) {
        let e = self.expr(2);
        // A constant would leave the binding's float type ambiguous.
        let e = self.receiver(e);
        let name = self.local_name();
        let ty = if self.rng.chance(0.3) {
            format!(": {TY}")
        } else {
            String::new()
        };
        self.line(lines, &format!("let {name}{ty} = {};", e.s));
        self.scalars.push(Scalar {
            name,
            bound: e.bound,
            acc: None,
        });
    }

    /// A call to a function with several outputs, its results bound by a pattern (`let [a, b] =
    /// g(..);`, `let (u, v) = g(..);`, `let (s, y): (f64, [f64; 2]) = g(..);`) or whole (`let y:
    /// [f64; 2] = g(..);`): to a generated helper or to the hand-written `hand_xy` and
    /// `hand_stats`, on scalars or on an array (a parameter, or a local array, possibly
    /// overwritten in every iteration of the loop we are in).
    fn several_call(&mut self, lines: &mut Vec<String>) {
        let arrays: Vec<Arr> = self.arrays.clone();
        // Prefer the arrays of the loops we are in: overwritten in every iteration.
        let local: Vec<Arr> = arrays
            .iter()
            .filter(|a| self.filled.contains(&a.name))
            .cloned()
            .collect();
        let pick = |g: &mut Self| -> Option<Arr> {
            if !local.is_empty() && g.rng.chance(0.6) {
                return Some(local[g.rng.below(local.len())].clone());
            }
            arrays.get(g.rng.below(arrays.len().max(1))).cloned()
        };
        let choice = if local.is_empty() {
            self.rng.weighted(&[3, 3, 2, 2])
        } else {
            self.rng.weighted(&[1, 4, 1, 3])
        };
        // The call, whether its output is `[T; 2]` (else a tuple with an array if `tuple_array`,
        // else `(T, T)`), the bound on its scalar outputs, and the array passed.
        let mut call = None;
        let mut passed = None;
        if (choice == 1 || choice == 3)
            && let Some(a) = pick(self)
        {
            let hand = choice == 3;
            // A slice helper takes any array by reference; an array helper `[T; N]` by
            // value or `&[T; N]`.
            let (by_ref, arg_kind) = if hand
                || matches!(a.kind, ArrKind::Slice | ArrKind::Buffer)
                || self.rng.chance(0.3)
            {
                (true, None)
            } else {
                let by_ref = a.kind == ArrKind::RefArray || self.rng.chance(0.5);
                (by_ref, Some((a.len, by_ref)))
            };
            if let Some(arg) = self.whole_array_arg(&a, by_ref, hand) {
                let s = self.small(2, 4.0);
                call = Some(if hand {
                    self.mark("call_hand_several");
                    let bound = 4.0 * a.len as f64 * a.bound;
                    (format!("hand_stats({arg}, {})", s.s), false, true, bound)
                } else {
                    let h = self.helper_of(HelperKind::SeveralWith(arg_kind));
                    self.mark("call_several");
                    let text = format!("{}({}, {arg})", self.helpers[h].name, s.s);
                    (text, false, true, self.helpers[h].bound)
                });
                passed = Some(a);
            }
        }
        let (text, array, tuple_array, bound) = match call {
            Some(c) => c,
            None if choice >= 2 => {
                self.mark("call_hand_several");
                let r = self.small(2, 4.0);
                let t = self.small(2, CAP);
                (format!("hand_xy({}, {})", r.s, t.s), true, false, 4.0)
            }
            None => {
                let array = self.rng.chance(0.6);
                let h = self.helper_of(HelperKind::Several2(array));
                let u = self.small(2, 2.0);
                let v = self.small(2, 2.0);
                self.mark("call_several");
                let text = format!("{}({}, {})", self.helpers[h].name, u.s, v.s);
                (text, array, false, self.helpers[h].bound)
            }
        };
        self.mark_call_context();
        if self.loops > 0 {
            self.mark("call_several_in_loop");
        }
        if self.branches > 0 {
            self.mark("call_several_in_branch");
        }
        if let Some(a) = &passed {
            self.mark("call_several_array_arg");
            if self.filled.contains(&a.name) {
                self.mark("call_several_local_array_in_loop");
            }
        }
        let scalar = |name: &str, bound: f64| Scalar {
            name: name.to_owned(),
            bound,
            acc: None,
        };
        let result_array = |g: &Self, name: &str| Arr {
            name: name.to_owned(),
            len: 2,
            bound: 4.0,
            kind: ArrKind::Local,
            depth: g.depth + usize::from(g.returned),
        };
        // The array bound, if one is.
        let mut bound_array = None;
        let text = if tuple_array {
            // Without the type, every element of a tuple pattern is taken for a float.
            let (s, y) = (self.fresh("t"), self.fresh("y"));
            self.mark("several_result_array");
            self.scalars.push(scalar(&s, bound));
            self.arrays.push(result_array(self, &y));
            self.several.extend([s.clone(), y.clone()]);
            bound_array = Some(result_array(self, &y));
            format!("let ({s}, {y}): ({TY}, [{TY}; 2]) = {text};")
        } else if array && self.rng.chance(0.3) {
            let y = self.fresh("y");
            self.mark("several_result_array");
            self.arrays.push(result_array(self, &y));
            self.several.push(y.clone());
            bound_array = Some(result_array(self, &y));
            format!("let {y}: [{TY}; 2] = {text};")
        } else {
            let (a, b) = (self.fresh("t"), self.fresh("t"));
            self.scalars.push(scalar(&a, bound));
            self.scalars.push(scalar(&b, bound));
            self.several.extend([a.clone(), b.clone()]);
            let annotated = self.rng.chance(0.4);
            match (array, annotated) {
                (true, false) => format!("let [{a}, {b}] = {text};"),
                (true, true) => format!("let [{a}, {b}]: [{TY}; 2] = {text};"),
                (false, false) => format!("let ({a}, {b}) = {text};"),
                (false, true) => format!("let ({a}, {b}): ({TY}, {TY}) = {text};"),
            }
        };
        self.line(lines, &text);
        if let Some(y) = bound_array {
            self.several_to_buffer(lines, &y);
        }
    }

    /// Where a part of `l` elements of an array of length `len` starts: at the counter of a
    /// loop in scope that leaves room (`c..c + l`), with probability `p` when there is one, or at
    /// a literal offset.
    fn place(&mut self, len: usize, l: usize, p: f64) -> Place {
        let counter = self
            .counters
            .iter()
            .find(|c| c.below >= 1 && c.below - 1 + l <= len)
            .cloned();
        let base = match counter {
            Some(c) if self.rng.chance(p) => Some(c.name),
            _ => None,
        };
        let o = if base.is_some() {
            0
        } else {
            self.rng.below(len - l + 1)
        };
        Place { base, o }
    }

    /// `&{a}[o..o + l]` (a literal or a loop counter as `o`) or, if `a` has length `l`, `a`
    /// whole (`&mut` for `written`): an argument of a helper that writes into a buffer, and
    /// the index of element `r` of the part, for `r` in `0..l`.
    fn part_arg(
        &mut self,
        a: &Arr,
        l: usize,
        written: bool,
    ) -> (String, impl Fn(usize) -> String + use<>) {
        let amp = if written { "&mut " } else { "&" };
        let at = |base: Option<String>, o: usize| {
            move |r: usize| match &base {
                Some(c) if r == 0 => c.clone(),
                Some(c) => format!("{c} + {r}"),
                None => (o + r).to_string(),
            }
        };
        if a.len == l && self.rng.chance(0.5) {
            let text = match (a.kind, written) {
                (ArrKind::Slice | ArrKind::RefArray, false) => a.name.clone(),
                _ => format!("{amp}{}", a.name),
            };
            return (text, at(None, 0));
        }
        self.mark(if written {
            "buffer_part_written"
        } else {
            "buffer_part_read"
        });
        let counters: Vec<Counter> = self
            .counters
            .iter()
            .filter(|c| c.below >= 1 && c.below - 1 + l <= a.len)
            .cloned()
            .collect();
        if !counters.is_empty() && self.rng.chance(0.4) {
            self.mark("buffer_counter_part");
            let c = counters[self.rng.below(counters.len())].name.clone();
            let text = format!("{amp}{}[{c}..{c} + {l}]", a.name);
            return (text, at(Some(c), 0));
        }
        let o = self.rng.below(a.len - l + 1);
        (format!("{amp}{}[{o}..{}]", a.name, o + l), at(None, o))
    }

    /// A new buffer of length `m` for a call to write: `let mut b = vec![0.0; m];` (or
    /// `vec![e; m]`) or `let mut b = [0.0; m];`, for a helper that reads it (`fill`) sometimes
    /// filled element by element first.
    fn new_buffer(&mut self, lines: &mut Vec<String>, m: usize, fill: bool) -> Arr {
        let name = self.fresh("b");
        let vec = self.rng.chance(0.5);
        let init = if vec && fill && self.rng.chance(0.4) {
            let e = self.small(2, 4.0);
            self.receiver(e).s
        } else {
            lit(0.0)
        };
        if vec {
            self.mark("buffer_vec");
            self.line(
                lines,
                &format!("let mut {name}: Vec<{TY}> = vec![{init}; {m}];"),
            );
        } else {
            self.mark("buffer_local_array");
            self.line(
                lines,
                &format!("let mut {name}: [{TY}; {m}] = [{init}; {m}];"),
            );
        }
        if fill && init == lit(0.0) && self.rng.chance(0.6) {
            for j in 0..m {
                let e = self.small(2, 4.0);
                let e = self.receiver(e);
                self.line(lines, &format!("{name}[{j}] = {};", e.s));
            }
        }
        self.writable.push((name.clone(), self.loops));
        if self.loops > 0 {
            self.in_loop_arrays.push(name.clone());
        }
        if self.loops == 0 && self.depth == 0 {
            self.top_buffers.push((name.clone(), m));
        }
        Arr {
            name,
            len: m,
            bound: 4.0,
            kind: if vec { ArrKind::Buffer } else { ArrKind::Local },
            depth: self.depth + usize::from(self.returned),
        }
    }

    /// The function's tail: `acc`, or `acc` plus an element of a buffer a call wrote at the top
    /// level.
    /// With a chance drawn from the second stream, `result` passed to one of the program's
    /// slice helpers with one of its slice parameters, `h(x, (result).atan())`: the call is then
    /// the function's output, whose adjoint is the seed, so `h_grad_into` adds into the
    /// caller's own buffer for `x`.
    fn result_through_helper(&mut self, params: &[Param], result: String) -> String {
        let slices: Vec<&str> = params
            .iter()
            .filter(|p| matches!(p.kind, ParamKind::Slice(_)))
            .map(|p| p.name.as_str())
            .collect();
        let helpers: Vec<&str> = self
            .helpers
            .iter()
            .filter(|h| h.kind == HelperKind::Slice)
            .map(|h| h.name.as_str())
            .collect();
        if self.family != Family::Flow
            || !self.on("result_through_helper")
            || slices.is_empty()
            || helpers.is_empty()
            || !self.extra.chance(0.3)
        {
            return result;
        }
        let x = slices[self.extra.below(slices.len())].to_owned();
        let h = helpers[self.extra.below(helpers.len())].to_owned();
        self.mark("result_through_helper");
        format!("    {h}({x}, ({}).atan())", result.trim_start())
    }

    /// With a chance drawn from the second stream, a local started from the field `p.scale`
    /// and carried through a loop of 2 to 4 iterations by the factor `x.tanh()` of an active
    /// scalar `x`, each iteration adding its `sin` into `acc`: lines at the function's top level.
    fn field_carried(&mut self, lines: &mut Vec<String>, params: &[Param], acc: &str) {
        let Some(x) = params.iter().find(|p| p.kind == ParamKind::Scalar) else {
            return;
        };
        if !self.has_params || !self.on("field_carried") || !self.extra.chance(0.9) {
            return;
        }
        let trips = self.extra.range(2, 4);
        let x = &x.name;
        lines.push(format!("    {NEW}let mut pr = {};", cst("p.scale")));
        lines.push(format!("    {NEW}for _ in 0..{trips} {{"));
        lines.push(format!("    {NEW}    pr *= {x}.tanh();"));
        lines.push(format!("    {NEW}    {acc} += pr.sin();"));
        lines.push(format!("    {NEW}}}"));
        self.mark("field_carried");
    }

    /// With a chance drawn from a fork of the second stream (so that the rest of the program,
    /// the second stream's later draws included, is drawn as before), calls of the method
    /// `Params::warp` on the constant `p`, lines at the function's top level: `let mut wsum = 0.0;`,
    /// a loop of 2 to 3 iterations adding `0.25 * p.warp(..)` of an active scalar `x` and the
    /// counter, then `acc += 0.25 * p.warp(wsum.tanh());`. `warp(u) = scale tanh u + shift
    /// sin(u / 2)` is at most 4 in magnitude, as `scale` and `shift` are at most 2.
    fn params_method(&mut self, lines: &mut Vec<String>, params: &[Param], acc: &str) {
        let Some(x) = params.iter().find(|p| p.kind == ParamKind::Scalar) else {
            return;
        };
        let mut fork = Rng(self.extra.0 ^ 0x5EED_3E7B_0D00_0001);
        if !self.has_params || !self.on("params_method") || !fork.chance(0.8) {
            return;
        }
        let trips = fork.range(2, 3);
        let x = &x.name;
        let warp = |u: &str| {
            format!(
                "{IT0}p.warp({u}){IT1}({} * ({u}).tanh() + {} * ({} * ({u})).sin()){IT2}",
                cst("p.scale"),
                cst("p.shift"),
                lit(0.5)
            )
        };
        let arg = format!("{} * {x} + {}", lit(0.5), cst("wk as f64 * 0.25"));
        lines.push(format!("    {NEW}let mut wsum: {TY} = {};", lit(0.0)));
        lines.push(format!("    {NEW}for wk in 0..{trips} {{"));
        lines.push(format!(
            "    {NEW}    wsum += {} * {};",
            lit(0.25),
            warp(&arg)
        ));
        lines.push(format!("    {NEW}}}"));
        lines.push(format!(
            "    {NEW}{acc} += {} * {};",
            lit(0.25),
            warp("wsum.tanh()")
        ));
        self.mark("params_method");
    }

    /// `result` plus a term that reads every element of each array bound by a pattern,
    /// `(pw0 * pw1 - pw2).sin()`.
    fn result_reading_patterns(params: &[Param], result: String) -> String {
        let mut result = result;
        for p in params {
            if let ParamKind::Pattern(len) | ParamKind::RefPattern(len) = p.kind {
                let name = &p.name;
                let product = format!("{name}0 * {name}1");
                let term = if len > 2 {
                    format!("({product} - {name}2).sin()")
                } else {
                    format!("({product}).sin()")
                };
                result = format!("    {} + {term}", result.trim_start());
            }
        }
        result
    }

    pub(super) fn result(&mut self, acc: &str) -> String {
        if self.top_buffers.is_empty() || !self.rng.chance(0.7) {
            return format!("    {acc}");
        }
        let (b, len) = self.top_buffers[self.rng.below(self.top_buffers.len())].clone();
        self.mark("buffer_in_result");
        format!("    {acc} + {b}[{}]", self.rng.below(len))
    }

    /// A call of a helper that writes into a buffer, as a statement, `g(&x[1..3], s, &mut b);`,
    /// then a read of what it wrote, added into an accumulator. It reads a part of an array in
    /// scope (or the whole), and writes `target` (a buffer declared before the loop we are in),
    /// a local array or buffer in scope, or a new one declared here, whole or a part
    /// `&mut b[o..o + l]`; a helper with two buffers writes two of these. Returns `false`, having
    /// generated nothing, when no array is in scope to read.
    fn buffer_call(&mut self, lines: &mut Vec<String>, target: Option<&Arr>) -> bool {
        let target_name = target.map(|t| t.name.as_str());
        let write = match self.rng.weighted(&[3, 3, 2, 2]) {
            0 => Write::Overwrite,
            1 => Write::Update,
            2 => Write::Two,
            _ => Write::Value,
        };
        let longest = self
            .arrays
            .iter()
            .filter(|a| Some(a.name.as_str()) != target_name)
            .map(|a| a.len)
            .max()
            .unwrap_or(0);
        let written = target.map_or(3, |a| a.len);
        if longest == 0 {
            return false;
        }
        let l = self.rng.range(1, longest.min(written).min(3));
        let sources: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| a.len >= l && Some(a.name.as_str()) != target_name)
            .cloned()
            .collect();
        let src = sources[self.rng.below(sources.len())].clone();
        // Arrays in scope that a call may write (none inside an iterator loop, which may be
        // iterating over one).
        let mut existing: Vec<Arr> = if self.items.is_empty() {
            self.arrays
                .iter()
                .filter(|a| {
                    a.len >= l
                        && a.name != src.name
                        && Some(a.name.as_str()) != target_name
                        && self.writable.iter().any(|(n, _)| *n == a.name)
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let count = if write == Write::Two { 2 } else { 1 };
        let mut outs: Vec<Arr> = Vec::new();
        let mut new = Vec::new();
        for k in 0..count {
            if k == 0
                && let Some(t) = target
            {
                outs.push(t.clone());
                continue;
            }
            if !existing.is_empty() && self.rng.chance(0.6) {
                let a = existing.remove(self.rng.below(existing.len()));
                self.mark("buffer_existing_array");
                outs.push(a);
                continue;
            }
            let m = self.rng.range(l.max(2), 4);
            let fill = write == Write::Update || k == 1;
            let a = self.new_buffer(lines, m, fill);
            new.push(a.clone());
            outs.push(a);
        }
        let h = self.helper_of(HelperKind::Buffer(write));
        let name = self.helpers[h].name.clone();
        let (read, _) = self.part_arg(&src, l, false);
        let s = self.small(2, 2.0);
        let mut args = vec![read, s.s];
        // An element of each part written.
        let mut written = Vec::new();
        for a in &outs {
            let (arg, at) = self.part_arg(a, l, true);
            args.push(arg);
            written.push(format!("{}[{}]", a.name, at(self.rng.below(l))));
        }
        let call = format!("{name}({})", args.join(", "));
        self.mark_call_context();
        self.mark("buffer_call");
        self.mark(match write {
            Write::Overwrite => "buffer_overwrite",
            Write::Update => "buffer_update",
            Write::Two => "buffer_two",
            Write::Value => "buffer_value_dropped",
        });
        if self.loops > 0 {
            self.mark("buffer_call_in_loop");
        }
        if self.branches > 0 {
            self.mark("buffer_call_in_branch");
        }
        for a in &outs {
            if self
                .writable
                .iter()
                .any(|(n, loops)| *n == a.name && *loops < self.loops)
            {
                self.mark("buffer_overwritten_in_loop");
            }
        }
        if write == Write::Value && self.on("buffer_value_used") && self.rng.chance(0.5) {
            self.mark("buffer_value_used");
            let t = self.fresh("t");
            self.line(lines, &format!("let {t} = {call};"));
            let bound = self.helpers[h].bound;
            self.scalars.push(Scalar {
                name: t,
                bound,
                acc: None,
            });
        } else {
            self.line(lines, &format!("{call};"));
        }
        // What the call wrote, read at once: an element of the part written, of the second
        // buffer's too, or of the whole first buffer.
        let mut terms = written;
        if self.rng.chance(0.5) {
            terms.truncate(1);
        }
        if self.rng.chance(0.3) {
            let j = self.rng.below(outs[0].len);
            terms.push(format!("{}[{j}]", outs[0].name));
        }
        let op = if self.rng.chance(0.5) { " + " } else { " * " };
        let n = terms.len() as i32;
        let e = E {
            s: terms.join(op),
            bound: if op == " * " {
                4f64.powi(n)
            } else {
                4.0 * f64::from(n)
            },
            atom: false,
            var: true,
        };
        let accs = self.accumulators();
        let i = accs[self.rng.below(accs.len())];
        let acc = self.scalars[i].name.clone();
        self.line(lines, &format!("{acc} += {};", e.s));
        self.scalars[i].bound += self.trips * e.bound;
        // Later statements may read the new buffers (and pass them on).
        self.arrays.extend(new);
        true
    }

    fn if_statement(&mut self, lines: &mut Vec<String>) {
        self.mark("if_stmt");
        let c = self.condition();
        let calls_before = self.shapes.contains("call");
        self.line(lines, &format!("if {c} {{"));
        self.branches += 1;
        let budget = self.rng.range(1, 2);
        lines.extend(self.nested(budget));
        let mut chain = 0;
        while chain < 2 && self.rng.chance(0.3) {
            self.mark("if_else_if");
            let c = self.condition();
            self.line(lines, &format!("}} else if {c} {{"));
            let budget = self.rng.range(1, 2);
            lines.extend(self.nested(budget));
            chain += 1;
        }
        if self.rng.chance(0.6) {
            self.line(lines, "} else {");
            let budget = self.rng.range(1, 2);
            lines.extend(self.nested(budget));
        }
        self.branches -= 1;
        self.line(lines, "}");
        if !calls_before && self.shapes.contains("call") {
            self.mark("call_in_branch");
        }
    }

    fn if_expression(&mut self, lines: &mut Vec<String>) {
        self.mark("if_expr");
        let c = self.condition();
        self.depth += 1;
        self.branches += 1;
        let a = self.expr(2);
        let a = self.receiver(a);
        let b = self.expr(2);
        self.branches -= 1;
        self.depth -= 1;
        let name = self.local_name();
        let p = self.pad();
        let then = if self.rng.chance(0.3) {
            // A branch with its own `let`.
            let u = self.fresh("u");
            self.depth += 1;
            self.branches += 1;
            let x = self.var_leaf();
            self.branches -= 1;
            self.depth -= 1;
            format!(
                "{{\n{p}    let {u} = {};\n{p}    {u} * {}\n{p}}}",
                a.s,
                x.operand()
            )
        } else {
            format!("{{\n{p}    {}\n{p}}}", a.s)
        };
        self.line(
            lines,
            &format!("let {name} = if {c} {then} else {{\n{p}    {}\n{p}}};", b.s),
        );
        self.scalars.push(Scalar {
            name,
            bound: (a.bound * 2.0).max(b.bound),
            acc: None,
        });
    }

    /// A new accumulator declared here, for the loop that follows.
    fn new_accumulator(&mut self, lines: &mut Vec<String>) -> String {
        let raw = self.on("raw_ident_in_loop") && self.rng.chance(0.15);
        let name = if raw && !self.scalars.iter().any(|s| s.name == "r#type") {
            self.mark("raw_ident_in_loop");
            "r#type".to_owned()
        } else {
            self.fresh("s")
        };
        let init = lit(self.rng.pick(&[0.0, 0.5, 1.0]));
        self.line(lines, &format!("let mut {name}: {TY} = {init};"));
        self.scalars.push(Scalar {
            name: name.clone(),
            bound: 1.0,
            acc: Some(self.loops),
        });
        name
    }

    /// A `for` loop; with `array`, a local array overwritten in every iteration.
    fn for_loop(&mut self, lines: &mut Vec<String>, array: bool) {
        self.mark("for");
        if self.loops > 0 {
            self.mark("nested_for");
        }
        if self.rng.chance(0.5) {
            self.new_accumulator(lines);
        }
        // The range and a bound on the counter.
        let slices: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| !a.kind.local())
            .cloned()
            .collect();
        let counter = self.fresh("i");
        let (range, below) = match self.rng.below(6) {
            0 if !slices.is_empty() => {
                let a = &slices[self.rng.below(slices.len())];
                (format!("0..{}.len()", a.name), a.len)
            }
            1 if self.n.is_some() => (format!("0..{}", self.n.clone().unwrap_or_default()), 5),
            2 => {
                self.mark("for_rev");
                let n = self.rng.range(1, 4);
                (format!("(0..{n}).rev()"), n)
            }
            3 => {
                self.mark("for_inclusive");
                let n = self.rng.range(1, 3);
                (format!("0..={n}"), n + 1)
            }
            _ => {
                let n = self.rng.range(1, 4);
                (format!("0..{n}"), n)
            }
        };
        // Or an iterator: `for v in x.iter()`, `for (i, v) in x.iter().enumerate()`, ...
        let iter = if self.family == Family::Flow && self.rng.chance(0.4) {
            let pad = self.pad();
            self.iter_loop_head(&pad)
        } else {
            None
        };
        let calls_made = self.calls_made;
        // A local array declared before the loop (or inside it) and overwritten in every
        // iteration.
        let mut before = Vec::new();
        let mut head = Vec::new();
        let array_len = self.rng.range(2, 4);
        let array_name = if array {
            self.mark("local_array_in_loop");
            let name = self.fresh("h");
            Some(name)
        } else {
            None
        };
        let inside = array && self.rng.chance(0.3);
        // Inside the loop body, the array is one block deeper; after an early `return`, the rest
        // of the function is as if in a branch.
        let decl_depth = self.depth + usize::from(inside) + usize::from(self.returned);
        if let Some(h) = &array_name
            && !inside
        {
            self.line(
                &mut before,
                &format!("let mut {h} = [{}; {array_len}];", lit(0.0)),
            );
            self.writable.push((h.clone(), self.loops));
        }
        self.loops += 1;
        let trips = self.trips;
        let (entry, trip_count) = match &iter {
            Some((_, c, _, n)) => (c.clone(), *n),
            None => (
                Some(Counter {
                    name: counter.clone(),
                    below,
                }),
                below,
            ),
        };
        self.trips *= trip_count.max(1) as f64;
        self.indent += 1;
        let nc = self.counters.len();
        self.counters.extend(entry.clone());
        let ni = self.items.len();
        if let Some((_, _, items, _)) = &iter {
            self.items.extend(items.iter().cloned());
        }
        let na = self.arrays.len();
        let ns = self.scalars.len();
        if self.rng.chance(0.2) {
            self.mark("continue");
            let c = self.condition();
            self.line(&mut head, &format!("if {c} {{"));
            self.line(&mut head, "    continue;");
            self.line(&mut head, "}");
        }
        if let Some(h) = &array_name {
            if inside {
                self.line(
                    &mut head,
                    &format!("let mut {h} = [{}; {array_len}];", lit(0.0)),
                );
                self.in_loop_arrays.push(h.clone());
                self.writable.push((h.clone(), self.loops));
            }
            if self.rng.chance(0.5) {
                let j = self.fresh("j");
                self.counters.push(Counter {
                    name: j.clone(),
                    below: array_len,
                });
                let e = self.small(2, 4.0);
                // Contents that depend on an input (a constant array passed whole to a call
                // may not compile, see README).
                let e = self.receiver(e);
                self.counters.pop();
                self.line(&mut head, &format!("for {j} in 0..{array_len} {{"));
                self.line(&mut head, &format!("    {h}[{j}] = {};", e.s));
                self.line(&mut head, "}");
            } else {
                for j in 0..array_len {
                    let e = self.small(2, 4.0);
                    let e = self.receiver(e);
                    self.line(&mut head, &format!("{h}[{j}] = {};", e.s));
                }
            }
            self.arrays.push(Arr {
                name: h.clone(),
                len: array_len,
                bound: 4.0,
                kind: ArrKind::Local,
                depth: decl_depth,
            });
            self.filled.push(h.clone());
            // Read it whole, through a call, or element by element.
            let read = self.rng.below(3);
            let call = match read {
                0 => self.call_array(Some(h)),
                1 => self.call_slice_of(h),
                _ => None,
            };
            let accs = self.accumulators();
            let acc = self.scalars[accs[self.rng.below(accs.len())]].name.clone();
            if let Some(call) = call {
                self.mark_call_context();
                let call = self.tame(call, CAP);
                self.line(&mut head, &format!("{acc} += {};", call.s));
            } else {
                let terms: Vec<String> = (0..array_len).map(|j| format!("{h}[{j}]")).collect();
                self.line(&mut head, &format!("{acc} += {};", terms.join(" * ")));
            }
            let i = accs[0];
            self.scalars[i].bound += self.trips * 64.0 + CAP;
            // The array, filled, then written (or updated in place) by a call.
            if self.calls && self.on("buffer_existing_array") && self.rng.chance(0.2) {
                let a = Arr {
                    name: h.clone(),
                    len: array_len,
                    bound: 4.0,
                    kind: ArrKind::Local,
                    depth: decl_depth,
                };
                if self.buffer_call(&mut head, Some(&a)) {
                    self.mark("buffer_existing_array");
                }
            }
        }
        // A buffer declared before the loop and written by a call in every iteration (as a
        // mixture model's objective writes each centred row into one buffer).
        let mut buffer = None;
        if self.calls
            && self.on("buffer_overwritten_in_loop")
            && !self.arrays.is_empty()
            && self.rng.chance(0.15)
        {
            let m = self.rng.range(2, 3);
            self.loops -= 1;
            self.indent -= 1;
            let b = self.new_buffer(&mut before, m, false);
            self.loops += 1;
            self.indent += 1;
            if b.kind == ArrKind::Buffer && self.on("buffer_vec_read_first") {
                // What the call wrote in the iteration before, read before the call (a known
                // bug: the buffer's element type is ambiguous in the expansion until the call).
                self.mark("buffer_vec_read_first");
                let accs = self.accumulators();
                let i = accs[self.rng.below(accs.len())];
                let acc = self.scalars[i].name.clone();
                let j = self.rng.below(m);
                self.line(&mut head, &format!("{acc} += {}[{j}].tanh();", b.name));
                self.scalars[i].bound += self.trips;
            }
            // Not read before the call writes it (`vec!` buffers: `buffer_vec_read_first`).
            let made = self.buffer_call(&mut head, Some(&b));
            debug_assert!(made, "an array is in scope");
            self.arrays.push(b.clone());
            self.filled.push(b.name.clone());
            buffer = Some(b.name);
        }
        if self.rng.chance(0.15) {
            self.mark("break");
            let c = self.condition();
            self.line(&mut head, &format!("if {c} {{"));
            self.line(&mut head, "    break;");
            self.line(&mut head, "}");
        }
        let budget = self.rng.range(1, 2);
        self.indent -= 1;
        let mut body = self.nested(budget);
        self.indent += 1;
        // At least one call per loop in some programs, and an update of an accumulator.
        if self.calls && self.rng.chance(0.4) {
            let call = self.call_expr(1);
            let call = self.tame(call, CAP);
            let accs = self.accumulators();
            let acc = self.scalars[accs[self.rng.below(accs.len())]].name.clone();
            self.line(&mut body, &format!("{acc} += {};", call.s));
        }
        self.update_on(&mut body, 2, true);
        if iter.is_none() {
            // The counter as a view's offset, if the loop reads it anyway (an unread one is `_`).
            let used = head.iter().chain(&body).any(|l| mentions(l, &counter));
            let c = Counter {
                name: counter.clone(),
                below,
            };
            self.extra_statement(&mut body, used.then_some(c.clone()), 0.12);
            self.extra_int_methods(&mut body, used.then_some(c.clone()), 0.08);
            self.extra_real(&mut body, used.then_some(c), 0.08);
        }
        if let Some((_, entry, items, _)) = &iter {
            // Every item and the `enumerate` counter are read.
            let text = head
                .iter()
                .chain(&body)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n");
            let mut missing = Vec::new();
            let mut bound = 0.0;
            for it in items {
                if !mentions(&text, &it.name) {
                    let r = it.reads[self.rng.below(it.reads.len())].clone();
                    bound += r.bound;
                    missing.push(r.s);
                }
            }
            if let Some(c) = entry
                && !mentions(&text, &c.name)
            {
                bound += c.below as f64 * 0.25;
                missing.push(format!(
                    "{} * {}",
                    cst(&format!("{} as f64", c.name)),
                    lit(0.25)
                ));
            }
            if !missing.is_empty() {
                let e = E {
                    s: missing.join(" + "),
                    bound,
                    atom: false,
                    var: true,
                };
                self.update_with(&mut body, &e);
            }
            if array_name.is_some() {
                self.mark("iter_loop_local_array");
            }
            if self.calls_made > calls_made {
                self.mark("iter_loop_call");
            }
        }
        self.items.truncate(ni);
        self.in_loop_arrays
            .retain(|n| Some(n) != array_name.as_ref());
        self.filled
            .retain(|n| Some(n) != array_name.as_ref() && Some(n) != buffer.as_ref());
        self.counters.truncate(nc);
        self.arrays.truncate(na);
        self.scalars.truncate(ns);
        self.indent -= 1;
        self.trips = trips;
        self.loops -= 1;
        let used = head.iter().chain(&body).any(|l| mentions(l, &counter));
        let counter = if used { counter } else { "_".to_owned() };
        lines.extend(before);
        if let Some((head, ..)) = &iter {
            self.line(lines, head);
        } else {
            self.line(lines, &format!("for {counter} in {range} {{"));
        }
        lines.extend(head);
        lines.extend(body);
        self.line(lines, "}");
        // The array's last contents, passed whole after the loop.
        if let Some(h) = array_name
            && !inside
            && self.rng.chance(0.4)
        {
            self.arrays.push(Arr {
                name: h.clone(),
                len: array_len,
                bound: 4.0,
                kind: ArrKind::Local,
                depth: decl_depth,
            });
            if let Some(call) = self.call_slice_of(&h) {
                self.mark_call_context();
                let call = self.tame(call, CAP);
                self.update_with(lines, &call);
            }
            self.arrays.pop();
        }
    }

    /// `acc += e;` on the innermost accumulator.
    fn update_with(&mut self, lines: &mut Vec<String>, e: &E) {
        let accs = self.accumulators();
        let i = accs[accs.len() - 1];
        let name = self.scalars[i].name.clone();
        self.line(lines, &format!("{name} += {};", e.s));
        self.scalars[i].bound += self.trips * e.bound;
    }

    fn call_slice_of(&mut self, h: &str) -> Option<E> {
        let a = self.arrays.iter().find(|a| a.name == h)?.clone();
        if self.rng.chance(0.5) {
            let arg = self.whole_array_arg(&a, true, true)?;
            self.mark("call_hand_slice");
            return Some(E {
                s: format!("hand_norm({arg})"),
                bound: 1.0 + 4.0 * (a.len as f64).sqrt(),
                atom: true,
                var: true,
            });
        }
        let arg = self.whole_array_arg(&a, true, false)?;
        let k = self.helper_of(HelperKind::Slice);
        let s = self.small(1, 2.0);
        self.mark("call_slice");
        Some(E {
            s: format!("{}({arg}, {})", self.helpers[k].name, s.s),
            bound: self.helpers[k].bound.max(100.0),
            atom: true,
            var: true,
        })
    }

    /// The body of a `while` or `loop`: an integer counter, statements and an update.
    fn counted_body(&mut self, counter: &str, below: usize) -> Vec<String> {
        self.loops += 1;
        let trips = self.trips;
        self.trips *= below as f64;
        self.counters.push(Counter {
            name: counter.to_owned(),
            below,
        });
        let budget = self.rng.range(1, 2);
        let mut body = self.nested(budget);
        self.indent += 1;
        self.update_on(&mut body, 2, true);
        self.indent -= 1;
        self.counters.pop();
        self.trips = trips;
        self.loops -= 1;
        body
    }

    fn while_loop(&mut self, lines: &mut Vec<String>) {
        if self.has_params {
            self.mark("params_with_counted_loop");
        }
        if self.rng.chance(0.5) {
            self.mark("while");
            if self.rng.chance(0.5) {
                self.new_accumulator(lines);
            }
            let j = self.fresh("j");
            let n = self.rng.range(1, 4);
            self.line(lines, &format!("let mut {j} = 0;"));
            // From a fork of the second stream, the same loop printed as Rust's do-while, its
            // step in the condition with an assignment of an accumulator: no draw changes.
            let accs = self.accumulators();
            if self.on("while_condition_block")
                && let Some(&acc) = accs.last()
                && Rng(self.extra.0 ^ 0xD0_3417_E000_0001 ^ self.fresh as u64).chance(0.4)
            {
                self.mark("while_condition_block");
                let a = self.scalars[acc].name.clone();
                self.line(lines, "while {");
                self.line(lines, &format!("    {j} += 1;"));
                self.line(
                    lines,
                    &format!("    {a} = {a} * {} + {} * {a}.sin();", lit(0.75), lit(0.25)),
                );
                self.line(lines, &format!("    {j} <= {n}"));
                self.line(lines, "} {");
            } else {
                self.line(lines, &format!("while {j} < {n} {{"));
                self.line(lines, &format!("    {j} += 1;"));
            }
            let body = self.counted_body(&j, n + 1);
            lines.extend(body);
            self.line(lines, "}");
        } else {
            // A trip count that depends on the values: `t` grows by at least 0.25 a step.
            self.mark("while_float_condition");
            let t = self.fresh("s");
            let g = self.fresh("j");
            let step = self.small(1, 2.0);
            let step = self.receiver(step);
            let o = step.operand();
            let limit = lit(self.rng.pick(&[1.0, 2.0, 3.0]));
            self.line(lines, &format!("let mut {t}: {TY} = {};", lit(0.0)));
            self.line(lines, &format!("let mut {g} = 0;"));
            self.line(lines, &format!("while {t} < {limit} && {g} < 6 {{"));
            self.line(lines, &format!("    {g} += 1;"));
            self.line(lines, &format!("    {t} += {o} * {o} + {};", lit(0.25)));
            self.scalars.push(Scalar {
                name: t.clone(),
                bound: 20.0,
                acc: Some(self.loops),
            });
            let body = self.counted_body(&g, 7);
            lines.extend(body);
            self.line(lines, "}");
        }
    }

    fn loop_break(&mut self, lines: &mut Vec<String>) {
        if self.has_params {
            self.mark("params_with_counted_loop");
        }
        self.mark("loop_break");
        let j = self.fresh("j");
        let n = self.rng.range(1, 4);
        self.line(lines, &format!("let mut {j} = 0;"));
        self.line(lines, "loop {");
        self.line(lines, &format!("    {j} += 1;"));
        let body = self.counted_body(&j, n + 1);
        lines.extend(body);
        self.loops += 1;
        self.counters.push(Counter {
            name: j.clone(),
            below: n + 1,
        });
        let c = self.condition();
        self.counters.pop();
        self.loops -= 1;
        self.line(lines, &format!("    if {j} >= {n} || {c} {{"));
        self.line(lines, "        break;");
        self.line(lines, "    }");
        self.line(lines, "}");
    }

    fn early_return(&mut self, lines: &mut Vec<String>) {
        self.returned = true;
        if self.loops > 0 {
            self.mark("early_return_in_loop");
        } else {
            self.mark("early_return");
        }
        let c = self.condition();
        let e = self.expr(2);
        let accs = self.accumulators();
        let acc = self.scalars[accs[0]].clone();
        let a = self.read_scalar(&acc);
        let value = format!("{} + {}", a.s, e.operand());
        let value = if self.outputs.is_empty() {
            value
        } else {
            self.output_value(value)
        };
        self.line(lines, &format!("if {c} {{"));
        self.line(lines, &format!("    return {value};"));
        self.line(lines, "}");
    }

    fn long_sum(&mut self, lines: &mut Vec<String>) {
        // The families `m<i>` and `h<i>` have fewer programs: they draw the rarer long sum more
        // often.
        let chance = if self.family == Family::Flow {
            0.3
        } else {
            0.6
        };
        let over = self.on("long_sum_over_256") && self.rng.chance(chance);
        let n = if over {
            self.mark("long_sum_over_256");
            self.rng.range(257, 600)
        } else {
            self.mark("long_sum");
            self.rng.range(20, 120)
        };
        let mut terms = Vec::with_capacity(n);
        for _ in 0..n {
            let e = self.var_leaf();
            let e = self.tame(e, 4.0);
            let c = lit(self.rng.pick(&[0.5, 0.25, 1.5, 0.75, 2.0]));
            terms.push(match self.rng.below(3) {
                0 => format!("{c} * {}", e.operand()),
                1 => format!("{}.sin()", e.operand()),
                _ => e.operand(),
            });
        }
        let name = self.fresh("t");
        self.line(lines, &format!("let {name} = {};", terms.join(" + ")));
        self.scalars.push(Scalar {
            name,
            bound: 8.0 * n as f64,
            acc: None,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Iterators
//
// Each iterator form is printed over `f64` as written (`x.iter().rev().skip(1)`), and in the
// oracles as the same iteration by index (`for j in 0..x.len().saturating_sub(1) { let v =
// x[x.len() - 1 - (j + 1)]; .. }`), so that the oracles never run an iterator the macro lowered.

/// What an iterator yields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// `&f64`.
    Elem,
    /// `windows(k)`.
    Window(usize),
    /// `chunks_exact(k)`.
    Chunk(usize),
}

/// An iterator over an array in scope, with the same iteration by index.
#[derive(Clone)]
struct Chain {
    /// The iterator as printed over `f64`.
    text: String,
    /// The number of items, as printed in the oracles.
    count: String,
    /// The number of items.
    n: usize,
    /// The position of item `@` in the array (the first element of a window; the number of a
    /// chunk).
    index: String,
    arr: Arr,
    unit: Unit,
}

/// `e.method` with `e` parenthesized if needed.
fn call_on(e: &str, method: &str) -> String {
    if e.contains(' ') {
        format!("({e}).{method}")
    } else {
        format!("{e}.{method}")
    }
}

/// `s` without parentheses around the whole of it.
fn unwrap_parens(s: String) -> String {
    let Some(inner) = s.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return s;
    };
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return s;
        }
    }
    inner.to_owned()
}

impl Chain {
    /// The index into the array of element `r` of item `t`.
    fn at(&self, t: &str, r: usize) -> String {
        let i = unwrap_parens(self.index.replace('@', t));
        let base = match self.unit {
            Unit::Chunk(k) if i.contains(' ') => format!("({i}) * {k}"),
            Unit::Chunk(k) => format!("{i} * {k}"),
            _ => i,
        };
        if r == 0 {
            base
        } else {
            format!("{base} + {r}")
        }
    }

    /// The oracles' binding of item `t` to `name` (a reference for `by_ref`).
    fn bind(&self, name: &str, t: &str, by_ref: bool) -> String {
        let a = &self.arr.name;
        match self.unit {
            Unit::Elem => {
                let amp = if by_ref { "&" } else { "" };
                format!("let {name} = {amp}{a}[{}];", self.at(t, 0))
            }
            Unit::Window(k) | Unit::Chunk(k) => {
                let xs: Vec<String> = (0..k).map(|r| format!("{a}[{}]", self.at(t, r))).collect();
                format!("let {name} = [{}];", xs.join(", "))
            }
        }
    }

    /// The reads of an item bound to `name` (`*v` for a reference).
    fn reads(&self, name: &str, by_ref: bool) -> Vec<E> {
        match self.unit {
            Unit::Elem => vec![E {
                s: if by_ref {
                    format!("*{name}")
                } else {
                    name.to_owned()
                },
                bound: self.arr.bound,
                atom: !by_ref,
                var: true,
            }],
            Unit::Window(k) | Unit::Chunk(k) => (0..k)
                .map(|r| E {
                    s: format!("{name}[{r}]"),
                    bound: self.arr.bound,
                    atom: true,
                    var: true,
                })
                .collect(),
        }
    }
}

/// How a loop or chain takes a second array along (`zip`) or numbers its items (`enumerate`).
enum With {
    Nothing,
    Enumerate(String),
    Zip(Chain, String),
}

impl Gen<'_> {
    /// The arrays that can be iterated over.
    fn iterables(&self) -> Vec<Arr> {
        self.arrays.iter().chain(&self.short).cloned().collect()
    }

    fn pick_iterable(&mut self) -> Option<Arr> {
        let all = self.iterables();
        if all.is_empty() {
            return None;
        }
        // The short slices are drawn often: they make the empty iterations.
        if !self.short.is_empty() && self.rng.chance(0.3) {
            return Some(self.short[self.rng.below(self.short.len())].clone());
        }
        Some(all[self.rng.below(all.len())].clone())
    }

    /// `arr.iter()`, `arr.windows(k)` or `arr.chunks_exact(k)`.
    fn chain_source(&mut self, arr: &Arr, unit: Unit, in_loop: bool) -> Chain {
        let name = &arr.name;
        let (text, count, n) = match unit {
            Unit::Elem => (format!("{name}.iter()"), format!("{name}.len()"), arr.len),
            Unit::Window(k) => {
                self.mark(if in_loop {
                    "for_windows"
                } else {
                    "iter_windows"
                });
                if arr.kind.local() && arr.len < k {
                    self.mark("window_longer_than_local_array");
                }
                (
                    format!("{name}.windows({k})"),
                    format!("{name}.len().saturating_sub({})", k - 1),
                    arr.len.saturating_sub(k - 1),
                )
            }
            Unit::Chunk(k) => {
                if arr.kind.local() && arr.len < k {
                    self.mark("window_longer_than_local_array");
                }
                self.mark(if in_loop {
                    "for_chunks_exact"
                } else {
                    "iter_chunks_exact"
                });
                (
                    format!("{name}.chunks_exact({k})"),
                    format!("{name}.len() / {k}"),
                    arr.len / k,
                )
            }
        };
        Chain {
            text,
            count,
            n,
            index: "@".to_owned(),
            arr: arr.clone(),
            unit,
        }
    }

    fn draw_unit(&mut self, arr: &Arr) -> Unit {
        match self.rng.weighted(&[5, 2, 2]) {
            0 => Unit::Elem,
            1 => Unit::Window(self.window(arr)),
            _ => Unit::Chunk(self.window(arr)),
        }
    }

    /// The size of a window or chunk over `arr`: 2 or 3, not longer than a local array unless
    /// `window_longer_than_local_array` is on (a known bug).
    fn window(&mut self, arr: &Arr) -> usize {
        let k = self.rng.range(2, 3);
        if arr.kind.local() && arr.len < k && !self.on("window_longer_than_local_array") {
            arr.len
        } else {
            k
        }
    }

    /// Up to `max` of `rev`, `skip(m)`, `take(m)`, `step_by(k)`.
    fn adapters(&mut self, c: &mut Chain, max: usize) {
        for _ in 0..max {
            if !self.rng.chance(0.45) {
                break;
            }
            match self.rng.below(4) {
                0 => {
                    self.mark("iter_rev");
                    c.text.push_str(".rev()");
                    c.index = c.index.replace('@', &format!("({} - 1 - @)", c.count));
                }
                1 => {
                    let m = self.rng.range(1, 3);
                    if c.arr.kind == ArrKind::Buffer && m >= c.n {
                        // Once a bug: an empty range left in the expansion.
                        if !self.on("skip_past_vec_buffer") {
                            continue;
                        }
                        self.mark("skip_past_vec_buffer");
                    }
                    self.mark("iter_skip");
                    let _ = write!(c.text, ".skip({m})");
                    c.index = c.index.replace('@', &format!("(@ + {m})"));
                    c.count = call_on(&c.count, &format!("saturating_sub({m})"));
                    c.n = c.n.saturating_sub(m);
                }
                2 => {
                    self.mark("iter_take");
                    let m = self.rng.range(1, 3);
                    let _ = write!(c.text, ".take({m})");
                    c.count = call_on(&c.count, &format!("min({m})"));
                    c.n = c.n.min(m);
                }
                _ => {
                    self.mark("iter_step_by");
                    let k = self.rng.range(2, 3);
                    let _ = write!(c.text, ".step_by({k})");
                    c.index = c.index.replace('@', &format!("(@ * {k})"));
                    c.count = call_on(&c.count, &format!("div_ceil({k})"));
                    c.n = c.n.div_ceil(k);
                }
            }
        }
    }

    /// `.zip(..)` after `c`: a second array, by `iter()`, `&y` or `y` (a reference already).
    fn zip(&mut self, c: &mut Chain, in_loop: bool) -> Option<With> {
        let y = self.pick_iterable()?;
        self.mark(if in_loop { "for_zip" } else { "iter_zip" });
        let arg = match (self.rng.below(2), y.kind) {
            (0, _) => format!("{}.iter()", y.name),
            (_, ArrKind::Array | ArrKind::Local | ArrKind::Buffer) => format!("&{}", y.name),
            _ => y.name.clone(),
        };
        let _ = write!(c.text, ".zip({arg})");
        c.count = call_on(&c.count, &format!("min({}.len())", y.name));
        c.n = c.n.min(y.len);
        let second = self.chain_source(&y, Unit::Elem, in_loop);
        Some(With::Zip(second, self.fresh("u")))
    }

    /// `.enumerate()` or `.zip(..)` after `c` (each with chance `p`), or nothing.
    fn with(&mut self, c: &mut Chain, p: f64) -> With {
        if self.rng.chance(p) {
            self.mark("iter_enumerate");
            c.text.push_str(".enumerate()");
            return With::Enumerate(self.fresh("i"));
        }
        if c.unit == Unit::Elem
            && self.rng.chance(p / (1.0 - p))
            && let Some(w) = self.zip(c, false)
        {
            return w;
        }
        With::Nothing
    }

    /// Reads of `items` added to `e` where `e` does not read them; `i as f64` if `counter` is
    /// not read.
    fn read_all(&mut self, mut e: E, items: &[Item], counter: Option<&str>) -> E {
        for it in items {
            if !mentions(&e.s, &it.name) {
                let r = it.reads[self.rng.below(it.reads.len())].clone();
                e = E {
                    s: format!("{} + {}", e.s, r.s),
                    bound: e.bound + r.bound,
                    atom: false,
                    var: true,
                };
            }
        }
        if let Some(i) = counter
            && !mentions(&e.s, i)
        {
            e = E {
                s: format!("{} + {} * {}", e.s, cst(&format!("{i} as f64")), lit(0.25)),
                bound: e.bound + 2.0,
                atom: false,
                var: true,
            };
        }
        e
    }

    /// A closure's body over `items` (and `counter`), bounded by `limit`, reading all of them.
    fn item_body(&mut self, items: &[Item], counter: Option<(&str, usize)>, limit: f64) -> E {
        let (ni, nc) = (self.items.len(), self.counters.len());
        self.items.extend(items.iter().cloned());
        if let Some((name, below)) = counter {
            self.counters.push(Counter {
                name: name.to_owned(),
                below,
            });
        }
        let calls = self.calls;
        self.calls = calls && self.on("call_in_closure");
        let made = self.calls_made;
        let e = self.small(2, limit);
        if self.calls_made > made {
            self.mark("call_in_closure");
        }
        self.calls = calls;
        let mut e = self.read_all(e, items, counter.map(|c| c.0));
        if items.iter().any(|it| it.reads.iter().any(|r| r.s == e.s)) {
            // Not the identity (`|&v| v` is `copied()`).
            let f = self.rng.pick(&["sin", "tanh", "atan"]);
            e = E {
                s: format!("{}.{f}()", e.s),
                bound: 1.6,
                atom: true,
                var: true,
            };
        }
        let e = self.tame(e, limit);
        self.items.truncate(ni);
        self.counters.truncate(nc);
        e
    }

    /// A chain ending in `sum`, `product` or `fold`: over `f64` the iterator chain, in the oracles
    /// a block with the index loop. Lines to print before the statement (a closure bound with
    /// `let`) go to `pre`.
    fn chain_expr(
        &mut self,
        arr: Option<Arr>,
        annotated: bool,
        pre: &mut Vec<String>,
    ) -> Option<E> {
        let arr = match arr {
            Some(a) => a,
            None => self.pick_iterable()?,
        };
        let unit = self.draw_unit(&arr);
        let mut c = self.chain_source(&arr, unit, false);
        self.adapters(&mut c, 2);
        let with = self.with(&mut c, 0.2);
        if c.n == 0 {
            self.mark("iter_empty");
        }
        let t = match &with {
            With::Enumerate(i) => i.clone(),
            _ => self.fresh("j"),
        };
        let v = self.fresh(if unit == Unit::Elem { "v" } else { "w" });
        // The items: the element (by value, `|&v|`) or the window, and the zipped element.
        let mut items = vec![Item {
            name: v.clone(),
            reads: c.reads(&v, false),
        }];
        let mut binds = vec![c.bind(&v, &t, false)];
        let v_pat = if unit == Unit::Elem {
            format!("&{v}")
        } else {
            v.clone()
        };
        let (pat, counter) = match &with {
            With::Nothing => (v_pat, None),
            With::Enumerate(i) => (format!("({i}, {v_pat})"), Some((i.as_str(), c.n))),
            With::Zip(y, u) => {
                items.push(Item {
                    name: u.clone(),
                    reads: y.reads(u, false),
                });
                binds.push(y.bind(u, &t, false));
                (format!("({v_pat}, &{u})"), None)
            }
        };
        let terminal = self.rng.weighted(&[5, 2, 3]);
        let plain = matches!(with, With::Nothing) && unit == Unit::Elem;
        let (n, pad) = (c.n.max(1) as f64, self.pad());
        let acc = self.fresh("s");
        let (iter_text, update, init, bound) = if terminal < 2 {
            let product = terminal == 1;
            self.mark(if product { "iter_product" } else { "iter_sum" });
            let (method, op, init) = if product {
                ("product", "*=", lit(1.0))
            } else {
                ("sum", "+=", cst("-0.0"))
            };
            let turbofish = if annotated && self.rng.chance(0.5) {
                String::new()
            } else {
                "::<f64>".to_owned()
            };
            if plain && self.rng.chance(0.2) {
                // No `map`: the sum or product of the elements themselves.
                let bound = if product {
                    arr.bound.max(1.0).powf(n)
                } else {
                    n * arr.bound
                };
                (
                    format!("{}.{method}{turbofish}()", c.text),
                    format!("{acc} {op} {v};"),
                    init,
                    bound,
                )
            } else {
                self.mark("iter_map");
                let limit = if product { 1.5 } else { 4.0 };
                let body = self.item_body(&items, counter, limit);
                let closure = if plain && self.rng.chance(0.3) {
                    // A closure bound with `let`, capturing a value in scope.
                    self.mark("closure_let");
                    let f = self.fresh("f");
                    let captured = self.var_leaf();
                    let captured = self.tame(captured, 2.0);
                    let text = format!("{} * {}", body.operand(), captured.operand());
                    pre.push(format!(
                        "{pad}{}",
                        split(&format!("let {f} = |{v}: f64| {text};"), "")
                    ));
                    let body = E {
                        s: text,
                        bound: body.bound * captured.bound,
                        atom: false,
                        var: true,
                    };
                    (format!("|&{v}| {f}({v})"), body)
                } else {
                    (format!("|{pat}| {}", body.s), body)
                };
                let (closure, body) = closure;
                let bound = if product {
                    body.bound.max(1.0).powf(n)
                } else {
                    n * body.bound
                };
                (
                    format!("{}.map({closure}).{method}{turbofish}()", c.text),
                    format!("{acc} {op} {};", body.s),
                    init,
                    bound,
                )
            }
        } else {
            self.mark("iter_fold");
            let init = self.small(1, 2.0);
            let init = self.receiver(init);
            let body = self.item_body(&items, counter, 4.0);
            let (step, bound) = if self.rng.chance(0.5) {
                let k = self.rng.pick(&[0.5, 0.75]);
                (
                    format!("{acc} * {} + {}", lit(k), body.s),
                    init.bound + body.bound / (1.0 - k),
                )
            } else {
                (format!("({acc} + {}).tanh()", body.s), init.bound.max(1.0))
            };
            (
                format!("{}.fold({}, |{acc}, {pat}| {step})", c.text, init.s),
                format!("{acc} = {step};"),
                init.s,
                bound,
            )
        };
        let mut index = format!(
            "{{\n{pad}    let mut {acc} = {init};\n{pad}    for {t} in 0..{} {{\n",
            c.count
        );
        for b in &binds {
            let _ = writeln!(index, "{pad}        {b}");
        }
        let _ = write!(
            index,
            "{pad}        {update}\n{pad}    }}\n{pad}    {acc}\n{pad}}}"
        );
        Some(E {
            s: split(&iter_text, &index),
            bound,
            atom: true,
            var: true,
        })
    }

    /// `let t = <chain>;`, `acc += <chain>;` or `let h = b.map(|v| ..);`.
    fn iter_statement(&mut self, lines: &mut Vec<String>) {
        let arrays: Vec<Arr> = self
            .arrays
            .iter()
            .filter(|a| matches!(a.kind, ArrKind::Array | ArrKind::Local))
            .cloned()
            .collect();
        if !arrays.is_empty() && self.rng.chance(0.15) {
            let b = arrays[self.rng.below(arrays.len())].clone();
            self.array_map(lines, &b);
            return;
        }
        // `let t = ..;` (annotated or not: `let t: f64 = x.iter().sum();`) or `acc += ..;`.
        let binding = self.rng.chance(0.5);
        let annotated = binding && self.rng.chance(0.4);
        let mut pre = Vec::new();
        let Some(e) = self.chain_expr(None, annotated, &mut pre) else {
            return;
        };
        // A closure bound with `let` goes on the same line (read checks look past the line).
        let pad = self.pad();
        let mut text = String::new();
        for l in &pre {
            text.push_str(l);
            text.push('\n');
        }
        if binding {
            let name = self.fresh("t");
            let ty = if annotated {
                format!(": {TY}")
            } else {
                String::new()
            };
            let _ = write!(text, "{pad}let {name}{ty} = {};", e.s);
            self.scalars.push(Scalar {
                name,
                bound: e.bound,
                acc: None,
            });
        } else {
            let e = self.tame(e, CAP);
            let accs = self.accumulators();
            let i = accs[self.rng.below(accs.len())];
            let name = self.scalars[i].name.clone();
            let _ = write!(text, "{pad}{name} += {};", e.s);
            self.scalars[i].bound += self.trips * e.bound;
        }
        lines.push(text);
    }

    /// `let h = b.map(|v| ..);` on an array by value, read at once.
    fn array_map(&mut self, lines: &mut Vec<String>, b: &Arr) {
        self.mark("array_map");
        let h = self.fresh("h");
        let v = self.fresh("v");
        let item = Item {
            name: v.clone(),
            reads: vec![E {
                s: v.clone(),
                bound: b.bound,
                atom: true,
                var: true,
            }],
        };
        let body = self.item_body(std::slice::from_ref(&item), None, 2.0);
        let pad = self.pad();
        let j = self.fresh("j");
        let index = format!(
            "let mut {h} = [{}; {}];\n{pad}for {j} in 0..{} {{\n{pad}    let {v} = {}[{j}];\n{pad}    {h}[{j}] = {};\n{pad}}}",
            lit(0.0),
            b.len,
            b.len,
            b.name,
            body.s
        );
        let iter = if self.rng.chance(0.3) {
            self.mark("closure_let");
            let f = self.fresh("f");
            format!(
                "let {f} = |{v}: f64| {};\n{pad}let {h} = {}.map({f});",
                body.s, b.name
            )
        } else {
            format!("let {h} = {}.map(|{v}| {});", b.name, body.s)
        };
        self.line(lines, &split(&iter, &index));
        let terms: Vec<String> = (0..b.len).map(|r| format!("{h}[{r}]")).collect();
        let read = E {
            s: terms.join(" * "),
            bound: body.bound.powi(b.len as i32),
            atom: false,
            var: true,
        };
        self.update_with(lines, &read);
        self.arrays.push(Arr {
            name: h,
            len: b.len,
            bound: body.bound,
            kind: ArrKind::Local,
            depth: self.depth + usize::from(self.returned),
        });
    }

    /// The head of an iterator `for` loop: the `f64` text and the oracles' (`for j in 0..n {` and
    /// the bindings of the items, indented by `pad`), the enumerate counter, the items and the
    /// number of trips.
    fn iter_loop_head(&mut self, pad: &str) -> Option<(String, Option<Counter>, Vec<Item>, usize)> {
        let arr = self.pick_iterable()?;
        let form = self.rng.weighted(&[3, 2, 2, 2, 2, 1]);
        let unit = match form {
            4 => Unit::Window(self.window(&arr)),
            5 => Unit::Chunk(self.window(&arr)),
            _ => Unit::Elem,
        };
        let mut c = self.chain_source(&arr, unit, true);
        // Iterated as a reference (`for v in &h`, `for v in a` for a slice).
        let by_ref = form == 1;
        if by_ref {
            let (text, shape) = match arr.kind {
                ArrKind::Array | ArrKind::Local | ArrKind::Buffer => {
                    (format!("&{}", arr.name), "for_ref")
                }
                _ => (arr.name.clone(), "for_slice_ref"),
            };
            self.mark(shape);
            c.text = text;
        } else {
            if form == 0 {
                self.mark("for_iter");
            }
            self.adapters(&mut c, if form == 0 { 2 } else { 1 });
        }
        let with = match form {
            2 => {
                self.mark("for_enumerate");
                c.text.push_str(".enumerate()");
                With::Enumerate(self.fresh("i"))
            }
            3 => self.zip(&mut c, true)?,
            _ => With::Nothing,
        };
        if c.n == 0 {
            self.mark("iter_empty");
        }
        let t = match &with {
            With::Enumerate(i) => i.clone(),
            _ => self.fresh("j"),
        };
        let v = self.fresh(if unit == Unit::Elem { "v" } else { "w" });
        let elem_ref = unit == Unit::Elem;
        let mut items = vec![Item {
            name: v.clone(),
            reads: c.reads(&v, elem_ref),
        }];
        let mut binds = vec![c.bind(&v, &t, elem_ref)];
        let (pat, counter) = match &with {
            With::Nothing => (v.clone(), None),
            With::Enumerate(i) => (
                format!("({i}, {v})"),
                Some(Counter {
                    name: i.clone(),
                    below: c.n,
                }),
            ),
            With::Zip(y, u) => {
                items.push(Item {
                    name: u.clone(),
                    reads: y.reads(u, true),
                });
                binds.push(y.bind(u, &t, true));
                (format!("({v}, {u})"), None)
            }
        };
        let mut index = format!("for {t} in 0..{} {{", c.count);
        for b in &binds {
            let _ = write!(index, "\n{pad}    {b}");
        }
        let head = split(&format!("for {pat} in {} {{", c.text), &index);
        Some((head, counter, items, c.n))
    }
}

// ---------------------------------------------------------------------------------------------
// Programs

/// A generated program with its helpers.
pub struct FlowProgram {
    name: String,
    /// Helpers then the function, marked (see [`render`]), without the attribute of the function.
    helpers: String,
    function: String,
    attr: String,
    params: Vec<Param>,
    shapes: BTreeSet<&'static str>,
    /// The constant `Params`, if the function takes one.
    constants: (f64, f64, usize, i32),
    points: Vec<(Vec<f64>, Vec<i64>)>,
}

/// Generates program `index` from its own stream.
pub fn generate(index: usize, seed: u64, enabled: &Enabled) -> FlowProgram {
    let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F) ^ 0xF10F);
    rng.next();
    let name = format!("q{index}");
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
        params.push(Param {
            name: "b".to_owned(),
            kind: if rng.chance(0.5) {
                ParamKind::Array(len)
            } else {
                ParamKind::RefArray(len)
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
    if rng.chance(0.35) {
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
    if enabled.on("short_slice") && rng.chance(0.2) {
        // A slice of 0 to 2 elements, only iterated over: shorter than some windows and chunks.
        params.push(Param {
            name: "e".to_owned(),
            kind: ParamKind::Slice(rng.range(0, 2)),
        });
    }
    rng.shuffle(&mut params);

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
        family: Family::Flow,
        outputs: Vec::new(),
        items: Vec::new(),
        short: Vec::new(),
        calls_made: 0,
        several: Vec::new(),
        filled: Vec::new(),
        writable: Vec::new(),
        top_buffers: Vec::new(),
        extra: Rng(seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0x71E3),
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
    // From the second stream, so that the first stream draws the same programs: a float
    // parameter written `_` and an array bound by a pattern, where no `wrt` list (which cannot
    // name them) is written.
    if !params.iter().any(|p| p.kind == ParamKind::Inactive) {
        if g.on("unused_param") && g.extra.chance(0.12) {
            let at = g.extra.below(params.len() + 1);
            params.insert(
                at,
                Param {
                    name: "_".to_owned(),
                    kind: ParamKind::Unused,
                },
            );
            g.mark("unused_param");
        }
        if g.on("pattern_param") && g.extra.chance(0.15) {
            let len = g.extra.range(2, 3);
            let kind = if g.extra.chance(0.5) {
                ParamKind::Pattern(len)
            } else {
                ParamKind::RefPattern(len)
            };
            let at = g.extra.below(params.len() + 1);
            params.insert(
                at,
                Param {
                    name: "pw".to_owned(),
                    kind,
                },
            );
            g.mark("pattern_param");
        }
    }
    for p in &params {
        match p.kind {
            // Read by the result ([`Gen::result_reading_patterns`]), or not at all.
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => {}
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
            ParamKind::Slice(len) if p.name == "e" => {
                g.mark("short_slice");
                g.short.push(Arr {
                    name: p.name.clone(),
                    len,
                    bound: 2.0,
                    kind: ArrKind::Slice,
                    depth: 0,
                });
            }
            ParamKind::Slice(len) | ParamKind::Array(len) | ParamKind::RefArray(len) => {
                let (kind, shape) = match p.kind {
                    ParamKind::Slice(_) => (ArrKind::Slice, "slice_param"),
                    ParamKind::Array(_) => (ArrKind::Array, "array_param"),
                    _ => (ArrKind::RefArray, "ref_array_param"),
                };
                g.mark(shape);
                g.arrays.push(Arr {
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
    // Scalars first, so that `scalars[0]` is a float parameter.
    g.scalars.sort_by_key(|s| s.name.starts_with("r#"));

    let acc = if enabled.on("raw_ident_in_loop") && g.rng.chance(0.1) {
        g.mark("raw_ident_in_loop");
        "r#type".to_owned()
    } else {
        "acc".to_owned()
    };
    let init = g.expr(2);
    let mut lines = vec![format!("    let mut {acc}: {TY} = {};", init.s)];
    g.scalars.push(Scalar {
        name: acc.clone(),
        bound: init.bound,
        acc: Some(0),
    });
    // Every program has a loop and a call.
    let array = g.rng.chance(0.5);
    g.for_loop(&mut lines, array);
    let budget = g.rng.range(2, 5);
    lines.extend(g.block(budget));
    // The first loop's accumulator, if any.
    let loose: Vec<String> = g
        .scalars
        .iter()
        .filter(|s| s.acc.is_some() && s.name != acc)
        .map(|s| s.name.clone())
        .collect();
    for s in loose {
        lines.push(format!("    {acc} += {s}.atan();"));
    }
    // Every parameter is read.
    let text = lines.join("\n");
    for p in &params {
        if mentions(&text, &p.name)
            || matches!(
                p.kind,
                ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_)
            )
        {
            continue;
        }
        if p.name == "e" {
            let e = g.short[0].clone();
            let mut pre = Vec::new();
            if let Some(sum) = g.chain_expr(Some(e), false, &mut pre) {
                let sum = g.tame(sum, CAP);
                lines.extend(pre);
                lines.push(format!("    {acc} += {};", sum.s));
            }
            continue;
        }
        let read = match p.kind {
            ParamKind::Scalar | ParamKind::Inactive => format!("{}.sin()", p.name),
            ParamKind::Slice(_) | ParamKind::Array(_) | ParamKind::RefArray(_) => {
                format!("{}[1]", p.name)
            }
            ParamKind::Usize => cst(&format!("{} as f64", p.name)),
            ParamKind::I32 => cst(&format!("f64::from({})", p.name)),
            ParamKind::Params => cst("p.scale"),
            ParamKind::Unused | ParamKind::Pattern(_) | ParamKind::RefPattern(_) => continue,
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
    if let Some(bound) = g.vsum {
        lines.insert(1, format!("    {NEW}let mut vsum: {TY} = {};", lit(0.0)));
        let read = if bound > CAP { "vsum.atan()" } else { "vsum" };
        lines.push(format!("    {NEW}{acc} += {read};"));
    }
    if let Some(bound) = g.vtot {
        lines.insert(1, format!("    {NEW}let mut vtot: {TY} = {};", lit(0.0)));
        let read = if bound > CAP { "vtot.atan()" } else { "vtot" };
        lines.push(format!("    {NEW}{acc} += {read};"));
    }
    if let Some(bound) = g.vint {
        lines.insert(1, format!("    {NEW}let mut vint: {TY} = {};", lit(0.0)));
        let read = if bound > CAP { "vint.atan()" } else { "vint" };
        lines.push(format!("    {NEW}{acc} += {read};"));
    }
    if let Some(bound) = g.vreal {
        lines.insert(1, format!("    {NEW}let mut vreal: {TY} = {};", lit(0.0)));
        let read = if bound > CAP { "vreal.atan()" } else { "vreal" };
        lines.push(format!("    {NEW}{acc} += {read};"));
    }
    g.field_carried(&mut lines, &params, &acc);
    g.params_method(&mut lines, &params, &acc);
    let result = g.result(&acc);
    let result = Gen::result_reading_patterns(&params, result);
    let result = g.result_through_helper(&params, result);
    lines.push(result);

    let mut signature = Vec::new();
    for p in &params {
        let ty = match p.kind {
            ParamKind::Scalar | ParamKind::Inactive | ParamKind::Unused => TY.to_string(),
            ParamKind::Slice(_) => format!("&[{TY}]"),
            ParamKind::Array(len) | ParamKind::Pattern(len) => format!("[{TY}; {len}]"),
            ParamKind::RefArray(len) | ParamKind::RefPattern(len) => format!("&[{TY}; {len}]"),
            ParamKind::Usize => "usize".to_owned(),
            ParamKind::I32 => "i32".to_owned(),
            ParamKind::Params => "&Params".to_owned(),
        };
        signature.push(p.kind.declared(&p.name, &ty));
    }
    let function = format!(
        "fn {name}({}) -> {TY} {{\n{}\n}}\n",
        signature.join(", "),
        lines.join("\n")
    );
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
        format!(
            "#[differentiate(reverse, forward, wrt({}))]",
            wrt.join(", ")
        )
    } else {
        "#[differentiate(reverse, forward)]".to_owned()
    };
    let constants = (
        g.rng.pick(&[0.5, 1.5, -0.75, 1.25]),
        g.rng.pick(&[0.25, -0.5, 1.0]),
        g.rng.range(0, 3),
        g.rng.range(0, 3) as i32 - 1,
    );
    let mut points = Vec::new();
    for _ in 0..FLOW_POINTS {
        let mut floats = Vec::new();
        let mut ints = Vec::new();
        for p in &params {
            let count = match p.kind {
                ParamKind::Scalar | ParamKind::Inactive | ParamKind::Unused => 1,
                ParamKind::Slice(len)
                | ParamKind::Array(len)
                | ParamKind::RefArray(len)
                | ParamKind::Pattern(len)
                | ParamKind::RefPattern(len) => len,
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
                floats.push(4.0 * g.rng.unit() - 2.0);
            }
        }
        points.push((floats, ints));
    }
    FlowProgram {
        name,
        helpers: g.helper_text,
        function,
        attr,
        params,
        shapes: g.shapes,
        constants,
        points,
    }
}

// ---------------------------------------------------------------------------------------------
// Output

/// Hand-written callees: over `f64` with their hand-written `_grad` and `_jvp` (`_vjp` and
/// `_jvp` for those with several outputs: the convention a user follows to supply a
/// derivative), and over the oracle type `R`, where they are the plain functions.
const HAND_F64: &str = "\
fn hand_mix(u: f64, v: f64) -> f64 {
    u * v.tanh() + u.sin()
}
fn hand_mix_grad(u: f64, v: f64) -> (f64, f64, f64) {
    let t = v.tanh();
    (u * t + u.sin(), t + u.cos(), u * (1.0 - t * t))
}
fn hand_mix_jvp(u: f64, d_u: f64, v: f64, d_v: f64) -> (f64, f64) {
    let (value, du, dv) = hand_mix_grad(u, v);
    (value, du * d_u + dv * d_v)
}
fn hand_norm(v: &[f64]) -> f64 {
    let mut s = 1.0;
    for &x in v {
        s += x * x;
    }
    s.sqrt()
}
fn hand_norm_grad(v: &[f64]) -> (f64, Vec<f64>) {
    let n = hand_norm(v);
    (n, v.iter().map(|x| x / n).collect())
}
fn hand_norm_jvp(v: &[f64], d_v: &[f64]) -> (f64, f64) {
    let n = hand_norm(v);
    (n, v.iter().zip(d_v).map(|(x, d)| x * d).sum::<f64>() / n)
}
fn hand_xy(r: f64, t: f64) -> [f64; 2] {
    [r * t.cos(), r * t.sin()]
}
fn hand_xy_vjp(r: f64, t: f64, seed: [f64; 2]) -> ([f64; 2], f64, f64) {
    let (c, s) = (t.cos(), t.sin());
    (
        hand_xy(r, t),
        seed[0] * c + seed[1] * s,
        r * (seed[1] * c - seed[0] * s),
    )
}
fn hand_xy_jvp(r: f64, d_r: f64, t: f64, d_t: f64) -> ([f64; 2], [f64; 2]) {
    let (c, s) = (t.cos(), t.sin());
    (hand_xy(r, t), [d_r * c - r * s * d_t, d_r * s + r * c * d_t])
}
fn hand_stats(w: &[f64], s: f64) -> (f64, [f64; 2]) {
    let mut sum = 0.0;
    let mut q = 1.0;
    for &x in w {
        sum += x;
        q += x * x;
    }
    let q = q.sqrt();
    (s * sum, [1.0 / q, s / q])
}
fn hand_stats_vjp(w: &[f64], s: f64, seed: (f64, [f64; 2])) -> ((f64, [f64; 2]), Vec<f64>, f64) {
    let value = hand_stats(w, s);
    let (_, [r, _]) = value;
    let (d_m, [d_r, d_sr]) = seed;
    // (s Σw, [r, s r]) with r = 1/q, q = √(1 + |w|²): ∂r/∂w_i = -w_i r³.
    let r3 = r * r * r;
    let d_w = w
        .iter()
        .map(|x| d_m * s - (d_r + d_sr * s) * x * r3)
        .collect();
    (value, d_w, d_m * w.iter().sum::<f64>() + d_sr * r)
}
fn hand_stats_jvp(w: &[f64], d_w: &[f64], s: f64, d_s: f64) -> ((f64, [f64; 2]), (f64, [f64; 2])) {
    let value = hand_stats(w, s);
    let (_, [r, _]) = value;
    let sum: f64 = w.iter().sum();
    let d_sum: f64 = d_w.iter().sum();
    let d_r = -r * r * r * w.iter().zip(d_w).map(|(x, d)| x * d).sum::<f64>();
    (value, (d_s * sum + s * d_sum, [d_r, d_s * r + s * d_r]))
}
";

const HAND_R: &str = "\
fn hand_mix(u: R, v: R) -> R {
    u * v.tanh() + u.sin()
}
fn hand_norm(v: &[R]) -> R {
    let mut s = R::cst(1.0);
    for &x in v {
        s += x * x;
    }
    s.sqrt()
}
fn hand_xy(r: R, t: R) -> [R; 2] {
    [r * t.cos(), r * t.sin()]
}
fn hand_stats(w: &[R], s: R) -> (R, [R; 2]) {
    let mut sum = R::cst(0.0);
    let mut q = R::cst(1.0);
    for &x in w {
        sum += x;
        q += x * x;
    }
    let q = q.sqrt();
    (s * sum, [R::cst(1.0) / q, s / q])
}
";

/// Lints allowed in the generated modules, each with its reason.
const FLOW_LINTS: &str = "\
#[allow(
    // Not every program calls every hand-written callee, nor every generated function.
    dead_code,
    // Random programs, not hand-written code: written as generated.
    clippy::assign_op_pattern,
    clippy::cast_lossless,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::too_many_arguments,
    clippy::unreadable_literal,
    clippy::manual_clamp,
    clippy::suboptimal_flops,
    clippy::unnecessary_min_or_max,
    clippy::needless_range_loop,
    clippy::manual_memcpy,
    clippy::explicit_counter_loop,
    clippy::if_same_then_else,
    clippy::collapsible_if,
    clippy::collapsible_else_if,
    clippy::needless_continue,
    clippy::neg_multiply,
    clippy::nonminimal_bool,
    clippy::manual_range_contains,
    clippy::int_plus_one,
    clippy::range_plus_one,
    clippy::identity_op,
    clippy::erasing_op,
    clippy::double_comparisons,
    clippy::needless_late_init,
    clippy::let_and_return,
    clippy::imprecise_flops,
    clippy::while_float,
    clippy::eq_op,
    clippy::ifs_same_cond,
    // The same condition in the oracles, where a constant is a call `R::cst(..)`.
    clippy::same_functions_in_if_condition,
    clippy::overly_complex_bool_expr,
    clippy::manual_is_multiple_of,
    // Integer methods as users write them: `i.checked_sub(1).unwrap_or(0)` beside
    // `i.saturating_sub(1)`.
    clippy::manual_saturating_arithmetic,
    // The glue flattens array and `Vec` gradients alike.
    clippy::implicit_clone,
    // Iterators in every form a user writes them: `for v in x.iter()` beside `for v in &x`,
    // `.zip(&h)` beside `.zip(h.iter())`, closures as written, `skip(3)` past the end.
    clippy::explicit_iter_loop,
    clippy::needless_borrows_for_generic_args,
    clippy::redundant_closure,
    clippy::redundant_closure_for_method_calls,
    clippy::iter_out_of_bounds,
    // `acc += f(..) + acc` is what a random update may read.
    clippy::misrefactored_assign_op,
    // Random conditions and clamps: `if n < 1 {..} else if n > 1 {..}`, `(c + u).max(0.75).min(0.125)`.
    clippy::comparison_chain,
    clippy::min_max,
)]
";

fn args(p: &FlowProgram, jvp: bool) -> String {
    let mut out = Vec::new();
    let (mut o, mut a, mut j) = (0, 0, 0);
    let list = |v: &str, from: usize, len: usize| {
        (from..from + len)
            .map(|i| format!("{v}[{i}]"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for q in &p.params {
        match q.kind {
            ParamKind::Scalar | ParamKind::Inactive | ParamKind::Unused => {
                out.push(format!("xs[{o}]"));
                if jvp && q.kind != ParamKind::Inactive {
                    out.push(format!("dir[{a}]"));
                    a += 1;
                }
                o += 1;
            }
            ParamKind::Slice(len) => {
                out.push(format!("&xs[{o}..{}]", o + len));
                if jvp {
                    out.push(format!("&dir[{a}..{}]", a + len));
                    a += len;
                }
                o += len;
            }
            ParamKind::Array(len)
            | ParamKind::RefArray(len)
            | ParamKind::Pattern(len)
            | ParamKind::RefPattern(len) => {
                let amp = if matches!(q.kind, ParamKind::RefArray(_) | ParamKind::RefPattern(_)) {
                    "&"
                } else {
                    ""
                };
                out.push(format!("{amp}[{}]", list("xs", o, len)));
                if jvp {
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

impl FlowProgram {
    fn has_ints(&self) -> bool {
        self.params
            .iter()
            .any(|q| matches!(q.kind, ParamKind::Usize | ParamKind::I32))
    }

    fn takes_params(&self) -> bool {
        self.params.iter().any(|q| q.kind == ParamKind::Params)
    }

    /// The flat float names and the indices of the active ones.
    fn floats(&self) -> (Vec<String>, Vec<usize>) {
        let mut names = Vec::new();
        let mut active = Vec::new();
        for q in &self.params {
            let (len, slice) = match q.kind {
                ParamKind::Scalar | ParamKind::Inactive | ParamKind::Unused => (1, false),
                ParamKind::Slice(len)
                | ParamKind::Array(len)
                | ParamKind::RefArray(len)
                | ParamKind::Pattern(len)
                | ParamKind::RefPattern(len) => (len, true),
                _ => (0, false),
            };
            for i in 0..len {
                if q.kind != ParamKind::Inactive {
                    active.push(names.len());
                }
                names.push(if slice {
                    format!("{}[{i}]", q.name)
                } else {
                    q.name.clone()
                });
            }
        }
        (names, active)
    }

    /// The source as printed for `f64`.
    fn source(&self, with_macro: bool) -> String {
        let attr = if with_macro { &self.attr } else { "" };
        let helpers = if with_macro {
            render(&self.helpers, false)
        } else {
            strip_attributes(&render(&self.helpers, false))
        };
        format!("{helpers}{attr}\n{}", render(&self.function, false))
    }
}

fn strip_attributes(s: &str) -> String {
    let mut out = String::new();
    for l in s.lines().filter(|l| !l.starts_with("#[differentiate")) {
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn indented(out: &mut String, text: &str, levels: usize) {
    let pad = "    ".repeat(levels);
    for line in text.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{pad}{line}");
        }
    }
}

fn emit_flow_chunk(out: &mut String, index: usize, programs: &[FlowProgram], with_macro: bool) {
    out.push_str(FLOW_LINTS);
    if programs.iter().any(|p| p.shapes.contains("real_block")) {
        // `const` tables declared where they are used, as in the programs the constructs of
        // `build/real.rs` come from (a line of the second stream's, so that the modules of the
        // other programs are printed as before).
        out.push_str(&render(
            &format!("{NEW}#[allow(clippy::items_after_statements)]\n"),
            false,
        ));
    }
    let _ = writeln!(out, "mod flow_{index:03} {{");
    if with_macro {
        out.push_str("    use autodiff::differentiate;\n");
    }
    let params = programs.iter().any(FlowProgram::takes_params)
        || programs.iter().any(|p| p.helpers.contains("&Params"));
    if params {
        out.push_str("    use autodiff_random_tests::Params;\n");
    }
    out.push_str("    use autodiff_random_tests::dual::Dual;\n");
    out.push_str("    use autodiff_random_tests::harness::{Point, Program};\n\n");
    indented(out, HAND_F64, 1);
    for p in programs {
        let name = &p.name;
        let _ = writeln!(out, "    // {}", "-".repeat(92));
        indented(out, &p.source(with_macro), 1);
        if p.takes_params() {
            let (scale, shift, m, k) = p.constants;
            let _ = writeln!(
                out,
                "    const {}_P: Params = Params {{ scale: {}, shift: {}, m: {m}, k: {k} }};",
                name.to_uppercase(),
                literal(scale),
                literal(shift)
            );
        }
        let ns = if p.has_ints() { "ns" } else { "_ns" };
        let call = args(p, false);
        let _ = writeln!(
            out,
            "    fn {name}_value(xs: &[f64], {ns}: &[i64]) -> (u64, f64) {{\n        \
             let v = {name}({call});\n        (v.to_bits(), v)\n    }}"
        );
        if with_macro {
            let (_, active) = p.floats();
            let mut parts = Vec::new();
            let mut k = 0;
            for q in &p.params {
                match q.kind {
                    ParamKind::Scalar | ParamKind::Unused => parts.push(format!("vec![g{k}]")),
                    ParamKind::Slice(_)
                    | ParamKind::Array(_)
                    | ParamKind::RefArray(_)
                    | ParamKind::Pattern(_)
                    | ParamKind::RefPattern(_) => {
                        parts.push(format!("g{k}.to_vec()"));
                    }
                    _ => continue,
                }
                k += 1;
            }
            let gs: Vec<String> = (0..k).map(|i| format!("g{i}")).collect();
            let _ = writeln!(
                out,
                "    fn {name}_flat_grad(xs: &[f64], {ns}: &[i64]) -> (u64, f64, Vec<f64>) {{\n        \
                 let (v, {}) = {name}_grad({call});\n        \
                 let g: Vec<f64> = [{}].concat();\n        \
                 debug_assert_eq!(g.len(), {});\n        \
                 (v.to_bits(), v, g)\n    }}",
                gs.join(", "),
                parts.join(", "),
                active.len()
            );
            let _ = writeln!(
                out,
                "    fn {name}_flat_jvp(xs: &[f64], {ns}: &[i64], dir: &[f64]) -> f64 {{\n        \
                 {name}_jvp({}).1\n    }}",
                args(p, true)
            );
        }
        let _ = writeln!(
            out,
            "    fn {name}_flat_oracle(xs: &[Dual], {ns}: &[i64]) -> Dual {{\n        \
             over_dual::{name}({call})\n    }}"
        );
        let _ = writeln!(
            out,
            "    fn {name}_flat_tape(xs: &[f64], {ns}: &[i64]) -> (f64, Vec<f64>) {{\n        \
             autodiff_random_tests::tape::gradient(xs, |xs| over_tape::{name}({call}))\n    }}"
        );
        let source = p.source(with_macro);
        assert!(!source.contains('"'), "sources are printed as raw strings");
        let _ = writeln!(
            out,
            "    const {}_SOURCE: &str = r\"{source}\";",
            name.to_uppercase()
        );
    }
    for (module, ty) in [
        ("over_dual", "autodiff_random_tests::dual::Dual"),
        ("over_tape", "autodiff_random_tests::tape::Var"),
    ] {
        let _ = writeln!(out, "\n    mod {module} {{");
        if params {
            out.push_str("        use autodiff_random_tests::Params;\n");
        }
        let _ = writeln!(out, "        use {ty} as R;\n");
        indented(out, HAND_R, 2);
        for p in programs {
            let helpers = strip_attributes(&render(&p.helpers, true));
            indented(out, &helpers, 2);
            let function = render(&p.function, true).replacen("fn ", "pub(super) fn ", 1);
            indented(out, &function, 2);
        }
        out.push_str("    }\n");
    }
    out.push_str("\n    pub(super) static PROGRAMS: &[Program] = &[\n");
    for p in programs {
        emit_flow_entry(out, p, with_macro);
    }
    out.push_str("    ];\n}\n\n");
}

fn emit_flow_entry(out: &mut String, p: &FlowProgram, with_macro: bool) {
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
    let (grad, jvp) = if with_macro {
        (
            format!("Some({name}_flat_grad)"),
            format!("Some({name}_flat_jvp)"),
        )
    } else {
        ("None".to_owned(), "None".to_owned())
    };
    let shapes: Vec<String> = p.shapes.iter().map(|s| format!("{s:?}")).collect();
    let active: Vec<String> = active.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "        Program {{\n            name: {name:?},\n            source: {}_SOURCE,\n            \
         single: false,\n            active: &[{}],\n            float_names: &[{}],\n            \
         int_names: &[{}],\n            points: &[\n                {},\n            ],\n            \
         value: {name}_value,\n            grad: {grad},\n            jvp: {jvp},\n            \
         oracle: {name}_flat_oracle,\n            tape: Some({name}_flat_tape),\n            \
         shapes: &[{}],\n        }},",
        name.to_uppercase(),
        active.join(", "),
        quoted(&floats),
        quoted(&int_names),
        points.join(",\n                "),
        shapes.join(", "),
    );
}

/// Writes `flow.rs`: programs `first..first + count`.
pub fn write(out_dir: &std::path::Path, seed: u64, first: usize, count: usize, with_macro: bool) {
    let known = std::env::var("AUTODIFF_RANDOM_KNOWN_BUGS").unwrap_or_default();
    let enabled = Enabled::new(&known);
    let programs: Vec<FlowProgram> = (first..first + count)
        .map(|i| generate(i, seed, &enabled))
        .collect();
    let mut out = format!(
        "// @generated by tests/random/build.rs: programs {first}..{} with control flow from seed \
         {seed:#x}. Do not edit.\n\n\
         /// The seed the programs were generated from.\n\
         const FLOW_SEED: u64 = {seed:#x};\n\
         /// The shapes generated (known-bug shapes only if named in `AUTODIFF_RANDOM_KNOWN_BUGS`).\n\
         const FLOW_SHAPES: &str = {:?};\n\
         /// Every shape the generator knows, and whether it hits a known bug.\n\
         const ALL_SHAPES: &[(&str, bool)] = &{SHAPES:?};\n\n",
        first + count,
        enabled.list()
    );
    let mut chunks = Vec::new();
    for (i, chunk) in programs.chunks(FLOW_CHUNK).enumerate() {
        emit_flow_chunk(&mut out, i, chunk, with_macro);
        chunks.push(format!("flow_{i:03}::PROGRAMS"));
    }
    let _ = writeln!(
        out,
        "/// All generated programs, by module.\n\
         static FLOW_CHUNKS: &[&[autodiff_random_tests::harness::Program]] = &[{}];",
        chunks.join(", ")
    );
    let path = out_dir.join("flow.rs");
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
