//! Functions with several top-level accumulation loops, in either order, with per-iteration
//! temporary arrays, and with loops that read what an earlier loop accumulated: the shapes whose
//! backward code runs inside the loops (or, where it cannot, in a second loop). Each gradient
//! is checked against fourth-order finite differences of the original function and against
//! forward mode along every unit direction.
#![allow(clippy::needless_range_loop, clippy::cast_precision_loss)]

use autodiff::{Tolerance, check_gradient_with, differentiate};

const TOL: Tolerance = Tolerance {
    rel: 1e-7,
    abs: 1e-9,
};

/// The points the functions are checked at: a few lengths, irregular values.
fn points() -> Vec<Vec<f64>> {
    (1..=7)
        .map(|n| {
            (0..n)
                .map(|i| 0.3 + 0.17 * f64::from(i) - 0.05 * f64::from(i * i) + 0.01 * f64::from(n))
                .collect()
        })
        .collect()
}

/// Checks `grad` at `x` against finite differences of `f` and against `jvp` along each unit
/// direction.
fn verify(
    f: impl Fn(&[f64]) -> f64,
    grad: impl Fn(&[f64]) -> (f64, Vec<f64>),
    jvp: impl Fn(&[f64], &[f64]) -> (f64, f64),
) {
    for x in points() {
        let (value, g) = grad(&x);
        assert_eq!(value.to_bits(), f(&x).to_bits(), "value at {x:?}");
        check_gradient_with(&f, &x, &g, TOL).unwrap_or_else(|e| panic!("at {x:?}: {e}"));
        for i in 0..x.len() {
            let mut e = vec![0.0; x.len()];
            e[i] = 1.0;
            let (_, t) = jvp(&x, &e);
            assert!(
                (t - g[i]).abs() <= 1e-12 * (1.0 + t.abs()),
                "entry {i} at {x:?}: reverse {} forward {t}",
                g[i]
            );
        }
    }
}

fn grad_of(into: impl Fn(&[f64], &mut [f64]) -> f64) -> impl Fn(&[f64]) -> (f64, Vec<f64>) {
    move |x| {
        let mut d = vec![0.0; x.len()];
        let v = into(x, &mut d);
        (v, d)
    }
}

/// Two accumulation loops, the second reading nothing of the first, and a product of their
/// sums: the first sum's adjoint is the second sum, so only the second loop runs its backward
/// code inside itself.
#[differentiate(reverse, forward)]
fn two_sums(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].sin() * x[i];
    }
    let mut t = 0.0;
    for i in 0..x.len() {
        t += (x[i] * 0.5).exp();
    }
    s * t + s
}

/// The same two loops, summed: both run their backward code inside themselves.
#[differentiate(reverse, forward)]
fn two_sums_added(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].sin() * x[i];
    }
    let mut t = 0.0;
    for i in 0..x.len() {
        t += (x[i] * 0.5).exp();
    }
    2.0 * s - t
}

#[test]
fn two_accumulation_loops_added() {
    verify(
        two_sums_added,
        grad_of(|x, d| two_sums_added_grad_into(x, d).0),
        two_sums_added_jvp,
    );
}

#[test]
fn two_accumulation_loops() {
    verify(
        two_sums,
        grad_of(|x, d| two_sums_grad_into(x, d).0),
        two_sums_jvp,
    );
}

/// The same two loops in the other order, with a scalar computed between them.
#[differentiate(reverse, forward)]
fn two_sums_swapped(x: &[f64]) -> f64 {
    let mut t = 0.0;
    for i in 0..x.len() {
        t += (x[i] * 0.5).exp();
    }
    let u = t.ln();
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].sin() * x[i];
    }
    u * s + t
}

#[test]
fn two_accumulation_loops_other_order() {
    verify(
        two_sums_swapped,
        grad_of(|x, d| two_sums_swapped_grad_into(x, d).0),
        two_sums_swapped_jvp,
    );
}

/// A loop after an accumulation loop that reads its result: the first loop's adjoint is only
/// known after the second loop's backward code, so the first cannot run its backward code
/// inside itself; the gradient must still be right.
#[differentiate(reverse, forward)]
fn reads_the_sum(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    let mut t = 0.0;
    for i in 0..x.len() {
        t += (x[i] * s).sin();
    }
    t
}

