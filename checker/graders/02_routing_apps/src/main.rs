//! The graders of track 2 (CRUD and OpenAPI, layers, pagination, DDD aggregate) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
