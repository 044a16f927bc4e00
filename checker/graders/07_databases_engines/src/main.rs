//! The graders of track 7 (MVCC, locks, B+tree and hash index, LSM) of backlings: one module per exercise.

mod db4_mvcc_isolation;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "db4_mvcc_isolation",
        grade: db4_mvcc_isolation::grade,
    }])
}
