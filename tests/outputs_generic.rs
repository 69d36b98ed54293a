//! Several outputs from functions generic over the float type and from methods: `f_vjp`,
//! `f_jacobian`, `f_jvp` and `f_hvp` of `fn f<T: Float>(..) -> [T; M]`, of `&self` methods and of
//! methods of a generic `impl<T: Float>`. Each Jacobian is checked against its closed form,
//! derived by hand, and against central differences of the function itself.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)]

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use autodiff::differentiate;
use common::oracles::{assert_near, fd_jacobian};
use num_traits::Float;

/// Polar to Cartesian coordinates, generic over the float type.
#[differentiate(reverse, forward, hessian)]
fn polar<T: Float>(r: T, theta: T) -> [T; 2] {
    [r * theta.cos(), r * theta.sin()]
}

/// `∂(x, y)/∂(r, θ) = [[cos θ, -r sin θ], [sin θ, r cos θ]]`.
fn polar_by_hand(r: f64, t: f64) -> [[f64; 2]; 2] {
    [[t.cos(), -r * t.sin()], [t.sin(), r * t.cos()]]
}

#[test]
fn generic_function_with_an_array_output() {
    let (r, t) = (1.7, 0.6);
    let want = polar_by_hand(r, t);
    let (value, jac) = polar_jacobian(r, t);
    assert_eq!(value, polar(r, t));
    for i in 0..2 {
        assert_near("jacobian row", &jac[i], &want[i], 1e-14);
    }
    let fd = fd_jacobian(|p| polar(p[0], p[1]).to_vec(), &[r, t]);
    for i in 0..2 {
        assert_near("differences", &jac[i], &fd[i], 1e-7);
    }
    // seedᵀ·J
    let seed = [0.3, -1.1];
    let (value, dr, dt) = polar_vjp(r, t, seed);
    assert_eq!(value, polar(r, t));
    assert_near(
        "vjp",
        &[dr, dt],
        &[
            seed[0] * want[0][0] + seed[1] * want[1][0],
            seed[0] * want[0][1] + seed[1] * want[1][1],
        ],
        1e-14,
    );
    // J·v
    let (value, tangent) = polar_jvp(r, 0.4, t, -0.2);
    assert_eq!(value, polar(r, t));
    for i in 0..2 {
        let want_i = want[i][0] * 0.4 - want[i][1] * 0.2;
        assert!(
            (tangent[i] - want_i).abs() < 1e-14,
            "{i}: {} {want_i}",
            tangent[i]
        );
    }
}

#[test]
fn generic_function_with_an_array_output_in_f32() {
    let (r, t) = (1.7_f32, 0.6_f32);
    let want = polar_by_hand(1.7, 0.6);
    let (value, jac) = polar_jacobian::<f32>(r, t);
    assert_eq!(value, polar(r, t));
    for i in 0..2 {
        for j in 0..2 {
            assert!((f64::from(jac[i][j]) - want[i][j]).abs() < 1e-5, "{i} {j}");
        }
    }
}

/// Second order: `seedᵀ·H·v` of the outputs, along `(v_r, v_θ)`, against differences of
/// `polar_vjp`'s gradients.
#[test]
fn generic_function_second_order() {
    let (r, t) = (1.3, -0.4);
    let seed = [0.7, 0.2];
    let (v_r, v_t) = (0.5, -0.9);
    let (value, dr, dt, _tangent, hv_r, hv_t) = polar_hvp(r, v_r, t, v_t, seed, [0.0, 0.0]);
    assert_eq!(value, polar(r, t));
    let (_, dr0, dt0) = polar_vjp(r, t, seed);
    assert_eq!((dr, dt), (dr0, dt0));
    let h = 1e-6;
    let (_, drp, dtp) = polar_vjp(r + h * v_r, t + h * v_t, seed);
    let (_, drm, dtm) = polar_vjp(r - h * v_r, t - h * v_t, seed);
    assert_near(
        "hvp",
        &[hv_r, hv_t],
        &[(drp - drm) / (2.0 * h), (dtp - dtm) / (2.0 * h)],
        1e-7,
    );
}

/// The mean and the (population) variance of a slice, generic: a tuple output from a slice.
#[differentiate]
fn moments<T: Float>(x: &[T]) -> (T, T) {
    let n = T::from(x.len()).unwrap();
    let mut s = T::zero();
    let mut q = T::zero();
    for &v in x {
        s = s + v;
        q = q + v * v;
    }
    let mean = s / n;
    (mean, q / n - mean * mean)
}

