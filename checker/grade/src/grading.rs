//! One grading run: the program under test, the seed, the transcript, and the ways to start the program.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as Pipe};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::failure::Failure;
use crate::rng::Rng;
use crate::sandbox::{self, Limits};
use crate::server::Server;
use crate::stdio::Stdio;
use crate::transcript::Transcript;

/// How much of a program's stderr a report keeps (the end, where panics are).
const STDERR_TAIL: usize = 4096;

/// The context a grader works in.
pub struct Grading {
    exercise: String,
    program: PathBuf,
    seed: u64,
    rng: Rng,
    params: Value,
    reply_timeout: Duration,
    limits: Limits,
    pub(crate) transcript: Transcript,
    pub(crate) stderr: StderrTail,
}

impl Grading {
    pub(crate) fn new(
        exercise: &str,
        program: PathBuf,
        seed: u64,
        params: Value,
        limits: Limits,
    ) -> Self {
        Grading {
            exercise: exercise.to_string(),
            program,
            seed,
            rng: Rng::new(seed),
            params,
            reply_timeout: Duration::from_secs(5),
            limits,
            transcript: Transcript::default(),
            stderr: StderrTail::default(),
        }
    }

    /// The exercise being graded.
    pub fn exercise(&self) -> &str {
        &self.exercise
    }

    /// The seed of this run: the same seed replays the same grading.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The run's random source, seeded from [`Grading::seed`].
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The grader's parameters from `info.toml` (`grader = { params = {..} }`), or `null`.
    pub fn params(&self) -> &Value {
        &self.params
    }

    /// A numeric parameter, or `default` when absent.
    pub fn param_u64(&self, key: &str, default: u64) -> u64 {
        self.params
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    }

    /// The learner's compiled program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Names the scenario that starts now; the report names the one that failed.
    pub fn scenario(&mut self, name: &str) {
        self.transcript.begin_scenario(name);
    }

    /// How long a session waits for one answer before calling the program stuck (default 5 s).
    pub fn set_reply_timeout(&mut self, timeout: Duration) {
        self.reply_timeout = timeout;
    }

    /// Records an exchange the grader made by its own means (an HTTP client, a UDP socket).
    pub fn record(&self, channel: &str, sent: &str, got: &str) {
        self.transcript.sent(channel, sent);
        self.transcript.got(channel, got);
    }

    /// Starts the program with piped stdin/stdout, to talk JSON lines.
    pub fn stdio(&mut self) -> Result<Stdio, Failure> {
        self.stdio_with(&[], &[])
    }

    /// Like [`Grading::stdio`], with arguments and environment variables.
    pub fn stdio_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> Result<Stdio, Failure> {
        let child = self.spawn(args, env, true)?;
        Ok(Stdio::new(
            child,
            self.transcript.clone(),
            self.reply_timeout,
        ))
    }

    /// Starts the program as a server and waits for its `READY <ip:port>` line.
    pub fn server(&mut self) -> Result<Server, Failure> {
        self.server_with(&[], &[])
    }

    /// Like [`Grading::server`], with arguments and environment variables.
    pub fn server_with(&mut self, args: &[&str], env: &[(&str, &str)]) -> Result<Server, Failure> {
        let child = self.spawn(args, env, false)?;
        Server::start(child, self.transcript.clone(), self.reply_timeout)
    }

    fn spawn(
        &mut self,
        args: &[&str],
        env: &[(&str, &str)],
        piped_stdin: bool,
    ) -> Result<sandbox::SandboxedChild, Failure> {
        let mut command = Command::new(&self.program);
        // A backtrace would push the panic message itself out of the report's stderr tail.
        command
            .args(args)
            .env("BACKLINGS_SEED", self.seed.to_string())
            .env("RUST_BACKTRACE", "0")
            .envs(env.iter().copied());
        command.stdin(if piped_stdin {
            Pipe::piped()
        } else {
            Pipe::null()
        });
        command.stdout(Pipe::piped()).stderr(Pipe::piped());
        let mut child = sandbox::spawn(command, &self.limits).map_err(|e| {
            Failure::new(format!("could not start `{}`: {e}", self.program.display()))
        })?;
        self.stderr.follow(child.child.stderr.take());
        Ok(child)
    }
}

/// The end of the stderr of every program this grading started, for the report.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail {
    kept: Arc<Mutex<VecDeque<u8>>>,
    readers: Arc<Mutex<Vec<thread::JoinHandle<()>>>>,
}

impl StderrTail {
    fn follow(&self, pipe: Option<std::process::ChildStderr>) {
        let Some(mut pipe) = pipe else { return };
        let kept = Arc::clone(&self.kept);
        let reader = thread::spawn(move || {
            use std::io::Read;
            let mut buffer = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend(&buffer[..n]);
                let excess = kept.len().saturating_sub(STDERR_TAIL);
                kept.drain(..excess);
            }
        });
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reader);
    }

    /// Waits (at most `limit`) until every stderr pipe is closed, so the tail holds a crash's last words.
    pub fn settle_for(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        let readers = std::mem::take(&mut *self.readers.lock().unwrap_or_else(|e| e.into_inner()));
        for reader in readers {
            // A reader ends when its pipe closes; the programs are killed by now, so this is quick.
            while !reader.is_finished() && std::time::Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// The kept tail as text.
    pub fn text(&self) -> String {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = kept.iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn grading_of(program: &str) -> Grading {
        Grading::new(
            "demo",
            PathBuf::from(program),
            7,
            Value::Null,
            Limits::default(),
        )
    }

    // A JSON-lines session sends a line and reads the answer (`cat` answers with what it was sent).
    #[test]
    fn stdio_request_gets_the_reply() {
        let mut grading = grading_of("/bin/cat");
        let mut session = grading.stdio().unwrap();
        assert_eq!(
            session.request(&json!({"op": "ping"})).unwrap(),
            json!({"op": "ping"})
        );
        let (rest, how) = session.finish(Duration::from_secs(5)).unwrap();
        assert!(rest.is_empty() && how.is_success());
    }

    // A program that dies is reported as a crash with its exit code, not as a timeout.
    #[test]
    fn stdio_reports_a_crash() {
        let mut grading = grading_of("/bin/false");
        let mut session = grading.stdio().unwrap();
        let failure = session.recv().unwrap_err();
        assert!(
            failure.message.contains("crashed (exited with code 1)"),
            "{failure}"
        );
    }

    // The transcript keeps the scenario and the exchange that failed.
    #[test]
    fn transcript_keeps_the_last_exchange() {
        let mut grading = grading_of("/bin/cat");
        grading.scenario("echo");
        let mut session = grading.stdio().unwrap();
        session.request(&json!(1)).unwrap();
        let exchanges = grading.transcript.exchanges();
        assert_eq!(exchanges.last().unwrap().got.as_deref(), Some("1"));
        assert_eq!(grading.transcript.scenarios().1.as_deref(), Some("echo"));
    }
}
