use autodiff::differentiate;

#[differentiate(reverse, forward)]
fn scale2(q: &[f64], v: &mut [f64]) {
    v[0] = q[0] * q[1];
    v[1] = q[1] * q[1];
}

#[differentiate(reverse, forward)]
fn two(x: &[f64], h: &mut [f64], t: &mut [f64]) {
    h[0] = x[0];
    t[0] = x[1];
}

// The halves of a split buffer passed on without `&mut`: the message names the fix.
#[differentiate(reverse, forward)]
fn f(x: &[f64]) -> f64 {
    let mut state = [x[0], x[1], 0.0, 0.0];
    let (q, v) = state.split_at_mut(2);
    scale2(q, v);
    state[2] * state[3] + state[0]
}

// Both halves written by one call.
#[differentiate(reverse, forward)]
fn g(x: &[f64]) -> f64 {
    let mut buf = [0.0; 2];
    let (h, t) = buf.split_at_mut(1);
    two(x, &mut *h, &mut *t);
    buf[0] * buf[1]
}

fn main() {}
