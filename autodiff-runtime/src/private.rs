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
