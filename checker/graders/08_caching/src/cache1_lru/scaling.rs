//! Is an operation O(1)? The cost per operation on a full cache of 100 000 entries against one of 100, measured
//! by the shared check of [`crate::scaling`].

use std::time::Duration;

use backlings_grade::{Failure, Grading};

use crate::lru_model::LruModel;
use crate::scaling::{BenchModel, Plan};

impl BenchModel for LruModel {
    fn get(&mut self, key: u64) -> Option<u64> {
        LruModel::get(self, key)
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        LruModel::put(self, key, value)
    }

    fn len(&self) -> usize {
        LruModel::len(self)
    }
}

/// Measures both capacities and compares their best cost per operation.
pub fn check(g: &mut Grading) -> Result<(), Failure> {
    let plan = Plan {
        small: 100,
        large: 100_000,
        rounds: 5,
        large_budget: Duration::from_secs(2),
        // An O(1) cache measures about 1.5 on a quiet machine and up to 4 on a loaded one (a big cache suffers
        // more from other processes sharing the CPU caches); one linear step per operation measures in the
        // hundreds.
        ratio_limit: 16.0,
        new_cache: Box::new(|capacity| {
            (
                format!(r#"{{"op":"new","capacity":{capacity}}}"#),
                LruModel::new(capacity),
            )
        }),
        cache_name: "cache".into(),
        passed_before: "the short stories and the seeded trace passed",
        rule: "get and put must cost the same whatever the number of entries (O(1)), but here the cost grows with \
               the capacity: it looks O(n)"
            .into(),
        advice: "a linear step in an operation (`position`, `retain` or `remove` on a Vec or VecDeque, or scanning \
                 every entry for the oldest) costs time in proportion to the capacity: find the entry through the \
                 map and move it within the linked list instead",
    };
    crate::scaling::check(g, &plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::run_bench;

    // Pinned: the exercise's provided `run_bench` gives the same checksum (see its test), so the two agree.
    #[test]
    fn bench_checksum_is_pinned() {
        let mut model = LruModel::new(3);
        assert_eq!(run_bench(&mut model, 7, 1_000, 8), PINNED_SEED_7);
        assert_eq!(model.len(), 3);
    }

    const PINNED_SEED_7: u64 = 14_063_430_131_248_852_481;
}
