//! # A wide-column store on a log-structured merge tree: Cassandra in miniature
//!
//! Cassandra, ScyllaDB, HBase and Bigtable store *wide rows*. A table is cut into **partitions**:
//! every row with the same partition key (one user's events, one sensor's readings) lives together,
//! on the same nodes (Cassandra hashes the partition key to pick them). Inside a partition, rows
//! are kept sorted by their **clustering key** (the event's time, the reading's sequence number),
//! and a row is a *sparse* set of named columns: two rows of one table need not have the same
//! columns. "The last 20 events of user 42" is then one partition and one sequential slice. You
//! model the data per query (one table per access pattern, duplicated when two queries need two
//! orders), never normalized: there are no joins.
//!
//! Under that data model sits a **log-structured merge tree** (LSM), the storage engine of
//! Cassandra, RocksDB, LevelDB, HBase and most time-series databases. It never updates anything in
//! place:
//!
//! - **Write path.** A write gets a timestamp, is appended to the **commit log** (a write-ahead
//!   log), and is merged into the **memtable**, a sorted map in memory. Then it is acknowledged.
//!   One sequential append per write, whatever the key: this is why LSM stores absorb write-heavy
//!   workloads (events, metrics, messages) that would grind a B-tree's random page writes to a
//!   halt.
//! - **Flush.** When the memtable is big enough (here: when the grader sends `flush`), it is
//!   written out whole as an **SSTable** (sorted string table), an immutable file sorted by key,
//!   and the commit log is emptied: everything it protected is now in the SSTable.
//! - **Read path.** A row can have pieces in the memtable and in every SSTable (a column written on
//!   Monday, another on Tuesday, a delete on Wednesday). A read gathers the pieces of its partition
//!   and **merges** them. Real SSTables keep a bloom filter in memory so that a read skips the
//!   files that cannot hold the partition; here every SSTable keeps its partition index in memory,
//!   and a read fetches the partition's bytes from the file.
//! - **Compaction.** SSTables pile up, and each one more is one more place every read must look
//!   (*read amplification*) and one more copy of overwritten data on disk (*space amplification*).
//!   A compaction merges several SSTables into one and drops what the merge shows to be dead.
//!
//! ## Last write wins, cell by cell
//!
//! Every write stamps its cells with a timestamp, and a merge keeps, for each column of each row,
//! the version with the **highest timestamp**, wherever it was found. Never "the newest file wins":
//! a compaction writes a *new* file full of *old* data. Here the timestamp is a counter kept by the
//! store (1, 2, 3, …; Cassandra uses the coordinator's clock in microseconds, or the client's
//! `USING TIMESTAMP`), and it must keep counting after a restart: a write made after a restart that
//! got a smaller timestamp than the data already on disk would lose to it, silently.
//!
//! A `put` is an *upsert* of the columns it names, and leaves the others alone: there is no
//! read-before-write, which is what keeps writes cheap.
//!
//! ## Deletes are writes: tombstones
//!
//! An SSTable is immutable, so a delete cannot remove anything. It writes a **tombstone**, a marker
//! with its own timestamp that hides every *older* version of what it deletes, wherever that
//! version sits. There are three kinds here: a *cell* tombstone (a column set to `null`; in
//! Cassandra, inserting a null writes a tombstone, a classic surprise), a *row* tombstone
//! (`delete_row`) and a *partition* tombstone (`delete_partition`). A tombstone hides only what is
//! older than it: a row deleted at timestamp 7 and written again at 9 shows the columns written at
//! 9, and none from before 7.
//!
//! When may a tombstone itself be forgotten? Only when nothing it hides can still exist somewhere
//! else. A compaction of *some* SSTables that drops a tombstone lets the old value in an SSTable
//! outside the compaction come back to life: a **zombie**, the most famous Cassandra bug in
//! production. The rule here: a compaction that includes *every* SSTable drops tombstones (nothing
//! older is left for them to hide; the memtable only holds newer writes), any other compaction
//! keeps them. Cassandra also waits `gc_grace_seconds` (10 days by default), so that a replica that
//! missed the delete is repaired before the tombstone is forgotten.
//!
//! ## The merge, exactly
//!
//! Merging two pieces of a partition gives one piece in *canonical form*:
//!
//! - the partition tombstone is the newer of the two (`None` is older than any timestamp);
//! - for each row, the row tombstone is the newer of the two, and for each column, the cell with
//!   the higher timestamp (on a tie, keep either: they are the same write seen twice);
//! - then every cell whose timestamp is `<=` its row's or its partition's tombstone is dropped, and
//!   so is a row tombstone `<=` the partition tombstone; a row left with no cell and no tombstone
//!   is dropped.
//!
//! The memtable, every SSTable and every read result are in canonical form, and the number of
//! *entries* of a piece (a partition tombstone, a row tombstone, a cell or a cell tombstone each
//! count one) is what `stats` reports and what size-tiered compaction measures.
//!
//! ## Size-tiered compaction (Cassandra's default strategy)
//!
//! After every flush, while some *bucket* holds at least `MIN_THRESHOLD` (4) SSTables, merge the
//! SSTables of the first such bucket into one. The buckets: sort the SSTables by (entries, id);
//! each one joins the last bucket when its size is strictly between 0.5 and 1.5 times that bucket's
//! average size, or when it and the bucket's average are both under `SMALL_TABLE` entries;
//! otherwise it starts a new bucket. A compaction takes at most `MAX_THRESHOLD` tables of its
//! bucket (the first ones). Similar sizes merge together, so every entry is rewritten about log(n)
//! times: cheap writes, at the price of up to twice the disk space during a big compaction. (The
//! other classic, *leveled* compaction of LevelDB and RocksDB, bounds the space and the number of
//! files a read visits, and rewrites data more often.)
//!
//! ## Files and crash recovery
//!
//! The data directory holds `commit.log` and the SSTables `sstable-000001.sst`, … (numbered by a
//! generation that only grows). A commit-log record is
//!
//! ```text
//! crc32 (u32 LE) | length (u32 LE) | payload: the mutation as JSON
//! ```
//!
//! with the CRC-32 of the length and payload bytes. A write is acknowledged only once its record is
//! in the file (written with `write_all` on the `File`, not sitting in a userspace buffer: a
//! process killed with SIGKILL loses what it had not handed to the kernel). Recovery replays the
//! log from its start into the memtable and **cuts the file** at the first record that is torn or
//! fails its CRC: otherwise the next append lands after the garbage, and the recovery after that
//! stops at the garbage and loses it. A replay can see a record twice (a crash after an SSTable was
//! written but before the log was emptied): a merge by timestamp makes that harmless.
//!
//! An SSTable is written to a `.tmp` file, synced and renamed into place (an atomic switch: a crash
//! leaves the old state or the new one), and only then is the commit log emptied. A compaction
//! writes its output the same way before it deletes its inputs.
//!
//! The file formats are provided at the end of this file: `encode_frame` and `decode_frame` for the
//! commit log's records, `write_sstable` (the `.tmp`, the sync and the rename) and the `SsTable`
//! reader (`get`, `partitions`, `entries`, `max_ts`). What goes into the files, and when, is yours.
//!
//! ## The contract the grader checks
//!
//! The grader sends `put`, `delete_row`, `delete_partition`, `get`, `scan`, `flush`, `compact` and
//! `stats` requests (their shapes are at the end of this file) and compares every reply with its
//! own model, including the compactions each flush triggers and the entries of every SSTable.
//! After every flush, `commit.log` must be empty and the data directory must hold exactly one
//! `sstable-NNNNNN.sst` per live SSTable. The grader kills the program with SIGKILL and restarts
//! it on the same directory (after a flush too, when only the SSTables remember the clock), and
//! appends a torn or corrupted record to the commit log before a restart.
//!
//! ## Pitfalls
//!
//! - Merging by file order ("the newest SSTable wins") instead of by timestamp.
//! - A delete as a flag ("this row is deleted") instead of a timestamp: the row can never come
//!   back.
//! - Dropping tombstones in a compaction that does not include every SSTable: zombies.
//! - A clock that starts again at 1 after a restart, or that only looks at the commit log (which a
//!   flush just emptied).
//! - A `BufWriter` around the commit log, not flushed before the reply.
//! - Recovering without cutting the torn tail off the commit log.
//! - Emptying the commit log before the SSTable is safely in place.
//!
//! Roadmap: Databases, NoSQL: column-family stores (Cassandra); storage engines (LSM trees,
//! write-ahead log, compaction).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A bucket is compacted once it holds this many SSTables.
pub const MIN_THRESHOLD: usize = 4;
/// The most SSTables one compaction merges.
pub const MAX_THRESHOLD: usize = 32;
/// SSTables with fewer entries than this all share one bucket (Cassandra's `min_sstable_size`).
pub const SMALL_TABLE: u64 = 32;

