//! Stage 6: writing the outputs. The only stage that writes files.
//!
//! Every file is written into a temporary folder and flushed to disk; only when all of
//! them are written do they replace the outputs in place: in one atomic folder swap
//! when the output folder holds nothing but poolscreen's outputs (so even a killed run
//! leaves the old outputs or the new ones, never a mix), file by file with
//! `manifest.json` last otherwise. A failed run removes its temporary folder and
//! leaves earlier outputs as they were. Parquet goes through polars: zstd, ASCII snake_case names, UTF-8 strings,
//! Int64 integers, microsecond timestamps tagged `Asia/Shanghai`.

use crate::error::{Error, Result};
use crate::ingest::roster::Roster;
use crate::ingest::values::format_local;
use crate::ingest::Reject;
use crate::privacy::Privacy;
use crate::reconcile::{Reconciled, Source, TubeBuildings};
use crate::record::{Details, Micros};
use crate::retest::Entry;
use crate::summarize::{BuildingRow, MissingEntry};
use polars::prelude::*;
use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The prefix of temporary output folders and files; leftovers of a killed run are
/// removed by the next run in the same folder.
pub const TEMP_PREFIX: &str = ".poolscreen-tmp-";

/// The output files, in the order they are renamed into place.
pub const OUTPUT_FILES: [&str; 10] = [
    "buildings.parquet",
    "retest.parquet",
    "retest.csv",
    "retest.xlsx",
    "missing.parquet",
    "missing.xlsx",
    "tubes.parquet",
    "anomalies.parquet",
    "rejects.csv",
    "manifest.json",
];

/// How staged outputs reach the output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    /// The staging folder replaces the output folder in one rename (a new folder) or one
    /// atomic exchange (a folder holding nothing but poolscreen outputs): readers and a
    /// killed run see the old outputs or the new ones, never a mix.
    WholeFolder,
    /// The output folder holds other files too (or is the working folder): the files
    /// are renamed in one by one, `manifest.json` last.
    FileByFile,
}

/// Outputs written to a temporary folder, waiting to replace the outputs in place.
pub struct Staging {
    out: PathBuf,
    stage: PathBuf,
    switch: Switch,
    staged: std::sync::Mutex<Vec<String>>,
    committed: bool,
}

impl Staging {
    /// Prepares to write into `out`: removes what a killed run left, decides how the
    /// outputs will be switched in, and makes the temporary folder.
    pub fn new(out: &Path) -> Result<Staging> {
        let out = absolute(out)?;
        let parent = out
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let sibling_prefix = format!(".{name}{TEMP_PREFIX}");
        remove_leftovers(&parent, &sibling_prefix);
        remove_leftovers(&out, TEMP_PREFIX);

        let cwd = std::env::current_dir()
            .ok()
            .and_then(|d| d.canonicalize().ok());
        let meta = std::fs::symlink_metadata(&out).ok();
        let only_ours = || {
            std::fs::read_dir(&out).is_ok_and(|entries| {
                entries
                    .flatten()
                    .all(|e| OUTPUT_FILES.contains(&e.file_name().to_string_lossy().as_ref()))
            })
        };
        let switch = match meta {
            None => Switch::WholeFolder,
            Some(m)
                if m.is_dir()
                    && !m.file_type().is_symlink()
                    && Some(&out) != cwd.as_ref()
                    && only_ours() =>
            {
                Switch::WholeFolder
            }
            Some(m) if m.is_dir() || m.file_type().is_symlink() => Switch::FileByFile,
            Some(_) => {
                return Err(Error::Usage(format!(
                    "{}: the output path is a file, not a folder",
                    out.display()
                )))
            }
        };
        let stage = match switch {
            Switch::WholeFolder => parent.join(format!("{sibling_prefix}{}", std::process::id())),
            Switch::FileByFile => out.join(format!("{TEMP_PREFIX}{}", std::process::id())),
        };
        std::fs::create_dir_all(&stage).map_err(|e| Error::io(&stage, e))?;
        Ok(Staging {
            out,
            stage,
            switch,
            staged: Default::default(),
            committed: false,
        })
    }

