use autodiff::differentiate;

#[derive(Default, Clone)]
struct Mth {
    k: [f64; 2],
    c: f64,
}

impl Mth {
    #[differentiate(reverse, wrt(self))]
    fn helper(&self, v: f64) -> f64 {
        (self.k[0] * v).sin() + self.c
    }

    #[differentiate(reverse, wrt(self, x))]
    fn outer(&self, x: f64) -> f64 {
        let a = self.helper(x);
        a * self.k[1] + x * x
    }
}

#[differentiate]
fn array_pattern_of_a_number(x: f64) -> f64 {
    let [a, b] = x;
    a * b
}

fn main() {}
