//! # HTTPS: TLS 1.3, a redirect, HSTS, and certificates that rotate without a restart
//!
//! Everything a backend sends over plain HTTP can be read and rewritten by anyone on the path: the café Wi-Fi,
//! a compromised router, an ISP injecting ads. **TLS** gives the connection confidentiality, integrity and
//! server authentication: the client checks that the server's **certificate** chains to a CA it trusts and
//! names the host it asked for, and the handshake proves the server holds the certificate's private key.
//!
//! Four things make "HTTPS everywhere" real in production:
//!
//! - **TLS 1.3 only** where clients allow it: it removed the weak ciphers, RSA key exchange (no forward
//!   secrecy) and renegotiation of 1.2, and its handshake is one round trip shorter. A config that merely
//!   *prefers* 1.3 still lets a downgrading client pick 1.2.
//! - **ALPN** (application-layer protocol negotiation) tells the client, inside the handshake, which protocol
//!   comes next. Advertise only what you speak: a server that lists `h2` and then answers HTTP/1.1 breaks every
//!   HTTP/2 client that trusted it.
//! - **Plain HTTP only redirects**: `308 Permanent Redirect` to the same path and query on `https://`. 308 (not
//!   301 or 302) keeps the method and body, so a `POST` stays a `POST`. And every HTTPS response carries
//!   **HSTS** (`Strict-Transport-Security: max-age=31536000; includeSubDomains`), which makes the browser use
//!   HTTPS for this host for a year without trying plain HTTP first (where the redirect itself could be
//!   tampered with). HSTS over plain HTTP means nothing (an attacker could strip or forge it): send it on
//!   HTTPS responses only.
//! - **Certificates expire** (90 days at Let's Encrypt, 47 days soon for everyone), so they are replaced while
//!   the server runs: the new files are written, the server is told to reload, and new connections get the
//!   new certificate while open ones finish on the old. A reload that fails (a half-written file, a key that
//!   does not match) must keep the old certificate: a rotation job must never take the site down.
//!
//! ## The contract
//!
//! The program is started with `--cert PATH --key PATH` (PEM files the grader generates, issued by its own
//! CA for `127.0.0.1`) and the environment variable `SEC4_ADMIN_TOKEN`. On one port (the provided listener
//! looks at the first byte: a TLS handshake starts with `0x16`):
//!
//! - TLS: version 1.3 only; ALPN `http/1.1` only; `GET /` → `200 hello over TLS`; every response carries
//!   `Strict-Transport-Security` with `max-age` of at least one year; `POST /admin/reload` with
//!   `Authorization: Bearer <SEC4_ADMIN_TOKEN>` re-reads the two files: `200` and new connections use the new
//!   certificate, or `500` and the old one stays; a missing or wrong token → `401`, nothing reloaded.
//! - Plain HTTP: every request → `308` with `Location: https://<Host><path and query>`, no HSTS.
//!
//! ## Pitfalls
//!
//! - `ServerConfig::builder()` enables TLS 1.2 too, and picks the default crypto provider: name both.
//! - Keeping the first `Arc<ServerConfig>` in the accept loop: the reload then changes nothing. Look the
//!   current config up for each new connection.
//! - Building the reloaded config with different settings than the first one (no TLS 1.3 restriction, no
//!   ALPN): one function builds both.
//! - `format!("https://{host}{path}")` without the query string drops `?page=2`.
//!
//! Roadmap: TLS/HTTPS everywhere, TLS 1.3, certificate management and HSTS, request lifecycle.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::thread;

use backlings_harness::http::{ParseError, Request, Response, handle_connection, read_request};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The HSTS policy: one year, subdomains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {path}: {why}")]
    Pem { path: PathBuf, why: String },
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("bad TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Reads the certificate chain and the private key, and builds the server's TLS configuration: the ring
/// provider, TLS 1.3 only, no client certificates, ALPN `http/1.1` only.
pub fn load_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    // TODO: read the PEM certificate chain and private key (rustls_pki_types' `PemObject`), then build a
    // ServerConfig with the ring provider, TLS 1.3 only, no client auth, and ALPN `http/1.1` only.
    todo!()
}

/// The certificate files and the configuration built from them, swapped on reload.
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl CertStore {
    /// Loads the files once; the server does not start without a valid certificate.
    pub fn open(cert_path: PathBuf, key_path: PathBuf) -> Result<Self, TlsError> {
        let config = load_config(&cert_path, &key_path)?;
        Ok(CertStore {
            cert_path,
            key_path,
            current: RwLock::new(config),
        })
    }

    /// The configuration a new connection uses.
    pub fn current(&self) -> Arc<ServerConfig> {
        // TODO: the configuration new connections should use right now.
        todo!()
    }

    /// Re-reads the files; on success new connections use them, on failure nothing changes.
    pub fn reload(&self) -> Result<(), TlsError> {
        // TODO: build a configuration from the files again; install it only if that succeeded.
        todo!()
    }
}

/// The answer to any plain-HTTP request: `308` to the same host, path and query on `https://`.
pub fn redirect_to_https(request: &Request) -> Response {
    // TODO: 308, with a Location on https:// that keeps the Host, the path and the query.
    todo!()
}

/// `response` with the HSTS header, for every response sent over TLS.
pub fn with_hsts(response: Response) -> Response {
    // TODO: add the Strict-Transport-Security header (see `HSTS`).
    todo!()
}

