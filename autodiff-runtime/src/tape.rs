//! The stack on which generated gradient code saves values for its backward sweep.

/// The size of a tape's first heap allocation.
const FIRST_SPILL_BYTES: usize = 512;

/// A last-in, first-out store of the values a loop's backward sweep needs.
///
/// `#[differentiate]` emits one for each block of a loop (or branch) whose values the backward
/// sweep cannot recompute: the forward sweep pushes a value each time it is computed and the
/// backward sweep, running the iterations in reverse, pops it. A loop that only accumulates
/// (`s += w[i] * x[i]`) needs none.
///
/// The first `N` values live inline, so a loop whose trip count the macro knows at compile time
/// (a loop over a fixed-size array, a literal range) never touches the heap; values past `N` go to
/// a `Vec`, which allocates only then, 1 KiB at first.
///
/// ```
/// let mut tape = autodiff_runtime::Tape::<f64, 2>::new();
/// for p in [1.0, 2.0, 3.0] {
///     tape.push(p);
/// }
/// assert_eq!(tape.pop(), 3.0);
/// assert_eq!(tape.pop(), 2.0);
/// assert_eq!(tape.pop(), 1.0);
/// assert!(tape.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Tape<T, const N: usize> {
    inline: [T; N],
    len: usize,
    spill: Vec<T>,
}

impl<T: Copy + Default, const N: usize> Tape<T, N> {
    /// An empty tape; it does not allocate.
    #[must_use]
    pub fn new() -> Self {
        Tape {
            inline: [T::default(); N],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Saves a value.
    #[inline]
    pub fn push(&mut self, value: T) {
        if self.len < N {
            self.inline[self.len] = value;
        } else {
            if self.spill.len() == self.spill.capacity() {
                self.grow();
            }
            self.spill.push(value);
        }
        self.len += 1;
    }

    /// Doubles the spill; its first allocation has room for `FIRST_SPILL_BYTES` of values at
    /// once, where a `Vec` would double from four, so the tape of a short loop allocates once
    /// rather than five or six times.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let first = FIRST_SPILL_BYTES / size_of::<T>().max(1);
        self.spill.reserve(self.spill.capacity().max(first));
    }

    /// Takes back the value saved last.
    ///
    /// # Panics
    ///
    /// If the tape is empty: generated code pops exactly what it pushed, so this is a bug in
    /// the code that uses the tape.
    #[inline]
    pub fn pop(&mut self) -> T {
        assert!(
            self.len > 0,
            "the backward sweep pops only what the forward sweep pushed"
        );
        self.len -= 1;
        if self.len < N {
            self.inline[self.len]
        } else {
            self.spill
                .pop()
                .expect("values past the inline capacity are in the spill")
        }
    }

    /// The number of values saved.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is saved.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Copy + Default, const N: usize> Default for Tape<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Tape;

    #[test]
    fn last_in_first_out_across_the_inline_capacity() {
        for capacity_test in 0..6 {
            let mut inline0: Tape<i32, 0> = Tape::new();
            let mut inline3: Tape<i32, 3> = Tape::new();
            for v in 0..capacity_test {
                inline0.push(v);
                inline3.push(v);
            }
            assert_eq!(inline3.len(), usize::try_from(capacity_test).unwrap());
            for v in (0..capacity_test).rev() {
                assert_eq!(inline0.pop(), v);
                assert_eq!(inline3.pop(), v);
            }
            assert!(inline0.is_empty() && inline3.is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "pops only what the forward sweep pushed")]
    fn popping_an_empty_tape_is_a_bug() {
        Tape::<f64, 2>::new().pop();
    }
}
