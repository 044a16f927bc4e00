//! The graders of track 7 (SQL on SQLite: schema, joins, transactions, indexes) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
