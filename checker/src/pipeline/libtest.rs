//! Reading the output of a libtest harness: which tests passed, which failed and why.

/// What a test binary's output says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TestOutput {
    /// Tests reported `ok`.
    pub passed: Vec<String>,
    /// Tests reported `FAILED`, each with what it printed (its panic message and assertion).
    pub failed: Vec<(String, String)>,
    /// Tests reported `ignored`.
    pub ignored: usize,
}

/// Parses the human output of a libtest harness (`test x ... ok`, the `---- x stdout ----` sections).
pub fn parse(stdout: &str) -> TestOutput {
    let mut output = TestOutput::default();
    let mut failed_names = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some((name, result)) = rest.rsplit_once(" ... ") {
            match result.trim() {
                "ok" => output.passed.push(name.to_string()),
                "FAILED" => failed_names.push(name.to_string()),
                result if result.starts_with("ignored") => output.ignored += 1,
                _ => {}
            }
        }
    }
    for name in failed_names {
        let details = section(stdout, &name).unwrap_or_default();
        output.failed.push((name, details));
    }
    output
}

/// The names of tests that started (from `--list` output) but never reported a result.
pub fn unfinished(list_output: &str, finished: &TestOutput) -> Vec<String> {
    list_output
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|name| {
            !finished.passed.iter().any(|n| n == name)
                && !finished.failed.iter().any(|(n, _)| n == name)
        })
        .map(str::to_string)
        .collect()
}

/// The text of the `---- NAME stdout ----` section, without the backtrace note.
fn section(stdout: &str, name: &str) -> Option<String> {
    let header = format!("---- {name} stdout ----\n");
    let start = stdout.find(&header)? + header.len();
    let rest = &stdout[start..];
    let end = ["\n---- ", "\nfailures:\n", "\n\nfailures:"]
        .iter()
        .filter_map(|marker| rest.find(marker))
        .min()
        .unwrap_or(rest.len());
    let text: Vec<&str> = rest[..end]
        .lines()
        .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect();
    Some(text.join("\n").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\nrunning 3 tests\ntest tests::a ... ok\ntest tests::b ... FAILED\ntest tests::c ... ignored, slow\n\n\
        failures:\n\n---- tests::b stdout ----\n\nthread 'tests::b' panicked at src/x.rs:3:5:\nassertion `left == right` failed\n  left: 1\n right: 2\n\
        note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\nfailures:\n    tests::b\n\n\
        test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";

    // Names and assertion messages come out of libtest's report.
    #[test]
    fn parses_failures_with_their_messages() {
        let output = parse(OUTPUT);
        assert_eq!(output.passed, ["tests::a"]);
        assert_eq!(output.ignored, 1);
        let (name, details) = &output.failed[0];
        assert_eq!(name, "tests::b");
        assert!(
            details.starts_with("thread 'tests::b' panicked") && details.ends_with("right: 2"),
            "{details}"
        );
    }

    // A test that never reported is the one that hung.
    #[test]
    fn finds_the_tests_that_never_finished() {
        let list = "tests::a: test\ntests::b: test\ntests::loops: test\n\n3 tests, 0 benchmarks\n";
        assert_eq!(unfinished(list, &parse(OUTPUT)), ["tests::loops"]);
    }
}