/// One column of one row: a value, or a cell tombstone, stamped with its write's timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub ts: u64,
    /// `None` is a cell tombstone: the column was set to null.
    pub value: Option<String>,
}

/// One row of a partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// A row tombstone: every cell of this row written at or before this timestamp is deleted.
    pub deleted_at: Option<u64>,
    /// The row's columns, by name.
    pub cells: BTreeMap<String, Cell>,
}

/// A partition, or a piece of one (what one write, the memtable or one SSTable knows of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// A partition tombstone: every row written at or before this timestamp is deleted.
    pub deleted_at: Option<u64>,
    /// The rows, sorted by clustering key.
    pub rows: BTreeMap<String, Row>,
}

impl Partition {
    /// Merges `other` into `self`, leaving `self` in canonical form (see the header).
    pub fn merge(&mut self, other: Partition) {
        // TODO: keep the newer partition tombstone, the newer row tombstone of each row and, for
        // each column, the cell with the higher timestamp; then drop everything a tombstone hides,
        // so that `self` ends in canonical form (see "The merge, exactly" in the header).
        todo!()
    }

    /// Drops every tombstone of a canonical partition (the cells they hid are gone already).
    pub fn purge_tombstones(&mut self) {
        // TODO: drop the partition tombstone, every row tombstone and every cell tombstone, and the
        // rows left with no cell.
        todo!()
    }

