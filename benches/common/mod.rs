//! The functions and gradient contenders shared by the criterion benchmarks
//! (`benches/gradients.rs`), the agreement test (`tests/bench_agreement.rs`) and the report
//! (`examples/bench_report.rs`).
//!
//! Every benchmark function is a [`Problem`]: a primal over a flat `&[f64]`, the same body generic
//! over [`Real`] (which the runtime-AD peers and forward mode instantiate), and a hand-written,
//! hand-optimised adjoint. [`contenders`] hands each way of computing the gradient to a
//! [`Visitor`], always with the signature `(x, grad) -> value` where `grad` is overwritten, so the
//! criterion benchmarks, the test and the report all run exactly the same closures. The closures
//! are generic arguments, not function pointers, so each one is inlined into the timing loop.
//!
//! The contender computed by `#[differentiate]` comes from [`Problem::generated`]; a function the
//! macro cannot compile leaves it out, and the contender is simply absent from its group.

pub mod gmm;
pub mod gmm_natural;
pub mod idioms;
pub mod jacobian;
pub mod lstm;
pub mod lstm_natural;
pub mod mixed;
pub mod mlp;
pub mod neuron;
pub mod peers;
pub mod real;
pub mod rosenbrock;
pub mod second;
pub mod seed;
pub mod wrapper;

pub use real::Real;

/// The sizes at which Rosenbrock is benchmarked.
pub const ROSENBROCK_SIZES: [usize; 4] = [2, 10, 100, 1000];

/// The sizes of the wrapper that passes a slice to a differentiated helper.
pub const WRAPPER_SIZES: [usize; 2] = [10, 1000];

/// One way of computing a function or its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contender {
    /// The function itself, no gradient.
    Primal,
    /// `f_grad` emitted by `#[differentiate]`.
    Generated,
    /// The adjoint written and optimised by hand: the limit for generated code.
    HandWritten,
    /// `num-dual` forward mode: one `Dual64` pass per input.
    NumDual,
    /// `echidna` reverse mode: an Adept-style tape recorded on every call.
    Echidna,
    /// `reverse` reverse mode: a `RefCell<Vec>` tape recorded on every call.
    Reverse,
    /// Central finite differences, two primal evaluations per input.
    FiniteDiff,
}

impl Contender {
    /// Every contender, in the order in which they are run and reported.
    pub const ALL: [Self; 7] = [
        Self::Primal,
        Self::Generated,
        Self::HandWritten,
        Self::NumDual,
        Self::Echidna,
        Self::Reverse,
        Self::FiniteDiff,
    ];

    /// The benchmark id.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Primal => "primal",
            Self::Generated => "generated",
            Self::HandWritten => "hand_written",
            Self::NumDual => "num_dual",
            Self::Echidna => "echidna",
            Self::Reverse => "reverse",
            Self::FiniteDiff => "finite_diff",
        }
    }
}

/// Receives the contenders of one problem.
pub trait Visitor {
    /// The primal: `x -> f(x)`.
    fn primal(&mut self, f: impl FnMut(&[f64]) -> f64);
    /// A gradient: `(x, grad) -> f(x)`, overwriting `grad` (of length `x.len()`) with `∇f(x)`.
    fn gradient(&mut self, who: Contender, f: impl FnMut(&[f64], &mut [f64]) -> f64);

    /// A gradient that adds `∇f(x)` into `grad` instead, as `f_grad_into` does, so that the
    /// gradients of a batch accumulate in one buffer. Timers call it on a buffer they zero once;
    /// the default zeroes the buffer before each call, which makes it an overwriting gradient.
    fn accumulating(&mut self, who: Contender, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) {
        self.gradient(who, |x, g| {
            g.fill(0.0);
            f(x, g)
        });
    }
}

/// A benchmark function over a flat vector of active inputs.
pub trait Problem {
    /// The criterion group, e.g. `rosenbrock`.
    fn family(&self) -> &'static str;

    /// The size parameter for families benchmarked at several sizes.
    fn size(&self) -> Option<usize> {
        None
    }

    /// A label for messages and tables, e.g. `rosenbrock/100`.
    fn label(&self) -> String {
        match self.size() {
            Some(n) => format!("{}/{n}", self.family()),
            None => self.family().to_owned(),
        }
    }

    /// Whether the peer `who` (forward mode, a runtime tape, differences) is run on this problem;
    /// each is, unless it would take minutes or gigabytes.
    fn has_peer(&self, who: Contender) -> bool {
        let _ = who;
        true
    }

    /// The number of active inputs.
    fn dim(&self) -> usize;

    /// Points at which the contenders are checked; the first is the one benchmarked.
    fn points(&self) -> Vec<Vec<f64>>;

    /// The function, written as `#[differentiate]` takes it.
    fn primal(&self, x: &[f64]) -> f64;

    /// The same expression tree as [`Problem::primal`], over any [`Real`].
    fn eval<T: Real>(&self, x: &[T]) -> T;

    /// The hand-optimised adjoint: the value, and the gradient written into `grad`.
    fn hand_written(&self, x: &[f64], grad: &mut [f64]) -> f64;

    /// Whether the generated contender adds into its buffer (`f_grad_into`, for functions of
    /// slices); the hand-written one is then timed to the same contract, by
    /// [`Problem::hand_written_into`].
    fn accumulates(&self) -> bool {
        false
    }