    /// Writes `name` into the temporary folder with `write`, then flushes it to disk.
    /// Several files may be written at once, from different threads.
    pub fn write(
        &self,
        name: &str,
        write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
    ) -> Result<()> {
        let path = self.stage.join(name);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_string());
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        Ok(())
    }

    /// Puts every staged file in place, all at once where the folder allows it.
    pub fn commit(mut self) -> Result<()> {
        sync_dir(&self.stage);
        let parent = self
            .out
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        if self.switch == Switch::WholeFolder {
            if !self.out.exists() {
                std::fs::rename(&self.stage, &self.out).map_err(|e| Error::io(&self.out, e))?;
                sync_dir(&parent);
                self.committed = true;
                return Ok(());
            }
            if exchange(&self.stage, &self.out).is_ok() {
                // The temporary folder now holds the previous outputs.
                self.committed = true;
                sync_dir(&parent);
                let _ = std::fs::remove_dir_all(&self.stage);
                return Ok(());
            }
        }
        let staged = std::mem::take(self.staged.get_mut().unwrap_or_else(|e| e.into_inner()));
        for name in &staged {
            let target = self.out.join(name);
            std::fs::rename(self.stage.join(name), &target).map_err(|e| Error::io(&target, e))?;
        }
        self.committed = true;
        sync_dir(&self.out);
        let _ = std::fs::remove_dir_all(&self.stage);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.stage);
        }
    }
}

/// `path` made absolute without requiring it to exist.
fn absolute(path: &Path) -> Result<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let full = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    match (full.parent(), full.file_name()) {
        (Some(parent), Some(name)) => Ok(parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or(full.clone())),
        _ => Ok(full),
    }
}