    /// How many entries: tombstones of every kind, and cells.
    pub fn entries(&self) -> u64 {
        let rows: usize = self
            .rows
            .values()
            .map(|row| usize::from(row.deleted_at.is_some()) + row.cells.len())
            .sum();
        u64::from(self.deleted_at.is_some()) + rows as u64
    }

    /// The highest timestamp in this piece (0 when there is none).
    pub fn max_ts(&self) -> u64 {
        let rows = self.rows.values().map(|row| {
            let cells = row.cells.values().map(|cell| cell.ts).max().unwrap_or(0);
            cells.max(row.deleted_at.unwrap_or(0))
        });
        rows.max().unwrap_or(0).max(self.deleted_at.unwrap_or(0))
    }

    /// Whether the piece holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.deleted_at.is_none() && self.rows.is_empty()
    }
}

/// A write a client asks for, in one partition; the store stamps it with a timestamp.
#[derive(Debug, Clone)]
pub enum Change {
    /// Upserts these columns of one row; a `None` value writes a cell tombstone.
    Put {
        clustering: String,
        columns: BTreeMap<String, Option<String>>,
    },
    /// Deletes one row.
    DeleteRow { clustering: String },
    /// Deletes the whole partition.
    DeletePartition,
}

impl Change {
    /// The piece of partition this change is, at timestamp `ts`.
    pub fn at(self, ts: u64) -> Partition {
        let mut partition = Partition::default();
        match self {
            Change::Put {
                clustering,
                columns,
            } => {
                let cells = columns
                    .into_iter()
                    .map(|(column, value)| (column, Cell { ts, value }))
                    .collect();
                let row = Row {
                    deleted_at: None,
                    cells,
                };
                partition.rows.insert(clustering, row);
            }
            Change::DeleteRow { clustering } => {
                let row = Row {
                    deleted_at: Some(ts),
                    cells: BTreeMap::new(),
                };
                partition.rows.insert(clustering, row);
            }
            Change::DeletePartition => partition.deleted_at = Some(ts),
        }
        partition
    }
}

/// Size-tiered compaction: the ids (ascending) of the SSTables to merge next, if a bucket is full.
/// `tables` holds the id and the entries of every SSTable.
pub fn pick_bucket(tables: &[(u64, u64)]) -> Option<Vec<u64>> {
    // TODO: sort the SSTables by (entries, id) and group them into buckets as the header says;
    // return the ids, ascending, of the first bucket holding at least MIN_THRESHOLD tables (at
    // most MAX_THRESHOLD of them), or `None`.
    todo!()
}

/// One compaction: the SSTables merged and the one written (none when nothing was left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compaction {
    pub inputs: Vec<u64>,
    pub output: Option<u64>,
}

/// What a flush did: the SSTable written (none for an empty memtable), then the compactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flushed {
    pub flushed: Option<u64>,
    pub compactions: Vec<Compaction>,
}

/// The store: the commit log, the memtable and the SSTables of one data directory.
pub struct Store {
    dir: PathBuf,
    /// `commit.log`, opened for appending.
    log: File,
    memtable: BTreeMap<String, Partition>,
    /// Every SSTable, by ascending id.
    tables: Vec<SsTable>,
    /// The timestamp the next write gets.
    next_ts: u64,
    /// The id the next SSTable gets.
    next_id: u64,
}