#[test]
fn loop_reads_an_earlier_sum() {
    verify(
        reads_the_sum,
        grad_of(|x, d| reads_the_sum_grad_into(x, d).0),
        reads_the_sum_jvp,
    );
}

/// A per-iteration temporary: `tmp` is declared before the loop, overwritten at the start of
/// every iteration and only read after that, like the centred point of a Gaussian mixture objective.
#[differentiate(reverse, forward)]
fn temporary(x: &[f64]) -> f64 {
    let n = x.len();
    let mut tmp = [0.0; 8];
    let mut acc = 0.0;
    for i in 0..n {
        for j in 0..n {
            tmp[j] = x[j] - x[i];
        }
        for j in 1..n {
            tmp[j] += 0.5 * tmp[j - 1];
        }
        let mut q = tmp[0] * tmp[0];
        for j in 0..n {
            q += tmp[j] * tmp[j] * x[j];
        }
        acc += (0.1 * q).exp();
    }
    let mut other = 0.0;
    for i in 0..n {
        other += x[i].cos();
    }
    acc * other
}

#[test]
fn per_iteration_temporary() {
    verify(
        temporary,
        grad_of(|x, d| temporary_grad_into(x, d).0),
        temporary_jvp,
    );
}

/// A temporary that is read before the iteration writes it: its values cross iterations, so
/// the loop is not fused, and the gradient must account for the carried values.
#[differentiate(reverse, forward)]
fn carried_array(x: &[f64]) -> f64 {
    let n = x.len();
    let mut prev = [0.0; 8];
    let mut acc = 0.0;
    for i in 0..n {
        acc += prev[0] * x[i];
        for j in 0..n {
            prev[j] = x[j] * x[i] + 0.25 * prev[j];
        }
    }
    acc
}

#[test]
fn array_carried_across_iterations() {
    verify(
        carried_array,
        grad_of(|x, d| carried_array_grad_into(x, d).0),
        carried_array_jvp,
    );
}

/// A temporary read after the loop: its last iteration's values leave the loop.
#[differentiate(reverse, forward)]
fn temporary_read_after(x: &[f64]) -> f64 {
    let n = x.len();
    let mut tmp = [0.0; 8];
    let mut acc = 0.0;
    for i in 0..n {
        for j in 0..n {
            tmp[j] = x[j] * x[i];
        }
        acc += tmp[0];
    }
    acc + tmp[n - 1] * 3.0
}

#[test]
fn temporary_read_after_the_loop() {
    verify(
        temporary_read_after,
        grad_of(|x, d| temporary_read_after_grad_into(x, d).0),
        temporary_read_after_jvp,
    );
}

/// Three loops: a sum, a maximum (not an accumulation) over the same values, and a sum that
/// reads the maximum, like a log-sum-exp between two other accumulations.
#[differentiate(reverse, forward)]
fn log_sum_exp_between(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i] * 0.5;
    }
    let mut mx = x[0];
    for i in 1..x.len() {
        mx = mx.max(x[i]);
    }
    let mut semx = 0.0;
    for i in 0..x.len() {
        semx += (x[i] - mx).exp();
    }
    let lse = semx.ln() + mx;
    let mut prior = 0.0;
    for i in 0..x.len() {
        prior += x[i].powi(3);
    }
    s - 2.0 * lse + prior
}

#[test]
fn log_sum_exp_between_sums() {
    verify(
        log_sum_exp_between,
        grad_of(|x, d| log_sum_exp_between_grad_into(x, d).0),
        log_sum_exp_between_jvp,
    );
}

/// GMM's shape in the order of its reference code: an array filled first, a loop that reads it and keeps the
/// values of a nested product on a tape, then a loop with its own nested product that subtracts
/// a multiple of the array (its backward code subtracts from the array's adjoint, which the
/// first loop's backward code adds to). Both loops run their backward code inside themselves.
#[differentiate(reverse, forward)]
fn points_then_prior(x: &[f64]) -> f64 {
    let n = x.len();
    let mut q = [0.0; 8];
    for i in 0..n {
        q[i] = x[i].sin();
    }
    let mut total = 0.0;
    for i in 0..n {
        let mut p = 1.0;
        for j in 0..n {
            p *= (q[j] + 0.3 * x[i]).cos();
        }
        total += p;
    }
    let mut prior = 0.0;
    for k in 0..n {
        let mut r = 1.0;
        for j in 0..k {
            r *= x[j].tanh() + 1.5;
        }
        prior += r - 0.5 * q[k];
    }
    total + prior
}