/// The application behind TLS (provided: you do not need to change this).
fn app(store: &CertStore, admin_token: &str, request: &Request) -> Response {
    match (request.method.as_str(), request.path()) {
        ("GET", "/") => Response::text(200, "hello over TLS\n"),
        ("POST", "/admin/reload") => {
            let expected = format!("Bearer {admin_token}");
            if admin_token.is_empty() || request.header("authorization") != Some(expected.as_str())
            {
                return Response::text(401, "admin token required\n");
            }
            match store.reload() {
                Ok(()) => Response::text(200, "reloaded\n"),
                Err(e) => Response::text(
                    500,
                    format!("reload failed, keeping the old certificate: {e}\n"),
                ),
            }
        }
        _ => Response::text(404, "not found\n"),
    }
}

/// Serves one TLS connection with the configuration current when it arrived (provided: you do not need to
/// change this).
fn serve_tls(tcp: TcpStream, config: Arc<ServerConfig>, handler: &dyn Fn(&Request) -> Response) {
    let Ok(connection) = ServerConnection::new(config) else {
        return;
    };
    let mut reader = BufReader::new(StreamOwned::new(connection, tcp));
    loop {
        let request = match read_request(&mut reader) {
            Ok(request) => request,
            Err(ParseError::Closed | ParseError::Io(_)) => return,
            Err(error) => {
                if let Some(response) = error.response() {
                    let _ = with_hsts(response).write_to(reader.get_mut(), false);
                }
                return;
            }
        };
        let keep_alive = request.keeps_alive();
        let response = with_hsts(handler(&request));
        if response.write_to(reader.get_mut(), keep_alive).is_err()
            || reader.get_mut().flush().is_err()
        {
            return;
        }
        if !keep_alive {
            reader.get_mut().conn.send_close_notify();
            let _ = reader.get_mut().flush();
            return;
        }
    }
}

/// Reads `--cert PATH --key PATH` (provided: you do not need to change this).
fn parse_args() -> Result<(PathBuf, PathBuf), String> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
            .ok_or(format!("{flag} PATH is required"))
    };
    Ok((value("--cert")?, value("--key")?))
}

/// Listens on one port for TLS and plain HTTP alike (provided: you do not need to change this).
fn main() -> ExitCode {
    let (cert, key) = match parse_args() {
        Ok(paths) => paths,
        Err(why) => {
            eprintln!("error: {why}\nusage: sec4_tls_https --cert PATH --key PATH");
            return ExitCode::from(2);
        }
    };
    let store = match CertStore::open(cert, key) {
        Ok(store) => Arc::new(store),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let admin_token = Arc::new(std::env::var("SEC4_ADMIN_TOKEN").unwrap_or_default());
    let listener = match TcpListener::bind("127.0.0.1:0").and_then(|l| Ok((l.local_addr()?, l))) {
        Ok((addr, listener)) => {
            println!("READY {addr}");
            let _ = std::io::stdout().flush();
            listener
        }
        Err(e) => {
            eprintln!("error: could not listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    for tcp in listener.incoming().flatten() {
        let (store, admin_token) = (Arc::clone(&store), Arc::clone(&admin_token));
        thread::spawn(move || {
            let mut first = [0u8; 1];
            // A TLS connection opens with a handshake record (0x16); anything else is plain HTTP.
            match tcp.peek(&mut first) {
                Ok(1) if first[0] == 0x16 => {
                    let handler = |r: &Request| app(&store, &admin_token, r);
                    serve_tls(tcp, store.current(), &handler);
                }
                Ok(1) => {
                    let _ = handle_connection(tcp, &redirect_to_https);
                }
                _ => {}
            }
        });
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, host: &str) -> Request {
        Request {
            method: "POST".to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: vec![("Host".to_string(), host.to_string())],
            body: Vec::new(),
        }
    }

    // The redirect keeps the method (308), the host, the path and the query.
    #[test]
    fn plain_http_is_redirected_with_308() {
        let response = redirect_to_https(&request("/orders?page=2&sort=desc", "shop.example:8443"));
        assert_eq!(response.status, 308);
        assert_eq!(
            response.header("Location"),
            Some("https://shop.example:8443/orders?page=2&sort=desc")
        );
        assert_eq!(response.header("Strict-Transport-Security"), None);
    }

    // HSTS is added, for at least a year, without dropping what the response had.
    #[test]
    fn hsts_is_added_to_tls_responses() {
        let response = with_hsts(Response::text(200, "ok").with_header("X-Kept", "yes"));
        assert_eq!(response.header("X-Kept"), Some("yes"));
        let hsts = response.header("Strict-Transport-Security").unwrap();
        let max_age: u64 = hsts
            .split(';')
            .find_map(|d| d.trim().strip_prefix("max-age="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(max_age >= 31_536_000, "{hsts}");
    }

    // Missing or garbage files are reported as errors, never as a panic.
    #[test]
    fn bad_files_are_errors() {
        // Removes the file when the test ends, even by a panic.
        struct Scratch(PathBuf);
        impl Drop for Scratch {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let garbage =
            Scratch(std::env::temp_dir().join(format!("sec4-test-{}.pem", std::process::id())));
        std::fs::write(&garbage.0, "not a certificate").unwrap();
        assert!(load_config(&garbage.0, &garbage.0).is_err());
        assert!(load_config(&garbage.0.with_extension("missing"), &garbage.0).is_err());
    }
}
