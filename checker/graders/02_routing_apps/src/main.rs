//! The graders of track 2 (CRUD and OpenAPI, layers, pagination, DDD aggregate) of backlings: one module per exercise.

mod route5_crud_openapi;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "route5_crud_openapi",
        grade: route5_crud_openapi::grade,
    }])
}
