//! A small bounded cache of verified credentials (and, in a second instance,
//! of refused API keys), keyed by the SHA-256 of the credential (the
//! credential itself is never kept).
//!
//! Entries carry their own expiry (API keys: the configured TTL; JWTs: never
//! past `exp`). When the cache is full, expired entries are dropped first,
//! then arbitrary ones: it is a latency optimisation, never a source of truth.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub type CacheKey = [u8; 32];

/// The cache key of a credential.
pub fn key_of(credential: &str) -> CacheKey {
    Sha256::digest(credential.as_bytes()).into()
}

pub struct TtlCache<V> {
    max_entries: usize,
    map: Mutex<HashMap<CacheKey, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    /// A cache holding at most `max_entries` (0 disables it).
    pub fn new(max_entries: usize) -> Self {
        TtlCache {
            max_entries,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the cache stores anything (`max_entries` above 0).
    pub fn is_enabled(&self) -> bool {
        self.max_entries > 0
    }

    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<V> {
        if self.max_entries == 0 {
            return None;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((expires, v)) if *expires > now => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: CacheKey, value: V, expires: Instant, now: Instant) {
        if self.max_entries == 0 || expires <= now {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.max_entries && !map.contains_key(&key) {
            map.retain(|_, (e, _)| *e > now);
            while map.len() >= self.max_entries {
                let Some(victim) = map.keys().next().copied() else {
                    break;
                };
                map.remove(&victim);
            }
        }
        map.insert(key, (expires, value));
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let c = TtlCache::new(3);
        let now = Instant::now();
        c.insert(key_of("a"), 1, now + Duration::from_secs(10), now);
        assert_eq!(c.get(&key_of("a"), now), Some(1));
        assert_eq!(c.get(&key_of("a"), now + Duration::from_secs(11)), None);
        for i in 0..10 {
            c.insert(
                key_of(&i.to_string()),
                i,
                now + Duration::from_secs(10),
                now,
            );
        }
        assert!(c.len() <= 3);
        assert_eq!(c.get(&key_of("9"), now), Some(9));
    }

    #[test]
    fn a_zero_sized_cache_stores_nothing() {
        let c = TtlCache::new(0);
        let now = Instant::now();
        c.insert(key_of("a"), 1, now + Duration::from_secs(10), now);
        assert_eq!(c.get(&key_of("a"), now), None);
    }
}
