//! `backlings dev check`: the course's own test. Every exercise fails as shipped, every solution passes every
//! stage at seeds 1, 2 and 3, every grader rejects each of its mutants with the expected message, every entry
//! has its files, hints and topics, no file is orphaned, and exercises and solutions are rustfmt-clean.

use std::collections::BTreeSet;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use backlings_grade::sandbox::Cancel;
use camino::{Utf8Path, Utf8PathBuf};

use crate::exercise::Exercise;
use crate::interrupt;
use crate::pipeline::{self, BatchOptions, CargoRequest, Job, Progress};
use crate::ui::progress::ProgressLine;
use crate::ui::style::{self, paint};
use crate::workspace::Workspace;

/// Seeds every solution and every mutant is graded at.
const SEEDS: [u64; 3] = [1, 2, 3];

/// A wrong solution that the grader must reject.
struct Mutant<'a> {
    exercise: &'a Exercise,
    name: String,
    bin: String,
    expect: String,
}

/// Checks the selected exercises; exit code 1 when anything is wrong.
pub fn run(ws: &Workspace, only: &[String], jobs: Option<usize>) -> anyhow::Result<ExitCode> {
    let selected = ws.select(only)?;
    let is_backlings_course = ws
        .exercises()
        .iter()
        .any(|e| !e.topics.is_empty() || e.grader.is_some() || e.difficulty.is_some());
    let mut problems: Vec<Vec<String>> = selected
        .iter()
        .map(|exercise| static_problems(ws, exercise, is_backlings_course))
        .collect();
    let mut course_problems = if only.is_empty() {
        orphans(ws)?
    } else {
        Vec::new()
    };
    course_problems.extend(rustfmt(ws, &selected, &mut problems)?);

    let cancel = Cancel::default();
    interrupt::cancel_on_ctrl_c(cancel.clone());
    let options = BatchOptions {
        color: false,
        cancel: cancel.clone(),
        jobs: jobs.unwrap_or_else(super::super::verify::default_jobs),
    };
    let mut job_owner = Vec::new();
    let mut pipeline_jobs = Vec::new();
    for (index, exercise) in selected.iter().enumerate() {
        if !exercise.skip_check_unsolved && ws.root().join(exercise.path()).is_file() {
            pipeline_jobs.push(Job::exercise(exercise, SEEDS[0]));
            job_owner.push(index);
        }
        if ws.root().join(exercise.solution_path()).is_file() {
            pipeline_jobs.push(Job::solution(exercise, SEEDS.to_vec()));
            job_owner.push(index);
        }
    }
    let mut progress = ProgressLine::new();
    let verdicts = pipeline::run_jobs(ws, &pipeline_jobs, &options, &mut |update| {
        progress.show(update)
    })?;
    for ((job, verdict), &owner) in pipeline_jobs.iter().zip(&verdicts).zip(&job_owner) {
        if verdict.is_cancelled() {
            return Ok(ExitCode::from(130));
        }
        let is_solution = verdict.bin != job.exercise.name;
        if is_solution && !verdict.passed() {
            problems[owner].push(format!(
                "its solution fails: {}\n{}",
                verdict.summary(),
                indent(&verdict.render(false))
            ));
        } else if !is_solution && verdict.passed() {
            problems[owner].push("it passes as shipped: it must fail until the learner does the work (or set `skip_check_unsolved = true`)".to_string());
        }
    }

    let mutants = collect_mutants(ws, &selected, &mut problems)?;
    check_mutants(
        ws,
        &mutants,
        &selected,
        &mut problems,
        &options,
        &mut progress,
    )?;
    progress.clear();
    Ok(report(&selected, &problems, &course_problems))
}

fn static_problems(ws: &Workspace, exercise: &Exercise, is_backlings_course: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for path in [exercise.path(), exercise.solution_path()] {
        if !ws.root().join(&path).is_file() {
            problems.push(format!("`{path}` is missing"));
        }
    }
    if exercise.hints.is_empty() {
        problems.push("it has no hint: add `hints = [nudge, approach, near-solution]`".to_string());
    }
    if exercise
        .hints
        .iter()
        .any(|hint| hint.trim_start().starts_with("TODO"))
    {
        problems.push("a hint is still a `TODO` placeholder".to_string());
    }
    if is_backlings_course {
        if exercise.hints.len() < 3 {
            problems.push(format!(
                "it has {} hint tier(s): write three (nudge, approach, near-solution)",
                exercise.hints.len()
            ));
        }
        if exercise.topics.is_empty() {
            problems.push("it has no `topics`".to_string());
        }
        if exercise.difficulty.is_none() {
            problems.push("it has no `difficulty` (1 to 5)".to_string());
        }
        let source = std::fs::read_to_string(ws.root().join(exercise.path())).unwrap_or_default();
        if !source.is_empty() && !source.contains("TODO") {
            problems.push(
                "the exercise has no `// TODO` comment telling the learner what to do".to_string(),
            );
        }
    }
    problems
}

