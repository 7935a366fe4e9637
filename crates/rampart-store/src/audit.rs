//! The audit chain's hash: every event row commits to the row before it, so an edited, deleted or
//! reordered row changes every hash after it. One definition, used when writing (the SQLite
//! backend, any other backend) and when verifying (`rampart audit verify`).

use sha2::{Digest, Sha256};

/// The hash the first entry chains to.
pub const GENESIS: [u8; 32] = [0; 32];

/// What a checkpoint signature covers: the domain tag, the entry id, its chain hash and when the
/// checkpoint was made, in a fixed binary layout.
pub fn checkpoint_message(event_id: i64, hash: &[u8; 32], at: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(b"rampart-audit-checkpoint-v1\0");
    m.extend_from_slice(&event_id.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

/// SHA-256 over the previous hash and every stored field of the entry, each length-prefixed so
/// that no two different entries encode alike. `detail` is the stored JSON text, byte for byte.
pub fn entry_hash(
    prev: &[u8; 32],
    id: i64,
    at: i64,
    kind: &str,
    actor: &str,
    subject: Option<&str>,
    detail: &str,
) -> [u8; 32] {
    fn field(h: &mut Sha256, bytes: &[u8]) {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    let mut h = Sha256::new();
    h.update(b"rampart-audit-v1\0");
    h.update(prev);
    h.update(id.to_be_bytes());
    h.update(at.to_be_bytes());
    field(&mut h, kind.as_bytes());
    field(&mut h, actor.as_bytes());
    match subject {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            field(&mut h, s.as_bytes());
        }
    }
    field(&mut h, detail.as_bytes());
    h.finalize().into()
}

/// Parses a stored hex hash.
pub fn parse_hash(hex_text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hex_text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = entry_hash(&GENESIS, 1, 10, "k", "a", Some("s"), "{}");
        assert_eq!(base, entry_hash(&GENESIS, 1, 10, "k", "a", Some("s"), "{}"));
        let variants = [
            entry_hash(&[1; 32], 1, 10, "k", "a", Some("s"), "{}"),
            entry_hash(&GENESIS, 2, 10, "k", "a", Some("s"), "{}"),
            entry_hash(&GENESIS, 1, 11, "k", "a", Some("s"), "{}"),
            entry_hash(&GENESIS, 1, 10, "j", "a", Some("s"), "{}"),
            entry_hash(&GENESIS, 1, 10, "k", "b", Some("s"), "{}"),
            entry_hash(&GENESIS, 1, 10, "k", "a", None, "{}"),
            entry_hash(&GENESIS, 1, 10, "k", "a", Some(""), "{}"),
            entry_hash(&GENESIS, 1, 10, "k", "a", Some("s"), "{ }"),
            // Moving bytes between fields must not collide.
            entry_hash(&GENESIS, 1, 10, "ka", "", Some("s"), "{}"),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }
}
