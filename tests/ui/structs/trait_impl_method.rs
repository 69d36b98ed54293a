use autodiff::differentiate;

struct Spring {
    k: f64,
}

trait Energy {
    fn energy(&self, x: f64) -> f64;
}

// A trait's `impl` block holds only the trait's items: `energy_grad` has nowhere to go.
impl Energy for Spring {
    #[differentiate]
    fn energy(&self, x: f64) -> f64 {
        0.5 * self.k * x * x
    }
}

fn main() {}
