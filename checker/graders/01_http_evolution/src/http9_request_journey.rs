//! Grader of `http9_request_journey`: a fake DNS server (UDP) and a fake web server (TCP) on loopback, and a
//! latency-budget model.
//!
//! Each fetch gets its own DNS server on `127.0.0.1:0` and its own web server on a seeded `127.0.0.X` address,
//! so the program can only reach it through the DNS answer. The DNS server checks the query byte for byte, and
//! answers with compression pointers, a CNAME before the A record, a spoofed wrong-id datagram first, or
//! NXDOMAIN. The web server checks the request byte for byte.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Stdio, ensure};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(3);

/// How the fake DNS server answers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Answer {
    Plain,
    Cname,
    SpoofFirst,
    NxDomain,
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn labels(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend(l.as_bytes());
    }
    out.push(0);
    out
}

fn expected_query(id: u16, host: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend(labels(host));
    q.extend([0, 1, 0, 1]);
    q
}

/// An answer datagram for `query` (already checked to be the expected one).
fn answer(query: &[u8], id: u16, kind: Answer, ip: Ipv4Addr, cname: &str) -> Vec<u8> {
    let rcode = if kind == Answer::NxDomain { 3 } else { 0 };
    let ancount: u16 = match kind {
        Answer::NxDomain => 0,
        Answer::Cname => 2,
        _ => 1,
    };
    let mut p = id.to_be_bytes().to_vec();
    p.extend((0x8180u16 | rcode).to_be_bytes());
    p.extend([0, 1]);
    p.extend(ancount.to_be_bytes());
    p.extend([0, 0, 0, 0]);
    p.extend(&query[12..]);
    let a_record = |p: &mut Vec<u8>, name_ptr: u16| {
        p.extend((0xC000 | name_ptr).to_be_bytes());
        p.extend([0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        p.extend(ip.octets());
    };
    match kind {
        Answer::NxDomain => {}
        Answer::Cname => {
            p.extend([0xC0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10]);
            let target = labels(cname);
            p.extend((target.len() as u16).to_be_bytes());
            let target_at = p.len() as u16;
            p.extend(target);
            a_record(&mut p, target_at);
        }
        _ => a_record(&mut p, 12),
    }
    p
}

/// One fetch's fake network: the DNS server and the web server, each on its own thread.
struct Network {
    dns_addr: SocketAddr,
    web_addr: SocketAddr,
    query: Arc<Mutex<Option<Vec<u8>>>>,
    request: Arc<Mutex<Option<Vec<u8>>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Network {
    #[allow(clippy::too_many_arguments)]
    fn start(
        id: u16,
        host: &str,
        kind: Answer,
        web_ip: Ipv4Addr,
        decoy: Ipv4Addr,
        cname: &str,
        response: Vec<u8>,
    ) -> Result<Self, Failure> {
        let setup = |e: std::io::Error| {
            Failure::new(format!("the grader could not set up its network: {e}"))
        };
        let dns = UdpSocket::bind("127.0.0.1:0").map_err(setup)?;
        dns.set_read_timeout(Some(WAIT)).map_err(setup)?;
        let web = TcpListener::bind((web_ip, 0)).map_err(setup)?;
        let dns_addr = dns.local_addr().map_err(setup)?;
        let web_addr = web.local_addr().map_err(setup)?;
        let query = Arc::new(Mutex::new(None));
        let request = Arc::new(Mutex::new(None));
        let mut threads = Vec::new();
        {
            let query = query.clone();
            let want = expected_query(id, host);
            let cname = cname.to_string();
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                let Ok((n, from)) = dns.recv_from(&mut buf) else {
                    return;
                };
                let got = buf[..n].to_vec();
                *query.lock().unwrap() = Some(got.clone());
                if got != want {
                    return;
                }
                if kind == Answer::SpoofFirst {
                    let spoof = answer(&got, id ^ 0x5a5a, Answer::Plain, decoy, &cname);
                    let _ = dns.send_to(&spoof, from);
                }
                let _ = dns.send_to(&answer(&got, id, kind, web_ip, &cname), from);
            }));
        }
        {
            let request = request.clone();
            threads.push(std::thread::spawn(move || {
                let Ok((mut stream, _)) = web.accept() else {
                    return;
                };
                stream.set_read_timeout(Some(WAIT)).ok();
                let mut got = Vec::new();
                let mut chunk = [0u8; 1024];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 16384 {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend(&chunk[..n]),
                    }
                }
                let woke = got == b"wake\r\n\r\n";
                *request.lock().unwrap() = if woke { None } else { Some(got) };
                if !woke {
                    let _ = stream.write_all(&response);
                }
            }));
        }
        Ok(Network {
            dns_addr,
            web_addr,
            query,
            request,
            threads,
        })
    }

    /// Unblocks whatever is still waiting and joins both threads.
    fn finish(mut self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        if self.query.lock().unwrap().is_none()
            && let Ok(s) = UdpSocket::bind("127.0.0.1:0")
        {
            let _ = s.send_to(b"wake", self.dns_addr);
        }
        if self.request.lock().unwrap().is_none()
            && let Ok(mut s) = TcpStream::connect_timeout(&self.web_addr, WAIT)
        {
            let _ = s.write_all(b"wake\r\n\r\n");
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let query = self.query.lock().unwrap().take().filter(|q| q != b"wake");
        let request = self.request.lock().unwrap().take();
        (query, request)
    }
}

