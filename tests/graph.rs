//! `#[differentiate(graph)]`: the graph `f_graph` records at a point, against the seed's worked
//! examples, closed forms, `f_grad` and finite differences; its DOT and SVG drawings parsed.

// The functions under test are written as users write them: a bound name returned, index loops,
// an index cast to a float.
#![allow(
    clippy::let_and_return,
    clippy::needless_range_loop,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

use autodiff::{Graph, differentiate, relu, sigmoid, softplus};

/// The seed's function as the seed writes it: the sum has no name.
#[differentiate(graph)]
fn seed(x: f64, y: f64) -> f64 {
    (x + y) * y
}

/// The seed's function with the sum named `a`, as the seed's walk names it.
#[differentiate(reverse, graph)]
fn f(x: f64, y: f64) -> f64 {
    let a = x + y;
    a * y
}

/// The seed's single neuron.
#[differentiate(reverse, graph)]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let z = w * x;
    let s = z + b;
    let a = sigmoid(s);
    let e = a - t;
    e.powi(2)
}

/// The neuron's loss written `e * e` and bound to a name: one edge `e → l` with `2e`.
#[differentiate(graph)]
fn squared(a: f64, t: f64) -> f64 {
    let e = a - t;
    let l = e * e;
    l
}

fn node<'g>(g: &'g Graph, name: &str) -> &'g autodiff::GraphNode {
    g.node(name)
        .unwrap_or_else(|| panic!("no node `{name}` in\n{g}"))
}

#[test]
fn the_seeds_graph_has_the_seeds_numbers() {
    assert_eq!(seed(2.0, 3.0), 15.0);
    let g = seed_graph(2.0, 3.0);
    assert_eq!(node(&g, "x").value(), 2.0);
    assert_eq!(node(&g, "y").value(), 3.0);
    assert_eq!(node(&g, "seed").value(), 15.0);
    assert_eq!(node(&g, "seed").adjoint(), 1.0);
    // ∂f/∂x = y = 3, ∂f/∂y = x + 2y = 8.
    assert_eq!(node(&g, "x").adjoint(), 3.0);
    assert_eq!(node(&g, "y").adjoint(), 8.0);
    // `y` feeds the product directly, with ∂f/∂y(×) = a = 5; `x` only through the sum.
    assert_eq!(g.local("y", "seed"), Some(5.0));
    assert_eq!(g.local("x", "seed"), None);
    assert_eq!(g.local("y", "x"), None);
    // Parameters, the sum, the product.
    assert_eq!(g.nodes().len(), 4);
}

#[test]
fn the_seeds_walk_names_a() {
    let g = f_graph(2.0, 3.0);
    assert_eq!(node(&g, "a").value(), 5.0);
    assert_eq!(node(&g, "a").adjoint(), 3.0);
    assert_eq!(node(&g, "f").value(), 15.0);
    assert_eq!(g.local("x", "a"), Some(1.0));
    assert_eq!(g.local("y", "a"), Some(1.0));
    assert_eq!(g.local("a", "f"), Some(3.0));
    assert_eq!(g.local("y", "f"), Some(5.0));
    let (value, dx, dy) = f_grad(2.0, 3.0);
    assert_eq!(
        (value, dx, dy),
        (
            node(&g, "f").value(),
            node(&g, "x").adjoint(),
            node(&g, "y").adjoint()
        )
    );
    let text = g.to_string();
    for line in [
        "a = x + y = 5",
        "f = a * y = 15",
        "∂f/∂x = ∂f/∂a · ∂a/∂x = 3 · 1 = 3",
        "∂f/∂y = (∂f/∂a · ∂a/∂y) + ∂f/∂y(×) = (3 · 1) + 5 = 8",
    ] {
        assert!(text.contains(line), "no `{line}` in\n{text}");
    }
}

#[test]
fn the_neurons_graph_has_the_seeds_numbers() {
    let (x, w, b, t) = (2.0, 0.5, 0.1, 1.0);
    let g = neuron_graph(x, w, b, t);
    let (a, e) = (sigmoid(1.1), sigmoid(1.1) - 1.0);
    assert_eq!(node(&g, "z").value(), 1.0);
    assert_eq!(node(&g, "s").value(), 1.1);
    assert_eq!(node(&g, "a").value(), a);
    assert_eq!(node(&g, "e").value(), e);
    assert_eq!(node(&g, "neuron").value(), e.powi(2));
    // The seed's local derivatives: ∂L/∂e = 2e, ∂e/∂a = 1, ∂a/∂s = σ(s)(1 − σ(s)), ∂s/∂z = 1,
    // ∂z/∂w = x.
    assert_eq!(g.local("e", "neuron"), Some(2.0 * e));
    assert_eq!(g.local("a", "e"), Some(1.0));
    assert_eq!(g.local("t", "e"), Some(-1.0));
    assert_eq!(g.local("s", "a"), Some(a * (1.0 - a)));
    assert_eq!(g.local("z", "s"), Some(1.0));
    assert_eq!(g.local("b", "s"), Some(1.0));
    assert_eq!(g.local("w", "z"), Some(x));
    assert_eq!(g.local("x", "z"), Some(w));
    assert_eq!(node(&g, "w").adjoint(), -0.187_174_935_731_413_2);
    let (value, dx, dw, db, dt) = neuron_grad(x, w, b, t);
    assert_eq!(value, node(&g, "neuron").value());
    assert_eq!(
        [dx, dw, db, dt],
        ["x", "w", "b", "t"].map(|p| node(&g, p).adjoint())
    );
    let text = g.to_string();
    assert!(
        text.contains(
            "∂neuron/∂w = ∂neuron/∂e · ∂e/∂a · ∂a/∂s · ∂s/∂z · ∂z/∂w = (-0.4994797888097646) · 1 · 0.18736987954752055 · 1 · 2 = -0.1871749357314132"
        ),
        "{text}"
    );
}

#[test]
fn a_bound_output_is_found_by_both_names_and_repeated_uses_are_one_edge() {
    let g = squared_graph(0.75, 1.0);
    let e = -0.25;
    assert_eq!(node(&g, "l").value(), e * e);
    assert!(std::ptr::eq(node(&g, "l"), node(&g, "squared")));
    assert_eq!(g.local("e", "l"), Some(2.0 * e));
    assert_eq!(node(&g, "a").adjoint(), 2.0 * e);
    assert_eq!(g.to_dot().matches("->").count(), 3);
}

/// A dot product in a loop.
#[differentiate(reverse, graph)]
fn dot(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += w * x[i];
    }
    s
}

#[test]
fn a_loop_is_unrolled_with_the_iteration_in_the_name() {
    let x: Vec<f64> = (0..100).map(|k| f64::from(k) * 0.5 - 3.0).collect();
    let w = 1.5;
    let g = dot_graph(&x, w);
    // s[i=k] = w · (x₀ + … + x_k)
    assert_eq!(node(&g, "s[i=0]").value(), w * x[0]);
    assert_eq!(node(&g, "s[i=2]").value(), w * x[0] + w * x[1] + w * x[2]);
    assert_eq!(g.local("s[i=1]", "s[i=2]"), Some(1.0));
    assert_eq!(g.local("s[i=1]", "s[i=3]"), None);
    // The last binding of `s` is the output.
    assert!(std::ptr::eq(node(&g, "s"), node(&g, "dot")));
    assert!(std::ptr::eq(node(&g, "s[i=99]"), node(&g, "dot")));
    // ∂/∂w = Σ x, ∂/∂x_k = w.
    let (value, dx, dw) = dot_grad(&x, w);
    assert_eq!(node(&g, "dot").value(), value);
    assert_eq!(node(&g, "w").adjoint(), dw);
    for k in [0, 5, 50, 99] {
        assert_eq!(node(&g, &format!("x[{k}]")).adjoint(), dx[k]);
        assert_eq!(dx[k], w);
    }
    // Drawn with the first and last three iterations and one node for the 94 others.
    let dot = g.to_dot();
    assert!(dot.contains("… 94 more (iterations of i)"), "{dot}");
    let parsed = parse_dot(&dot);
    // w; three iterations at each end, each with x[k], w · x[k] and s[i=k]; the elision.
    assert_eq!(parsed.nodes.len(), 1 + 6 * 3 + 1, "{dot}");
    assert!(g.to_string().contains("… 94 more (iterations of i)"));
    check_svg(&g.to_svg());
}

