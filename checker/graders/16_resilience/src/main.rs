//! The graders of track 16, resilience: one module per exercise, plus the fake upstream they share.

mod res2_retry_backoff_jitter;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "res2_retry_backoff_jitter",
        grade: res2_retry_backoff_jitter::grade,
    }])
}