#[test]
fn points_then_prior_both_fused() {
    verify(
        points_then_prior,
        grad_of(|x, d| points_then_prior_grad_into(x, d).0),
        points_then_prior_jvp,
    );
}

/// The same, subtracting from an element of the array's adjoint in both loops and adding in
/// neither: two subtractions commute.
#[differentiate(reverse, forward)]
fn two_subtractions(x: &[f64]) -> f64 {
    let n = x.len();
    let mut q = [0.0; 8];
    for i in 0..n {
        q[i] = x[i] * x[i];
    }
    let mut total = 0.0;
    for i in 0..n {
        let mut p = 1.0;
        for j in 0..i {
            p *= x[j].cos() + 2.0;
        }
        total += p - q[i] * 0.25;
    }
    let mut prior = 0.0;
    for k in 0..n {
        prior += x[k].exp() - 0.5 * q[k];
    }
    total * 1.5 + prior
}

#[test]
fn subtractions_from_one_adjoint() {
    verify(
        two_subtractions,
        grad_of(|x, d| two_subtractions_grad_into(x, d).0),
        two_subtractions_jvp,
    );
}

/// A fused loop whose nested loop reads an array filled before it: its backward code loads the
/// entries again rather than saving them.
#[differentiate(reverse, forward)]
fn reads_filled_array(x: &[f64]) -> f64 {
    let n = x.len();
    let mut q = [0.0; 8];
    for i in 0..n {
        q[i] = x[i].cos();
    }
    let mut s = 0.0;
    for a in 0..n {
        let mut p = 1.0;
        for j in 0..n {
            p *= q[j] * x[a] + 2.0;
        }
        s += p;
    }
    s
}

#[test]
fn filled_array_read_again() {
    verify(
        reads_filled_array,
        grad_of(|x, d| reads_filled_array_grad_into(x, d).0),
        reads_filled_array_jvp,
    );
}

/// The same, the loop also overwriting the array after reading it: the loads must be saved.
#[differentiate(reverse, forward)]
fn overwrites_read_array(x: &[f64]) -> f64 {
    let n = x.len();
    let mut q = [0.0; 8];
    for i in 0..n {
        q[i] = x[i].cos();
    }
    let mut s = 0.0;
    for a in 0..n {
        let mut p = 1.0;
        for j in 0..n {
            p *= q[j] * x[a] * 0.25 + 1.0;
        }
        s += p;
        q[a] = 0.1 * p.sin();
    }
    s
}

#[test]
fn overwritten_array_is_saved() {
    verify(
        overwrites_read_array,
        grad_of(|x, d| overwrites_read_array_grad_into(x, d).0),
        overwrites_read_array_jvp,
    );
}

/// A fused loop whose body fills a temporary in one nested loop and reads it in the next two,
/// as GMM's log-sum-exp reads `main_term`: nothing in the iteration writes the temporary after
/// those reads, so their backward code loads the entries again.
#[differentiate(reverse, forward)]
fn softmax_rows(x: &[f64]) -> f64 {
    let n = x.len();
    let mut h = [0.0; 8];
    let mut s = 0.0;
    for a in 0..n {
        for j in 0..n {
            h[j] = x[j] * x[a] + 0.1 * j as f64;
        }
        let mut m = h[0];
        for j in 1..n {
            m = m.max(h[j]);
        }
        let mut e = 0.0;
        for j in 0..n {
            e += (h[j] - m).exp() * x[j];
        }
        s += e.abs().ln() + m * x[a];
    }
    s
}

#[test]
fn temporary_read_by_later_nested_loops() {
    verify(
        softmax_rows,
        grad_of(|x, d| softmax_rows_grad_into(x, d).0),
        softmax_rows_jvp,
    );
}

