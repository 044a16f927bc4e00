//! Grader of `cache6_redis_lite`: a RESP2 server driven by real Redis clients.
//!
//! 1. `redis-cli` (Debian's redis-tools; missing means a loud failure, never a skip) runs a few commands.
//! 2. Raw RESP: pipelined commands in one write, a command split into small pieces, binary-safe bulk
//!    strings, and an unknown command that must not end the connection.
//! 3. Command suites through the `redis` crate, each reply compared with the model ([`model`]): strings
//!    and counters, lists/sets/hashes, sorted sets, expiry on the server's fake clock (`DEBUG ADVANCE`).
//! 4. Trending posts: a sorted set of views with a TTL, read as a top 10.
//! 5. Pub/Sub: subscribers through the `redis` crate, publishers through the crate and `redis-cli`.
//! 6. A seeded trace of commands of every type from two connections, against the model.

pub(crate) mod model;
mod wire;

use backlings_grade::{Failure, Grading, Rng, Server};

use model::{Model, R};
use wire::{Client, Raw, encode, redis_cli};

/// The server's clock at start (the exercise's provided `main` starts its `ManualClock` here).
const START_MS: u64 = 1_700_000_000_000;
/// Commands in the seeded trace.
const TRACE_COMMANDS: usize = 1500;

/// Grades one program.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    wire::redis_cli_path()?;
    let mut server = g.server()?;
    cli(g, &mut server)?;
    raw_wire(g, &mut server)?;
    let client = Client::connect(&mut server)?;
    let mut s = Session {
        server,
        client,
        model: Model::new(START_MS),
        note: String::new(),
    };
    s.run(g, "FLUSHALL")?;
    strings(g, &mut s)?;
    aggregates(g, &mut s)?;
    sorted_sets(g, &mut s)?;
    expiry(g, &mut s)?;
    trending(g, &mut s)?;
    pubsub(g, &mut s)?;
    trace(g, &mut s)
}

/// The server, one `redis` crate connection, and the model of the keyspace.
struct Session {
    server: Server,
    client: Client,
    model: Model,
    note: String,
}

impl Session {
    /// Runs one command (words separated by spaces) on the client and checks the reply against the model.
    fn run(&mut self, g: &Grading, command: &str) -> Result<R, Failure> {
        let args: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        self.check(g, &args, None)
    }

    /// Runs `args` on `client` (or the session's own) and compares with the model.
    fn check(
        &mut self,
        g: &Grading,
        args: &[String],
        client: Option<&mut Client>,
    ) -> Result<R, Failure> {
        let keys: Vec<String> = args.iter().skip(1).cloned().collect();
        let expired: Vec<(String, u64)> = keys
            .iter()
            .filter_map(|k| self.model.expired(k).map(|at| (k.clone(), at)))
            .collect();
        let emptied: Vec<String> = keys
            .iter()
            .filter(|k| self.model.emptied.contains(*k))
            .cloned()
            .collect();
        let now = self.model.now;
        let expected = self.model.run(args).normalized(&args[0]);
        let client = client.unwrap_or(&mut self.client);
        let got = match client.run(g, args) {
            Ok(got) => got.normalized(&args[0]),
            Err(failure) => {
                self.server.ensure_alive()?;
                return Err(failure);
            }
        };
        if got.comparable() == expected.comparable() {
            return Ok(got);
        }
        let mut failure = Failure::new(rule(&args[0], &expected))
            .expected(&expected)
            .got(&got)
            .detail(format!("sent: {}", args.join(" ")));
        for (key, at) in expired {
            failure = failure.detail(format!(
                "`{key}` reached its deadline {} ms ago: from its deadline on a key is gone for every \
                 command (EXISTS, TYPE, LRANGE…), not only GET",
                now - at
            ));
        }
        for key in emptied {
            failure = failure.detail(format!(
                "`{key}` lost its last element earlier: an aggregate that becomes empty is deleted, so \
                 the key no longer exists"
            ));
        }
        if matches!(args[0].as_str(), "TTL" | "PTTL") && expected == R::Int(-1) {
            failure = failure.detail(
                "this key has no expiry: SET without EX/PX, and PERSIST, remove a key's expiry (INCR and \
                 aggregate changes keep it)",
            );
        }
        if !self.note.is_empty() {
            failure = failure.detail(format!("what this checks: {}", self.note));
        }
        Err(failure)
    }

