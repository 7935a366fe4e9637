//! Backup primitives for the embedded store: a consistent snapshot of a live metadata database,
//! schema-independent proof that two databases hold the same rows, the blobs metadata refers to,
//! and durable, verified file copies. No CLI and no backup layout here: `rampart backup` and
//! `rampart restore` (in the binary) compose these.
//!
//! Nothing here knows the schema. Tables come from `sqlite_master`, blob references from column
//! names (`blob` or `*_blob`), so a migration that adds a table or a column is covered unchanged.
//!
//! ```no_run
//! # fn demo() -> Result<(), rampart_store::StoreError> {
//! use rampart_store::backup;
//! let live = std::path::Path::new("rampart-data/meta.sqlite");
//! let copy = std::path::Path::new("/backups/meta.sqlite");
//! backup::snapshot_meta(live, copy)?; // safe while a server writes
//! backup::integrity_check(copy)?;
//! let digests = backup::table_digests(copy)?; // store these; compare after a restore
//! let needed = backup::referenced_blobs(copy)?; // copy these blobs with the snapshot
//! # let _ = (digests, needed); Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rampart_model::BlobId;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{MetaStore, SqliteMetaStore, StoreError};

/// How long a backup waits for a writer that holds the database lock (a checkpoint, a long
/// purge) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The rows of one table, proven by count and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDigest {
    pub rows: u64,
    /// SHA-256 (hex) over the column names and every row in rowid / primary-key order, each value
    /// encoded as type tag, length and bytes.
    pub sha256: String,
}

/// A file copied by [`copy_durably`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCopy {
    pub bytes: u64,
    pub sha256: String,
}

/// Writes a transactionally consistent copy of the SQLite database `db` to `dest` (which must not
/// exist) and fsyncs it. Safe while other processes write to `db`: `VACUUM INTO` reads one
/// snapshot of the database and never blocks writers in WAL mode. The copy is a single
/// self-contained file (rollback journal mode, no `-wal` to carry along).
pub fn snapshot_meta(db: &Path, dest: &Path) -> Result<(), StoreError> {
    if !db.is_file() {
        return Err(StoreError::NotFound(format!("database {}", db.display())));
    }
    if dest.exists() {
        return Err(StoreError::Conflict(format!(
            "{} already exists; a snapshot is never written over another file",
            dest.display()
        )));
    }
    let target = dest
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("path {} is not UTF-8", dest.display())))?;
    // Read-write (never create) so this connection can take part in WAL recovery if the server
    // crashed; it changes nothing in the database.
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| disk_full_hint(e, dest))?;
    drop(conn);
    {
        let copy = Connection::open_with_flags(
            dest,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mode: String = copy.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            copy.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0))?;
        }
    }
    File::open(dest)?.sync_all()?;
    if let Some(parent) = dest.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

fn disk_full_hint(e: rusqlite::Error, dest: &Path) -> StoreError {
    if matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull) | Some(rusqlite::ErrorCode::CannotOpen)
    ) {
        StoreError::Backend(format!(
            "could not write the metadata snapshot {}: {e} (is the disk full or the directory \
             not writable?)",
            dest.display()
        ))
    } else {
        e.into()
    }
}

/// `PRAGMA integrity_check` of `db`: `Ok` only when SQLite answers `ok`; otherwise an error that
/// lists the problems it found.
pub fn integrity_check(db: &Path) -> Result<(), StoreError> {
    let conn = open_read_only(db)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    const SHOWN: usize = 5;
    let mut text = problems
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        text.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    Err(StoreError::Invalid(format!(
        "database {} failed its integrity check: {text}",
        db.display()
    )))
}

/// The schema version (`PRAGMA user_version`) of `db`.
pub fn schema_version(db: &Path) -> Result<u32, StoreError> {
    let conn = open_read_only(db)?;
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Row count and hash of every table of `db` (except SQLite's own), read in one transaction.
/// Two databases with equal digests hold the same rows in the same order, whatever the schema.
pub fn table_digests(db: &Path) -> Result<BTreeMap<String, TableDigest>, StoreError> {
    let conn = open_read_only(db)?;
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        let mut digests = BTreeMap::new();
        for table in tables(&conn)? {
            digests.insert(table.name.clone(), digest_table(&conn, &table)?);
        }
        Ok(digests)
    })();
    conn.execute_batch("COMMIT")?;
    result
}

