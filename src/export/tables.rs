//! The tables that are not lists of people: `buildings.parquet`, `tubes.parquet` and
//! `anomalies.parquet`. They are large at city scale (a row per tube), so their
//! columns are built straight from the reconciled round, as Arrow arrays, a row group
//! at a time, on the workers: `tubes.parquet`'s (millions of tubes in a city),
//! `anomalies.parquet`'s (a row of every repeated sample row) and
//! `buildings.parquet`'s (a million rows a round where a city reports by household).

use super::parquet::{
    codes, codes_of_rows, float, frame, int, int_opt, on_workers, strings, text, timestamp,
    timestamp_type, ArrayRef,
};
use crate::error::{Error, Result};
use crate::ingest::roster::Roster;
use crate::privacy::{pseudonym_text, Privacy};
use crate::reconcile::{Anomaly, AnomalyKind, Reconciled, RowFinding, Tube, TubeBuildings};
use crate::record::{Class, InputKind};
use crate::summarize::BuildingRow;
use polars::prelude::DataFrame;
use polars_arrow::array::PrimitiveArray;
use rayon::prelude::*;
use std::borrow::Cow;

/// `buildings.parquet` as one frame (with no rows: its schema, for
/// [`building_columns`]).
pub fn buildings(roster: &Roster, rec: &Reconciled, rows: &[BuildingRow]) -> Result<DataFrame> {
    let n = |f: fn(&BuildingRow) -> u32| rows.iter().map(|r| i64::from(f(r))).collect::<Vec<_>>();
    frame(vec![
        text(
            "round",
            rows.iter().map(|r| Some(&*rec.rounds()[r.round as usize])),
        ),
        text(
            "building",
            rows.iter()
                .map(|r| Some(&*roster.buildings[r.building as usize])),
        ),
        int("expected", n(|r| r.expected)),
        int("on_leave", n(|r| r.on_leave)),
        int("sampled", n(|r| r.sampled)),
        int("missing", n(BuildingRow::missing)),
        float("coverage", rows.iter().map(BuildingRow::coverage)),
        int("tubes", n(|r| r.tubes)),
        int("positive_tubes", n(|r| r.positive_tubes)),
        int("suspect_tubes", n(|r| r.suspect_tubes)),
        int("invalid_tubes", n(|r| r.invalid_tubes)),
        int("pending_tubes", n(|r| r.pending_tubes)),
        int("negative_tubes", n(|r| r.negative_tubes)),
        int("to_retest", n(|r| r.to_retest)),
        int("confirmed_positive", n(|r| r.confirmed_positive)),
        int("cleared", n(|r| r.cleared)),
        int("open_retests", n(|r| r.open_retests)),
        int("overdue_retests", n(|r| r.overdue_retests)),
        float(
            "median_turnaround_hours",
            rows.iter().map(|r| r.median_turnaround_hours),
        ),
    ])
}

/// The columns of `buildings.parquet` for `rows`, in the order of [`buildings`], made on
/// the workers: a city that reports by household has a million rows a round.
pub fn building_columns(roster: &Roster, rec: &Reconciled, rows: &[BuildingRow]) -> Vec<ArrayRef> {
    let n = rows.len();
    let int = |f: fn(&BuildingRow) -> u32| -> ArrayRef {
        PrimitiveArray::<i64>::from_vec(rows.iter().map(|r| i64::from(f(r))).collect()).boxed()
    };
    let float = |f: fn(&BuildingRow) -> Option<f64>| -> ArrayRef {
        PrimitiveArray::<f64>::from_trusted_len_iter(rows.iter().map(f)).boxed()
    };
    let makers: Vec<Box<dyn Fn() -> ArrayRef + Sync + '_>> = vec![
        Box::new(|| {
            codes(
                n,
                rec.rounds().len(),
                |i| rows[i].round,
                |r| &rec.rounds()[r as usize],
            )
        }),
        Box::new(|| {
            codes(
                n,
                roster.buildings.len(),
                |i| rows[i].building,
                |b| &roster.buildings[b as usize],
            )
        }),
        Box::new(|| int(|r| r.expected)),
        Box::new(|| int(|r| r.on_leave)),
        Box::new(|| int(|r| r.sampled)),
        Box::new(|| int(BuildingRow::missing)),
        Box::new(|| float(BuildingRow::coverage)),
        Box::new(|| int(|r| r.tubes)),
        Box::new(|| int(|r| r.positive_tubes)),
        Box::new(|| int(|r| r.suspect_tubes)),
        Box::new(|| int(|r| r.invalid_tubes)),
        Box::new(|| int(|r| r.pending_tubes)),
        Box::new(|| int(|r| r.negative_tubes)),
        Box::new(|| int(|r| r.to_retest)),
        Box::new(|| int(|r| r.confirmed_positive)),
        Box::new(|| int(|r| r.cleared)),
        Box::new(|| int(|r| r.open_retests)),
        Box::new(|| int(|r| r.overdue_retests)),
        Box::new(|| float(|r| r.median_turnaround_hours)),
    ];
    on_workers(&makers)
}

