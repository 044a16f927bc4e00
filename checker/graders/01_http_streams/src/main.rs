//! The graders of track 1 (chunked streaming, content negotiation and compression) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
