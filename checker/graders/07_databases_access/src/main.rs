//! The graders of track 7 (ORM and N+1, pools, migrations, NoSQL models) of backlings: one module per exercise.

mod db8_orm_n_plus_one;
mod scratch;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "db8_orm_n_plus_one",
        grade: db8_orm_n_plus_one::grade,
    }])
}
