use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_model::{BlobId, Timestamp};
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Immutable, content-addressed storage of raw messages.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` and returns their address. Durable (fsynced) when it returns; storing bytes
    /// that are already present is a cheap no-op.
    async fn put(&self, bytes: Bytes) -> Result<BlobId, StoreError>;
    async fn get(&self, id: &BlobId) -> Result<Bytes, StoreError>;
    /// Removes a blob; removing one that is absent is not an error.
    async fn delete(&self, id: &BlobId) -> Result<(), StoreError>;
    async fn exists(&self, id: &BlobId) -> Result<bool, StoreError>;
    /// Blobs last written before `before` (Unix seconds). The orphan sweep uses it to find blobs
    /// whose metadata never committed (a crash between the two writes).
    async fn list_written_before(&self, before: Timestamp) -> Result<Vec<BlobId>, StoreError>;
}

pub fn blob_id_of(bytes: &[u8]) -> BlobId {
    BlobId(hex::encode(Sha256::digest(bytes)))
}

/// Blob files under `<root>/<first two hex digits>/<sha256>`, written to `<root>/tmp` first, fsynced,
/// renamed into place and the directory fsynced, so a crash leaves either the whole blob or none.
#[derive(Clone)]
pub struct FsBlobStore {
    inner: Arc<FsBlobs>,
}

struct FsBlobs {
    root: PathBuf,
    tmp_seq: AtomicU64,
}

impl FsBlobStore {
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root.join("tmp"))?;
        // Leftovers of writes interrupted by a crash: never referenced, safe to drop. Only old
        // ones: an admin command opening the store beside a running server must not delete a
        // blob the server is writing right now.
        let stale = SystemTime::now() - Duration::from_secs(3600);
        for entry in fs::read_dir(root.join("tmp"))? {
            let entry = entry?;
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t < stale)
                .unwrap_or(true);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(FsBlobStore {
            inner: Arc::new(FsBlobs {
                root: root.to_path_buf(),
                tmp_seq: AtomicU64::new(0),
            }),
        })
    }

    fn path_of(&self, id: &BlobId) -> Result<PathBuf, StoreError> {
        self.inner.path_of(id)
    }
}

impl FsBlobs {
    fn path_of(&self, id: &BlobId) -> Result<PathBuf, StoreError> {
        if !id.is_well_formed() {
            return Err(StoreError::Invalid(format!("blob id {:?}", id.0)));
        }
        Ok(self.root.join(&id.0[..2]).join(&id.0))
    }

    fn put_blocking(&self, bytes: &[u8]) -> Result<BlobId, StoreError> {
        let id = blob_id_of(bytes);
        let path = self.path_of(&id)?;
        if path.exists() {
            // Re-stored content counts as freshly written, so the orphan sweep cannot remove it
            // between this call and the metadata that will reference it.
            File::options()
                .write(true)
                .open(&path)?
                .set_modified(SystemTime::now())?;
            return Ok(id);
        }
        let shard = path.parent().expect("blob path has a shard directory");
        if !shard.exists() {
            fs::create_dir_all(shard)?;
            fsync_dir(&self.root)?;
        }
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp =
            self.root
                .join("tmp")
                .join(format!("{}.{}.{}", &id.0[..16], std::process::id(), seq));
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let written = file.write_all(bytes).and_then(|_| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        drop(file);
        fs::rename(&tmp, &path)?;
        fsync_dir(shard)?;
        Ok(id)
    }
}

fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, bytes: Bytes) -> Result<BlobId, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.put_blocking(&bytes)).await?
    }

    async fn get(&self, id: &BlobId) -> Result<Bytes, StoreError> {
        let path = self.path_of(id)?;
        let id = id.clone();
        tokio::task::spawn_blocking(move || match fs::read(&path) {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(StoreError::NotFound(format!("blob {id}")))
            }
            Err(e) => Err(e.into()),
        })
        .await?
    }

    async fn delete(&self, id: &BlobId) -> Result<(), StoreError> {
        let path = self.path_of(id)?;
        tokio::task::spawn_blocking(move || match fs::remove_file(&path) {
            Ok(()) => fsync_dir(path.parent().expect("blob path has a shard directory")),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        })
        .await?
    }

    async fn exists(&self, id: &BlobId) -> Result<bool, StoreError> {
        Ok(self.path_of(id)?.exists())
    }

    async fn list_written_before(&self, before: Timestamp) -> Result<Vec<BlobId>, StoreError> {
        let root = self.inner.root.clone();
        let cutoff = UNIX_EPOCH + Duration::from_secs(before.0.max(0) as u64);
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for shard in fs::read_dir(&root)? {
                let shard = shard?;
                let name = shard.file_name();
                if name.len() != 2 || !shard.file_type()?.is_dir() {
                    continue; // `tmp` and anything that is not a shard
                }
                for entry in fs::read_dir(shard.path())? {
                    let entry = entry?;
                    let id = BlobId(entry.file_name().to_string_lossy().into_owned());
                    if !id.is_well_formed() {
                        continue;
                    }
                    if entry.metadata()?.modified()? < cutoff {
                        found.push(id);
                    }
                }
            }
            Ok(found)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_content_addressed_and_byte_exact() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let raw = Bytes::from_static(b"Subject: x\r\n\r\nbody with bare \n and \0 bytes\r\n");
        let id = store.put(raw.clone()).await.unwrap();
        assert_eq!(id, blob_id_of(&raw));
        assert_eq!(
            store.put(raw.clone()).await.unwrap(),
            id,
            "same bytes, same id"
        );
        assert_eq!(store.get(&id).await.unwrap(), raw);
        store.delete(&id).await.unwrap();
        assert!(!store.exists(&id).await.unwrap());
        assert!(matches!(store.get(&id).await, Err(StoreError::NotFound(_))));
        store.delete(&id).await.unwrap();
    }

    #[tokio::test]
    async fn refuses_ids_that_are_not_sha256_hex() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        let evil = BlobId("../../etc/passwd".into());
        assert!(matches!(
            store.get(&evil).await,
            Err(StoreError::Invalid(_))
        ));
    }
}
