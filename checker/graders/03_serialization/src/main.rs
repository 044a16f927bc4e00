//! The graders of track 3 (serialization) of backlings: one module per exercise, plus what they share
//! (JSON that keeps its key order, seeded awkward text).

mod ordered_json;
mod ser1_json_structs;
mod ser2_missing_null_extra;
mod ser3_dates_timezones;
mod ser4_custom_serde;
mod ser5_protobuf_wire;
mod text;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "ser1_json_structs",
            grade: ser1_json_structs::grade,
        },
        backlings_grade::Grader {
            exercise: "ser2_missing_null_extra",
            grade: ser2_missing_null_extra::grade,
        },
        backlings_grade::Grader {
            exercise: "ser3_dates_timezones",
            grade: ser3_dates_timezones::grade,
        },
        backlings_grade::Grader {
            exercise: "ser4_custom_serde",
            grade: ser4_custom_serde::grade,
        },
        backlings_grade::Grader {
            exercise: "ser5_protobuf_wire",
            grade: ser5_protobuf_wire::grade,
        },
    ])
}
