//! The graders of track 7 (ORM and N+1, pools, migrations, NoSQL models) of backlings: one module per exercise.

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[])
}
