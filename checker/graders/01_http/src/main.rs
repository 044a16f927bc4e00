//! The graders of track 1, "HTTP from raw TCP": one module per exercise, plus the raw-HTTP checks they share.

mod http1_request_parser;
mod http2_raw_server;
mod http3_keep_alive;
mod http5_methods_status;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "http1_request_parser",
            grade: http1_request_parser::grade,
        },
        backlings_grade::Grader {
            exercise: "http2_raw_server",
            grade: http2_raw_server::grade,
        },
        backlings_grade::Grader {
            exercise: "http3_keep_alive",
            grade: http3_keep_alive::grade,
        },
        backlings_grade::Grader {
            exercise: "http5_methods_status",
            grade: http5_methods_status::grade,
        },
    ])
}
