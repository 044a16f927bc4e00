//! The command line every grader binary shares, and the report it prints.
//!
//! ```text
//! graders-01-http grade http2_raw_server --program target/…/http2_raw_server --seed 42 [--params JSON] [--json] [--timeout-ms N]
//! graders-01-http list
//! ```
//! Exit codes: 0 the program passed, 1 it was rejected, 2 the grader could not run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::failure::Failure;
use crate::grading::Grading;
use crate::sandbox::{self, Limits};
use crate::transcript::Transcript;

/// One exercise's grader, as registered in a grader binary's `main`.
#[derive(Clone, Copy)]
pub struct Grader {
    /// The exercise name, as in `info.toml`.
    pub exercise: &'static str,
    /// The scenarios and checks; an `Err` rejects the program.
    pub grade: fn(&mut Grading) -> Result<(), Failure>,
}

/// Everything `grade` was asked to do.
struct Invocation {
    exercise: String,
    program: PathBuf,
    seed: u64,
    params: Value,
    as_json: bool,
    time_limit: Duration,
}

/// The `main` of a grader binary: parses the command line, runs the grader, prints the report.
pub fn main(graders: &[Grader]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for grader in graders {
                println!("{}", grader.exercise);
            }
            ExitCode::SUCCESS
        }
        Some("grade") => match parse(&args[1..]) {
            Ok(invocation) => grade(graders, invocation),
            Err(message) => usage_error(&message),
        },
        _ => usage_error("expected a subcommand: `grade` or `list`"),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    eprintln!(
        "usage: grader grade EXERCISE --program PATH --seed N [--params JSON] [--json] [--timeout-ms N]"
    );
    eprintln!("       grader list");
    ExitCode::from(2)
}

fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut invocation = Invocation {
        exercise: String::new(),
        program: PathBuf::new(),
        seed: 1,
        params: Value::Null,
        as_json: false,
        time_limit: Duration::from_secs(30),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("`{flag}` needs a value"))
        };
        match arg.as_str() {
            "--program" => invocation.program = PathBuf::from(value("--program")?),
            "--seed" => {
                invocation.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "`--seed` takes a whole number".to_string())?
            }
            "--params" => {
                invocation.params = serde_json::from_str(&value("--params")?)
                    .map_err(|e| format!("`--params` is not JSON: {e}"))?;
            }
            "--timeout-ms" => {
                let ms: u64 = value("--timeout-ms")?
                    .parse()
                    .map_err(|_| "`--timeout-ms` takes a whole number".to_string())?;
                invocation.time_limit = Duration::from_millis(ms);
            }
            "--json" => invocation.as_json = true,
            flag if flag.starts_with('-') => return Err(format!("unknown flag `{flag}`")),
            name if invocation.exercise.is_empty() => invocation.exercise = name.to_string(),
            extra => return Err(format!("unexpected argument `{extra}`")),
        }
    }
    if invocation.exercise.is_empty() {
        return Err("which exercise? give its name after `grade`".to_string());
    }
    if invocation.program.as_os_str().is_empty() {
        return Err("`--program PATH` is required".to_string());
    }
    Ok(invocation)
}

fn grade(graders: &[Grader], invocation: Invocation) -> ExitCode {
    let Some(grader) = graders.iter().find(|g| g.exercise == invocation.exercise) else {
        let known: Vec<&str> = graders.iter().map(|g| g.exercise).collect();
        return usage_error(&format!(
            "this binary has no grader for `{}` (it has: {})",
            invocation.exercise,
            known.join(", ")
        ));
    };
    // The program runs in a temp working directory, so a relative path must be resolved here.
    let Ok(program) = invocation.program.canonicalize() else {
        return usage_error(&format!(
            "no program at `{}`: build the exercise first",
            invocation.program.display()
        ));
    };
    let invocation = Invocation {
        program,
        ..invocation
    };
    sandbox::raise_open_files_limit();
    let limits = Limits {
        timeout: invocation.time_limit + Duration::from_secs(5),
        ..Limits::default()
    };
    let mut grading = Grading::new(
        &invocation.exercise,
        invocation.program.clone(),
        invocation.seed,
        invocation.params.clone(),
        limits,
    );
    let transcript = grading.transcript.clone();
    let stderr = grading.stderr.clone();

    // The grader runs on its own thread so a stuck grading is cut at the time limit with a report, not a hang.
    let grade_fn = grader.grade;
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grade_fn(&mut grading)));
        drop(grading);
        let _ = done_tx.send(outcome);
    });
    let outcome = match done_rx.recv_timeout(invocation.time_limit) {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Failure::new(
            "the grader itself crashed (a bug in backlings: please report it with the seed)",
        )),
        Err(_) => Err(Failure::new(format!(
            "grading did not finish within {} s: the program is too slow or stuck (an infinite loop, a deadlock, an O(n²) step?)",
            invocation.time_limit.as_secs()
        ))),
    };
    sandbox::kill_all();
    stderr.settle_for(Duration::from_secs(2));
    let report = render(
        &invocation,
        &transcript,
        outcome.as_ref().err(),
        &stderr.text(),
    );
    let passed = outcome.is_ok();
    if invocation.as_json {
        let value = json!({
            "schema": 1,
            "exercise": invocation.exercise,
            "seed": invocation.seed,
            "passed": passed,
            "report": report,
        });
        println!("{value}");
    } else {
        print!("{report}");
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The plain-text report: a pass line, or the story of the failure.
fn render(
    invocation: &Invocation,
    transcript: &Transcript,
    failure: Option<&Failure>,
    stderr: &str,
) -> String {
    let (passed, current) = transcript.scenarios();
    let mut out = String::new();
    let Some(failure) = failure else {
        let mut names = passed;
        names.extend(current);
        let _ = writeln!(
            out,
            "grader: passed {} scenario{} (seed {})",
            names.len(),
            plural(names.len()),
            invocation.seed
        );
        for name in names {
            let _ = writeln!(out, "  ✓ {name}");
        }
        return out;
    };
    for name in &passed {
        let _ = writeln!(out, "  ✓ {name}");
    }
    match &current {
        Some(name) => {
            let _ = writeln!(out, "  ✗ {name}");
        }
        None => {
            let _ = writeln!(out, "  ✗ (before the first scenario)");
        }
    }
    let _ = writeln!(out);
    for line in failure.to_string().lines() {
        let _ = writeln!(out, "  {line}");
    }
    let exchanges = transcript.exchanges();
    if !exchanges.is_empty() {
        let _ = writeln!(out, "\n  last exchanges (oldest first):");
        for exchange in exchanges {
            if !exchange.sent.is_empty() {
                let _ = writeln!(out, "    {:>5} → {}", exchange.channel, exchange.sent);
            }
            match &exchange.got {
                Some(got) => {
                    let _ = writeln!(out, "    {:>5} ← {got}", "");
                }
                None => {
                    let _ = writeln!(out, "    {:>5} ← (nothing)", "");
                }
            }
        }
    }
    let stderr = stderr.trim_end();
    if !stderr.is_empty() {
        let _ = writeln!(out, "\n  the program's stderr (last lines):");
        let lines: Vec<&str> = stderr.lines().collect();
        for line in &lines[lines.len().saturating_sub(12)..] {
            let _ = writeln!(out, "    {line}");
        }
        if stderr.contains("not yet implemented") {
            let _ = writeln!(
                out,
                "  (it reached a `todo!()`: that part is still yours to write)"
            );
        }
    }
    let _ = writeln!(
        out,
        "\n  seed {} · replay: backlings run {} --seed {}",
        invocation.seed, invocation.exercise, invocation.seed
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
