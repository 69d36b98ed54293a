use autodiff::differentiate;

struct S;


impl S {
    #[differentiate]
    fn f(&mut self, x: f64) -> f64 {
        x * x
    }
}

fn main() {
    // The original function is still emitted: this deliberate mismatch shows its type.
    let () = (S).f(1.0);
}
