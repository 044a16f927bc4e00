//! What a wrong answer of `mw1_chain_next` means: the rule it breaks, found by looking at how the trace
//! differs from the onion model, and the failure the learner reads.

use backlings_grade::Failure;
use backlings_grade::http::Response;

use super::{Expected, Layer, Probe, spec, split_trace};

/// The rule `response` breaks, in plain words, or `None` when it is the expected answer.
pub(super) fn diagnose(
    chain: &[Layer],
    probe: &Probe,
    expected: &Expected,
    response: &Response,
) -> Option<String> {
    let headers = response.headers_named("X-Trace-Order");
    if headers.len() > 1 {
        return Some(
            "a message has one X-Trace-Order header: header names are case-insensitive, so a layer appends \
             to the existing trace header whatever the case of its name, and never adds a second one"
                .to_string(),
        );
    }
    let got = headers
        .first()
        .map(|value| split_trace(value))
        .unwrap_or_default();
    let handled = response.header("X-Handled").map(str::to_string);
    let expected_handled = expected.handled.map(|n| n.to_string());
    if got == expected.trace
        && response.status == expected.status
        && response.text() == expected.body
        && handled == expected_handled
    {
        return None;
    }
    if response.status == 500 && expected.status != 500 {
        return Some(
            "the chain answered 500: a layer or the handler panicked (its message is in the program's stderr \
             below)"
                .to_string(),
        );
    }
    if let Some(refuser) = expected.refused_by {
        let name = &chain[refuser].name;
        if response.status != 403 {
            return Some(format!(
                "gate `{name}` is named in X-Deny (a comma-separated list of exact names, spaces around a \
                 name allowed): it refuses the request with 403 `denied by {name}` and never calls next"
            ));
        }
        if got.iter().any(|entry| entry == "handler")
            || chain[refuser + 1..]
                .iter()
                .any(|inner| got.contains(&format!(">{}", inner.name)))
        {
            return Some(format!(
                "a gate that refuses a request must not call next: the short-circuit at `{name}` skips every \
                 layer inside it and the handler"
            ));
        }
    } else if response.status == 403 {
        return Some(
            "a gate refuses only when its own exact name is in X-Deny: a name that merely contains it (or is \
             contained in it) is another name"
                .to_string(),
        );
    }
    let client: Vec<String> = match &probe.trace {
        Some((_, value)) => split_trace(value),
        None => Vec::new(),
    };
    let other_case = probe
        .trace
        .as_ref()
        .is_some_and(|(name, _)| *name != "X-Trace-Order");
    if (other_case && is_subsequence(&got, &expected.trace))
        || (!client.is_empty() && !got.starts_with(&client))
    {
        return Some(
            "the trace the client sent stays at the front: header names are case-insensitive, so \
             `x-trace-order` is the same header as `X-Trace-Order`, and layers append to it"
                .to_string(),
        );
    }
    let own = &got[client.len().min(got.len())..];
    let wanted = &expected.trace[client.len()..];
    if let Some(refuser) = expected.refused_by {
        let name = &chain[refuser].name;
        if own.first().is_some_and(|entry| entry.starts_with('!')) && refuser > 0 {
            return Some(format!(
                "the 403 of gate `{name}` carries the trace it received (the `>NAME` entries of the layers \
                 outside it) followed by `!{name}`"
            ));
        }
        let exits = |trace: &[String]| trace.iter().filter(|e| e.starts_with('<')).count();
        if exits(own) < exits(wanted) {
            return Some(format!(
                "a short-circuited response still goes back out through the post-hook of every layer outside \
                 gate `{name}`: each of them appends its `<NAME`"
            ));
        }
    }
    let enters = |trace: &[String]| -> Vec<String> {
        trace
            .iter()
            .filter(|e| e.starts_with('>'))
            .cloned()
            .collect()
    };
    let (got_enters, wanted_enters) = (enters(own), enters(wanted));
    if got_enters != wanted_enters && got_enters.iter().rev().eq(wanted_enters.iter()) {
        return Some(
            "the first layer of the chain is the outermost: it is the first to see the request and the last \
             to see the response"
                .to_string(),
        );
    }
    let middle = own
        .iter()
        .position(|e| e == "handler" || e.starts_with('!'))
        .unwrap_or(own.len());
    if own[..middle].iter().any(|e| e.starts_with('<')) {
        return Some(
            "a post-hook runs after next returns, on the way out: a layer's `<NAME` comes after everything \
             inside it (the handler included), not before"
                .to_string(),
        );
    }
    if got == expected.trace && response.status == expected.status && handled != expected_handled {
        return Some(match (expected.handled, handled) {
            (Some(count), Some(_)) => format!(
                "the handler must have run {count} times by now (once per request let through): more means a \
                 refused request reached it, so a gate that refuses must not call next, not even to throw \
                 the answer away"
            ),
            (None, Some(_)) => {
                "a gate that refuses a request must not call next: this 403 carries the \
                                handler's X-Handled, so the handler ran for a refused request"
                    .to_string()
            }
            (_, None) => {
                "the handler's answer (with its X-Handled header) goes back out unchanged, apart \
                          from the trace"
                    .to_string()
            }
        });
    }
    if got != expected.trace {
        return Some(
            "every layer appends `>NAME` to the request on the way in, in chain order, and `<NAME` to the \
             response on the way out, in reverse order: the onion"
                .to_string(),
        );
    }
    Some(
        "the answer of the handler (or of the refusing gate) goes back out unchanged, apart from the trace"
            .to_string(),
    )
}