/// A branch on a comparison of the parameters.
#[differentiate(reverse, graph)]
fn branch(x: f64, y: f64) -> f64 {
    let m = if x > y { x * y } else { x + 2.0 * y };
    m.sin()
}

#[test]
fn a_branch_shows_the_branch_taken() {
    // x > y: m = xy.
    let g = branch_graph(3.0, 2.0);
    assert_eq!(node(&g, "m").value(), 6.0);
    assert_eq!(g.local("x", "m"), Some(2.0));
    assert_eq!(g.local("y", "m"), Some(3.0));
    assert_eq!(node(&g, "x").adjoint(), 6.0_f64.cos() * 2.0);
    assert_eq!(node(&g, "y").adjoint(), 6.0_f64.cos() * 3.0);
    // x, y, x·y, sin: nothing of the other branch.
    assert_eq!(g.nodes().len(), 4, "{g}");
    // x ≤ y: m = x + 2y.
    let g = branch_graph(2.0, 3.0);
    assert_eq!(node(&g, "m").value(), 8.0);
    assert_eq!(g.local("x", "m"), Some(1.0));
    assert_eq!(g.local("y", "m"), None);
    let (_, dx, dy) = branch_grad(2.0, 3.0);
    assert_eq!((node(&g, "x").adjoint(), node(&g, "y").adjoint()), (dx, dy));
    assert_eq!(dy, 8.0_f64.cos() * 2.0);
}

/// A local array, a `while` inside a `for`, and a branch on a value computed in the loops.
#[differentiate(graph)]
fn nested(x: f64) -> f64 {
    let mut h = [0.0; 3];
    let mut p = 1.0;
    for i in 0..3 {
        h[i] = x * (i as f64);
        let mut k = 0;
        while k < 2 {
            p = p * h[i] + x;
            k += 1;
        }
    }
    if p > 1.0 { p.ln() } else { p }
}

#[test]
fn nested_loops_name_each_iteration_and_agree_with_finite_differences() {
    let x = 0.7;
    let g = nested_graph(x);
    assert_eq!(node(&g, "h[2][i=2]").value(), 2.0 * x);
    assert!(std::ptr::eq(node(&g, "h[2]"), node(&g, "h[2][i=2]")));
    // p after the second turn of the `while` in the last turn of the `for`.
    assert!(std::ptr::eq(node(&g, "p[i=2, #1]"), node(&g, "p")));
    assert_eq!(node(&g, "p").value(), nested(x).exp());
    assert_eq!(g.local("p", "nested"), Some(1.0 / node(&g, "p").value()));
    autodiff::check_gradient(|v| nested(v[0]), &[x], &[node(&g, "x").adjoint()])
        .expect("the adjoint agrees with finite differences");
    // The other branch: p ≤ 1 at x = 0.1 returns p itself.
    let g = nested_graph(0.1);
    assert!(std::ptr::eq(node(&g, "p"), node(&g, "nested")));
    autodiff::check_gradient(|v| nested(v[0]), &[0.1], &[node(&g, "x").adjoint()])
        .expect("the adjoint agrees with finite differences");
}

/// Parameters named like the generated code's own bindings.
#[differentiate(graph)]
fn clash(graph: f64, p0: f64, n1: f64, c0: f64) -> f64 {
    let i2 = graph * p0;
    i2 + n1 * c0
}

#[test]
fn parameters_keep_their_names_in_the_generated_code() {
    let g = clash_graph(2.0, 3.0, 5.0, 7.0);
    assert_eq!(node(&g, "clash").value(), 41.0);
    assert_eq!(
        ["graph", "p0", "n1", "c0"].map(|p| node(&g, p).adjoint()),
        [3.0, 2.0, 7.0, 5.0]
    );
}

/// A callee with its own derivative.
#[differentiate]
fn square(u: f64) -> f64 {
    u * u
}

/// A caller: the call is one node, its local derivative from `square_grad`.
#[differentiate(graph)]
fn caller(x: f64) -> f64 {
    let v = square(x);
    v.exp()
}

#[test]
fn a_call_is_one_node_with_the_callees_derivative() {
    let g = caller_graph(1.5);
    assert_eq!(node(&g, "v").value(), 2.25);
    assert_eq!(g.local("x", "v"), Some(3.0));
    assert_eq!(g.local("v", "caller"), Some(2.25_f64.exp()));
    assert_eq!(node(&g, "x").adjoint(), 2.25_f64.exp() * 3.0);
    assert_eq!(g.nodes().len(), 3);
}

/// Shadowing, several uses and several operations, in single precision.
#[differentiate(reverse, graph)]
fn mixed(x: f32, y: f32) -> f32 {
    let a = x.sin() * y;
    let a = a + x.exp() / y;
    a * a.tanh()
}

/// `mixed` in double precision.
#[differentiate(graph)]
fn wide(x: f64, y: f64) -> f64 {
    let a = x.sin() * y;
    let a = a + x.exp() / y;
    a * a.tanh()
}

#[test]
fn adjoints_agree_with_f_grad_and_finite_differences() {
    for (x, y) in [(0.3_f32, 1.7_f32), (-1.2, 0.4), (2.0, -0.9)] {
        let g = mixed_graph(x, y);
        let (value, dx, dy) = mixed_grad(x, y);
        assert_eq!(node(&g, "mixed").value(), f64::from(value));
        let (gx, gy) = (node(&g, "x").adjoint(), node(&g, "y").adjoint());
        // The graph sums in f64 what `mixed_grad` sums in f32.
        assert!(
            (gx - f64::from(dx)).abs() <= 1e-5 * gx.abs().max(1.0),
            "{gx} {dx}"
        );
        assert!(
            (gy - f64::from(dy)).abs() <= 1e-5 * gy.abs().max(1.0),
            "{gy} {dy}"
        );
        // `a` is the last binding of the shadowed name.
        let a = f64::from(x.sin() * y + x.exp() / y);
        assert_eq!(node(&g, "a").value(), a);
    }
    for p in [[0.3, 1.7], [-1.2, 0.4], [2.0, -0.9]] {
        let g = wide_graph(p[0], p[1]);
        let adjoints = [node(&g, "x").adjoint(), node(&g, "y").adjoint()];
        autodiff::check_gradient(|v| wide(v[0], v[1]), &p, &adjoints)
            .expect("the adjoints agree with finite differences");
    }
}

/// A cast to `f32` and back: the graph computes its adjoints in `f64`.
#[differentiate(reverse, graph)]
fn cast(x: f64, y: f64) -> f64 {
    f64::from((x as f32) * 2.0) * y
}

#[test]
fn casts_between_float_types_pass_the_derivative_through() {
    let g = cast_graph(0.7, -1.3);
    let (value, dx, dy) = cast_grad(0.7, -1.3);
    assert_eq!(g.output().value(), value);
    assert!((node(&g, "x").adjoint() - dx).abs() < 1e-6);
    assert_eq!(node(&g, "x").adjoint(), -2.6);
    assert_eq!(node(&g, "y").adjoint(), dy);
    let text = g.to_string();
    assert!(
        text.contains("cast = (x as f32 * 2.0) as f64 * y = "),
        "{text}"
    );
}

