//! The Parquet outputs, through polars: zstd, ASCII snake_case names, UTF-8 strings,
//! Int64 integers, microsecond timestamps tagged `Asia/Shanghai`.
//!
//! polars embeds an Arrow schema (the `ARROW:schema` key of the file's metadata) that
//! types string columns as `string_view`, which pyarrow 14 cannot open and later
//! pyarrow cannot filter, sort or join. Every file here embeds the same schema with
//! plain `string` columns instead; the pages are written as polars writes them, and the
//! time zone tags stay.

use super::columns::{Column as ListColumn, Kind};
use super::staging::Output;
use crate::error::{Error, Result};
use crate::record::Micros;
use crate::record::NONE;
use polars::prelude::*;
use polars_arrow::array::{
    Array, BooleanArray, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
    View,
};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::IntegerType;
use polars_parquet::write::{
    array_to_columns, compress, fallible_streaming_iterator, get_dtype_encoding,
    schema_to_metadata_key, to_parquet_schema, CompressedPage, CompressionOptions, DynIter,
    DynStreamingIterator, Encoding, FileWriter, KeyValue, ParquetType, StatisticsOptions, Version,
    WriteOptions, ZstdLevel,
};
use rayon::prelude::*;
use std::borrow::Cow;

/// The most bytes a data page holds: enough for a row group's dictionary keys (or any
/// column of eight bytes a row) in one page. polars' Parquet engine gives every data
/// page of a dictionary-encoded column the statistics of its whole column chunk, and the
/// chunk's null count is then the sum over its pages: with the default of 1 MiB a
/// million-row group's keys took six pages and its null count six times its nulls, more
/// than its rows when many are null, which a reader may take for a column of nulls only
/// and skip. One page a chunk keeps the count exact.
const PAGE: usize = 16 << 20;

/// Writes `df` as zstd Parquet with plain string columns in the embedded Arrow schema.
pub fn write(out: &mut Output, mut df: DataFrame) -> Result<()> {
    writer(out, &df)
        .finish(&mut df)
        .map_err(|e| Error::Internal(format!("writing a Parquet file: {e}")))?;
    Ok(())
}

/// A writer of zstd Parquet for frames like `like`, with plain string columns in the
/// embedded Arrow schema.
fn writer<'a>(out: &'a mut Output, like: &DataFrame) -> ParquetWriter<&'a mut Output> {
    let mut schema = like.schema().to_arrow(CompatLevel::newest());
    for field in schema.iter_values_mut() {
        field.dtype = plain(&field.dtype);
    }
    ParquetWriter::new(out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_data_page_size(Some(PAGE))
        .with_key_value_metadata(Some(KeyValueMetadata::Static(vec![
            schema_to_metadata_key(&schema),
        ])))
}

/// A Parquet file written a batch (a row group) at a time, for tables too large to
/// hold whole.
pub struct Batches<'a> {
    writer: BatchedWriter<&'a mut Output>,
}

impl<'a> Batches<'a> {
    /// Starts a file of frames like `like` (same columns and types).
    pub fn new(out: &'a mut Output, like: &DataFrame) -> Result<Batches<'a>> {
        let schema = like.schema().clone();
        let writer = writer(out, like)
            .batched(&schema)
            .map_err(|e| Error::Internal(format!("writing a Parquet file: {e}")))?;
        Ok(Batches { writer })
    }

    /// Writes one batch.
    pub fn write(&mut self, batch: &DataFrame) -> Result<()> {
        self.writer
            .write_batch(batch)
            .map_err(|e| Error::Internal(format!("writing a Parquet file: {e}")))
    }

    /// Ends the file.
    pub fn finish(self) -> Result<()> {
        self.writer
            .finish()
            .map_err(|e| Error::Internal(format!("writing a Parquet file: {e}")))?;
        Ok(())
    }
}

/// An Arrow array.
pub type ArrayRef = Box<dyn Array>;

/// A Parquet file of Arrow arrays, written a row group at a time, with the columns and
/// the embedded Arrow schema of frames like `like`, each column encoded as polars
/// encodes it: the same file as [`Batches`] makes of the same values, but that a
/// dictionary array is always written as a dictionary (polars writes strings plain when
/// most of them are distinct), its values as the dictionary page and its keys as the
/// data pages. polars, given strings, would first estimate their distinct values and
/// then find the dictionary in them again, for every column of every row group. Columns
/// are encoded and compressed on the workers.
pub struct ArrowBatches<'a> {
    writer: FileWriter<&'a mut Output>,
    types: Vec<ParquetType>,
    /// Whether each column holds no value twice in a batch ([`ArrowBatches::distinct`]).
    distinct: Vec<bool>,
    /// Each column's compression: the file's, or zstd's level 1 ([`ArrowBatches::fast`]).
    compression: Vec<CompressionOptions>,
    options: WriteOptions,
    metadata: KeyValue,
}

impl<'a> ArrowBatches<'a> {
    /// Starts a file of frames like `like`; each batch gives its columns in order,
    /// strings as `Utf8View` or as a dictionary of them.
    pub fn new(out: &'a mut Output, like: &DataFrame) -> Result<ArrowBatches<'a>> {
        let mut schema = like.schema().to_arrow(CompatLevel::newest());
        for field in schema.iter_values_mut() {
            field.dtype = plain(&field.dtype);
        }
        let parquet_schema = to_parquet_schema(&schema).map_err(failed)?;
        let types = parquet_schema.fields().to_vec();
        let distinct = vec![false; types.len()];
        // As polars' writer sets them (see `writer`).
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: CompressionOptions::Zstd(None),
            version: Version::V1,
            data_page_size: Some(PAGE),
        };
        let metadata = schema_to_metadata_key(&schema);
        let compression = vec![options.compression; types.len()];
        let writer = FileWriter::new_with_parquet_schema(out, schema, parquet_schema, options);
        Ok(ArrowBatches {
            writer,
            types,
            distinct,
            compression,
            options,
            metadata,
        })
    }

