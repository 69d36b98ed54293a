use autodiff::differentiate;

#[differentiate]
fn candidates(v: &[f64; 3]) -> [f64; 2] {
    [v[0] + v[1], v[1] * v[2]]
}

#[differentiate]
fn dot2(w: &[f64; 2], f: &[f64; 2]) -> f64 {
    w[0] * f[0] + w[1] * f[1]
}

// `f` holds an array, which the macro cannot see from `candidates(v)` alone.
#[differentiate]
fn weno(v: &[f64; 3]) -> f64 {
    let f = candidates(v);
    let w = [1.0, 2.0];
    dot2(&w, &f)
}

fn main() {}