/// `tubes.parquet`'s columns, for its schema.
pub fn tubes_like(roster: &Roster, rec: &Reconciled) -> Result<DataFrame> {
    tubes(roster, rec, &[])
}

/// The rows of `tubes.parquet` for `tubes` (of `rec`); `buildings` lists the roster
/// buildings of the tube's people in natural order, separated by `;`.
pub(super) fn tubes(roster: &Roster, rec: &Reconciled, tubes: &[Tube]) -> Result<DataFrame> {
    let result = |t: &Tube| t.result().map(|r| &rec.results[r as usize]);
    let buildings: Vec<Option<Cow<str>>> = tubes
        .par_iter()
        .map(|t| building_names(roster, rec, t))
        .collect();
    frame(vec![
        text(
            "round",
            tubes.iter().map(|t| Some(&*rec.rounds()[t.round as usize])),
        ),
        text("tube_id", tubes.iter().map(|t| Some(rec.tube_id(t)))),
        int("tube_size", tubes.iter().map(|t| t.size() as i64)),
        text("tube_class", tubes.iter().map(|t| Some(t.class().as_str()))),
        float(
            "ct_orf1ab",
            tubes
                .iter()
                .map(|t| result(t).and_then(|r| r.ct_orf1ab.get())),
        ),
        float(
            "ct_n",
            tubes.iter().map(|t| result(t).and_then(|r| r.ct_n.get())),
        ),
        float(
            "ct_ic",
            tubes.iter().map(|t| result(t).and_then(|r| r.ct_ic.get())),
        ),
        text("buildings", buildings.iter().map(|b| b.as_deref())),
        timestamp(
            "first_sampled_at",
            tubes.iter().map(|t| Some(t.first_sampled_at)),
        ),
        text("site", tubes.iter().map(|t| rec.site(t.site))),
    ])
}

/// The `buildings` cell of a tube.
fn building_names<'a>(roster: &'a Roster, rec: &Reconciled, t: &Tube) -> Option<Cow<'a, str>> {
    match rec.buildings_of(roster, t) {
        TubeBuildings::None => None,
        TubeBuildings::One(name) => Some(Cow::Borrowed(name)),
        TubeBuildings::Several(names) => Some(Cow::Owned(names.join(";"))),
    }
}

/// The columns of `tubes.parquet` for `tubes` (of `rec`), in the order of
/// [`tubes_like`], made on the workers: the round, the class and the site from their
/// codes ([`codes`]: a dictionary where polars would make one), the tube IDs and the
/// buildings as strings.
pub fn tube_columns(roster: &Roster, rec: &Reconciled, tubes: &[Tube]) -> Vec<ArrayRef> {
    let n = tubes.len();
    let result = |i: usize| tubes[i].result().map(|r| &rec.results[r as usize]);
    let ct = |value: fn(&crate::record::LabResult) -> Option<f64>| -> ArrayRef {
        PrimitiveArray::<f64>::from_trusted_len_iter((0..n).map(|i| result(i).and_then(value)))
            .boxed()
    };
    let makers: Vec<Box<dyn Fn() -> ArrayRef + Sync + '_>> = vec![
        Box::new(|| {
            codes(
                n,
                rec.rounds().len(),
                |i| tubes[i].round,
                |r| &rec.rounds()[r as usize],
            )
        }),
        Box::new(|| strings(n, |i| Some(Cow::Borrowed(rec.tube_id(&tubes[i]))))),
        Box::new(|| {
            PrimitiveArray::<i64>::from_vec(tubes.iter().map(|t| t.size() as i64).collect()).boxed()
        }),
        Box::new(|| {
            codes(
                n,
                Class::ALL.len(),
                |i| tubes[i].class() as u32,
                |c| Class::ALL[c as usize].as_str(),
            )
        }),
        Box::new(|| ct(|r| r.ct_orf1ab.get())),
        Box::new(|| ct(|r| r.ct_n.get())),
        Box::new(|| ct(|r| r.ct_ic.get())),
        Box::new(|| strings(n, |i| building_names(roster, rec, &tubes[i]))),
        Box::new(|| {
            PrimitiveArray::<i64>::from_vec(tubes.iter().map(|t| t.first_sampled_at).collect())
                .to(timestamp_type())
                .boxed()
        }),
        Box::new(|| {
            codes(
                n,
                rec.set.sites.len(),
                |i| tubes[i].site,
                |s| &rec.set.sites[s as usize],
            )
        }),
    ];
    on_workers(&makers)
}

