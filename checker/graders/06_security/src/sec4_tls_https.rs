//! Grader of `sec4_tls_https`: HTTPS with certificates the grader issues at run time, TLS 1.3 only, ALPN,
//! HSTS, a 308 redirect from plain HTTP, and certificate rotation without a restart.
//!
//! The grader is its own CA ([`tls`]): it writes a certificate and key for `127.0.0.1`, starts the program on
//! them, and talks to it with a rustls client that trusts only that CA. It checks what the handshake agreed on
//! (version, ALPN, the exact certificate), that a TLS 1.2-only client is refused, and the headers. Then it
//! rotates: new files, a reload refused without the admin token, a reload with it, and new connections must
//! present the new certificate (compared byte for byte) while a connection opened before keeps working. A
//! garbage file and a certificate whose key does not match must be refused by the reload, and the server
//! must go on with the certificate it had.

mod tls;

use std::path::Path;

use backlings_grade::http::{Request, Response, printable};
use backlings_grade::{Failure, Grading};
use rustls::pki_types::CertificateDer;
use rustls::version::{TLS12, TLS13};

use crate::support::ScratchDir;
use tls::{Authority, Issued, Session, connect, fingerprint};

const ONE_YEAR: u64 = 31_536_000;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let scratch = ScratchDir::new("sec4")?;
    let cert_path = scratch.path().join("server.crt");
    let key_path = scratch.path().join("server.key");
    let ca = Authority::new(&format!("backlings grader CA (seed {})", g.seed()))?;
    let root = ca.root();
    let first = ca.issue(1)?;
    write_pair(&cert_path, &first.cert_pem, &key_path, &first.key_pem)?;
    let token = g.rng().word(24);
    let cert_arg = cert_path.to_string_lossy().into_owned();
    let key_arg = key_path.to_string_lossy().into_owned();
    let mut server = g.server_with(
        &["--cert", &cert_arg, "--key", &key_arg],
        &[("SEC4_ADMIN_TOKEN", &token)],
    )?;
    let addr = server.addr();

    g.scenario("HTTPS with the grader's certificate: TLS 1.3, ALPN http/1.1, HSTS");
    let mut old = handshake(g, addr, &root, &first, "the first certificate")?;
    let response = https(g, &mut old, &Request::get("/"))?;
    if response.status != 200 || response.text() != "hello over TLS\n" {
        return Err(
            Failure::new("GET / over TLS answers 200 `hello over TLS`").got(response.summary())
        );
    }
    check_hsts(&response)?;

    g.scenario("a client that offers only TLS 1.2 is refused");
    refuse_tls12(g, addr, &root, "")?;

    g.scenario("plain HTTP gets a 308 to the same host, path and query on https://, without HSTS");
    for method in ["GET", "POST", "GET"] {
        let target = format!(
            "/orders/{}?page={}&sort=desc",
            g.rng().range(1, 999),
            g.rng().range(2, 9)
        );
        let mut request = Request::new(method, &target);
        request.headers[0].1 = addr.to_string();
        if method == "POST" {
            request = request.body("item=42");
        }
        let response = server.http(&request)?;
        let location = format!("https://{addr}{target}");
        if response.status != 308 || response.header("Location") != Some(location.as_str()) {
            return Err(Failure::new(
                "a plain-HTTP request is answered 308 Permanent Redirect (301/302 may turn a POST into a GET) \
                 with `Location: https://<Host><path and query>`: same host, same path, same query",
            )
            .expected(format!("308 with Location: {location}"))
            .got(response.summary())
            .detail(format!("the request: {method} {target}")));
        }
        if let Some(hsts) = response.header("Strict-Transport-Security") {
            return Err(Failure::new(
                "HSTS goes on HTTPS responses only: over plain HTTP an attacker can strip or forge it, and \
                 browsers ignore it there",
            )
            .got(format!("Strict-Transport-Security: {hsts} on the plain-HTTP redirect")));
        }
    }

    g.scenario("the certificate rotates without a restart, and a bad rotation changes nothing");
    let second = ca.issue(2)?;
    write_pair(&cert_path, &second.cert_pem, &key_path, &second.key_pem)?;
    let refused = admin_reload(g, addr, &root, None)?;
    let still_first = handshake(
        g,
        addr,
        &root,
        &first,
        "the old certificate (the reload had no admin token)",
    )?;
    drop(still_first);
    if refused.status != 401 {
        return Err(Failure::new(
            "POST /admin/reload without the admin token answers 401 and reloads nothing",
        )
        .got(refused.summary()));
    }
    let wrong = admin_reload(g, addr, &root, Some("not-the-token"))?;
    if wrong.status != 401 {
        return Err(Failure::new(
            "POST /admin/reload with a wrong admin token answers 401 and reloads nothing",
        )
        .got(wrong.summary()));
    }
    reload_ok(g, addr, &root, &token)?;
    let mut rotated = handshake(
        g,
        addr,
        &root,
        &second,
        "the new certificate, right after the reload",
    )?;
    https(g, &mut rotated, &Request::get("/"))?;
    refuse_tls12(g, addr, &root, " after the rotation")?;
    let response = https(g, &mut old, &Request::get("/"))?;
    if response.status != 200 {
        return Err(Failure::new(
            "a connection opened before the rotation goes on working: the reload changes the certificate of new \
             connections only",
        )
        .got(response.summary()));
    }

    let third = ca.issue(3)?;
    let bad_rotations = [
        (
            "a certificate file that is not PEM (a half-written file)",
            "-----BEGIN CERT".to_string(),
            second.key_pem.clone(),
        ),
        (
            "a new certificate with the old key (a mismatched pair)",
            third.cert_pem.clone(),
            second.key_pem.clone(),
        ),
    ];
    for (what, cert_pem, key_pem) in bad_rotations {
        write_pair(&cert_path, &cert_pem, &key_path, &key_pem)?;
        let response = admin_reload(g, addr, &root, Some(&token))?;
        server.ensure_alive()?;
        if response.status != 500 {
            return Err(Failure::new(
                "a reload that cannot load the files answers 500 and keeps the certificate it had: a rotation \
                 job must never take the site down",
            )
            .got(response.summary())
            .detail(format!("the files: {what}")));
        }
        handshake(
            g,
            addr,
            &root,
            &second,
            &format!("the previous certificate, after a failed reload of {what}"),
        )?;
    }
    write_pair(&cert_path, &third.cert_pem, &key_path, &third.key_pem)?;
    reload_ok(g, addr, &root, &token)?;
    handshake(
        g,
        addr,
        &root,
        &third,
        "the third certificate, after a good reload following two bad ones",
    )?;
    Ok(())
}

