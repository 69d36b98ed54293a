//! The vocabulary of primitive operations: what each is called, how it is written in Rust and how
//! many arguments it takes. Their derivatives are in [`crate::rules`], one row per operation
//! written over [`crate::algebra`]; this module knows nothing of derivatives, so the graph can
//! name an operation without depending on its rule.

/// How an operation is written in Rust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// `a + b`.
    Infix,
    /// `-a`.
    Prefix,
    /// `x.exp()` or `f64::exp(x)`.
    Method,
    /// `::autodiff::sigmoid(x)`.
    Runtime,
}

/// What an operation costs where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// A few instructions, inline: arithmetic, comparisons, rounding, `sqrt`.
    Inline,
    /// A call into the math library, tens of instructions: `exp`, `ln`, `tanh`, `sin`.
    Call,
}

macro_rules! vocabulary {
    ($($variant:ident = $syntax:ident $name:literal ($($arg:ident),+) $cost:ident;)*) => {
        /// A primitive operation: a row of the table of local derivatives.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Prim {
            $($variant),*
        }

        impl Prim {
            /// Every operation, in table order.
            pub const ALL: &[Prim] = &[$(Prim::$variant),*];

            pub fn syntax(self) -> Syntax {
                match self {
                    $(Prim::$variant => Syntax::$syntax),*
                }
            }

            /// What it costs where it runs: the reverse pass saves a [`Cost::Call`] on a tape
            /// rather than computing it again in the backward code of a loop.
            pub fn cost(self) -> Cost {
                match self {
                    $(Prim::$variant => Cost::$cost),*
                }
            }

            /// The operator or the method or function name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Prim::$variant => $name),*
                }
            }

            /// The number of arguments, the receiver of a method included.
            pub const fn arity(self) -> usize {
                match self {
                    $(Prim::$variant => [$(stringify!($arg)),+].len()),*
                }
            }
        }
    };
}

vocabulary! {
    // The seed's table.
    Add = Infix "+" (a, b) Inline;
    Mul = Infix "*" (a, b) Inline;
    Powi = Method "powi" (x, n) Call;
    Exp = Method "exp" (x) Call;
    Sigmoid = Runtime "sigmoid" (x) Call;
    Relu = Runtime "relu" (x) Inline;
    // The guard of the chain rule: `0` if the factor is `0`, else the product.
    ZeroWins = Runtime "zero_wins" (factor, product) Inline;

    // Arithmetic.
    Sub = Infix "-" (a, b) Inline;
    Div = Infix "/" (a, b) Inline;
    Rem = Infix "%" (a, b) Inline;
    Neg = Prefix "-" (a) Inline;

    // Integer bit operators: integers only, constants with no derivative.
    BitAnd = Infix "&" (a, b) Inline;
    BitOr = Infix "|" (a, b) Inline;
    BitXor = Infix "^" (a, b) Inline;
    Shl = Infix "<<" (a, b) Inline;
    Shr = Infix ">>" (a, b) Inline;

    // Exponentials and logarithms.
    Exp2 = Method "exp2" (x) Call;
    ExpM1 = Method "exp_m1" (x) Call;
    Ln = Method "ln" (x) Call;
    Ln1p = Method "ln_1p" (x) Call;
    Log = Method "log" (x, base) Call;
    Log2 = Method "log2" (x) Call;
    Log10 = Method "log10" (x) Call;
    Softplus = Runtime "softplus" (x) Call;

    // Powers and roots.
    Sqrt = Method "sqrt" (x) Inline;
    Cbrt = Method "cbrt" (x) Call;
    Powf = Method "powf" (x, y) Call;
    Recip = Method "recip" (x) Inline;
    Hypot = Method "hypot" (x, y) Call;
    MulAdd = Method "mul_add" (x, a, b) Inline;

    // Trigonometry.
    Sin = Method "sin" (x) Call;
    Cos = Method "cos" (x) Call;
    Tan = Method "tan" (x) Call;
    Asin = Method "asin" (x) Call;
    Acos = Method "acos" (x) Call;
    Atan = Method "atan" (x) Call;
    Atan2 = Method "atan2" (y, x) Call;
    ToRadians = Method "to_radians" (x) Inline;
    ToDegrees = Method "to_degrees" (x) Inline;

    // Hyperbolic functions.
    Sinh = Method "sinh" (x) Call;
    Cosh = Method "cosh" (x) Call;
    Tanh = Method "tanh" (x) Call;
    Asinh = Method "asinh" (x) Call;
    Acosh = Method "acosh" (x) Call;
    Atanh = Method "atanh" (x) Call;

    // Kinks.
    Abs = Method "abs" (x) Inline;
    Max = Method "max" (a, b) Inline;
    Min = Method "min" (a, b) Inline;
    Clamp = Method "clamp" (x, lo, hi) Inline;
    Fract = Method "fract" (x) Inline;

    // Piecewise constant.
    Signum = Method "signum" (x) Inline;
    Floor = Method "floor" (x) Inline;
    Ceil = Method "ceil" (x) Inline;
    Round = Method "round" (x) Inline;
    Trunc = Method "trunc" (x) Inline;
}

impl Prim {
    pub fn find(syntax: Syntax, name: &str) -> Option<Prim> {
        Prim::ALL
            .iter()
            .copied()
            .find(|p| p.syntax() == syntax && p.name() == name)
    }

    /// `+ - * / %` and negation: operations whose result has the type of their operands.
    pub fn is_float_arithmetic(self) -> bool {
        matches!(
            self,
            Prim::Add | Prim::Sub | Prim::Mul | Prim::Div | Prim::Rem | Prim::Neg
        )
    }

    /// `& | ^ << >>`: defined on integers only.
    pub fn is_bitwise(self) -> bool {
        matches!(
            self,
            Prim::BitAnd | Prim::BitOr | Prim::BitXor | Prim::Shl | Prim::Shr
        )
    }

    /// The names of every operation written with `syntax`, for error messages.
    pub fn names(syntax: Syntax) -> Vec<&'static str> {
        Prim::ALL
            .iter()
            .filter(|p| p.syntax() == syntax)
            .map(|p| p.name())
            .collect()
    }
}
