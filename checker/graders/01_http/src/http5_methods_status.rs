//! Grader of `http5_methods_status`: one resource (`/notes`) with the semantics of every method and a status
//! strategy, driven over raw keep-alive connections and by reqwest.
//!
//! Short stories first, one rule each (201 + Location, HEAD, 404 vs 405 + Allow, PUT replaces and is
//! idempotent, PATCH merges, DELETE, POST is not idempotent, 415/400/422, If-Match → 412, 409, 503 +
//! Retry-After), then a seeded sequence of requests, then the same through reqwest. Every expected answer comes
//! from the [`model`], which also carries the state from one story to the next.

mod check;
mod model;

use backlings_grade::{Connection, Failure, Grading, Rng, Server};
use serde_json::{Value, json};

use model::{Fault, Field, Fields, IfMatch, Model, Op};

/// Requests in the seeded sequence.
const TRACE: usize = 160;
/// Requests sent through reqwest.
const WITH_REQWEST: usize = 40;

/// Grades one run: every scenario in order, stopping at the first broken rule.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let mut server = g.server()?;
    let mut run = Run {
        model: Model::default(),
        titles: Titles::new(g.rng()),
    };
    g.scenario("POST creates: 201 with Location and ETag; GET reads the note back");
    run.creates(&mut server, g.rng())?;
    g.scenario(
        "HEAD answers with GET's status and headers (Content-Length and ETag too), and no body",
    );
    run.head(&mut server)?;
    g.scenario("404 for paths that are no route, 405 with a correct Allow for methods a route lacks; OPTIONS");
    run.not_found_or_not_allowed(&mut server, g.rng())?;
    g.scenario(
        "PUT replaces the whole note or creates it (201); the same PUT again changes nothing",
    );
    run.put(&mut server, g.rng())?;
    g.scenario("PATCH is a merge patch: an absent field stays, null removes, a value replaces");
    run.patch(&mut server, g.rng())?;
    g.scenario(
        "DELETE is 204, the same DELETE again 404, other notes untouched; ids are never reused",
    );
    run.delete(&mut server)?;
    g.scenario("POST is not idempotent: the same POST twice does not get the same answer");
    run.post_twice(&mut server)?;
    g.scenario("bodies: 415 for another media type, 400 for broken JSON, 422 for broken rules");
    run.bodies(&mut server)?;
    g.scenario("If-Match: a write from a stale ETag is 412 and changes nothing (no lost update)");
    run.if_match(&mut server)?;
    g.scenario("409 for a title another note has; a note may keep its own title");
    run.conflicts(&mut server)?;
    g.scenario("maintenance: 503 with Retry-After for every other path, until it ends");
    run.maintenance(&mut server, g.rng())?;
    g.scenario("a seeded sequence of requests against a model of the store");
    run.trace(&mut server, g.rng())?;
    g.scenario("a real HTTP client (reqwest) gets the same answers");
    run.with_reqwest(&mut server, g.rng())?;
    server.ensure_alive()
}

/// Seeded titles, all different, with a few characters JSON must escape.
struct Titles {
    pool: Vec<String>,
    next: usize,
}

impl Titles {
    fn new(rng: &mut Rng) -> Titles {
        let mut pool = Vec::new();
        while pool.len() < 64 {
            let len = rng.range(3, 9) as usize;
            let mut title = rng.word(len);
            match rng.below(6) {
                0 => title.push_str(" café"),
                1 => title.insert_str(0, "\"quoted\" "),
                _ => {}
            }
            if !pool.contains(&title) {
                pool.push(title);
            }
        }
        Titles { pool, next: 0 }
    }

    /// A title never used before in this run.
    fn fresh(&mut self) -> String {
        let title = self.pool[self.next % self.pool.len()].clone();
        self.next += 1;
        if self.next > self.pool.len() {
            format!("{title} {}", self.next)
        } else {
            title
        }
    }
}

struct Run {
    model: Model,
    titles: Titles,
}

fn open(server: &mut Server) -> Result<Connection, Failure> {
    server.open()
}

