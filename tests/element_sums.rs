//! Elements a loop reads or adds into at an index it does not change (`x[i]` and `d_x[i]` in a
//! loop over `j`): the derivative code reads the element once before the loop, and sums the
//! additions into a local that it adds once after it. Each function is checked against
//! fourth-order central differences and forward mode, including where the loop runs zero times
//! with an index that is then out of bounds, where the array read is overwritten at every
//! iteration of an outer loop, and where the element is also read or scaled in the loop (so it
//! must stay in memory).
// The loops index several arrays with one counter, as the programs they stand for do.
#![allow(clippy::needless_range_loop)]
// Indices below 2^52.
#![allow(clippy::cast_precision_loss)]

use autodiff::{check_gradient, differentiate};

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;
use common::{assert_all_close_to, by_jvp, differences, hv_by_differences};

/// `y = L x` for a strictly lower-triangular `L` packed by columns, then a weighted sum of
/// sines: the backward code of the inner loop adds into `d_x[i]` at every `j`.
#[differentiate(reverse, forward, hessian)]
fn columns(ltri: &[f64], x: &[f64]) -> f64 {
    let d = x.len();
    let mut y = vec![0.0; d];
    let mut idx = 0;
    for i in 0..d {
        for j in i + 1..d {
            y[j] += ltri[idx] * x[i].cos();
            idx += 1;
        }
    }
    let mut s = 0.0;
    for j in 0..d {
        s += (y[j] + x[j]).sin() * (j as f64 + 1.0);
    }
    s
}

/// Three nested loops over `w[i] x[j] z[k]`: `d_w[i]` is the same element in the loops over `j`
/// and `k`, `d_x[j]` in the loop over `k`.
#[differentiate(reverse, forward)]
fn outer(w: &[f64], x: &[f64], z: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..w.len() {
        for j in 0..x.len() {
            for k in 0..z.len() {
                s += (w[i] * x[j] + z[k]).tanh();
            }
        }
    }
    s
}

/// `w[k]` with `k` a parameter, in loops that may run zero times: an exclusive range, an
/// inclusive one, and one run backwards.
#[differentiate(reverse, forward)]
fn reach(w: &[f64], x: &[f64], k: usize, m: usize) -> f64 {
    let mut s = 0.0;
    for j in 0..x.len() {
        s += w[k] * x[j].sin();
    }
    for j in 1..=m {
        s += w[k] * j as f64;
    }
    for j in (0..m).rev() {
        s += (w[k] * x[j]).exp();
    }
    s
}

/// An element of a local array scaled in the loop (`h[i] = h[i] * a[j]`) and read there: its
/// adjoint is read, scaled and written at every iteration, and must stay where it is.
#[differentiate(reverse, forward)]
fn scaled(a: &[f64], x: &[f64]) -> f64 {
    let n = x.len();
    let mut h = vec![0.0; n];
    h.copy_from_slice(x);
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..a.len() {
            h[i] = h[i] * a[j] + 0.1;
            s += h[i] * h[i];
        }
    }
    s
}

/// `x[i]`, `x[0]` and `x[j]` in the loop over `j`: the additions into `d_x[i]` and `d_x[0]`
/// wait until after the loop while those into `d_x[j]` stay, and the three meet when `j` is `i`
/// or `0`.
#[differentiate(reverse, forward, hessian)]
fn gram(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in 0..n {
            s += (x[i] * x[j] + 0.3 * x[0]).sin() * (j as f64 + 0.5);
        }
    }
    s
}

/// A packed triangle applied to a buffer overwritten at every iteration of the outer loop: the
/// inner loop reads `xc[i]`, which the backward sweep must see as it was in its own iteration.
#[differentiate(reverse, forward, hessian)]
fn overwritten(ltri: &[f64], x: &[f64], n: usize) -> f64 {
    let d = x.len();
    let mut xc = vec![0.0; d];
    let mut qx = vec![0.0; d];
    let mut s = 0.0;
    for p in 0..n {
        for i in 0..d {
            xc[i] = (x[i] * (p as f64 + 1.0)).sin();
            qx[i] = xc[i];
        }
        let mut idx = 0;
        for i in 0..d {
            for j in i + 1..d {
                qx[j] += ltri[idx] * xc[i];
                idx += 1;
            }
        }
        for i in 0..d {
            s += qx[i] * qx[i] * 0.5;
        }
    }
    s
}

