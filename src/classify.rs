//! Stage 3: interpreting Ct values and lab calls into tube classes. No I/O here.

use crate::record::{Class, LabResult, ResultColumns};
#[cfg(test)]
use crate::record::{PackedCt, PackedTime};
use crate::rules::Rules;

/// The class of one result row, and whether its Ct values and lab call disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowClass {
    /// The class the row gives the tube: the more severe of Ct and lab call.
    pub class: Class,
    /// The class the Ct values alone give, when the file has both Ct columns.
    pub by_ct: Option<Class>,
    /// The lab's call, when given.
    pub by_lab: Option<Class>,
}

impl RowClass {
    /// Whether Ct values and lab call were both given and disagree.
    pub fn mismatch(&self) -> bool {
        matches!((self.by_ct, self.by_lab), (Some(a), Some(b)) if a != b)
    }
}

/// Interprets the Ct values of a tube by `rules`.
///
/// positive: ORF1ab and N both detected; suspect: exactly one detected, or both
/// detected but both above `grey_above`; invalid: neither detected, the file has an IC
/// column, and the IC is not detected; negative otherwise.
pub fn by_ct(result: &LabResult, columns: ResultColumns, rules: &Rules) -> Class {
    let detected = |ct: Option<f64>| ct.is_some_and(|v| v <= rules.cutoff);
    let (orf_ct, n_ct) = (result.ct_orf1ab.get(), result.ct_n.get());
    let orf = detected(orf_ct);
    let n = detected(n_ct);
    match (orf, n) {
        (true, true) => {
            let grey = rules
                .grey_above
                .is_some_and(|g| orf_ct.is_some_and(|v| v > g) && n_ct.is_some_and(|v| v > g));
            if grey {
                Class::Suspect
            } else {
                Class::Positive
            }
        }
        (true, false) | (false, true) => Class::Suspect,
        (false, false) => {
            let ic_detected = result.ct_ic.get().is_some_and(|v| v <= rules.ic_cutoff);
            if columns.ct_ic && !ic_detected {
                Class::Invalid
            } else {
                Class::Negative
            }
        }
    }
}

/// Classifies one result row from whatever the file gives: Ct values, lab call, or both
/// (the more severe wins).
pub fn row_class(result: &LabResult, columns: ResultColumns, rules: &Rules) -> RowClass {
    let by_ct = columns.ct_pair.then(|| by_ct(result, columns, rules));
    let by_lab = result.lab_call;
    let class = match (by_ct, by_lab) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        // The results parser rejects rows with neither; treat as no result.
        (None, None) => Class::Pending,
    };
    RowClass {
        class,
        by_ct,
        by_lab,
    }
}

/// What a tube of `size` people and class `class` means for each person in it: the
/// action and the reason, or `None` when nothing is to be done.
pub fn consequence(class: Class, size: usize) -> Option<(crate::record::Action, &'static str)> {
    use crate::record::Action::*;
    let pool = size >= 2;
    Some(match (class, pool) {
        (Class::Positive, true) => (IsolateAndRetest, "pool_positive"),
        (Class::Suspect, true) => (Retest, "pool_suspect"),
        (Class::Invalid, true) => (Resample, "pool_invalid"),
        (Class::Positive, false) => (Report, "single_positive"),
        (Class::Suspect, false) => (Retest, "single_suspect"),
        (Class::Invalid, false) => (Resample, "single_invalid"),
        (Class::Negative | Class::Pending, _) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(orf: Option<f64>, n: Option<f64>, ic: Option<f64>, call: Option<Class>) -> LabResult {
        LabResult {
            tube_id: crate::record::TubeId::new("T"),
            ct_orf1ab: PackedCt::new(orf),
            ct_n: PackedCt::new(n),
            ct_ic: PackedCt::new(ic),
            lab_call: call,
            tested_at: PackedTime::new(None),
            line: 2,
            more: None,
        }
    }

    const ALL: ResultColumns = ResultColumns {
        ct_pair: true,
        ct_ic: true,
        lab_call: true,
        round: false,
    };

    #[test]
    fn the_contract_table() {
        let r = Rules::default();
        let c = |orf, n, ic| by_ct(&result(orf, n, ic, None), ALL, &r);
        assert_eq!(c(Some(30.0), Some(31.0), Some(28.0)), Class::Positive);
        assert_eq!(c(Some(40.0), Some(40.0), None), Class::Positive);
        assert_eq!(c(Some(30.0), None, Some(28.0)), Class::Suspect);
        assert_eq!(c(Some(30.0), Some(40.5), Some(28.0)), Class::Suspect);
        assert_eq!(c(None, None, None), Class::Invalid);
        assert_eq!(c(None, None, Some(45.0)), Class::Invalid);
        assert_eq!(c(None, None, Some(28.0)), Class::Negative);
        let no_ic = ResultColumns {
            ct_ic: false,
            ..ALL
        };
        assert_eq!(
            by_ct(&result(None, None, None, None), no_ic, &r),
            Class::Negative
        );
    }

    #[test]
    fn grey_zone_makes_suspect() {
        let r = Rules {
            grey_above: Some(35.0),
            ..Rules::default()
        };
        assert_eq!(
            by_ct(&result(Some(36.0), Some(37.0), None, None), ALL, &r),
            Class::Suspect
        );
        assert_eq!(
            by_ct(&result(Some(34.0), Some(37.0), None, None), ALL, &r),
            Class::Positive
        );
    }

    #[test]
    fn lab_call_disagreement_takes_the_more_severe() {
        let rc = row_class(
            &result(None, None, Some(28.0), Some(Class::Positive)),
            ALL,
            &Rules::default(),
        );
        assert_eq!(rc.class, Class::Positive);
        assert!(rc.mismatch());
        let rc = row_class(
            &result(Some(30.0), Some(30.0), None, Some(Class::Positive)),
            ALL,
            &Rules::default(),
        );
        assert!(!rc.mismatch());
    }
}
