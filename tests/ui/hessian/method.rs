use autodiff::differentiate;

struct Model {
    scale: f64,
}

impl Model {
    #[differentiate(reverse, hessian)]
    fn loss(&self, x: f64) -> f64 {
        self.scale * x * x
    }
}

fn main() {}
