//! The graders of track 6 (injection, XSS/CSRF, IDOR/SSRF, TLS, secrets) of backlings: one module per exercise,
//! plus what they share.

mod sec1_injection;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "sec1_injection",
        grade: sec1_injection::grade,
    }])
}
