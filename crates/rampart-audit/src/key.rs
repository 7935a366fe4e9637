//! The checkpoint signing key: Ed25519 through ring, stored as PKCS#8 with mode 0600.

use std::io::Write;
use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use crate::AuditError;

pub struct AuditKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private half.
        write!(f, "AuditKey({})", self.public_key_hex())
    }
}

fn key_error(path: &Path, what: impl ToString) -> AuditError {
    AuditError::Key {
        path: path.display().to_string(),
        what: what.to_string(),
    }
}

impl AuditKey {
    /// Loads the key at `path`, creating it (and its directory, 0700) when absent.
    pub fn load_or_create(path: &Path) -> Result<Self, AuditError> {
        if path.exists() {
            return Self::load(path);
        }
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| key_error(path, "could not generate a key"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| key_error(path, e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
        }
        let tmp = path.with_extension("tmp");
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp).map_err(|e| key_error(path, e))?;
            file.write_all(pkcs8.as_ref())
                .and_then(|_| file.sync_all())
                .map_err(|e| key_error(path, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| key_error(path, e))?;
        tracing::info!(path = %path.display(), "created the audit signing key");
        Self::load(path)
    }

    pub fn load(path: &Path) -> Result<Self, AuditError> {
        let bytes = std::fs::read(path).map_err(|e| key_error(path, e))?;
        let pair = Ed25519KeyPair::from_pkcs8(&bytes)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&bytes))
            .map_err(|_| key_error(path, "not an Ed25519 PKCS#8 key"))?;
        Ok(AuditKey { pair })
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    /// Hex signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }
}

/// Whether `signature_hex` is `public_key_hex`'s signature of `message`.
pub(crate) fn signature_ok(public_key_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let (Ok(public), Ok(signature)) = (hex::decode(public_key_hex), hex::decode(signature_hex))
    else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public)
        .verify(message, &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_private_loads_back_and_signs_verifiably() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit").join("signing.key");
        let key = AuditKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(key.public_key_hex(), again.public_key_hex());
        let sig = key.sign(b"hello");
        assert!(signature_ok(&again.public_key_hex(), b"hello", &sig));
        assert!(!signature_ok(&again.public_key_hex(), b"hellO", &sig));
        assert!(!format!("{key:?}").contains(&hex::encode(std::fs::read(&path).unwrap())));
    }

    #[test]
    fn a_garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"not a key").unwrap();
        let err = AuditKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("not an Ed25519 PKCS#8 key"), "{err}");
    }
}
