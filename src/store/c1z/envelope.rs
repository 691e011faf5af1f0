//! The c1z v1 envelope on the read side: checks the 5-byte magic, decompresses the zstd
//! payload into a temp file (removed on drop) and checks that the payload is a whole SQLite
//! database. Each way a file can fail to be one (too short, v3/Pebble, no header, damaged or
//! truncated zstd, not SQLite, truncated SQLite) gets its own sentence.
//!
//! Not here: the schema inside (`migrate`), writing (`writer`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use tempfile::TempPath;

use crate::store::StoreError;
use crate::store::atomic::io_err;

use super::{MAGIC, MAGIC_V3};

/// zstd's frame magic, little-endian on disk.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The SQLite header is 100 bytes.
const SQLITE_HEADER: usize = 100;
/// Buffer sizes of the decompression (compressed input, decompressed output).
const READ_BUF: usize = 1 << 20;
const WRITE_BUF: usize = 4 << 20;

/// What to tell a user holding a v3 file (research notes §4: there is no v3→v1 converter).
const V3_HINT: &str = "it is a c1z v3 (Pebble) file and orgsync reads c1z v1 (SQLite) files; \
    run the connector again with `--storage-engine sqlite` (or BATON_STORAGE_ENGINE=sqlite, \
    baton-sdk v0.13.5 and later) to get a v1 file";

fn refuse(path: &Path, why: impl Into<String>) -> StoreError {
    StoreError::NotC1z {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Decompresses the c1z at `path` into a new temp file (in `TMPDIR`) holding its SQLite
/// database. On any error nothing is left behind.
pub(super) fn decompress(path: &Path) -> Result<TempPath, StoreError> {
    let tmp = tempfile::Builder::new()
        .prefix("orgsync-read-")
        .suffix(".db")
        .tempfile()
        .map_err(io_err(Path::new("temporary database")))?;
    decompress_to(path, tmp.as_file())?;
    Ok(tmp.into_temp_path())
}

/// Decompresses the c1z at `path` into `db` (a new, empty file the caller owns and removes
/// on failure) and checks that it is a whole SQLite database.
pub(super) fn decompress_to(path: &Path, db: &File) -> Result<(), StoreError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    check_magic(path, &mut f)?;
    let written = {
        // Large buffers: a million-grant file is hundreds of MB of SQLite; 8 KiB reads and
        // writes cost a syscall each.
        let mut dec =
            zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(READ_BUF, f))
                .map_err(io_err(path))?;
        dec.window_log_max(27).map_err(io_err(path))?; // 128 MiB, like the SDK's cap
        let mut out = BufWriter::with_capacity(WRITE_BUF, db);
        let n = io::copy(&mut dec, &mut out).map_err(|e| zstd_refusal(path, &e))?;
        out.flush()
            .map_err(io_err(Path::new("temporary database")))?;
        n
    };
    let mut db: &File = db;
    db.rewind()
        .map_err(io_err(Path::new("temporary database")))?;
    check_sqlite(path, &mut db, written)
}

fn check_magic(path: &Path, f: &mut File) -> Result<(), StoreError> {
    let mut head = [0u8; 5];
    let n = read_up_to(f, &mut head).map_err(io_err(path))?;
    if n == 5 && &head == MAGIC {
        return Ok(());
    }
    if n == 5 && &head == MAGIC_V3 {
        return Err(refuse(path, V3_HINT));
    }
    if n == 0 {
        return Err(refuse(path, "it is empty (0 bytes)"));
    }
    if n < 5 {
        return Err(refuse(
            path,
            format!("it is {n} bytes long, too short for the 5-byte C1ZF header"),
        ));
    }
    let why = if head[..4] == ZSTD_MAGIC {
        "it is a bare zstd stream; a c1z v1 file starts with the C1ZF header".to_string()
    } else if head == SQLITE_MAGIC[..5] {
        "it is a bare SQLite database; a c1z v1 file is the C1ZF header and the database compressed with zstd".to_string()
    } else {
        format!(
            "it does not start with the C1ZF header (its first bytes are {})",
            hex(&head)
        )
    };
    Err(refuse(path, why))
}

/// The zstd decoder's error, said as what it means for the file.
fn zstd_refusal(path: &Path, e: &io::Error) -> StoreError {
    let msg = e.to_string();
    let lower = msg.to_ascii_lowercase();
    let why = if e.kind() == io::ErrorKind::UnexpectedEof || lower.contains("incomplete") {
        format!("its zstd payload ends early, the file is truncated ({msg})")
    } else if lower.contains("unknown frame descriptor") || lower.contains("prefix unknown") {
        format!("its payload after the C1ZF header is not zstd data ({msg})")
    } else if lower.contains("checksum") {
        format!("its zstd payload fails its checksum, the file is damaged ({msg})")
    } else {
        format!("its zstd payload cannot be decompressed ({msg})")
    };
    refuse(path, why)
}

/// Checks that the `len` decompressed bytes in `db` are a whole SQLite database: the magic,
/// and at least the size the header declares (when the header's size is valid).
fn check_sqlite(path: &Path, db: &mut impl Read, len: u64) -> Result<(), StoreError> {
    let mut header = [0u8; SQLITE_HEADER];
    let n = read_up_to(db, &mut header).map_err(io_err(Path::new("temporary database")))?;
    if n == 0 {
        return Err(refuse(
            path,
            "its zstd payload is empty, not a SQLite database",
        ));
    }
    if n < SQLITE_MAGIC.len() || header[..16] != SQLITE_MAGIC[..] {
        return Err(refuse(
            path,
            format!(
                "its payload is not a SQLite database (it starts with {})",
                hex(&header[..n.min(8)])
            ),
        ));
    }
    if n < SQLITE_HEADER {
        return Err(refuse(
            path,
            format!("its SQLite database is truncated ({len} bytes, less than its header)"),
        ));
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        p => u64::from(p),
    };
    let pages = u64::from(be32(28));
    // The in-header size is valid when the change counter equals "version-valid-for".
    let size_valid = pages > 0 && be32(24) == be32(92);
    if size_valid && len < page_size * pages {
        return Err(refuse(
            path,
            format!(
                "its SQLite database is truncated ({len} bytes of the {} its header declares)",
                page_size * pages
            ),
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
