//! The graders of track 8, caching: one module per exercise, plus the reference models they share.

mod cache1_lru;
mod cache2_eviction_policies;
mod cache3_strategies;
mod cache4_invalidation_stampede;
mod counting_store;
mod lru_model;
mod scaling;
mod trace;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "cache1_lru",
            grade: cache1_lru::grade,
        },
        backlings_grade::Grader {
            exercise: "cache2_eviction_policies",
            grade: cache2_eviction_policies::grade,
        },
        backlings_grade::Grader {
            exercise: "cache3_strategies",
            grade: cache3_strategies::grade,
        },
        backlings_grade::Grader {
            exercise: "cache4_invalidation_stampede",
            grade: cache4_invalidation_stampede::grade,
        },
    ])
}
