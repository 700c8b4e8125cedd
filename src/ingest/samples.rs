//! The samples file (采样记录): one row per person swabbed into a tube.
//!
//! Workers resolve each person against the roster, list tube IDs by key and intern
//! rounds, sites and collectors per chunk, so a ten-million-row file becomes 24 bytes a
//! row; a row's line is kept only where it does not follow the row before's.

use super::header::ColumnSpec;
use super::keys::{self, Id, IdList, IdTable, TEXT, UNPACKED};
use super::roster::{Near, Roster};
use super::row::Row;
use super::tubes;
use super::values::{self, MAX_PERSON_ID, MAX_TUBE_ID};
use super::{Ingested, InputReport, Lines, Reject, RowParser};
use crate::order::natural_cmp;
use crate::pieces::{self, pieces_mut};
use crate::record::{Micros, Post, Sample, MAX_SAMPLE_LINE, NONE};
use crate::strings::{Interner, Strings};
use crate::time::LastDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

const TUBE_ID: usize = 0;
const PERSON_ID: usize = 1;
const SAMPLED_AT: usize = 2;
const ROUND: usize = 3;
const SITE: usize = 4;
const COLLECTOR: usize = 5;

/// The aliases of `tube_id`, shared with the results and retests files.
pub const TUBE_ALIASES: &[&str] = &["试管编号", "试管条码", "试管码", "管码", "混管码"];

/// The samples file's columns.
pub const COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec {
        name: "tube_id",
        aliases: TUBE_ALIASES,
        required: true,
    },
    ColumnSpec {
        name: "person_id",
        aliases: &["学号", "工号", "学号/工号", "人员编号"],
        required: true,
    },
    ColumnSpec {
        name: "sampled_at",
        aliases: &["采样时间", "采集时间"],
        required: true,
    },
    ColumnSpec {
        name: "round",
        aliases: &["轮次"],
        required: false,
    },
    ColumnSpec {
        name: "site",
        aliases: &["采样点", "采集地点"],
        required: false,
    },
    ColumnSpec {
        name: "collector",
        aliases: &["采样员", "采集员"],
        required: false,
    },
];

/// A chunk's strings. In the chunk's samples, `round` is an index here (or [`NONE`]
/// for the default round), `post` an index into `posts` (or [`NONE`]), `tube` a place
/// in `tubes`, and `person` a roster
/// index or, with [`UNREGISTERED`] set, an index into `unregistered` (or, with
/// [`PENDING`] set, into `pending`, until the chunk's lookups).
#[derive(Debug, Default)]
pub struct SamplePart {
    rounds: Interner,
    /// The chunk's tube IDs, a new entry for each row whose tube is not the row
    /// before's: rows grouped by tube share one, rows by sampling time (a new tube
    /// nearly every row) are listed and not looked up. The tubes are numbered when the
    /// chunks are merged ([`tubes::number`]).
    tubes: IdList,
    sites: Interner,
    collectors: Interner,
    /// The chunk's pairs of site and collector, by their indexes in `sites` and
    /// `collectors`.
    posts: Posts,
    /// The people of the chunk not on the roster, by key (most IDs are numbers:
    /// a city's samples against a district's roster name millions, each compared and
    /// merged as one number). Its table is freed once the chunk's people are looked
    /// up.
    unregistered: IdTable,
    /// Where to look for the next person first.
    near: Near,
    /// The people not found next to the last one, to look up in one batch once the
    /// chunk is parsed; their rows hold [`PENDING`] and an index here until then.
    pending: Vec<Pending>,
    /// The IDs of pending people whose key is not the ID itself.
    texts: Strings,
    /// The earliest sampling time of the chunk's samples.
    earliest: Option<Micros>,
    /// Whether some sample of the chunk has no round.
    without_round: bool,
    /// The date of the last sampling time read.
    dates: LastDate,
}

/// The bit that marks a chunk-local person index as not on the roster.
const UNREGISTERED: u32 = 1 << 31;