/// `.rs` files under `exercises/` and `solutions/` no entry names, and mutant folders of no exercise.
fn orphans(ws: &Workspace) -> anyhow::Result<Vec<String>> {
    let known: BTreeSet<Utf8PathBuf> = ws
        .exercises()
        .iter()
        .flat_map(|e| [e.path(), e.solution_path()])
        .collect();
    let mut problems = Vec::new();
    for top in ["exercises", "solutions"] {
        for file in rust_files(&ws.root().join(top))? {
            let relative = file.strip_prefix(ws.root()).unwrap_or(&file).to_owned();
            if !known.contains(&relative) {
                problems.push(format!("`{relative}` belongs to no exercise in info.toml"));
            }
        }
    }
    let mutants = ws.root().join("checker").join("mutants");
    if mutants.is_dir() {
        for entry in mutants
            .read_dir_utf8()
            .with_context(|| format!("cannot read `{mutants}`"))?
            .flatten()
        {
            if entry.path().is_dir() && ws.exercises().iter().all(|e| e.name != entry.file_name()) {
                problems.push(format!(
                    "`checker/mutants/{}/` belongs to no exercise in info.toml",
                    entry.file_name()
                ));
            }
        }
    }
    Ok(problems)
}

fn rust_files(dir: &Utf8Path) -> anyhow::Result<Vec<Utf8PathBuf>> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in dir
        .read_dir_utf8()
        .with_context(|| format!("cannot read `{dir}`"))?
    {
        let entry = entry.with_context(|| format!("cannot read `{dir}`"))?;
        if entry.path().is_dir() {
            if entry.file_name() != "target" {
                found.extend(rust_files(entry.path())?);
            }
        } else if entry.path().extension() == Some("rs") {
            found.push(entry.path().to_owned());
        }
    }
    found.sort();
    Ok(found)
}

/// `rustfmt --check --edition 2024` on the exercise and solution files; a diff is a problem of its exercise.
fn rustfmt(
    ws: &Workspace,
    selected: &[&Exercise],
    problems: &mut [Vec<String>],
) -> anyhow::Result<Vec<String>> {
    let files: Vec<(usize, Utf8PathBuf)> = selected
        .iter()
        .enumerate()
        .flat_map(|(index, e)| {
            [
                (index, ws.root().join(e.path())),
                (index, ws.root().join(e.solution_path())),
            ]
        })
        .filter(|(_, path)| path.is_file())
        .collect();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let output = Command::new("rustfmt")
        .args(["--check", "--edition", "2024"])
        .args(files.iter().map(|(_, path)| path.as_str()))
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => {
            return Ok(vec![format!(
                "rustfmt could not run ({err}): `rustup component add rustfmt` installs it"
            )]);
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    for (index, path) in &files {
        if stdout.contains(&format!("Diff in {path}:")) {
            let relative = path.strip_prefix(ws.root()).unwrap_or(path);
            problems[*index].push(format!(
                "`{relative}` is not rustfmt-clean: `rustfmt --edition 2024 {relative}` fixes it"
            ));
        }
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Ok(if stderr.trim().is_empty() {
        Vec::new()
    } else {
        vec![format!("rustfmt reported:\n{}", indent(stderr.trim()))]
    })
}

fn collect_mutants<'a>(
    ws: &Workspace,
    selected: &[&'a Exercise],
    problems: &mut [Vec<String>],
) -> anyhow::Result<Vec<(usize, Mutant<'a>)>> {
    let mut mutants = Vec::new();
    for (index, exercise) in selected.iter().enumerate() {
        let dir = ws
            .root()
            .join("checker")
            .join("mutants")
            .join(&exercise.name);
        let files = rust_files(&dir)?;
        if exercise.grader.is_none() {
            if !files.is_empty() {
                problems[index].push(format!(
                    "`{dir}` has mutants but the exercise has no grader to reject them"
                ));
            }
            continue;
        }
        if files.is_empty() {
            problems[index].push(format!(
                "its grader has no mutants: add wrong solutions in `checker/mutants/{}/`",
                exercise.name
            ));
        }
        for file in files {
            let source =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read `{file}`"))?;
            let name = file.file_stem().unwrap_or_default().to_string();
            let expect = source
                .lines()
                .take_while(|line| line.starts_with("//!"))
                .find_map(|line| {
                    line.trim_start_matches("//!")
                        .trim()
                        .strip_prefix("expect:")
                });
            match expect.map(str::trim).filter(|expect| !expect.is_empty()) {
                Some(expect) => {
                    let bin = format!("{}__mutant__{name}", exercise.name);
                    mutants.push((
                        index,
                        Mutant {
                            exercise,
                            name,
                            bin,
                            expect: expect.to_string(),
                        },
                    ));
                }
                None => problems[index].push(format!(
                    "mutant `{name}` has no `//! expect: <text of the grader's report>` line"
                )),
            }
        }
    }
    Ok(mutants)
}

/// Builds every mutant (`--features mutants`) and asserts its grader rejects it with its `expect` text.
fn check_mutants(
    ws: &Workspace,
    mutants: &[(usize, Mutant<'_>)],
    selected: &[&Exercise],
    problems: &mut [Vec<String>],
    options: &BatchOptions,
    progress: &mut ProgressLine,
) -> anyhow::Result<()> {
    if mutants.is_empty() {
        return Ok(());
    }
    let mut request = CargoRequest {
        subcommand: "build",
        ..CargoRequest::default()
    };
    let mut packages = BTreeSet::new();
    let mut bins = BTreeSet::new();
    let mut features = BTreeSet::new();
    for (_, mutant) in mutants {
        let package = ws.package_of(mutant.exercise)?;
        features.insert(format!("{package}/mutants"));
        packages.insert(package);
        bins.insert(mutant.bin.clone());
        if let Some(spec) = &mutant.exercise.grader {
            packages.insert(spec.package.clone());
            bins.insert(spec.bin().to_string());
        }
    }
    request.packages = packages.into_iter().collect();
    request.bins = bins.into_iter().collect();
    request.features = features.into_iter().collect();
    let timeout = selected
        .iter()
        .map(|e| e.timeouts.compile())
        .max()
        .unwrap_or_default();
    let build = pipeline::run_cargo(
        ws,
        &request,
        false,
        timeout,
        &options.cancel,
        &mut |update| progress.show(update),
    )?;
    let found = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, mutants.len()) {
            scope.spawn(|| {
                while let Some((index, mutant)) = mutants.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let problem = check_mutant(&build, mutant, &options.cancel);
                    if let Some(problem) = problem {
                        found
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((*index, problem));
                    }
                }
            });
        }
    });
    progress.show(Progress::Status("mutants checked".to_string()));
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort();
    for (index, problem) in found {
        problems[index].push(problem);
    }
    Ok(())
}

