//! Real HTTP clients against the server: `curl` with several URLs on one command line, and Python's
//! `http.client`. Both reuse a connection only when the server frames and persists it correctly, and both report
//! how many connections they opened, so reuse is measured by the client itself. The tools are run through the
//! sandbox (time limit, killed when done); a missing tool fails the grading loudly, never silently.

use std::process::Command;
use std::time::Duration;

use backlings_grade::sandbox::{self, Finished, Limits};
use backlings_grade::{Failure, Server};
use serde_json::Value;

/// How long one client run may take.
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

/// Runs a client tool; a tool that cannot be started is a loud failure naming it.
fn run(program: &str, args: &[String]) -> Result<Finished, Failure> {
    let mut command = Command::new(program);
    command.args(args);
    let limits = Limits {
        timeout: CLIENT_LIMIT,
        ..Limits::default()
    };
    sandbox::run(command, &limits, None).map_err(|e| {
        Failure::new(format!(
            "the grader could not run `{program}` ({e}): this exercise is checked with curl and python3, so \
             both must be installed on this machine (e.g. `apt install curl python3`)"
        ))
    })
}

/// What a client printed, for reports.
fn output(finished: &Finished) -> String {
    let mut text = format!("it {}", finished.termination.describe());
    let out = finished.stdout.text();
    if !out.trim().is_empty() {
        text.push_str(&format!("; stdout: {}", out.trim()));
    }
    let err = finished.stderr.text();
    if !err.trim().is_empty() {
        let tail: String = err
            .trim()
            .lines()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .join(" | ");
        text.push_str(&format!("; stderr: {tail}"));
    }
    text
}