impl Store {
    /// Opens (or creates) the store in `dir`: loads the SSTables and recovers from the commit log.
    pub fn open(dir: &Path) -> io::Result<Store> {
        fs::create_dir_all(dir)?;
        let mut tables = Vec::new();
        for id in sstable_ids(dir)? {
            tables.push(SsTable::open(dir, id)?);
        }
        let next_id = tables.last().map_or(1, |table: &SsTable| table.id + 1);
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(dir.join(COMMIT_LOG))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            log,
            memtable: BTreeMap::new(),
            tables,
            next_ts: 1,
            next_id,
        };
        store.recover(&bytes)?;
        Ok(store)
    }

    /// Replays the commit log's `bytes` into the memtable, cuts off a torn or corrupted tail, and
    /// sets the clock past every timestamp on disk.
    fn recover(&mut self, bytes: &[u8]) -> io::Result<()> {
        // TODO: replay every whole, valid record from the start of the log into the memtable; if
        // anything follows the last good record, cut the file there. Then set `next_ts` past the
        // highest timestamp on disk: in the log and in the SSTables.
        todo!()
    }

    /// Stamps `change` with the next timestamp, appends it to the commit log, merges it into the
    /// memtable. The record is in the file when this returns.
    pub fn apply(&mut self, partition: &str, change: Change) -> io::Result<()> {
        // TODO: stamp the change with the next timestamp, append its record to the commit log (in
        // the file before you return), then merge it into the memtable.
        todo!()
    }

    /// Everything the store knows of one partition, merged from the memtable and every SSTable.
    pub fn read_partition(&self, key: &str) -> io::Result<Option<Partition>> {
        // TODO: merge the pieces of this partition from the memtable and from every SSTable; `None`
        // when none of them has any.
        todo!()
    }

    /// Writes the memtable to a new SSTable, empties the commit log and the memtable, then runs
    /// size-tiered compactions while a bucket is full.
    pub fn flush(&mut self) -> io::Result<Flushed> {
        // TODO: write the memtable to a new SSTable (an empty memtable writes nothing), then empty
        // the commit log and the memtable, in that order; then compact while `pick_bucket` finds a
        // full bucket, and report what you did.
        todo!()
    }

    /// Merges the SSTables `ids` into one new SSTable and deletes them. Tombstones are dropped
    /// only when `ids` is every SSTable of the store.
    pub fn compact(&mut self, ids: &[u64]) -> io::Result<Compaction> {
        // TODO: merge every partition of the SSTables `ids` into a new SSTable (none if nothing is
        // left), dropping tombstones only when `ids` is every SSTable of the store; then delete the
        // input files and forget them.
        todo!()
    }

    /// A major compaction: every SSTable into one, tombstones dropped.
    pub fn compact_all(&mut self) -> io::Result<Compaction> {
        let ids: Vec<u64> = self.tables.iter().map(|table| table.id).collect();
        if ids.is_empty() {
            return Ok(Compaction {
                inputs: Vec::new(),
                output: None,
            });
        }
        self.compact(&ids)
    }

    /// The live columns of one row, or `None` when it has none.
    pub fn get(
        &self,
        partition: &str,
        clustering: &str,
    ) -> io::Result<Option<BTreeMap<String, String>>> {
        let Some(partition) = self.read_partition(partition)? else {
            return Ok(None);
        };
        Ok(partition.rows.get(clustering).and_then(live_columns))
    }

    /// The live rows `start <= clustering < end` of one partition, in order, at most `limit`.
    pub fn scan(
        &self,
        partition: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> io::Result<Vec<(String, BTreeMap<String, String>)>> {
        let Some(partition) = self.read_partition(partition)? else {
            return Ok(Vec::new());
        };
        if start >= end {
            return Ok(Vec::new());
        }
        Ok(partition
            .rows
            .range::<str, _>((
                std::ops::Bound::Included(start),
                std::ops::Bound::Excluded(end),
            ))
            .filter_map(|(clustering, row)| Some((clustering.clone(), live_columns(row)?)))
            .take(limit)
            .collect())
    }

    /// The memtable's entries, and the id and entries of every SSTable.
    pub fn stats(&self) -> (u64, Vec<(u64, u64)>) {
        let memtable = self.memtable.values().map(Partition::entries).sum();
        let tables = self
            .tables
            .iter()
            .map(|table| (table.id, table.entries()))
            .collect();
        (memtable, tables)
    }
}

