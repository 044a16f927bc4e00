//! The timeout scenarios of `mw5_request_context`: a report held in its upstream call past its budget must
//! get its 504 on time, and its work must stop, with no further call and no commit.

use std::io::BufReader;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use backlings_grade::Failure;
use backlings_grade::http;

use super::session::Session;
use super::{ORDERS_TIMEOUT_MS, Probe, SLACK_MS};

/// Sends `probe` on a connection of its own (so it can be waited for while others go on).
fn open_request(
    s: &mut Session,
    probe: &Probe,
    wait: Duration,
) -> Result<BufReader<TcpStream>, Failure> {
    let mut stream = s.server.connect()?;
    stream
        .set_read_timeout(Some(wait))
        .map_err(|e| Failure::new(format!("could not set a timeout: {e}")))?;
    let bytes = probe.request().to_bytes();
    std::io::Write::write_all(&mut stream, &bytes)
        .map_err(|e| Failure::new(format!("could not send {}: {e}", probe.describe())))?;
    Ok(BufReader::new(stream))
}

pub(super) fn timeout_mid_job(s: &mut Session) -> Result<(), Failure> {
    let budget = s.report_timeout_ms;
    let finished = s.finished()?;
    let commits = s.upstream.seen("/reports/commit").len();
    let steps_before = s.upstream.seen("/reports/step").len();
    // An order, held at its first upstream call for as long as the report takes to time out.
    let mut order = Probe::new("POST", "/orders");
    order.authorization = Some(s.bearer(1));
    s.upstream.hold("/inventory/reserve", 0);
    let mut order_reader = open_request(
        s,
        &order,
        Duration::from_millis(ORDERS_TIMEOUT_MS + SLACK_MS),
    )?;
    if !s.upstream.wait_until_held(1, Duration::from_secs(5)) {
        s.upstream.release();
        return Err(Failure::new(
            "POST /orders calls GET /inventory/reserve upstream first; it never arrived",
        ));
    }
    let steps = s.rng.range(3, 5);
    let mut report = Probe::new("POST", &format!("/reports?steps={steps}"));
    report.authorization = Some(s.bearer(0));
    s.upstream.hold("/reports/step", 0);
    let started = Instant::now();
    let mut report_reader =
        open_request(s, &report, Duration::from_millis(budget + SLACK_MS + 500))?;
    let answer = http::read_response_from(&mut report_reader, false);
    let elapsed = started.elapsed().as_millis() as u64;
    let held_both = s.upstream.wait_until_held(2, Duration::from_secs(2));
    s.upstream.release();
    let explain = |failure: Failure| {
        failure
            .detail(format!("the request: {} (its route's budget: {budget} ms)", report.describe()))
            .detail("the grader held its first GET /reports/step: the job was stuck there when the budget ran out")
    };
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            s.server.record(
                &http::printable(&report.request().to_bytes()),
                &format!("<no answer: {e}>"),
            );
            return Err(explain(Failure::new(format!(
                "past its budget a route answers 504 at once, without waiting for the work: no answer came within \
                 {} ms ({e})",
                budget + SLACK_MS + 500
            ))));
        }
    };
    s.server.record(
        &http::printable(&report.request().to_bytes()),
        &response.summary(),
    );
    if response.status != 504 {
        return Err(explain(
            Failure::new(
                "a report still running when its budget runs out is answered 504 Gateway Timeout",
            )
            .got(format!("{} after {elapsed} ms", response.status)),
        ));
    }
    if elapsed < budget {
        return Err(explain(Failure::new(format!(
            "the 504 comes when the budget runs out, not before: {elapsed} ms after the request, the budget is \
             {budget} ms"
        ))));
    }
    if elapsed > budget + SLACK_MS {
        return Err(explain(Failure::new(format!(
            "the 504 comes when the budget runs out: {elapsed} ms is far past {budget} ms (was the timeout measured \
             after the work returned?)"
        ))));
    }
    if response.header("X-Request-Id").is_none() {
        return Err(explain(Failure::new(
            "every response carries X-Request-Id, a 504 too",
        )));
    }
    if !held_both {
        return Err(explain(Failure::new(
            "the job calls GET /reports/step once per step: the grader held the first call, which never arrived",
        )));
    }
    // The order has waited as long as the report's budget, well within its own.
    let order_answer = http::read_response_from(&mut order_reader, false)
        .map_err(|e| Failure::new(format!("POST /orders never answered: {e}")))?;
    s.server.record(
        &http::printable(&order.request().to_bytes()),
        &order_answer.summary(),
    );
    if order_answer.status != 200 {
        return Err(Failure::new(format!(
            "each route has its own budget: POST /orders may take {ORDERS_TIMEOUT_MS} ms, and it was only held about \
             {elapsed} ms (the report's budget is {budget} ms)"
        ))
        .expected("200")
        .got(format!("{} · {}", order_answer.status, order_answer.text()))
        .detail(format!("the request: {}", order.describe())));
    }
    check_stopped(s, finished, commits, steps_before + 1, &report)
}

