//! The checks of `mw3_security_headers_cors`: one response against the policy, header by header, and the
//! failure the learner reads.

use std::collections::BTreeSet;

use backlings_grade::Failure;
use backlings_grade::http::Response;

use super::model::{Expected, Policy, Probe, Refusal};

/// The security headers and their exact values (the handler of `/docs` sets its own CSP).
const SECURITY: [(&str, &str); 5] = [
    (
        "Content-Security-Policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    (
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains",
    ),
    ("Referrer-Policy", "no-referrer"),
];

/// Compares one response with the contract; the `Err` is the broken rule in plain words.
pub(super) fn check(
    policy: &Policy,
    probe: &Probe,
    expected: &Expected,
    response: &Response,
) -> Result<(), String> {
    if response.status != expected.status {
        return Err(status_rule(policy, probe, expected, response));
    }
    for (name, value) in SECURITY {
        let value = if name == "Content-Security-Policy" && expected.own_csp {
            "default-src 'self'"
        } else {
            value
        };
        match response.headers_named(name).as_slice() {
            [] => {
                return Err(format!(
                    "every response carries the five security headers (errors, preflights and refusals \
                     included): `{name}` is missing"
                ));
            }
            [one] if *one == value => {}
            [_] if expected.own_csp && name == "Content-Security-Policy" => {
                return Err("the handler of /docs set its own Content-Security-Policy: the middleware keeps it \
                            (it adds a security header only when the response does not have it)"
                    .to_string());
            }
            [_] => return Err(format!("`{name}` must be exactly `{value}`")),
            _ => {
                return Err(format!(
                    "each security header appears once: the handler's own value wins, and the middleware never \
                     adds a second `{name}` (two policies are both enforced, and the page breaks)"
                ));
            }
        }
    }
    let vary = header_set(response, "Vary", true);
    if !vary.contains("origin") {
        return Err("every response carries `Vary: Origin`: its CORS headers depend on Origin, so a cache must \
                    not serve one origin's answer to another"
            .to_string());
    }
    if expected.vary_accept_encoding && !vary.contains("accept-encoding") {
        return Err("`Vary: Origin` is added to the Vary the handler set (`Accept-Encoding` here), never in its \
                    place"
            .to_string());
    }
    check_cors_headers(policy, probe, expected, response)
}

