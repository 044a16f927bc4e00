//! The graders of track 1 (HTTP/2 frames, QUIC-lite, the request journey) of backlings: one module per exercise.

mod http7_h2_multiplexing;
mod http8_quic_streams_udp;
mod http9_request_journey;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "http7_h2_multiplexing",
            grade: http7_h2_multiplexing::grade,
        },
        backlings_grade::Grader {
            exercise: "http8_quic_streams_udp",
            grade: http8_quic_streams_udp::grade,
        },
        backlings_grade::Grader {
            exercise: "http9_request_journey",
            grade: http9_request_journey::grade,
        },
    ])
}
