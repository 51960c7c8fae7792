//! The older-identifier tables: the subjects that carry an organisation code or a registration
//! number, as their own identifier or in their entries' `legacy_ids` ([`Carriers`]), and the
//! USCC subjects by the organisation code they embed ([`Embedded`]).

use std::io::{self, Read, Write};

use hashbrown::HashTable;
use rayon::slice::ParallelSliceMut;

use super::format::{corrupt, read_len, read_u32, write_u64};
use super::hash;
use super::runs::Runs;
use crate::ident::SubjectKey;

/// A subject that carries an older identifier: as its own identifier, as one of its entries'
/// `legacy_ids`, or, for a USCC, embedded at positions 9–17. `subject` is the position of the
/// subject's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Carrier {
    pub(super) code: [u32; 3],
    pub(super) subject: u32,
}

/// Carriers sorted by identifier, found through a table of where each identifier's carriers
/// start: every USCC request looks up the code it embeds here, so a miss must cost no more than
/// a probe of a table that holds only the older identifiers.
#[derive(Debug, Default)]
pub(super) struct Carriers {
    /// Sorted by `code`.
    pub(super) carriers: Vec<Carrier>,
    /// The position in `carriers` of each identifier's first carrier.
    firsts: HashTable<u32>,
}

impl Carriers {
    pub(super) fn new(mut carriers: Vec<Carrier>) -> Carriers {
        carriers.sort_unstable();
        carriers.dedup();
        carriers.shrink_to_fit();
        let code = |i: u32| SubjectKey::from_words(carriers[i as usize].code);
        let mut firsts = HashTable::new();
        for i in 0..carriers.len() as u32 {
            if i == 0 || carriers[i as usize - 1].code != carriers[i as usize].code {
                firsts.insert_unique(hash(code(i)), i, |&j| hash(code(j)));
            }
        }
        Carriers { carriers, firsts }
    }

    /// The position in `carriers` of the first subject that carries `code`.
    fn first(&self, code: SubjectKey) -> Option<usize> {
        let words = code.to_words();
        self.firsts
            .find(hash(code), |&i| self.carriers[i as usize].code == words)
            .map(|&i| i as usize)
    }

    pub(super) fn contains(&self, code: SubjectKey) -> bool {
        self.first(code).is_some()
    }

    /// The positions of the subjects that carry `code`.
    pub(super) fn get(&self, code: SubjectKey) -> impl Iterator<Item = u32> + '_ {
        let words = code.to_words();
        let from = self.first(code).unwrap_or(self.carriers.len());
        self.carriers[from..]
            .iter()
            .take_while(move |c| c.code == words)
            .map(|c| c.subject)
    }

    pub(super) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        write_carriers(out, self.carriers.len(), self.carriers.iter().copied())
    }

    /// Reads [`write`](Self::write), for an index of `subjects` subjects.
    pub(super) fn read(input: &mut impl Read, subjects: usize) -> io::Result<Carriers> {
        let count = read_len(input)?;
        let mut carriers = Vec::with_capacity(count.min(subjects));
        for _ in 0..count {
            carriers.push(read_carrier(input, subjects)?);
        }
        Ok(Carriers::new(carriers))
    }
}

/// Every USCC subject by the organisation code it embeds: only the positions of their runs,
/// ordered by that code, which each position's key yields again. Only a request by organisation
/// code searches it (about two dozen keys unpacked), so it keeps four bytes a USCC subject where
/// [`Carriers`] would take about twenty: a sixth of the index at ten million subjects.
#[derive(Debug, Default)]
pub(super) struct Embedded {
    /// Ascending by the embedded code, then by position.
    positions: Vec<u32>,
}

impl Embedded {
    pub(super) fn of(subjects: &Runs) -> Embedded {
        let mut carriers: Vec<Carrier> = subjects
            .keys()
            .enumerate()
            .filter_map(|(i, key)| {
                Some(Carrier {
                    code: key.embedded_org_code()?.to_words(),
                    subject: i as u32,
                })
            })
            .collect();
        carriers.par_sort_unstable();
        // Collected into a new allocation: reusing the 16-byte carriers' one in place would
        // keep four times the memory the positions need, all of it touched by the sort.
        Embedded {
            positions: carriers.iter().map(|c| c.subject).collect(),
        }
    }