    fn suite(&mut self, g: &Grading, commands: &[&str]) -> Result<(), Failure> {
        for command in commands {
            self.run(g, command)?;
        }
        Ok(())
    }
}

/// The contract of a command, in words, for a failure report.
fn rule(command: &str, expected: &R) -> String {
    if let R::Err(text) = expected
        && text.starts_with("WRONGTYPE")
    {
        return format!(
            "{command} on a key of another type answers the error WRONGTYPE, and changes nothing"
        );
    }
    let text = match command {
        "TTL" | "PTTL" => {
            "TTL answers the seconds left rounded to the nearest second (1500 ms left is 2, 1499 ms is 1), PTTL \
             the exact milliseconds; -1 for a key without an expiry, -2 for a missing key"
        }
        "ZRANGE" | "ZREVRANGE" => {
            "a sorted set is ordered by score, then by member for equal scores; ZREVRANGE is the exact \
             reverse of ZRANGE (equal scores in reverse member order); indexes as LRANGE; scores written \
             as f64 Display writes them (3, 2.5)"
        }
        "LRANGE" => {
            "LRANGE start stop is inclusive; negative indexes count from the end (-1 is the last); \
             indexes past the end are clamped"
        }
        "INCR" | "INCRBY" | "HINCRBY" => {
            "INCR/INCRBY/HINCRBY work on a base-10 i64 (a missing key or field counts as 0); anything else \
             answers an ERR error"
        }
        "SADD" | "SREM" | "HSET" | "HDEL" | "ZADD" | "ZREM" | "DEL" | "EXISTS" => {
            "these answer how many elements (or keys) were actually added, removed or found"
        }
        "LPOP" | "RPOP" | "LPUSH" | "RPUSH" => {
            "LPUSH/RPUSH add at the head/tail and answer the new length; LPOP/RPOP take from the head/tail, \
             nil when there is nothing"
        }
        _ => "the reply must be the one Redis gives to this command",
    };
    format!("{command}: {text}")
}

fn cli(g: &mut Grading, server: &mut Server) -> Result<(), Failure> {
    g.scenario("redis-cli, the official client, talks to the server");
    let cases: [(&[&str], &str); 6] = [
        (&["PING"], "PONG\n"),
        (&["SET", "greeting", "hello world"], "OK\n"),
        (&["GET", "greeting"], "hello world\n"),
        (&["RPUSH", "queue", "a", "b", "c"], "3\n"),
        (&["LRANGE", "queue", "0", "-1"], "a\nb\nc\n"),
        (&["DEL", "greeting", "queue", "nothing"], "2\n"),
    ];
    for (args, want) in cases {
        let got = redis_cli(g, server, args)?;
        if got != want {
            server.ensure_alive()?;
            return Err(Failure::new(format!(
                "redis-cli {} must print what a real Redis makes it print",
                args.join(" ")
            ))
            .expected(format!("{want:?}"))
            .got(format!("{got:?}")));
        }
    }
    Ok(())
}

