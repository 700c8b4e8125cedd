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
use polars::prelude::*;
use polars_parquet::write::schema_to_metadata_key;
use rayon::prelude::*;

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
    let tz = unsafe { TimeZone::from_static("Asia/Shanghai") };
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Microseconds, Some(tz))
        .into_column()
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

/// Writes `rows` with `columns` a row group of a million rows at a time, so that a
/// city's list is never a frame whole (`plan.parquet`: 10 M rows).
pub fn write_list<R: Sync>(out: &mut Output, columns: &[ListColumn<R>], rows: &[R]) -> Result<()> {
    const BATCH: usize = 1 << 20;
    let mut file = Batches::new(out, &list_frame(columns, &[])?)?;
    for batch in rows.chunks(BATCH) {
        file.write(&list_frame(columns, batch)?)?;
    }
    file.finish()
}

/// Every column of `columns` gives values of its declared kind for `row`.
pub fn kinds_hold<R>(columns: &[ListColumn<R>], row: &R) -> bool {
    columns.iter().all(|c| (c.value)(row).is(c.kind))
}