#[test]
fn code_is_the_generated_f_grad() {
    let code = f_graph(2.0, 3.0).code();
    assert!(
        code.contains("fn f_grad(x: f64, y: f64) -> (f64, f64, f64) {"),
        "{code}"
    );
    assert!(code.contains("\n    let a = x + y;\n"), "{code}");
    // It is f_grad: the same function compiles and returns the seed's numbers.
    assert_eq!(f_grad(2.0, 3.0), (15.0, 3.0, 8.0));
}

#[test]
fn the_dot_parses_with_one_node_per_graph_node() {
    for g in [
        seed_graph(2.0, 3.0),
        f_graph(2.0, 3.0),
        neuron_graph(2.0, 0.5, 0.1, 1.0),
        branch_graph(3.0, 2.0),
        caller_graph(1.5),
        dot_graph(&[1.0, 2.0, 3.0], 0.5),
    ] {
        let dot = g.to_dot();
        let parsed = parse_dot(&dot);
        assert_eq!(parsed.nodes.len(), g.nodes().len(), "{dot}");
        for n in g.nodes() {
            assert!(
                parsed
                    .nodes
                    .iter()
                    .any(|(_, l)| shows(l, "value = ", n.value())
                        && shows(l, "adjoint = ", n.adjoint())),
                "no node with value {} and adjoint {} in {dot}",
                n.value(),
                n.adjoint()
            );
        }
        for (a, b, _) in &parsed.edges {
            assert!(parsed.nodes.iter().any(|(id, _)| id == a));
            assert!(parsed.nodes.iter().any(|(id, _)| id == b));
        }
    }
}

#[test]
fn the_svg_is_well_formed() {
    for g in [
        seed_graph(2.0, 3.0),
        f_graph(2.0, 3.0),
        neuron_graph(2.0, 0.5, 0.1, 1.0),
        branch_graph(3.0, 2.0),
    ] {
        let svg = g.to_svg();
        check_svg(&svg);
        for n in g.nodes() {
            assert!(shows(&svg, "value   ", n.value()), "{svg}");
            assert!(shows(&svg, "adjoint ", n.adjoint()), "{svg}");
        }
    }
}

/// Whether some `prefix<number>` in `text` is `v` to the six digits drawings print.
fn shows(text: &str, prefix: &str, v: f64) -> bool {
    text.match_indices(prefix).any(|(i, _)| {
        let number: String = text[i + prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | 'e'))
            .collect();
        number
            .parse::<f64>()
            .is_ok_and(|shown| (shown - v).abs() <= 1e-5 * v.abs().max(1e-300))
    })
}

struct Dot {
    nodes: Vec<(String, String)>,
    edges: Vec<(String, String, Option<String>)>,
}

/// A parser for the DOT `to_dot` writes: `digraph name { stmt; ... }`, where a statement is a
/// graph attribute (`rankdir=LR`), a default (`node [...]`), a node `id [attrs]` or an edge
/// `id -> id [attrs]`, attributes `key=value` or `key="quoted"`.
fn parse_dot(dot: &str) -> Dot {
    let body = dot.trim().strip_prefix("digraph ").expect("a digraph");
    let open = body.find('{').expect("a body");
    assert!(body.ends_with('}'), "the body is closed");
    let body = &body[open + 1..body.len() - 1];
    // Split into statements at `;` outside quotes.
    let mut stmts = Vec::new();
    let (mut current, mut quoted, mut escaped) = (String::new(), false, false);
    for c in body.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            stmts.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    assert!(!quoted, "quotes are balanced");
    assert!(current.trim().is_empty(), "every statement ends with `;`");
    let mut parsed = Dot {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    for stmt in stmts {
        let stmt = stmt.trim();
        let (head, attrs) = match stmt.find('[') {
            Some(i) => {
                assert!(stmt.ends_with(']'), "attributes are closed: {stmt}");
                (stmt[..i].trim(), attributes(&stmt[i + 1..stmt.len() - 1]))
            }
            None => (stmt, Vec::new()),
        };
        let label = attrs
            .iter()
            .find(|(k, _)| k == "label")
            .map(|(_, v)| v.clone());
        if let Some((a, b)) = head.split_once("->") {
            parsed
                .edges
                .push((a.trim().to_owned(), b.trim().to_owned(), label));
        } else if !(head.contains('=') || head == "node" || head == "edge") {
            assert!(
                head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "a node id: {head}"
            );
            parsed
                .nodes
                .push((head.to_owned(), label.expect("every node has a label")));
        }
    }
    parsed
}

fn attributes(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').expect("key=value");
        let key = rest[..eq].trim().to_owned();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.expect("a closing quote");
            value = quoted[..end].to_owned();
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        out.push((key, value));
    }
    out
}

/// Checks that `svg` is well-formed XML with an `<svg>` root: tags nest and close, attribute
/// values are quoted, and `&` only starts one of XML's entities.
fn check_svg(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg.trim();
    let mut roots = 0;
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>').expect("a closed tag");
            let inner = &tag[..end];
            rest = &tag[end + 1..];
            if let Some(name) = inner.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.trim()), "tags nest");
                continue;
            }
            let self_closing = inner.ends_with('/');
            let inner = inner.trim_end_matches('/');
            let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
            let name = &inner[..name_end];
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()),
                "a tag name: {name}"
            );
            if stack.is_empty() {
                roots += 1;
                assert_eq!(name, "svg", "the root is <svg>");
                assert!(inner.contains("xmlns=\"http://www.w3.org/2000/svg\""));
            }
            // Attributes: name="value", values without `<` or bare `&`.
            let mut attrs = inner[name_end..].trim();
            while !attrs.is_empty() {
                let eq = attrs.find("=\"").expect("a quoted attribute");
                let key = attrs[..eq].trim();
                assert!(
                    key.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                    "an attribute name: {key}"
                );
                let value_end = attrs[eq + 2..].find('"').expect("a closing quote");
                check_text(&attrs[eq + 2..eq + 2 + value_end]);
                attrs = attrs[eq + 2 + value_end + 1..].trim_start();
            }
            if !self_closing {
                stack.push(name.to_owned());
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            assert!(
                !stack.is_empty() || rest[..end].trim().is_empty(),
                "text outside the root"
            );
            check_text(&rest[..end]);
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "every tag is closed: {stack:?}");
    assert_eq!(roots, 1);
}

fn check_text(text: &str) {
    assert!(!text.contains('<'));
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "a bare `&` in {text}"
        );
    }
}

/// One function per given row of the rule table, each with its graph and `f_grad`.
macro_rules! rows {
    ($($name:ident, $graph:ident, $grad:ident at ($x:literal, $y:literal): |$p:ident, $q:ident| $body:expr;)*) => {
        $(
            #[differentiate(reverse, graph)]
            fn $name($p: f64, $q: f64) -> f64 {
                $body
            }
        )*

        #[test]
        fn every_row_gives_the_edges_of_its_node() {
            $({
                let (x, y) = ($x, $y);
                let g = $graph(x, y);
                let (value, dx, dy) = $grad(x, y);
                let adjoint = |p: &str| g.node(p).map_or(0.0, autodiff::GraphNode::adjoint);
                let adjoints = [adjoint("x"), adjoint("y")];
                assert_eq!(g.output().value(), value, stringify!($name));
                // The partials of the compile-time backward sweep, and of finite differences.
                assert_eq!(adjoints, [dx, dy], "{}\n{g}", stringify!($name));
                autodiff::check_gradient(|v| $name(v[0], v[1]), &[x, y], &adjoints)
                    .unwrap_or_else(|e| panic!("{}: {e}", stringify!($name)));
            })*
        }
    };
}