    /// Marks the column `name` as holding no value twice in a batch: a batch of more
    /// than [`ALWAYS_DICTIONARY`] rows writes it plain, as polars would after finding,
    /// by an estimate over the whole batch, that a dictionary does not pay; a smaller
    /// batch is left to polars, which gives it a dictionary.
    /// `None` marks none.
    pub fn distinct(mut self, name: Option<&str>) -> Self {
        let at = self.types.iter().position(|t| Some(t.name()) == name);
        if let Some(at) = at {
            self.distinct[at] = true;
        }
        self
    }

    /// Marks the columns `names` to be compressed at zstd's level 1 (the lowest polars
    /// takes): text that the default level's longer search for repeats gains nothing
    /// on. Pseudonyms (random text) come out as small as at the default level, which
    /// costs about 1.4 s of CPU more on ten million of them; a people table's
    /// person_ids, each once, come out smaller and sooner (BENCHMARKS.md, "A round not
    /// made by `generate`"); a missing list's names and phones at midday, five million
    /// of each, 9% smaller and 0.3–0.4 CPU-s sooner ("The lists' own text at zstd's
    /// level 1"). The file reads the same. A name the file has no column of
    /// marks nothing.
    pub fn fast(mut self, names: &[&str]) -> Self {
        let level = ZstdLevel::try_new(1).expect("zstd has a level 1");
        for (t, compression) in self.types.iter().zip(&mut self.compression) {
            if names.contains(&t.name()) {
                *compression = CompressionOptions::Zstd(Some(level));
            }
        }
        self
    }

    /// Writes one batch as a row group (none when it has no rows).
    pub fn write(&mut self, columns: &[ArrayRef]) -> Result<()> {
        if columns.len() != self.types.len() {
            return Err(Error::Internal(format!(
                "a batch of {} columns for a file of {}",
                columns.len(),
                self.types.len()
            )));
        }
        let rows = columns.first().map_or(0, |c| c.len());
        if columns.iter().any(|c| c.len() != rows) {
            return Err(Error::Internal(
                "a batch whose columns differ in length".into(),
            ));
        }
        if rows == 0 {
            return Ok(());
        }
        let options = self.options;
        let pages: Vec<Vec<CompressedPage>> = columns
            .par_iter()
            .zip(&self.types)
            .zip(&self.distinct)
            .zip(&self.compression)
            .map(|(((array, parquet_type), &distinct), &compression)| {
                // Plain for a distinct column where polars would end there; else polars'
                // own choice: a dictionary where it pays, found in the values.
                let encodings = match distinct && array.len() > ALWAYS_DICTIONARY {
                    true => vec![Encoding::Plain],
                    false => get_dtype_encoding(array.dtype()),
                };
                let leaves = array_to_columns(array, parquet_type.clone(), options, &encodings)?;
                leaves
                    .into_iter()
                    .flatten()
                    .map(|page| Ok(compress(page?, Vec::new(), compression)?))
                    .collect::<PolarsResult<Vec<_>>>()
            })
            .collect::<PolarsResult<_>>()
            .map_err(failed)?;
        let group = DynIter::new(pages.iter().map(|column| {
            Ok(DynStreamingIterator::new(
                fallible_streaming_iterator::convert(column.iter().map(PolarsResult::Ok)),
            ))
        }));
        self.writer.write(rows as u64, group).map_err(failed)
    }

    /// Ends the file.
    pub fn finish(mut self) -> Result<()> {
        self.writer.end(Some(vec![self.metadata])).map_err(failed)?;
        Ok(())
    }
}

/// The most rows of a string column that polars' Parquet writer gives a dictionary
/// whatever its values (`encode_as_dictionary_optional` in polars-parquet 0.55).
const ALWAYS_DICTIONARY: usize = 128;

/// The row groups polars' writer cuts a table of `rows` rows into
/// (`chunk_df_for_writing` in polars-core 0.55): as many of 512² rows as fit whole, the
/// rows shared evenly among them, the last taking the rest; one group when fewer. A
/// table written in these batches by [`ArrowBatches`] is the file [`write`] makes.
pub fn row_groups(rows: usize) -> Vec<std::ops::Range<usize>> {
    const GROUP: usize = 512 * 512;
    let groups = (rows / GROUP).max(1);
    let size = rows / groups;
    (0..groups)
        .map(|g| {
            g * size..if g + 1 == groups {
                rows
            } else {
                (g + 1) * size
            }
        })
        .collect()
}

/// Rows a row group of the tables written a batch at a time (`people.parquet`,
/// `plan.parquet`).
pub const ROW_GROUP: usize = 1 << 20;

/// Writes the batches `make` makes of `items`, in order, each made on the workers
/// while the one before is written.
pub fn pipelined<I: Send>(
    items: impl IntoIterator<Item = I>,
    make: impl Fn(I) -> Vec<ArrayRef> + Sync,
    mut write: impl FnMut(&[ArrayRef]) -> Result<()> + Send,
) -> Result<()> {
    let mut written: Option<Vec<ArrayRef>> = None;
    for item in items {
        let (next, done) = rayon::join(
            || make(item),
            || written.as_deref().map_or(Ok(()), &mut write),
        );
        done?;
        written = Some(next);
    }
    written.as_deref().map_or(Ok(()), &mut write)
}

