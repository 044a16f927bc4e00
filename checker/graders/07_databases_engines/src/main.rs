//! The graders of track 7 (MVCC, locks, B+tree and hash index, LSM) of backlings: one module per exercise.

mod data_dir;
mod db12_lsm_wide_column;
mod db4_mvcc_isolation;
mod db5_lock_manager;
mod db7_btree_hash_index;

fn main() -> std::process::ExitCode {
    backlings_grade::main(&[
        backlings_grade::Grader {
            exercise: "db4_mvcc_isolation",
            grade: db4_mvcc_isolation::grade,
        },
        backlings_grade::Grader {
            exercise: "db5_lock_manager",
            grade: db5_lock_manager::grade,
        },
        backlings_grade::Grader {
            exercise: "db7_btree_hash_index",
            grade: db7_btree_hash_index::grade,
        },
        backlings_grade::Grader {
            exercise: "db12_lsm_wide_column",
            grade: db12_lsm_wide_column::grade,
        },
    ])
}