/// `h[k]` read in an inner loop that may run zero times, `k` a parameter, `h` a buffer
/// overwritten at every iteration of the outer loop.
#[differentiate(reverse, forward)]
fn inner_reach(w: &[f64], y: &[f64], k: usize, m: usize) -> f64 {
    let mut h = vec![0.0; w.len()];
    let mut s = 0.0;
    for i in 0..y.len() {
        for q in 0..w.len() {
            h[q] = w[q] * y[i];
        }
        for j in 0..m {
            s += (h[k] + j as f64).sin();
        }
        s += y[i];
    }
    s
}

/// The triangle in `f32`, over a buffer overwritten per point: the local sums and the reads
/// moved before the inner loop take the element type.
#[differentiate(reverse, hessian)]
fn overwritten_f32(ltri: &[f32], x: &[f32], n: usize) -> f32 {
    let d = x.len();
    let mut xc = vec![0.0_f32; d];
    let mut s = 0.0_f32;
    for p in 0..n {
        for i in 0..d {
            xc[i] = x[i] * (p as f32 + 1.0);
        }
        let mut idx = 0;
        for i in 0..d {
            for j in i + 1..d {
                s += ltri[idx] * xc[i] * xc[j];
                idx += 1;
            }
        }
    }
    s
}

/// Writes `out = x * s`: a helper that writes a buffer, called in an inner loop.
#[differentiate(reverse, forward)]
fn scaled_copy(x: &[f64], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[i] * s;
    }
}

/// Shapes around the rewrites: an inner loop in a `while` loop reading an element of a buffer
/// the outer loop rewrites, at an index computed before it; an inner loop that rewrites the
/// buffer it reads through a call (not hoisted); a reversed inclusive inner loop.
#[differentiate(reverse, forward)]
fn around(x: &[f64], w: f64) -> f64 {
    let d = x.len();
    let mut h = vec![0.0; d];
    let mut s = 0.0;
    let mut p = 0;
    while p < 3 {
        for i in 0..d {
            h[i] = (x[i] + p as f64 * w).sin();
        }
        let r = d - 1 - p % d;
        for j in 0..d {
            s += h[r] * h[j] * w;
        }
        for j in (1..=d / 2).rev() {
            s += h[0] * x[j];
        }
        for j in 0..2_usize {
            scaled_copy(x, w + j as f64, &mut h);
            s += h[r] * 0.5;
        }
        p += 1;
    }
    s
}

/// Elements at literal indices of a local array rewritten per point, read in an inner loop over
/// `0..m` that may run zero times.
#[differentiate(reverse, forward)]
fn literal(x: &[f64], n: usize, m: usize) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for p in 0..n {
        h[0] = x[p] * 2.0;
        h[1] = x[p].cos();
        for j in 0..m {
            s += h[0] * x[j] + h[1] * h[1];
        }
    }
    s
}