fn raw_wire(g: &mut Grading, server: &mut Server) -> Result<(), Failure> {
    g.scenario(
        "RESP on the wire: pipelined and split commands, binary-safe strings, unknown commands",
    );
    let mut raw = Raw::open(server)?;
    let expect = |raw: &mut Raw, sent: &str, want: R, rule: &str| -> Result<(), Failure> {
        let got = raw.read()?;
        g.record("raw", sent, &got.to_string());
        if got.comparable() == want.comparable() {
            Ok(())
        } else {
            Err(Failure::new(rule)
                .expected(&want)
                .got(&got)
                .detail(format!("sent: {sent}")))
        }
    };
    let pipeline = [
        encode(&["SET", "raw:a", "1"]),
        encode(&["INCR", "raw:a"]),
        encode(&["GET", "raw:a"]),
    ]
    .concat();
    let rule = "three commands sent in one write (pipelining) get three replies, in order";
    raw.write(&pipeline, None, rule)?;
    expect(
        &mut raw,
        "SET raw:a 1 (pipelined)",
        R::Simple("OK".into()),
        rule,
    )?;
    expect(&mut raw, "INCR raw:a (pipelined)", R::Int(2), rule)?;
    expect(&mut raw, "GET raw:a (pipelined)", R::Bulk("2".into()), rule)?;

    let split = encode(&["SET", "raw:split", "a value that arrives in pieces"]);
    let rule = "a command may arrive in pieces (TCP is a stream, not messages): keep the partial bytes and \
                wait for the rest, then answer once";
    raw.write(&split, Some(&[1, 3, 2, 7]), rule)?;
    expect(
        &mut raw,
        "SET raw:split … (split into 1-7 byte writes)",
        R::Simple("OK".into()),
        rule,
    )?;

    let binary = "line one\r\nline two";
    let rule = "bulk strings are binary-safe: read exactly the announced length, even when the value \
                holds \\r\\n";
    raw.write(&encode(&["SET", "raw:bin", binary]), None, rule)?;
    raw.write(&encode(&["GET", "raw:bin"]), Some(&[5]), rule)?;
    expect(
        &mut raw,
        "SET raw:bin \"line one\\r\\nline two\"",
        R::Simple("OK".into()),
        rule,
    )?;
    expect(&mut raw, "GET raw:bin", R::Bulk(binary.into()), rule)?;

    let rule = "an unknown command answers an error reply (-ERR …) and the connection goes on";
    raw.write(&encode(&["NOSUCHCOMMAND", "x"]), None, rule)?;
    raw.write(&encode(&["PING"]), None, rule)?;
    expect(&mut raw, "NOSUCHCOMMAND x", R::Err("ERR".into()), rule)?;
    expect(&mut raw, "PING", R::Simple("PONG".into()), rule)?;
    Ok(())
}

fn strings(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("strings and counters, and WRONGTYPE between types");
    s.note =
        "strings hold bytes; INCR works on base-10 integers; a command for another type answers \
              WRONGTYPE and never converts"
            .to_string();
    s.suite(
        g,
        &[
            "GET missing",
            "SET name ada",
            "GET name",
            "SET name grace",
            "GET name",
            "INCR hits",
            "INCR hits",
            "INCRBY hits 40",
            "INCRBY hits -50",
            "INCR name",
            "SET big 9223372036854775807",
            "INCR big",
            "RPUSH jobs a",
            "GET jobs",
            "INCR jobs",
            "SET jobs now-a-string",
            "TYPE jobs",
            "EXISTS name hits nothing jobs",
            "DEL name nothing",
            "TYPE name",
            "ECHO hello",
        ],
    )
}

fn aggregates(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("lists, sets and hashes; an emptied aggregate is deleted");
    s.note = "lists are deques with inclusive, negative-aware ranges; SADD/SREM/HSET/HDEL count real changes; \
              a list, set or hash that loses its last element no longer exists"
        .to_string();
    s.suite(
        g,
        &[
            "RPUSH list b c",
            "LPUSH list a z",
            "LRANGE list 0 -1",
            "LRANGE list 1 2",
            "LRANGE list -2 -1",
            "LRANGE list -100 100",
            "LRANGE list 3 1",
            "LLEN list",
            "LPOP list",
            "RPOP list",
            "LPOP list",
            "RPOP list",
            "RPOP list",
            "EXISTS list",
            "TYPE list",
            "LLEN list",
            "SADD tags rust redis rust cache",
            "SADD tags redis",
            "SISMEMBER tags rust",
            "SISMEMBER tags go",
            "SMEMBERS tags",
            "SCARD tags",
            "SREM tags go rust",
            "SREM tags redis cache",
            "EXISTS tags",
            "SMEMBERS tags",
            "HSET user:1 name ada lang rust",
            "HSET user:1 lang rustlang year 1815",
            "HGET user:1 lang",
            "HGET user:1 nothing",
            "HGETALL user:1",
            "HLEN user:1",
            "HINCRBY user:1 year 10",
            "HINCRBY user:1 visits 1",
            "HINCRBY user:1 name 1",
            "HDEL user:1 name lang nothing",
            "HDEL user:1 year visits",
            "TYPE user:1",
            "HGETALL user:1",
            "SADD tags x",
            "LPUSH tags y",
        ],
    )
}