rows! {
    sub, sub_graph, sub_grad at (0.7, -1.3): |x, y| x - y * y;
    div, div_graph, div_grad at (0.7, -1.3): |x, y| x / y;
    neg, neg_graph, neg_grad at (0.7, -1.3): |x, y| -x * y;
    exp, exp_graph, exp_grad at (0.7, -1.3): |x, y| x.exp() + y.exp2() + y.exp_m1();
    logs, logs_graph, logs_grad at (0.7, 1.3): |x, y| x.ln() + y.log2() + x.log10() + x.ln_1p() + x.log(y);
    powers, powers_graph, powers_grad at (0.7, 1.3): |x, y| x.sqrt() + y.cbrt() + x.powi(3) + x.powf(y) + y.recip();
    trig, trig_graph, trig_grad at (0.7, 0.3): |x, y| x.sin() * y.cos() + x.tan() + y.asin() + y.acos() + x.atan();
    atan2, atan2_graph, atan2_grad at (0.7, -1.3): |x, y| y.atan2(x) + x.hypot(y);
    hyperbolic, hyperbolic_graph, hyperbolic_grad at (0.7, 1.3): |x, y| x.sinh() + y.cosh() + x.tanh() + x.asinh() + y.acosh() + (x / 2.0).atanh();
    kinks, kinks_graph, kinks_grad at (0.7, -1.3): |x, y| y.abs() + x.max(y) + x.min(y) + x.clamp(y, 2.0) + x.fract();
    flat, flat_graph, flat_grad at (0.7, -1.3): |x, y| x.signum() + y.floor() * x + x.ceil() + y.round() + x.trunc();
    fused, fused_graph, fused_grad at (0.7, -1.3): |x, y| x.mul_add(y, x) + x.to_radians() + y.to_degrees();
    runtime, runtime_graph, runtime_grad at (0.7, -1.3): |x, y| sigmoid(x) + relu(x) + softplus(y);
}

#[test]
fn code_of_a_loop_is_laid_out() {
    let code = dot_graph(&[1.0], 2.0).code();
    assert!(
        code.contains("\n    for i in 0..x.len() {\n        "),
        "{code}"
    );
    assert!(code.contains("\n}\n\n/// The value of [`dot`]"), "{code}");
}

/// A helper that takes an array: Σ vₖ², with ∂/∂vₖ = 2vₖ.
#[differentiate(reverse)]
fn sumsq(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// A helper with an array and a scalar: k · Σ vₖ², with ∂/∂vₖ = 2k·vₖ and ∂/∂k = Σ vₖ².
#[differentiate(reverse)]
fn scaled_sumsq(v: &[f64], k: f64) -> f64 {
    k * sumsq(v)
}

/// An array parameter passed whole to a call, and read otherwise:
/// c · Σ xₖ² + x₁ x₂.
#[differentiate(reverse, graph)]
fn whole(x: [f64; 3], c: f64) -> f64 {
    let q = sumsq(&x);
    q * c + x[1] * x[2]
}

/// A slice parameter passed whole and in part, with a scalar beside the part:
/// c · Σ xₖ² + x₀ (x₁² + x₂²).
#[differentiate(reverse, graph)]
fn sliced(x: &[f64], c: f64) -> f64 {
    let q = sumsq(x);
    let r = scaled_sumsq(&x[1..3], x[0]);
    q * c + r
}

#[test]
fn an_array_passed_to_a_call_has_an_edge_from_each_element() {
    let (x, c) = ([0.5, -1.5, 2.0], 0.75);
    let g = whole_graph(x, c);
    let (value, dx, dc) = whole_grad(x, c);
    assert_eq!(node(&g, "whole").value(), value);
    assert_eq!(node(&g, "q").value(), 0.25 + 2.25 + 4.0);
    // ∂/∂x₀ = 2c x₀, ∂/∂x₁ = 2c x₁ + x₂, ∂/∂x₂ = 2c x₂ + x₁, ∂/∂c = Σ xₖ².
    let closed = [2.0 * c * x[0], 2.0 * c * x[1] + x[2], 2.0 * c * x[2] + x[1]];
    for k in 0..3 {
        let adjoint = node(&g, &format!("x[{k}]")).adjoint();
        assert_eq!(adjoint, dx[k], "x[{k}]\n{g}");
        assert_eq!(adjoint, closed[k], "x[{k}]\n{g}");
        // ∂sumsq/∂v[k] = 2 v[k], from `sumsq_grad`.
        assert_eq!(g.local(&format!("x[{k}]"), "q"), Some(2.0 * x[k]));
    }
    assert_eq!(node(&g, "c").adjoint(), dc);
    assert_eq!(dc, 6.5);
    assert_eq!(g.local("x[1]", "q"), Some(-3.0));
    assert_eq!(g.local("q", "whole"), None);
    // c, x[0..3], the call, q · c, x₁ x₂ and the sum.
    assert_eq!(g.nodes().len(), 1 + 3 + 1 + 3, "{g}");
    let dot = g.to_dot();
    let parsed = parse_dot(&dot);
    assert_eq!(parsed.nodes.len(), g.nodes().len(), "{dot}");
    check_svg(&g.to_svg());

    let (x, c) = ([0.5, -1.5, 2.0, 3.0], 0.75);
    let g = sliced_graph(&x, c);
    let (value, dx, dc) = sliced_grad(&x, c);
    assert_eq!(node(&g, "sliced").value(), value);
    let part = x[1] * x[1] + x[2] * x[2];
    // ∂/∂x₀ = 2c x₀ + x₁² + x₂², ∂/∂x₁ = 2c x₁ + 2x₀ x₁, ∂/∂x₂ = 2c x₂ + 2x₀ x₂, ∂/∂x₃ = 2c x₃.
    let closed = [
        2.0 * c * x[0] + part,
        2.0 * c * x[1] + 2.0 * x[0] * x[1],
        2.0 * c * x[2] + 2.0 * x[0] * x[2],
        2.0 * c * x[3],
    ];
    for k in 0..4 {
        let adjoint = node(&g, &format!("x[{k}]")).adjoint();
        assert_eq!(adjoint, dx[k], "x[{k}]\n{g}");
        assert_eq!(adjoint, closed[k], "x[{k}]\n{g}");
        assert_eq!(g.local(&format!("x[{k}]"), "q"), Some(2.0 * x[k]));
    }
    assert_eq!(node(&g, "c").adjoint(), dc);
    // The part x[1..3]: ∂r/∂x[k] = 2 x₀ x[k]; the scalar x₀ beside it: ∂r/∂x₀ = x₁² + x₂².
    assert_eq!(g.local("x[1]", "r"), Some(2.0 * x[0] * x[1]));
    assert_eq!(g.local("x[2]", "r"), Some(2.0 * x[0] * x[2]));
    assert_eq!(g.local("x[0]", "r"), Some(part));
    assert_eq!(g.local("x[3]", "r"), None);
}

/// A local array of values computed from the parameters, passed whole: (ab)² + (a + b)².
#[differentiate(reverse, graph)]
fn local_array(a: f64, b: f64) -> f64 {
    let mut h = [0.0; 2];
    h[0] = a * b;
    h[1] = a + b;
    let s = sumsq(&h);
    s
}

#[test]
fn a_local_array_passed_to_a_call_has_an_edge_from_each_element() {
    let (a, b) = (1.5, -0.5);
    let g = local_array_graph(a, b);
    let (value, da, db) = local_array_grad(a, b);
    assert_eq!(node(&g, "s").value(), value);
    // ∂/∂a = 2ab · b + 2(a + b), ∂/∂b = 2ab · a + 2(a + b).
    assert_eq!(node(&g, "a").adjoint(), 2.0 * a * b * b + 2.0 * (a + b));
    assert_eq!(node(&g, "b").adjoint(), 2.0 * a * b * a + 2.0 * (a + b));
    assert_eq!((node(&g, "a").adjoint(), node(&g, "b").adjoint()), (da, db));
    assert_eq!(g.local("h[0]", "s"), Some(2.0 * a * b));
    assert_eq!(g.local("h[1]", "s"), Some(2.0 * (a + b)));
    assert_eq!(node(&g, "h[0]").adjoint(), 2.0 * a * b);
}

/// A call in a loop on a local array overwritten by each iteration:
/// Σᵢ ((i + 1)² x₀² + c² x₁²) = 14 x₀² + 3 c² x₁².
#[differentiate(reverse, graph)]
fn call_in_loop(x: [f64; 2], c: f64) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..3 {
        h[0] = x[0] * f64::from(i + 1);
        h[1] = x[1] * c;
        let q = sumsq(&h);
        s += q;
    }
    s
}

