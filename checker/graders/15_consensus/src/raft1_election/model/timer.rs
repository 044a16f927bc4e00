//! The checks of a tick: the election timer's bounds, a correct election start, a leader's heartbeats.

use std::collections::BTreeSet;

use backlings_grade::Failure;

use super::{HEARTBEAT_INTERVAL, Model, SAME_TIMEOUT_IN_A_ROW, TIMEOUT_MAX, TIMEOUT_MIN};
use super::{describe_all, sorted_by_receiver};
use crate::raft1_election::wire::{Body, Message, Role, State};

impl Model {
    pub(super) fn check_tick(
        &mut self,
        id: usize,
        before: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        if before.role == Role::Leader {
            return self.check_leader_tick(id, before, after, out);
        }
        let node = &mut self.nodes[id];
        node.since_reset += 1;
        node.since_any_reset += 1;
        let (since_reset, since_any_reset) = (node.since_reset, node.since_any_reset);
        if after == before && out.is_empty() {
            if since_any_reset >= TIMEOUT_MAX {
                let rule = format!(
                    "the election timeout is at most {TIMEOUT_MAX} ticks: node n{id} ({before}) has gone \
                     {since_any_reset} ticks since {}, and has still not started an election",
                    self.nodes[id].any_reset_reason
                );
                let why = "only three events reset the timer: starting an election, granting a vote, and \
                           accepting a heartbeat of the current term; a refused vote request or a new term alone \
                           does not";
                return Err(self.fail(rule).detail(why));
            }
            return Ok(());
        }
        let expected = State {
            role: Role::Candidate,
            term: before.term + 1,
            voted_for: Some(id),
        };
        if after != expected {
            let rule = "on a tick, a follower or candidate either changes nothing or starts an election: \
                        its term goes up by one, it becomes a candidate and votes for itself";
            return Err(self.fail(rule).expected(expected).got(after));
        }
        let log = self.nodes[id].log;
        let body = Body::RequestVote {
            last_log_index: log.last_index,
            last_log_term: log.last_term,
        };
        let expected_out: Vec<Message> = self
            .peers(id)
            .map(|to| Message {
                from: id,
                to,
                term: expected.term,
                body: body.clone(),
            })
            .collect();
        if sorted_by_receiver(out) != expected_out {
            let rule = "a new candidate sends one RequestVote, with its log's last index and last term, to every \
                        other node";
            return Err(self
                .fail(rule)
                .expected(describe_all(&expected_out))
                .got(describe_all(out)));
        }
        if since_reset < TIMEOUT_MIN {
            let rule = format!(
                "the election timeout is at least {TIMEOUT_MIN} ticks, counted from the last reset of the timer: \
                 node n{id} started an election only {since_reset} ticks after {} (the timer must be reset then)",
                self.nodes[id].reset_reason
            );
            return Err(self.fail(rule));
        }
        let node = &mut self.nodes[id];
        if since_reset == since_any_reset {
            node.recent_timeouts.push(since_reset);
            self.observed_timeouts.push(since_reset);
        } else {
            node.recent_timeouts.clear();
        }
        let recent = &node.recent_timeouts;
        if recent.len() >= SAME_TIMEOUT_IN_A_ROW && recent.iter().all(|&t| t == recent[0]) {
            let rule = format!(
                "election timeouts are drawn at random from {TIMEOUT_MIN}..={TIMEOUT_MAX} ticks, afresh at every \
                 reset: node n{id} waited exactly {} ticks before each of its last {} elections",
                recent[0],
                recent.len()
            );
            return Err(self.fail(rule));
        }
        if node.recent_timeouts.len() >= SAME_TIMEOUT_IN_A_ROW {
            node.recent_timeouts.remove(0);
        }
        node.timer_reset(format!(
            "it started its election for term {}",
            expected.term
        ));
        node.votes = BTreeSet::from([id]);
        Ok(())
    }

    fn check_leader_tick(
        &mut self,
        id: usize,
        before: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        if after != before {
            let rule = "a tick changes nothing about a leader's role, term or vote";
            return Err(self.fail(rule).expected(before).got(after));
        }
        if let Some(msg) = out.iter().find(|m| m.body != Body::AppendEntries) {
            let rule = "on a tick a leader sends only heartbeats (AppendEntries)";
            return Err(self.fail(rule).got(msg.to_json()));
        }
        let peers: Vec<usize> = self.peers(id).collect();
        let node = &mut self.nodes[id];
        for &peer in &peers {
            node.since_heartbeat[peer] += 1;
        }
        for msg in out {
            node.since_heartbeat[msg.to] = 0;
        }
        if let Some(&late) = peers
            .iter()
            .find(|&&p| node.since_heartbeat[p] >= HEARTBEAT_INTERVAL)
        {
            let rule = format!(
                "a leader sends a heartbeat (AppendEntries) to every other node on every {HEARTBEAT_INTERVAL}rd \
                 tick: leader n{id} of term {} has sent nothing to n{late} for {} ticks",
                before.term, node.since_heartbeat[late]
            );
            return Err(self.fail(rule));
        }
        Ok(())
    }
}
