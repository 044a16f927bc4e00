//! Running cargo: one invocation builds many bins, its JSON messages are sorted per target, and its progress
//! bar is forwarded while it runs.
//!
//! cargo is trusted (the learner's code only runs later, in the sandbox), but it is still started in its own
//! process group and killed with it on timeout or cancel, so a stuck build never outlives backlings.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use backlings_grade::sandbox::{Cancel, Termination};
use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;

use crate::pipeline::Progress;
use crate::workspace::Workspace;

/// Bytes of cargo's stderr kept for a report (its progress lines are not kept).
const STDERR_CAP: usize = 256 * 1024;

/// What cargo should do.
#[derive(Debug, Clone, Default)]
pub struct CargoRequest {
    /// `build`, `test` (with `--no-run`) or `clippy`.
    pub subcommand: &'static str,
    /// Packages to select.
    pub packages: Vec<String>,
    /// Bin targets to build.
    pub bins: Vec<String>,
    /// Features to enable (`mutants`).
    pub features: Vec<String>,
}

/// A compiler diagnostic, rendered as cargo would print it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// `error`, `warning`, …
    pub level: String,
    /// The full text, with cargo's colours when they were asked for.
    pub rendered: String,
}

/// The outcome of one cargo invocation.
#[derive(Debug, Default)]
pub struct CargoOutcome {
    /// How cargo ended (`None` when it exited by itself).
    pub stopped: Option<Termination>,
    /// cargo's exit code was 0.
    pub success: bool,
    /// Executables built, by target name (test harnesses and plain bins are in separate invocations).
    pub executables: BTreeMap<String, Utf8PathBuf>,
    /// Targets that were compiled (or were fresh) successfully.
    pub compiled: Vec<String>,
    /// Diagnostics per target name.
    pub diagnostics: BTreeMap<String, Vec<Diagnostic>>,
    /// cargo's own messages (without progress), for failures that are not a diagnostic.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl CargoOutcome {
    /// The diagnostics of `target` that are errors.
    pub fn errors(&self, target: &str) -> Vec<&Diagnostic> {
        self.diagnostics(target)
            .filter(|d| d.level == "error")
            .collect()
    }

    /// All diagnostics of `target` but cargo's "aborting due to …" summaries.
    pub fn diagnostics(&self, target: &str) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.get(target).into_iter().flatten()
    }
}

