//! The check of one run of the learner's loop: its timeline, step by step, against what the
//! contract allows.

use backlings_grade::Failure;
use serde_json::{Value, json};

use super::model::{Case, Class, Step, classify};
use backlings_grade::upstream::Reply;

/// The program's answer to a `run`.
#[derive(Debug, Clone)]
pub struct Run {
    pub attempts: u64,
    pub stop: String,
    pub outcome: Value,
    /// Start time of each attempt, in order.
    pub attempt_at: Vec<u64>,
    /// `(start, length)` of each sleep; sleep `i` comes right after attempt `i`.
    pub sleeps: Vec<(u64, u64)>,
}

impl Run {
    pub fn sleep_lengths(&self) -> Vec<u64> {
        self.sleeps.iter().map(|&(_, ms)| ms).collect()
    }
}

/// Reads a `run` answer, and checks its timeline has the shape attempt, sleep, attempt, …, attempt.
pub fn parse_run(answer: &Value) -> Result<Run, Failure> {
    if let Some(error) = answer.get("error") {
        return Err(Failure::new("the program answered a `run` request with an error").got(error));
    }
    let malformed =
        |what: &str| Failure::new(format!("the answer to `run` is missing {what}")).got(answer);
    let attempts = answer["attempts"]
        .as_u64()
        .ok_or_else(|| malformed("`attempts`"))?;
    let stop = answer["stop"]
        .as_str()
        .ok_or_else(|| malformed("`stop`"))?
        .to_string();
    let events = answer["events"]
        .as_array()
        .ok_or_else(|| malformed("`events`"))?;
    let mut run = Run {
        attempts,
        stop,
        outcome: answer["outcome"].clone(),
        attempt_at: vec![],
        sleeps: vec![],
    };
    let mut expect_attempt = true;
    for event in events {
        let at = event["at_ms"]
            .as_u64()
            .ok_or_else(|| malformed("`at_ms` in an event"))?;
        if let Some(ms) = event["sleep_ms"].as_u64() {
            if expect_attempt {
                let rule = match run.attempt_at.len() {
                    0 => "the loop must call the upstream before it ever sleeps".to_string(),
                    n => format!(
                        "the loop slept twice in a row after attempt {n}: one wait per retry"
                    ),
                };
                return Err(Failure::new(rule).got(answer));
            }
            run.sleeps.push((at, ms));
            expect_attempt = true;
        } else {
            run.attempt_at.push(at);
            expect_attempt = false;
        }
    }
    if run.attempt_at.is_empty() {
        return Err(Failure::new(
            "the loop never called the upstream: the first attempt is always made",
        )
        .got(answer));
    }
    Ok(run)
}

