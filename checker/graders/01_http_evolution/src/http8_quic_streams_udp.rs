//! Grader of `http8_quic_streams_udp`: the grader is a QUIC-lite sender over UDP on loopback.
//!
//! It drops, reorders and duplicates its own packets from the seed (loopback itself loses nothing), keeps an
//! exact model of what the program has received, checks every ACK report against that model, finds the losses
//! from the program's ACK ranges and retransmits their data in new packets, then reads every stream back.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use backlings_grade::{Failure, Grading, Rng, Server, ensure};

/// How long one reply may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// One STREAM frame: stream id, offset, length, fin.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    id: u32,
    offset: usize,
    len: usize,
    fin: bool,
}

/// What one stream has sent and what the program has received of it.
struct StreamModel {
    data: Vec<u8>,
    got: Vec<bool>,
    fin_received: bool,
}

impl StreamModel {
    fn delivered(&self) -> usize {
        self.got.iter().take_while(|&&b| b).count()
    }
    fn finished(&self) -> bool {
        self.fin_received && self.delivered() == self.data.len()
    }
}

/// A parsed ACK report.
#[derive(Debug, PartialEq)]
struct Report {
    ranges: Vec<(u64, u64)>,
    streams: Vec<(u32, u32, bool)>,
}

fn parse_report(d: &[u8]) -> Option<Report> {
    let be = |at: usize, n: usize| -> Option<u64> {
        Some(
            d.get(at..at + n)?
                .iter()
                .fold(0u64, |a, &b| (a << 8) | u64::from(b)),
        )
    };
    if *d.first()? != 0x03 {
        return None;
    }
    let count = *d.get(1)? as usize;
    let mut at = 2;
    let mut ranges = Vec::new();
    for _ in 0..count {
        ranges.push((be(at, 8)?, be(at + 8, 8)?));
        at += 16;
    }
    let streams_count = be(at, 2)? as usize;
    at += 2;
    let mut streams = Vec::new();
    for _ in 0..streams_count {
        streams.push((
            be(at, 4)? as u32,
            be(at + 4, 4)? as u32,
            *d.get(at + 8)? == 1,
        ));
        at += 9;
    }
    (at == d.len()).then_some(Report { ranges, streams })
}

/// Says what is wrong with a list of ranges, in one line.
fn range_hint(got: &[(u64, u64)], received: &BTreeSet<u64>) -> String {
    for pair in got.windows(2) {
        if pair[1].0 + 1 >= pair[0].1 {
            return format!(
                "[{},{}] and [{},{}] touch or overlap: adjacent packet numbers are merged into one range",
                pair[0].0, pair[0].1, pair[1].0, pair[1].1
            );
        }
    }
    for &(h, l) in got {
        if h < l {
            return format!("[{h},{l}]: a range is written high first, then low");
        }
        if h - l < 10_000
            && let Some(pn) = (l..=h).find(|pn| !received.contains(pn))
        {
            return format!(
                "packet {pn} is acknowledged but never arrived: the sender will not retransmit its data (one range from lowest to highest hides the holes)"
            );
        }
    }
    "the sender finds the lost packets from the holes between the ranges".into()
}

fn show_ranges(r: &[(u64, u64)]) -> String {
    let parts: Vec<String> = r.iter().map(|(h, l)| format!("[{h},{l}]")).collect();
    if parts.is_empty() {
        "(none)".into()
    } else {
        parts.join(" ")
    }
}

fn show_streams(s: &[(u32, u32, bool)]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|(id, d, f)| {
            format!(
                "stream {id}: delivered={d}{}",
                if *f { " finished" } else { "" }
            )
        })
        .collect();
    if parts.is_empty() {
        "(no streams)".into()
    } else {
        parts.join(", ")
    }
}

/// The sender: socket, packet numbers, and the model of the receiver.
struct Sender<'a> {
    server: &'a Server,
    socket: UdpSocket,
    to: SocketAddr,
    next_pn: u64,
    received: BTreeSet<u64>,
    streams: BTreeMap<u32, StreamModel>,
    last_ranges: Vec<(u64, u64)>,
}

/// What happens to one packet on the way.
#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Deliver,
    Drop,
    Twice,
}

impl<'a> Sender<'a> {
    fn new(server: &'a Server) -> Result<Self, Failure> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .map_err(|e| Failure::new(format!("the grader could not open a UDP socket: {e}")))?;
        socket.set_read_timeout(Some(ANSWER_WITHIN)).ok();
        Ok(Sender {
            server,
            socket,
            to: server.addr(),
            next_pn: 0,
            received: BTreeSet::new(),
            streams: BTreeMap::new(),
            last_ranges: Vec::new(),
        })
    }

