use autodiff::differentiate;
use autodiff::num_traits::Float;

#[derive(Default)]
struct S<T> {
    a: T,
}

impl<T: Float + Default> S<T> {
    #[differentiate]
    fn ev(&self, x: T) -> T {
        self.a * x
    }
}

fn main() {}