impl Run {
    /// Sends the steps on one keep-alive connection, each checked against the model.
    fn story(&mut self, server: &mut Server, steps: Vec<(Op, String)>) -> Result<(), Failure> {
        let mut conn = open(server)?;
        for (op, rule) in steps {
            self.step(server, &mut conn, op, &rule)?;
        }
        Ok(())
    }

    fn step(
        &mut self,
        server: &mut Server,
        conn: &mut Connection,
        op: Op,
        rule: &str,
    ) -> Result<(), Failure> {
        let expected = self.model.apply(&op);
        check::raw(server, conn, &op, &expected, rule).map(|_| ())
    }

    fn current_etag(&self, id: u64) -> String {
        self.model.notes[&id].etag()
    }

    fn creates(&mut self, server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
        let (first, second) = (self.titles.fresh(), self.titles.fresh());
        let text = rng.word(12);
        self.story(
            server,
            vec![
                (
                    Op::Create {
                        fields: Fields::note(&first, Some(&text)),
                        fault: Fault::None,
                    },
                    "POST /notes creates a note: 201 Created, `Location: /notes/1`, its ETag and the note as JSON"
                        .to_string(),
                ),
                (
                    Op::Read { id: 1, head: false },
                    "GET /notes/1 returns the note just created, with the same ETag".to_string(),
                ),
                (
                    Op::Create {
                        fields: Fields::note(&second, None),
                        fault: Fault::None,
                    },
                    "a second POST creates /notes/2 (a note without body has no `body` key)".to_string(),
                ),
                (
                    Op::List { head: false },
                    "GET /notes lists every note, by id".to_string(),
                ),
                (
                    Op::Read { id: 3, head: false },
                    "GET /notes/3, a note that does not exist: 404".to_string(),
                ),
            ],
        )
    }

    fn head(&mut self, server: &mut Server) -> Result<(), Failure> {
        self.story(
            server,
            vec![
                (
                    Op::Read { id: 1, head: true },
                    "HEAD /notes/1 answers what GET would (200, ETag, Content-Type, the Content-Length of the \
                     note) without a body: HEAD must be routed like GET"
                        .to_string(),
                ),
                (
                    Op::Read { id: 1, head: false },
                    "a GET right after the HEAD, on the same connection, still reads cleanly".to_string(),
                ),
                (
                    Op::List { head: true },
                    "HEAD /notes answers what GET /notes would, without a body".to_string(),
                ),
                (
                    Op::Read { id: 99, head: true },
                    "HEAD of a note that does not exist: 404, like GET".to_string(),
                ),
            ],
        )
    }

    fn not_found_or_not_allowed(
        &mut self,
        server: &mut Server,
        rng: &mut Rng,
    ) -> Result<(), Failure> {
        let missing = self.model.highest_id + rng.range(5, 50);
        let mut steps = Vec::new();
        for (target, why) in [
            (
                "/notes/",
                "the trailing-slash policy is strict: /notes/ is not /notes",
            ),
            (
                "/notes/01",
                "/notes/01 is not /notes/1: ids have no leading zero",
            ),
            ("/notes/abc", "an id is a number"),
            ("/notes/0", "ids start at 1"),
            ("/note", "/note is not /notes"),
            (
                "/notes/1/extra",
                "a path is matched whole, not by its prefix",
            ),
        ] {
            steps.push((
                Op::Other {
                    method: "GET".to_string(),
                    target: target.to_string(),
                },
                format!("GET {target} is 404: {why}"),
            ));
        }
        for (method, target, why) in [
            (
                "DELETE",
                "/notes".to_string(),
                "DELETE /notes: the collection has no DELETE",
            ),
            (
                "POST",
                format!("/notes/{missing}"),
                "POST to a note id that does not exist is still 405, not 404: the route exists, the method does not",
            ),
            (
                "PATCH",
                "/notes".to_string(),
                "PATCH /notes: the collection has no PATCH",
            ),
            (
                "GET",
                "/maintenance".to_string(),
                "GET /maintenance: maintenance is only switched",
            ),
            (
                "BREW",
                "/notes/1".to_string(),
                "an unknown method is not allowed either",
            ),
        ] {
            steps.push((
                Op::Other {
                    method: method.to_string(),
                    target: target.clone(),
                },
                format!("{method} {target} is 405 with Allow: {why}"),
            ));
        }
        for target in [
            "/notes".to_string(),
            "/notes/1".to_string(),
            format!("/notes/{missing}"),
        ] {
            steps.push((
                Op::Options {
                    target: target.clone(),
                },
                format!("OPTIONS {target} is 204 with `Allow` listing the route's methods"),
            ));
        }
        let (head, tail) = steps.split_at_mut(6);
        rng.shuffle(head);
        rng.shuffle(tail);
        self.story(server, steps)
    }

