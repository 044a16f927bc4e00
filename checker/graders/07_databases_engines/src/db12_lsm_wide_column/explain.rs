//! Turns a wrong answer of `db12_lsm_wide_column` into the rule it broke, in words: the grader's model knows
//! every acknowledged write, where each version lives (memtable or which SSTable), which run of the program
//! wrote it, and what was only in the commit log when the program was killed.

use std::collections::BTreeSet;

use backlings_grade::Failure;

use super::model::{Columns, Lsm, Origin, Place, Table, buckets};

/// The first column where two versions of a row differ, explained.
pub fn row(
    lsm: &Lsm,
    partition: &str,
    clustering: &str,
    want: Option<&Columns>,
    got: Option<&Columns>,
) -> Failure {
    let names: BTreeSet<&String> = want
        .into_iter()
        .chain(got)
        .flat_map(|columns| columns.keys())
        .collect();
    let column = names
        .into_iter()
        .find(|name| want.and_then(|w| w.get(*name)) != got.and_then(|g| g.get(*name)));
    let Some(column) = column else {
        return Failure::new(format!(
            "row ({partition}, {clustering}) exists only while one of its columns holds a value"
        ));
    };
    let cell = Cell {
        lsm,
        partition,
        clustering,
        column,
    };
    let want_value = want.and_then(|w| w.get(column));
    let got_value = got.and_then(|g| g.get(column));
    match (want_value, got_value) {
        (None, Some(got)) => cell.should_be_deleted(got),
        (Some(want), None) => cell.missing(want),
        (Some(want), Some(got)) => cell.stale(want, got),
        (None, None) => Failure::new("a grader bug: no difference"),
    }
}

/// One column of one row, and the model that knows its history.
struct Cell<'a> {
    lsm: &'a Lsm,
    partition: &'a str,
    clustering: &'a str,
    column: &'a str,
}

