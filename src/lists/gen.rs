//! `jiangcheng gen`: a synthetic population with valid identifiers and list entries, for tests,
//! benchmarks and load tests. Deterministic for a seed, whatever the thread count: each chunk of
//! subjects has its own generator seeded from (seed, chunk).

use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::entry::{Dispute, EntryRecord, ResponsiblePersonRecord, Status};
use crate::ident;
use crate::ruleset::{ListKind, Role, RuleSet, SubjectScope};

/// Subjects generated per chunk (one generator each).
const CHUNK: u64 = 1 << 16;
/// Chunks generated in parallel before writing, which bounds memory.
const CHUNKS_IN_FLIGHT: u64 = 32;
/// Qiqihar county-level division codes (GB/T 2260), used in both identifier kinds.
const DIVISIONS: [&str; 17] = [
    "230202", "230203", "230204", "230205", "230206", "230207", "230208", "230221", "230223",
    "230224", "230225", "230227", "230229", "230230", "230231", "230281", "230200",
];
/// Organisation-code bodies are 6 base-31 digits after `MA`: 31⁶ distinct subjects per division.
const ORG_SPACE: u64 = 887_503_681;
/// Resident IDs: 1,000 sequence numbers a day over 20,000 days (1950 on) per division.
const PERSON_SPACE: u64 = 20_000_000;

#[derive(Debug, Clone, Copy)]
pub struct GenOptions {
    /// Size of the population.
    pub subjects: u64,
    /// Share of the population that is listed (has at least one entry).
    pub listed_ratio: f64,
    pub seed: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GenStats {
    pub subjects: u64,
    pub listed: u64,
    pub entries: u64,
}

/// The identifier of population member `index`, and whether it is a person (about one in five).
pub fn subject_id(seed: u64, index: u64) -> (String, bool) {
    let mixed = mix(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    if mixed % 5 == 0 {
        (person_id(index), true)
    } else {
        (organisation_id(index, mixed), false)
    }
}

fn person_id(index: u64) -> String {
    let division = DIVISIONS[((index / PERSON_SPACE) % DIVISIONS.len() as u64) as usize];
    let within = index % PERSON_SPACE;
    let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(within / 1000)))
        .unwrap_or_default();
    let first17 = format!("{division}{}{:03}", birth.format("%Y%m%d"), within % 1000);
    complete(&first17, ident::IdType::ResidentId)
}

fn organisation_id(index: u64, mixed: u64) -> String {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let division = DIVISIONS[((index / ORG_SPACE) % DIVISIONS.len() as u64) as usize];
    // An odd multiplier permutes the index space, so consecutive subjects do not look alike.
    let mut n = (index % ORG_SPACE).wrapping_mul(0x2545_F491) % ORG_SPACE;
    let mut body = *b"MA000000";
    for slot in body[2..].iter_mut().rev() {
        *slot = ALPHABET[(n % 31) as usize];
        n /= 31;
    }
    let prefix = match mixed % 20 {
        0 => "92",
        1 => "93",
        2 => "12",
        3 => "52",
        _ => "91",
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    complete(
        &format!("{prefix}{division}{body}{}", org_code_check(&body)),
        ident::IdType::Uscc,
    )
}

/// Appends the check character that makes `first17` a valid identifier of `id_type`.
fn complete(first17: &str, id_type: ident::IdType) -> String {
    let expected = match ident::parse_as(&format!("{first17}0"), id_type).map(|id| id.check()) {
        Ok(ident::CheckOutcome::Mismatch { expected }) => expected,
        _ => '0',
    };
    format!("{first17}{expected}")
}

/// The GB 11714 check character of an 8-character organisation-code body (positions 9–16 of a
/// USCC); generated codes carry it so they look like real ones.
fn org_code_check(body: &str) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(36).unwrap_or(0) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from_digit(digit, 10).unwrap_or('0'),
    }
}