/// The columns `makers` make, each made on the workers beside the others.
pub fn on_workers(makers: &[Box<dyn Fn() -> ArrayRef + Sync + '_>]) -> Vec<ArrayRef> {
    makers
        .par_iter()
        .with_max_len(1)
        .map(|make| make())
        .collect()
}

/// A string column of `n` rows: row `i` holds `value(i)` (null for `None`). A row that
/// repeats the row before shares its bytes instead of holding a copy: the findings of a
/// lab's whole file against one district's round are hundreds of thousands of
/// `orphan_result`s, each with the same detail.
pub fn strings<'s>(n: usize, value: impl Fn(usize) -> Option<Cow<'s, str>>) -> ArrayRef {
    strings_in(n, value, BUFFER_BYTES)
}

/// [`strings`], the strings longer than a view holds put in buffers of at most
/// `buffer_bytes` bytes (but a longer string, alone in its own).
fn strings_in<'s>(
    n: usize,
    value: impl Fn(usize) -> Option<Cow<'s, str>>,
    buffer_bytes: usize,
) -> ArrayRef {
    // The views are made here rather than pushed into polars' builder, which checks
    // for room and validity at every row: with the dictionaries' keys made without a
    // validity (`dictionary_of_rows`), a round of ten million people writes its
    // people table with 0.1–0.5 s less CPU (BENCHMARKS.md, "String columns made
    // as views").
    let mut views: Vec<View> = Vec::with_capacity(n);
    // Of polars' buffers (their type is not named here).
    let mut buffers = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    let mut validity: Option<MutableBitmap> = None;
    let (mut total_bytes, mut total_buffer) = (0usize, 0usize);
    // The last string held in a buffer, and its view.
    let mut last: Option<(Cow<'s, str>, View)> = None;
    for i in 0..n {
        let Some(text) = value(i) else {
            views.push(View::default());
            validity
                .get_or_insert_with(|| {
                    let mut valid = MutableBitmap::with_capacity(n);
                    valid.extend_constant(i, true);
                    valid
                })
                .push(false);
            last = None;
            continue;
        };
        if let Some(valid) = &mut validity {
            valid.push(true);
        }
        let bytes = text.as_bytes();
        total_bytes += bytes.len();
        if bytes.len() <= View::MAX_INLINE_SIZE as usize {
            views.push(View::new_inline(bytes));
            last = None;
            continue;
        }
        assert!(
            bytes.len() <= u32::MAX as usize,
            "a string of a column is under 4 GiB"
        );
        if let Some((held, view)) = &last {
            if *held == text {
                views.push(*view);
                continue;
            }
        }
        if !buffer.is_empty() && buffer.len() + bytes.len() > buffer_bytes {
            buffers.push(std::mem::take(&mut buffer).into());
        }
        // SAFETY: longer than a view holds, and its length a u32 (both checked above).
        // Its offset is under `buffer_bytes` (a u32), or 0 for a string longer.
        let view = unsafe {
            View::new_noninline_unchecked(bytes, buffers.len() as u32, buffer.len() as u32)
        };
        buffer.extend_from_slice(bytes);
        total_buffer += bytes.len();
        views.push(view);
        last = Some((text, view));
    }
    if !buffer.is_empty() {
        buffers.push(buffer.into());
    }
    // SAFETY: each view holds its string or points at its bytes in `buffers`, all
    // whole strings (UTF-8); one view a row, as the validity has.
    let column = unsafe {
        Utf8ViewArray::new_unchecked(
            ArrowDataType::Utf8View,
            views.into(),
            buffers.into(),
            validity.map(Into::into),
            Some(total_bytes),
            total_buffer,
        )
    };
    column.boxed()
}

/// The most bytes a buffer of a [`strings`] column holds, unless one string is longer:
/// the largest block polars' own builder makes (an Arrow buffer holds at most
/// `i32::MAX` bytes). A buffer grows by doubling up to it.
const BUFFER_BYTES: usize = 16 << 20;

/// A yes-or-no column of `n` rows: row `i` holds `value(i)`.
pub fn booleans(n: usize, value: impl Fn(usize) -> bool) -> ArrayRef {
    BooleanArray::from_slice((0..n).map(value).collect::<Vec<_>>()).boxed()
}

/// A dictionary column of `n` rows: row `i` holds the value of code `code(i)` (null for
/// [`NONE`]), codes below `universe`; the dictionary holds the values the rows use, in
/// order of first use, so that the column's statistics are those of its rows.
pub fn dictionary<'s>(
    n: usize,
    universe: usize,
    code: impl Fn(usize) -> u32,
    name: impl Fn(u32) -> &'s str,
) -> ArrayRef {
    dictionary_of_rows(n, universe, &code, |i| name(code(i)))
}