#[test]
fn a_triangle_by_columns_against_differences_forward_mode_and_hv() {
    let x = [0.3, -0.7, 1.1, 0.4, -0.2, 0.9];
    let ltri: Vec<f64> = (0..15).map(|i| 0.07 * f64::from(i) - 0.5).collect();
    let (value, d_ltri, d_x) = columns_grad(&ltri, &x);
    assert_eq!(value, columns(&ltri, &x));
    assert_all_close_to(
        "d_ltri",
        &d_ltri,
        &differences(|p| columns(p, &x), &ltri),
        1e-8,
    );
    assert_all_close_to("d_x", &d_x, &differences(|p| columns(&ltri, p), &x), 1e-8);
    let zero_l = vec![0.0; 15];
    let jvp_x = by_jvp(6, |e| columns_jvp(&ltri, &zero_l, &x, e).1);
    assert_all_close_to("d_x against forward mode", &d_x, &jvp_x, 1e-12);
    check_gradient(|p| columns(&ltri, p), &x, &d_x).unwrap();

    // H·v against central differences of the gradient along v, and the gradient `f_hvp`
    // returns against `f_grad`'s.
    let v_l: Vec<f64> = (0..15).map(|i| 0.3 - 0.04 * f64::from(i)).collect();
    let v_x = [0.2, -0.1, 0.4, 0.3, -0.5, 0.25];
    let (_, g_l, g_x, hv_l, hv_x) = columns_hvp(&ltri, &v_l, &x, &v_x);
    assert_all_close_to("f_hvp's d_x", &g_x, &d_x, 1e-14);
    assert_all_close_to("f_hvp's d_ltri", &g_l, &d_ltri, 1e-14);
    let want = hv_by_differences(
        |q| {
            let (l, y) = q.split_at(15);
            let (_, gl, gx) = columns_grad(l, y);
            [gl, gx].concat()
        },
        &[ltri.as_slice(), &x].concat(),
        &[v_l.as_slice(), &v_x].concat(),
    );
    assert_all_close_to("H·v", &[hv_l, hv_x].concat(), &want, 1e-7);
}

#[test]
fn one_element_through_two_loop_levels() {
    let w = [0.4, -0.3, 0.8];
    let x = [0.5, 1.2, -0.6, 0.1];
    let z = [-0.2, 0.3];
    let (value, d_w, d_x, d_z) = outer_grad(&w, &x, &z);
    assert_eq!(value, outer(&w, &x, &z));
    assert_all_close_to("d_w", &d_w, &differences(|p| outer(p, &x, &z), &w), 1e-9);
    assert_all_close_to("d_x", &d_x, &differences(|p| outer(&w, p, &z), &x), 1e-9);
    assert_all_close_to("d_z", &d_z, &differences(|p| outer(&w, &x, p), &z), 1e-9);
    let jvp_w = by_jvp(3, |e| outer_jvp(&w, e, &x, &[0.0; 4], &z, &[0.0; 2]).1);
    assert_all_close_to("d_w against forward mode", &d_w, &jvp_w, 1e-12);
}

