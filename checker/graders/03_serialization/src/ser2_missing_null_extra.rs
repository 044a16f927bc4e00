//! Grader of `ser2_missing_null_extra`: a user resource over HTTP whose create is strict, whose PATCH tells
//! absent, `null` and a value apart, and whose partner import is lenient.
//!
//! Every request is also applied to the grader's model ([`model`]); every `200`/`201` body is compared with
//! it, and every refused request is followed by a `GET` that proves nothing changed. The PATCH matrix runs
//! each field through absent / null / value first, one rule at a time, then seeded patches mix them.

mod model;

use backlings_grade::http::{Request, Response};
use backlings_grade::{Connection, Failure, Grading, Rng, Server};
use serde_json::{Value, json};

use model::{FIELDS, Field, User, body, object_text};

/// Seeded patches in the last PATCH scenario.
const SEEDED_PATCHES: usize = 150;

/// Grades `ser2_missing_null_extra`.
pub fn grade(g: &mut Grading) -> Result<(), Failure> {
    let server = g.server()?;
    let mut s = Session::open(server)?;

    g.scenario(
        "create: absent fields take their defaults, nullable ones are null, every key is written",
    );
    create_defaults(g.rng(), &mut s)?;

    g.scenario("create is strict: an unknown field is a 400 that names it");
    create_unknown(g.rng(), &mut s)?;

    g.scenario("create: null is not absent: null on a field that cannot be null is a 400, as is a wrong type");
    create_nulls(g.rng(), &mut s)?;

    g.scenario("PATCH: an absent field is kept, null clears a nullable field, a value sets it");
    patch_matrix(g.rng(), &mut s)?;

    g.scenario(
        "PATCH: null on a field that cannot be null is a 400, and the patch changes nothing",
    );
    patch_refused_nulls(g.rng(), &mut s)?;

    g.scenario("PATCH is strict: an unknown field (id included) or a wrong type is a 400 that changes nothing");
    patch_unknown_and_types(g.rng(), &mut s)?;

    g.scenario("150 seeded PATCHes against a model");
    seeded_patches(g.rng(), &mut s)?;

    g.scenario(
        "the partner import is lenient: unknown fields are ignored and listed, types still checked",
    );
    import(g.rng(), &mut s)
}

/// The program, one keep-alive connection to it, and the model of what it stores.
struct Session {
    server: Server,
    conn: Connection,
    next_id: u64,
}

impl Session {
    fn open(mut server: Server) -> Result<Self, Failure> {
        let conn = server.open()?;
        Ok(Session {
            server,
            conn,
            next_id: 1,
        })
    }

    fn send(&mut self, method: &str, path: &str, body: &str) -> Result<Response, Failure> {
        let mut request = Request::new(method, path);
        if !body.is_empty() {
            let kind = if method == "PATCH" {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            request = request.header("Content-Type", kind).body(body.as_bytes());
        }
        match self.conn.request(&request) {
            Ok(response) => Ok(response),
            Err(failure) => {
                self.server.ensure_alive()?;
                Err(failure.detail("the server must keep the connection open between requests"))
            }
        }
    }

    /// `POST /users` with `pairs`, expecting the user the model makes.
    fn create(&mut self, pairs: &[(Field, Value)], rule: &str) -> Result<User, Failure> {
        let text = body(pairs);
        let response = self.send("POST", "/users", &text)?;
        let user = User::created(self.next_id, pairs);
        let sent = format!("sent: POST /users {text}");
        expect_user(&response, 201, &user.json(), rule, &sent)?;
        let location = format!("/users/{}", user.id);
        if response.header("Location") != Some(location.as_str()) {
            return Err(Failure::new("a 201 Created says where the new resource is")
                .expected(format!("Location: {location}"))
                .got(format!("{:?}", response.header("Location")))
                .detail(sent));
        }
        self.next_id += 1;
        Ok(user)
    }

    /// A `GET` that must show `user` exactly.
    fn expect_stored(&mut self, user: &User, rule: &str) -> Result<(), Failure> {
        let path = format!("/users/{}", user.id);
        let response = self.send("GET", &path, "")?;
        expect_user(
            &response,
            200,
            &user.json(),
            rule,
            &format!("sent: GET {path}"),
        )
    }

    /// `PATCH /users/{id}` with `text`; the model says what comes back.
    fn patch(&mut self, user: &mut User, text: &str, outcome: Outcome<'_>) -> Result<(), Failure> {
        let path = format!("/users/{}", user.id);
        let before = user.json();
        let response = self.send("PATCH", &path, text)?;
        let sent = format!("sent: PATCH {path} {text}");
        let state = format!("the user before the PATCH: {before}");
        match outcome {
            Outcome::Applied(patch, rule) => {
                user.apply(patch)
                    .expect("the caller checked the patch applies");
                expect_user(&response, 200, &user.json(), rule, &sent)
                    .map_err(|f| f.detail(state))?;
                self.expect_stored(user, "the PATCH is stored: a GET returns the patched user")
            }
            Outcome::Refused(mentions, rule) => {
                expect_refused(&response, mentions, rule, &sent)
                    .map_err(|f| f.detail(state.clone()))?;
                let path = format!("/users/{}", user.id);
                let response = self.send("GET", &path, "")?;
                let context = format!(
                    "sent: GET {path}, right after the refused {} (answered 400, as it should)",
                    sent.trim_start_matches("sent: ")
                );
                expect_user(
                    &response,
                    200,
                    &user.json(),
                    "a refused PATCH changes nothing, not even its valid fields: check every field before changing any",
                    &context,
                )
            }
        }
    }
}

/// What a PATCH must do.
enum Outcome<'a> {
    /// `200` with the patched user; the rule it shows.
    Applied(&'a [(Field, Value)], &'a str),
    /// `400` whose error names one of these keys (none: any message), and nothing changes.
    Refused(&'a [&'a str], &'a str),
}

