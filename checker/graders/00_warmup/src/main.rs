//! The graders of track 0, the Rust warm-up: every exercise speaks JSON lines over stdio.

mod warm1_buffer_ownership;
mod warm2_traits_dispatch;
mod warm3_result_errors;
mod warm4_iterator_pipelines;
mod warm5_threads_channels;
mod warm6_tokio_async;

use backlings_grade::Grader;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        Grader {
            exercise: "warm1_buffer_ownership",
            grade: warm1_buffer_ownership::grade,
        },
        Grader {
            exercise: "warm2_traits_dispatch",
            grade: warm2_traits_dispatch::grade,
        },
        Grader {
            exercise: "warm3_result_errors",
            grade: warm3_result_errors::grade,
        },
        Grader {
            exercise: "warm4_iterator_pipelines",
            grade: warm4_iterator_pipelines::grade,
        },
        Grader {
            exercise: "warm5_threads_channels",
            grade: warm5_threads_channels::grade,
        },
        Grader {
            exercise: "warm6_tokio_async",
            grade: warm6_tokio_async::grade,
        },
    ])
}
