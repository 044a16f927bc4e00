//! The checks of a delivered message: term adoption, exact vote decisions, counting votes, heartbeats.

use backlings_grade::Failure;

use super::{Model, describe_all, describe_set};
use crate::raft1_election::wire::{Body, LogPosition, Message, Role, State};

impl Model {
    pub(super) fn check_delivery(
        &mut self,
        msg: &Message,
        before: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        let id = msg.to;
        let higher = msg.term > before.term;
        if higher {
            self.check_term_adoption(msg, before, after)?;
        }
        let base = if higher {
            State {
                role: Role::Follower,
                term: msg.term,
                voted_for: None,
            }
        } else {
            before
        };
        match msg.body {
            Body::RequestVote {
                last_log_index,
                last_log_term,
            } => {
                let candidate_log = LogPosition {
                    last_index: last_log_index,
                    last_term: last_log_term,
                };
                self.check_vote(msg, candidate_log, higher, base, after, out)
            }
            Body::RequestVoteReply { granted } => {
                self.check_vote_reply(msg, granted, base, after, out)
            }
            Body::AppendEntries => self.check_heartbeat(msg, base, after, out),
            Body::AppendEntriesReply { .. } => {
                self.expect_state(
                    id,
                    base,
                    after,
                    "an AppendEntriesReply changes nothing but the term (rule 1)",
                )?;
                self.expect_out(out, &[], "an AppendEntriesReply needs no answer")
            }
        }
    }

    fn check_term_adoption(
        &self,
        msg: &Message,
        before: State,
        after: State,
    ) -> Result<(), Failure> {
        let id = msg.to;
        let rule = format!(
            "a message with a higher term makes the receiver adopt that term and become a follower, before \
             anything else (rule 1): n{id} was {before} and got {} from n{}",
            msg.summary(),
            msg.from
        );
        if after.term != msg.term || after.role != Role::Follower {
            let expected = format!("follower in term {}", msg.term);
            return Err(self.fail(rule).expected(expected).got(after));
        }
        let voted_now =
            matches!(msg.body, Body::RequestVote { .. }) && after.voted_for == Some(msg.from);
        if after.voted_for.is_some() && !voted_now {
            let rule = format!(
                "moving to a new term clears the vote: n{id} has not voted in term {} yet, but reports voted_for \
                 n{} (its vote belongs to term {})",
                msg.term,
                after.voted_for.unwrap_or_default(),
                before.term
            );
            return Err(self.fail(rule).expected("voted_for: null").got(after));
        }
        Ok(())
    }

    fn check_vote(
        &mut self,
        msg: &Message,
        candidate_log: LogPosition,
        higher: bool,
        base: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        let (id, candidate) = (msg.to, msg.from);
        let own_log = self.nodes[id].log;
        let current_term = msg.term == base.term;
        let free = base.voted_for.is_none_or(|v| v == candidate);
        let up_to_date = candidate_log.is_at_least_as_up_to_date_as(own_log);
        let grant = current_term && free && up_to_date;
        let answers: Vec<&Message> = out.iter().filter(|m| m.to == candidate).collect();
        let granted = match (out.len(), answers.first().map(|m| &m.body)) {
            (1, Some(Body::RequestVoteReply { granted })) => *granted,
            _ => {
                let rule = "every RequestVote gets exactly one RequestVoteReply, sent back to the candidate";
                let expected = format!("RequestVoteReply t{} to n{candidate}", base.term);
                return Err(self.fail(rule).expected(expected).got(describe_all(out)));
            }
        };
        if granted && !grant {
            let rule = if !current_term {
                format!(
                    "a RequestVote from an older term must be refused: n{id} is in term {} and granted its vote \
                     to n{candidate} for term {}",
                    base.term, msg.term
                )
            } else if !free {
                format!(
                    "at most one vote per node per term: n{id} had already voted for n{} in term {}, and granted \
                     n{candidate} too",
                    base.voted_for.unwrap_or_default(),
                    base.term
                )
            } else {
                format!(
                    "the up-to-date check (section 5.4.1) refuses a candidate whose log is behind the voter's: \
                     n{id} granted its vote to n{candidate}, whose {candidate_log}, but n{id}'s own {own_log} \
                     (a lower last term loses; with equal last terms, a shorter log loses)"
                )
            };
            return Err(self
                .fail(rule)
                .expected("granted: false")
                .got("granted: true"));
        }
        if !granted && grant {
            let moved = if higher {
                format!(" (n{id} moved to it on this very message)")
            } else {
                String::new()
            };
            let rule = format!(
                "n{id} refused its vote to n{candidate}, but every condition to grant it held: the request's term \
                 {term} is n{id}'s current term{moved}, n{id} had not voted for another candidate in term {term}, \
                 and n{candidate}'s {candidate_log}, at least as up-to-date as n{id}'s own {own_log}",
                term = base.term
            );
            return Err(self
                .fail(rule)
                .expected("granted: true")
                .got("granted: false"));
        }
        let expected = State {
            voted_for: if grant {
                Some(candidate)
            } else {
                base.voted_for
            },
            ..base
        };
        self.expect_state(
            id,
            expected,
            after,
            "a vote changes only voted_for (and a higher term, rule 1)",
        )?;
        if grant {
            self.nodes[id].timer_reset(format!(
                "it granted its vote to n{candidate} in term {}",
                base.term
            ));
        }
        Ok(())
    }