fn check_cors_headers(
    policy: &Policy,
    probe: &Probe,
    expected: &Expected,
    response: &Response,
) -> Result<(), String> {
    let got: BTreeSet<String> = response
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| name.starts_with("access-control-"))
        .collect();
    let wanted: BTreeSet<String> = expected
        .cors
        .keys()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    if expected.cors.is_empty() && !got.is_empty() {
        return Err(match (&probe.origin, expected.refusal) {
            (_, Some(refusal)) => format!(
                "a refused preflight gets 403 and no Access-Control-* header at all ({})",
                refusal.describe()
            ),
            (None, _) => "a request without Origin gets no Access-Control-* header".to_string(),
            (Some(origin), _) => lookalike_rule(policy, origin),
        });
    }
    let acao = response.header("Access-Control-Allow-Origin");
    if let Some(wanted_acao) = expected.cors.get("Access-Control-Allow-Origin") {
        if acao == Some("*") && wanted_acao != "*" {
            return Err("with credentials, Access-Control-Allow-Origin is the request's own origin, never `*`: \
                        browsers refuse credentials with `*`"
                .to_string());
        }
        if acao != Some(wanted_acao.as_str()) {
            return Err(if policy.is_any() {
                "with --origins '*', Access-Control-Allow-Origin is `*`".to_string()
            } else {
                "an allowed origin gets Access-Control-Allow-Origin set to exactly its own origin"
                    .to_string()
            });
        }
    }
    if policy.is_any() && got.contains("access-control-allow-credentials") {
        return Err("a public API (`*`) never sends Access-Control-Allow-Credentials: credentials and `*` never go \
                    together"
            .to_string());
    }
    if got != wanted {
        let preflight_only = [
            "access-control-allow-methods",
            "access-control-allow-headers",
            "access-control-max-age",
        ];
        if !probe.is_preflight()
            && got
                .iter()
                .any(|name| preflight_only.contains(&name.as_str()))
        {
            return Err("Access-Control-Allow-Methods, -Allow-Headers and -Max-Age belong to the answer of a \
                        preflight only"
                .to_string());
        }
        if wanted.contains("access-control-allow-credentials")
            && !got.contains("access-control-allow-credentials")
        {
            return Err("with --credentials, an allowed origin also gets `Access-Control-Allow-Credentials: true`"
                .to_string());
        }
        return Err(format!(
            "the Access-Control-* headers of this answer are exactly: {}",
            expected.cors.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    for (name, value) in &expected.cors {
        let ok = match name.as_str() {
            "Access-Control-Allow-Methods" => {
                header_set(response, name, false) == list_set(value, false)
            }
            "Access-Control-Allow-Headers" => {
                header_set(response, name, true) == list_set(value, true)
            }
            _ => response.header(name) == Some(value.as_str()),
        };
        if !ok {
            return Err(format!(
                "a preflight's answer states the policy: `{name}: {value}` (a list may come in any order)"
            ));
        }
    }
    Ok(())
}

fn lookalike_rule(policy: &Policy, origin: &str) -> String {
    let resembles = policy.origins().iter().find(|allowed| {
        origin != allowed.as_str()
            && (origin.contains(allowed.as_str()) || allowed.contains(origin))
    });
    match resembles {
        Some(allowed) => format!(
            "origins match exactly: `{origin}` is not `{allowed}`, so it gets no Access-Control-Allow-Origin (an \
             attacker can register a look-alike)"
        ),
        None => format!(
            "a disallowed origin (`{origin}`) gets no Access-Control-* header: reflecting any Origin lets every \
             site read the responses, with the user's cookies"
        ),
    }
}

fn status_rule(policy: &Policy, probe: &Probe, expected: &Expected, response: &Response) -> String {
    let got = response.status;
    if got == 500 {
        return "the program answered 500: a middleware panicked (its message is in the program's stderr below)"
            .to_string();
    }
    match expected.refusal {
        Some(Refusal::Origin) if got != 403 => {
            return lookalike_rule(policy, probe.origin.as_deref().unwrap_or(""));
        }
        Some(refusal) if got != 403 => {
            return format!(
                "a preflight asking for a disallowed {} is refused with 403",
                refusal.describe()
            );
        }
        _ => {}
    }
    if probe.is_preflight() {
        return "this preflight is allowed (its origin, method and headers are all in the policy): 204 with the \
                policy's headers"
            .to_string();
    }
    if probe.method == "OPTIONS" {
        return "an OPTIONS without both Origin and Access-Control-Request-Method is not a preflight: it goes to the \
                handler, which answers 204 with Allow"
            .to_string();
    }
    "the CORS middleware never changes the handler's status for a request that is not a preflight"
        .to_string()
}

/// The comma-separated values of every `name` header, trimmed, lowercased if `fold`.
fn header_set(response: &Response, name: &str, fold: bool) -> BTreeSet<String> {
    response
        .headers_named(name)
        .iter()
        .flat_map(|value| list_set(value, fold))
        .collect()
}

fn list_set(value: &str, fold: bool) -> BTreeSet<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            if fold {
                v.to_ascii_lowercase()
            } else {
                v.to_string()
            }
        })
        .collect()
}

pub(super) fn explain(
    rule: String,
    policy: &Policy,
    probe: &Probe,
    expected: &Expected,
    response: &Response,
) -> Failure {
    let mut want = format!("{}", expected.status);
    if expected.cors.is_empty() {
        want.push_str(" · no Access-Control-* header");
    }
    for (name, value) in &expected.cors {
        want.push_str(&format!(" · {name}: {value}"));
    }
    let mut got = format!("{}", response.status);
    let mut any = false;
    for (name, value) in &response.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("access-control-") || lower == "vary" || lower == "allow" {
            got.push_str(&format!(" · {name}: {value}"));
            any |= lower.starts_with("access-control-");
        }
    }
    if !any {
        got.push_str(" · no Access-Control-* header");
    }
    Failure::new(rule)
        .expected(want)
        .got(got)
        .detail(format!("the request: {}", probe.describe()))
        .detail(format!("the policy: {}", policy.args().join(" ")))
}
