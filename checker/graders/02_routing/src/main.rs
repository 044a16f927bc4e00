//! The graders of track 2 (path and query parameters, route types, groups and versions, radix router) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
