//! The grader's model of `db12_lsm_wide_column`: the same LSM semantics (canonical merges, size-tiered
//! compaction, tombstone purging only in a compaction of every SSTable), plus what the grader remembers to
//! explain a wrong answer: every acknowledged write, the program's restarts, and what was only in the commit
//! log when the program was killed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A bucket is compacted once it holds this many SSTables.
pub const MIN_THRESHOLD: usize = 4;
/// The most SSTables one compaction merges.
pub const MAX_THRESHOLD: usize = 32;
/// SSTables with fewer entries than this all share one bucket.
pub const SMALL_TABLE: u64 = 32;

/// One version of a column: a value, or a cell tombstone (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub ts: u64,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub deleted_at: Option<u64>,
    pub cells: BTreeMap<String, Cell>,
}

/// A partition, or a piece of one, in canonical form once merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part {
    pub deleted_at: Option<u64>,
    pub rows: BTreeMap<String, Row>,
}

impl Part {
    /// The merge of the exercise's contract: newest tombstones and cells win, shadowed entries go.
    pub fn merge(&mut self, other: &Part) {
        self.deleted_at = self.deleted_at.max(other.deleted_at);
        for (clustering, row) in &other.rows {
            let mine = self.rows.entry(clustering.clone()).or_default();
            mine.deleted_at = mine.deleted_at.max(row.deleted_at);
            for (column, cell) in &row.cells {
                let newer = mine.cells.get(column).is_none_or(|old| cell.ts > old.ts);
                if newer {
                    mine.cells.insert(column.clone(), cell.clone());
                }
            }
        }
        let partition_deleted = self.deleted_at;
        self.rows.retain(|_, row| {
            if row.deleted_at <= partition_deleted {
                row.deleted_at = None;
            }
            let deleted = row.deleted_at.max(partition_deleted);
            row.cells.retain(|_, cell| Some(cell.ts) > deleted);
            row.deleted_at.is_some() || !row.cells.is_empty()
        });
    }

    /// Drops every tombstone (a compaction of every SSTable).
    pub fn purge(&mut self) {
        self.deleted_at = None;
        self.rows.retain(|_, row| {
            row.deleted_at = None;
            row.cells.retain(|_, cell| cell.value.is_some());
            !row.cells.is_empty()
        });
    }

    pub fn entries(&self) -> u64 {
        let rows: usize = self
            .rows
            .values()
            .map(|row| usize::from(row.deleted_at.is_some()) + row.cells.len())
            .sum();
        u64::from(self.deleted_at.is_some()) + rows as u64
    }

    pub fn is_empty(&self) -> bool {
        self.deleted_at.is_none() && self.rows.is_empty()
    }

    /// The live columns of one row.
    pub fn live(&self, clustering: &str) -> Option<Columns> {
        live_columns(self.rows.get(clustering)?)
    }
}

/// A row's live columns, by name.
pub type Columns = BTreeMap<String, String>;

fn live_columns(row: &Row) -> Option<Columns> {
    let columns: Columns = row
        .cells
        .iter()
        .filter_map(|(column, cell)| Some((column.clone(), cell.value.clone()?)))
        .collect();
    (!columns.is_empty()).then_some(columns)
}

/// A write the grader sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put {
        clustering: String,
        columns: BTreeMap<String, Option<String>>,
    },
    DeleteRow {
        clustering: String,
    },
    DeletePartition,
}

impl Change {
    /// The piece of partition this write is at `ts`.
    pub fn at(&self, ts: u64) -> Part {
        let mut part = Part::default();
        match self {
            Change::Put {
                clustering,
                columns,
            } => {
                let cells = columns
                    .iter()
                    .map(|(column, value)| {
                        let cell = Cell {
                            ts,
                            value: value.clone(),
                        };
                        (column.clone(), cell)
                    })
                    .collect();
                let row = Row {
                    deleted_at: None,
                    cells,
                };
                part.rows.insert(clustering.clone(), row);
            }
            Change::DeleteRow { clustering } => {
                let row = Row {
                    deleted_at: Some(ts),
                    cells: BTreeMap::new(),
                };
                part.rows.insert(clustering.clone(), row);
            }
            Change::DeletePartition => part.deleted_at = Some(ts),
        }
        part
    }

    /// The request that asks for it.
    pub fn request(&self, partition: &str) -> Value {
        match self {
            Change::Put {
                clustering,
                columns,
            } => {
                json!({"op":"put","partition":partition,"clustering":clustering,"columns":columns})
            }
            Change::DeleteRow { clustering } => {
                json!({"op":"delete_row","partition":partition,"clustering":clustering})
            }
            Change::DeletePartition => json!({"op":"delete_partition","partition":partition}),
        }
    }

