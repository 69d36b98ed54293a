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

macro_rules! vocabulary {
    ($($variant:ident = $syntax:ident $name:literal ($($arg:ident),+);)*) => {
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
    Add = Infix "+" (a, b);
    Mul = Infix "*" (a, b);
    Powi = Method "powi" (x, n);
    Exp = Method "exp" (x);
    Sigmoid = Runtime "sigmoid" (x);
    Relu = Runtime "relu" (x);
    // The guard of the chain rule: `0` if the factor is `0`, else the product.
    ZeroWins = Runtime "zero_wins" (factor, product);

    // Arithmetic.
    Sub = Infix "-" (a, b);
    Div = Infix "/" (a, b);
    Rem = Infix "%" (a, b);
    Neg = Prefix "-" (a);

    // Exponentials and logarithms.
    Exp2 = Method "exp2" (x);
    ExpM1 = Method "exp_m1" (x);
    Ln = Method "ln" (x);
    Ln1p = Method "ln_1p" (x);
    Log = Method "log" (x, base);
    Log2 = Method "log2" (x);
    Log10 = Method "log10" (x);
    Softplus = Runtime "softplus" (x);

    // Powers and roots.
    Sqrt = Method "sqrt" (x);
    Cbrt = Method "cbrt" (x);
    Powf = Method "powf" (x, y);
    Recip = Method "recip" (x);
    Hypot = Method "hypot" (x, y);
    MulAdd = Method "mul_add" (x, a, b);

    // Trigonometry.
    Sin = Method "sin" (x);
    Cos = Method "cos" (x);
    Tan = Method "tan" (x);
    Asin = Method "asin" (x);
    Acos = Method "acos" (x);
    Atan = Method "atan" (x);
    Atan2 = Method "atan2" (y, x);
    ToRadians = Method "to_radians" (x);
    ToDegrees = Method "to_degrees" (x);

    // Hyperbolic functions.
    Sinh = Method "sinh" (x);
    Cosh = Method "cosh" (x);
    Tanh = Method "tanh" (x);
    Asinh = Method "asinh" (x);
    Acosh = Method "acosh" (x);
    Atanh = Method "atanh" (x);

    // Kinks.
    Abs = Method "abs" (x);
    Max = Method "max" (a, b);
    Min = Method "min" (a, b);
    Clamp = Method "clamp" (x, lo, hi);
    Fract = Method "fract" (x);

    // Piecewise constant.
    Signum = Method "signum" (x);
    Floor = Method "floor" (x);
    Ceil = Method "ceil" (x);
    Round = Method "round" (x);
    Trunc = Method "trunc" (x);
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

    /// Whether it is computed by a call into the math library, tens of instructions, where a
    /// value saved on a tape costs a store and a load: the reverse pass saves such a value
    /// rather than computing it again in the backward code of a loop.
    pub fn is_costly(self) -> bool {
        matches!(
            self,
            Prim::Powi
                | Prim::Exp
                | Prim::Sigmoid
                | Prim::Exp2
                | Prim::ExpM1
                | Prim::Ln
                | Prim::Ln1p
                | Prim::Log
                | Prim::Log2
                | Prim::Log10
                | Prim::Softplus
                | Prim::Cbrt
                | Prim::Powf
                | Prim::Hypot
                | Prim::Sin
                | Prim::Cos
                | Prim::Tan
                | Prim::Asin
                | Prim::Acos
                | Prim::Atan
                | Prim::Atan2
                | Prim::Sinh
                | Prim::Cosh
                | Prim::Tanh
                | Prim::Asinh
                | Prim::Acosh
                | Prim::Atanh
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
