//! Integer counters updated by constants in a loop (a running index into packed storage, as
//! `ADBench`'s `Qtimesx` keeps one): the backward sweep steps them back rather than saving them.
//! Each function is checked against fourth-order central differences and against forward mode,
//! which shares no code with the backward sweep.
// The loops index packed storage by a running counter, as the programs they stand for do.
#![allow(clippy::needless_range_loop, clippy::explicit_counter_loop)]
// Indices below 2^52.
#![allow(clippy::cast_precision_loss)]

use autodiff::{check_gradient, differentiate};

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;
use common::{assert_all_close_to, by_jvp, differences, hv_by_differences};

/// `out = L x` for a unit lower-triangular `L` packed by rows below the diagonal, summed
/// with weights: `ADBench`'s `Qtimesx` without the diagonal.
#[differentiate(reverse, forward, hessian)]
fn packed_triangle(ltri: &[f64], x: &[f64]) -> f64 {
    let d = x.len();
    let mut out = vec![0.0; d];
    out.copy_from_slice(x);
    let mut idx = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += ltri[idx] * x[i];
            idx += 1;
        }
    }
    let mut s = 0.0;
    for j in 0..d {
        s += out[j].sin() * (j as f64 + 1.0);
    }
    s
}

/// Several updates in one body, by different steps, up and down, with reads between them and a
/// read before the first; the counter also read after the loop.
#[differentiate(reverse, forward)]
fn strides(w: &[f64], x: &[f64]) -> f64 {
    let mut k = 1;
    let mut acc = 0.0;
    let mut prod = 1.0;
    for i in 0..x.len() {
        let a = w[k - 1];
        k += 3;
        let b = w[k - 2];
        k -= 1;
        prod = prod * (a * x[i] + b).cos() + w[k] * 0.1;
        acc += prod * x[i];
    }
    acc + w[k]
}

/// A counter updated in a `while` loop inside a branch, and in a loop nested in a loop over
/// rows whose trip count changes.
#[differentiate(reverse, forward)]
fn ragged(w: &[f64], x: f64, flag: bool) -> f64 {
    let mut v = x;
    let mut at = 0;
    if flag {
        while at < 3 {
            v = (v * w[at]).tanh() + v;
            at += 1;
        }
    }
    let mut p = 0;
    for row in 0..3 {
        for _ in 0..=row {
            v = v * w[p + 3] + (v * v).sin();
            p += 1;
        }
    }
    v
}

/// A counter updated inside a branch of the loop body: not a counter the backward sweep can
/// step back (its updates are not all in one block); saved as before.
#[differentiate(reverse, forward)]
fn conditional_step(w: &[f64], x: &[f64]) -> f64 {
    let mut k = 0;
    let mut v = 1.0;
    for i in 0..x.len() {
        v = v * w[k] + x[i];
        if x[i] > 0.0 {
            k += 1;
        }
    }
    v
}

/// A counter declared in the body of a loop, from that loop's counter, updated in a nested
/// loop: the backward code starts it, in each backward iteration, from its value at the end of
/// the forward one.
#[differentiate(reverse, forward)]
fn rows(l: &[f64], x: &[f64], k: usize) -> f64 {
    let d = x.len();
    let mut q = vec![0.0; d];
    let mut s = 0.0;
    for ik in 0..k {
        let mut idx = ik;
        for i in 0..d {
            for j in i + 1..d {
                q[j] += l[idx] * x[i];
                idx += 1;
            }
        }
        let mut m = 0.0;
        for j in 0..d {
            m += q[j] * q[j];
        }
        s += m.sin();
    }
    s
}

/// The same in a loop that only accumulates, whose backward code runs inside it, the running
/// index declared in its body.
#[differentiate(reverse, forward)]
fn fused_rows(l: &[f64], x: &[f64; 4], k: usize) -> f64 {
    let mut s = 0.0;
    for ik in 0..k {
        let mut q = [0.0; 4];
        for i in 0..4 {
            q[i] = x[i] * x[i];
        }
        let mut idx = 2 * ik;
        for i in 0..4 {
            for j in i + 1..4 {
                q[j] += l[idx] * x[i];
                idx += 1;
            }
        }
        let mut m = 0.0;
        for j in 0..4 {
            m += q[j] * q[j];
        }
        s += m.sin() + l[idx];
    }
    s
}