/// The same, the iteration clearing the temporary at its end: the entries the nested loops read
/// are gone by the time their backward code runs, so they are saved. (The maximum enters the
/// result, `m * x[a]`, so which entry it came from matters.)
#[differentiate(reverse, forward)]
fn softmax_rows_cleared(x: &[f64]) -> f64 {
    let n = x.len();
    let mut h = [0.0; 8];
    let mut s = 0.0;
    for a in 0..n {
        for j in 0..n {
            h[j] = x[j] * x[a] + 0.1 * j as f64;
        }
        let mut m = h[0];
        for j in 1..n {
            m = m.max(h[j]);
        }
        let mut e = 0.0;
        for j in 0..n {
            e += (h[j] - m).exp() * x[j];
        }
        s += e.abs().ln() + m * x[a];
        for j in 0..n {
            h[j] = -1.0;
        }
    }
    s
}

#[test]
fn temporary_cleared_after_the_reads() {
    verify(
        softmax_rows_cleared,
        grad_of(|x, d| softmax_rows_cleared_grad_into(x, d).0),
        softmax_rows_cleared_jvp,
    );
}

/// A helper reading two entries of the slice it is given.
#[differentiate(reverse, forward)]
fn pair_energy(v: &[f64]) -> f64 {
    v[0] * v[1] + v[1]
}

/// An accumulation loop that passes a part of a temporary to a helper before the iteration
/// stores into it: the helper reads what the previous iteration stored, so the iterations are
/// not independent and the loop's backward code must not run inside it. The sum is
/// `Σ_{i < n - 1} (2 x_i² + 2 x_i)`.
#[differentiate(reverse, forward)]
fn part_read_before_the_stores(x: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..x.len() {
        s += pair_energy(&h[0..2]);
        for j in 0..2 {
            h[j] = x[i] * (j as f64 + 1.0);
        }
    }
    s
}

/// The same with the part passed after the stores: each iteration reads its own entries. The
/// sum is `Σ_i (2 x_i² + 2 x_i)`.
#[differentiate(reverse, forward)]
fn part_read_after_the_stores(x: &[f64]) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..x.len() {
        for j in 0..2 {
            h[j] = x[i] * (j as f64 + 1.0);
        }
        s += pair_energy(&h[0..2]);
    }
    s
}

#[test]
fn part_of_a_temporary_passed_to_a_helper() {
    for x in points() {
        let n = x.len();
        // Closed forms: ∂/∂x_i (2 x_i² + 2 x_i) = 4 x_i + 2, for the entries each form sums.
        let before: Vec<f64> = (0..n)
            .map(|i| if i + 1 < n { 4.0 * x[i] + 2.0 } else { 0.0 })
            .collect();
        let after: Vec<f64> = x.iter().map(|xi| 4.0 * xi + 2.0).collect();
        let (_, g) = part_read_before_the_stores_grad(&x);
        for (i, (a, b)) in g.iter().zip(&before).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12,
                "before, entry {i} at {x:?}: {a} against {b}"
            );
        }
        let (_, g) = part_read_after_the_stores_grad(&x);
        for (i, (a, b)) in g.iter().zip(&after).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12,
                "after, entry {i} at {x:?}: {a} against {b}"
            );
        }
    }
    verify(
        part_read_before_the_stores,
        grad_of(|x, d| part_read_before_the_stores_grad_into(x, d).0),
        part_read_before_the_stores_jvp,
    );
    verify(
        part_read_after_the_stores,
        grad_of(|x, d| part_read_after_the_stores_grad_into(x, d).0),
        part_read_after_the_stores_jvp,
    );
}

/// A temporary declared in the loop, stored into only on even iterations but read in every
/// one: an odd iteration reads the declaration's zero, so the adjoint its read leaves must be
/// dropped there, not carried to the store of the iteration before. f = Σ over even i of
/// xᵢ · x_{i+1} (the odd iterations add 0 · xᵢ), plus Σ xᵢ².
#[differentiate(reverse, forward)]
fn stored_on_even_iterations(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let mut h = [0.0; 2];
        h[0] = x[i];
        if i % 2 == 0 {
            h[1] = x[i];
        }
        s += h[0] * h[0] + h[1] * x[(i + 1) % n];
    }
    s
}

