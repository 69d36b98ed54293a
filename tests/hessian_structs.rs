//! Second order with respect to structs: `wrt(p)` on a struct parameter (by value and `&P`),
//! fields of fields, and `wrt(self)` in a method. `f_hvp` takes a direction of the struct's type
//! and returns its gradient and `H·v` entries as structs; `f_hessian` flattens each struct into
//! the fields its gradient entry holds, in the order the body first reads them, arrays element
//! by element. Checked against closed forms, central differences of `f_grad`, and each other.
// Hessians are indexed as matrices.
#![allow(clippy::needless_range_loop)]
use autodiff::differentiate;

#[derive(Default, Debug, Clone, PartialEq)]
struct Layer {
    s: f64,
    v: [f64; 2],
}

#[derive(Default, Debug, Clone, PartialEq)]
struct P {
    a: f64,
    w: Vec<f64>,
    layer: Layer,
    /// Not read as a float: no entry.
    n: usize,
    /// Not read: no entry.
    unused: f64,
}

/// f = a²x + sin(w₀w₁) + w₂x² + s·a + v₀v₁s, flattened as `[a, w₀, w₁, w₂, s, v₀, v₁, x]`.
#[differentiate(reverse, hessian, wrt(p, x))]
fn mixed(p: &P, x: f64) -> f64 {
    let mut total = p.a * p.a * x + (p.w[0] * p.w[1]).sin();
    for i in 2..p.n {
        total += p.w[i] * x * x;
    }
    total + p.layer.s * p.a + p.layer.v[0] * p.layer.v[1] * p.layer.s
}

fn mixed_hessian_by_hand(p: &P, x: f64) -> Vec<f64> {
    let (a, w, s, v) = (p.a, &p.w, p.layer.s, p.layer.v);
    let u = w[0] * w[1];
    let mut h = vec![0.0; 64];
    let mut set = |i: usize, j: usize, value: f64| {
        h[i * 8 + j] = value;
        h[j * 8 + i] = value;
    };
    // a, w0, w1, w2, s, v0, v1, x
    set(0, 0, 2.0 * x);
    set(0, 7, 2.0 * a);
    set(0, 4, 1.0);
    set(1, 1, -w[1] * w[1] * u.sin());
    set(1, 2, u.cos() - u * u.sin());
    set(2, 2, -w[0] * w[0] * u.sin());
    set(3, 7, 2.0 * x);
    set(7, 7, 2.0 * w[2]);
    set(4, 5, v[1]);
    set(4, 6, v[0]);
    set(5, 6, s);
    h
}

fn flat_p(p: &P, x: f64) -> Vec<f64> {
    let mut f = vec![p.a];
    f.extend(&p.w);
    f.push(p.layer.s);
    f.extend(p.layer.v);
    f.push(x);
    f
}

fn unflat_p(f: &[f64], like: &P) -> (P, f64) {
    let n = like.w.len();
    let p = P {
        a: f[0],
        w: f[1..=n].to_vec(),
        layer: Layer {
            s: f[n + 1],
            v: [f[n + 2], f[n + 3]],
        },
        ..like.clone()
    };
    (p, f[n + 4])
}

/// Central differences of a gradient: column `j` of the Hessian, row-major.
fn fd_hessian(grad: impl Fn(&[f64]) -> Vec<f64>, at: &[f64]) -> Vec<f64> {
    let n = at.len();
    let mut h = vec![0.0; n * n];
    for j in 0..n {
        let step = 1e-5 * (1.0 + at[j].abs());
        let (mut up, mut down) = (at.to_vec(), at.to_vec());
        up[j] += step;
        down[j] -= step;
        let (gu, gd) = (grad(&up), grad(&down));
        for i in 0..n {
            h[i * n + j] = (gu[i] - gd[i]) / (2.0 * step);
        }
    }
    h
}

#[track_caller]
fn assert_close(what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * (1.0 + w.abs()),
            "{what}: entry {k} = {g}, expected {w}"
        );
    }
}

#[track_caller]
fn assert_symmetric(what: &str, h: &[f64]) {
    let n = h.len().isqrt();
    assert_eq!(n * n, h.len());
    for i in 0..n {
        for j in 0..i {
            assert_eq!(h[i * n + j], h[j * n + i], "{what}: H[{i}][{j}]");
        }
    }
}

