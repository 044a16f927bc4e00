//! # Layers, ports and adapters: one service, two front doors, three databases
//!
//! A handler that parses JSON, checks business rules, builds SQL and formats the response is quick to write
//! and impossible to change: the rules cannot be tested without HTTP, the database cannot be swapped without
//! rewriting the rules, and the time of day is read from the wall clock in the middle of it all. **Layered
//! architecture** splits it: the *presentation* layer (handlers, controllers) translates a protocol into calls,
//! the *service* layer (business logic) holds the rules, the *data access* layer (repositories) talks to
//! storage. **Hexagonal architecture** (ports and adapters, Alistair Cockburn; "clean architecture" is a
//! close cousin) adds the decisive twist, the *dependency inversion principle*: the service does not depend on
//! the database, the database adapter depends on an interface the service owns. That interface is a **port**
//! (here the `TaskRepository` trait, and the `Clock`); each technology behind it is an **adapter**.
//!
//! ```text
//!   inbound adapters           the core (knows no HTTP, no SQL)          outbound adapters
//!   HTTP (http_handler) ─┐                                          ┌─ MemoryRepo
//!                        ├──▶ TaskService ──▶ port: TaskRepository ─┼─ SqliteRepo   (SQL, a table)
//!   STDIO (stdio_adapter)┘         │                                └─ DocRepo      (one JSON document per task)
//!                                  └──────▶ port: Clock ── ManualClock (the grader's time)
//! ```
//!
//! The payoff is what the grader checks: the **same scenario** through either front door and on any of the
//! three stores gives **identical results**. In production that is what lets a team move from one database to
//! another (SQL vs NoSQL behind the same API), test the rules in memory in milliseconds, and add a gRPC or CLI
//! front door without touching a rule.
//!
//! ## The service: tasks with due dates
//!
//! A task is `{"id": 3, "title": "Renew TLS cert", "status": "open", "created_at": 1700000000000,
//! "due_at": 1700000600000, "completed_at": null, "overdue": false}` (times in unix milliseconds).
//!
//! - **create** `(title, due_at)`: the title is trimmed and must then be 1 to 100 characters (characters, not
//!   bytes); `due_at` is `null` or a time strictly after now; otherwise `invalid`. `created_at` is now. Ids are
//!   1, 2, 3, … in creation order, and keep counting across a restart of a durable store.
//! - **get** `(id)`: the task, or `not_found`.
//! - **complete** `(id)`: `status` becomes `done` and `completed_at` now; `not_found`, or `conflict` if it is
//!   already done.
//! - **list** `(status)`: `all`, `open`, `done` or `overdue`, ordered by id.
//! - **overdue** is computed when a task is read, never stored: open, with a `due_at` strictly before now. The
//!   same task is not overdue at its due time and overdue one millisecond later.
//! - **Now** is the injected clock's time, nothing else. The grader plays time through the requests (the
//!   `X-Fake-Now` header, the `"now"` field) and the adapters move a `ManualClock` before calling the service.
//!   In production the same service would get the system clock, and nothing in it would change.
//!
//! ## The two inbound adapters
//!
//! STDIO (given, to show what an adapter does): one JSON command per line, `{"op": "create", "now": N,
//! "title": "…", "due_at": N}`, `{"op": "get", "now": N, "id": N}`, `{"op": "complete", "now": N, "id": N}`,
//! `{"op": "list", "now": N, "status": "open"}`, answered `{"ok": …}` or `{"error": {"code": "not_found",
//! "message": "…"}}`.
//!
//! HTTP (yours), every request with `X-Fake-Now: <unix-ms>` (missing or not a number: `400`):
//!
//! | request | success | failures |
//! |---|---|---|
//! | `POST /tasks` with `{"title": "…", "due_at": N or null}` (`due_at` may be left out) | `201`, the task | `400` (not that JSON), `422` |
//! | `GET /tasks/{id}` | `200`, the task | `404` |
//! | `POST /tasks/{id}/complete` | `200`, the task | `404`, `409` |
//! | `GET /tasks?status=open` (no `status`: `all`) | `200`, the array | `400` (an unknown status) |
//!
//! Errors have the body `{"error": {"code": …, "message": …}}`: `422 invalid`, `404 not_found`, `409 conflict`,
//! `500 storage`, `400 bad_request`; any other route is `404 not_found`. The service returns *domain* errors;
//! choosing the status code is the adapter's job, so the service would serve a gRPC adapter unchanged.
//!
//! ## The three outbound adapters
//!
//! `--store memory` (given: the reference for what a repository must do), `--store sqlite` (a table in
//! `DATA_DIR/tasks.sqlite3`), `--store doc` (one JSON document per task in `DATA_DIR/tasks/`, the way a
//! document database keeps them). The two durable stores keep everything across a restart of the program on
//! the same `--data-dir`, and the grader checks it.
//!
//! ## What you write
//!
//! The domain types, the port, the memory adapter, the STDIO adapter and the wiring in `main` are given.
//! Yours: the service's rules (`TaskService` and `view`), the two durable adapters (`SqliteRepo`, `DocRepo`)
//! and the HTTP adapter (`http_handler`, `status_of`). Start with the service: the grader drives it through
//! STDIO and the memory store first, then through HTTP, then on each durable store.
//!
//! ## Pitfalls
//!
//! - Reading the system clock in the service (`SystemTime::now()`): every `created_at` is wrong, and the rules
//!   can no longer be tested at 23:59:59.999.
//! - Storing `overdue` (or `status`) when the task is written: it goes stale the moment time moves on.
//! - SQL built with `format!`: a title with a `'` breaks the query (or worse). Bind parameters.
//! - `NULL` columns: `due_at` and `completed_at` are `Option`s; read them back as `Option<i64>`.
//! - Listing documents in the order the directory returns them (arbitrary), or sorted as file names
//!   (`10.json` before `2.json`): sort by id.
//! - A document store that restarts its id counter at 1 after a restart, overwriting task 1.
//! - An HTTP adapter that decides business rules, or a service that returns status codes.
//!
//! Roadmap: MVC, handlers, controllers and services; layered architecture (presentation, business logic,
//! data access); clean and hexagonal architecture, separation of concerns and dependency inversion; SQL vs
//! NoSQL behind the same API.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};