/// The same temporary stored in full each iteration by a covering loop before its reads: each
/// run's backward code clears what its reads added, and the declaration need not.
/// f = Σᵢ (xᵢ² + xᵢ · x_{i+1}).
#[differentiate(reverse, forward)]
fn stored_in_full(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let mut h = [0.0; 2];
        for j in 0..2 {
            h[j] = x[i];
        }
        s += h[0] * h[0] + h[1] * x[(i + 1) % n];
    }
    s
}

#[test]
fn temporaries_declared_in_the_loop() {
    for x in points() {
        let n = x.len();
        // ∂/∂x_k of Σᵢ xᵢ² + Σ_{i in I} xᵢ x_{(i+1) mod n}, I the even i (or all i).
        let want = |all: bool| -> Vec<f64> {
            let mut g: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
            for i in (0..n).filter(|i| all || i % 2 == 0) {
                let j = (i + 1) % n;
                g[i] += x[j];
                g[j] += x[i];
            }
            g
        };
        for (name, got, want) in [
            ("even", stored_on_even_iterations_grad(&x).1, want(false)),
            ("full", stored_in_full_grad(&x).1, want(true)),
        ] {
            for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-12,
                    "{name}, entry {k} at {x:?}: {a} against {b}"
                );
            }
        }
    }
    verify(
        stored_on_even_iterations,
        grad_of(|x, d| stored_on_even_iterations_grad_into(x, d).0),
        stored_on_even_iterations_jvp,
    );
    verify(
        stored_in_full,
        grad_of(|x, d| stored_in_full_grad_into(x, d).0),
        stored_in_full_jvp,
    );
}

// ADBench's GMM form: helpers that write into buffers declared before the points' loop, called
// in a loop over the components inside it, then a log-sum-exp over a buffer the inner loop
// filled. Whether the points' loop can run its backward code inside itself depends on whether
// the helpers overwrite their buffers (`centre_overwrites()`), a constant only the compiler
// knows: the gradient holds both forms and picks one by the constants.

/// `out = x - y`: overwrites `out`.
#[differentiate(reverse)]
fn centre(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[i] - y[i];
    }
}

/// `out = L x` for the lower-bidiagonal `L` with diagonal `q` and subdiagonal `0.5 q`:
/// overwrites `out`, then adds into it.
#[differentiate(reverse)]
fn bidiagonal(q: &[f64], x: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = q[i] * x[i];
    }
    for i in 1..out.len() {
        out[i] += 0.5 * q[i - 1] * x[i - 1];
    }
}

/// `out = 0.5 out + x - y`: reads `out` first, so what it held matters.
#[differentiate(reverse)]
fn centre_blended(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = 0.5 * out[i] + x[i] - y[i];
    }
}

/// `out = 0.5 out + q x`: reads `out` first.
#[differentiate(reverse)]
fn scaled_blended(q: &[f64], x: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = 0.5 * out[i] + q[i] * x[i];
    }
}

#[differentiate(reverse)]
fn squared_norm(x: &[f64]) -> f64 {
    let mut s = x[0] * x[0];
    for i in 1..x.len() {
        s += x[i] * x[i];
    }
    s
}

#[differentiate(reverse)]
fn largest(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        m = m.max(x[i]);
    }
    m
}

#[differentiate(reverse)]
fn log_sum_exp(x: &[f64]) -> f64 {
    let m = largest(x);
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] - m).exp();
    }
    s.ln() + m
}

/// The mixture's dimensions: `d` coordinates, `k` components; `p` holds the `k` log weights,
/// the `k · d` means and the `k · d` scales.
const D: usize = 3;
const K: usize = 2;

/// The shape of `gmm_objective` in `ADBench`: buffers declared before the points' loop, helpers
/// writing into them in the components' loop, a log-sum-exp over `main_term`.
#[differentiate(reverse, wrt(p))]
fn mixture(d: usize, k: usize, p: &[f64], data: &[f64]) -> f64 {
    let n = data.len() / d;
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            centre(
                &data[ix * d..(ix + 1) * d],
                &p[k + ik * d..k + (ik + 1) * d],
                &mut xcentered,
            );
            bidiagonal(
                &p[k + k * d + ik * d..k + k * d + (ik + 1) * d],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = p[ik] - 0.5 * squared_norm(&qxcentered);
        }
        slse += log_sum_exp(&main_term);
    }
    slse - n as f64 * log_sum_exp(&p[..k])
}