/// `anomalies.parquet`'s columns, for its schema.
pub fn anomalies_like() -> Result<DataFrame> {
    let none = || std::iter::empty::<Option<&str>>();
    frame(vec![
        text("round", none()),
        text("kind", none()),
        text("tube_id", none()),
        text("person_id", none()),
        text("file", none()),
        int_opt("line", std::iter::empty()),
        text("detail", none()),
    ])
}

/// A row of `anomalies.parquet`: a finding, or a finding about one person's row held
/// compactly until written.
#[derive(Clone, Copy, Debug)]
pub enum Finding<'a> {
    /// A finding of any other kind.
    Found(&'a Anomaly),
    /// A [`RowFinding`].
    Row(RowFinding),
}

impl Finding<'_> {
    /// The finding's round.
    pub fn round(&self, rec: &Reconciled) -> u32 {
        match self {
            Finding::Found(a) => a.round,
            Finding::Row(r) => rec.tubes[r.tube as usize].round,
        }
    }

    /// The finding's kind.
    fn kind(&self) -> &'static str {
        match self {
            Finding::Found(a) => a.kind.as_str(),
            Finding::Row(r) => r.kind.as_str(),
        }
    }

    /// A number for the finding's kind, below [`KINDS`].
    fn kind_code(&self) -> u32 {
        match self {
            Finding::Found(a) => a.kind as u32,
            Finding::Row(r) => r.kind as u32,
        }
    }

    /// The input the finding is about.
    fn file(&self) -> InputKind {
        match self {
            Finding::Found(a) => a.file,
            Finding::Row(_) => InputKind::Samples,
        }
    }
}

/// How many kinds of finding there are: above every [`Finding::kind_code`] (a
/// dictionary's table grows past it where one is not).
const KINDS: usize = AnomalyKind::PriorityPooled as usize + 1;

/// How many inputs a finding can be about.
const FILES: usize = InputKind::Retests as usize + 1;

/// A finding's sort key after its round and kind ([`crate::reconcile::sort_anomalies`]).
type FindingKey<'a> = (
    Option<Cow<'a, str>>,
    Option<Cow<'a, str>>,
    InputKind,
    Option<u64>,
    Cow<'a, str>,
);

/// The person_id a row finding shows for person key `person`: a roster person's
/// pseudonym as made once for the run (`pseudonyms`, by person key, with
/// `--pseudonymize`), else as `privacy` shows it. A file repeated whole names ten
/// million people in its findings, each otherwise hashed for the sort and again for
/// its row.
fn row_person<'a>(
    roster: &'a Roster,
    rec: &'a Reconciled,
    privacy: &Privacy,
    pseudonyms: Option<&[u64]>,
    person: u32,
) -> Cow<'a, str> {
    match pseudonyms {
        Some(numbers) if person < rec.roster_len => {
            Cow::Owned(pseudonym_text(numbers[person as usize]))
        }
        _ => privacy.person_id(rec.person_id(roster, person)),
    }
}

