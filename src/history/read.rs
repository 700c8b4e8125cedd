//! Reading a history folder back: every published round (or every district of a
//! sharded round), checked against its manifest before anything is used. A round
//! without its manifest, of another layout, or with a file whose SHA-256 does not
//! match is an error naming the round, never a wrong answer.

use super::{label_of, shard_folders, RoundManifest, FORMAT, ROUND_TABLES};
use crate::error::{Error, Position, Result};
use crate::ingest::encoding::hex;
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One published round: its folders (one, or one per district) and manifests.
#[derive(Clone, Debug)]
pub struct Round {
    /// The round's label.
    pub label: String,
    /// Its earliest sample, over every district.
    pub first_sampled_at: Option<i64>,
    /// The folder of each district (the round's own folder when it has none), with its
    /// manifest.
    pub parts: Vec<(PathBuf, RoundManifest)>,
}

impl Round {
    /// The folder name of the round, for messages.
    fn name(&self) -> String {
        format!("round {:?}", self.label)
    }

    /// Reads table `file` of every district of the round, only `columns`, stacked.
    pub fn table(&self, file: &str, columns: &[&str]) -> Result<DataFrame> {
        let mut frame: Option<DataFrame> = None;
        for k in 0..self.parts.len() {
            let part = self.part_table(k, file, columns)?;
            frame = Some(match frame {
                None => part,
                Some(mut all) => {
                    let path = self.parts[k].0.join(file);
                    all.vstack_mut(&part)
                        .map_err(|e| self.damaged(&path, &format!("its columns differ ({e})")))?;
                    all
                }
            });
        }
        frame.ok_or_else(|| self.damaged(Path::new(file), "it has no files"))
    }

    /// Reads table `file` of district `k` of the round (`parts[k]`), only `columns`.
    pub fn part_table(&self, k: usize, file: &str, columns: &[&str]) -> Result<DataFrame> {
        let path = self.parts[k].0.join(file);
        let handle = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        ParquetReader::new(handle)
            .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
            .finish()
            .map_err(|e| self.damaged(&path, &format!("it cannot be read ({e})")))
    }

    fn damaged(&self, path: &Path, why: &str) -> Error {
        Error::input(
            &path.display().to_string(),
            Position::default(),
            format!(
                "{} of the history cannot be used: {why}; publish the round again with `poolscreen run … --history`",
                self.name()
            ),
        )
    }
}

/// Every round published in `dir`, checked, in order of their earliest sample (then
/// their labels in natural order; rounds without samples first). Rounds whose earliest sample is after `until` are
/// left out.
pub fn rounds(dir: &Path, until: Option<i64>) -> Result<Vec<Round>> {
    let base = dir.join("rounds");
    let entries = match std::fs::read_dir(&base) {
        Ok(entries) => entries,
        // A folder without rounds holds none; a history that is not there is a mistyped
        // argument, as a missing input of `run` is.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            if dir.is_dir() {
                return Ok(Vec::new());
            }
            let what = if dir.exists() {
                "a file, not a folder"
            } else {
                "no such folder"
            };
            return Err(Error::Usage(format!("{}: {what}", dir.display())));
        }
        Err(e) => return Err(Error::io(&base, e)),
    };
    let mut rounds = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        // Temporary folders of a publication in progress or killed.
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        let label = label_of(&name).unwrap_or_else(|| name.clone());
        let folder = entry.path();
        let mut folders: Vec<PathBuf> = Vec::new();
        if folder.join("manifest.json").exists() {
            folders.push(folder.clone());
        }
        folders.extend(shard_folders(&folder).map_err(|e| Error::io(&folder, e))?);
        let mut round = Round {
            label,
            first_sampled_at: None,
            parts: Vec::new(),
        };
        if folders.is_empty() {
            // Only the staging of a publication in progress (or killed): no round yet.
            let staging_only = std::fs::read_dir(&folder).is_ok_and(|entries| {
                entries
                    .flatten()
                    .all(|e| e.file_name().to_string_lossy().starts_with('.'))
            });
            if staging_only {
                continue;
            }
            return Err(round.damaged(&folder, "it has no manifest.json"));
        }
        for part in folders {
            let manifest = check(&round, &part)?;
            round.first_sampled_at = match (round.first_sampled_at, manifest.first_sampled_micros) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            round.parts.push((part, manifest));
        }
        if round
            .first_sampled_at
            .is_some_and(|t| until.is_some_and(|u| t > u))
        {
            continue;
        }
        rounds.push(round);
    }
    // Rounds without a sample come first: none of them is taken for the latest.
    rounds.sort_by(|a, b| {
        a.first_sampled_at
            .cmp(&b.first_sampled_at)
            .then_with(|| crate::order::natural_cmp(&a.label, &b.label))
    });
    Ok(rounds)
}

/// Whether folder `rounds` holds a published round: a folder with a round's manifest
/// (one that names the history layout and a revision), or with a district's
/// (`shard=NAME/`). Used to keep outputs out of a history folder.
pub fn holds_rounds(rounds: &Path) -> bool {
    let published = |folder: &Path| {
        std::fs::read(folder.join("manifest.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|m| m.get("format").is_some() && m.get("revision").is_some())
    };
    let Ok(entries) = std::fs::read_dir(rounds) else {
        return false;
    };
    entries.flatten().any(|round| {
        let round = round.path();
        published(&round)
            || shard_folders(&round).is_ok_and(|shards| shards.iter().any(|s| published(s)))
    })
}

/// Reads and checks the manifest of one folder of `round`: its layout, and the SHA-256
/// of every table.
fn check(round: &Round, folder: &Path) -> Result<RoundManifest> {
    let path = folder.join("manifest.json");
    let bytes =
        std::fs::read(&path).map_err(|_| round.damaged(folder, "it has no manifest.json"))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| round.damaged(&path, "its manifest is not JSON"))?;
    let format = value.get("format").and_then(|f| f.as_u64());
    if format != Some(FORMAT as u64) {
        let writer = value
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("an unknown version");
        return Err(round.damaged(
            &path,
            &format!(
                "it was written by poolscreen {writer} in history format {}, and this poolscreen ({}) reads format {FORMAT}",
                format.map_or("(none)".to_string(), |f| f.to_string()),
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let manifest: RoundManifest = serde_json::from_value(value)
        .map_err(|e| round.damaged(&path, &format!("its manifest is incomplete ({e})")))?;
    if manifest.round != round.label {
        return Err(round.damaged(
            &path,
            &format!("its manifest is of round {:?}", manifest.round),
        ));
    }
    for table in ROUND_TABLES {
        let entry = manifest
            .files
            .iter()
            .find(|f| f.file == table)
            .ok_or_else(|| round.damaged(&path, &format!("its manifest lists no {table}")))?;
        let file = folder.join(table);
        let data = std::fs::read(&file).map_err(|_| round.damaged(&file, "the file is missing"))?;
        if hex(&Sha256::digest(&data)) != entry.sha256 {
            return Err(round.damaged(
                &file,
                "the file's SHA-256 does not match its manifest (changed or damaged since it was published)",
            ));
        }
    }
    Ok(manifest)
}