/// `curl URL1 URL2 URL3`: one connection for all three, each body exact.
pub fn curl(server: &mut Server, texts: &[String], http10: bool) -> Result<(), Failure> {
    let mut args: Vec<String> = [
        "-q",
        "--silent",
        "--show-error",
        "--noproxy",
        "*",
        "--max-time",
        "10",
        "--write-out",
        "\n%{http_code} %{num_connects}\n",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    let mut sent = "curl".to_string();
    if http10 {
        args.extend(["--http1.0", "--header", "Connection: keep-alive"].map(String::from));
        sent.push_str(" --http1.0 -H 'Connection: keep-alive'");
    }
    for text in texts {
        args.push(server.url(&format!("/echo/{text}")));
        sent.push_str(&format!(" /echo/{text}"));
    }
    let finished = run("curl", &args)?;
    let got = output(&finished);
    server.record(&sent, &got);

    let rule = if http10 {
        "curl sends HTTP/1.0 requests with `Connection: keep-alive` to several URLs: the server keeps the \
         connection open, so curl reuses it (1 connection for all)"
    } else {
        "curl fetches several URLs of one server on one command line: with keep-alive it opens 1 connection and \
         reuses it for the others"
    };
    let expected = texts
        .iter()
        .enumerate()
        .map(|(i, text)| format!("{text} (200, {} new connection)", u8::from(i == 0)))
        .collect::<Vec<_>>()
        .join(", ");
    let failure = || Failure::new(rule).expected(&expected).got(&got);
    if !finished.termination.is_success() {
        server.ensure_alive()?;
        return Err(failure());
    }
    let stdout = finished.stdout.text();
    let lines: Vec<&str> = stdout.lines().collect();
    if lines.len() != 2 * texts.len() {
        return Err(failure());
    }
    for (i, text) in texts.iter().enumerate() {
        let body = lines[2 * i];
        let status_and_connects = format!("200 {}", u8::from(i == 0));
        if body != text {
            return Err(failure());
        }
        if lines[2 * i + 1] != status_and_connects {
            let detail = if lines[2 * i + 1].starts_with("200 ") {
                "curl had to open a new connection for a later URL: the previous response must say \
                 `Connection: keep-alive` and the server must keep reading requests on that connection"
            } else {
                "a request did not get 200"
            };
            return Err(failure().detail(detail));
        }
    }
    Ok(())
}

/// The Python client: four requests on one `HTTPConnection`, then one with `Connection: close`, then one more.
const PYTHON: &str = r#"
import http.client, json, sys
host, port, one, two, three = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
class Counting(http.client.HTTPConnection):
    connects = 0
    def connect(self):
        Counting.connects += 1
        super().connect()
connection = Counting(host, port, timeout=10)
seen = []
for method, path, body, headers in [
    ("GET", "/echo/" + one, None, {}),
    ("POST", "/echo", two.encode(), {"Content-Type": "text/plain"}),
    ("GET", "/health", None, {}),
    ("GET", "/echo/" + three, None, {"Connection": "close"}),
    ("GET", "/echo/" + one, None, {}),
]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    seen.append({
        "status": response.status,
        "body": data.decode("latin-1"),
        "conn_id": response.getheader("X-Conn-Id"),
        "connection": response.getheader("Connection"),
    })
print(json.dumps({"connects": Counting.connects, "responses": seen}))
"#;

/// Python's `http.client`: one connection for the first four requests, a new one after `Connection: close`.
pub fn python(server: &mut Server, texts: [&str; 3]) -> Result<(), Failure> {
    let addr = server.addr();
    let mut args = vec![
        "-I".to_string(),
        "-c".to_string(),
        PYTHON.to_string(),
        addr.ip().to_string(),
        addr.port().to_string(),
    ];
    args.extend(texts.iter().map(|text| text.to_string()));
    let finished = run("python3", &args)?;
    let got = output(&finished);
    server.record(
        &format!(
            "python3 http.client: GET /echo/{0} · POST /echo \"{1}\" · GET /health · GET /echo/{2} with \
             Connection: close · GET /echo/{0}",
            texts[0], texts[1], texts[2]
        ),
        &got,
    );
    let rule = "Python's http.client sends 4 requests on one HTTPConnection (the 4th with `Connection: close`), \
                then a 5th: the first 4 share one connection, the 5th needs a new one";
    let expected = format!(
        "2 connections · bodies {0}, {1}, {{\"status\":\"ok\"}}, {2}, {0} · one X-Conn-Id for the first 4, \
         another for the 5th · the 4th response says Connection: close",
        texts[0], texts[1], texts[2]
    );
    let failure = |detail: &str| {
        Failure::new(rule)
            .expected(&expected)
            .got(&got)
            .detail(detail.to_string())
    };
    if !finished.termination.is_success() {
        server.ensure_alive()?;
        return Err(failure(
            "http.client raised an error: a response it could not parse, or a connection closed under it",
        ));
    }
    let report: Value = serde_json::from_str(finished.stdout.text().trim())
        .map_err(|_| failure("the client printed no report"))?;
    let responses = report["responses"].as_array().cloned().unwrap_or_default();
    let bodies = [texts[0], texts[1], r#"{"status":"ok"}"#, texts[2], texts[0]];
    if responses.len() != bodies.len() {
        return Err(failure("the client did not get every response"));
    }
    for (response, body) in responses.iter().zip(bodies) {
        if response["status"] != 200 || response["body"] != body {
            return Err(failure("a response has the wrong status or body"));
        }
    }
    let ids: Vec<&Value> = responses.iter().map(|r| &r["conn_id"]).collect();
    let closes = responses[3]["connection"]
        .as_str()
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    if !closes {
        return Err(failure(
            "the client sent `Connection: close`, so that response must say `Connection: close`",
        ));
    }
    if report["connects"] != 2
        || !ids[0].is_string()
        || ids[..4].iter().any(|id| *id != ids[0])
        || ids[4] == ids[0]
    {
        return Err(failure(
            "http.client reuses its connection while responses say keep-alive and opens a new one after \
             `Connection: close`: a different count means the server closed too early, or kept a closed \
             connection's id",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // The grader drives the learner's server with curl and python3: without them it cannot grade, so say so loudly.
    #[test]
    fn curl_and_python3_are_installed() {
        for (tool, flag) in [("curl", "--version"), ("python3", "--version")] {
            let status = std::process::Command::new(tool).arg(flag).output();
            assert!(
                status.as_ref().is_ok_and(|output| output.status.success()),
                "`{tool}` is missing or broken ({status:?}): the grader of http3_keep_alive needs curl and python3"
            );
        }
    }
}
