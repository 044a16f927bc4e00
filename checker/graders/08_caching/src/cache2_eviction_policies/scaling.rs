//! Is an operation O(1) or O(log n)? For LFU and TTL (the policies whose victim must be *found*), the cost
//! per operation on a full cache of 50 000 entries against one of 100, measured by the shared check of
//! [`crate::scaling`], as for `cache1_lru`.

use std::time::Duration;

use backlings_grade::{Failure, Grading};

use super::model::{Model, Policy};
use crate::scaling::{BenchModel, Plan};

/// Long enough that nothing expires during a TTL bench: it measures finding the soonest expiry.
const BENCH_TTL_MS: u64 = 1_000_000_000;

impl BenchModel for Model {
    fn get(&mut self, key: u64) -> Option<u64> {
        Model::get(self, key)
    }

    fn put(&mut self, key: u64, value: u64) -> Option<(u64, u64)> {
        Model::put(self, key, value)
    }

    fn len(&self) -> usize {
        Model::len(self)
    }
}

/// Measures both capacities of `policy` and compares their best cost per operation.
pub fn check(g: &mut Grading, policy: Policy) -> Result<(), Failure> {
    let plan = Plan {
        small: 100,
        large: 50_000,
        rounds: 4,
        large_budget: Duration::from_millis(800),
        // The reference (buckets and ordered maps, O(log n)) measures about 2 on a quiet machine and up to 5 on a
        // loaded one; one linear step per operation measures in the hundreds.
        ratio_limit: 16.0,
        new_cache: Box::new(move |capacity| {
            (
                format!(
                    r#"{{"op":"new","policy":"{policy}","capacity":{capacity},"ttl_ms":{BENCH_TTL_MS}}}"#
                ),
                Model::new(policy, capacity, BENCH_TTL_MS, 0, None),
            )
        }),
        cache_name: format!("{policy} cache"),
        passed_before: "the stories and the seeded traces passed",
        rule: format!(
            "{}: get and put must cost about the same whatever the number of entries (O(1) or O(log n)), but here \
             the cost grows with the capacity: it looks O(n)",
            policy.to_string().to_uppercase()
        ),
        advice: match policy {
            Policy::Lfu => {
                "scanning every entry for the lowest count costs time in proportion to the capacity: keep a bucket \
                 of keys per count (in order of last use) and the lowest count in use, so the victim is the first \
                 key of one bucket"
            }
            _ => {
                "scanning every entry for the soonest expiry costs time in proportion to the capacity: keep the \
                 entries in an ordered map by (expires_at, write stamp), so the victim is its first entry"
            }
        },
    };
    crate::scaling::check(g, &plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::run_bench;

    // Pinned against the reference solution's `bench` replies (capacity 3, seed 7, 1 000 ops on keys 0..8):
    // the model and the exercise's provided `run_bench` agree for every policy.
    #[test]
    fn bench_checksums_match_the_reference() {
        for (policy, pinned) in [
            (Policy::Fifo, 15_620_664_486_238_020_241),
            (Policy::Lfu, 5_646_904_109_519_086_155),
            (Policy::Ttl, 10_964_200_615_062_985_366),
        ] {
            let mut model = Model::new(policy, 3, 5, 0, None);
            assert_eq!(run_bench(&mut model, 7, 1_000, 8), pinned, "{policy}");
            assert_eq!(model.len(), 3);
        }
    }
}
