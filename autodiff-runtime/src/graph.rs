//! The computational graph that `#[differentiate(graph)]` records at a point: [`Graph`].
//!
//! `f_graph(x, y)` evaluates the function's nodes in order, as `f` does, and records each one
//! with its value and the local derivative of each edge into it, taken from the macro's table of
//! derivative rules. [`GraphBuilder::finish`] then seeds the output's adjoint with 1 and runs the
//! backward pass over the recorded nodes, as the seed's worked examples do by hand: the adjoint of
//! a node is the sum, over the nodes that use it, of their adjoint times the local derivative.
//!
//! Branches record the branch taken; loops record one node per iteration, named with the
//! iteration (`s[i=2]`). Drawing ([`Graph::to_dot`], [`Graph::to_svg`], `Display`) elides the
//! middle of long loops: it keeps the first and last three iterations and puts one
//! "… 94 more" node in place of the rest. The values and adjoints stay exact either way.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};

/// Loops with at least this many iterations are drawn with their middle elided.
const ELIDE_FROM: usize = 8;
/// The iterations kept at each end of an elided loop.
const KEEP: usize = 3;
/// Beyond this many paths, a parameter's sum over paths is given by consumers instead.
const MAX_PATHS: usize = 64;
/// Sums of more paths, or of longer ones, are given by their count.
const MAX_WRITTEN_PATHS: usize = 6;
const MAX_WRITTEN_PATH: usize = 8;
/// Adjoints with more users are given as a sum over their count.
const MAX_WRITTEN_USERS: usize = 6;

/// One node of a [`Graph`]: a parameter, a named binding, an operation or the output.
#[derive(Clone, Debug)]
pub struct GraphNode {
    name: Option<String>,
    op: String,
    source: String,
    parameter: bool,
    value: f64,
    adjoint: f64,
    /// The iterations it was computed in, as written after a name: `[i=2]`.
    suffix: String,
    /// The loop iterations the node was computed in, outermost first: (loop run, ordinal).
    iterations: Vec<(usize, usize)>,
}

impl GraphNode {
    /// The node's value at the point the graph was recorded.
    #[must_use]
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The adjoint ∂output/∂node: how the output changes with this node.
    #[must_use]
    pub fn adjoint(&self) -> f64 {
        self.adjoint
    }

    /// The node's name (`x`, `s[i=2]`, the function's name for an unnamed output), if it has one.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The source text the node came from (`x + y`); a parameter's is its name.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The operation (`+`, `×`, `sigmoid`), or `parameter`.
    #[must_use]
    pub fn op(&self) -> &str {
        &self.op
    }

    /// Whether the node is a parameter of the function (or an element of one).
    #[must_use]
    pub fn is_parameter(&self) -> bool {
        self.parameter
    }

    /// How the node is written in a formula: its name, else its source in parentheses.
    fn symbol(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None if is_simple(&self.source) => format!("{}{}", self.source, self.suffix),
            None => format!("({}){}", self.source, self.suffix),
        }
    }

    /// The title of the node in a drawing: `a = x + y`, `x + y`, `x`.
    fn title(&self, output_alias: Option<&str>) -> String {
        let title = match (&self.name, self.parameter) {
            (Some(n), true) => n.clone(),
            (Some(n), false) if *n == self.source => n.clone(),
            (Some(n), false) => format!("{n} = {}", self.source),
            (None, _) if self.suffix.is_empty() => self.source.clone(),
            (None, _) => format!("{} {}", self.source, self.suffix),
        };
        let title = match output_alias {
            Some(f) if self.name.as_deref() != Some(f) => format!("{f}: {title}"),
            _ => title,
        };
        shorten(&title, 32)
    }
}

/// A name or number that needs no parentheses in a formula.
fn is_simple(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_[]=.,".contains(c))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[derive(Clone, Debug)]
struct Edge {
    from: usize,
    to: usize,
    local: f64,
}

#[derive(Clone, Debug)]
struct LoopRun {
    name: String,
    count: usize,
}

/// The computational graph of a function at a point, with every node's value and adjoint and
/// every edge's local derivative. `#[differentiate(graph)]` on `f` emits `f_graph`, which
/// returns one. With the `autodiff` crate (whose doc tests run this):
///
/// ```ignore
/// use autodiff::differentiate;
///
/// #[differentiate(graph)]
/// fn f(x: f64, y: f64) -> f64 {
///     let a = x + y;
///     a * y
/// }
///
/// let g = f_graph(2.0, 3.0);
/// assert_eq!(g.node("f").unwrap().value(), 15.0);
/// assert_eq!(g.node("a").unwrap().adjoint(), 3.0);
/// assert_eq!(g.node("y").unwrap().adjoint(), 8.0);
/// assert_eq!(g.local("y", "f"), Some(5.0));
/// assert_eq!(g.local("x", "f"), None);
/// println!("{g}"); // the forward pass, the backward pass, the sum over paths
/// std::fs::write(std::env::temp_dir().join("f.svg"), g.to_svg()).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Graph {
    function: String,
    nodes: Vec<GraphNode>,
    edges: Vec<Edge>,
    names: HashMap<String, usize>,
    output: usize,
    loops: Vec<LoopRun>,
    code: &'static str,
}

