//! Small programs differentiated in every mode at once (`reverse`, `forward`, `hessian` and
//! `graph`), combining loops, iterator chains, closures, `match`, early returns and kinks with
//! `f32`, generic floats, methods, several outputs and buffer helpers, each checked against
//! finite differences of the original function (fourth-order, central) or closed forms.
#![allow(
    clippy::cast_precision_loss,
    clippy::needless_range_loop,
    clippy::many_single_char_names,
    clippy::similar_names,
    // Some programs end with a bound name, so that the graph finds the output by both names.
    clippy::let_and_return,
    clippy::type_complexity
)]

use autodiff::differentiate;
use autodiff::num_traits::Float;

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{FD, assert_near, dot, fd_gradient, fd_hessian, fd_jacobian};

fn direction(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.6 - 0.37 * i as f64 + 0.05 * (i * i) as f64 + 0.013)
        .collect()
}

fn mat_vec(m: &[f64], v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n).map(|i| dot(&m[i * n..(i + 1) * n], v)).collect()
}

fn flat<const N: usize>(h: &[[f64; N]; N]) -> Vec<f64> {
    h.iter().flatten().copied().collect()
}

// ---------------------------------------------------------------------------------------------
// Iterator chains over an array, every mode
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn chains(x: [f64; 4], a: f64) -> f64 {
    let s: f64 = x.iter().zip(&x[1..]).map(|(p, q)| p * q).sum();
    let w = x
        .windows(2)
        .fold(0.0, |acc, w| acc + (w[1] - w[0]) * (w[1] - w[0]));
    let e: f64 = x
        .iter()
        .enumerate()
        .map(|(i, v)| v * (i as f64 + 1.0))
        .sum();
    let r = x
        .iter()
        .rev()
        .step_by(2)
        .fold(a, |acc, &v| acc * 0.5 + v * a);
    let total = s + w * a + e.sin() + r;
    total
}

fn chains_flat(p: &[f64]) -> f64 {
    chains([p[0], p[1], p[2], p[3]], p[4])
}

fn chains_grad_flat(p: &[f64]) -> Vec<f64> {
    let (_, dx, da) = chains_grad([p[0], p[1], p[2], p[3]], p[4]);
    let mut g = dx.to_vec();
    g.push(da);
    g
}

#[test]
fn iterator_chains_in_every_mode() {
    let p = [0.3, -0.7, 1.1, 0.4, 0.8];
    let x = [p[0], p[1], p[2], p[3]];
    let g = chains_grad_flat(&p);
    assert_near("chains grad", &g, &fd_gradient(chains_flat, &p), FD);
    let v = direction(5);
    let (val, t) = chains_jvp(x, [v[0], v[1], v[2], v[3]], p[4], v[4]);
    assert!((val - chains_flat(&p)).abs() < 1e-14);
    assert_near("chains jvp", &[t], &[dot(&g, &v)], 1e-12);
    let (hval, hdx, hda, hess) = chains_hessian(x, p[4]);
    assert!((hval - val).abs() < 1e-14);
    let mut hg = hdx.to_vec();
    hg.push(hda);
    assert_near("chains hessian grad", &hg, &g, 1e-14);
    let hess = flat(&hess);
    assert_near(
        "chains hessian",
        &hess,
        &fd_hessian(chains_grad_flat, &p),
        1e-5,
    );
    let (_, _, _, hv_x, hv_a) = chains_hvp(x, [v[0], v[1], v[2], v[3]], p[4], v[4]);
    let mut hv = hv_x.to_vec();
    hv.push(hv_a);
    assert_near("chains hvp", &hv, &mat_vec(&hess, &v), 1e-10);
    let graph = chains_graph(x, p[4]);
    for i in 0..4 {
        let node = graph.node(&format!("x[{i}]")).expect("x[i]");
        assert_near("chains graph x", &[node.adjoint()], &[g[i]], 1e-12);
    }
    assert_near(
        "chains graph a",
        &[graph.node("a").unwrap().adjoint()],
        &[g[4]],
        1e-12,
    );
    assert_near(
        "chains graph out",
        &[graph.node("chains").unwrap().value()],
        &[val],
        1e-14,
    );
    assert_near(
        "chains graph total",
        &[graph.node("total").unwrap().value()],
        &[val],
        1e-14,
    );
}

// ---------------------------------------------------------------------------------------------
// match, early return, max / min / abs / clamp in a loop
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn kinks(x: f64, y: f64, k: i32) -> f64 {
    let mut s = 0.0;
    for i in 0..5 {
        let t = match (i + k) % 3 {
            0 => x * y,
            1 => x.max(y) * x,
            _ => (x - y).abs() * y,
        };
        s += t.clamp(-5.0, 5.0);
        if s > 20.0 {
            return s * x;
        }
    }
    f64::min(s, x * x * y)
}

