//! Protection of personal data in the outputs: `--mask` masks names (张*三), phones
//! (138****1234) and ID card numbers (first 6 and last 4 kept); `--pseudonymize KEYFILE`
//! replaces every person_id with a keyed HMAC-SHA256 pseudonym (16 hex characters),
//! the same for the same key in every round, so histories still join. A plain or
//! salted hash would not do: student numbers are few enough to try them all.

use crate::error::{Error, Position, Result};
use crate::normalize::clean;
use hmac::{Hmac, Mac};
use rayon::prelude::*;
use sha2::Sha256;
use std::borrow::Cow;
use std::path::Path;

/// The smallest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Two-character surnames, kept whole when a name is masked.
const COMPOUND_SURNAMES: [&str; 30] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "呼延", "申屠", "万俟", "闻人", "澹台",
    "公冶", "太史", "濮阳", "单于", "钟离", "宗政",
];

/// Which protections a run applies.
#[derive(Clone, Default)]
pub struct Privacy {
    /// Mask names, phones and ID card numbers.
    pub mask: bool,
    key: Option<Key>,
}

/// A pseudonymisation key, held as HMAC-SHA256 with the key already absorbed: a
/// pseudonym then costs two compressions of SHA-256 rather than four, and a run under
/// `--pseudonymize` makes one for every roster person.
#[derive(Clone)]
struct Key(Hmac<Sha256>);

impl Key {
    fn new(key: &[u8]) -> Key {
        Key(<Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length"))
    }

    /// The first 8 bytes of HMAC-SHA256 of `id`, big-endian: its 16 lower-case hex
    /// digits are the pseudonym.
    fn number(&self, id: &str) -> u64 {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
    }

    /// The pseudonym of `id`: 16 lower-case hex characters.
    fn text(&self, id: &str) -> String {
        pseudonym_text(self.number(id))
    }
}

/// The pseudonym whose number ([`Privacy::pseudonym_number`]) is `number`: its 16
/// lower-case hex digits.
pub fn pseudonym_text(number: u64) -> String {
    crate::ingest::encoding::hex(&number.to_be_bytes())
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never appears, not even in debug output.
        f.debug_struct("Privacy")
            .field("mask", &self.mask)
            .field("pseudonymize", &self.key.is_some())
            .finish()
    }
}

impl Privacy {
    /// Protections from the command line; reads the key from `key_file` (hex, at least
    /// 32 bytes).
    pub fn new(mask: bool, key_file: Option<&Path>) -> Result<Privacy> {
        let key = match key_file {
            None => None,
            Some(path) => Some(Key::new(&read_key(path)?)),
        };
        Ok(Privacy { mask, key })
    }

    /// Whether any protection is on.
    pub fn any(&self) -> bool {
        self.mask || self.key.is_some()
    }

    /// Whether person IDs are replaced.
    pub fn pseudonymizes(&self) -> bool {
        self.key.is_some()
    }

    /// Whether the person_ids shown ([`Privacy::person_id`]) are as distinct as the IDs:
    /// pseudonyms are (a run with two alike stops), masked IDs need not be.
    pub fn shows_distinct_ids(&self) -> bool {
        !self.mask || self.key.is_some()
    }