    /// Whether it writes a tombstone over `column` of row `clustering`, and which kind.
    pub fn tombstone_over(&self, clustering: &str, column: &str) -> Option<&'static str> {
        match self {
            Change::Put {
                clustering: c,
                columns,
            } if c == clustering && columns.get(column) == Some(&None) => {
                Some("a put that set it to null")
            }
            Change::DeleteRow { clustering: c } if c == clustering => Some("delete_row"),
            Change::DeletePartition => Some("delete_partition"),
            _ => None,
        }
    }

    /// The value it writes into `column` of row `clustering`, if it writes one.
    pub fn value_of(&self, clustering: &str, column: &str) -> Option<&str> {
        match self {
            Change::Put {
                clustering: c,
                columns,
            } if c == clustering => columns.get(column)?.as_deref(),
            _ => None,
        }
    }
}

/// How an SSTable came to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flush,
    Compaction { inputs: Vec<u64>, major: bool },
}

#[derive(Debug, Clone)]
pub struct Table {
    pub id: u64,
    pub data: BTreeMap<String, Part>,
    pub entries: u64,
    pub origin: Origin,
}

/// One compaction, as a flush reply reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub inputs: Vec<u64>,
    pub output: Option<u64>,
    /// The (id, entries) of every SSTable just before it ran.
    pub before: Vec<(u64, u64)>,
}

impl Compaction {
    pub fn json(&self) -> Value {
        json!({"inputs": self.inputs, "output": self.output})
    }
}

/// One acknowledged write.
#[derive(Debug, Clone)]
pub struct Written {
    pub ts: u64,
    pub partition: String,
    pub change: Change,
}

/// Where a version lives in the model: an SSTable's id, or the memtable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    Table(u64),
    Memtable,
}

impl Place {
    pub fn describe(self) -> String {
        match self {
            Place::Table(id) => format!("SSTable {id}"),
            Place::Memtable => "the memtable".to_string(),
        }
    }
}

/// The store as the contract says it must be.
#[derive(Debug, Clone)]
pub struct Lsm {
    pub memtable: BTreeMap<String, Part>,
    pub tables: Vec<Table>,
    pub next_ts: u64,
    pub next_id: u64,
    /// Every acknowledged write, oldest first.
    pub written: Vec<Written>,
    /// The first timestamp of each run of the program (1 for the first).
    pub starts: Vec<u64>,
    /// Timestamp ranges that were only in the commit log when the program was killed.
    pub log_only_at_kill: Vec<(u64, u64)>,
    /// The highest timestamp flushed to an SSTable so far.
    pub flushed_upto: u64,
    /// The first timestamp written after recovering from a damaged commit log, until the next check.
    pub since_damage: Option<u64>,
    /// The damaged record appended to the log: (partition, clustering, column, value, "torn" or "corrupted").
    pub damaged: Option<(String, String, String, String, &'static str)>,
}

impl Default for Lsm {
    fn default() -> Self {
        Lsm {
            memtable: BTreeMap::new(),
            tables: Vec::new(),
            next_ts: 1,
            next_id: 1,
            written: Vec::new(),
            starts: vec![1],
            log_only_at_kill: Vec::new(),
            flushed_upto: 0,
            since_damage: None,
            damaged: None,
        }
    }
}

impl Lsm {
    pub fn apply(&mut self, partition: &str, change: Change) -> u64 {
        let ts = self.next_ts;
        self.next_ts += 1;
        self.memtable
            .entry(partition.to_string())
            .or_default()
            .merge(&change.at(ts));
        self.written.push(Written {
            ts,
            partition: partition.to_string(),
            change,
        });
        ts
    }

    /// Flushes the memtable, then compacts while a bucket is full: (the SSTable flushed, the compactions).
    pub fn flush(&mut self) -> (Option<u64>, Vec<Compaction>) {
        if self.memtable.is_empty() {
            return (None, Vec::new());
        }
        let data = std::mem::take(&mut self.memtable);
        let id = self.add_table(data, Origin::Flush);
        self.flushed_upto = self.next_ts - 1;
        let mut compactions = Vec::new();
        while let Some(ids) = pick_bucket(&self.sizes()) {
            compactions.push(self.compact(&ids));
        }
        (Some(id), compactions)
    }

    fn add_table(&mut self, data: BTreeMap<String, Part>, origin: Origin) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let entries = data.values().map(Part::entries).sum();
        self.tables.push(Table {
            id,
            data,
            entries,
            origin,
        });
        id
    }