#[test]
fn a_packed_triangle_indexed_by_a_running_counter() {
    let x = [0.3, -0.7, 1.1, 0.4, -0.2];
    let ltri: Vec<f64> = (0..10).map(|i| 0.1 * f64::from(i) - 0.45).collect();
    let (value, d_ltri, d_x) = packed_triangle_grad(&ltri, &x);
    assert_eq!(value, packed_triangle(&ltri, &x));
    assert_all_close_to(
        "d_ltri",
        &d_ltri,
        &differences(|p| packed_triangle(p, &x), &ltri),
        1e-8,
    );
    assert_all_close_to(
        "d_x",
        &d_x,
        &differences(|p| packed_triangle(&ltri, p), &x),
        1e-8,
    );
    let zero_x = [0.0; 5];
    let jvp_ltri = by_jvp(10, |e| packed_triangle_jvp(&ltri, e, &x, &zero_x).1);
    assert_all_close_to("d_ltri against forward mode", &d_ltri, &jvp_ltri, 1e-12);
    check_gradient(|p| packed_triangle(&ltri, p), &x, &d_x).unwrap();
    // H·v against central differences of the gradient along v.
    let v_l: Vec<f64> = (0..10).map(|i| 0.3 - 0.07 * f64::from(i)).collect();
    let v_x = [0.2, -0.1, 0.4, 0.3, -0.5];
    let (_, _, _, hv_l, hv_x) = packed_triangle_hvp(&ltri, &v_l, &x, &v_x);
    let want = hv_by_differences(
        |q| {
            let (l, y) = q.split_at(10);
            let (_, gl, gx) = packed_triangle_grad(l, y);
            [gl, gx].concat()
        },
        &[ltri.as_slice(), &x].concat(),
        &[v_l.as_slice(), &v_x].concat(),
    );
    assert_all_close_to("H·v", &[hv_l, hv_x].concat(), &want, 1e-7);
}

#[test]
fn counters_stepped_by_several_amounts() {
    let w: Vec<f64> = (0..16).map(|i| 0.05 * f64::from(i) - 0.3).collect();
    let x = [0.4, -0.9, 0.2, 1.3, -0.5];
    let (value, d_w, d_x) = strides_grad(&w, &x);
    assert_eq!(value, strides(&w, &x));
    assert_all_close_to("d_w", &d_w, &differences(|p| strides(p, &x), &w), 1e-8);
    assert_all_close_to("d_x", &d_x, &differences(|p| strides(&w, p), &x), 1e-8);
    let zero_x = [0.0; 5];
    let jvp_w = by_jvp(16, |e| strides_jvp(&w, e, &x, &zero_x).1);
    assert_all_close_to("d_w against forward mode", &d_w, &jvp_w, 1e-12);
}

#[test]
fn counters_in_while_loops_branches_and_ragged_loops() {
    let w = [0.9, -0.6, 1.2, 0.5, -0.4, 0.8, 0.3, 1.1, -0.7];
    for (x, flag) in [(0.7, true), (-0.3, false), (1.4, true)] {
        let (value, d_w, d_x) = ragged_grad(&w, x, flag);
        assert_eq!(value, ragged(&w, x, flag));
        assert_all_close_to("d_w", &d_w, &differences(|p| ragged(p, x, flag), &w), 1e-6);
        let d_x_fd = differences(|p| ragged(&w, p[0], flag), &[x]);
        assert_all_close_to("d_x", &[d_x], &d_x_fd, 1e-6);
        let jvp_w = by_jvp(9, |e| ragged_jvp(&w, e, x, 0.0, flag).1);
        assert_all_close_to("d_w against forward mode", &d_w, &jvp_w, 1e-12);
        let zero_w = [0.0; 9];
        let (_, t) = ragged_jvp(&w, &zero_w, x, 1.0, flag);
        assert_all_close_to("d_x against forward mode", &[d_x], &[t], 1e-12);
    }
}

/// The gradient; that the counter is saved rather than stepped back is checked on the expansion
/// (`autodiff-macros`, `expand::tests::a_counter_stepped_in_a_branch_is_saved`).
#[test]
fn a_counter_stepped_in_a_branch_against_differences() {
    let w = [0.9, -0.6, 1.2, 0.5, -0.4, 0.8];
    let x = [0.4, -0.9, 0.2, 1.3, -0.5];
    let (value, d_w, d_x) = conditional_step_grad(&w, &x);
    assert_eq!(value, conditional_step(&w, &x));
    assert_all_close_to(
        "d_w",
        &d_w,
        &differences(|p| conditional_step(p, &x), &w),
        1e-8,
    );
    assert_all_close_to(
        "d_x",
        &d_x,
        &differences(|p| conditional_step(&w, p), &x),
        1e-8,
    );
}