impl Graph {
    /// The node of a parameter, of a `let` binding (the last one, where a name is shadowed or
    /// bound in a loop; `s[i=2]` names one iteration's), or of the output, which is named after
    /// the function.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&GraphNode> {
        self.names.get(name).map(|&i| &self.nodes[i])
    }

    /// The local derivative ∂to/∂from on the edge from one named node to another that uses it
    /// directly, summed over every use (`e * e` gives `2e`); `None` if `to` does not use `from`.
    #[must_use]
    pub fn local(&self, from: &str, to: &str) -> Option<f64> {
        let (&f, &t) = (self.names.get(from)?, self.names.get(to)?);
        self.edges
            .iter()
            .find(|e| e.from == f && e.to == t)
            .map(|e| e.local)
    }

    /// Every node, in the order the forward pass computed them.
    #[must_use]
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// The output node.
    #[must_use]
    pub fn output(&self) -> &GraphNode {
        &self.nodes[self.output]
    }

    /// The name of the function the graph is of.
    #[must_use]
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The reverse-mode code `#[differentiate]` generates for the function (its `f_grad`),
    /// formatted one statement a line.
    #[must_use]
    pub fn code(&self) -> String {
        pretty(self.code)
    }

    /// The graph in Graphviz's DOT language: one node per graph node, labelled with its name,
    /// value and adjoint; one edge per pair of nodes, labelled with its local derivative.
    #[must_use]
    pub fn to_dot(&self) -> String {
        let view = self.view();
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", dot_id(&self.function));
        out.push_str("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\"];\n");
        out.push_str("  edge [fontname=\"monospace\", fontsize=10];\n");
        for (k, item) in view.items.iter().enumerate() {
            let (label, fill) = match *item {
                Item::Node(i) => {
                    let n = &self.nodes[i];
                    let alias = (i == self.output).then_some(self.function.as_str());
                    let label = format!(
                        "{}\\nvalue = {}\\nadjoint = {}",
                        escape(&n.title(alias)),
                        short(n.value),
                        short(n.adjoint)
                    );
                    (label, self.fill(i))
                }
                Item::More { run, hidden } => (escape(&self.more(run, hidden)), "#eeeeee"),
            };
            let _ = writeln!(out, "  n{k} [label=\"{label}\", fillcolor=\"{fill}\"];");
        }
        for e in &view.edges {
            match e.local {
                Some(l) => {
                    let _ = writeln!(out, "  n{} -> n{} [label=\"{}\"];", e.from, e.to, short(l));
                }
                None => {
                    let _ = writeln!(out, "  n{} -> n{} [style=dashed];", e.from, e.to);
                }
            }
        }
        out.push_str("}\n");
        out
    }

    /// A standalone SVG drawing of the graph: inputs on the left, the output on the right, each
    /// node with its value and adjoint, each edge with its local derivative. No external program
    /// is needed; the layout puts each node in the column of its longest path from an input.
    #[must_use]
    pub fn to_svg(&self) -> String {
        let view = self.view();
        let boxes: Vec<(Vec<String>, &str)> = view
            .items
            .iter()
            .map(|item| match *item {
                Item::Node(i) => {
                    let n = &self.nodes[i];
                    let alias = (i == self.output).then_some(self.function.as_str());
                    (
                        vec![
                            n.title(alias),
                            format!("value   {}", short(n.value)),
                            format!("adjoint {}", short(n.adjoint)),
                        ],
                        self.fill(i),
                    )
                }
                Item::More { run, hidden } => (vec![self.more(run, hidden)], "#eeeeee"),
            })
            .collect();
        let edges: Vec<(usize, usize)> = view.edges.iter().map(|e| (e.from, e.to)).collect();
        let sizes: Vec<(f64, f64)> = boxes
            .iter()
            .map(|(lines, _)| {
                let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1);
                #[allow(clippy::cast_precision_loss)]
                let w = chars as f64 * CHAR_W + 2.0 * PAD;
                #[allow(clippy::cast_precision_loss)]
                let h = lines.len() as f64 * LINE_H + 2.0 * PAD;
                (w.max(70.0), h)
            })
            .collect();
        let output = view
            .items
            .iter()
            .position(|&it| it == Item::Node(self.output));
        let layout = layout(&sizes, &edges, output);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"12\">",
            w = layout.width,
            h = layout.height
        );
        let _ = writeln!(
            out,
            "<title>computational graph of {}</title>",
            xml(&self.function)
        );
        out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n");
        out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        // Edges first, so the boxes and labels sit on top of them.
        let mut labels = String::new();
        for (k, e) in view.edges.iter().enumerate() {
            let points = &layout.routes[k];
            let mut d = format!("M{:.1},{:.1}", points[0].0, points[0].1);
            for w in points.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                let mid = f64::midpoint(x0, x1);
                let _ = write!(d, " C{mid:.1},{y0:.1} {mid:.1},{y1:.1} {x1:.1},{y1:.1}");
            }
            let dash = if e.local.is_none() {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<path d=\"{d}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\"{dash} marker-end=\"url(#arrow)\"/>"
            );
            if let Some(l) = e.local {
                // On the last segment, just before the arrow head, where edges into one node
                // have separated again.
                let n = points.len();
                let ((x0, y0), (x1, y1)) = (points[n - 2], points[n - 1]);
                let t = 0.72;
                let (x, y) = bezier_point((x0, y0), (x1, y1), t);
                let text = short(l);
                #[allow(clippy::cast_precision_loss)]
                let w = text.chars().count() as f64 * 6.6 + 6.0;
                let _ = writeln!(
                    labels,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"15\" rx=\"3\" fill=\"#fff8d0\" stroke=\"#c8b560\" stroke-width=\"0.6\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#6b5400\">{}</text>",
                    x - w / 2.0,
                    y - 7.5,
                    y + 4.0,
                    xml(&text)
                );
            }
        }
        for (k, (lines, fill)) in boxes.iter().enumerate() {
            let (x, y) = layout.positions[k];
            let (w, h) = sizes[k];
            let more = matches!(view.items[k], Item::More { .. });
            let stroke = if more {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            let width = if view.items[k] == Item::Node(self.output) {
                2.2
            } else {
                1.0
            };
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"6\" fill=\"{fill}\" stroke=\"#333\" stroke-width=\"{width}\"{stroke}/>",
                x - w / 2.0,
                y - h / 2.0
            );
            for (j, line) in lines.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let ty = y - h / 2.0 + PAD + LINE_H * (j as f64) + 12.0;
                let weight = if j == 0 { " font-weight=\"bold\"" } else { "" };
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{ty:.1}\"{weight} fill=\"#111\">{}</text>",
                    x - w / 2.0 + PAD,
                    xml(line)
                );
            }
        }
        out.push_str(&labels);
        out.push_str("</svg>\n");
        out
    }

    fn fill(&self, i: usize) -> &'static str {
        if i == self.output {
            "#ffe0b3"
        } else if self.nodes[i].parameter {
            "#d6e9ff"
        } else {
            "#ffffff"
        }
    }

    fn more(&self, run: usize, hidden: usize) -> String {
        format!("… {hidden} more ({})", self.loops[run].name)
    }

    /// The nodes and edges to draw: every node, except the middle iterations of long loops,
    /// each of which becomes one "… n more" item.
    fn view(&self) -> View {
        let mut items = Vec::new();
        let mut item_of = vec![0; self.nodes.len()];
        let mut more_items: HashMap<usize, usize> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let hidden_in = n.iterations.iter().find(|&&(run, k)| {
                let count = self.loops[run].count;
                count >= ELIDE_FROM && k >= KEEP && k < count - KEEP
            });
            item_of[i] = match hidden_in {
                Some(&(run, _)) => *more_items.entry(run).or_insert_with(|| {
                    items.push(Item::More {
                        run,
                        hidden: self.loops[run].count - 2 * KEEP,
                    });
                    items.len() - 1
                }),
                None => {
                    items.push(Item::Node(i));
                    items.len() - 1
                }
            };
        }
        let mut edges: Vec<ViewEdge> = Vec::new();
        for e in &self.edges {
            let (from, to) = (item_of[e.from], item_of[e.to]);
            if from == to {
                continue;
            }
            let exact = matches!(items[from], Item::Node(_)) && matches!(items[to], Item::Node(_));
            if exact {
                edges.push(ViewEdge {
                    from,
                    to,
                    local: Some(e.local),
                });
            } else if !edges.iter().any(|v| v.from == from && v.to == to) {
                edges.push(ViewEdge {
                    from,
                    to,
                    local: None,
                });
            }
        }
        View { items, edges }
    }

    /// The paths from `from` to the output, each a list of node indices, or `None` if there
    /// are more than [`MAX_PATHS`].
    fn paths(&self, from: usize) -> Option<Vec<Vec<usize>>> {
        let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for e in &self.edges {
            out_edges[e.from].push(e.to);
        }
        let mut paths = Vec::new();
        let mut stack = vec![vec![from]];
        while let Some(path) = stack.pop() {
            let last = *path.last().expect("paths are not empty");
            if last == self.output {
                paths.push(path);
                if paths.len() > MAX_PATHS {
                    return None;
                }
                continue;
            }
            for &next in out_edges[last].iter().rev() {
                let mut p = path.clone();
                p.push(next);
                stack.push(p);
            }
        }
        Some(paths)
    }

    fn local_by_index(&self, from: usize, to: usize) -> f64 {
        self.edges
            .iter()
            .find(|e| e.from == from && e.to == to)
            .map_or(0.0, |e| e.local)
    }

    /// `∂f/∂a` for nodes `f` and `a`.
    fn partial(&self, of: usize, by: usize) -> String {
        let top = if of == self.output {
            self.function.clone()
        } else {
            self.nodes[of].symbol()
        };
        format!("∂{top}/∂{}", self.nodes[by].symbol())
    }

    /// The line of the sum over paths for a parameter, as the seed writes it:
    /// `∂f/∂y = (∂f/∂a · ∂a/∂y) + ∂f/∂y(×) = (3 · 1) + 5 = 8`.
    fn path_sum(&self, p: usize) -> String {
        let lhs = self.partial(self.output, p);
        let adjoint = short_exact(self.nodes[p].adjoint);
        let Some(paths) = self.paths(p) else {
            return format!("{lhs} = a sum over more than {MAX_PATHS} paths = {adjoint}");
        };
        if paths.len() > MAX_WRITTEN_PATHS || paths.iter().any(|p| p.len() > MAX_WRITTEN_PATH + 1) {
            let n = paths.len();
            let s = if n == 1 { "" } else { "s" };
            return format!("{lhs} = a sum over {n} path{s} = {adjoint}");
        }
        if paths.is_empty() {
            return format!("{lhs} = 0 (no path to the output)");
        }
        let many = paths.len() > 1;
        let mut symbols = Vec::new();
        let mut numbers = Vec::new();
        for path in &paths {
            let mut factors = Vec::new();
            let mut values = Vec::new();
            for w in path.windows(2).rev() {
                let (from, to) = (w[0], w[1]);
                let mut f = self.partial(to, from);
                if f == lhs {
                    let _ = write!(f, "({})", self.nodes[to].op);
                }
                factors.push(f);
                values.push(self.local_by_index(from, to));
            }
            let group = many && factors.len() > 1;
            let (open, close) = if group { ("(", ")") } else { ("", "") };
            symbols.push(format!("{open}{}{close}", factors.join(" · ")));
            let parenthesize = many || values.len() > 1;
            let values: Vec<String> = values
                .iter()
                .map(|&v| {
                    if parenthesize {
                        signed(v)
                    } else {
                        short_exact(v)
                    }
                })
                .collect();
            numbers.push(format!("{open}{}{close}", values.join(" · ")));
        }
        format!(
            "{lhs} = {} = {} = {adjoint}",
            symbols.join(" + "),
            numbers.join(" + ")
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Item {
    Node(usize),
    More { run: usize, hidden: usize },
}

struct ViewEdge {
    from: usize,
    to: usize,
    local: Option<f64>,
}

struct View {
    items: Vec<Item>,
    edges: Vec<ViewEdge>,
}

impl fmt::Display for Graph {
    /// The forward pass (each node's value), the backward pass (each node's adjoint from the
    /// adjoints of its users) and, for each parameter, the sum over its paths to the output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = self.view();
        let out = &self.function;
        writeln!(f, "Forward pass, inputs to output:")?;
        for item in &view.items {
            match *item {
                Item::Node(i) => {
                    let n = &self.nodes[i];
                    let value = short_exact(n.value);
                    let text = match (&n.name, n.parameter) {
                        (Some(name), true) => format!("{name} = {value}"),
                        (Some(name), false) => format!("{name} = {} = {value}", n.source),
                        (None, _) => format!("{} = {value}", n.source),
                    };
                    let text = if i == self.output && n.name.as_deref() != Some(out.as_str()) {
                        format!("{out} = {text}")
                    } else {
                        text
                    };
                    writeln!(f, "  {text}")?;
                }
                Item::More { run, hidden } => writeln!(f, "  {}", self.more(run, hidden))?,
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "Backward pass, output to inputs (each adjoint sums its users' adjoint × local derivative):"
        )?;
        writeln!(f, "  ∂{out}/∂{out} = 1")?;
        for item in view.items.iter().rev() {
            match *item {
                Item::Node(i) if i != self.output => {
                    let users: Vec<&Edge> = self.edges.iter().filter(|e| e.from == i).collect();
                    let lhs = self.partial(self.output, i);
                    let adjoint = short_exact(self.nodes[i].adjoint);
                    if users.is_empty() {
                        writeln!(f, "  {lhs} = 0 (unused)")?;
                        continue;
                    }
                    if users.len() > MAX_WRITTEN_USERS {
                        writeln!(f, "  {lhs} = a sum over {} users = {adjoint}", users.len())?;
                        continue;
                    }
                    let symbols: Vec<String> = users
                        .iter()
                        .map(|e| {
                            format!(
                                "{} · {}",
                                self.partial(self.output, e.to),
                                self.partial(e.to, i)
                            )
                        })
                        .collect();
                    let numbers: Vec<String> = users
                        .iter()
                        .map(|e| {
                            format!("{} · {}", signed(self.nodes[e.to].adjoint), signed(e.local))
                        })
                        .collect();
                    writeln!(
                        f,
                        "  {lhs} = {} = {} = {adjoint}",
                        symbols.join(" + "),
                        numbers.join(" + ")
                    )?;
                }
                Item::Node(_) => {}
                Item::More { run, hidden } => writeln!(f, "  {}", self.more(run, hidden))?,
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "For each parameter, the sum over its paths to the output:"
        )?;
        for (i, n) in self.nodes.iter().enumerate() {
            if n.parameter {
                writeln!(f, "  {}", self.path_sum(i))?;
            }
        }
        Ok(())
    }
}

/// A number in full, as Rust prints it (`3`, `-0.1871749357314132`).
fn short_exact(v: f64) -> String {
    format!("{v}")
}

/// A number in full, in parentheses when negative (a factor of a product).
fn signed(v: f64) -> String {
    if v.is_sign_negative() {
        format!("({v})")
    } else {
        format!("{v}")
    }
}

/// A number to six significant digits, for drawings.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&magnitude) {
        return format!("{v:.4e}");
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (5.0 - magnitude).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".to_owned() } else { s }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn bezier_point(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    let mid = f64::midpoint(a.0, b.0);
    let p = [a, (mid, a.1), (mid, b.1), b];
    let u = 1.0 - t;
    let c = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
    (
        c.iter().zip(&p).map(|(c, p)| c * p.0).sum(),
        c.iter().zip(&p).map(|(c, p)| c * p.1).sum(),
    )
}

const CHAR_W: f64 = 7.3;
const LINE_H: f64 = 16.0;
const PAD: f64 = 8.0;
const COLUMN_GAP: f64 = 110.0;
const ROW_GAP: f64 = 26.0;
const MARGIN: f64 = 20.0;

/// Sorts slots by a rank, keeping the order of equal ones.
fn sort_by_key(slots: &mut Vec<Slot>, rank: impl Fn(Slot) -> f64) {
    let mut keyed: Vec<(f64, usize, Slot)> = slots
        .iter()
        .enumerate()
        .map(|(j, &s)| (rank(s), j, s))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    *slots = keyed.into_iter().map(|(_, _, s)| s).collect();
}

/// What takes a place in a column: a node, or the waypoint of an edge (the edge, the column).
#[derive(Clone, Copy)]
enum Slot {
    Node(usize),
    Way(usize, usize),
}

struct Layout {
    /// The centre of each box.
    positions: Vec<(f64, f64)>,
    /// For each edge, the points it passes: the source's right side, one point per column it
    /// crosses, the target's left side.
    routes: Vec<Vec<(f64, f64)>>,
    width: f64,
    height: f64,
}

/// A layered drawing, left to right: each node in the column of its longest path from a node
/// with no inputs; an edge that spans several columns passes a waypoint in each, which takes a
/// slot like a small node, so it goes around the boxes in between. Within a column, nodes and
/// waypoints are ordered by the mean position of what feeds them (a few sweeps of the barycentre
/// heuristic), which keeps the picture close to the order of the source.
// Columns and nodes index several tables at once (slots, widths, positions).
#[allow(clippy::needless_range_loop)]
fn layout(sizes: &[(f64, f64)], edges: &[(usize, usize)], output: Option<usize>) -> Layout {
    let n = sizes.len();
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        incoming[b].push(a);
        users[a].push(b);
    }
    // Longest paths, in a topological order (Kahn's algorithm; edges never form a cycle).
    let mut column = vec![0usize; n];
    let mut waiting: Vec<usize> = incoming.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..n).rev().filter(|&i| waiting[i] == 0).collect();
    while let Some(i) = ready.pop() {
        for &u in &users[i] {
            column[u] = column[u].max(column[i] + 1);
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.push(u);
            }
        }
    }
    // The output goes to the last column.
    let last = column.iter().copied().max().unwrap_or(0);
    if let Some(o) = output {
        column[o] = last;
    }
    let columns = column.iter().max().map_or(1, |m| m + 1);
    // Slots: real nodes, then waypoints of long edges.
    let mut slots: Vec<Vec<Slot>> = vec![Vec::new(); columns];
    for (i, &c) in column.iter().enumerate() {
        slots[c].push(Slot::Node(i));
    }
    for (k, &(a, b)) in edges.iter().enumerate() {
        for (c, slot) in slots
            .iter_mut()
            .enumerate()
            .take(column[b])
            .skip(column[a] + 1)
        {
            slot.push(Slot::Way(k, c));
        }
    }
    // The predecessor of each slot in the previous column.
    let pred = |s: Slot| -> Vec<(usize, Slot)> {
        match s {
            Slot::Node(i) => incoming[i]
                .iter()
                .map(|&a| {
                    let k = edges
                        .iter()
                        .position(|&(x, y)| x == a && y == i)
                        .expect("an incoming edge");
                    if column[a] + 1 == column[i] {
                        (column[a], Slot::Node(a))
                    } else {
                        (column[i] - 1, Slot::Way(k, column[i] - 1))
                    }
                })
                .collect(),
            Slot::Way(k, c) => {
                let (a, _) = edges[k];
                if column[a] + 1 == c {
                    vec![(column[a], Slot::Node(a))]
                } else {
                    vec![(c - 1, Slot::Way(k, c - 1))]
                }
            }
        }
    };
    let same = |a: Slot, b: Slot| match (a, b) {
        (Slot::Node(x), Slot::Node(y)) => x == y,
        (Slot::Way(x, c), Slot::Way(y, d)) => x == y && c == d,
        _ => false,
    };
    // The slot right after a node in the next column, for each of its edges.
    let succ = |i: usize| -> Vec<Slot> {
        edges
            .iter()
            .enumerate()
            .filter(|&(_, &(a, _))| a == i)
            .map(|(k, &(_, b))| {
                if column[b] == column[i] + 1 {
                    Slot::Node(b)
                } else {
                    Slot::Way(k, column[i] + 1)
                }
            })
            .collect()
    };
    #[allow(clippy::cast_precision_loss)]
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for _ in 0..4 {
        for c in 1..columns {
            let prev = slots[c - 1].clone();
            #[allow(clippy::cast_precision_loss)]
            let rank = |s: Slot| -> f64 {
                let ps: Vec<f64> = pred(s)
                    .iter()
                    .map(|&(_, p)| prev.iter().position(|&q| same(p, q)).unwrap_or(0) as f64)
                    .collect();
                if ps.is_empty() { f64::MAX } else { mean(&ps) }
            };
            sort_by_key(&mut slots[c], rank);
        }
        // The inputs, by where what they feed is.
        if columns > 1 {
            let next = slots[1].clone();
            #[allow(clippy::cast_precision_loss)]
            let rank = |s: Slot| -> f64 {
                let Slot::Node(i) = s else { return f64::MAX };
                let ss: Vec<f64> = succ(i)
                    .iter()
                    .map(|&t| next.iter().position(|&q| same(t, q)).unwrap_or(0) as f64)
                    .collect();
                if ss.is_empty() { f64::MAX } else { mean(&ss) }
            };
            sort_by_key(&mut slots[0], rank);
        }
    }
    // Coordinates: columns as wide as their widest box. Each slot is placed at the mean height of
    // what feeds it, so chains run straight, then pushed down as far as the slots above it
    // need; the inputs are then moved level with what they feed, and the columns placed again.
    let height_of = |s: Slot| match s {
        Slot::Node(i) => sizes[i].1,
        Slot::Way(..) => 14.0,
    };
    let key = |s: Slot| match s {
        Slot::Node(i) => (0, i, 0),
        Slot::Way(k, c) => (1, k, c),
    };
    let col_width: Vec<f64> = (0..columns)
        .map(|c| {
            slots[c]
                .iter()
                .map(|&s| match s {
                    Slot::Node(i) => sizes[i].0,
                    Slot::Way(..) => 20.0,
                })
                .fold(20.0, f64::max)
        })
        .collect();
    let mut centre: HashMap<(usize, usize, usize), f64> = HashMap::new();
    // Places a column's slots, in order, as near their wanted centres as they fit.
    let place = |slots: &[Slot], wanted: &[Option<f64>], centre: &mut HashMap<_, f64>| {
        let mut bottom = f64::NEG_INFINITY;
        let mut placed = Vec::new();
        for (&s, &w) in slots.iter().zip(wanted) {
            let h = height_of(s);
            let after = if bottom.is_finite() {
                bottom + ROW_GAP
            } else {
                0.0
            };
            let want = w.unwrap_or(after + h / 2.0);
            let top = (want - h / 2.0).max(bottom + ROW_GAP);
            placed.push(top + h / 2.0);
            bottom = top + h;
        }
        // Shift the column back up by the mean displacement, keeping its spacing.
        let moved: Vec<f64> = placed
            .iter()
            .zip(wanted)
            .filter_map(|(p, w)| w.map(|w| p - w))
            .collect();
        let shift = if moved.is_empty() { 0.0 } else { mean(&moved) };
        for (&s, p) in slots.iter().zip(placed) {
            centre.insert(key(s), p - shift);
        }
    };
    let first: Vec<Option<f64>> = vec![None; slots.first().map_or(0, Vec::len)];
    if columns > 0 {
        place(&slots[0], &first, &mut centre);
    }
    for round in 0..2 {
        if round == 1 && columns > 1 {
            let wanted: Vec<Option<f64>> = slots[0]
                .iter()
                .map(|&s| {
                    let Slot::Node(i) = s else { return None };
                    let ys: Vec<f64> = succ(i).iter().map(|&t| centre[&key(t)]).collect();
                    (!ys.is_empty()).then(|| mean(&ys))
                })
                .collect();
            place(&slots[0], &wanted, &mut centre);
        }
        for c in 1..columns {
            let wanted: Vec<Option<f64>> = slots[c]
                .iter()
                .map(|&s| {
                    let ys: Vec<f64> = pred(s).iter().map(|&(_, p)| centre[&key(p)]).collect();
                    (!ys.is_empty()).then(|| mean(&ys))
                })
                .collect();
            place(&slots[c], &wanted, &mut centre);
        }
    }
    let top = slots
        .iter()
        .flatten()
        .map(|&s| centre[&key(s)] - height_of(s) / 2.0)
        .fold(f64::INFINITY, f64::min);
    let bottom = slots
        .iter()
        .flatten()
        .map(|&s| centre[&key(s)] + height_of(s) / 2.0)
        .fold(f64::NEG_INFINITY, f64::max);
    let offset = MARGIN - top;
    let height = bottom - top + 2.0 * MARGIN;
    let mut x = MARGIN;
    let mut centre_x = Vec::new();
    for w in &col_width {
        centre_x.push(x + w / 2.0);
        x += w + COLUMN_GAP;
    }
    let width = x - COLUMN_GAP + MARGIN;
    let positions: Vec<(f64, f64)> = (0..n)
        .map(|i| (centre_x[column[i]], centre[&key(Slot::Node(i))] + offset))
        .collect();
    let waypoint = |k: usize, c: usize| (centre_x[c], centre[&(1, k, c)] + offset);
    // Ports: the edges leaving a node start at heights spread along its side in the order of
    // where they go, and the edges entering it likewise end in the order of where they come from.
    let mut start_dy = vec![0.0; edges.len()];
    let mut end_dy = vec![0.0; edges.len()];
    for i in 0..n {
        let h = sizes[i].1;
        let next_y = |k: usize| {
            let (a, b) = edges[k];
            if column[b] == column[a] + 1 {
                positions[b].1
            } else {
                waypoint(k, column[a] + 1).1
            }
        };
        let prev_y = |k: usize| {
            let (a, b) = edges[k];
            if column[b] == column[a] + 1 {
                positions[a].1
            } else {
                waypoint(k, column[b] - 1).1
            }
        };
        let mut out: Vec<usize> = (0..edges.len()).filter(|&k| edges[k].0 == i).collect();
        out.sort_by(|&p, &q| next_y(p).total_cmp(&next_y(q)));
        let mut inc: Vec<usize> = (0..edges.len()).filter(|&k| edges[k].1 == i).collect();
        inc.sort_by(|&p, &q| prev_y(p).total_cmp(&prev_y(q)));
        for (list, dy) in [(&out, &mut start_dy), (&inc, &mut end_dy)] {
            #[allow(clippy::cast_precision_loss)]
            let count = list.len() as f64;
            let spacing = (h / (count + 1.0)).min(16.0);
            for (j, &k) in list.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let j = j as f64;
                dy[k] = (j - (count - 1.0) / 2.0) * spacing;
            }
        }
    }
    let routes = edges
        .iter()
        .enumerate()
        .map(|(k, &(a, b))| {
            let mut points = vec![(
                positions[a].0 + sizes[a].0 / 2.0,
                positions[a].1 + start_dy[k],
            )];
            for c in column[a] + 1..column[b] {
                let (wx, wy) = waypoint(k, c);
                points.push((wx - col_width[c] / 2.0, wy));
                points.push((wx + col_width[c] / 2.0, wy));
            }
            points.push((
                positions[b].0 - sizes[b].0 / 2.0,
                positions[b].1 + end_dy[k],
            ));
            points
        })
        .collect();
    Layout {
        positions,
        routes,
        width,
        height,
    }
}

