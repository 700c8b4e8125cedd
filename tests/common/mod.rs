//! Helpers shared by the integration tests: run the real binary, read its Parquet back.

#![allow(dead_code)]

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_poolscreen"))
}

/// Runs `poolscreen ARGS` in `dir`.
pub fn poolscreen(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Reads a Parquet file written by poolscreen.
pub fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file)
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One cell as text: empty for null, floats in shortest form, timestamps as local
/// China Standard Time `YYYY-MM-DD HH:MM:SS`.
pub fn cell(value: AnyValue) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Int64(v) => v.to_string(),
        AnyValue::Float64(v) => v.to_string(),
        AnyValue::Datetime(v, TimeUnit::Microseconds, _)
        | AnyValue::DatetimeOwned(v, TimeUnit::Microseconds, _) => {
            poolscreen::time::format_local(v)
        }
        other => panic!("unexpected cell type {other:?}"),
    }
}

/// A data frame as CSV text (LF line ends), the form of the expected files.
pub fn frame_to_csv(df: &DataFrame) -> String {
    let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    out.write_record(&names).unwrap();
    for i in 0..df.height() {
        let row: Vec<String> = df
            .columns()
            .iter()
            .map(|c| cell(c.get(i).unwrap()))
            .collect();
        out.write_record(&row).unwrap();
    }
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

/// A CSV file written for spreadsheets, with its BOM removed and CRLF made LF.
pub fn read_spreadsheet_csv(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8(bytes).expect("UTF-8");
    text.strip_prefix('\u{FEFF}')
        .unwrap_or(&text)
        .replace("\r\n", "\n")
}

/// The manifest, parsed.
pub fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest"))
        .expect("JSON")
}

/// Runs `poolscreen run` in `dir` on the `roster.csv`, `samples.csv` and `results.csv`
/// there, into `out`, with `extra` arguments after.
pub fn run_round(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "--roster",
        "roster.csv",
        "--samples",
        "samples.csv",
        "--results",
        "results.csv",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    poolscreen(dir, &args)
}
