//! Rejected rows whose cells do not line up with the header cannot be masked by column:
//! rows too long, too short and with a stray quote, in CSV and in Excel, carry canary
//! names, phones and ID card numbers. With `--mask` none of them may reach
//! `rejects.csv`; without it, the ID card number still may not.

mod common;

use common::*;
use rust_xlsxwriter::Workbook;

const ID: &str = "11010519491231002X";
const NAME: &str = "欧阳娜娜";
const PHONE: &str = "13812349999";

/// The CSV roster's data lines: a good row, then a row too long (a comma inside the
/// name), a row too short, a quote that opens a field and closes on the next line (one
/// record of three fields), and an ID card number in the phone column of a row
/// rejected for its id_card.
fn csv_lines() -> String {
    format!(
        "S1,张三,公寓1,13800000000,\n\
         S9,欧阳,娜娜,公寓1,{PHONE},{ID}\n\
         S8,{NAME},{PHONE},{ID}\n\
         S7,\"{NAME},{PHONE},{ID}\n\
         \",公寓1\n\
         S6,{NAME},公寓1,{ID},1\n"
    )
}

/// The workbook roster's rows: a good row, then a row too long (a value beyond the
/// header), a name with a quote in a row rejected for its id_card, and an ID card
/// number in the phone column of a row rejected for its id_card.
fn sheet_rows() -> Vec<Vec<String>> {
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect();
    vec![
        row(&["S1", "张三", "公寓1", "13800000000", ""]),
        row(&["S9", "欧阳", "娜娜", "公寓1", PHONE, ID]),
        row(&["S7", &format!("\"{NAME}"), "公寓1", ID, "1"]),
        row(&["S6", NAME, "公寓1", ID, "1"]),
    ]
}

fn write_others(dir: &Workdir) {
    dir.write(
        "samples.csv",
        "tube_id,person_id,sampled_at\nT1,S1,2022-04-10 08:00\n",
    );
    dir.write("results.csv", "tube_id,ct_orf1ab,ct_n\nT1,,\n");
}

fn check(dir: &Workdir, roster: &str) {
    for (args, masked) in [(vec![], false), (vec!["--mask"], true)] {
        let mut all = vec![
            "run",
            "--roster",
            roster,
            "--samples",
            "samples.csv",
            "--results",
            "results.csv",
            "--out",
            "out",
        ];
        all.extend(args);
        dir.run(&all, 0);
        let rejects = read_spreadsheet_csv(&dir.join("out/rejects.csv"));
        let rows = rejects.lines().count() - 1;
        assert!(rows >= 3, "{roster}: the bad rows are rejected:\n{rejects}");
        for canary in [ID, "19491231"] {
            assert!(
                !rejects.contains(canary),
                "{roster} {masked}: the ID card number reached rejects.csv:\n{rejects}"
            );
        }
        if masked {
            for canary in [NAME, "娜娜", PHONE] {
                assert!(
                    !rejects.contains(canary),
                    "{roster}: {canary} reached rejects.csv under --mask:\n{rejects}"
                );
            }
        }
        std::fs::remove_dir_all(dir.join("out")).unwrap();
    }
}

#[test]
fn csv_rows_that_do_not_line_up_leak_nothing() {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        format!("person_id,name,building,phone,id_card\n{}", csv_lines()),
    );
    write_others(&dir);
    check(&dir, "roster.csv");
}

#[test]
fn excel_rows_that_do_not_line_up_leak_nothing() {
    let dir = Workdir::new();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["person_id", "name", "building", "phone", "id_card"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in sheet_rows().iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, cell).unwrap();
        }
    }
    book.save(dir.join("roster.xlsx")).unwrap();
    write_others(&dir);
    check(&dir, "roster.xlsx");
}
