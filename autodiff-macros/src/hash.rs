//! The hash maps and sets of the passes, keyed by node and variable numbers, token keys and
//! names.
//!
//! The standard library's hasher (`SipHash`) resists collisions that an adversary chooses, which
//! keys the macro makes itself do not need, and it is generic code that a proc macro gets
//! compiled without optimisation (cargo builds build-time dependencies at `opt-level = 0`):
//! hashing was a tenth of the macro's instructions. This one hashes a word in a rotate, an
//! exclusive or and a multiplication (the function of rustc's own `FxHasher`).

use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`Fast`] hashing.
pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fast>>;
/// A `HashSet` with [`Fast`] hashing.
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fast>>;

/// A multiplicative hasher of words, for keys the macro makes itself.
#[derive(Default, Clone, Copy)]
pub struct Fast {
    hash: u64,
}

/// An odd constant with its bits spread (from rustc's `FxHasher`).
const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Fast {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(26) ^ word).wrapping_mul(K);
    }
}

impl Hasher for Fast {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
        // The length, so that "ab" then "c" differs from "a" then "bc".
        self.add(bytes.len() as u64);
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // hashbrown takes its control bits from the top of the hash and its bucket from the
        // bottom: a final rotation brings the multiplication's well-mixed high bits down.
        self.hash.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::{HashMap, HashSet};

    #[test]
    fn maps_and_sets_of_numbers_and_strings_find_what_they_hold() {
        let mut map: HashMap<usize, usize> = HashMap::default();
        for i in 0..10_000 {
            map.insert(i * 8, i);
        }
        assert!((0..10_000).all(|i| map[&(i * 8)] == i));
        assert!(!map.contains_key(&4));
        let words: HashSet<String> = (0..1000).map(|i| format!("t_{i}")).collect();
        assert_eq!(words.len(), 1000);
        assert!(words.contains("t_999") && !words.contains("t_1000"));
        // Strings split differently hash as different keys.
        let pairs: HashSet<(String, String)> = [("ab", "c"), ("a", "bc")]
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(pairs.len(), 2);
    }
}