#[test]
fn kinks_in_every_mode() {
    for (x, y, k) in [(0.7, 1.3, 0), (1.9, 0.4, 1), (3.0, 2.5, 2), (-0.6, 0.9, 1)] {
        let f = |p: &[f64]| kinks(p[0], p[1], k);
        let gr = |p: &[f64]| {
            let (_, a, b) = kinks_grad(p[0], p[1], k);
            vec![a, b]
        };
        let p = [x, y];
        let g = gr(&p);
        assert_near("kinks grad", &g, &fd_gradient(f, &p), FD);
        let (_, t) = kinks_jvp(x, 0.3, y, -0.8, k);
        assert_near("kinks jvp", &[t], &[0.3 * g[0] - 0.8 * g[1]], 1e-12);
        let (_, _, _, hess) = kinks_hessian(x, y, k);
        let hess = flat(&hess);
        assert_near("kinks hessian", &hess, &fd_hessian(gr, &p), 1e-5);
        let (_, _, _, hx, hy) = kinks_hvp(x, 0.3, y, -0.8, k);
        assert_near("kinks hvp", &[hx, hy], &mat_vec(&hess, &[0.3, -0.8]), 1e-10);
        let graph = kinks_graph(x, y, k);
        assert_near(
            "kinks graph",
            &[
                graph.node("x").unwrap().adjoint(),
                graph.node("y").unwrap().adjoint(),
            ],
            &g,
            1e-12,
        );
        assert_near(
            "kinks graph value",
            &[graph.node("kinks").unwrap().value()],
            &[f(&p)],
            1e-14,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Closures and a while loop
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn closures(x: f64, y: f64) -> f64 {
    let scale = x * 0.5;
    let sq = |v: f64| v * v * scale;
    let damp = |v: f64, w: f64| (v - w).tanh() + w.exp() * 0.1;
    let mut acc = sq(y) + damp(x, y);
    let mut n = 0;
    while n < 3 {
        acc = damp(acc, y) + sq(acc) * 0.1;
        n += 1;
    }
    acc
}

#[test]
fn closures_in_every_mode() {
    let p = [0.8, -0.3];
    let f = |p: &[f64]| closures(p[0], p[1]);
    let gr = |p: &[f64]| {
        let (_, a, b) = closures_grad(p[0], p[1]);
        vec![a, b]
    };
    let g = gr(&p);
    assert_near("closures grad", &g, &fd_gradient(f, &p), FD);
    let (_, t) = closures_jvp(p[0], 1.0, p[1], 2.0);
    assert_near("closures jvp", &[t], &[g[0] + 2.0 * g[1]], 1e-12);
    let (_, _, _, hess) = closures_hessian(p[0], p[1]);
    let hess = flat(&hess);
    assert_near("closures hessian", &hess, &fd_hessian(gr, &p), 1e-5);
    let (_, _, _, hx, hy) = closures_hvp(p[0], 1.0, p[1], 2.0);
    assert_near(
        "closures hvp",
        &[hx, hy],
        &mat_vec(&hess, &[1.0, 2.0]),
        1e-10,
    );
    let graph = closures_graph(p[0], p[1]);
    assert_near(
        "closures graph",
        &[
            graph.node("x").unwrap().adjoint(),
            graph.node("y").unwrap().adjoint(),
        ],
        &g,
        1e-12,
    );
}

// ---------------------------------------------------------------------------------------------
// f32 in every mode
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn single(x: [f32; 3], s: f32) -> f32 {
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let lse: f32 = x.iter().map(|v| (v - m).exp()).sum::<f32>().ln() + m;
    let mut acc = lse * s;
    for (i, v) in x.iter().enumerate() {
        acc += (v * s).sin() / (i as f32 + 1.0);
    }
    acc.abs().min(10.0)
}

fn single_flat(p: &[f64]) -> f64 {
    #[allow(clippy::cast_possible_truncation)]
    let q: Vec<f32> = p.iter().map(|&v| v as f32).collect();
    f64::from(single([q[0], q[1], q[2]], q[3]))
}

#[test]
fn f32_in_every_mode() {
    let x = [0.4_f32, -0.2, 0.9];
    let s = 1.3_f32;
    let p: Vec<f64> = x.iter().chain([s].iter()).map(|&v| f64::from(v)).collect();
    let (_, dx, ds) = single_grad(x, s);
    let g: Vec<f64> = dx
        .iter()
        .chain([ds].iter())
        .map(|&v| f64::from(v))
        .collect();
    // f32 differences need a larger step.
    let mut want = vec![0.0; 4];
    for j in 0..4 {
        let h = 1e-2;
        let at = |e: f64| {
            let mut q = p.clone();
            q[j] += e;
            single_flat(&q)
        };
        want[j] = (-at(2.0 * h) + 8.0 * at(h) - 8.0 * at(-h) + at(-2.0 * h)) / (12.0 * h);
    }
    assert_near("f32 grad", &g, &want, 1e-3);
    let (_, t) = single_jvp(x, [1.0, 0.0, -1.0], s, 0.5);
    let tw = g[0] - g[2] + 0.5 * g[3];
    assert_near("f32 jvp", &[f64::from(t)], &[tw], 1e-5);
    let (_, hdx, hds, hess) = single_hessian(x, s);
    assert_eq!((hdx, hds), (dx, ds));
    let hess: Vec<f64> = hess.iter().flatten().map(|&v| f64::from(v)).collect();
    let gr = |q: &[f64]| {
        #[allow(clippy::cast_possible_truncation)]
        let q: Vec<f32> = q.iter().map(|&v| v as f32).collect();
        let (_, dx, ds) = single_grad([q[0], q[1], q[2]], q[3]);
        dx.iter()
            .chain([ds].iter())
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>()
    };
    let mut hw = vec![0.0; 16];
    for j in 0..4 {
        let h = 1e-2;
        let at = |e: f64| {
            let mut q = p.clone();
            q[j] += e;
            gr(&q)
        };
        let (a, b, c, d) = (at(2.0 * h), at(h), at(-h), at(-2.0 * h));
        for i in 0..4 {
            hw[i * 4 + j] = (-a[i] + 8.0 * b[i] - 8.0 * c[i] + d[i]) / (12.0 * h);
        }
    }
    assert_near("f32 hessian", &hess, &hw, 2e-3);
    let graph = single_graph(x, s);
    let ga: Vec<f64> = (0..3)
        .map(|i| graph.node(&format!("x[{i}]")).unwrap().adjoint())
        .chain([graph.node("s").unwrap().adjoint()])
        .collect();
    assert_near("f32 graph", &ga, &g, 1e-5);
}

// ---------------------------------------------------------------------------------------------
// Generic floats in every mode
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn generic<T: Float>(x: &[T], c: T) -> T {
    let mut acc = T::zero();
    for i in 0..x.len() {
        let d = x[i] - c;
        acc = acc + if d > T::zero() { d * d } else { -d * c };
    }
    let m = x.iter().fold(T::zero(), |m, &v| m.max(v.abs()));
    acc.sqrt() + m * c
}

#[test]
fn generic_in_every_mode() {
    let x = [0.5, 1.7, -0.4];
    let c = 0.9;
    let p = [x[0], x[1], x[2], c];
    let f = |p: &[f64]| generic(&p[..3], p[3]);
    let gr = |p: &[f64]| {
        let (_, mut d, dc) = generic_grad(&p[..3], p[3]);
        d.push(dc);
        d
    };
    let g = gr(&p);
    assert_near("generic grad", &g, &fd_gradient(f, &p), FD);
    let v = direction(4);
    let (_, t) = generic_jvp(&x, &v[..3], c, v[3]);
    assert_near("generic jvp", &[t], &[dot(&g, &v)], 1e-12);
    let (_, _, _, hess) = generic_hessian(&x, c);
    assert_near("generic hessian", &hess, &fd_hessian(gr, &p), 1e-5);
    let (_, _, _, mut hv, hc) = generic_hvp(&x, &v[..3], c, v[3]);
    hv.push(hc);
    assert_near("generic hvp", &hv, &mat_vec(&hess, &v), 1e-10);
    let graph = generic_graph(&x, c);
    let ga: Vec<f64> = (0..3)
        .map(|i| graph.node(&format!("x[{i}]")).unwrap().adjoint())
        .chain([graph.node("c").unwrap().adjoint()])
        .collect();
    assert_near("generic graph", &ga, &g, 1e-12);
    // f32 instance
    let x32 = [0.5_f32, 1.7, -0.4];
    let (_, d32, dc32) = generic_grad(&x32, 0.9_f32);
    let g32: Vec<f64> = d32
        .iter()
        .chain([dc32].iter())
        .map(|&v| f64::from(v))
        .collect();
    assert_near("generic f32 grad", &g32, &g, 1e-5);
    let (_, _, _, h32) = generic_hessian(&x32, 0.9_f32);
    let h32: Vec<f64> = h32.iter().map(|&v| f64::from(v)).collect();
    assert_near("generic f32 hessian", &h32, &hess, 1e-4);
}

// ---------------------------------------------------------------------------------------------
// Methods, with and without wrt(self)
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Debug)]
struct Poly {
    c: [f64; 3],
    shift: f64,
}

impl Poly {
    #[differentiate(reverse, forward, hessian, graph)]
    fn eval(&self, x: f64) -> f64 {
        let t = x - self.shift;
        self.c.iter().rev().fold(0.0, |acc, &ci| acc * t + ci) * t.sin()
    }

    #[differentiate(reverse, forward, hessian, graph, wrt(self, x))]
    fn eval_all(&self, x: f64) -> f64 {
        let t = x - self.shift;
        let mut acc = 0.0;
        for i in (0..3).rev() {
            acc = acc * t + self.c[i];
        }
        acc * t.sin() + x.cos() * self.shift
    }
}

#[test]
fn methods_in_every_mode() {
    let m = Poly {
        c: [0.5, -1.2, 0.7],
        shift: 0.3,
    };
    let x = 1.1;
    let with = |q: &[f64]| Poly {
        c: [q[0], q[1], q[2]],
        shift: q[3],
    };
    // Without wrt(self).
    let (v, dx) = m.eval_grad(x);
    let fx = |q: &[f64]| m.eval(q[0]);
    assert_near("eval grad", &[dx], &fd_gradient(fx, &[x]), FD);
    assert!((v - m.eval(x)).abs() < 1e-14);
    let (_, t) = m.eval_jvp(x, 2.0);
    assert_near("eval jvp", &[t], &[2.0 * dx], 1e-12);
    let (_, _, hess) = m.eval_hessian(x);
    let want = fd_gradient(|q: &[f64]| m.eval_grad(q[0]).1, &[x]);
    assert_near("eval hessian", &[hess[0][0]], &want, 1e-5);
    let (_, _, hv) = m.eval_hvp(x, 2.0);
    assert_near("eval hvp", &[hv], &[2.0 * hess[0][0]], 1e-10);
    let graph = m.eval_graph(x);
    assert_near(
        "eval graph",
        &[graph.node("x").unwrap().adjoint()],
        &[dx],
        1e-12,
    );
    // With wrt(self).
    let p = [m.c[0], m.c[1], m.c[2], m.shift, x];
    let f = |q: &[f64]| with(q).eval_all(q[4]);
    let gr = |q: &[f64]| {
        let (_, dm, dx) = with(q).eval_all_grad(q[4]);
        vec![dm.c[0], dm.c[1], dm.c[2], dm.shift, dx]
    };
    let g = gr(&p);
    assert_near("eval_all grad", &g, &fd_gradient(f, &p), FD);
    let d = direction(5);
    let dm = with(&d);
    let (_, t) = m.eval_all_jvp(&dm, x, d[4]);
    assert_near("eval_all jvp", &[t], &[dot(&g, &d)], 1e-12);
    let (_, _, _, hv_m, hv_x) = m.eval_all_hvp(&dm, x, d[4]);
    let hv = [hv_m.c[0], hv_m.c[1], hv_m.c[2], hv_m.shift, hv_x];
    let hw = mat_vec(&fd_hessian(gr, &p), &d);
    assert_near("eval_all hvp", &hv, &hw, 1e-5);
    let graph = m.eval_all_graph(x);
    let ga: Vec<f64> = ["self.c[0]", "self.c[1]", "self.c[2]", "self.shift", "x"]
        .iter()
        .map(|n| graph.node(n).unwrap_or_else(|| panic!("{n}")).adjoint())
        .collect();
    assert_near("eval_all graph", &ga, &g, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Several outputs, called with destructuring from a function differentiated in every mode
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn spherical(r: f64, t: f64, p: f64) -> [f64; 3] {
    let st = t.sin();
    [r * st * p.cos(), r * st * p.sin(), r * t.cos()]
}

#[differentiate(reverse, forward, hessian)]
fn stats(x: f64, y: f64) -> (f64, [f64; 2]) {
    let m = 0.5 * (x + y);
    let d = (x - m).abs().max((y - m).abs());
    (m, [d * d, (x * y).tanh()])
}

#[differentiate(reverse, forward, hessian)]
fn composite(r: f64, t: f64, p: f64) -> f64 {
    let mut acc = 0.0;
    for k in 0..3 {
        let kf = f64::from(k) + 1.0;
        let [a, b, c] = spherical(r, t * kf, p);
        let (u, v): (f64, [f64; 2]) = stats(a + c, b * kf);
        acc += u * v[0] + v[1].min(0.5) - c;
    }
    let [x, y, z] = spherical(acc, t, p);
    x * y + z
}

fn composite_grad_flat(q: &[f64]) -> Vec<f64> {
    let (_, a, b, c) = composite_grad(q[0], q[1], q[2]);
    vec![a, b, c]
}

#[test]
fn several_outputs_called_in_every_mode() {
    let q = [1.3, 0.7, -0.4];
    // The callees themselves.
    let (out, jac) = spherical_jacobian(q[0], q[1], q[2]);
    let want = fd_jacobian(|s| spherical(s[0], s[1], s[2]).to_vec(), &q);
    for i in 0..3 {
        assert_near("spherical jacobian", &jac[i], &want[i], FD);
    }
    let (_, t) = spherical_jvp(q[0], 1.0, q[1], 0.5, q[2], -2.0);
    for i in 0..3 {
        let w = dot(&want[i], &[1.0, 0.5, -2.0]);
        assert_near("spherical jvp", &[t[i]], &[w], FD);
    }
    assert_eq!(out, spherical(q[0], q[1], q[2]));
    let (_, sj) = stats_jacobian(0.9, -0.2);
    let sw = fd_jacobian(
        |s| {
            let (m, [a, b]) = stats(s[0], s[1]);
            vec![m, a, b]
        },
        &[0.9, -0.2],
    );
    for i in 0..3 {
        assert_near("stats jacobian", &sj[i], &sw[i], FD);
    }
    // The caller.
    let f = |s: &[f64]| composite(s[0], s[1], s[2]);
    let g = composite_grad_flat(&q);
    assert_near("composite grad", &g, &fd_gradient(f, &q), FD);
    let v = [0.4, -1.0, 0.7];
    let (val, t) = composite_jvp(q[0], v[0], q[1], v[1], q[2], v[2]);
    assert!((val - f(&q)).abs() < 1e-13);
    assert_near("composite jvp", &[t], &[dot(&g, &v)], 1e-12);
    let (_, _, _, _, hess) = composite_hessian(q[0], q[1], q[2]);
    let hess = flat(&hess);
    assert_near(
        "composite hessian",
        &hess,
        &fd_hessian(composite_grad_flat, &q),
        1e-5,
    );
    let (_, _, _, _, h0, h1, h2) = composite_hvp(q[0], v[0], q[1], v[1], q[2], v[2]);
    assert_near("composite hvp", &[h0, h1, h2], &mat_vec(&hess, &v), 1e-10);
}

// ---------------------------------------------------------------------------------------------
// A buffer helper called in a loop, every mode
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn smooth(a: &[f64], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        let l = if i == 0 { a[i] } else { a[i - 1] };
        let r = if i + 1 == a.len() { a[i] } else { a[i + 1] };
        out[i] = (l + r) * 0.25 + a[i] * 0.5 * s.tanh() + out[i] * 0.1;
    }
}

#[differentiate(reverse, forward, hessian, graph)]
fn smoothed_energy(x: &[f64], s: f64) -> f64 {
    let n = x.len();
    let mut cur = x.to_vec();
    let mut next = vec![0.0; n];
    for _ in 0..3 {
        smooth(&cur, s, &mut next);
        cur.copy_from_slice(&next);
    }
    let e: f64 = cur.iter().zip(x).map(|(c, xi)| (c - xi) * (c - xi)).sum();
    e + cur.iter().fold(0.0, |m: f64, &c| m.max(c.abs()))
}

#[test]
fn buffer_helper_in_a_loop_in_every_mode() {
    let x = [0.4, -0.9, 1.3, 0.2];
    let s = 0.6;
    let p = [x[0], x[1], x[2], x[3], s];
    let f = |q: &[f64]| smoothed_energy(&q[..4], q[4]);
    let gr = |q: &[f64]| {
        let (_, mut d, ds) = smoothed_energy_grad(&q[..4], q[4]);
        d.push(ds);
        d
    };
    let g = gr(&p);
    assert_near("smoothed grad", &g, &fd_gradient(f, &p), FD);
    let mut dx = [1.0; 4];
    let (_, ds) = smoothed_energy_grad_into(&x, &mut dx, s);
    let into: Vec<f64> = dx.iter().map(|d| d - 1.0).chain([ds]).collect();
    assert_near("smoothed grad_into", &into, &g, 1e-14);
    let v = direction(5);
    let (_, t) = smoothed_energy_jvp(&x, &v[..4], s, v[4]);
    assert_near("smoothed jvp", &[t], &[dot(&g, &v)], 1e-12);
    let (_, _, _, hess) = smoothed_energy_hessian(&x, s);
    assert_near("smoothed hessian", &hess, &fd_hessian(gr, &p), 1e-5);
    let (_, _, _, mut hv, hs) = smoothed_energy_hvp(&x, &v[..4], s, v[4]);
    hv.push(hs);
    assert_near("smoothed hvp", &hv, &mat_vec(&hess, &v), 1e-10);
    let graph = smoothed_energy_graph(&x, s);
    let ga: Vec<f64> = (0..4)
        .map(|i| graph.node(&format!("x[{i}]")).unwrap().adjoint())
        .chain([graph.node("s").unwrap().adjoint()])
        .collect();
    assert_near("smoothed graph", &ga, &g, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// One check for every mode of a scalar function of flattened parameters
// ---------------------------------------------------------------------------------------------

/// The generated functions of one program, on flattened parameters.
struct Modes<'a> {
    f: &'a dyn Fn(&[f64]) -> f64,
    grad: &'a dyn Fn(&[f64]) -> Vec<f64>,
    jvp: &'a dyn Fn(&[f64], &[f64]) -> f64,
    hessian: &'a dyn Fn(&[f64]) -> Vec<f64>,
    hvp: &'a dyn Fn(&[f64], &[f64]) -> Vec<f64>,
    /// The adjoints of `f_graph`'s parameter nodes, or `None` without `graph`.
    graph: Option<&'a dyn Fn(&[f64]) -> Vec<f64>>,
}

#[track_caller]
fn check_modes(what: &str, m: &Modes, p: &[f64]) {
    let g = (m.grad)(p);
    assert_near(&format!("{what} grad"), &g, &fd_gradient(m.f, p), FD);
    let v = direction(p.len());
    assert_near(
        &format!("{what} jvp"),
        &[(m.jvp)(p, &v)],
        &[dot(&g, &v)],
        1e-12,
    );
    let hess = (m.hessian)(p);
    assert_near(
        &format!("{what} hessian"),
        &hess,
        &fd_hessian(m.grad, p),
        1e-5,
    );
    assert_near(
        &format!("{what} hvp"),
        &(m.hvp)(p, &v),
        &mat_vec(&hess, &v),
        1e-10,
    );
    if let Some(graph) = m.graph {
        assert_near(&format!("{what} graph"), &graph(p), &g, 1e-12);
    }
}

fn with_last(mut v: Vec<f64>, last: f64) -> Vec<f64> {
    v.push(last);
    v
}

// ---------------------------------------------------------------------------------------------
// A generic function calling a generic function, every mode, at f64
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn wave<T: Float>(x: T, y: T) -> T {
    (x * y).sin() + x.max(y)
}

#[differentiate(reverse, forward, hessian, graph)]
fn even_waves<T: Float>(x: &[T], y: T) -> T {
    let mut s = T::zero();
    for (i, v) in x.iter().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        s = s + wave(*v, y);
    }
    let p: T = x
        .iter()
        .map(|&v| v.clamp(-T::one(), T::one()))
        .fold(T::one(), |a, b| a * b);
    s + p
}

#[test]
fn generic_calling_generic_in_every_mode() {
    let m = Modes {
        f: &|q| even_waves(&q[..4], q[4]),
        grad: &|q| {
            let (_, d, dy) = even_waves_grad(&q[..4], q[4]);
            with_last(d, dy)
        },
        jvp: &|q, v| even_waves_jvp(&q[..4], &v[..4], q[4], v[4]).1,
        hessian: &|q| even_waves_hessian(&q[..4], q[4]).3,
        hvp: &|q, v| {
            let (_, _, _, hv, hy) = even_waves_hvp(&q[..4], &v[..4], q[4], v[4]);
            with_last(hv, hy)
        },
        graph: Some(&|q| {
            let g = even_waves_graph(&q[..4], q[4]);
            (0..4)
                .map(|i| g.node(&format!("x[{i}]")).unwrap().adjoint())
                .chain([g.node("y").unwrap().adjoint()])
                .collect()
        }),
    };
    check_modes("even_waves", &m, &[0.3, 1.2, -0.5, 0.8, 0.7]);
    check_modes("even_waves", &m, &[1.3, 0.2, 0.5, -0.8, 0.9]);
}

// ---------------------------------------------------------------------------------------------
// f32: a buffer helper in a loop, and a caller of several outputs
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn scale_add32(a: &[f32], s: f32, out: &mut [f32]) {
    for i in 0..a.len() {
        out[i] += a[i] * s;
    }
}

#[differentiate(reverse, forward, hessian, graph)]
fn twice_scaled32(x: &[f32], s: f32) -> f32 {
    let mut buf = vec![0.0_f32; x.len()];
    for _ in 0..2 {
        scale_add32(x, s, &mut buf);
    }
    buf.iter().map(|b| b * b).sum::<f32>()
}

#[differentiate(reverse, forward, hessian)]
fn rotate32(a: f32, r: f32) -> [f32; 2] {
    [r * a.cos(), r * a.sin()]
}

#[differentiate(reverse, forward, hessian)]
fn rotated_product32(a: f32, r: f32) -> f32 {
    let [u, v] = rotate32(a, r);
    u * v * v
}

#[test]
fn f32_helpers_in_every_mode() {
    // buf = 2 s x, so f = 4 s² Σ x², ∂f/∂s = 8 s Σ x², ∂f/∂x = 8 s² x, ∂²f/∂s² = 8 Σ x².
    let x = [0.3_f32, 1.2, -0.5];
    let s = 0.7_f32;
    let sx2: f32 = x.iter().map(|v| v * v).sum();
    let (_, dx, ds) = twice_scaled32_grad(&x, s);
    let want_dx: Vec<f64> = x.iter().map(|&v| f64::from(8.0 * s * s * v)).collect();
    let dx: Vec<f64> = dx.iter().map(|&v| f64::from(v)).collect();
    assert_near("twice_scaled32 dx", &dx, &want_dx, 1e-6);
    assert_near(
        "twice_scaled32 ds",
        &[f64::from(ds)],
        &[f64::from(8.0 * s * sx2)],
        1e-6,
    );
    let (_, t) = twice_scaled32_jvp(&x, &[0.0; 3], s, 1.0);
    assert_near(
        "twice_scaled32 jvp",
        &[f64::from(t)],
        &[f64::from(ds)],
        1e-6,
    );
    let (_, _, _, h) = twice_scaled32_hessian(&x, s);
    assert_near(
        "twice_scaled32 hss",
        &[f64::from(h[15])],
        &[f64::from(8.0 * sx2)],
        1e-6,
    );
    // ∂²f/∂x₀∂s = 16 s x₀
    assert_near(
        "twice_scaled32 hxs",
        &[f64::from(h[3])],
        &[f64::from(16.0 * s * x[0])],
        1e-6,
    );
    let graph = twice_scaled32_graph(&x, s);
    assert_near(
        "twice_scaled32 graph",
        &[graph.node("s").unwrap().adjoint()],
        &[f64::from(ds)],
        1e-6,
    );
    // u v² = r³ cos a sin² a
    let (a, r) = (0.4_f32, 1.5_f32);
    let (_, da, dr) = rotated_product32_grad(a, r);
    let (a64, r64) = (f64::from(a), f64::from(r));
    let (c, sn) = (a64.cos(), a64.sin());
    let wa = r64.powi(3) * (-sn * sn * sn + 2.0 * c * c * sn);
    let wr = 3.0 * r64 * r64 * c * sn * sn;
    assert_near(
        "rotated32 grad",
        &[f64::from(da), f64::from(dr)],
        &[wa, wr],
        1e-5,
    );
    let (_, t) = rotated_product32_jvp(a, 1.0, r, 1.0);
    assert_near("rotated32 jvp", &[f64::from(t)], &[wa + wr], 1e-5);
    let (_, _, _, h) = rotated_product32_hessian(a, r);
    let haa = r64.powi(3) * (-3.0 * sn * sn * c + 2.0 * c * c * c - 4.0 * c * sn * sn);
    let har = 3.0 * r64 * r64 * (-sn * sn * sn + 2.0 * c * c * sn);
    let hrr = 6.0 * r64 * c * sn * sn;
    let h: Vec<f64> = h.iter().flatten().map(|&v| f64::from(v)).collect();
    assert_near("rotated32 hessian", &h, &[haa, har, har, hrr], 1e-5);
}

// ---------------------------------------------------------------------------------------------
// A method calling a method of `self` (a constant), every mode
// ---------------------------------------------------------------------------------------------

struct Layer {
    k: f64,
    w: [f64; 2],
}

impl Layer {
    #[differentiate(reverse, forward, hessian)]
    fn act(&self, z: f64) -> f64 {
        (z * self.k).tanh()
    }

    #[differentiate(reverse, forward, hessian, graph)]
    fn loss(&self, x: f64, y: f64) -> f64 {
        let mut s = 0.0;
        for i in 0..2 {
            s += self.act(x * self.w[i] + y);
        }
        match self.w.len() {
            2 => s * s,
            _ => s,
        }
    }
}

#[test]
fn method_calling_method_in_every_mode() {
    let l = Layer {
        k: 0.8,
        w: [0.5, -1.5],
    };
    let m = Modes {
        f: &|q| l.loss(q[0], q[1]),
        grad: &|q| {
            let (_, a, b) = l.loss_grad(q[0], q[1]);
            vec![a, b]
        },
        jvp: &|q, v| l.loss_jvp(q[0], v[0], q[1], v[1]).1,
        hessian: &|q| flat(&l.loss_hessian(q[0], q[1]).3),
        hvp: &|q, v| {
            let (_, _, _, a, b) = l.loss_hvp(q[0], v[0], q[1], v[1]);
            vec![a, b]
        },
        graph: Some(&|q| {
            let g = l.loss_graph(q[0], q[1]);
            vec![
                g.node("x").unwrap().adjoint(),
                g.node("y").unwrap().adjoint(),
            ]
        }),
    };
    check_modes("layer", &m, &[0.6, 0.2]);
    check_modes("layer", &m, &[-1.1, 0.9]);
}

// ---------------------------------------------------------------------------------------------
// Ranges by step_by and rev, early return from a reversed iteration
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn stepper(x: &[f64], a: f64) -> f64 {
    let e: f64 = (0..x.len()).step_by(2).map(|i| x[i] * a).sum();
    let r: f64 = (0..x.len()).rev().map(|i| x[i] * (i as f64)).sum();
    for v in x.iter().rev() {
        if *v * a > 3.0 {
            return e * r + v;
        }
    }
    e * r
}

#[test]
fn stepper_in_every_mode() {
    let m = Modes {
        f: &|q| stepper(&q[..5], q[5]),
        grad: &|q| {
            let (_, d, da) = stepper_grad(&q[..5], q[5]);
            with_last(d, da)
        },
        jvp: &|q, v| stepper_jvp(&q[..5], &v[..5], q[5], v[5]).1,
        hessian: &|q| stepper_hessian(&q[..5], q[5]).3,
        hvp: &|q, v| {
            let (_, _, _, hv, ha) = stepper_hvp(&q[..5], &v[..5], q[5], v[5]);
            with_last(hv, ha)
        },
        graph: Some(&|q| {
            let g = stepper_graph(&q[..5], q[5]);
            (0..5)
                .map(|i| g.node(&format!("x[{i}]")).unwrap().adjoint())
                .chain([g.node("a").unwrap().adjoint()])
                .collect()
        }),
    };
    // No early return, then a return at the last element.
    check_modes("stepper", &m, &[1.0, 0.5, 2.0, -0.3, 0.9, 0.7]);
    check_modes("stepper", &m, &[1.0, 0.5, 2.0, -0.3, 0.9, 5.0]);
}

// ---------------------------------------------------------------------------------------------
// A tuple output taken with its type
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn trio(x: f64) -> (f64, [f64; 2]) {
    (x.sin(), [x * x, x.exp()])
}

#[differentiate(reverse, forward, hessian)]
fn use_trio(x: f64, y: f64) -> f64 {
    let (u, v): (f64, [f64; 2]) = trio(x * y);
    u * v[0] + v[1] * y
}

#[test]
fn typed_tuple_output_in_every_mode() {
    let m = Modes {
        f: &|q| use_trio(q[0], q[1]),
        grad: &|q| {
            let (_, a, b) = use_trio_grad(q[0], q[1]);
            vec![a, b]
        },
        jvp: &|q, v| use_trio_jvp(q[0], v[0], q[1], v[1]).1,
        hessian: &|q| flat(&use_trio_hessian(q[0], q[1]).3),
        hvp: &|q, v| {
            let (_, _, _, a, b) = use_trio_hvp(q[0], v[0], q[1], v[1]);
            vec![a, b]
        },
        graph: None,
    };
    check_modes("use_trio", &m, &[0.5, 1.3]);
    // f = sin(z) z² + e^z y with z = x y
    let (x, y) = (0.5_f64, 1.3_f64);
    let z = x * y;
    let dfdz = z.cos() * z * z + 2.0 * z * z.sin() + z.exp() * y;
    let (_, dx, dy) = use_trio_grad(x, y);
    assert_near(
        "use_trio closed form",
        &[dx, dy],
        &[dfdz * y, dfdz * x + z.exp()],
        1e-12,
    );
}

// ---------------------------------------------------------------------------------------------
// array.map, fold by f64::max, a mut parameter in a loop, mul_add / hypot / atan2 / powf, match
// with a guard and a range
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn mixed(x: [f64; 3], mut y: f64) -> f64 {
    let m = x.map(|v| v.sin() * y);
    let top = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for k in 0..3 {
        y = y.mul_add(0.5, m[k].hypot(y));
    }
    let (u, v) = (top * y, top - y);
    let w = u.atan2(v) + y.powf(x[0].abs() + 0.5);
    let mut k = 0;
    if w > 1.0 {
        k = 1;
    }
    if w > 3.0 {
        k = 3;
    }
    let g = match k {
        0 => w * w,
        n if n > 2 => w.exp(),
        1..=2 => w.cbrt(),
        _ => w,
    };
    g
}

#[test]
fn mixed_in_every_mode() {
    let m = Modes {
        f: &|q| mixed([q[0], q[1], q[2]], q[3]),
        grad: &|q| {
            let (_, d, dy) = mixed_grad([q[0], q[1], q[2]], q[3]);
            with_last(d.to_vec(), dy)
        },
        jvp: &|q, v| mixed_jvp([q[0], q[1], q[2]], [v[0], v[1], v[2]], q[3], v[3]).1,
        hessian: &|q| flat(&mixed_hessian([q[0], q[1], q[2]], q[3]).3),
        hvp: &|q, v| {
            let (_, _, _, hv, hy) = mixed_hvp([q[0], q[1], q[2]], [v[0], v[1], v[2]], q[3], v[3]);
            with_last(hv.to_vec(), hy)
        },
        graph: Some(&|q| {
            let g = mixed_graph([q[0], q[1], q[2]], q[3]);
            (0..3)
                .map(|i| g.node(&format!("x[{i}]")).unwrap().adjoint())
                .chain([g.node("y").unwrap().adjoint()])
                .collect()
        }),
    };
    check_modes("mixed", &m, &[0.3, 0.8, -0.2, 1.1]);
    check_modes("mixed", &m, &[1.5, 0.1, 0.7, 0.4]);
    check_modes("mixed", &m, &[0.9, 2.0, 1.7, 2.5]);
}

// ---------------------------------------------------------------------------------------------
// chunks_exact with a closure, a loop with break and an early return, zip with skip and min
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn halving(x: &[f64], c: f64) -> f64 {
    let mut acc = 0.0;
    for ch in x.chunks_exact(2) {
        let f = |a: f64, b: f64| (a * c - b).powi(2);
        acc += f(ch[0], ch[1]);
    }
    let mut t = acc;
    loop {
        t = t * 0.5 + c;
        if t < 2.0 * c + 0.01 {
            break;
        }
        if t > 1e6 {
            return t;
        }
    }
    let z: f64 = x.iter().zip(x.iter().skip(1)).map(|(p, q)| p.min(*q)).sum();
    t * z
}

#[test]
fn halving_in_every_mode() {
    let m = Modes {
        f: &|q| halving(&q[..4], q[4]),
        grad: &|q| {
            let (_, d, dc) = halving_grad(&q[..4], q[4]);
            with_last(d, dc)
        },
        jvp: &|q, v| halving_jvp(&q[..4], &v[..4], q[4], v[4]).1,
        hessian: &|q| halving_hessian(&q[..4], q[4]).3,
        hvp: &|q, v| {
            let (_, _, _, hv, hc) = halving_hvp(&q[..4], &v[..4], q[4], v[4]);
            with_last(hv, hc)
        },
        graph: Some(&|q| {
            let g = halving_graph(&q[..4], q[4]);
            (0..4)
                .map(|i| g.node(&format!("x[{i}]")).unwrap().adjoint())
                .chain([g.node("c").unwrap().adjoint()])
                .collect()
        }),
    };
    check_modes("halving", &m, &[0.4, 1.1, -0.3, 0.9, 0.7]);
    check_modes("halving", &m, &[0.4, 1.1, -0.3, 0.9, 1.3]);
}

// ---------------------------------------------------------------------------------------------
// A generic function over a fixed-size array with an early return from an `if` value
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn best_scaled<T: Float>(x: [T; 3], y: T) -> T {
    let s = x.iter().fold(T::zero(), |a, &v| a + (v * y).abs());
    let mut best = x[0];
    for v in x.iter().skip(1) {
        best = best.max(*v);
    }
    let r = if s > T::one() {
        return s * best;
    } else {
        s.min(best)
    };
    r * y
}

#[test]
fn generic_array_in_every_mode() {
    let m = Modes {
        f: &|q| best_scaled([q[0], q[1], q[2]], q[3]),
        grad: &|q| {
            let (_, d, dy) = best_scaled_grad([q[0], q[1], q[2]], q[3]);
            with_last(d.to_vec(), dy)
        },
        jvp: &|q, v| best_scaled_jvp([q[0], q[1], q[2]], [v[0], v[1], v[2]], q[3], v[3]).1,
        hessian: &|q| flat(&best_scaled_hessian([q[0], q[1], q[2]], q[3]).3),
        hvp: &|q, v| {
            let (_, _, _, hv, hy) =
                best_scaled_hvp([q[0], q[1], q[2]], [v[0], v[1], v[2]], q[3], v[3]);
            with_last(hv.to_vec(), hy)
        },
        graph: Some(&|q| {
            let g = best_scaled_graph([q[0], q[1], q[2]], q[3]);
            (0..3)
                .map(|i| g.node(&format!("x[{i}]")).unwrap().adjoint())
                .chain([g.node("y").unwrap().adjoint()])
                .collect()
        }),
    };
    check_modes("best_scaled", &m, &[0.3, 0.8, -0.2, 1.1]);
    check_modes("best_scaled", &m, &[0.1, 0.2, 0.05, 0.4]);
}

// ---------------------------------------------------------------------------------------------
// An f32 method with wrt(self), every mode
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone)]
struct Unit32 {
    w: [f32; 2],
    b: f32,
}

