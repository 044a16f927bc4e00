//! The graders of track 15, consensus: deterministic cluster simulations of the learner's state machines.

mod netsim;
mod raft1_election;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[backlings_grade::Grader {
        exercise: "raft1_election",
        grade: raft1_election::grade,
    }])
}
