//! The graders of track 1 (HTTP/2 frames, QUIC-lite, the request journey) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
