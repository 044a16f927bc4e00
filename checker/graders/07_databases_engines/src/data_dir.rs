//! A data directory the grader owns across restarts of the program, and the tools to damage its files the
//! way a crash does (a torn or corrupted tail), shared by the storage-engine graders.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use backlings_grade::{Failure, Grading, Stdio};

/// A temporary directory, passed to the program as `BACKLINGS_DATA_DIR`; removed when dropped.
pub struct DataDir {
    dir: tempfile::TempDir,
}

impl DataDir {
    /// A fresh, empty data directory.
    pub fn new() -> Result<Self, Failure> {
        let dir = tempfile::Builder::new()
            .prefix("backlings-data-")
            .tempdir()
            .map_err(|e| {
                Failure::new(format!("the grader could not create a data directory: {e}"))
            })?;
        Ok(DataDir { dir })
    }

    /// A file inside it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the program on this directory. Dropping the session kills it with SIGKILL: a crash.
    pub fn start(&self, g: &mut Grading) -> Result<Stdio, Failure> {
        let dir = self.dir.path().to_string_lossy().into_owned();
        g.stdio_with(&[], &[("BACKLINGS_DATA_DIR", &dir)])
    }

    /// Appends raw bytes to a file of the directory, as a crash in the middle of a write leaves them.
    pub fn append(&self, name: &str, bytes: &[u8]) -> Result<(), Failure> {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.file(name))
            .and_then(|mut file| file.write_all(bytes))
            .map_err(|e| Failure::new(format!("the grader could not write to {name}: {e}")))
    }

    /// The size of a file of the directory (0 if it does not exist).
    pub fn size(&self, name: &str) -> u64 {
        std::fs::metadata(self.file(name)).map_or(0, |meta| meta.len())
    }
}

/// CRC-32 (IEEE 802.3), bit by bit: the checksum the exercises' record formats use.
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

#[cfg(test)]
mod tests {
    use super::*;

    // The CRC is the standard one: the check value of "123456789".
    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
