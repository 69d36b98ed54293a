//! Batch timing for the reports (`examples/bench_report.rs`, `examples/modes.rs`) that stays
//! meaningful on a machine shared with other jobs.
//!
//! A batch's wall-clock time counts the time the thread spent runnable but waiting for a CPU,
//! and on a loaded machine a batch of a few milliseconds is almost always preempted, so even the
//! median grows with the load. Linux accounts that wait, exactly and in nanoseconds, as the
//! second field (`run_delay`) of `/proc/thread-self/schedstat`, updated each time the thread gets
//! a CPU back. A batch's time here is its wall-clock time minus the growth of `run_delay` over it.
//! Elsewhere, or where the file cannot be read, it is the wall-clock time.
//!
//! This does not remove the other effects of sharing a machine (caches, memory bandwidth, a
//! hypervisor's stolen time), which is why the reports still take medians of interleaved runs.

use std::time::Instant;

/// The thread's accumulated wait for a CPU, in nanoseconds, if the kernel reports it.
fn run_delay() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().nth(1)?.parse().ok()
}

/// Whether batch times exclude the waits for a CPU.
#[must_use]
pub fn excludes_waits() -> bool {
    run_delay().is_some()
}

/// Runs `call` `iters` times; the nanoseconds per call, not counting waits for a CPU.
#[allow(clippy::cast_precision_loss)] // Counts and nanoseconds stay far below 2^52.
pub fn batch(iters: u64, call: &mut impl FnMut()) -> f64 {
    let before = run_delay();
    let start = Instant::now();
    for _ in 0..iters {
        call();
    }
    let wall = start.elapsed().as_nanos() as f64;
    let waited = match (before, run_delay()) {
        (Some(b), Some(a)) => a.saturating_sub(b) as f64,
        _ => 0.0,
    };
    // A wait between the end of the batch and the second reading would be subtracted too; the
    // batch still took at least a few nanoseconds per call.
    (wall - waited).max(wall * 1e-3) / iters as f64
}

/// The calls per batch that make a batch last at least `run_ns` nanoseconds; the doubling
/// batches it times on the way warm up caches and branch predictors.
pub fn calibrate(run_ns: f64, call: &mut impl FnMut()) -> u64 {
    let mut iters: u64 = 1;
    while iters < 1 << 40 {
        #[allow(clippy::cast_precision_loss)] // Far below 2^52.
        let total = batch(iters, call) * iters as f64;
        if total >= run_ns {
            break;
        }
        iters *= 2;
    }
    iters
}

/// The median and the interquartile range of a sample.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The third quartile minus the first, as a fraction of the median.
    pub spread: f64,
}

impl Summary {
    /// The summary of `samples`, which it sorts.
    ///
    /// # Panics
    ///
    /// If `samples` is empty.
    #[must_use]
    pub fn of(samples: &mut [f64]) -> Self {
        assert!(!samples.is_empty(), "no samples");
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let median = samples[n / 2];
        let spread = (samples[(3 * n) / 4] - samples[n / 4]) / median;
        Self { median, spread }
    }
}