/// The bit that marks a chunk-local person index as a lookup still to make.
const PENDING: u32 = 1 << 30;

/// A person to look up: the ID's key ([`keys::pack`]; its hash is made again from
/// it), or, for an ID that is not packed, [`TEXT`] and the ID's index in the chunk's
/// `texts` (in [`look_up`], its fingerprint instead: [`keys::fingerprint`]).
type Pending = u64;

/// Parses samples rows against a roster.
pub struct SampleParser<'a> {
    /// The roster people are looked up in.
    pub roster: &'a Roster,
}

impl RowParser for SampleParser<'_> {
    type Record = Sample;
    type Part = SamplePart;

    // A sample holds no line of its own.
    const LINES: bool = true;

    fn finish_part(&self, part: &mut SamplePart, rows: &mut [Sample]) {
        // Held until the chunks are merged: no spare room.
        part.tubes.shrink_to_fit();
        let people = look_up(self.roster, part);
        for s in rows.iter_mut().filter(|s| s.person & PENDING != 0) {
            s.person = people[(s.person & !PENDING) as usize];
        }
        part.unregistered.close();
    }

    fn parse(&self, row: &mut Row, part: &mut SamplePart) -> Option<Sample> {
        let tube = row.text(TUBE_ID);
        let tube_ok = row.check(TUBE_ID, values::id(&tube, MAX_TUBE_ID)).is_some();
        let person = row.text(PERSON_ID);
        let person_ok = row
            .check(PERSON_ID, values::id(&person, MAX_PERSON_ID))
            .is_some();
        let sampled_at = row.parse(SAMPLED_AT, |v| part.dates.timestamp(v))?;
        if !tube_ok || !person_ok {
            return None;
        }
        // Before the person is looked up: a rejected row leaves nothing behind.
        if row.line() > MAX_SAMPLE_LINE {
            row.fail(
                TUBE_ID,
                "lies beyond line 4,294,967,295; split the samples file",
            );
            return None;
        }
        let person = match self.roster.next_to(&person, &mut part.near) {
            Some(p) if p < PENDING => p,
            _ => {
                // Looked up once the chunk is parsed, in a batch that asks the memory for
                // each lookup's slot of the index ahead of it (`look_up`).
                let mut key = keys::pack(&person);
                if key == UNPACKED {
                    key = TEXT | u64::from(part.texts.push(&person));
                }
                part.pending.push(key);
                (part.pending.len() - 1) as u32 | PENDING
            }
        };
        let round = row
            .cell(ROUND)
            .filter(|r| !r.is_empty())
            .map_or(NONE, |r| part.rounds.intern(&r));
        part.without_round |= round == NONE;
        part.earliest = Some(part.earliest.map_or(sampled_at, |e| e.min(sampled_at)));
        let site = row
            .cell(SITE)
            .filter(|s| !s.is_empty())
            .map_or(NONE, |s| part.sites.intern(&s));
        let collector = row
            .cell(COLLECTOR)
            .filter(|c| !c.is_empty())
            .map_or(NONE, |c| part.collectors.intern(&c));
        let tube = part.tubes.push(&tube);
        Some(Sample {
            round,
            tube,
            person,
            post: part.posts.intern(Post { site, collector }),
            sampled_at,
        })
    }
}

/// A chunk's pairs of site and collector, numbered in the order of their first rows.
#[derive(Debug, Default)]
struct Posts {
    posts: Vec<Post>,
    numbers: FxHashMap<Post, u32>,
    /// The last pair interned and its number: rows of one site come in runs.
    last: Option<(Post, u32)>,
}

impl Posts {
    /// The number of `post`, or [`NONE`] for a row with neither a site nor a collector.
    fn intern(&mut self, post: Post) -> u32 {
        if post.site == NONE && post.collector == NONE {
            return NONE;
        }
        if let Some((last, number)) = self.last {
            if last == post {
                return number;
            }
        }
        let posts = &mut self.posts;
        let number = *self.numbers.entry(post).or_insert_with(|| {
            posts.push(post);
            (posts.len() - 1) as u32
        });
        self.last = Some((post, number));
        number
    }
}

