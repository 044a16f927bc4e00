//! The grader framework of backlings.
//!
//! A grader drives a learner's compiled program from outside, as the real world would: JSON lines over
//! stdin/stdout ([`Stdio`]), or raw TCP and HTTP on loopback ([`Server`], [`http`]). This crate owns everything
//! that is the same for every grader: starting and killing the program ([`sandbox`]), the wire, the seeded RNG
//! ([`Rng`]), the transcript of exchanges, time limits, the report and the replay line. A grader file holds only
//! its exercise's scenarios and checks. See `README.md` beside this crate for a tour.

pub mod http;
pub mod sandbox;
pub mod upstream;

mod cli;
mod failure;
mod grading;
mod rng;
mod server;
mod stdio;
mod transcript;

pub use cli::{Grader, main};
pub use failure::{Failure, ensure, ensure_eq};
pub use grading::Grading;
pub use rng::Rng;
pub use server::{Connection, Server};
pub use stdio::Stdio;
pub use transcript::Exchange;