use backlings_harness::clock::{Clock, ManualClock};
use backlings_harness::http::{Request, Response, serve};
use backlings_harness::stdio::serve_json_lines;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// ─── The domain ──────────────────────────────────────────────────────────────────────────────────────

/// A task as the repositories store it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub title: String,
    pub created_at: u64,
    pub due_at: Option<u64>,
    pub completed_at: Option<u64>,
}

/// A task to be stored for the first time: the repository gives it its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub created_at: u64,
    pub due_at: Option<u64>,
}

/// Open or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Done,
}

/// A task as clients see it at one moment: with its status and whether it is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    pub id: u64,
    pub title: String,
    pub status: Status,
    pub created_at: u64,
    pub due_at: Option<u64>,
    pub completed_at: Option<u64>,
    pub overdue: bool,
}

/// Which tasks a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    #[default]
    All,
    Open,
    Done,
    Overdue,
}

/// Why a use case failed, in the domain's words (no HTTP in here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("there is no task {0}")]
    NotFound(u64),
    #[error("{0}")]
    Conflict(String),
    #[error("the store failed: {0}")]
    Storage(String),
}

impl ServiceError {
    /// The error's code, as both adapters report it (provided: you do not need to change this).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid(_) => "invalid",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::Storage(_) => "storage",
        }
    }
}

/// A storage failure, whatever the technology.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RepoError(pub String);

impl From<RepoError> for ServiceError {
    fn from(error: RepoError) -> Self {
        ServiceError::Storage(error.0)
    }
}

impl From<rusqlite::Error> for RepoError {
    fn from(error: rusqlite::Error) -> Self {
        RepoError(format!("sqlite: {error}"))
    }
}

impl From<io::Error> for RepoError {
    fn from(error: io::Error) -> Self {
        RepoError(format!("file system: {error}"))
    }
}

impl From<serde_json::Error> for RepoError {
    fn from(error: serde_json::Error) -> Self {
        RepoError(format!("document: {error}"))
    }
}