#[test]
fn counters_declared_in_loop_bodies() {
    let x = [0.3, -0.7, 1.1, 0.4];
    let k = 3;
    let l: Vec<f64> = (0..13).map(|i| 0.15 * f64::from(i) - 0.8).collect();
    let (value, d_l, d_x) = rows_grad(&l, &x, k);
    assert_eq!(value, rows(&l, &x, k));
    assert_all_close_to("rows d_l", &d_l, &differences(|p| rows(p, &x, k), &l), 1e-7);
    assert_all_close_to("rows d_x", &d_x, &differences(|p| rows(&l, p, k), &x), 1e-7);
    let zero_x = [0.0; 4];
    let jvp_l = by_jvp(l.len(), |e| rows_jvp(&l, e, &x, &zero_x, k).1);
    assert_all_close_to("rows d_l against forward mode", &d_l, &jvp_l, 1e-12);

    let (value, d_l, d_x) = fused_rows_grad(&l, &x, k);
    assert_eq!(value, fused_rows(&l, &x, k));
    assert_all_close_to(
        "fused_rows d_l",
        &d_l,
        &differences(|p| fused_rows(p, &x, k), &l),
        1e-7,
    );
    let fd_x = differences(|p| fused_rows(&l, &[p[0], p[1], p[2], p[3]], k), &x);
    assert_all_close_to("fused_rows d_x", &d_x, &fd_x, 1e-7);
    let jvp_l = by_jvp(l.len(), |e| fused_rows_jvp(&l, e, &x, &[0.0; 4], k).1);
    assert_all_close_to("fused_rows d_l against forward mode", &d_l, &jvp_l, 1e-12);
}

/// `h[i] += e` keeps the element's adjoint where it is: checked where the loaded element is
/// used again, where another store to the array comes between the load and the store, where the
/// stored value is used again, and across the iterations of a loop.
#[differentiate(reverse, forward)]
fn accumulations(w: &[f64; 3], x: f64) -> f64 {
    let mut h = [0.5, x, x * x];
    let a = h[1];
    h[1] = a + w[0] * x;
    let y = a * 3.0;
    let k = w.len() - 1;
    let b = h[k];
    h[k] = w[1] * x;
    h[k] = b + w[2];
    let t = h[0] + x.sin();
    h[0] = t;
    let mut s = t * t + y;
    for i in 0..3 {
        for j in 0..3 {
            h[j] += w[i] * h[i] * 0.5;
        }
        s += h[i].cos();
    }
    s + h[0] * h[1] - h[2]
}

#[test]
fn accumulating_stores_against_differences_and_forward_mode() {
    let w = [0.7, -0.4, 1.2];
    for x in [0.3, -1.1] {
        let (value, d_w, d_x) = accumulations_grad(&w, x);
        assert_eq!(value, accumulations(&w, x));
        let fd_w = differences(|p| accumulations(&[p[0], p[1], p[2]], x), &w);
        assert_all_close_to("d_w", &d_w, &fd_w, 1e-7);
        let fd_x = differences(|p| accumulations(&w, p[0]), &[x]);
        assert_all_close_to("d_x", &[d_x], &fd_x, 1e-7);
        let (_, t) = accumulations_jvp(&w, &[0.0; 3], x, 1.0);
        assert_all_close_to("d_x against forward mode", &[d_x], &[t], 1e-12);
        for k in 0..3 {
            let mut e = [0.0; 3];
            e[k] = 1.0;
            let (_, t) = accumulations_jvp(&w, &e, x, 0.0);
            assert_all_close_to("d_w against forward mode", &[d_w[k]], &[t], 1e-12);
        }
    }
}

/// Integer methods on the length of a local array or buffer, and on a counter over it: the
/// length is a `usize` in the expansion too (`h.len()` of `[f64; 3]` is the constant 3).
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn lengths_as_receivers(x: &[f64]) -> f64 {
    let a = [x[0], 2.0 * x[1], 3.0 * x[0] * x[1]];
    let b = vec![x[1]; x.len() + 1];
    let n = a.len();
    let mut h = [0.0; 3];
    for i in 0..h.len() {
        h[i] = x[0] * h[i.abs_diff(1)] + x[1];
    }
    a[a.len().pow(2) % 3] * b[b.len().saturating_sub(1)] + h[0] * h[2] + n.pow(2) as f64 * x[0]
}

#[test]
fn integer_methods_on_lengths() {
    let x = [0.7, -1.3];
    let (value, grad) = lengths_as_receivers_grad(&x);
    assert_eq!(value, lengths_as_receivers(&x));
    let fd = differences(lengths_as_receivers, &x);
    assert_all_close_to("lengths_as_receivers", &grad, &fd, 1e-9);
    assert_all_close_to(
        "lengths_as_receivers, forward",
        &by_jvp(2, |v| lengths_as_receivers_jvp(&x, v).1),
        &grad,
        1e-12,
    );
}
