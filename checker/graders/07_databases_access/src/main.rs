//! The graders of track 7 (ORM and N+1, pools, migrations, NoSQL models) of backlings: one module per exercise.

mod db8_orm_n_plus_one;
mod db9_connection_pool;
mod scratch;

use backlings_grade::Grader;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        Grader {
            exercise: "db8_orm_n_plus_one",
            grade: db8_orm_n_plus_one::grade,
        },
        Grader {
            exercise: "db9_connection_pool",
            grade: db9_connection_pool::grade,
        },
    ])
}