/// The same with a helper that reads its buffer first: what an iteration leaves in
/// `xcentered` reaches the next, and the points' loop must keep its backward code apart.
#[differentiate(reverse, wrt(p))]
fn mixture_blended(d: usize, k: usize, p: &[f64], data: &[f64]) -> f64 {
    let n = data.len() / d;
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            centre_blended(
                &data[ix * d..(ix + 1) * d],
                &p[k + ik * d..k + (ik + 1) * d],
                &mut xcentered,
            );
            bidiagonal(
                &p[k + k * d + ik * d..k + k * d + (ik + 1) * d],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = p[ik] - 0.5 * squared_norm(&qxcentered);
        }
        slse += log_sum_exp(&main_term);
    }
    slse - n as f64 * log_sum_exp(&p[..k])
}

/// Two helpers, the first overwriting its buffer, the second not.
#[differentiate(reverse, wrt(p))]
fn mixture_one_blended(d: usize, k: usize, p: &[f64], data: &[f64]) -> f64 {
    let n = data.len() / d;
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            centre(
                &data[ix * d..(ix + 1) * d],
                &p[k + ik * d..k + (ik + 1) * d],
                &mut xcentered,
            );
            scaled_blended(
                &p[k + k * d + ik * d..k + k * d + (ik + 1) * d],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = p[ik] - 0.5 * squared_norm(&qxcentered);
        }
        slse += log_sum_exp(&main_term);
    }
    slse - n as f64 * log_sum_exp(&p[..k])
}

/// The points' loop between other statements: a sum before it that it reads, and after it a
/// prior over the scales in a loop of its own and a product with a value computed before.
#[differentiate(reverse, wrt(p))]
fn mixture_then_prior(d: usize, k: usize, p: &[f64], data: &[f64]) -> f64 {
    let n = data.len() / d;
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut spread = 0.0;
    for i in 0..k {
        spread += p[i] * p[i];
    }
    let weight = spread.sqrt() + 1.0;
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            centre(
                &data[ix * d..(ix + 1) * d],
                &p[k + ik * d..k + (ik + 1) * d],
                &mut xcentered,
            );
            bidiagonal(
                &p[k + k * d + ik * d..k + k * d + (ik + 1) * d],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = p[ik] - 0.5 * weight * squared_norm(&qxcentered);
        }
        slse += log_sum_exp(&main_term);
    }
    let lse = log_sum_exp(&p[..k]);
    let mut prior = 0.0;
    for i in k + k * d..p.len() {
        prior += (p[i] - 1.0) * (p[i] - 1.0);
    }
    let err = slse - n as f64 * lse;
    err + 0.1 * weight * prior
}

/// Overwriting helpers, but each point reads what the previous point left in `xcentered`
/// before the helper writes it, and the value after the loop reads it too: the buffer carries
/// values from one iteration to the next, so the loop keeps its backward code apart whatever
/// the constants.
#[differentiate(reverse, wrt(p))]
fn mixture_reads_last_point(d: usize, k: usize, p: &[f64], data: &[f64]) -> f64 {
    let n = data.len() / d;
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for ix in 0..n {
        slse += 0.3 * xcentered[0] * xcentered[d - 1];
        for ik in 0..k {
            centre(
                &data[ix * d..(ix + 1) * d],
                &p[k + ik * d..k + (ik + 1) * d],
                &mut xcentered,
            );
            bidiagonal(
                &p[k + k * d + ik * d..k + k * d + (ik + 1) * d],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = p[ik] - 0.5 * squared_norm(&qxcentered);
        }
        slse += log_sum_exp(&main_term);
    }
    slse - n as f64 * log_sum_exp(&p[..k])
}

/// Overwriting helpers, and the value after the loop reads a buffer the loop wrote.
#[differentiate(reverse, wrt(p))]
fn mixture_read_after(d: usize, k: usize, p: &[f64], data: &[f64]) -> f64 {
    let n = data.len() / d;
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            centre(
                &data[ix * d..(ix + 1) * d],
                &p[k + ik * d..k + (ik + 1) * d],
                &mut xcentered,
            );
            bidiagonal(
                &p[k + k * d + ik * d..k + k * d + (ik + 1) * d],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = p[ik] - 0.5 * squared_norm(&qxcentered);
        }
        slse += log_sum_exp(&main_term);
    }
    slse - n as f64 * log_sum_exp(&p[..k]) + qxcentered[0] * main_term[k - 1]
}

