//! What generated code names and users do not: not part of the public interface.

pub use crate::lanes::{Lanes, dot_lanes, scaled_lanes, zero_wins_each, zero_wins_lanes};

/// A tuple of a value followed by `N` gradient entries: the result of a `g_grad` that generated
/// code calls for a call `g(args)` with `N` float arguments.
#[diagnostic::on_unimplemented(
    message = "this call's `_grad` does not return the value followed by one gradient entry per float argument",
    label = "`{Self}` has a different number of entries",
    note = "a function called from a `#[differentiate]` function needs a `_grad` that returns the value, then one entry per float argument, in order: a `wrt(...)` on it must name every float parameter",
    note = "a constant whose type the macro cannot see (a field, a `const`, a struct) has no entry: pass a float constant as a float by binding it first, as in `let c: f64 = p.c;`"
)]
pub trait Entries<const N: usize> {}

macro_rules! entries {
    ($n:literal: $($t:ident),*) => {
        #[diagnostic::do_not_recommend]
        impl<V, $($t),*> Entries<$n> for (V, $($t,)*) {}
    };
}

entries!(0:);
entries!(1: A);
entries!(2: A, B);
entries!(3: A, B, C);
entries!(4: A, B, C, D);
entries!(5: A, B, C, D, E);
entries!(6: A, B, C, D, E, F);
entries!(7: A, B, C, D, E, F, G);
entries!(8: A, B, C, D, E, F, G, H);
entries!(9: A, B, C, D, E, F, G, H, I);
entries!(10: A, B, C, D, E, F, G, H, I, J);
entries!(11: A, B, C, D, E, F, G, H, I, J, K);

/// `t` itself, once the compiler has checked that it holds the value and `N` entries.
#[inline]
pub fn entries<const N: usize, T: Entries<N>>(t: T) -> T {
    t
}

/// `f` called with the arguments in the tuple `args`: how generated code calls a helper's
/// derivative whose arity it cannot see.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take the arguments this call passes to it",
    label = "called from a `#[differentiate]` function with one argument per element of `{Args}`",
    note = "a helper `g` that writes into a buffer needs `g_jvp`, taking after each float and array argument its tangent, and `g_vjp_into`, taking after each array argument and after the buffer a buffer of its adjoint (see the README's \"Helpers that write into buffers\")"
)]
pub trait Apply<Args> {
    /// What `f` returns.
    type Output;
    /// Calls `self` with `args`.
    fn apply(self, args: Args) -> Self::Output;
}

/// The form of `g_vjp_into` for a helper `g` that returns nothing: no seed.
pub struct Unseeded;

/// The form of `g_vjp_into` for a helper `g` that also returns a float: its seed, of type `S`,
/// comes last.
pub struct Seeded<S>(core::marker::PhantomData<S>);

/// `g_vjp_into` of a helper `g` called as a statement, `g(.., &mut out);`, in either of its
/// forms: a helper that returns nothing takes no seed, one that also returns a float takes that
/// output's seed last and returns its value first. The statement discards the value, so its seed
/// is zero; the result is the gradients of the scalar arguments, in order, as a tuple.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take the arguments this call passes to it",
    label = "called from a `#[differentiate]` function with one argument per element of `{Args}`, then a seed if the helper returns a float",
    note = "a helper `g` that writes into a buffer needs `g_vjp_into`, taking after each array argument and after the buffer a buffer of its adjoint, then the seed of its float result if it returns one (see the README's \"Helpers that write into buffers\")"
)]
pub trait VjpInto<Args, Form> {
    /// The gradients of the scalar arguments.
    type Gradients;
    /// Calls `self` with `args`, and a zero seed where it takes one.
    fn vjp_into(self, args: Args) -> Self::Gradients;
}

/// The result of a `g_vjp_into` that takes a seed, `(value, gradients...)`, without the value.
pub trait Gradients {
    /// The gradients.
    type Rest;
    /// The gradients, without the value.
    fn rest(self) -> Self::Rest;
}