fn write_pair(cert_path: &Path, cert: &str, key_path: &Path, key: &str) -> Result<(), Failure> {
    std::fs::write(cert_path, cert)
        .and_then(|()| std::fs::write(key_path, key))
        .map_err(|e| {
            Failure::new(format!(
                "the grader could not write the certificate files: {e}"
            ))
        })
}

/// A TLS 1.3-or-1.2 handshake offering `h2` and `http/1.1`, which must agree on TLS 1.3, `http/1.1` and
/// `expected`'s certificate.
fn handshake(
    g: &mut Grading,
    addr: std::net::SocketAddr,
    root: &CertificateDer<'static>,
    expected: &Issued,
    which: &str,
) -> Result<Session, Failure> {
    let session = connect(addr, root, &[&TLS13, &TLS12], &["h2", "http/1.1"]).map_err(|e| {
        Failure::new(
            "a TLS client that trusts the grader's CA, offering TLS 1.3 and 1.2 and ALPN h2 and http/1.1, \
             completes a handshake with the server",
        )
        .got(format!("the handshake failed: {e}"))
    })?;
    g.record(
        "tls",
        "ClientHello: TLS 1.3 + 1.2, ALPN [h2, http/1.1]",
        &format!(
            "{}, ALPN {:?}, certificate {}",
            session.version,
            session.alpn,
            session.peer.as_ref().map(fingerprint).unwrap_or_default()
        ),
    );
    if session.version != "TLS 1.3" {
        return Err(
            Failure::new("the server negotiates TLS 1.3 when the client offers it")
                .got(&session.version)
                .detail(format!("this connection: {which}")),
        );
    }
    if session.alpn.as_deref() != Some("http/1.1") {
        return Err(Failure::new(
            "ALPN advertises only what the server speaks: offered h2 and http/1.1, it must pick http/1.1 (a \
             server that agrees to h2 and then answers HTTP/1.1 breaks every HTTP/2 client)",
        )
        .expected("http/1.1")
        .got(format!("{:?}", session.alpn))
        .detail(format!("this connection: {which}")));
    }
    if session.peer.as_ref() != Some(&expected.der) {
        return Err(Failure::new(
            "new connections present the certificate of the files as last successfully (re)loaded: after a \
             rotation, the new one; after a failed reload, the one before",
        )
        .expected(format!("{which}: {}", fingerprint(&expected.der)))
        .got(session.peer.as_ref().map(fingerprint).unwrap_or("no certificate".to_string())));
    }
    Ok(session)
}