#[test]
fn generic_function_of_a_slice_with_a_tuple_output() {
    let x = [0.5, -1.25, 2.0, 0.75];
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    // ∂mean/∂x_j = 1/n, ∂var/∂x_j = 2 (x_j - mean) / n.
    let want: Vec<f64> = (0..4)
        .map(|_| 1.0 / n)
        .chain(x.iter().map(|v| 2.0 * (v - mean) / n))
        .collect();
    let (value, jac) = moments_jacobian(&x[..]);
    assert_eq!(value, moments(&x[..]));
    assert_near("jacobian", &jac, &want, 1e-14);
    let mut dx = [0.0; 4];
    let (value, ()) = {
        let (v, ..) = moments_vjp_into(&x[..], &mut dx, (2.0, -1.0));
        (v, ())
    };
    assert_eq!(value, moments(&x[..]));
    let seeded: Vec<f64> = (0..4).map(|j| 2.0 * want[j] - want[4 + j]).collect();
    assert_near("vjp_into", &dx, &seeded, 1e-14);
    let x32 = [0.5_f32, -1.25, 2.0, 0.75];
    let (_, jac32) = moments_jacobian(&x32[..]);
    for (g, w) in jac32.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() < 1e-6);
    }
}

/// A two-link planar arm: the tip's position from the joint angles.
#[derive(Clone, Copy)]
struct Arm {
    l1: f64,
    l2: f64,
}

impl Arm {
    #[differentiate(reverse, forward)]
    fn tip(&self, a: f64, b: f64) -> [f64; 2] {
        let x = self.l1 * a.cos() + self.l2 * (a + b).cos();
        let y = self.l1 * a.sin() + self.l2 * (a + b).sin();
        [x, y]
    }

    /// `|tip|²` through the method with several outputs, called as a method.
    #[differentiate]
    fn reach_squared(&self, a: f64, b: f64) -> f64 {
        let [x, y] = self.tip(a, b);
        x * x + y * y
    }

    /// The same, called by path.
    #[differentiate]
    fn reach_squared_by_path(&self, a: f64, b: f64) -> f64 {
        let [x, y] = Self::tip(self, a, b);
        x * x + y * y
    }

    /// By value, a tuple.
    #[differentiate]
    fn reach(self, a: f64) -> (f64, f64) {
        (self.l1 * a.cos(), self.l2 * a.sin())
    }
}

fn arm_jacobian(arm: Arm, a: f64, b: f64) -> [[f64; 2]; 2] {
    let (l1, l2) = (arm.l1, arm.l2);
    [
        [-l1 * a.sin() - l2 * (a + b).sin(), -l2 * (a + b).sin()],
        [l1 * a.cos() + l2 * (a + b).cos(), l2 * (a + b).cos()],
    ]
}

#[test]
fn method_with_an_array_output() {
    let arm = Arm { l1: 1.2, l2: 0.7 };
    let (a, b) = (0.4, 1.1);
    let want = arm_jacobian(arm, a, b);
    let (value, jac) = arm.tip_jacobian(a, b);
    assert_eq!(value, arm.tip(a, b));
    for i in 0..2 {
        assert_near("jacobian row", &jac[i], &want[i], 1e-14);
    }
    let fd = fd_jacobian(|p| arm.tip(p[0], p[1]).to_vec(), &[a, b]);
    for i in 0..2 {
        assert_near("differences", &jac[i], &fd[i], 1e-7);
    }
    let (_, da, db) = arm.tip_vjp(a, b, [1.0, 2.0]);
    assert_near(
        "vjp",
        &[da, db],
        &[want[0][0] + 2.0 * want[1][0], want[0][1] + 2.0 * want[1][1]],
        1e-14,
    );
    let (_, tangent) = Arm::tip_jvp(&arm, a, 1.0, b, 0.0);
    assert_near("jvp", &tangent, &[want[0][0], want[1][0]], 1e-14);
    let (value, (dx, dy)) = {
        let (v, j) = arm.reach_jacobian(a);
        (v, (j[0][0], j[1][0]))
    };
    assert_eq!(value, arm.reach(a));
    assert_near(
        "by value",
        &[dx, dy],
        &[-1.2 * a.sin(), 0.7 * a.cos()],
        1e-14,
    );
}

/// The same arm generic over the float type, in a generic `impl`.
struct GenericArm<T> {
    l1: T,
    l2: T,
}

impl<T: Float> GenericArm<T> {
    #[differentiate]
    fn tip(&self, a: T, b: T) -> [T; 2] {
        let x = self.l1 * a.cos() + self.l2 * (a + b).cos();
        let y = self.l1 * a.sin() + self.l2 * (a + b).sin();
        [x, y]
    }
}

#[test]
fn method_of_a_generic_impl_with_an_array_output() {
    let arm = GenericArm { l1: 1.2, l2: 0.7 };
    let (a, b) = (0.4, 1.1);
    let want = arm_jacobian(Arm { l1: 1.2, l2: 0.7 }, a, b);
    let (value, jac) = arm.tip_jacobian(a, b);
    assert_eq!(value, arm.tip(a, b));
    for i in 0..2 {
        assert_near("jacobian row", &jac[i], &want[i], 1e-14);
    }
    let arm32 = GenericArm {
        l1: 1.2_f32,
        l2: 0.7,
    };
    let (_, jac32) = arm32.tip_jacobian(0.4, 1.1);
    for i in 0..2 {
        for j in 0..2 {
            assert!((f64::from(jac32[i][j]) - want[i][j]).abs() < 1e-5);
        }
    }
}

