//! The graders of track 6 (identity: passwords, sessions, JWT, API keys) of backlings: one module per exercise.

mod auth1_password_hashing;
mod auth2_sessions_cookies;
mod auth3_jwt_refresh;
mod auth4_api_keys_scopes;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "auth1_password_hashing",
            grade: auth1_password_hashing::grade,
        },
        backlings_grade::Grader {
            exercise: "auth2_sessions_cookies",
            grade: auth2_sessions_cookies::grade,
        },
        backlings_grade::Grader {
            exercise: "auth3_jwt_refresh",
            grade: auth3_jwt_refresh::grade,
        },
        backlings_grade::Grader {
            exercise: "auth4_api_keys_scopes",
            grade: auth4_api_keys_scopes::grade,
        },
    ])
}
