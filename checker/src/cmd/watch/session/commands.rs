//! What the keys (and, without a terminal, the command lines) do to the session.

use crate::pipeline::Verdict;

use super::super::keys::Key;
use super::super::list::ListView;
use super::{ALL_DONE, KEYS, Notice, Session, View, Work};

impl Session<'_> {
    pub(super) fn key(&mut self, key: Key) {
        self.welcome = None;
        if let View::List(list) = &mut self.view {
            match key {
                Key::Enter => {
                    let index = list.selected();
                    self.view = View::Main;
                    self.jump(index);
                }
                Key::Escape | Key::List | Key::Quit => self.view = View::Main,
                Key::Interrupt => self.quit(),
                other => list.navigate(&other),
            }
            return;
        }
        match key {
            Key::Next => self.next(),
            Key::Hint => self.hint(),
            Key::List => {
                if self.has_screen {
                    self.view = View::List(ListView::new(self.current, self.ws.exercises().len()));
                }
                self.notices.push(Notice::List);
            }
            Key::Run => self.rerun_current(),
            Key::Enter if self.manual_run => self.rerun_current(),
            Key::Enter => self.tell("saving the file runs it; r runs it again".into()),
            Key::CheckAll => self.check_all(),
            Key::Escape if self.running() == Some(Work::CheckAll) => self.cancel_running(),
            Key::Clear => {
                self.verdict = None;
                self.run_error = None;
                self.note = None;
                self.hints_visible = 0;
                self.checked.clear();
            }
            Key::Quit | Key::Interrupt => self.quit(),
            Key::Jump(name) => match self.ws.find(&name) {
                Ok(exercise) => {
                    let index = self
                        .ws
                        .exercises()
                        .iter()
                        .position(|e| e.name == exercise.name)
                        .unwrap_or(0);
                    self.jump(index);
                }
                Err(err) => self.tell(format!("{err}: `l` lists the exercises")),
            },
            Key::Escape
            | Key::Up
            | Key::Down
            | Key::PageUp
            | Key::PageDown
            | Key::Home
            | Key::End => {}
            Key::Unknown(text) => self.tell(format!("`{text}` is not a command: {KEYS}")),
        }
    }

    /// `n`: on to the next unsolved exercise, only once the current one passes.
    fn next(&mut self) {
        if self.running.is_some() {
            return self.tell("wait for the run to finish first".into());
        }
        if !self.verdict.as_ref().is_some_and(Verdict::passed) {
            let name = self.current_name().to_string();
            return self.tell(format!(
                "`n` moves on once `{name}` passes: fix it and save (h: a hint, l: jump to any exercise)"
            ));
        }
        match self
            .state
            .next_unsolved()
            .and_then(|name| self.ws.exercises().iter().position(|e| e.name == name))
        {
            Some(index) => self.jump(index),
            None => self.tell(
                self.ws
                    .info()
                    .final_message
                    .clone()
                    .unwrap_or_else(|| ALL_DONE.into()),
            ),
        }
    }

    /// `h`: one more hint tier, remembered in the state (shared with `backlings hint`).
    fn hint(&mut self) {
        let exercise = &self.ws.exercises()[self.current];
        let total = exercise.hints.len();
        if total == 0 {
            return self.tell(format!("`{}` has no hints", exercise.name));
        }
        if self.hints_visible == total {
            return self.tell(format!("that was the last hint ({total} of {total})"));
        }
        let name = exercise.name.clone();
        self.reload_state();
        let seen = self.state.exercise(&name).hints_shown;
        // The first `h` reveals the next tier not seen before (in `backlings hint` or an earlier session).
        self.hints_visible = if self.hints_visible == 0 {
            (seen + 1).min(total)
        } else {
            self.hints_visible + 1
        };
        self.state
            .set_hints_shown(&name, seen.max(self.hints_visible));
        self.save_state();
        self.notices.push(Notice::Hint {
            tier: self.hints_visible,
            total,
        });
    }

    /// `r` (and Enter with `--manual-run`): grade the current file again, whatever its content.
    fn rerun_current(&mut self) {
        match &self.running {
            Some(running) if running.work == Work::CheckAll => {
                self.tell("a check of every exercise is running: Esc stops it".into())
            }
            Some(running) => {
                running.cancel.cancel();
                self.rerun = true;
            }
            None => self.launch_current(),
        }
    }

    /// `c`: check every exercise (or stop the check that runs).
    fn check_all(&mut self) {
        if self.running() == Some(Work::CheckAll) {
            return self.cancel_running();
        }
        self.cancel_running();
        self.checked.clear();
        let hashes = (0..self.ws.exercises().len())
            .map(|index| self.hash_of(index))
            .collect();
        self.launch(Work::CheckAll, hashes);
        self.tell("checking every exercise (c or Esc stops the check)".into());
    }

    /// Makes exercise `index` current and runs it.
    pub(super) fn jump(&mut self, index: usize) {
        self.cancel_running();
        self.current = index;
        self.verdict = None;
        self.run_error = None;
        self.hints_visible = 0;
        self.note = None;
        let name = self.current_name().to_string();
        self.reload_state();
        self.state.set_current(&name);
        self.save_state();
        // A cancelled run stops within moments; its result is ignored, as its job is no longer the running one.
        self.running = None;
        self.launch_current();
    }

    pub(super) fn quit(&mut self) {
        self.quitting = true;
        self.cancel_running();
    }
}
