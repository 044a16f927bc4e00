//! The graders of track 6 (injection, XSS/CSRF, IDOR/SSRF, TLS, secrets) of backlings: one module per exercise,
//! plus what they share.

mod fake_site;
mod sec1_injection;
mod sec2_xss_csrf;
mod sec3_idor_ssrf;
mod sec4_tls_https;
mod sec5_envelope_secrets;
mod support;

use backlings_grade::Grader;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        Grader {
            exercise: "sec1_injection",
            grade: sec1_injection::grade,
        },
        Grader {
            exercise: "sec2_xss_csrf",
            grade: sec2_xss_csrf::grade,
        },
        Grader {
            exercise: "sec3_idor_ssrf",
            grade: sec3_idor_ssrf::grade,
        },
        Grader {
            exercise: "sec4_tls_https",
            grade: sec4_tls_https::grade,
        },
        Grader {
            exercise: "sec5_envelope_secrets",
            grade: sec5_envelope_secrets::grade,
        },
    ])
}