/// Every accepted sample with the tables its indexes point into.
#[derive(Clone, Debug, Default)]
pub struct SampleSet {
    /// Samples in file order; `round`, `tube`, `post` index the tables below.
    pub samples: Vec<Sample>,
    /// The line of each sample.
    pub lines: Lines,
    /// The distinct pairs of site and collector (indexes into `sites` and
    /// `collectors`) that the samples' `post` points into.
    pub posts: Vec<Post>,
    /// Round labels in natural order.
    pub rounds: Vec<Box<str>>,
    /// Tube IDs, in the order of their bytes, whatever the rows' order; `reconcile`
    /// numbers them anew in the order of their tubes when that differs (several
    /// rounds).
    pub tubes: Interner,
    /// Sites.
    pub sites: Vec<Box<str>>,
    /// Collectors (采样员).
    pub collectors: Vec<Box<str>>,
    /// IDs of people not on the roster; person key `roster_len + i`.
    pub unregistered: Strings,
    /// The label given to samples without a round.
    pub default_round: String,
}

impl SampleSet {
    /// The line of sample `i` in the samples file.
    pub fn line(&self, i: u32) -> u32 {
        // Checked as the row is read: no sample lies past `MAX_SAMPLE_LINE`.
        self.lines.get(u64::from(i)) as u32
    }

    /// The site of `sample`, an index into `sites`, or [`NONE`].
    pub fn site(&self, sample: &Sample) -> u32 {
        self.post(sample).site
    }

    /// The collector of `sample`, an index into `collectors`, or [`NONE`].
    pub fn collector(&self, sample: &Sample) -> u32 {
        self.post(sample).collector
    }

    fn post(&self, sample: &Sample) -> Post {
        match sample.post {
            NONE => Post {
                site: NONE,
                collector: NONE,
            },
            p => self.posts[p as usize],
        }
    }
}

/// The label of a round without a sample time to date it by (and without `--round`):
/// never the clock, so that a rerun gives the same bytes.
pub const UNDATED: &str = "undated";