/// SplitMix64 finaliser: spreads an index into well-mixed bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes the entries of the listed part of the population to `entries` (JSON Lines) and, if
/// given, every population member's identifier to `population` (one a line, `1` when listed).
pub fn generate(
    rules: &RuleSet,
    options: GenOptions,
    entries: &mut dyn Write,
    mut population: Option<&mut dyn Write>,
) -> io::Result<GenStats> {
    let catalog = Catalog::of(rules);
    let chunks = options.subjects.div_ceil(CHUNK);
    let mut stats = GenStats::default();
    let with_population = population.is_some();
    let mut next = 0;
    while next < chunks {
        let upto = (next + CHUNKS_IN_FLIGHT).min(chunks);
        let outputs: Vec<ChunkOutput> = (next..upto)
            .into_par_iter()
            .map(|chunk| generate_chunk(&catalog, options, chunk, with_population))
            .collect::<Result<_, _>>()?;
        for output in outputs {
            entries.write_all(&output.entries)?;
            if let Some(out) = population.as_deref_mut() {
                out.write_all(&output.population)?;
            }
            stats.subjects += output.stats.subjects;
            stats.listed += output.stats.listed;
            stats.entries += output.stats.entries;
        }
        next = upto;
    }
    entries.flush()?;
    if let Some(out) = population {
        out.flush()?;
    }
    Ok(stats)
}

/// The lists a generated subject can be put on, by identifier kind.
struct Catalog {
    for_organisations: Vec<Candidate>,
    for_persons: Vec<Candidate>,
}

/// What the generator needs to know of a list to write a valid entry on it.
struct Candidate {
    code: String,
    /// On a scored list: the rule set's score scale, which its scores are drawn from.
    scores: Option<std::ops::RangeInclusive<u16>>,
    penalty: bool,
    /// Only these get `repaired` entries; the others are `removed` instead.
    repairable: bool,
    /// These always get a `valid_until`.
    requires_valid_until: bool,
}

impl Catalog {
    fn of(rules: &RuleSet) -> Catalog {
        let pick = |persons: bool| {
            rules
                .lists()
                .filter(|(_, l)| match l.subjects {
                    SubjectScope::Any => true,
                    SubjectScope::Persons => persons,
                    SubjectScope::Organizations => !persons,
                })
                .map(|(_, l)| Candidate {
                    code: l.code.clone(),
                    scores: rules
                        .score_scale
                        .as_ref()
                        .filter(|_| l.scored)
                        .map(|scale| scale.min..=scale.max),
                    penalty: l.kind != ListKind::Red,
                    repairable: l.repairable,
                    requires_valid_until: l.requires_valid_until,
                })
                .collect()
        };
        Catalog {
            for_organisations: pick(false),
            for_persons: pick(true),
        }
    }
}

struct ChunkOutput {
    entries: Vec<u8>,
    population: Vec<u8>,
    stats: GenStats,
}

fn generate_chunk(
    catalog: &Catalog,
    options: GenOptions,
    chunk: u64,
    with_population: bool,
) -> io::Result<ChunkOutput> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(options.seed ^ mix(chunk)));
    let mut out = ChunkOutput {
        entries: Vec::with_capacity(1 << 20),
        population: Vec::new(),
        stats: GenStats::default(),
    };
    let first = chunk * CHUNK;
    let last = (first + CHUNK).min(options.subjects);
    for index in first..last {
        let (id, is_person) = subject_id(options.seed, index);
        let listed = rng.random_bool(options.listed_ratio.clamp(0.0, 1.0));
        out.stats.subjects += 1;
        if with_population {
            writeln!(out.population, "{id}\t{}", u8::from(listed))?;
        }
        if !listed {
            continue;
        }
        out.stats.listed += 1;
        let lists = if is_person {
            &catalog.for_persons
        } else {
            &catalog.for_organisations
        };
        let count = if rng.random_ratio(1, 10) {
            rng.random_range(2..=5)
        } else {
            1
        };
        for k in 0..count {
            let list = &lists[rng.random_range(0..lists.len())];
            let record = synthetic_entry(
                &mut rng,
                options,
                index,
                k,
                &id,
                list,
                list.penalty && !is_person,
            );
            serde_json::to_writer(&mut out.entries, &record)?;
            out.entries.push(b'\n');
            out.stats.entries += 1;
        }
    }
    Ok(out)
}

