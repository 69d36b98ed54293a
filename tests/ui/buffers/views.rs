use autodiff::differentiate;

#[differentiate]
fn split_a_parameter(x: &[f64]) -> f64 {
    let (a, b) = x.split_at_mut(1);
    a[0] * b[0]
}

#[differentiate]
fn borrow_a_parameter(x: &[f64]) -> f64 {
    let a = &mut x[1..];
    a[0]
}

#[differentiate]
fn write_a_read_only_part(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    let (a, b) = s.split_at(1);
    a[0] = b[0];
    s[0]
}

#[differentiate]
fn copy_a_number(x: f64) -> f64 {
    let s = x.to_vec();
    s[0]
}

#[differentiate]
fn split_into_one_name(x: &[f64]) -> f64 {
    let parts = x.split_at(1);
    parts.0[0]
}

#[differentiate]
fn fill_a_parameter(x: &[f64], y: &[f64]) -> f64 {
    x.fill(1.0);
    let mut s = vec![0.0; 2];
    s.copy_from_slice(y[0]);
    s[0] * x[0]
}

fn main() {}