    fn put(&mut self, server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
        let title = self.model.notes[&1].title.clone();
        let target = self.model.highest_id + rng.range(3, 9);
        let (fresh, next) = (self.titles.fresh(), self.titles.fresh());
        let text = rng.word(10);
        let same = Op::Put {
            id: 1,
            fields: Fields::note(&title, None),
            fault: Fault::None,
            if_match: None,
        };
        self.story(
            server,
            vec![
                (
                    same.clone(),
                    "PUT replaces the whole note: /notes/1 had a body, this PUT sends only a title, so the body is \
                     gone (200, the new note and its ETag)"
                        .to_string(),
                ),
                (
                    same,
                    "the same PUT again: 200, the same note and the same ETag (PUT is idempotent)".to_string(),
                ),
                (
                    Op::Put {
                        id: target,
                        fields: Fields::note(&fresh, Some(&text)),
                        fault: Fault::None,
                        if_match: None,
                    },
                    format!("PUT /notes/{target}, a note that does not exist, creates it there: 201 with Location"),
                ),
                (
                    Op::Create {
                        fields: Fields::note(&next, None),
                        fault: Fault::None,
                    },
                    format!(
                        "the next POST gets one more than the highest id ever used, PUT's included: /notes/{}",
                        target + 1
                    ),
                ),
                (Op::List { head: false }, "GET /notes lists every note, by id".to_string()),
            ],
        )
    }

    fn patch(&mut self, server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
        let id = self.model.highest_id;
        let (text, title) = (rng.word(9), self.titles.fresh());
        let missing = self.model.highest_id + 40;
        let patch = |fields: Fields| Op::Patch {
            id,
            fields,
            fault: Fault::None,
            if_match: None,
        };
        self.story(
            server,
            vec![
                (
                    patch(Fields::patch(Field::Absent, Field::Set(Value::from(text.as_str())))),
                    "PATCH {\"body\":…} sets the body and keeps the title (an absent field stays)".to_string(),
                ),
                (
                    patch(Fields::patch(Field::Set(Value::from(title.as_str())), Field::Absent)),
                    "PATCH {\"title\":…} changes the title and keeps the body (an absent field stays)".to_string(),
                ),
                (
                    patch(Fields::patch(Field::Absent, Field::Null)),
                    "PATCH {\"body\":null} removes the body: in a merge patch null removes".to_string(),
                ),
                (
                    patch(Fields::patch(Field::Absent, Field::Absent)),
                    "PATCH {} changes nothing: 200 with the note as it is".to_string(),
                ),
                (
                    patch(Fields::patch(Field::Null, Field::Absent)),
                    "PATCH {\"title\":null} would remove a required field: 422".to_string(),
                ),
                (
                    Op::Patch {
                        id: missing,
                        fields: Fields::patch(Field::Absent, Field::Null),
                        fault: Fault::None,
                        if_match: None,
                    },
                    "PATCH of a note that does not exist: 404 (PATCH does not create)".to_string(),
                ),
            ],
        )
    }

