//! History across rounds. `run --history DIR` publishes each round of the run into
//! `DIR/rounds/<round>/` ([`publish`]): its Parquet outputs and a manifest holding
//! every file's SHA-256. `poolscreen history` reads every published round back
//! ([`read`]), checks it, and follows each person across the rounds ([`build`]):
//! `people_history.parquet`, `persistent_missing.parquet/.xlsx` (应检未检) and
//! `trend.parquet`.
//!
//! Rounds are ordered by their earliest sample. History follows person_id: a person
//! absent from a round's roster is neither expected nor missing in it.

pub mod build;
pub mod publish;
pub mod read;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The version of the layout of a history folder. A folder of another format is an
/// error naming the round, never a wrong answer.
pub const FORMAT: u32 = 1;

/// The Parquet files of a published round.
pub const ROUND_TABLES: [&str; 7] = [
    "buildings.parquet",
    "retest.parquet",
    "missing.parquet",
    "tubes.parquet",
    "anomalies.parquet",
    "people.parquet",
    "closure.parquet",
];

/// Every file of a published round, the manifest last.
pub const ROUND_FILES: [&str; 8] = [
    "buildings.parquet",
    "retest.parquet",
    "missing.parquet",
    "tubes.parquet",
    "anomalies.parquet",
    "people.parquet",
    "closure.parquet",
    "manifest.json",
];

/// The manifest of a published round (`DIR/rounds/<round>/manifest.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundManifest {
    /// The layout version, [`FORMAT`].
    pub format: u32,
    /// The poolscreen version that wrote the round.
    pub version: String,
    /// The round's label.
    pub round: String,
    /// The district, for a round published with `--shard`.
    pub shard: Option<String>,
    /// The round's earliest sample, ISO 8601 in China Standard Time; rounds are
    /// ordered by it.
    pub first_sampled_at: Option<String>,
    /// The same moment in microseconds since the Unix epoch.
    pub first_sampled_micros: Option<i64>,
    /// How many times the round was published: 1 the first time.
    pub revision: u32,
    /// The SHA-256 of the manifest this one replaced, on a republication.
    pub replaces: Option<String>,
    /// The moment the round's deadlines were judged at.
    pub as_of: String,
    /// The most people a tube could hold.
    pub pool_size: usize,
    /// The protections applied to the round's files.
    pub privacy: PrivacyRecord,
    /// The run's inputs (path, SHA-256, bytes, rows).
    pub inputs: Vec<crate::export::manifest::InputEntry>,
    /// Every file of the round with its rows and SHA-256.
    pub files: Vec<FileEntry>,
}

/// The protections of a published round, so that rounds join only when their
/// person_ids are alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyRecord {
    /// Names and phones masked.
    pub masked: bool,
    /// person_id replaced by a keyed pseudonym.
    pub pseudonymized: bool,
    /// The key's check ([`crate::privacy::Privacy::key_check`]), with a key.
    pub key_check: Option<String>,
}

/// One file of a published round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    /// The file name.
    pub file: String,
    /// Data rows.
    pub rows: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
}

/// The start of a district's folder within its round's folder (`shard=NAME`).
pub const SHARD_PREFIX: &str = "shard=";

/// The districts' folders of the round folder `round` (`shard=NAME/`), sorted: empty
/// for a round published whole.
pub fn shard_folders(round: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(round)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(SHARD_PREFIX))
        .map(|e| e.path())
        .collect();
    shards.sort();
    Ok(shards)
}