/// Checks a `200`/`201` whose body is `expected`.
fn expect_user(
    response: &Response,
    status: u16,
    expected: &Value,
    rule: &str,
    sent: &str,
) -> Result<(), Failure> {
    let got: Option<Value> = serde_json::from_slice(&response.body).ok();
    if response.status == status && got.as_ref() == Some(expected) {
        return Ok(());
    }
    let mut failure = Failure::new(rule)
        .expected(format!("{status} with {expected}"))
        .got(format!("{} with {}", response.status, response.text()))
        .detail(sent.to_string());
    if let (Some(Value::Object(got)), Value::Object(want)) = (&got, expected) {
        for (key, value) in want {
            match got.get(key) {
                None => failure = failure.detail(format!("`{key}` is missing: every key is always written (null for an empty nullable field)")),
                Some(other) if other != value => {
                    failure = failure.detail(format!("`{key}` is {other}, the contract says {value}"));
                }
                Some(_) => {}
            }
        }
    }
    Err(failure)
}

/// Checks a `400` with `{"error":"…"}` naming one of `mentions`.
fn expect_refused(
    response: &Response,
    mentions: &[&str],
    rule: &str,
    sent: &str,
) -> Result<(), Failure> {
    let got: Option<Value> = serde_json::from_slice(&response.body).ok();
    let error = got
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str);
    let named =
        mentions.is_empty() || error.is_some_and(|e| mentions.iter().any(|m| e.contains(m)));
    if response.status == 400 && error.is_some() && named {
        return Ok(());
    }
    let expected = match mentions {
        [] => "400 with {\"error\":\"…\"}".to_string(),
        [one] => format!("400 with {{\"error\":\"…\"}} naming `{one}`"),
        many => format!(
            "400 with {{\"error\":\"…\"}} naming one of {}",
            many.join(", ")
        ),
    };
    Err(Failure::new(rule)
        .expected(expected)
        .got(format!("{} with {}", response.status, response.text()))
        .detail(sent.to_string()))
}

fn full_user(rng: &mut Rng) -> Vec<(Field, Value)> {
    FIELDS
        .iter()
        .map(|&field| {
            let mut value = field.value(rng);
            if field == Field::Tags && value == json!([]) {
                value = json!(["first"]);
            }
            (field, value)
        })
        .collect()
}

fn create_defaults(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let minimal = vec![
        (Field::Name, Field::Name.value(rng)),
        (Field::Email, Field::Email.value(rng)),
    ];
    let user = s.create(&minimal, "a create with only name and email gets role \"member\", newsletter false, tags [] and null nickname and phone")?;
    s.expect_stored(&user, "a created user is stored: a GET returns it")?;
    let mut full = full_user(rng);
    rng.shuffle(&mut full);
    let user = s.create(&full, "a create with every field stores every value")?;
    s.expect_stored(&user, "a created user is stored: a GET returns it")?;
    let nulls = vec![
        (Field::Email, Field::Email.value(rng)),
        (Field::Nickname, Value::Null),
        (Field::Name, Field::Name.value(rng)),
        (Field::Phone, Value::Null),
        (Field::Newsletter, json!(true)),
    ];
    s.create(
        &nulls,
        "null on a nullable field (nickname, phone) is accepted on create and stored as null",
    )?;
    Ok(())
}