// ─── The port the service owns ───────────────────────────────────────────────────────────────────────

/// Where tasks live. The service depends on this trait; each store is an adapter implementing it.
pub trait TaskRepository: Send {
    /// Stores a new task under the next id (1, 2, 3, …, continuing after a restart) and returns it.
    fn insert(&mut self, task: NewTask) -> Result<Task, RepoError>;
    /// The task with this id, if any.
    fn find(&self, id: u64) -> Result<Option<Task>, RepoError>;
    /// Overwrites the stored task that has `task.id`.
    fn update(&mut self, task: &Task) -> Result<(), RepoError>;
    /// Every task, ordered by id.
    fn all(&self) -> Result<Vec<Task>, RepoError>;
}

// ─── The service: the business rules ─────────────────────────────────────────────────────────────────

/// The use cases of tasks, over any repository and any clock.
pub struct TaskService {
    repo: Box<dyn TaskRepository>,
    clock: Box<dyn Clock>,
}

impl TaskService {
    /// A service storing in `repo` and telling time with `clock`.
    pub fn new(repo: Box<dyn TaskRepository>, clock: Box<dyn Clock>) -> Self {
        TaskService { repo, clock }
    }

    /// Creates a task (see the rules in this file's header).
    pub fn create(&mut self, title: &str, due_at: Option<u64>) -> Result<TaskView, ServiceError> {
        let now = self.clock.now_ms();
        let title = title.trim();
        if !(1..=100).contains(&title.chars().count()) {
            return Err(ServiceError::Invalid(
                "the title must be 1 to 100 characters once trimmed".into(),
            ));
        }
        if due_at.is_some_and(|due| due <= now) {
            return Err(ServiceError::Invalid(
                "due_at must be later than now".into(),
            ));
        }
        let task = self.repo.insert(NewTask {
            title: title.to_string(),
            created_at: now,
            due_at,
        })?;
        Ok(view(task, now))
    }

    /// The task with this id.
    pub fn get(&self, id: u64) -> Result<TaskView, ServiceError> {
        let task = self.repo.find(id)?.ok_or(ServiceError::NotFound(id))?;
        Ok(view(task, self.clock.now_ms()))
    }

    /// Marks a task done.
    pub fn complete(&mut self, id: u64) -> Result<TaskView, ServiceError> {
        let now = self.clock.now_ms();
        let mut task = self.repo.find(id)?.ok_or(ServiceError::NotFound(id))?;
        if task.completed_at.is_some() {
            return Err(ServiceError::Conflict(format!("task {id} is already done")));
        }
        task.completed_at = Some(now);
        self.repo.update(&task)?;
        Ok(view(task, now))
    }

    /// The tasks `filter` selects, ordered by id.
    pub fn list(&self, filter: Filter) -> Result<Vec<TaskView>, ServiceError> {
        let now = self.clock.now_ms();
        let views = self.repo.all()?.into_iter().map(|task| view(task, now));
        Ok(views
            .filter(|v| match filter {
                Filter::All => true,
                Filter::Open => v.status == Status::Open,
                Filter::Done => v.status == Status::Done,
                Filter::Overdue => v.overdue,
            })
            .collect())
    }
}

/// A stored task as seen at `now`.
fn view(task: Task, now: u64) -> TaskView {
    let status = if task.completed_at.is_some() {
        Status::Done
    } else {
        Status::Open
    };
    let overdue = status == Status::Open && task.due_at.is_some_and(|due| now > due);
    TaskView {
        id: task.id,
        title: task.title,
        status,
        created_at: task.created_at,
        due_at: task.due_at,
        completed_at: task.completed_at,
        overdue,
    }
}

// ─── Outbound adapters ───────────────────────────────────────────────────────────────────────────────

/// Tasks in memory: gone when the process ends (provided: you do not need to change this).
#[derive(Debug, Default)]
pub struct MemoryRepo {
    tasks: BTreeMap<u64, Task>,
}