/// The columns of a canonical row that hold a value; `None` when there is none.
fn live_columns(row: &Row) -> Option<BTreeMap<String, String>> {
    let columns: BTreeMap<String, String> = row
        .cells
        .iter()
        .filter_map(|(column, cell)| Some((column.clone(), cell.value.clone()?)))
        .collect();
    (!columns.is_empty()).then_some(columns)
}

// -------------------------------------------------------------------------------------------------
// Provided: the file formats (commit-log records, SSTables), and the wiring to the grader's
// protocol. You do not need to change anything below. One JSON object per line on stdin, one reply
// per line on stdout; the data directory is `$BACKLINGS_DATA_DIR` (default `data`):
//
//   {"op":"put","partition":"u1","clustering":"c1","columns":{"a":"x","b":null}}  -> {"ok":true}
//   {"op":"delete_row","partition":"u1","clustering":"c1"}                        -> {"ok":true}
//   {"op":"delete_partition","partition":"u1"}                                     -> {"ok":true}
//   {"op":"get","partition":"u1","clustering":"c1"}            -> {"row":{"a":"x"}} or {"row":null}
//   {"op":"scan","partition":"u1","start":"c1","end":"c9","limit":10}
//                                                              -> {"rows":[["c1",{"a":"x"}],…]}
//   {"op":"flush"}    -> {"flushed":3,"compactions":[{"inputs":[1,2,3,4],"output":5}]}
//                        ({"flushed":null,"compactions":[]} for an empty memtable)
//   {"op":"compact"}  -> {"inputs":[5,6],"output":7}
//                        (every SSTable into one; "output":null when nothing is left)
//   {"op":"stats"}    -> {"memtable":12,"sstables":[{"id":5,"entries":40}]}
//   an I/O error      -> {"error":"…"}

/// The commit log's file name.
pub const COMMIT_LOG: &str = "commit.log";

/// One commit-log record's payload: a write, stamped, as a piece of its partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mutation {
    pub partition: String,
    pub update: Partition,
}

/// CRC-32 (IEEE 802.3, the one of zip and Ethernet), bit by bit.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One commit-log record around `payload`: crc32 (u32 LE) | length (u32 LE) | payload, the CRC
/// covering the length and the payload.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut body = (payload.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(payload);
    let mut frame = crc32(&body).to_le_bytes().to_vec();
    frame.extend(body);
    frame
}

/// The payload of the record at the start of `bytes` and the record's size; `None` when `bytes`
/// does not start with a whole record whose CRC matches (a torn or corrupted tail, or the end).
pub fn decode_frame(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let crc = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?);
    let len = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    let size = 8usize.checked_add(len)?;
    let record = bytes.get(..size)?;
    (crc32(&record[4..]) == crc).then(|| (&record[8..], size))
}

/// The file of SSTable `id`.
pub fn sstable_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("sstable-{id:06}.sst"))
}