/// The node an array was filled with, and the nodes stored into its elements since.
type ArrayNodes = (Option<usize>, HashMap<usize, Option<usize>>);

/// Records a [`Graph`]: the functions `#[differentiate(graph)]` generates call it. Not meant to
/// be used by hand.
#[doc(hidden)]
#[derive(Debug)]
pub struct GraphBuilder {
    graph: Graph,
    /// The node each mutable variable holds, by the macro's variable number.
    vars: HashMap<usize, Option<usize>>,
    /// The nodes of each array variable's elements, and the node it was filled with.
    arrays: HashMap<usize, ArrayNodes>,
    /// The loops being run: (run, label of the current iteration, ordinal of the next one).
    loop_stack: Vec<(usize, String, usize)>,
    /// The names the nodes show.
    shown: HashSet<String>,
}

impl GraphBuilder {
    /// A builder for the graph of `function`, whose `f_grad` code is `code`.
    #[must_use]
    pub fn new(function: &str, code: &'static str) -> Self {
        GraphBuilder {
            graph: Graph {
                function: function.to_owned(),
                nodes: Vec::new(),
                edges: Vec::new(),
                names: HashMap::new(),
                output: 0,
                loops: Vec::new(),
                code,
            },
            vars: HashMap::new(),
            arrays: HashMap::new(),
            loop_stack: Vec::new(),
            shown: HashSet::new(),
        }
    }

