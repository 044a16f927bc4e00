//! The graders of track 2 (path and query parameters, route types, groups and versions, radix router) of backlings: one module per exercise.

mod route1_path_query_params;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "route1_path_query_params",
        grade: route1_path_query_params::grade,
    }])
}
