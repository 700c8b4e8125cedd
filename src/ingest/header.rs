//! Matching a file's header row to the contract's columns, by English name or alias,
//! after trimming, NFKC and case folding. Column order is free; unknown columns are
//! ignored.

use crate::error::{Error, Position, Result};
use crate::normalize::clean;

/// One column of an input kind.
#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    /// The contract's English name.
    pub name: &'static str,
    /// Other names the column goes by, mostly Chinese.
    pub aliases: &'static [&'static str],
    /// Whether a file without the column is fatal.
    pub required: bool,
}

/// Where each column of a spec list sits in one file.
#[derive(Clone, Debug)]
pub struct Layout {
    /// For each spec, the field index in the file, if the file has the column.
    pub fields: Vec<Option<usize>>,
    /// The file's header cells, cleaned (read only once matched: the width is found
    /// from them then).
    pub headers: Vec<String>,
    /// The contract's name of each spec column.
    pub names: Vec<&'static str>,
    /// [`Layout::width`], found once from the headers.
    pub(super) width: usize,
}

impl Layout {
    /// Whether the file has the column of spec `col`.
    pub fn has(&self, col: usize) -> bool {
        self.fields.get(col).is_some_and(Option::is_some)
    }

    /// How many cells a row must have: the header's cells up to its last non-empty
    /// one. A value beyond them (a spreadsheet's used range can be wider than its
    /// header) lines up with no column.
    pub fn width(&self) -> usize {
        self.width
    }

    /// For each cell of a row, the contract's name of its column, over
    /// [`Layout::width`] cells. A column poolscreen does not read is `None`, unless its
    /// header names personal data the roster knows (a samples export with 姓名 or
    /// 手机号 in it): then it is named as the roster's, so that `--mask` masks it in
    /// `rejects.csv` too.
    pub fn cell_columns(&self) -> Vec<Option<&'static str>> {
        let mut columns: Vec<Option<&'static str>> = self.headers[..self.width()]
            .iter()
            .map(|h| personal(h))
            .collect();
        for (spec, field) in self.fields.iter().enumerate() {
            if let Some(i) = field {
                columns[*i] = Some(self.names[spec]);
            }
        }
        columns
    }

    /// The column's header as the file spells it, for rejects and messages.
    pub fn header_of(&self, col: usize) -> &str {
        self.fields
            .get(col)
            .copied()
            .flatten()
            .map_or("", |i| self.headers[i].as_str())
    }
}

/// The roster's personal column a header names (name, phone or id_card), if any.
fn personal(header: &str) -> Option<&'static str> {
    let k = key(header);
    super::roster::COLUMNS
        .iter()
        .filter(|s| matches!(s.name, "name" | "phone" | "id_card"))
        .find(|s| key(s.name) == k || s.aliases.iter().any(|a| key(a) == k))
        .map(|s| s.name)
}

fn key(name: &str) -> String {
    clean(name).to_lowercase()
}

/// Matches `raw_headers` (as read from line `line` of `file`) against `specs`.
///
/// Fatal when a required column is missing, or when two header cells name the same
/// column (two aliases of one column, or one name twice): the file is ambiguous.
pub fn match_header(
    file: &str,
    line: u64,
    raw_headers: &[String],
    specs: &[ColumnSpec],
) -> Result<Layout> {
    let headers: Vec<String> = raw_headers.iter().map(|h| clean(h).into_owned()).collect();
    let mut fields = vec![None; specs.len()];
    for (i, header) in headers.iter().enumerate() {
        let k = key(header);
        let Some(col) = specs
            .iter()
            .position(|s| key(s.name) == k || s.aliases.iter().any(|a| key(a) == k))
        else {
            continue;
        };
        if let Some(first) = fields[col] {
            return Err(Error::input(
                file,
                Position::line(line),
                format!(
                    "header cells {} (\"{}\") and {} (\"{}\") both name the column {}; keep one of them",
                    first + 1,
                    headers[first],
                    i + 1,
                    header,
                    specs[col].name
                ),
            ));
        }
        fields[col] = Some(i);
    }
    let missing: Vec<String> = specs
        .iter()
        .zip(&fields)
        .filter(|(s, f)| s.required && f.is_none())
        .map(|(s, _)| describe(s))
        .collect();
    if !missing.is_empty() {
        return Err(Error::input(
            file,
            Position::line(line),
            format!(
                "{MISSING_COLUMN} {}; the header row has: {}{}",
                missing.join(", "),
                shown_headers(&headers, specs),
                header_advice(&headers, specs)
            ),
        ));
    }
    Ok(Layout {
        fields,
        width: headers
            .iter()
            .rposition(|h| !h.trim().is_empty())
            .map_or(0, |i| i + 1),
        headers,
        names: specs.iter().map(|s| s.name).collect(),
    })
}

