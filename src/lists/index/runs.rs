//! The key-run table: the distinct keys of a sorted array and where each one's run lies.

use std::io::{self, Read, Write};
use std::ops::Range;

use hashbrown::HashTable;

use super::format::{corrupt, read_len, read_u32, write_u64};
use super::hash;
use crate::ident::SubjectKey;

/// A key and where its run starts, in 16 bytes: the key in 96 bits, so that a lookup finds
/// both in one cache line.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyRun {
    key: [u32; 3],
    start: u32,
}

/// The distinct keys of a sorted array and the run of positions each owns, found through a
/// table of key positions: four bytes and a control byte a slot, where a map would repeat the
/// key and the run beside it.
#[derive(Debug, Default)]
pub(super) struct Runs {
    /// Ascending by key, and one more element whose `start` is where the last run ends.
    runs: Vec<KeyRun>,
    table: Positions,
}

/// Key positions by hash, in shards. One table fills at most 7/8 of a power of two of slots, so
/// eight million keys would take 16.8 million slots (84 MB, 10 bytes a key); shards sized just
/// under such a bound take 9.4 million (47 MB).
#[derive(Debug, Default)]
struct Positions {
    shards: Box<[HashTable<u32>]>,
}

/// How many keys one shard of `2^bits` slots is given: 97% of the 7/8 it may hold, so that the
/// uneven spread of keys over shards does not make one grow to twice its slots.
const fn shard_keys(bits: u32) -> usize {
    (1usize << bits) / 8 * 7 * 97 / 100
}

/// Shards per table at most: more waste less of their last shard, fewer need fewer slots.
const MAX_SHARDS: usize = 16;

impl Positions {
    /// Positions `0..count`, whose keys `key` gives.
    fn new(count: usize, key: impl Fn(u32) -> SubjectKey) -> Positions {
        let mut bits = 4;
        while count.div_ceil(shard_keys(bits)) > MAX_SHARDS {
            bits += 1;
        }
        let shards = count.div_ceil(shard_keys(bits)).max(1);
        let mut sizes = vec![0; shards];
        for i in 0..count as u32 {
            sizes[shard_of(hash(key(i)), shards)] += 1;
        }
        let mut tables: Box<[HashTable<u32>]> =
            sizes.into_iter().map(HashTable::with_capacity).collect();
        for i in 0..count as u32 {
            let hash = hash(key(i));
            tables[shard_of(hash, shards)].insert_unique(hash, i, |&j| self::hash(key(j)));
        }
        Positions { shards: tables }
    }

    fn find(&self, key: SubjectKey, is: impl Fn(u32) -> bool) -> Option<u32> {
        let hash = hash(key);
        let shard = self.shards.get(shard_of(hash, self.shards.len()))?;
        shard.find(hash, |&i| is(i)).copied()
    }
}

/// The shard of a hash: from its bits scrambled by a multiplication, since the table itself
/// reads the low bits (the slot) and the top seven (the control byte).
fn shard_of(hash: u64, shards: usize) -> usize {
    let mixed = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    ((mixed * shards as u64) >> 32) as usize
}

impl Runs {
    /// From the key of each position of a sorted array.
    pub(super) fn new(sorted: impl Iterator<Item = SubjectKey>) -> Runs {
        let mut runs: Vec<KeyRun> = Vec::new();
        let mut last = None;
        let mut position = 0u32;
        for key in sorted {
            if last != Some(key) {
                runs.push(KeyRun {
                    key: key.to_words(),
                    start: position,
                });
                last = Some(key);
            }
            position += 1;
        }
        runs.push(KeyRun {
            key: [0; 3],
            start: position,
        });
        Runs::from_runs(runs)
    }

    /// From the keys and starts, with the closing element.
    fn from_runs(mut runs: Vec<KeyRun>) -> Runs {
        runs.shrink_to_fit();
        let keys = runs.len().saturating_sub(1);
        let table = Positions::new(keys, |i| SubjectKey::from_words(runs[i as usize].key));
        Runs { runs, table }
    }

    pub(super) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        write_u64(out, self.runs.len() as u64)?;
        for run in &self.runs {
            for word in run.key {
                out.write_all(&word.to_le_bytes())?;
            }
            out.write_all(&run.start.to_le_bytes())?;
        }
        Ok(())
    }

    /// Reads [`write`](Self::write), for runs over `positions` positions.
    pub(super) fn read(input: &mut impl Read, positions: usize) -> io::Result<Runs> {
        let count = read_len(input)?;
        let mut runs = Vec::with_capacity(count.min(positions + 1));
        let mut last = 0;
        for _ in 0..count {
            let [a, b, c, start] = [0; 4].map(|_| read_u32(input));
            let run = KeyRun {
                key: [a?, b?, c?],
                start: start?,
            };
            if run.start < last || run.start as usize > positions {
                return Err(corrupt("runs out of order"));
            }
            last = run.start;
            runs.push(run);
        }
        if runs.last().map_or(0, |run| run.start as usize) != positions {
            return Err(corrupt("runs do not cover their array"));
        }
        Ok(Runs::from_runs(runs))
    }

    /// Number of keys.
    pub(super) fn len(&self) -> usize {
        self.runs.len().saturating_sub(1)
    }

    pub(super) fn key(&self, i: usize) -> SubjectKey {
        SubjectKey::from_words(self.runs[i].key)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = SubjectKey> + '_ {
        (0..self.len()).map(|i| self.key(i))
    }

    pub(super) fn get(&self, key: SubjectKey) -> Range<u32> {
        let words = key.to_words();
        match self.table.find(key, |i| self.runs[i as usize].key == words) {
            Some(i) => self.run(i as usize),
            None => 0..0,
        }
    }

    pub(super) fn run(&self, i: usize) -> Range<u32> {
        self.runs[i].start..self.runs[i + 1].start
    }

    /// The position of the key's run.
    pub(super) fn position(&self, key: SubjectKey) -> Option<u32> {
        let words = key.to_words();
        self.table.find(key, |i| self.runs[i as usize].key == words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct keys of resident-ID shape, ascending.
    fn keys(count: u64) -> Vec<SubjectKey> {
        (0..count)
            .map(|i| {
                SubjectKey::from_words([(i * 7_919) as u32, (i >> 32) as u32 | 1, 0x4000_0000])
            })
            .collect()
    }

    #[test]
    fn every_key_is_found_and_no_other_whatever_the_shards() {
        for count in [0, 1, 13, 14, 15, 500, 4_000, 70_000] {
            let all = keys(count + 50);
            let (held, absent) = all.split_at(count as usize);
            let runs = Runs::new(held.iter().flat_map(|&k| [k, k]));
            assert_eq!(runs.len(), held.len());
            for (i, &key) in held.iter().enumerate() {
                assert_eq!(runs.position(key), Some(i as u32), "{count} keys");
                assert_eq!(runs.get(key), 2 * i as u32..2 * i as u32 + 2);
            }
            for &key in absent {
                assert_eq!(runs.position(key), None, "{count} keys");
                assert!(runs.get(key).is_empty());
            }
        }
    }

    #[test]
    fn shards_leave_few_slots_empty() {
        let count = 300_000;
        let all = keys(count as u64);
        let positions = Positions::new(count, |i| all[i as usize]);
        let slots: usize = positions.shards.iter().map(HashTable::capacity).sum();
        assert!(positions.shards.len() > 1);
        // One table would have 524,288 slots for 300,000 keys: capacity 458,752.
        assert!(slots < 400_000, "{slots} slots for {count} keys");
    }
}
