//! Gradients with respect to structs: `wrt(p)` on a struct parameter (by value or `&P`), fields
//! of fields, and `wrt(self)` in a method. Each gradient entry is a struct of the parameter's
//! type whose fields the body reads hold their derivatives, every other field its default.
//! Checked against closed forms, finite differences and forward mode.
// Differentiated loops index their arrays: `for` runs over integer ranges here.
#![allow(clippy::needless_range_loop)]

use autodiff::{check_gradient, differentiate};

#[derive(Default, Debug, Clone, PartialEq)]
struct Params {
    a: f64,
    b: f64,
    degree: usize,
    w: Vec<f64>,
}

/// f = a sin x + b² + Σᵢ wᵢ xⁱ, for i below the degree: ∂f/∂a = sin x, ∂f/∂b = 2b,
/// ∂f/∂wᵢ = xⁱ (and 0 past the degree), ∂f/∂x = a cos x + Σᵢ i wᵢ xⁱ⁻¹.
#[differentiate(reverse, forward, wrt(p, x))]
fn poly(p: &Params, x: f64) -> f64 {
    let mut s = p.a * x.sin() + p.b * p.b;
    let mut power = 1.0;
    for i in 0..p.degree {
        s += p.w[i] * power;
        power *= x;
    }
    s
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn a_struct_parameter_gets_a_struct_gradient() {
    let p = Params {
        a: 1.5,
        b: -0.5,
        degree: 3,
        w: vec![0.25, -1.0, 2.0, 7.0],
    };
    let x = 0.7;
    let (value, dp, dx) = poly_grad(&p, x);
    assert_eq!(value, poly(&p, x));
    close("a", dp.a, x.sin());
    close("b", dp.b, 2.0 * p.b);
    // The integer field is not differentiated: it keeps its default.
    assert_eq!(dp.degree, 0);
    assert_eq!(dp.w.len(), 4);
    for (i, &g) in dp.w.iter().enumerate() {
        let want = if i < 3 {
            x.powi(i32::try_from(i).unwrap())
        } else {
            0.0
        };
        close("w", g, want);
    }
    close("x", dx, p.a * x.cos() + p.w[1] + 2.0 * p.w[2] * x);
    // Finite differences over the floats of the struct and `x`.
    let flat = [p.a, p.b, p.w[0], p.w[1], p.w[2], p.w[3], x];
    let at = |v: &[f64]| {
        let q = Params {
            a: v[0],
            b: v[1],
            degree: 3,
            w: v[2..6].to_vec(),
        };
        poly(&q, v[6])
    };
    let grad = [dp.a, dp.b, dp.w[0], dp.w[1], dp.w[2], dp.w[3], dx];
    check_gradient(at, &flat, &grad).unwrap();
    // Forward mode: the tangent of a struct is a struct.
    let d_p = Params {
        a: 0.3,
        b: -0.2,
        degree: 0,
        w: vec![0.1, 0.2, -0.3, 0.4],
    };
    let (v, t) = poly_jvp(&p, &d_p, x, 0.5);
    assert_eq!(v, value);
    let want = 0.3 * dp.a - 0.2 * dp.b + 0.1 * dp.w[0] + 0.2 * dp.w[1] - 0.3 * dp.w[2]
        + 0.4 * dp.w[3]
        + 0.5 * dx;
    close("jvp", t, want);
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Layer {
    w: [f64; 3],
    bias: f64,
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Net {
    layer: Layer,
    scale: f64,
    name: String,
}

/// Fields of fields, a struct by value: f = tanh(s · (b + Σ wᵢ xᵢ)).
#[differentiate(reverse, forward, wrt(net))]
#[allow(clippy::needless_pass_by_value)]
fn net_out(net: Net, x: &[f64]) -> f64 {
    let mut z = net.layer.bias;
    for i in 0..x.len() {
        z += net.layer.w[i] * x[i];
    }
    (z * net.scale).tanh()
}

#[test]
fn fields_of_fields_get_their_derivatives() {
    let net = Net {
        layer: Layer {
            w: [0.5, -0.25, 1.0],
            bias: 0.1,
        },
        scale: 0.8,
        name: "n".to_owned(),
    };
    let x = [0.3, -1.2, 0.7];
    let (value, d) = net_out_grad(net.clone(), &x);
    assert_eq!(value, net_out(net.clone(), &x));
    let z = net.layer.bias + (0..3).map(|i| net.layer.w[i] * x[i]).sum::<f64>();
    let sech2 = 1.0 - (z * net.scale).tanh().powi(2);
    close("bias", d.layer.bias, sech2 * net.scale);
    for i in 0..3 {
        close("w", d.layer.w[i], sech2 * net.scale * x[i]);
    }
    close("scale", d.scale, sech2 * z);
    assert_eq!(d.name, "");
    let tangent = Net {
        layer: Layer {
            w: [1.0, 0.0, 0.0],
            bias: 0.0,
        },
        scale: 1.0,
        name: String::new(),
    };
    let (_, t) = net_out_jvp(net, tangent, &x);
    close("jvp", t, d.layer.w[0] + d.scale);
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Model {
    w: Vec<f64>,
    b: f64,
    label: String,
}

impl Model {
    /// The squared error of a linear model with a bias: f = (Σ wᵢ xⁱ⁺¹ + b − y)² at one `x`.
    #[differentiate(reverse, forward, wrt(self))]
    fn loss(&self, x: f64, y: f64) -> f64 {
        let mut p = self.b;
        let mut power = x;
        for i in 0..self.w.len() {
            p += self.w[i] * power;
            power *= x;
        }
        (p - y) * (p - y)
    }

    /// The same loss, with respect to the model and the input.
    #[differentiate(reverse, wrt(self, x))]
    fn loss_x(&self, x: f64, y: f64) -> f64 {
        let mut p = self.b;
        let mut power = x;
        for i in 0..self.w.len() {
            p += self.w[i] * power;
            power *= x;
        }
        (p - y) * (p - y)
    }
}

#[test]
fn wrt_self_gives_a_gradient_of_type_self() {
    let m = Model {
        w: vec![0.5, -0.25],
        b: 0.3,
        label: "linear".to_owned(),
    };
    let (x, y) = (1.5, 0.2);
    let (value, d) = m.loss_grad(x, y);
    assert_eq!(value, m.loss(x, y));
    let r = m.b + m.w[0] * x + m.w[1] * x * x - y;
    close("b", d.b, 2.0 * r);
    close("w0", d.w[0], 2.0 * r * x);
    close("w1", d.w[1], 2.0 * r * x * x);
    assert_eq!(d.label, "");
    let (v, d2, dx) = m.loss_x_grad(x, y);
    assert_eq!(v, value);
    assert_eq!(d2, d);
    close("x", dx, 2.0 * r * (m.w[0] + 2.0 * m.w[1] * x));
    let tangent = Model {
        w: vec![1.0, 2.0],
        b: -1.0,
        label: String::new(),
    };
    let (_, t) = m.loss_jvp(&tangent, x, y);
    close("jvp", t, d.w[0] + 2.0 * d.w[1] - d.b);
}

use autodiff::num_traits::Float;

/// A generic function: f = Σᵢ (wᵢ x − ½)² + √(x² + 1), for `f64` and `f32` alike.
#[differentiate(reverse, forward)]
fn generic_loss<T: Float>(x: T, w: &[T]) -> T {
    let half = T::from(0.5).unwrap();
    let mut s = (x * x + T::one()).sqrt();
    for i in 0..w.len() {
        let e = w[i] * x - half;
        s = s + e * e;
    }
    s
}

/// A `where` clause, and a fixed-size array of `T`.
#[differentiate(reverse, forward)]
fn generic_norm<T>(v: [T; 3]) -> T
where
    T: Float + std::fmt::Debug,
{
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().exp()
}

#[test]
fn generic_functions_get_generic_derivatives() {
    let w = [0.5, -1.5, 2.0];
    let x = 0.8_f64;
    let (value, dx, dw) = generic_loss_grad(x, &w);
    assert_eq!(value, generic_loss(x, &w));
    let want_dx =
        x / (x * x + 1.0).sqrt() + w.iter().map(|&wi| 2.0 * (wi * x - 0.5) * wi).sum::<f64>();
    close("x", dx, want_dx);
    for (i, &g) in dw.iter().enumerate() {
        close("w", g, 2.0 * (w[i] * x - 0.5) * x);
    }
    let (_, t) = generic_loss_jvp(x, 1.0, &w, &[0.0; 3]);
    close("jvp", t, dx);
    // The same function on `f32`.
    let w32 = [0.5_f32, -1.5, 2.0];
    let (v32, dx32, dw32) = generic_loss_grad(0.8_f32, &w32);
    assert!((f64::from(v32) - value).abs() < 1e-5);
    assert!((f64::from(dx32) - dx).abs() < 1e-4);
    assert!((f64::from(dw32[2]) - dw[2]).abs() < 1e-4);

    let v = [0.3, -0.4, 1.2];
    let (value, d) = generic_norm_grad(v);
    let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    assert_eq!(value, r.exp());
    for i in 0..3 {
        close("v", d[i], r.exp() * v[i] / r);
    }
    let (_, t) = generic_norm_jvp(v, [0.0, 1.0, 0.0]);
    close("jvp", t, d[1]);
}

/// A generic loop whose backward code needs the values it overwrites (a product): its tape holds
/// `T`, which need not implement `Default`. f = Πᵢ sin(xᵢ).
#[differentiate(reverse, forward, hessian)]
fn generic_product<T: Float>(x: &[T]) -> T {
    let mut p = T::one();
    for i in 0..x.len() {
        p = p * x[i].sin();
    }
    p
}

#[test]
fn a_generic_loop_saves_its_values() {
    let x = [0.3, -1.2, 0.7];
    let f: f64 = x.iter().map(|v| v.sin()).product();
    // ∂f/∂xⱼ = cos xⱼ Πᵢ≠ⱼ sin xᵢ; ∂²f/∂xⱼ∂xₖ = cos xⱼ cos xₖ Πᵢ≠ⱼ,ₖ sin xᵢ (j ≠ k), −f (j = k).
    let others = |skip: &[usize]| -> f64 {
        (0..3)
            .filter(|i| !skip.contains(i))
            .map(|i| x[i].sin())
            .product()
    };
    let (value, g) = generic_product_grad(&x);
    close("value", value, f);
    for j in 0..3 {
        close("grad", g[j], x[j].cos() * others(&[j]));
    }
    let (_, t) = generic_product_jvp(&x, &[0.0, 1.0, 0.0]);
    close("jvp", t, g[1]);
    let v = [1.0, -2.0, 0.5];
    let (_, _, hv) = generic_product_hvp(&x, &v);
    for j in 0..3 {
        let row: f64 = (0..3)
            .map(|k| {
                let h = if j == k {
                    -f
                } else {
                    x[j].cos() * x[k].cos() * others(&[j, k])
                };
                h * v[k]
            })
            .sum();
        close("hvp", hv[j], row);
    }
    // The same function on `f32`.
    let x32 = [0.3_f32, -1.2, 0.7];
    let (v32, g32) = generic_product_grad(&x32);
    assert!((f64::from(v32) - f).abs() < 1e-5);
    for j in 0..3 {
        assert!((f64::from(g32[j]) - g[j]).abs() < 1e-5);
    }
}

impl Model {
    /// `self` as a constant (no `wrt(self)`): its array field is read by index, its length
    /// taken; f = Σᵢ wᵢ sin(i x) + b, ∂f/∂x = Σᵢ i wᵢ cos(i x).
    #[differentiate(reverse, forward)]
    fn series(&self, x: f64) -> f64 {
        let mut s = self.b;
        let mut k = 0.0;
        for i in 0..self.w.len() {
            k += 1.0;
            s += self.w[i] * (k * x).sin();
        }
        s
    }
}

#[test]
fn a_constant_self_is_read_by_index() {
    let m = Model {
        w: vec![0.5, -0.25, 2.0],
        b: 0.3,
        label: String::new(),
    };
    let x = 0.4;
    let (value, dx) = m.series_grad(x);
    assert_eq!(value, m.series(x));
    let want: f64 = (1..=3)
        .map(|i| {
            let k = f64::from(i);
            k * m.w[usize::try_from(i - 1).unwrap()] * (k * x).cos()
        })
        .sum();
    close("x", dx, want);
    let (_, t) = m.series_jvp(x, 1.0);
    close("jvp", t, dx);
}

/// A struct in `wrt` whose floats the body does not read: its gradient entry is the default.
#[differentiate(reverse, forward, wrt(p, x))]
fn ignores_fields(p: &Params, x: f64) -> f64 {
    let mut s = x * x;
    for _ in 0..p.degree {
        s *= 2.0;
    }
    s
}

#[test]
fn a_struct_whose_floats_are_not_read_has_a_default_gradient() {
    let p = Params {
        a: 1.0,
        b: 2.0,
        degree: 2,
        w: vec![1.0],
    };
    let (value, dp, dx) = ignores_fields_grad(&p, 1.5);
    assert_eq!(value, ignores_fields(&p, 1.5));
    assert_eq!(dp, Params::default());
    close("x", dx, 4.0 * 2.0 * 1.5);
    let (_, t) = ignores_fields_jvp(&p, &Params::default(), 1.5, 1.0);
    close("jvp", t, dx);
}

#[differentiate(reverse, forward)]
fn damped(u: f64, v: f64) -> f64 {
    u * v.cos()
}

/// An accumulator declared from constant fields with its type written (`let mut acc: f64 =
/// p.a * p.a;`) is a float: calls that take it count it among their float arguments.
/// `f = damped(tanh(a² + 2x), b/2)`: `∂f/∂x = 2 (1 − tanh²) cos(b/2)`.
#[differentiate(reverse, forward)]
fn from_fields(x: f64, p: &Params) -> f64 {
    let mut acc: f64 = p.a * p.a;
    for _ in 0..2 {
        acc += x;
    }
    damped(acc.tanh(), 0.5 * p.b)
}

#[test]
fn an_annotated_accumulator_of_fields_is_a_float() {
    let p = Params {
        a: 0.7,
        b: -1.2,
        ..Params::default()
    };
    let x = 0.3;
    let t = (p.a * p.a + 2.0 * x).tanh();
    let (value, dx) = from_fields_grad(x, &p);
    close("value", value, t * (0.5 * p.b).cos());
    close("∂f/∂x", dx, 2.0 * (1.0 - t * t) * (0.5 * p.b).cos());
    let (_, tangent) = from_fields_jvp(x, 1.0, &p);
    close("f_jvp", tangent, dx);
}

/// Parameters stored in `f32`, for functions computed in `f64` (and the other way round).
#[derive(Default, Clone, Debug, PartialEq)]
struct Single {
    a: f32,
    w: [f32; 2],
    v: Vec<f32>,
    label: String,
}

/// `f = a·x + w₀² + a·sin(w₁) + v₀·x²`, in `f64` from `f32` fields read by `.into()`,
/// `f64::from` and `as f64`.
#[differentiate(reverse, forward, wrt(p, x))]
#[allow(clippy::cast_lossless)] // `as f64` is read as `f64::from` is.
fn widened(p: &Single, x: f64) -> f64 {
    let a: f64 = p.a.into();
    let w0: f64 = p.w[0].into();
    let w1 = f64::from(p.w[1]);
    a * x + w0 * w0 + a * w1.sin() + p.v[0] as f64 * x * x
}

/// `f32` in, `f32` out: an `f32` field's gradient entry is the `f64` derivative rounded to
/// `f32`, as for an `f32` parameter of an `f64` function.
#[test]
fn f32_fields_of_an_f64_function_get_f32_entries() {
    let p = Single {
        a: 0.7,
        w: [-1.3, 0.4],
        v: vec![2.5, 9.0],
        label: "p".into(),
    };
    let x = 0.6;
    let (a, w0, w1, v0) = (
        f64::from(p.a),
        f64::from(p.w[0]),
        f64::from(p.w[1]),
        f64::from(p.v[0]),
    );
    let (value, d_p, d_x) = widened_grad(&p, x);
    assert_eq!(value, widened(&p, x));
    #[allow(clippy::cast_possible_truncation)]
    let want = Single {
        a: (x + w1.sin()) as f32,
        w: [(2.0 * w0) as f32, (a * w1.cos()) as f32],
        v: vec![(x * x) as f32, 0.0],
        label: String::new(),
    };
    let near = |got: f32, want: f32| (got - want).abs() <= 1e-6 * want.abs().max(1.0);
    assert!(near(d_p.a, want.a), "{d_p:?}");
    assert!(
        near(d_p.w[0], want.w[0]) && near(d_p.w[1], want.w[1]),
        "{d_p:?}"
    );
    assert!(near(d_p.v[0], want.v[0]) && d_p.v[1] == 0.0, "{d_p:?}");
    assert_eq!(d_p.label, "");
    close("∂f/∂x", d_x, a + 2.0 * v0 * x);
    // Tangents along each field, and along x.
    let along = |d: Single, d_x: f64| widened_jvp(&p, &d, x, d_x).1;
    let unit = Single {
        v: vec![0.0, 0.0],
        ..Single::default()
    };
    close(
        "jvp a",
        along(
            Single {
                a: 1.0,
                ..unit.clone()
            },
            0.0,
        ),
        x + w1.sin(),
    );
    close(
        "jvp w₁",
        along(
            Single {
                w: [0.0, 1.0],
                ..unit.clone()
            },
            0.0,
        ),
        a * w1.cos(),
    );
    close(
        "jvp v₀",
        along(
            Single {
                v: vec![1.0, 0.0],
                ..unit.clone()
            },
            0.0,
        ),
        x * x,
    );
    close("jvp x", along(unit, 1.0), a + 2.0 * v0 * x);
}

/// Parameters stored in `f64`, for a function computed in `f32`.
#[derive(Default, Clone, Debug, PartialEq)]
struct Double {
    a: f64,
    w: [f64; 2],
}

/// `f = a·x² + sin(w₀)·w₁`, in `f32` from `f64` fields.
#[differentiate(reverse, forward, wrt(p, x))]
#[allow(clippy::cast_possible_truncation)]
fn narrowed(p: &Double, x: f32) -> f32 {
    let a = p.a as f32;
    a * x * x + (p.w[0] as f32).sin() * p.w[1] as f32
}

/// `f64` fields of an `f32` function: their entries are the `f32` derivatives, widened.
#[test]
#[allow(clippy::cast_possible_truncation)]
fn f64_fields_of_an_f32_function_get_f64_entries() {
    let p = Double {
        a: 1.5,
        w: [0.3, -2.0],
    };
    let x = 0.8_f32;
    let (a, w0, w1) = (p.a as f32, p.w[0] as f32, p.w[1] as f32);
    let (value, d_p, d_x) = narrowed_grad(&p, x);
    assert_eq!(value, narrowed(&p, x));
    let near = |got: f64, want: f32| {
        (got - f64::from(want)).abs() <= 1e-6 * f64::from(want.abs().max(1.0))
    };
    assert!(near(d_p.a, x * x), "{d_p:?}");
    assert!(near(d_p.w[0], w0.cos() * w1), "{d_p:?}");
    assert!(near(d_p.w[1], w0.sin()), "{d_p:?}");
    assert!((d_x - 2.0 * a * x).abs() <= 1e-6);
    let d = Double {
        a: 1.0,
        w: [0.0, 0.0],
    };
    let (v, t) = narrowed_jvp(&p, &d, x, 0.0);
    assert_eq!(v, value);
    assert!((t - x * x).abs() <= 1e-6);
    let (_, t) = narrowed_jvp(&p, &Double::default(), x, 1.0);
    assert!((t - 2.0 * a * x).abs() <= 1e-6);
}

/// What to write instead of a plain `f64` parameter beside `T` (which is refused: see
/// `tests/ui/params/float_param_of_a_generic_fn.rs`): the parameter as `T`, converted by the
/// caller. `f = x·y + y²`.
#[differentiate(reverse, forward, hessian)]
fn generic_scaled<T: Float>(x: T, y: T) -> T {
    x * y + y * y
}

#[test]
#[allow(clippy::cast_possible_truncation)]
fn a_generic_function_takes_its_floats_as_t() {
    let (x, y) = (2.5_f32, 0.75_f64);
    let y32 = y as f32;
    let (value, dx, dy) = generic_scaled_grad(x, y32);
    let near = |got: f32, want: f32| (got - want).abs() <= 1e-6 * want.abs().max(1.0);
    assert!(near(value, x * y32 + y32 * y32));
    assert!(near(dx, y32) && near(dy, x + 2.0 * y32));
    let (_, t) = generic_scaled_jvp(x, 1.0, y32, 1.0);
    assert!(near(t, y32 + x + 2.0 * y32));
    // H = [[0, 1], [1, 2]].
    let (_, _, _, hess) = generic_scaled_hessian(x, y32);
    assert_eq!(hess, [[0.0, 1.0], [1.0, 2.0]]);
    let (_, _, _, hv_x, hv_y) = generic_scaled_hvp(x, 1.0, y32, 2.0);
    assert!(near(hv_x, 2.0) && near(hv_y, 5.0));
    // And in `f64`.
    let (_, dx, dy) = generic_scaled_grad(2.5, y);
    close("∂f/∂x", dx, y);
    close("∂f/∂y", dy, 2.5 + 2.0 * y);
}

/// Array fields of a struct passed by reference to a differentiated helper, and nothing else
/// in the body reading them: f = w·x + v[1..]·x[..1] + b.
#[derive(Default, Clone, Debug, PartialEq)]
struct Dense {
    w: [f64; 2],
    v: Vec<f64>,
    b: f64,
}

#[differentiate(reverse, forward)]
fn dot_of(w: &[f64], x: &[f64]) -> f64 {
    w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
}

#[differentiate(reverse, forward, wrt(dense, x))]
fn fields_passed_by_reference(dense: &Dense, x: &[f64]) -> f64 {
    dot_of(&dense.w, x) + dot_of(&dense.v[1..], &x[..1]) + dense.b
}

#[test]
fn array_fields_passed_to_a_helper() {
    let dense = Dense {
        w: [1.0, 2.0],
        v: vec![3.0, 4.0, 5.0],
        b: 0.5,
    };
    let x = [0.5, -1.0];
    let (value, d_dense, d_x) = fields_passed_by_reference_grad(&dense, &x);
    close("value", value, 0.5 - 2.0 + 4.0 * 0.5 + 0.5);
    // ∂f/∂w = x, ∂f/∂v = (0, x₀, 0), ∂f/∂b = 1; ∂f/∂x = w + (v₁, 0).
    assert_eq!(
        d_dense,
        Dense {
            w: [0.5, -1.0],
            v: vec![0.0, 0.5, 0.0],
            b: 1.0,
        }
    );
    assert_eq!(d_x, vec![1.0 + 4.0, 2.0]);
    let tangent = Dense {
        w: [1.0, 0.0],
        v: vec![0.0, 1.0, 0.0],
        b: 2.0,
    };
    let (_, t) = fields_passed_by_reference_jvp(&dense, &tangent, &x, &[0.0, 1.0]);
    close("jvp", t, 0.5 + 0.5 + 2.0 + 2.0);
}

/// A helper writing a buffer from an array field: f = (w₀ − x₀)(w₁ − x₁).
#[differentiate(reverse, forward)]
fn difference_into(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

#[differentiate(reverse, forward, wrt(dense, x))]
fn field_to_a_buffer_helper(dense: &Dense, x: &[f64]) -> f64 {
    let mut out = [0.0; 2];
    difference_into(&dense.w, x, &mut out);
    out[0] * out[1]
}

#[test]
fn an_array_field_passed_to_a_buffer_helper() {
    let dense = Dense {
        w: [1.0, 2.0],
        v: Vec::new(),
        b: 0.0,
    };
    let x = [0.5, -1.0];
    let (value, d_dense, d_x) = field_to_a_buffer_helper_grad(&dense, &x);
    let (u0, u1) = (1.0 - 0.5, 2.0 + 1.0);
    close("value", value, u0 * u1);
    assert_eq!(d_dense.w, [u1, u0]);
    assert_eq!(d_x, vec![-u1, -u0]);
    let tangent = Dense {
        w: [1.0, 1.0],
        v: Vec::new(),
        b: 0.0,
    };
    let (_, t) = field_to_a_buffer_helper_jvp(&dense, &tangent, &x, &[0.0, 0.0]);
    close("jvp", t, u0 + u1);
}

// Integer `min`, `max`, `abs`, `clamp` and `pow` in a generic function stay integer calls.

/// f = Σ_{i < min(k, n)} xᵢ².
#[differentiate(reverse, forward, hessian)]
fn head_sq<T: Float>(x: &[T], k: usize) -> T {
    let mut s = T::zero();
    for i in 0..k.min(x.len()) {
        s = s + x[i] * x[i];
    }
    s
}

/// f = Σᵢ wᵢ xᵢ² with integer weights wᵢ = |c − 2| · max(k, 1) + clamp(i + 1, 0, n − 1).
#[differentiate(reverse, forward, hessian)]
fn integer_weights<T: Float>(x: &[T], k: usize, c: i32) -> T {
    let n = x.len();
    let mut s = T::zero();
    for i in 0..n {
        let w = T::from((c - 2).abs()).unwrap() * T::from(k.max(1)).unwrap()
            + T::from((i + 1).clamp(0, n - 1)).unwrap();
        s = s + w * x[i] * x[i];
    }
    s
}

#[test]
fn integer_methods_in_generic_functions() {
    let x = [1.0, 2.0, 3.0];
    assert_eq!(head_sq_grad(&x, 2).1, vec![2.0, 4.0, 0.0]);
    for k in [0, 2, 5] {
        let want: Vec<f64> = (0..3)
            .map(|i| if i < k { 2.0 * x[i] } else { 0.0 })
            .collect();
        let (value, g) = head_sq_grad(&x, k);
        assert_eq!(value, head_sq(&x, k));
        assert_eq!(g, want);
        let (_, t) = head_sq_jvp(&x, &[1.0, 1.0, 1.0], k);
        close("jvp", t, want.iter().sum());
        let (_, g2, hv) = head_sq_hvp(&x, &[1.0, -1.0, 0.5], k);
        assert_eq!(g2, want);
        let dir = [1.0, -1.0, 0.5];
        for i in 0..3 {
            close("hvp", hv[i], if i < k { 2.0 * dir[i] } else { 0.0 });
        }
        let x32 = [1.0_f32, 2.0, 3.0];
        let (_, g32) = head_sq_grad(&x32, k);
        for i in 0..3 {
            assert!((f64::from(g32[i]) - want[i]).abs() < 1e-5);
        }
        let (_, _, hv32) = head_sq_hvp(&x32, &[1.0, -1.0, 0.5], k);
        for i in 0..3 {
            let want = if i < k { 2.0 * dir[i] } else { 0.0 };
            assert!((f64::from(hv32[i]) - want).abs() < 1e-5);
        }
    }

    let x = [0.5, -1.5, 2.0, 0.25];
    let dir = [1.0, 0.5, -2.0, 3.0];
    // (k, c) → |c − 2| · max(k, 1).
    for (k, c, base) in [(0, -1, 3.0), (3, 5, 9.0)] {
        let w: Vec<f64> = [1.0, 2.0, 3.0, 3.0].iter().map(|b| base + b).collect();
        let (value, g) = integer_weights_grad(&x, k, c);
        close("value", value, (0..4).map(|i| w[i] * x[i] * x[i]).sum());
        for i in 0..4 {
            close("grad", g[i], 2.0 * w[i] * x[i]);
        }
        let (_, t) = integer_weights_jvp(&x, &dir, k, c);
        close("jvp", t, (0..4).map(|i| 2.0 * w[i] * x[i] * dir[i]).sum());
        let (_, _, hv) = integer_weights_hvp(&x, &dir, k, c);
        for i in 0..4 {
            close("hvp", hv[i], 2.0 * w[i] * dir[i]);
        }
        let x32 = [0.5_f32, -1.5, 2.0, 0.25];
        let dir32 = [1.0_f32, 0.5, -2.0, 3.0];
        let (_, g32) = integer_weights_grad(&x32, k, c);
        let (_, _, hv32) = integer_weights_hvp(&x32, &dir32, k, c);
        for i in 0..4 {
            assert!((f64::from(g32[i]) - 2.0 * w[i] * x[i]).abs() < 1e-4);
            assert!((f64::from(hv32[i]) - 2.0 * w[i] * dir[i]).abs() < 1e-4);
        }
    }
}

/// (x − m)², differentiated: called with fields of an active struct as arguments.
#[differentiate(reverse, forward, hessian)]
fn sq_dist(x: f64, m: f64) -> f64 {
    (x - m) * (x - m)
}

/// m², differentiated: called with an expression of fields.
#[differentiate(reverse, forward, hessian)]
fn square_of(m: f64) -> f64 {
    m * m
}

#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Shift {
    m: f64,
    s: f64,
}

impl Shift {
    /// (x − m)²: ∂/∂m = −2(x − m), ∂/∂x = 2(x − m).
    #[differentiate(reverse, forward, hessian, graph, wrt(self, x))]
    fn field_arg(&self, x: f64) -> f64 {
        sq_dist(x, self.m)
    }

    /// (m + s)² x: ∂/∂m = ∂/∂s = 2(m + s)x, ∂/∂x = (m + s)².
    #[differentiate(reverse, forward, hessian, wrt(self, x))]
    fn field_sum_arg(&self, x: f64) -> f64 {
        square_of(self.m + self.s) * x
    }

    /// (x − m)² s, the fields bound by a tuple pattern first.
    #[differentiate(reverse, forward, hessian, wrt(self, x))]
    fn field_tuple_arg(&self, x: f64) -> f64 {
        let (m, s): (f64, f64) = (self.m, self.s);
        sq_dist(x, m) * s
    }
}

/// (x − p.m)² + (p.s)², the struct a parameter named in `wrt`.
#[differentiate(reverse, forward, hessian, wrt(p, x))]
fn param_field_args(p: &Shift, x: f64) -> f64 {
    sq_dist(x, p.m) + square_of(p.s)
}

#[test]
fn fields_of_an_active_struct_passed_to_differentiated_calls() {
    let n = Shift { m: 1.0, s: 2.0 };
    let x = 3.5;
    let (v, g, dx) = n.field_arg_grad(x);
    close("value", v, (x - 1.0) * (x - 1.0));
    close("dm", g.m, -2.0 * (x - 1.0));
    assert_eq!(g.s, 0.0);
    close("dx", dx, 2.0 * (x - 1.0));
    let (_, t) = n.field_arg_jvp(&Shift { m: 1.0, s: 0.0 }, x, 0.5);
    close("jvp", t, -2.0 * (x - 1.0) + 0.5 * 2.0 * (x - 1.0));
    let graph = n.field_arg_graph(x);
    close("graph", graph.node("x").unwrap().adjoint(), 2.0 * (x - 1.0));

    let (v, g, dx) = n.field_sum_arg_grad(x);
    close("value", v, 9.0 * x);
    close("dm", g.m, 6.0 * x);
    close("ds", g.s, 6.0 * x);
    close("dx", dx, 9.0);
    let (_, t) = n.field_sum_arg_jvp(&Shift { m: 1.0, s: -2.0 }, x, 1.0);
    close("jvp", t, 6.0 * x - 12.0 * x + 9.0);

    let (v, g, dx) = n.field_tuple_arg_grad(x);
    close("value", v, (x - 1.0) * (x - 1.0) * 2.0);
    close("dm", g.m, -4.0 * (x - 1.0));
    close("ds", g.s, (x - 1.0) * (x - 1.0));
    close("dx", dx, 4.0 * (x - 1.0));
    let (_, t) = n.field_tuple_arg_jvp(&Shift { m: 0.0, s: 1.0 }, x, 0.0);
    close("jvp", t, (x - 1.0) * (x - 1.0));

    let (v, g, dx) = param_field_args_grad(&n, x);
    close("value", v, (x - 1.0) * (x - 1.0) + 4.0);
    close("dm", g.m, -2.0 * (x - 1.0));
    close("ds", g.s, 4.0);
    close("dx", dx, 2.0 * (x - 1.0));
    let (_, t) = param_field_args_jvp(&n, &Shift { m: 1.0, s: 1.0 }, x, 1.0);
    close("jvp", t, -2.0 * (x - 1.0) + 4.0 + 2.0 * (x - 1.0));
}

/// Associated functions (no receiver) in an `impl` block.
struct Pendulum;

impl Pendulum {
    const K: f64 = 2.0;

    /// 1 − cos θ, which does not name `Self`: ∂/∂θ = sin θ.
    #[differentiate(reverse, forward, graph)]
    fn height(theta: f64) -> f64 {
        1.0 - theta.cos()
    }

    /// K (1 − cos θ) w₀: ∂/∂θ = K sin θ w₀, ∂/∂w₀ = K (1 − cos θ).
    #[differentiate(reverse, forward, hessian, graph)]
    fn scaled(theta: f64, w: &[f64]) -> f64 {
        Self::K * (1.0 - theta.cos()) * w[0]
    }

    /// 2 · scaled(θ, [3]), through `Self::scaled_grad`: ∂/∂θ = 12 sin θ.
    #[differentiate(reverse, forward, hessian)]
    fn twice(theta: f64) -> f64 {
        Self::scaled(theta, &[3.0]) * 2.0
    }

    /// [K cos θ, sin θ].
    #[differentiate(reverse, forward, hessian)]
    fn point(theta: f64) -> [f64; 2] {
        [theta.cos() * Self::K, theta.sin()]
    }
}

#[test]
fn associated_functions_without_receiver() {
    let t = 0.7_f64;
    let (v, d) = Pendulum::height_grad(t);
    close("value", v, 1.0 - t.cos());
    close("grad", d, t.sin());
    close("jvp", Pendulum::height_jvp(t, 2.0).1, 2.0 * t.sin());
    let g = Pendulum::height_graph(t);
    close("graph", g.node("theta").unwrap().adjoint(), t.sin());

    let (v, d, dw) = Pendulum::scaled_grad(t, &[3.0]);
    close("value", v, 6.0 * (1.0 - t.cos()));
    close("dθ", d, 6.0 * t.sin());
    close("dw", dw[0], 2.0 * (1.0 - t.cos()));
    close(
        "jvp",
        Pendulum::scaled_jvp(t, 1.0, &[3.0], &[0.0]).1,
        6.0 * t.sin(),
    );
    let (_, _, _, h) = Pendulum::scaled_hessian(t, &[3.0]);
    close("h00", h[0], 6.0 * t.cos());
    close("h01", h[1], 2.0 * t.sin());
    close(
        "graph",
        Pendulum::scaled_graph(t, &[3.0])
            .node("theta")
            .unwrap()
            .adjoint(),
        6.0 * t.sin(),
    );

    let (v, d) = Pendulum::twice_grad(t);
    close("value", v, 12.0 * (1.0 - t.cos()));
    close("grad", d, 12.0 * t.sin());
    close("jvp", Pendulum::twice_jvp(t, 1.0).1, 12.0 * t.sin());
    let (_, _, hv) = Pendulum::twice_hvp(t, 1.0);
    close("hvp", hv, 12.0 * t.cos());

    let (p, jac) = Pendulum::point_jacobian(t);
    close("p0", p[0], 2.0 * t.cos());
    close("j0", jac[0][0], -2.0 * t.sin());
    close("j1", jac[1][0], t.cos());
    let (_, tangent) = Pendulum::point_jvp(t, 1.0);
    close("jvp", tangent[1], t.cos());
}

#[derive(Default, Clone, Debug, PartialEq)]
struct Line {
    w: [f64; 2],
}

impl Line {
    /// w₀x + w₁ with `self` constant, the array field copied into a local first.
    #[differentiate(reverse, forward)]
    fn copied_field_const(&self, x: f64) -> f64 {
        let w = self.w;
        w[0] * x + w[1]
    }

    /// w₀x + w₁, the copied array field captured by a closure.
    #[differentiate(reverse, forward, graph, wrt(self, x))]
    fn copied_field_captured(&self, x: f64) -> f64 {
        let w = self.w;
        let f = |v: f64| w[0] * v;
        f(x) + w[1]
    }
}

/// w₀x + w₁: ∂/∂w = [x, 1], ∂/∂x = w₀.
#[differentiate(reverse, forward, graph, wrt(m, x))]
fn copied_field(m: &Line, x: f64) -> f64 {
    let w = m.w;
    w[0] * x + w[1]
}

/// w₀x + w₁ through `let [a, b] = m.w;`.
#[differentiate(reverse, forward, graph, wrt(m, x))]
fn destructured_field(m: &Line, x: f64) -> f64 {
    let [a, b] = m.w;
    a * x + b
}

/// (w₀ + w₁)x through an annotated copy and an iterator.
#[differentiate(reverse, forward, wrt(m, x))]
fn annotated_field_copy(m: &Line, x: f64) -> f64 {
    let w: [f64; 2] = m.w;
    w.iter().map(|v| v * x).sum::<f64>()
}

#[test]
fn an_array_field_bound_to_a_local() {
    let m = Line { w: [2.0, 3.0] };
    let x = 5.0;
    let dir = Line { w: [1.0, -1.0] };
    assert_eq!(m.copied_field_const_grad(x), (13.0, 2.0));
    assert_eq!(m.copied_field_const_jvp(x, 1.0), (13.0, 2.0));
    for (v, g, dx) in [
        m.copied_field_captured_grad(x),
        copied_field_grad(&m, x),
        destructured_field_grad(&m, x),
    ] {
        close("value", v, 13.0);
        assert_eq!(g.w, [x, 1.0]);
        close("dx", dx, 2.0);
    }
    for (_, t) in [
        m.copied_field_captured_jvp(&dir, x, 0.5),
        copied_field_jvp(&m, &dir, x, 0.5),
        destructured_field_jvp(&m, &dir, x, 0.5),
    ] {
        close("jvp", t, x - 1.0 + 0.5 * 2.0);
    }
    for g in [
        m.copied_field_captured_graph(x),
        copied_field_graph(&m, x),
        destructured_field_graph(&m, x),
    ] {
        close("graph", g.node("x").unwrap().adjoint(), 2.0);
    }
    let (v, g, dx) = annotated_field_copy_grad(&m, x);
    close("value", v, 25.0);
    assert_eq!(g.w, [x, x]);
    close("dx", dx, 5.0);
    close("jvp", annotated_field_copy_jvp(&m, &dir, x, 1.0).1, 5.0);
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Bob {
    length: f64,
    mass: f64,
}

impl Bob {
    const G: f64 = 9.81;

    /// m g l (1 − cos θ), `self` by value.
    #[differentiate(reverse, forward, graph, wrt(self, theta))]
    fn energy(self, theta: f64) -> f64 {
        self.mass * Self::G * self.length * (1.0 - theta.cos())
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Weights {
    scale: f64,
    w: Vec<f64>,
}

impl Weights {
    /// s (w₀x₀ + w₁x₁), `self` by value and not `Copy`.
    #[differentiate(reverse, forward, wrt(self, x))]
    fn dot(self, x: &[f64]) -> f64 {
        self.scale * (self.w[0] * x[0] + self.w[1] * x[1])
    }
}

#[test]
fn self_by_value() {
    let p = Bob {
        length: 2.0,
        mass: 3.0,
    };
    let t = 0.5_f64;
    let (v, g, dt) = p.energy_grad(t);
    let c = 1.0 - t.cos();
    close("value", v, 3.0 * Bob::G * 2.0 * c);
    close("dl", g.length, 3.0 * Bob::G * c);
    close("dm", g.mass, 2.0 * Bob::G * c);
    close("dθ", dt, 6.0 * Bob::G * t.sin());
    let dir = Bob {
        length: 1.0,
        mass: 0.0,
    };
    close("jvp", p.energy_jvp(&dir, t, 0.0).1, 3.0 * Bob::G * c);
    close(
        "graph",
        p.energy_graph(t).node("theta").unwrap().adjoint(),
        dt,
    );

    let q = Weights {
        scale: 2.0,
        w: vec![1.0, 3.0],
    };
    let (v, g, dx) = q.clone().dot_grad(&[0.5, 4.0]);
    close("value", v, 2.0 * 12.5);
    close("ds", g.scale, 12.5);
    assert_eq!(g.w, vec![1.0, 8.0]);
    assert_eq!(dx, vec![2.0, 6.0]);
    let dir = Weights {
        scale: 1.0,
        w: vec![0.0, 0.0],
    };
    close("jvp", q.dot_jvp(&dir, &[0.5, 4.0], &[0.0, 0.0]).1, 12.5);
}

/// Σ xᵢ², with a named lifetime.
// The named lifetime is what is tested.
#[allow(clippy::needless_lifetimes)]
#[differentiate(reverse, forward, hessian, graph)]
fn with_lifetime<'a>(x: &'a [f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

impl Line {
    /// w₀ x₀ x₁, a method with a named lifetime.
    #[allow(clippy::needless_lifetimes)]
    #[differentiate(reverse, forward, hessian, graph, wrt(self, x))]
    fn with_lifetime<'a>(&self, x: &'a [f64]) -> f64 {
        self.w[0] * x[0] * x[1]
    }
}

#[test]
fn lifetime_parameters() {
    let x = [1.0, 2.0];
    assert_eq!(with_lifetime_grad(&x), (5.0, vec![2.0, 4.0]));
    assert_eq!(with_lifetime_jvp(&x, &[1.0, 0.0]), (5.0, 2.0));
    assert_eq!(with_lifetime_hessian(&x).2, vec![2.0, 0.0, 0.0, 2.0]);
    close(
        "graph",
        with_lifetime_graph(&x)
            .node("with_lifetime")
            .unwrap()
            .value(),
        5.0,
    );
    let m = Line { w: [2.0, 0.0] };
    let (v, g, dx) = m.with_lifetime_grad(&x);
    close("value", v, 4.0);
    assert_eq!(g.w, [2.0, 0.0]);
    assert_eq!(dx, vec![4.0, 2.0]);
    let (_, _, _, h) = m.with_lifetime_hessian(&x);
    // Flattened [w₀, w₁, x₀, x₁].
    assert_eq!(&h[..4], &[0.0, 0.0, 2.0, 1.0]);
}

#[derive(Default, Clone, Debug, PartialEq)]
struct Mth {
    k: [f64; 2],
    c: f64,
}

impl Mth {
    /// sin(k v) + c, of the fields it reads: what `self.helper(x)` becomes with `wrt(self)`.
    #[differentiate(reverse, forward)]
    fn helper(v: f64, k: f64, c: f64) -> f64 {
        (k * v).sin() + c
    }

    /// helper(x, k₀, c) k₁ + x²: ∂/∂k = [k₁ x cos(k₀x), sin(k₀x) + c], ∂/∂c = k₁,
    /// ∂/∂x = k₁ k₀ cos(k₀x) + 2x.
    #[differentiate(reverse, forward, wrt(self, x))]
    fn outer(&self, x: f64) -> f64 {
        let a = Self::helper(x, self.k[0], self.c);
        a * self.k[1] + x * x
    }
}

#[test]
fn a_helper_of_the_fields_instead_of_a_method_of_self() {
    let m = Mth {
        k: [0.7, 1.5],
        c: 0.25,
    };
    let x = 1.3_f64;
    let (k0, k1) = (0.7_f64, 1.5);
    let (v, g, dx) = m.outer_grad(x);
    close("value", v, ((k0 * x).sin() + 0.25) * k1 + x * x);
    close("dk0", g.k[0], k1 * x * (k0 * x).cos());
    close("dk1", g.k[1], (k0 * x).sin() + 0.25);
    close("dc", g.c, k1);
    close("dx", dx, k1 * k0 * (k0 * x).cos() + 2.0 * x);
    let dir = Mth {
        k: [1.0, 0.0],
        c: 1.0,
    };
    close(
        "jvp",
        m.outer_jvp(&dir, x, 0.0).1,
        k1 * x * (k0 * x).cos() + k1,
    );
}

/// x · n, differentiated: an integer argument has no entry.
#[differentiate(reverse, forward)]
fn times(x: f64, n: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let k = n as f64;
    x * k
}

#[derive(Default, Clone, Debug, PartialEq)]
struct Counted {
    m: f64,
    n: usize,
}

impl Counted {
    /// m x n, the integer field bound with its type before the call: ∂/∂m = x n.
    #[differentiate(reverse, forward, wrt(self, x))]
    fn scaled(&self, x: f64) -> f64 {
        let n: usize = self.n;
        times(self.m * x, n)
    }
}

#[test]
fn an_integer_field_of_an_active_struct_bound_with_its_type_before_a_call() {
    let c = Counted { m: 2.0, n: 3 };
    let (v, g, dx) = c.scaled_grad(1.5);
    close("value", v, 9.0);
    close("dm", g.m, 4.5);
    assert_eq!(g.n, 0);
    close("dx", dx, 6.0);
    let dir = Counted { m: 1.0, n: 0 };
    close("jvp", c.scaled_jvp(&dir, 1.5, 0.0).1, 4.5);
}

#[derive(Default, Clone, Debug, PartialEq)]
struct Scaled {
    w: [f64; 3],
    s: f64,
}

/// s Σ wᵢ x through `let w = p.w; for v in &w`, the scalar field read through `&s`.
// `&s` is the point: a scalar read by reference stays a scalar.
#[allow(clippy::op_ref)]
#[differentiate(reverse, forward, wrt(p, x))]
fn iterated_field_copy(p: &Scaled, x: f64) -> f64 {
    let w = p.w;
    let s = p.s;
    let mut total = 0.0;
    for v in &w {
        total += v * x * &s;
    }
    total
}

#[test]
fn an_array_field_copied_then_iterated_by_reference() {
    let p = Scaled {
        w: [1.0, 2.0, 3.0],
        s: 0.5,
    };
    let (v, g, dx) = iterated_field_copy_grad(&p, 2.0);
    close("value", v, 6.0);
    assert_eq!(g.w, [1.0, 1.0, 1.0]);
    close("ds", g.s, 12.0);
    close("dx", dx, 3.0);
    let dir = Scaled {
        w: [0.0, 0.0, 1.0],
        s: 0.0,
    };
    close("jvp", iterated_field_copy_jvp(&p, &dir, 2.0, 0.0).1, 1.0);
}

/// A model whose prediction is a method, called on a struct parameter from a free function:
/// `m.pred(x)` goes through `m.pred_grad(x)`, as `self.pred(x)` goes through `self.pred_grad(x)`.
#[derive(Default, Debug, Clone, Copy, PartialEq)]
struct Lin {
    w: [f64; 2],
}

impl Lin {
    #[differentiate(reverse, forward, hessian)]
    fn pred(&self, x: f64) -> f64 {
        (self.w[0] * x + self.w[1]).tanh()
    }
}

/// The squared prediction, through a reference.
#[differentiate(reverse, forward, hessian)]
fn squared_prediction(m: &Lin, x: f64) -> f64 {
    let p = m.pred(x);
    p * p
}

/// A loss over samples, the model by value, the method called in a loop.
#[differentiate(reverse, forward)]
fn sample_loss(m: Lin, xs: &[f64], t: f64) -> f64 {
    let mut s = 0.0;
    for x in xs {
        let e = m.pred(*x) - t;
        s += e * e;
    }
    s
}

#[test]
fn a_method_called_on_a_struct_parameter() {
    let m = Lin { w: [0.7, -0.2] };
    let x = 0.9;
    // d/dx tanh(u)² = 2 tanh(u) (1 − tanh²(u)) w₀, u = w₀ x + w₁.
    let p = (0.7 * x - 0.2_f64).tanh();
    let want = 2.0 * p * (1.0 - p * p) * 0.7;
    let (v, dx) = squared_prediction_grad(&m, x);
    assert_eq!(v, squared_prediction(&m, x));
    assert!((v - p * p).abs() < 1e-15);
    assert!((dx - want).abs() < 1e-14, "{dx} != {want}");
    let (vj, tj) = squared_prediction_jvp(&m, x, 1.0);
    assert_eq!(vj, v);
    assert!((tj - dx).abs() < 1e-14);
    // Second order against central differences of the gradient.
    let (_, g, hv) = squared_prediction_hvp(&m, x, 1.0);
    assert_eq!(g, dx);
    let h = 1e-5;
    let fd =
        (squared_prediction_grad(&m, x + h).1 - squared_prediction_grad(&m, x - h).1) / (2.0 * h);
    assert!((hv - fd).abs() < 1e-8, "{hv} != {fd}");

    // Σ (tanh(w₀ xᵢ + w₁) − t)²: by xᵢ, 2 eᵢ (1 − tanh²) w₀; by t, −2 Σ eᵢ.
    let xs = [0.1, -0.4, 1.3];
    let t = 0.25;
    let (v, dxs, dt) = sample_loss_grad(m, &xs, t);
    let ps: Vec<f64> = xs.iter().map(|x| (0.7 * x - 0.2_f64).tanh()).collect();
    let es: Vec<f64> = ps.iter().map(|p| p - t).collect();
    assert!((v - es.iter().map(|e| e * e).sum::<f64>()).abs() < 1e-15);
    assert!((dt + 2.0 * es.iter().sum::<f64>()).abs() < 1e-14);
    for ((d, e), p) in dxs.iter().zip(&es).zip(&ps) {
        let want = 2.0 * e * (1.0 - p * p) * 0.7;
        assert!((d - want).abs() < 1e-14, "{d} != {want}");
    }
    let (_, tj) = sample_loss_jvp(m, &xs, &[0.0; 3], t, 1.0);
    assert!((tj - dt).abs() < 1e-14);
}

// ---------------------------------------------------------------------------------------------
// Integer index vectors kept in a constant struct (ADBench's hand-tracking model keeps its
// bones' parents so): an element used as an index, bound with or without its type, and the
// field bound as `&[usize]` and passed to a helper that writes a buffer.

/// A gather model: which inputs each factor reads, and their weights.
pub struct Gather {
    idx: Vec<usize>,
    w: Vec<f64>,
}

#[differentiate(reverse, forward)]
fn gathered_product(x: &[f64], m: &Gather) -> f64 {
    let mut s = 1.0;
    for c in 0..m.idx.len() {
        let v = m.idx[c];
        s = s * x[v] * m.w[c];
    }
    s
}

#[differentiate(reverse, forward)]
fn gathered_sines(x: &[f64], m: &Gather) -> f64 {
    let mut s = 0.0;
    for c in 0..m.idx.len() {
        let v: usize = m.idx[c];
        s += x[v].sin() + x[m.idx[c]] * m.w[c];
    }
    s
}

#[differentiate(reverse, forward)]
fn gather_into(x: &[f64], idx: &[usize], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[idx[i]];
    }
}

#[differentiate(reverse, forward)]
fn gathered_through_helper(x: &[f64], m: &Gather) -> f64 {
    let idx: &[usize] = &m.idx;
    let mut o = vec![0.0; 2];
    gather_into(x, idx, &mut o);
    o[0] * o[1]
}

#[test]
fn integer_index_fields_of_a_constant_struct() {
    let m = Gather {
        idx: vec![2, 0],
        w: vec![1.5, 0.5],
    };
    let x = [1.25, -2.0, 3.0];
    // x₂ · 1.5 · x₀ · 0.5.
    let (v, g) = gathered_product_grad(&x, &m);
    assert_eq!(v, gathered_product(&x, &m));
    assert_eq!(g, vec![0.75 * x[2], 0.0, 0.75 * x[0]]);
    let (_, t) = gathered_product_jvp(&x, &[1.0, 1.0, 1.0], &m);
    assert!((t - 0.75 * (x[0] + x[2])).abs() < 1e-14);
    // sin x₂ + 1.5 x₂ + sin x₀ + 0.5 x₀.
    let (v, g) = gathered_sines_grad(&x, &m);
    assert_eq!(v, gathered_sines(&x, &m));
    let want = [x[0].cos() + 0.5, 0.0, x[2].cos() + 1.5];
    for k in 0..3 {
        assert!((g[k] - want[k]).abs() < 1e-14, "{g:?} against {want:?}");
    }
    // o = (x₂, x₀): x₂ x₀.
    let (v, g) = gathered_through_helper_grad(&x, &m);
    assert_eq!(v, x[2] * x[0]);
    assert_eq!(g, vec![x[2], 0.0, x[0]]);
    let (_, t) = gathered_through_helper_jvp(&x, &[1.0, 0.0, -1.0], &m);
    assert!((t - (x[2] - x[0])).abs() < 1e-14);
}
