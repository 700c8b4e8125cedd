//! Helpers shared by the integration tests: run the real binary in a folder of its own
//! ([`Workdir`], after xsv's), check its exit status with everything it printed shown
//! once on failure ([`expect`]), and read its Parquet back.

#![allow(dead_code)]

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Checks that a run of the binary ended with `status`; otherwise fails the test
/// showing the status, standard output and standard error once.
#[track_caller]
pub fn expect(output: &Output, status: i32) -> &Output {
    if output.status.code() != Some(status) {
        panic!(
            "expected exit status {status}, got {:?}\n--- stdout\n{}\n--- stderr\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// A temporary folder to run the binary in: write the inputs, run a command, read the
/// outputs back. The folder goes when the value does.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A new, empty folder.
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `name` in the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `contents` into `name`, making folders as needed.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a folder");
        }
        std::fs::write(&path, contents).expect("a file");
        path
    }

    /// The binary with `args`, to run in the folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin());
        command.current_dir(self.path()).args(args);
        command
    }

    /// Runs `poolscreen ARGS` in the folder and checks that it ends with `status`.
    #[track_caller]
    pub fn run(&self, args: &[&str], status: i32) -> Output {
        let output = self.command(args).output().expect("the binary runs");
        expect(&output, status);
        output
    }

    /// Runs `poolscreen run` on the folder's `roster.csv`, `samples.csv` and
    /// `results.csv` into `out/`, with `extra` arguments, and checks its status.
    #[track_caller]
    pub fn run_round(&self, extra: &[&str], status: i32) -> Output {
        self.run(&round_args("out", extra), status)
    }

    /// Reads a Parquet file of the folder.
    pub fn parquet(&self, name: &str) -> DataFrame {
        read_parquet(&self.join(name))
    }
}

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

/// The text of one file inside a workbook (a zip).
pub fn zipped_part(book: &Path, name: &str) -> String {
    use std::io::Read;
    let mut zip = ::zip::ZipArchive::new(std::fs::File::open(book).unwrap()).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
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
        AnyValue::Boolean(v) => v.to_string(),
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

/// The arguments of `poolscreen run` on the `roster.csv`, `samples.csv` and
/// `results.csv` of the working folder, into `out`, with `extra` arguments after.
pub fn round_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
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
    args
}

/// The arguments of a quiet `poolscreen run` on the round `generate --out in` wrote,
/// into `out`.
pub fn generated_args(out: &str) -> Vec<&str> {
    vec![
        "run",
        "--roster",
        "in/roster.csv",
        "--samples",
        "in/samples.csv",
        "--results",
        "in/results.csv",
        "--out",
        out,
        "--quiet",
    ]
}

/// Runs `poolscreen run` in `dir` on the `roster.csv`, `samples.csv` and `results.csv`
/// there, into `out`, with `extra` arguments after.
pub fn run_round(dir: &Path, out: &str, extra: &[&str]) -> Output {
    poolscreen(dir, &round_args(out, extra))
}

/// A folder holding the samples and results of `fixtures/basic`, for a roster of a
/// test's own.
pub fn beside_basic_samples_and_results() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let basic = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    for f in ["samples.csv", "results.csv"] {
        std::fs::copy(basic.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// A pool of two workers for a memory budget, in a test that first checks that the
/// environment does not turn budgets off (`MIMALLOC_PURGE_DELAY`).
pub fn budget_pool() -> std::sync::Arc<rayon::ThreadPool> {
    assert!(
        std::env::var_os("MIMALLOC_PURGE_DELAY").is_none(),
        "unset MIMALLOC_PURGE_DELAY to run this test: it turns budgets off"
    );
    std::sync::Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    )
}