fn times(h: &[f64], v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n)
        .map(|i| (0..n).map(|j| h[i * n + j] * v[j]).sum())
        .collect()
}

fn sample_p() -> P {
    P {
        a: 0.7,
        w: vec![0.4, -1.3, 2.5],
        layer: Layer {
            s: -0.6,
            v: [1.1, 0.3],
        },
        n: 3,
        unused: 9.0,
    }
}

#[test]
fn a_struct_by_reference_has_the_hessian_by_hand() {
    let p = sample_p();
    let x = 1.3;
    let (value, dp, dx, hess) = mixed_hessian(&p, x);
    assert_eq!((value, dp.clone(), dx), mixed_grad(&p, x));
    assert_eq!(dp.n, 0);
    assert_eq!(dp.unused, 0.0);
    assert_eq!(hess.len(), 64);
    assert_symmetric("mixed", &hess);
    assert_close("by hand", &hess, &mixed_hessian_by_hand(&p, x), 1e-12);
    let grad = |f: &[f64]| {
        let (q, x) = unflat_p(f, &p);
        let (_, dq, dx) = mixed_grad(&q, x);
        flat_p(&dq, dx)
    };
    assert_close(
        "differences",
        &hess,
        &fd_hessian(grad, &flat_p(&p, x)),
        1e-6,
    );
}

#[test]
fn a_struct_direction_gives_the_hessian_times_it() {
    let p = sample_p();
    let x = -0.4;
    let (_, _, _, hess) = mixed_hessian(&p, x);
    let direction = P {
        a: 0.3,
        w: vec![-1.0, 0.5, 2.0],
        layer: Layer {
            s: 1.5,
            v: [-0.25, 0.75],
        },
        n: 17,
        unused: 4.0,
    };
    let v_x = 0.9;
    let (value, dp, dx, hv_p, hv_x) = mixed_hvp(&p, &direction, x, v_x);
    assert_eq!((value, dp, dx), mixed_grad(&p, x));
    assert_eq!((hv_p.n, hv_p.unused), (0, 0.0));
    assert_eq!(hv_p.w.len(), 3);
    let want = times(&hess, &flat_p(&direction, v_x));
    assert_close("H·v", &flat_p(&hv_p, hv_x), &want, 1e-12);
}

/// Linear in `w`, whose adjoint does not vary: its `H·v` entry is zeros of its length.
#[differentiate(hessian, wrt(p))]
fn linear_in_w(p: &P, c: &[f64]) -> f64 {
    let mut s = p.a * p.a;
    for i in 0..c.len() {
        s += p.w[i] * c[i];
    }
    s
}

#[test]
fn a_field_whose_adjoint_is_constant_has_zeros() {
    let p = sample_p();
    let c = [1.0, 2.0, 3.0];
    let direction = P {
        a: 2.0,
        w: vec![1.0; 3],
        ..P::default()
    };
    let (value, dp, hv) = linear_in_w_hvp(&p, &direction, &c);
    assert_eq!(value, linear_in_w(&p, &c));
    assert_eq!(dp.w, c.to_vec());
    assert_eq!(dp.a, 2.0 * p.a);
    assert_eq!(hv.w, vec![0.0; 3]);
    assert_eq!(hv.a, 4.0);
    let (_, _, hess) = linear_in_w_hessian(&p, &c);
    let mut want = vec![0.0; 16];
    want[0] = 2.0;
    assert_eq!(hess, want);
}

