use autodiff::differentiate;

// A function with several outputs called from a differentiated function needs `g_vjp` (and
// `g_jvp` in forward mode), generated or written by hand: without it, the error names it.
fn to_xy(r: f64, t: f64) -> [f64; 2] {
    [r * t.cos(), r * t.sin()]
}

#[differentiate(reverse)]
fn f(x: f64, y: f64) -> f64 {
    let [u, v] = to_xy(x, y);
    u * v
}

fn main() {}
