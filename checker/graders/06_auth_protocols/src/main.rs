//! The graders of track 6 (OAuth2/OIDC, MFA, access models, brute force) of backlings: one module per exercise.

mod auth5_oauth2_oidc;
mod auth6_mfa_totp_webauthn;
mod auth7_access_models;
mod auth8_bruteforce_audit;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "auth5_oauth2_oidc",
            grade: auth5_oauth2_oidc::grade,
        },
        backlings_grade::Grader {
            exercise: "auth6_mfa_totp_webauthn",
            grade: auth6_mfa_totp_webauthn::grade,
        },
        backlings_grade::Grader {
            exercise: "auth7_access_models",
            grade: auth7_access_models::grade,
        },
        backlings_grade::Grader {
            exercise: "auth8_bruteforce_audit",
            grade: auth8_bruteforce_audit::grade,
        },
    ])
}
