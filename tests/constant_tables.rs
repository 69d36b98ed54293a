//! Arrays of arrays read as tables of constants, `m[i][j]`: a `const` (a Butcher tableau, a
//! convolution kernel), a parameter that `wrt` leaves out (`[[f64; 3]; 3]` by value or by
//! reference, a slice of points `&[[f64; 2]]`), and a `let` of literals. Each gradient is checked
//! against a closed form derived by hand or against fourth-order central differences of the
//! original function, `f_jvp` against the gradient, and `f_hvp` against differences of the
//! gradient.
#![allow(
    // Tables are read by index, as the definitions write them.
    clippy::needless_range_loop,
    // A count of points as `f64`; it is small.
    clippy::cast_precision_loss
)]

use autodiff::differentiate;

#[allow(dead_code)]
mod common;

use common::oracles::{EXACT, FD, assert_near, check_hessian, dot, fd_gradient};

/// A symmetric positive definite matrix.
const A: [[f64; 3]; 3] = [[4.0, 1.0, -0.5], [1.0, 3.0, 0.25], [-0.5, 0.25, 2.0]];

/// `½ xᵀ A x - bᵀ x` over a `const` matrix: the gradient is `A x - b`.
#[differentiate(reverse, forward, hessian)]
fn quadratic(x: [f64; 3], b: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        for j in 0..3 {
            s += 0.5 * x[i] * A[i][j] * x[j];
        }
        s -= b[i] * x[i];
    }
    s
}

#[test]
fn a_const_matrix_read_element_by_element() {
    let x = [0.5, -1.25, 2.0];
    let b = [1.0, 0.5, -0.75];
    let (value, dx, db) = quadratic_grad(x, b);
    assert_eq!(value, quadratic(x, b));
    let ax: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| A[i][j] * x[j]).sum())
        .collect();
    let want: Vec<f64> = (0..3).map(|i| ax[i] - b[i]).collect();
    assert_near("∂/∂x", &dx, &want, EXACT);
    let minus_x: Vec<f64> = x.iter().map(|v| -v).collect();
    assert_near("∂/∂b", &db, &minus_x, EXACT);
    // f_jvp along a direction is the gradient's dot product with it.
    let (v, dv) = ([0.25, -0.5, 1.0], [1.0, 0.0, -2.0]);
    let (_, tangent) = quadratic_jvp(x, v, b, dv);
    let want = dot(&dx, &v) + dot(&db, &dv);
    assert!((tangent - want).abs() < 1e-12, "{tangent} against {want}");
    // H·v: A v along x, -v_x along b and -v_b along x.
    let (_, _, _, hx, hb) = quadratic_hvp(x, v, b, dv);
    let want: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| A[i][j] * v[j]).sum::<f64>() - dv[i])
        .collect();
    assert_near("(H·v)_x", &hx, &want, EXACT);
    let minus_v: Vec<f64> = v.iter().map(|t| -t).collect();
    assert_near("(H·v)_b", &hb, &minus_v, EXACT);
}

