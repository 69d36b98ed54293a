use autodiff::differentiate;

#[differentiate]
fn f(x: f64) -> i32 {
    x as i32
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = f(1.0);
}