impl Cell<'_> {
    fn what(&self) -> String {
        format!(
            "column {} of row ({}, {})",
            self.column, self.partition, self.clustering
        )
    }

    /// The value the read returned is the one of the damaged record the grader appended.
    fn damaged_record(&self, got: &str) -> Option<Failure> {
        let (partition, clustering, column, value, kind) = self.lsm.damaged.as_ref()?;
        let same = (partition, clustering, column, value)
            == (
                &self.partition.to_string(),
                &self.clustering.to_string(),
                &self.column.to_string(),
                &got.to_string(),
            );
        same.then(|| {
            Failure::new(format!(
                "recovery applied a {kind} record: the grader appended a {kind} record (a put of {} = {value}) to the \
                 end of commit.log, as a crash in the middle of a write leaves it; a record cut short or failing its \
                 CRC was never acknowledged and must be dropped",
                self.what()
            ))
        })
    }

    /// A write at `ts` that is gone after a restart: it was only in the commit log when the program was killed.
    fn lost_at_kill(&self, ts: u64, what_write: &str) -> Option<Failure> {
        if !self.lsm.was_log_only_at_kill(ts) {
            return None;
        }
        if self.lsm.since_damage.is_some_and(|first| ts >= first) {
            return Some(Failure::new(format!(
                "a write acknowledged after recovering from a damaged commit log was lost at the next restart ({what_write}, \
                 timestamp {ts}): recovery must cut the log at the end of the last valid record, or the new records land \
                 after the garbage and the next recovery stops before them"
            )));
        }
        Some(Failure::new(format!(
            "an acknowledged write was lost when the program was killed: {what_write} (timestamp {ts}) was acknowledged \
             while it was only in the commit log, and after the restart it is gone; a write must be in commit.log (written \
             to the File, not left in a userspace buffer) before it is acknowledged, and recovery replays the log"
        )))
    }

    /// `newer` (timestamp) was written by a later run of the program than `older`.
    fn after_restart(&self, newer: u64, older: u64) -> bool {
        self.lsm.run_of(newer) > self.lsm.run_of(older)
    }

    fn clock(&self, newer_write: &str, newer: u64, older_write: &str, older: u64) -> Failure {
        Failure::new(format!(
            "a write made after a restart lost to older data: {newer_write} (timestamp {newer}, after the program was \
             restarted) must win over {older_write} (timestamp {older}, before the restart); the store's clock must \
             continue past every timestamp on disk, in the commit log and in the SSTables (a flush empties the log)"
        ))
    }

    fn newest_file(
        &self,
        newer_write: &str,
        newer_place: Place,
        older_write: &str,
        older_place: Place,
    ) -> Failure {
        Failure::new(format!(
            "the newest timestamp wins, not the newest SSTable: {newer_write} is in {}, while {older_write} is in {}, a \
             newer file that holds older data (a compaction rewrites old versions into a new SSTable); merge the pieces \
             of a row by their timestamps",
            newer_place.describe(),
            older_place.describe()
        ))
    }

    /// The read returns `got`, but the column was deleted.
    fn should_be_deleted(&self, got: &str) -> Failure {
        if let Some(failure) = self.damaged_record(got) {
            return failure;
        }
        let lsm = self.lsm;
        let (p, c, col) = (self.partition, self.clustering, self.column);
        let Some(version) = lsm.version_with(p, c, col, got) else {
            return Failure::new(format!(
                "a read returns only values that were written: {} = {got} was never written",
                self.what()
            ));
        };
        let tombstone = lsm
            .tombstones_over(p, c, col)
            .into_iter()
            .rfind(|&(ts, _)| ts > version.ts);
        let Some((deleted_at, kind)) = tombstone else {
            return Failure::new(format!(
                "a read returns the version of each column with the highest timestamp: {} holds no value",
                self.what()
            ));
        };
        let delete = format!("the {kind} at timestamp {deleted_at}");
        let old = format!("the value {got} written at timestamp {}", version.ts);
        if let Some(failure) =
            self.lost_at_kill(deleted_at, &format!("{delete}, over {}", self.what()))
        {
            return failure.detail(format!("the read returns {old} again"));
        }
        if self.after_restart(deleted_at, version.ts) {
            return self.clock(&delete, deleted_at, &old, version.ts);
        }
        let value_places = lsm.places_of_cell(p, c, col, version.ts);
        let delete_places = lsm.places_of_tombstone(p, deleted_at);
        if let (Some(&value_place), Some(&delete_place)) =
            (value_places.iter().max(), delete_places.iter().max())
            && value_place > delete_place
        {
            return self.newest_file(&delete, delete_place, &old, value_place);
        }
        let mut failure = Failure::new(format!(
            "a deleted value came back: {} was deleted by {delete}, yet the read returns {old}; a tombstone hides every \
             older version, wherever it is",
            self.what()
        ));
        for place in &value_places {
            failure = failure.detail(format!("the old value is still in {}", place.describe()));
        }
        for place in &delete_places {
            failure = failure.detail(format!("the tombstone is in {}", place.describe()));
            if let Place::Table(id) = place
                && let Some(Table {
                    origin:
                        Origin::Compaction {
                            inputs,
                            major: false,
                        },
                    ..
                }) = lsm.table(*id)
            {
                failure = failure.detail(format!(
                    "SSTable {id} is the output of a compaction of SSTables {inputs:?}, which did not include every \
                     SSTable: such a compaction must keep its tombstones, or the older data they hide elsewhere comes back \
                     (a zombie)"
                ));
            }
        }
        failure
    }

    /// The read lacks `want`, a live value.
    fn missing(&self, want: &str) -> Failure {
        let lsm = self.lsm;
        let (p, c, col) = (self.partition, self.clustering, self.column);
        let ts = lsm
            .read(p)
            .and_then(|part| Some(part.rows.get(c)?.cells.get(col)?.ts))
            .unwrap_or(0);
        let write = format!("the put of {} = {want}", self.what());
        if let Some(failure) = self.lost_at_kill(ts, &write) {
            return failure;
        }
        let tombstones: Vec<(u64, &str)> = lsm
            .tombstones_over(p, c, col)
            .into_iter()
            .filter(|&(deleted_at, _)| deleted_at < ts)
            .collect();
        if let Some(&(deleted_at, kind)) = tombstones
            .iter()
            .rev()
            .find(|&&(deleted_at, _)| self.after_restart(ts, deleted_at))
        {
            return self.clock(&write, ts, &format!("the {kind}"), deleted_at);
        }
        if let Some(&(deleted_at, kind)) = tombstones.last() {
            let write_place = lsm.places_of_cell(p, c, col, ts).into_iter().max();
            let delete_place = lsm.places_of_tombstone(p, deleted_at).into_iter().max();
            if let (Some(write_place), Some(delete_place)) = (write_place, delete_place)
                && delete_place > write_place
            {
                return self.newest_file(
                    &format!("{write} at timestamp {ts}"),
                    write_place,
                    &format!("the older {kind} at timestamp {deleted_at}"),
                    delete_place,
                );
            }
            return Failure::new(format!(
                "a tombstone hides only what is older than it: {write} at timestamp {ts} came after the {kind} at \
                 timestamp {deleted_at}, so the column is live, yet the read does not return it; a delete is a \
                 timestamp, not a flag"
            ));
        }
        Failure::new(format!(
            "a read returns every live column: {write} at timestamp {ts} was never deleted, yet the read does not return it"
        ))
    }

    /// The read returns `got` where the newest version is `want`.
    fn stale(&self, want: &str, got: &str) -> Failure {
        if let Some(failure) = self.damaged_record(got) {
            return failure;
        }
        let lsm = self.lsm;
        let (p, c, col) = (self.partition, self.clustering, self.column);
        let ts = lsm
            .read(p)
            .and_then(|part| Some(part.rows.get(c)?.cells.get(col)?.ts))
            .unwrap_or(0);
        let write = format!("the put of {} = {want}", self.what());
        let Some(old) = lsm.version_with(p, c, col, got).filter(|old| old.ts < ts) else {
            return Failure::new(format!(
                "a read returns, for each column, the version with the highest timestamp: {} is {want} since timestamp \
                 {ts}, and {got} is not an older version of it",
                self.what()
            ));
        };
        let old_write = format!("the older value {got}");
        if let Some(failure) = self.lost_at_kill(ts, &write) {
            return failure.detail(format!(
                "the read returns {got}, written at timestamp {}",
                old.ts
            ));
        }
        if self.after_restart(ts, old.ts) {
            return self.clock(&write, ts, &old_write, old.ts);
        }
        let new_place = lsm.places_of_cell(p, c, col, ts).into_iter().max();
        let old_place = lsm.places_of_cell(p, c, col, old.ts).into_iter().max();
        if let (Some(new_place), Some(old_place)) = (new_place, old_place)
            && old_place > new_place
        {
            return self.newest_file(
                &format!("{write} at timestamp {ts}"),
                new_place,
                &format!("{old_write} (timestamp {})", old.ts),
                old_place,
            );
        }
        Failure::new(format!(
            "a read returns, for each column, the version with the highest timestamp: {} is {want} since timestamp {ts}, \
             yet the read returns {got}, written at timestamp {}",
            self.what(),
            old.ts
        ))
    }
}

