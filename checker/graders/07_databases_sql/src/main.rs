//! The graders of track 7 (SQL on SQLite: schema, joins, transactions, indexes) of backlings: one module per exercise.

mod db1_schema_constraints;
mod db2_joins_aggregates;
mod db3_transactions_acid;
mod db6_indexes_planner;
mod support;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "db1_schema_constraints",
            grade: db1_schema_constraints::grade,
        },
        backlings_grade::Grader {
            exercise: "db2_joins_aggregates",
            grade: db2_joins_aggregates::grade,
        },
        backlings_grade::Grader {
            exercise: "db3_transactions_acid",
            grade: db3_transactions_acid::grade,
        },
        backlings_grade::Grader {
            exercise: "db6_indexes_planner",
            grade: db6_indexes_planner::grade,
        },
    ])
}