impl TaskRepository for MemoryRepo {
    fn insert(&mut self, task: NewTask) -> Result<Task, RepoError> {
        let id = self.tasks.keys().next_back().map_or(1, |last| last + 1);
        let task = Task {
            id,
            title: task.title,
            created_at: task.created_at,
            due_at: task.due_at,
            completed_at: None,
        };
        self.tasks.insert(id, task.clone());
        Ok(task)
    }

    fn find(&self, id: u64) -> Result<Option<Task>, RepoError> {
        Ok(self.tasks.get(&id).cloned())
    }

    fn update(&mut self, task: &Task) -> Result<(), RepoError> {
        self.tasks.insert(task.id, task.clone());
        Ok(())
    }

    fn all(&self) -> Result<Vec<Task>, RepoError> {
        Ok(self.tasks.values().cloned().collect())
    }
}

/// Tasks in a SQLite table.
pub struct SqliteRepo {
    connection: Connection,
}

impl SqliteRepo {
    /// Opens (or creates) the database at `path`, with its table.
    pub fn open(path: &Path) -> Result<Self, RepoError> {
        let connection = Connection::open(path)?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS tasks (
                 id           INTEGER PRIMARY KEY,
                 title        TEXT    NOT NULL,
                 created_at   INTEGER NOT NULL,
                 due_at       INTEGER,
                 completed_at INTEGER
             );",
        )?;
        Ok(SqliteRepo { connection })
    }
}

/// A row of `tasks` as a [`Task`].
fn task_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: row.get::<_, i64>(0)? as u64,
        title: row.get(1)?,
        created_at: row.get::<_, i64>(2)? as u64,
        due_at: row.get::<_, Option<i64>>(3)?.map(|t| t as u64),
        completed_at: row.get::<_, Option<i64>>(4)?.map(|t| t as u64),
    })
}

const SELECT_TASK: &str = "SELECT id, title, created_at, due_at, completed_at FROM tasks";

impl TaskRepository for SqliteRepo {
    fn insert(&mut self, task: NewTask) -> Result<Task, RepoError> {
        self.connection.execute(
            "INSERT INTO tasks (title, created_at, due_at) VALUES (?1, ?2, ?3)",
            params![
                task.title,
                task.created_at as i64,
                task.due_at.map(|t| t as i64)
            ],
        )?;
        Ok(Task {
            id: self.connection.last_insert_rowid() as u64,
            title: task.title,
            created_at: task.created_at,
            due_at: task.due_at,
            completed_at: None,
        })
    }

    fn find(&self, id: u64) -> Result<Option<Task>, RepoError> {
        let task = self
            .connection
            .query_row(
                &format!("{SELECT_TASK} WHERE id = ?1"),
                params![id as i64],
                task_from_row,
            )
            .optional()?;
        Ok(task)
    }

    fn update(&mut self, task: &Task) -> Result<(), RepoError> {
        self.connection.execute(
            "UPDATE tasks SET title = ?2, created_at = ?3, due_at = ?4, completed_at = ?5 WHERE id = ?1",
            params![
                task.id as i64,
                task.title,
                task.created_at as i64,
                task.due_at.map(|t| t as i64),
                task.completed_at.map(|t| t as i64)
            ],
        )?;
        Ok(())
    }

    fn all(&self) -> Result<Vec<Task>, RepoError> {
        let mut statement = self
            .connection
            .prepare(&format!("{SELECT_TASK} ORDER BY id"))?;
        let tasks = statement
            .query_map([], task_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tasks)
    }
}

/// Tasks as JSON documents, one file per task (`<id>.json`) in one directory.
pub struct DocRepo {
    dir: PathBuf,
    last_id: u64,
}

impl DocRepo {
    /// Opens (or creates) the collection in `dir`.
    pub fn open(dir: &Path) -> Result<Self, RepoError> {
        fs::create_dir_all(dir)?;
        let mut repo = DocRepo {
            dir: dir.to_path_buf(),
            last_id: 0,
        };
        repo.last_id = repo.ids()?.into_iter().max().unwrap_or(0);
        Ok(repo)
    }

