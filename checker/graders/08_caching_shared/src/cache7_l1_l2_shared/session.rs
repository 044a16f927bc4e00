//! One grading session of `cache7_l1_l2_shared`: the two instances, the L2 and database servers, the
//! reference fleet ([`System`]) and the fake clock; every request is checked against the reference, by
//! what came back and by the traffic it caused in L2 and in the database.

use std::io::Write;
use std::time::{Duration, Instant};

use backlings_grade::http::{self, Request, Response};
use backlings_grade::{Failure, Grading, Server};

use super::resp_server::{Logged, RespServer};
use super::system::{Admission, NAMES, Source, System};

/// The pub/sub channel of invalidations.
pub const CHANNEL: &str = "invalidate";
/// How long an instance may take to apply an invalidation message it was sent.
const APPLY_WITHIN: Duration = Duration::from_secs(3);

/// The fleet under test and everything around it.
pub struct Session {
    // Declared first so it is dropped first: the instances are stopped before their L2 connections close,
    // and do not complain on stderr about a lost subscription.
    pub programs: [Server; 2],
    pub l2: RespServer,
    pub db: RespServer,
    pub system: System,
    pub now: u64,
    next_reader: u64,
}

/// The traffic one request caused.
struct Traffic {
    l2: Vec<Logged>,
    db: Vec<Logged>,
}

impl Traffic {
    fn l2_on(&self, key: &str) -> Vec<&Logged> {
        self.l2
            .iter()
            .filter(|c| c.args.iter().skip(1).any(|a| a == key))
            .collect()
    }

    fn describe(&self, key: &str, row: &str) -> String {
        let mut parts: Vec<String> = self
            .l2_on(key)
            .iter()
            .map(|c| format!("L2: {}", c.describe()))
            .collect();
        parts.extend(
            self.db
                .iter()
                .filter(|c| c.args.iter().skip(1).any(|a| a == row))
                .map(|c| format!("database: {}", c.describe())),
        );
        if parts.is_empty() {
            "no L2 command on this item and no database query (so it was answered from L1)"
                .to_string()
        } else {
            parts.join(" · ")
        }
    }
}

impl Session {
    pub fn new(
        l2: RespServer,
        db: RespServer,
        programs: [Server; 2],
        system: System,
        now: u64,
    ) -> Self {
        Session {
            programs,
            l2,
            db,
            system,
            now,
            next_reader: 0,
        }
    }

    /// A client id never used before, for requests whose rate limit is not the point.
    pub fn fresh_client(&mut self) -> String {
        self.next_reader += 1;
        format!("reader-{}", self.next_reader)
    }

