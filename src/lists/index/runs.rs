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
    table: HashTable<u32>,
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
        let key = |i: u32| SubjectKey::from_words(runs[i as usize].key);
        let mut table = HashTable::with_capacity(keys);
        for i in 0..keys as u32 {
            table.insert_unique(hash(key(i)), i, |&j| hash(key(j)));
        }
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
        match self
            .table
            .find(hash(key), |&i| self.runs[i as usize].key == words)
        {
            Some(&i) => self.run(i as usize),
            None => 0..0,
        }
    }

    pub(super) fn run(&self, i: usize) -> Range<u32> {
        self.runs[i].start..self.runs[i + 1].start
    }

    /// The position of the key's run.
    pub(super) fn position(&self, key: SubjectKey) -> Option<u32> {
        let words = key.to_words();
        self.table
            .find(hash(key), |&i| self.runs[i as usize].key == words)
            .copied()
    }
}