    /// The file of task `id`.
    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The ids of every stored document.
    fn ids(&self) -> Result<Vec<u64>, RepoError> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let id = name
                .to_str()
                .and_then(|name| name.strip_suffix(".json"))
                .and_then(|id| id.parse::<u64>().ok());
            ids.extend(id);
        }
        Ok(ids)
    }

    /// Writes a document whole or not at all: to a temporary file, then renamed over the old one.
    fn write(&self, task: &Task) -> Result<(), RepoError> {
        let temporary = self.dir.join(format!("{}.json.tmp", task.id));
        fs::write(&temporary, serde_json::to_vec(task)?)?;
        fs::rename(&temporary, self.path(task.id))?;
        Ok(())
    }
}

impl TaskRepository for DocRepo {
    fn insert(&mut self, task: NewTask) -> Result<Task, RepoError> {
        let task = Task {
            id: self.last_id + 1,
            title: task.title,
            created_at: task.created_at,
            due_at: task.due_at,
            completed_at: None,
        };
        self.write(&task)?;
        self.last_id = task.id;
        Ok(task)
    }

    fn find(&self, id: u64) -> Result<Option<Task>, RepoError> {
        match fs::read(self.path(id)) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    fn update(&mut self, task: &Task) -> Result<(), RepoError> {
        self.write(task)
    }

    fn all(&self) -> Result<Vec<Task>, RepoError> {
        let mut ids = self.ids()?;
        ids.sort_unstable();
        let mut tasks = Vec::with_capacity(ids.len());
        for id in ids {
            tasks.extend(self.find(id)?);
        }
        Ok(tasks)
    }
}

// ─── Inbound adapters ────────────────────────────────────────────────────────────────────────────────

/// An error as both adapters write it (provided: you do not need to change this).
pub fn error_body(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// One command of the STDIO adapter.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    Create {
        now: u64,
        title: String,
        #[serde(default)]
        due_at: Option<u64>,
    },
    Get {
        now: u64,
        id: u64,
    },
    Complete {
        now: u64,
        id: u64,
    },
    List {
        now: u64,
        #[serde(default)]
        status: Filter,
    },
}

/// The STDIO adapter: JSON command in, JSON reply out (provided: you do not need to change this; it shows
/// what an inbound adapter does, for you to write the HTTP one).
pub fn stdio_adapter(service: &mut TaskService, clock: &ManualClock, command: Command) -> Value {
    let result = match command {
        Command::Create { now, title, due_at } => {
            clock.set(now);
            service.create(&title, due_at).map(|task| json!(task))
        }
        Command::Get { now, id } => {
            clock.set(now);
            service.get(id).map(|task| json!(task))
        }
        Command::Complete { now, id } => {
            clock.set(now);
            service.complete(id).map(|task| json!(task))
        }
        Command::List { now, status } => {
            clock.set(now);
            service.list(status).map(|tasks| json!(tasks))
        }
    };
    match result {
        Ok(value) => json!({ "ok": value }),
        Err(error) => error_body(error.code(), &error.to_string()),
    }
}

/// The body of `POST /tasks` (provided: you do not need to change this).
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pub title: String,
    #[serde(default)]
    pub due_at: Option<u64>,
}

/// The `status` of a list query string, `all` when absent (provided: you do not need to change this).
pub fn parse_filter(query: Option<&str>) -> Result<Filter, String> {
    let mut filter = Filter::All;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "status" {
            filter = serde_json::from_value(json!(value))
                .map_err(|_| format!("unknown status `{value}`: all, open, done or overdue"))?;
        }
    }
    Ok(filter)
}

/// A JSON response (provided: you do not need to change this).
pub fn json_response(status: u16, body: &Value) -> Response {
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .with_body(body.to_string())
}

/// The HTTP status of a domain error.
fn status_of(error: &ServiceError) -> u16 {
    match error {
        ServiceError::Invalid(_) => 422,
        ServiceError::NotFound(_) => 404,
        ServiceError::Conflict(_) => 409,
        ServiceError::Storage(_) => 500,
    }
}

