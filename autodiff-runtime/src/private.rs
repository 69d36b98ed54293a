//! What generated code names and users do not: not part of the public interface.

pub use crate::lanes::{Lanes, dot_lanes, scaled_lanes, zero_wins_each, zero_wins_lanes};

/// A tuple of a value followed by `N` gradient entries: the result of a `g_grad` that generated
/// code calls for a call `g(args)` with `N` float arguments.
#[diagnostic::on_unimplemented(
    message = "this call's `_grad` (`_vjp` for several outputs) does not return the value followed by one gradient entry per float argument",
    label = "`{Self}` has a different number of entries",
    note = "a function called from a `#[differentiate]` function needs a `_grad` (a `_vjp` if it has several outputs) that returns the value, then one entry per float or array argument, in order: a `wrt(...)` on it must name every float parameter, slices of data too",
    note = "a constant whose type the macro cannot see (a field of a constant struct, a `const`, a struct) has no entry: pass a float constant as a float by binding it first, as in `let c: f64 = p.c;`; a field of a struct that `wrt` names is taken for a float: pass an integer field by binding it with its type first, as in `let n: usize = p.n;`"
)]
pub trait Entries<const N: usize> {
    /// The tuple itself.
    type Checked;
    /// `self`, as [`Entries::Checked`].
    fn checked(self) -> Self::Checked;
}

macro_rules! entries {
    ($n:literal: $($t:ident),*) => {
        #[diagnostic::do_not_recommend]
        impl<V, $($t),*> Entries<$n> for (V, $($t,)*) {
            type Checked = Self;
            #[inline]
            fn checked(self) -> Self {
                self
            }
        }
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

/// As [`entries`], for a result that generated code destructures: where `t` has another number
/// of entries, the pattern meets no type of its own to report a second error on.
#[inline]
pub fn checked_entries<const N: usize, T: Entries<N>>(t: T) -> T::Checked {
    t.checked()
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

/// `g_hvp_into` of a helper `g` called as a statement, in either of its forms, as
/// [`VjpInto`]: one that also returns a float takes that output's seed and the seed's tangent
/// last, zero here, and returns its value first. The result is the gradients of the scalar
/// arguments, then their tangents, as a tuple.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not take the arguments this call passes to it",
    label = "called from a `#[differentiate(hessian)]` function with one argument per element of `{Args}`, then a seed and its tangent if the helper returns a float",
    note = "a helper `g` that writes into a buffer, called from a second-order function, needs `g_jvp` and `g_hvp_into` (`#[differentiate(forward, hessian)]` on `g`; see the README's \"Helpers that write into buffers\")"
)]
pub trait HvpInto<Args, Form> {
    /// The gradients of the scalar arguments and their tangents.
    type Gradients;
    /// Calls `self` with `args`, and a zero seed and tangent where it takes them.
    fn hvp_into(self, args: Args) -> Self::Gradients;
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

        #[diagnostic::do_not_recommend]
        impl<Func, R, $($t),*> HvpInto<($($t,)*), Unseeded> for Func
        where
            Func: FnOnce($($t),*) -> R,
        {
            type Gradients = R;
            #[inline]
            fn hvp_into(self, ($($v,)*): ($($t,)*)) -> R {
                self($($v),*)
            }
        }

        #[diagnostic::do_not_recommend]
        impl<Func, R, S, $($t),*> HvpInto<($($t,)*), Seeded<S>> for Func
        where
            Func: FnOnce($($t,)* S, S) -> R,
            R: Gradients,
            S: num_traits::Zero,
        {
            type Gradients = R::Rest;
            #[inline]
            fn hvp_into(self, ($($v,)*): ($($t,)*)) -> R::Rest {
                self($($v,)* S::zero(), S::zero()).rest()
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
// Second order passes a tangent after each argument.
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18, A19 a19);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18, A19 a19, A20 a20);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18, A19 a19, A20 a20, A21 a21);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18, A19 a19, A20 a20, A21 a21, A22 a22);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18, A19 a19, A20 a20, A21 a21, A22 a22, A23 a23);
apply!(A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16, A17 a17, A18 a18, A19 a19, A20 a20, A21 a21, A22 a22, A23 a23, A24 a24);

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

