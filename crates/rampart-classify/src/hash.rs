//! The stable hash behind every feature bucket.
//!
//! Feature indices are part of the model file: a word must land in the same bucket on every
//! machine, in every release, or a shipped model silently stops working. `std`'s hashers are
//! randomly seeded and may change between releases, so this is a small hash of our own: 8 bytes per
//! step, read little-endian (the same on every platform), multiply-rotate mixing and the
//! MurmurHash3 64-bit finaliser. It is not a cryptographic hash and does not need to be: an
//! adversary who forces collisions only moves their own words into shared buckets.

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

#[inline]
fn mix_word(h: u64, word: u64) -> u64 {
    (h ^ word.wrapping_mul(K2)).rotate_left(31).wrapping_mul(K1)
}

/// Hashes `bytes` under `seed`. Stable across runs, platforms and releases (pinned in tests).
#[inline]
pub fn stable_hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = mix_word(h, word);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // The little-endian word of the tail, zero-padded (a byte loop: no memcpy call for a
        // 1..7-byte copy on the hottest path).
        let mut word = 0u64;
        for (k, &b) in rest.iter().enumerate() {
            word |= u64::from(b) << (8 * k);
        }
        h = mix_word(h, word);
    }
    fmix64(h)
}

/// Combines two hashes, order-sensitive (`combine(a, b) != combine(b, a)`): word bigrams are
/// hashed from their words' hashes without building the joined string.
#[inline]
pub fn combine(a: u64, b: u64) -> u64 {
    fmix64(a.wrapping_mul(K1) ^ b.rotate_left(27).wrapping_add(K2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_matches_pinned_values() {
        // These values are part of the model file format: changing them invalidates every
        // shipped model. If this test fails, the hash changed; bump FORMAT_VERSION instead.
        assert_eq!(stable_hash(0, b"free"), PINNED_FREE);
        assert_eq!(stable_hash(7, "免费领取".as_bytes()), PINNED_CJK);
        assert_eq!(combine(1, 2), PINNED_COMBINE);
    }

    const PINNED_FREE: u64 = 0x19a0_df04_b1d9_6a45;
    const PINNED_CJK: u64 = 0x78f5_1c46_bd0a_2027;
    const PINNED_COMBINE: u64 = 0x44bc_2795_918c_bc38;

    #[test]
    fn stable_hash_depends_on_seed_length_and_order() {
        assert_ne!(stable_hash(0, b"ab"), stable_hash(1, b"ab"));
        assert_ne!(stable_hash(0, b"ab"), stable_hash(0, b"ba"));
        assert_ne!(stable_hash(0, b"a"), stable_hash(0, b"a\0"));
        assert_ne!(combine(1, 2), combine(2, 1));
    }
}