/// The folder name of a round label: characters unsafe in a folder name (or in a
/// partition path: `/ \ : * ? " < > | % =`, control characters, a space, a leading
/// dot) percent-encoded as their UTF-8 bytes; letters, digits, `-`, `_`, `.` and
/// non-ASCII characters kept.
pub fn folder_name(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for (i, c) in label.chars().enumerate() {
        let safe = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_')
            || (c == '.' && i > 0)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace());
        if safe {
            out.push(c);
        } else {
            let mut bytes = [0u8; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// The round label of a folder name (see [`folder_name`]).
pub fn label_of(folder: &str) -> Option<String> {
    let bytes = folder.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = folder.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks a `--shard` name: 1 to 64 characters of `A-Z a-z 0-9 - _`.
pub fn check_shard_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(
            "--shard must be 1 to 64 characters of A-Z a-z 0-9 - _".into(),
        ))
    }
}

/// What `poolscreen history` was asked to do, checked.
#[derive(Clone, Debug)]
pub struct HistoryOptions {
    /// The history folder (holding `rounds/`).
    pub history: std::path::PathBuf,
    /// The output folder.
    pub out: std::path::PathBuf,
    /// The fewest rounds missed running that put a person on the persistent list.
    pub streak: i64,
    /// Leave out rounds whose earliest sample is after this moment.
    pub as_of: Option<crate::record::Micros>,
    /// The protections of personal data.
    pub privacy: crate::privacy::Privacy,
}

/// The output files of `poolscreen history`, `manifest.json` last.
pub const HISTORY_FILES: [&str; 6] = [
    "people_history.parquet",
    "persistent_missing.parquet",
    "persistent_missing.xlsx",
    "trend.parquet",
    "report.html",
    "manifest.json",
];

/// The manifest of a `poolscreen history` run.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryManifest {
    /// poolscreen's version.
    pub version: String,
    /// The rounds read, in order, with their revisions.
    pub rounds: Vec<HistoryRound>,
    /// The streak that puts a person on the persistent list.
    pub streak: i64,
    /// The protections applied.
    pub privacy: Vec<String>,
    /// Every output with its rows.
    pub outputs: Vec<crate::export::manifest::OutputEntry>,
}

/// A round as the history manifest lists it.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryRound {
    /// The label.
    pub round: String,
    /// Its earliest sample.
    pub first_sampled_at: Option<String>,
    /// The revision read (of each district).
    pub revisions: Vec<u32>,
}

/// What a finished `history` produced.
pub struct HistorySummary {
    /// The manifest as written.
    pub manifest: HistoryManifest,
    /// The people on the persistent list.
    pub persistent: usize,
}

/// Which rounds' person_ids are still plain, checked against `privacy`: rounds
/// pseudonymised under different keys, or plain and pseudonymised rounds without the
/// key to make them alike, never join.
fn plain_rounds(rounds: &[read::Round], privacy: &crate::privacy::Privacy) -> Result<Vec<bool>> {
    let key_check = privacy.key_check();
    let mut plain = Vec::with_capacity(rounds.len());
    let mut seen_plain: Option<&str> = None;
    let mut seen_key: Option<(&str, Option<&str>)> = None;
    for round in rounds {
        let mut round_plain = None;
        for (_, m) in &round.parts {
            let p = !m.privacy.pseudonymized;
            if round_plain.is_some_and(|q| q != p) {
                return Err(Error::Usage(format!(
                    "round {:?} of the history has districts with and without pseudonyms; publish them alike",
                    round.label
                )));
            }
            round_plain = Some(p);
            if p {
                seen_plain.get_or_insert(&round.label);
            } else {
                let check = m.privacy.key_check.as_deref();
                if key_check.is_some() && check != key_check.as_deref() {
                    return Err(Error::Usage(format!(
                        "round {:?} of the history was pseudonymised under another key than the one given to --pseudonymize; its people cannot be joined",
                        round.label
                    )));
                }
                match seen_key {
                    Some((first, c)) if c != check => {
                        return Err(Error::Usage(format!(
                            "rounds {first:?} and {:?} of the history were pseudonymised under different keys; their people cannot be joined",
                            round.label
                        )))
                    }
                    None => seen_key = Some((&round.label, check)),
                    _ => {}
                }
            }
        }
        plain.push(round_plain.unwrap_or(true));
    }
    if let (Some(p), Some((k, _)), false) = (seen_plain, seen_key, privacy.pseudonymizes()) {
        return Err(Error::Usage(format!(
            "round {p:?} of the history holds plain person_ids and round {k:?} pseudonyms; give the rounds' key with --pseudonymize to join them"
        )));
    }
    Ok(plain)
}

