//! The graders of track 2 (path and query parameters, route types, groups and versions, radix router) of backlings: one module per exercise.

mod route1_path_query_params;
mod route2_route_types;
mod route3_groups_versioning;
mod route4_radix_router;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "route1_path_query_params",
            grade: route1_path_query_params::grade,
        },
        backlings_grade::Grader {
            exercise: "route2_route_types",
            grade: route2_route_types::grade,
        },
        backlings_grade::Grader {
            exercise: "route3_groups_versioning",
            grade: route3_groups_versioning::grade,
        },
        backlings_grade::Grader {
            exercise: "route4_radix_router",
            grade: route4_radix_router::grade,
        },
    ])
}
