//! The seeded random source of every grader.
//!
//! Values come from ChaCha8's `next_u64` with our own mappings, never from `rand`'s distributions, whose output
//! changes between versions: a seed must replay the same grading forever.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// A deterministic random source: ChaCha8 seeded from a `u64`.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A value in `0..n`, without modulo bias. Panics if `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Reject the top sliver so every residue is equally likely.
        let zone = u64::MAX - (u64::MAX - n + 1) % n;
        loop {
            let value = self.next_u64();
            if value <= zone {
                return value % n;
            }
        }
    }

    /// A value in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "Rng::range({low}, {high})");
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A lowercase ASCII word of `len` letters.
    pub fn word(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }

    /// An independent generator for sub-task `stream` (e.g. one per simulated cluster), stable for a seed.
    pub fn fork(&mut self, stream: u64) -> Rng {
        Rng::new(self.next_u64() ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The same seed gives the same values: graders replay exactly.
    #[test]
    fn same_seed_same_values() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.below(1000)).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.below(1000)).collect();
        assert_eq!(xs, ys);
    }

    // `range` stays within its bounds, both ends included.
    #[test]
    fn range_is_inclusive_and_bounded() {
        let mut rng = Rng::new(1);
        let values: Vec<u64> = (0..2000).map(|_| rng.range(3, 5)).collect();
        assert!(values.iter().all(|v| (3..=5).contains(v)));
        assert!(values.contains(&3) && values.contains(&5));
    }

    // Pinned values: if ChaCha8 or our mapping ever changes, old replay seeds would silently change meaning.
    #[test]
    fn values_are_pinned() {
        let mut rng = Rng::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.below(100)).collect();
        assert_eq!(first, PINNED_42);
    }

    const PINNED_42: [u64; 3] = [37, 12, 20];
}
