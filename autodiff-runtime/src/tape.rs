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
/// a `Vec`, which allocates only then: 512 bytes at first, or the room that generated code makes
/// before a loop whose pushes it can count where the loop starts ([`Tape::reserve`]).
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
    /// The number of values saved.
    len: usize,
    /// Values `N..` at `len - N`; every slot is initialised, so a push is one comparison and a
    /// store, and `len` is the only length kept.
    spill: Vec<T>,
}

impl<T: Copy + Default, const N: usize> Tape<T, N> {
    /// An empty tape; it does not allocate.
    #[must_use]
    pub fn new() -> Self {
        Self::filled(T::default())
    }
}

impl<T: Copy, const N: usize> Tape<T, N> {
    /// An empty tape whose unused inline slots hold `fill`, for a `T` without a `Default`
    /// (a generic `T: Float`); it does not allocate.
    #[must_use]
    pub fn filled(fill: T) -> Self {
        Tape {
            inline: [fill; N],
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
            match self.spill.get_mut(self.len - N) {
                Some(slot) => *slot = value,
                None => grow_to(&mut self.spill, self.len - N + 1, value),
            }
        }
        self.len += 1;
    }

    /// Takes back the value saved last.
    ///
    /// # Panics
    ///
    /// If the tape is empty: generated code pops exactly what it pushed, so this is a bug in
    /// the code that uses the tape.
    #[inline]
    pub fn pop(&mut self) -> T {
        // An empty tape wraps to `usize::MAX`, which no slot has.
        let top = self.len.wrapping_sub(1);
        let value = if top < N {
            self.inline[top]
        } else {
            *self
                .spill
                .get(top.wrapping_sub(N))
                .expect("the backward sweep pops only what the forward sweep pushed")
        };
        self.len = top;
        value
    }

    /// Saves `n` zeros and returns them to be written in place: a slice's gradient that a call
    /// adds into them is saved without a copy, and popped element by element, last first.
    ///
    /// # Panics
    ///
    /// If the `n` values would lie partly inline and partly on the heap: generated code calls
    /// it on tapes with no inline part.
    #[inline]
    pub fn extend_zeroed(&mut self, n: usize) -> &mut [T]
    where
        T: num_traits::Zero,
    {
        let start = self.len;
        self.len += n;
        if self.len <= N {
            let part = &mut self.inline[start..self.len];
            part.fill(T::zero());
            return part;
        }
        let start = start
            .checked_sub(N)
            .expect("a slice pushed on a tape lies wholly inline or wholly on the heap");
        let end = start + n;
        if self.spill.len() < end {
            grow_to(&mut self.spill, end, T::zero());
        }
        let part = &mut self.spill[start..end];
        part.fill(T::zero());
        part
    }

