use autodiff::differentiate;

fn helper(_a: &[f64], _out: &mut [f64]) {}

// Two out-parameters passed on without `&mut`: which one the call writes is not written.
#[differentiate(reverse, forward)]
fn f(out: &mut [f64], other: &mut [f64]) {
    helper(out, other);
}

fn main() {}