    /// The person_id as outputs show it: the pseudonym with a key; else, with `--mask`,
    /// an ID shaped like a resident ID number (a city's 人员编号 often is one) masked as
    /// ID card numbers are ([`Privacy::masked_id`]).
    pub fn person_id<'a>(&self, id: &'a str) -> Cow<'a, str> {
        match &self.key {
            Some(key) => Cow::Owned(key.text(id)),
            None => self.masked_id(id),
        }
    }

    /// The person_id that joins people (across the lists, or the rounds of a history):
    /// the pseudonym with a key, else the ID itself, never masked, since masked IDs can
    /// be alike.
    pub fn joined_id<'a>(&self, id: &'a str) -> Cow<'a, str> {
        match &self.key {
            Some(key) => Cow::Owned(key.text(id)),
            None => Cow::Borrowed(id),
        }
    }

    /// `id` masked to its first 6 and last 4 characters under `--mask` when it is a
    /// resident ID number ([`is_resident_id`]); as it is otherwise.
    pub fn masked_id<'a>(&self, id: &'a str) -> Cow<'a, str> {
        if self.mask {
            mask_resident_id(id)
        } else {
            Cow::Borrowed(id)
        }
    }

    /// A name as outputs show it.
    pub fn name<'a>(&self, name: &'a str) -> Cow<'a, str> {
        if self.mask {
            Cow::Owned(mask_name(name))
        } else {
            Cow::Borrowed(name)
        }
    }

    /// A phone number as outputs show it.
    pub fn phone<'a>(&self, phone: &'a str) -> Cow<'a, str> {
        if self.mask {
            Cow::Owned(mask_phone(phone))
        } else {
            Cow::Borrowed(phone)
        }
    }

    /// An ID card number as outputs show it.
    pub fn id_card<'a>(&self, id: &'a str) -> Cow<'a, str> {
        if self.mask {
            Cow::Owned(mask_id_card(id))
        } else {
            Cow::Borrowed(id)
        }
    }

    /// A raw input row as `rejects.csv` shows it. `columns[i]` names the column of cell
    /// `i` by the header. When the row's cells line up with the header, each cell of a
    /// personal column is protected as in every other output; when they do not (too
    /// many or too few cells, a stray quote), no cell can be told by its column, so with
    /// `--mask` or `--pseudonymize` every cell is masked. Either way, ID card numbers and
    /// any cell shaped like one are masked even without `--mask`: they never reach an
    /// output unmasked.
    pub fn raw(&self, raw: &str, columns: &[Option<&'static str>]) -> String {
        let Some(cells) = aligned_cells(raw, columns.len()) else {
            return if self.any() {
                mask_all(raw)
            } else {
                mask_id_like(raw).into_owned()
            };
        };
        let mut changed = false;
        // Cells are copied only where they change (ten million rejected rows of a
        // roster are masked one by one).
        let protected: Vec<Cow<str>> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let cell: &str = cell;
                let column = columns.get(i).copied().flatten();
                let out = match (column, &self.key) {
                    // The pseudonym of the ID as read (trimmed, normalised), as every other
                    // output names the person; 16 hex digits are no ID number to mask.
                    (Some("person_id"), Some(key)) => Cow::Owned(key.text(&clean(cell))),
                    _ => guard_ids(match column {
                        Some("name" | "counselor") => self.name(cell),
                        Some("phone") => self.phone(cell),
                        Some("id_card") => Cow::Owned(mask_id_card(cell)),
                        Some("person_id") => self.person_id(cell),
                        _ => Cow::Borrowed(cell),
                    }),
                };
                changed |= out != cell;
                out
            })
            .collect();
        if !changed {
            // The raw text, not only its cells: a quote can join or split runs of
            // digits, so what is ID-shaped in the text is masked too.
            return mask_id_like(raw).into_owned();
        }
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = writer.write_record(protected.iter().map(|c| c.as_bytes()));
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(bytes.strip_suffix(b"\n").unwrap_or(&bytes)).into_owned()
    }

    /// The manifest's record of the protections.
    pub fn describe(&self) -> Vec<String> {
        let mut applied = Vec::new();
        if self.mask {
            applied
                .push("mask: names, phones and ID card numbers masked in every output".to_string());
        }
        if self.key.is_some() {
            applied.push("pseudonymize: person_id replaced by HMAC-SHA256 under the run's key, 16 hex characters".to_string());
        }
        applied.push("id_card: never written to an output unmasked".to_string());
        applied
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::named_file(path, e))?;
    let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = |why: &str| {
        Error::input(&name, Position::default(), format!("the key file {why}; it must hold a secret key of at least {MIN_KEY_BYTES} bytes written as hex ({} hex digits or more), for example from `openssl rand -hex 32`", MIN_KEY_BYTES * 2))
    };
    if !hex.len().is_multiple_of(2) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("is not hex"));
    }
    let key: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
        .collect();
    if key.len() < MIN_KEY_BYTES {
        return Err(bad(&format!("holds {} bytes", key.len())));
    }
    Ok(key)
}

