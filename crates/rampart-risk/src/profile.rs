//! A user's login history, compact and bounded: counts of each feature value seen in trusted,
//! successful logins, plus when and where the last one was.

use serde::{Deserialize, Serialize};

use crate::features::{device_key, kind_bits, tag, Kind, Observation, KIND_COUNT};
use crate::RiskError;

/// At most this many distinct values are kept per feature (IPs, subnets, user agents, ...);
/// hours of the week (168) and round-trip-time buckets (64) have their own natural bounds.
pub const MAX_VALUES_PER_FEATURE: usize = 50;
/// Hard upper bound on stored values in one profile (all features together).
pub const MAX_PROFILE_ENTRIES: usize = 16 * MAX_VALUES_PER_FEATURE + 168 + 64;
/// Counts are halved when the total passes this, so old habits fade and numbers stay small.
const DECAY_AT: u32 = 4096;
const FORMAT_VERSION: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub key: u64,
    pub count: u32,
    /// Hours since the epoch of the last time this value was seen.
    pub last_hour: u32,
    /// Distinct values seen under this one in its hierarchy (subnets of an ASN, IPs of a
    /// subnet, ...): how scattered the user is below it.
    pub children: u32,
}

/// The history of one account's successful, trusted logins. Only [`crate::RiskEngine::record`]
/// learns into it; store it with [`Profile::to_bytes`] and load it with [`Profile::from_bytes`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Sorted by key; the key's top bits name the feature.
    entries: Vec<Entry>,
    /// Trusted logins learned (after decay, the weight of history rather than a raw count).
    total: u32,
    /// Logins learned, never decayed.
    logins: u32,
    first_seen_ms: Option<i64>,
    last_login_ms: Option<i64>,
    last_location: Option<(f32, f32)>,
}

impl Profile {
    pub fn new() -> Profile {
        Profile::default()
    }

    /// Number of trusted logins learned.
    pub fn logins(&self) -> u32 {
        self.logins
    }

    pub fn first_seen_ms(&self) -> Option<i64> {
        self.first_seen_ms
    }

    pub fn last_login_ms(&self) -> Option<i64> {
        self.last_login_ms
    }

    pub fn last_location(&self) -> Option<(f64, f64)> {
        self.last_location
            .map(|(a, b)| (f64::from(a), f64::from(b)))
    }

    /// Stored distinct values, all features together (bounded by [`MAX_PROFILE_ENTRIES`]).
    pub fn stored_values(&self) -> usize {
        self.entries.len()
    }

    /// Whether the device id was seen in a trusted login or explicitly enrolled.
    pub fn knows_device(&self, device_id: &str) -> bool {
        self.count(device_key(Kind::Device, device_id)) > 0
            || self.count(device_key(Kind::Enrolled, device_id)) > 0
    }

    /// Whether any device id is known (seen or enrolled).
    pub fn has_devices(&self) -> bool {
        self.distinct(Kind::Device) + self.distinct(Kind::Enrolled) > 0
    }

    /// Enrols a device for device binding (an admin action or a verified first login).
    pub fn enroll_device(&mut self, device_id: &str, at_ms: i64) {
        self.bump(device_key(Kind::Enrolled, device_id), hours(at_ms));
    }

    /// Forgets a device, enrolled or learned.
    pub fn revoke_device(&mut self, device_id: &str) {
        let keys = [
            device_key(Kind::Enrolled, device_id),
            device_key(Kind::Device, device_id),
        ];
        self.entries.retain(|e| !keys.contains(&e.key));
    }

    pub(crate) fn total(&self) -> u32 {
        self.total
    }

    pub(crate) fn count(&self, key: u64) -> u32 {
        self.get(key).map_or(0, |e| e.count)
    }