/// The ids of the SSTables in `dir`, ascending; leftover `.tmp` files of a crash are deleted.
fn sstable_ids(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".tmp") {
            fs::remove_file(&path)?;
        } else if let Some(id) = name
            .strip_prefix("sstable-")
            .and_then(|rest| rest.strip_suffix(".sst"))
            .and_then(|digits| digits.parse().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Writes `partitions` as SSTable `id`: to a `.tmp` file, synced, then renamed into place.
pub fn write_sstable(
    dir: &Path,
    id: u64,
    partitions: &BTreeMap<String, Partition>,
) -> io::Result<SsTable> {
    let path = sstable_path(dir, id);
    let tmp = path.with_extension("sst.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&SsTable::encode(partitions)?)?;
    file.sync_all()?;
    fs::rename(&tmp, &path)?;
    File::open(dir)?.sync_all()?;
    SsTable::open(dir, id)
}

/// What an SSTable's footer points at: its partition index and its metadata.
#[derive(Serialize, Deserialize)]
struct Index {
    entries: u64,
    max_ts: u64,
    /// Partition key -> (offset, length) of its JSON in the file.
    partitions: BTreeMap<String, (u64, u64)>,
}

/// An immutable sorted file of partitions: their JSON one after the other, then the index as JSON,
/// then a footer: index offset (u64 LE), index length (u64 LE), CRC-32 of every byte before it
/// (u32 LE), and the magic `SST1`.
pub struct SsTable {
    pub id: u64,
    file: File,
    index: Index,
}

const FOOTER: usize = 8 + 8 + 4 + 4;
const MAGIC: &[u8; 4] = b"SST1";

impl SsTable {
    /// The bytes of an SSTable holding `partitions`.
    pub fn encode(partitions: &BTreeMap<String, Partition>) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut index = Index {
            entries: 0,
            max_ts: 0,
            partitions: BTreeMap::new(),
        };
        for (key, partition) in partitions {
            let json = serde_json::to_vec(partition)?;
            index
                .partitions
                .insert(key.clone(), (bytes.len() as u64, json.len() as u64));
            index.entries += partition.entries();
            index.max_ts = index.max_ts.max(partition.max_ts());
            bytes.extend(json);
        }
        let index_json = serde_json::to_vec(&index)?;
        let index_offset = bytes.len() as u64;
        bytes.extend(&index_json);
        bytes.extend(index_offset.to_le_bytes());
        bytes.extend((index_json.len() as u64).to_le_bytes());
        let crc = crc32(&bytes);
        bytes.extend(crc.to_le_bytes());
        bytes.extend(MAGIC);
        Ok(bytes)
    }

    /// Opens SSTable `id` of `dir`, checking its CRC and loading its index.
    pub fn open(dir: &Path, id: u64) -> io::Result<SsTable> {
        let path = sstable_path(dir, id);
        let bad = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {why}", path.display()),
            )
        };
        let mut file = File::open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if bytes.len() < FOOTER || &bytes[bytes.len() - 4..] != MAGIC {
            return Err(bad("not an SSTable"));
        }
        let footer = &bytes[bytes.len() - FOOTER..];
        let word = |at: usize| u64::from_le_bytes(footer[at..at + 8].try_into().unwrap_or([0; 8]));
        let (offset, len) = (word(0) as usize, word(8) as usize);
        let crc = u32::from_le_bytes(footer[16..20].try_into().unwrap_or([0; 4]));
        if crc32(&bytes[..bytes.len() - 8]) != crc {
            return Err(bad("CRC mismatch"));
        }
        let index_bytes = bytes[..bytes.len() - FOOTER]
            .get(offset..offset.saturating_add(len))
            .ok_or_else(|| bad("index out of bounds"))?;
        let index: Index = serde_json::from_slice(index_bytes)?;
        Ok(SsTable { id, file, index })
    }

    /// This SSTable's piece of partition `key`, read from the file.
    pub fn get(&self, key: &str) -> io::Result<Option<Partition>> {
        let Some(&(offset, len)) = self.index.partitions.get(key) else {
            return Ok(None);
        };
        let mut bytes = vec![0; len as usize];
        self.file.read_exact_at(&mut bytes, offset)?;
        Ok(Some(serde_json::from_slice(&bytes)?))
    }

    /// Every partition of this SSTable, read from the file (for a compaction).
    pub fn partitions(&self) -> io::Result<BTreeMap<String, Partition>> {
        let mut all = BTreeMap::new();
        for key in self.index.partitions.keys() {
            if let Some(partition) = self.get(key)? {
                all.insert(key.clone(), partition);
            }
        }
        Ok(all)
    }

    /// How many entries it holds.
    pub fn entries(&self) -> u64 {
        self.index.entries
    }

    /// The highest timestamp it holds.
    pub fn max_ts(&self) -> u64 {
        self.index.max_ts
    }
}

/// A request from the grader.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Put {
        partition: String,
        clustering: String,
        columns: BTreeMap<String, Option<String>>,
    },
    DeleteRow {
        partition: String,
        clustering: String,
    },
    DeletePartition {
        partition: String,
    },
    Get {
        partition: String,
        clustering: String,
    },
    Scan {
        partition: String,
        start: String,
        end: String,
        limit: usize,
    },
    Flush,
    Compact,
    Stats,
}

/// An SSTable in a `stats` reply.
#[derive(Serialize)]
struct TableStats {
    id: u64,
    entries: u64,
}

/// A reply to the grader.
#[derive(Serialize)]
#[serde(untagged)]
enum Response {
    Ok {
        ok: bool,
    },
    Row {
        row: Option<BTreeMap<String, String>>,
    },
    Rows {
        rows: Vec<(String, BTreeMap<String, String>)>,
    },
    Flushed(Flushed),
    Compacted(Compaction),
    Stats {
        memtable: u64,
        sstables: Vec<TableStats>,
    },
    Error {
        error: String,
    },
}

