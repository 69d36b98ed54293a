use autodiff::differentiate;

#[derive(Default)]
struct Model {
    scale: f64,
}

impl Model {
    #[differentiate(reverse, hessian, wrt(self, x))]
    fn loss(&self, x: f64) -> f64 {
        self.scale * x * x
    }
}

fn main() {}