#[derive(Default, Debug, Clone, PartialEq)]
struct NetLayer {
    w: [f64; 3],
    bias: f64,
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Net {
    layer: NetLayer,
    scale: f64,
    name: String,
}

/// Fields of fields, a struct by value: f = tanh(s · (b + Σ wᵢ xᵢ)), flattened as
/// `[b, w₀, w₁, w₂, s]`.
#[differentiate(reverse, hessian, wrt(net))]
#[allow(clippy::needless_pass_by_value)]
fn net_out(net: Net, x: &[f64]) -> f64 {
    let mut z = net.layer.bias;
    for i in 0..x.len() {
        z += net.layer.w[i] * x[i];
    }
    (z * net.scale).tanh()
}

fn net_hessian_by_hand(net: &Net, x: &[f64]) -> Vec<f64> {
    let s = net.scale;
    let z = net.layer.bias + (0..3).map(|i| net.layer.w[i] * x[i]).sum::<f64>();
    let t = (s * z).tanh();
    let q = 1.0 - t * t;
    // d²f/du² = -2tq with u = s z; u is bilinear in s and (b, w).
    let c = -2.0 * t * q;
    // ∂u/∂[b, w0, w1, w2, s]
    let du = [s, s * x[0], s * x[1], s * x[2], z];
    let mut h = vec![0.0; 25];
    for i in 0..5 {
        for j in 0..5 {
            h[i * 5 + j] = c * du[i] * du[j];
        }
    }
    // ∂²u/∂s∂b = 1, ∂²u/∂s∂wᵢ = xᵢ.
    let mixed = [1.0, x[0], x[1], x[2]];
    for i in 0..4 {
        h[i * 5 + 4] += q * mixed[i];
        h[4 * 5 + i] += q * mixed[i];
    }
    h
}

fn flat_net(net: &Net) -> Vec<f64> {
    let mut f = vec![net.layer.bias];
    f.extend(net.layer.w);
    f.push(net.scale);
    f
}

fn unflat_net(f: &[f64], like: &Net) -> Net {
    Net {
        layer: NetLayer {
            w: [f[1], f[2], f[3]],
            bias: f[0],
        },
        scale: f[4],
        ..like.clone()
    }
}

#[test]
fn a_struct_by_value_with_fields_of_fields_has_the_hessian_by_hand() {
    let net = Net {
        layer: NetLayer {
            w: [0.5, -0.25, 1.0],
            bias: 0.1,
        },
        scale: 0.8,
        name: "n".to_owned(),
    };
    let x = [0.3, -1.2, 0.7];
    let (value, d, hess) = net_out_hessian(net.clone(), &x);
    assert_eq!((value, d.clone()), net_out_grad(net.clone(), &x));
    assert_eq!(d.name, "");
    assert_symmetric("net", &hess);
    assert_close("by hand", &hess, &net_hessian_by_hand(&net, &x), 1e-12);
    let grad = |f: &[f64]| flat_net(&net_out_grad(unflat_net(f, &net), &x).1);
    assert_close(
        "differences",
        &hess,
        &fd_hessian(grad, &flat_net(&net)),
        1e-6,
    );
    let direction = Net {
        layer: NetLayer {
            w: [1.0, -2.0, 0.5],
            bias: 0.25,
        },
        scale: -1.0,
        name: String::new(),
    };
    let (v, g, hv) = net_out_hvp(net.clone(), direction.clone(), &x);
    assert_eq!((v, g), (value, d));
    assert_close(
        "H·v",
        &flat_net(&hv),
        &times(&hess, &flat_net(&direction)),
        1e-12,
    );
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Model {
    w: Vec<f64>,
    b: f64,
    label: String,
}

impl Model {
    /// The squared error f = r², r = b + Σᵢ wᵢ xⁱ⁺¹ − y, with respect to the model and the
    /// input: flattened as `[b, w₀, w₁, x]` (the body reads `b` first).
    #[differentiate(reverse, hessian, wrt(self, x))]
    fn loss(&self, x: f64, y: f64) -> f64 {
        let mut p = self.b;
        let mut power = x;
        for i in 0..self.w.len() {
            p += self.w[i] * power;
            power *= x;
        }
        (p - y) * (p - y)
    }

    /// The same loss with respect to the model only, over a batch in a slice.
    #[differentiate(reverse, hessian, wrt(self))]
    fn batch(&self, xs: &[f64], y: f64) -> f64 {
        let mut s = 0.0;
        for &x in xs {
            let r = self.b + self.w[0] * x + self.w[1] * x * x - y;
            s += r * r;
        }
        s
    }
}

fn model_hessian_by_hand(m: &Model, x: f64, y: f64) -> Vec<f64> {
    let (b, w0, w1) = (m.b, m.w[0], m.w[1]);
    let r = b + w0 * x + w1 * x * x - y;
    let dr = [1.0, x, x * x, w0 + 2.0 * w1 * x];
    let mut h = vec![0.0; 16];
    for i in 0..4 {
        for j in 0..4 {
            h[i * 4 + j] = 2.0 * dr[i] * dr[j];
        }
    }
    // r's own second derivatives: ∂²r/∂w₀∂x = 1, ∂²r/∂w₁∂x = 2x, ∂²r/∂x² = 2w₁.
    for (i, j, d2) in [(1, 3, 1.0), (2, 3, 2.0 * x), (3, 3, 2.0 * w1)] {
        h[i * 4 + j] += 2.0 * r * d2;
        if i != j {
            h[j * 4 + i] += 2.0 * r * d2;
        }
    }
    h
}

fn flat_model(m: &Model) -> Vec<f64> {
    let mut f = vec![m.b];
    f.extend(&m.w);
    f
}

#[test]
fn self_in_wrt_has_the_hessian_by_hand() {
    let m = Model {
        w: vec![0.5, -0.25],
        b: 0.3,
        label: "linear".to_owned(),
    };
    let (x, y) = (1.5, 0.2);
    let (value, d, dx, hess) = m.loss_hessian(x, y);
    assert_eq!((value, d.clone(), dx), m.loss_grad(x, y));
    assert_symmetric("loss", &hess);
    assert_close("by hand", &hess, &model_hessian_by_hand(&m, x, y), 1e-12);
    let grad = |f: &[f64]| {
        let q = Model {
            w: f[1..3].to_vec(),
            b: f[0],
            ..m.clone()
        };
        let (_, d, dx) = q.loss_grad(f[3], y);
        let mut g = flat_model(&d);
        g.push(dx);
        g
    };
    let mut at = flat_model(&m);
    at.push(x);
    assert_close("differences", &hess, &fd_hessian(grad, &at), 1e-6);

    // `f_hvp`: the direction of `self` comes first, as `self` does.
    let direction = Model {
        w: vec![1.0, 0.5],
        b: -2.0,
        label: String::new(),
    };
    let v_x = 0.75;
    let (v, g, gx, hv_self, hv_x) = m.loss_hvp(&direction, x, v_x, y);
    assert_eq!((v, g, gx), (value, d, dx));
    assert_eq!(hv_self.label, "");
    let mut dir = flat_model(&direction);
    dir.push(v_x);
    let mut got = flat_model(&hv_self);
    got.push(hv_x);
    assert_close("H·v", &got, &times(&hess, &dir), 1e-12);
}

#[test]
fn self_in_wrt_with_a_slice_parameter() {
    let m = Model {
        w: vec![0.5, -0.25],
        b: 0.3,
        label: String::new(),
    };
    let xs = [1.5, -0.5, 2.0];
    let y = 0.2;
    let (value, d, hess) = m.batch_hessian(&xs, y);
    assert_eq!((value, d), m.batch_grad(&xs, y));
    // Σ over the batch of 2 ∇r ∇rᵀ, r linear in the model.
    let mut want = vec![0.0; 9];
    for &x in &xs {
        let dr = [1.0, x, x * x];
        for i in 0..3 {
            for j in 0..3 {
                want[i * 3 + j] += 2.0 * dr[i] * dr[j];
            }
        }
    }
    assert_symmetric("batch", &hess);
    assert_close("by hand", &hess, &want, 1e-12);
}

/// The README's example.
#[derive(Default, Clone)]
struct Small {
    b: f64,
    w: [f64; 2],
    label: String,
}

impl Small {
    #[differentiate(reverse, hessian, wrt(self, x))]
    fn loss(&self, x: f64) -> f64 {
        self.b * x * x + self.w[0] * self.w[1]
    }
}

#[test]
fn the_readme_example() {
    let m = Small {
        b: 0.5,
        w: [2.0, 3.0],
        label: "m".into(),
    };
    // Flattened as [b, w₀, w₁, x].
    let (_, d_m, d_x, hess) = m.loss_hessian(1.0);
    assert_eq!(
        (d_m.b, d_m.w, d_x, d_m.label),
        (1.0, [3.0, 2.0], 1.0, String::new())
    );
    assert_eq!(hess[3], 2.0); // ∂²/∂b∂x = 2x
    assert_eq!(hess[4 + 2], 1.0); // ∂²/∂w₀∂w₁
    let v = Small {
        b: 1.0,
        ..Small::default()
    };
    let (_, _, _, hv_m, hv_x) = m.loss_hvp(&v, 1.0, 0.0); // H · e_b
    assert_eq!((hv_m.b, hv_x), (0.0, 2.0));
}

/// Parameters stored in `f32`, for a function computed in `f64`.
#[derive(Default, Clone, Debug)]
struct Single {
    a: f32,
    w: [f32; 2],
}

/// The example of an `f32` struct in an `f64` function: `f = a·x + w₀²`.
#[differentiate(reverse, forward, hessian, wrt(p))]
fn single(p: &Single, x: f64) -> f64 {
    let a: f64 = p.a.into();
    let w0: f64 = p.w[0].into();
    a * x + w0 * w0
}

/// `f = a·x + w₀² + a·sin(w₁) + a²x`, flattened as `[a, w₀, w₁, x]`.
#[differentiate(hessian, wrt(p, x))]
#[allow(clippy::cast_lossless)] // `as f64` is read as `f64::from` is.
fn single_mixed(p: &Single, x: f64) -> f64 {
    let a = f64::from(p.a);
    let w1 = p.w[1] as f64;
    a * x + f64::from(p.w[0]) * f64::from(p.w[0]) + a * w1.sin() + a * a * x
}

/// `f32` in, `f32` out: the gradient and `H·v` entries of `f32` fields are `f32`, the
/// Hessian of the `f64` output's type.
#[test]
#[allow(clippy::float_cmp, clippy::cast_possible_truncation)]
fn f32_fields_of_an_f64_function() {
    let p = Single {
        a: 0.75,
        w: [-1.25, 0.5],
    };
    let x = 0.6;
    let (a, w0, w1) = (f64::from(p.a), f64::from(p.w[0]), f64::from(p.w[1]));

    let (value, d_p) = single_grad(&p, x);
    assert_eq!(value, a * x + w0 * w0);
    assert_eq!((d_p.a, d_p.w), (x as f32, [(2.0 * w0) as f32, 0.0]));
    let (_, t) = single_jvp(
        &p,
        &Single {
            a: 1.0,
            w: [1.0, 0.0],
        },
        x,
    );
    assert!((t - (x + 2.0 * w0)).abs() < 1e-12);

    // H = diag(0, 2, 0) over [a, w₀, w₁].
    let (v, g, hv) = single_hvp(
        &p,
        &Single {
            a: 1.0,
            w: [3.0, 1.0],
        },
        x,
    );
    assert_eq!(v, value);
    assert_eq!((g.a, g.w), (d_p.a, d_p.w));
    assert_eq!((hv.a, hv.w), (0.0_f32, [6.0_f32, 0.0]));
    let (_, g, hess) = single_hessian(&p, x);
    assert_eq!((g.a, g.w), (d_p.a, d_p.w));
    assert_eq!(hess, vec![0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);

    // With x too, and cross terms.
    let (value, d_p, d_x, hess) = single_mixed_hessian(&p, x);
    assert!((value - (a * x + w0 * w0 + a * w1.sin() + a * a * x)).abs() < 1e-12);
    let near32 = |got: f32, want: f64| (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1.0);
    assert!(near32(d_p.a, x + w1.sin() + 2.0 * a * x), "{d_p:?}");
    assert!(
        near32(d_p.w[0], 2.0 * w0) && near32(d_p.w[1], a * w1.cos()),
        "{d_p:?}"
    );
    assert!((d_x - (a + a * a)).abs() < 1e-12);
    let mut want = [[0.0; 4]; 4];
    want[0][0] = 2.0 * x;
    want[0][2] = w1.cos();
    want[2][0] = w1.cos();
    want[0][3] = 1.0 + 2.0 * a;
    want[3][0] = 1.0 + 2.0 * a;
    want[1][1] = 2.0;
    want[2][2] = -a * w1.sin();
    for i in 0..4 {
        for j in 0..4 {
            // The rows of `f32` fields come from their `f32` `H·v` entries.
            let got = hess[i * 4 + j];
            assert!(
                (got - want[i][j]).abs() <= 1e-6 * want[i][j].abs().max(1.0),
                "hess[{i}][{j}] = {got}"
            );
        }
    }
    // H·v along w₁ and x: the third and fourth columns summed.
    let (_, _, _, hv_p, hv_x) = single_mixed_hvp(
        &p,
        &Single {
            a: 0.0,
            w: [0.0, 1.0],
        },
        x,
        1.0,
    );
    assert!(near32(hv_p.a, want[0][2] + want[0][3]), "{hv_p:?}");
    assert!(
        near32(hv_p.w[0], 0.0) && near32(hv_p.w[1], want[2][2]),
        "{hv_p:?}"
    );
    assert!((hv_x - (want[3][2] + want[3][3])).abs() < 1e-12);
}

/// Parameters stored in `f64`, for a function computed in `f32`.
#[derive(Default, Clone, Debug)]
struct Double {
    a: f64,
    w: Vec<f64>,
}

/// `f = a·x² + sin(w₀)·w₁`, flattened as `[a, w₀, w₁, x]`.
#[differentiate(reverse, hessian, wrt(p, x))]
#[allow(clippy::cast_possible_truncation)]
fn double(p: &Double, x: f32) -> f32 {
    let a = p.a as f32;
    a * x * x + (p.w[0] as f32).sin() * p.w[1] as f32
}

/// `f64` fields of an `f32` function: their entries are the `f32` derivatives, widened; the
/// Hessian is `f32`.
#[test]
#[allow(clippy::cast_possible_truncation)]
fn f64_fields_of_an_f32_function() {
    let p = Double {
        a: 1.5,
        w: vec![0.3, -2.0],
    };
    let x = 0.8_f32;
    let (a, w0, w1) = (p.a as f32, p.w[0] as f32, p.w[1] as f32);
    let (_, d_p, d_x, hess) = double_hessian(&p, x);
    let near = |got: f32, want: f32| (got - want).abs() <= 1e-5 * want.abs().max(1.0);
    let near64 = |got: f64, want: f32| near(got as f32, want);
    assert!(
        near64(d_p.a, x * x) && near64(d_p.w[0], w0.cos() * w1),
        "{d_p:?}"
    );
    assert!(
        near64(d_p.w[1], w0.sin()) && near(d_x, 2.0 * a * x),
        "{d_p:?}"
    );
    let mut want = [[0.0_f32; 4]; 4];
    want[0][3] = 2.0 * x;
    want[3][0] = 2.0 * x;
    want[1][1] = -w0.sin() * w1;
    want[1][2] = w0.cos();
    want[2][1] = w0.cos();
    want[3][3] = 2.0 * a;
    for i in 0..4 {
        for j in 0..4 {
            assert!(
                near(hess[i * 4 + j], want[i][j]),
                "hess[{i}][{j}] = {}",
                hess[i * 4 + j]
            );
        }
    }
    let (_, g, _, hv_p, hv_x) = double_hvp(
        &p,
        &Double {
            a: 1.0,
            w: vec![0.0, 1.0],
        },
        x,
        0.0,
    );
    assert_eq!(g.w.len(), 2);
    assert!(
        near64(hv_p.a, 0.0) && near64(hv_p.w[0], want[1][2]),
        "{hv_p:?}"
    );
    assert!(near64(hv_p.w[1], 0.0) && near(hv_x, want[3][0]), "{hv_p:?}");
}

/// (x − m)², differentiated: called with fields of an active struct as arguments.
#[differentiate(reverse, hessian)]
fn sq_dist(x: f64, m: f64) -> f64 {
    (x - m) * (x - m)
}

#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Shift {
    m: f64,
    s: f64,
}

impl Shift {
    /// (x − m)² s: flattened `[m, s, x]`.
    #[differentiate(reverse, hessian, wrt(self, x))]
    fn field_args(&self, x: f64) -> f64 {
        sq_dist(x, self.m) * self.s
    }
}

#[test]
fn fields_of_self_passed_to_a_differentiated_call() {
    let n = Shift { m: 1.0, s: 2.0 };
    let x = 3.5;
    let d = x - 1.0;
    let (v, g, dx, h) = n.field_args_hessian(x);
    assert!((v - d * d * 2.0).abs() < 1e-12);
    assert!((g.m + 2.0 * d * 2.0).abs() < 1e-12);
    assert!((g.s - d * d).abs() < 1e-12);
    assert!((dx - 2.0 * d * 2.0).abs() < 1e-12);
    let want = [
        [4.0, -2.0 * d, -4.0],
        [-2.0 * d, 0.0, 2.0 * d],
        [-4.0, 2.0 * d, 4.0],
    ];
    for i in 0..3 {
        for j in 0..3 {
            assert!((h[i * 3 + j] - want[i][j]).abs() < 1e-12, "{i} {j}: {h:?}");
        }
    }
    let (_, _, _, hv, hx) = n.field_args_hvp(&Shift { m: 1.0, s: 0.0 }, x, 0.0);
    assert!((hv.m - 4.0).abs() < 1e-12 && (hv.s + 2.0 * d).abs() < 1e-12);
    assert!((hx + 4.0).abs() < 1e-12);
}

#[derive(Default, Clone, Debug, PartialEq)]
struct Line {
    w: [f64; 2],
}

/// w₀w₁x² through `let w = m.w;`: flattened `[w₀, w₁, x]`.
#[differentiate(reverse, hessian, wrt(m, x))]
fn copied_field(m: &Line, x: f64) -> f64 {
    let w = m.w;
    w[0] * w[1] * x * x
}

/// The same through `let [a, b] = m.w;`.
#[differentiate(reverse, hessian, wrt(m, x))]
fn destructured_field(m: &Line, x: f64) -> f64 {
    let [a, b] = m.w;
    a * b * x * x
}

#[test]
fn an_array_field_bound_to_a_local() {
    let m = Line { w: [2.0, 3.0] };
    let x = 1.5;
    let (a, b) = (2.0, 3.0);
    let want = [
        [0.0, x * x, 2.0 * b * x],
        [x * x, 0.0, 2.0 * a * x],
        [2.0 * b * x, 2.0 * a * x, 2.0 * a * b],
    ];
    for (v, g, dx, h) in [
        copied_field_hessian(&m, x),
        destructured_field_hessian(&m, x),
    ] {
        assert!((v - a * b * x * x).abs() < 1e-12);
        assert_eq!(g.w, [b * x * x, a * x * x]);
        assert!((dx - 2.0 * a * b * x).abs() < 1e-12);
        for i in 0..3 {
            for j in 0..3 {
                assert!((h[i * 3 + j] - want[i][j]).abs() < 1e-12, "{i} {j}: {h:?}");
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Bob {
    length: f64,
    mass: f64,
}

impl Bob {
    /// m l (1 − cos θ), `self` by value: flattened `[m, l, θ]`.
    #[differentiate(reverse, hessian, wrt(self, theta))]
    fn energy(self, theta: f64) -> f64 {
        self.mass * self.length * (1.0 - theta.cos())
    }
}

#[test]
fn self_by_value() {
    let p = Bob {
        length: 2.0,
        mass: 3.0,
    };
    let t = 0.5_f64;
    let (c, s) = (1.0 - t.cos(), t.sin());
    let (_, _, _, h) = p.energy_hessian(t);
    let want = [
        [0.0, c, 2.0 * s],
        [c, 0.0, 3.0 * s],
        [2.0 * s, 3.0 * s, 6.0 * t.cos()],
    ];
    for i in 0..3 {
        for j in 0..3 {
            assert!((h[i * 3 + j] - want[i][j]).abs() < 1e-12, "{i} {j}: {h:?}");
        }
    }
}

/// A loop that carries a value started from a field, `r = self.a` then `r *= self.b`, and
/// reads it through `sin`: `r`'s values go on a tape, of the unknown type a field's value has.
/// Second order gave that tape no tape of tangents (it took it for an integer's), so `H·v`
/// lost every term through `r` (`f_hessian` returned 0 for ∂²/∂a²).
#[derive(Default, Debug, Clone, Copy, PartialEq)]
struct Growth {
    a: f64,
    b: f64,
}

// `&self`, as a method is usually written, though `Growth` is small.
#[allow(clippy::trivially_copy_pass_by_ref)]
impl Growth {
    #[differentiate(reverse, hessian, wrt(self))]
    fn wave(&self, n: usize) -> f64 {
        let mut r = self.a;
        let mut s = 0.0;
        for _ in 0..n {
            r *= self.b;
            s += r.sin();
        }
        s
    }
}

#[test]
fn a_field_carried_through_a_loop_keeps_its_tangent_on_the_tape() {
    let g = Growth { a: 0.7, b: 1.3 };
    for n in [1, 3, 6] {
        let (_, _, hess) = g.wave_hessian(n);
        let want = fd_hessian(
            |q| {
                let (_, d) = Growth { a: q[0], b: q[1] }.wave_grad(n);
                vec![d.a, d.b]
            },
            &[g.a, g.b],
        );
        assert_close("H of Σ sin(a bᵏ)", &hess, &want, 1e-6);
        // ∂²/∂a² = -Σₖ b²ᵏ sin(a bᵏ), by hand.
        let by_hand: f64 = (1..=n)
            .map(|k| {
                let bk = g.b.powi(i32::try_from(k).expect("small"));
                -bk * bk * (g.a * bk).sin()
            })
            .sum();
        assert_close("∂²/∂a²", &hess[..1], &[by_hand], 1e-12);
    }
}
