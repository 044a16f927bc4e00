//! The three ways the `cache6_redis_lite` grader talks to the server: the `redis` crate (a real client
//! library), `redis-cli` (the official command-line client, from Debian's `redis-tools`), and raw RESP bytes
//! on a socket (for pipelining and split commands, which a client library hides).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use backlings_grade::sandbox::{self, Limits};
use backlings_grade::{Failure, Grading, Server};

use super::model::R;

/// How long one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// One `redis` crate connection.
pub struct Client {
    con: redis::Connection,
}

impl Client {
    /// Connects with the `redis` crate (which first sends `CLIENT SETINFO`, as every redis-rs client does).
    pub fn connect(server: &mut Server) -> Result<Client, Failure> {
        let url = format!("redis://{}/", server.addr());
        let connected = redis::Client::open(url.as_str())
            .and_then(|client| client.get_connection_with_timeout(REPLY_TIMEOUT));
        let con = match connected {
            Ok(con) => con,
            Err(e) => {
                server.ensure_alive()?;
                return Err(Failure::new(
                    "the redis crate could not connect: on connect it sends `CLIENT SETINFO …`, which a \
                     server without that command must answer with an error reply (`-ERR unknown command`) \
                     and go on serving",
                )
                .got(e.to_string()));
            }
        };
        let _ = con.set_read_timeout(Some(REPLY_TIMEOUT));
        let _ = con.set_write_timeout(Some(REPLY_TIMEOUT));
        Ok(Client { con })
    }

    /// Sends `args` and returns the reply (an error reply is a value, not a failure).
    pub fn run(&mut self, g: &Grading, args: &[String]) -> Result<R, Failure> {
        let mut cmd = redis::cmd(&args[0]);
        for arg in &args[1..] {
            cmd.arg(arg.as_str());
        }
        let sent = args.join(" ");
        let reply = match cmd.query::<redis::Value>(&mut self.con) {
            Ok(value) => convert(value),
            Err(e) if e.code().is_some() => R::Err(format!(
                "{} {}",
                e.code().unwrap_or_default(),
                e.detail().unwrap_or_default()
            )),
            Err(e) => {
                g.record("redis", &sent, &format!("<{e}>"));
                return Err(Failure::new(format!(
                    "no valid RESP2 reply came back to `{sent}`: {e}"
                )));
            }
        };
        g.record("redis", &sent, &reply.to_string());
        Ok(reply)
    }

    /// The connection, for pub/sub.
    pub fn connection(&mut self) -> &mut redis::Connection {
        &mut self.con
    }
}

/// A `redis::Value` as the grader compares it.
pub fn convert(value: redis::Value) -> R {
    match value {
        redis::Value::Nil => R::Nil,
        redis::Value::Int(n) => R::Int(n),
        redis::Value::BulkString(bytes) => R::Bulk(String::from_utf8_lossy(&bytes).into_owned()),
        redis::Value::SimpleString(s) => R::Simple(s),
        redis::Value::Okay => R::Simple("OK".to_string()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            R::Arr(items.into_iter().map(convert).collect())
        }
        redis::Value::ServerError(e) => {
            R::Err(format!("{} {}", e.code(), e.details().unwrap_or_default()))
        }
        other => R::Simple(format!("(an unexpected RESP3 value: {other:?})")),
    }
}

/// Where `redis-cli` is, or a failure that says to install it.
pub fn redis_cli_path() -> Result<PathBuf, Failure> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("redis-cli"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Failure::new(
                "this grader needs `redis-cli`, the official Redis command-line client, and cannot find it \
                 on PATH: install Debian's redis-tools (`sudo apt-get install redis-tools`) and run again",
            )
        })
}

/// Runs `redis-cli -h 127.0.0.1 -p PORT args…` and returns its standard output (redis-cli prints raw
/// replies, one per line, when its output is not a terminal).
pub fn redis_cli(g: &Grading, server: &Server, args: &[&str]) -> Result<String, Failure> {
    let mut command = Command::new(redis_cli_path()?);
    let port = server.addr().port().to_string();
    command.args(["-h", "127.0.0.1", "-p", &port]).args(args);
    let limits = Limits {
        timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let finished = sandbox::run(command, &limits, None)
        .map_err(|e| Failure::new(format!("could not run redis-cli: {e}")))?;
    let out = finished.stdout.text().into_owned();
    g.record("redis-cli", &args.join(" "), out.trim_end());
    if !finished.termination.is_success() {
        return Err(Failure::new(format!(
            "redis-cli {} did not finish cleanly: it {}",
            args.join(" "),
            finished.termination.describe()
        ))
        .detail(format!("its stderr: {}", finished.stderr.text().trim())));
    }
    Ok(out)
}

/// A raw socket, and a RESP reader on it.
pub struct Raw {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    /// Opens a plain connection.
    pub fn open(server: &mut Server) -> Result<Raw, Failure> {
        let writer = server.connect()?;
        let reader = writer
            .try_clone()
            .map_err(|e| Failure::new(format!("could not use the connection: {e}")))?;
        Ok(Raw {
            writer,
            reader: BufReader::new(reader),
        })
    }

    /// Writes `bytes`, all at once or in pieces of the given sizes; a server that closes the connection
    /// meanwhile breaks `rule`, and what it said before closing is shown.
    pub fn write(
        &mut self,
        bytes: &[u8],
        pieces: Option<&[usize]>,
        rule: &str,
    ) -> Result<(), Failure> {
        let written = match pieces {
            Some(sizes) => backlings_grade::http::write_in_pieces(&mut self.writer, bytes, sizes),
            None => self.writer.write_all(bytes),
        };
        written.map_err(|e| {
            let said = match read_reply(&mut self.reader) {
                Ok(reply) => format!(", after answering {reply}"),
                Err(_) => String::new(),
            };
            Failure::new(rule)
                .expected("the server reads on until the command is complete, then answers it")
                .got(format!(
                    "the server closed the connection while the command was being sent ({e}){said}"
                ))
        })
    }

    /// Reads one reply.
    pub fn read(&mut self) -> Result<R, Failure> {
        read_reply(&mut self.reader)
            .map_err(|e| Failure::new(format!("no valid RESP2 reply came back: {e}")))
    }
}

/// A command as RESP2 bytes: an array of bulk strings.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<R> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(bad("the connection was closed".to_string()));
    }
    let line = line
        .strip_suffix("\r\n")
        .ok_or_else(|| bad(format!("a reply line must end with \\r\\n: {line:?}")))?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| bad(format!("not a number in {line:?}")))
    };
    Ok(match kind {
        "+" => R::Simple(rest.to_string()),
        "-" => R::Err(rest.to_string()),
        ":" => R::Int(number()?),
        "$" if number()? < 0 => R::Nil,
        "$" => {
            let mut bytes = vec![0; number()? as usize + 2];
            reader.read_exact(&mut bytes)?;
            if !bytes.ends_with(b"\r\n") {
                return Err(bad("a bulk string must end with \\r\\n".to_string()));
            }
            bytes.truncate(bytes.len() - 2);
            R::Bulk(String::from_utf8_lossy(&bytes).into_owned())
        }
        "*" if number()? < 0 => R::Nil,
        "*" => {
            let mut items = Vec::new();
            for _ in 0..number()? {
                items.push(read_reply(reader)?);
            }
            R::Arr(items)
        }
        _ => return Err(bad(format!("not a RESP2 reply: {line:?}"))),
    })
}