/// The rows of `anomalies.parquet` in order: by round, kind, tube_id, person_id, file,
/// line and detail, as the round holds its findings (see
/// [`crate::reconcile::sort_anomalies`]) and its row findings (by kind, each kind's by
/// tube, person_id and line), merged by round and kind, and by the rest of the key where
/// two sources hold one kind in a round; with `--pseudonymize` by the
/// pseudonym shown in place of person_id, so that the order tells nothing of the real
/// IDs.
pub fn anomaly_rows<'a>(
    roster: &'a Roster,
    rec: &'a Reconciled,
    privacy: &Privacy,
    pseudonyms: Option<&[u64]>,
) -> Result<FindingRows<'a>> {
    let all = &rec.anomalies;
    if all.len() + rec.row_findings.len() > FOUND as usize {
        return Err(Error::Internal(format!(
            "{} findings, more than anomalies.parquet is written from ({FOUND})",
            all.len() + rec.row_findings.len()
        )));
    }
    let found: Vec<u32> = if privacy.pseudonymizes() {
        let people: Vec<Option<Cow<str>>> = all
            .par_iter()
            .map(|x| x.person_id.as_deref().map(|p| privacy.person_id(p)))
            .collect();
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.par_sort_by(|&i, &j| {
            let (a, b) = (&all[i], &all[j]);
            a.round
                .cmp(&b.round)
                .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
                .then_with(|| a.tube_id.cmp(&b.tube_id))
                .then_with(|| people[i].cmp(&people[j]))
                .then_with(|| a.file.cmp(&b.file))
                .then_with(|| a.line.cmp(&b.line))
                .then_with(|| a.detail.cmp(&b.detail))
        });
        order.into_iter().map(|i| i as u32 | FOUND).collect()
    } else {
        (0..all.len() as u32).map(|i| i | FOUND).collect()
    };
    // Under --pseudonymize a tube's row findings of a kind are sorted again by the
    // pseudonym shown, tube by tube on the workers.
    let mut rows: Vec<u32> = (0..rec.row_findings.len() as u32).collect();
    let row = |i: u32| rec.row_findings.get(i as usize);
    if privacy.pseudonymizes() {
        rows.par_chunk_by_mut(|&a, &b| (row(a).kind, row(a).tube) == (row(b).kind, row(b).tube))
            .for_each(|tube| {
                tube.sort_by_cached_key(|&r| {
                    let shown = row_person(roster, rec, privacy, pseudonyms, row(r).person);
                    (shown.into_owned(), row(r).line)
                })
            });
    }
    let finding = |i: u32| FindingRows::finding(rec, i);
    // Each kind of row findings is a source of its own, by round; the findings are one
    // more. A round takes from them kind by kind.
    let kinds: Vec<&[u32]> = rows.chunk_by(|&a, &b| row(a).kind == row(b).kind).collect();
    let get = |s: usize, i: usize| match kinds.get(s) {
        Some(kind) => kind.get(i).copied(),
        None => found.get(i).copied(),
    };
    // Where two sources hold findings of one kind in a round (an unregistered person in
    // the samples and in the retests), they are merged by the rest of the key, as the
    // findings themselves are sorted: tube_id, person_id (the pseudonym shown), file,
    // line, detail.
    let shown = |id: &'a str| -> Cow<'a, str> {
        match privacy.pseudonymizes() {
            true => privacy.person_id(id),
            false => Cow::Borrowed(id),
        }
    };
    let key = |x: &Finding<'a>| -> FindingKey<'a> {
        match *x {
            Finding::Found(a) => (
                a.tube_id.as_deref().map(Cow::Borrowed),
                a.person_id.as_deref().map(shown),
                a.file,
                a.line,
                Cow::Borrowed(&*a.detail),
            ),
            Finding::Row(r) => (
                Some(Cow::Borrowed(rec.tube_id(&rec.tubes[r.tube as usize]))),
                Some(row_person(roster, rec, privacy, pseudonyms, r.person)),
                InputKind::Samples,
                Some(r.line.into()),
                r.detail(rec),
            ),
        }
    };
    let total = rows.len() + found.len();
    let mut at = vec![0; kinds.len() + 1];
    let mut merged = Vec::with_capacity(total);
    for round in 0..rec.rounds().len() as u32 {
        let of_round = |&x: &u32| finding(x).round(rec) == round;
        while let Some((kind, s)) = (0..at.len())
            .filter_map(|s| {
                get(s, at[s])
                    .filter(of_round)
                    .map(|x| (finding(x).kind(), s))
            })
            .min()
        {
            let next = |s: usize, at: &[usize]| {
                get(s, at[s]).filter(|x| of_round(x) && finding(*x).kind() == kind)
            };
            let sources: Vec<usize> = (0..at.len()).filter(|&s| next(s, &at).is_some()).collect();
            if sources.len() == 1 {
                while let Some(x) = next(s, &at) {
                    merged.push(x);
                    at[s] += 1;
                }
                continue;
            }
            while let Some((_, s)) = sources
                .iter()
                .filter_map(|&s| next(s, &at).map(|x| (key(&finding(x)), s)))
                .min()
            {
                merged.push(get(s, at[s]).expect("a finding just seen"));
                at[s] += 1;
            }
        }
    }
    assert_eq!(merged.len(), total, "findings out of round order");
    Ok(FindingRows { rec, order: merged })
}

