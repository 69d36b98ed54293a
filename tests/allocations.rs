//! Gradients that need no heap: straight-line code, loops over fixed-size arrays, and loops over
//! slices through `f_grad_into`, including a loop over a slice of any length whose iterations
//! keep values on a tape.
// Differentiated loops index their arrays: `for` runs over integer ranges.
#![allow(clippy::needless_range_loop)]

use allocation_counter::measure;
use autodiff::{differentiate, sigmoid};
use std::hint::black_box;

#[differentiate]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let e = sigmoid(w * x + b) - t;
    e * e
}

/// A product loop: the backward sweep needs every partial product, kept on a tape whose
/// capacity the macro knows from the array's length.
#[differentiate]
fn product(x: [f64; 8]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p *= x[i];
    }
    p
}

/// Branches and a local array, over a fixed-size array.
#[differentiate]
fn smooth_max(x: &[f64; 4], k: f64) -> f64 {
    let mut e = [0.0; 4];
    let mut total = 0.0;
    for i in 0..4 {
        e[i] = (k * x[i]).exp();
        total += e[i];
    }
    let mut s = 0.0;
    for i in (0..4).rev() {
        if e[i] > 0.5 * total {
            s += x[i] * e[i];
        } else {
            s -= 0.01 * x[i];
        }
    }
    s / total
}

/// An accumulation loop over slices: it needs no tape at all.
#[differentiate]
fn dot(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut s = b;
    for i in 0..w.len() {
        s += w[i] * x[i];
    }
    s * s
}

/// A small perceptron's loss over a batch of any length: each sample's three `tanh` values go on
/// a tape. The batch loop only accumulates, so its backward code runs inside it, and the tape
/// holds one sample's values: three, inline.
#[differentiate(wrt(w))]
fn batch_loss(w: &[f64; 7], data: &[f64], targets: &[f64]) -> f64 {
    let mut loss = 0.0;
    for s in 0..targets.len() {
        let mut y = w[6];
        for j in 0..3 {
            y += w[3 + j] * (w[j] * data[s]).tanh();
        }
        let r = y - targets[s];
        loss += r * r;
    }
    loss
}

#[test]
fn straight_line_allocates_nothing() {
    let info = measure(|| {
        black_box(neuron_grad(black_box(2.0), 0.5, 0.1, 1.0));
    });
    assert_eq!(info.count_total, 0);
}

#[test]
fn fixed_size_array_loops_allocate_nothing() {
    let x = [1.5, -0.5, 2.0, 0.25, 1.0, -1.0, 3.0, 0.5];
    let info = measure(|| {
        black_box(product_grad(black_box(x)));
    });
    assert_eq!(info.count_total, 0);
    let (p, d) = product_grad(x);
    assert_eq!(p, x.iter().product::<f64>());
    for (i, &di) in d.iter().enumerate() {
        let others: f64 = x
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, v)| v)
            .product();
        assert_eq!(di, others);
    }

    let y = [0.3, -1.2, 0.8, 0.1];
    let info = measure(|| {
        black_box(smooth_max_grad(black_box(&y), 2.0));
    });
    assert_eq!(info.count_total, 0);
    let (v, dy, dk) = smooth_max_grad(&y, 2.0);
    assert_eq!(v, smooth_max(&y, 2.0));
    let mut g = dy.to_vec();
    g.push(dk);
    autodiff::check_gradient(
        |p| smooth_max(&[p[0], p[1], p[2], p[3]], p[4]),
        &[0.3, -1.2, 0.8, 0.1, 2.0],
        &g,
    )
    .unwrap();
}

#[test]
fn accumulation_over_slices_allocates_nothing_into_a_buffer() {
    let w = vec![0.5; 64];
    let x: Vec<f64> = (0..64).map(|i| f64::from(i) / 64.0).collect();
    let mut dw = vec![0.0; 64];
    let mut dx = vec![0.0; 64];
    let info = measure(|| {
        black_box(dot_grad_into(black_box(&w), &mut dw, &x, &mut dx, 0.25));
    });
    assert_eq!(info.count_total, 0);
    // The convenience form allocates exactly its two returned gradients.
    let info = measure(|| {
        black_box(dot_grad(black_box(&w), &x, 0.25));
    });
    assert_eq!(info.count_total, 2);
}

#[test]
fn a_batch_loop_with_a_tape_allocates_nothing() {
    let w = [0.5, -0.25, 1.0, 0.75, -0.5, 0.25, 0.1];
    let data: Vec<f64> = (0..50).map(|i| f64::from(i) / 25.0 - 1.0).collect();
    let targets: Vec<f64> = data.iter().map(|d| d * d).collect();
    let info = measure(|| {
        black_box(batch_loss_grad(black_box(&w), &data, &targets));
    });
    assert_eq!(info.count_total, 0);
    let (value, g) = batch_loss_grad(&w, &data, &targets);
    assert_eq!(value, batch_loss(&w, &data, &targets));
    autodiff::check_gradient(
        |p| {
            let w: [f64; 7] = p.try_into().expect("7 weights");
            batch_loss(&w, &data, &targets)
        },
        &w,
        &g,
    )
    .unwrap();
}

/// `c Σ wᵢ² (1 + xₖ)` for one sample: a helper taking the weights as a slice.
#[differentiate]
fn sample_loss(w: &[f64], x: f64, c: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..w.len() {
        s += w[i] * w[i] * (1.0 + x);
    }
    s * c
}

/// A batch loop calling the helper with the weight slice: the loop is fused, and every call adds
/// the slice's gradient into one scratch buffer through `sample_loss_grad_into` (the helper is
/// differentiated beside it).
#[differentiate]
fn batch_of_calls(w: &[f64], data: &[f64], c: f64) -> f64 {
    let mut s = 0.0;
    for k in 0..data.len() {
        s += c * sample_loss(w, data[k], c);
    }
    s
}

