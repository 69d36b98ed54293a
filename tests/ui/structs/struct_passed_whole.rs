use autodiff::differentiate;

#[derive(Default)]
struct P {
    a: f64,
}

fn inner(p: &P, x: f64) -> f64 {
    p.a * x
}

#[differentiate(wrt(p, x))]
fn f(p: &P, x: f64) -> f64 {
    inner(p, x) + p.a
}

struct M {
    s: f64,
}

impl M {
    #[differentiate]
    fn act(&self, z: f64) -> f64 {
        self.s * z
    }

    #[differentiate(wrt(self, w))]
    fn loss(&self, w: f64) -> f64 {
        self.act(w) * self.s
    }
}

fn main() {}

#[derive(Default)]
struct Q {
    w: Vec<f64>,
}

#[differentiate(wrt(q))]
fn store_into_field(q: &Q, x: f64) -> f64 {
    q.w[0] = x;
    q.w[1] * x
}