fn check_mutant(
    build: &pipeline::CargoOutcome,
    mutant: &Mutant<'_>,
    cancel: &Cancel,
) -> Option<String> {
    let spec = mutant.exercise.grader.as_ref()?;
    let Some(program) = pipeline::executable(build, &mutant.bin) else {
        let error = pipeline::first_error(build, &mutant.bin);
        return Some(format!(
            "mutant `{}` did not build (is `[[bin]] name = \"{}\"` with `required-features = [\"mutants\"]` in the track's Cargo.toml?):\n{}",
            mutant.name,
            mutant.bin,
            indent(&pipeline::strip_ansi(&error))
        ));
    };
    let Some(grader) = pipeline::executable(build, spec.bin()) else {
        return Some(format!(
            "the grader `{}` did not build:\n{}",
            spec.package,
            indent(&pipeline::first_error(build, spec.bin()))
        ));
    };
    for seed in SEEDS {
        let graded = pipeline::grade(grader, mutant.exercise, program, seed, cancel);
        if !graded.rejected {
            return Some(format!(
                "mutant `{}` was not rejected at seed {seed} (grader {}: {})",
                mutant.name,
                pipeline::outcome_word(graded.report.outcome),
                graded.report.summary
            ));
        }
        if !graded
            .plain
            .to_lowercase()
            .contains(&mutant.expect.to_lowercase())
        {
            return Some(format!(
                "mutant `{}` was rejected at seed {seed}, but the report does not say `{}`:\n{}",
                mutant.name,
                mutant.expect,
                indent(&graded.plain.lines().take(15).collect::<Vec<_>>().join("\n"))
            ));
        }
    }
    None
}

fn report(
    selected: &[&Exercise],
    problems: &[Vec<String>],
    course_problems: &[String],
) -> ExitCode {
    let color = style::stdout_color();
    let width = selected.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for (exercise, found) in selected.iter().zip(problems) {
        if found.is_empty() {
            println!(
                "{} {:<width$}  ok",
                paint("✓", style::GREEN_BOLD, color),
                exercise.name
            );
        } else {
            println!(
                "{} {:<width$}  {}",
                paint("✗", style::RED_BOLD, color),
                exercise.name,
                exercise.path()
            );
            for problem in found {
                println!("{}", indent(&format!("- {problem}")));
            }
        }
    }
    for problem in course_problems {
        println!("{} {problem}", paint("✗", style::RED_BOLD, color));
    }
    let count = problems.iter().map(Vec::len).sum::<usize>() + course_problems.len();
    let failing = problems.iter().filter(|found| !found.is_empty()).count();
    if count == 0 {
        println!("\ndev check: {} exercises, no problems", selected.len());
        ExitCode::SUCCESS
    } else {
        println!(
            "\ndev check: {count} problem(s), in {failing} of {} exercises{}",
            selected.len(),
            if course_problems.is_empty() {
                ""
            } else {
                " and the course"
            }
        );
        super::super::failing()
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
