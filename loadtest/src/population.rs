//! Who the requests are about: listed and unlisted subjects sampled from a `jiangcheng gen
//! --population` file (`id<TAB>listed` per line), plus malformed identifiers, mixed in the
//! scenario's proportions; and the request bodies built from them.

use crate::scenario::{PopulationSpec, RequestKind, RequestSpec, Scenario};
use anyhow::{ensure, Context, Result};
use bytes::Bytes;
use hyper::Method;
use rand::distr::weighted::WeightedIndex;
use rand::prelude::*;
use std::fmt::Write as _;
use std::io::BufRead;

/// Subjects to draw from, by kind.
pub struct Population {
    listed: Vec<String>,
    unlisted: Vec<String>,
    /// `unlisted`, each with a wrong check character.
    malformed: Vec<String>,
    hit_ratio: f64,
    invalid_ratio: f64,
}

impl Population {
    pub fn load(spec: &PopulationSpec) -> Result<Self> {
        let (listed, unlisted) = match &spec.file {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("cannot open population {}", path.display()))?;
                sample_file(std::io::BufReader::new(file), spec.sample, spec.seed)
                    .with_context(|| format!("population {}", path.display()))?
            }
            // Identifiers of the generator's scheme far beyond any generated population.
            None => (
                Vec::new(),
                (0..spec.sample as u64)
                    .map(|i| jiangcheng::lists::gen::subject_id(spec.seed, (1 << 40) + i).0)
                    .collect(),
            ),
        };
        ensure!(
            spec.hit_ratio == 0.0 || !listed.is_empty(),
            "the population has no listed subject to hit"
        );
        ensure!(
            spec.hit_ratio == 1.0 || !unlisted.is_empty(),
            "the population has no unlisted subject"
        );
        Ok(Self {
            malformed: unlisted.iter().map(|id| corrupt(id)).collect(),
            listed,
            unlisted,
            hit_ratio: spec.hit_ratio,
            invalid_ratio: spec.invalid_ratio,
        })
    }

    pub fn sizes(&self) -> (usize, usize) {
        (self.listed.len(), self.unlisted.len())
    }

    /// One subject identifier, drawn in the scenario's proportions, and whether it is malformed.
    fn draw(&self, rng: &mut impl Rng) -> (&str, bool) {
        let roll: f64 = rng.random();
        if roll < self.hit_ratio {
            return (&self.listed[rng.random_range(0..self.listed.len())], false);
        }
        let index = rng.random_range(0..self.unlisted.len());
        if roll < self.hit_ratio + self.invalid_ratio {
            return (&self.malformed[index], true);
        }
        (&self.unlisted[index], false)
    }
}

/// A uniform sample (reservoir) of up to `per_kind` listed and as many unlisted identifiers.
fn sample_file(
    reader: impl BufRead,
    per_kind: usize,
    seed: u64,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut reservoirs = [Reservoir::new(per_kind), Reservoir::new(per_kind)];
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        let (id, listed) = line
            .split_once('\t')
            .with_context(|| format!("line {}: expected `id<TAB>0|1`", number + 1))?;
        let listed = match listed {
            "1" => 1,
            "0" => 0,
            _ => anyhow::bail!("line {}: the listed flag must be 0 or 1", number + 1),
        };
        reservoirs[listed].offer(id, &mut rng);
    }
    let [unlisted, listed] = reservoirs;
    Ok((listed.items, unlisted.items))
}

/// Algorithm R: after `seen` offers, each has had the same chance to be kept.
struct Reservoir {
    items: Vec<String>,
    capacity: usize,
    seen: u64,
}

impl Reservoir {
    fn new(capacity: usize) -> Self {
        Self {
            items: Vec::with_capacity(capacity.min(1 << 20)),
            capacity,
            seen: 0,
        }
    }

    fn offer(&mut self, item: &str, rng: &mut impl Rng) {
        self.seen += 1;
        if self.items.len() < self.capacity {
            self.items.push(item.to_owned());
        } else {
            let slot = rng.random_range(0..self.seen);
            if let Some(kept) = self.items.get_mut(slot as usize) {
                *kept = item.to_owned();
            }
        }
    }
}

/// A malformed identifier: the check character replaced by one that fails the check.
fn corrupt(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = if *last == '0' { '1' } else { '0' };
    }
    let corrupted: String = chars.into_iter().collect();
    if jiangcheng::ident::parse(&corrupted).is_ok() {
        // The replacement happened to be valid too; a wrong length never is.
        return format!("{id}0");
    }
    corrupted
}

