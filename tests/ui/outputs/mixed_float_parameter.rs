use autodiff::differentiate;

// An `f32` parameter of a function with `f64` outputs: its gradient entries would mix types.
#[differentiate(reverse)]
fn mix(a: f64, q: f32) -> [f64; 2] {
    let c = f64::from(q);
    [a * c, a + c]
}

fn main() {}
