//! The last exchanges between grader and program, kept for the failure report.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// How many exchanges a report shows.
const KEPT: usize = 8;
/// Longest text kept per message; a flood is cut with a note.
const MESSAGE_CAP: usize = 600;

/// One message the grader sent and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Where it happened: `stdin`, `conn 3`, `http`…
    pub channel: String,
    /// What the grader sent.
    pub sent: String,
    /// What the program answered, if anything yet.
    pub got: Option<String>,
}

/// Shared, thread-safe record of the current scenario and its last exchanges.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript(Arc<Mutex<Inner>>);

#[derive(Debug, Default)]
struct Inner {
    scenario: Option<String>,
    scenarios_passed: Vec<String>,
    exchanges: VecDeque<Exchange>,
}

impl Transcript {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new scenario: the previous one passed, and the exchanges start afresh.
    pub fn begin_scenario(&self, name: &str) {
        let mut inner = self.inner();
        if let Some(done) = inner.scenario.take() {
            inner.scenarios_passed.push(done);
        }
        inner.scenario = Some(name.to_string());
        inner.exchanges.clear();
    }

    /// Records a message sent; returns its slot so the answer can be attached.
    pub fn sent(&self, channel: &str, sent: &str) {
        let mut inner = self.inner();
        if inner.exchanges.len() == KEPT {
            inner.exchanges.pop_front();
        }
        inner.exchanges.push_back(Exchange {
            channel: channel.to_string(),
            sent: clip(sent),
            got: None,
        });
    }

    /// Attaches the answer to the oldest exchange on `channel` still waiting for one (answers come in order,
    /// also when requests are pipelined), or records a lone answer.
    pub fn got(&self, channel: &str, got: &str) {
        let mut inner = self.inner();
        let open = inner
            .exchanges
            .iter_mut()
            .find(|e| e.channel == channel && e.got.is_none());
        match open {
            Some(exchange) => exchange.got = Some(clip(got)),
            None => {
                if inner.exchanges.len() == KEPT {
                    inner.exchanges.pop_front();
                }
                let exchange = Exchange {
                    channel: channel.to_string(),
                    sent: String::new(),
                    got: Some(clip(got)),
                };
                inner.exchanges.push_back(exchange);
            }
        }
    }

    /// Scenarios finished so far, and the one running now.
    pub fn scenarios(&self) -> (Vec<String>, Option<String>) {
        let inner = self.inner();
        (inner.scenarios_passed.clone(), inner.scenario.clone())
    }

    /// The kept exchanges, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.inner().exchanges.iter().cloned().collect()
    }
}

fn clip(text: &str) -> String {
    if text.len() <= MESSAGE_CAP {
        return text.to_string();
    }
    let mut end = MESSAGE_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end)
}