/// One request, ready to send.
pub struct Request {
    pub kind: RequestKind,
    pub method: Method,
    pub path: String,
    pub body: Bytes,
    /// Whether a 4xx answer is the expected one (a malformed identifier).
    pub expect_rejection: bool,
}

/// Builds requests in the scenario's mix.
pub struct Workload {
    population: Population,
    requests: Vec<RequestSpec>,
    request_mix: WeightedIndex<u32>,
    matters: Vec<String>,
    matter_mix: WeightedIndex<u32>,
}

impl Workload {
    pub fn new(scenario: &Scenario, population: Population) -> Result<Self> {
        Ok(Self {
            population,
            requests: scenario.requests.clone(),
            request_mix: WeightedIndex::new(scenario.requests.iter().map(|r| r.weight))
                .context("request weights")?,
            matters: scenario.matters.iter().map(|m| m.code.clone()).collect(),
            matter_mix: WeightedIndex::new(scenario.matters.iter().map(|m| m.weight))
                .context("matter weights")?,
        })
    }

    pub fn next(&self, rng: &mut impl Rng) -> Request {
        let spec = &self.requests[self.request_mix.sample(rng)];
        let matter = &self.matters[self.matter_mix.sample(rng)];
        // Bodies are written directly: identifiers and matter codes need no JSON escaping, and
        // a 10,000-bidder batch must be built well inside the gap between two arrivals.
        match spec.kind {
            RequestKind::Decide | RequestKind::Bare => {
                let (id, malformed) = self.population.draw(rng);
                Request {
                    kind: spec.kind,
                    method: Method::POST,
                    path: if spec.kind == RequestKind::Bare {
                        "/bench/bare".to_owned()
                    } else {
                        "/v1/decide".to_owned()
                    },
                    body: Bytes::from(format!(
                        r#"{{"subject":{{"id":"{id}"}},"matter":"{matter}"}}"#
                    )),
                    expect_rejection: spec.kind == RequestKind::Decide && malformed,
                }
            }
            RequestKind::Batch => {
                // A batch answers 200 with per-item errors, so a malformed bidder is no error.
                let mut body = format!(r#"{{"matter":"{matter}","subjects":["#);
                for i in 0..spec.size {
                    let separator = if i == 0 { "" } else { "," };
                    let _ = write!(
                        body,
                        r#"{separator}{{"id":"{}"}}"#,
                        self.population.draw(rng).0
                    );
                }
                body.push_str("]}");
                Request {
                    kind: spec.kind,
                    method: Method::POST,
                    path: "/v1/decide/batch".to_owned(),
                    body: Bytes::from(body),
                    expect_rejection: false,
                }
            }
            RequestKind::Profile => {
                let (id, malformed) = self.population.draw(rng);
                Request {
                    kind: spec.kind,
                    method: Method::GET,
                    path: format!("/v1/subjects/{id}"),
                    body: Bytes::new(),
                    expect_rejection: malformed,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_keeps_listed_and_unlisted_apart_and_is_bounded() {
        let text: String = (0..1000)
            .map(|i| format!("ID{i}\t{}\n", u8::from(i % 10 == 0)))
            .collect();
        let (listed, unlisted) = sample_file(text.as_bytes(), 50, 7).expect("sample");
        assert_eq!(listed.len(), 50);
        assert_eq!(unlisted.len(), 50);
        let number = |id: &String| id[2..].parse::<u32>().expect("number");
        assert!(listed.iter().all(|id| number(id) % 10 == 0));
        assert!(unlisted.iter().all(|id| number(id) % 10 != 0));
        // Reservoir sampling reaches past the first lines.
        assert!(unlisted.iter().any(|id| number(id) > 500));
        assert!(sample_file("no tab\n".as_bytes(), 5, 1).is_err());
    }

    #[test]
    fn corrupted_identifiers_never_validate() {
        for i in 0..2000 {
            let (id, _) = jiangcheng::lists::gen::subject_id(3, i);
            assert!(jiangcheng::ident::parse(&id).is_ok(), "{id}");
            let bad = corrupt(&id);
            assert!(jiangcheng::ident::parse(&bad).is_err(), "{bad}");
        }
    }
}
