use autodiff::differentiate;
use autodiff::num_traits::Float;

#[derive(Default)]
struct S<Real> {
    a: Real,
}

// A method of a generic `impl` block whose float type parameter has a longer name than one
// letter: the macro cannot tell it is a type parameter.
impl<Real: Float + Default> S<Real> {
    #[differentiate]
    fn ev(&self, x: Real) -> Real {
        self.a * x
    }
}

fn main() {}