macro_rules! gradients {
    ($($t:ident $v:ident),*) => {
        #[diagnostic::do_not_recommend]
        impl<V, $($t),*> Gradients for (V, $($t,)*) {
            type Rest = ($($t,)*);
            #[inline]
            fn rest(self) -> Self::Rest {
                let (_, $($v,)*) = self;
                ($($v,)*)
            }
        }
    };
}

#[diagnostic::do_not_recommend]
impl<V> Gradients for (V,) {
    type Rest = ();
    #[inline]
    fn rest(self) {}
}

gradients!(A a);
gradients!(A a, B b);
gradients!(A a, B b, C c);
gradients!(A a, B b, C c, D d);
gradients!(A a, B b, C c, D d, E e);
gradients!(A a, B b, C c, D d, E e, F f);
gradients!(A a, B b, C c, D d, E e, F f, G g);
gradients!(A a, B b, C c, D d, E e, F f, G g, H h);
gradients!(A a, B b, C c, D d, E e, F f, G g, H h, I i);
gradients!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j);
gradients!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k);
gradients!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l);

macro_rules! apply {
    ($($t:ident $v:ident),*) => {
        #[diagnostic::do_not_recommend]
        impl<Func, R, $($t),*> Apply<($($t,)*)> for Func
        where
            Func: FnOnce($($t),*) -> R,
        {
            type Output = R;
            #[inline]
            fn apply(self, ($($v,)*): ($($t,)*)) -> R {
                self($($v),*)
            }
        }

        #[diagnostic::do_not_recommend]
        impl<Func, R, $($t),*> VjpInto<($($t,)*), Unseeded> for Func
        where
            Func: FnOnce($($t),*) -> R,
        {
            type Gradients = R;
            #[inline]
            fn vjp_into(self, ($($v,)*): ($($t,)*)) -> R {
                self($($v),*)
            }
        }

        #[diagnostic::do_not_recommend]
        impl<Func, R, S, $($t),*> VjpInto<($($t,)*), Seeded<S>> for Func
        where
            Func: FnOnce($($t,)* S) -> R,
            R: Gradients,
            S: num_traits::Zero,
        {
            type Gradients = R::Rest;
            #[inline]
            fn vjp_into(self, ($($v,)*): ($($t,)*)) -> R::Rest {
                self($($v,)* S::zero()).rest()
            }
        }
    };
}

apply!();
apply!(A1 a1);
apply!(A1 a1, A2 a2);
apply!(A1 a1, A2 a2, A3 a3);
apply!(A1 a1, A2 a2, A3 a3, A4 a4);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16);

/// `g_jvp(args)` for a call `g(.., &mut out);`: writes `out` and its tangent, and discards the
/// value and tangent of the float a helper may also return, as the statement discards its value.
#[inline]
pub fn jvp<Func: Apply<Args>, Args>(f: Func, args: Args) {
    let _ = f.apply(args);
}

/// `g_vjp_into(args)`, with a zero seed if `g` also returns a float (see [`VjpInto`]): the
/// gradients of the scalar arguments.
#[inline]
pub fn vjp_into<Func: VjpInto<Args, Form>, Args, Form>(f: Func, args: Args) -> Func::Gradients {
    f.vjp_into(args)
}

/// Compiles only when both arguments are the same function. `sigmoid`, `relu` and `softplus`
/// called unqualified in a differentiated body are differentiated by the runtime's rules, so the
/// name in scope there must be the runtime's: a function of the user's own of that name is a
/// compile error ("expected fn item `autodiff::sigmoid::<f64>`, found fn item `sigmoid`"), to be
/// called by its path (`self::sigmoid(x)`) so that its own `sigmoid_grad` is used.
pub const fn unqualified_name_is_the_runtime_function<F: Copy>(_runtime: F, _in_scope: F) {}