/// The trend table as the report's rounds of building figures.
fn trends<'a>(
    rounds: &'a [read::Round],
    trend: &polars::prelude::DataFrame,
) -> Result<Vec<crate::report::RoundTrend<'a>>> {
    use polars::prelude::*;
    let bad = |e: PolarsError| Error::Internal(format!("reading the trend back: {e}"));
    // One chunk a column: the table is stacked a round at a time, and reading row i of
    // a column of a thousand chunks would walk them for every row.
    let text = |c: &str| {
        trend
            .column(c)
            .and_then(|c| c.str().map(|c| c.rechunk().into_owned()))
            .map_err(bad)
    };
    let int = |c: &str| {
        trend
            .column(c)
            .and_then(|c| c.i64().map(|c| c.rechunk().into_owned()))
            .map_err(bad)
    };
    let (round, building, shard) = (text("round")?, text("building")?, text("shard")?);
    let (expected, sampled) = (int("expected")?, int("sampled")?);
    let (positive, confirmed) = (int("positive_tubes")?, int("confirmed_positive")?);
    let mut out: Vec<crate::report::RoundTrend> = rounds
        .iter()
        .map(|r| crate::report::RoundTrend {
            round: &r.label,
            buildings: Vec::new(),
        })
        .collect();
    let place: std::collections::HashMap<&str, usize> = rounds
        .iter()
        .enumerate()
        .map(|(k, r)| (r.label.as_str(), k))
        .collect();
    for i in 0..trend.height() {
        let Some(label) = round.get(i) else { continue };
        let Some(&k) = place.get(label) else {
            continue;
        };
        // Counts as `buildings.parquet` holds them: a building's people or tubes in a
        // round, each numbered in 4 bytes by the run that published it.
        let count = |c: &Int64Chunked| {
            u32::try_from(c.get(i).unwrap_or(0)).map_err(|_| {
                Error::input(
                    label,
                    crate::error::Position::default(),
                    format!(
                        "round {label:?} of the history holds a building's {} below 0 or past 4,294,967,295 in buildings.parquet; publish it again",
                        c.name()
                    ),
                )
            })
        };
        // A district's building is named with its district: two may share a name.
        let name = building.get(i).unwrap_or_default();
        out[k].buildings.push((
            match shard.get(i) {
                Some(shard) => format!("{shard} · {name}"),
                None => name.to_string(),
            },
            crate::summarize::BuildingRow {
                expected: count(&expected)?,
                sampled: count(&sampled)?,
                positive_tubes: count(&positive)?,
                confirmed_positive: count(&confirmed)?,
                ..Default::default()
            },
        ));
    }
    Ok(out)
}

/// Runs `poolscreen history`: reads and checks every round, follows every person, and
/// writes the outputs into `opts.out`, whole or not at all.
pub fn run(opts: &HistoryOptions) -> Result<HistorySummary> {
    use crate::export::{parquet, staging::Staging, workbook};
    let rounds = read::rounds(&opts.history, opts.as_of)?;
    if rounds.is_empty() {
        // Rounds left out by --as-of are not "no round".
        let held = match opts.as_of {
            Some(_) => read::rounds(&opts.history, None)?.len(),
            None => 0,
        };
        return Err(Error::Usage(if held > 0 {
            format!(
                "{}: none of the history's {held} round(s) began by --as-of; give a later --as-of, or none",
                opts.history.display()
            )
        } else {
            format!(
                "{}: the history holds no round; publish rounds with `poolscreen run … --history DIR`",
                opts.history.display()
            )
        }));
    }
    let ids = build::Ids {
        privacy: &opts.privacy,
        plain: plain_rounds(&rounds, &opts.privacy)?,
    };
    let built = build::build(&rounds, &ids, opts.streak)?;
    let persistent: Vec<build::Persistent> = built
        .persistent
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.contact[0] = p.contact[0]
                .as_deref()
                .map(|n| opts.privacy.name(n).into_owned());
            p.contact[4] = p.contact[4]
                .as_deref()
                .map(|n| opts.privacy.phone(n).into_owned());
            p.person_id = built.shown_id(&p.person_id).into_owned();
            // The counselor's name is a name too.
            p.contact[5] = p.contact[5]
                .as_deref()
                .map(|n| opts.privacy.name(n).into_owned());
            p
        })
        .collect();
    let staging = Staging::new(&opts.out, &HISTORY_FILES)?;
    let (history_columns, persistent_columns) =
        (build::history_columns(), build::persistent_columns());
    staging.write("people_history.parquet", |out| {
        // A city's million people are written a batch at a time.
        const BATCH: usize = 1 << 17;
        let mut file = parquet::Batches::new(out, &parquet::list_frame(&history_columns, &[])?)?;
        for from in (0..built.len().max(1)).step_by(BATCH) {
            file.write(&parquet::list_frame(
                &history_columns,
                &built.rows(from, BATCH),
            )?)?;
        }
        file.finish()
    })?;
    staging.write("persistent_missing.parquet", |out| {
        parquet::write(out, parquet::list_frame(&persistent_columns, &persistent)?)
    })?;
    staging.write("persistent_missing.xlsx", |out| {
        workbook::write_list(
            out,
            &persistent_columns,
            &persistent,
            Some(build::Persistent::building_of),
        )
    })?;
    let trend_rows = built.trend.height();
    let page = crate::report::history_page(
        &trends(&rounds, &built.trend)?,
        persistent.len(),
        opts.streak,
    );
    staging.write("report.html", |out| {
        std::io::Write::write_all(out, page.as_bytes())
            .map_err(|e| Error::io(&staging.target("report.html"), e))
    })?;
    staging.write("trend.parquet", |out| {
        parquet::write(out, built.trend.clone())
    })?;
    let manifest = HistoryManifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        rounds: rounds
            .iter()
            .map(|r| HistoryRound {
                round: r.label.clone(),
                first_sampled_at: r.first_sampled_at.map(crate::pipeline::iso_local),
                revisions: r.parts.iter().map(|(_, m)| m.revision).collect(),
            })
            .collect(),
        streak: opts.streak,
        privacy: opts.privacy.describe(),
        outputs: [
            ("people_history.parquet", built.len()),
            ("persistent_missing.parquet", persistent.len()),
            ("persistent_missing.xlsx", persistent.len()),
            ("trend.parquet", trend_rows),
            ("report.html", 1),
        ]
        .iter()
        .map(|(f, n)| crate::export::manifest::OutputEntry {
            file: f.to_string(),
            rows: *n as u64,
        })
        .collect(),
    };
    staging.write("manifest.json", |out| {
        serde_json::to_writer_pretty(&mut *out, &manifest)
            .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
        std::io::Write::write_all(out, b"\n").map_err(|e| Error::Internal(format!("manifest: {e}")))
    })?;
    staging.commit()?;
    Ok(HistorySummary {
        persistent: persistent.len(),
        manifest,
    })
}