/// `g_hvp_into(args)`, with a zero seed and tangent if `g` also returns a float (see
/// [`HvpInto`]): the gradients of the scalar arguments, then their tangents.
#[inline]
pub fn hvp_into<Func: HvpInto<Args, Form>, Args, Form>(f: Func, args: Args) -> Func::Gradients {
    f.hvp_into(args)
}

/// `buffer[..len]`, where `len` is the length of the slice whose gradient (or other derivative)
/// the caller's buffer takes: panics with `message` unless the buffer has that length, as
/// `assert_eq!(buffer.len(), len, message)` would. Cutting the buffer to `len` as well tells
/// LLVM, once this is inlined, that the two lengths are one value, so an index in bounds for
/// the slice needs no check on the buffer. One call instead of `assert_eq!` and a slicing
/// expression keeps the generated code, which has one per slice parameter, short. Always
/// inlined: with `#[inline]` alone, one benchmark's gradient (`mlp`) ran 179 more instructions
/// than with the `assert_eq!` this replaces.
#[allow(clippy::inline_always)]
#[inline(always)]
#[track_caller]
pub fn buffer<'a, T>(buffer: &'a mut [T], len: usize, message: &'static str) -> &'a mut [T] {
    same_length(buffer.len(), len, message);
    &mut buffer[..len]
}

/// `slice` as a shared slice: an argument of a call of a differentiated sibling's
/// `g_grad_into`, bound before the call (`&mut` reborrowed, a `Vec` or an array coerced).
#[inline]
#[must_use]
pub fn slice<T>(slice: &[T]) -> &[T] {
    slice
}

/// The number of iterations of `start..end`, for the room generated code makes on a tape
/// before a loop ([`crate::Tape::reserve`]): a bound that is no `usize` counts as 0, since the
/// room is only a hint.
#[inline]
#[must_use]
pub fn trips<I: TryInto<usize>>(start: I, end: I) -> usize {
    let (start, end) = (start.try_into().unwrap_or(0), end.try_into().unwrap_or(0));
    end.saturating_sub(start)
}

/// `a + b` of loop bounds, computed for the room made on a tape before a loop that may not
/// run: without the overflow check of a debug build, which the loop itself might never make.
#[inline]
#[must_use]
pub fn wrapping_add<I: num_traits::WrappingAdd + Copy>(a: I, b: I) -> I {
    a.wrapping_add(&b)
}

/// `a - b`, as [`wrapping_add`].
#[inline]
#[must_use]
pub fn wrapping_sub<I: num_traits::WrappingSub + Copy>(a: I, b: I) -> I {
    a.wrapping_sub(&b)
}

/// `a * b`, as [`wrapping_add`].
#[inline]
#[must_use]
pub fn wrapping_mul<I: num_traits::WrappingMul + Copy>(a: I, b: I) -> I {
    a.wrapping_mul(&b)
}

/// The number of elements a [`Scratch`] holds without allocating.
const SCRATCH_INLINE: usize = 16;

/// The buffer into which a call of a differentiated sibling's `g_grad_into` adds a slice's
/// gradient, before the caller scales it into its own adjoint: a slice of up to 16 elements
/// lives on the stack, a longer one in a `Vec` kept from call to call.
#[derive(Debug, Clone)]
pub enum Scratch<T> {
    /// Up to [`SCRATCH_INLINE`] elements, the first `len` in use.
    Inline([T; SCRATCH_INLINE], usize),
    /// More.
    Heap(Vec<T>),
}

impl<T: Copy + num_traits::Zero> Scratch<T> {
    /// An empty buffer on the stack; it does not allocate. (Its zeros are stored again by
    /// [`zeroed`] before any is read, so the compiler drops the first stores.)
    #[inline]
    #[must_use]
    pub fn new() -> Self {
        Scratch::Inline([T::zero(); SCRATCH_INLINE], 0)
    }
}

impl<T: Copy + num_traits::Zero> Default for Scratch<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> core::ops::Deref for Scratch<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Scratch::Inline(a, len) => &a[..*len],
            Scratch::Heap(v) => v,
        }
    }
}