impl Privacy {
    /// The pseudonym of `id` as a number, whose 16 lower-case hex digits are the
    /// pseudonym; 0 without a key. Sorting by it sorts by the pseudonym.
    pub fn pseudonym_number(&self, id: &str) -> u64 {
        self.key.as_ref().map_or(0, |key| key.number(id))
    }

    /// Checks that `pseudonyms` (numbers, by person key) are given exactly when this
    /// run pseudonymises, one for each of the roster's `people`: given none, the lists
    /// would be sorted by the real IDs, and no collision of pseudonyms checked.
    pub fn check_pseudonyms(&self, pseudonyms: Option<&[u64]>, people: usize) -> Result<()> {
        let given = pseudonyms.map(<[u64]>::len);
        let needed = self.pseudonymizes().then_some(people);
        match given == needed {
            true => Ok(()),
            false => Err(Error::Internal(format!(
                "pseudonyms for {given:?} people where the run needs them for {needed:?}"
            ))),
        }
    }

    /// A check of the key that tells two keys apart without telling anything of
    /// either: the pseudonym of a fixed text, recorded in history manifests so that
    /// rounds pseudonymised under different keys are never joined.
    pub fn key_check(&self) -> Option<String> {
        self.key
            .as_ref()
            .map(|key| key.text("poolscreen key check"))
    }
}

/// HMAC-SHA256 of `id` under `key`, as 16 lower-case hex characters.
#[cfg(test)]
pub fn pseudonym(key: &[u8], id: &str) -> String {
    Key::new(key).text(id)
}

/// Whether two distinct person IDs got one pseudonym (a run stops then: choose another
/// key): among the roster's people, whose pseudonyms `roster` holds as numbers by
/// person key (as the run made them once), and the IDs `named` (off the roster, or
/// a roster person's that a finding names), each hashed once, on the workers. A named
/// ID that has a roster person's pseudonym is that person when it is their ID
/// (`roster_id`), and a collision otherwise: no lookup by ID is needed, so the check
/// holds after the roster's index is freed.
pub fn pseudonyms_collide<'a>(
    roster: &[u64],
    roster_id: impl Fn(u32) -> &'a str + Sync,
    named: impl Iterator<Item = &'a str>,
    privacy: &Privacy,
) -> bool {
    let mut named: Vec<&str> = named.collect();
    named.par_sort_unstable();
    named.dedup();
    let mut named: Vec<(u64, &str)> = named
        .par_iter()
        .map(|id| (privacy.pseudonym_number(id), *id))
        .collect();
    named.par_sort_unstable();
    let mut numbers = roster.to_vec();
    numbers.par_sort_unstable();
    if named.windows(2).any(|w| w[0].0 == w[1].0) || numbers.windows(2).any(|w| w[0] == w[1]) {
        return true;
    }
    named.retain(|(n, _)| numbers.binary_search(n).is_ok());
    !named.is_empty()
        && roster.par_iter().enumerate().any(|(p, n)| {
            named
                .binary_search_by_key(n, |&(m, _)| m)
                .is_ok_and(|i| roster_id(p as u32) != named[i].1)
        })
}

/// 张三 → 张*, 张小三 → 张*三, 欧阳娜 → 欧阳*, 买买提·艾力 → 买**·艾*.
pub fn mask_name(name: &str) -> String {
    if name.contains(['·', '•', '・']) {
        return name
            .split(['·', '•', '・'])
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map_or(String::new(), |first| {
                    first.to_string() + &"*".repeat(chars.count())
                })
            })
            .collect::<Vec<_>>()
            .join("·");
    }
    let chars: Vec<char> = name.chars().collect();
    if let Some(surname) = COMPOUND_SURNAMES.iter().find(|s| name.starts_with(*s)) {
        if chars.len() >= 3 {
            return surname.to_string() + &"*".repeat(chars.len() - 2);
        }
    }
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// A person_id masked as an ID card number when it is a resident ID number
/// ([`is_resident_id`]); as it is otherwise.
pub fn mask_resident_id(id: &str) -> Cow<'_, str> {
    if is_resident_id(id) {
        Cow::Owned(mask_id_card(id))
    } else {
        Cow::Borrowed(id)
    }
}