impl Unit32 {
    #[differentiate(reverse, forward, hessian, graph, wrt(self, x))]
    fn out(&self, x: f32) -> f32 {
        let mut s = self.b;
        for (i, w) in self.w.iter().enumerate() {
            s += (w * x).tanh() * (i as f32 + 1.0);
        }
        s.abs().clamp(0.0, 2.0) * x
    }
}

#[test]
#[allow(clippy::cast_possible_truncation)]
fn f32_method_with_self_in_every_mode() {
    let u = Unit32 {
        w: [0.5, -0.8],
        b: 0.3,
    };
    let x = 0.9_f32;
    let at = |q: &[f64]| Unit32 {
        w: [q[0] as f32, q[1] as f32],
        b: q[2] as f32,
    };
    let f = |q: &[f64]| f64::from(at(q).out(q[3] as f32));
    let gr = |q: &[f64]| {
        let (_, d, dx) = at(q).out_grad(q[3] as f32);
        [d.w[0], d.w[1], d.b, dx].map(f64::from).to_vec()
    };
    let p = [0.5, -0.8, 0.3, 0.9];
    let fd32 = |f: &dyn Fn(&[f64]) -> Vec<f64>| {
        let mut jac = vec![0.0; 4 * f(&p).len()];
        let m = f(&p).len();
        for j in 0..4 {
            let h = 1e-2;
            let at = |e: f64| {
                let mut q = p.to_vec();
                q[j] += e;
                f(&q)
            };
            let (a, b, c, d) = (at(2.0 * h), at(h), at(-h), at(-2.0 * h));
            for i in 0..m {
                jac[i * 4 + j] = (-a[i] + 8.0 * b[i] - 8.0 * c[i] + d[i]) / (12.0 * h);
            }
        }
        jac
    };
    let g = gr(&p);
    assert_near("unit32 grad", &g, &fd32(&|q| vec![f(q)]), 1e-3);
    let d = Unit32 {
        w: [1.0, -0.5],
        b: 0.25,
    };
    let (_, t) = u.out_jvp(&d, x, 2.0);
    let tw = g[0] - 0.5 * g[1] + 0.25 * g[2] + 2.0 * g[3];
    assert_near("unit32 jvp", &[f64::from(t)], &[tw], 1e-5);
    // The Hessian is flattened in the order the body reads the fields: b, w[0], w[1], then x.
    let (_, _, _, h) = u.out_hessian(x);
    let h: Vec<f64> = h.iter().map(|&v| f64::from(v)).collect();
    let want = fd32(&gr);
    let order = [2, 0, 1, 3];
    for (i, &oi) in order.iter().enumerate() {
        for (j, &oj) in order.iter().enumerate() {
            assert_near(
                "unit32 hessian",
                &[h[i * 4 + j]],
                &[want[oi * 4 + oj]],
                2e-3,
            );
        }
    }
    let graph = u.out_graph(x);
    let ga: Vec<f64> = ["self.w[0]", "self.w[1]", "self.b", "x"]
        .iter()
        .map(|n| graph.node(n).unwrap().adjoint())
        .collect();
    assert_near("unit32 graph", &ga, &g, 1e-6);
}