/// Every blob id the metadata in `db` mentions: the values of every column named `blob` or
/// ending in `_blob`, in any table, that are well-formed blob ids (64 lower-case hex digits).
///
/// This is every reference, not only the ones that keep a blob alive: rows such as sent
/// outbound mail may name a blob the purge has since removed. [`blobs_still_needed`] asks the
/// store which of a set of missing ones matter.
pub fn referenced_blobs(db: &Path) -> Result<BTreeSet<String>, StoreError> {
    let conn = open_read_only(db)?;
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        let mut found = BTreeSet::new();
        for table in tables(&conn)? {
            for column in &table.columns {
                let lower = column.to_ascii_lowercase();
                if lower != "blob" && !lower.ends_with("_blob") {
                    continue;
                }
                let sql = format!(
                    "SELECT DISTINCT {} FROM {}",
                    quote(column),
                    quote(&table.name)
                );
                let mut stmt = conn.prepare(&sql)?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    if let ValueRef::Text(text) = row.get_ref(0)? {
                        if let Ok(text) = std::str::from_utf8(text) {
                            if is_blob_id(text) {
                                found.insert(text.to_string());
                            }
                        }
                    }
                }
            }
        }
        Ok(found)
    })();
    conn.execute_batch("COMMIT")?;
    result
}

/// Of `candidates` (blob ids the metadata in `db` mentions but that are missing), the ones the
/// store still needs by its own rule (the purge's): a message row, a held quarantine entry, a
/// waiting outbound row, a held or released hold. The others may be gone by design.
///
/// Works on a scratch copy next to `db` (opening the store may migrate or change the journal
/// mode), removed afterwards; `db` itself is not touched.
pub async fn blobs_still_needed(
    db: &Path,
    candidates: &BTreeSet<String>,
) -> Result<BTreeSet<String>, StoreError> {
    if candidates.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut scratch = db.as_os_str().to_owned();
    scratch.push(".liveness-check");
    let scratch = PathBuf::from(scratch);
    let remove_scratch = |path: &Path| {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let _ = fs::remove_file(PathBuf::from(name));
        }
    };
    remove_scratch(&scratch);
    fs::copy(db, &scratch)?;
    let answer = async {
        let store = SqliteMetaStore::open(&scratch)?;
        let ids = candidates.iter().map(|c| BlobId(c.clone())).collect();
        let unneeded: BTreeSet<String> = store
            .unreferenced_blobs(ids)
            .await?
            .into_iter()
            .map(|b| b.0)
            .collect();
        Ok::<_, StoreError>(candidates.difference(&unneeded).cloned().collect())
    }
    .await;
    remove_scratch(&scratch);
    answer
}

/// Whether `name` can be a blob id (and so may become a file name).
pub fn is_blob_id(name: &str) -> bool {
    BlobId(name.to_string()).is_well_formed()
}