fn sorted_sets(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("sorted sets: by score, equal scores by member, ZREVRANGE the exact reverse");
    s.note = "a sorted set orders by score, then by member bytes for equal scores (never by insertion); \
              ZREVRANGE is ZRANGE reversed"
        .to_string();
    s.suite(
        g,
        &[
            "ZADD board 10 carol 20 alice 10 bob",
            "ZADD board 10 aaron 30 dave 20 alice",
            "ZRANGE board 0 -1",
            "ZRANGE board 0 -1 WITHSCORES",
            "ZREVRANGE board 0 -1",
            "ZREVRANGE board 0 2 WITHSCORES",
            "ZINCRBY board 2.5 bob",
            "ZINCRBY board -12.5 dave",
            "ZSCORE board bob",
            "ZSCORE board nobody",
            "ZRANGE board 1 3 WITHSCORES",
            "ZREVRANGE board -2 -1",
            "ZCARD board",
            "ZREM board carol nobody",
            "ZREVRANGE board 0 -1 WITHSCORES",
            "ZADD board x nan-score",
            "ZREM board aaron alice bob dave",
            "EXISTS board",
            "ZRANGE board 0 -1",
        ],
    )
}

fn expiry(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("expiry on the server's clock: exact deadlines, TTL rounding, SET clears a TTL");
    s.note = "a key whose deadline is T is gone from T on, for every command; TTL rounds to the nearest \
              second; SET without EX/PX removes the key's expiry, INCR and aggregate changes keep it"
        .to_string();
    s.suite(
        g,
        &[
            "SET session abc EX 10",
            "TTL session",
            "PTTL session",
            "DEBUG ADVANCE 8500",
            "TTL session",
            "DEBUG ADVANCE 1",
            "TTL session",
            "PTTL session",
            "DEBUG ADVANCE 1498",
            "PTTL session",
            "GET session",
            "DEBUG ADVANCE 1",
            "GET session",
            "TTL session",
            "RPUSH recent a b",
            "PEXPIRE recent 2000",
            "RPUSH recent c",
            "TTL recent",
            "DEBUG ADVANCE 2000",
            "EXISTS recent",
            "LRANGE recent 0 -1",
            "TYPE recent",
            "SET counter 1 PX 5000",
            "INCR counter",
            "PTTL counter",
            "SET counter 7",
            "TTL counter",
            "EXPIRE counter 100",
            "PERSIST counter",
            "PERSIST counter",
            "TTL counter",
            "EXPIRE nothing 10",
            "TTL nothing",
            "SADD temp a",
            "EXPIRE temp 0",
            "EXISTS temp",
            "HSET cart item 1",
            "EXPIRE cart 3",
            "DEBUG ADVANCE 2999",
            "HGETALL cart",
            "DEBUG ADVANCE 1",
            "HLEN cart",
            "SCARD cart",
        ],
    )
}

