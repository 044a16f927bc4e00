//! The graders of track 7 (ORM and N+1, pools, migrations, NoSQL models) of backlings: one module per exercise.

mod db10_migrations_triggers;
mod db11_document_kv_graph;
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
        Grader {
            exercise: "db10_migrations_triggers",
            grade: db10_migrations_triggers::grade,
        },
        Grader {
            exercise: "db11_document_kv_graph",
            grade: db11_document_kv_graph::grade,
        },
    ])
}
