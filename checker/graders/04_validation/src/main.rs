//! The graders of track 4 (validation and transformation) of backlings: one module per exercise.

mod problem;
mod val1_syntax_type_checks;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "val1_syntax_type_checks",
        grade: val1_syntax_type_checks::grade,
    }])
}