fn synthetic_entry(
    rng: &mut ChaCha8Rng,
    options: GenOptions,
    index: u64,
    k: u32,
    id: &str,
    list: &Candidate,
    names_persons: bool,
) -> EntryRecord<'static> {
    let listed = chrono::NaiveDate::from_ymd_opt(2022, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(rng.random_range(0..5 * 365))))
        .unwrap_or_default();
    let open_ended = rng.random_ratio(1, 5) && !list.requires_valid_until;
    let valid_until = (!open_ended)
        .then(|| listed.checked_add_days(chrono::Days::new(rng.random_range(180..=3 * 365))))
        .flatten();
    let status = match rng.random_range(0..100) {
        0..=5 if list.repairable => Status::Repaired,
        0..=5 => Status::Removed,
        6..=9 => Status::Removed,
        _ => Status::Active,
    };
    let dispute = if rng.random_ratio(3, 100) {
        Dispute::UnderReview
    } else {
        Dispute::None
    };
    let responsible_persons = if names_persons && rng.random_ratio(3, 10) {
        let person = (0..8)
            .map(|_| subject_id(options.seed, rng.random_range(0..options.subjects.max(1))))
            .find_map(|(candidate, is_person)| is_person.then_some(candidate));
        person
            .map(|id| ResponsiblePersonRecord {
                role: Role::LegalRep,
                id: id.into(),
                name: Some("法定代表人".into()),
            })
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    EntryRecord {
        entry_id: format!("GEN-{:x}-{index}-{k}", options.seed).into(),
        list: list.code.clone().into(),
        subject_id: id.to_owned().into(),
        legacy_ids: Vec::new(),
        subject_name: Some(format!("合成主体{index}").into()),
        reason: Some("合成数据".into()),
        basis_doc: None,
        authority: None,
        listed_on: listed.format("%Y-%m-%d").to_string().into(),
        valid_until: valid_until.map(|d| d.format("%Y-%m-%d").to_string().into()),
        status,
        dispute,
        score: list.scores.clone().map(|range| rng.random_range(range)),
        responsible_persons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::parse_entries;

    fn shipped() -> RuleSet {
        crate::ruleset::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/qiqihar"),
        )
        .unwrap()
    }

    fn run(rules: &RuleSet, options: GenOptions) -> (Vec<u8>, Vec<u8>, GenStats) {
        let (mut entries, mut population) = (Vec::new(), Vec::new());
        let stats = generate(rules, options, &mut entries, Some(&mut population)).unwrap();
        (entries, population, stats)
    }

    #[test]
    fn the_same_seed_gives_the_same_file_and_every_entry_is_valid() {
        let rules = shipped();
        let options = GenOptions {
            subjects: 70_000,
            listed_ratio: 0.3,
            seed: 42,
        };
        let (a, population, stats) = run(&rules, options);
        let (b, _, _) = run(&rules, options);
        assert_eq!(a, b);
        let entries =
            parse_entries(&a, &rules).unwrap_or_else(|p| panic!("{:?}", &p[..p.len().min(3)]));
        assert_eq!(entries.len() as u64, stats.entries);
        assert_eq!(stats.subjects, 70_000);
        assert!((18_000..24_000).contains(&stats.listed), "{stats:?}");
        assert!(entries.iter().all(|e| !e.facts.check_mismatch));
        assert_eq!(population.iter().filter(|&&b| b == b'\n').count(), 70_000);
        let (c, _, _) = run(
            &rules,
            GenOptions {
                seed: 43,
                ..options
            },
        );
        assert_ne!(a, c);
    }

    #[test]
    fn entries_on_a_rule_set_of_another_scale_draw_their_scores_from_it() {
        let rules = crate::ruleset::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rulesets/yiwu"),
        )
        .unwrap();
        let options = GenOptions {
            subjects: 20_000,
            listed_ratio: 0.5,
            seed: 7,
        };
        let (entries, _, _) = run(&rules, options);
        let entries = parse_entries(&entries, &rules)
            .unwrap_or_else(|p| panic!("{:?}", &p[..p.len().min(3)]));
        let scores: Vec<u16> = entries.iter().filter_map(|e| e.facts.score()).collect();
        assert!(!scores.is_empty());
        assert!(scores.iter().all(|&s| s <= 200), "{scores:?}");
    }

    #[test]
    fn population_identifiers_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for index in 0..20_000 {
            let (id, is_person) = subject_id(9, index);
            let parsed = ident::parse(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(parsed.check(), ident::CheckOutcome::Valid, "{id}");
            assert_eq!(
                parsed.id_type() == ident::IdType::ResidentId,
                is_person,
                "{id}"
            );
            assert!(seen.insert(id));
        }
    }
}
