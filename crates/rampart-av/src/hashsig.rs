//! Exact-match SHA-256 signatures, checked in process: known-bad files (from incidents, threat
//! intelligence or the admin) are caught even when no clamd runs.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::ScanOutcome;

/// SHA-256 of the 68-byte EICAR anti-virus test file.
pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// Entries every [`HashSignatures`] starts with.
const BUILTIN: &[(&str, &str)] = &[(EICAR_SHA256, "Rampart.Test.EICAR")];

/// Longest accepted signature name; names end up in headers and logs.
const MAX_NAME_LEN: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("cannot read hash signature file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("hash signatures line {line}: {reason}")]
    Syntax { line: usize, reason: &'static str },
}

/// A set of SHA-256 digests, each with a signature name.
#[derive(Debug, Clone)]
pub struct HashSignatures {
    by_digest: HashMap<[u8; 32], String>,
}

impl HashSignatures {
    /// The built-in entries only (the EICAR test file as `Rampart.Test.EICAR`).
    pub fn builtin() -> HashSignatures {
        let mut set = HashSignatures {
            by_digest: HashMap::new(),
        };
        for (hex, name) in BUILTIN {
            if let Some(digest) = decode_sha256(hex) {
                set.by_digest.insert(digest, (*name).to_string());
            }
        }
        set
    }

    /// The built-in entries plus those of a signature file (see [`HashSignatures::add_lines`]).
    pub fn load(path: &Path) -> Result<HashSignatures, SignatureError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignatureError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut set = HashSignatures::builtin();
        set.add_lines(&text)?;
        Ok(set)
    }

    /// Adds entries from text with one `sha256-hex name` per line; blank lines and `#` comments
    /// (whole-line or after the name) are skipped. A later entry for the same digest replaces the
    /// earlier one. On error nothing is added.
    pub fn add_lines(&mut self, text: &str) -> Result<usize, SignatureError> {
        let mut parsed = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_whitespace();
            let Some(hex) = fields.next() else { continue };
            let syntax = |reason| SignatureError::Syntax {
                line: index + 1,
                reason,
            };
            let digest =
                decode_sha256(hex).ok_or_else(|| syntax("expected 64 hex digits (SHA-256)"))?;
            let name = fields
                .next()
                .ok_or_else(|| syntax("missing signature name after the hash"))?;
            if fields.next().is_some() {
                return Err(syntax("signature names cannot contain spaces"));
            }
            if name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
                return Err(syntax("signature name too long or not printable"));
            }
            parsed.push((digest, name.to_string()));
        }
        let added = parsed.len();
        self.by_digest.extend(parsed);
        Ok(added)
    }

    /// The signature name if the SHA-256 of `bytes` is listed.
    pub fn check(&self, bytes: &[u8]) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        self.by_digest.get(&digest).map(String::as_str)
    }

    /// The signature name for an already computed digest (lower- or upper-case hex).
    pub fn lookup_hex(&self, sha256_hex: &str) -> Option<&str> {
        let digest = decode_sha256(sha256_hex)?;
        self.by_digest.get(&digest).map(String::as_str)
    }

    /// [`HashSignatures::check`] as a [`ScanOutcome`], for [`crate::findings_for`].
    pub fn outcome(&self, bytes: &[u8]) -> ScanOutcome {
        match self.check(bytes) {
            Some(name) => ScanOutcome::Infected(vec![name.to_string()]),
            None => ScanOutcome::Clean,
        }
    }

    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

impl Default for HashSignatures {
    fn default() -> Self {
        HashSignatures::builtin()
    }
}

fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    #[test]
    fn builtin_set_recognises_the_eicar_test_file() {
        let set = HashSignatures::builtin();
        assert_eq!(set.check(EICAR), Some("Rampart.Test.EICAR"));
        assert_eq!(
            set.outcome(EICAR),
            ScanOutcome::Infected(vec!["Rampart.Test.EICAR".into()])
        );
    }

    #[test]
    fn eicar_with_a_trailing_newline_is_a_different_file() {
        let mut bytes = EICAR.to_vec();
        bytes.push(b'\n');
        assert_eq!(HashSignatures::builtin().check(&bytes), None);
        assert_eq!(
            HashSignatures::builtin().outcome(&bytes),
            ScanOutcome::Clean
        );
    }

    #[test]
    fn loads_hash_name_lines_skipping_comments_and_blank_lines() {
        // SHA-256 of "hello\n".
        let text = "# local incident hashes\n\n\
            5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03 Incident.2026.Dropper # from case 17\n";
        let mut set = HashSignatures::builtin();
        assert_eq!(set.add_lines(text).unwrap(), 1);
        assert_eq!(set.len(), 2);
        assert_eq!(set.check(b"hello\n"), Some("Incident.2026.Dropper"));
        assert_eq!(set.check(EICAR), Some("Rampart.Test.EICAR"));
    }

    #[test]
    fn rejects_malformed_lines_with_their_line_number_and_adds_nothing() {
        let cases = [
            ("abc Short.Hash\n", 1),
            ("\n# ok\n5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0z Bad.Hex\n", 3),
            ("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n", 1),
            ("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 two words\n", 1),
            ("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 é€\u{7f}\n", 1),
        ];
        for (text, expected_line) in cases {
            let mut set = HashSignatures::builtin();
            match set.add_lines(text) {
                Err(SignatureError::Syntax { line, .. }) => {
                    assert_eq!(line, expected_line, "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
            assert_eq!(set.len(), 1, "{text:?}");
        }
    }

    #[test]
    fn non_ascii_hash_field_is_an_error_not_a_panic() {
        let mut set = HashSignatures::builtin();
        let text = format!("{} Name\n", "é".repeat(32));
        assert!(set.add_lines(&text).is_err());
    }

    #[test]
    fn loads_a_signature_file_on_top_of_the_builtins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hashes.txt");
        std::fs::write(
            &path,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 Local.Hello\n",
        )
        .unwrap();
        let set = HashSignatures::load(&path).unwrap();
        assert_eq!(set.check(b"hello\n"), Some("Local.Hello"));
        assert_eq!(set.check(EICAR), Some("Rampart.Test.EICAR"));
        let missing = HashSignatures::load(&dir.path().join("missing.txt"));
        assert!(matches!(missing, Err(SignatureError::Read { .. })));
    }
}