// ---------------------------------------------------------------------------------------------
// A closure calling a differentiated function, enumerate().rev(), zip with an array, windows,
// skip / step_by / rev, clamp with active bounds, fold by f64::max as a path
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn bump(v: f64, w: f64) -> f64 {
    (v * w).sin() + v
}

#[differentiate(reverse, forward, hessian, graph)]
fn adaptors(x: [f64; 3], y: [f64; 3], lo: f64) -> f64 {
    let g = |v: f64| bump(v, lo) * 2.0;
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate().rev() {
        s += g(*v) * (i as f64 + 1.0);
    }
    let d: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).clamp(lo, lo + 1.0))
        .sum();
    let w: f64 = y.windows(2).map(|w| w[0] * w[1]).sum();
    let q: f64 = x.iter().skip(1).step_by(2).rev().map(|v| v * v).sum();
    let m = y.iter().fold(f64::MIN, |a, &b| f64::max(a, b));
    s + d * w + q + m
}

#[test]
fn adaptors_in_every_mode() {
    let split = |q: &[f64]| ([q[0], q[1], q[2]], [q[3], q[4], q[5]], q[6]);
    let m = Modes {
        f: &|q| {
            let (x, y, lo) = split(q);
            adaptors(x, y, lo)
        },
        grad: &|q| {
            let (x, y, lo) = split(q);
            let (_, dx, dy, dl) = adaptors_grad(x, y, lo);
            with_last([dx, dy].concat(), dl)
        },
        jvp: &|q, v| {
            let ((x, y, lo), (vx, vy, vl)) = (split(q), split(v));
            adaptors_jvp(x, vx, y, vy, lo, vl).1
        },
        hessian: &|q| {
            let (x, y, lo) = split(q);
            flat(&adaptors_hessian(x, y, lo).4)
        },
        hvp: &|q, v| {
            let ((x, y, lo), (vx, vy, vl)) = (split(q), split(v));
            let (_, _, _, _, hx, hy, hl) = adaptors_hvp(x, vx, y, vy, lo, vl);
            with_last([hx, hy].concat(), hl)
        },
        graph: Some(&|q| {
            let (x, y, lo) = split(q);
            let g = adaptors_graph(x, y, lo);
            ["x[0]", "x[1]", "x[2]", "y[0]", "y[1]", "y[2]", "lo"]
                .iter()
                .map(|n| g.node(n).unwrap().adjoint())
                .collect()
        }),
    };
    check_modes("adaptors", &m, &[0.3, 0.8, -0.2, 1.1, 0.2, 0.5, -0.3]);
    check_modes("adaptors", &m, &[0.9, -0.4, 1.2, 0.1, 0.7, -0.9, 0.2]);
}