    fn suffix(&self) -> String {
        if self.loop_stack.is_empty() {
            return String::new();
        }
        let parts: Vec<&str> = self.loop_stack.iter().map(|(_, l, _)| l.as_str()).collect();
        format!("[{}]", parts.join(", "))
    }

    fn push(&mut self, name: Option<String>, op: &str, source: &str, value: f64) -> usize {
        let iterations = self
            .loop_stack
            .iter()
            .map(|&(run, _, next)| (run, next.saturating_sub(1)))
            .collect();
        let node = GraphNode {
            name: None,
            op: op.to_owned(),
            source: source.to_owned(),
            parameter: false,
            value,
            adjoint: 0.0,
            suffix: self.suffix(),
            iterations,
        };
        self.graph.nodes.push(node);
        let id = self.graph.nodes.len() - 1;
        if let Some(name) = name {
            self.name(id, &name);
        }
        id
    }

    /// Names a node `name` (with the current iterations), unless it has a name; either way
    /// `name` finds it, unless it is a parameter's name: a parameter the body assigns to is
    /// still found by its name (its gradient entry is the parameter's), the values assigned by
    /// their iterations where they are in a loop.
    ///
    /// A node given a name that an earlier node shows already (`let x = x * 2.0;`, an
    /// assignment `s = s * y;` after `s = s + x;`) shows it primed, `x′`, `s′[i=0]`, and is
    /// found by that too: the drawing tells the values of a name apart.
    fn name(&mut self, id: usize, name: &str) {
        let suffix = self.suffix();
        let full = format!("{name}{suffix}");
        if self.graph.nodes[id].name.is_none() {
            let mut shown = full.clone();
            let mut primes = String::new();
            while self.shown.contains(&shown) {
                primes.push('′');
                shown = format!("{name}{primes}{suffix}");
            }
            self.shown.insert(shown.clone());
            if shown != full {
                self.graph.names.insert(shown.clone(), id);
            }
            self.graph.nodes[id].name = Some(shown);
        }
        for key in [full, name.to_owned()] {
            let parameter = self.graph.names.get(&key).is_some_and(|&p| {
                p != id
                    && self.graph.nodes[p].parameter
                    && self.graph.nodes[p].name.as_deref() == Some(key.as_str())
            });
            if !parameter {
                self.graph.names.insert(key, id);
            }
        }
    }

