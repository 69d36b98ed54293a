use autodiff::differentiate;

// `graph` alone emits `f_graph` and nothing else: write `#[differentiate(reverse, graph)]` for both.
#[differentiate(graph)]
fn f(x: f64, y: f64) -> f64 {
    (x + y) * y
}

fn main() {
    let _ = f_graph(2.0, 3.0);
    let _ = f_grad(2.0, 3.0);
}
