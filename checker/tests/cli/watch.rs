//! `backlings watch`, for real: a running watcher on a temp copy of the mini course, its files edited the ways
//! editors save them, its verdict lines read back with timeouts (no terminal: plain mode). One test drives the
//! terminal screen in tmux.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::sandbox::Sandbox;

/// Long enough for a first build on a loaded 2-core machine; only reached when something is wrong.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(180);

const BROKEN: &str = "exercises/00_basics/broken.rs";
const BROKEN_SOLUTION: &str = "solutions/00_basics/broken.rs";

/// A `backlings watch` without a terminal, its stdout read line by line on a thread.
struct Watch {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    transcript: Vec<String>,
}

impl Watch {
    fn start(sb: &Sandbox, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backlings"))
            .arg("watch")
            .args(args)
            .current_dir(sb.path())
            .env("NO_COLOR", "1")
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start backlings watch");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Watch {
            child,
            stdin,
            lines,
            transcript: Vec::new(),
        }
    }

    /// Types a command line.
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write to backlings' stdin");
    }

    /// The next line containing `needle`, or a panic showing everything seen so far (also when a verdict comes
    /// first, unless a verdict is what is awaited).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + VERDICT_TIMEOUT;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.transcript.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                    // A verdict while waiting for something else is a run nobody asked for.
                    assert!(
                        !line.starts_with("verdict: "),
                        "unexpected verdict while waiting for `{needle}`; backlings printed:\n{}",
                        self.transcript.join("\n")
                    );
                }
                Err(err) => panic!(
                    "no line with `{needle}` ({err:?}); backlings printed:\n{}",
                    self.transcript.join("\n")
                ),
            }
        }
    }

    /// The next `verdict:` line, which must contain `expected`.
    fn expect_verdict(&mut self, expected: &str) {
        let line = self.wait_for("verdict: ");
        assert!(
            line.contains(expected),
            "expected a verdict with `{expected}`, got `{line}`; backlings printed:\n{}",
            self.transcript.join("\n")
        );
    }

    /// Closes stdin (EOF ends the watcher) and returns its exit status with the verdict lines it still printed.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        drop(self.stdin.take());
        let mut rest = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "backlings did not exit at the end of its stdin; it printed:\n{}",
                        rest.join("\n")
                    )
                }
            }
        }
        let status = wait_with_timeout(&mut self.child, Duration::from_secs(30))
            .expect("backlings exits after its stdout closes");
        (
            status,
            rest.into_iter()
                .filter(|line| line.starts_with("verdict: "))
                .collect(),
        )
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SIGTERM first: backlings then kills what it started; SIGKILL only if it does not exit.
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(self.pid(), libc::SIGTERM) };
            if wait_with_timeout(&mut self.child, Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits until a program of the course runs (`looping`, started by watch).
fn wait_until_running(sb: &Sandbox) {
    let deadline = Instant::now() + VERDICT_TIMEOUT;
    while sb.live_processes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no program of the course ever started"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The solution of `broken` with `answer` returning `value` (42 passes its test, anything else fails it).
fn broken_answering(sb: &Sandbox, value: u32) -> String {
    sb.read(BROKEN_SOLUTION)
        .replace("    42\n", &format!("    {value}\n"))
}

/// Starts watch on `broken`, which does not compile as shipped.
fn watch_broken(sb: &Sandbox) -> Watch {
    let mut watch = Watch::start(sb, &[]);
    watch.expect_verdict("hello passed");
    watch.send("l broken");
    watch.expect_verdict("broken compile failed");
    watch
}

// Each way editors save gives exactly one verdict, on the content saved; rewriting identical bytes, touching
// swap files and saving another exercise give none. Consecutive saves alternate pass and fail, so a second
// verdict for one save would show up as the wrong verdict on the next one.
#[test]
fn watch_grades_every_kind_of_editor_save_exactly_once() {
    let sb = Sandbox::mini();
    let dir = sb.path().join("exercises/00_basics");
    let (pass, fail) = (broken_answering(&sb, 42), broken_answering(&sb, 41));
    let mut watch = watch_broken(&sb);

    // In place (most editors, `echo >`).
    std::fs::write(sb.path().join(BROKEN), &pass).unwrap();
    watch.expect_verdict("broken passed");

    // vim: probe file `4913`, swap file, the original renamed to a `~` backup, a new file written, backup deleted.
    std::fs::write(dir.join("4913"), "").unwrap();
    std::fs::remove_file(dir.join("4913")).unwrap();
    std::fs::write(dir.join(".broken.rs.swp"), "swap").unwrap();
    std::fs::rename(dir.join("broken.rs"), dir.join("broken.rs~")).unwrap();
    std::fs::write(dir.join("broken.rs"), &fail).unwrap();
    std::fs::remove_file(dir.join("broken.rs~")).unwrap();
    watch.expect_verdict("broken tests failed");

    // JetBrains: write a temp file, move the original aside, rename the temp over it, delete the old one.
    std::fs::write(dir.join("broken.rs___jb_tmp___"), &pass).unwrap();
    std::fs::rename(dir.join("broken.rs"), dir.join("broken.rs___jb_old___")).unwrap();
    std::fs::rename(dir.join("broken.rs___jb_tmp___"), dir.join("broken.rs")).unwrap();
    std::fs::remove_file(dir.join("broken.rs___jb_old___")).unwrap();
    watch.expect_verdict("broken passed");

    // Delete, then create anew (some editors, `git checkout`).
    std::fs::remove_file(dir.join("broken.rs")).unwrap();
    std::fs::write(dir.join("broken.rs"), &fail).unwrap();
    watch.expect_verdict("broken tests failed");

    // Write to a `.tmp` file and rename it over (atomic-save plugins, VS Code on some file systems).
    std::fs::write(dir.join("broken.rs.tmp"), &pass).unwrap();
    std::fs::rename(dir.join("broken.rs.tmp"), dir.join("broken.rs")).unwrap();
    watch.expect_verdict("broken passed");

    // Nothing new to grade: the same bytes again, a swap file, another exercise. Then a real change, whose
    // verdict must be the next one.
    std::fs::write(dir.join("broken.rs"), &pass).unwrap();
    std::fs::write(dir.join(".broken.rs.swp"), "swap again").unwrap();
    std::fs::write(
        dir.join("hello.rs"),
        sb.read("exercises/00_basics/hello.rs") + "\n",
    )
    .unwrap();
    watch.wait_for("`hello` changed, but the current exercise is `broken`");
    std::fs::write(dir.join("broken.rs"), &fail).unwrap();
    watch.expect_verdict("broken tests failed");

    thread::sleep(Duration::from_secs(1));
    let (status, extra) = watch.finish();
    assert!(
        status.success(),
        "watch exits 0 at the end of its stdin, got {status}"
    );
    assert!(
        extra.is_empty(),
        "one save, one verdict; these came on top: {extra:?}"
    );
}

// Twenty saves in a row are graded once, and what is graded is the last one (the only one that passes).
#[test]
fn watch_grades_the_last_save_of_a_burst_once() {
    let sb = Sandbox::mini();
    let mut watch = watch_broken(&sb);
    for save in 1..=20 {
        let value = if save == 20 { 42 } else { save };
        std::fs::write(sb.path().join(BROKEN), broken_answering(&sb, value)).unwrap();
    }
    watch.expect_verdict("broken passed");
    thread::sleep(Duration::from_secs(1));
    let (status, extra) = watch.finish();
    assert!(status.success());
    assert!(
        extra.is_empty(),
        "a burst of saves gives one verdict; these came on top: {extra:?}"
    );
}

// A save while the exercise runs (here: loops until its timeout) cancels that run, kills its processes and
// grades the new content instead; the stale run has no verdict.
#[test]
fn a_save_during_a_run_cancels_it_and_grades_the_new_content() {
    let sb = Sandbox::mini();
    let mut watch = Watch::start(&sb, &[]);
    watch.expect_verdict("hello passed");
    watch.send("l looping");
    // Saved while the program loops (it is stopped at 1.5 s): only a cancel avoids a timed-out verdict.
    wait_until_running(&sb);
    sb.solve("00_basics", "looping");
    watch.expect_verdict("looping passed");
    assert!(
        sb.live_processes().is_empty(),
        "the cancelled run left processes: {:?}",
        sb.live_processes()
    );
    let (status, extra) = watch.finish();
    assert!(status.success());
    assert!(
        extra.is_empty(),
        "the cancelled run must not print a verdict: {extra:?}"
    );
}

// SIGTERM ends the watcher (128 + 15) and every process it started, even in the middle of a run.
#[test]
fn sigterm_stops_the_watcher_and_every_child() {
    let sb = Sandbox::mini();
    let mut watch = Watch::start(&sb, &[]);
    watch.expect_verdict("hello passed");
    watch.send("l looping");
    wait_until_running(&sb);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(watch.pid(), libc::SIGTERM) };
    let status = wait_with_timeout(&mut watch.child, Duration::from_secs(20))
        .expect("backlings exits on SIGTERM");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sb.live_processes().is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes outlived the watcher: {:?}",
            sb.live_processes()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

// With --manual-run a save does nothing by itself; Enter (an empty line) grades the file.
#[test]
fn manual_run_grades_on_enter_only() {
    let sb = Sandbox::mini();
    let mut watch = Watch::start(&sb, &["--manual-run"]);
    watch.expect_verdict("hello passed");
    let hello = sb
        .read("exercises/00_basics/hello.rs")
        .replace("\"hello from main\"\n", "\"hi\"\n");
    sb.write("exercises/00_basics/hello.rs", &hello);
    // Long enough for a watcher (150 ms of quiet) to have fired, had there been one.
    thread::sleep(Duration::from_secs(1));
    watch.send("");
    watch.expect_verdict("hello tests failed");
    let (status, extra) = watch.finish();
    assert!(status.success());
    assert!(
        extra.is_empty(),
        "only Enter runs in manual mode: {extra:?}"
    );
}

/// A tmux server of its own (its own socket), killed on drop with everything in it.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> Tmux {
        assert!(
            Command::new("tmux")
                .arg("-V")
                .output()
                .is_ok_and(|out| out.status.success()),
            "this test drives the watch screen in tmux, which is not installed: install it (apt-get install tmux)"
        );
        let socket = format!("backlings-watch-test-{}", std::process::id());
        let tmux = Tmux { socket };
        let shell = format!(
            "cd '{}' && unset CARGO_TARGET_DIR && {command}; echo EXITED=$?; stty -a; sleep 600",
            dir.display()
        );
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "watch",
            &shell,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "watch", keys]);
    }

    /// Waits until the screen satisfies `ready`, and returns it.
    fn screen_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + VERDICT_TIMEOUT;
        loop {
            let screen = self.run(&["capture-pane", "-p", "-t", "watch"]);
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}; it shows:\n{screen}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