    /// A parameter.
    pub fn param(&mut self, name: &str, value: f64) -> Option<usize> {
        let id = self.push(Some(name.to_owned()), "parameter", name, value);
        self.graph.nodes[id].parameter = true;
        Some(id)
    }

    /// An operation with its value and, for each argument that is a node, the local derivative.
    pub fn op(
        &mut self,
        op: &str,
        source: &str,
        name: Option<&str>,
        value: f64,
        args: &[(Option<usize>, f64)],
    ) -> Option<usize> {
        let id = self.push(name.map(str::to_owned), op, source, value);
        for &(from, local) in args {
            let Some(from) = from else { continue };
            if let Some(e) = self
                .graph
                .edges
                .iter_mut()
                .rev()
                .take_while(|e| e.to == id)
                .find(|e| e.from == from)
            {
                e.local += local;
            } else {
                self.graph.edges.push(Edge {
                    from,
                    to: id,
                    local,
                });
            }
        }
        Some(id)
    }

    /// A mutable variable now holds `id`; `name` names it, unless it is empty.
    pub fn set(&mut self, var: usize, name: &str, id: Option<usize>) {
        self.vars.insert(var, id);
        if let Some(id) = id
            && !name.is_empty()
        {
            self.name(id, name);
        }
    }

    /// A `let` names `id`, which is a node already (a parameter, an element, a named value).
    pub fn alias(&mut self, name: &str, id: Option<usize>) {
        if let Some(id) = id {
            self.name(id, name);
        }
    }