    pub(crate) fn get(&self, key: u64) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&key, |e| e.key)
            .ok()
            .map(|i| &self.entries[i])
    }

    fn kind_range(&self, kind: Kind) -> std::ops::Range<usize> {
        let lo = tag(kind, 0);
        let hi = tag(kind, u64::MAX);
        let a = self.entries.partition_point(|e| e.key < lo);
        let b = self.entries.partition_point(|e| e.key <= hi);
        a..b
    }

    pub(crate) fn distinct(&self, kind: Kind) -> usize {
        self.kind_range(kind).len()
    }

    pub(crate) fn kind_total(&self, kind: Kind) -> u32 {
        self.entries[self.kind_range(kind)]
            .iter()
            .map(|e| e.count)
            .sum()
    }

    /// Logins per UTC hour of day (summed over the week).
    pub(crate) fn hours_of_day(&self) -> [u32; 24] {
        let mut h = [0u32; 24];
        for e in &self.entries[self.kind_range(Kind::HourOfWeek)] {
            let how = (e.key & 0xff) as usize % 168;
            h[how % 24] += e.count;
        }
        h
    }

    pub(crate) fn rtt_histogram(&self) -> ([u32; 64], u32) {
        let mut h = [0u32; 64];
        let mut n = 0;
        for e in &self.entries[self.kind_range(Kind::Rtt)] {
            h[(e.key & 63) as usize] += e.count;
            n += e.count;
        }
        (h, n)
    }

    /// Counts one more use of `key`; returns whether the value is new.
    fn bump(&mut self, key: u64, hour: u32) -> bool {
        match self.entries.binary_search_by_key(&key, |e| e.key) {
            Ok(i) => {
                let e = &mut self.entries[i];
                e.count = e.count.saturating_add(1);
                e.last_hour = hour;
                false
            }
            Err(i) => {
                self.entries.insert(
                    i,
                    Entry {
                        key,
                        count: 1,
                        last_hour: hour,
                        children: 0,
                    },
                );
                let Some(kind) = Kind::from_u8(kind_bits(key)) else {
                    return true;
                };
                let range = self.kind_range(kind);
                if range.len() > kind.cap() {
                    // Evict the least used, then least recent, value other than the new one.
                    let victim = range
                        .filter(|&j| self.entries[j].key != key)
                        .min_by_key(|&j| (self.entries[j].count, self.entries[j].last_hour));
                    if let Some(j) = victim {
                        self.entries.remove(j);
                    }
                }
                true
            }
        }
    }

    pub(crate) fn learn(&mut self, obs: &Observation) {
        let hour = hours(obs.at_ms);
        for chain in obs.chains() {
            let mut parent = None;
            for key in chain.iter().flatten().copied() {
                if self.bump(key, hour) {
                    if let Some(p) = parent {
                        if let Ok(i) = self.entries.binary_search_by_key(&p, |e| e.key) {
                            let e = &mut self.entries[i];
                            e.children = e.children.saturating_add(1);
                        }
                    }
                }
                parent = Some(key);
            }
        }
        for key in obs.flat_keys() {
            self.bump(key, hour);
        }
        self.total = self.total.saturating_add(1);
        self.logins = self.logins.saturating_add(1);
        if self.first_seen_ms.is_none() {
            self.first_seen_ms = Some(obs.at_ms);
        }
        self.last_login_ms = Some(self.last_login_ms.map_or(obs.at_ms, |t| t.max(obs.at_ms)));
        if let Some((lat, lon)) = obs.location {
            self.last_location = Some((lat as f32, lon as f32));
        }
        if self.total >= DECAY_AT {
            self.total /= 2;
            for e in &mut self.entries {
                e.count = e.count.div_ceil(2);
            }
        }
    }

    /// The profile as bytes: a version byte, then varint-encoded fields.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 12);
        out.push(FORMAT_VERSION);
        put_varint(&mut out, u64::from(self.total));
        put_varint(&mut out, u64::from(self.logins));
        put_opt_i64(&mut out, self.first_seen_ms);
        put_opt_i64(&mut out, self.last_login_ms);
        match self.last_location {
            Some((a, b)) => {
                out.push(1);
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
            None => out.push(0),
        }
        put_varint(&mut out, self.entries.len() as u64);
        for e in &self.entries {
            out.extend_from_slice(&e.key.to_le_bytes());
            put_varint(&mut out, u64::from(e.count));
            put_varint(&mut out, u64::from(e.last_hour));
            put_varint(&mut out, u64::from(e.children));
        }
        out
    }

    /// Reads [`Profile::to_bytes`] output. Any corruption (truncation, bad lengths, unknown
    /// features, unsorted values, trailing bytes) is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Profile, RiskError> {
        let mut r = Cursor { bytes, pos: 0 };
        let version = r.byte()?;
        if version != FORMAT_VERSION {
            return Err(RiskError::ProfileVersion {
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        let total = r.u32()?;
        let logins = r.u32()?;
        let first_seen_ms = r.opt_i64()?;
        let last_login_ms = r.opt_i64()?;
        let last_location = match r.byte()? {
            0 => None,
            1 => {
                let a = f32::from_le_bytes(r.array()?);
                let b = f32::from_le_bytes(r.array()?);
                if !(a.is_finite() && b.is_finite() && a.abs() <= 90.0 && b.abs() <= 180.0) {
                    return Err(corrupt("last location out of range"));
                }
                Some((a, b))
            }
            _ => return Err(corrupt("bad location flag")),
        };
        let n = r.varint()?;
        if n > MAX_PROFILE_ENTRIES as u64 {
            return Err(corrupt("too many stored values"));
        }
        let mut entries = Vec::with_capacity(n as usize);
        let mut per_kind = [0usize; KIND_COUNT];
        for _ in 0..n {
            let key = u64::from_le_bytes(r.array()?);
            let kind = Kind::from_u8(kind_bits(key)).ok_or_else(|| corrupt("unknown feature"))?;
            per_kind[kind as usize] += 1;
            if per_kind[kind as usize] > kind.cap() {
                return Err(corrupt("too many values for one feature"));
            }
            if entries.last().is_some_and(|p: &Entry| p.key >= key) {
                return Err(corrupt("values out of order"));
            }
            let count = r.u32()?;
            if count == 0 {
                return Err(corrupt("zero count"));
            }
            let last_hour = r.u32()?;
            let children = r.u32()?;
            entries.push(Entry {
                key,
                count,
                last_hour,
                children,
            });
        }
        if r.pos != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Profile {
            entries,
            total,
            logins,
            first_seen_ms,
            last_login_ms,
            last_location,
        })
    }
}

fn hours(at_ms: i64) -> u32 {
    at_ms.div_euclid(3_600_000).clamp(0, i64::from(u32::MAX)) as u32
}

fn corrupt(what: &str) -> RiskError {
    RiskError::ProfileCorrupt(what.to_string())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_opt_i64(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            out.push(1);
            put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
        }
        None => out.push(0),
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, RiskError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RiskError> {
        let end = self
            .pos
            .checked_add(N)
            .ok_or_else(|| corrupt("truncated"))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| corrupt("truncated"))?;
        self.pos = end;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, RiskError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn u32(&mut self) -> Result<u32, RiskError> {
        u32::try_from(self.varint()?).map_err(|_| corrupt("number too large"))
    }

    fn opt_i64(&mut self) -> Result<Option<i64>, RiskError> {
        match self.byte()? {
            0 => Ok(None),
            1 => {
                let z = self.varint()?;
                Ok(Some(((z >> 1) as i64) ^ -((z & 1) as i64)))
            }
            _ => Err(corrupt("bad option flag")),
        }
    }
}