    fn delete(&mut self, server: &mut Server) -> Result<(), Failure> {
        let id = self.model.highest_id;
        let title = self.titles.fresh();
        self.story(
            server,
            vec![
                (
                    Op::Delete { id, if_match: None },
                    format!("DELETE /notes/{id} removes the note: 204 No Content, no body"),
                ),
                (
                    Op::Delete { id, if_match: None },
                    "the same DELETE again: the note is already gone, so 404, and nothing else changes (DELETE \
                     is idempotent in its effect, not in its answer)"
                        .to_string(),
                ),
                (Op::Read { id, head: false }, format!("GET /notes/{id} after the DELETE: 404")),
                (Op::List { head: false }, "the other notes are untouched".to_string()),
                (
                    Op::Create {
                        fields: Fields::note(&title, None),
                        fault: Fault::None,
                    },
                    format!(
                        "a POST after deleting /notes/{id} gets /notes/{}: ids are never reused (a reused id would \
                         point old links and caches at a different note)",
                        id + 1
                    ),
                ),
            ],
        )
    }

    fn post_twice(&mut self, server: &mut Server) -> Result<(), Failure> {
        let title = self.titles.fresh();
        let post = Op::Create {
            fields: Fields::note(&title, Some("same body")),
            fault: Fault::None,
        };
        self.story(
            server,
            vec![
                (post.clone(), "a POST creates a note: 201".to_string()),
                (
                    post,
                    "the same POST again would create a second note, so it is no retry-safe replay: here the title \
                     is now taken, 409 Conflict (unlike PUT, replaying POST does not give the same answer)"
                        .to_string(),
                ),
            ],
        )
    }

    fn bodies(&mut self, server: &mut Server) -> Result<(), Failure> {
        let title = self.titles.fresh();
        let id = self.model.highest_id;
        let bad = |fields: Fields, fault: Fault| Op::Create { fields, fault };
        let mut steps = vec![
            (
                bad(Fields::note(&title, None), Fault::Media("text/plain".to_string())),
                "POST with `Content-Type: text/plain`: 415 Unsupported Media Type".to_string(),
            ),
            (
                bad(Fields::note(&title, None), Fault::Media(String::new())),
                "POST with a JSON body and an empty Content-Type: 415".to_string(),
            ),
            (
                Op::Patch {
                    id,
                    fields: Fields::patch(Field::Absent, Field::Null),
                    fault: Fault::Media("application/json".to_string()),
                    if_match: None,
                },
                "PATCH with `Content-Type: application/json` instead of a merge patch: 415 with `Accept-Patch`"
                    .to_string(),
            ),
            (
                bad(Fields::note(&title, None), Fault::Raw(b"{\"title\": oops".to_vec())),
                "a body that is not JSON: 400 Bad Request".to_string(),
            ),
            (
                bad(Fields::note(&title, None), Fault::Raw(b"[\"a list\"]".to_vec())),
                "a JSON body that is not an object: 400".to_string(),
            ),
            (
                bad(Fields::note("", None), Fault::None),
                "an empty title: readable JSON that breaks the rules is 422, not 400".to_string(),
            ),
            (
                bad(Fields::patch(Field::Absent, Field::Set(Value::from("x"))), Fault::None),
                "no title at all: 422".to_string(),
            ),
            (
                bad(Fields::note(&title, None), Fault::None).with_extra("id", json!(77)),
                "the client sends an `id`: ids are the server's to assign, any unknown field is 422 (no mass \
                 assignment)"
                    .to_string(),
            ),
            (
                bad(Fields::patch(Field::Set(json!(5)), Field::Absent), Fault::None),
                "a title that is a number: 422".to_string(),
            ),
        ];
        steps.push((
            bad(
                Fields::note(&title, None),
                Fault::Media("Application/JSON; charset=utf-8".to_string()),
            ),
            "`Content-Type: Application/JSON; charset=utf-8` is JSON: media types ignore case and parameters, so \
             the POST succeeds (201)"
                .to_string(),
        ));
        steps.push((
            Op::List { head: false },
            "refused requests changed nothing".to_string(),
        ));
        self.story(server, steps)
    }