#[test]
fn loops_that_run_zero_times_leave_an_out_of_bounds_element_alone() {
    // `k` is past the end of `w`: only the empty loops name `w[k]`.
    let w = [0.7, -0.4, 0.3];
    let (value, d_w, d_x) = reach_grad(&w, &[], 3, 0);
    assert_eq!(value, 0.0);
    assert_eq!(d_w, vec![0.0; 3]);
    assert!(d_x.is_empty());

    let x = [0.5, -1.1, 0.8];
    let (value, d_w, d_x) = reach_grad(&w, &x, 1, 2);
    assert_eq!(value, reach(&w, &x, 1, 2));
    assert_all_close_to("d_w", &d_w, &differences(|p| reach(p, &x, 1, 2), &w), 1e-9);
    assert_all_close_to("d_x", &d_x, &differences(|p| reach(&w, p, 1, 2), &x), 1e-9);
    let jvp_w = by_jvp(3, |e| reach_jvp(&w, e, &x, &[0.0; 3], 1, 2).1);
    assert_all_close_to("d_w against forward mode", &d_w, &jvp_w, 1e-12);
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn a_loop_that_runs_still_panics_on_an_out_of_bounds_element() {
    let w = [0.7, -0.4, 0.3];
    let _ = reach_grad(&w, &[0.5], 3, 0);
}

#[test]
fn an_element_scaled_in_the_loop_stays_in_memory() {
    let a = [0.9, -0.5, 1.1];
    let x = [0.3, -0.8, 0.6, 1.4];
    let (value, d_a, d_x) = scaled_grad(&a, &x);
    assert_eq!(value, scaled(&a, &x));
    assert_all_close_to("d_a", &d_a, &differences(|p| scaled(p, &x), &a), 1e-8);
    assert_all_close_to("d_x", &d_x, &differences(|p| scaled(&a, p), &x), 1e-8);
    let jvp_x = by_jvp(4, |e| scaled_jvp(&a, &[0.0; 3], &x, e).1);
    assert_all_close_to("d_x against forward mode", &d_x, &jvp_x, 1e-12);
}

#[test]
fn additions_at_a_fixed_index_and_at_the_counter_into_one_array() {
    let x = [0.4, -0.9, 0.7, 1.3];
    let (value, d_x) = gram_grad(&x);
    assert_eq!(value, gram(&x));
    assert_all_close_to("d_x", &d_x, &differences(gram, &x), 1e-8);
    let jvp = by_jvp(4, |e| gram_jvp(&x, e).1);
    assert_all_close_to("d_x against forward mode", &d_x, &jvp, 1e-12);
    // H·v against central differences of the gradient along v.
    let v = [0.3, 0.1, -0.6, 0.2];
    let (_, _, hv) = gram_hvp(&x, &v);
    let want = hv_by_differences(|q| gram_grad(q).1, &x, &v);
    assert_all_close_to("H·v", &hv, &want, 1e-7);
}

#[test]
fn an_element_read_in_an_inner_loop_from_a_buffer_overwritten_per_iteration() {
    let x = [0.3, -0.7, 1.1, 0.4, -0.2];
    let ltri: Vec<f64> = (0..10).map(|i| 0.09 * f64::from(i) - 0.4).collect();
    let (value, d_ltri, d_x) = overwritten_grad(&ltri, &x, 3);
    assert_eq!(value, overwritten(&ltri, &x, 3));
    assert_all_close_to(
        "d_ltri",
        &d_ltri,
        &differences(|p| overwritten(p, &x, 3), &ltri),
        1e-8,
    );
    assert_all_close_to(
        "d_x",
        &d_x,
        &differences(|p| overwritten(&ltri, p, 3), &x),
        1e-8,
    );
    let zero_l = vec![0.0; 10];
    let jvp_x = by_jvp(5, |e| overwritten_jvp(&ltri, &zero_l, &x, e, 3).1);
    assert_all_close_to("d_x against forward mode", &d_x, &jvp_x, 1e-12);
    let v_l: Vec<f64> = (0..10).map(|i| 0.2 - 0.05 * f64::from(i)).collect();
    let v_x = [0.1, 0.4, -0.3, 0.2, 0.5];
    let (_, _, _, hv_l, hv_x) = overwritten_hvp(&ltri, &v_l, &x, &v_x, 3);
    let want = hv_by_differences(
        |q| {
            let (l, y) = q.split_at(10);
            let (_, gl, gx) = overwritten_grad(l, y, 3);
            [gl, gx].concat()
        },
        &[ltri.as_slice(), &x].concat(),
        &[v_l.as_slice(), &v_x].concat(),
    );
    assert_all_close_to("H·v", &[hv_l, hv_x].concat(), &want, 1e-7);
}

#[test]
fn an_inner_loop_that_runs_zero_times_reads_no_element() {
    // `k` is past the end of `h`: only the inner loop, which runs zero times, names `h[k]`.
    let w = [0.7, -0.4];
    let y = [0.5, -1.1, 0.8];
    let (value, d_w, d_y) = inner_reach_grad(&w, &y, 2, 0);
    assert_eq!(value, inner_reach(&w, &y, 2, 0));
    assert_eq!(d_w, vec![0.0; 2]);
    assert_eq!(d_y, vec![1.0; 3]);

    let (value, d_w, d_y) = inner_reach_grad(&w, &y, 1, 3);
    assert_eq!(value, inner_reach(&w, &y, 1, 3));
    assert_all_close_to(
        "d_w",
        &d_w,
        &differences(|p| inner_reach(p, &y, 1, 3), &w),
        1e-9,
    );
    assert_all_close_to(
        "d_y",
        &d_y,
        &differences(|p| inner_reach(&w, p, 1, 3), &y),
        1e-9,
    );
    let jvp_w = by_jvp(2, |e| inner_reach_jvp(&w, e, &y, &[0.0; 3], 1, 3).1);
    assert_all_close_to("d_w against forward mode", &d_w, &jvp_w, 1e-12);
}

#[test]
fn the_same_in_f32() {
    let x = [0.3_f32, -0.7, 1.1, 0.4];
    let ltri = [0.2_f32, -0.5, 0.7, 0.1, -0.3, 0.6];
    let (value, d_ltri, d_x) = overwritten_f32_grad(&ltri, &x, 2);
    assert_eq!(value, overwritten_f32(&ltri, &x, 2));
    // Closed form: s = Σ_p (p + 1)² Σ_{i<j} l_k x_i x_j, so ∂s/∂l_k = 5 x_i x_j and
    // ∂s/∂x_m = 5 Σ_{pairs with m} l_k x_other.
    let mut want_l = [0.0_f64; 6];
    let mut want_x = [0.0_f64; 4];
    let mut k = 0;
    for i in 0..4 {
        for j in i + 1..4 {
            let (xi, xj, l) = (f64::from(x[i]), f64::from(x[j]), f64::from(ltri[k]));
            want_l[k] = 5.0 * xi * xj;
            want_x[i] += 5.0 * l * xj;
            want_x[j] += 5.0 * l * xi;
            k += 1;
        }
    }
    for (got, want) in d_ltri.iter().zip(&want_l) {
        assert!(
            (f64::from(*got) - want).abs() <= 1e-5 * want.abs().max(1.0),
            "{got} {want}"
        );
    }
    for (got, want) in d_x.iter().zip(&want_x) {
        assert!(
            (f64::from(*got) - want).abs() <= 1e-5 * want.abs().max(1.0),
            "{got} {want}"
        );
    }
    // H·v along x alone: ∂²s/∂x_i∂x_j = 5 l_k for the pair (i, j).
    let v_x = [1.0_f32, 0.0, 0.0, 0.0];
    let (_, _, _, _, hv_x) = overwritten_f32_hvp(&ltri, &[0.0; 6], &x, &v_x, 2);
    let want_hv = [0.0, 5.0 * 0.2, 5.0 * -0.5, 5.0 * 0.7];
    for (got, want) in hv_x.iter().zip(&want_hv) {
        assert!((f64::from(*got) - want).abs() <= 1e-5, "{got} {want}");
    }
}

#[test]
fn reads_and_sums_around_while_loops_calls_and_reversed_ranges() {
    let x = [0.3, -0.7, 1.1, 0.4];
    let w = 0.8;
    let (value, d_x, d_w) = around_grad(&x, w);
    assert_eq!(value, around(&x, w));
    assert_all_close_to("d_x", &d_x, &differences(|p| around(p, w), &x), 1e-8);
    let want_w = differences(|p| around(&x, p[0]), &[w]);
    assert_all_close_to("d_w", &[d_w], &want_w, 1e-8);
    let jvp_x = by_jvp(4, |e| around_jvp(&x, e, w, 0.0).1);
    assert_all_close_to("d_x against forward mode", &d_x, &jvp_x, 1e-12);
    let jvp_w = around_jvp(&x, &[0.0; 4], w, 1.0).1;
    assert_all_close_to("d_w against forward mode", &[d_w], &[jvp_w], 1e-12);
}

#[test]
fn elements_at_literal_indices_read_in_an_inner_loop() {
    let x = [0.3, -0.7, 1.1, 0.4];
    for (n, m) in [(3, 4), (4, 2), (2, 0)] {
        let (value, d_x) = literal_grad(&x, n, m);
        assert_eq!(value, literal(&x, n, m));
        let want = differences(|p| literal(p, n, m), &x);
        assert_all_close_to("d_x", &d_x, &want, 1e-8);
        let jvp = by_jvp(4, |e| literal_jvp(&x, e, n, m).1);
        assert_all_close_to("d_x against forward mode", &d_x, &jvp, 1e-12);
    }
}