#[test]
fn a_call_in_a_loop_has_edges_from_the_elements_of_its_iteration() {
    let (x, c) = ([0.5, -1.5], 0.75);
    let g = call_in_loop_graph(x, c);
    let (value, dx, dc) = call_in_loop_grad(x, c);
    assert_eq!(node(&g, "s").value(), value);
    let closed = [28.0 * x[0], 6.0 * c * c * x[1]];
    for k in 0..2 {
        let adjoint = node(&g, &format!("x[{k}]")).adjoint();
        assert_eq!(adjoint, dx[k], "x[{k}]\n{g}");
        assert_eq!(adjoint, closed[k], "x[{k}]\n{g}");
    }
    assert_eq!(node(&g, "c").adjoint(), dc);
    assert_eq!(dc, 6.0 * c * x[1] * x[1]);
    // Each iteration's call uses that iteration's elements: ∂q/∂h₀ = 2 (i + 1) x₀.
    for i in 0..3 {
        let q = format!("q[i={i}]");
        let h0 = format!("h[0][i={i}]");
        assert_eq!(g.local(&h0, &q), Some(2.0 * (f64::from(i) + 1.0) * x[0]));
        assert_eq!(node(&g, &h0).adjoint(), 2.0 * (f64::from(i) + 1.0) * x[0]);
    }
    assert_eq!(g.local("h[0][i=0]", "q[i=1]"), None);
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// A run-time buffer `vec![0.0; n]`, stored into in a loop and read through iterator chains:
/// with sₖ = sin xₖ, f = Σ sₖ² + Σ sₖ sₖ₊₁ + n, so ∂f/∂xₖ = (2sₖ + sₖ₋₁ + sₖ₊₁) cos xₖ.
#[differentiate(reverse, graph)]
fn buffer_chain(x: &[f64]) -> f64 {
    let mut h = vec![0.0; x.len()];
    for (i, v) in x.iter().enumerate() {
        h[i] = v.sin();
    }
    let ends = h.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
    h.iter().map(|v| v * v).sum::<f64>() + ends + h.len() as f64
}

/// A buffer declared in a loop, of a length that changes with each iteration, and one of the
/// input's length: f = c² Σ_{k<m} Σ_{j≤k} xⱼ² + c Σⱼ xⱼ.
#[differentiate(reverse, graph)]
fn buffer_in_loop(x: &[f64], c: f64, m: usize) -> f64 {
    let mut s = 0.0;
    for k in 0..m {
        let mut t = vec![0.0; k + 1];
        for j in 0..=k {
            t[j] = x[j] * c;
        }
        for j in 0..t.len() {
            s += t[j] * t[j];
        }
    }
    let mut u = vec![0.0; x.len()];
    for j in 0..u.len() {
        u[j] = x[j] * c;
    }
    for j in 0..u.len() {
        s += u[j];
    }
    s
}

#[test]
fn a_run_time_buffer_is_drawn_element_by_element() {
    let x = [0.5, -1.0, 2.0, 1.5];
    let g = buffer_chain_graph(&x);
    let (value, dx) = buffer_chain_grad(&x);
    assert_eq!(node(&g, "buffer_chain").value(), value);
    let s: Vec<f64> = x.iter().map(|v| v.sin()).collect();
    for k in 0..4 {
        let left = if k > 0 { s[k - 1] } else { 0.0 };
        let right = if k < 3 { s[k + 1] } else { 0.0 };
        let closed = (2.0 * s[k] + left + right) * x[k].cos();
        let adjoint = node(&g, &format!("x[{k}]")).adjoint();
        // The graph sums the same terms as `f_grad` in another order.
        assert_close(&format!("x[{k}] against f_grad"), adjoint, dx[k]);
        assert_close(&format!("x[{k}] against the closed form"), adjoint, closed);
        // Each element of the buffer is the node stored in it: hₖ = sin xₖ.
        let h = format!("h[{k}]");
        assert_eq!(node(&g, &h).value(), s[k]);
        assert_eq!(g.local(&format!("x[{k}]"), &h), Some(x[k].cos()));
    }
    check_svg(&g.to_svg());

    // f = Σ_{k<m} Σ_{j≤k} c² xⱼ² + c Σⱼ xⱼ: ∂f/∂xⱼ = 2c² xⱼ (m − j) + c for j < m, and c past m;
    // ∂f/∂c = 2c Σ_{k<m} Σ_{j≤k} xⱼ² + Σⱼ xⱼ.
    let (x, c, m) = ([0.5, -1.25, 2.0, 0.75], 0.3, 3);
    let g = buffer_in_loop_graph(&x, c, m);
    let (value, dx, dc) = buffer_in_loop_grad(&x, c, m);
    assert_eq!(node(&g, "buffer_in_loop").value(), value);
    for j in 0..4 {
        let inside = if j < m { (m - j) as f64 } else { 0.0 };
        let closed = 2.0 * c * c * x[j] * inside + c;
        let adjoint = node(&g, &format!("x[{j}]")).adjoint();
        assert_close(&format!("x[{j}] against f_grad"), adjoint, dx[j]);
        assert_close(&format!("x[{j}] against the closed form"), adjoint, closed);
    }
    let squares: f64 = (0..m)
        .map(|k| (0..=k).map(|j| x[j] * x[j]).sum::<f64>())
        .sum();
    let closed = 2.0 * c * squares + x.iter().sum::<f64>();
    assert_close("c against f_grad", node(&g, "c").adjoint(), dc);
    assert_close("c against the closed form", node(&g, "c").adjoint(), closed);
    // The buffer of the second iteration, element 1: x₁ c.
    assert_eq!(node(&g, "t[1][k=1, j=1]").value(), x[1] * c);
}

/// `out = a − b`: a helper that writes into a buffer.
#[differentiate(reverse)]
fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

/// `out = s · sin(x)`: a helper with a scalar input.
#[differentiate(reverse)]
fn scale_sin(x: &[f64], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = s * x[i].sin();
    }
}

/// Helpers chained through local buffers: with dᵢ = xᵢ − μᵢ, f = Σ (w sin dᵢ)², so
/// ∂f/∂xᵢ = w² sin 2dᵢ = −∂f/∂μᵢ and ∂f/∂w = 2w Σ sin² dᵢ.
#[differentiate(reverse, graph)]
fn helpers(x: &[f64], mu: &[f64], w: f64) -> f64 {
    let mut c = vec![0.0; x.len()];
    subtract(x, mu, &mut c);
    let mut y = [0.0; 3];
    scale_sin(&c, w, &mut y);
    let mut s = 0.0;
    for i in 0..y.len() {
        s += y[i] * y[i];
    }
    s
}

/// A helper called in a loop on a buffer declared in it, as a mixture model's objective does:
/// with rows rᵢ of `x`, f = Σᵢ Σⱼ (rᵢⱼ − μⱼ)² dⱼ.
#[differentiate(reverse, graph, wrt(x, mu))]
fn helper_in_loop(x: &[f64], mu: &[f64], data: &[f64]) -> f64 {
    let d = mu.len();
    let mut centred = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..x.len() / d {
        let mut row = vec![0.0; d];
        for j in 0..d {
            row[j] = x[i * d + j];
        }
        subtract(&row, mu, &mut centred);
        for j in 0..d {
            total += centred[j] * centred[j] * data[j];
        }
    }
    total
}