/// Merges the parsed chunks: gives every string a run-wide index, labels rows without
/// a round with `round` or else the date of the earliest sample (or [`UNDATED`], when
/// there is none), and sorts the rounds. The strings are merged in chunk order; the
/// rows are rewritten with the run-wide indexes on the workers.
pub fn finish(
    ingested: Ingested<Sample, SamplePart>,
    roster: &Roster,
    round: Option<&str>,
) -> (SampleSet, InputReport, Vec<Reject>) {
    let roster_len = roster.len() as u32;
    let mut parts = ingested.parts;
    // The chunks' own lists of tubes (in a file by sampling time, a tube ID a row) are
    // freed as they are merged. Each row's tube is then numbered run-wide in place, on
    // the workers, and the maps (4 bytes a place, a place a row by sampling time) freed
    // with each chunk's; both are given back before the rows are copied into place, the
    // stage's largest allocation: left to the allocator's delay, they were still held
    // then.
    let (tubes, tube_maps) = tubes::number(
        parts
            .iter_mut()
            .map(|p| std::mem::take(&mut p.state.tubes))
            .collect(),
    );
    assert_eq!(tube_maps.len(), parts.len(), "a map of tubes a chunk");
    parts.par_iter_mut().zip(tube_maps).for_each(|(part, map)| {
        for s in &mut part.rows {
            s.tube = map[s.tube as usize];
        }
    });
    crate::memory::give_back();
    let earliest = parts.iter().filter_map(|p| p.state.earliest).min();
    let default_round = match round {
        Some(r) => r.to_string(),
        None => earliest.map_or_else(|| UNDATED.to_string(), crate::time::local_date),
    };
    // The people not on the roster are taken out of the chunks, to be freed once
    // numbered, not when the chunks' rows are.
    let unregistered: Vec<IdList> = parts
        .iter_mut()
        .map(|p| std::mem::take(&mut p.state.unregistered).into_ids())
        .collect();
    let counts: Vec<usize> = parts.iter().map(|p| p.rows.len()).collect();
    let total: usize = counts.iter().sum();
    // The chunks' strings numbered run-wide, chunk after chunk (`Interner::merge`):
    // rows by sampling time from thousands of sites name most of them in every chunk.
    let (
        ((mut rounds, round_maps), (sites, site_maps)),
        ((collectors, collector_maps), (unregistered, person_maps)),
    ) = rayon::join(
        || {
            rayon::join(
                || Interner::merge_of(&parts, |p| &p.state.rounds),
                || Interner::merge_of(&parts, |p| &p.state.sites),
            )
        },
        || {
            rayon::join(
                || Interner::merge_of(&parts, |p| &p.state.collectors),
                // People not on the roster are rarely named twice: millions of them
                // are a city's samples against a district's roster.
                || {
                    let numbered =
                        keys::number_first_seen(&unregistered.iter().collect::<Vec<_>>());
                    drop(unregistered);
                    numbered
                },
            )
        },
    );
    // The chunks' pairs of site and collector numbered run-wide, chunk after chunk.
    let mut posts: Vec<Post> = Vec::new();
    let mut post_numbers: FxHashMap<Post, u32> = FxHashMap::default();
    let maps: Vec<PartMaps> = round_maps
        .into_iter()
        .zip(site_maps)
        .zip(collector_maps)
        .zip(person_maps)
        .zip(&parts)
        .map(|((((round, site), collector), person), part)| {
            let run_wide = |i: u32, map: &[u32]| if i == NONE { NONE } else { map[i as usize] };
            let post = part
                .state
                .posts
                .posts
                .iter()
                .map(|p| {
                    let post = Post {
                        site: run_wide(p.site, &site),
                        collector: run_wide(p.collector, &collector),
                    };
                    *post_numbers.entry(post).or_insert_with(|| {
                        posts.push(post);
                        (posts.len() - 1) as u32
                    })
                })
                .collect();
            PartMaps {
                round,
                post,
                person,
            }
        })
        .collect();
    drop(post_numbers);
    let lines = Lines::concat(parts.iter().map(|p| (&p.lines, p.rows.len())));
    // Rounds in natural order: those some row names, the default round when some row
    // has no round (or there is no sample at all).
    let default_used = total == 0 || parts.iter().any(|p| p.state.without_round);
    let default_index = rounds.intern(&default_round);
    let names = rounds.into_names();
    let mut used = vec![false; names.len()];
    used[default_index as usize] = default_used;
    for m in &maps {
        for &r in &m.round {
            used[r as usize] = true;
        }
    }
    let mut order: Vec<u32> = (0..names.len() as u32)
        .filter(|&i| used[i as usize])
        .collect();
    order.sort_by(|&a, &b| natural_cmp(&names[a as usize], &names[b as usize]));
    let mut rank = vec![NONE; names.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    // The chunks' rows are freed as they are copied, and given back to the system a
    // few chunks at a time: left to the allocator's delay, a city's were all still
    // held beside the whole (400 MB more at the peak of a ten-million-row file).
    let mut samples: Vec<Sample> = Vec::with_capacity(total);
    pieces::move_parts(
        pieces_mut(&mut samples.spare_capacity_mut()[..total], &counts),
        parts.into_iter().zip(maps),
        |(part, _)| part.rows.capacity() * std::mem::size_of::<Sample>(),
        |out, (part, m)| {
            for (o, s) in out.iter_mut().zip(part.rows) {
                o.write(Sample {
                    round: rank[if s.round == NONE {
                        default_index
                    } else {
                        m.round[s.round as usize]
                    } as usize],
                    post: if s.post == NONE {
                        NONE
                    } else {
                        m.post[s.post as usize]
                    },
                    person: if s.person & UNREGISTERED != 0 {
                        roster_len + m.person[(s.person & !UNREGISTERED) as usize]
                    } else {
                        s.person
                    },
                    ..s
                });
            }
        },
    );
    // SAFETY: the pieces cover the first `total` slots, and each piece holds as many
    // slots as its chunk has rows, every one of which was written above.
    unsafe { samples.set_len(total) };
    let set = SampleSet {
        samples,
        lines,
        posts,
        rounds: order.iter().map(|&i| names[i as usize].clone()).collect(),
        tubes,
        sites: sites.into_names(),
        collectors: collectors.into_names(),
        unregistered,
        default_round,
    };
    (set, ingested.report, ingested.rejects)
}

/// Looks up a chunk's pending people (see [`Pending`]) once its rows are parsed, in one
/// batch ([`Roster::find_each`], which asks the memory for each lookup's slot ahead of
/// it: rows by sampling time bring nearly every person from another part of a city's
/// index, which no cache holds); returns each one's roster index, or [`UNREGISTERED`]
/// and their index in the chunk's `unregistered` (interned here, in row order, as they
/// would have been as the rows were read). Frees the chunk's pending people.
fn look_up(roster: &Roster, part: &mut SamplePart) -> Vec<u32> {
    let mut pending = std::mem::take(&mut part.pending);
    let texts = std::mem::take(&mut part.texts);
    // An ID kept as text is looked up by its fingerprint, which takes the place of its
    // text's index: the probes then read nothing but the index, and each candidate found
    // is checked afterwards, in row order (the texts are the pending people kept as
    // text, in order).
    for key in pending.iter_mut().filter(|key| keys::is_text(**key)) {
        *key = keys::fingerprint(texts.get((*key & !TEXT) as u32));
    }
    let mut found = roster.find_each(&pending);
    let mut next = 0;
    for (f, &key) in found.iter_mut().zip(&pending) {
        let text = keys::is_text(key).then(|| {
            next += 1;
            texts.get(next - 1)
        });
        if let Some(id) = text {
            if *f != NONE && roster.id(*f) != id {
                *f = roster.find(id).unwrap_or(NONE);
            }
        }
        if *f == NONE {
            let id = match text {
                Some(id) => Id::of(UNPACKED, id),
                None => Id::of(key, ""),
            };
            *f = part.unregistered.intern(id, id.hash()).0 | UNREGISTERED;
        }
    }
    debug_assert_eq!(next as usize, texts.len(), "a text for each text key");
    found
}

/// One chunk's local string indexes mapped to run-wide ones.
struct PartMaps {
    round: Vec<u32>,
    post: Vec<u32>,
    person: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use crate::pipeline::{load_roster, load_samples};
    use std::fmt::Write;

    /// Every sample keeps its line, site and collector through chunks of a megabyte
    /// merged run-wide: rows of many sites and collectors in no order, some with
    /// neither, among a few blank lines and rejected rows, or among so many that most
    /// rows' lines are kept one by one.
    #[test]
    fn samples_keep_their_lines_sites_and_collectors_across_chunks() {
        for gaps in [2, 80] {
            samples_keep_their_lines(gaps);
        }
    }

    /// [`samples_keep_their_lines_sites_and_collectors_across_chunks`] with a blank
    /// line or a rejected row before `gaps` rows in a hundred.
    fn samples_keep_their_lines(gaps: u64) {
        let dir = tempfile::tempdir().unwrap();
        let n = 100_000u32;
        let mut roster = String::from("person_id,name,building\n");
        for i in 0..n {
            writeln!(roster, "{},N,B{}", 3_000_000 + i, i % 7).unwrap();
        }
        let mut next = crate::testing::draws(0x2545_f491_4f6c_dd1d);
        let mut samples = String::from("tube_id,person_id,sampled_at,site,collector\n");
        let mut line = 1;
        // Each accepted row's line, site and collector ("" for none).
        let mut truth: Vec<(u32, String, String)> = Vec::new();
        for i in 0..n {
            match next(100) {
                k if k < gaps / 2 => {
                    samples.push('\n');
                    line += 1;
                }
                k if k < gaps => {
                    writeln!(samples, "T{i},{},not a time,S1,C1", 3_000_000 + i).unwrap();
                    line += 1;
                }
                _ => {}
            }
            let site = match next(9) {
                0 => String::new(),
                k => format!("site {k}"),
            };
            let collector = match next(6) {
                0 => String::new(),
                k => format!("collector {k}"),
            };
            writeln!(
                samples,
                "T{},{},2022-04-10 08:00,{site},{collector}",
                next(20_000),
                3_000_000 + next(u64::from(n))
            )
            .unwrap();
            line += 1;
            truth.push((line, site, collector));
        }
        std::fs::write(dir.path().join("roster.csv"), roster).unwrap();
        std::fs::write(dir.path().join("samples.csv"), &samples).unwrap();
        assert!(samples.len() > 4 << 20, "a file of several chunks");
        let (roster, _, _) = load_roster(&dir.path().join("roster.csv"), None).unwrap();
        let (set, _, rejects) =
            load_samples(&dir.path().join("samples.csv"), &roster, None, None).unwrap();
        assert!(!rejects.is_empty());
        assert_eq!(set.samples.len(), truth.len());
        let every = matches!(set.lines, crate::ingest::Lines::Every(_));
        assert_eq!(every, gaps > 50, "{gaps} gaps in 100");
        let name = |names: &[Box<str>], i: u32| match i {
            crate::record::NONE => String::new(),
            i => names[i as usize].to_string(),
        };
        for (i, (s, (line, site, collector))) in set.samples.iter().zip(&truth).enumerate() {
            assert_eq!(set.line(i as u32), *line, "sample {i}");
            assert_eq!(&name(&set.sites, set.site(s)), site, "sample {i}");
            assert_eq!(
                &name(&set.collectors, set.collector(s)),
                collector,
                "sample {i}"
            );
        }
        // Each pair once.
        let mut posts = set.posts.clone();
        posts.sort_by_key(|p| (p.site, p.collector));
        posts.dedup();
        assert_eq!(posts.len(), set.posts.len());
    }

    #[test]
    fn people_looked_up_by_fingerprint_are_the_people_of_their_ids() {
        // IDs kept as text, looked up in the batch (rows in no order). In the unit
        // tests a fingerprint has 16 bits, so that most visitors' IDs share one with
        // someone on the roster and many people share theirs.
        let n = 60_000u32;
        let dir = tempfile::tempdir().unwrap();
        let mut roster = String::from("person_id,name,building\n");
        for i in 0..n {
            writeln!(roster, "student-{i:08},N,B{}", i % 7).unwrap();
        }
        let visitor = |j: u32| format!("visitor-{j:08}");
        let mut rows: Vec<String> = (0..n).map(|i| format!("student-{i:08}")).collect();
        rows.extend((0..n / 6).map(visitor));
        // A fixed shuffle.
        let mut next = crate::testing::draws(0x2545_f491_4f6c_dd1d);
        for i in (1..rows.len()).rev() {
            rows.swap(i, next(i as u64 + 1) as usize);
        }
        let mut samples = String::from("tube_id,person_id,sampled_at\n");
        for (k, id) in rows.iter().enumerate() {
            writeln!(samples, "{},{id},2022-04-10 08:00", k / 10).unwrap();
        }
        std::fs::write(dir.path().join("roster.csv"), roster).unwrap();
        std::fs::write(dir.path().join("samples.csv"), samples).unwrap();
        let (roster, _, rejects) = load_roster(&dir.path().join("roster.csv"), None).unwrap();
        assert!(rejects.is_empty());
        let (set, _, rejects) =
            load_samples(&dir.path().join("samples.csv"), &roster, None, None).unwrap();
        assert!(rejects.is_empty());
        assert_eq!(set.samples.len(), rows.len());
        for (sample, id) in set.samples.iter().zip(&rows) {
            let found = match sample.person as usize {
                p if p < roster.len() => roster.id(p as u32),
                p => set.unregistered.get((p - roster.len()) as u32),
            };
            assert_eq!(found, id);
        }
        assert_eq!(set.unregistered.len() as u32, n / 6);
    }
}