/// The prevalence of the latest round of the history in `dir`, from its pools (tubes of
/// two or more): the estimate and its 95% interval (see
/// [`crate::plan::prevalence_from_pools`]).
pub fn latest_prevalence(dir: &std::path::Path) -> Result<(f64, f64, f64)> {
    let rounds = read::rounds(dir, None)?;
    let Some(round) = rounds.last() else {
        return Err(Error::Usage(format!(
            "{}: the history holds no round",
            dir.display()
        )));
    };
    let tubes = round.table("tubes.parquet", &["tube_size", "tube_class"])?;
    let size = tubes
        .column("tube_size")
        .and_then(|c| c.i64().cloned())
        .map_err(|e| Error::Internal(format!("tubes: {e}")))?;
    let class = tubes
        .column("tube_class")
        .and_then(|c| c.str().cloned())
        .map_err(|e| Error::Internal(format!("tubes: {e}")))?;
    let (mut pools, mut positive, mut people) = (0u64, 0u64, 0u64);
    // Pools with a result: a pending or invalid pool says nothing of its people.
    for (s, c) in size.iter().zip(class.iter()) {
        let s = s.unwrap_or(0);
        if s >= 2 && matches!(c, Some("positive" | "suspect" | "negative")) {
            pools += 1;
            people += s as u64;
            positive += u64::from(c == Some("positive"));
        }
    }
    if pools == 0 {
        return Err(Error::Usage(format!(
            "round {:?} of the history has no pool to estimate the prevalence from; give --prevalence P",
            round.label
        )));
    }
    Ok(crate::plan::prevalence_from_pools(
        positive,
        pools,
        people as f64 / pools as f64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_round_trip_and_are_safe() {
        for label in [
            "2022-04-10",
            "第3轮",
            "R1/R2",
            "a b",
            ".hidden",
            "50%",
            "shard=x",
        ] {
            let name = folder_name(label);
            assert!(
                !name.contains(['/', ' ', '=', '\\', ':']) && !name.starts_with('.'),
                "{label:?} gave {name:?}"
            );
            assert_eq!(label_of(&name).as_deref(), Some(label), "{label:?}");
        }
        assert_eq!(folder_name("2022-04-10"), "2022-04-10");
        assert_eq!(folder_name("R1/R2"), "R1%2FR2");
    }
}