fn create_unknown(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let typos = [
        ("nickame", json!("ada")),
        ("Name", json!("Ada")),
        ("e_mail", json!("a@b")),
        ("id", json!(7)),
        ("newsleter", json!(true)),
    ];
    for (key, value) in typos {
        let mut pairs: Vec<(&str, Value)> = vec![
            ("name", Field::Name.value(rng)),
            ("email", Field::Email.value(rng)),
            (key, value),
        ];
        rng.shuffle(&mut pairs);
        let text = object_text(&pairs);
        let response = s.send("POST", "/users", &text)?;
        expect_refused(
            &response,
            &[key],
            "an unknown field is a 400 that names it on this strict endpoint: a typo must not be silently dropped (deny_unknown_fields)",
            &format!("sent: POST /users {text}"),
        )?;
    }
    Ok(())
}

fn create_nulls(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    for field in [Field::Role, Field::Newsletter, Field::Tags, Field::Name] {
        let mut pairs = vec![
            (Field::Name, Field::Name.value(rng)),
            (Field::Email, Field::Email.value(rng)),
        ];
        pairs.retain(|(f, _)| *f != field);
        pairs.push((field, Value::Null));
        rng.shuffle(&mut pairs);
        let text = body(&pairs);
        let response = s.send("POST", "/users", &text)?;
        let rule = format!(
            "`{}` cannot be null: null is not absent, so it does not mean \"use the default\"; the create is a 400",
            field.key()
        );
        expect_refused(&response, &[], &rule, &format!("sent: POST /users {text}"))?;
    }
    let text = body(&[(Field::Name, Field::Name.value(rng))]);
    let response = s.send("POST", "/users", &text)?;
    expect_refused(
        &response,
        &["email"],
        "email is required: a create without it is a 400 that names it",
        &format!("sent: POST /users {text}"),
    )?;
    for field in [Field::Newsletter, Field::Tags, Field::Phone] {
        let pairs = vec![
            (Field::Name, Field::Name.value(rng)),
            (Field::Email, Field::Email.value(rng)),
            (field, field.wrong_value(rng)),
        ];
        let text = body(&pairs);
        let response = s.send("POST", "/users", &text)?;
        let rule = format!(
            "`{}` has a type; a value of another JSON type is a 400",
            field.key()
        );
        expect_refused(&response, &[], &rule, &format!("sent: POST /users {text}"))?;
    }
    Ok(())
}

fn patch_matrix(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let mut user = s.create(
        &full_user(rng),
        "a create with every field stores every value",
    )?;
    for field in [Field::Nickname, Field::Phone] {
        let other = if field == Field::Nickname {
            Field::Role
        } else {
            Field::Name
        };
        let keep = vec![(other, other.value(rng))];
        let rule = format!(
            "a field absent from the PATCH is kept: `{}` was not in it and must not change",
            field.key()
        );
        s.patch(&mut user, &body(&keep), Outcome::Applied(&keep, &rule))?;
        let clear = vec![(field, Value::Null)];
        let rule = format!(
            "null clears a nullable field: {{\"{}\":null}} sets it to null",
            field.key()
        );
        s.patch(&mut user, &body(&clear), Outcome::Applied(&clear, &rule))?;
        let keep_null = vec![(other, other.value(rng))];
        let rule = format!(
            "a field absent from the PATCH is kept, null included: `{}` must stay null",
            field.key()
        );
        s.patch(
            &mut user,
            &body(&keep_null),
            Outcome::Applied(&keep_null, &rule),
        )?;
        let set = vec![(field, field.value(rng))];
        let rule = format!(
            "a value sets the field: `{}` takes the value sent",
            field.key()
        );
        s.patch(&mut user, &body(&set), Outcome::Applied(&set, &rule))?;
    }
    for field in FIELDS.iter().filter(|f| !f.is_nullable()) {
        let set = vec![(*field, field.value(rng))];
        let rule = format!(
            "a value sets the field: `{}` takes the value sent, nothing else changes",
            field.key()
        );
        s.patch(&mut user, &body(&set), Outcome::Applied(&set, &rule))?;
    }
    let empty: Vec<(Field, Value)> = Vec::new();
    s.patch(
        &mut user,
        "{}",
        Outcome::Applied(
            &empty,
            "an empty PATCH {} changes nothing and answers 200 with the user",
        ),
    )?;
    let mut both = vec![
        (Field::Nickname, Value::Null),
        (Field::Phone, Field::Phone.value(rng)),
        (Field::Tags, json!([])),
    ];
    rng.shuffle(&mut both);
    s.patch(
        &mut user,
        &body(&both),
        Outcome::Applied(
            &both,
            "null, values and absent fields in one PATCH: each field by its own rule",
        ),
    )
}