/// Marks an index of [`FindingRows`] as one into `Reconciled::anomalies`.
const FOUND: u32 = 1 << 31;

/// The rows of `anomalies.parquet` in order ([`anomaly_rows`]), 4 bytes each: a file
/// repeated whole, or a district's roster against a city's samples, makes a finding of
/// nearly every sample row.
pub struct FindingRows<'a> {
    rec: &'a Reconciled,
    /// Each row's index in `rec.row_findings`, or [`FOUND`] and its index in
    /// `rec.anomalies`.
    order: Vec<u32>,
}

impl<'a> FindingRows<'a> {
    fn finding(rec: &'a Reconciled, i: u32) -> Finding<'a> {
        match i & FOUND {
            0 => Finding::Row(rec.row_findings.get(i as usize)),
            _ => Finding::Found(&rec.anomalies[(i & !FOUND) as usize]),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Row `i`.
    pub fn get(&self, i: usize) -> Finding<'a> {
        Self::finding(self.rec, self.order[i])
    }

    /// The rows of `range`.
    pub fn range(&self, range: std::ops::Range<usize>) -> Vec<Finding<'a>> {
        self.order[range]
            .iter()
            .map(|&i| Self::finding(self.rec, i))
            .collect()
    }
}

/// The columns of `anomalies.parquet` for `rows` (of `rec`), in the order of
/// [`anomalies_like`], made on the workers; `file_of` names each input as rejects and
/// anomalies name it; a row finding shows its person as [`row_person`] does. A file
/// repeated whole makes a finding of every row, ten million in a city, so the table is
/// made a row group at a time.
pub fn anomaly_columns<'a>(
    roster: &'a Roster,
    rec: &'a Reconciled,
    rows: &[Finding<'a>],
    file_of: &(dyn Fn(InputKind) -> &'a str + Sync),
    privacy: &Privacy,
    pseudonyms: Option<&[u64]>,
) -> Vec<ArrayRef> {
    let n = rows.len();
    let text = |value: &(dyn Fn(Finding<'a>) -> Option<Cow<'a, str>> + Sync)| {
        strings(n, |i| value(rows[i]))
    };
    // Round, kind and file, a few values each, are coded: written as a dictionary
    // without finding it in the text of every row (ten million rows in a district),
    // or as text where polars would write the text (nearly every row's value its own).
    let coded = |code: &(dyn Fn(Finding<'a>) -> u32 + Sync),
                 universe: usize,
                 value: &(dyn Fn(Finding<'a>) -> &'a str + Sync)| {
        codes_of_rows(n, universe, |i| code(rows[i]), |i| value(rows[i]))
    };
    let makers: Vec<Box<dyn Fn() -> ArrayRef + Sync + '_>> = vec![
        Box::new(|| {
            coded(&|x| x.round(rec), rec.rounds().len(), &|x| {
                &rec.rounds()[x.round(rec) as usize]
            })
        }),
        Box::new(|| coded(&|x| x.kind_code(), KINDS, &|x| x.kind())),
        Box::new(|| {
            text(&|x| match x {
                Finding::Found(a) => a.tube_id.as_deref().map(Cow::Borrowed),
                Finding::Row(r) => Some(Cow::Borrowed(rec.tube_id(&rec.tubes[r.tube as usize]))),
            })
        }),
        Box::new(|| {
            strings(n, |i| match rows[i] {
                Finding::Found(a) => a.person_id.as_deref().map(|p| privacy.person_id(p)),
                Finding::Row(r) => Some(row_person(roster, rec, privacy, pseudonyms, r.person)),
            })
        }),
        Box::new(|| coded(&|x| x.file() as u32, FILES, &|x| file_of(x.file()))),
        Box::new(|| {
            PrimitiveArray::<i64>::from_trusted_len_iter(rows.iter().map(|x| match x {
                Finding::Found(a) => a.line.map(|l| l as i64),
                Finding::Row(r) => Some(r.line.into()),
            }))
            .boxed()
        }),
        Box::new(|| {
            text(&|x| match x {
                Finding::Found(a) => Some(Cow::Borrowed(&*a.detail)),
                Finding::Row(r) => Some(r.detail(rec)),
            })
        }),
    ];
    on_workers(&makers)
}