#[test]
fn a_call_that_writes_into_a_buffer_draws_a_node_per_element() {
    let (x, mu, w) = ([0.5, -1.0, 2.0], [0.25, 0.5, -0.75], 0.8);
    let g = helpers_graph(&x, &mu, w);
    let (value, dx, dmu, dw) = helpers_grad(&x, &mu, w);
    assert_eq!(node(&g, "helpers").value(), value);
    let d: Vec<f64> = (0..3).map(|i| x[i] - mu[i]).collect();
    for i in 0..3 {
        let closed = w * w * (2.0 * d[i]).sin();
        let (ax, am) = (
            node(&g, &format!("x[{i}]")).adjoint(),
            node(&g, &format!("mu[{i}]")).adjoint(),
        );
        assert_close(&format!("x[{i}] against f_grad"), ax, dx[i]);
        assert_close(&format!("x[{i}] against the closed form"), ax, closed);
        assert_close(&format!("mu[{i}] against f_grad"), am, dmu[i]);
        assert_close(&format!("mu[{i}] against the closed form"), am, -closed);
        // Each element the helper wrote is a node, with row i of its Jacobian on its edges.
        let (c, y) = (format!("c[{i}]"), format!("y[{i}]"));
        assert_eq!(node(&g, &c).value(), d[i]);
        assert_eq!(node(&g, &c).op(), "subtract");
        assert_eq!(g.local(&format!("x[{i}]"), &c), Some(1.0));
        assert_eq!(g.local(&format!("mu[{i}]"), &c), Some(-1.0));
        assert_eq!(g.local(&c, &y), Some(w * d[i].cos()));
        assert_eq!(g.local("w", &y), Some(d[i].sin()));
    }
    // An element the helper's output does not depend on has no edge to it.
    assert_eq!(g.local("x[0]", "c[1]"), None);
    assert_eq!(g.local("c[0]", "y[1]"), None);
    let closed = 2.0 * w * d.iter().map(|d| d.sin().powi(2)).sum::<f64>();
    assert_close("w against f_grad", node(&g, "w").adjoint(), dw);
    assert_close("w against the closed form", node(&g, "w").adjoint(), closed);
    assert!(
        g.to_string().contains("c[0] = subtract(&x, &mu, &mut c)"),
        "{g}"
    );
    check_svg(&g.to_svg());

    let (x, mu, data) = ([1.0, 2.0, 0.5, -1.0], [0.5, 0.25], [1.0, 3.0]);
    let g = helper_in_loop_graph(&x, &mu, &data);
    let (value, dx, dmu) = helper_in_loop_grad(&x, &mu, &data);
    assert_eq!(node(&g, "helper_in_loop").value(), value);
    let mut closed_mu = [0.0; 2];
    for i in 0..2 {
        for j in 0..2 {
            let closed = 2.0 * (x[i * 2 + j] - mu[j]) * data[j];
            let adjoint = node(&g, &format!("x[{}]", i * 2 + j)).adjoint();
            assert_close("x against f_grad", adjoint, dx[i * 2 + j]);
            assert_close("x against the closed form", adjoint, closed);
            closed_mu[j] -= closed;
        }
    }
    for j in 0..2 {
        let adjoint = node(&g, &format!("mu[{j}]")).adjoint();
        assert_close("mu against f_grad", adjoint, dmu[j]);
        assert_close("mu against the closed form", adjoint, closed_mu[j]);
    }
    // Each iteration's call writes its own nodes.
    assert_eq!(node(&g, "centred[1][i=1]").value(), x[3] - mu[1]);
    assert_eq!(g.local("row[1][i=1, j=1]", "centred[1][i=1]"), Some(1.0));
}

/// A `mut` array parameter copied whole before it is written: the copy keeps the values (and
/// nodes) the parameter held. f = x₀² + x₁² + c x₀, so ∂f/∂x₀ = 2x₀ + c, ∂f/∂x₁ = 2x₁,
/// ∂f/∂c = x₀.
#[differentiate(reverse, graph)]
fn copied_then_written(mut x: [f64; 2], c: f64) -> f64 {
    let h = x;
    x[0] = c;
    let q = sumsq(&h);
    q + x[0] * h[0]
}

/// A local array copied whole, then written: the copy keeps its elements' nodes.
/// f = (a b)² + (a + b)² + a, so ∂f/∂a = 2ab² + 2(a + b) + 1, ∂f/∂b = 2a²b + 2(a + b).
#[differentiate(reverse, graph)]
fn local_copied(a: f64, b: f64) -> f64 {
    let mut h = [0.0; 2];
    h[0] = a * b;
    h[1] = a + b;
    let k = h;
    h[0] = a;
    let s = sumsq(&k);
    s + h[0]
}

#[test]
fn a_whole_array_copy_keeps_the_nodes_of_its_elements() {
    let (x, c) = ([0.5, -1.5], 3.0);
    assert_eq!(copied_then_written(x, c), 0.25 + 2.25 + c * 0.5);
    let (value, dx, dc) = copied_then_written_grad(x, c);
    assert_eq!(value, copied_then_written(x, c));
    assert_eq!(dx, [2.0 * x[0] + c, 2.0 * x[1]]);
    assert_eq!(dc, x[0]);
    let g = copied_then_written_graph(x, c);
    assert_eq!(node(&g, "copied_then_written").value(), value);
    assert_eq!(node(&g, "x[0]").adjoint(), dx[0]);
    assert_eq!(node(&g, "x[1]").adjoint(), dx[1]);
    assert_eq!(node(&g, "c").adjoint(), dc);
    // The call reads the copy: its edges come from the parameter's elements.
    assert_eq!(g.local("x[0]", "q"), Some(2.0 * x[0]));
    assert_eq!(g.local("x[1]", "q"), Some(2.0 * x[1]));
    assert_eq!(g.local("c", "q"), None);

    let (a, b) = (1.5, -0.5);
    let g = local_copied_graph(a, b);
    let (value, da, db) = local_copied_grad(a, b);
    assert_eq!(node(&g, "local_copied").value(), value);
    assert_eq!(value, local_copied(a, b));
    assert_eq!(node(&g, "a").adjoint(), da);
    assert_eq!(node(&g, "b").adjoint(), db);
    assert_eq!(da, 2.0 * a * b * b + 2.0 * (a + b) + 1.0);
    assert_eq!(db, 2.0 * a * a * b + 2.0 * (a + b));
    assert_eq!(g.local("k[0]", "s"), Some(2.0 * a * b));
}

/// Parameters the body writes keep their names: `x` is the parameter, whose adjoint is
/// `f_grad`'s entry. f = x⁴ + 1 + 2y₀ + y₁.
#[differentiate(reverse, graph)]
fn written_parameter(mut x: f64, mut y: [f64; 2]) -> f64 {
    x = x * x;
    y[0] *= 2.0;
    x * x + 1.0 + y[0] + y[1]
}