fn handle(store: &mut Store, request: Request) -> io::Result<Response> {
    let write = |store: &mut Store, partition: &str, change: Change| {
        store.apply(partition, change)?;
        Ok(Response::Ok { ok: true })
    };
    match request {
        Request::Put { columns, .. } if columns.is_empty() => Ok(Response::Error {
            error: "a put names at least one column".to_string(),
        }),
        Request::Put {
            partition,
            clustering,
            columns,
        } => write(
            store,
            &partition,
            Change::Put {
                clustering,
                columns,
            },
        ),
        Request::DeleteRow {
            partition,
            clustering,
        } => write(store, &partition, Change::DeleteRow { clustering }),
        Request::DeletePartition { partition } => write(store, &partition, Change::DeletePartition),
        Request::Get {
            partition,
            clustering,
        } => Ok(Response::Row {
            row: store.get(&partition, &clustering)?,
        }),
        Request::Scan {
            partition,
            start,
            end,
            limit,
        } => Ok(Response::Rows {
            rows: store.scan(&partition, &start, &end, limit)?,
        }),
        Request::Flush => Ok(Response::Flushed(store.flush()?)),
        Request::Compact => Ok(Response::Compacted(store.compact_all()?)),
        Request::Stats => {
            let (memtable, tables) = store.stats();
            let sstables = tables
                .into_iter()
                .map(|(id, entries)| TableStats { id, entries })
                .collect();
            Ok(Response::Stats { memtable, sstables })
        }
    }
}

