//! The graders of track 2 (CRUD and OpenAPI, layers, pagination, DDD aggregate) of backlings: one module per exercise.

mod route5_crud_openapi;
mod route6_layered_hexagonal;
mod route7_pagination_filtering;
mod route8_ddd_aggregate;
mod support;

use backlings_grade::Grader;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        Grader {
            exercise: "route5_crud_openapi",
            grade: route5_crud_openapi::grade,
        },
        Grader {
            exercise: "route6_layered_hexagonal",
            grade: route6_layered_hexagonal::grade,
        },
        Grader {
            exercise: "route7_pagination_filtering",
            grade: route7_pagination_filtering::grade,
        },
        Grader {
            exercise: "route8_ddd_aggregate",
            grade: route8_ddd_aggregate::grade,
        },
    ])
}
