//! The exact model of the task service, and the seeded script every adapter combination replays.

use std::collections::BTreeMap;

use backlings_grade::Rng;
use serde_json::{Value, json};

/// One use case call, with the time it happens at.
#[derive(Debug, Clone)]
pub enum Step {
    Create {
        now: u64,
        title: String,
        due_at: Option<u64>,
        /// Leave `due_at` out of the request instead of sending `null`.
        omit_due: bool,
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
        status: &'static str,
    },
}

impl Step {
    /// The step in words, for a report.
    pub fn describe(&self) -> String {
        match self {
            Step::Create {
                now, title, due_at, ..
            } => format!(
                "create title {} due_at {} at now {now}",
                Value::from(title.as_str()),
                due_at.map_or("null".into(), |d| d.to_string())
            ),
            Step::Get { now, id } => format!("get task {id} at now {now}"),
            Step::Complete { now, id } => format!("complete task {id} at now {now}"),
            Step::List { now, status } => format!("list status {status} at now {now}"),
        }
    }
}

/// What a step must give.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Ok(Value),
    Err {
        code: &'static str,
        why: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Task {
    title: String,
    created_at: u64,
    due_at: Option<u64>,
    completed_at: Option<u64>,
}

/// The tasks, by id.
#[derive(Debug, Default, Clone)]
pub struct Model {
    tasks: BTreeMap<u64, Task>,
}

impl Model {
    /// The id the next created task gets.
    pub fn next_id(&self) -> u64 {
        self.tasks.keys().next_back().map_or(1, |last| last + 1)
    }

    /// The ids of the open tasks, with their due times.
    pub fn open(&self) -> Vec<(u64, Option<u64>)> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.completed_at.is_none())
            .map(|(id, t)| (*id, t.due_at))
            .collect()
    }

    /// The ids of the done tasks.
    pub fn done(&self) -> Vec<u64> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.completed_at.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Applies `step` and says what it must answer.
    pub fn apply(&mut self, step: &Step) -> Expect {
        match step {
            Step::Create {
                now, title, due_at, ..
            } => {
                let title = title.trim();
                if !(1..=100).contains(&title.chars().count()) {
                    return Expect::Err {
                        code: "invalid",
                        why: "a title is 1 to 100 characters once trimmed (characters, not bytes): anything else \
                              is invalid",
                    };
                }
                if due_at.is_some_and(|due| due <= *now) {
                    return Expect::Err {
                        code: "invalid",
                        why: "due_at must be strictly after now (the injected clock's time): a due_at at or \
                              before now is invalid",
                    };
                }
                let id = self.next_id();
                self.tasks.insert(
                    id,
                    Task {
                        title: title.to_string(),
                        created_at: *now,
                        due_at: *due_at,
                        completed_at: None,
                    },
                );
                Expect::Ok(self.view(id, *now))
            }
            Step::Get { now, id } => match self.tasks.contains_key(id) {
                true => Expect::Ok(self.view(*id, *now)),
                false => missing(),
            },
            Step::Complete { now, id } => match self.tasks.get_mut(id) {
                None => missing(),
                Some(task) if task.completed_at.is_some() => Expect::Err {
                    code: "conflict",
                    why: "completing a task that is already done is a conflict",
                },
                Some(task) => {
                    task.completed_at = Some(*now);
                    Expect::Ok(self.view(*id, *now))
                }
            },
            Step::List { now, status } => {
                let views: Vec<Value> = self
                    .tasks
                    .keys()
                    .map(|id| self.view(*id, *now))
                    .filter(|view| match *status {
                        "open" => view["status"] == "open",
                        "done" => view["status"] == "done",
                        "overdue" => view["overdue"] == true,
                        _ => true,
                    })
                    .collect();
                Expect::Ok(Value::Array(views))
            }
        }
    }

    fn view(&self, id: u64, now: u64) -> Value {
        let task = &self.tasks[&id];
        let done = task.completed_at.is_some();
        json!({
            "id": id,
            "title": task.title,
            "status": if done { "done" } else { "open" },
            "created_at": task.created_at,
            "due_at": task.due_at,
            "completed_at": task.completed_at,
            "overdue": !done && task.due_at.is_some_and(|due| now > due),
        })
    }
}

fn missing() -> Expect {
    Expect::Err {
        code: "not_found",
        why: "a task that was never created is not_found",
    }
}

/// Titles that break naive storage: quotes for SQL built with `format!`, multi-byte characters, padding.
const TRICKY_TITLES: [&str; 8] = [
    "O'Brien's \"launch\" plan",
    "'); DROP TABLE tasks; --",
    "  padded on both sides  ",
    "100% of the _cache_ \\ backslash",
    "Ünïcödé ✓ 😀",
    "{\"id\": 99, \"title\": \"json in a title\"}",
    "tab\tinside",
    "x",
];
const PLAIN_TITLES: [&str; 6] = [
    "Renew the TLS certificate",
    "Rotate the API keys",
    "Write the postmortem",
    "Upgrade PostgreSQL",
    "Review the on-call runbook",
    "Add an index on orders.created_at",
];