pub(super) fn timeout_last_step(s: &mut Session) -> Result<(), Failure> {
    let budget = s.report_timeout_ms;
    let finished = s.finished()?;
    let commits = s.upstream.seen("/reports/commit").len();
    let steps_before = s.upstream.seen("/reports/step").len();
    let mut report = Probe::new("POST", "/reports?steps=1");
    report.authorization = Some(s.bearer(1));
    report.request_id = Some(format!("last-step-{}", s.rng.word(5)));
    s.upstream.hold("/reports/step", 0);
    let mut reader = open_request(s, &report, Duration::from_millis(budget + SLACK_MS + 500))?;
    let answer = http::read_response_from(&mut reader, false);
    s.upstream.release();
    match answer {
        Ok(response) if response.status == 504 => {
            s.server.record(
                &http::printable(&report.request().to_bytes()),
                &response.summary(),
            );
        }
        Ok(response) => {
            return Err(Failure::new(
                "a report still running when its budget runs out is answered 504",
            )
            .got(response.summary())
            .detail(format!("the request: {}", report.describe())));
        }
        Err(e) => {
            s.server.record(
                &http::printable(&report.request().to_bytes()),
                &format!("<no answer: {e}>"),
            );
            return Err(Failure::new(format!(
                "past its budget a route answers 504 at once, without waiting for the work: no answer ({e})"
            ))
            .detail(format!("the request: {}", report.describe())));
        }
    }
    check_stopped(s, finished, commits, steps_before + 1, &report)
}

/// After a 504 and the release of the held call: the job ends, with no call after the held one.
fn check_stopped(
    s: &mut Session,
    finished: u64,
    commits: usize,
    steps: usize,
    report: &Probe,
) -> Result<(), Failure> {
    let ended = s.wait_finished(finished + 1)?;
    let got_commits = s.upstream.seen("/reports/commit").len();
    let got_steps = s.upstream.seen("/reports/step").len();
    let detail = "the grader held one GET /reports/step until after the 504, then let it return: from then on the \
                  job must stop (`ctx.check()` before every call), so nothing more arrives upstream";
    if got_commits != commits {
        return Err(Failure::new(
            "a request that was answered 504 never commits: the client was told it failed, will retry, and the side \
             effect would happen twice (the timeout must cancel the context, and the work must check it before the \
             commit)",
        )
        .expected(format!("{commits} POST /reports/commit in all"))
        .got(format!("{got_commits}"))
        .detail(format!("the request: {}", report.describe()))
        .detail(detail));
    }
    if got_steps != steps {
        return Err(Failure::new(
            "after the 504 the work stops: the step that was in flight may finish, but no further upstream call is \
             made for a request nobody waits for",
        )
        .expected(format!("{steps} GET /reports/step in all"))
        .got(format!("{got_steps}"))
        .detail(format!("the request: {}", report.describe()))
        .detail(detail));
    }
    if !ended {
        return Err(Failure::new(
            "a cancelled job ends soon after its in-flight call returns (GET /stats counts it): it must not hang",
        ));
    }
    Ok(())
}
