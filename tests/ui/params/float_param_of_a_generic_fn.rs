use autodiff::differentiate;
use autodiff::num_traits::Float;

// `T` is the function's float type: an `f64` or `f32` parameter beside it is refused when active,
// an array or slice even when not, with the type to write instead.
#[differentiate(reverse, forward, hessian)]
fn g<T: Float>(x: T, y: f64) -> T {
    x * T::from(y).unwrap()
}

#[differentiate(reverse, wrt(x))]
fn h<T: Float>(x: T, w: &[f32]) -> T {
    x * T::from(w[0]).unwrap()
}

fn main() {
    // The original functions are still emitted: this deliberate mismatch shows their type.
    let () = g(1.0_f32, 2.0);
    let () = h(1.0_f64, &[2.0]);
}