// The screen a learner sees: the exercise path and the progress bar, a hint on `h`, the list with per-track
// progress on `l`, and `q` quits with the terminal back in cooked mode.
#[test]
fn the_watch_screen_shows_progress_and_hints_and_quits_cleanly() {
    let sb = Sandbox::mini();
    // What the screen must show, from the fixture's info.toml: the first exercise (it passes as shipped),
    // its first hint, and the size of its track.
    let info: toml::Table = toml::from_str(&sb.read("info.toml")).unwrap();
    let exercises = info["exercises"].as_array().unwrap();
    let field = |index: usize, key: &str| exercises[index][key].as_str().unwrap().to_string();
    let (first, second, track) = (field(0, "name"), field(1, "name"), field(0, "dir"));
    let hints = exercises[0]["hints"].as_array().unwrap();
    let in_track = exercises
        .iter()
        .filter(|e| e["dir"].as_str() == Some(&track))
        .count();
    let path = format!("exercises/{track}/{first}.rs");
    let tmux = Tmux::start(sb.path(), &format!("'{}'", env!("CARGO_BIN_EXE_backlings")));

    let solved = format!("1/{} solved", exercises.len());
    let screen = tmux.screen_until("the first verdict", |screen| screen.contains(&solved));
    assert!(
        screen.contains(&format!("current:  {path}  (solved)")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("{first} passes every stage")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("Press n for the next exercise: `{second}`")),
        "{screen}"
    );

    tmux.keys("h");
    let hint = format!("hint 1/{}: {}", hints.len(), hints[0].as_str().unwrap());
    tmux.screen_until("hint 1", |screen| screen.contains(&hint));

    tmux.keys("l");
    let heading = format!("{track}  1/{in_track}");
    let list = tmux.screen_until("the list", |screen| screen.contains(&heading));
    assert!(list.contains(&format!("> ✓ {first}  (current)")), "{list}");
    tmux.keys("Escape");
    tmux.screen_until("the main screen again", |screen| screen.contains(&path));

    tmux.keys("q");
    // Wait for `stty -a` too: it prints just after the exit line, and a loaded machine may show the two apart.
    let screen = tmux.screen_until("the exit", |screen| {
        screen.contains("EXITED=0")
            && screen
                .split("EXITED=0")
                .nth(1)
                .is_some_and(|rest| rest.contains("icanon"))
    });
    let settings: Vec<&str> = screen
        .split("EXITED=0")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(
        settings.contains(&"icanon") && settings.contains(&"echo"),
        "the terminal is still raw after quitting:\n{screen}"
    );
}