    fn add_stream(&mut self, id: u32, data: Vec<u8>) {
        let len = data.len();
        self.streams.insert(
            id,
            StreamModel {
                data,
                got: vec![false; len],
                fin_received: false,
            },
        );
    }

    /// Cuts every stream into chunks of seeded sizes.
    fn chunks(&self, rng: &mut Rng, max: usize) -> Vec<Chunk> {
        let mut out = Vec::new();
        for (&id, s) in &self.streams {
            let mut offset = 0;
            while offset < s.data.len() {
                let len = (rng.range(1, max as u64) as usize).min(s.data.len() - offset);
                out.push(Chunk {
                    id,
                    offset,
                    len,
                    fin: offset + len == s.data.len(),
                });
                offset += len;
            }
        }
        out
    }

    fn packet_bytes(&self, pn: u64, chunks: &[Chunk]) -> Vec<u8> {
        let mut out = vec![0x01];
        out.extend(pn.to_be_bytes());
        for c in chunks {
            out.push(0x08);
            out.extend(c.id.to_be_bytes());
            out.extend((c.offset as u32).to_be_bytes());
            out.extend((c.len as u16).to_be_bytes());
            out.push(u8::from(c.fin));
            out.extend(&self.streams[&c.id].data[c.offset..c.offset + c.len]);
        }
        out
    }

    fn describe(pn: u64, chunks: &[Chunk]) -> String {
        let frames: Vec<String> = chunks
            .iter()
            .map(|c| {
                format!(
                    "STREAM id={} off={} len={}{}",
                    c.id,
                    c.offset,
                    c.len,
                    if c.fin { " fin" } else { "" }
                )
            })
            .collect();
        format!("packet pn={pn}: {}", frames.join(", "))
    }

    /// Sends one packet with its fate; checks the report(s). Returns the packet number.
    fn send(&mut self, chunks: &[Chunk], fate: Fate, hol: Option<&str>) -> Result<u64, Failure> {
        let pn = self.next_pn;
        self.next_pn += 1;
        let what = Self::describe(pn, chunks);
        if fate == Fate::Drop {
            self.server
                .record(&format!("{what} (dropped by the network)"), "(nothing)");
            return Ok(pn);
        }
        let bytes = self.packet_bytes(pn, chunks);
        self.received.insert(pn);
        for c in chunks {
            let s = self.streams.get_mut(&c.id).expect("known stream");
            s.got[c.offset..c.offset + c.len]
                .iter_mut()
                .for_each(|b| *b = true);
            s.fin_received |= c.fin;
        }
        let times = if fate == Fate::Twice { 2 } else { 1 };
        for time in 0..times {
            let label = if time == 1 {
                format!("{what} (the same datagram again)")
            } else {
                what.clone()
            };
            self.socket
                .send_to(&bytes, self.to)
                .map_err(|e| Failure::new(format!("the grader could not send a datagram: {e}")))?;
            let report = self.recv_report(&label)?;
            self.check(&report, &label, hol)?;
            self.last_ranges = report.ranges;
        }
        Ok(pn)
    }

    fn recv_report(&mut self, sent: &str) -> Result<Report, Failure> {
        let mut buf = vec![0u8; 65536];
        let n = match self.socket.recv_from(&mut buf) {
            Ok((n, _)) => n,
            Err(e) => {
                self.server.record(sent, "(no reply)");
                return Err(
                    Failure::new("every packet datagram is answered with one ACK report")
                        .got(format!(
                            "no reply within {} ms ({e})",
                            ANSWER_WITHIN.as_millis()
                        ))
                        .detail("if the program crashed, its stderr is below"),
                );
            }
        };
        let d = &buf[..n];
        match parse_report(d) {
            Some(r) => {
                self.server.record(
                    sent,
                    &format!(
                        "ACK ranges {} | {}",
                        show_ranges(&r.ranges),
                        show_streams(&r.streams)
                    ),
                );
                Ok(r)
            }
            None => {
                self.server.record(sent, &format!("{n} bytes: {}", hex(d)));
                Err(Failure::new(
                    "an ACK report is 0x03, range count u8, (high u64, low u64) per range, stream count u16, (id u32, delivered u32, finished u8) per stream — nothing more",
                )
                .got(format!("{n} bytes that do not parse as one: {}", hex(d))))
            }
        }
    }

