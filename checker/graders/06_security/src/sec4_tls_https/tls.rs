//! The grader's side of TLS: a private CA that issues certificates for `127.0.0.1` at run time (rcgen, ring;
//! nothing is checked in), and a rustls client that reports what the handshake agreed on.

use std::io::{BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use backlings_grade::Failure;
use backlings_grade::http::{Request, Response, read_response_from};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

/// A certificate authority that exists only for one grading run.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// One issued server certificate, as files and as the DER the client will see.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

fn failure(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(format!("the grader could not {what}: {e}"))
}

impl Authority {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Result<Self, Failure> {
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| failure("make a CA", e))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(|e| failure("make a CA key", e))?;
        let issuer =
            CertifiedIssuer::self_signed(params, key).map_err(|e| failure("sign the CA", e))?;
        Ok(Authority { issuer })
    }

    /// The CA certificate a client trusts.
    pub fn root(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for `127.0.0.1` with a fresh key, `serial` in its common name.
    pub fn issue(&self, serial: u32) -> Result<Issued, Failure> {
        let mut params = CertificateParams::new(Vec::<String>::new())
            .map_err(|e| failure("make a certificate", e))?;
        params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        params
            .distinguished_name
            .push(DnType::CommonName, format!("127.0.0.1 #{serial}"));
        let key = KeyPair::generate().map_err(|e| failure("make a key", e))?;
        let cert = params
            .signed_by(&key, &*self.issuer)
            .map_err(|e| failure("sign a certificate", e))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        })
    }
}

/// What a handshake agreed on.
pub struct Session {
    pub stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
    pub version: String,
    pub alpn: Option<String>,
    pub peer: Option<CertificateDer<'static>>,
}

impl Session {
    /// Sends one request and reads one response on this TLS connection.
    pub fn request(&mut self, request: &Request) -> Result<Response, String> {
        let stream = self.stream.get_mut();
        stream
            .write_all(&request.to_bytes())
            .and_then(|()| stream.flush())
            .map_err(|e| format!("could not send over TLS: {e}"))?;
        read_response_from(&mut self.stream, false)
            .map_err(|e| format!("no valid HTTP response over TLS: {e}"))
    }
}

/// A TLS client trusting `root`, offering `versions` and `alpn`; `Err` carries why the handshake failed.
pub fn connect(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&str],
) -> Result<Session, String> {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    let mut connection =
        ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    tcp.set_write_timeout(Some(Duration::from_secs(5))).ok();
    while connection.is_handshaking() {
        connection
            .complete_io(&mut tcp)
            .map_err(|e| e.to_string())?;
    }
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        other => format!("{other:?}"),
    };
    let alpn = connection
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let peer = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.clone().into_owned());
    Ok(Session {
        stream: BufReader::new(StreamOwned::new(connection, tcp)),
        version,
        alpn,
        peer,
    })
}

/// The SHA-256 fingerprint of a certificate, as people compare them (`AB:CD:…`, first 8 bytes).
pub fn fingerprint(der: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
