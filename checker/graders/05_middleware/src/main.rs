//! The graders of track 5 (middleware, request context & rate limiting), one module per exercise.

mod held_upstream;
mod log_file;
mod mw1_chain_next;
mod mw2_pipeline_order;
mod mw3_security_headers_cors;
mod mw4_body_parsers;
mod mw5_request_context;
mod mw6_token_bucket;
mod mw7_window_limiters;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "mw1_chain_next",
            grade: mw1_chain_next::grade,
        },
        backlings_grade::Grader {
            exercise: "mw2_pipeline_order",
            grade: mw2_pipeline_order::grade,
        },
        backlings_grade::Grader {
            exercise: "mw3_security_headers_cors",
            grade: mw3_security_headers_cors::grade,
        },
        backlings_grade::Grader {
            exercise: "mw4_body_parsers",
            grade: mw4_body_parsers::grade,
        },
        backlings_grade::Grader {
            exercise: "mw5_request_context",
            grade: mw5_request_context::grade,
        },
        backlings_grade::Grader {
            exercise: "mw6_token_bucket",
            grade: mw6_token_bucket::grade,
        },
        backlings_grade::Grader {
            exercise: "mw7_window_limiters",
            grade: mw7_window_limiters::grade,
        },
    ])
}
