use autodiff::differentiate;

#[differentiate(reverse, forward)]
fn centroid_loss(points: &[[f64; 2]], c: [f64; 2]) -> f64 {
    points.iter().map(|p| (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sum()
}

#[differentiate]
fn det2(x: f64, m: [[f64; 2]; 2]) -> f64 {
    x * (m[0][0] * m[1][1] - m[0][1] * m[1][0])
}

fn main() {}
