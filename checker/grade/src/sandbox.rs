//! The one place that starts a learner's process.
//!
//! Learner code is untrusted and often wrong: it loops, floods stdout, leaks memory, forks. Every process started
//! here runs in its own process group (so killing it kills everything it started), with rlimits on memory, file
//! size and process count, no terminal stdin, a temp working directory, a time limit and an output cap. Both pipes
//! are drained on threads even past the cap, so a child blocked on a full pipe is never mistaken for a hang.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Resource limits for one learner process (and everything it starts).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall time before the whole process group is killed.
    pub timeout: Duration,
    /// Bytes kept per output stream; the rest is read and dropped.
    pub output_cap: usize,
    /// Data segment limit (`RLIMIT_DATA`): heap and anonymous mappings.
    pub memory_bytes: Option<u64>,
    /// Largest file the process may write (`RLIMIT_FSIZE`).
    pub file_size_bytes: Option<u64>,
    /// Processes and threads the process may add (`RLIMIT_NPROC`, on top of what the user already runs).
    pub processes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            output_cap: 1 << 20,
            memory_bytes: Some(2 << 30),
            file_size_bytes: Some(64 << 20),
            processes: Some(512),
        }
    }
}

/// A flag that stops a running process early (the file changed again, or Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks every run watching this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` has been called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// It exited by itself with this code.
    Exited(i32),
    /// A signal ended it (a crash such as SIGSEGV or SIGABRT, or an rlimit's SIGXFSZ/SIGKILL).
    Signaled(i32),
    /// It ran past its time limit and its process group was killed.
    TimedOut,
    /// It was stopped through a [`Cancel`] token.
    Cancelled,
}

impl Termination {
    /// Exited with code 0.
    pub fn is_success(self) -> bool {
        self == Termination::Exited(0)
    }

    fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(signal)) => Termination::Signaled(signal),
            (None, None) => Termination::Exited(-1),
        }
    }

    /// A short human description: "exited with code 101", "killed by SIGSEGV", …
    pub fn describe(self) -> String {
        match self {
            Termination::Exited(code) => format!("exited with code {code}"),
            Termination::Signaled(signal) => format!("was killed by {}", signal_name(signal)),
            Termination::TimedOut => "ran out of time and was stopped".to_string(),
            Termination::Cancelled => "was cancelled".to_string(),
        }
    }
}

/// The name of a signal number, for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGABRT => "SIGABRT (abort: often a double panic or a failed allocation)".into(),
        libc::SIGSEGV => "SIGSEGV (segmentation fault: often a stack overflow)".into(),
        libc::SIGKILL => "SIGKILL (often the memory limit)".into(),
        libc::SIGXFSZ => "SIGXFSZ (the file size limit)".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGPIPE => "SIGPIPE (wrote to a closed pipe or socket)".into(),
        other => format!("signal {other}"),
    }
}

/// The output a process wrote to one stream, up to the cap.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The first `output_cap` bytes.
    pub bytes: Vec<u8>,
    /// How many bytes the process wrote in all.
    pub total_len: u64,
}

impl Captured {
    /// The process wrote more than was kept.
    pub fn is_truncated(&self) -> bool {
        self.total_len > self.bytes.len() as u64
    }

    /// The kept bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How it ended.
    pub termination: Termination,
    /// What it wrote to stdout.
    pub stdout: Captured,
    /// What it wrote to stderr.
    pub stderr: Captured,
    /// Wall time from spawn to end.
    pub elapsed: Duration,
}

/// Runs `cmd` to completion inside the sandbox, capturing both streams.
///
/// stdin is null. The working directory is a fresh temp dir unless the command already has one.
pub fn run(mut cmd: Command, limits: &Limits, cancel: Option<&Cancel>) -> io::Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = spawn(cmd, limits)?;
    let stdout = drain(child.child.stdout.take(), limits.output_cap);
    let stderr = drain(child.child.stderr.take(), limits.output_cap);
    let termination = child.wait_until(started + limits.timeout, cancel)?;
    // The main process is gone; anything it forked still holds the pipes open, so end the group first.
    child.kill_group();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(Finished {
        termination,
        stdout,
        stderr,
        elapsed: started.elapsed(),
    })
}