/// The mixture's parameters, and `n` points.
fn mixture_problem(n: usize) -> (Vec<f64>, Vec<f64>) {
    let len = K + 2 * K * D;
    let p: Vec<f64> = (0..len)
        .map(|i| 0.4 + 0.13 * i as f64 - 0.021 * (i * i) as f64 + 0.3 * (i as f64 * 1.7).sin())
        .collect();
    let data: Vec<f64> = (0..n * D)
        .map(|i| 0.2 * i as f64 - 0.9 + 0.5 * (i as f64 * 0.77).cos())
        .collect();
    (p, data)
}

/// A mixture's `f_grad_into`.
type GradInto = fn(usize, usize, &[f64], &mut [f64], &[f64]) -> (f64,);

fn check_mixture(f: fn(usize, usize, &[f64], &[f64]) -> f64, into: GradInto) {
    for n in [1, 2, 5] {
        let (p, data) = mixture_problem(n);
        let mut d = vec![0.0; p.len()];
        let (value,) = into(D, K, &p, &mut d, &data);
        assert_eq!(
            value.to_bits(),
            f(D, K, &p, &data).to_bits(),
            "value, n = {n}"
        );
        check_gradient_with(|p| f(D, K, p, &data), &p, &d, TOL)
            .unwrap_or_else(|e| panic!("n = {n}: {e}"));
    }
}

#[test]
fn points_loop_writing_buffers_through_overwriting_helpers() {
    assert!(centre_overwrites() && bidiagonal_overwrites());
    check_mixture(mixture, mixture_grad_into);
}

#[test]
fn points_loop_writing_a_buffer_through_a_helper_that_reads_it() {
    assert!(!centre_blended_overwrites());
    check_mixture(mixture_blended, mixture_blended_grad_into);
}

#[test]
fn points_loop_with_one_overwriting_helper_and_one_not() {
    assert!(centre_overwrites() && !scaled_blended_overwrites());
    check_mixture(mixture_one_blended, mixture_one_blended_grad_into);
}

#[test]
fn points_loop_writing_buffers_between_other_statements() {
    check_mixture(mixture_then_prior, mixture_then_prior_grad_into);
}

#[test]
fn points_loop_reading_what_an_earlier_point_left_in_a_buffer() {
    check_mixture(mixture_reads_last_point, mixture_reads_last_point_grad_into);
    check_mixture(mixture_read_after, mixture_read_after_grad_into);
}

/// The peak heap of one gradient with `n` points.
fn peak_bytes(into: GradInto, n: usize) -> u64 {
    let (p, data) = mixture_problem(n);
    let mut d = vec![0.0; p.len()];
    allocation_counter::measure(|| {
        std::hint::black_box(into(D, K, &p, &mut d, &data));
    })
    .bytes_max
}

/// With overwriting helpers the points' loop runs its backward code inside itself: each point
/// takes back what it saved, and the peak heap does not grow with the points. With a helper
/// that reads its buffer, every point's values are saved until the backward loop.
#[test]
fn points_loop_fused_only_when_the_helpers_overwrite() {
    for into in [mixture_grad_into, mixture_then_prior_grad_into] {
        assert_eq!(peak_bytes(into, 4), peak_bytes(into, 64));
    }
    for into in [
        mixture_blended_grad_into,
        mixture_one_blended_grad_into,
        mixture_reads_last_point_grad_into,
        mixture_read_after_grad_into,
    ] {
        assert!(peak_bytes(into, 64) > peak_bytes(into, 4));
    }
}