fn main() {
    let dir = std::env::var("BACKLINGS_DATA_DIR").unwrap_or_else(|_| "data".to_string());
    let mut store = match Store::open(Path::new(&dir)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("cannot open the store in {dir}: {e}");
            return;
        }
    };
    backlings_harness::stdio::serve_json_lines(|request: Request| {
        handle(&mut store, request).unwrap_or_else(|e| Response::Error {
            error: e.to_string(),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("db12-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn put(clustering: &str, columns: &[(&str, Option<&str>)]) -> Change {
        Change::Put {
            clustering: clustering.to_string(),
            columns: columns
                .iter()
                .map(|(column, value)| (column.to_string(), value.map(str::to_string)))
                .collect(),
        }
    }

    fn row(columns: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            columns
                .iter()
                .map(|(column, value)| (column.to_string(), value.to_string()))
                .collect(),
        )
    }

    // The newest version of each cell wins, whatever order the pieces are merged in.
    #[test]
    fn merge_keeps_the_highest_timestamp_in_any_order() {
        let old = put("r", &[("a", Some("old")), ("b", Some("b1"))]).at(1);
        let new = put("r", &[("a", Some("new"))]).at(2);
        let mut forward = old.clone();
        forward.merge(new.clone());
        let mut backward = new;
        backward.merge(old);
        assert_eq!(forward, backward);
        assert_eq!(forward.rows["r"].cells["a"].value.as_deref(), Some("new"));
        assert_eq!(forward.entries(), 2);
    }

    // A row tombstone hides the cells written before it, not those written after, and drops them.
    #[test]
    fn tombstone_hides_only_older_cells() {
        let mut partition = put("r", &[("a", Some("1")), ("b", Some("2"))]).at(1);
        partition.merge(
            Change::DeleteRow {
                clustering: "r".to_string(),
            }
            .at(2),
        );
        partition.merge(put("r", &[("b", Some("3"))]).at(3));
        let row = &partition.rows["r"];
        assert_eq!(row.deleted_at, Some(2));
        assert_eq!(row.cells.len(), 1);
        assert_eq!(row.cells["b"].value.as_deref(), Some("3"));
        // A partition tombstone newer than the row tombstone replaces it.
        partition.merge(Change::DeletePartition.at(4));
        assert_eq!(partition.entries(), 1);
        assert!(partition.rows.is_empty());
    }

    // Purging drops tombstones and leaves the live cells.
    #[test]
    fn purge_keeps_live_cells_only() {
        let mut partition = put("r", &[("a", Some("1")), ("b", None)]).at(1);
        partition.merge(
            Change::DeleteRow {
                clustering: "s".to_string(),
            }
            .at(2),
        );
        partition.purge_tombstones();
        assert_eq!(partition.entries(), 1);
        assert_eq!(partition.rows["r"].cells["a"].value.as_deref(), Some("1"));
    }

    // Four small tables make a bucket; a big table stays out of it.
    #[test]
    fn size_tiered_buckets() {
        assert_eq!(pick_bucket(&[(1, 5), (2, 6), (3, 7)]), None);
        assert_eq!(
            pick_bucket(&[(1, 5), (2, 100), (3, 7), (4, 3), (5, 9)]),
            Some(vec![1, 3, 4, 5])
        );
        // 40, 50 and 59 are within 0.5..1.5 of their bucket's average; 200 is not.
        assert_eq!(pick_bucket(&[(1, 40), (2, 200), (3, 50), (4, 59)]), None);
        assert_eq!(
            pick_bucket(&[(1, 40), (2, 200), (3, 50), (4, 59), (5, 45)]),
            Some(vec![1, 3, 4, 5])
        );
        // 100 is not under 1.5 times the average of 40, 45 and 50 (1.5 x 45 = 67.5).
        assert_eq!(pick_bucket(&[(1, 40), (2, 45), (3, 50), (4, 100)]), None);
        // "Strictly between": 60 is exactly 1.5 times the average of 40, 40 and 40.
        assert_eq!(pick_bucket(&[(1, 40), (2, 40), (3, 40), (4, 60)]), None);
        assert_eq!(
            pick_bucket(&[(1, 40), (2, 40), (3, 40), (4, 59)]),
            Some(vec![1, 2, 3, 4])
        );
    }

    // Writes survive a reopen through the commit log, and a torn record at its end is cut off.
    #[test]
    fn commit_log_replay_and_torn_tail() {
        let dir = temp_dir("replay");
        {
            let mut store = Store::open(&dir).unwrap();
            store.apply("p", put("r", &[("a", Some("1"))])).unwrap();
            store
                .apply(
                    "p",
                    Change::DeleteRow {
                        clustering: "r".to_string(),
                    },
                )
                .unwrap();
            store.apply("p", put("r", &[("b", Some("2"))])).unwrap();
        }
        let frame = encode_frame(b"{\"partition\":\"p\"}");
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.join(COMMIT_LOG))
            .unwrap();
        log.write_all(&frame[..frame.len() - 3]).unwrap();
        {
            let mut store = Store::open(&dir).unwrap();
            assert_eq!(store.get("p", "r").unwrap(), row(&[("b", "2")]));
            store.apply("p", put("r", &[("c", Some("3"))])).unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.get("p", "r").unwrap(), row(&[("b", "2"), ("c", "3")]));
        fs::remove_dir_all(&dir).unwrap();
    }

    // A flush empties the commit log; a minor compaction keeps tombstones, a major one drops them.
    #[test]
    fn flush_and_compactions() {
        let dir = temp_dir("flush");
        let mut store = Store::open(&dir).unwrap();
        for i in 0..40 {
            let clustering = format!("r{i:02}");
            store
                .apply("big", put(&clustering, &[("a", Some("x"))]))
                .unwrap();
        }
        store.apply("p", put("r", &[("a", Some("old"))])).unwrap();
        assert_eq!(store.flush().unwrap().flushed, Some(1));
        assert_eq!(fs::metadata(dir.join(COMMIT_LOG)).unwrap().len(), 0);
        store.apply("p", Change::DeletePartition).unwrap();
        assert_eq!(store.flush().unwrap().compactions, vec![]);
        for i in 0..2 {
            store.apply("q", put("r", &[("n", Some("v"))])).unwrap();
            store.flush().unwrap();
        }
        store.apply("q", put("s", &[("n", Some("w"))])).unwrap();
        let flushed = store.flush().unwrap();
        assert_eq!(
            flushed.compactions,
            vec![Compaction {
                inputs: vec![2, 3, 4, 5],
                output: Some(6),
            }]
        );
        // The partition tombstone survived the minor compaction: "p" stays deleted.
        assert_eq!(store.get("p", "r").unwrap(), None);
        assert_eq!(store.stats(), (0, vec![(1, 41), (6, 3)]));
        let major = store.compact_all().unwrap();
        assert_eq!(major.output, Some(7));
        assert_eq!(store.stats(), (0, vec![(7, 42)]));
        assert_eq!(store.get("p", "r").unwrap(), None);
        drop(store);
        let mut store = Store::open(&dir).unwrap();
        assert_eq!(store.get("q", "s").unwrap(), row(&[("n", "w")]));
        // The clock continued past everything on disk: this write wins.
        store.apply("q", put("s", &[("n", Some("z"))])).unwrap();
        store.flush().unwrap();
        assert_eq!(store.get("q", "s").unwrap(), row(&[("n", "z")]));
        fs::remove_dir_all(&dir).unwrap();
    }
}
