//! mutant: charges the DNS lookup again on a reused connection
//! expect: reused connection

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// Why an answer gave no address.
#[derive(Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The datagram is an answer to some other query (wrong id): ignore it and keep waiting.
    OtherId,
    /// The name does not exist (RCODE 3).
    NxDomain,
    /// Anything else: truncated, no A record, another RCODE.
    Bad(String),
}

/// The query for the A record of `host`, with id `id`.
pub fn build_query(id: u16, host: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(id.to_be_bytes());
    out.extend(0x0100u16.to_be_bytes());
    out.extend(1u16.to_be_bytes());
    out.extend([0u8; 6]);
    for label in host.split('.') {
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
    out.extend(1u16.to_be_bytes());
    out.extend(1u16.to_be_bytes());
    out
}

fn u16_at(p: &[u8], at: usize) -> Result<u16, DnsError> {
    p.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| DnsError::Bad(format!("truncated at byte {at}")))
}

/// The offset just past the name that starts at `at`.
fn skip_name(p: &[u8], mut at: usize) -> Result<usize, DnsError> {
    loop {
        let len = *p
            .get(at)
            .ok_or_else(|| DnsError::Bad("truncated name".into()))?;
        if len & 0xC0 == 0xC0 {
            return Ok(at + 2);
        }
        if len == 0 {
            return Ok(at + 1);
        }
        at += 1 + len as usize;
    }
}

/// The first A record's address in `packet`, the answer to query `id`.
pub fn parse_answer(id: u16, packet: &[u8]) -> Result<Ipv4Addr, DnsError> {
    if u16_at(packet, 0)? != id {
        return Err(DnsError::OtherId);
    }
    let flags = u16_at(packet, 2)?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::Bad("not an answer (QR bit clear)".into()));
    }
    match flags & 0x000F {
        0 => {}
        3 => return Err(DnsError::NxDomain),
        rcode => return Err(DnsError::Bad(format!("RCODE {rcode}"))),
    }
    let questions = u16_at(packet, 4)?;
    let answers = u16_at(packet, 6)?;
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(packet, at)? + 4;
    }
    for _ in 0..answers {
        at = skip_name(packet, at)?;
        let kind = u16_at(packet, at)?;
        let rdlength = u16_at(packet, at + 8)? as usize;
        let rdata = packet
            .get(at + 10..at + 10 + rdlength)
            .ok_or_else(|| DnsError::Bad("truncated record".into()))?;
        if kind == 1 && rdlength == 4 {
            return Ok(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]));
        }
        at += 10 + rdlength;
    }
    Err(DnsError::Bad("no A record in the answer".into()))
}

/// The exact GET request bytes.
pub fn get_request(host: &str, port: u16, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n").into_bytes()
}

#[derive(Debug, Deserialize)]
pub struct Budget {
    pub rtt_ms: u64,
    pub dns: DnsCost,
    pub tls: String,
    pub reuse: bool,
    pub cdn: Cdn,
}

#[derive(Debug, Deserialize)]
pub struct DnsCost {
    pub cached: bool,
    pub rtt_ms: u64,
}

#[derive(Debug, Deserialize)]
pub struct Cdn {
    pub hit: bool,
    pub edge_ms: u64,
    pub origin_rtt_ms: u64,
    pub origin_ms: u64,
}

/// Time to first byte in milliseconds, by the contract's model.
pub fn ttfb_ms(b: &Budget) -> u64 {
    let dns = if b.dns.cached { 0 } else { b.dns.rtt_ms };
    let tls_round_trips = match b.tls.as_str() {
        "1.2" => 2,
        "1.3" => 1,
        _ => 0,
    };
    let connect = if b.reuse {
        0
    } else {
        b.rtt_ms * (1 + tls_round_trips)
    };
    let origin = if b.cdn.hit {
        0
    } else {
        b.cdn.origin_rtt_ms + b.cdn.origin_ms
    };
    dns + connect + b.rtt_ms + b.cdn.edge_ms + origin
}

// ---- provided: you do not need to change anything below this line ----

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Fetch {
        dns: String,
        id: u16,
        host: String,
        port: u16,
        path: String,
    },
    Budget(Budget),
}

fn fetch(dns: &str, id: u16, host: &str, port: u16, path: &str) -> Result<Value, String> {
    let resolver: SocketAddr = dns.parse().map_err(|e| format!("bad dns address: {e}"))?;
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    socket
        .send_to(&build_query(id, host), resolver)
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    let ip = loop {
        let (n, _) = socket
            .recv_from(&mut buf)
            .map_err(|e| format!("no DNS answer: {e}"))?;
        match parse_answer(id, &buf[..n]) {
            Ok(ip) => break ip,
            Err(DnsError::OtherId) => continue,
            Err(DnsError::NxDomain) => return Ok(json!({ "error": "nxdomain" })),
            Err(DnsError::Bad(why)) => return Err(format!("bad DNS answer: {why}")),
        }
    };
    let mut stream =
        TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_secs(3))
            .map_err(|e| format!("connect to {ip}:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&get_request(host, port, path))
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("no blank line in the response")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status code")?;
    Ok(json!({ "ip": ip.to_string(), "status": status, "body": body }))
}

fn main() {
    backlings_harness::stdio::serve_json_lines(|request: Request| match request {
        Request::Fetch {
            dns,
            id,
            host,
            port,
            path,
        } => fetch(&dns, id, &host, port, &path).unwrap_or_else(|e| json!({ "error": e })),
        Request::Budget(b) => json!({ "ttfb_ms": ttfb_ms(&b) }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    // The query: header, labels with a final zero, type A, class IN.
    #[test]
    fn query_bytes() {
        let q = build_query(0xBEEF, "a.bc");
        assert_eq!(
            q,
            [
                0xBE, 0xEF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1
            ]
        );
    }

    // An answer with a compression pointer; a wrong id is reported as such.
    #[test]
    fn answer_with_pointer() {
        let mut p = vec![0xBE, 0xEF, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        p.extend([1, b'a', 0, 0, 1, 0, 1]);
        p.extend([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
        assert_eq!(parse_answer(0xBEEF, &p), Ok(Ipv4Addr::new(127, 0, 0, 9)));
        assert_eq!(parse_answer(0x1234, &p), Err(DnsError::OtherId));
    }

    // Cold start with TLS 1.2, CDN hit: DNS + 3 round trips + request round trip + edge time.
    #[test]
    fn budget_cold_tls12() {
        let b = Budget {
            rtt_ms: 20,
            dns: DnsCost {
                cached: false,
                rtt_ms: 15,
            },
            tls: "1.2".into(),
            reuse: false,
            cdn: Cdn {
                hit: true,
                edge_ms: 5,
                origin_rtt_ms: 80,
                origin_ms: 30,
            },
        };
        assert_eq!(ttfb_ms(&b), 15 + 60 + 20 + 5);
    }
}