/// One classical fourth-order Runge–Kutta step of `y' = -y² + t`, the tableau as a `const` in
/// the body, as numerical codes write it.
#[differentiate(reverse, forward, hessian)]
fn rk4_step(y: f64, h: f64) -> f64 {
    const B: [[f64; 4]; 4] = [
        [0.0; 4],
        [0.5, 0.0, 0.0, 0.0],
        [0.0, 0.5, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ];
    const C: [f64; 4] = [0.0, 0.5, 0.5, 1.0];
    const W: [f64; 4] = [1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0];
    let t0 = 0.5;
    let mut k = [0.0; 4];
    for s in 0..4 {
        let mut yi = y;
        for j in 0..s {
            yi += h * B[s][j] * k[j];
        }
        k[s] = -yi * yi + (t0 + C[s] * h);
    }
    let mut out = y;
    for s in 0..4 {
        out += h * W[s] * k[s];
    }
    out
}

#[test]
fn a_butcher_tableau_declared_in_the_body() {
    for p in [[0.8, 0.1], [-0.3, 0.25], [1.5, 0.05]] {
        let (value, dy, dh) = rk4_step_grad(p[0], p[1]);
        assert_eq!(value, rk4_step(p[0], p[1]));
        let want = fd_gradient(|q| rk4_step(q[0], q[1]), &p);
        assert_near("rk4_step", &[dy, dh], &want, FD);
        let (_, t) = rk4_step_jvp(p[0], 1.0, p[1], -0.5);
        assert!((t - (dy - 0.5 * dh)).abs() < 1e-12);
        let mut hess = Vec::new();
        for e in [[1.0, 0.0], [0.0, 1.0]] {
            let (_, _, _, hy, hh) = rk4_step_hvp(p[0], e[0], p[1], e[1]);
            hess.extend([hy, hh]);
        }
        check_hessian(
            "rk4_step",
            &hess,
            |q| {
                let (_, a, b) = rk4_step_grad(q[0], q[1]);
                vec![a, b]
            },
            &p,
        );
    }
}

/// Gaussian blur of a 4 × 4 image by a 3 × 3 kernel (valid part, 2 × 2), then the sum of
/// squares of the result: the image is a flat slice, the kernel a `const` table.
const KERNEL: [[f64; 3]; 3] = [
    [1.0 / 16.0, 2.0 / 16.0, 1.0 / 16.0],
    [2.0 / 16.0, 4.0 / 16.0, 2.0 / 16.0],
    [1.0 / 16.0, 2.0 / 16.0, 1.0 / 16.0],
];

#[differentiate]
fn blurred_energy(image: &[f64]) -> f64 {
    let mut energy = 0.0;
    for r in 0..2 {
        for c in 0..2 {
            let mut v = 0.0;
            for i in 0..3 {
                for j in 0..3 {
                    v += KERNEL[i][j] * image[(r + i) * 4 + c + j];
                }
            }
            energy += v * v;
        }
    }
    energy
}

#[test]
fn a_convolution_kernel() {
    let image: Vec<f64> = (0..16).map(|k| (f64::from(k) * 0.7).sin()).collect();
    let (value, grad) = blurred_energy_grad(&image);
    assert_eq!(value, blurred_energy(&image));
    // ∂/∂image[p] = Σ over outputs of 2 v · KERNEL[i][j] where p = (r + i) 4 + c + j.
    let mut want = vec![0.0; 16];
    for r in 0..2 {
        for c in 0..2 {
            let mut v = 0.0;
            for i in 0..3 {
                for j in 0..3 {
                    v += KERNEL[i][j] * image[(r + i) * 4 + c + j];
                }
            }
            for i in 0..3 {
                for j in 0..3 {
                    want[(r + i) * 4 + c + j] += 2.0 * v * KERNEL[i][j];
                }
            }
        }
    }
    assert_near("blurred_energy", &grad, &want, EXACT);
}

/// `xᵀ M x` for a matrix passed as a parameter, by reference and (in `f32`) by value: the
/// parameters that are arrays of arrays are constants.
#[differentiate(reverse, forward, graph)]
fn form(x: &[f64], m: &[[f64; 3]; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        for j in 0..3 {
            s += x[i] * m[i][j] * x[j];
        }
    }
    s
}

#[differentiate]
fn form32(x: [f32; 2], m: [[f32; 2]; 2]) -> f32 {
    let mut s = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            s += x[i] * m[i][j] * x[j];
        }
    }
    s
}

#[test]
fn a_matrix_parameter_is_a_constant() {
    let m = [[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0], [0.25, 0.0, 1.5]];
    let x = [0.3, -0.7, 1.1];
    let (value, dx) = form_grad(&x, &m);
    assert_eq!(value, form(&x, &m));
    // (M + Mᵀ) x.
    let want: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| (m[i][j] + m[j][i]) * x[j]).sum())
        .collect();
    assert_near("form", &dx, &want, EXACT);
    let mut dx_into = vec![1.0; 3];
    let _ = form_grad_into(&x, &mut dx_into, &m);
    let plus_one: Vec<f64> = want.iter().map(|w| w + 1.0).collect();
    assert_near("form_grad_into adds", &dx_into, &plus_one, EXACT);
    let (_, t) = form_jvp(&x, &[1.0, 0.0, -1.0], &m);
    assert!((t - (dx[0] - dx[2])).abs() < 1e-12);
    // The graph evaluates the same function, the output's adjoint seeded to 1.
    let graph = form_graph(&x, &m);
    let out = graph.node("form").expect("the output's node");
    assert_eq!(out.value(), value);
    assert_eq!(out.adjoint(), 1.0);

    let m32 = [[2.0_f32, 0.5], [-1.5, 1.0]];
    let x32 = [0.5_f32, -2.0];
    let (v32, d32) = form32_grad(x32, m32);
    assert_eq!(v32, form32(x32, m32));
    let want32 = [
        (m32[0][0] + m32[0][0]) * x32[0] + (m32[0][1] + m32[1][0]) * x32[1],
        (m32[1][0] + m32[0][1]) * x32[0] + (m32[1][1] + m32[1][1]) * x32[1],
    ];
    for k in 0..2 {
        assert!(
            (d32[k] - want32[k]).abs() < 1e-5,
            "{d32:?} against {want32:?}"
        );
    }
}