#[test]
fn a_parameter_the_body_writes_keeps_its_name() {
    let (x, y) = (0.75, [0.5, -2.0]);
    let g = written_parameter_graph(x, y);
    let (value, dx, dy) = written_parameter_grad(x, y);
    assert_eq!(node(&g, "written_parameter").value(), value);
    assert!(node(&g, "x").is_parameter());
    assert_eq!(node(&g, "x").value(), x);
    assert_eq!(node(&g, "x").adjoint(), dx);
    assert_eq!(dx, 4.0 * x * x * x);
    assert!(node(&g, "y[0]").is_parameter());
    assert_eq!(node(&g, "y[0]").adjoint(), dy[0]);
    assert_eq!(dy, [2.0, 1.0]);
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Params {
    a: f64,
    w: Vec<f64>,
    degree: usize,
}

/// A struct named in `wrt`: f = a sin x + Σ_{i<degree} wᵢ xⁱ, so ∂f/∂a = sin x, ∂f/∂wᵢ = xⁱ
/// (0 past the degree) and ∂f/∂x = a cos x + Σ i wᵢ xⁱ⁻¹.
#[differentiate(reverse, graph, wrt(p, x))]
fn poly(p: &Params, x: f64) -> f64 {
    let mut s = p.a * x.sin();
    let mut power = 1.0;
    for i in 0..p.degree {
        s += p.w[i] * power;
        power *= x;
    }
    s
}

impl Params {
    /// `wrt(self)`, by Horner's rule: for w = (w₀, w₁), f = a x² + w₀ x + w₁, so ∂f/∂a = x²,
    /// ∂f/∂w₀ = x, ∂f/∂w₁ = 1.
    #[differentiate(reverse, graph, wrt(self))]
    fn horner(&self, x: f64) -> f64 {
        let mut s = self.a;
        for i in 0..self.w.len() {
            s = s * x + self.w[i];
        }
        s
    }
}

#[test]
fn the_fields_of_a_struct_are_parameter_nodes() {
    let p = Params {
        a: 1.5,
        w: vec![0.25, -1.0, 2.0, 7.0],
        degree: 3,
    };
    let x = 0.7;
    let g = poly_graph(&p, x);
    let (value, dp, dx) = poly_grad(&p, x);
    assert_eq!(node(&g, "poly").value(), value);
    assert!(node(&g, "p.a").is_parameter());
    assert_eq!(node(&g, "p.a").value(), p.a);
    assert_eq!(node(&g, "p.a").adjoint(), dp.a);
    assert_close("p.a", dp.a, x.sin());
    for i in 0..3 {
        let w = node(&g, &format!("p.w[{i}]"));
        assert!(w.is_parameter());
        assert_eq!(w.adjoint(), dp.w[i]);
        assert_close("p.w", w.adjoint(), x.powi(i32::try_from(i).unwrap()));
    }
    // Past the degree, the body never reads the element: no node, and no derivative.
    assert!(g.node("p.w[3]").is_none());
    assert_eq!(dp.w[3], 0.0);
    assert_close("x against f_grad", node(&g, "x").adjoint(), dx);
    assert_close(
        "x against the closed form",
        node(&g, "x").adjoint(),
        p.a * x.cos() + p.w[1] + 2.0 * p.w[2] * x,
    );
    assert!(g.to_string().contains("p.a * x.sin()"), "{g}");

    let q = Params {
        a: 0.5,
        w: vec![-1.5, 2.0],
        degree: 0,
    };
    let g = q.horner_graph(x);
    let (value, dq) = q.horner_grad(x);
    assert_eq!(node(&g, "horner").value(), value);
    assert_eq!(node(&g, "self.a").adjoint(), dq.a);
    assert_eq!(node(&g, "self.w[0]").adjoint(), dq.w[0]);
    assert_eq!(node(&g, "self.w[1]").adjoint(), dq.w[1]);
    assert_eq!((dq.a, dq.w[0], dq.w[1]), (x * x, x, 1.0));
}

mod generic {
    use autodiff::differentiate;
    use autodiff::num_traits::Float;

    /// A function generic over `T: Float`: f = √(x² + 1) + Σᵢ (wᵢ x − ½)².
    #[differentiate(reverse, graph)]
    pub fn loss<T: Float>(x: T, w: &[T]) -> T {
        let half = T::from(0.5).unwrap();
        let mut s = (x * x + T::one()).sqrt();
        for i in 0..w.len() {
            let e = w[i] * x - half;
            s = s + e * e;
        }
        s
    }
}

#[test]
fn a_generic_function_is_drawn_at_each_float_type() {
    let (x, w) = (0.8, [0.5, -1.5, 2.0]);
    let g = generic::loss_graph(x, &w);
    let (value, dx, dw) = generic::loss_grad(x, &w);
    assert_eq!(node(&g, "loss").value(), value);
    assert_close("x against f_grad", node(&g, "x").adjoint(), dx);
    let closed =
        x / (x * x + 1.0).sqrt() + w.iter().map(|&wi| 2.0 * (wi * x - 0.5) * wi).sum::<f64>();
    assert_close("x against the closed form", node(&g, "x").adjoint(), closed);
    for i in 0..3 {
        let adjoint = node(&g, &format!("w[{i}]")).adjoint();
        assert_close("w against f_grad", adjoint, dw[i]);
        assert_close(
            "w against the closed form",
            adjoint,
            2.0 * (w[i] * x - 0.5) * x,
        );
    }

    let (x, w) = (0.8_f32, [0.5_f32, -1.5, 2.0]);
    let g = generic::loss_graph(x, &w);
    let (value, dx, dw) = generic::loss_grad(x, &w);
    // An `f32` function's values are widened: exactly.
    assert_eq!(node(&g, "loss").value(), f64::from(value));
    assert!((node(&g, "x").adjoint() - f64::from(dx)).abs() <= 1e-5);
    for i in 0..3 {
        assert!((node(&g, &format!("w[{i}]")).adjoint() - f64::from(dw[i])).abs() <= 1e-5);
    }
}

/// A method called on a value built from literals alone, as the user names its type.
#[differentiate(reverse, graph)]
fn literal_receiver(x: f64) -> f64 {
    x * f64::abs(if x > 0.0 { 2.0 } else { -1.0 })
        + x * f64::powi(if x > 1.0 { 3.0 } else { 0.5 }, 2)
}

#[test]
fn a_method_on_literals_is_drawn() {
    for (x, slope) in [(2.0, 2.0 + 9.0), (0.5, 2.0 + 0.25), (-3.0, 1.0 + 0.25)] {
        let g = literal_receiver_graph(x);
        assert_eq!(node(&g, "x").adjoint(), literal_receiver_grad(x).1);
        assert_eq!(node(&g, "x").adjoint(), slope);
    }
}

/// A loop over a variable that starts as an unsuffixed literal, through `f64::max` and
/// `f64::sqrt` by path: the graph's code types it. f = √(m + 1) · y with m = max(x, 0) + 0.3
/// after three steps (x > 0.1 here: m = x + 0.3).
#[differentiate(reverse, graph)]
fn running_maximum(x: f64, y: f64) -> f64 {
    let mut m = 0.0;
    for _ in 0..3 {
        m = f64::max(m, x) + 0.1;
    }
    f64::sqrt(m + 1.0) * y
}

#[test]
fn a_loop_over_a_literal_start_is_drawn() {
    let (x, y) = (0.5_f64, 2.0_f64);
    let graph = running_maximum_graph(x, y);
    let (value, dx, dy) = running_maximum_grad(x, y);
    let r = (x + 0.3 + 1.0).sqrt();
    assert!((value - r * y).abs() < 1e-15);
    assert!((dx - y / (2.0 * r)).abs() < 1e-15 && (dy - r).abs() < 1e-15);
    let adjoint = |name: &str| graph.node(name).map(autodiff::GraphNode::adjoint);
    assert_eq!(adjoint("x"), Some(dx));
    assert_eq!(adjoint("y"), Some(dy));
}

/// `x.powi(k)` with `k: i32` in an `f32` function: the local derivative `k x^(k-1)` converts
/// the exponent to `f32`.
#[differentiate(graph)]
fn powi_f32(x: f32, k: i32) -> f32 {
    x.powi(k)
}

/// The same with a loop index as the exponent: Σ_{i<3} xⁱ.
#[differentiate(graph)]
fn powi_f32_loop(x: f32) -> f32 {
    let mut s = 0.0;
    for i in 0..3 {
        s += x.powi(i);
    }
    s
}

#[test]
fn an_f32_powi_with_an_integer_exponent_is_drawn() {
    let g = powi_f32_graph(2.0, 3);
    assert_eq!(
        g.node("x").map(|n| (n.value(), n.adjoint())),
        Some((2.0, 12.0))
    );
    assert_eq!(
        g.node("powi_f32").map(autodiff::GraphNode::value),
        Some(8.0)
    );
    // 1 + x + x², derivative 1 + 2x.
    let g = powi_f32_loop_graph(2.0);
    assert_eq!(g.node("x").map(autodiff::GraphNode::adjoint), Some(5.0));
    assert_eq!(g.node("s").map(autodiff::GraphNode::value), Some(7.0));
}

/// A `let` that binds a parameter as it is.
#[differentiate(reverse, graph)]
fn alias_of_parameter(x: f64, y: f64) -> f64 {
    let a = x;
    let b = a;
    b * y
}

/// A `let` that takes an array parameter apart, and one of a reference to it.
#[differentiate(reverse, graph)]
fn alias_of_elements(y: [f64; 2], z: &[f64; 2]) -> f64 {
    let [a, b] = y;
    let s = z;
    let [c, _] = *s;
    a * b + c
}

/// A `let` that names a value already named.
#[differentiate(reverse, graph)]
fn alias_of_value(x: f64) -> f64 {
    let u = x * x;
    let v = u;
    v.sin()
}

#[test]
fn a_let_of_a_node_names_it() {
    let node = |g: &Graph, name: &str| g.node(name).map(|n| (n.value(), n.adjoint()));
    let g = alias_of_parameter_graph(0.5, 2.0);
    assert_eq!(node(&g, "a"), Some((0.5, 2.0)));
    assert_eq!(node(&g, "b"), Some((0.5, 2.0)));
    assert_eq!(node(&g, "x"), Some((0.5, 2.0)));
    let g = alias_of_elements_graph([0.5, 2.0], &[3.0, 4.0]);
    assert_eq!(node(&g, "a"), Some((0.5, 2.0)));
    assert_eq!(node(&g, "b"), Some((2.0, 0.5)));
    assert_eq!(node(&g, "c"), Some((3.0, 1.0)));
    let (_, dy, dz) = alias_of_elements_grad([0.5, 2.0], &[3.0, 4.0]);
    assert_eq!((dy, dz), ([2.0, 0.5], [1.0, 0.0]));
    let g = alias_of_value_graph(0.5);
    let want = (0.25, 0.25_f64.cos());
    assert_eq!(node(&g, "u"), Some(want));
    assert_eq!(node(&g, "v"), Some(want));
    assert_eq!(g.local("u", "alias_of_value"), Some(0.25_f64.cos()));
}

/// A `let` bound to an iterator chain that ends in `sum` or `fold`.
#[differentiate(reverse, graph)]
fn chain_sum(x: &[f64]) -> f64 {
    let s: f64 = x.iter().map(|v| v * v).sum();
    s.sqrt()
}

/// The same through `fold`, and the `sum` turbofish.
#[differentiate(reverse, graph)]
fn chain_fold(x: &[f64]) -> f64 {
    let s = x.iter().fold(0.0, |a, v| a + v * v);
    let t = x.iter().map(|v| v * 2.0).sum::<f64>();
    let r = s.sqrt() + t;
    r
}

#[test]
fn a_let_of_an_iterator_chain_is_a_node() {
    let x = [3.0, 4.0];
    let g = chain_sum_graph(&x);
    let s = g.node("s").expect("the sum's node");
    assert_eq!((s.value(), s.adjoint()), (25.0, 0.1));
    let g = chain_fold_graph(&x);
    let s = g.node("s").expect("the fold's node");
    assert_eq!((s.value(), s.adjoint()), (25.0, 0.1));
    let t = g.node("t").expect("the sum's node");
    assert_eq!((t.value(), t.adjoint()), (14.0, 1.0));
    assert_eq!(g.node("r").map(autodiff::GraphNode::value), Some(19.0));
}

/// An early `return` and a binding of the user's named `result`.
#[differentiate(reverse, graph)]
fn clash_result(x: f64) -> f64 {
    let result = x * 3.0;
    if x > 0.0 {
        return x.exp();
    }
    result * x
}

/// An early `return` from a `match` arm, without a binding named `result`.
#[differentiate(graph)]
fn return_from_arm(x: f64, k: i32) -> f64 {
    let y = match k {
        0 => return x * 2.0,
        _ => x.sin(),
    };
    y * x
}

#[test]
fn an_early_return_names_no_node_result() {
    let g = clash_result_graph(0.5);
    let r = g.node("result").expect("the binding");
    assert_eq!((r.value(), r.adjoint()), (1.5, 0.0));
    assert_eq!(
        g.node("clash_result").map(autodiff::GraphNode::value),
        Some(0.5_f64.exp())
    );
    let g = clash_result_graph(-0.5);
    let r = g.node("result").expect("the binding");
    assert_eq!((r.value(), r.adjoint()), (-1.5, -0.5));
    assert_eq!(
        g.node("clash_result").map(autodiff::GraphNode::value),
        Some(0.75)
    );
    let text = g.to_string();
    assert!(text.contains("clash_result = result * x = 0.75"), "{g}");
    assert!(
        !text.contains("∂clash_result/∂result · ∂clash_result/∂result"),
        "{g}"
    );
    let g = return_from_arm_graph(-0.5, 0);
    assert!(g.node("result").is_none());
    assert_eq!(
        g.node("return_from_arm").map(autodiff::GraphNode::value),
        Some(-1.0)
    );
    assert_eq!(g.node("x").map(autodiff::GraphNode::adjoint), Some(2.0));
    assert!(!g.to_string().contains("result"), "{g}");
}

/// `out = a₀ · x`: a helper whose first input is read at its first element.
#[differentiate(reverse)]
fn scale_by_first(a: &[f64], x: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[0] * x[i];
    }
}

