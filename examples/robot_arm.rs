//! Inverse kinematics of a planar three-link arm by damped least squares, on the Jacobian
//! `#[differentiate]` generates for the end-effector position.
//!
//! `cargo run --example robot_arm` prints the distance to the target as it falls.
use autodiff::differentiate;

/// The lengths of the three links.
const L1: f64 = 1.0;
const L2: f64 = 0.8;
const L3: f64 = 0.5;

/// The position of the arm's tip for joint angles `q` (each relative to the previous link).
#[differentiate(reverse, forward)]
fn end_effector(q: [f64; 3]) -> [f64; 2] {
    let a1 = q[0];
    let a2 = a1 + q[1];
    let a3 = a2 + q[2];
    [
        L1 * a1.cos() + L2 * a2.cos() + L3 * a3.cos(),
        L1 * a1.sin() + L2 * a2.sin() + L3 * a3.sin(),
    ]
}

/// One damped-least-squares step: `Δq = Jᵀ (J Jᵀ + λ² I)⁻¹ e`.
fn step(jac: &[[f64; 3]; 2], e: [f64; 2], lambda: f64) -> [f64; 3] {
    let mut a = [[0.0; 2]; 2];
    for i in 0..2 {
        for k in 0..2 {
            a[i][k] = (0..3).map(|j| jac[i][j] * jac[k][j]).sum();
        }
        a[i][i] += lambda * lambda;
    }
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let w = [
        (a[1][1] * e[0] - a[0][1] * e[1]) / det,
        (a[0][0] * e[1] - a[1][0] * e[0]) / det,
    ];
    let mut dq = [0.0; 3];
    for (j, d) in dq.iter_mut().enumerate() {
        *d = jac[0][j] * w[0] + jac[1][j] * w[1];
    }
    dq
}

fn main() {
    let target = [0.9, 1.4];
    let mut q = [0.3, 0.3, 0.3];
    println!("target ({:.3}, {:.3})", target[0], target[1]);
    for iteration in 0..50 {
        let (tip, jac) = end_effector_jacobian(q);
        let e = [target[0] - tip[0], target[1] - tip[1]];
        let distance = e[0].hypot(e[1]);
        println!(
            "{iteration:2}: tip ({:.6}, {:.6})  distance {distance:.3e}",
            tip[0], tip[1]
        );
        if distance < 1e-10 {
            break;
        }
        let dq = step(&jac, e, 0.05);
        for (a, d) in q.iter_mut().zip(dq) {
            *a += d;
        }
    }
    println!("joint angles ({:.6}, {:.6}, {:.6})", q[0], q[1], q[2]);
}