/// [`dictionary`], the value of a code given by the first row `i` that has it,
/// `text(i)`; `universe` is where the codes are expected to end (the table of keys
/// grows past it where one does not).
pub fn dictionary_of_rows<'s>(
    n: usize,
    universe: usize,
    code: impl Fn(usize) -> u32,
    text: impl Fn(usize) -> &'s str,
) -> ArrayRef {
    let mut values = MutableBinaryViewArray::<str>::new();
    let mut keys: Vec<u32> = Vec::with_capacity(n);
    // Taken out while in use: a panic drops it, and a call made meanwhile on this
    // thread (by a task the worker takes up while it waits) starts from an empty one.
    let mut local = DICTIONARY_KEYS.take();
    if local.len() < universe {
        local.resize(universe, NONE);
    }
    // The codes met, in order of first use: their keys go back to NONE after.
    let mut used = Vec::new();
    // A null row's key is NONE until the loop ends: most columns have none, and
    // need no validity at all.
    let mut nulls = false;
    for i in 0..n {
        let c = code(i);
        if c == NONE {
            keys.push(NONE);
            nulls = true;
            continue;
        }
        // A list's numbers come without their count: the table grows to them.
        if c as usize >= local.len() {
            local.resize((c as usize + 1).next_power_of_two(), NONE);
        }
        let key = &mut local[c as usize];
        if *key == NONE {
            *key = values.len() as u32;
            values.push_value(text(i));
            used.push(c);
        }
        keys.push(*key);
    }
    for c in used {
        local[c as usize] = NONE;
    }
    DICTIONARY_KEYS.set(local);
    let validity = nulls.then(|| {
        let valid: MutableBitmap = keys.iter().map(|&k| k != NONE).collect();
        for k in keys.iter_mut().filter(|k| **k == NONE) {
            *k = 0;
        }
        valid.into()
    });
    let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, keys.into(), validity);
    let values: Utf8ViewArray = values.into();
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    let values = values.boxed();
    match values.len() {
        // Every row null (its key 0): polars checks no key of such a column.
        0 => DictionaryArray::try_new(dtype, keys, values),
        // SAFETY: a row's key is the number of values there were before its value was
        // pushed, below their number now; a null row's key is 0, and there is a value.
        _ => unsafe { DictionaryArray::try_new_unchecked(dtype, keys, values) },
    }
    .expect("a dictionary of strings keyed by u32")
    .boxed()
}

/// A string column of codes, as polars would write its strings: a [`dictionary`]
/// (made from the codes, cheaper than polars finding it in the strings) when polars
/// surely gives it one, at most 128 rows or at most half of them distinct; else the
/// strings, for polars to decide (it writes plain a column whose values it estimates
/// over 75% distinct).
pub fn codes<'s>(
    n: usize,
    universe: usize,
    code: impl Fn(usize) -> u32,
    name: impl Fn(u32) -> &'s str,
) -> ArrayRef {
    codes_of_rows(n, universe, &code, |i| name(code(i)))
}

/// [`codes`], the value of a code given by any row `i` that has it, `text(i)`.
pub fn codes_of_rows<'s>(
    n: usize,
    universe: usize,
    code: impl Fn(usize) -> u32,
    text: impl Fn(usize) -> &'s str,
) -> ArrayRef {
    let column = dictionary_of_rows(n, universe, &code, &text);
    let distinct = column
        .as_any()
        .downcast_ref::<DictionaryArray<u32>>()
        .map_or(0, |d| d.values().len());
    if n <= ALWAYS_DICTIONARY || distinct * 2 <= n {
        return column;
    }
    strings(n, |i| (code(i) != NONE).then(|| Cow::Borrowed(text(i))))
}

thread_local! {
    /// [`dictionary`]'s key of each code, [`NONE`] for a code not met yet; all NONE
    /// between calls. Kept by each thread from one call to the next, as long as the
    /// largest universe it has seen (4 bytes a code: 4 MB a million tube IDs): a city's
    /// tube codes are millions, and a table made for every batch would be filled and
    /// faulted in every time for the few a batch uses.
    static DICTIONARY_KEYS: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

fn failed(e: PolarsError) -> Error {
    Error::Internal(format!("writing a Parquet file: {e}"))
}

/// `frame` with a `shard` column, last, holding `shard` on every row.
pub fn with_shard(frame: &DataFrame, shard: &str) -> Result<DataFrame> {
    let mut frame = frame.clone();
    let column = Column::new("shard".into(), vec![shard; frame.height()]);
    frame
        .with_column(column)
        .map_err(|e| Error::Internal(format!("adding the shard column: {e}")))?;
    Ok(frame)
}

/// The Arrow type readers should see for a column of type `dtype`: views become their
/// plain forms.
fn plain(dtype: &ArrowDataType) -> ArrowDataType {
    match dtype {
        ArrowDataType::Utf8View | ArrowDataType::LargeUtf8 => ArrowDataType::Utf8,
        ArrowDataType::BinaryView | ArrowDataType::LargeBinary => ArrowDataType::Binary,
        other => other.clone(),
    }
}

/// A string column.
pub fn text<'a>(name: &str, values: impl IntoIterator<Item = Option<&'a str>>) -> Column {
    values
        .into_iter()
        .collect::<StringChunked>()
        .with_name(name.into())
        .into_column()
}

