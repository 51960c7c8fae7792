//! Cold lists: lists too large to hold in memory, looked up in Redis on demand through a
//! bounded cache (entries and time-to-live) that the change stream invalidates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::notification::RemovalCause;
use moka::sync::Cache;

use super::redis::RedisLists;
use crate::ident::SubjectKey;
use crate::lists::Entry;
use crate::ruleset::RuleSet;

/// Bounds of the cold-list cache.
#[derive(Debug, Clone, Copy)]
pub struct ColdCacheConfig {
    /// Subjects kept at most.
    pub max_subjects: u64,
    /// How long a looked-up subject stays cached (changes invalidate it earlier).
    pub ttl: Duration,
}

impl Default for ColdCacheConfig {
    fn default() -> ColdCacheConfig {
        ColdCacheConfig {
            max_subjects: 100_000,
            ttl: Duration::from_secs(300),
        }
    }
}

/// What the cache has done, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColdStats {
    pub hits: u64,
    pub misses: u64,
    /// Lookups that neither the cache nor Redis could answer.
    pub unavailable: u64,
    /// Subjects dropped for size or age (not invalidations).
    pub evictions: u64,
}

/// The cold entries of each subject asked about, and whether some could not be looked up.
pub struct ColdLookup {
    pub entries: Vec<Arc<[Entry]>>,
    pub unavailable: bool,
}

impl ColdLookup {
    /// The answer where there are no cold lists to look in.
    pub fn none() -> ColdLookup {
        ColdLookup {
            entries: Vec::new(),
            unavailable: false,
        }
    }
}

pub(super) struct ColdCache {
    redis: RedisLists,
    cache: Cache<SubjectKey, Arc<[Entry]>>,
    hits: AtomicU64,
    misses: AtomicU64,
    unavailable: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl ColdCache {
    pub fn new(redis: RedisLists, config: ColdCacheConfig) -> ColdCache {
        let evictions = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&evictions);
        let cache = Cache::builder()
            .max_capacity(config.max_subjects)
            .time_to_live(config.ttl)
            .eviction_listener(move |_key, _value, cause| {
                if matches!(cause, RemovalCause::Size | RemovalCause::Expired) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        ColdCache {
            redis,
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            evictions,
        }
    }

    /// Looks the subjects up: from the cache, else from Redis in one pipelined pass (blocking;
    /// call it off the async workers). With Redis unreachable, uncached subjects get no cold
    /// entries and the lookup says so.
    pub fn lookup(&self, subjects: &[SubjectKey], rules: &RuleSet) -> ColdLookup {
        let mut entries: Vec<Option<Arc<[Entry]>>> =
            subjects.iter().map(|key| self.cache.get(key)).collect();
        let missing: Vec<usize> = (0..subjects.len())
            .filter(|&i| entries[i].is_none())
            .collect();
        self.hits
            .fetch_add((subjects.len() - missing.len()) as u64, Ordering::Relaxed);
        self.misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        let mut unavailable = false;
        if !missing.is_empty() {
            let keys: Vec<SubjectKey> = missing.iter().map(|&i| subjects[i]).collect();
            match self.redis.cold_entries(&keys, rules) {
                Ok(fetched) => {
                    for (i, found) in missing.iter().zip(fetched) {
                        let found: Arc<[Entry]> = found.into();
                        self.cache.insert(subjects[*i], Arc::clone(&found));
                        entries[*i] = Some(found);
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, subjects = missing.len(), "cold lists unavailable");
                    self.unavailable
                        .fetch_add(missing.len() as u64, Ordering::Relaxed);
                    unavailable = true;
                }
            }
        }
        let entries = entries
            .into_iter()
            .map(|e| e.unwrap_or_else(|| Arc::from(Vec::new())))
            .collect();
        ColdLookup {
            entries,
            unavailable,
        }
    }

    /// Whether every subject is cached (then no Redis call is needed).
    pub fn all_cached(&self, subjects: &[SubjectKey]) -> bool {
        subjects.iter().all(|key| self.cache.contains_key(key))
    }

    pub fn invalidate(&self, subject: &SubjectKey) {
        self.cache.invalidate(subject);
    }

    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    pub fn stats(&self) -> ColdStats {
        ColdStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}