/// A learner process started by [`spawn`]. Dropping it kills its whole process group.
#[derive(Debug)]
pub struct SandboxedChild {
    /// The child; take its pipes as needed.
    pub child: Child,
    pgid: i32,
    reaped: Option<Termination>,
    _cwd: Option<tempfile::TempDir>,
}

impl SandboxedChild {
    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process only (not its group), e.g. SIGTERM for a graceful-shutdown test.
    pub fn signal(&self, signal: i32) {
        if self.reaped.is_none() {
            // SAFETY: kill(2) with a pid we own and have not reaped yet.
            unsafe { libc::kill(self.pgid, signal) };
        }
    }

    /// Kills every process of the group with SIGKILL.
    pub fn kill_group(&mut self) {
        kill_group(self.pgid);
    }

    /// Whether the process has exited, without waiting.
    pub fn try_termination(&mut self) -> io::Result<Option<Termination>> {
        if let Some(done) = self.reaped {
            return Ok(Some(done));
        }
        let status = self.child.try_wait()?;
        Ok(status.map(|status| self.reap(Termination::from_status(status))))
    }

    /// Waits for the process to exit until `deadline` or until `cancel` fires; kills the group on either.
    pub fn wait_until(
        &mut self,
        deadline: Instant,
        cancel: Option<&Cancel>,
    ) -> io::Result<Termination> {
        loop {
            if let Some(done) = self.try_termination()? {
                return Ok(done);
            }
            if cancel.is_some_and(Cancel::is_cancelled) {
                return self.stop(Termination::Cancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return self.stop(Termination::TimedOut);
            }
            // A short poll keeps this simple and portable; it only runs while a learner process is alive.
            thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// Kills the group and reaps the process, recording `why` as how it ended.
    pub fn stop(&mut self, why: Termination) -> io::Result<Termination> {
        if let Some(done) = self.reaped {
            return Ok(done);
        }
        self.kill_group();
        self.child.wait()?;
        Ok(self.reap(why))
    }

    fn reap(&mut self, termination: Termination) -> Termination {
        self.reaped = Some(termination);
        termination
    }
}

impl Drop for SandboxedChild {
    fn drop(&mut self) {
        self.kill_group();
        if self.reaped.is_none() {
            let _ = self.child.wait();
        }
        live_groups()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.pgid);
    }
}

/// Starts `cmd` in the sandbox with the pipes the caller configured (stdin defaults to null here).
///
/// The caller owns the pipes; use [`SandboxedChild::wait_until`] to bound its life.
pub fn spawn(mut cmd: Command, limits: &Limits) -> io::Result<SandboxedChild> {
    let cwd = match cmd.get_current_dir() {
        Some(_) => None,
        None => {
            let dir = tempfile::Builder::new()
                .prefix("backlings-run-")
                .tempdir()?;
            cmd.current_dir(dir.path());
            Some(dir)
        }
    };
    let rlimits = RlimitPlan::new(limits);
    cmd.process_group(0);
    // SAFETY: the closure only calls async-signal-safe functions (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || rlimits.apply());
    }
    // Hold the registry lock across the spawn so `kill_all` never misses a group being born.
    let mut groups = live_groups().lock().unwrap_or_else(|e| e.into_inner());
    let child = cmd.spawn()?;
    let pgid = child.id() as i32;
    groups.insert(pgid);
    Ok(SandboxedChild {
        child,
        pgid,
        reaped: None,
        _cwd: cwd,
    })
}

/// Kills every process group this process started and that is still alive (for Ctrl-C and watchdogs).
pub fn kill_all() {
    let groups = live_groups().lock().unwrap_or_else(|e| e.into_inner());
    for &pgid in groups.iter() {
        kill_group(pgid);
    }
}

/// Raises the soft open-files limit to the hard one, for graders that open many sockets.
pub fn raise_open_files_limit() {
    // SAFETY: plain getrlimit/setrlimit on our own process.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: killpg on a group we created; a group that is already gone gives ESRCH, which is fine.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
}

fn live_groups() -> &'static Mutex<HashSet<i32>> {
    static GROUPS: OnceLock<Mutex<HashSet<i32>>> = OnceLock::new();
    GROUPS.get_or_init(Mutex::default)
}

