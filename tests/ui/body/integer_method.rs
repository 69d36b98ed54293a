use autodiff::differentiate;

pub struct Grid {
    pub n: usize,
}

// An integer method on a receiver whose type the macro cannot see.
#[differentiate]
fn f(x: f64, g: &Grid) -> f64 {
    let m = g.n.saturating_sub(1);
    x * m as f64
}

fn main() {}