fn patch_refused_nulls(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let mut user = s.create(
        &full_user(rng),
        "a create with every field stores every value",
    )?;
    // The valid fields come before the null one in the contract's order, so applying field by field and
    // stopping at the error leaves them changed.
    let deterministic = vec![
        (Field::Name, Field::Name.value(rng)),
        (Field::Nickname, Value::Null),
        (Field::Tags, Value::Null),
    ];
    let rule = "`tags` cannot be null (an empty list is []): the PATCH is a 400 naming the field, and none of it is applied";
    s.patch(
        &mut user,
        &body(&deterministic),
        Outcome::Refused(&["tags"], rule),
    )?;
    for field in FIELDS.iter().filter(|f| !f.is_nullable()) {
        let mut patch: Vec<(Field, Value)> = Vec::new();
        for other in FIELDS.iter().filter(|f| *f != field) {
            if rng.chance(1, 2) {
                let value = if other.is_nullable() && rng.chance(1, 2) {
                    Value::Null
                } else {
                    other.value(rng)
                };
                patch.push((*other, value));
            }
        }
        patch.push((*field, Value::Null));
        rng.shuffle(&mut patch);
        let rule = format!(
            "`{}` cannot be null: the PATCH is a 400 naming the field, and none of it is applied (check every field before changing any)",
            field.key()
        );
        s.patch(
            &mut user,
            &body(&patch),
            Outcome::Refused(&[field.key()], &rule),
        )?;
    }
    Ok(())
}

fn patch_unknown_and_types(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let mut user = s.create(
        &full_user(rng),
        "a create with every field stores every value",
    )?;
    let unknown: [(&str, Value); 4] = [
        ("nickame", Value::Null),
        ("id", json!(user.id + 100)),
        ("Role", json!("admin")),
        ("email_verified", json!(true)),
    ];
    for (key, value) in unknown {
        let mut pairs: Vec<(&str, Value)> = vec![(key, value), ("name", Field::Name.value(rng))];
        rng.shuffle(&mut pairs);
        let rule = format!(
            "`{key}` is not a writable field: the PATCH is a 400 that names it (a typo must not answer 200 and change nothing), and none of it is applied"
        );
        s.patch(
            &mut user,
            &object_text(&pairs),
            Outcome::Refused(&[key], &rule),
        )?;
    }
    for field in [Field::Newsletter, Field::Tags, Field::Phone, Field::Name] {
        let patch = vec![
            (Field::Email, Field::Email.value(rng)),
            (field, field.wrong_value(rng)),
        ];
        let rule = format!(
            "`{}` has a type: a value of another JSON type is a 400, and none of the PATCH is applied",
            field.key()
        );
        s.patch(&mut user, &body(&patch), Outcome::Refused(&[], &rule))?;
    }
    for text in ["null", "\"name\"", "42"] {
        s.patch(
            &mut user,
            text,
            Outcome::Refused(
                &[],
                "a merge patch is a JSON object: anything else is a 400",
            ),
        )?;
    }
    Ok(())
}