    fn if_match(&mut self, server: &mut Server) -> Result<(), Failure> {
        let id = *self.model.notes.keys().next().expect("a note exists");
        let seen = self.current_etag(id);
        let title = self.model.notes[&id].title.clone();
        let mut conn = open(server)?;
        self.step(
            server,
            &mut conn,
            Op::Patch {
                id,
                fields: Fields::patch(Field::Absent, Field::Set(Value::from("saved by A"))),
                fault: Fault::None,
                if_match: Some(IfMatch::Tags(vec![seen.clone()])),
            },
            "editor A read the note and saves with `If-Match: <the ETag it read>`: the ETag is current, so 200",
        )?;
        self.step(
            server,
            &mut conn,
            Op::Put {
                id,
                fields: Fields::note(&title, Some("saved by B")),
                fault: Fault::None,
                if_match: Some(IfMatch::Tags(vec![seen.clone()])),
            },
            "editor B read the note before A saved and sends `If-Match: <that older ETag>`: 412 Precondition \
             Failed, and A's save survives (this is how the lost update is prevented)",
        )?;
        self.step(
            server,
            &mut conn,
            Op::Read { id, head: false },
            "after the 412 the note is still A's version",
        )?;
        self.step(
            server,
            &mut conn,
            Op::Delete {
                id,
                if_match: Some(IfMatch::Tags(vec![seen.clone()])),
            },
            "DELETE with a stale If-Match: 412, nothing deleted",
        )?;
        let free = self.model.highest_id + 20;
        let other = self.titles.fresh();
        self.step(
            server,
            &mut conn,
            Op::Put {
                id: free,
                fields: Fields::note(&other, None),
                fault: Fault::None,
                if_match: Some(IfMatch::Star),
            },
            "PUT with `If-Match: *` to a note that does not exist: * means \"only if it exists\", so 412 and \
             nothing is created",
        )?;
        self.step(
            server,
            &mut conn,
            Op::Patch {
                id,
                fields: Fields::patch(Field::Absent, Field::Null),
                fault: Fault::None,
                if_match: Some(IfMatch::Star),
            },
            "PATCH with `If-Match: *` on a note that exists: 200",
        )?;
        let now = self.current_etag(id);
        self.step(
            server,
            &mut conn,
            Op::Delete {
                id,
                if_match: Some(IfMatch::Tags(vec![seen, now])),
            },
            "If-Match holds a list: DELETE with `If-Match: <old>, <current>` matches the current ETag: 204",
        )
    }

    fn conflicts(&mut self, server: &mut Server) -> Result<(), Failure> {
        let (a, b) = (self.titles.fresh(), self.titles.fresh());
        let first = self.model.highest_id + 1;
        let second = first + 1;
        self.story(
            server,
            vec![
                (
                    Op::Create {
                        fields: Fields::note(&a, None),
                        fault: Fault::None,
                    },
                    "a POST creates a note".to_string(),
                ),
                (
                    Op::Create {
                        fields: Fields::note(&b, None),
                        fault: Fault::None,
                    },
                    "a POST creates another note".to_string(),
                ),
                (
                    Op::Create {
                        fields: Fields::note(&a, Some("copy")),
                        fault: Fault::None,
                    },
                    "a POST with the title of an existing note: 409 Conflict".to_string(),
                ),
                (
                    Op::Put {
                        id: second,
                        fields: Fields::note(&a, None),
                        fault: Fault::None,
                        if_match: None,
                    },
                    format!("PUT /notes/{second} with the title of /notes/{first}: 409"),
                ),
                (
                    Op::Patch {
                        id: second,
                        fields: Fields::patch(Field::Set(Value::from(a.as_str())), Field::Absent),
                        fault: Fault::None,
                        if_match: None,
                    },
                    format!("PATCH /notes/{second} to the title of /notes/{first}: 409"),
                ),
                (
                    Op::Put {
                        id: first,
                        fields: Fields::note(&a, Some("edited")),
                        fault: Fault::None,
                        if_match: None,
                    },
                    format!("PUT /notes/{first} keeping its own title is no conflict: 200"),
                ),
            ],
        )
    }

