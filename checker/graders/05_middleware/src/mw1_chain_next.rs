//! Grader of `mw1_chain_next`: a chain of middleware layers around a handler, served over HTTP.
//!
//! The program is started with a chain (`--chain trace:log,gate:auth,…`, outermost first) and every request's
//! `X-Trace-Order` response header must list exactly what the onion model says: each layer's `>NAME` in chain
//! order, the `handler`, each `<NAME` in reverse; or, when a gate named in `X-Deny` refuses, the entries of
//! the layers outside it, `!NAME`, and their exits, with a 403 and nothing inside the gate run. Every
//! expected answer comes from [`expect`]; a wrong one is explained by [`diagnose`], which names the rule the
//! answer breaks.

mod diagnose;

use backlings_grade::http::Request;
use backlings_grade::{Failure, Grading, Rng, Server};

use crate::support::{self, KeepAlive};
use diagnose::{diagnose, explain};

/// Layer names the chains are built from (real middleware, so a chain reads like a real stack).
const NAMES: [&str; 16] = [
    "log", "auth", "cors", "timer", "limit", "tenant", "gzip", "audit", "metrics", "session",
    "csrf", "cache", "etag", "retry", "body", "trace",
];
/// Requests per seeded random chain.
const RANDOM_REQUESTS: usize = 150;

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    no_layers(g)?;
    onion(g)?;
    short_circuit(g)?;
    deny_list(g)?;
    case_insensitive(g)?;
    random_chains(g)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Trace,
    Gate,
}

#[derive(Debug, Clone)]
struct Layer {
    kind: Kind,
    name: String,
}