/// Reads a pipe to its end on a thread, keeping the first `cap` bytes.
fn drain(pipe: Option<impl Read + Send + 'static>, cap: usize) -> JoinHandle<Captured> {
    thread::spawn(move || {
        let mut captured = Captured::default();
        let Some(mut pipe) = pipe else {
            return captured;
        };
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(captured.bytes.len());
                    captured.bytes.extend_from_slice(&buffer[..n.min(room)]);
                    captured.total_len += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        captured
    })
}

/// Streams lines of a pipe to a channel, keeping at most `cap` bytes per line (for interactive sessions).
pub fn line_reader(pipe: impl Read + Send + 'static, cap: usize) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = io::BufReader::new(pipe);
        let mut line = Vec::new();
        let mut byte = [0u8; 8192];
        loop {
            match reader.read(&mut byte) {
                Ok(0) => break,
                Ok(n) => {
                    for &b in &byte[..n] {
                        if b == b'\n' {
                            if sender.send(std::mem::take(&mut line)).is_err() {
                                return;
                            }
                        } else if line.len() < cap {
                            line.push(b);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if !line.is_empty() {
            let _ = sender.send(line);
        }
    });
    receiver
}

/// The rlimits to set in the child, computed before fork (nothing may allocate after it).
#[derive(Clone, Copy)]
struct RlimitPlan {
    data: Option<u64>,
    file_size: Option<u64>,
    processes: Option<u64>,
}

impl RlimitPlan {
    fn new(limits: &Limits) -> Self {
        RlimitPlan {
            data: limits.memory_bytes,
            file_size: limits.file_size_bytes,
            // RLIMIT_NPROC counts every process and thread of the user, not of the child: add what already runs.
            processes: limits.processes.map(|extra| extra + user_task_count()),
        }
    }

    fn apply(&self) -> io::Result<()> {
        die_with_parent()?;
        set_limit(libc::RLIMIT_CORE, Some(0));
        set_limit(libc::RLIMIT_DATA, self.data);
        set_limit(libc::RLIMIT_FSIZE, self.file_size);
        set_limit(libc::RLIMIT_NPROC, self.processes);
        Ok(())
    }
}

/// Linux: the child gets SIGKILL when the thread that started it dies. A grader is itself run in a sandbox,
/// in its own process group; if the CLI kills that group at the grader's time limit, the learner's program
/// (in a group of its own) must not outlive it.
#[cfg(target_os = "linux")]
fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl and getppid are async-signal-safe.
    unsafe {
        let parent = libc::getppid();
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The parent may have died between fork and prctl: then nobody would ever send the signal.
        if libc::getppid() != parent {
            return Err(io::Error::other(
                "the parent exited while the child was starting",
            ));
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent() -> io::Result<()> {
    Ok(())
}

#[cfg(target_os = "linux")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_os = "linux"))]
type Resource = libc::c_int;

fn set_limit(resource: Resource, value: Option<u64>) {
    let Some(value) = value else { return };
    // SAFETY: getrlimit/setrlimit are async-signal-safe; a limit we may not raise is left as it is.
    unsafe {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(resource, &mut current) != 0 {
            return;
        }
        let wanted = (value as libc::rlim_t).min(current.rlim_max);
        if wanted < current.rlim_cur || current.rlim_cur == libc::RLIM_INFINITY {
            let limit = libc::rlimit {
                rlim_cur: wanted,
                rlim_max: current.rlim_max,
            };
            libc::setrlimit(resource, &limit);
        }
    }
}

/// Processes and threads the current user runs now (Linux: from /proc; elsewhere a generous guess).
fn user_task_count() -> u64 {
    static COUNT: OnceLock<u64> = OnceLock::new();
    *COUNT.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::MetadataExt;
            // SAFETY: getuid never fails.
            let uid = unsafe { libc::getuid() };
            let Ok(entries) = std::fs::read_dir("/proc") else {
                return 4096;
            };
            entries
                .flatten()
                .filter(|entry| {
                    entry
                        .file_name()
                        .to_str()
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                })
                .filter(|entry| entry.metadata().is_ok_and(|meta| meta.uid() == uid))
                .map(|entry| {
                    std::fs::read_dir(entry.path().join("task"))
                        .map_or(1, |tasks| tasks.count() as u64)
                })
                .sum()
        }
        #[cfg(not(target_os = "linux"))]
        {
            4096
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    /// Alive and not a zombie waiting for init to reap it.
    fn is_running(pid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .trim_start()
            .chars()
            .next();
        !matches!(state, None | Some('Z') | Some('X'))
    }

    fn quick() -> Limits {
        Limits {
            timeout: Duration::from_secs(5),
            ..Limits::default()
        }
    }

    // A well-behaved program: its output and exit code come back as they are.
    #[test]
    fn run_captures_output_and_exit_code() {
        let done = run(shell("echo out; echo err >&2; exit 3"), &quick(), None).unwrap();
        assert_eq!(done.termination, Termination::Exited(3));
        assert_eq!(done.stdout.text(), "out\n");
        assert_eq!(done.stderr.text(), "err\n");
    }

    // An infinite loop is stopped at the time limit, with everything it forked.
    #[test]
    fn run_kills_the_whole_group_at_the_timeout() {
        let limits = Limits {
            timeout: Duration::from_millis(300),
            ..quick()
        };
        let done = run(shell("sleep 30 & sleep 30 & echo $! ; wait"), &limits, None).unwrap();
        assert_eq!(done.termination, Termination::TimedOut);
        let grandchild: i32 = done.stdout.text().trim().parse().unwrap();
        assert!(
            !is_running(grandchild),
            "a forked child outlived the timeout"
        );
    }

    // A flood is cut at the cap but read to the end, so the writer is never blocked.
    #[test]
    fn run_caps_output_and_keeps_draining() {
        let limits = Limits {
            output_cap: 1000,
            ..quick()
        };
        let done = run(shell("head -c 5000000 /dev/zero"), &limits, None).unwrap();
        assert!(done.termination.is_success());
        assert_eq!(done.stdout.bytes.len(), 1000);
        assert_eq!(done.stdout.total_len, 5_000_000);
        assert!(done.stdout.is_truncated());
    }

    // stdin is never a terminal: a program reading it sees end of file at once.
    #[test]
    fn run_gives_no_stdin() {
        let done = run(shell("cat; echo done"), &quick(), None).unwrap();
        assert_eq!(done.stdout.text(), "done\n");
    }

    // A cancel token stops a running program early.
    #[test]
    fn run_stops_when_cancelled() {
        let cancel = Cancel::default();
        let trigger = cancel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            trigger.cancel();
        });
        let done = run(shell("sleep 30"), &quick(), Some(&cancel)).unwrap();
        assert_eq!(done.termination, Termination::Cancelled);
    }

    // The file size limit stops a program filling the disk.
    #[test]
    fn run_limits_file_size() {
        let limits = Limits {
            file_size_bytes: Some(1 << 20),
            ..quick()
        };
        let done = run(
            shell("head -c 5000000 /dev/zero > big; echo $?"),
            &limits,
            None,
        )
        .unwrap();
        assert_ne!(
            done.stdout.text().trim(),
            "0",
            "a 5 MB file was written under a 1 MB limit"
        );
    }

    // The program runs in a fresh temp dir, not in the course directory.
    #[test]
    fn run_uses_a_temp_working_directory() {
        let done = run(shell("pwd"), &quick(), None).unwrap();
        assert!(
            done.stdout.text().contains("backlings-run-"),
            "cwd was {}",
            done.stdout.text()
        );
    }
}