/// Whether a whole ID is a resident ID number: 17 digits and a check character (a digit
/// or `X`), or the 15 digits of the first generation, with a birth date that exists
/// (digits 7 to 14, or 7 to 12 as YYMMDD). The check digit is not asked for: a mistyped
/// ID number is still one. Student numbers of 15 or 18 digits seldom hold a real date
/// there (`202101010012345`: month 00), so they are not taken for ID numbers.
pub fn is_resident_id(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| id[r].parse::<u32>().unwrap_or(0);
    match b.len() {
        18 if digits(0..17) && (b[17].is_ascii_digit() || matches!(b[17], b'X' | b'x')) => {
            let (y, m, d) = (num(6..10), num(10..12), num(12..14));
            (1900..=2100).contains(&y) && crate::time::valid_date(i64::from(y), m, d)
        }
        15 if digits(0..15) => {
            let (y, m, d) = (1900 + num(6..8), num(8..10), num(10..12));
            crate::time::valid_date(i64::from(y), m, d)
        }
        _ => false,
    }
}

/// 13812341234 → 138****1234; numbers of 7 characters or fewer are masked whole.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// The first 6 and last 4 characters kept: 110105********002X; 10 characters or fewer
/// are masked whole.
pub fn mask_id_card(id: &str) -> String {
    mask_middle(id, 6, 4)
}

/// `value` with all but its first `head` and last `tail` characters starred, or all of
/// them when nothing would be hidden otherwise.
fn mask_middle(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    let kept = |part: &[char]| part.iter().collect::<String>();
    format!(
        "{}{}{}",
        kept(&chars[..head]),
        "*".repeat(n - head - tail),
        kept(&chars[n - tail..])
    )
}

/// The cells of `raw` when it is one CSV record whose cells line up with a header of
/// `width` cells (extra cells may only be blank); `None` otherwise.
fn aligned_cells(raw: &str, width: usize) -> Option<Vec<Cow<'_, str>>> {
    let line = raw.trim_end_matches(['\r', '\n']);
    if !line.contains('"') {
        // No quote: the cells are what lies between the commas, as the CSV reader
        // would cut them, without building one for each rejected row.
        if line.is_empty() || line.contains(['\r', '\n']) {
            return None;
        }
        let cells: Vec<Cow<str>> = line.split(',').map(Cow::Borrowed).collect();
        return lined_up(cells, width);
    }
    cells_by_reader(raw, width)
}

/// [`aligned_cells`] read by the CSV reader, for a row with quotes.
fn cells_by_reader(raw: &str, width: usize) -> Option<Vec<Cow<'_, str>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(raw.as_bytes());
    let mut record = csv::StringRecord::new();
    if !matches!(reader.read_record(&mut record), Ok(true)) {
        return None;
    }
    // The record must be the whole text: a stray quote makes the CSV reader take
    // commas and line ends into a cell, or stop early.
    let consumed = reader.position().byte() as usize;
    if raw[consumed.min(raw.len())..]
        .trim_matches(['\r', '\n'])
        .is_empty()
    {
        let mut rest = csv::StringRecord::new();
        if matches!(reader.read_record(&mut rest), Ok(true)) {
            return None;
        }
    } else {
        return None;
    }
    // Quotes out of place: the reader dropped some, so the cells are not the row's. (A
    // quote doubled in a quoted cell, or one inside a cell that does not start with a
    // quote, is the cell's, as the parser reads it.)
    if crate::ingest::fields::quote_fault(raw.trim_end_matches(['\r', '\n']).as_bytes()).is_some() {
        return None;
    }
    lined_up(
        record.iter().map(|c| Cow::Owned(c.to_string())).collect(),
        width,
    )
}