/// One request the grader sends: a path, and optionally its own trace and deny list (header name as sent).
#[derive(Debug, Clone)]
struct Probe {
    path: String,
    trace: Option<(&'static str, String)>,
    deny: Option<(&'static str, String)>,
}

impl Probe {
    fn get(path: &str) -> Self {
        Probe {
            path: path.to_string(),
            trace: None,
            deny: None,
        }
    }

    fn deny(mut self, value: &str) -> Self {
        self.deny = Some(("X-Deny", value.to_string()));
        self
    }

    fn request(&self) -> Request {
        let mut request = Request::get(&self.path);
        if let Some((name, value)) = &self.trace {
            request = request.header(name, value);
        }
        if let Some((name, value)) = &self.deny {
            request = request.header(name, value);
        }
        request
    }

    /// The names listed in `X-Deny`, as the contract reads them.
    fn denied(&self) -> Vec<&str> {
        self.deny
            .as_ref()
            .map(|(_, value)| value.split(',').map(str::trim).collect())
            .unwrap_or_default()
    }
}

/// What the contract says comes back.
#[derive(Debug, Clone)]
struct Expected {
    status: u16,
    body: String,
    trace: Vec<String>,
    /// The index of the gate that refuses, if one does.
    refused_by: Option<usize>,
    /// The handler's `X-Handled` count after this request (absent on a refusal: the handler never ran).
    handled: Option<u64>,
}

/// The onion model: the exact answer to `probe` from `chain`.
fn expect(chain: &[Layer], probe: &Probe, handled_before: u64) -> Expected {
    let mut trace: Vec<String> = match &probe.trace {
        Some((_, value)) => split_trace(value),
        None => Vec::new(),
    };
    let denied = probe.denied();
    let refused_by = chain
        .iter()
        .position(|layer| layer.kind == Kind::Gate && denied.contains(&layer.name.as_str()));
    let entered = refused_by.unwrap_or(chain.len());
    for layer in &chain[..entered] {
        trace.push(format!(">{}", layer.name));
    }
    let (status, body) = match refused_by {
        Some(index) => {
            let name = &chain[index].name;
            trace.push(format!("!{name}"));
            (403, format!("denied by {name}\n"))
        }
        None => {
            trace.push("handler".to_string());
            if probe.path.starts_with("/api/") {
                (200, format!("handled {}\n", probe.path))
            } else {
                (404, format!("no route for {}\n", probe.path))
            }
        }
    };
    for layer in chain[..entered].iter().rev() {
        trace.push(format!("<{}", layer.name));
    }
    Expected {
        status,
        body,
        trace,
        refused_by,
        handled: refused_by.is_none().then_some(handled_before + 1),
    }
}

fn split_trace(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|entry| entry.trim().to_string())
        .filter(|entry| !entry.is_empty())
        .collect()
}

fn spec(chain: &[Layer]) -> String {
    let items: Vec<String> = chain
        .iter()
        .map(|layer| match layer.kind {
            Kind::Trace => format!("trace:{}", layer.name),
            Kind::Gate => format!("gate:{}", layer.name),
        })
        .collect();
    items.join(",")
}

fn trace(name: &str) -> Layer {
    Layer {
        kind: Kind::Trace,
        name: name.to_string(),
    }
}

fn gate(name: &str) -> Layer {
    Layer {
        kind: Kind::Gate,
        name: name.to_string(),
    }
}

/// `count` distinct layer names, in seeded order.
fn names(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut pool: Vec<&str> = NAMES.to_vec();
    rng.shuffle(&mut pool);
    pool[..count].iter().map(|name| name.to_string()).collect()
}

fn api_path(rng: &mut Rng) -> String {
    let resource = *rng.pick(&["orders", "users", "carts", "invoices", "items"]);
    format!("/api/{resource}/{}", rng.range(1, 9999))
}

fn no_layers(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("with no layers the handler answers alone");
    let mut s = Session::start(g, Vec::new())?;
    let path = api_path(&mut s.rng);
    let mut with_trace = Probe::get(&path);
    with_trace.trace = Some(("X-Trace-Order", "client".to_string()));
    s.check(&[
        Probe::get(&path),
        Probe::get("/health"),
        with_trace,
        Probe::get(&path).deny("auth"),
    ])
}

fn onion(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("layers enter in chain order and exit in reverse order (the onion)");
    let count = g.rng().range(3, 6) as usize;
    let chain: Vec<Layer> = names(g.rng(), count).iter().map(|n| trace(n)).collect();
    let mut s = Session::start(g, chain)?;
    let probes: Vec<Probe> = (0..4)
        .map(|i| match i {
            2 => Probe::get("/"),
            _ => Probe::get(&api_path(&mut s.rng)),
        })
        .collect();
    s.check(&probes)
}

fn short_circuit(g: &mut Grading) -> Result<(), Failure> {
    g.scenario(
        "a gate that refuses short-circuits: nothing inside it runs, everything outside it exits",
    );
    let picked = names(g.rng(), 6);
    let outer = g.rng().range(1, 2) as usize;
    let inner = g.rng().range(1, 2) as usize;
    let mut chain: Vec<Layer> = picked[..outer].iter().map(|n| trace(n)).collect();
    chain.push(gate(&picked[outer]));
    chain.extend(
        picked[outer + 1..outer + 1 + inner]
            .iter()
            .map(|n| trace(n)),
    );
    // A second gate deeper in: refusing there leaves more layers outside.
    chain.push(gate(&picked[5]));
    let (first, second) = (picked[outer].clone(), picked[5].clone());
    let mut s = Session::start(g, chain)?;
    let path = api_path(&mut s.rng);
    s.check(&[
        Probe::get(&path),
        Probe::get(&path).deny(&first),
        Probe::get(&path).deny(&second),
        Probe::get(&path),
        Probe::get("/admin").deny(&second),
    ])
}

fn deny_list(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("X-Deny is a comma-separated list of exact names, spaces allowed");
    let picked = names(g.rng(), 4);
    let (outer_gate, inner_gate) = (picked[1].clone(), picked[3].clone());
    let chain = vec![
        trace(&picked[0]),
        gate(&outer_gate),
        trace(&picked[2]),
        gate(&inner_gate),
    ];
    let mut s = Session::start(g, chain)?;
    let path = api_path(&mut s.rng);
    let probes = [
        // Names that contain a gate's name, or are contained in it, are other names.
        Probe::get(&path).deny(&format!("{outer_gate}z,o{inner_gate}")),
        Probe::get(&path).deny(&format!("{outer_gate}-v2, {}", &inner_gate[..2])),
        // Spaces around a name are allowed.
        Probe::get(&path).deny(&format!("nobody,  {inner_gate} ")),
        Probe::get(&path).deny(&format!(" {outer_gate}")),
        // Both named: the outer one refuses first, the inner one never sees the request.
        Probe::get(&path).deny(&format!("{inner_gate},{outer_gate}")),
        Probe::get(&path).deny(""),
    ];
    s.check(&probes)
}

fn case_insensitive(g: &mut Grading) -> Result<(), Failure> {
    g.scenario("header names are case-insensitive: one trace header, whatever its case");
    let picked = names(g.rng(), 3);
    let chain = vec![trace(&picked[0]), gate(&picked[1]), trace(&picked[2])];
    let mut s = Session::start(g, chain)?;
    let path = api_path(&mut s.rng);
    let client = format!("client-{}", s.rng.word(4));
    let mut lower = Probe::get(&path);
    lower.trace = Some(("x-trace-order", client.clone()));
    let mut upper = Probe::get(&path);
    upper.trace = Some(("X-TRACE-ORDER", format!("{client},proxy")));
    upper.deny = Some(("x-deny", picked[1].clone()));
    let mut exact = Probe::get("/elsewhere");
    exact.trace = Some(("X-Trace-Order", client));
    s.check(&[lower, upper, exact])
}

fn random_chains(g: &mut Grading) -> Result<(), Failure> {
    for round in 1..=3 {
        g.scenario(&format!("seeded random chain {round} of 3"));
        let count = g.rng().range(1, 8) as usize;
        let picked = names(g.rng(), count);
        let chain: Vec<Layer> = picked
            .iter()
            .map(|name| {
                if g.rng().chance(1, 3) {
                    gate(name)
                } else {
                    trace(name)
                }
            })
            .collect();
        let mut s = Session::start(g, chain.clone())?;
        let probes: Vec<Probe> = (0..RANDOM_REQUESTS)
            .map(|_| random_probe(&mut s.rng, &picked))
            .collect();
        s.check(&probes)?;
    }
    Ok(())
}

fn random_probe(rng: &mut Rng, names: &[String]) -> Probe {
    let path = if rng.chance(1, 6) {
        format!("/static/{}", rng.word(5))
    } else {
        api_path(rng)
    };
    let mut probe = Probe::get(&path);
    if rng.chance(1, 5) {
        let name = *rng.pick(&["X-Trace-Order", "x-trace-order"]);
        probe.trace = Some((name, format!("edge-{}", rng.word(3))));
    }
    if rng.chance(1, 2) {
        let mut listed: Vec<String> = (0..rng.range(1, 3))
            .map(|_| {
                let name = rng.pick(names).clone();
                match rng.below(6) {
                    0 => format!("{name}x"),
                    1 => format!(" {name} "),
                    2 => "someone-else".to_string(),
                    _ => name,
                }
            })
            .collect();
        rng.shuffle(&mut listed);
        probe = probe.deny(&listed.join(","));
    }
    probe
}

/// One running program and the chain it was started with.
struct Session {
    server: Server,
    connection: KeepAlive,
    chain: Vec<Layer>,
    rng: Rng,
    /// How many requests the handler should have run so far.
    handled: u64,
}

impl Session {
    fn start(g: &mut Grading, chain: Vec<Layer>) -> Result<Self, Failure> {
        let spec = spec(&chain);
        let mut server = if chain.is_empty() {
            g.server()?
        } else {
            g.server_with(&["--chain", &spec], &[])?
        };
        let connection = KeepAlive::open(&mut server)?;
        let rng = g.rng().fork(chain.len() as u64);
        Ok(Session {
            server,
            connection,
            chain,
            rng,
            handled: 0,
        })
    }

    /// Sends every probe (pipelined on one connection) and compares each answer with the model.
    fn check(&mut self, probes: &[Probe]) -> Result<(), Failure> {
        let requests: Vec<Request> = probes.iter().map(Probe::request).collect();
        let chain = &self.chain;
        let handled = &mut self.handled;
        support::send_checked(
            &mut self.connection,
            &mut self.server,
            &requests,
            |index, response| {
                let probe = &probes[index];
                let expected = expect(chain, probe, *handled);
                *handled = expected.handled.unwrap_or(*handled);
                match diagnose(chain, probe, &expected, response) {
                    None => Ok(()),
                    Some(rule) => Err(explain(rule, chain, probe, &expected, response)),
                }
            },
        )?;
        Ok(())
    }
}