/// A time the scripts start near, plus a seeded offset.
const EPOCH_MS: u64 = 1_700_000_000_000;

/// The seeded script: creates (valid, invalid, tricky), gets, completes, lists around due times.
pub fn script(rng: &mut Rng) -> Vec<Step> {
    let mut model = Model::default();
    let mut steps = Vec::new();
    let mut now = EPOCH_MS + rng.below(10_000_000_000);
    let push = |step: Step, model: &mut Model, steps: &mut Vec<Step>| {
        model.apply(&step);
        steps.push(step);
    };

    let mut titles: Vec<String> = TRICKY_TITLES.iter().map(|t| t.to_string()).collect();
    titles.extend(
        PLAIN_TITLES
            .iter()
            .map(|t| format!("{t} #{}", rng.below(100))),
    );
    titles.push("ü".repeat(100));
    rng.shuffle(&mut titles);
    for title in titles {
        now += rng.range(1, 2_000);
        let due_at = match rng.below(3) {
            0 => None,
            1 => Some(now + rng.range(1, 5_000)),
            _ => Some(now + rng.range(5_000, 600_000)),
        };
        let omit_due = due_at.is_none() && rng.chance(1, 2);
        push(
            Step::Create {
                now,
                title,
                due_at,
                omit_due,
            },
            &mut model,
            &mut steps,
        );
    }
    for (title, due_at) in [
        (String::new(), None),
        ("   ".to_string(), None),
        ("x".repeat(101), None),
        ("ü".repeat(101), None),
        ("due now".to_string(), Some(now)),
        (
            "due in the past".to_string(),
            Some(now - rng.range(1, 1_000)),
        ),
    ] {
        push(
            Step::Create {
                now,
                title,
                due_at,
                omit_due: false,
            },
            &mut model,
            &mut steps,
        );
    }
    let last = model.next_id() - 1;
    for _ in 0..4 {
        push(
            Step::Get {
                now,
                id: rng.range(1, last),
            },
            &mut model,
            &mut steps,
        );
    }
    push(
        Step::Get {
            now,
            id: last + rng.range(1, 50),
        },
        &mut model,
        &mut steps,
    );

    // The boundary of overdue: at the due time it is not overdue yet, one millisecond later it is.
    let upcoming = model
        .open()
        .into_iter()
        .filter_map(|(id, due)| due.filter(|d| *d >= now).map(|d| (id, d)))
        .min_by_key(|(_, d)| *d);
    if let Some((id, due_at)) = upcoming {
        for at in [due_at, due_at + 1] {
            now = at;
            push(Step::Get { now, id }, &mut model, &mut steps);
            push(
                Step::List {
                    now,
                    status: "overdue",
                },
                &mut model,
                &mut steps,
            );
        }
    }
    now += rng.range(1_000, 10_000);
    let mut open = model.open();
    rng.shuffle(&mut open);
    for &(id, _) in open.iter().take(5) {
        now += rng.range(1, 3_000);
        push(Step::Complete { now, id }, &mut model, &mut steps);
    }
    if let Some(&(id, _)) = open.first() {
        push(Step::Get { now: now + 1, id }, &mut model, &mut steps);
        push(Step::Complete { now: now + 1, id }, &mut model, &mut steps);
    }
    push(
        Step::Complete {
            now,
            id: last + 100,
        },
        &mut model,
        &mut steps,
    );
    now += rng.range(60_000, 700_000);
    for status in ["all", "open", "done", "overdue"] {
        push(Step::List { now, status }, &mut model, &mut steps);
    }
    steps
}

/// The script after a restart of a durable store: everything is still there, and ids go on.
pub fn after_restart(rng: &mut Rng, model: &Model, last_now: u64) -> Vec<Step> {
    let mut now = last_now + rng.range(1, 100_000);
    let mut steps = vec![Step::List { now, status: "all" }];
    let last = model.next_id() - 1;
    steps.push(Step::Get {
        now,
        id: rng.range(1, last),
    });
    steps.push(Step::Create {
        now,
        title: format!("after the restart {}", rng.word(4)),
        due_at: Some(now + 1_000),
        omit_due: false,
    });
    if let Some(&(id, _)) = model.open().first() {
        now += 10;
        steps.push(Step::Complete { now, id });
    }
    if let Some(&id) = model.done().first() {
        steps.push(Step::Complete { now, id });
    }
    now += 5_000;
    for status in ["done", "overdue", "all"] {
        steps.push(Step::List { now, status });
    }
    steps
}

/// The time of a step.
pub fn now_of(step: &Step) -> u64 {
    match step {
        Step::Create { now, .. }
        | Step::Get { now, .. }
        | Step::Complete { now, .. }
        | Step::List { now, .. } => *now,
    }
}