/// A generic caller of a generic function with several outputs.
#[differentiate]
fn polar_area<T: Float>(r: T, theta: T) -> T {
    let [x, y] = polar(r, theta);
    x * y
}

#[test]
fn generic_caller_of_a_generic_function_with_several_outputs() {
    let (r, t) = (1.5, 0.3);
    // x y = r² cos θ sin θ = r² sin(2θ) / 2.
    let (value, dr, dt) = polar_area_grad(r, t);
    assert!((value - r * r * (2.0 * t).sin() / 2.0).abs() < 1e-14);
    assert_near(
        "gradient",
        &[dr, dt],
        &[r * (2.0 * t).sin(), r * r * (2.0 * t).cos()],
        1e-13,
    );
    let (_, dr32, _) = polar_area_grad(1.5_f32, 0.3);
    assert!((f64::from(dr32) - r * (2.0 * t).sin()).abs() < 1e-5);
}

#[test]
fn method_with_several_outputs_called_from_a_method() {
    let arm = Arm { l1: 1.2, l2: 0.7 };
    let (a, b) = (0.4, 1.1);
    // |tip|² = l1² + l2² + 2 l1 l2 cos b: independent of a.
    let want = 1.2 * 1.2 + 0.7 * 0.7 + 2.0 * 1.2 * 0.7 * b.cos();
    let d_b = -2.0 * 1.2 * 0.7 * b.sin();
    for (value, da, db) in [
        arm.reach_squared_grad(a, b),
        arm.reach_squared_by_path_grad(a, b),
    ] {
        assert!((value - want).abs() < 1e-13);
        assert!(da.abs() < 1e-13, "{da}");
        assert!((db - d_b).abs() < 1e-13, "{db} {d_b}");
    }
}

/// A `where` clause, an array and a slice, a tuple output, second order.
#[differentiate(reverse, forward, hessian)]
fn weighted<T>(x: [T; 2], s: &[T]) -> (T, [T; 2])
where
    T: Float,
{
    let mut acc = T::zero();
    for &v in s {
        acc = acc + v * x[0];
    }
    (acc, [x[0] * x[1], x[1].exp()])
}

#[test]
fn generic_function_with_a_where_clause_and_a_slice() {
    let x = [0.3, 0.7];
    let s = [1.0, 2.0, 3.0];
    let (value, jac) = weighted_jacobian(x, &s[..]);
    assert_eq!(value, weighted(x, &s[..]));
    // Columns x0, x1, s0, s1, s2; rows acc = x0 Σs, x0 x1, exp x1.
    let e = 0.7_f64.exp();
    let want = [
        6.0, 0.0, 0.3, 0.3, 0.3, //
        0.7, 0.3, 0.0, 0.0, 0.0, //
        0.0, e, 0.0, 0.0, 0.0,
    ];
    assert_near("jacobian", &jac, &want, 1e-14);
    let fd = fd_jacobian(
        |p| {
            let (a, [b, c]) = weighted([p[0], p[1]], &p[2..]);
            vec![a, b, c]
        },
        &[0.3, 0.7, 1.0, 2.0, 3.0],
    );
    let flat: Vec<f64> = fd.concat();
    assert_near("differences", &jac, &flat, 1e-7);
    // Second order along v_x = (1, 0): the tangent is J·v; the gradient's tangent
    // (seedᵀ·H)·v with seed (1, [1, 1]): ∂²(x0 x1)/∂x1∂x0 = 1, ∂²(x0 Σs)/∂s_j∂x0 = 1.
    let (mut ds, mut hv_s) = ([0.0; 3], [0.0; 3]);
    let (value, dx, tangent, hv_x) = weighted_hvp_into(
        x,
        [1.0, 0.0],
        &s[..],
        &[0.0; 3],
        &mut ds,
        &mut hv_s,
        (1.0, [1.0, 1.0]),
        (0.0, [0.0, 0.0]),
    );
    assert_eq!(value, weighted(x, &s[..]));
    assert_near("gradient", &dx, &[6.0 + 0.7, 0.3 + e], 1e-14);
    assert_near("gradient of s", &ds, &[0.3; 3], 1e-14);
    assert_near(
        "tangent",
        &[tangent.0, tangent.1[0], tangent.1[1]],
        &[6.0, 0.7, 0.0],
        1e-14,
    );
    assert_near("hv x", &hv_x, &[0.0, 1.0], 1e-14);
    assert_near("hv s", &hv_s, &[1.0; 3], 1e-14);
}