/// A flush reply that names other SSTables or other compactions than the model.
pub fn flush(
    lsm_before: &Lsm,
    want_flushed: Option<u64>,
    want: &[super::model::Compaction],
    got_flushed: Option<u64>,
    got: &[(Vec<u64>, Option<u64>)],
) -> Failure {
    if want_flushed != got_flushed {
        return match want_flushed {
            None => Failure::new(
                "a flush of an empty memtable writes no SSTable and answers {\"flushed\":null,\"compactions\":[]}",
            ),
            Some(id) => Failure::new(format!(
                "a flush writes the memtable to a new SSTable, here {id}: ids count up by one for every SSTable \
                 written, by flushes and compactions alike, and continue after a restart"
            ))
            .detail(format!(
                "SSTables before the flush: {}",
                describe_sizes(&lsm_before.sizes())
            )),
        };
    }
    let index = want
        .iter()
        .zip(got)
        .position(|(w, (inputs, output))| (&w.inputs, &w.output) != (inputs, output))
        .unwrap_or(want.len().min(got.len()));
    let mut failure = Failure::new(
        "after a flush, size-tiered compaction merges the first bucket holding at least 4 SSTables, and again while \
         a bucket is full",
    );
    let before = match want.get(index) {
        Some(compaction) => compaction.before.clone(),
        None => {
            // The model stopped: the sizes after its last compaction.
            let mut after = lsm_before.clone();
            after.flush();
            after.sizes()
        }
    };
    failure = failure.detail(format!(
        "SSTables (id: entries) before compaction #{}: {}",
        index + 1,
        describe_sizes(&before)
    ));
    let listed: Vec<String> = buckets(&before)
        .iter()
        .map(|bucket| {
            let ids: Vec<String> = bucket.iter().map(|(id, _)| id.to_string()).collect();
            format!("[{}]", ids.join(", "))
        })
        .collect();
    failure = failure.detail(format!(
        "its buckets, smallest tables first: {}",
        listed.join(" ")
    ));
    failure.detail(
        "the rule: sort the SSTables by (entries, id); each joins the last bucket when its entries are strictly between \
         0.5 and 1.5 times that bucket's average, or when it and the average are both under 32; otherwise it starts a \
         new bucket; the first bucket with at least 4 SSTables is compacted (at most 32 of them)",
    )
}

