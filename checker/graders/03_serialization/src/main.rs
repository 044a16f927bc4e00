//! The graders of track 3 (serialization) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