/// The helper called once: its gradient needs a scratch buffer, to be scaled by the call's
/// adjoint.
#[differentiate]
fn passes_weights(w: &[f64], c: f64) -> f64 {
    sample_loss(w, 0.5, c) + c
}

#[test]
fn calls_with_slices_allocate_one_scratch_buffer_past_16_elements() {
    // Up to 16 elements, the scratch buffer is on the stack.
    let w = [0.5, -1.0, 0.25];
    let mut d_w = [0.0; 3];
    // Past them, it is allocated at the first call and reused by the others.
    let long: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.05 - 1.0).collect();
    let mut d_long = vec![0.0; long.len()];
    for n in [1, 10, 100] {
        let data: Vec<f64> = (0..n).map(|k| f64::from(k) * 0.01).collect();
        let mut d_data = vec![0.0; data.len()];
        let info = measure(|| {
            black_box(batch_of_calls_grad_into(
                &w,
                &mut d_w,
                &data,
                &mut d_data,
                0.5,
            ));
        });
        assert_eq!(info.count_total, 0, "n = {n}");
        let info = measure(|| {
            black_box(batch_of_calls_grad_into(
                &long,
                &mut d_long,
                &data,
                &mut d_data,
                0.5,
            ));
        });
        assert_eq!(info.count_total, 1, "n = {n}");
    }
    let info = measure(|| {
        black_box(passes_weights_grad_into(&w, &mut d_w, 0.5));
    });
    assert_eq!(info.count_total, 0);
    let info = measure(|| {
        black_box(passes_weights_grad_into(&long, &mut d_long, 0.5));
    });
    assert_eq!(info.count_total, 1);
    // Against finite differences of the loss over all of its inputs.
    let data = [0.1, -0.3, 0.7];
    let (v, dw, ddata, dc) = batch_of_calls_grad(&w, &data, 0.5);
    assert_eq!(v.to_bits(), batch_of_calls(&w, &data, 0.5).to_bits());
    let mut grad = dw.clone();
    grad.extend(&ddata);
    grad.push(dc);
    autodiff::check_gradient(
        |p| batch_of_calls(&p[..3], &p[3..6], p[6]),
        &[0.5, -1.0, 0.25, 0.1, -0.3, 0.7, 0.5],
        &grad,
    )
    .unwrap();
}

/// Per point, a recurrence over its `d` coordinates through `tanh`, whose values go on a tape;
/// the points' loop only accumulates, so its backward code runs inside it and pops them again.
#[differentiate]
fn points_loss(w: &[f64], x: &[f64]) -> f64 {
    let d = w.len();
    let mut s = 0.0;
    for p in 0..x.len() / d {
        let mut h = 0.0;
        for i in 0..d {
            h = (h + w[i] * x[p * d + i]).tanh();
        }
        s += h * h;
    }
    s
}

/// A product over a slice, whose partial products all go on a tape before the backward loop.
#[differentiate]
fn sin_product(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p *= x[i].sin() + 1.5;
    }
    p
}

#[test]
fn a_tape_gets_the_room_its_loop_needs() {
    // One point's values: the first 16 inline (a loop over a slice parameter), the other 24 on
    // the heap, made room for before the loop over the coordinates, once, and used again by
    // every point. The tape used to start at 512 bytes.
    let d = 40;
    let w: Vec<f64> = (0..d).map(|i| 0.3 - 0.01 * f64::from(i)).collect();
    let x: Vec<f64> = (0..5 * d).map(|i| (f64::from(i) * 0.37).sin()).collect();
    let mut d_w = vec![0.0; w.len()];
    let mut d_x = vec![0.0; x.len()];
    let info = measure(|| {
        black_box(points_loss_grad_into(&w, &mut d_w, &x, &mut d_x));
    });
    assert_eq!((info.count_total, info.bytes_max), (1, 24 * 8));
    let (value, gw, gx) = points_loss_grad(&w, &x);
    assert_eq!(value.to_bits(), points_loss(&w, &x).to_bits());
    autodiff::check_gradient(|p| points_loss(p, &x), &w, &gw).unwrap();
    autodiff::check_gradient(|p| points_loss(&w, p), &x, &gx).unwrap();

    // All of a loop's values, two per element (the partial product and the factor): room for
    // those past the inline part at once, where a tape doubling from 512 bytes allocated six
    // times (and copied what it held at each).
    let x: Vec<f64> = (0..1000).map(|i| (f64::from(i) * 0.61).cos()).collect();
    let mut d_x = vec![0.0; x.len()];
    let info = measure(|| {
        black_box(sin_product_grad_into(&x, &mut d_x));
    });
    assert_eq!(info.count_total, 1);
    assert!(info.bytes_max <= 2 * 1000 * 8, "{}", info.bytes_max);
    // Against the closed form: ∂/∂xᵢ Π (sin xⱼ + 1.5) = p cos xᵢ / (sin xᵢ + 1.5).
    let short = &x[..12];
    let (p, g) = sin_product_grad(short);
    for (i, (&xi, &gi)) in short.iter().zip(&g).enumerate() {
        let want = p * xi.cos() / (xi.sin() + 1.5);
        assert!(
            (gi - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{i}: {gi} {want}"
        );
    }
    let (p, g) = sin_product_grad(&x);
    assert_eq!(p.to_bits(), sin_product(&x).to_bits());
    for (i, (&xi, &gi)) in x.iter().zip(&g).enumerate() {
        let want = p * xi.cos() / (xi.sin() + 1.5);
        assert!(
            (gi - want).abs() <= 1e-9 * want.abs().max(1e-300),
            "{i}: {gi} {want}"
        );
    }
}
