//! A JSON-lines session with a program over its stdin and stdout.

use std::io::Write;
use std::process::ChildStdin;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::failure::{Failure, compact};
use crate::sandbox::{SandboxedChild, Termination, line_reader};
use crate::transcript::Transcript;

/// Longest stdout line kept.
const LINE_CAP: usize = 1 << 20;
const CHANNEL: &str = "stdio";

/// A running program spoken to in JSON lines: one request per stdin line, one reply per stdout line.
pub struct Stdio {
    child: SandboxedChild,
    stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
    transcript: Transcript,
    reply_timeout: Duration,
}

impl Stdio {
    pub(crate) fn new(
        mut child: SandboxedChild,
        transcript: Transcript,
        reply_timeout: Duration,
    ) -> Self {
        let stdin = child.child.stdin.take();
        let stdout = child.child.stdout.take().expect("stdout is piped");
        let lines = line_reader(stdout, LINE_CAP);
        Stdio {
            child,
            stdin,
            lines,
            transcript,
            reply_timeout,
        }
    }

    /// The program's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Sends one JSON value as a line.
    pub fn send(&mut self, request: &Value) -> Result<(), Failure> {
        self.send_line(&compact(request))
    }

    /// Sends one raw line (a newline is added).
    pub fn send_line(&mut self, line: &str) -> Result<(), Failure> {
        self.transcript.sent(CHANNEL, line);
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Failure::new(
                "the grader tried to write after closing stdin (a grader bug)",
            ));
        };
        let written = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush());
        match written {
            Ok(()) => Ok(()),
            Err(_) => Err(self.died("the program stopped reading its input")),
        }
    }

    /// Reads the next line and parses it as JSON.
    pub fn recv(&mut self) -> Result<Value, Failure> {
        let line = self.recv_line()?;
        serde_json::from_str(&line).map_err(|e| {
            Failure::new("the program printed a line that is not JSON")
                .got(&line)
                .detail(format!("JSON error: {e}"))
                .detail("stdout carries the protocol only: print debug output with eprintln!")
        })
    }

    /// Reads the next raw line.
    pub fn recv_line(&mut self) -> Result<String, Failure> {
        self.recv_line_within(self.reply_timeout)
    }

    /// Reads the next raw line, waiting at most `timeout`.
    pub fn recv_line_within(&mut self, timeout: Duration) -> Result<String, Failure> {
        match self.lines.recv_timeout(timeout) {
            Ok(bytes) => {
                let line = String::from_utf8_lossy(&bytes)
                    .trim_end_matches('\r')
                    .to_string();
                self.transcript.got(CHANNEL, &line);
                Ok(line)
            }
            Err(RecvTimeoutError::Timeout) => Err(Failure::new(format!(
                "the program did not answer within {} ms: is it stuck in a loop, or waiting for more input?",
                timeout.as_millis()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.died("the program closed its output before answering"))
            }
        }
    }

    /// Sends a request and reads its reply.
    pub fn request(&mut self, request: &Value) -> Result<Value, Failure> {
        self.send(request)?;
        self.recv()
    }

    /// Sends a request and checks the reply equals `expected`; `rule` says what the contract demands.
    pub fn expect(
        &mut self,
        request: &Value,
        expected: &Value,
        rule: &str,
    ) -> Result<Value, Failure> {
        let got = self.request(request)?;
        if &got != expected {
            return Err(Failure::new(rule)
                .expected(compact(expected))
                .got(compact(&got)));
        }
        Ok(got)
    }

    /// Closes stdin (the program sees end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes stdin, collects the remaining output lines and waits for the program to exit within `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Result<(Vec<String>, Termination), Failure> {
        self.close_stdin();
        let deadline = Instant::now() + timeout;
        let mut rest = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(bytes) => {
                    let line = String::from_utf8_lossy(&bytes)
                        .trim_end_matches('\r')
                        .to_string();
                    self.transcript.got(CHANNEL, &line);
                    rest.push(line);
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Failure::new(format!(
                        "after its input ended, the program did not exit within {} ms (a thread still waiting? a deadlock on shutdown?)",
                        timeout.as_millis()
                    )));
                }
            }
        }
        let termination = self
            .child
            .wait_until(deadline, None)
            .map_err(|e| Failure::new(format!("could not wait for the program: {e}")))?;
        if termination == Termination::TimedOut {
            return Err(Failure::new(
                "the program closed its output but did not exit",
            ));
        }
        Ok((rest, termination))
    }

    /// A failure for a program that stopped talking, saying whether it crashed.
    fn died(&mut self, what: &str) -> Failure {
        // Give a dying process a moment to be reaped, so we can say how it ended.
        let deadline = Instant::now() + Duration::from_millis(500);
        let termination = self.child.wait_until(deadline, None).ok();
        Failure::new(match termination {
            Some(Termination::TimedOut) | None => what.to_string(),
            Some(how) => format!("{what}: it crashed ({})", how.describe()),
        })
    }
}