    /// The hand-optimised adjoint adding the gradient into `grad`. The default goes through
    /// [`Problem::hand_written`] and a temporary buffer.
    fn hand_written_into(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut own = vec![0.0; x.len()];
        let value = self.hand_written(x, &mut own);
        for (g, o) in grad.iter_mut().zip(own) {
            *g += o;
        }
        value
    }

    /// Hands the `#[differentiate]` gradient to `v`; the default, for a function the macro cannot
    /// compile, hands nothing.
    fn generated<V: Visitor>(&self, v: &mut V) {
        let _ = v;
    }
}

/// Check points for a problem of many parameters: `params` and two points within 0.1 of it in
/// every coordinate, from a fixed seed.
#[must_use]
pub fn near(params: &[f64]) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(7);
    let mut points = vec![params.to_vec()];
    points.extend((0..2).map(|_| params.iter().map(|p| p + rng.uniform(-0.1, 0.1)).collect()));
    points
}

/// A label for messages and tables, e.g. `rosenbrock/100`.
pub fn label<P: Problem>(p: &P) -> String {
    p.label()
}

/// Hands every contender of `p` to `v`, in the order of [`Contender::ALL`].
pub fn contenders<P: Problem, V: Visitor>(p: &P, v: &mut V) {
    v.primal(|x| p.primal(x));
    p.generated(v);
    if p.accumulates() {
        v.accumulating(Contender::HandWritten, |x, g| p.hand_written_into(x, g));
    } else {
        v.gradient(Contender::HandWritten, |x, g| p.hand_written(x, g));
    }
    if p.has_peer(Contender::NumDual) {
        v.gradient(Contender::NumDual, |x, g| peers::num_dual(p, x, g));
    }
    if p.has_peer(Contender::Echidna) {
        v.gradient(Contender::Echidna, |x, g| peers::echidna(p, x, g));
    }
    if p.has_peer(Contender::Reverse) {
        let tape = ::reverse::Tape::new();
        v.gradient(Contender::Reverse, |x, g| peers::reverse(p, &tape, x, g));
    }
    if p.has_peer(Contender::FiniteDiff) {
        v.gradient(Contender::FiniteDiff, |x, g| peers::finite_diff(p, x, g));
    }
}

/// Receives every problem.
pub trait ProblemVisitor {
    /// Called once per problem, in the order of [`problems`].
    fn problem<P: Problem>(&mut self, p: &P);
}

/// Hands every benchmark problem to `v`: the seed, the neuron, the 8-input straight-line
/// function, Rosenbrock at each of [`ROSENBROCK_SIZES`] (as usually written, then over `1..n` as
/// a comparison), the MLP loss, and the wrapper of a differentiated helper at each of
/// [`WRAPPER_SIZES`], plain and through `ln`.
pub fn problems<V: ProblemVisitor>(v: &mut V) {
    v.problem(&seed::Seed);
    v.problem(&neuron::Neuron);
    v.problem(&mixed::Mixed);
    for n in ROSENBROCK_SIZES {
        v.problem(&rosenbrock::Rosenbrock::new(n));
    }
    for n in ROSENBROCK_SIZES {
        v.problem(&rosenbrock::Rosenbrock::shifted(n));
    }
    v.problem(&mlp::Mlp::new());
    for n in WRAPPER_SIZES {
        v.problem(&wrapper::Wrapper::new(n, false));
        v.problem(&wrapper::Wrapper::new(n, true));
    }
}

/// Hands `ADBench`'s GMM objective to `v`, at each of [`gmm::GMM_SIZES`] with
/// [`gmm::POINTS`] points; then the same with the loop over the points last, as a comparison;
/// then `ADBench`'s LSTM objective at each of [`lstm::LSTM_SIZES`].
pub fn adbench<V: ProblemVisitor>(v: &mut V) {
    for (d, k) in gmm::GMM_SIZES {
        v.problem(&gmm::Gmm::new(d, k, gmm::POINTS));
    }
    for (d, k) in gmm::GMM_SIZES {
        v.problem(&gmm::Gmm::points_last(d, k, gmm::POINTS));
    }
    for (d, k) in gmm::GMM_SIZES {
        v.problem(&gmm::Gmm::adbench_form(d, k, gmm::POINTS));
    }
    for (l, c) in lstm::LSTM_SIZES {
        v.problem(&lstm::Lstm::new(l, c));
    }
    for (l, c) in lstm::LSTM_SIZES {
        v.problem(&lstm::Lstm::adbench_form(l, c));
    }
}

/// A small deterministic generator (`SplitMix64`) for test points and data.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits, as a fraction of 2^53: exact in f64.
        #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 mantissa exactly.
        let unit = (z >> 11) as f64 / (1_u64 << 53) as f64;
        lo + (hi - lo) * unit
    }

    /// `n` values uniform in `[lo, hi)`.
    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    /// Standard normal, by the Box–Muller transform (one of its pair of values).
    pub fn normal(&mut self) -> f64 {
        // `1 - u` is in `(0, 1]`, so its logarithm is finite.
        let r = (-2.0 * (1.0 - self.uniform(0.0, 1.0)).ln()).sqrt();
        r * (std::f64::consts::TAU * self.uniform(0.0, 1.0)).cos()
    }

    /// `n` standard normal values.
    pub fn normal_vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.normal()).collect()
    }
}