fn seeded_patches(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let mut users = Vec::new();
    for _ in 0..3 {
        users.push(s.create(
            &full_user(rng),
            "a create with every field stores every value",
        )?);
    }
    for _ in 0..SEEDED_PATCHES {
        let user = &mut users[rng.below(3) as usize];
        let mut patch: Vec<(Field, Value)> = Vec::new();
        for field in FIELDS {
            match rng.below(100) {
                0..55 => {}
                55..85 => patch.push((field, field.value(rng))),
                _ if field.is_nullable() || rng.chance(1, 3) => patch.push((field, Value::Null)),
                _ => {}
            }
        }
        rng.shuffle(&mut patch);
        let offenders: Vec<&str> = patch
            .iter()
            .filter(|(f, v)| v.is_null() && !f.is_nullable())
            .map(|(f, _)| f.key())
            .collect();
        if rng.chance(1, 12) {
            let mut pairs: Vec<(&str, Value)> =
                patch.iter().map(|(f, v)| (f.key(), v.clone())).collect();
            pairs.push(("nick_name", json!("typo")));
            rng.shuffle(&mut pairs);
            let rule = "`nick_name` is not a field: the PATCH is a 400 that names it, and none of it is applied";
            s.patch(
                user,
                &object_text(&pairs),
                Outcome::Refused(&["nick_name"], rule),
            )?;
        } else if offenders.is_empty() {
            let rule = "each field of the PATCH by its own rule: absent keeps, null clears a nullable field, a value sets";
            s.patch(user, &body(&patch), Outcome::Applied(&patch, rule))?;
        } else {
            let rule = format!(
                "{} cannot be null: the PATCH is a 400 naming the field, and none of it is applied",
                offenders.join(", ")
            );
            s.patch(user, &body(&patch), Outcome::Refused(&offenders, &rule))?;
        }
    }
    Ok(())
}

fn import(rng: &mut Rng, s: &mut Session) -> Result<(), Failure> {
    let extras: [(&str, Value); 7] = [
        ("crm_id", json!(rng.below(1_000_000))),
        ("address", json!({"city": rng.word(6), "zip": null})),
        ("Nickname", json!("case matters")),
        ("nick_name", json!(rng.word(4))),
        ("source", Value::Null),
        ("created_at", json!("2024-03-10T09:00:00Z")),
        ("_links", json!([{"rel": "self"}])),
    ];
    for round in 0..4 {
        let mut known: Vec<(Field, Value)> = full_user(rng)
            .into_iter()
            .filter(|(f, _)| matches!(f, Field::Name | Field::Email) || rng.chance(1, 2))
            .collect();
        if round == 0 {
            known.retain(|(f, _)| *f != Field::Nickname);
        }
        let mut unknown: Vec<(&str, Value)> = extras
            .iter()
            .filter(|_| rng.chance(1, 2))
            .cloned()
            .collect();
        if (unknown.is_empty() || round == 0) && !unknown.iter().any(|(k, _)| *k == extras[3].0) {
            unknown.push(extras[3].clone());
        }
        let mut pairs: Vec<(&str, Value)> =
            known.iter().map(|(f, v)| (f.key(), v.clone())).collect();
        pairs.extend(unknown.iter().cloned());
        rng.shuffle(&mut pairs);
        let text = object_text(&pairs);
        let response = s.send("POST", "/import/users", &text)?;
        let user = User::created(s.next_id, &known);
        let mut ignored: Vec<&str> = unknown.iter().map(|(k, _)| *k).collect();
        ignored.sort_unstable();
        let expected = json!({"user": user.json(), "ignored": ignored});
        expect_user(
            &response,
            201,
            &expected,
            "the import ignores unknown fields (a partner's feed grows without asking) and lists them, sorted, in `ignored`",
            &format!("sent: POST /import/users {text}"),
        )?;
        s.next_id += 1;
        s.expect_stored(&user, "an imported user is stored: a GET returns it")?;
    }
    let cases = [
        (
            Field::Role,
            Value::Null,
            "the import is lenient about unknown fields only: `role` cannot be null, so it is a 400",
        ),
        (
            Field::Newsletter,
            json!("yes"),
            "the import is lenient about unknown fields only: a wrong type is still a 400",
        ),
        (
            Field::Tags,
            Value::Null,
            "the import is lenient about unknown fields only: `tags` cannot be null, so it is a 400",
        ),
    ];
    for (field, value, rule) in cases {
        let pairs: Vec<(&str, Value)> = vec![
            ("name", Field::Name.value(rng)),
            ("crm_id", json!(5)),
            ("email", Field::Email.value(rng)),
            (field.key(), value),
        ];
        let text = object_text(&pairs);
        let response = s.send("POST", "/import/users", &text)?;
        expect_refused(
            &response,
            &[],
            rule,
            &format!("sent: POST /import/users {text}"),
        )?;
    }
    let text = object_text(&[("name", json!("Nobody")), ("mail", json!("n@x.example"))]);
    let response = s.send("POST", "/import/users", &text)?;
    expect_refused(
        &response,
        &["email"],
        "email is required on import too: a 400 that names it",
        &format!("sent: POST /import/users {text}"),
    )
}
