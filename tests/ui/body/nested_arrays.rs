use autodiff::differentiate;

#[differentiate(reverse, forward)]
fn centroid_loss(points: &[[f64; 2]], c: [f64; 2]) -> f64 {
    points.iter().map(|p| (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sum()
}

// A matrix with derivatives: `wrt` names it.
#[differentiate(wrt(x, m))]
fn det2(x: f64, m: [[f64; 2]; 2]) -> f64 {
    x * (m[0][0] * m[1][1] - m[0][1] * m[1][0])
}

// A local matrix the function writes.
#[differentiate]
fn outer(x: [f64; 2]) -> f64 {
    let mut h = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            h[i][j] = x[i] * x[j];
        }
    }
    h[0][1] + h[1][1]
}

// A row taken whole.
const T: [[f64; 2]; 2] = [[1.0, 2.0], [3.0, 4.0]];

#[differentiate]
fn row_sum(x: f64) -> f64 {
    let r = T[1];
    x * (r[0] + r[1])
}

fn main() {}