/// Whether `part` is `whole` with some entries left out (and at least one).
fn is_subsequence(part: &[String], whole: &[String]) -> bool {
    let mut rest = whole.iter();
    part.len() < whole.len() && part.iter().all(|entry| rest.any(|e| e == entry))
}

/// The failure the learner reads: the rule, both answers, the chain and the request.
pub(super) fn explain(
    rule: String,
    chain: &[Layer],
    probe: &Probe,
    expected: &Expected,
    response: &Response,
) -> Failure {
    let headers = response.headers_named("X-Trace-Order");
    let got_trace = match headers.as_slice() {
        [] => "no X-Trace-Order".to_string(),
        [one] => format!("X-Trace-Order: {one}"),
        many => format!("{} X-Trace-Order headers: {}", many.len(), many.join(" | ")),
    };
    let mut failure = Failure::new(rule)
        .expected(format!(
            "{} · X-Trace-Order: {} · {} · body {:?}",
            expected.status,
            expected.trace.join(","),
            match expected.handled {
                Some(count) => format!("X-Handled: {count}"),
                None => "no X-Handled".to_string(),
            },
            expected.body
        ))
        .got(format!(
            "{} · {got_trace} · {} · body {:?}",
            response.status,
            match response.header("X-Handled") {
                Some(count) => format!("X-Handled: {count}"),
                None => "no X-Handled".to_string(),
            },
            response.text()
        ))
        .detail(format!(
            "the chain, outermost first: --chain {}",
            if chain.is_empty() {
                "(none)".to_string()
            } else {
                spec(chain)
            }
        ))
        .detail(format!(
            "the request: GET {}{}{}",
            probe.path,
            probe
                .trace
                .as_ref()
                .map(|(n, v)| format!(" · {n}: {v}"))
                .unwrap_or_default(),
            probe
                .deny
                .as_ref()
                .map(|(n, v)| format!(" · {n}: {v:?}"))
                .unwrap_or_default()
        ));
    if let Some(refuser) = expected.refused_by {
        failure = failure.detail(format!(
            "gate `{}` is the outermost gate named in X-Deny: it answers by itself, and nothing inside it runs",
            chain[refuser].name,
        ));
    }
    failure
}