/// `buffer` holding `len` zeros, in the memory it already has where that is enough: the scratch
/// buffer a call of a differentiated sibling's `g_grad_into` adds a slice's gradient into. It runs
/// once per call, so it is inlined and the making of a longer buffer is not.
#[inline]
pub fn zeroed<T: Copy + num_traits::Zero>(buffer: &mut Scratch<T>, len: usize) -> &mut [T] {
    let fits = match buffer {
        Scratch::Inline(..) => len <= SCRATCH_INLINE,
        Scratch::Heap(v) => v.capacity() >= len,
    };
    if !fits {
        to_heap(buffer, len);
    }
    match buffer {
        // All of it, a few vector stores rather than a `memset` of `len` elements.
        Scratch::Inline(a, n) => {
            *a = [T::zero(); SCRATCH_INLINE];
            *n = len;
            &mut a[..len]
        }
        Scratch::Heap(v) => {
            v.clear();
            v.resize(len, T::zero());
            v
        }
    }
}

/// Replaces `buffer` with an allocation of exactly `len`, more than [`SCRATCH_INLINE`] (or more
/// than the last one), filled by [`zeroed`] (see `zeros`).
#[cold]
#[inline(never)]
fn to_heap<T: Copy + num_traits::Zero>(buffer: &mut Scratch<T>, len: usize) {
    *buffer = Scratch::Heap(Vec::with_capacity(len));
}

/// Panics with `message` unless `left == right`, as `assert_eq!(left, right, message)` would:
/// the check of a slice that must have another's length.
#[allow(clippy::inline_always)]
#[inline(always)]
#[track_caller]
pub fn same_length(left: usize, right: usize, message: &'static str) {
    if left != right {
        length_mismatch(left, right, message);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn length_mismatch(left: usize, right: usize, message: &str) -> ! {
    panic!("assertion `left == right` failed: {message}\n  left: {left}\n right: {right}")
}

/// The zero seed of a call's `g_hvp`, of its output's type (`M` floats): how the forward sweep
/// of a second-order caller gets the output and its tangent from `g_hvp` alone.
#[inline]
#[must_use]
pub fn zero_seed<const M: usize, T: Copy + num_traits::Zero, O: Flat<T>>() -> O {
    O::read(&[T::zero(); M])
}

/// Compiles only when both arguments are the same function. `sigmoid`, `relu` and `softplus`
/// called unqualified in a differentiated body are differentiated by the runtime's rules, so the
/// name in scope there must be the runtime's: a function of the user's own of that name is a
/// compile error ("expected fn item `autodiff::sigmoid::<f64>`, found fn item `sigmoid`"), to be
/// called by its path (`self::sigmoid(x)`) so that its own `sigmoid_grad` is used.
pub const fn unqualified_name_is_the_runtime_function<F: Copy>(_runtime: F, _in_scope: F) {}

/// A float, a float array, or a tuple of them: the output of a function with several outputs,
/// which generated code keeps as its floats in order (tuple elements, then array elements).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an output of floats and float arrays of `{T}`",
    label = "a call destructured into floats returns this",
    note = "a function called as `let [a, b] = g(..);` or `let (u, v) = g(..);` returns a float, a float array, or a tuple of them"
)]
pub trait Flat<T>: Sized {
    /// The number of floats.
    const LEN: usize;
    /// Writes the floats into `out[..LEN]`.
    fn write(&self, out: &mut [T]);
    /// The output whose floats are `from[..LEN]`.
    fn read(from: &[T]) -> Self;
}

macro_rules! flat_float {
    ($($t:ty),*) => {$(
        impl Flat<$t> for $t {
            const LEN: usize = 1;
            #[inline]
            fn write(&self, out: &mut [$t]) {
                out[0] = *self;
            }
            #[inline]
            fn read(from: &[$t]) -> Self {
                from[0]
            }
        }
    )*};
}

flat_float!(f32, f64);

impl<T: Copy, const N: usize> Flat<T> for [T; N] {
    const LEN: usize = N;
    #[inline]
    fn write(&self, out: &mut [T]) {
        out[..N].copy_from_slice(self);
    }
    #[inline]
    fn read(from: &[T]) -> Self {
        core::array::from_fn(|k| from[k])
    }
}

macro_rules! flat_tuple {
    ($($t:ident $v:ident),*) => {
        impl<T, $($t: Flat<T>),*> Flat<T> for ($($t,)*) {
            const LEN: usize = 0 $(+ $t::LEN)*;
            #[inline]
            #[allow(unused_assignments)]
            fn write(&self, out: &mut [T]) {
                let ($($v,)*) = self;
                let mut at = 0;
                $(
                    $v.write(&mut out[at..]);
                    at += $t::LEN;
                )*
            }
            #[inline]
            #[allow(unused_assignments)]
            fn read(from: &[T]) -> Self {
                let mut at = 0;
                ($({
                    let $v = $t::read(&from[at..]);
                    at += $t::LEN;
                    $v
                },)*)
            }
        }
    };
}