// ---------------------------------------------------------------------------------------------
// Destructuring a reference to an array and several outputs, a closure, a while loop
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn cos_square(v: f64) -> [f64; 2] {
    [v.cos(), v * v]
}

#[differentiate(reverse, forward, hessian)]
fn grow(p: &[f64; 2], z: f64) -> f64 {
    let [a, b] = *p;
    let [c, d] = cos_square(z);
    let [e, f] = cos_square(b);
    let t = |u: f64, v: f64| u * v + a;
    let mut acc = t(c, d) + t(e, f);
    let mut n = 0;
    while acc < 10.0 && n < 4 {
        acc = acc * 1.5 + a.abs();
        n += 1;
    }
    acc.max(a) - b.min(z)
}

#[test]
fn grow_in_every_mode() {
    let m = Modes {
        f: &|q| grow(&[q[0], q[1]], q[2]),
        grad: &|q| {
            let (_, d, dz) = grow_grad(&[q[0], q[1]], q[2]);
            with_last(d.to_vec(), dz)
        },
        jvp: &|q, v| grow_jvp(&[q[0], q[1]], &[v[0], v[1]], q[2], v[2]).1,
        hessian: &|q| flat(&grow_hessian(&[q[0], q[1]], q[2]).3),
        hvp: &|q, v| {
            let (_, _, _, hp, hz) = grow_hvp(&[q[0], q[1]], &[v[0], v[1]], q[2], v[2]);
            with_last(hp.to_vec(), hz)
        },
        graph: None,
    };
    check_modes("grow", &m, &[0.4, 1.3, 0.7]);
    check_modes("grow", &m, &[-1.5, 0.2, 2.0]);
}