/// Checks one run step by step against the contract. Every rejection names the step and the rule it
/// broke.
pub fn check_run(case: &Case, run: &Run) -> Result<(), Failure> {
    let story = |failure: Failure| tell_story(failure, case, run);
    let p = &case.policy;
    let deadline = p.deadline_ms;
    if let Some(&(at, ms)) = run.sleeps.get(run.attempt_at.len() - 1) {
        let rule = format!(
            "the loop slept {ms} ms after its last attempt and then stopped: a wait is only worth it before a \
             retry. If the deadline stopped it, check before the wait: never sleep into the deadline"
        );
        return Err(story(Failure::new(rule).got(format!(
            "a sleep from {at} ms to {} ms, then nothing",
            at + ms
        ))));
    }
    if run.attempts != run.attempt_at.len() as u64 {
        let rule = "`attempts` in the result must count the calls the loop made";
        return Err(story(
            Failure::new(rule)
                .expected(run.attempt_at.len())
                .got(run.attempts),
        ));
    }
    for (i, &start) in run.attempt_at.iter().enumerate() {
        let step = case.step(i);
        let end = start + step.latency_ms;
        let made = i as u32 + 1;
        let is_last = i + 1 == run.attempt_at.len();
        let class = classify(&step.reply);
        let (stop, rule) = match class {
            Class::Success => (
                Some("succeeded"),
                format!("a {} is a success and ends the loop", step.reply.describe()),
            ),
            Class::Fatal => (
                Some("not_retryable"),
                format!(
                    "a {} is final: a 4xx other than 429 must come back at once, without a retry",
                    step.reply.describe()
                ),
            ),
            Class::Retryable(_) if !case.is_retry_safe() => (
                Some("not_retry_safe"),
                format!(
                    "a {} must not be retried, even after a retryable {}: if the first answer was lost after \
                     the server acted, a retry would act twice",
                    case.describe_request(),
                    step.reply.describe()
                ),
            ),
            Class::Retryable(_) if made >= p.max_attempts => (
                Some("out_of_attempts"),
                format!(
                    "max_attempts counts every attempt, the first one included: with max_attempts = {} the loop \
                     stops after attempt {made} and returns its failure",
                    p.max_attempts
                ),
            ),
            Class::Retryable(Some(wait)) if end + wait >= deadline => (
                Some("deadline_reached"),
                format!(
                    "never sleep into the deadline: attempt {made} ended at {end} ms, the server asked for \
                     Retry-After {wait} ms, and {end} + {wait} >= the deadline {deadline} ms, so the loop must \
                     stop now and return the last failure"
                ),
            ),
            Class::Retryable(_) => (None, String::new()),
        };
        match (stop, is_last) {
            (Some(stop), true) => {
                if run.stop != stop {
                    let rule = format!(
                        "{rule}; the loop stopped at the right attempt but gave the wrong reason"
                    );
                    return Err(story(Failure::new(rule).expected(stop).got(&run.stop)));
                }
                return check_outcome(step, run).map_err(story);
            }
            (Some(stop), false) => {
                let expected = format!("stop after attempt {made} with `{stop}`");
                let got = format!("attempt {} was made", made + 1);
                return Err(story(Failure::new(rule).expected(expected).got(got)));
            }
            (None, true) => {
                let ceiling = p.ceiling(i as u32);
                let may_stop = class == Class::Retryable(None) && end + ceiling >= deadline;
                if may_stop && run.stop == "deadline_reached" {
                    return check_outcome(step, run).map_err(story);
                }
                let rule = format!(
                    "a retryable {} with attempts left (max_attempts {}) and time left before the deadline must \
                     be retried",
                    step.reply.describe(),
                    p.max_attempts
                );
                let got = format!("the loop stopped after attempt {made} with `{}`", run.stop);
                return Err(story(Failure::new(rule).got(got)));
            }
            (None, false) => {
                let (at, ms) = run.sleeps[i];
                if let Class::Retryable(Some(wait)) = class {
                    if ms != wait {
                        let rule = format!(
                            "a {} asks for exactly {wait} ms: Retry-After replaces the backoff delay",
                            step.reply.describe()
                        );
                        return Err(story(
                            Failure::new(rule)
                                .expected(format!("{wait} ms"))
                                .got(format!("{ms} ms")),
                        ));
                    }
                } else {
                    let ceiling = p.ceiling(i as u32);
                    if ms > ceiling {
                        let rule = format!(
                            "the delay before retry {made} must lie in [0, min(cap, base·2^{i})] = [0, {ceiling}] ms"
                        );
                        return Err(story(
                            Failure::new(rule)
                                .expected(format!("at most {ceiling} ms"))
                                .got(format!("{ms} ms")),
                        ));
                    }
                }
                if at + ms >= deadline {
                    let rule = format!(
                        "never sleep into the deadline: a sleep of {ms} ms after attempt {made} (at {at} ms) \
                         reaches the deadline of {deadline} ms; the loop must stop instead and return the last failure"
                    );
                    return Err(story(Failure::new(rule)));
                }
            }
        }
    }
    unreachable!("the last attempt always returns")
}

fn check_outcome(step: &Step, run: &Run) -> Result<(), Failure> {
    if step.outcome_matches(&run.outcome) {
        return Ok(());
    }
    let expected = match &step.reply {
        Reply::Reset => json!({ "connection_failed": "…" }),
        Reply::Status { status, .. } => json!({ "status": status }),
    };
    Err(
        Failure::new("the loop must hand back the last attempt's outcome as it is")
            .expected(expected)
            .got(&run.outcome),
    )
}

