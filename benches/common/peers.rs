//! The gradient contenders that work on any [`Problem`] through its generic body: forward mode
//! with `num-dual`, the runtime tapes of `echidna` and `reverse`, and central finite differences.
//! Each is used the way its documentation recommends for a gradient.

use super::Problem;

/// `num-dual` forward mode: one `Dual64` pass per input, the tangent seeded on that input.
pub fn num_dual<P: Problem>(p: &P, x: &[f64], grad: &mut [f64]) -> f64 {
    use num_dual::Dual64;
    let mut xd: Vec<Dual64> = x.iter().map(|&v| Dual64::from_re(v)).collect();
    let mut value = 0.0;
    for (i, gi) in grad.iter_mut().enumerate() {
        xd[i].eps = 1.0;
        let y = p.eval(&xd);
        xd[i].eps = 0.0;
        *gi = y.eps;
        value = y.re;
    }
    value
}

/// `echidna` reverse mode through `echidna::grad`, which records on a pooled thread-local tape.
pub fn echidna<P: Problem>(p: &P, x: &[f64], grad: &mut [f64]) -> f64 {
    use echidna::Scalar;
    let mut value = 0.0;
    let g = echidna::grad(
        |xs| {
            let y = p.eval(xs);
            value = y.value();
            y
        },
        x,
    );
    grad.copy_from_slice(&g);
    value
}

/// `reverse`: the inputs and every operation recorded on `tape`, which is cleared and reused.
pub fn reverse<P: Problem>(p: &P, tape: &::reverse::Tape, x: &[f64], grad: &mut [f64]) -> f64 {
    use ::reverse::Gradient;
    tape.clear();
    let vars = tape.add_vars(x);
    let y = p.eval(&vars);
    let g = y.grad().wrt(&vars);
    grad.copy_from_slice(&g);
    y.val()
}

/// Central finite differences, `(f(x + h eᵢ) - f(x - h eᵢ)) / 2h` with
/// `h = ε^(1/3) max(1, |xᵢ|)`: `2n + 1` evaluations of the primal.
pub fn finite_diff<P: Problem>(p: &P, x: &[f64], grad: &mut [f64]) -> f64 {
    let step = f64::EPSILON.cbrt();
    let mut xs = x.to_vec();
    for (i, gi) in grad.iter_mut().enumerate() {
        let xi = x[i];
        let h = step * xi.abs().max(1.0);
        let (hi, lo) = (xi + h, xi - h);
        xs[i] = hi;
        let up = p.primal(&xs);
        xs[i] = lo;
        let down = p.primal(&xs);
        xs[i] = xi;
        // Divided by the step actually taken, not the rounded-off `2h`.
        *gi = (up - down) / (hi - lo);
    }
    p.primal(x)
}
