//! Excel in and out: workbooks written by the test (rust_xlsxwriter) go through the same validation as CSV; `retest.xlsx` and `missing.xlsx`
//! are read back with calamine. A workbook saved by LibreOffice is a fixture case
//! (`fixtures/excel_libreoffice/`).

mod common;

use calamine::{open_workbook_auto, Data, Reader};
use common::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use std::fs;
use std::path::Path;

fn basic() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic")
}

/// The basic roster as a workbook: IDs typed as numbers where they are numeric, an
/// 18-digit number that Excel has already rounded, a formula with its cached value.
fn write_roster(path: &Path, sheet_name: &str) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name).unwrap();
    for (c, h) in ["学号", "姓名", "楼栋", "宿舍号", "状态"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let rows = [
        ("2021000001", "张三", "公寓1", "101", ""),
        ("2021000002", "李四", "公寓1", "101", ""),
        ("2021000003", "王五", "公寓1", "102", ""),
        ("S004", "赵六", "公寓2", "201", ""),
        ("S005", "钱七", "公寓2", "201", "离校"),
        ("S006", "孙八", "公寓10", "301", ""),
    ];
    for (r, (id, name, building, room, status)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        match id.parse::<f64>() {
            Ok(n) => sheet.write_number(r, 0, n).unwrap(),
            Err(_) => sheet.write_string(r, 0, *id).unwrap(),
        };
        sheet.write_string(r, 1, *name).unwrap();
        sheet.write_string(r, 2, *building).unwrap();
        sheet
            .write_formula(r, 3, format!("=\"{room}\"").as_str())
            .unwrap();
        sheet.set_formula_result(r, 3, *room);
        sheet.write_string(r, 4, *status).unwrap();
    }
    // Row 8: an 18-digit ID card number typed as a number in the ID column.
    sheet.write_number(7, 0, 110105194912310021.0).unwrap();
    sheet.write_string(7, 1, "周九").unwrap();
    sheet.write_string(7, 2, "公寓1").unwrap();
    book.save(path).unwrap();
}

fn write_samples(path: &Path) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (c, h) in ["试管编号", "学号", "采样时间"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let rows = [
        ("T1", "2021000001", 0),
        ("T1", "2021000002", 1),
        ("T1", "2021000003", 2),
        ("T2", "S004", 3),
        ("T3", "S006", 5),
    ];
    for (r, (tube, id, minute)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *tube).unwrap();
        match id.parse::<f64>() {
            Ok(n) => sheet.write_number(r, 1, n).unwrap(),
            Err(_) => sheet.write_string(r, 1, *id).unwrap(),
        };
        let at = ExcelDateTime::from_ymd(2022, 4, 10)
            .unwrap()
            .and_hms(8, *minute, 0)
            .unwrap();
        sheet.write_datetime_with_format(r, 2, &at, &time).unwrap();
    }
    // Row 7: a date typed as text in a form poolscreen rejects.
    sheet.write_string(6, 0, "T4").unwrap();
    sheet.write_string(6, 1, "S006").unwrap();
    sheet.write_string(6, 2, "2022-02-30 08:00").unwrap();
    book.save(path).unwrap();
}

fn run(
    dir: &Path,
    roster: &str,
    samples: &str,
    results: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "run",
        "--roster",
        roster,
        "--samples",
        samples,
        "--results",
        results,
        "--out",
        "out",
    ];
    args.extend_from_slice(extra);
    poolscreen(dir, &args)
}

#[test]
fn workbooks_in_give_the_same_round_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    write_roster(&dir.path().join("roster.xlsx"), "花名册");
    write_samples(&dir.path().join("samples.xlsx"));
    fs::copy(basic().join("results.csv"), dir.path().join("results.csv")).unwrap();
    let out = run(
        dir.path(),
        "roster.xlsx",
        "samples.xlsx",
        "results.csv",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = dir.path().join("out");
    let buildings = frame_to_csv(&read_parquet(&o.join("buildings.parquet")));
    let want = fs::read_to_string(basic().join("expected/buildings.csv")).unwrap();
    assert_eq!(buildings, want, "the same figures as the CSV round");
    let rejects = read_spreadsheet_csv(&o.join("rejects.csv"));
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(rejects.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rejects}");
    assert_eq!(
        &rows[0][..3],
        [
            "roster.xlsx (sheet \"花名册\"; line = sheet row)",
            "8",
            "学号"
        ]
    );
    assert!(rows[0][3].contains("more than 15 digits"), "{}", rows[0][3]);
    assert_eq!(
        &rows[1][..3],
        [
            "samples.xlsx (sheet \"Sheet1\"; line = sheet row)",
            "7",
            "采样时间"
        ]
    );
    let m = manifest(&o);
    assert_eq!(m["inputs"][0]["encoding"], "Excel workbook");
    assert_eq!(m["inputs"][0]["sheet"], "花名册");
    assert_eq!(
        (
            m["inputs"][0]["rows_read"].as_u64(),
            m["inputs"][0]["rows_rejected"].as_u64()
        ),
        (Some(7), Some(1))
    );
    // A date-time cell is a timestamp: the retest list shows the sample time.
    let retest = frame_to_csv(&read_parquet(&o.join("retest.parquet")));
    assert!(
        retest
            .contains("2021000001,张三,公寓1,101,,,,,T1,3,positive,30.5,31.2,2022-04-10 08:00:00"),
        "{retest}"
    );
}