    fn maintenance(&mut self, server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
        let seconds = rng.range(5, 600);
        let title = self.titles.fresh();
        self.story(
            server,
            vec![
                (
                    Op::MaintenanceOn { body: json!({"retry_after": 0}) },
                    "PUT /maintenance with retry_after 0: 422 (at least 1 second)".to_string(),
                ),
                (
                    Op::MaintenanceOn {
                        body: json!({ "retry_after": seconds }),
                    },
                    format!("PUT /maintenance {{\"retry_after\":{seconds}}} starts maintenance: 204"),
                ),
                (
                    Op::List { head: false },
                    format!("in maintenance GET /notes is 503 Service Unavailable with `Retry-After: {seconds}`"),
                ),
                (
                    Op::Create {
                        fields: Fields::note(&title, None),
                        fault: Fault::None,
                    },
                    "in maintenance a POST is 503 and creates nothing".to_string(),
                ),
                (
                    Op::Other {
                        method: "GET".to_string(),
                        target: "/nowhere".to_string(),
                    },
                    "in maintenance even an unknown path is 503: maintenance is checked first".to_string(),
                ),
                (
                    Op::Options {
                        target: "/notes".to_string(),
                    },
                    "in maintenance OPTIONS /notes is 503 too".to_string(),
                ),
                (
                    Op::Options {
                        target: "/maintenance".to_string(),
                    },
                    "/maintenance itself still answers: OPTIONS is 204 with its Allow".to_string(),
                ),
                (Op::MaintenanceOff, "DELETE /maintenance ends maintenance: 204".to_string()),
                (
                    Op::List { head: false },
                    "after maintenance GET /notes works again, nothing was created meanwhile".to_string(),
                ),
                (
                    Op::MaintenanceOff,
                    "DELETE /maintenance when not in maintenance: 204 all the same".to_string(),
                ),
            ],
        )
    }

    /// A seeded operation over a small id space, with a few titles reused so conflicts happen.
    fn random_op(&mut self, rng: &mut Rng) -> Op {
        let id = rng.range(1, self.model.highest_id + 3);
        let title = |run: &mut Run, rng: &mut Rng| {
            let taken: Vec<String> = run.model.notes.values().map(|n| n.title.clone()).collect();
            if !taken.is_empty() && rng.chance(1, 5) {
                rng.pick(&taken).clone()
            } else {
                run.titles.fresh()
            }
        };
        let if_match = |run: &Run, rng: &mut Rng, id: u64| match rng.below(8) {
            0 => Some(IfMatch::Star),
            1 | 2 => run
                .model
                .notes
                .get(&id)
                .map(|note| IfMatch::Tags(vec![note.etag()])),
            3 => run.model.stale_etag(id).map(|tag| IfMatch::Tags(vec![tag])),
            _ => None,
        };
        let fault = |rng: &mut Rng| match rng.below(14) {
            0 => Fault::Media("text/plain".to_string()),
            1 => Fault::Raw(b"{broken".to_vec()),
            2 => Fault::Media("application/json; charset=UTF-8".to_string()),
            _ => Fault::None,
        };
        let body = |rng: &mut Rng| {
            if rng.chance(1, 2) {
                let len = rng.range(3, 12) as usize;
                Some(rng.word(len))
            } else {
                None
            }
        };
        match rng.below(20) {
            0 => Op::List {
                head: rng.chance(1, 3),
            },
            1..=3 => Op::Read {
                id,
                head: rng.chance(1, 4),
            },
            4..=6 => {
                let title = title(self, rng);
                let body = body(rng);
                let mut fields = Fields::note(&title, body.as_deref());
                if rng.chance(1, 12) {
                    fields.title = Field::Absent;
                }
                Op::Create {
                    fields,
                    fault: fault(rng),
                }
            }
            7..=9 => {
                let title = title(self, rng);
                let body = body(rng);
                Op::Put {
                    id,
                    fields: Fields::note(&title, body.as_deref()),
                    fault: fault(rng),
                    if_match: if_match(self, rng, id),
                }
            }
            10..=13 => {
                let title = match rng.below(4) {
                    0 => Field::Set(Value::from(title(self, rng))),
                    1 if rng.chance(1, 4) => Field::Null,
                    _ => Field::Absent,
                };
                let body = match rng.below(3) {
                    0 => Field::Set(Value::from(rng.word(5))),
                    1 => Field::Null,
                    _ => Field::Absent,
                };
                let fault = match fault(rng) {
                    Fault::Media(media) if media.starts_with("application/json;") => {
                        Fault::Media("Application/Merge-Patch+JSON".to_string())
                    }
                    other => other,
                };
                Op::Patch {
                    id,
                    fields: Fields::patch(title, body),
                    fault,
                    if_match: if_match(self, rng, id),
                }
            }
            14 | 15 => Op::Delete {
                id,
                if_match: if_match(self, rng, id),
            },
            16 => Op::Options {
                target: if rng.chance(1, 2) {
                    "/notes".to_string()
                } else {
                    format!("/notes/{id}")
                },
            },
            17 => {
                let (method, target) = *rng.pick(&[
                    ("DELETE", "/notes"),
                    ("PUT", "/notes"),
                    ("POST", "/notes/1"),
                    ("GET", "/maintenance"),
                    ("GET", "/notes/"),
                    ("GET", "/notes/007"),
                    ("TRACE", "/notes"),
                ]);
                Op::Other {
                    method: method.to_string(),
                    target: target.to_string(),
                }
            }
            18 if self.model.retry_after.is_none() && rng.chance(1, 3) => Op::MaintenanceOn {
                body: json!({ "retry_after": rng.range(1, 99) }),
            },
            _ if self.model.retry_after.is_some() => Op::MaintenanceOff,
            _ => Op::Read { id, head: false },
        }
    }

