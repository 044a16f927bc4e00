//! The graders of track 1 (chunked streaming, content negotiation and compression) of backlings: one module per
//! exercise, plus the strict streaming response reader they share.

mod http4_chunked_streaming;
mod http6_negotiation_compression;
mod wire;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "http4_chunked_streaming",
            grade: http4_chunked_streaming::grade,
        },
        backlings_grade::Grader {
            exercise: "http6_negotiation_compression",
            grade: http6_negotiation_compression::grade,
        },
    ])
}
