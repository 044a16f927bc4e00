//! The graders of track 4 (validation and transformation) of backlings: one module per exercise.

mod dates;
mod problem;
mod val1_syntax_type_checks;
mod val2_semantic_conditional;
mod val3_normalize_transform;
mod val4_schema_before_deser;

use backlings_grade::Grader;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        Grader {
            exercise: "val1_syntax_type_checks",
            grade: val1_syntax_type_checks::grade,
        },
        Grader {
            exercise: "val2_semantic_conditional",
            grade: val2_semantic_conditional::grade,
        },
        Grader {
            exercise: "val3_normalize_transform",
            grade: val3_normalize_transform::grade,
        },
        Grader {
            exercise: "val4_schema_before_deser",
            grade: val4_schema_before_deser::grade,
        },
    ])
}
