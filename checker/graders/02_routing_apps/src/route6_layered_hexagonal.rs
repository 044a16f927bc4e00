//! Grader of `route6_layered_hexagonal`: one task service behind two inbound adapters (STDIO, HTTP) and
//! three outbound adapters (memory, SQLite, JSON documents), with an injected clock.
//!
//! One seeded script (creates with tricky and invalid titles, due dates, gets, completes, lists around the
//! exact millisecond a task becomes overdue) is replayed through each of the six combinations of
//! `--inbound` and `--store`, and every answer is compared with one exact model: so the six give identical
//! results, and every time in them is the clock the grader played, never the wall clock. The durable stores
//! are then restarted on the same data directory (after a clean exit for STDIO, after a kill for HTTP): every
//! task must still be there, and ids must go on. The HTTP adapter's status codes and malformed-request
//! answers are checked too.

mod front;
mod model;

use backlings_grade::http::Request;
use backlings_grade::{Failure, Grading};
use serde_json::Value;

use crate::support::{ScratchDir, body_request, show};
use front::{Front, Outcome, Reply};
use model::{Expect, Model, Step};

/// The combinations, in the order a learner makes them work.
const COMBINATIONS: [(&str, &str); 6] = [
    ("stdio", "memory"),
    ("http", "memory"),
    ("stdio", "sqlite"),
    ("http", "sqlite"),
    ("stdio", "doc"),
    ("http", "doc"),
];

/// Grades one program: every scenario must pass.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut rng = g.rng().fork(6);
    let script = model::script(&mut rng);
    let mut restart_rng = rng.fork(1);
    for (inbound, store) in COMBINATIONS {
        let through = format!("--inbound {inbound} --store {store}");
        g.scenario(&format!(
            "the script through {through} gives the model's answers"
        ));
        let dir = ScratchDir::new("route6")?;
        let mut front = Front::start(g, inbound, store, &dir.arg())?;
        let mut model = Model::default();
        run(&mut front, &mut model, &script, &through, false)?;
        if inbound == "http" && store == "memory" {
            g.scenario(
                "the HTTP adapter answers malformed requests with 400 and unknown routes with 404",
            );
            malformed(&mut front)?;
        }
        if store == "memory" {
            front.stop()?;
            continue;
        }
        g.scenario(&format!(
            "{through}: after a restart on the same --data-dir every task is still there, and ids go on"
        ));
        front.stop()?;
        let mut front = Front::start(g, inbound, store, &dir.arg())?;
        let last_now = script.last().map_or(0, model::now_of);
        let mut rng = restart_rng.clone();
        let after = model::after_restart(&mut rng, &model, last_now);
        run(&mut front, &mut model, &after, &through, true)?;
        front.stop()?;
        restart_rng.next_u64();
    }
    Ok(())
}

fn run(
    front: &mut Front,
    model: &mut Model,
    steps: &[Step],
    through: &str,
    restarted: bool,
) -> Result<(), Failure> {
    for (index, step) in steps.iter().enumerate() {
        let expect = model.apply(step);
        let reply = front.run(step).map_err(|failure| {
            failure
                .detail(format!("through: {through}"))
                .detail(format!(
                    "step {} of the script: {}",
                    index + 1,
                    step.describe()
                ))
        })?;
        check(step, &expect, &reply, restarted && !matches!(step, Step::Create { .. })).map_err(|failure| {
            let mut failure = failure
                .detail(format!("through: {through}"))
                .detail(format!("step {} of the script: {}", index + 1, step.describe()));
            if restarted {
                failure = failure.detail(
                    "the program was restarted on the same --data-dir just before these steps: a durable \
                     store (sqlite, doc) keeps every task, and the next id follows the last one stored",
                );
            }
            failure
        })?;
    }
    Ok(())
}

/// The HTTP status each outcome maps to.
fn status_for(step: &Step, expect: &Expect) -> u16 {
    match expect {
        Expect::Ok(_) if matches!(step, Step::Create { .. }) => 201,
        Expect::Ok(_) => 200,
        Expect::Err {
            code: "invalid", ..
        } => 422,
        Expect::Err {
            code: "not_found", ..
        } => 404,
        Expect::Err {
            code: "conflict", ..
        } => 409,
        Expect::Err { .. } => 500,
    }
}

/// `stored_before`: the step reads tasks stored before a restart.
fn check(step: &Step, expect: &Expect, reply: &Reply, stored_before: bool) -> Result<(), Failure> {
    match (expect, &reply.outcome) {
        (Expect::Ok(want), Outcome::Ok(got)) => compare(want, got, stored_before)?,
        (Expect::Ok(want), Outcome::Err { code, message }) => {
            let rule = if code == "storage" {
                "the store failed where the memory store succeeds: an adapter must store whatever the service \
                 hands it (a title with quotes or a `;`: bind SQL parameters, never build SQL with format!)"
            } else {
                "this step succeeds: the service's rules allow it (the time is the injected clock's, from \
                 X-Fake-Now or \"now\", never the system clock)"
            };
            return Err(Failure::new(rule)
                .expected(format!("ok: {}", show(want)))
                .got(format!("error {code}: {message}")));
        }
        (Expect::Err { code, why }, Outcome::Ok(got)) => {
            return Err(Failure::new(*why)
                .expected(format!("error {code}"))
                .got(format!("ok: {}", show(got))));
        }
        (Expect::Err { code, why }, Outcome::Err { code: got, message }) if got != code => {
            return Err(Failure::new(*why)
                .expected(format!("error {code}"))
                .got(format!("error {got}: {message}")));
        }
        (Expect::Err { .. }, Outcome::Err { .. }) => {}
    }
    if let Some(status) = reply.status {
        let want = status_for(step, expect);
        if status != want {
            return Err(Failure::new(
                "the HTTP adapter maps outcomes to status codes: 201 for a created task, 200 for the other \
                 successes, 422 invalid, 404 not_found, 409 conflict (the service returns domain errors; the \
                 status is the adapter's choice)",
            )
            .expected(want)
            .got(status));
        }
    }
    Ok(())
}