/// An Int64 column without nulls.
pub fn int(name: &str, values: impl IntoIterator<Item = i64>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

/// An Int64 column.
pub fn int_opt(name: &str, values: impl IntoIterator<Item = Option<i64>>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

/// A Float64 column.
pub fn float(name: &str, values: impl IntoIterator<Item = Option<f64>>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

/// A Boolean column.
pub fn boolean(name: &str, values: impl IntoIterator<Item = Option<bool>>) -> Column {
    Column::new(name.into(), values.into_iter().collect::<Vec<_>>())
}

/// A timestamp column: microseconds, UTC-adjusted, tagged `Asia/Shanghai`.
pub fn timestamp(name: &str, values: impl IntoIterator<Item = Option<Micros>>) -> Column {
    // SAFETY: a valid IANA zone name, known at compile time.
    let tz = unsafe { TimeZone::from_static(ZONE) };
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Microseconds, Some(tz))
        .into_column()
}

/// The time zone every timestamp column is tagged with.
const ZONE: &str = "Asia/Shanghai";

/// The Arrow type of a [`timestamp`] column.
pub fn timestamp_type() -> ArrowDataType {
    ArrowDataType::Timestamp(
        polars_arrow::datatypes::TimeUnit::Microsecond,
        Some(ZONE.into()),
    )
}

/// A data frame of `columns`, which must be of one height.
pub fn frame(columns: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new_infer_height(columns)
        .map_err(|e| Error::Internal(format!("building a table: {e}")))
}

/// The data frame of a list: one column for each of `columns`, one row for each of
/// `rows`.
pub fn list_frame<R: Sync>(columns: &[ListColumn<R>], rows: &[R]) -> Result<DataFrame> {
    // Columns are made on the workers: a city's people table has ten million rows.
    frame(
        columns
            .par_iter()
            .map(|c| {
                let values = rows.iter().map(|r| (c.value)(r));
                match c.kind {
                    Kind::Text | Kind::Code => text(c.name, values.map(|v| v.text())),
                    Kind::Int => int_opt(c.name, values.map(|v| v.int())),
                    Kind::Float => float(c.name, values.map(|v| v.float())),
                    Kind::Time => timestamp(c.name, values.map(|v| v.time())),
                    Kind::Bool => boolean(c.name, values.map(|v| v.bool())),
                }
            })
            .collect(),
    )
}

/// The Arrow columns of `rows` of a list, one for each of `columns`, made on the
/// workers: a row group of a list written a batch at a time (see
/// [`ArrowBatches`]), typed as [`list_frame`] types them.
pub fn list_columns<R: Sync>(columns: &[ListColumn<R>], rows: &[R]) -> Vec<ArrayRef> {
    let n = rows.len();
    columns
        .par_iter()
        .with_max_len(1)
        .map(|c| {
            let value = |i: usize| (c.value)(&rows[i]);
            match (c.kind, c.code) {
                // A column of few values is numbered by its rows: a dictionary made from
                // the numbers where polars would give it one.
                (Kind::Text | Kind::Code, Some(code)) => codes_of_rows(
                    n,
                    0,
                    |i| code(&rows[i]),
                    |i| value(i).text().unwrap_or_default(),
                ),
                (Kind::Text | Kind::Code, None) => {
                    strings(n, |i| value(i).text().map(Cow::Borrowed))
                }
                (Kind::Int, _) => {
                    PrimitiveArray::<i64>::from_trusted_len_iter((0..n).map(|i| value(i).int()))
                        .boxed()
                }
                (Kind::Float, _) => {
                    PrimitiveArray::<f64>::from_trusted_len_iter((0..n).map(|i| value(i).float()))
                        .boxed()
                }
                (Kind::Time, _) => {
                    PrimitiveArray::<i64>::from_trusted_len_iter((0..n).map(|i| value(i).time()))
                        .to(timestamp_type())
                        .boxed()
                }
                (Kind::Bool, _) => {
                    BooleanArray::from_trusted_len_iter((0..n).map(|i| value(i).bool())).boxed()
                }
            }
        })
        .collect()
}

/// Every column of `columns` gives values of its declared kind for `row`.
pub fn kinds_hold<R>(columns: &[ListColumn<R>], row: &R) -> bool {
    columns.iter().all(|c| (c.value)(row).is(c.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_repeating_the_row_before_shares_its_bytes() {
        let long = "no tube with this ID was sampled";
        let other = "another value of more than twelve bytes";
        let values = [
            Some(long),
            Some(long),
            None,
            Some(long),
            Some("short"),
            Some("short"),
            Some(other),
            Some(other),
            Some(other),
        ];
        let array = strings(values.len(), |i| values[i].map(Cow::Borrowed));
        let array = array.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        assert_eq!(array.iter().collect::<Vec<_>>(), values);
        // The first of each run of a long value is held; after a null, again.
        assert_eq!(array.total_buffer_len(), 2 * long.len() + other.len());
        let lengths: usize = values.iter().flatten().map(|v| v.len()).sum();
        assert_eq!(array.total_bytes_len(), lengths);
        assert_eq!(array.null_count(), 1);
    }

    #[test]
    fn string_columns_hold_what_polars_builder_holds() {
        // Nulls first, between and last; the empty string; strings a view holds (up to
        // 12 bytes) and just too long for one; long ones repeated, after a null too;
        // Chinese text. Buffers of 64 bytes, so that long strings fill several.
        let texts = [
            "",
            "a",
            "twelve bytes",
            "thirteen byte",
            "公寓12",
            "公寓12-305室",
            "no tube with this ID was sampled",
            "a string far longer than any buffer of sixty-four bytes holds, alone",
        ];
        let mut state = 7u64;
        let values: Vec<Option<&str>> = (0..2_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                match (i, state >> 61) {
                    (0..3, _) | (1_997.., _) | (_, 0) => None,
                    _ => Some(texts[(state >> 40) as usize % texts.len()]),
                }
            })
            .collect();
        // Also from the fourth row: values before the first null.
        assert!(values[3].is_some());
        for (values, buffer_bytes) in [
            (&values[..], 64),
            (&values[3..], 64),
            (&values[..], BUFFER_BYTES),
        ] {
            let mut builder = MutableBinaryViewArray::<str>::new();
            for v in values {
                builder.push(*v);
            }
            let expected: Utf8ViewArray = builder.into();
            let array = strings_in(values.len(), |i| values[i].map(Cow::Borrowed), buffer_bytes);
            let array = array.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
            assert_eq!(array.iter().collect::<Vec<_>>(), values);
            // Views as the builder's: whole where they hold their string (or a null),
            // length and first bytes where they point into a buffer.
            for (view, like) in array.views().iter().zip(expected.views().iter()) {
                match like.is_inline() {
                    true => assert_eq!(view, like),
                    false => assert_eq!((view.length, view.prefix), (like.length, like.prefix)),
                }
            }
            assert_eq!(array.total_bytes_len(), expected.total_bytes_len());
            assert_eq!(array.null_count(), expected.null_count());
            let held: usize = array.data_buffers().iter().map(|b| b.len()).sum();
            assert_eq!(array.total_buffer_len(), held);
            assert!(array
                .data_buffers()
                .iter()
                .all(|b| b.len() <= buffer_bytes.max(texts[7].len())));
            if buffer_bytes == 64 {
                assert!(array.data_buffers().len() > 10);
            }
        }
        // Without a null, no validity.
        let full = strings(3, |i| Some(Cow::Borrowed(texts[i])));
        assert!(full.validity().is_none());
        assert_eq!(strings(0, |_| None).len(), 0);
        // A long string shares the bytes of the row before only: after a short one it
        // is held again.
        let (long, short) = (texts[6], texts[1]);
        let runs = [long, short, long, long];
        let runs = strings(runs.len(), |i| Some(Cow::Borrowed(runs[i])));
        let runs = runs.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        assert_eq!(runs.total_buffer_len(), 2 * long.len());
    }

    #[test]
    fn a_dictionary_holds_the_values_used_in_order_of_first_use() {
        let codes = [3, NONE, 3, 7, 1, 7];
        let names = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];
        let array = dictionary(
            codes.len(),
            names.len(),
            |i| codes[i],
            |c| names[c as usize],
        );
        let array = array
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .expect("a dictionary of u32 keys");
        let values = array
            .values()
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .expect("string values");
        assert_eq!(values.values_iter().collect::<Vec<_>>(), ["c3", "c7", "c1"]);
        let shown: Vec<Option<&str>> = (0..codes.len())
            .map(|i| array.keys().get(i).map(|k| values.value(k as usize)))
            .collect();
        assert_eq!(
            shown,
            [
                Some("c3"),
                None,
                Some("c3"),
                Some("c7"),
                Some("c1"),
                Some("c7")
            ]
        );
        // A second dictionary of the same codes starts afresh (the keys are kept by the
        // thread between calls).
        let again = dictionary(
            codes.len(),
            names.len(),
            |i| codes[i],
            |c| names[c as usize],
        );
        assert_eq!(
            again
                .as_any()
                .downcast_ref::<DictionaryArray<u32>>()
                .map(|a| a.keys().values().as_slice().to_vec()),
            Some(array.keys().values().as_slice().to_vec())
        );
        let reversed = dictionary(
            codes.len(),
            names.len(),
            |i| codes[codes.len() - 1 - i],
            |c| names[c as usize],
        );
        let reversed = reversed
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .expect("a dictionary of u32 keys");
        // Codes 7, 1, 7, 3, none, 3: keys by first use, the null row 0.
        assert_eq!(reversed.keys().values().as_slice(), [0, 1, 0, 2, 0, 2]);
        let none = dictionary(2, 4, |_| NONE, |c| names[c as usize]);
        assert_eq!(none.null_count(), 2);
        assert_eq!(dictionary(3, 1, |_| 0, |_| "only").null_count(), 0);
        // A column without a null row has no validity to write.
        assert!(dictionary(3, 1, |_| 0, |_| "only").validity().is_none());
        // Null rows first and last, around a key of 0.
        let ends = [NONE, 5, NONE];
        let ends = dictionary(3, 8, |i| ends[i], |c| names[c as usize]);
        let ends = ends
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .expect("a dictionary of u32 keys");
        assert_eq!(
            ends.keys().iter().map(|k| k.copied()).collect::<Vec<_>>(),
            [None, Some(0), None]
        );
        assert_eq!(ends.keys().values().as_slice(), [0, 0, 0]);
    }

    /// Writes a file of each of `sizes` rows twice, with `polars` (the whole table at
    /// once) and with `batches`, and checks that the two are the same bytes.
    fn same_files(
        sizes: &[usize],
        polars: impl Fn(usize, &mut Output) -> Result<()>,
        batches: impl Fn(usize, &mut Output) -> Result<()>,
    ) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let out = dir.path().join("out");
        let staging = super::super::staging::Staging::new(&out, &[]).unwrap();
        for &n in sizes {
            let name = |way: &str| format!("{way}-{n}.parquet");
            staging.write(&name("polars"), |o| polars(n, o)).unwrap();
            staging.write(&name("batches"), |o| batches(n, o)).unwrap();
        }
        staging.commit().unwrap();
        let read = |name: String| std::fs::read(out.join(name)).unwrap();
        for n in sizes {
            assert!(
                read(format!("polars-{n}.parquet")) == read(format!("batches-{n}.parquet")),
                "{n} rows"
            );
        }
    }

    #[test]
    fn batches_cut_as_row_groups_make_the_file_polars_makes() {
        // Either side of one and of two groups' worth, and a size that does not divide
        // evenly.
        let value = |i: usize| (i as i64 * 7919) % 1000;
        let whole = |n: usize| frame(vec![int("v", (0..n).map(value))]);
        same_files(
            &[0, 1, 262_143, 262_144, 524_287, 524_288, 524_288 + 100_003],
            |n, out| write(out, whole(n)?),
            |n, out| {
                let mut file = ArrowBatches::new(out, &whole(n)?)?;
                for group in row_groups(n) {
                    let values: Vec<i64> = group.map(value).collect();
                    file.write(&[PrimitiveArray::<i64>::from_vec(values).boxed()])?;
                }
                file.finish()
            },
        );
    }

    #[test]
    fn a_list_written_in_batches_is_the_file_polars_makes_of_the_whole_list() {
        use super::super::columns::{column, Value};
        struct Row {
            text: Option<String>,
            /// The text's number, for the same column numbered by its rows.
            number: u32,
            /// A text nearly every row has its own of, and its number.
            own: String,
            own_number: u32,
            code: Option<&'static str>,
            int: Option<i64>,
            float: Option<f64>,
            time: Option<Micros>,
            bool: Option<bool>,
        }
        let columns = [
            column("text", "文", 1.0, Kind::Text, |r: &Row| {
                Value::Text(r.text.as_deref())
            }),
            column("code", "码", 1.0, Kind::Code, |r: &Row| {
                Value::Code(r.code)
            }),
            // Numbered by their rows: a dictionary made from the numbers where polars
            // makes one of the texts, the texts where it might not.
            column("numbered", "编", 1.0, Kind::Text, |r: &Row| {
                Value::Text(r.text.as_deref())
            })
            .coded(|r: &Row| r.number),
            column("numbered_code", "编码", 1.0, Kind::Code, |r: &Row| {
                Value::Code(r.code)
            })
            .coded(|r: &Row| match r.code {
                Some(c) => ["open", "cleared", "confirmed"]
                    .iter()
                    .position(|&x| x == c)
                    .unwrap() as u32,
                None => NONE,
            }),
            column("numbered_own", "编号", 1.0, Kind::Text, |r: &Row| {
                Value::Text(Some(&r.own))
            })
            .coded(|r: &Row| r.own_number),
            // A roster without the column: every row null.
            column("numbered_none", "无", 1.0, Kind::Text, |_: &Row| {
                Value::Text(None)
            })
            .coded(|_: &Row| NONE),
            column("int", "整", 1.0, Kind::Int, |r: &Row| Value::Int(r.int)),
            column("float", "小", 1.0, Kind::Float, |r: &Row| {
                Value::Float(r.float)
            }),
            column("time", "时", 1.0, Kind::Time, |r: &Row| {
                Value::Time(r.time)
            }),
            column("bool", "是", 1.0, Kind::Bool, |r: &Row| {
                Value::Bool(r.bool)
            }),
        ];
        // Every kind with nulls; texts that repeat (a dictionary) and that do not.
        let row = |i: usize| Row {
            text: (i % 5 != 1).then(|| format!("室 {}", i % 40)),
            number: if i % 5 != 1 { (i % 40) as u32 } else { NONE },
            // Every tenth row shares the row before's text: polars writes them plain.
            own: format!("人 {}", i - usize::from(i % 10 == 9)),
            own_number: (i - usize::from(i % 10 == 9)) as u32,
            code: (i % 7 != 2).then_some(["open", "cleared", "confirmed"][i % 3]),
            int: (!i.is_multiple_of(4)).then_some(i as i64 * 31 - 500),
            float: (i % 6 != 5).then_some(i as f64 / 8.0),
            time: (i % 9 != 4).then_some(1_649_548_800_000_000 + i as i64 * 61_000_000),
            bool: (!i.is_multiple_of(3)).then_some(i.is_multiple_of(2)),
        };
        let rows = |n: usize| (0..n).map(row).collect::<Vec<Row>>();
        same_files(
            // One row group, and three.
            &[0, 1, 129, 3000, 3 * 262_144 + 5],
            |n, out| write(out, list_frame(&columns, &rows(n))?),
            |n, out| {
                let rows = rows(n);
                let mut file = ArrowBatches::new(out, &list_frame(&columns, &[])?)?;
                for group in row_groups(n) {
                    file.write(&list_columns(&columns, &rows[group]))?;
                }
                file.finish()
            },
        );
    }

    #[test]
    fn code_columns_are_written_as_polars_writes_their_strings() {
        // Few rows, few values, half and just over half distinct, nearly all distinct
        // (which polars writes plain), and nulls.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let out = dir.path().join("out");
        let staging = super::super::staging::Staging::new(&out, &[]).unwrap();
        let like = frame(vec![text("v", [None::<&str>])]).unwrap();
        let names: Vec<String> = (0..300).map(|v| format!("site {v}")).collect();
        let cases = [(100, 100), (300, 3), (300, 150), (300, 151), (300, 290)];
        for (n, values) in cases {
            let code = |i: usize| {
                if i % 7 == 3 {
                    NONE
                } else {
                    (i % values) as u32
                }
            };
            let name = |c: u32| names[c as usize].as_str();
            let columns = [
                codes(n, values, code, name),
                strings(n, |i| {
                    (code(i) != NONE).then(|| Cow::Borrowed(name(code(i))))
                }),
            ];
            for (column, kind) in columns.into_iter().zip(["codes", "strings"]) {
                staging
                    .write(&format!("{kind}-{n}-{values}.parquet"), |out| {
                        let mut file = ArrowBatches::new(out, &like)?;
                        file.write(&[column])?;
                        file.finish()
                    })
                    .unwrap();
            }
        }
        staging.commit().unwrap();
        let read = |name: String| std::fs::read(out.join(name)).unwrap();
        for (n, values) in cases {
            assert!(
                read(format!("codes-{n}-{values}.parquet"))
                    == read(format!("strings-{n}-{values}.parquet")),
                "{n} rows, {values} values"
            );
        }
    }

    #[test]
    fn distinct_columns_are_written_as_polars_would_write_them() {
        // polars tries a dictionary for a string column and gives it up when the
        // values hardly repeat; a column marked distinct skips the try, so the file must
        // come out the same. A column that repeats shows the marking is not ignored.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let out = dir.path().join("out");
        let like = frame(vec![text("id", [None::<&str>]), text("kind", [None])]).unwrap();
        let ids = |n: usize| strings(n, |i| Some(Cow::Owned(format!("P{i:07}"))));
        let kinds = |n: usize| strings(n, |i| Some(Cow::Borrowed(["a", "b"][i % 2])));
        let staging = super::super::staging::Staging::new(&out, &[]).unwrap();
        let write = |name: &str, distinct: &[&str]| {
            staging
                .write(name, |out| {
                    let mut file = ArrowBatches::new(out, &like)?;
                    for name in distinct {
                        file = file.distinct(Some(name));
                    }
                    // Batches on both sides of the size below which polars always
                    // tries a dictionary.
                    for n in [5000, 300, 1, 128, 129] {
                        file.write(&[ids(n), kinds(n)])?;
                    }
                    file.finish()
                })
                .unwrap();
        };
        write("chosen.parquet", &[]);
        write("distinct.parquet", &["id"]);
        write("both.parquet", &["id", "kind"]);
        staging.commit().unwrap();
        let read = |name: &str| std::fs::read(out.join(name)).unwrap();
        assert_eq!(read("chosen.parquet"), read("distinct.parquet"));
        assert!(read("both.parquet").len() > read("chosen.parquet").len());
    }

    #[test]
    fn fast_columns_read_the_same_and_are_no_larger() {
        // Pseudonyms: 16 hex digits, each a new one; phone numbers, 11 digits. Their
        // pages are compressed at zstd's level 1, not the default: the file must read
        // back the same, no larger, and the other columns' pages stay as they were.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let out = dir.path().join("out");
        let like = frame(vec![
            text("person_id", [None::<&str>]),
            text("kind", [None]),
            text("phone", [None]),
        ])
        .unwrap();
        let hex = |i: usize| {
            let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x ^= x >> 29;
            format!("{:016x}", x.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        };
        let ids = |n: usize| strings(n, |i| Some(Cow::Owned(hex(i))));
        let phones = |n: usize| {
            strings(n, |i| {
                let digits = u64::from_str_radix(&hex(i + n)[..12], 16).unwrap();
                Some(Cow::Owned(format!("13{:09}", digits % 1_000_000_000)))
            })
        };
        let kinds = |n: usize| strings(n, |i| Some(Cow::Borrowed(["a", "bb"][i % 3 / 2])));
        let staging = super::super::staging::Staging::new(&out, &[]).unwrap();
        let write = |name: &str, fast: &[&str]| {
            staging
                .write(name, |out| {
                    let mut file = ArrowBatches::new(out, &like)?.distinct(Some("person_id"));
                    file = file.fast(fast);
                    for n in [200_000, 7] {
                        file.write(&[ids(n), kinds(n), phones(n)])?;
                    }
                    file.finish()
                })
                .unwrap();
        };
        write("default.parquet", &[]);
        write("random.parquet", &["person_id"]);
        write("unknown.parquet", &["no such column"]);
        write("phone.parquet", &["phone"]);
        write("both.parquet", &["phone", "no such column", "person_id"]);
        staging.commit().unwrap();
        let bytes = |name: &str| std::fs::read(out.join(name)).unwrap();
        let frame_of = |name: &str| {
            ParquetReader::new(std::fs::File::open(out.join(name)).unwrap())
                .finish()
                .unwrap()
        };
        // Compared as a whole, not printed: the files are megabytes.
        assert!(bytes("unknown.parquet") == bytes("default.parquet"));
        assert!(
            bytes("random.parquet") != bytes("default.parquet"),
            "the marking is not ignored"
        );
        assert!(frame_of("random.parquet").equals_missing(&frame_of("default.parquet")));
        assert!(bytes("random.parquet").len() <= bytes("default.parquet").len());
        // Each column chunk's compressed size: person_id's changes, the others' do not.
        let sizes = |name: &str, column: &str| -> Vec<i64> {
            let mut file = std::fs::File::open(out.join(name)).unwrap();
            let metadata = polars_parquet::read::read_metadata(&mut file).unwrap();
            metadata
                .row_groups
                .iter()
                .flat_map(|group| group.columns_under_root_iter(column).unwrap())
                .map(|chunk| chunk.compressed_size())
                .collect()
        };
        for column in ["kind", "phone"] {
            assert_eq!(
                sizes("random.parquet", column),
                sizes("default.parquet", column)
            );
        }
        assert!(sizes("random.parquet", "person_id") != sizes("default.parquet", "person_id"));
        assert!(sizes("phone.parquet", "phone") != sizes("default.parquet", "phone"));
        // Several names, one unknown: each known one is compressed as when marked
        // alone, and the column not named as when none is.
        assert!(frame_of("both.parquet").equals_missing(&frame_of("default.parquet")));
        assert_eq!(
            sizes("both.parquet", "person_id"),
            sizes("random.parquet", "person_id")
        );
        assert_eq!(
            sizes("both.parquet", "phone"),
            sizes("phone.parquet", "phone")
        );
        assert_eq!(
            sizes("both.parquet", "kind"),
            sizes("default.parquet", "kind")
        );
    }
}
