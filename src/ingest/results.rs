//! The lab results file (检测结果), one row per tube, and the retests file (复核结果),
//! one row per individual retest, which adds `person_id`.

use super::header::ColumnSpec;
use super::row::Row;
use super::samples::TUBE_ALIASES;
use super::values::{self, MAX_PERSON_ID, MAX_TUBE_ID};
use super::{Ingested, RowParser};
use crate::error::{Error, Position, Result};
use crate::record::Micros;
use crate::record::{LabResult, PackedCt, PackedTime, ResultColumns, ResultMore, TubeId};
use crate::time::LastDate;
use std::borrow::Cow;
use std::sync::Arc;

const TUBE_ID: usize = 0;
const CT_ORF1AB: usize = 1;
const CT_N: usize = 2;
const CT_IC: usize = 3;
const LAB_CALL: usize = 4;
const ROUND: usize = 5;
const TESTED_AT: usize = 6;
const LAB: usize = 7;
const PERSON_ID: usize = 8;
const SAMPLED_AT: usize = 9;

/// The results file's columns; the retests file adds a required `person_id` and
/// `sampled_at` (see [`RETEST_COLUMNS`]).
pub const COLUMNS: [ColumnSpec; 9] = [
    ColumnSpec {
        name: "tube_id",
        aliases: TUBE_ALIASES,
        required: true,
    },
    ColumnSpec {
        name: "ct_orf1ab",
        aliases: &["ORF1ab", "ORF1ab基因", "ORF1ab Ct"],
        required: false,
    },
    ColumnSpec {
        name: "ct_n",
        aliases: &["N", "N基因", "N Ct"],
        required: false,
    },
    ColumnSpec {
        name: "ct_ic",
        aliases: &["内参", "内标", "IC"],
        required: false,
    },
    ColumnSpec {
        name: "lab_call",
        aliases: &["检测结果", "结果"],
        required: false,
    },
    ColumnSpec {
        name: "round",
        aliases: &["轮次"],
        required: false,
    },
    ColumnSpec {
        name: "tested_at",
        aliases: &["检测时间", "报告时间"],
        required: false,
    },
    ColumnSpec {
        name: "lab",
        aliases: &["检测机构"],
        required: false,
    },
    ColumnSpec {
        name: "person_id",
        aliases: &["学号", "工号", "学号/工号", "人员编号"],
        required: false,
    },
];

/// The retests file's columns: the results columns with `person_id` required, and
/// `sampled_at`, when the person was swabbed again.
pub const RETEST_COLUMNS: [ColumnSpec; 10] = {
    let mut columns = [COLUMNS[0]; 10];
    let mut i = 0;
    while i < COLUMNS.len() {
        columns[i] = COLUMNS[i];
        i += 1;
    }
    columns[PERSON_ID].required = true;
    columns[SAMPLED_AT] = ColumnSpec {
        name: "sampled_at",
        aliases: &["采样时间", "采集时间"],
        required: false,
    };
    columns
};

/// Parses results rows.
pub struct ResultParser;

impl RowParser for ResultParser {
    type Record = LabResult;
    type Part = ResultPart;

    fn parse(&self, row: &mut Row, part: &mut ResultPart) -> Option<LabResult> {
        parse(row, values::lab_call, part)
    }
}

/// Parses retests rows.
pub struct RetestParser;

impl RowParser for RetestParser {
    type Record = LabResult;
    type Part = ResultPart;

    fn parse(&self, row: &mut Row, part: &mut ResultPart) -> Option<LabResult> {
        parse(row, values::retest_call, part)
    }
}

/// What a worker keeps while it parses a chunk of results: the last row's round label
/// and uncommon cells ([`ResultMore`]), which the next row shares when it has the same
/// (a lab's export names its lab, and a round column its round, on every row: one copy
/// for a run of rows, not one a row, and no room in a row that has none).
#[derive(Default)]
pub struct ResultPart {
    last: Option<Arc<ResultMore>>,
    /// The date of the last test time and of the last sampling time read (a tube
    /// swabbed in the evening is tested after midnight: one date kept for both would
    /// change on every read).
    dates: [LastDate; 2],
}

impl ResultPart {
    /// A row's uncommon cells, `None` when it has none; the last row's when they are
    /// the same, compared before anything is allocated. An empty round or lab cell is
    /// none.
    fn more(
        &mut self,
        round: Option<Cow<str>>,
        person_id: Option<Box<str>>,
        lab: Option<Cow<str>>,
        sampled_at: Option<Micros>,
    ) -> Option<Arc<ResultMore>> {
        let round = round.filter(|r| !r.is_empty());
        let lab = lab.filter(|l| !l.is_empty());
        if round.is_none() && person_id.is_none() && lab.is_none() && sampled_at.is_none() {
            return None;
        }
        if let Some(last) = &self.last {
            if last.round.as_deref() == round.as_deref()
                && last.person_id == person_id
                && last.lab.as_deref() == lab.as_deref()
                && last.sampled_at == sampled_at
            {
                return Some(last.clone());
            }
        }
        let more = ResultMore {
            round: round.map(Into::into),
            person_id,
            lab: lab.map(Into::into),
            sampled_at,
        };
        Some(self.last.insert(Arc::new(more)).clone())
    }
}

/// The rows of a parsed results or retests file, which columns it has, its report and
/// its rejects; fatal when the file can classify nothing.
pub fn finish(mut parsed: Ingested<LabResult, ResultPart>) -> Result<crate::pipeline::ResultRows> {
    let columns = columns(&parsed)?;
    let report = parsed.report.clone();
    let rejects = std::mem::take(&mut parsed.rejects);
    Ok((parsed.into_rows(), columns, report, rejects))
}