/// `cells`, when they line up with a header of `width` cells (extra cells may only be
/// blank).
fn lined_up(cells: Vec<Cow<'_, str>>, width: usize) -> Option<Vec<Cow<'_, str>>> {
    let lined_up = cells.len() == width
        || (cells.len() > width && cells[width..].iter().all(|c| c.trim().is_empty()));
    lined_up.then_some(cells)
}

/// `value`, with anything in it shaped like a resident ID number masked (see
/// [`mask_id_like`]): an ID card number typed into a name, room or phone cell is still
/// one, and no output shows it whole, with `--mask` or without.
pub fn guard_ids(value: Cow<'_, str>) -> Cow<'_, str> {
    let masked = match mask_id_like(&value) {
        Cow::Owned(masked) => Some(masked),
        Cow::Borrowed(_) => None,
    };
    masked.map_or(value, Cow::Owned)
}

/// Whether `text` may hold something [`mask_id_like`] masks. A text of fewer than 15
/// bytes (most names, rooms and phones) is not even read. A text of ASCII digits and
/// separators only needs what every masked shape has: a run of 15 digits, or a run of
/// 6, a separator and a run of 8 (a rejected roster row holds a 10-digit person_id and
/// an 11-digit phone, and is passed over). A text with a byte that may begin a
/// full-width digit, separator or check character (0xEF), or the ideographic space
/// (0xE3), needs 15 digits in all, a full-width one counted by its first byte.
fn may_hold_id(text: &str) -> bool {
    if text.len() < 15 {
        return false;
    }
    let bytes = text.as_bytes();
    if memchr::memchr2(0xEF, 0xE3, bytes).is_some() {
        return bytes
            .iter()
            .filter(|b| b.is_ascii_digit() || **b == 0xEF)
            .nth(14)
            .is_some();
    }
    // The digits of the run going on, and of the run just before a separator that
    // directly followed it.
    let (mut run, mut before_separator) = (0, 0);
    for &b in bytes {
        if b.is_ascii_digit() {
            run += 1;
            if run >= 15 || (before_separator >= 6 && run >= 8) {
                return true;
            }
        } else {
            before_separator = if matches!(b, b' ' | b'-') { run } else { 0 };
            run = 0;
        }
    }
    false
}

/// `text` with everything shaped like a resident ID number masked as an ID card number
/// is (first 6 and last 4 characters kept): a run of 17 digits and a check character
/// (`X` or a digit), or of the 15 digits of the first generation, not inside a longer
/// run of digits; the 18-character form also when written in groups of 6, 8 and 4
/// separated by a space or a hyphen. Full-width digits count as digits. A text with
/// nothing to mask is given back as it is (a city's ten million names are passed over
/// without a second look).
pub fn mask_id_like(text: &str) -> Cow<'_, str> {
    if !may_hold_id(text) {
        return Cow::Borrowed(text);
    }
    mask_id_runs(text)
}

/// [`mask_id_like`] without the first look ([`may_hold_id`]): every character read.
fn mask_id_runs(text: &str) -> Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let check = |c: char| digit(c) || matches!(c, 'X' | 'x' | 'Ｘ' | 'ｘ');
    let sep = |c: char| matches!(c, ' ' | '-' | '　' | '－');
    // The length of the ID-shaped run starting at `i`, if one does.
    let id_at = |i: usize| -> Option<usize> {
        if i > 0 && digit(chars[i - 1]) {
            return None;
        }
        let digits_from = |at: usize, n: usize| {
            at + n <= chars.len() && chars[at..at + n].iter().all(|&c| digit(c))
        };
        let ends = |at: usize| at >= chars.len() || !digit(chars[at]);
        // 17 digits and a check character.
        if digits_from(i, 17) && i + 17 < chars.len() && check(chars[i + 17]) && ends(i + 18) {
            return Some(18);
        }
        // 6, 8 and 3 digits and a check character, in groups.
        if digits_from(i, 6)
            && i + 19 < chars.len()
            && sep(chars[i + 6])
            && digits_from(i + 7, 8)
            && sep(chars[i + 15])
            && digits_from(i + 16, 3)
            && check(chars[i + 19])
            && ends(i + 20)
        {
            return Some(20);
        }
        // The 15 digits of a first-generation number.
        if digits_from(i, 15) && ends(i + 15) {
            return Some(15);
        }
        None
    };
    let mut out = String::with_capacity(text.len());
    let (mut i, mut masked) = (0, false);
    while i < chars.len() {
        match id_at(i) {
            Some(n) => {
                let run: String = chars[i..i + n].iter().collect();
                let shown = mask_id_card(&run);
                masked |= shown != run;
                out.push_str(&shown);
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    if masked {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

fn mask_all(raw: &str) -> String {
    raw.chars()
        .map(|c| if c == ',' { ',' } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What texts are made of around IDs: separators, check characters, full-width
    /// forms and others.
    const ID_PIECES: [&str; 11] = ["X", "x", "Ｘ", " ", "-", "　", "－", ",", "号", "a", "１"];

    /// A run of `n` digits, the `k`-th full-width where `wide` says so.
    fn digits(text: &mut String, n: usize, wide: u8) {
        for k in 0..n {
            text.push(match (wide, k % 8) {
                (0, 3) => '５',
                _ => char::from(b'0' + (k * 7 % 10) as u8),
            });
        }
    }

    proptest::proptest! {
        /// The first look never passes over a text that holds something to mask: over
        /// texts of the pieces above, runs of 1 to 20 digits (some full-width), runs
        /// of 14 to 16 digits, and IDs in groups of 5 to 7, 7 to 9 and 3 digits and a
        /// check character, masking with it gives what reading every character gives.
        #[test]
        fn the_first_look_misses_no_id(
            parts in proptest::collection::vec((0..4u8, 0..ID_PIECES.len(), 1..21usize, 0..8u8), 0..8),
        ) {
            let mut text = String::new();
            for (kind, piece, run, wide) in parts {
                match kind {
                    0 => text.push_str(ID_PIECES[piece]),
                    1 => digits(&mut text, run, wide),
                    2 => digits(&mut text, 14 + run % 3, wide),
                    _ => {
                        let sep = ["-", " ", "－", "　"][piece % 4];
                        digits(&mut text, 5 + run % 3, wide);
                        text.push_str(sep);
                        digits(&mut text, 7 + (run / 3) % 3, wide);
                        text.push_str(sep);
                        digits(&mut text, 3, wide);
                        text.push_str(["X", "7", "ｘ"][piece % 3]);
                    }
                }
            }
            proptest::prop_assert_eq!(mask_id_like(&text), mask_id_runs(&text));
        }
    }

    #[test]
    fn pseudonym_text_is_the_numbers_16_hex_digits() {
        for number in [0, 1, 0xa, 0xf0, 0x0123_4567_89ab_cdef, 1 << 63, u64::MAX] {
            assert_eq!(pseudonym_text(number), format!("{number:016x}"));
        }
    }

    #[test]
    fn a_named_id_collides_only_with_another_id() {
        let keyed = Privacy {
            mask: false,
            key: Some(Key::new(&[7; 32])),
        };
        let ids = ["R1", "R2"];
        let roster: Vec<u64> = ids.map(|id| keyed.pseudonym_number(id)).to_vec();
        let id = |p: u32| ids[p as usize];
        let collide = |roster: &[u64], named: &[&'static str]| {
            pseudonyms_collide(roster, id, named.iter().copied(), &keyed)
        };
        // Named many times, an ID is one ID; a roster person named is that person.
        assert!(!collide(
            &roster,
            &["P1", "P2", "P1", "P3", "R2", "P2", "P1", "R2"]
        ));
        // A named ID with a roster person's pseudonym (here roster person R2 is given
        // P1's), or one pseudonym for two roster people, is a collision.
        let taken = [roster[0], keyed.pseudonym_number("P1")];
        assert!(!collide(&taken, &["R1", "P3"]));
        assert!(collide(&taken, &["R1", "P1"]));
        assert!(collide(&[roster[0], roster[0]], &["P1"]));
        // The check hashes what the outputs show: a pseudonym of 16 hex digits, the
        // number it compares.
        assert_eq!(
            format!("{:016x}", keyed.pseudonym_number("P1")),
            keyed.person_id("P1")
        );
    }

    #[test]
    fn raw_rows_mask_counselors_and_rows_with_quotes_out_of_place() {
        let masked = Privacy {
            mask: true,
            key: None,
        };
        let columns = [Some("person_id"), Some("name"), Some("counselor")];
        assert_eq!(masked.raw("S1,张小三,王导员", &columns), "S1,张*三,王*员");
        // The CSV reader would drop the quotes: the cells are not the row's.
        let raw = "S5,\"欧阳娜娜\"x,王导员";
        assert_eq!(masked.raw(raw, &columns), mask_all(raw));
        // A quote doubled in a quoted cell, or inside a cell, is the cell's: the row
        // lines up, and only its personal cells are masked.
        assert_eq!(
            masked.raw("S6,\"张\"\"小\"\"三\",a\"b", &columns),
            "S6,张***三,a*b"
        );
    }

    /// With a key, a raw row's person_id is the pseudonym of the ID as read (trimmed,
    /// normalised), as every other output names the person, and shown whole even when
    /// its hex digits look like an ID number.
    #[test]
    fn raw_rows_show_the_pseudonym_of_the_id_as_read() {
        let keyed = Privacy {
            mask: false,
            key: Some(Key::new(&[1; 32])),
        };
        let columns = [Some("tube_id"), Some("person_id"), Some("sampled_at")];
        let row = |id: &str| keyed.raw(&format!("T1,{id},bad"), &columns);
        let expected = format!("T1,{},bad", keyed.person_id("S001"));
        assert_eq!(row("S001"), expected);
        assert_eq!(row(" S001 "), expected);
        assert_eq!(row("Ｓ００１"), expected);
        // A pseudonym with fifteen digits in a row (one in a thousand or so) is whole.
        let digits = (0..100_000)
            .map(|i| format!("S{i:06}"))
            .find(|id| {
                let p = keyed.person_id(id);
                p.bytes().take(15).all(|b| b.is_ascii_digit())
            })
            .expect("an ID whose pseudonym starts with fifteen digits");
        assert_eq!(row(&digits), format!("T1,{},bad", keyed.person_id(&digits)));
    }

    #[test]
    fn resident_ids_need_a_real_birth_date() {
        assert!(is_resident_id("11010519491231002X"));
        assert!(is_resident_id("11010519491231002x"));
        assert!(is_resident_id("110105491231002"));
        // Student numbers of the same lengths: month 00, or a 13th month.
        assert!(!is_resident_id("202101010012345"));
        assert!(!is_resident_id("202101201913012345"));
        assert!(!is_resident_id("1101051949123100"));
        assert!(!is_resident_id("11010519491231002Y"));
    }

    #[test]
    fn names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("张小三"), "张*三");
        assert_eq!(mask_name("欧阳娜"), "欧阳*");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("买买提·艾力"), "买**·艾*");
        assert_eq!(mask_name("王"), "*");
    }

    #[test]
    fn phones_and_id_cards() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("12345"), "*****");
        assert_eq!(mask_id_card("11010519491231002X"), "110105********002X");
        // At the edges: nothing is shown unless something is hidden.
        assert_eq!(mask_phone("1234567"), "*******");
        assert_eq!(mask_phone("12345678"), "123*5678");
        assert_eq!(mask_id_card("E123456789"), "**********");
        assert_eq!(mask_id_card("E1234567890"), "E12345*7890");
    }

    #[test]
    fn pseudonyms_are_keyed_stable_and_short() {
        let key = [7u8; 32];
        let a = pseudonym(&key, "2021000123");
        assert_eq!(a.len(), 16);
        assert_eq!(a, pseudonym(&key, "2021000123"));
        assert_ne!(a, pseudonym(&[8u8; 32], "2021000123"));
        assert_ne!(a, pseudonym(&key, "2021000124"));
        let p = Privacy {
            mask: false,
            key: Some(Key::new(&key)),
        };
        assert_eq!(format!("{:016x}", p.pseudonym_number("2021000123")), a);
    }

    #[test]
    fn pseudonyms_are_given_exactly_when_the_run_pseudonymises() {
        let keyed = Privacy {
            mask: false,
            key: Some(Key::new(&[7; 32])),
        };
        let plain = Privacy::default();
        let three = [1, 2, 3];
        assert!(keyed.check_pseudonyms(Some(&three), 3).is_ok());
        assert!(plain.check_pseudonyms(None, 3).is_ok());
        // None under a key would sort the lists by the real IDs.
        assert!(keyed.check_pseudonyms(None, 3).is_err());
        assert!(keyed.check_pseudonyms(Some(&three[..2]), 3).is_err());
        assert!(plain.check_pseudonyms(Some(&three), 3).is_err());
    }

    #[test]
    fn pseudonyms_are_the_first_8_bytes_of_hmac_sha256() {
        // RFC 4231, test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let jefe = Privacy {
            mask: false,
            key: Some(Key::new(b"Jefe")),
        };
        for _ in 0..2 {
            assert_eq!(
                jefe.person_id("what do ya want for nothing?"),
                "5bdcc146bf60754e"
            );
        }
        // A pseudonym whose first byte is below 0x10 keeps its leading zero.
        let small = (0..)
            .map(|i| format!("S{i}"))
            .find(|id| jefe.pseudonym_number(id) < 1 << 60)
            .expect("one in 16 IDs");
        let shown = jefe.person_id(&small);
        assert_eq!((shown.len(), &shown[..1]), (16, "0"));
    }

    #[test]
    fn raw_rows_keep_only_unprotected_cells() {
        let p = Privacy {
            mask: true,
            key: None,
        };
        let cols = [
            Some("person_id"),
            Some("name"),
            Some("building"),
            Some("phone"),
        ];
        assert_eq!(
            p.raw("S1,张小三,公寓1,13812341234", &cols),
            "S1,张*三,公寓1,138****1234"
        );
    }

    const ROSTER: [Option<&str>; 5] = [
        Some("person_id"),
        Some("name"),
        Some("building"),
        Some("phone"),
        Some("id_card"),
    ];

    #[test]
    fn rows_that_do_not_line_up_are_masked_whole() {
        let mask = Privacy {
            mask: true,
            key: None,
        };
        let none = Privacy::default();
        let id = "11010519491231002X";
        for raw in [
            format!("S9,欧阳,娜娜,公寓1,13812349999,{id}"),
            format!("S9,欧阳娜娜,13812349999,{id}"),
            format!("S9,\"欧阳娜娜,公寓1,13812349999,{id}"),
            format!("S9,欧\"阳娜娜,公寓1,13812349999,{id}"),
        ] {
            let masked = mask.raw(&raw, &ROSTER);
            for canary in ["欧阳", "娜娜", "13812349999", id, "1949"] {
                assert!(!masked.contains(canary), "{raw:?} gave {masked:?}");
            }
            let plain = none.raw(&raw, &ROSTER);
            assert!(
                !plain.contains(id) && !plain.contains("19491231"),
                "{raw:?} gave {plain:?}"
            );
            assert!(plain.contains("110105********002X"), "{plain:?}");
        }
    }

    #[test]
    fn rows_without_quotes_are_cut_as_the_csv_reader_cuts_them() {
        for (raw, width) in [
            ("a,b,c", 3),
            ("a,b,c\r\n", 3),
            ("a,,", 3),
            (",", 2),
            ("", 1),
            ("a,b", 3),
            ("a,b,c,d", 3),
            ("a,b,c,  ", 3),
            ("a\rb,c", 2),
            ("张三, 李四 ,x", 3),
        ] {
            assert_eq!(
                aligned_cells(raw, width),
                cells_by_reader(raw, width),
                "{raw:?} in {width} columns"
            );
        }
    }

    #[test]
    fn id_shaped_cells_are_masked_in_any_column() {
        let none = Privacy::default();
        let raw = "S9,欧阳娜娜,110105194912310021,13812349999,";
        assert_eq!(
            none.raw(raw, &ROSTER),
            "S9,欧阳娜娜,110105********0021,13812349999,"
        );
        assert_eq!(
            none.raw("S1,张三,公寓1,138,", &ROSTER),
            "S1,张三,公寓1,138,"
        );
        assert_eq!(mask_id_like("a 110105491231002 b"), "a 110105*****1002 b");
        assert_eq!(
            mask_id_like("１１０１０５１９４９１２３１００２Ｘ"),
            "１１０１０５********００２Ｘ"
        );
        assert_eq!(mask_id_like("2201001000001"), "2201001000001");
        assert_eq!(
            mask_id_like("证件110105194912310021号"),
            "证件110105********0021号"
        );
        assert_eq!(mask_id_like("ID11010519491231002X"), "ID110105********002X");
        assert_eq!(mask_id_like("110105 19491231 002X"), "110105**********002X");
        assert_eq!(mask_id_like("110105-19491231-002X"), "110105**********002X");
        // A longer run of digits is something else: it is left alone.
        assert_eq!(mask_id_like("1101051949123100211"), "1101051949123100211");
    }
}