    fn trace(&mut self, server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
        let mut conn = open(server)?;
        for index in 0..TRACE {
            let op = self.random_op(rng);
            let expected = self.model.apply(&op);
            let rule = format!(
                "a seeded sequence against a model of the store, request {} of {TRACE}: {} must get {}",
                index + 1,
                op.describe(),
                expected.status
            );
            check::raw(server, &mut conn, &op, &expected, &rule)?;
            if rng.chance(1, 30) {
                conn = open(server)?;
            }
        }
        if self.model.retry_after.is_some() {
            let op = Op::MaintenanceOff;
            let expected = self.model.apply(&op);
            check::raw(
                server,
                &mut conn,
                &op,
                &expected,
                "DELETE /maintenance ends maintenance: 204",
            )?;
        }
        Ok(())
    }

    fn with_reqwest(&mut self, server: &mut Server, rng: &mut Rng) -> Result<(), Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Failure::new(format!("the grader could not start its HTTP client: {e}"))
            })?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| {
                Failure::new(format!("the grader could not build its HTTP client: {e}"))
            })?;
        for index in 0..WITH_REQWEST {
            let op = match self.random_op(rng) {
                // reqwest sends what a well-behaved client sends: no broken bodies, no maintenance switching.
                Op::Create { fields, .. } => Op::Create {
                    fields,
                    fault: Fault::None,
                },
                Op::MaintenanceOn { .. } | Op::MaintenanceOff | Op::Other { .. } => {
                    Op::List { head: false }
                }
                op => op,
            };
            let expected = self.model.apply(&op);
            let rule = format!(
                "reqwest, request {} of {WITH_REQWEST}: {} must get {}",
                index + 1,
                op.describe(),
                expected.status
            );
            let seen = runtime.block_on(check::with_reqwest(&client, server, &op));
            let response = match seen {
                Ok(response) => {
                    server.record(
                        &format!("reqwest {}", op.describe()),
                        &crate::support::summarize(&response),
                    );
                    response
                }
                Err(e) => {
                    server.record(&format!("reqwest {}", op.describe()), &format!("<{e}>"));
                    server.ensure_alive()?;
                    return Err(Failure::new(rule)
                        .expected(expected.describe())
                        .got(format!("the client failed: {e}")));
                }
            };
            check::verify(&response, &op, &expected, &rule)?;
        }
        Ok(())
    }
}

impl Op {
    /// This create with one more field in its body.
    fn with_extra(self, name: &str, value: Value) -> Op {
        match self {
            Op::Create { mut fields, fault } => {
                fields.extra = Some((name.to_string(), value));
                Op::Create { fields, fault }
            }
            other => other,
        }
    }
}