/// Least squares of a line through points given as `&[[f64; 2]]`, read `pts[i][0]`.
#[differentiate(reverse, hessian)]
fn line_fit(a: f64, b: f64, pts: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for i in 0..pts.len() {
        let r = pts[i][1] - (a + b * pts[i][0]);
        s += r * r;
    }
    s / pts.len() as f64
}

#[test]
fn a_slice_of_points() {
    let pts = [[0.0, 1.0], [1.0, 2.5], [2.0, 3.25], [3.0, 5.5]];
    let (a, b) = (0.75, 1.25);
    let (value, da, db) = line_fit_grad(a, b, &pts);
    assert_eq!(value, line_fit(a, b, &pts));
    // ∂/∂a = -2/n Σ r, ∂/∂b = -2/n Σ r x.
    let n = 4.0;
    let (mut sr, mut srx) = (0.0, 0.0);
    for p in &pts {
        let r = p[1] - (a + b * p[0]);
        sr += r;
        srx += r * p[0];
    }
    assert_near(
        "line_fit",
        &[da, db],
        &[-2.0 * sr / n, -2.0 * srx / n],
        EXACT,
    );
    // The Hessian is constant: 2/n [[n, Σx], [Σx, Σx²]].
    let (_, _, _, haa, hba) = line_fit_hvp(a, 1.0, b, 0.0, &pts);
    let (_, _, _, hab, hbb) = line_fit_hvp(a, 0.0, b, 1.0, &pts);
    let sx: f64 = pts.iter().map(|p| p[0]).sum();
    let sxx: f64 = pts.iter().map(|p| p[0] * p[0]).sum();
    assert_near(
        "line_fit Hessian",
        &[haa, hba, hab, hbb],
        &[2.0, 2.0 * sx / n, 2.0 * sx / n, 2.0 * sxx / n],
        EXACT,
    );
}

/// A rotation by a fixed angle, its matrix a `let` of constants with a type, then a
/// squared distance to a target.
#[differentiate(reverse, forward)]
fn rotated_distance(p: [f64; 2]) -> f64 {
    let rot: [[f64; 2]; 2] = [
        [
            std::f64::consts::FRAC_1_SQRT_2,
            -std::f64::consts::FRAC_1_SQRT_2,
        ],
        [
            std::f64::consts::FRAC_1_SQRT_2,
            std::f64::consts::FRAC_1_SQRT_2,
        ],
    ];
    let target = [1.0, 2.0];
    let mut d = 0.0;
    for i in 0..2 {
        let mut q = 0.0;
        for j in 0..2 {
            q += rot[i][j] * p[j];
        }
        d += (q - target[i]) * (q - target[i]);
    }
    d
}

#[test]
fn a_let_of_constants() {
    for p in [[0.5, -1.0], [2.0, 0.25]] {
        let (value, g) = rotated_distance_grad(p);
        assert_eq!(value, rotated_distance(p));
        let want = fd_gradient(|q| rotated_distance([q[0], q[1]]), &p);
        assert_near("rotated_distance", &g, &want, FD);
        let (_, t) = rotated_distance_jvp(p, [1.0, 1.0]);
        assert!((t - (g[0] + g[1])).abs() < 1e-12);
    }
}

/// A scalar constant of the module, and one of the same name in a block.
const C: f64 = 2.0;

/// The block's `C` is its own: `7x + 2x`. The generated functions declare the body's constants
/// at their top, where the block's once took the module's place (`14x`).
#[differentiate(reverse, forward)]
fn shadowed_constant(x: f64) -> f64 {
    let a = {
        const C: f64 = 7.0;
        C * x
    };
    a + C * x
}

