//! Cleaning of every header and value read from an input: Unicode NFKC, removal of
//! zero-width characters, and trimming. A no-break space is removed at either end of a
//! value and is a plain space inside one, as NFKC makes it.
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

/// Whether `text` holds only ASCII and the characters U+4000 to U+9FFF (CJK
/// ideographs, the Yijing hexagrams among them), which NFKC leaves as they are: the
/// common case of names and buildings. Such text cleans to itself trimmed,
/// [`trim_ascii`], and so does every value cut from it at ASCII bytes (commas, quotes,
/// line ends): a whole chunk of a file looked at once spares [`clean`] its look at
/// every value. Every byte is looked at without a branch, a block at a time, at the
/// speed of memory. In valid UTF-8 every byte from 0xC0 on leads a character; a plain
/// character's lead is 0xE4 to 0xE9.
pub fn all_plain(text: &str) -> bool {
    text.as_bytes().chunks(256).all(|block| {
        let elsewhere = block.iter().fold(0u8, |any, &b| {
            any | (u8::from(b >= 0xC0) & u8::from(b.wrapping_sub(0xE4) > 5))
        });
        elsewhere == 0
    })
}

/// `value` without the ASCII white space `str::trim` removes (which, unlike
/// `u8::is_ascii_whitespace`, includes the vertical tab): all that [`clean`] changes in
/// text that is [`all_plain`].
#[inline]
pub fn trim_ascii(value: &str) -> &str {
    let space = |b: &u8| *b == b' ' || (b'\t'..=b'\r').contains(b);
    let bytes = value.as_bytes();
    // Nearly every value starts and ends with something else than white space (every
    // byte of which is at most b' ').
    if let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) {
        if first > b' ' && last > b' ' {
            return value;
        }
    }
    let start = bytes.iter().position(|b| !space(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |e| e + 1);
    &value[start..end]
}

/// Returns `value` NFKC-normalised, without zero-width characters, trimmed of white
/// space at both ends. Borrows when nothing changes, which is the common case.
pub fn clean(value: &str) -> Cow<'_, str> {
    if all_plain(value) {
        // The only white space plain text can hold is ASCII.
        return Cow::Borrowed(trim_ascii(value));
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
    use super::{all_plain, clean, trim_ascii};
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn full_width_digits_become_ascii() {
        assert_eq!(clean("２０２１００１"), "2021001");
    }

    #[test]
    fn zero_width_and_nbsp_are_removed_at_the_edges() {
        assert_eq!(clean("\u{00A0}2021\u{200B}001\u{3000}"), "2021001");
    }

    #[test]
    fn nbsp_inside_a_value_is_a_space() {
        // As NFKC has it: a timestamp or a header typed with one still reads.
        assert_eq!(clean("2022-04-10\u{00A0}08:00"), "2022-04-10 08:00");
        assert_eq!(clean("ORF1ab\u{00A0}Ct"), "ORF1ab Ct");
        assert_eq!(clean("张\u{3000}三"), "张 三");
    }

    #[test]
    fn ascii_is_only_trimmed() {
        assert_eq!(clean("  A-1 "), "A-1");
        assert_eq!(clean("\t\x0B\x0C\r\n1 2\x0B"), "1 2");
        assert_eq!(clean("\x0B"), "");
    }

    #[test]
    fn compatibility_ideographs_are_normalised() {
        // U+F900 is a compatibility ideograph, outside the plain range.
        assert_eq!(clean("\u{F900}"), "\u{8C48}");
        assert_eq!(clean("ＡＢ公寓"), "AB公寓");
    }

    #[test]
    fn chinese_is_kept() {
        assert_eq!(clean(" 公寓12 "), "公寓12");
    }

    /// Characters at the edges of the plain ones, and some that NFKC or the cleaning
    /// changes: ASCII white space and controls, ideographs around U+4000 and U+9FFF, a
    /// compatibility ideograph, full-width digits and letters, the ideographic and
    /// no-break spaces, zero-width characters, a combining accent, an emoji.
    const NEAR_PLAIN: &[char] = &[
        'a', '7', ' ', '\t', '\x0B', '\r', ',', '"', '\u{7F}', '\u{3FFF}', '\u{4000}', '公', '寓',
        '\u{9FFF}', '\u{A000}', '\u{F900}', '２', 'Ａ', '\u{3000}', '\u{00A0}', '\u{200B}',
        '\u{FEFF}', '\u{0301}', 'é', '😀',
    ];

    #[test]
    fn plain_text_cleans_to_itself_trimmed() {
        assert!(all_plain(
            "学号,姓名\n2021001, 张三 ,公寓\u{4000}\u{9FFF}\r\n"
        ));
        assert!(all_plain(""));
        for c in NEAR_PLAIN {
            let plain = c.is_ascii() || ('\u{4000}'..='\u{9FFF}').contains(c);
            // Alone, and at every place of a block of 256 bytes and past it.
            for at in [0, 100, 254, 255, 256, 400] {
                let mut text = "x".repeat(at);
                text.push(*c);
                text.push('y');
                assert_eq!(all_plain(&text), plain, "{c:?} at {at}");
            }
        }
    }

    #[test]
    fn plain_characters_are_their_own_nfkc() {
        // What `all_plain` counts on, checked against the normalisation tables.
        for c in '\u{4000}'..='\u{9FFF}' {
            let mut nfkc = std::iter::once(c).nfkc();
            assert_eq!((nfkc.next(), nfkc.next()), (Some(c), None), "{c:?}");
        }
    }

    proptest::proptest! {
        /// Any value of text that is all plain cleans to itself trimmed; any text that
        /// is not holds a character outside ASCII and U+4000 to U+9FFF.
        #[test]
        fn cleaning_plain_text_is_trimming(
            picks in proptest::collection::vec(0..NEAR_PLAIN.len(), 0..12),
        ) {
            let text: String = picks.iter().map(|&i| NEAR_PLAIN[i]).collect();
            let plain = text
                .chars()
                .all(|c| c.is_ascii() || ('\u{4000}'..='\u{9FFF}').contains(&c));
            proptest::prop_assert_eq!(all_plain(&text), plain);
            if plain {
                // Against the normalisation itself, not `clean`'s own shortcut.
                let nfkc: String = text.nfkc().collect();
                proptest::prop_assert_eq!(trim_ascii(&text), nfkc.trim());
                let cleaned = clean(&text);
                proptest::prop_assert_eq!(cleaned.as_ref(), nfkc.trim());
            }
        }

        /// Plain text, white space at either end or not, trims as `str::trim` does: the
        /// only white space it can hold is ASCII.
        #[test]
        fn plain_text_trims_as_str_trim(
            text in "[ \t\x0B\x0C\r\na7,\"公寓\u{4000}\u{9FFF}]{0,8}",
        ) {
            proptest::prop_assert!(all_plain(&text));
            let cleaned = clean(&text);
            proptest::prop_assert_eq!(cleaned.as_ref(), text.trim());
            proptest::prop_assert_eq!(trim_ascii(&text), text.trim());
        }
    }
}