/// Copies `src` to `dest` durably: into a temporary file in `tmp_dir` (same file system as
/// `dest`), fsynced, then renamed into place. The SHA-256 is computed while copying; with
/// `expect_sha256` a mismatch leaves `dest` untouched and is an error. `mode` (Unix permission
/// bits) is applied before the rename, so a private key is never readable by others, even
/// briefly. The caller fsyncs `dest`'s directory (once per directory, not once per file).
pub fn copy_durably(
    src: &Path,
    dest: &Path,
    tmp_dir: &Path,
    expect_sha256: Option<&str>,
    mode: Option<u32>,
) -> Result<FileCopy, StoreError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut input = File::open(src)?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tmp_dir.join(format!(
        "{}.{}.{}.tmp",
        name.chars().take(32).collect::<String>(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut output = options.open(&tmp)?;
    let copied = (|| {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::Io(e)),
            };
            hasher.update(&buf[..n]);
            output.write_all(&buf[..n])?;
            bytes += n as u64;
        }
        let sha256 = hex::encode(hasher.finalize());
        if let Some(expected) = expect_sha256 {
            if sha256 != expected {
                return Err(StoreError::Invalid(format!(
                    "{} is corrupt: its content hashes to {sha256}, expected {expected}",
                    src.display()
                )));
            }
        }
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            output.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        output.sync_all()?;
        Ok(FileCopy { bytes, sha256 })
    })();
    drop(output);
    match copied {
        Ok(copy) => {
            if let Err(e) = fs::rename(&tmp, dest) {
                let _ = fs::remove_file(&tmp);
                return Err(e.into());
            }
            Ok(copy)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// SHA-256 (hex) and length of a file's content.
pub fn sha256_file(path: &Path) -> Result<FileCopy, StoreError> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileCopy {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Makes a directory's entries (new files, renames) durable.
pub fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn open_read_only(db: &Path) -> Result<Connection, StoreError> {
    if !db.is_file() {
        return Err(StoreError::NotFound(format!("database {}", db.display())));
    }
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

struct Table {
    name: String,
    columns: Vec<String>,
    /// Primary-key columns in key order, for a `WITHOUT ROWID` table; empty for a rowid table.
    without_rowid_key: Vec<String>,
}

fn tables(conn: &Connection) -> Result<Vec<Table>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let listed: Vec<(String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::with_capacity(listed.len());
    for (name, without_rowid) in listed {
        let mut info = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns: Vec<(String, i64)> = info
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut key: Vec<(i64, String)> = columns
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, pk)| (*pk, c.clone()))
            .collect();
        key.sort();
        tables.push(Table {
            name,
            columns: columns.into_iter().map(|(c, _)| c).collect(),
            without_rowid_key: if without_rowid {
                key.into_iter().map(|(_, c)| c).collect()
            } else {
                Vec::new()
            },
        });
    }
    Ok(tables)
}

fn digest_table(conn: &Connection, table: &Table) -> Result<TableDigest, StoreError> {
    let mut hasher = Sha256::new();
    hasher.update((table.columns.len() as u64).to_be_bytes());
    for column in &table.columns {
        put_bytes(&mut hasher, 3, column.as_bytes());
    }
    let order = if table.without_rowid_key.is_empty() {
        "rowid".to_string()
    } else {
        table
            .without_rowid_key
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let columns = table
        .columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns} FROM {} ORDER BY {order}",
        quote(&table.name)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        count += 1;
        for i in 0..table.columns.len() {
            match row.get_ref(i)? {
                ValueRef::Null => hasher.update([0u8]),
                ValueRef::Integer(v) => {
                    hasher.update([1u8]);
                    hasher.update(v.to_be_bytes());
                }
                ValueRef::Real(v) => {
                    hasher.update([2u8]);
                    hasher.update(v.to_bits().to_be_bytes());
                }
                ValueRef::Text(v) => put_bytes(&mut hasher, 3, v),
                ValueRef::Blob(v) => put_bytes(&mut hasher, 4, v),
            }
        }
    }
    Ok(TableDigest {
        rows: count,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn put_bytes(hasher: &mut Sha256, tag: u8, bytes: &[u8]) {
    hasher.update([tag]);
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// An SQL identifier, quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn scratch_db(dir: &Path) -> PathBuf {
        let path = dir.join("meta.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE messages(id INTEGER PRIMARY KEY, blob TEXT NOT NULL, subject TEXT,
                                   score REAL, raw BLOB, deleted_at INTEGER);
             CREATE TABLE archive(id INTEGER PRIMARY KEY, blob TEXT, source_blob TEXT);
             CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
             INSERT INTO messages(blob, subject, score, raw, deleted_at)
                 VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
                         'hello', 1.5, x'00ff', NULL),
                        ('../../etc/passwd', NULL, NULL, NULL, 42);
             INSERT INTO archive(blob, source_blob)
                 VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
                         'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc'),
                        ('BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', NULL);
             INSERT INTO kv VALUES ('z', '1'), ('a', '2');
             PRAGMA user_version = 9;",
        )
        .unwrap();
        path
    }

    #[test]
    fn snapshot_holds_the_same_rows_as_the_live_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = scratch_db(dir.path());
        let copy = dir.path().join("copy.sqlite");
        snapshot_meta(&db, &copy).unwrap();
        integrity_check(&copy).unwrap();
        assert_eq!(table_digests(&copy).unwrap(), table_digests(&db).unwrap());
        assert_eq!(schema_version(&copy).unwrap(), 9);
        let digests = table_digests(&copy).unwrap();
        assert_eq!(
            digests.keys().collect::<Vec<_>>(),
            ["archive", "kv", "messages"]
        );
        assert_eq!(digests["messages"].rows, 2);
        let wal = PathBuf::from(format!("{}-wal", copy.display()));
        assert!(!wal.exists(), "the snapshot is one self-contained file");
        assert!(
            matches!(snapshot_meta(&db, &copy), Err(StoreError::Conflict(_))),
            "never overwrites"
        );
    }

    #[test]
    fn snapshot_is_consistent_while_another_connection_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = scratch_db(dir.path());
        let writer_db = db.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop_writer = stop.clone();
        // Each transaction inserts into two tables; a torn snapshot would show unequal counts.
        let writer = std::thread::spawn(move || {
            let conn = Connection::open(&writer_db).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            let mut n = 0;
            while !stop_writer.load(Ordering::Relaxed) {
                conn.execute_batch(
                    "BEGIN IMMEDIATE;
                     INSERT INTO messages(blob) VALUES ('x');
                     INSERT INTO archive(blob) VALUES ('y');
                     COMMIT;",
                )
                .unwrap();
                n += 1;
            }
            n
        });
        for i in 0..5 {
            let copy = dir.path().join(format!("copy{i}.sqlite"));
            snapshot_meta(&db, &copy).unwrap();
            integrity_check(&copy).unwrap();
            let d = table_digests(&copy).unwrap();
            assert_eq!(d["messages"].rows, d["archive"].rows);
        }
        stop.store(true, Ordering::Relaxed);
        assert!(writer.join().unwrap() > 0);
    }

    #[test]
    fn digests_see_any_changed_value_and_tell_types_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = scratch_db(dir.path());
        let before = table_digests(&db).unwrap();
        let conn = Connection::open(&db).unwrap();
        // Any changed value shows; the integer 42 and the text '42' do not hash alike (`raw`
        // has no type affinity, so SQLite stores each as given).
        conn.execute("UPDATE messages SET raw = 42 WHERE id = 2", [])
            .unwrap();
        let as_integer = table_digests(&db).unwrap();
        assert_ne!(before["messages"], as_integer["messages"]);
        assert_eq!(before["archive"], as_integer["archive"]);
        assert_eq!(before["kv"], as_integer["kv"]);
        conn.execute("UPDATE messages SET raw = '42' WHERE id = 2", [])
            .unwrap();
        assert_ne!(
            table_digests(&db).unwrap()["messages"],
            as_integer["messages"]
        );
        conn.execute("UPDATE messages SET raw = NULL WHERE id = 2", [])
            .unwrap();
        assert_eq!(table_digests(&db).unwrap(), before);
        // A new column changes the digest even while every value in it is NULL.
        conn.execute("ALTER TABLE kv ADD COLUMN note TEXT", [])
            .unwrap();
        assert_ne!(table_digests(&db).unwrap()["kv"], before["kv"]);
    }

    #[test]
    fn finds_blob_references_in_any_table_by_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = scratch_db(dir.path());
        let found = referenced_blobs(&db).unwrap();
        let expected: BTreeSet<String> = [A, B, C].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            found, expected,
            "upper-case and path-like values are not blob ids"
        );
    }

    #[test]
    fn integrity_check_names_the_damage() {
        let dir = tempfile::tempdir().unwrap();
        let db = scratch_db(dir.path());
        let copy = dir.path().join("copy.sqlite");
        snapshot_meta(&db, &copy).unwrap();
        integrity_check(&copy).unwrap();
        // Scribble over the second page (the first table's b-tree).
        let mut bytes = fs::read(&copy).unwrap();
        let page = 4096;
        for b in &mut bytes[page + 8..page + 200] {
            *b = 0x5a;
        }
        fs::write(&copy, &bytes).unwrap();
        let err = integrity_check(&copy)
            .and_then(|_| table_digests(&copy).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("integrity") || err.contains("malformed"),
            "{err}"
        );
        assert!(matches!(
            integrity_check(&dir.path().join("absent.sqlite")),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn copies_durably_and_refuses_content_that_does_not_match_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::write(&src, b"message bytes").unwrap();
        let sha = hex::encode(Sha256::digest(b"message bytes"));
        let dest = dir.path().join("dest");
        let copy = copy_durably(&src, &dest, dir.path(), Some(&sha), Some(0o600)).unwrap();
        assert_eq!(copy.sha256, sha);
        assert_eq!(copy.bytes, 13);
        assert_eq!(fs::read(&dest).unwrap(), b"message bytes");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let other = dir.path().join("other");
        let err = copy_durably(&src, &other, dir.path(), Some(A), None).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(!other.exists());
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("tmp".as_ref()))
            .count();
        assert_eq!(leftovers, 0);
        assert_eq!(sha256_file(&dest).unwrap(), copy);
    }

    #[tokio::test]
    async fn a_missing_blob_is_needed_only_while_the_store_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Mailstore::open_embedded(
            dir.path(),
            std::sync::Arc::new(rampart_model::SystemClock),
            7,
        )
        .unwrap();
        let now = store.now();
        store
            .meta()
            .add_domain("example.com", now, "test")
            .await
            .unwrap();
        let alice: rampart_model::EmailAddress = "alice@example.com".parse().unwrap();
        store
            .meta()
            .create_account(
                rampart_model::NewAccount {
                    address: Some(alice.clone()),
                    ..Default::default()
                },
                now,
                "test",
            )
            .await
            .unwrap();
        let raw = bytes::Bytes::from_static(b"Subject: kept\r\n\r\nbody\r\n");
        let stored = store
            .deliver(
                crate::NewMessage::new(raw),
                std::slice::from_ref(&alice),
                rampart_model::Folder::Inbox,
                "smtp",
            )
            .await
            .unwrap();
        let db = dir.path().join("meta.sqlite");
        let snapshot = dir.path().join("snapshot.sqlite");
        snapshot_meta(&db, &snapshot).unwrap();
        let message_blob = stored[0].blob.0.clone();
        let unknown = A.to_string();
        let candidates: BTreeSet<String> = [message_blob.clone(), unknown].into();
        let needed = blobs_still_needed(&snapshot, &candidates).await.unwrap();
        assert_eq!(needed, BTreeSet::from([message_blob]));
        assert!(!dir.path().join("snapshot.sqlite.liveness-check").exists());
        assert_eq!(
            table_digests(&snapshot).unwrap(),
            table_digests(&db).unwrap()
        );
    }
}