/// The HTTP adapter: one request in, one response out (see the table in this file's header).
pub fn http_handler(
    service: &Mutex<TaskService>,
    clock: &ManualClock,
    request: &Request,
) -> Response {
    let bad_request = |message: &str| json_response(400, &error_body("bad_request", message));
    let Some(now) = request
        .header("X-Fake-Now")
        .and_then(|now| now.parse::<u64>().ok())
    else {
        return bad_request("X-Fake-Now must be unix milliseconds");
    };
    let segments: Vec<&str> = request.path().split('/').skip(1).collect();
    let mut service = service.lock().unwrap_or_else(PoisonError::into_inner);
    clock.set(now);
    let (success, result) = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["tasks"]) => match serde_json::from_slice::<CreateBody>(&request.body) {
            Ok(body) => (
                201,
                service.create(&body.title, body.due_at).map(|t| json!(t)),
            ),
            Err(error) => return bad_request(&format!("the body is not a task: {error}")),
        },
        ("GET", ["tasks"]) => match parse_filter(request.query()) {
            Ok(filter) => (200, service.list(filter).map(|t| json!(t))),
            Err(message) => return bad_request(&message),
        },
        ("GET", ["tasks", id]) => match id.parse() {
            Ok(id) => (200, service.get(id).map(|t| json!(t))),
            Err(_) => return bad_request("a task id is a number"),
        },
        ("POST", ["tasks", id, "complete"]) => match id.parse() {
            Ok(id) => (200, service.complete(id).map(|t| json!(t))),
            Err(_) => return bad_request("a task id is a number"),
        },
        _ => {
            return json_response(404, &error_body("not_found", "no such route"));
        }
    };
    match result {
        Ok(body) => json_response(success, &body),
        Err(error) => json_response(
            status_of(&error),
            &error_body(error.code(), &error.to_string()),
        ),
    }
}

// ─── Wiring (provided: you do not need to change this) ────────────────────────────────────────────────

/// `--inbound http|stdio --store memory|sqlite|doc --data-dir DIR`.
struct Config {
    inbound: String,
    store: String,
    data_dir: PathBuf,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        inbound: "http".into(),
        store: "memory".into(),
        data_dir: PathBuf::from("."),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--inbound" if value == "http" || value == "stdio" => config.inbound = value,
            "--store" if ["memory", "sqlite", "doc"].contains(&value.as_str()) => {
                config.store = value
            }
            "--data-dir" => config.data_dir = PathBuf::from(value),
            _ => return Err(format!("unknown flag or value: {flag} {value}")),
        }
    }
    Ok(config)
}