#[test]
fn a_sheet_can_be_chosen_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_roster(&dir.path().join("roster.xlsx"), "花名册");
    for f in ["samples.csv", "results.csv"] {
        fs::copy(basic().join(f), dir.path().join(f)).unwrap();
    }
    let out = run(
        dir.path(),
        "roster.xlsx",
        "samples.csv",
        "results.csv",
        &["--sheet", "花名册"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        dir.path(),
        "roster.xlsx",
        "samples.csv",
        "results.csv",
        &["--sheet", "Sheet9"],
    );
    expect(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no sheet named \"Sheet9\"; its sheets are: \"花名册\""),
        "{stderr}"
    );
}

#[test]
fn a_damaged_or_protected_workbook_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["samples.csv", "results.csv"] {
        fs::copy(basic().join(f), dir.path().join(f)).unwrap();
    }
    // An encrypted workbook is an OLE container, not a zip: calamine cannot open it.
    let mut protected = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    protected.resize(4096, 0);
    for (name, bytes) in [
        ("protected.xlsx", protected),
        ("damaged.xlsx", b"PK\x03\x04 not really".to_vec()),
    ] {
        fs::write(dir.path().join(name), bytes).unwrap();
        let out = run(dir.path(), name, "samples.csv", "results.csv", &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("password-protected, damaged, or not an Excel file"),
            "{stderr}"
        );
        assert!(!dir.path().join("out").exists());
    }
}

fn cells(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut book = open_workbook_auto(path).unwrap();
    book.worksheet_range(sheet)
        .unwrap()
        .rows()
        .map(|r| r.to_vec())
        .collect()
}

#[test]
fn retest_and_missing_workbooks_read_back() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/missing_people");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = run_round(&case, &out_dir.display().to_string(), &[]);
    expect(&out, 0);
    let retest = out_dir.join("retest.xlsx");
    let book = open_workbook_auto(&retest).unwrap();
    assert_eq!(book.sheet_names(), ["全部", "公寓1", "公寓10"]);
    let all = cells(&retest, "全部");
    let header: Vec<String> = all[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(
        &header[..6],
        ["轮次", "处置", "原因", "学号/工号", "姓名", "楼栋"]
    );
    assert_eq!(all.len(), 5, "a header and four people");
    assert_eq!(all[1][3], Data::String("S001".into()), "IDs are text");
    assert_eq!(all[1][1], Data::String("隔离并单采复核".into()));
    assert_eq!(all[1][12], Data::Float(3.0), "tube size is a number");
    assert!(
        matches!(all[1][16], Data::DateTime(_)),
        "sampling time is a date-time cell"
    );
    assert_eq!(cells(&retest, "公寓10").len(), 2);
    let missing = out_dir.join("missing.xlsx");
    let book = open_workbook_auto(&missing).unwrap();
    assert_eq!(book.sheet_names(), ["全部", "公寓1", "公寓2", "公寓3"]);
    let rows = cells(&missing, "全部");
    assert_eq!(rows[1][1], Data::String("S007".into()));
    assert_eq!(rows[2][9], Data::String("隔离".into()));
}

#[test]
fn cells_that_look_like_formulas_stay_text() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formula_guard");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = run_round(&case, &out_dir.display().to_string(), &[]);
    expect(&out, 0);
    let rows = cells(&out_dir.join("retest.xlsx"), "全部");
    assert_eq!(rows[1][4], Data::String("=HYPERLINK(\"x\")".into()));
    assert_eq!(rows[1][6], Data::String("+101".into()));
    assert_eq!(rows[2][4], Data::String("@李四".into()));
}