    fn check_vote_reply(
        &mut self,
        msg: &Message,
        granted: bool,
        base: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        let id = msg.to;
        let size = self.size();
        let majority = size / 2 + 1;
        if base.role == Role::Leader {
            self.expect_state(
                id,
                base,
                after,
                "a leader ignores vote replies of its own term or older",
            )?;
            return self.expect_out(
                out,
                &[],
                "a leader ignores vote replies of its own term or older",
            );
        }
        let counts = base.role == Role::Candidate && msg.term == base.term && granted;
        if counts {
            self.nodes[id].votes.insert(msg.from);
        }
        let votes = self.nodes[id].votes.clone();
        let wins = counts && votes.len() >= majority;
        if after.role == Role::Leader && !wins {
            let rule = if counts {
                format!(
                    "a candidate becomes leader only with granted votes from a majority of the cluster ({majority} \
                     of {size}), each voter counted once: n{id} became leader of term {} with votes from only {} \
                     (a duplicated reply is still one vote)",
                    base.term,
                    describe_set(&votes)
                )
            } else {
                format!(
                    "only a granted reply of the candidate's own term is a vote: n{id} ({base}) became leader on \
                     {} from n{}",
                    msg.summary(),
                    msg.from
                )
            };
            return Err(self.fail(rule));
        }
        if !wins {
            self.expect_state(
                id,
                base,
                after,
                "a vote reply that does not complete a majority changes nothing",
            )?;
            return self.expect_out(
                out,
                &[],
                "a vote reply that does not complete a majority needs no answer",
            );
        }
        if after.role != Role::Leader {
            let rule = format!(
                "n{id} holds granted votes from {}, a majority of {size} (each voter once): it becomes leader of \
                 term {}",
                describe_set(&votes),
                base.term
            );
            return Err(self.fail(rule).expected("role: leader").got(after));
        }
        self.expect_state(
            id,
            State {
                role: Role::Leader,
                ..base
            },
            after,
            "winning changes only the role",
        )?;
        let heartbeats: Vec<Message> = self
            .peers(id)
            .map(|to| Message {
                from: id,
                to,
                term: base.term,
                body: Body::AppendEntries,
            })
            .collect();
        self.expect_out(
            out,
            &heartbeats,
            "a new leader sends an AppendEntries heartbeat to every other node at once",
        )
    }

    fn check_heartbeat(
        &mut self,
        msg: &Message,
        base: State,
        after: State,
        out: &[Message],
    ) -> Result<(), Failure> {
        let (id, leader) = (msg.to, msg.from);
        if msg.term < base.term {
            let rule = format!(
                "an AppendEntries from an older term ({} < {}) comes from a deposed leader: refuse it with \
                 success: false and your current term, and change nothing",
                msg.term, base.term
            );
            let answer = Message {
                from: id,
                to: leader,
                term: base.term,
                body: Body::AppendEntriesReply { success: false },
            };
            self.expect_state(id, base, after, &rule)?;
            return self.expect_out(out, &[answer], &rule);
        }
        if base.role == Role::Leader {
            let rule = format!(
                "at most one leader per term: n{leader} sent a heartbeat of term {}, n{id}'s own",
                msg.term
            );
            return Err(self.fail(rule));
        }
        let rule = format!(
            "an AppendEntries of the receiver's current term comes from that term's leader: the receiver becomes \
             (or stays) a follower, keeps its vote and answers success: true (n{leader} is leader of term {})",
            msg.term
        );
        self.expect_state(
            id,
            State {
                role: Role::Follower,
                ..base
            },
            after,
            &rule,
        )?;
        let answer = Message {
            from: id,
            to: leader,
            term: base.term,
            body: Body::AppendEntriesReply { success: true },
        };
        self.expect_out(out, &[answer], &rule)?;
        let node = &mut self.nodes[id];
        node.timer_reset(format!(
            "it accepted a heartbeat from leader n{leader} of term {}",
            msg.term
        ));
        node.heard_from = Some((leader, msg.term));
        Ok(())
    }
}