fn open_store(config: &Config) -> Result<Box<dyn TaskRepository>, RepoError> {
    Ok(match config.store.as_str() {
        "sqlite" => Box::new(SqliteRepo::open(&config.data_dir.join("tasks.sqlite3"))?),
        "doc" => Box::new(DocRepo::open(&config.data_dir.join("tasks"))?),
        _ => Box::new(MemoryRepo::default()),
    })
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(why) => {
            eprintln!(
                "error: {why}\nusage: route6_layered_hexagonal [--inbound http|stdio] [--store memory|sqlite|doc] [--data-dir DIR]"
            );
            return ExitCode::from(2);
        }
    };
    let repo = match open_store(&config) {
        Ok(repo) => repo,
        Err(error) => {
            eprintln!("error: could not open the {} store: {error}", config.store);
            return ExitCode::FAILURE;
        }
    };
    let clock = ManualClock::new(0);
    let mut service = TaskService::new(repo, Box::new(clock.clone()));
    if config.inbound == "stdio" {
        serve_json_lines(|command: Command| stdio_adapter(&mut service, &clock, command));
        return ExitCode::SUCCESS;
    }
    let service = Mutex::new(service);
    match serve(move |request| http_handler(&service, &clock, request)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: could not serve: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn service_on(repo: Box<dyn TaskRepository>) -> (TaskService, ManualClock) {
        let clock = ManualClock::new(T0);
        (TaskService::new(repo, Box::new(clock.clone())), clock)
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("route6-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    // The service takes its time from the injected clock, and trims and checks the title.
    #[test]
    fn create_uses_the_clock_and_the_rules() {
        let (mut service, clock) = service_on(Box::new(MemoryRepo::default()));
        clock.set(T0 + 5);
        let task = service.create("  Renew cert  ", Some(T0 + 100)).unwrap();
        assert_eq!((task.id, task.title.as_str()), (1, "Renew cert"));
        assert_eq!(task.created_at, T0 + 5);
        assert_eq!(service.create("   ", None).unwrap_err().code(), "invalid");
        assert_eq!(
            service.create("late", Some(T0 + 5)).unwrap_err().code(),
            "invalid"
        );
    }

    // Overdue is computed at read time: not at the due time, yes one millisecond later.
    #[test]
    fn overdue_follows_the_clock() {
        let (mut service, clock) = service_on(Box::new(MemoryRepo::default()));
        service.create("a", Some(T0 + 10)).unwrap();
        clock.set(T0 + 10);
        assert!(!service.get(1).unwrap().overdue);
        clock.set(T0 + 11);
        assert!(service.get(1).unwrap().overdue);
        assert_eq!(service.list(Filter::Overdue).unwrap().len(), 1);
        service.complete(1).unwrap();
        assert!(service.list(Filter::Overdue).unwrap().is_empty());
        assert_eq!(service.complete(1).unwrap_err().code(), "conflict");
    }

    // The SQLite adapter keeps quotes, NULLs and ids across a reopen.
    #[test]
    fn sqlite_round_trips_and_survives_a_reopen() {
        let dir = scratch_dir("sqlite");
        let path = dir.join("tasks.sqlite3");
        {
            let (mut service, _) = service_on(Box::new(SqliteRepo::open(&path).unwrap()));
            service.create("O'Brien's \"plan\"; --", None).unwrap();
            service.complete(1).unwrap();
        }
        let (mut service, _) = service_on(Box::new(SqliteRepo::open(&path).unwrap()));
        let task = service.get(1).unwrap();
        assert_eq!(task.title, "O'Brien's \"plan\"; --");
        assert_eq!((task.due_at, task.completed_at), (None, Some(T0)));
        assert_eq!(service.create("next", None).unwrap().id, 2);
        fs::remove_dir_all(dir).unwrap();
    }

    // The document adapter lists by id (10 after 9, not after 1) and keeps counting after a reopen.
    #[test]
    fn documents_list_by_id_and_survive_a_reopen() {
        let dir = scratch_dir("doc");
        {
            let (mut service, _) = service_on(Box::new(DocRepo::open(&dir).unwrap()));
            for n in 1..=11 {
                service.create(&format!("task {n}"), None).unwrap();
            }
        }
        let (mut service, _) = service_on(Box::new(DocRepo::open(&dir).unwrap()));
        let ids: Vec<u64> = service
            .list(Filter::All)
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, (1..=11).collect::<Vec<_>>());
        assert_eq!(service.create("twelve", None).unwrap().id, 12);
        fs::remove_dir_all(dir).unwrap();
    }

    // The HTTP adapter maps domain errors to status codes and needs X-Fake-Now.
    #[test]
    fn http_adapter_maps_errors_to_statuses() {
        let clock = ManualClock::new(0);
        let service = Mutex::new(TaskService::new(
            Box::new(MemoryRepo::default()),
            Box::new(clock.clone()),
        ));
        let request = |method: &str, target: &str, body: &str, now: Option<u64>| Request {
            method: method.into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers: now
                .map(|n| vec![("X-Fake-Now".to_string(), n.to_string())])
                .unwrap_or_default(),
            body: body.as_bytes().to_vec(),
        };
        let created = http_handler(
            &service,
            &clock,
            &request("POST", "/tasks", r#"{"title":"x"}"#, Some(T0)),
        );
        assert_eq!(created.status, 201);
        let complete = request("POST", "/tasks/1/complete", "", Some(T0 + 1));
        assert_eq!(http_handler(&service, &clock, &complete).status, 200);
        assert_eq!(http_handler(&service, &clock, &complete).status, 409);
        let missing = request("GET", "/tasks/9", "", Some(T0));
        assert_eq!(http_handler(&service, &clock, &missing).status, 404);
        let no_time = request("GET", "/tasks", "", None);
        assert_eq!(http_handler(&service, &clock, &no_time).status, 400);
    }
}