    /// The (id, entries) of every SSTable, by id.
    pub fn sizes(&self) -> Vec<(u64, u64)> {
        self.tables.iter().map(|t| (t.id, t.entries)).collect()
    }

    pub fn compact(&mut self, ids: &[u64]) -> Compaction {
        let before = self.sizes();
        let major = self.tables.iter().all(|t| ids.contains(&t.id));
        let mut merged: BTreeMap<String, Part> = BTreeMap::new();
        for table in self.tables.iter().filter(|t| ids.contains(&t.id)) {
            for (key, part) in &table.data {
                merged.entry(key.clone()).or_default().merge(part);
            }
        }
        if major {
            for part in merged.values_mut() {
                part.purge();
            }
            merged.retain(|_, part| !part.is_empty());
        }
        self.tables.retain(|t| !ids.contains(&t.id));
        let output = (!merged.is_empty()).then(|| {
            let origin = Origin::Compaction {
                inputs: ids.to_vec(),
                major,
            };
            self.add_table(merged, origin)
        });
        Compaction {
            inputs: ids.to_vec(),
            output,
            before,
        }
    }

    pub fn compact_all(&mut self) -> Compaction {
        let ids: Vec<u64> = self.tables.iter().map(|t| t.id).collect();
        if ids.is_empty() {
            return Compaction {
                inputs: Vec::new(),
                output: None,
                before: Vec::new(),
            };
        }
        self.compact(&ids)
    }

    pub fn read(&self, partition: &str) -> Option<Part> {
        let mut merged = self.memtable.get(partition).cloned();
        for table in &self.tables {
            if let Some(part) = table.data.get(partition) {
                merged.get_or_insert_with(Part::default).merge(part);
            }
        }
        merged
    }

    pub fn get(&self, partition: &str, clustering: &str) -> Option<Columns> {
        self.read(partition)?.live(clustering)
    }

    pub fn scan(
        &self,
        partition: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, Columns)> {
        let Some(part) = self.read(partition) else {
            return Vec::new();
        };
        if start >= end {
            return Vec::new();
        }
        part.rows
            .range(start.to_string()..end.to_string())
            .filter_map(|(clustering, row)| Some((clustering.clone(), live_columns(row)?)))
            .take(limit)
            .collect()
    }

    pub fn memtable_entries(&self) -> u64 {
        self.memtable.values().map(Part::entries).sum()
    }

    pub fn stats(&self) -> Value {
        let tables: Vec<Value> = self
            .tables
            .iter()
            .map(|t| json!({"id": t.id, "entries": t.entries}))
            .collect();
        json!({"memtable": self.memtable_entries(), "sstables": tables})
    }

    /// The program was killed (SIGKILL) and is started again: what was only in the log is remembered.
    pub fn killed_and_restarted(&mut self) {
        if self.next_ts - 1 > self.flushed_upto {
            self.log_only_at_kill
                .push((self.flushed_upto + 1, self.next_ts - 1));
        }
        self.starts.push(self.next_ts);
    }

    /// Which run of the program wrote timestamp `ts` (0 for the first).
    pub fn run_of(&self, ts: u64) -> usize {
        self.starts.iter().filter(|&&start| start <= ts).count() - 1
    }

    pub fn was_log_only_at_kill(&self, ts: u64) -> bool {
        self.log_only_at_kill
            .iter()
            .any(|&(low, high)| (low..=high).contains(&ts))
    }

    /// The newest write that put `value` into the column, if any.
    pub fn version_with(
        &self,
        partition: &str,
        clustering: &str,
        column: &str,
        value: &str,
    ) -> Option<&Written> {
        self.written.iter().rev().find(|w| {
            w.partition == partition && w.change.value_of(clustering, column) == Some(value)
        })
    }

    /// The tombstones written over the column, oldest first: (timestamp, kind).
    pub fn tombstones_over(
        &self,
        partition: &str,
        clustering: &str,
        column: &str,
    ) -> Vec<(u64, &'static str)> {
        self.written
            .iter()
            .filter(|w| w.partition == partition)
            .filter_map(|w| Some((w.ts, w.change.tombstone_over(clustering, column)?)))
            .collect()
    }

    /// Where the version of a column written at `ts` still lives (memtable first, then SSTables by id).
    pub fn places_of_cell(
        &self,
        partition: &str,
        clustering: &str,
        column: &str,
        ts: u64,
    ) -> Vec<Place> {
        let holds = |data: &BTreeMap<String, Part>| {
            data.get(partition)
                .and_then(|p| p.rows.get(clustering))
                .and_then(|r| r.cells.get(column))
                .is_some_and(|c| c.ts == ts)
        };
        self.places(holds)
    }

