//! Cold lists: lists too large to hold in memory, looked up in Redis on demand through a
//! bounded cache (entries and time-to-live) that the change stream invalidates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::notification::RemovalCause;
use moka::sync::Cache;

use super::redis::{ColdHeld, RedisLists};
use crate::ident::{mask_id_numbers, SubjectKey};
use crate::lists::Entry;
use crate::ruleset::RuleSet;

/// Bounds of the cold-list cache.
#[derive(Debug, Clone, Copy)]
pub struct ColdCacheConfig {
    /// Subjects kept at most.
    pub max_subjects: u64,
    /// How long a looked-up subject stays cached (changes invalidate it earlier).
    pub ttl: Duration,
    /// Subjects filing cold entries that name one person that the person's lookup reads at
    /// most, so that a person named by many cannot make one lookup read them all.
    pub max_filers: usize,
}

impl Default for ColdCacheConfig {
    fn default() -> ColdCacheConfig {
        ColdCacheConfig {
            max_subjects: 100_000,
            ttl: Duration::from_secs(300),
            max_filers: 64,
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
    /// Stored cold entries a lookup skipped because the rules cannot read them (each time).
    pub unreadable: u64,
    /// Subjects naming a person that its lookup left out, past the bound on them.
    pub filers_cut: u64,
}

/// The cold entries of each subject asked about, and which subjects' could not all be
/// looked up.
pub struct ColdLookup {
    pub entries: Vec<Arc<[Entry]>>,
    /// Lined up with `entries`: the subject's cold entries are not known in full (Redis did
    /// not answer, or holds one the rules cannot read), so its decision must say so.
    pub unavailable: Vec<bool>,
}

impl ColdLookup {
    /// The answer where there are no cold lists to look in.
    pub fn none() -> ColdLookup {
        ColdLookup {
            entries: Vec::new(),
            unavailable: Vec::new(),
        }
    }
}

/// Entry ids whose unreadable entry was logged remembered at most: enough for a rule-set
/// rollout's new entries, and bounded whatever Redis holds.
const LOGGED_AT_MOST: u64 = 10_000;

pub(super) struct ColdCache {
    redis: RedisLists,
    cache: Cache<SubjectKey, Arc<[Entry]>>,
    hits: AtomicU64,
    misses: AtomicU64,
    unavailable: AtomicU64,
    evictions: Arc<AtomicU64>,
    unreadable: AtomicU64,
    filers_cut: AtomicU64,
    max_filers: usize,
    /// The unreadable entries logged already, so that each is logged once, not at every
    /// lookup.
    logged: Cache<String, ()>,
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
            unreadable: AtomicU64::new(0),
            filers_cut: AtomicU64::new(0),
            max_filers: config.max_filers,
            logged: Cache::new(LOGGED_AT_MOST),
        }
    }

    /// Looks the subjects up: from the cache, else from Redis in one pass (blocking; call it
    /// off the async workers). With Redis unreachable, uncached subjects get no cold entries
    /// and the lookup says so; a subject with a stored entry the rules cannot read gets the
    /// others, is not cached, and the lookup says so for it alone.
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
        let mut unavailable = vec![false; subjects.len()];
        if !missing.is_empty() {
            let keys: Vec<SubjectKey> = missing.iter().map(|&i| subjects[i]).collect();
            match self.redis.cold_entries(&keys, rules) {
                Ok(fetched) => {
                    for (&i, held) in missing.iter().zip(fetched) {
                        let ColdHeld {
                            entries: found,
                            unreadable,
                        } = held;
                        let found: Arc<[Entry]> = found.into();
                        if unreadable.is_empty() {
                            self.cache.insert(subjects[i], Arc::clone(&found));
                        } else {
                            self.skipped(subjects[i], unreadable);
                            unavailable[i] = true;
                        }
                        entries[i] = Some(found);
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, subjects = missing.len(), "cold lists unavailable");
                    self.unavailable
                        .fetch_add(missing.len() as u64, Ordering::Relaxed);
                    for &i in &missing {
                        unavailable[i] = true;
                    }
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

    /// Counts the entries of `subject` that could not be read, and logs each the first time
    /// (the subject masked, and any ID number in the reason too).
    fn skipped(&self, subject: SubjectKey, unreadable: Vec<(String, String)>) {
        self.unreadable
            .fetch_add(unreadable.len() as u64, Ordering::Relaxed);
        for (entry_id, why) in unreadable {
            if self.logged.contains_key(&entry_id) {
                continue;
            }
            tracing::warn!(
                entry_id = %entry_id,
                subject = ?subject,
                error = %mask_id_numbers(&why),
                "a stored cold-list entry the rules cannot read was skipped; decisions about its subject say that cold lists were left out"
            );
            self.logged.insert(entry_id, ());
        }
    }

    /// Subjects naming one person that its lookup reads at most.
    pub fn max_filers(&self) -> usize {
        self.max_filers
    }

    /// Counts subjects naming a person that its lookup left out.
    pub fn count_cut(&self, filers: u64) {
        self.filers_cut.fetch_add(filers, Ordering::Relaxed);
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
            unreadable: self.unreadable.load(Ordering::Relaxed),
            filers_cut: self.filers_cut.load(Ordering::Relaxed),
        }
    }
}