    /// The node a mutable variable holds.
    #[must_use]
    pub fn get(&self, var: usize) -> Option<usize> {
        self.vars.get(&var).copied().flatten()
    }

    /// A local array filled with one value.
    pub fn fill(&mut self, var: usize, id: Option<usize>) {
        self.arrays.insert(var, (id, HashMap::new()));
    }

    /// `var[index] = id`.
    pub fn store(&mut self, var: usize, name: &str, index: usize, id: Option<usize>) {
        self.arrays
            .entry(var)
            .or_insert_with(|| (None, HashMap::new()))
            .1
            .insert(index, id);
        if let Some(id) = id {
            self.name(id, &format!("{name}[{index}]"));
        }
    }

    /// The node of `var[index]`; for an element of a parameter (`param` is its name) that
    /// nothing stored to, a new parameter node `x[index]` with `value`.
    pub fn load(
        &mut self,
        var: usize,
        index: usize,
        param: Option<&str>,
        value: f64,
    ) -> Option<usize> {
        let entry = self.arrays.get(&var);
        if let Some(&id) = entry.and_then(|(_, elems)| elems.get(&index)) {
            return id;
        }
        if let Some(name) = param {
            // A parameter's name has no iteration; drawings still elide it with the iteration
            // that first read it.
            let stack = std::mem::take(&mut self.loop_stack);
            let id = self.param(&format!("{name}[{index}]"), value);
            self.loop_stack = stack;
            if let Some(id) = id {
                self.graph.nodes[id].iterations = self
                    .loop_stack
                    .iter()
                    .map(|&(run, _, next)| (run, next.saturating_sub(1)))
                    .collect();
            }
            self.arrays
                .entry(var)
                .or_insert_with(|| (None, HashMap::new()))
                .1
                .insert(index, id);
            return id;
        }
        entry.and_then(|(fill, _)| *fill)
    }

