//! Publishing the rounds of a run into a history folder: `DIR/rounds/<round>/` (or
//! `DIR/rounds/<round>/shard=<NAME>/` for a district). Each round is staged beside its
//! folder and switched in whole, in one step ([`Staging`]); a rerun replaces it, its
//! manifest counting the revision and naming the SHA-256 of the manifest it replaced.
//! Rounds that the run does not hold are never touched.

use super::{
    folder_name, shard_folders, FileEntry, PrivacyRecord, RoundManifest, FORMAT, ROUND_FILES,
    SHARD_PREFIX,
};
use crate::error::{Error, Result};
use crate::export::manifest::InputEntry;
use crate::export::staging::Staging;
use crate::ingest::encoding::hex;
use crate::record::Micros;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The staged rounds of one run, waiting to be switched into the history folder.
pub struct Publication {
    rounds: Vec<Staging>,
    targets: Vec<PathBuf>,
    shard: Option<String>,
}

/// What a round's manifest says besides its files.
pub struct RoundFacts<'a> {
    /// The round's label.
    pub label: &'a str,
    /// Its earliest sample.
    pub first_sampled_at: Option<Micros>,
    /// The moment its deadlines were judged at.
    pub as_of: Micros,
    /// The most people a tube could hold.
    pub pool_size: usize,
    /// The protections applied.
    pub privacy: PrivacyRecord,
    /// The run's inputs.
    pub inputs: &'a [InputEntry],
}

/// The longest folder name a round's label may give.
const MAX_FOLDER_BYTES: usize = 200;

/// The folder of round `label` in history `dir` (before the district's), once the
/// round can be published there as district `shard` (or whole): its label names a
/// folder, and the round is not published the other way already (whole when a district
/// is to be published, or as districts when the round is to be published whole), since
/// the history would count its people twice. Checked before anything is written.
fn round_folder(dir: &Path, label: &str, shard: Option<&str>) -> Result<PathBuf> {
    let folder = folder_name(label);
    // A file name holds at most 255 bytes on the usual file systems; the staging folder
    // beside it adds a prefix.
    if folder.len() > MAX_FOLDER_BYTES {
        return Err(Error::Usage(format!(
            "a round label is too long to name its folder in the history ({} bytes as a folder name, at most {MAX_FOLDER_BYTES}); give the round a shorter label",
            folder.len()
        )));
    }
    let target = dir.join("rounds").join(folder);
    let districts = shard_folders(&target).is_ok_and(|shards| !shards.is_empty());
    let whole = target.join("manifest.json").exists();
    if (shard.is_some() && whole) || (shard.is_none() && districts) {
        return Err(Error::Usage(format!(
            "round {label:?} is already published in {} {}; a round is published either whole or as districts: publish it as it was, or under another --round",
            dir.display(),
            if whole {
                "whole (without --shard)"
            } else {
                "as districts (with --shard)"
            }
        )));
    }
    Ok(target)
}

impl Publication {
    /// Prepares to publish `rounds` (labels) into `dir`, as district `shard` if given.
    pub fn new(dir: &Path, rounds: &[Box<str>], shard: Option<&str>) -> Result<Publication> {
        let base = dir.join("rounds");
        std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
        let mut stagings = Vec::with_capacity(rounds.len());
        let mut targets = Vec::with_capacity(rounds.len());
        for label in rounds {
            let mut target = round_folder(dir, label, shard)?;
            if let Some(shard) = shard {
                target = target.join(format!("{SHARD_PREFIX}{shard}"));
            }
            stagings.push(Staging::new(&target, &ROUND_FILES)?);
            targets.push(target);
        }
        Ok(Publication {
            rounds: stagings,
            targets,
            shard: shard.map(str::to_string),
        })
    }

    /// The staging of round `round` (an index into the run's rounds).
    pub fn round(&self, round: usize) -> &Staging {
        &self.rounds[round]
    }

    /// The district, if the rounds are published as one.
    pub fn shard(&self) -> Option<&str> {
        self.shard.as_deref()
    }

    /// Writes each round's manifest (its files' hashes, its revision) and switches every
    /// round in, each in one step. `facts[r]` and `rows[r]` describe round `r`.
    pub fn commit(self, facts: &[RoundFacts], rows: &[Vec<(String, u64)>]) -> Result<()> {
        let mut manifests = Vec::with_capacity(self.rounds.len());
        for (r, staging) in self.rounds.iter().enumerate() {
            let target = &self.targets[r];
            let (revision, replaces) = match std::fs::read(target.join("manifest.json")) {
                Ok(bytes) => {
                    let earlier: Option<RoundManifest> = serde_json::from_slice(&bytes).ok();
                    (
                        earlier.map_or(1, |m| m.revision + 1),
                        Some(hex(&Sha256::digest(&bytes))),
                    )
                }
                Err(_) => (1, None),
            };
            let mut files = Vec::new();
            for (file, n) in &rows[r] {
                let path = staging.folder().join(file);
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                files.push(FileEntry {
                    file: file.clone(),
                    rows: *n,
                    sha256: hex(&Sha256::digest(&bytes)),
                });
            }
            let f = &facts[r];
            manifests.push(RoundManifest {
                format: FORMAT,
                version: env!("CARGO_PKG_VERSION").to_string(),
                round: f.label.to_string(),
                shard: self.shard.clone(),
                first_sampled_at: f.first_sampled_at.map(crate::pipeline::iso_local),
                first_sampled_micros: f.first_sampled_at,
                revision,
                replaces,
                as_of: crate::pipeline::iso_local(f.as_of),
                pool_size: f.pool_size,
                privacy: f.privacy.clone(),
                inputs: f.inputs.to_vec(),
                files,
            });
        }
        for (staging, manifest) in self.rounds.iter().zip(&manifests) {
            staging.write("manifest.json", |out| {
                serde_json::to_writer_pretty(&mut *out, manifest)
                    .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
                std::io::Write::write_all(out, b"\n")
                    .map_err(|e| Error::Internal(format!("manifest: {e}")))
            })?;
        }
        for staging in self.rounds {
            staging.commit()?;
        }
        Ok(())
    }
}