    fn code(subjects: &Runs, position: u32) -> Option<[u32; 3]> {
        let code = subjects.key(position as usize).embedded_org_code();
        code.map(SubjectKey::to_words)
    }

    /// The positions of the USCC subjects of `subjects` that embed `code`.
    pub(super) fn get<'a>(
        &'a self,
        code: SubjectKey,
        subjects: &'a Runs,
    ) -> impl Iterator<Item = u32> + 'a {
        let words = Some(code.to_words());
        let from = self
            .positions
            .partition_point(|&p| Self::code(subjects, p) < words);
        self.positions[from..]
            .iter()
            .copied()
            .take_while(move |&p| Self::code(subjects, p) == words)
    }

    pub(super) fn contains(&self, code: SubjectKey, subjects: &Runs) -> bool {
        self.get(code, subjects).next().is_some()
    }

    /// Written as [`Carriers`] are, each position with its code.
    pub(super) fn write(&self, out: &mut impl Write, subjects: &Runs) -> io::Result<()> {
        // Every position is a USCC's; a code missing all the same is written as none, which
        // reading refuses, rather than left out, which would shift every later record.
        let carriers = self.positions.iter().map(|&subject| Carrier {
            code: Self::code(subjects, subject).unwrap_or_default(),
            subject,
        });
        write_carriers(out, self.positions.len(), carriers)
    }

    /// Reads [`write`](Self::write), for an index of `subjects` subjects. The codes must
    /// ascend (as written); that each is its subject's is left to the snapshot's checksum, since
    /// unpacking every key again would add a second to a start at ten million subjects.
    pub(super) fn read(input: &mut impl Read, subjects: usize) -> io::Result<Embedded> {
        let count = read_len(input)?;
        let mut positions = Vec::with_capacity(count.min(subjects));
        let mut last: Option<Carrier> = None;
        for _ in 0..count {
            let carrier = read_carrier(input, subjects)?;
            if last.is_some_and(|last| last >= carrier) {
                return Err(corrupt("embedded codes out of order"));
            }
            positions.push(carrier.subject);
            last = Some(carrier);
        }
        Ok(Embedded { positions })
    }
}

fn write_carriers(
    out: &mut impl Write,
    count: usize,
    carriers: impl Iterator<Item = Carrier>,
) -> io::Result<()> {
    write_u64(out, count as u64)?;
    for carrier in carriers {
        for word in carrier.code.into_iter().chain([carrier.subject]) {
            out.write_all(&word.to_le_bytes())?;
        }
    }
    Ok(())
}