/// Parts of a parameter and of a local array as inputs of a buffer helper, and a part of a
/// buffer written: y = (x₁, x₁x₀), out = x₀ y, f = out₀ + out₁ = x₀x₁ + x₀²x₁; then
/// w[1..3] = y₀ · (x₁, x₂) and g = f + w₁ + 2w₂ = f + x₁² + 2x₁x₂.
#[differentiate(reverse, graph)]
fn parts_into_helper(x: &[f64]) -> f64 {
    let y = [x[1], x[1] * x[0]];
    let mut out = [0.0; 2];
    scale_by_first(&x[0..1], &y, &mut out);
    let mut w = [0.0; 4];
    scale_by_first(&y[0..1], &x[1..3], &mut w[1..3]);
    out[0] + out[1] + w[1] + 2.0 * w[2] + w[0] + w[3]
}

#[test]
fn a_buffer_helper_given_parts_of_arrays_is_drawn() {
    let x = [2.0, 3.0, -1.0];
    let g = parts_into_helper_graph(&x);
    let (value, dx) = parts_into_helper_grad(&x);
    let (x0, x1, x2) = (x[0], x[1], x[2]);
    let closed = [
        x1 + 2.0 * x0 * x1,
        x0 + x0 * x0 + 2.0 * x1 + 2.0 * x2,
        2.0 * x1,
    ];
    assert_eq!(node(&g, "parts_into_helper").value(), value);
    for i in 0..3 {
        let adjoint = node(&g, &format!("x[{i}]")).adjoint();
        assert_close(&format!("x[{i}] against f_grad"), adjoint, dx[i]);
        assert_close(
            &format!("x[{i}] against the closed form"),
            adjoint,
            closed[i],
        );
    }
    // The written part's elements are nodes at their own indices.
    assert_eq!(node(&g, "w[1]").value(), x1 * x1);
    assert_eq!(node(&g, "w[2]").value(), x1 * x2);
    assert_eq!(g.local("x[2]", "w[2]"), Some(x1));
    assert_eq!(g.local("x[0]", "out[1]"), Some(x1 * x0));
    check_svg(&g.to_svg());
}