/// A workbook is read as Excel shows it and as its CSV export would hold it: the first
/// visible sheet (a hidden one holds an old list), numbers rounded to Excel's 15
/// significant digits (a computed Ct of 40.00000000000001 is 40, within the cutoff),
/// and a formula's error value rejected, never read as a value.
#[test]
fn a_workbook_reads_as_excel_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    let old = book.add_worksheet();
    old.set_name("旧结果").unwrap();
    for (c, h) in ["tube_id", "lab_call"].iter().enumerate() {
        old.write_string(0, c as u16, *h).unwrap();
    }
    old.write_string(1, 0, "T1").unwrap();
    old.write_string(1, 1, "阴性").unwrap();
    old.set_hidden(true);
    let sheet = book.add_worksheet();
    sheet.set_name("结果").unwrap();
    for (c, h) in ["tube_id", "ct_orf1ab", "ct_n", "ct_ic"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let computed = 13.3 * 3.0 + 0.1;
    assert!(computed > 40.0, "the sum is stored a hair above 40");
    sheet.write_string(1, 0, "T1").unwrap();
    sheet.write_number(1, 1, computed).unwrap();
    sheet.write_number(1, 2, 38).unwrap();
    sheet.write_string(2, 0, "T2").unwrap();
    sheet
        .write_formula(
            2,
            1,
            rust_xlsxwriter::Formula::new("=NA()").set_result("#N/A"),
        )
        .unwrap();
    sheet.write_string(3, 0, "T3").unwrap();
    sheet.write_number(3, 1, 35).unwrap();
    for r in 1..=3 {
        sheet.write_number(r, 3, 28).unwrap();
    }
    // The sheet open when the workbook was saved is another: not the one read.
    let notes = book.add_worksheet();
    notes.set_name("备忘").unwrap().set_active(true);
    notes.write_string(0, 0, "备注").unwrap();
    book.save(dir.path().join("results.xlsx")).unwrap();
    for f in ["roster.csv", "samples.csv"] {
        fs::copy(basic().join(f), dir.path().join(f)).unwrap();
    }
    let out = run(dir.path(), "roster.csv", "samples.csv", "results.xlsx", &[]);
    expect(&out, 0);
    let o = dir.path().join("out");
    assert_eq!(manifest(&o)["inputs"][2]["sheet"], "结果");
    let tubes = read_parquet(&o.join("tubes.parquet"));
    let class = |tube: &str| {
        (0..tubes.height())
            .find(|&i| cell(tubes.column("tube_id").unwrap().get(i).unwrap()) == tube)
            .map(|i| cell(tubes.column("tube_class").unwrap().get(i).unwrap()))
    };
    assert_eq!(
        class("T1").as_deref(),
        Some("positive"),
        "Ct 40 is within 40"
    );
    let rejects = read_spreadsheet_csv(&o.join("rejects.csv"));
    assert!(
        // Never read as N/A, the lab's "not detected": the Ct column's rule rejects it.
        rejects.contains(",3,ct_orf1ab,\"ct_orf1ab is not a Ct value")
            && rejects.contains("T2,#N/A,,28"),
        "{rejects}"
    );
}

/// A formula's error in a workbook roster's building column is rejected as such (a
/// workbook's rows are each looked at for one, whatever its cells hold).
#[test]
fn a_formula_error_in_a_workbook_rosters_building_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let roster = fs::read_to_string(basic().join("roster.csv")).unwrap();
    for (r, line) in roster.lines().enumerate() {
        for (c, value) in line.split(',').enumerate() {
            let (r, c) = (r as u32, c as u16);
            if r == 3 && c == 2 {
                let na = rust_xlsxwriter::Formula::new("=NA()").set_result("#N/A");
                sheet.write_formula(r, c, na).unwrap();
            } else {
                sheet.write_string(r, c, value).unwrap();
            }
        }
    }
    book.save(dir.path().join("roster.xlsx")).unwrap();
    for f in ["samples.csv", "results.csv"] {
        fs::copy(basic().join(f), dir.path().join(f)).unwrap();
    }
    expect(
        &run(dir.path(), "roster.xlsx", "samples.csv", "results.csv", &[]),
        0,
    );
    let rejects = read_spreadsheet_csv(&dir.path().join("out/rejects.csv"));
    assert!(
        rejects.contains(",4,building,\"building holds #N/A, a spreadsheet formula's error"),
        "{rejects}"
    );
}