/// Removes the entries of `dir` whose names start with `prefix`: what a killed run left.
fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swaps two folders in one atomic step (Linux `renameat2` with `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::Io {
        path: "output".into(),
        source: e,
    }
}

/// Writes `df` as zstd Parquet.
pub fn write_parquet(out: &mut BufWriter<File>, mut df: DataFrame) -> Result<()> {
    ParquetWriter::new(out)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)?;
    Ok(())
}

fn text<'a>(name: &str, values: impl IntoIterator<Item = Option<&'a str>>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

fn int(name: &str, values: impl IntoIterator<Item = i64>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

fn float(name: &str, values: impl IntoIterator<Item = Option<f64>>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

fn timestamp(name: &str, values: impl IntoIterator<Item = Option<Micros>>) -> Column {
    // SAFETY: a valid IANA zone name, known at compile time.
    let tz = unsafe { TimeZone::from_static("Asia/Shanghai") };
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Microseconds, Some(tz))
        .into_column()
}

fn frame(columns: Vec<Column>) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(columns)?)
}

/// `buildings.parquet`.
pub fn buildings_frame(
    roster: &Roster,
    rec: &Reconciled,
    rows: &[BuildingRow],
) -> Result<DataFrame> {
    let n = |f: fn(&BuildingRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
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
        int("missing", n(|r| r.missing)),
        float("coverage", rows.iter().map(|r| r.coverage)),
        int("tubes", n(|r| r.tubes)),
        int("positive_tubes", n(|r| r.positive_tubes)),
        int("suspect_tubes", n(|r| r.suspect_tubes)),
        int("invalid_tubes", n(|r| r.invalid_tubes)),
        int("pending_tubes", n(|r| r.pending_tubes)),
        int("negative_tubes", n(|r| r.negative_tubes)),
        int("to_retest", n(|r| r.to_retest)),
        int("confirmed_positive", n(|r| r.confirmed_positive)),
    ])
}

/// A listed person's roster cells, read again from the roster, with `--mask` applied to
/// the name and phone: the one place where both lists take them.
#[derive(Default)]
pub struct Contact<'a> {
    /// The name (masked with `--mask`).
    pub name: Option<Cow<'a, str>>,
    /// Room.
    pub room: Option<&'a str>,
    /// College.
    pub college: Option<&'a str>,
    /// Class.
    pub class: Option<&'a str>,
    /// Phone (masked with `--mask`).
    pub phone: Option<Cow<'a, str>>,
    /// Counselor.
    pub counselor: Option<&'a str>,
}

impl<'a> Contact<'a> {
    /// The cells of `details`, or none.
    fn of(details: Option<&'a Details>, privacy: &Privacy) -> Contact<'a> {
        let Some(d) = details else {
            return Contact::default();
        };
        Contact {
            name: Some(privacy.name(&d.name)),
            room: d.room.as_deref(),
            college: d.college.as_deref(),
            class: d.class.as_deref(),
            phone: d.phone.as_deref().map(|p| privacy.phone(p)),
            counselor: d.counselor.as_deref(),
        }
    }
}

/// One retest row with every value resolved, shared by the Parquet and CSV writers.
pub struct RetestRow<'a> {
    /// The contract's columns, in order, as text (`None` for null) except the typed ones.
    pub round: &'a str,
    /// `report`, `isolate_and_retest`, `retest` or `resample`.
    pub action: &'static str,
    /// `pool_positive`, …
    pub reason: &'static str,
    /// The person (a pseudonym with `--pseudonymize`).
    pub person_id: Cow<'a, str>,
    /// Building; `None` for people not on the roster.
    pub building: Option<&'a str>,
    /// Name, room, college, class, phone and counselor; empty for people not on the
    /// roster.
    pub contact: Contact<'a>,
    /// The tube.
    pub tube_id: &'a str,
    /// People in the tube.
    pub tube_size: i64,
    /// The tube's class.
    pub tube_class: &'static str,
    /// Ct of ORF1ab of the tube's deciding result.
    pub ct_orf1ab: Option<f64>,
    /// Ct of N.
    pub ct_n: Option<f64>,
    /// When the person was swabbed into the tube.
    pub sampled_at: Micros,
    /// Where.
    pub site: Option<&'a str>,
}

/// Resolves retest entries into rows; `details` holds every listed roster person.
pub fn retest_rows<'a>(
    roster: &'a Roster,
    rec: &'a Reconciled,
    list: &[Entry],
    details: &'a FxHashMap<u32, Details>,
    privacy: &Privacy,
) -> Vec<RetestRow<'a>> {
    list.iter()
        .map(|e| {
            let tube = &rec.tubes[e.tube as usize];
            let result = tube.result.map(|r| &rec.results[r as usize]);
            let on_roster = e.person < rec.roster_len;
            let d = details.get(&e.person).filter(|_| on_roster);
            RetestRow {
                round: &rec.rounds()[e.round as usize],
                action: e.action.as_str(),
                reason: e.reason,
                person_id: privacy.person_id(rec.person_id(roster, e.person)),
                building: on_roster.then(|| roster.building_name(e.person)),
                contact: Contact::of(d, privacy),
                tube_id: rec.tube_id(tube),
                tube_size: tube.size as i64,
                tube_class: tube.class.as_str(),
                ct_orf1ab: result.and_then(|r| r.ct_orf1ab),
                ct_n: result.and_then(|r| r.ct_n),
                sampled_at: e.sampled_at,
                site: rec.site(e.site),
            }
        })
        .collect()
}

/// `retest.parquet`.
pub fn retest_frame(rows: &[RetestRow]) -> Result<DataFrame> {
    frame(vec![
        text("round", rows.iter().map(|r| Some(r.round))),
        text("action", rows.iter().map(|r| Some(r.action))),
        text("reason", rows.iter().map(|r| Some(r.reason))),
        text("person_id", rows.iter().map(|r| Some(&*r.person_id))),
        text("name", rows.iter().map(|r| r.contact.name.as_deref())),
        text("building", rows.iter().map(|r| r.building)),
        text("room", rows.iter().map(|r| r.contact.room)),
        text("college", rows.iter().map(|r| r.contact.college)),
        text("class", rows.iter().map(|r| r.contact.class)),
        text("phone", rows.iter().map(|r| r.contact.phone.as_deref())),
        text("counselor", rows.iter().map(|r| r.contact.counselor)),
        text("tube_id", rows.iter().map(|r| Some(r.tube_id))),
        int("tube_size", rows.iter().map(|r| r.tube_size)),
        text("tube_class", rows.iter().map(|r| Some(r.tube_class))),
        float("ct_orf1ab", rows.iter().map(|r| r.ct_orf1ab)),
        float("ct_n", rows.iter().map(|r| r.ct_n)),
        timestamp("sampled_at", rows.iter().map(|r| Some(r.sampled_at))),
        text("site", rows.iter().map(|r| r.site)),
    ])
}

/// The header of `retest.csv`: the Parquet columns.
pub const RETEST_COLUMNS: [&str; 18] = [
    "round",
    "action",
    "reason",
    "person_id",
    "name",
    "building",
    "room",
    "college",
    "class",
    "phone",
    "counselor",
    "tube_id",
    "tube_size",
    "tube_class",
    "ct_orf1ab",
    "ct_n",
    "sampled_at",
    "site",
];

/// `retest.csv`: UTF-8 with a BOM, formula-guarded, timestamps in local time.
pub fn write_retest_csv(out: &mut BufWriter<File>, rows: &[RetestRow]) -> Result<()> {
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    write_guarded_csv(
        out,
        &RETEST_COLUMNS,
        rows.iter().map(|r| {
            vec![
                r.round.to_string(),
                r.action.to_string(),
                r.reason.to_string(),
                r.person_id.to_string(),
                r.contact.name.as_deref().unwrap_or("").to_string(),
                r.building.unwrap_or("").to_string(),
                r.contact.room.unwrap_or("").to_string(),
                r.contact.college.unwrap_or("").to_string(),
                r.contact.class.unwrap_or("").to_string(),
                r.contact.phone.as_deref().unwrap_or("").to_string(),
                r.contact.counselor.unwrap_or("").to_string(),
                r.tube_id.to_string(),
                r.tube_size.to_string(),
                r.tube_class.to_string(),
                num(r.ct_orf1ab),
                num(r.ct_n),
                format_local(r.sampled_at),
                r.site.unwrap_or("").to_string(),
            ]
        }),
    )
}

/// Prefixes `'` to a cell a spreadsheet would run as a formula.
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes a CSV for spreadsheets: a UTF-8 BOM, then every cell formula-guarded.
pub fn write_guarded_csv(
    out: &mut BufWriter<File>,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<()> {
    out.write_all(b"\xEF\xBB\xBF").map_err(io_err)?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let csv_err = |e: csv::Error| Error::Internal(format!("writing CSV failed: {e}"));
    writer.write_record(header).map_err(csv_err)?;
    for row in rows {
        writer
            .write_record(row.iter().map(|c| guard(c).into_owned()))
            .map_err(csv_err)?;
    }
    writer.flush().map_err(io_err)?;
    Ok(())
}

/// One row of the missing list with every value resolved.
pub struct MissingRow<'a> {
    /// The round.
    pub round: &'a str,
    /// The person (a pseudonym with `--pseudonymize`).
    pub person_id: Cow<'a, str>,
    /// Building.
    pub building: &'a str,
    /// Name, room, college, class, phone and counselor.
    pub contact: Contact<'a>,
    /// `on_campus` or `isolated`.
    pub status: &'static str,
}

/// Resolves missing entries into rows; `details` holds every listed person.
pub fn missing_rows<'a>(
    roster: &'a Roster,
    rec: &'a Reconciled,
    list: &[MissingEntry],
    details: &'a FxHashMap<u32, Details>,
    privacy: &Privacy,
) -> Vec<MissingRow<'a>> {
    list.iter()
        .map(|e| {
            let d = details.get(&e.person);
            MissingRow {
                round: &rec.rounds()[e.round as usize],
                person_id: privacy.person_id(roster.id(e.person)),
                building: roster.building_name(e.person),
                contact: Contact::of(d, privacy),
                status: roster.status[e.person as usize].as_str(),
            }
        })
        .collect()
}