/// Parses one results or retests row, reading the lab call with `call`.
fn parse(
    row: &mut Row,
    call: fn(&str) -> Result<Option<crate::record::Class>, String>,
    part: &mut ResultPart,
) -> Option<LabResult> {
    let tube = row.parse(TUBE_ID, |v| values::id(v, MAX_TUBE_ID));
    let lab_call = row.parse(LAB_CALL, call);
    // A pending retest (swabbed, no result yet) has no Ct values: whatever a lab system
    // leaves in its Ct cells meanwhile (`0`, 检测中) is not read.
    let pending = matches!(lab_call, Some(Some(crate::record::Class::Pending)));
    let mut ct = |col: usize| {
        if pending {
            Some(None)
        } else {
            row.parse(col, values::ct)
        }
    };
    let (ct_orf1ab, ct_n, ct_ic) = (ct(CT_ORF1AB), ct(CT_N), ct(CT_IC));
    let [tested_dates, sampled_dates] = &mut part.dates;
    let tested_at = optional_time(row, TESTED_AT, tested_dates);
    let sampled_at = optional_time(row, SAMPLED_AT, sampled_dates);
    let person_id = match row.cell(PERSON_ID) {
        None => Some(None),
        Some(_) => row
            .parse(PERSON_ID, |v| values::id(v, MAX_PERSON_ID))
            .map(|_| row.optional(PERSON_ID)),
    };
    let ct_pair = row.cell(CT_ORF1AB).is_some() && row.cell(CT_N).is_some();
    if !ct_pair && matches!(lab_call, Some(None)) && row.cell(LAB_CALL).is_some() {
        row.fail(
            LAB_CALL,
            "is empty; without both Ct columns every row needs a lab call",
        );
        return None;
    }
    tube?;
    let Ok(line) = u32::try_from(row.line()) else {
        row.fail(TUBE_ID, "lies beyond line 4,294,967,295; split the file");
        return None;
    };
    let more = part.more(row.cell(ROUND), person_id?, row.cell(LAB), sampled_at?);
    Some(LabResult {
        tube_id: TubeId::new(&row.text(TUBE_ID)),
        ct_orf1ab: PackedCt::new(ct_orf1ab?),
        ct_n: PackedCt::new(ct_n?),
        ct_ic: PackedCt::new(ct_ic?),
        tested_at: PackedTime::new(tested_at?),
        more,
        line,
        lab_call: lab_call?,
    })
}

/// The timestamp of an optional column: `Some(None)` when the cell is empty or the
/// column absent, `None` when the cell is not a timestamp (the failure is recorded).
fn optional_time(row: &mut Row, col: usize, dates: &mut LastDate) -> Option<Option<Micros>> {
    match row.text(col).is_empty() {
        true => Some(None),
        false => row.parse(col, |v| dates.timestamp(v)).map(Some),
    }
}

/// Which result columns `ingested` has; fatal when it can classify nothing (it needs
/// `ct_orf1ab` and `ct_n`, or `lab_call`).
pub fn columns(ingested: &Ingested<LabResult, ResultPart>) -> Result<ResultColumns> {
    let layout = &ingested.layout;
    let columns = ResultColumns {
        ct_pair: layout.has(CT_ORF1AB) && layout.has(CT_N),
        ct_ic: layout.has(CT_IC),
        lab_call: layout.has(LAB_CALL),
        round: layout.has(ROUND),
    };
    if !columns.ct_pair && !columns.lab_call {
        return Err(Error::input(
            &ingested.report.path,
            Position::line(1),
            format!(
                "a results file needs both Ct columns (ct_orf1ab and ct_n) or a lab_call column; the header row has: {}",
                super::header::shown_headers(&layout.headers, &COLUMNS)
            ),
        ));
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use crate::pipeline::load_results;
    use std::sync::Arc;

    /// A lab's export names its lab, and a round column its round, on every row: a row
    /// shares the row before's copy when it has the same.
    #[test]
    fn rows_naming_the_same_lab_or_round_share_one_copy_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(
            &path,
            "tube_id,lab_call,lab,round\nT1,negative,Lab A,R1\nT2,negative,Lab A,R1\nT3,positive,Lab B,R2\nT4,negative,,\nT5,negative,Lab B,R2\nT6,negative,,R2\nT7,negative,,R3\n",
        )
        .unwrap();
        let (rows, _, _, rejects) = load_results(&path, None).unwrap();
        assert!(rejects.is_empty());
        let labs: Vec<Option<&str>> = rows.iter().map(|r| r.lab()).collect();
        let (a, b) = (Some("Lab A"), Some("Lab B"));
        assert_eq!(labs, [a, a, b, None, b, None, None]);
        let rounds: Vec<Option<&str>> = rows.iter().map(|r| r.round()).collect();
        assert_eq!(
            rounds,
            [
                Some("R1"),
                Some("R1"),
                Some("R2"),
                None,
                Some("R2"),
                Some("R2"),
                Some("R3")
            ]
        );
        let more = |i: usize| rows[i].more.as_ref().unwrap();
        assert!(
            Arc::ptr_eq(more(0), more(1)),
            "the same lab and round on the next row"
        );
        assert!(!Arc::ptr_eq(more(1), more(2)));
        assert!(rows[3].more.is_none(), "a row without any is not boxed");
        assert_eq!(more(4).lab.as_deref(), Some("Lab B"));
    }
}
