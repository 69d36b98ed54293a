use autodiff::differentiate;

struct P {
    c: f64,
}

#[differentiate]
fn g(c: f64, x: f64) -> f64 {
    c * x
}

/// `p.c` is a constant of a type the macro cannot see: it has no entry, but `g_grad` has one.
#[differentiate]
fn f(p: &P, x: f64) -> f64 {
    g(p.c, x) * x
}

fn main() {
    let _ = f_grad(&P { c: 1.0 }, 1.0);
}
