//! (c) A straight-line function of 8 inputs: 44 operations, among them `sin cos tanh exp ln sqrt`,
//! with intermediate values used two to five times each (fan-out).

use super::{Contender, Problem, Real, Rng, Visitor};
use autodiff::differentiate;

/// The 8-input function, as `#[differentiate]` takes it. `sqrt` and `ln` see arguments `>= 1`.
#[differentiate]
#[allow(clippy::too_many_arguments)] // The point is a function of 8 scalar inputs.
pub fn mixed(x0: f64, x1: f64, x2: f64, x3: f64, x4: f64, x5: f64, x6: f64, x7: f64) -> f64 {
    let a = x0 * x1 + x2;
    let b = (a * x3).sin();
    let c = (x4 * x4 + x5 * x5 + 1.0).sqrt();
    let d = (b * c - x6).tanh();
    let e = ((a - x7) * 0.5).exp();
    let f = (e * e + x3 * x3 + 1.0).ln();
    let g = a.cos() * c + d * e;
    let h = (x5 * d + x2 / c).sin();
    let p = g * f - h * a;
    let q = (b + d + h) * (e - f);
    let r = (p * q).tanh() + (c * x0).cos();
    r * f + p / (e + 1.0)
}

/// The 8-input function over `[x0, ..., x7]`.
pub struct Mixed;

impl Problem for Mixed {
    fn family(&self) -> &'static str {
        "mixed8"
    }

    fn dim(&self) -> usize {
        8
    }

    fn points(&self) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(3);
        (0..4).map(|_| rng.vec(8, -1.5, 1.5)).collect()
    }

    fn primal(&self, x: &[f64]) -> f64 {
        mixed(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
    }

    fn eval<T: Real>(&self, x: &[T]) -> T {
        let (x0, x1, x2, x3, x4, x5, x6, x7) = (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
        let a = x0 * x1 + x2;
        let b = (a * x3).sin();
        let c = (x4 * x4 + x5 * x5 + 1.0).sqrt();
        let d = (b * c - x6).tanh();
        let e = ((a - x7) * 0.5).exp();
        let f = (e * e + x3 * x3 + 1.0).ln();
        let g = a.cos() * c + d * e;
        let h = (x5 * d + x2 / c).sin();
        let p = g * f - h * a;
        let q = (b + d + h) * (e - f);
        let r = (p * q).tanh() + (c * x0).cos();
        r * f + p / (e + 1.0)
    }

    fn hand_written(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        // Both lengths are checked up front, so that the whole sweep is one basic block: LLVM
        // then fuses each sine and cosine of one argument into one `sincos` call.
        let &[x0, x1, x2, x3, x4, x5, x6, x7] = <&[f64; 8]>::try_from(x).expect("8 inputs");
        let grad = <&mut [f64; 8]>::try_from(grad).expect("8 gradient components");
        // Forward sweep, keeping what the adjoint needs.
        let a = x0 * x1 + x2;
        let ax3 = a * x3;
        let (b, cos_b) = (ax3.sin(), ax3.cos());
        let c = (x4 * x4 + x5 * x5 + 1.0).sqrt();
        let d = (b * c - x6).tanh();
        let e = ((a - x7) * 0.5).exp();
        let w = e * e + x3 * x3 + 1.0;
        let f = w.ln();
        let (sin_a, cos_a) = (a.sin(), a.cos());
        let g = cos_a * c + d * e;
        let sh = x5 * d + x2 / c;
        let (h, cos_h) = (sh.sin(), sh.cos());
        let p = g * f - h * a;
        let u = b + d + h;
        let v = e - f;
        let q = u * v;
        let t = (p * q).tanh();
        let cx0 = c * x0;
        let (sin_r, cos_r) = (cx0.sin(), cx0.cos());
        let r = t + cos_r;
        let e1 = e + 1.0;
        let inv_e1 = 1.0 / e1;
        let value = r * f + p * inv_e1;

        // Adjoint sweep.
        let dr = f;
        let mut df = r;
        let mut dp = inv_e1;
        let mut de = -p * inv_e1 * inv_e1;
        // r = tanh(p q) + cos(c x0)
        let dpq = dr * (1.0 - t * t);
        let dcx0 = -dr * sin_r;
        let mut dc = dcx0 * x0;
        let mut dx0 = dcx0 * c;
        dp += dpq * q;
        let dq = dpq * p;
        // q = (b + d + h)(e - f)
        let du = dq * v;
        let dv = dq * u;
        let mut db = du;
        let mut dd = du;
        let mut dh = du;
        de += dv;
        df -= dv;
        // p = g f - h a
        let dg = dp * f;
        df += dp * g;
        dh -= dp * a;
        let mut da = -dp * h;
        // h = sin(x5 d + x2 / c)
        let dsh = dh * cos_h;
        let mut dx5 = dsh * d;
        dd += dsh * x5;
        let inv_c = 1.0 / c;
        let dx2_h = dsh * inv_c;
        dc -= dx2_h * x2 * inv_c;
        // g = cos(a) c + d e
        da -= dg * sin_a * c;
        dc += dg * cos_a;
        dd += dg * e;
        de += dg * d;
        // f = ln(e² + x3² + 1)
        let dw = df / w;
        de += 2.0 * dw * e;
        let mut dx3 = 2.0 * dw * x3;
        // e = exp((a - x7) / 2)
        let dt = 0.5 * de * e;
        da += dt;
        let dx7 = -dt;
        // d = tanh(b c - x6)
        let dsd = dd * (1.0 - d * d);
        db += dsd * c;
        dc += dsd * b;
        let dx6 = -dsd;
        // c = sqrt(x4² + x5² + 1)
        let dcc = dc * inv_c;
        let dx4 = dcc * x4;
        dx5 += dcc * x5;
        // b = sin(a x3)
        let dsb = db * cos_b;
        da += dsb * x3;
        dx3 += dsb * a;
        // a = x0 x1 + x2
        dx0 += da * x1;
        let dx1 = da * x0;
        let dx2 = da + dx2_h;

        *grad = [dx0, dx1, dx2, dx3, dx4, dx5, dx6, dx7];
        value
    }

    fn generated<V: Visitor>(&self, v: &mut V) {
        v.gradient(Contender::Generated, |x, g| {
            let (value, d0, d1, d2, d3, d4, d5, d6, d7) =
                mixed_grad(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
            g.copy_from_slice(&[d0, d1, d2, d3, d4, d5, d6, d7]);
            value
        });
    }
}
