//! A temp copy of a fixture course, removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fixture course copied into a temp directory.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// A copy of `tests/fixtures/<fixture>`.
    pub fn new(fixture: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("backlings-test-")
            .tempdir()
            .unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
        copy_tree(&source, dir.path());
        Sandbox { dir }
    }

    /// A copy of the mini course.
    pub fn mini() -> Sandbox {
        Sandbox::new("mini")
    }

    /// The same copy, committed to a fresh git repository (for `reset` and `--exercises-from REF`).
    pub fn with_git(self) -> Sandbox {
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "shipped"]);
        self
    }

    /// Runs git in the course.
    pub fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// The course root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `backlings` in the course, without colours.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("backlings");
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE")
            // Each temp course builds in its own target dir: a shared CARGO_TARGET_DIR would mix their bins.
            .env_remove("CARGO_TARGET_DIR")
            .timeout(std::time::Duration::from_secs(300));
        cmd
    }

    /// Copies the solution of `name` in `dir` over the exercise.
    pub fn solve(&self, dir: &str, name: &str) {
        let file = format!("{dir}/{name}.rs");
        std::fs::copy(
            self.path().join("solutions").join(&file),
            self.path().join("exercises").join(&file),
        )
        .unwrap();
    }

    /// Writes `content` to a path of the course.
    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Reads a path of the course.
    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).unwrap()
    }

    /// Processes still alive whose executable lives in this course (a leftover learner program).
    pub fn live_processes(&self) -> Vec<PathBuf> {
        let root = self.path().canonicalize().unwrap();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| std::fs::read_link(entry.path().join("exe")).ok())
            .filter(|exe| exe.starts_with(&root))
            .collect()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" && entry.file_name() != ".backlings" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The text of a command's stdout.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
