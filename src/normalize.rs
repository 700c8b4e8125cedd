//! Cleaning of every header and value read from an input: Unicode NFKC, removal of
//! zero-width characters, and trimming.
//!
//! NFKC turns full-width digits and letters into ASCII and the ideographic space into a
//! plain space, so `２０２１００１２３` and `2021000123` are the same ID.

use std::borrow::Cow;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Zero-width characters that spreadsheets and chat apps leave in copied cells.
fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Returns `value` NFKC-normalised, without zero-width characters, trimmed of white
/// space at both ends. Borrows when nothing changes, which is the common case.
pub fn clean(value: &str) -> Cow<'_, str> {
    if value.is_ascii() {
        return Cow::Borrowed(value.trim());
    }
    let stable = is_nfkc_quick(value.chars()) == IsNormalized::Yes;
    if stable && !value.chars().any(is_zero_width) {
        return Cow::Borrowed(value.trim());
    }
    let normalized: String = value.nfkc().filter(|c| !is_zero_width(*c)).collect();
    Cow::Owned(normalized.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn full_width_digits_become_ascii() {
        assert_eq!(clean("２０２１００１"), "2021001");
    }

    #[test]
    fn zero_width_and_nbsp_are_removed_at_the_edges() {
        assert_eq!(clean("\u{00A0}2021\u{200B}001\u{3000}"), "2021001");
    }

    #[test]
    fn ascii_is_only_trimmed() {
        assert_eq!(clean("  A-1 "), "A-1");
    }

    #[test]
    fn chinese_is_kept() {
        assert_eq!(clean(" 公寓12 "), "公寓12");
    }
}
