//! The stack on which generated gradient code saves values for its backward sweep.

/// A last-in, first-out store of the values a loop's backward sweep needs.
///
/// `#[differentiate]` emits one for each block of a loop (or branch) whose values the backward
/// sweep cannot recompute: the forward sweep pushes a value each time it is computed and the
/// backward sweep, running the iterations in reverse, pops it. A loop that only accumulates
/// (`s += w[i] * x[i]`) needs none. A new `Tape` does not allocate until the first push.
///
/// ```
/// let mut tape = autodiff::Tape::new();
/// for p in [1.0, 2.0, 3.0] {
///     tape.push(p);
/// }
/// assert_eq!(tape.pop(), 3.0);
/// assert_eq!(tape.pop(), 2.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Tape<T>(Vec<T>);

impl<T> Tape<T> {
    /// An empty tape.
    #[must_use]
    pub const fn new() -> Self {
        Tape(Vec::new())
    }

    /// Saves a value.
    #[inline]
    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    /// Takes back the value saved last.
    ///
    /// # Panics
    ///
    /// If the tape is empty: generated code pops exactly what it pushed, so this is a bug in
    /// the code that uses the tape.
    #[inline]
    pub fn pop(&mut self) -> T {
        self.0
            .pop()
            .expect("the backward sweep pops only what the forward sweep pushed")
    }

    /// The number of values saved.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no value is saved.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
