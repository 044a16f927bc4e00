//! The graders of track 8 (HTTP/CDN caching, redis-lite, L1/L2) of backlings: one module per exercise.

mod cache5_http_cdn_cache;
mod cache6_redis_lite;
mod cache7_l1_l2_shared;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "cache5_http_cdn_cache",
            grade: cache5_http_cdn_cache::grade,
        },
        backlings_grade::Grader {
            exercise: "cache6_redis_lite",
            grade: cache6_redis_lite::grade,
        },
        backlings_grade::Grader {
            exercise: "cache7_l1_l2_shared",
            grade: cache7_l1_l2_shared::grade,
        },
    ])
}