    /// Starts a loop whose iterations are labelled `name=value` (or `#k` when `name` is empty).
    pub fn enter_loop(&mut self, name: &str) {
        self.graph.loops.push(LoopRun {
            name: if name.is_empty() {
                "iterations".to_owned()
            } else {
                format!("iterations of {name}")
            },
            count: 0,
        });
        let run = self.graph.loops.len() - 1;
        self.loop_stack.push((run, name.to_owned(), 0));
    }

    /// Starts the next iteration of the innermost loop; `label` is the loop variable's value.
    pub fn iteration(&mut self, label: impl fmt::Display) {
        if let Some((run, current, next)) = self.loop_stack.last_mut() {
            let name = self.graph.loops[*run]
                .name
                .trim_start_matches("iterations of ");
            *current = if name == "iterations" {
                format!("#{next}")
            } else {
                format!("{name}={label}")
            };
            *next += 1;
            self.graph.loops[*run].count = *next;
        }
    }

    /// Ends the innermost loop.
    pub fn exit_loop(&mut self) {
        self.loop_stack.pop();
    }

    /// Finishes the graph: `output` is the result's node (a new constant node with `value` if
    /// the result is a constant); seeds its adjoint with 1 and runs the backward pass.
    #[must_use]
    pub fn finish(mut self, output: Option<usize>, value: f64, source: &str) -> Graph {
        self.loop_stack.clear();
        let output = output.unwrap_or_else(|| self.push(None, "constant", source, value));
        let function = self.graph.function.clone();
        if self.graph.nodes[output].name.is_none() {
            self.graph.nodes[output].name = Some(function.clone());
        }
        self.graph.names.insert(function, output);
        self.graph.output = output;
        let g = &mut self.graph;
        g.nodes[output].adjoint = 1.0;
        // Edges are recorded with their target, in the order of the forward pass: walking them
        // backwards finishes every node's adjoint before it is passed on.
        for k in (0..g.edges.len()).rev() {
            let Edge { from, to, local } = g.edges[k];
            let adjoint = g.nodes[to].adjoint;
            // An exact zero wins over an infinite local derivative, as in `f_grad`.
            if adjoint != 0.0 && local != 0.0 {
                g.nodes[from].adjoint += adjoint * local;
            }
        }
        self.graph
    }
}

/// Lays out Rust source printed as a token stream (`fn f (x : f64) -> f64 { let a = x ; a }`)
/// one statement a line, indented, with the usual spacing, and doc attributes as `///` lines.
fn pretty(code: &str) -> String {
    let tokens = lex(code);
    let mut out = String::new();
    let mut indent = 0usize;
    // The open delimiters, to know whether a `;` ends a statement.
    let mut open: Vec<char> = Vec::new();
    // The commas at the top of each open parenthesis.
    let mut commas: Vec<usize> = Vec::new();
    let mut line_start = true;
    let mut i = 0;
    let mut prev: Option<&str> = None;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        // `# [doc = "text"]` becomes `/// text`; other attributes stay, on their own line.
        if t == "#" && tokens.get(i + 1).map(String::as_str) == Some("[") {
            if tokens.get(i + 2).map(String::as_str) == Some("doc")
                && tokens.get(i + 3).map(String::as_str) == Some("=")
                && tokens.get(i + 5).map(String::as_str) == Some("]")
            {
                let text = unquote(&tokens[i + 4]);
                newline(&mut out, indent, &mut line_start);
                out.push_str("///");
                if !text.is_empty() && !text.starts_with(' ') {
                    out.push(' ');
                }
                out.push_str(&text);
                line_start = false;
                newline(&mut out, indent, &mut line_start);
                i += 6;
                prev = None;
                continue;
            }
            let end = tokens[i..]
                .iter()
                .position(|t| t == "]")
                .map_or(tokens.len(), |p| i + p + 1);
            newline(&mut out, indent, &mut line_start);
            out.push_str(&tokens[i..end].concat());
            line_start = false;
            newline(&mut out, indent, &mut line_start);
            i = end;
            prev = None;
            continue;
        }
        match t {
            "{" => {
                if !line_start {
                    out.push(' ');
                }
                if tokens.get(i + 1).map(String::as_str) == Some("}") {
                    out.push_str("{}");
                    i += 2;
                    prev = Some("}");
                    line_start = false;
                    continue;
                }
                out.push('{');
                open.push('{');
                indent += 1;
                line_start = false;
                newline(&mut out, indent, &mut line_start);
            }
            "}" => {
                open.pop();
                indent = indent.saturating_sub(1);
                newline(&mut out, indent, &mut line_start);
                out.push('}');
                line_start = false;
                let next = tokens.get(i + 1).map(String::as_str);
                if !matches!(next, Some("else" | ";" | "," | ")" | ".")) {
                    newline(&mut out, indent, &mut line_start);
                    // A blank line between items.
                    if indent == 0 && next.is_some() {
                        out.push('\n');
                    }
                }
            }
            ";" => {
                out.push(';');
                line_start = false;
                if open.last().is_none_or(|&c| c == '{') {
                    newline(&mut out, indent, &mut line_start);
                }
            }
            _ => {
                if t == ")" && prev == Some(",") && commas.last().is_some_and(|&c| c > 1) {
                    out.pop();
                }
                if t == ","
                    && open.last() == Some(&'(')
                    && let Some(c) = commas.last_mut()
                {
                    *c += 1;
                }
                if !line_start && space_between(prev, t, tokens.get(i.wrapping_sub(2))) {
                    out.push(' ');
                }
                out.push_str(t);
                line_start = false;
                match t {
                    "(" => {
                        open.push('(');
                        commas.push(0);
                    }
                    "[" => open.push('['),
                    ")" => {
                        open.pop();
                        commas.pop();
                    }
                    "]" => {
                        open.pop();
                    }
                    _ => {}
                }
            }
        }
        prev = Some(t);
        i += 1;
    }
    let mut s = out.trim_end().to_owned();
    s.push('\n');
    s
}

fn newline(out: &mut String, indent: usize, line_start: &mut bool) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !*line_start {
        out.push('\n');
    }
    for _ in 0..indent {
        out.push_str("    ");
    }
    *line_start = true;
}

fn unquote(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    inner.replace("\\\"", "\"").replace("\\\\", "\\")
}

fn is_word(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"' || c == '\'')
}

const KEYWORDS: &[&str] = &[
    "if", "else", "for", "in", "while", "loop", "return", "let", "mut", "fn", "pub", "as", "match",
    "break", "continue", "move", "impl", "where", "const", "static", "crate",
];