fn trending(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("trending posts: a sorted set of views with a TTL, read as a top 10");
    s.note = "the classic Redis leaderboard: ZINCRBY per view, EXPIRE on the whole hour's set, ZREVRANGE 0 9 \
              WITHSCORES for the top 10 (ties by member, reversed); the set disappears when the hour expires"
        .to_string();
    let rng = g.rng();
    let posts: Vec<String> = (0..25)
        .map(|i| format!("post:{:03}", (i * 37) % 100))
        .collect();
    let mut views = Vec::new();
    for _ in 0..300 {
        // A few hot posts get most views; a handful of scores end equal, so ties are exercised.
        let post = if rng.chance(1, 2) {
            &posts[rng.below(5) as usize]
        } else {
            &posts[rng.below(25) as usize]
        };
        views.push(format!("ZINCRBY trending:hour 1 {post}"));
    }
    for command in &views {
        s.run(g, command)?;
    }
    s.suite(
        g,
        &[
            "EXPIRE trending:hour 3600",
            "ZREVRANGE trending:hour 0 9 WITHSCORES",
            "ZCARD trending:hour",
            "DEBUG ADVANCE 1800000",
            "ZINCRBY trending:hour 50 post:999",
            "ZREVRANGE trending:hour 0 9 WITHSCORES",
            "TTL trending:hour",
            "DEBUG ADVANCE 1800000",
            "ZREVRANGE trending:hour 0 9 WITHSCORES",
            "EXISTS trending:hour",
        ],
    )
}

fn pubsub(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("pub/sub: SUBSCRIBE, PUBLISH counts its receivers, messages arrive in order");
    let mut first = Client::connect(&mut s.server)?;
    let mut second = Client::connect(&mut s.server)?;
    let to_failure = |what: &str, e: redis::RedisError| {
        Failure::new(format!(
            "{what}: SUBSCRIBE answers [\"subscribe\", channel, count] for each channel, then the connection \
             receives [\"message\", channel, payload] for every PUBLISH on its channels"
        ))
        .got(e.to_string())
    };
    let mut one = first.connection().as_pubsub();
    one.subscribe(&["news", "alerts"][..])
        .map_err(|e| to_failure("SUBSCRIBE news alerts through the redis crate failed", e))?;
    let mut two = second.connection().as_pubsub();
    two.subscribe("news")
        .map_err(|e| to_failure("SUBSCRIBE news through the redis crate failed", e))?;
    let published = [
        ("news", "first headline", 2),
        ("alerts", "disk almost full", 1),
        ("nobody-listens", "lost", 0),
        ("news", "second headline", 2),
    ];
    let payload_rule = "PUBLISH channel payload answers the number of subscribers that received it";
    for (channel, payload, receivers) in published {
        let args = ["PUBLISH", channel, payload].map(str::to_string);
        let got = s.client.run(g, &args)?;
        if got != R::Int(receivers) {
            return Err(Failure::new(payload_rule)
                .expected(R::Int(receivers))
                .got(got)
                .detail(format!("sent: PUBLISH {channel} {payload:?}"))
                .detail("subscribers: connection 1 on news and alerts, connection 2 on news"));
        }
    }
    let cli_count = redis_cli(g, &s.server, &["PUBLISH", "alerts", "from redis-cli"])?;
    if cli_count != "1\n" {
        return Err(Failure::new(payload_rule)
            .expected("1")
            .got(cli_count.trim())
            .detail("sent with redis-cli: PUBLISH alerts \"from redis-cli\""));
    }
    let expected_one = [
        ("news", "first headline"),
        ("alerts", "disk almost full"),
        ("news", "second headline"),
        ("alerts", "from redis-cli"),
    ];
    let expected_two = [("news", "first headline"), ("news", "second headline")];
    for (who, pubsub, expected) in [
        ("connection 1 (news, alerts)", &mut one, &expected_one[..]),
        ("connection 2 (news)", &mut two, &expected_two[..]),
    ] {
        let _ = pubsub.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        for (channel, payload) in expected {
            let message = pubsub.get_message().map_err(|e| {
                to_failure(
                    &format!("{who} did not receive {payload:?} on {channel}"),
                    e,
                )
            })?;
            let got_payload: String = message.get_payload().unwrap_or_default();
            let got = (message.get_channel_name().to_string(), got_payload);
            g.record("subscriber", who, &format!("message {} {:?}", got.0, got.1));
            if got != (channel.to_string(), payload.to_string()) {
                return Err(Failure::new(
                    "each subscriber receives every message of its channels, once, in the order they were \
                     published, as [\"message\", channel, payload]",
                )
                .expected(format!("{channel} {payload:?}"))
                .got(format!("{} {:?}", got.0, got.1))
                .detail(format!("on {who}")));
            }
        }
    }
    Ok(())
}