/// `missing.parquet`.
pub fn missing_frame(rows: &[MissingRow]) -> Result<DataFrame> {
    frame(vec![
        text("round", rows.iter().map(|r| Some(r.round))),
        text("person_id", rows.iter().map(|r| Some(&*r.person_id))),
        text("name", rows.iter().map(|r| r.contact.name.as_deref())),
        text("building", rows.iter().map(|r| Some(r.building))),
        text("room", rows.iter().map(|r| r.contact.room)),
        text("college", rows.iter().map(|r| r.contact.college)),
        text("class", rows.iter().map(|r| r.contact.class)),
        text("phone", rows.iter().map(|r| r.contact.phone.as_deref())),
        text("counselor", rows.iter().map(|r| r.contact.counselor)),
        text("status", rows.iter().map(|r| Some(r.status))),
    ])
}

/// `tubes.parquet`; `buildings` lists the roster buildings of the tube's people in
/// natural order, separated by `;`.
pub fn tubes_frame(roster: &Roster, rec: &Reconciled) -> Result<DataFrame> {
    let result = |t: &crate::reconcile::Tube| t.result.map(|r| &rec.results[r as usize]);
    let buildings: Vec<Option<Cow<str>>> = rec
        .tubes
        .par_iter()
        .map(|t| match rec.buildings_of(roster, t) {
            TubeBuildings::None => None,
            TubeBuildings::One(name) => Some(Cow::Borrowed(name)),
            TubeBuildings::Several(names) => Some(Cow::Owned(names.join(";"))),
        })
        .collect();
    let tubes = &rec.tubes;
    frame(vec![
        text(
            "round",
            tubes.iter().map(|t| Some(&*rec.rounds()[t.round as usize])),
        ),
        text("tube_id", tubes.iter().map(|t| Some(rec.tube_id(t)))),
        int("tube_size", tubes.iter().map(|t| t.size as i64)),
        text("tube_class", tubes.iter().map(|t| Some(t.class.as_str()))),
        float(
            "ct_orf1ab",
            tubes.iter().map(|t| result(t).and_then(|r| r.ct_orf1ab)),
        ),
        float("ct_n", tubes.iter().map(|t| result(t).and_then(|r| r.ct_n))),
        float(
            "ct_ic",
            tubes.iter().map(|t| result(t).and_then(|r| r.ct_ic)),
        ),
        text("buildings", buildings.iter().map(|b| b.as_deref())),
        timestamp(
            "first_sampled_at",
            tubes.iter().map(|t| Some(t.first_sampled_at)),
        ),
        text("site", tubes.iter().map(|t| rec.site(t.site))),
    ])
}