/// The columns of every kind of input file, by the option that takes it.
const KINDS: [(&str, &[ColumnSpec]); 3] = [
    ("--roster", &super::roster::COLUMNS),
    ("--samples", &super::samples::COLUMNS),
    ("--results", &super::results::COLUMNS),
];

/// Whether `header` names a column of `specs`.
fn names_column(header: &str, specs: &[ColumnSpec]) -> bool {
    let k = key(header);
    specs
        .iter()
        .any(|s| key(s.name) == k || s.aliases.iter().any(|a| key(a) == k))
}

/// Whether `header` names a column of any kind of input.
fn known(header: &str) -> bool {
    KINDS.iter().any(|(_, specs)| names_column(header, specs))
}

/// A header row as an error message may show it. A file without a header row has a
/// person's data in its first row, and a name can be written in any script (Wang
/// Xiaoming, 买买提·艾力, 赵老师): when no cell of the row names a column of any input,
/// the row is taken for data and no cell is quoted, only described. In a row with
/// known columns, the unknown cells are header words (a typo, a column of the user's
/// own) and are quoted, but for cells with a digit (an ID, a phone) or of two to four
/// Chinese characters (a name), which are still described.
pub fn shown_headers(headers: &[String], specs: &[ColumnSpec]) -> String {
    let a_header_row = headers.iter().any(|h| known(h) || names_column(h, specs));
    headers
        .iter()
        .map(|header| {
            let chars = header.chars().count();
            let digits = header.chars().any(|c| c.is_ascii_digit());
            let name_like = (2..=4).contains(&chars)
                && header
                    .chars()
                    .all(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c) || c == '·');
            let known = known(header) || names_column(header, specs);
            if header.is_empty() {
                "(an empty cell)".to_string()
            } else if known || (a_header_row && !digits && !name_like) {
                format!("\"{header}\"")
            } else {
                format!("(a cell of {chars} characters, not shown: it may be personal data)")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the error of a header row without a required column starts.
pub const MISSING_COLUMN: &str = "missing required column";

/// What to do about a header row that lacks a required column of `specs`: give the
/// file to its own option, when its columns are more another kind's than these; save it
/// with commas, when its one cell holds tabs or semicolons; delete the title above the
/// header, when one cell alone is filled; add a header row, when no cell names a column
/// at all.
pub fn header_advice(headers: &[String], specs: &[ColumnSpec]) -> String {
    let filled: Vec<&String> = headers.iter().filter(|h| !h.is_empty()).collect();
    if let [one] = filled.as_slice() {
        let split = |sep: char| {
            one.split(sep)
                .filter(|p| names_column(p.trim(), specs))
                .count()
        };
        if split('\t') >= 2 || split(';') >= 2 {
            return "; the row is one cell of names separated by tabs or semicolons: save the file as CSV with commas (逗号分隔)".to_string();
        }
        if !names_column(one, specs) && !known(one) {
            return "; only one cell of the first row is filled, like a title above the header (a sheet's 名单 heading): delete the rows above the header, so that the header is the first row".to_string();
        }
    }
    let matching = |specs: &[ColumnSpec]| headers.iter().filter(|h| names_column(h, specs)).count();
    let own = matching(specs);
    let other = KINDS
        .iter()
        .map(|(option, specs)| (matching(specs), *option))
        .filter(|(n, _)| *n > own)
        .max();
    match other {
        Some((_, option)) => format!(
            "; these are the columns of the file {option} takes: was each file given to its own option?"
        ),
        None if own == 0 && !headers.iter().any(|h| known(h)) => {
            "; if the first row holds data, add a header row".to_string()
        }
        None => String::new(),
    }
}

/// `person_id (学号, 工号, …)`: a column's name with its aliases.
pub fn describe(spec: &ColumnSpec) -> String {
    if spec.aliases.is_empty() {
        spec.name.to_string()
    } else {
        format!("{} ({})", spec.name, spec.aliases.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: [ColumnSpec; 2] = [
        ColumnSpec {
            name: "person_id",
            aliases: &["学号", "工号"],
            required: true,
        },
        ColumnSpec {
            name: "name",
            aliases: &["姓名"],
            required: false,
        },
    ];

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn aliases_and_case_match() {
        let l = match_header("f.csv", 1, &headers(&["备注", " 姓名 ", "学号"]), &SPECS).unwrap();
        assert_eq!(l.fields, vec![Some(2), Some(1)]);
        let l = match_header("f.csv", 1, &headers(&["PERSON_ID"]), &SPECS).unwrap();
        assert_eq!(l.fields, vec![Some(0), None]);
    }

    #[test]
    fn missing_column_names_what_was_found() {
        let e = match_header("f.csv", 1, &headers(&["姓名", "Remarks"]), &SPECS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("person_id") && e.contains("\"姓名\"") && e.contains("\"Remarks\""),
            "{e}"
        );
    }

    #[test]
    fn data_in_the_header_row_is_not_quoted() {
        // A row of data: no cell is a known column, so none is quoted, whatever its
        // script.
        let data = [
            "20210001",
            "张三",
            "13800138000",
            "Wang Xiaoming",
            "买买提·艾力",
            "辅导员赵老师",
        ];
        let e = match_header("f.csv", 1, &headers(&data), &SPECS)
            .unwrap_err()
            .to_string();
        for cell in data {
            assert!(!e.contains(cell), "{cell}: {e}");
        }
        // A header row with a column of the user's own: its words are quoted, but a
        // cell that could be personal data still is not.
        let e = match_header(
            "f.csv",
            1,
            &headers(&["姓名", "备注x", "张三", "13800138000"]),
            &SPECS,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"备注x\"") && e.contains("\"姓名\""), "{e}");
        assert!(!e.contains("张三") && !e.contains("13800138000"), "{e}");
    }

    /// A file given to the wrong option has a header row of another kind's columns:
    /// they are quoted, and the error says whose they are.
    #[test]
    fn a_file_given_to_the_wrong_option_is_named_for_what_it_is() {
        let results = headers(&["tube_id", "ct_orf1ab", "ct_n", "lab_call"]);
        let e = match_header("f.csv", 1, &results, &crate::ingest::roster::COLUMNS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"tube_id\"") && e.contains("\"lab_call\""),
            "{e}"
        );
        assert!(e.contains("the file --results takes"), "{e}");
        assert!(!e.contains("add a header row"), "{e}");
    }

    /// A title row above the header, and a header saved with tabs: each is told what
    /// to do, and neither cell is quoted.
    #[test]
    fn a_title_row_and_a_header_of_tabs_are_told_apart() {
        let title = headers(&["2022年4月10日核酸采样名单", "", ""]);
        let e = match_header("f.csv", 1, &title, &SPECS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("delete the rows above the header"), "{e}");
        assert!(
            e.contains("(an empty cell)") && !e.contains("名单\""),
            "{e}"
        );
        let tabs = headers(&["学号\t姓名\t楼栋"]);
        let e = match_header("f.csv", 1, &tabs, &SPECS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("save the file as CSV with commas"), "{e}");
        let data = headers(&["20210001", "张三"]);
        let e = match_header("f.csv", 1, &data, &SPECS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("add a header row"), "{e}");
    }

    #[test]
    fn two_aliases_of_one_column_are_fatal() {
        let e = match_header("f.csv", 1, &headers(&["学号", "工号"]), &SPECS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("both name the column person_id"), "{e}");
    }
}
