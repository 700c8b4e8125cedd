//! The outputs as other programs see them: the Arrow schema embedded in every Parquet
//! file (plain strings, so that pyarrow 14 and later open, filter, sort and join them;
//! timestamps tagged `Asia/Shanghai`), the workbooks' page setup for printing, and a
//! list longer than an Excel sheet, which continues on a new sheet instead of failing
//! the run.

mod common;

use base64::Engine as _;
use common::*;
use polars_arrow::datatypes::{ArrowDataType, TimeUnit};
use std::path::Path;

/// The Arrow schema embedded in a Parquet file: its fields' names and types.
fn embedded_schema(path: &Path) -> Vec<(String, ArrowDataType)> {
    let mut file = std::fs::File::open(path).unwrap();
    let metadata = polars_parquet::read::read_metadata(&mut file).unwrap();
    let entries = metadata.key_value_metadata().clone().unwrap_or_default();
    let encoded: Vec<_> = entries
        .iter()
        .filter(|kv| kv.key == "ARROW:schema")
        .collect();
    assert_eq!(encoded.len(), 1, "{}: one embedded schema", path.display());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded[0].value.as_deref().unwrap())
        .unwrap();
    // An IPC message: a continuation marker and a length, then the schema message.
    let message = if bytes[..4] == [0xFF; 4] {
        &bytes[8..]
    } else {
        &bytes[4..]
    };
    let (schema, _, _) = polars_arrow::io::ipc::read::deserialize_schema(message).unwrap();
    schema
        .iter_values()
        .map(|f| (f.name.to_string(), f.dtype.clone()))
        .collect()
}

#[test]
fn every_parquet_output_embeds_plain_strings_and_tagged_times() {
    let dir = Workdir::new();
    dir.run(
        &[
            "generate", "--out", "in", "--people", "3000", "--rounds", "2", "--dirty",
        ],
        0,
    );
    dir.run(&generated_args("out"), 0);
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("out")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        seen += 1;
        let frame = read_parquet(&path);
        let schema = embedded_schema(&path);
        assert_eq!(schema.len(), frame.width(), "{}", path.display());
        for ((name, dtype), column) in schema.iter().zip(frame.columns()) {
            assert_eq!(name, column.name().as_str());
            let want = match column.dtype() {
                polars::prelude::DataType::String => ArrowDataType::Utf8,
                polars::prelude::DataType::Int64 => ArrowDataType::Int64,
                polars::prelude::DataType::Float64 => ArrowDataType::Float64,
                polars::prelude::DataType::Boolean => ArrowDataType::Boolean,
                polars::prelude::DataType::Datetime(_, _) => {
                    ArrowDataType::Timestamp(TimeUnit::Microsecond, Some("Asia/Shanghai".into()))
                }
                other => panic!("{}: {name} has type {other}", path.display()),
            };
            assert_eq!(dtype, &want, "{}: {name}", path.display());
        }
    }
    assert!(seen >= 5, "{seen} Parquet outputs");
}

#[test]
fn workbooks_print_landscape_one_page_wide_with_the_header_on_every_page() {
    let dir = Workdir::new();
    dir.run(&["demo", "--out", "demo"], 0);
    for book in ["retest.xlsx", "missing.xlsx"] {
        let path = dir.join(&format!("demo/{book}"));
        let sheets = {
            use calamine::Reader;
            let book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
            book.sheet_names()
        };
        assert!(sheets.len() > 2, "{book}: 全部 and a sheet per building");
        let workbook = zipped_part(&path, "xl/workbook.xml");
        for (i, name) in sheets.iter().enumerate() {
            let sheet = zipped_part(&path, &format!("xl/worksheets/sheet{}.xml", i + 1));
            assert!(
                sheet.contains(r#"<pageSetUpPr fitToPage="1"/>"#),
                "{book} {name}"
            );
            assert!(
                sheet.contains(r#"fitToHeight="0""#),
                "{book} {name}: pages down as needed"
            );
            assert!(
                sheet.contains(r#"orientation="landscape""#),
                "{book} {name}"
            );
            assert!(sheet.contains(r#"paperSize="9""#), "{book} {name}: A4");
            assert!(sheet.contains("<autoFilter"), "{book} {name}");
            let titles = format!(
                r#"<definedName name="_xlnm.Print_Titles" localSheetId="{i}">{name}!$1:$1</definedName>"#
            );
            assert!(
                workbook.contains(&titles),
                "{book} {name}: the header row repeats on every printed page"
            );
        }
    }
}

#[test]
fn a_list_longer_than_a_sheet_continues_on_the_next() {
    // 1,048,600 people in 101 buildings, nobody sampled: the missing list is 25 rows
    // longer than a sheet holds, and past 100 buildings there is no sheet per building.
    const PEOPLE: usize = 1_048_600;
    let dir = Workdir::new();
    let mut roster = String::with_capacity(PEOPLE * 24);
    roster.push_str("person_id,name,building\n");
    for i in 0..PEOPLE {
        roster.push_str(&format!("P{i:07},某人,楼{}\n", i % 101));
    }
    dir.write("roster.csv", roster);
    dir.write("samples.csv", "tube_id,person_id,sampled_at\n");
    dir.write("results.csv", "tube_id,ct_orf1ab,ct_n\n");
    dir.run_round(&["--round", "R1", "--quiet"], 0);
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook(dir.join("out/missing.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["全部", "全部 (2)"]);
    let rest = book.worksheet_range("全部 (2)").unwrap();
    assert_eq!(
        rest.height(),
        1 + PEOPLE - 1_048_575,
        "the header and the rows left over"
    );
    let missing = read_parquet(&dir.join("out/missing.parquet"));
    assert_eq!(missing.height(), PEOPLE);
    let last = missing
        .column("person_id")
        .unwrap()
        .get(PEOPLE - 1)
        .unwrap();
    let last_in_book = rest.rows().next_back().unwrap()[1].to_string();
    assert_eq!(
        cell(last),
        last_in_book,
        "the last sheet ends with the list's last row"
    );
}

/// Every column chunk of every Parquet output states the nulls it holds: readers skip a
/// row group whose statistics say a column is all null. A round large enough for row
/// groups of hundreds of thousands of rows, with nullable columns of few values, which
/// are written as dictionaries.
#[test]
fn every_parquet_column_chunk_counts_its_nulls() {
    let dir = Workdir::new();
    dir.run(
        &[
            "generate", "--out", "in", "--people", "300000", "--seed", "6",
        ],
        0,
    );
    dir.run(&generated_args("out"), 0);
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("out")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let frame = read_parquet(&path);
        let mut file = std::fs::File::open(&path).unwrap();
        let metadata = polars_parquet::read::read_metadata(&mut file).unwrap();
        let mut start = 0;
        for group in &metadata.row_groups {
            let rows = frame.slice(start as i64, group.num_rows());
            for chunk in group.parquet_columns() {
                let name = chunk.descriptor().path_in_schema[0].to_string();
                let nulls = rows.column(&name).unwrap().null_count() as i64;
                let stated = chunk
                    .statistics(&metadata.footer_buf)
                    .expect("statistics")
                    .unwrap()
                    .null_count();
                assert_eq!(stated, Some(nulls), "{} {name}", path.display());
                checked += 1;
            }
            start += group.num_rows();
        }
    }
    assert!(checked >= 40, "{checked} column chunks");
}