/// Adds the case and what the loop did to a failure, so the learner can replay it in their head.
fn tell_story(mut failure: Failure, case: &Case, run: &Run) -> Failure {
    failure = failure
        .detail(format!("policy:   {}", case.policy.describe()))
        .detail(format!("request:  {}", case.describe_request()))
        .detail(format!("upstream: {}", case.describe_script()));
    let mut lines = Vec::new();
    for (i, &at) in run.attempt_at.iter().enumerate() {
        let step = case.step(i);
        lines.push(format!(
            "attempt {} at {at} ms → {} after {} ms",
            i + 1,
            step.reply.describe(),
            step.latency_ms
        ));
        if let Some(&(_, ms)) = run.sleeps.get(i) {
            let ceiling = match classify(&step.reply) {
                Class::Retryable(Some(wait)) => format!("the server asked for {wait} ms"),
                _ => format!("allowed: 0 to {} ms", case.policy.ceiling(i as u32)),
            };
            lines.push(format!("  slept {ms} ms ({ceiling})"));
        }
    }
    failure = failure.detail("your loop:");
    for line in lines.iter().take(24) {
        failure = failure.detail(format!("  {line}"));
    }
    if lines.len() > 24 {
        failure = failure.detail(format!("  … {} more lines", lines.len() - 24));
    }
    failure.detail(format!("  stopped: {}", run.stop))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::res2_retry_backoff_jitter::model::{NO_DEADLINE, Policy};

    fn case(policy: Policy, script: Vec<Reply>) -> Case {
        let script = script
            .into_iter()
            .map(|reply| Step {
                reply,
                latency_ms: 10,
            })
            .collect();
        Case {
            policy,
            method: "GET",
            key: None,
            seed: 1,
            script,
        }
    }

    fn run(attempt_at: Vec<u64>, sleeps: Vec<(u64, u64)>, stop: &str, outcome: Value) -> Run {
        Run {
            attempts: attempt_at.len() as u64,
            stop: stop.into(),
            outcome,
            attempt_at,
            sleeps,
        }
    }

    const POLICY: Policy = Policy {
        base_ms: 100,
        cap_ms: 1000,
        max_attempts: 4,
        deadline_ms: NO_DEADLINE,
    };

    // The ceiling doubles from base, stops at the cap, and never overflows.
    #[test]
    fn ceiling_doubles_then_caps() {
        assert_eq!(
            [0, 1, 2, 3, 4, 200].map(|r| POLICY.ceiling(r)),
            [100, 200, 400, 800, 1000, 1000]
        );
    }

    // A correct run passes; a delay over the ceiling and a retried 404 are rejected.
    #[test]
    fn checks_delays_and_final_answers() {
        let c = case(
            POLICY,
            vec![Reply::status(503), Reply::Reset, Reply::status(200)],
        );
        let good = run(
            vec![0, 60],
            vec![(10, 50)],
            "succeeded",
            json!({"status": 200}),
        );
        // Attempt 2 is a reset; the loop must go on, so this "succeeded" after 2 attempts is wrong.
        assert!(check_run(&c, &good).is_err());
        let good = run(
            vec![0, 60, 270],
            vec![(10, 50), (70, 200)],
            "succeeded",
            json!({"status": 200}),
        );
        check_run(&c, &good).unwrap();
        let late = run(
            vec![0, 60, 271],
            vec![(10, 50), (70, 201)],
            "succeeded",
            json!({"status": 200}),
        );
        assert!(
            check_run(&c, &late)
                .unwrap_err()
                .message
                .contains("must lie in")
        );
        let c = case(POLICY, vec![Reply::status(404), Reply::status(200)]);
        let retried = run(
            vec![0, 20],
            vec![(10, 10)],
            "succeeded",
            json!({"status": 200}),
        );
        assert!(
            check_run(&c, &retried)
                .unwrap_err()
                .message
                .contains("at once")
        );
    }
}
