//! The two front doors of the program, driven the same way: a script step goes in, a normalized outcome
//! (`ok` with a value, or an error code) comes out, plus the HTTP status when it came through HTTP.

use std::time::Duration;

use backlings_grade::http::Request;
use backlings_grade::{Connection, Failure, Grading, Server, Stdio};
use serde_json::{Value, json};

use super::model::Step;
use crate::support::{body_request, json_body, show, summary};

/// What the program answered, whichever door it came through.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Value),
    Err { code: String, message: String },
}

/// One answer: the outcome, and the HTTP status if it came through HTTP.
#[derive(Debug, Clone)]
pub struct Reply {
    pub outcome: Outcome,
    pub status: Option<u16>,
}

/// A running program behind one door.
pub enum Front {
    Stdio(Stdio),
    Http {
        server: Server,
        connection: Connection,
    },
}

impl Front {
    /// Starts the program with `--inbound inbound --store store --data-dir dir`.
    pub fn start(g: &mut Grading, inbound: &str, store: &str, dir: &str) -> Result<Self, Failure> {
        let args = ["--inbound", inbound, "--store", store, "--data-dir", dir];
        if inbound == "stdio" {
            Ok(Front::Stdio(g.stdio_with(&args, &[])?))
        } else {
            let mut server = g.server_with(&args, &[])?;
            let connection = server.open()?;
            Ok(Front::Http { server, connection })
        }
    }

    /// Stops the program: end of input for STDIO (it must exit cleanly), a kill for HTTP (a crash: what was
    /// stored must be on disk already).
    pub fn stop(self) -> Result<(), Failure> {
        match self {
            Front::Stdio(session) => {
                let (rest, how) = session.finish(Duration::from_secs(5))?;
                if !how.is_success() || !rest.is_empty() {
                    return Err(Failure::new(
                        "at the end of its input the STDIO adapter exits cleanly (exit code 0), with nothing more \
                         on stdout",
                    )
                    .got(format!("it {}; {} more line(s)", how.describe(), rest.len())));
                }
                Ok(())
            }
            Front::Http { server, .. } => {
                drop(server);
                Ok(())
            }
        }
    }

    /// Sends one step.
    pub fn run(&mut self, step: &Step) -> Result<Reply, Failure> {
        match self {
            Front::Stdio(session) => {
                let command = command(step);
                let reply = session.request(&command)?;
                Ok(Reply {
                    outcome: stdio_outcome(&reply)?,
                    status: None,
                })
            }
            Front::Http { server, connection } => {
                let request = http_request(step);
                let response = match connection.request(&request) {
                    Ok(response) => response,
                    Err(failure) => {
                        server.ensure_alive()?;
                        return Err(failure);
                    }
                };
                let body = json_body(&response).map_err(|why| {
                    Failure::new("every answer of the HTTP adapter is JSON: the task, the array, or {\"error\": …}")
                        .got(why)
                })?;
                let outcome = if (200..300).contains(&response.status) {
                    Outcome::Ok(body)
                } else {
                    error_outcome(&body).ok_or_else(|| {
                        Failure::new("an error answer has the body {\"error\": {\"code\": …, \"message\": …}}")
                            .got(summary(&response))
                    })?
                };
                Ok(Reply {
                    outcome,
                    status: Some(response.status),
                })
            }
        }
    }

    /// Sends a raw request (HTTP only) and returns the status and error code.
    pub fn raw(&mut self, request: &Request) -> Result<(u16, Option<String>), Failure> {
        let Front::Http { connection, .. } = self else {
            return Ok((0, None));
        };
        let response = connection.request(request)?;
        let code = json_body(&response)
            .ok()
            .as_ref()
            .and_then(error_outcome)
            .and_then(|o| match o {
                Outcome::Err { code, .. } => Some(code),
                Outcome::Ok(_) => None,
            });
        Ok((response.status, code))
    }
}

fn command(step: &Step) -> Value {
    match step {
        Step::Create {
            now,
            title,
            due_at,
            omit_due,
        } => {
            let mut command = json!({"op": "create", "now": now, "title": title});
            if !omit_due {
                command["due_at"] = json!(due_at);
            }
            command
        }
        Step::Get { now, id } => json!({"op": "get", "now": now, "id": id}),
        Step::Complete { now, id } => json!({"op": "complete", "now": now, "id": id}),
        Step::List { now, status } => json!({"op": "list", "now": now, "status": status}),
    }
}

fn http_request(step: &Step) -> Request {
    let (request, now) = match step {
        Step::Create {
            now,
            title,
            due_at,
            omit_due,
        } => {
            let mut body = json!({"title": title});
            if !omit_due {
                body["due_at"] = json!(due_at);
            }
            (
                body_request(
                    "POST",
                    "/tasks",
                    "application/json",
                    body.to_string().as_bytes(),
                ),
                now,
            )
        }
        Step::Get { now, id } => (Request::get(&format!("/tasks/{id}")), now),
        Step::Complete { now, id } => (Request::new("POST", &format!("/tasks/{id}/complete")), now),
        Step::List { now, status } => {
            // `all` is also the default: ask for it both ways.
            let target = if *status == "all" && now % 2 == 0 {
                "/tasks".to_string()
            } else {
                format!("/tasks?status={status}")
            };
            (Request::get(&target), now)
        }
    };
    request.header("X-Fake-Now", &now.to_string())
}

fn error_outcome(body: &Value) -> Option<Outcome> {
    let error = body.get("error")?;
    Some(Outcome::Err {
        code: error.get("code")?.as_str()?.to_string(),
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

fn stdio_outcome(reply: &Value) -> Result<Outcome, Failure> {
    if let Some(value) = reply.get("ok") {
        return Ok(Outcome::Ok(value.clone()));
    }
    error_outcome(reply).ok_or_else(|| {
        Failure::new(
            "the STDIO adapter answers {\"ok\": …} or {\"error\": {\"code\": …, \"message\": …}}",
        )
        .got(show(reply))
    })
}