/// Runs `cargo <request>` in `ws` with JSON messages, forwarding progress, killed at `timeout` or on `cancel`.
pub fn run(
    ws: &Workspace,
    request: &CargoRequest,
    color: bool,
    timeout: Duration,
    cancel: &Cancel,
    on_progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<CargoOutcome> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.arg(request.subcommand);
    // Keep building the other bins past one that does not compile (`cargo test` spells it differently).
    if request.subcommand == "test" {
        cmd.args(["--no-run", "--no-fail-fast"]);
    } else {
        cmd.arg("--keep-going");
    }
    cmd.args([
        "--manifest-path",
        ws.manifest().as_str(),
        "--target-dir",
        ws.target_dir().as_str(),
    ]);
    cmd.arg(if color {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    });
    cmd.args(["--color", if color { "always" } else { "never" }]);
    if request.subcommand == "clippy" {
        // The test profile also lints the `#[cfg(test)]` module.
        cmd.args(["--profile", "test"]);
    }
    for package in &request.packages {
        cmd.args(["-p", package]);
    }
    for bin in &request.bins {
        cmd.args(["--bin", bin]);
    }
    if !request.features.is_empty() {
        cmd.args(["--features", &request.features.join(",")]);
    }
    if request.subcommand == "clippy" {
        cmd.args(["--", "-D", "warnings"]);
    }
    // A progress bar on a pipe, so a first build of the dependencies shows how far it is.
    cmd.env("CARGO_TERM_PROGRESS_WHEN", "always")
        .env("CARGO_TERM_PROGRESS_WIDTH", "100");
    cmd.env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    cmd.current_dir(ws.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0);

    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .context("cannot start cargo (is Rust installed? `rustup show` tells)")?;
    let pgid = child.id() as i32;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let messages = thread::spawn(move || read_messages(stdout));
    let (sender, receiver) = mpsc::channel();
    let stderr_reader = thread::spawn(move || read_stderr(stderr, &sender));

    let deadline = started + timeout;
    let mut stopped = None;
    let status = loop {
        match receiver.recv_timeout(Duration::from_millis(20)) {
            Ok(progress) => on_progress(progress),
            Err(RecvTimeoutError::Timeout) => {}
            // stderr is closed: cargo is exiting; wait for it without spinning.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(Duration::from_millis(5)),
        }
        if let Some(status) = child.try_wait().context("waiting for cargo")? {
            break status;
        }
        let why = if cancel.is_cancelled() {
            Termination::Cancelled
        } else if Instant::now() >= deadline {
            Termination::TimedOut
        } else {
            continue;
        };
        stopped = Some(why);
        kill_group(pgid);
        break child.wait().context("waiting for cargo")?;
    };
    // Whatever rustc processes cargo left behind belong to its group.
    kill_group(pgid);
    for progress in receiver.try_iter() {
        on_progress(progress);
    }
    let mut outcome = messages.join().unwrap_or_default();
    outcome.stderr = stderr_reader.join().unwrap_or_default();
    outcome.success = status.success() && stopped.is_none();
    outcome.stopped = stopped;
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

fn kill_group(pgid: i32) {
    // SAFETY: killpg on the group of a child we spawned; ESRCH when it is gone already is fine.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
}

fn read_messages(stdout: impl Read) -> CargoOutcome {
    let mut outcome = CargoOutcome::default();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let target = message
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match message.get("reason").and_then(Value::as_str) {
            Some("compiler-artifact") => {
                if let Some(executable) = message.get("executable").and_then(Value::as_str) {
                    outcome
                        .executables
                        .insert(target.clone(), executable.into());
                }
                outcome.compiled.push(target);
            }
            Some("compiler-message") => {
                let level = message
                    .pointer("/message/level")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let rendered = message
                    .pointer("/message/rendered")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let has_spans = message
                    .pointer("/message/spans")
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty());
                // "aborting due to N previous errors" and similar summaries have no spans and add nothing.
                if level == "error" && !has_spans && rendered.contains("aborting due to") {
                    continue;
                }
                let diagnostic = Diagnostic {
                    level: level.to_string(),
                    rendered: rendered.to_string(),
                };
                outcome
                    .diagnostics
                    .entry(target)
                    .or_default()
                    .push(diagnostic);
            }
            _ => {}
        }
    }
    outcome
}

/// Reads cargo's stderr: progress lines (`\r`-separated) go to `sender`, the rest is kept.
fn read_stderr(stderr: impl Read, sender: &mpsc::Sender<Progress>) -> String {
    let mut kept = String::new();
    let mut reader = BufReader::new(stderr);
    let mut piece = Vec::new();
    loop {
        piece.clear();
        match read_until_any(&mut reader, &mut piece) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = strip_ansi(&String::from_utf8_lossy(&piece));
        let line = text.trim();
        if let Some(progress) = parse_progress(line) {
            let _ = sender.send(progress);
        } else if !line.is_empty() && kept.len() < STDERR_CAP {
            if let Some(status) = line
                .strip_prefix("Compiling ")
                .or_else(|| line.strip_prefix("Checking "))
            {
                let _ = sender.send(Progress::Status(format!(
                    "{} {status}",
                    line.split(' ').next().unwrap_or("")
                )));
                continue;
            }
            kept.push_str(text.trim_end());
            kept.push('\n');
        }
    }
    kept
}

/// Reads up to and including the next `\n` or `\r`.
fn read_until_any(reader: &mut impl BufRead, piece: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(total);
        }
        if let Some(end) = buffer.iter().position(|&b| b == b'\n' || b == b'\r') {
            piece.extend_from_slice(&buffer[..=end]);
            reader.consume(end + 1);
            return Ok(total + end + 1);
        }
        let len = buffer.len();
        piece.extend_from_slice(buffer);
        reader.consume(len);
        total += len;
    }
}

