//! The computational graph of `f(x, y) = (x + y) · y`, as `#[differentiate]` builds it.
//!
//! ```text
//! x ──→ [+] ──→ [×] ──→ f
//! y ──→ [+] ↗
//! y ──────────┘
//! ```
//!
//! The forward pass computes `a = x + y` and `f = a · y`. The backward pass starts from
//! `∂f/∂f = 1` and applies one local derivative per edge, right to left. `y` reaches the output
//! along two paths, through `+` and directly into `×`, so its two contributions are summed.
//!
//! `#[differentiate(graph)]` emits `f_graph`, which records that graph at a point: every value,
//! every adjoint and every edge's local derivative, taken from the same table of rules that
//! builds `f_grad`. This example prints its walk, writes the picture to `docs/seed_graph.svg`,
//! and checks the numbers against the closed form and against `f_grad` and `f_jvp`.
//!
//! Run with `cargo run --example seed_graph`.

use autodiff::differentiate;

/// The seed's function, `f(x, y) = (x + y) · y`.
#[differentiate(reverse, forward, graph)]
fn f(x: f64, y: f64) -> f64 {
    let a = x + y;
    a * y
}

fn main() {
    let (x, y) = (2.0, 3.0);
    println!("f(x, y) = (x + y) · y at x = {x}, y = {y}");
    println!();
    let graph = f_graph(x, y);
    print!("{graph}");

    // f = xy + y², so ∂f/∂x = y and ∂f/∂y = x + 2y.
    let node = |name: &str| graph.node(name).expect("a node of the graph");
    assert_eq!(node("f").value(), x * y + y * y);
    assert_eq!((node("x").adjoint(), node("y").adjoint()), (y, x + 2.0 * y));
    println!(
        "  check: f = xy + y², ∂f/∂x = y = {y}, ∂f/∂y = x + 2y = {}",
        x + 2.0 * y
    );

    let svg = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/seed_graph.svg");
    std::fs::write(svg, graph.to_svg()).expect("docs/ is writable");
    println!();
    println!("The picture: docs/seed_graph.svg");

    println!();
    println!("The reverse-mode code #[differentiate] generates, graph.code():");
    print!("{}", graph.code());

    println!();
    println!("Reverse mode, f_grad: one pass gives the whole gradient.");
    let (value, dx, dy) = f_grad(x, y);
    println!("  f_grad({x}, {y}) = ({value}, {dx}, {dy})");
    assert_eq!(
        (value, dx, dy),
        (node("f").value(), node("x").adjoint(), node("y").adjoint())
    );
    assert_eq!(value, f(x, y));

    println!();
    println!("Forward mode, f_jvp: one pass per input direction (d_x, d_y).");
    let (_, along_x) = f_jvp(x, 1.0, y, 0.0);
    println!("  f_jvp({x}, 1, {y}, 0) = ∂f/∂x = {along_x}");
    let (_, along_y) = f_jvp(x, 0.0, y, 1.0);
    println!("  f_jvp({x}, 0, {y}, 1) = ∂f/∂y = {along_y}");
    assert_eq!((along_x, along_y), (dx, dy));
    println!(
        "  two inputs took two forward passes; one output took one reverse pass. With n inputs and \
         one output, forward mode needs n passes, reverse mode one."
    );
}