flat_tuple!(A a);
flat_tuple!(A a, B b);
flat_tuple!(A a, B b, C c);
flat_tuple!(A a, B b, C c, D d);
flat_tuple!(A a, B b, C c, D d, E e);
flat_tuple!(A a, B b, C c, D d, E e, F f);
flat_tuple!(A a, B b, C c, D d, E e, F f, G g);
flat_tuple!(A a, B b, C c, D d, E e, F f, G g, H h);

/// Writes `output`'s floats into `out`: how generated code calls a function with several
/// outputs, `let [a, b] = g(x);`, keeping them in a buffer.
///
/// # Panics
///
/// If `out` is not as long as the output, which the macro sizes from the pattern: the pattern
/// binds another number of floats than `g` returns.
#[inline]
pub fn flatten_into<T, O: Flat<T>>(output: &O, out: &mut [T]) {
    assert_eq!(out.len(), O::LEN, "{OTHER_NUMBER}");
    output.write(out);
}

const OTHER_NUMBER: &str = "a call destructures its output into another number of floats: name each float, and give the type of array elements, as in `let (u, v): (f64, [f64; 2]) = g(..);`";

/// [`flatten_into`] into a buffer of `M` floats, which must be the output's number: a compile
/// error otherwise.
#[inline]
pub fn flatten_into_m<const M: usize, T, O: Flat<T>>(output: &O, out: &mut [T]) {
    const { assert!(O::LEN == M, "{}", OTHER_NUMBER) };
    output.write(out);
}

/// The seed of a call's `g_vjp`, of its output's type, read from the adjoints of the `M` floats
/// the caller bound, which are then zero: the call overwrote them.
#[inline]
pub fn take_seed<const M: usize, T: Copy + num_traits::Zero, O: Flat<T>>(adjoint: &mut [T]) -> O {
    const { assert!(O::LEN == M, "{}", OTHER_NUMBER) };
    let seed = O::read(adjoint);
    adjoint.fill(T::zero());
    seed
}

/// An argument as the called function takes it: an array that generated code holds as a slice
/// (`&x[..]`) passed as `[T; N]`, `&[T; N]` or `&[T]`, anything else as it is.
#[diagnostic::on_unimplemented(
    message = "a function with several outputs takes `{Self}` where its caller passes `{A}`",
    note = "an array argument of a function with several outputs is `[f64; N]`, `&[f64; N]` or `&[f64]`"
)]
pub trait FromArg<A> {
    /// The argument as the callee takes it.
    fn from_arg(a: A) -> Self;
}

impl<X> FromArg<X> for X {
    #[inline]
    fn from_arg(a: X) -> X {
        a
    }
}

impl<T: Copy, const N: usize> FromArg<&[T]> for [T; N] {
    #[inline]
    fn from_arg(a: &[T]) -> Self {
        core::array::from_fn(|k| a[k])
    }
}

impl<'a, T, const N: usize> FromArg<&'a [T]> for &'a [T; N] {
    #[inline]
    fn from_arg(a: &'a [T]) -> Self {
        a.try_into()
            .expect("an array argument has the length of the callee's parameter")
    }
}

/// `a` as the parameter it is passed to takes it (see [`FromArg`]).
#[inline]
pub fn arg<A, P: FromArg<A>>(a: A) -> P {
    P::from_arg(a)
}

/// Adds a gradient entry of an array argument (`[T; N]` or `Vec<T>`) into the argument's
/// adjoint buffer.
#[inline]
pub fn add_into<T: Copy + core::ops::AddAssign, G: AsRef<[T]>>(adjoint: &mut [T], gradient: G) {
    for (a, g) in adjoint.iter_mut().zip(gradient.as_ref()) {
        *a += *g;
    }
}

/// A `Vec` of `len` copies of `zero`, for the gradient of a slice that `f_grad` returns. Filled
/// after a plain allocation rather than by `vec![0.0; len]`, whose zeroed allocation (`calloc`)
/// skips glibc's per-thread cache of small blocks: a caller calls `g_grad` once per call of `g`,
/// and for a short slice the allocation is most of the call's cost.
#[inline]
#[must_use]
pub fn zeros<T: Copy>(len: usize, zero: T) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, zero);
    v
}
