//! Integration tests: the real `backlings` binary on temp copies of the fixture courses in `tests/fixtures/`.
//!
//! `mini` is a std-only course with one exercise per situation (solved, failing test, compile error, infinite
//! loop, 100 MB of output, panic, graded by a fixture grader with a mutant); `rustlings` is a course in the
//! rustlings 6 format, laid out as `rustlings init` makes it.

mod dev;
mod run;
mod sandbox;
mod state;
mod verify;
mod watch;