    /// Where the tombstone written at `ts` still lives.
    pub fn places_of_tombstone(&self, partition: &str, ts: u64) -> Vec<Place> {
        let holds = |data: &BTreeMap<String, Part>| {
            data.get(partition).is_some_and(|p| {
                p.deleted_at == Some(ts)
                    || p.rows.values().any(|r| {
                        r.deleted_at == Some(ts)
                            || r.cells.values().any(|c| c.ts == ts && c.value.is_none())
                    })
            })
        };
        self.places(holds)
    }

    fn places(&self, holds: impl Fn(&BTreeMap<String, Part>) -> bool) -> Vec<Place> {
        let mut places = Vec::new();
        if holds(&self.memtable) {
            places.push(Place::Memtable);
        }
        for table in &self.tables {
            if holds(&table.data) {
                places.push(Place::Table(table.id));
            }
        }
        places
    }

    pub fn table(&self, id: u64) -> Option<&Table> {
        self.tables.iter().find(|t| t.id == id)
    }
}

/// The buckets of size-tiered compaction, in order: each a list of (id, entries).
pub fn buckets(tables: &[(u64, u64)]) -> Vec<Vec<(u64, u64)>> {
    let mut sorted = tables.to_vec();
    sorted.sort_by_key(|&(id, entries)| (entries, id));
    let mut buckets: Vec<Vec<(u64, u64)>> = Vec::new();
    for (id, entries) in sorted {
        if let Some(bucket) = buckets.last_mut() {
            let count = bucket.len() as u64;
            let sum: u64 = bucket.iter().map(|&(_, size)| size).sum();
            let similar = 2 * entries * count > sum && 2 * entries * count < 3 * sum;
            let both_small = entries < SMALL_TABLE && sum < SMALL_TABLE * count;
            if similar || both_small {
                bucket.push((id, entries));
                continue;
            }
        }
        buckets.push(vec![(id, entries)]);
    }
    buckets
}

/// The SSTables size-tiered compaction merges next, ascending.
pub fn pick_bucket(tables: &[(u64, u64)]) -> Option<Vec<u64>> {
    let bucket = buckets(tables)
        .into_iter()
        .find(|bucket| bucket.len() >= MIN_THRESHOLD)?;
    let mut ids: Vec<u64> = bucket
        .iter()
        .take(MAX_THRESHOLD)
        .map(|&(id, _)| id)
        .collect();
    ids.sort_unstable();
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(clustering: &str, column: &str, value: Option<&str>) -> Change {
        Change::Put {
            clustering: clustering.to_string(),
            columns: [(column.to_string(), value.map(str::to_string))].into(),
        }
    }

    // The model's bucket rule agrees with the examples of the exercise's visible tests.
    #[test]
    fn buckets_match_the_exercise() {
        assert_eq!(pick_bucket(&[(1, 5), (2, 6), (3, 7)]), None);
        assert_eq!(
            pick_bucket(&[(1, 5), (2, 100), (3, 7), (4, 3), (5, 9)]),
            Some(vec![1, 3, 4, 5])
        );
        assert_eq!(pick_bucket(&[(1, 40), (2, 200), (3, 50), (4, 59)]), None);
        assert_eq!(
            pick_bucket(&[(1, 40), (2, 200), (3, 50), (4, 59), (5, 45)]),
            Some(vec![1, 3, 4, 5])
        );
        assert_eq!(pick_bucket(&[(1, 40), (2, 45), (3, 50), (4, 100)]), None);
    }

    // A minor compaction keeps a tombstone, a major one drops it and what it hid.
    #[test]
    fn tombstones_survive_minor_compactions_only() {
        let mut lsm = Lsm::default();
        for i in 0..40 {
            lsm.apply("big", put(&format!("r{i:02}"), "a", Some("x")));
        }
        lsm.apply("p", put("r", "a", Some("old")));
        lsm.flush();
        lsm.apply("p", Change::DeletePartition);
        lsm.flush();
        for _ in 0..2 {
            lsm.apply("q", put("r", "n", Some("v")));
            lsm.flush();
        }
        lsm.apply("q", put("s", "n", Some("w")));
        let (_, compactions) = lsm.flush();
        assert_eq!(compactions[0].inputs, vec![2, 3, 4, 5]);
        assert_eq!(lsm.sizes(), vec![(1, 41), (6, 3)]);
        assert_eq!(lsm.get("p", "r"), None);
        lsm.compact_all();
        assert_eq!(lsm.sizes(), vec![(7, 42)]);
        assert_eq!(lsm.get("p", "r"), None);
    }
}
