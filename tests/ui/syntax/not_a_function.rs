use autodiff::differentiate;

#[differentiate]
struct S {
    x: f64,
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = S { x: 1.0 }.x;
}
