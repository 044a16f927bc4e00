//! `backlings dev bench`: how long a save takes to become a verdict, stage by stage, and what the watcher costs idle.
//!
//! A "save" is simulated on the reference solution of each chosen exercise: a comment with a counter is appended
//! (so cargo really recompiles) and the whole pipeline runs, as `watch` would run it. The solution file is restored
//! byte for byte afterwards, and a copy is kept under `.backlings/backups/` while the benchmark runs.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use camino::Utf8PathBuf;

use crate::pipeline::{self, BatchOptions, Job, Stage};
use crate::workspace::Workspace;

/// Runs the benchmark on `names` (default: the first exercise) with `runs` saves each, then measures the watcher
/// idle for `idle_seconds`.
pub fn run(
    ws: &Workspace,
    names: &[String],
    runs: usize,
    idle_seconds: u64,
) -> anyhow::Result<ExitCode> {
    let chosen: Vec<String> = if names.is_empty() {
        ws.exercises()
            .iter()
            .take(1)
            .map(|e| e.name.clone())
            .collect()
    } else {
        names.to_vec()
    };
    let runs = runs.max(1);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<28} {:>4}  {:>15}  {:>15}  {:>15}  {:>15}  {:>15}",
        "exercise",
        "runs",
        "compile p50/p95",
        "tests p50/p95",
        "grader p50/p95",
        "clippy p50/p95",
        "total p50/p95"
    );
    for name in &chosen {
        let exercise = ws.find(name)?;
        let samples = time_saves(ws, exercise, runs)?;
        let _ = writeln!(table, "{}", samples.row(name, runs));
        eprintln!("benchmarked `{name}`");
    }
    println!("save → verdict, warm, on the reference solution (milliseconds):\n{table}");
    if idle_seconds > 0 {
        let idle = measure_idle_watcher(ws, idle_seconds)?;
        println!("{idle}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Per-stage durations of every run.
#[derive(Default)]
struct Samples {
    compile: Vec<Duration>,
    tests: Vec<Duration>,
    grader: Vec<Duration>,
    clippy: Vec<Duration>,
    total: Vec<Duration>,
}

impl Samples {
    fn row(&self, name: &str, runs: usize) -> String {
        format!(
            "{name:<28} {runs:>4}  {:>15}  {:>15}  {:>15}  {:>15}  {:>15}",
            percentiles(&self.compile),
            percentiles(&self.tests),
            percentiles(&self.grader),
            percentiles(&self.clippy),
            percentiles(&self.total)
        )
    }
}

/// `p50/p95` in milliseconds, or `-` when the stage never ran.
fn percentiles(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "-".to_string();
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |p: usize| sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1)].as_millis();
    format!("{}/{}", at(50), at(95))
}

/// Restores a file's original bytes when dropped, whatever happens in between.
struct RestoreOnDrop {
    path: Utf8PathBuf,
    original: Vec<u8>,
}

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.path, &self.original) {
            eprintln!(
                "error: could not restore `{}`: {e} (a copy is in .backlings/backups/)",
                self.path
            );
        }
    }
}

fn time_saves(
    ws: &Workspace,
    exercise: &crate::exercise::Exercise,
    runs: usize,
) -> anyhow::Result<Samples> {
    let path = ws.root().join(exercise.solution_path());
    let original = std::fs::read(&path).with_context(|| format!("cannot read `{path}`"))?;
    let backups = ws.root().join(".backlings").join("backups");
    std::fs::create_dir_all(&backups).with_context(|| format!("cannot create `{backups}`"))?;
    let backup = backups.join(format!("{}.bench.rs", exercise.solution_bin()));
    std::fs::write(&backup, &original).with_context(|| format!("cannot write `{backup}`"))?;
    let _restore = RestoreOnDrop {
        path: path.clone(),
        original: original.clone(),
    };

    let options = BatchOptions {
        color: false,
        jobs: 1,
        ..BatchOptions::default()
    };
    // One unmeasured run first: the benchmark is about warm saves, not the first build of the dependencies.
    let mut samples = Samples::default();
    for run in 0..=runs {
        let mut edited = original.clone();
        edited.extend_from_slice(format!("// bench save {run}\n").as_bytes());
        std::fs::write(&path, &edited).with_context(|| format!("cannot write `{path}`"))?;
        let job = Job::solution(exercise, vec![1]);
        let started = Instant::now();
        let verdicts = pipeline::run_jobs(ws, std::slice::from_ref(&job), &options, &mut |_| {})?;
        let total = started.elapsed();
        let verdict = verdicts
            .into_iter()
            .next()
            .context("the pipeline returned no verdict")?;
        anyhow::ensure!(
            verdict.passed(),
            "the solution of `{}` did not pass, so its timings mean nothing; run `backlings dev check --only {}`",
            exercise.name,
            exercise.name
        );
        if run == 0 {
            continue;
        }
        for stage in &verdict.stages {
            let bucket = match stage.stage {
                Stage::Compile => &mut samples.compile,
                Stage::Tests => &mut samples.tests,
                Stage::Grader | Stage::Run => &mut samples.grader,
                Stage::Clippy => &mut samples.clippy,
            };
            bucket.push(stage.duration);
        }
        samples.total.push(total);
    }
    std::fs::remove_file(&backup).ok();
    Ok(samples)
}

/// Starts `backlings watch` without a terminal, waits for its first verdict, then measures its CPU time and
/// memory over `seconds` of idleness.
fn measure_idle_watcher(ws: &Workspace, seconds: u64) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot find the backlings executable")?;
    let mut child = Command::new(exe)
        .arg("watch")
        .current_dir(ws.root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start `backlings watch`")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("verdict:") => break,
            Some(Ok(_)) => {}
            _ => {
                let _ = child.kill();
                anyhow::bail!("`backlings watch` ended before its first verdict");
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "no first verdict within 10 minutes"
        );
    }
    // Keep reading so the watcher never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let pid = child.id();
    let before = cpu_ticks(pid)?;
    // A real wait is the point here: we are measuring what the watcher does while nothing happens.
    std::thread::sleep(Duration::from_secs(seconds));
    let after = cpu_ticks(pid)?;
    let memory = memory_kib(pid)?;
    drop(child.stdin.take());
    let _ = child.wait();
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_ms = (after - before) as f64 * 1000.0 / ticks_per_second;
    Ok(format!(
        "watcher idle for {seconds} s: {cpu_ms:.0} ms of CPU ({:.2} %), resident memory {} KiB (peak {} KiB)",
        cpu_ms / (seconds as f64 * 10.0),
        memory.0,
        memory.1
    ))
}

/// utime + stime of a process, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .context("reading /proc: the idle measurement needs Linux")?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    let utime: u64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .context("unexpected /proc stat")?;
    let stime: u64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .context("unexpected /proc stat")?;
    Ok(utime + stime)
}

/// (VmRSS, VmHWM) in KiB.
fn memory_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}
