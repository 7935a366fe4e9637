//! Small internal helpers: stable hashing of feature values, a pass-through hasher for maps whose
//! keys are already hashes, and a longest-prefix map over IP networks.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use ipnet::IpNet;

/// splitmix64 finaliser: spreads any 64-bit input over all bits. Not cryptographic; it only has
/// to be stable across versions (profiles are persisted) and well mixed.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Combines a child value's hash with its parent's key (hierarchical features).
pub(crate) const fn combine(a: u64, b: u64) -> u64 {
    mix64(a ^ b.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15)
}

/// FNV-1a over the bytes, then mixed. Case-sensitive on purpose: user agents differ by case.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

pub(crate) fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix64(u64::from(u32::from(v4)) | (4 << 40)),
        IpAddr::V6(v6) => {
            let x = u128::from(v6);
            combine(mix64(x as u64), mix64((x >> 64) as u64 ^ 6))
        }
    }
}

/// The /24 (IPv4) or /48 (IPv6) network an address belongs to.
pub(crate) fn subnet_of(ip: IpAddr) -> IpNet {
    let prefix = match ip {
        IpAddr::V4(_) => 24,
        IpAddr::V6(_) => 48,
    };
    IpNet::new(ip, prefix)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

pub(crate) fn hash_net(net: IpNet) -> u64 {
    combine(hash_ip(net.network()), u64::from(net.prefix_len()) + 1000)
}

/// Hasher for keys that are already well-mixed 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = mix64(self.0);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Longest-prefix match over IP networks: one hash probe per prefix length in use.
#[derive(Debug, Clone)]
pub(crate) struct NetMap<T> {
    map: FastMap<u64, (IpNet, T)>,
    /// How many networks of each prefix length are stored (v4: 0..=32, v6: 0..=128).
    v4_lens: Vec<u32>,
    v6_lens: Vec<u32>,
}

impl<T> Default for NetMap<T> {
    fn default() -> Self {
        NetMap {
            map: FastMap::default(),
            v4_lens: vec![0; 33],
            v6_lens: vec![0; 129],
        }
    }
}

impl<T> NetMap<T> {
    pub(crate) fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        let net = net.trunc();
        let old = self.map.insert(hash_net(net), (net, value));
        if old.is_none() {
            self.lens_mut(net)[usize::from(net.prefix_len())] += 1;
        }
        old.map(|(_, v)| v)
    }

    pub(crate) fn remove(&mut self, net: IpNet) -> Option<T> {
        let net = net.trunc();
        let old = self.map.remove(&hash_net(net));
        if old.is_some() {
            let slot = &mut self.lens_mut(net)[usize::from(net.prefix_len())];
            *slot = slot.saturating_sub(1);
        }
        old.map(|(_, v)| v)
    }

    fn lens_mut(&mut self, net: IpNet) -> &mut Vec<u32> {
        match net {
            IpNet::V4(_) => &mut self.v4_lens,
            IpNet::V6(_) => &mut self.v6_lens,
        }
    }

    /// The most specific stored network containing `ip`.
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<(&IpNet, &T)> {
        self.find(ip, |_| true)
    }

    /// The most specific stored network containing `ip` whose value passes `pred`.
    pub(crate) fn find(
        &self,
        ip: IpAddr,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Option<(&IpNet, &T)> {
        let lens = match ip {
            IpAddr::V4(_) => &self.v4_lens,
            IpAddr::V6(_) => &self.v6_lens,
        };
        for len in (0..lens.len()).rev() {
            if lens[len] == 0 {
                continue;
            }
            let Ok(net) = IpNet::new(ip, len as u8) else {
                continue;
            };
            if let Some((n, v)) = self.map.get(&hash_net(net.trunc())) {
                if pred(v) {
                    return Some((n, v));
                }
            }
        }
        None
    }

    pub(crate) fn get_exact(&self, net: IpNet) -> Option<&T> {
        self.map.get(&hash_net(net.trunc())).map(|(_, v)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&IpNet, &T)> {
        self.map.values().map(|(n, v)| (n, v))
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&IpNet, &T) -> bool) {
        let mut removed = Vec::new();
        self.map.retain(|_, (n, v)| {
            let k = keep(n, v);
            if !k {
                removed.push(*n);
            }
            k
        });
        for n in removed {
            let slot = &mut self.lens_mut(n)[usize::from(n.prefix_len())];
            *slot = slot.saturating_sub(1);
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = NetMap::default();
    }
}

/// Great-circle distance in km between two (lat, lon) points.
pub(crate) fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) for days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Hour of the week in UTC, Monday 00:00 = 0.
pub(crate) fn hour_of_week(at_ms: i64) -> u8 {
    let hours = at_ms.div_euclid(3_600_000);
    let days = hours.div_euclid(24);
    // 1970-01-01 was a Thursday (Monday-based index 3).
    let dow = (days + 3).rem_euclid(7);
    (dow * 24 + hours.rem_euclid(24)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for z in [-1000, 0, 18_295, 20_000, 50_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2020, 2, 3), 18_295);
    }

    #[test]
    fn hour_of_week_starts_monday() {
        // 2020-02-03 was a Monday.
        let ms = days_from_civil(2020, 2, 3) * 86_400_000 + 5 * 3_600_000;
        assert_eq!(hour_of_week(ms), 5);
    }

    #[test]
    fn netmap_prefers_the_longest_prefix() {
        let mut m = NetMap::default();
        m.insert("10.0.0.0/8".parse().unwrap(), 1);
        m.insert("10.1.0.0/16".parse().unwrap(), 2);
        assert_eq!(m.lookup("10.1.2.3".parse().unwrap()).map(|x| *x.1), Some(2));
        assert_eq!(m.lookup("10.2.2.3".parse().unwrap()).map(|x| *x.1), Some(1));
        assert_eq!(m.lookup("11.2.2.3".parse().unwrap()), None);
        m.remove("10.1.0.0/16".parse().unwrap());
        assert_eq!(m.lookup("10.1.2.3".parse().unwrap()).map(|x| *x.1), Some(1));
    }
}