/// Whether a space goes between two tokens.
fn space_between(prev: Option<&str>, t: &str, before_prev: Option<&String>) -> bool {
    let Some(p) = prev else { return false };
    if t == "::" {
        return (!is_word(p) || KEYWORDS.contains(&p))
            && !matches!(p, ">" | "(" | "[" | "&" | "::");
    }
    if matches!(t, ")" | "]" | "," | "." | "?" | ":" | ".." | "..=")
        || matches!(p, "(" | "[" | "." | "::" | "!" | "#" | ".." | "..=")
    {
        return false;
    }
    // A unary operator: after an operator, an opening delimiter or a keyword.
    let operand_before =
        |x: &str| (is_word(x) && !KEYWORDS.contains(&x)) || matches!(x, ")" | "]" | "}" | "?");
    if matches!(p, "-" | "&" | "*") && !before_prev.is_some_and(|b| operand_before(b.as_str())) {
        return false;
    }
    // A call, an index or a macro: `f(x)`, `x[i]`, `vec!`.
    if matches!(t, "(" | "[") && operand_before(p) {
        return false;
    }
    if t == "!" && is_word(p) && !KEYWORDS.contains(&p) {
        return false;
    }
    // Generic arguments: `Vec<f64>`, `Tape::<f64, 4>`.
    if t == "<" && (p == "::" || p.chars().next().is_some_and(char::is_uppercase)) {
        return false;
    }
    if p == "<"
        && before_prev
            .is_some_and(|b| b == "::" || b.chars().next().is_some_and(char::is_uppercase))
    {
        return false;
    }
    if t == ">" && p != "-" && !matches!(p, "=" | ")") && before_prev.is_some_and(|b| b == "<") {
        return false;
    }
    true
}

/// Splits printed Rust into tokens: words, literals, and punctuation (`::`, `->` and the
/// other two- and three-character operators as one token).
fn lex(code: &str) -> Vec<String> {
    const PUNCT: &[&str] = &[
        "..=", "::", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "..",
    ];
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            tokens.push(chars[start..i].iter().collect());
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            let numeric = c.is_ascii_digit();
            while i < chars.len() {
                let d = chars[i];
                let more = d.is_alphanumeric()
                    || d == '_'
                    || (numeric
                        && d == '.'
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                        && !chars[start..i].contains(&'.'))
                    || (numeric
                        && (d == '-' || d == '+')
                        && matches!(chars[i - 1], 'e' | 'E')
                        && !chars[start..i]
                            .iter()
                            .any(|c| c.is_alphabetic() && *c != 'e' && *c != 'E'));
                if !more {
                    break;
                }
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
            let p = PUNCT
                .iter()
                .find(|p| rest.starts_with(**p))
                .map_or_else(|| c.to_string(), |p| (*p).to_owned());
            i += p.chars().count();
            tokens.push(p);
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(x, y) = (x + y) · y` recorded by hand, as the macro's code records it.
    fn seed() -> Graph {
        let mut b = GraphBuilder::new(
            "f",
            "fn f_grad (x : f64 , y : f64) -> (f64 , f64 , f64) { let t = x + y ; (t * y , y , t + y) }",
        );
        let x = b.param("x", 2.0);
        let y = b.param("y", 3.0);
        let a = b.op("+", "x + y", Some("a"), 5.0, &[(x, 1.0), (y, 1.0)]);
        let f = b.op("×", "a * y", None, 15.0, &[(a, 3.0), (y, 5.0)]);
        b.finish(f, 15.0, "a * y")
    }

    #[test]
    fn the_backward_pass_sums_over_users() {
        let g = seed();
        assert_eq!(g.node("f").unwrap().adjoint(), 1.0);
        assert_eq!(g.node("a").unwrap().adjoint(), 3.0);
        assert_eq!(g.node("x").unwrap().adjoint(), 3.0);
        assert_eq!(g.node("y").unwrap().adjoint(), 8.0);
        assert_eq!(g.local("y", "a"), Some(1.0));
        assert_eq!(g.local("x", "f"), None);
    }

    #[test]
    fn paths_are_written_as_the_seed_writes_them() {
        let g = seed();
        let text = g.to_string();
        assert!(
            text.contains("∂f/∂y = (∂f/∂a · ∂a/∂y) + ∂f/∂y(×) = (3 · 1) + 5 = 8"),
            "{text}"
        );
        assert!(text.contains("∂f/∂x = ∂f/∂a · ∂a/∂x = 3 · 1 = 3"), "{text}");
    }

    #[test]
    fn repeated_uses_are_one_edge() {
        let mut b = GraphBuilder::new("g", "");
        let e = b.param("e", -0.25);
        let l = b.op("×", "e * e", None, 0.0625, &[(e, -0.25), (e, -0.25)]);
        let g = b.finish(l, 0.0625, "e * e");
        assert_eq!(g.local("e", "g"), Some(-0.5));
        assert_eq!(g.to_dot().matches("->").count(), 1);
    }

    #[test]
    fn long_loops_are_elided_in_drawings() {
        let mut b = GraphBuilder::new("h", "");
        let x = b.param("x", 1.0);
        let mut s = None;
        b.enter_loop("i");
        for i in 0..100 {
            b.iteration(i);
            let prev = s;
            s = b.op(
                "+",
                "s + x",
                None,
                f64::from(i + 1),
                &[(prev, 1.0), (x, 1.0)],
            );
            b.set(0, "s", s);
        }
        b.exit_loop();
        let g = b.finish(s, 100.0, "s");
        assert_eq!(g.node("x").unwrap().adjoint(), 100.0);
        assert_eq!(g.node("s[i=2]").unwrap().value(), 3.0);
        let dot = g.to_dot();
        assert!(dot.contains("… 94 more (iterations of i)"), "{dot}");
        let nodes = dot
            .lines()
            .filter(|l| l.contains("[label=") && !l.contains("->"))
            .count();
        assert_eq!(nodes, 1 + 6 + 1, "{dot}");
    }

    #[test]
    fn code_is_laid_out_one_statement_a_line() {
        let code = pretty(
            "# [doc = \" The value.\"] # [must_use] pub fn f_grad (x : f64 , y : & [f64]) -> (f64 , :: std :: vec :: Vec < f64 > ,) { let _ = f ; let t = - x . exp () ; for i in 0 .. 3 { t += y [i] ; } (t , :: std :: vec! [0.0 ; 3]) }",
        );
        assert_eq!(
            code,
            "/// The value.\n#[must_use]\npub fn f_grad(x: f64, y: &[f64]) -> (f64, ::std::vec::Vec<f64>) {\n    let _ = f;\n    let t = -x.exp();\n    for i in 0..3 {\n        t += y[i];\n    }\n    (t, ::std::vec![0.0; 3])\n}\n"
        );
    }
}