    fn model_ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &pn in self.received.iter().rev() {
            match out.last_mut() {
                Some(last) if last.1 == pn + 1 => last.1 = pn,
                _ => out.push((pn, pn)),
            }
        }
        out
    }

    fn check(&self, report: &Report, sent: &str, hol: Option<&str>) -> Result<(), Failure> {
        let want = self.model_ranges();
        ensure(report.ranges == want, || {
            let have: Vec<String> = self.received.iter().map(u64::to_string).collect();
            Failure::new(
                "the ACK ranges list exactly the packet numbers received, largest first, adjacent numbers merged into one range",
            )
            .expected(show_ranges(&want))
            .got(show_ranges(&report.ranges))
            .detail(format!("after {sent}; packets that reached the program: {}", have.join(", ")))
            .detail(range_hint(&report.ranges, &self.received))
        })?;
        let ids: Vec<u32> = report.streams.iter().map(|s| s.0).collect();
        let want_ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.got.iter().any(|&b| b))
            .map(|(&id, _)| id)
            .collect();
        ensure(ids == want_ids, || {
            Failure::new(
                "the report lists every stream that has received data, in ascending id order",
            )
            .expected(format!("streams {want_ids:?}"))
            .got(format!("streams {ids:?}"))
            .detail(format!("after {sent}"))
        })?;
        for &(id, delivered, finished) in &report.streams {
            let s = &self.streams[&id];
            let want = s.delivered();
            let delivered = delivered as usize;
            if delivered > want {
                return Err(Failure::new(format!(
                    "stream {id} reports as delivered only its gap-free prefix; overlapping or repeated data is never delivered twice"
                ))
                .expected(format!("delivered={want}"))
                .got(format!("delivered={delivered}"))
                .detail(format!("after {sent}; the stream has {} bytes in all", s.data.len())));
            }
            if delivered < want {
                let rule = match hol {
                    Some(why) => format!(
                        "stream {id} has received every byte of 0..{want}: its data is delivered now, even though {why} (no head-of-line blocking across streams)"
                    ),
                    None => format!(
                        "stream {id} has received every byte of 0..{want} (some arrived ahead of a gap and must be kept until the gap fills): the report says delivered={want}"
                    ),
                };
                return Err(Failure::new(rule)
                    .expected(format!("delivered={want}"))
                    .got(format!("delivered={delivered}"))
                    .detail(format!("after {sent}")));
            }
            ensure(finished == s.finished(), || {
                Failure::new(format!(
                    "stream {id} is finished only once its fin frame arrived and every byte before the final size is delivered"
                ))
                .expected(format!("finished={}", u8::from(s.finished())))
                .got(format!("finished={}", u8::from(finished)))
                .detail(format!(
                    "after {sent}; fin received: {}, {} of {} bytes delivered",
                    s.fin_received,
                    want,
                    s.data.len()
                ))
            })?;
        }
        Ok(())
    }

    /// Reads every stream back and compares the bytes.
    fn read_back(&mut self) -> Result<(), Failure> {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            let mut req = vec![0x02];
            req.extend(id.to_be_bytes());
            self.socket
                .send_to(&req, self.to)
                .map_err(|e| Failure::new(format!("the grader could not send a datagram: {e}")))?;
            let mut buf = vec![0u8; 65536];
            let sent = format!("read stream {id}");
            let n = match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => n,
                Err(e) => {
                    self.server.record(&sent, "(no reply)");
                    return Err(Failure::new(
                        "a read datagram is answered 0x04, id, finished, the delivered bytes",
                    )
                    .got(format!("no reply ({e})")));
                }
            };
            let d = &buf[..n];
            self.server.record(&sent, &format!("{n} bytes: {}", hex(d)));
            let want = &self.streams[&id].data;
            let mut expected = vec![0x04];
            expected.extend(id.to_be_bytes());
            expected.push(1);
            expected.extend(want);
            ensure(d == expected.as_slice(), || {
                let first_diff = d
                    .iter()
                    .zip(&expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(d.len().min(expected.len()));
                Failure::new(format!(
                    "once every packet got through, stream {id} reads back as exactly the bytes sent, in offset order, each once"
                ))
                .expected(format!("0x04, id {id}, finished 1, then {} bytes: {}", want.len(), hex(want)))
                .got(format!("{n} bytes: {}", hex(d)))
                .detail(format!("the first difference is at byte {first_diff} of the reply"))
            })?;
        }
        Ok(())
    }
}

fn hex(b: &[u8]) -> String {
    let shown: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    if b.len() > 32 {
        format!("0x{shown}… ({} bytes)", b.len())
    } else {
        format!("0x{shown}")
    }
}

fn payload(rng: &mut Rng, len: usize) -> Vec<u8> {
    let word = rng.word(len);
    word.into_bytes()
}

pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    g.set_reply_timeout(ANSWER_WITHIN);
    let server = g.server()?;

    g.scenario("in-order packets on one stream: each answered by an ACK report with one range and the delivered length");
    {
        let rng = g.rng();
        let mut s = Sender::new(&server)?;
        let id = rng.range(0, 20) as u32 * 4;
        let len = rng.range(20, 80) as usize;
        s.add_stream(id, payload(rng, len));
        for chunk in s.chunks(rng, 12) {
            s.send(&[chunk], Fate::Deliver, None)?;
        }
        s.read_back()?;
    }

    g.scenario("a lost packet on stream A does not stall stream B; A completes once the data is retransmitted");
    {
        let rng = g.rng();
        let mut s = Sender::new(&server)?;
        let a = 4 * rng.range(0, 10) as u32;
        let b = a + 4 * rng.range(1, 10) as u32;
        let len_a = rng.range(30, 90) as usize;
        let len_b = rng.range(30, 90) as usize;
        s.add_stream(a, payload(rng, len_a));
        s.add_stream(b, payload(rng, len_b));
        let all = s.chunks(rng, 16);
        let (on_a, on_b): (Vec<Chunk>, Vec<Chunk>) = all.into_iter().partition(|c| c.id == a);
        // A's first packet is lost; the rest of A and all of B interleave.
        let lost = s.send(&on_a[..1], Fate::Drop, None)?;
        let why = format!("packet {lost} (stream {a}'s first bytes) was lost");
        // Each stream's chunks stay in order; the two streams interleave at random.
        let (mut i, mut j) = (1, 0);
        let mut rest: Vec<Chunk> = Vec::new();
        while i < on_a.len() || j < on_b.len() {
            if j == on_b.len() || (i < on_a.len() && rng.chance(1, 2)) {
                rest.push(on_a[i]);
                i += 1;
            } else {
                rest.push(on_b[j]);
                j += 1;
            }
        }
        for chunk in &rest {
            s.send(&[*chunk], Fate::Deliver, Some(&why))?;
        }
        ensure(
            !s.last_ranges.iter().any(|&(h, l)| l <= lost && lost <= h),
            || {
                Failure::new("a packet that never arrived is not acknowledged")
                    .got(show_ranges(&s.last_ranges))
            },
        )?;
        // The sender sees the hole and retransmits A's first bytes in a new packet.
        s.send(&on_a[..1], Fate::Deliver, None)?;
        s.read_back()?;
    }

    g.scenario("a seeded lossy network (drops, reordering, duplicates) over several streams: ACK ranges exact, the holes retransmitted, every byte exact");
    lossy(&server, g.rng())?;
    Ok(())
}

fn lossy(server: &Server, rng: &mut Rng) -> Result<(), Failure> {
    let mut s = Sender::new(server)?;
    let streams = rng.range(3, 5);
    let mut id = rng.range(0, 3) as u32;
    for _ in 0..streams {
        let len = rng.range(60, 200) as usize;
        let data = payload(rng, len);
        s.add_stream(id, data);
        id += 1 + rng.range(0, 3) as u32;
    }
    let mut queue = s.chunks(rng, 40);
    rng.shuffle(&mut queue);
    let mut round = 0;
    while !queue.is_empty() {
        // Packets of one or two frames; seeded fates; light reordering.
        let mut packets: Vec<Vec<Chunk>> = Vec::new();
        let mut i = 0;
        while i < queue.len() {
            let take = (rng.range(1, 2) as usize).min(queue.len() - i);
            packets.push(queue[i..i + take].to_vec());
            i += take;
        }
        for k in 1..packets.len() {
            if rng.chance(1, 4) {
                packets.swap(k - 1, k);
            }
        }
        let mut sent: Vec<(u64, Vec<Chunk>)> = Vec::new();
        for p in packets {
            let fate = if round < 4 && rng.chance(1, 4) {
                Fate::Drop
            } else if rng.chance(1, 8) {
                Fate::Twice
            } else {
                Fate::Deliver
            };
            let pn = s.send(&p, fate, None)?;
            sent.push((pn, p));
        }
        // Loss detection from the program's own ACK ranges: retransmit the data of every unacknowledged packet.
        let acked = |pn: u64| s.last_ranges.iter().any(|&(h, l)| l <= pn && pn <= h);
        queue = sent
            .into_iter()
            .filter(|(pn, _)| !acked(*pn))
            .flat_map(|(_, p)| p)
            .collect();
        // Like a real sender, re-cut some retransmissions so they overlap bytes the program already has.
        for c in &mut queue {
            if c.offset > 0 && rng.chance(1, 2) {
                let back = (rng.range(1, 8) as usize).min(c.offset);
                c.offset -= back;
                c.len += back;
            }
        }
        round += 1;
        ensure(round < 20, || {
            Failure::new("the transfer finishes within 20 rounds of retransmission")
        })?;
    }
    s.read_back()
}