fn trace(g: &mut Grading, s: &mut Session) -> Result<(), Failure> {
    g.scenario("a seeded trace of commands of every type, from two connections, against the model");
    s.note = "a seeded mix of every rule above on a few shared keys; replay it with the seed"
        .to_string();
    let mut other = Client::connect(&mut s.server)?;
    let mut rng = g.rng().fork(6);
    for _ in 0..TRACE_COMMANDS {
        let args = random_command(&mut rng, &s.model);
        if rng.chance(1, 2) {
            s.check(g, &args, Some(&mut other))?;
        } else {
            s.check(g, &args, None)?;
        }
    }
    Ok(())
}

/// One random command on a small set of keys, so types collide, aggregates empty and deadlines pass.
fn random_command(rng: &mut Rng, model: &Model) -> Vec<String> {
    let key = format!("k{}", rng.below(6));
    let member = format!("m{}", rng.below(5));
    let small = rng.range(0, 9).to_string();
    let index = |rng: &mut Rng| (rng.range(0, 8) as i64 - 4).to_string();
    let command: Vec<String> = match rng.below(30) {
        0 => vec!["SET".into(), key, small],
        1 => vec![
            "SET".into(),
            key,
            small,
            "PX".into(),
            rng.range(1, 3000).to_string(),
        ],
        2 => vec!["GET".into(), key],
        3 => vec!["INCR".into(), key],
        4 => vec![
            "INCRBY".into(),
            key,
            (rng.range(0, 20) as i64 - 10).to_string(),
        ],
        5 => vec!["DEL".into(), key],
        6 => vec!["EXISTS".into(), key, format!("k{}", rng.below(6))],
        7 => vec!["TYPE".into(), key],
        8 => vec![
            "PEXPIRE".into(),
            key,
            (rng.range(0, 3000) as i64 - 200).to_string(),
        ],
        9 => vec!["TTL".into(), key],
        10 => vec!["PTTL".into(), key],
        11 => vec!["PERSIST".into(), key],
        12 => vec![
            ["LPUSH", "RPUSH"][rng.below(2) as usize].into(),
            key,
            member,
        ],
        13 => vec![["LPOP", "RPOP"][rng.below(2) as usize].into(), key],
        14 => vec!["LRANGE".into(), key, index(rng), index(rng)],
        15 => vec!["SADD".into(), key, member, format!("m{}", rng.below(5))],
        16 => vec!["SREM".into(), key, member],
        17 => vec!["SMEMBERS".into(), key],
        18 => vec!["HSET".into(), key, member, small],
        19 => vec!["HDEL".into(), key, member],
        20 => vec!["HGETALL".into(), key],
        21 => vec!["HINCRBY".into(), key, member, small],
        22 => vec!["ZADD".into(), key, rng.range(0, 4).to_string(), member],
        23 => vec!["ZINCRBY".into(), key, rng.range(0, 3).to_string(), member],
        24 => vec!["ZREM".into(), key, member],
        25 => vec![
            "ZRANGE".into(),
            key,
            index(rng),
            index(rng),
            "WITHSCORES".into(),
        ],
        26 => vec!["ZREVRANGE".into(), key, "0".into(), "-1".into()],
        27 => vec![
            ["LLEN", "SCARD", "HLEN", "ZCARD"][rng.below(4) as usize].into(),
            key,
        ],
        _ => {
            // Move the clock: often a little, sometimes exactly onto a deadline.
            let deadlines = model.deadlines();
            let ms = match deadlines.is_empty() || rng.chance(1, 2) {
                true => rng.range(0, 800),
                false => rng.pick(&deadlines) - model.now,
            };
            vec!["DEBUG".into(), "ADVANCE".into(), ms.to_string()]
        }
    };
    command
}