/// Two blocks declaring a constant of the same name (the expansion declared both at its top,
/// which rustc refused).
#[differentiate(reverse, forward, hessian)]
fn two_blocks(x: f64) -> f64 {
    let a = {
        const W: f64 = 7.0;
        W * x
    };
    let b = {
        const W: f64 = 2.0;
        W * x * x
    };
    a + b
}

/// A table and a constant pattern declared in a loop's body.
#[differentiate(reverse, forward)]
fn table_in_a_loop(x: &[f64], k: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        const K: [[f64; 2]; 2] = [[1.0, 2.0], [3.0, 4.0]];
        const PICK: usize = 1;
        let w = match k {
            PICK => K[1][i % 2],
            _ => K[0][i % 2],
        };
        s += w * x[i] * x[i];
    }
    s
}

#[test]
fn constants_declared_in_blocks_keep_their_scope() {
    assert_eq!(shadowed_constant_grad(1.0), (9.0, 9.0));
    assert_eq!(shadowed_constant_jvp(1.0, 1.0), (9.0, 9.0));
    // 7x + 2x², at 1.5: 7 + 4x = 13, second derivative 4.
    assert_eq!(two_blocks_grad(1.5), (two_blocks(1.5), 13.0));
    assert_eq!(two_blocks_hvp(1.5, 1.0), (two_blocks(1.5), 13.0, 4.0));
    let x = [1.0, 2.0, 3.0];
    for (k, row) in [(1, [3.0, 4.0]), (0, [1.0, 2.0])] {
        let (v, g) = table_in_a_loop_grad(&x, k);
        assert_eq!(v, table_in_a_loop(&x, k));
        let want: Vec<f64> = (0..3).map(|i| 2.0 * row[i % 2] * x[i]).collect();
        assert_eq!(g, want);
        let (_, t) = table_in_a_loop_jvp(&x, &[1.0, 0.0, 1.0], k);
        assert_eq!(t, want[0] + want[2]);
    }
}

/// A table passed by reference to a function that reads it, `callee(x, &A)` (the `&` was
/// dropped), and a table whose name is in lower case (its binding `let m2 = &m2;` was a
/// pattern of the constant).
#[differentiate(reverse, forward, wrt(x))]
fn table_reader(x: f64, t: &[[f64; 3]; 3]) -> f64 {
    t[0][1] * x * x + t[1][0] * x
}

#[differentiate(reverse, forward)]
fn passes_a_table(x: f64) -> f64 {
    table_reader(x, &A)
}

#[allow(non_upper_case_globals)]
#[differentiate(reverse, forward)]
fn lower_case_table(x: f64) -> f64 {
    const m2: [[f64; 1]; 1] = [[4.0]];
    m2[0][0] * x
}

#[test]
fn tables_passed_by_reference_and_named_in_lower_case() {
    // A[0][1] x² + A[1][0] x = x² + x.
    let x = 2.0;
    assert_eq!(passes_a_table_grad(x), (passes_a_table(x), 2.0 * x + 1.0));
    assert_eq!(
        passes_a_table_jvp(x, 1.0),
        (passes_a_table(x), 2.0 * x + 1.0)
    );
    assert_eq!(lower_case_table_grad(x), (8.0, 4.0));
}

/// A `let` table passed to functions that read it, by value and by reference (it was taken for
/// an active array, and the expansion did not compile).
#[differentiate(reverse, forward, wrt(x))]
fn table_by_value(x: f64, t: [[f64; 2]; 2]) -> f64 {
    t[0][1] * x * x + t[1][0] * x
}

#[differentiate(reverse, forward, wrt(x))]
fn table_by_reference(x: f64, t: &[[f64; 2]; 2]) -> f64 {
    t[0][1] * x * x
}

#[differentiate(reverse, forward)]
fn passes_a_let_table(x: f64) -> f64 {
    let t: [[f64; 2]; 2] = [[0.0, -1.0], [0.5, 0.0]];
    table_by_value(x, t) + table_by_reference(x, &t)
}

#[test]
fn a_let_table_passed_to_calls() {
    // -2x² + x / 2: the derivative -4x + 1/2.
    let x = 2.0;
    assert_eq!(
        passes_a_let_table_grad(x),
        (passes_a_let_table(x), -4.0 * x + 0.5)
    );
    assert_eq!(
        passes_a_let_table_jvp(x, 1.0),
        (passes_a_let_table(x), -4.0 * x + 0.5)
    );
}