/// One carrier of an index of `subjects` subjects: an older identifier and a subject in range.
fn read_carrier(input: &mut impl Read, subjects: usize) -> io::Result<Carrier> {
    let [a, b, c, subject] = [0; 4].map(|_| read_u32(input));
    let carrier = Carrier {
        code: [a?, b?, c?],
        subject: subject?,
    };
    if carrier.subject as usize >= subjects
        || !SubjectKey::from_words(carrier.code).id_type().is_legacy()
    {
        return Err(corrupt("bad carrier"));
    }
    Ok(carrier)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{compacted_and_reread, entry, A, B, P};
    use super::super::ListIndex;
    use crate::ident;
    use crate::ruleset::testing::mini;

    fn through(index: &ListIndex, id: &str) -> Vec<(String, String)> {
        let subject = ident::parse(id).unwrap();
        let mut found: Vec<_> = index
            .entries_through(&subject)
            .into_iter()
            .flatten()
            .map(|(e, code)| (e.entry_id().unwrap().into_owned(), code.to_id_string()))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn the_embedded_codes_keep_four_bytes_a_company_and_no_more() {
        let mut keys: Vec<_> = (0..1000)
            .map(|i| crate::lists::gen::subject_id(7, i))
            .filter(|(_, is_person)| !is_person)
            .map(|(id, _)| ident::parse(&id).unwrap().key())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let embedded = super::Embedded::of(&super::super::runs::Runs::new(keys.iter().copied()));
        assert_eq!(embedded.positions.len(), keys.len());
        assert_eq!(embedded.positions.capacity(), keys.len());
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|&(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    }

    #[test]
    fn older_identifiers_reach_their_subjects_through_changes_compaction_and_snapshots() {
        let rules = mini();
        // Filed under the organisation code A embeds (MA1B2C3D8), written with its hyphen.
        let by_code = entry(
            r#"{"entry_id":"c1","list":"debtor","subject_id":"MA1B2C3D-8","listed_on":"2026-01-01"}"#,
        );
        // Filed under B's USCC, carrying a registration number.
        let by_uscc = entry(&format!(
            r#"{{"entry_id":"c2","list":"debtor","subject_id":"{B}","legacy_ids":["110108000000016"],"listed_on":"2026-01-01"}}"#
        ));
        let base = ListIndex::build(&[by_code, by_uscc], &rules).unwrap();
        assert_eq!(through(&base, A), pairs(&[("c1", "MA1B2C3D8")]));
        assert_eq!(through(&base, "MA18XK7PX"), pairs(&[("c2", "MA18XK7PX")]));
        assert_eq!(
            through(&base, "110108000000016"),
            pairs(&[("c2", "110108000000016")])
        );
        // B's own entries are found by its own key, not through its embedded code.
        assert!(through(&base, B).is_empty());
        assert!(through(&base, P).is_empty());

        // A registration-number record carrying A's organisation code.
        let court = entry(
            r#"{"entry_id":"c3","list":"abnormal","subject_id":"230200000000127","legacy_ids":["ma1b2c3d8"],"listed_on":"2026-01-01"}"#,
        );
        let next = base.with_entry(court, None).unwrap();
        assert_eq!(
            through(&next, A),
            pairs(&[("c1", "MA1B2C3D8"), ("c3", "MA1B2C3D8")])
        );
        assert_eq!(through(&next, "MA1B2C3D8"), pairs(&[("c3", "MA1B2C3D8")]));
        assert!(through(&base, "MA1B2C3D8").is_empty());

        for index in &compacted_and_reread(&next, &rules) {
            assert_eq!(
                through(index, A),
                pairs(&[("c1", "MA1B2C3D8"), ("c3", "MA1B2C3D8")])
            );
            assert_eq!(through(index, "MA18XK7PX"), pairs(&[("c2", "MA18XK7PX")]));
            assert_eq!(
                through(index, "110108000000016"),
                pairs(&[("c2", "110108000000016")])
            );
        }
    }

    #[test]
    fn an_older_identifier_taken_off_an_entry_is_untied_through_compaction_and_snapshots() {
        let rules = mini();
        let tied = |id: &str| {
            entry(&format!(
                r#"{{"entry_id":"{id}","list":"debtor","subject_id":"230200000000127","legacy_ids":["MA1B2C3D8"],"listed_on":"2026-01-01"}}"#
            ))
        };
        let plain = entry(
            r#"{"entry_id":"u1","list":"debtor","subject_id":"230200000000127","listed_on":"2026-01-01"}"#,
        );
        let registration = ident::parse("230200000000127").unwrap().key();
        // Tied in the base, untied by a change.
        let base = ListIndex::build(&[tied("u1")], &rules).unwrap();
        assert_eq!(through(&base, A), pairs(&[("u1", "MA1B2C3D8")]));
        let untied = base.with_entry(plain.clone(), Some(registration)).unwrap();
        // Tied by a change, untied by the next; another entry keeps another tie.
        let tied_twice = untied.with_entry(tied("u2"), None).unwrap();
        assert_eq!(
            through(&tied_twice, A),
            pairs(&[("u1", "MA1B2C3D8"), ("u2", "MA1B2C3D8")])
        );
        let untied_twice = tied_twice.without_entry("u2", registration).unwrap();
        for index in [&untied, &untied_twice] {
            assert!(through(index, A).is_empty());
            for index in &compacted_and_reread(index, &rules) {
                assert!(through(index, A).is_empty());
                assert_eq!(index.entries_of(registration).len(), 1);
            }
        }
        // A tie written and taken off again leaves nothing behind.
        assert_eq!(
            untied_twice.overlay.carriers.len(),
            untied.overlay.carriers.len()
        );
    }
}