    /// Makes room for `additional` more values, so that pushing them does not allocate:
    /// generated code calls it before a loop whose pushes it can count where the loop starts.
    /// An empty tape gets exactly that room, rather than [`FIRST_SPILL_BYTES`]; a tape with
    /// values at least doubles, so room made again and again for a growing tape costs what
    /// pushing costs.
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        let end = self.len.saturating_add(additional).saturating_sub(N);
        if end > self.spill.capacity() {
            make_room(&mut self.spill, end);
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

/// Makes a full spill hold at least `end` values, filling the new slots with `fill` (for a push,
/// the value pushed; the others are written before any pop reads them): it doubles, and its
/// first allocation has room for `FIRST_SPILL_BYTES` of values at once, where a `Vec` would
/// double from four, so the tape of a short loop allocates once rather than five or six times.
/// It takes the spill alone, not the tape, so that the tape's length need not be read again
/// from memory after a call that may have changed it.
/// Room made by [`Tape::reserve`] is used as it is.
#[cold]
#[inline(never)]
fn grow_to<T: Copy>(spill: &mut Vec<T>, end: usize, fill: T) {
    if spill.capacity() < end {
        let first = FIRST_SPILL_BYTES / size_of::<T>().max(1);
        let len = spill.len();
        spill.reserve_exact(end.max(2 * len).max(first) - len);
    }
    spill.resize(spill.capacity(), fill);
}

/// Gives a spill room for `end` values: exactly that for an empty one, at least twice its room
/// otherwise. The new room is filled by the next push ([`grow_to`]).
#[cold]
#[inline(never)]
fn make_room<T>(spill: &mut Vec<T>, end: usize) {
    let room = spill.capacity();
    let target = if room == 0 { end } else { end.max(2 * room) };
    spill.reserve_exact(target - spill.len());
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
    fn slices_pushed_as_zeros_and_written_pop_last_first() {
        let mut inline0: Tape<f64, 0> = Tape::new();
        let mut inline4: Tape<f64, 4> = Tape::new();
        let mut model = Vec::new();
        // Slices of 3 between single values, across the first spill and several growths;
        // on the tape with an inline part, only where a slice lies wholly on one side.
        for round in 0..200_u32 {
            let x = f64::from(round);
            inline0.push(x);
            model.push(x);
            let slice = [x + 0.25, x + 0.5, x + 0.75];
            for (z, v) in inline0.extend_zeroed(3).iter_mut().zip(slice) {
                assert_eq!(*z, 0.0);
                *z += v;
            }
            model.extend(slice);
        }
        for _ in 0..4 {
            inline4.push(1.0);
        }
        inline4.extend_zeroed(2).copy_from_slice(&[2.0, 3.0]);
        assert_eq!(
            (inline4.pop(), inline4.pop(), inline4.pop()),
            (3.0, 2.0, 1.0)
        );
        let mut small: Tape<f64, 4> = Tape::new();
        small.extend_zeroed(3)[1] = 5.0;
        assert_eq!((small.pop(), small.pop(), small.pop()), (0.0, 5.0, 0.0));
        while let Some(want) = model.pop() {
            assert_eq!(inline0.pop(), want);
        }
        assert!(inline0.is_empty());
    }

    #[test]
    fn last_in_first_out_across_growths_of_the_spill() {
        let mut inline0: Tape<u64, 0> = Tape::new();
        let mut inline3: Tape<u64, 3> = Tape::new();
        // Pushes and pops interleaved, as nested loops use a tape: the spill grows several times.
        let mut model = Vec::new();
        for round in 0..4_u64 {
            for v in 0..700 * (round + 1) {
                inline0.push(v ^ round);
                inline3.push(v ^ round);
                model.push(v ^ round);
            }
            for _ in 0..300 {
                let want = model.pop();
                assert_eq!(Some(inline0.pop()), want);
                assert_eq!(Some(inline3.pop()), want);
            }
            assert_eq!(inline0.len(), model.len());
            assert_eq!(inline3.len(), model.len());
        }
        while let Some(want) = model.pop() {
            assert_eq!(inline0.pop(), want);
            assert_eq!(inline3.pop(), want);
        }
        assert!(inline0.is_empty() && inline3.is_empty());
    }

    #[test]
    fn room_made_before_a_loop_is_exact_then_doubles() {
        let mut tape: Tape<u64, 2> = Tape::new();
        let mut model = Vec::new();
        // As a loop over points uses it: room for one point's pushes, then the pushes, then
        // the pops, again and again; room counts the inline part.
        for point in 0..5_u64 {
            tape.reserve(12);
            assert_eq!(tape.spill.capacity(), 10);
            for v in 0..12 {
                tape.push(point * 100 + v);
                model.push(point * 100 + v);
            }
            assert_eq!(tape.spill.capacity(), 10);
            while let Some(want) = model.pop() {
                assert_eq!(tape.pop(), want);
            }
        }
        // More pushes than the room made, slices among them, and room made again for a tape
        // that holds values: at least double.
        tape.reserve(5);
        for v in 0..30 {
            if v % 7 == 3 {
                let part = tape.extend_zeroed(3);
                part.copy_from_slice(&[v, v + 1, v + 2]);
                model.extend([v, v + 1, v + 2]);
            } else {
                tape.push(v);
                model.push(v);
            }
            let room = tape.spill.capacity();
            tape.reserve(1);
            assert!(tape.spill.capacity() == room || tape.spill.capacity() >= 2 * room);
        }
        while let Some(want) = model.pop() {
            assert_eq!(tape.pop(), want);
        }
        assert!(tape.is_empty());
    }

    #[test]
    #[should_panic(expected = "pops only what the forward sweep pushed")]
    fn popping_an_empty_tape_is_a_bug() {
        Tape::<f64, 2>::new().pop();
    }

    #[test]
    #[should_panic(expected = "pops only what the forward sweep pushed")]
    fn popping_an_emptied_tape_is_a_bug() {
        let mut tape = Tape::<f64, 0>::new();
        tape.push(1.0);
        tape.pop();
        tape.pop();
    }
}