fn host_name(rng: &mut Rng) -> String {
    let a = rng.range(2, 8) as usize;
    let b = rng.range(3, 10) as usize;
    format!("{}.{}.test", rng.word(a), rng.word(b))
}

fn fetch(p: &mut Stdio, g: &mut Grading, kind: Answer) -> Result<(), Failure> {
    let rng = g.rng();
    let id = rng.range(1, 0xffff) as u16;
    let host = host_name(rng);
    let cname = format!("edge{}.cdn.test", rng.range(1, 99));
    let web_ip = Ipv4Addr::new(127, 0, rng.range(0, 3) as u8, rng.range(2, 250) as u8);
    let decoy = Ipv4Addr::new(127, 1, 0, rng.range(2, 250) as u8);
    let path = format!("/{}/{}", rng.word(4), rng.word(6));
    let body_len = rng.range(3, 8) as usize;
    let body: Vec<String> = (0..body_len).map(|_| rng.word(5)).collect();
    let body = body.join(" ");
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let response_text = String::from_utf8_lossy(&response).into_owned();
    let net = Network::start(id, &host, kind, web_ip, decoy, &cname, response)?;
    let port = net.web_addr.port();
    let request = json!({
        "op": "fetch", "dns": net.dns_addr.to_string(), "id": id, "host": host, "port": port, "path": path,
    });
    let reply = p.request(&request);
    let (query, got_request) = net.finish();
    if let Some(q) = &query {
        let answered = if *q == expected_query(id, &host) {
            let mut shown = String::new();
            if kind == Answer::SpoofFirst {
                let spoof = answer(q, id ^ 0x5a5a, Answer::Plain, decoy, &cname);
                shown = format!("(spoofed, id {}) {} ; then ", id ^ 0x5a5a, hex(&spoof));
            }
            shown + &hex(&answer(q, id, kind, web_ip, &cname))
        } else {
            "(no answer: not the expected query)".to_string()
        };
        g.record("dns", &hex(q), &answered);
    }
    if let Some(r) = &got_request {
        g.record(
            &format!("tcp {web_ip}:{port}"),
            &format!("{:?}", String::from_utf8_lossy(r)),
            &format!("{response_text:?}"),
        );
    }
    let reply = reply?;

    let want_query = expected_query(id, &host);
    let Some(query) = query else {
        return Err(Failure::new(
            "a fetch starts with one DNS query datagram to the given resolver",
        )
        .expected(format!("a query to {}", request["dns"]))
        .got(format!("no datagram; the program replied {reply}")));
    };
    ensure(query == want_query, || {
        let at = query
            .iter()
            .zip(&want_query)
            .position(|(a, b)| a != b)
            .unwrap_or(query.len().min(want_query.len()));
        Failure::new(format!(
            "the DNS query is the 12-byte header (id {id}, flags 0x0100, QDCOUNT 1, other counts 0), the name {host:?} as length-prefixed labels ending in a zero byte, QTYPE 1, QCLASS 1"
        ))
        .expected(hex(&want_query))
        .got(hex(&query))
        .detail(format!("the first difference is at byte {at}"))
    })?;

    if kind == Answer::NxDomain {
        ensure(got_request.is_none(), || {
            Failure::new("after NXDOMAIN there is no address: the program connects nowhere")
                .got("a connection to the web server")
        })?;
        return ensure(reply == json!({"error": "nxdomain"}), || {
            Failure::new(
                "an answer with RCODE 3 (NXDOMAIN) is reported as {\"error\":\"nxdomain\"}",
            )
            .got(reply.to_string())
        });
    }
    let how = match kind {
        Answer::Plain => {
            "the answer's A record (its name is the compression pointer 0xC00C)".to_string()
        }
        Answer::Cname => format!(
            "the answer held a CNAME record ({host} → {cname}) before the A record: the address is the first A record's, not the CNAME's data"
        ),
        Answer::SpoofFirst => format!(
            "a spoofed datagram with the wrong id (A record {decoy}) arrived first: a reply whose id is not {id} is ignored"
        ),
        Answer::NxDomain => unreachable!(),
    };
    let Some(got_request) = got_request else {
        return Err(Failure::new(format!(
            "the program connects to the address from the DNS answer, {web_ip}:{port}"
        ))
        .got(format!("no connection; the program replied {reply}"))
        .detail(how));
    };
    let want_request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    ensure(got_request == want_request.as_bytes(), || {
        Failure::new("the request is exactly: GET <path> HTTP/1.1, Host: <host>:<port> (the port is not the default), Connection: close, blank line")
            .expected(format!("{want_request:?}"))
            .got(format!("{:?}", String::from_utf8_lossy(&got_request)))
    })?;
    let want = json!({"ip": web_ip.to_string(), "status": 200, "body": body});
    ensure(reply == want, || {
        Failure::new("a fetch replies the address used, the status code and the body")
            .expected(want.to_string())
            .got(reply.to_string())
            .detail(how.clone())
    })
}