/// Compares two successful answers (a task or a list), explaining the first difference.
fn compare(want: &Value, got: &Value, restarted: bool) -> Result<(), Failure> {
    if want == got {
        return Ok(());
    }
    let (Value::Array(wants), Value::Array(gots)) = (want, got) else {
        return compare_task(want, got, restarted);
    };
    let ids = |tasks: &[Value]| {
        tasks
            .iter()
            .map(|t| t["id"].to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if wants.len() != gots.len() || wants.iter().zip(gots).any(|(w, g)| w["id"] != g["id"]) {
        let rule = if restarted {
            "a durable store keeps every task across a restart: the list holds the tasks stored before it too, \
             ordered by id"
        } else {
            "a list holds exactly the tasks its status selects (overdue: open with due_at before now), ordered \
             by id (not by file name: 10 comes after 9)"
        };
        return Err(Failure::new(rule)
            .expected(format!("ids [{}]", ids(wants)))
            .got(format!("ids [{}]", ids(gots))));
    }
    for (w, g) in wants.iter().zip(gots) {
        compare_task(w, g, restarted)?;
    }
    Ok(())
}

fn compare_task(want: &Value, got: &Value, restarted: bool) -> Result<(), Failure> {
    const FIELDS: [(&str, &str); 7] = [
        (
            "id",
            "ids are 1, 2, 3, … in creation order, and go on after a restart (a store that counts from 1 again overwrites task 1)",
        ),
        (
            "title",
            "the title is stored trimmed and otherwise exactly as sent: quotes, backslashes, tabs, emoji (bind SQL parameters; never build SQL with format!)",
        ),
        (
            "status",
            "status is `done` once the task is completed, `open` before",
        ),
        (
            "created_at",
            "created_at is the time of the create request, from the injected clock (X-Fake-Now or \"now\"), never the system clock",
        ),
        ("due_at", "due_at is stored as sent, and null stays null"),
        (
            "completed_at",
            "completed_at is the time of the complete request, from the injected clock, and null until then",
        ),
        (
            "overdue",
            "overdue is computed when the task is read, from the clock at that moment: open, with due_at strictly before now (at the due time itself it is not overdue yet)",
        ),
    ];
    if let Some((field, rule)) = FIELDS
        .iter()
        .find(|(field, _)| want.get(field) != got.get(field))
    {
        let mut failure = Failure::new(*rule)
            .expected(format!(
                "{field}: {}",
                want.get(field).map_or("missing".into(), show)
            ))
            .got(format!(
                "{field}: {}",
                got.get(field).map_or("missing".into(), show)
            ))
            .detail(format!("the whole task expected: {}", show(want)))
            .detail(format!("the whole task received: {}", show(got)));
        if restarted && (*field == "id" || *field == "completed_at" || *field == "title") {
            failure = failure.detail(
                "this task was stored before the restart: what came back is not what was stored",
            );
        }
        return Err(failure);
    }
    Err(Failure::new("a task has exactly the members id, title, status, created_at, due_at, completed_at, overdue")
        .expected(show(want))
        .got(show(got)))
}

/// Malformed HTTP requests: no state changes, the right 400s and 404s.
fn malformed(front: &mut Front) -> Result<(), Failure> {
    let now = "1700000000000";
    let cases: Vec<(Request, u16, &str, &str)> = vec![
        (
            Request::get("/tasks"),
            400,
            "bad_request",
            "a request without X-Fake-Now cannot be told the time: 400",
        ),
        (
            Request::get("/tasks").header("X-Fake-Now", "yesterday"),
            400,
            "bad_request",
            "X-Fake-Now is unix milliseconds; anything else is 400",
        ),
        (
            body_request("POST", "/tasks", "application/json", b"{\"title\": 5}")
                .header("X-Fake-Now", now),
            400,
            "bad_request",
            "a create body that is not {\"title\": string, \"due_at\": number or null} is 400",
        ),
        (
            body_request("POST", "/tasks", "application/json", b"not json")
                .header("X-Fake-Now", now),
            400,
            "bad_request",
            "a create body that is not JSON is 400",
        ),
        (
            Request::get("/tasks?status=later").header("X-Fake-Now", now),
            400,
            "bad_request",
            "an unknown list status is 400",
        ),
        (
            Request::get("/tasks/abc").header("X-Fake-Now", now),
            400,
            "bad_request",
            "a task id is a number: anything else is 400",
        ),
        (
            Request::get("/projects").header("X-Fake-Now", now),
            404,
            "not_found",
            "a route that does not exist is 404 not_found",
        ),
    ];
    for (request, status, code, rule) in cases {
        let (got_status, got_code) = front.raw(&request)?;
        if got_status != status || got_code.as_deref() != Some(code) {
            return Err(Failure::new(rule)
                .expected(format!(
                    "{status} with {{\"error\": {{\"code\": \"{code}\", …}}}}"
                ))
                .got(format!(
                    "{got_status} with code {}",
                    got_code.unwrap_or_else(|| "none".into())
                ))
                .detail(format!(
                    "the request: {} {}",
                    request.method, request.target
                )));
        }
    }
    Ok(())
}