/// `anomalies.parquet`; `files` names each [`Source`] as on the command line.
pub fn anomalies_frame(
    rec: &Reconciled,
    files: &dyn Fn(Source) -> String,
    privacy: &Privacy,
) -> Result<DataFrame> {
    let a = &rec.anomalies;
    let names: Vec<String> = a.iter().map(|x| files(x.source)).collect();
    let people: Vec<Option<Cow<str>>> = a
        .iter()
        .map(|x| x.person_id.as_deref().map(|p| privacy.person_id(p)))
        .collect();
    frame(vec![
        text(
            "round",
            a.iter().map(|x| Some(&*rec.rounds()[x.round as usize])),
        ),
        text("kind", a.iter().map(|x| Some(x.kind.as_str()))),
        text("tube_id", a.iter().map(|x| x.tube_id.as_deref())),
        text("person_id", people.iter().map(|p| p.as_deref())),
        text("file", names.iter().map(|n| Some(n.as_str()))),
        Column::new(
            "line".into(),
            a.iter()
                .map(|x| x.line.map(|l| l as i64))
                .collect::<Vec<_>>(),
        ),
        text("detail", a.iter().map(|x| Some(x.detail.as_str()))),
    ])
}

/// `rejects.csv`: UTF-8 with a BOM, sorted by file then line, formula-guarded.
pub fn write_rejects_csv(out: &mut BufWriter<File>, rejects: &[(String, Reject)]) -> Result<()> {
    write_guarded_csv(
        out,
        &["file", "line", "column", "reason", "raw"],
        rejects.iter().map(|(file, r)| {
            vec![
                file.clone(),
                r.line.to_string(),
                r.column.clone(),
                r.reason.clone(),
                r.raw.clone(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::guard;

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_quote() {
        for cell in ["=1+1", "+86", "-3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["张三", "2021000123", "", " =x"] {
            assert_eq!(guard(cell), cell, "{cell:?}");
        }
    }
}
