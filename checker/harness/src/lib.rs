//! What an exercise's provided `main` uses, so the learner writes only the interesting part.
//!
//! - [`stdio`]: serve a handler over JSON lines (one request per stdin line, one reply per stdout line).
//! - [`clock`]: a `Clock` trait with a manual clock, so time-based code is tested without sleeping.

pub mod clock;
pub mod http;
pub mod stdio;