// ---------------------------------------------------------------------------------------------
// f32 folds by f32::max and f32::min, clamp with active bounds
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, graph)]
fn spread32(x: f32, y: f32) -> f32 {
    let v = [x, y, x * y];
    let m = v.iter().copied().fold(f32::MIN, f32::max);
    let n = v.iter().fold(f32::MAX, |a, &b| a.min(b));
    (m - n).sqrt() + x.max(y) + y.clamp(x, x + 1.0)
}

#[test]
fn f32_folds_in_every_mode() {
    for (x, y) in [(0.5_f32, 1.2_f32), (2.0, 0.3), (0.25, 1.5)] {
        let (x64, y64) = (f64::from(x), f64::from(y));
        // By hand: which element is largest and smallest, and which branch clamp takes.
        let vals = [x64, y64, x64 * y64];
        let dv = [[1.0, 0.0], [0.0, 1.0], [y64, x64]];
        let im = (0..3).fold(0, |b, i| if vals[i] > vals[b] { i } else { b });
        let in_ = (0..3).fold(0, |b, i| if vals[i] < vals[b] { i } else { b });
        let r = (vals[im] - vals[in_]).sqrt();
        let mut want = [0.0; 2];
        for k in 0..2 {
            want[k] = (dv[im][k] - dv[in_][k]) / (2.0 * r);
        }
        want[usize::from(x64 < y64)] += 1.0;
        if y64 < x64 || y64 > x64 + 1.0 {
            want[0] += 1.0;
        } else {
            want[1] += 1.0;
        }
        let (_, dx, dy) = spread32_grad(x, y);
        assert_near(
            "spread32 grad",
            &[f64::from(dx), f64::from(dy)],
            &want,
            1e-6,
        );
        let (_, tx) = spread32_jvp(x, 1.0, y, 0.0);
        let (_, ty) = spread32_jvp(x, 0.0, y, 1.0);
        assert_near("spread32 jvp", &[f64::from(tx), f64::from(ty)], &want, 1e-6);
        let graph = spread32_graph(x, y);
        let ga = [
            graph.node("x").unwrap().adjoint(),
            graph.node("y").unwrap().adjoint(),
        ];
        assert_near("spread32 graph", &ga, &want, 1e-6);
        let (_, hdx, hdy, h) = spread32_hessian(x, y);
        assert_eq!((hdx, hdy), (dx, dy));
        let gr = |q: &[f64]| {
            #[allow(clippy::cast_possible_truncation)]
            let (_, a, b) = spread32_grad(q[0] as f32, q[1] as f32);
            vec![f64::from(a), f64::from(b)]
        };
        let mut hw = [0.0; 4];
        for j in 0..2 {
            let e = 1e-2;
            let mut qp = [x64, y64];
            let mut qm = [x64, y64];
            qp[j] += e;
            qm[j] -= e;
            let (gp, gm) = (gr(&qp), gr(&qm));
            for i in 0..2 {
                hw[i * 2 + j] = (gp[i] - gm[i]) / (2.0 * e);
            }
        }
        let h: Vec<f64> = h.iter().flatten().map(|&v| f64::from(v)).collect();
        assert_near("spread32 hessian", &h, &hw, 2e-3);
    }
}