/// `Building [=====>     ] 12/80: tokio, serde` → done 12 of 80, compiling "tokio, serde".
fn parse_progress(line: &str) -> Option<Progress> {
    let rest = line.strip_prefix("Building")?.trim_start();
    let rest = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map_or(rest, |(_, after)| after)
        .trim_start();
    let (counts, current) = rest.split_once(':').unwrap_or((rest, ""));
    let (done, total) = counts.trim().split_once('/')?;
    Some(Progress::Build {
        done: done.parse().ok()?,
        total: total.parse().ok()?,
        current: current.trim().to_string(),
    })
}

/// Removes ANSI escape sequences (CSI and OSC) from `text`.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            // Shift-in/out and other controls (terminfo's sgr0 on some terminals ends with `\x0f`) are dropped.
            if !c.is_control() || c == '\n' || c == '\t' {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.peek() == Some(&'\\')) {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            // Character set designations (`ESC ( B`, which terminfo's sgr0 emits) take one more character.
            Some('(' | ')' | '*' | '+') => {
                chars.next();
            }
            _ => {}
        }
    }
    out
}

/// The first error of `target` in full, or cargo's own message when there is no diagnostic.
pub fn first_error(outcome: &CargoOutcome, target: &str) -> String {
    let errors = outcome.errors(target);
    match errors.first() {
        Some(first) if errors.len() > 1 => {
            let more = errors.len() - 1;
            format!(
                "{}\n(and {more} more error{}: fix this one first)",
                first.rendered.trim_end(),
                if more == 1 { "" } else { "s" }
            )
        }
        Some(first) => first.rendered.trim_end().to_string(),
        None => outcome.stderr.trim_end().to_string(),
    }
}

/// Whether `path` is an executable cargo reported.
pub fn executable<'a>(outcome: &'a CargoOutcome, target: &str) -> Option<&'a Utf8Path> {
    outcome.executables.get(target).map(Utf8PathBuf::as_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    // cargo's progress bar becomes a count and the crates being built.
    #[test]
    fn parses_the_progress_bar() {
        match parse_progress("Building [=======>     ] 12/80: tokio, serde(build)") {
            Some(Progress::Build {
                done: 12,
                total: 80,
                current,
            }) => assert_eq!(current, "tokio, serde(build)"),
            other => panic!("{other:?}"),
        }
        assert!(parse_progress("Compiling tokio v1").is_none());
    }

    // Colours and cursor codes are removed.
    #[test]
    fn strips_ansi_codes() {
        assert_eq!(
            strip_ansi("\x1b[1m\x1b[31merror\x1b[0m: x\x1b[K"),
            "error: x"
        );
        assert_eq!(strip_ansi("a\x1b]8;;http://x\x1b\\b"), "ab");
        assert_eq!(strip_ansi("\x1b[31mFAILED\x1b(B\x1b[m"), "FAILED");
        assert_eq!(strip_ansi("\x1b[31mFAILED\x1b[m\x0f\r\n"), "FAILED\n");
    }

    // JSON messages are sorted per target; cargo's abort summaries are dropped.
    #[test]
    fn sorts_messages_per_target() {
        let lines = [
            r#"{"reason":"compiler-message","target":{"name":"a"},"message":{"level":"error","rendered":"error[E0308]: x","spans":[{}]}}"#,
            r#"{"reason":"compiler-message","target":{"name":"a"},"message":{"level":"error","rendered":"error: aborting due to 1 previous error","spans":[]}}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"b"},"executable":"/t/b"}"#,
        ]
        .join("\n");
        let outcome = read_messages(lines.as_bytes());
        assert_eq!(outcome.errors("a").len(), 1);
        assert_eq!(first_error(&outcome, "a"), "error[E0308]: x");
        assert_eq!(executable(&outcome, "b").unwrap(), "/t/b");
    }
}
