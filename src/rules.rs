//! The interpretation rules: Ct cutoffs and the deadlines of the retest list, with the
//! contract's defaults, optionally overridden by a TOML file (`--rules FILE`).

use crate::error::{Error, Position, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The numbers that turn Ct values into classes (Ct, in cycles) and judge the retest
/// list's deadlines (in hours).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// A target is detected when its Ct is at most this. Default 40.0.
    pub cutoff: f64,
    /// When set, a tube with both targets detected but both Ct above this is suspect
    /// (the grey zone). Default unset.
    pub grey_above: Option<f64>,
    /// The internal control is detected when its Ct is at most this. Default 40.0.
    pub ic_cutoff: f64,
    /// Hours from a pool's test to the individual swab of each of its people. Default 6.
    pub resample_within: f64,
    /// Hours from an individual swab to its result. Default 12.
    pub result_within: f64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            cutoff: 40.0,
            grey_above: None,
            ic_cutoff: 40.0,
            resample_within: 6.0,
            result_within: 12.0,
        }
    }
}

impl Rules {
    /// Reads rules from a TOML file; keys not given keep their defaults.
    ///
    /// ```toml
    /// cutoff = 38.0
    /// grey_above = 35.0
    /// ic_cutoff = 40.0
    /// ```
    pub fn from_file(path: &Path, name: &str) -> Result<Rules> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::named_file(path, e))?;
        Rules::from_toml(&text, name)
    }

    /// Parses rules from TOML text; `name` names the file in errors.
    pub fn from_toml(text: &str, name: &str) -> Result<Rules> {
        let rules: Rules = toml::from_str(text).map_err(|e| {
            let position = match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() as u64 + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    Position {
                        line: Some(line),
                        column: Some(format!("{column}")),
                        byte: None,
                    }
                }
                None => Position::default(),
            };
            Error::input(
                name,
                position,
                format!(
                    "{}; the keys are cutoff, grey_above and ic_cutoff (each a Ct number), and resample_within and result_within (each a number of hours)",
                    e.message()
                ),
            )
        })?;
        rules.check(name, text)?;
        Ok(rules)
    }

    /// Checks the values' ranges; an error names the line and column of the value (in
    /// `text`) that is out of range.
    fn check(&self, name: &str, text: &str) -> Result<()> {
        let in_range = |v: f64| v > 0.0 && v <= crate::ingest::values::MAX_CT;
        let bad =
            |key: &str, msg: &str| Err(Error::input(name, position_of(text, key), msg.to_string()));
        if !in_range(self.cutoff) {
            return bad("cutoff", "cutoff must be a Ct above 0 and at most 50");
        }
        if !in_range(self.ic_cutoff) {
            return bad("ic_cutoff", "ic_cutoff must be a Ct above 0 and at most 50");
        }
        for (key, hours) in [
            ("resample_within", self.resample_within),
            ("result_within", self.result_within),
        ] {
            if !(hours > 0.0 && hours <= 720.0) {
                return bad(
                    key,
                    &format!("{key} must be a number of hours above 0 and at most 720"),
                );
            }
        }
        if let Some(grey) = self.grey_above {
            if !in_range(grey) || grey >= self.cutoff {
                return bad(
                    "grey_above",
                    "grey_above must be a Ct above 0 and below cutoff",
                );
            }
        }
        Ok(())
    }
}

/// Where the value of `key` stands in the TOML `text`: its line and column (from 1), or
/// nowhere when the key is not written there.
fn position_of(text: &str, key: &str) -> Position {
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix(key) else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let column = line.chars().count() - value.chars().count() + 1;
        return Position {
            line: Some(i as u64 + 1),
            column: Some(format!("{column}")),
            byte: None,
        };
    }
    Position::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(Rules::from_toml("", "r.toml").unwrap(), Rules::default());
        let r = Rules::from_toml("cutoff = 38\ngrey_above = 35.5\n", "r.toml").unwrap();
        assert_eq!(
            (r.cutoff, r.grey_above, r.ic_cutoff),
            (38.0, Some(35.5), 40.0)
        );
        let r = Rules::from_toml("resample_within = 4.5\n", "r.toml").unwrap();
        assert_eq!((r.resample_within, r.result_within), (4.5, 12.0));
        assert!(Rules::from_toml("result_within = 0\n", "r.toml").is_err());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = Rules::from_toml("cutoff = 38\ncutof = 1\n", "r.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("r.toml:2 column \"1\""), "{e}");
        let e = Rules::from_toml("grey_above = 41\n", "r.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("below cutoff"), "{e}");
        // A value out of range is placed too.
        let e = Rules::from_toml("# rules\nic_cutoff = 40\n  cutoff =  60\n", "r.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("r.toml:3 column \"13\": cutoff must be"),
            "{e}"
        );
    }
}
