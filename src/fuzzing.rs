//! The checks behind the fuzz targets in `fuzz/` and their regression tests: each takes
//! arbitrary bytes, runs one parser of outside input, and panics only when an invariant
//! breaks (a panic inside poolscreen is a finding too). Inputs go through real files,
//! as they do in a run.

use crate::ingest::header::match_header;
use crate::ingest::{self, results, roster, values, InputReport};
use crate::pipeline;
use crate::rules::Rules;
use std::io::Write;
use std::path::PathBuf;

/// A temporary file holding `data`, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, data: &[u8]) -> TempFile {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("poolscreen-fuzz-{}-{n}-{name}", std::process::id()));
        let mut file = std::fs::File::create(&path).expect("a temporary file");
        file.write_all(data).expect("written");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn conserved(report: &InputReport, rejects: usize) {
    assert_eq!(
        report.rows_read,
        report.rows_accepted + report.rows_rejected,
        "rows read = accepted + rejected"
    );
    assert_eq!(
        report.rows_rejected as usize, rejects,
        "every rejected row is listed"
    );
}

fn no_internal_error(e: &crate::error::Error) {
    assert!(
        !matches!(e, crate::error::Error::Internal(_)),
        "internal error: {e}"
    );
}

/// Bytes as a roster file.
pub fn roster(data: &[u8]) {
    let file = TempFile::new("roster.csv", data);
    match pipeline::load_roster(&file.0, None) {
        Ok((roster, report, rejects)) => {
            conserved(&report, rejects.len());
            assert_eq!(roster.len() as u64, report.rows_accepted);
        }
        Err(e) => no_internal_error(&e),
    }
}

/// Bytes as a samples file, against a roster of two people.
pub fn samples(data: &[u8]) {
    let people = TempFile::new(
        "roster.csv",
        "person_id,name,building\nS1,张三,公寓1\nS2,李四,公寓2\n".as_bytes(),
    );
    let (roster, _, _) = pipeline::load_roster(&people.0, None).expect("the fixed roster reads");
    let file = TempFile::new("samples.csv", data);
    match pipeline::load_samples(&file.0, &roster, None, None) {
        Ok((set, report, rejects)) => {
            conserved(&report, rejects.len());
            assert_eq!(set.samples.len() as u64, report.rows_accepted);
            assert!(set
                .samples
                .iter()
                .all(|s| (s.round as usize) < set.rounds.len()));
        }
        Err(e) => no_internal_error(&e),
    }
}

/// Bytes as a results file.
pub fn results(data: &[u8]) {
    let file = TempFile::new("results.csv", data);
    match pipeline::load_results(&file.0, None) {
        Ok((rows, _, report, rejects)) => {
            conserved(&report, rejects.len());
            assert_eq!(rows.len() as u64, report.rows_accepted);
            for r in &rows {
                for ct in [r.ct_orf1ab, r.ct_n, r.ct_ic]
                    .into_iter()
                    .filter_map(|ct| ct.get())
                {
                    assert!(ct > 0.0 && ct <= values::MAX_CT);
                }
            }
        }
        Err(e) => no_internal_error(&e),
    }
}

/// Bytes as a retests file: a results file with person_id and sampled_at.
pub fn retests(data: &[u8]) {
    let file = TempFile::new("retests.csv", data);
    match pipeline::load_retests(&file.0, None) {
        Ok((rows, _, report, rejects)) => {
            conserved(&report, rejects.len());
            assert_eq!(rows.len() as u64, report.rows_accepted);
            assert!(rows.iter().all(|r| r.person_id().is_some()));
        }
        Err(e) => no_internal_error(&e),
    }
}

/// Text as the raw row of a rejected roster line: its first byte picks the header's
/// width (1 to 8 cells, the roster's personal columns among them) and whether `--mask`
/// is on. Whatever the text, no run shaped like an ID card number is left in what
/// `rejects.csv` would show, and with `--mask` no cell of a row that does not line up
/// survives.
pub fn reject_raw(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let columns: Vec<Option<&'static str>> = [
        Some("person_id"),
        Some("name"),
        Some("building"),
        Some("phone"),
        Some("id_card"),
        None,
        Some("room"),
        None,
    ][..(first as usize % 8) + 1]
        .to_vec();
    let privacy = crate::privacy::Privacy::new(first & 0x80 != 0, None).expect("no key to read");
    let shown = privacy.raw(raw, &columns);
    assert_eq!(
        crate::privacy::mask_id_like(&shown),
        shown,
        "an ID-shaped run survived in {shown:?}"
    );
}

/// Bytes through encoding detection: a results header is put in front so that most
/// inputs reach the row parser in every encoding.
pub fn encoding(data: &[u8]) {
    for prefix in [&b""[..], b"\xEF\xBB\xBF", b"tube_id,lab_call\n"] {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(data);
        let file = TempFile::new("any.csv", &bytes);
        match ingest::read_input(
            &file.0,
            "any.csv",
            &results::COLUMNS,
            &results::ResultParser,
            None,
        ) {
            Ok(parsed) => conserved(&parsed.report, parsed.rejects.len()),
            Err(e) => no_internal_error(&e),
        }
    }
}

/// Text through the timestamp parser.
pub fn timestamp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(micros) = crate::time::timestamp(text) {
        assert_eq!(
            crate::time::timestamp(&crate::time::format_local(micros)),
            Ok(micros),
            "round trip of {text:?}"
        );
    }
}

/// Text through the Ct parser.
pub fn ct(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(ct)) = values::ct(text) {
        assert!(ct > 0.0 && ct <= values::MAX_CT, "{text:?} gave {ct}");
    }
}

/// A header row (cells split at commas) through the header matcher of every kind.
pub fn header(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cells: Vec<String> = text.split(',').map(String::from).collect();
    for specs in [
        &roster::COLUMNS[..],
        &ingest::samples::COLUMNS[..],
        &results::COLUMNS[..],
    ] {
        if let Ok(layout) = match_header("f.csv", 1, &cells, specs) {
            let mut used: Vec<usize> = layout.fields.iter().flatten().copied().collect();
            let n = used.len();
            used.sort_unstable();
            used.dedup();
            assert_eq!(used.len(), n, "a header cell used for two columns");
            assert!(specs
                .iter()
                .zip(&layout.fields)
                .all(|(s, f)| !s.required || f.is_some()));
        }
    }
}

/// Text as a rules file.
pub fn rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rules) = Rules::from_toml(text, "rules.toml") {
        assert!(rules.cutoff > 0.0 && rules.cutoff <= values::MAX_CT);
        assert!(rules.ic_cutoff > 0.0 && rules.ic_cutoff <= values::MAX_CT);
        assert!(rules.grey_above.is_none_or(|g| g > 0.0 && g < rules.cutoff));
    }
}