fn describe_sizes(sizes: &[(u64, u64)]) -> String {
    if sizes.is_empty() {
        return "none".to_string();
    }
    let listed: Vec<String> = sizes
        .iter()
        .map(|(id, entries)| format!("{id}: {entries}"))
        .collect();
    listed.join(", ")
}

/// A `stats` reply that differs from the model: which number, and why the model has it.
pub fn stats(lsm: &Lsm, got_memtable: Option<u64>, got_tables: Option<Vec<(u64, u64)>>) -> Failure {
    let want_tables = lsm.sizes();
    let Some(got_tables) = got_tables else {
        return Failure::new(
            "stats answers {\"memtable\":N,\"sstables\":[{\"id\":N,\"entries\":N},…]}",
        );
    };
    let want_ids: Vec<u64> = want_tables.iter().map(|(id, _)| *id).collect();
    let got_ids: Vec<u64> = got_tables.iter().map(|(id, _)| *id).collect();
    if want_ids != got_ids {
        return Failure::new(format!(
            "stats lists every SSTable of the store by ascending id: {want_ids:?}; a compaction replaces its inputs by \
             its output"
        ));
    }
    if got_memtable != Some(lsm.memtable_entries()) {
        if lsm.memtable_entries() == 0 && !lsm.tables.is_empty() {
            return Failure::new(
                "the memtable is empty after a flush: everything it held is now in the new SSTable",
            );
        }
        return Failure::new(format!(
            "the memtable holds {} entries in canonical form: per column of each row only the newest version (a value \
             or a null), plus the row and partition tombstones no newer tombstone hides; everything older than a \
             tombstone is dropped; after a restart, it is what replaying the commit log gives",
            lsm.memtable_entries()
        ));
    }
    let Some((id, entries)) = want_tables
        .iter()
        .zip(&got_tables)
        .find(|(want, got)| want != got)
        .map(|(want, _)| *want)
    else {
        return Failure::new("stats reports the memtable's entries and every SSTable's");
    };
    let why = match lsm.table(id).map(|t| &t.origin) {
        Some(Origin::Compaction {
            inputs,
            major: false,
        }) => format!(
            "SSTable {id} is the compaction of SSTables {inputs:?}, which did not include every SSTable: it keeps one \
             entry per newest cell not hidden by a tombstone, and it must keep its tombstones, or the older data they \
             hide in other SSTables comes back (a zombie): {entries} entries"
        ),
        Some(Origin::Compaction {
            inputs,
            major: true,
        }) => format!(
            "SSTable {id} is the compaction of every SSTable ({inputs:?}): tombstones are dropped, with every older \
             version they hid, and overwritten versions too: {entries} entries are left, the live cells"
        ),
        _ => format!(
            "SSTable {id} was flushed from the memtable, in canonical form: {entries} entries (per column only the \
             newest version, plus the tombstones no newer one hides)"
        ),
    };
    Failure::new(why)
}