fn refuse_tls12(
    g: &mut Grading,
    addr: std::net::SocketAddr,
    root: &CertificateDer<'static>,
    when: &str,
) -> Result<(), Failure> {
    match connect(addr, root, &[&TLS12], &["http/1.1"]) {
        Err(e) => {
            g.record("tls", "ClientHello: TLS 1.2 only", &format!("refused: {e}"));
            Ok(())
        }
        Ok(session) => {
            g.record(
                "tls",
                "ClientHello: TLS 1.2 only",
                &format!("accepted: {}", session.version),
            );
            Err(Failure::new(format!(
                "the server speaks TLS 1.3 only: a client that offers only TLS 1.2 must fail the handshake{when}"
            ))
            .expected("a handshake failure (protocol_version alert)")
            .got(format!("a {} session", session.version)))
        }
    }
}

fn admin_reload(
    g: &mut Grading,
    addr: std::net::SocketAddr,
    root: &CertificateDer<'static>,
    token: Option<&str>,
) -> Result<Response, Failure> {
    let mut session = connect(addr, root, &[&TLS13], &["http/1.1"])
        .map_err(|e| Failure::new("the admin client's TLS handshake failed").got(e))?;
    let mut request = Request::post("/admin/reload", Vec::new());
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    https(g, &mut session, &request)
}

fn reload_ok(
    g: &mut Grading,
    addr: std::net::SocketAddr,
    root: &CertificateDer<'static>,
    token: &str,
) -> Result<(), Failure> {
    let response = admin_reload(g, addr, root, Some(token))?;
    if response.status != 200 {
        return Err(Failure::new(
            "POST /admin/reload with `Authorization: Bearer <SEC4_ADMIN_TOKEN>` re-reads valid files and answers \
             200",
        )
        .got(response.summary()));
    }
    Ok(())
}

fn https(g: &mut Grading, session: &mut Session, request: &Request) -> Result<Response, Failure> {
    let sent = printable(&request.to_bytes());
    match session.request(request) {
        Ok(response) => {
            g.record("https", &sent, &response.summary());
            Ok(response)
        }
        Err(e) => {
            g.record("https", &sent, &format!("<{e}>"));
            Err(
                Failure::new("an HTTPS request gets an HTTP/1.1 response over the TLS connection")
                    .got(e),
            )
        }
    }
}

fn check_hsts(response: &Response) -> Result<(), Failure> {
    let rule = "every HTTPS response carries `Strict-Transport-Security` with a max-age of at least one year \
                (31536000 seconds)";
    let Some(hsts) = response.header("Strict-Transport-Security") else {
        return Err(Failure::new(rule).got("no Strict-Transport-Security header"));
    };
    let max_age = hsts
        .split(';')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.trim().parse::<u64>().ok());
    match max_age {
        Some(age) if age >= ONE_YEAR => Ok(()),
        _ => Err(Failure::new(rule).got(format!("Strict-Transport-Security: {hsts}"))),
    }
}