/// A seeded topology and its TTFB with the breakdown.
fn topology(rng: &mut Rng) -> (Value, u64, String) {
    let rtt = rng.range(1, 200);
    let dns_rtt = rng.range(1, 120);
    let cached = rng.chance(1, 3);
    let tls = *rng.pick(&["none", "1.2", "1.3", "1.3-0rtt"]);
    let reuse = rng.chance(1, 4);
    let hit = rng.chance(1, 2);
    let edge = rng.range(0, 30);
    let origin_rtt = rng.range(5, 250);
    let origin = rng.range(0, 400);
    let tls_rtts = match tls {
        "1.2" => 2,
        "1.3" => 1,
        _ => 0,
    };
    let dns = if cached || reuse { 0 } else { dns_rtt };
    let connect = if reuse { 0 } else { rtt * (1 + tls_rtts) };
    let http = rtt + edge + if hit { 0 } else { origin_rtt + origin };
    let why = format!(
        "dns {dns} ms ({}) + connect {connect} ms ({}) + http {http} ms (1 RTT {rtt} + edge {edge}{})",
        if reuse {
            "reused connection: no DNS lookup".to_string()
        } else if cached {
            "cached".to_string()
        } else {
            format!("1 RTT to the resolver, {dns_rtt}")
        },
        if reuse {
            "reused connection: no handshake".to_string()
        } else {
            format!("TCP 1 RTT + TLS {tls}: {tls_rtts} RTT, at {rtt} ms each")
        },
        if hit {
            ", CDN hit".to_string()
        } else {
            format!(", CDN miss: + origin RTT {origin_rtt} + origin {origin}")
        }
    );
    let request = json!({
        "op": "budget", "rtt_ms": rtt, "dns": {"cached": cached, "rtt_ms": dns_rtt}, "tls": tls, "reuse": reuse,
        "cdn": {"hit": hit, "edge_ms": edge, "origin_rtt_ms": origin_rtt, "origin_ms": origin},
    });
    (request, dns + connect + http, why)
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut p = g.stdio()?;
    g.scenario(
        "fetch: the DNS query bytes, the A record behind a compression pointer, then the exact GET",
    );
    fetch(&mut p, g, Answer::Plain)?;
    g.scenario("fetch: an answer with a CNAME before the A record");
    fetch(&mut p, g, Answer::Cname)?;
    g.scenario("fetch: a spoofed answer (wrong id) arrives first and is ignored");
    fetch(&mut p, g, Answer::SpoofFirst)?;
    g.scenario("fetch: NXDOMAIN is reported, nothing is connected");
    fetch(&mut p, g, Answer::NxDomain)?;
    g.scenario("latency budget: exact TTFB for seeded topologies (DNS, TCP, TLS 1.2 / 1.3 / 0-RTT, reuse, CDN hit / miss)");
    for _ in 0..60 {
        let (request, want, why) = topology(g.rng());
        let reply = p.request(&request)?;
        ensure(reply == json!({ "ttfb_ms": want }), || {
            Failure::new("ttfb_ms = dns + connect + http, by the contract's round-trip counts")
                .expected(format!("{{\"ttfb_ms\":{want}}}"))
                .got(reply.to_string())
                .detail(why.clone())
        })?;
    }
    Ok(())
}