    /// Moves the fake clock forward (the L2 server's clock too).
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.l2.set_now(self.now);
        self.db.set_now(self.now);
    }

    /// Sends `request` to instance `x` with the client id and the fake time, and reads the answer.
    pub fn send(
        &mut self,
        g: &Grading,
        x: usize,
        request: Request,
        client: &str,
    ) -> Result<Response, Failure> {
        let request = request
            .header("X-Client-Id", client)
            .header("X-Fake-Now", &self.now.to_string());
        let shown = format!(
            "{} {}{} · X-Client-Id: {client} · X-Fake-Now: {}",
            request.method,
            request.target,
            if request.body.is_empty() {
                String::new()
            } else {
                format!(" · body {:?}", String::from_utf8_lossy(&request.body))
            },
            self.now
        );
        let response = exchange(&mut self.programs[x], &request)
            .map_err(|e| e.detail(format!("sent to instance {}: {shown}", NAMES[x])))?;
        g.record(&format!("http {}", NAMES[x]), &shown, &response.summary());
        if response.status >= 500 {
            return Err(Failure::new(
                "every request is answered 200, 204, 404 or 429: a 5xx means the handler failed",
            )
            .expected("an answer from the contract")
            .got(format!("{} {:?}", response.status, response.text()))
            .detail(format!("sent to instance {}: {shown}", NAMES[x])));
        }
        Ok(response)
    }

    /// `GET /items/<id>` through instance `x` as `client`, checked against the reference.
    /// Answers where the value came from, or `None` when the request was (rightly) refused.
    pub fn get(
        &mut self,
        g: &Grading,
        x: usize,
        id: &str,
        client: &str,
    ) -> Result<Option<Source>, Failure> {
        self.l2.take_log();
        self.db.take_log();
        let admission = self.system.admit(client, self.now);
        let response = self.send(g, x, Request::get(&format!("/items/{id}")), client)?;
        let traffic = self.traffic();
        let sent = format!(
            "GET /items/{id} through {} as {client} at X-Fake-Now {}",
            NAMES[x], self.now
        );
        if !admission.allowed {
            self.check_refused(x, client, &admission, &response, &traffic, &sent)?;
            return Ok(None);
        }
        self.check_admitted(client, &admission, &response, &sent)?;
        let expected = self.system.get(x, id, self.now);
        let key = format!("cache:item:{id}");
        let row = format!("item:{id}");
        let on_key = traffic.l2_on(&key);
        let loaded = traffic
            .db
            .iter()
            .any(|c| c.args.first().is_some_and(|n| n == "GET") && c.args.get(1) == Some(&row));
        let seen = match (on_key.is_empty(), loaded) {
            (true, false) => Source::L1,
            (false, false) => Source::L2,
            (_, true) => Source::Database,
        };
        let expected_status = if expected.value.is_some() { 200 } else { 404 };
        let source_ok = match expected.source {
            Source::Missing => seen == Source::Database,
            ref source => seen == *source,
        };
        let body_ok = expected
            .value
            .as_ref()
            .is_none_or(|v| response.text() == *v);
        if !source_ok || response.status != expected_status || !body_ok {
            let (rule, want) = match expected.source {
                Source::L1 => (
                    "a fresh entry in the instance's own L1 answers the read from memory: no L2 round trip, \
                     no database query",
                    "from L1",
                ),
                Source::L2 => (
                    "an L1 miss asks L2; an L2 hit is answered (and copied into L1) without querying the \
                     database",
                    "from L2",
                ),
                Source::Database => (
                    "with no fresh copy in L1 or L2 the value is read from the database, then stored in L2 \
                     (SET … PX L2_TTL_MS) and in L1",
                    "from the database",
                ),
                Source::Missing => (
                    "an item the database does not have answers 404 after asking L2 and the database; a \
                     miss is not cached",
                    "from the database (which has no such item)",
                ),
            };
            let body = match &expected.value {
                Some(v) => format!("200 {v:?}"),
                None => "404".to_string(),
            };
            return Err(Failure::new(rule)
                .expected(format!("{body}, {want}"))
                .got(format!(
                    "{} {:?}; traffic: {}",
                    response.status,
                    response.text(),
                    traffic.describe(&key, &row)
                ))
                .detail(format!("sent: {sent}"))
                .detail(format!("why: {}", expected.why)));
        }
        if expected.source == Source::Database {
            let value = expected.value.clone().unwrap_or_default();
            let deadline = self.now + self.system.config.l2_ttl_ms;
            let found = self.l2.peek(&key);
            if found != Some((value.clone(), Some(deadline))) {
                return Err(Failure::new(format!(
                    "a value read from the database is stored in L2 for the other instances, with an \
                     expiry: SET {key} <value> PX L2_TTL_MS ({} ms here)",
                    self.system.config.l2_ttl_ms
                ))
                .expected(format!("{key} = {value:?}, expiring at X-Fake-Now {deadline}"))
                .got(describe_key(&key, found))
                .detail(format!("sent: {sent}"))
                .detail(format!("traffic: {}", traffic.describe(&key, &row))));
            }
        }
        Ok(Some(expected.source))
    }

    /// `PUT /items/<id>` with `value` through instance `x`; `lost_by` loses the invalidation message on its
    /// way to that instance, as a network blip would.
    pub fn put(
        &mut self,
        g: &Grading,
        x: usize,
        id: &str,
        value: &str,
        client: &str,
        lost_by: Option<usize>,
    ) -> Result<bool, Failure> {
        self.l2.take_log();
        self.db.take_log();
        let admission = self.system.admit(client, self.now);
        self.l2.drop_deliveries_to(lost_by);
        let before = [self.l2.delivered(0), self.l2.delivered(1)];
        let request = Request::new("PUT", &format!("/items/{id}")).body(value.as_bytes().to_vec());
        let response = self.send(g, x, request, client);
        self.l2.drop_deliveries_to(None);
        let response = response?;
        let traffic = self.traffic();
        let sent = format!(
            "PUT /items/{id} {value:?} through {} as {client} at X-Fake-Now {}",
            NAMES[x], self.now
        );
        if !admission.allowed {
            self.check_refused(x, client, &admission, &response, &traffic, &sent)?;
            return Ok(false);
        }
        self.check_admitted(client, &admission, &response, &sent)?;
        let key = format!("cache:item:{id}");
        let row = format!("item:{id}");
        let told = [
            self.l2.delivered(0) > before[0],
            self.l2.delivered(1) > before[1],
        ];
        if let Some(lost) = lost_by {
            let reached: Vec<&str> = (0..2).filter(|&t| told[t]).map(|t| NAMES[t]).collect();
            g.record(
                "pub/sub",
                &format!("message `{id}` on `{CHANNEL}`"),
                &format!(
                    "lost on its way to {} (the grader played a network blip); delivered to: {}",
                    NAMES[lost],
                    if reached.is_empty() {
                        "nobody".to_string()
                    } else {
                        reached.join(", ")
                    }
                ),
            );
        }
        self.system.put(x, id, value, self.now, told);
        let stored = traffic.db.iter().any(|c| {
            c.args.first().is_some_and(|n| n == "SET")
                && c.args.get(1) == Some(&row)
                && c.args.get(2).map(String::as_str) == Some(value)
        });
        if response.status != 204 || !stored {
            return Err(Failure::new(
                "a PUT writes the new value to the database (the source of truth) and answers 204",
            )
            .expected(format!("204, and SET {row} {value:?} in the database"))
            .got(format!(
                "{} {:?}; traffic: {}",
                response.status,
                response.text(),
                traffic.describe(&key, &row)
            ))
            .detail(format!("sent: {sent}")));
        }
        if let Some(found) = self.l2.peek(&key) {
            return Err(Failure::new(format!(
                "after a write, L2 must not keep a copy: DEL {key}, so the next miss anywhere reads the new \
                 value from the database (writing the new value into L2 instead races with a reader that \
                 is putting the old one back)"
            ))
            .expected(format!("no {key} in L2"))
            .got(describe_key(&key, Some(found)))
            .detail(format!("sent: {sent}"))
            .detail(format!("traffic: {}", traffic.describe(&key, &row))));
        }
        let published = traffic.l2.iter().any(|c| {
            c.args.first().is_some_and(|n| n == "PUBLISH")
                && c.args.get(1).map(String::as_str) == Some(CHANNEL)
                && c.args.get(2).map(String::as_str) == Some(id)
        });
        if !published {
            let other = NAMES[1 - x];
            let mut failure = Failure::new(format!(
                "a write must be broadcast: PUBLISH {CHANNEL} <id> (before answering), so that every other \
                 instance drops its L1 copy; without it {other} serves the old value from its L1 until that \
                 entry expires"
            ))
            .expected(format!("PUBLISH {CHANNEL} {id} in L2"))
            .got(format!(
                "L2 traffic: {}",
                if traffic.l2.is_empty() {
                    "none".to_string()
                } else {
                    traffic
                        .l2
                        .iter()
                        .map(Logged::describe)
                        .collect::<Vec<_>>()
                        .join(" · ")
                }
            ))
            .detail(format!("sent: {sent}"));
            if let Some((old, until)) = self.system.l1_value(1 - x, id) {
                failure = failure.detail(format!(
                    "{other}'s L1 holds `{id}` = {old:?} until X-Fake-Now {until}: a read there would be stale"
                ));
            }
            return Err(failure);
        }
        self.await_invalidations(g)?;
        Ok(true)
    }

    /// Waits until each instance has applied every invalidation message it was sent (`GET /_stats`), so
    /// the next request meets the L1 the reference expects.
    fn await_invalidations(&mut self, g: &Grading) -> Result<(), Failure> {
        for (x, name) in NAMES.iter().enumerate() {
            let want = self.l2.delivered(x);
            let deadline = Instant::now() + APPLY_WITHIN;
            loop {
                let response = exchange(&mut self.programs[x], &Request::get("/_stats"))?;
                let applied = response
                    .text()
                    .split_whitespace()
                    .last()
                    .and_then(|n| n.parse::<u64>().ok());
                if applied.is_some_and(|n| n >= want) {
                    break;
                }
                if Instant::now() >= deadline {
                    g.record(&format!("http {name}"), "GET /_stats", &response.summary());
                    return Err(Failure::new(
                        "each instance applies the invalidation messages it receives (drops the item from its \
                         L1) as they arrive",
                    )
                    .expected(format!(
                        "{name} reports `invalidations {want}` on GET /_stats within {} s",
                        APPLY_WITHIN.as_secs()
                    ))
                    .got(format!("{:?}", response.text()))
                    .detail(
                        "the provided subscriber thread calls `on_invalidation` for each message: did it \
                         panic (see stderr) or block on a lock?",
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    fn traffic(&self) -> Traffic {
        Traffic {
            l2: self.l2.take_log(),
            db: self.db.take_log(),
        }
    }

    fn check_admitted(
        &mut self,
        client: &str,
        admission: &Admission,
        response: &Response,
        sent: &str,
    ) -> Result<(), Failure> {
        if response.status == 429 {
            return Err(self.rate_failure(client, admission, response, sent));
        }
        self.check_counter(client, admission, sent)
    }

    fn check_refused(
        &mut self,
        x: usize,
        client: &str,
        admission: &Admission,
        response: &Response,
        traffic: &Traffic,
        sent: &str,
    ) -> Result<(), Failure> {
        if response.status != 429 {
            return Err(self.rate_failure(client, admission, response, sent));
        }
        let work: Vec<String> = traffic
            .l2
            .iter()
            .filter(|c| {
                c.tag == x
                    && !c
                        .args
                        .iter()
                        .skip(1)
                        .any(|a| a == &format!("rate:{client}"))
            })
            .map(|c| format!("L2: {}", c.describe()))
            .chain(
                traffic
                    .db
                    .iter()
                    .map(|c| format!("database: {}", c.describe())),
            )
            .collect();
        if !work.is_empty() {
            return Err(Failure::new(
                "a refused request does no work: the limit is checked first, and a 429 touches neither the \
                 cache nor the database",
            )
            .expected("429, with no other traffic than the counter")
            .got(work.join(" · "))
            .detail(format!("sent: {sent}")));
        }
        self.check_counter(client, admission, sent)
    }

    fn rate_failure(
        &self,
        client: &str,
        admission: &Admission,
        response: &Response,
        sent: &str,
    ) -> Failure {
        let config = self.system.config;
        let expected = if admission.allowed { "not 429" } else { "429" };
        Failure::new(format!(
            "the rate limit is global: RATE_LIMIT={} requests per client per window of RATE_WINDOW_MS={} \
             ms, counted in L2 across both instances (INCR rate:<client>; PEXPIRE when INCR answers 1; refuse \
             when the count is over the limit)",
            config.rate_limit, config.rate_window_ms
        ))
        .expected(expected)
        .got(format!("{} {:?}", response.status, response.text()))
        .detail(format!("sent: {sent}"))
        .detail(format!(
            "this is request {} of {client}'s window that started at X-Fake-Now {} and ends at {}",
            admission.count, admission.window_start, admission.deadline
        ))
    }

    fn check_counter(
        &self,
        client: &str,
        admission: &Admission,
        sent: &str,
    ) -> Result<(), Failure> {
        let key = format!("rate:{client}");
        let want = (admission.count.to_string(), Some(admission.deadline));
        let found = self.l2.peek(&key);
        if found.as_ref() == Some(&want) {
            return Ok(());
        }
        let why = match &found {
            None => format!(
                "there is no {key} in L2: a counter kept inside one instance lets each instance admit the \
                 full limit, so two instances admit twice as much"
            ),
            Some((_, None)) => format!(
                "{key} has no expiry: the window never ends, and the client stays refused forever once over \
                 the limit (PEXPIRE it when INCR answers 1)"
            ),
            Some((_, Some(deadline))) if *deadline != admission.deadline => format!(
                "the window starts at the first request (X-Fake-Now {}) and lasts RATE_WINDOW_MS: the expiry \
                 is set once, when INCR answers 1; moving it on every request means a client that never pauses \
                 is never let back in",
                admission.window_start
            ),
            Some(_) => {
                format!("every request of the window, admitted or refused, is one INCR of {key}")
            }
        };
        Err(Failure::new(why)
            .expected(describe_key(&key, Some(want)))
            .got(describe_key(&key, found))
            .detail(format!("sent: {sent}")))
    }
}

fn describe_key(key: &str, found: Option<(String, Option<u64>)>) -> String {
    match found {
        None => format!("no {key} in L2"),
        Some((value, None)) => format!("{key} = {value:?}, with no expiry"),
        Some((value, Some(deadline))) => {
            format!("{key} = {value:?}, expiring at X-Fake-Now {deadline}")
        }
    }
}

/// One request on a new connection to `server`, unrecorded.
fn exchange(server: &mut Server, request: &Request) -> Result<Response, Failure> {
    let mut stream = server.connect()?;
    let sent = stream.write_all(&request.to_bytes());
    let response = sent.and_then(|()| http::read_response(&stream, false));
    response.map_err(|e| match server.ensure_alive() {
        Err(dead) => dead,
        Ok(()) => Failure::new(format!(
            "no valid HTTP response came back to {} {}: {e}",
            request.method, request.target
        )),
    })
}
