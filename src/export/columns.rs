//! One column table per output list. A column's name (Parquet and CSV), its Chinese
//! header and width (workbooks) and how to get its value from a row are declared once,
//! in one [`Column`]; the Parquet, CSV and workbook writers all walk the same table, so
//! the three copies of a list cannot drift apart.

use crate::record::Micros;

/// The type of a column in every format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text: a UTF-8 string column, a text cell.
    Text,
    /// A code of the contract (`isolate_and_retest`, `positive`, …): a string column
    /// and a CSV cell as it is, its Chinese label in a workbook. Its values may be
    /// [`Value::Code`] or, for codes read back from a file, [`Value::Text`].
    Code,
    /// A whole number: Int64, a number cell.
    Int,
    /// A decimal number (a Ct value, a share): Float64, a number cell.
    Float,
    /// A moment: microseconds tagged `Asia/Shanghai` in Parquet, local time in CSV, a
    /// date-time cell.
    Time,
    /// Yes or no: Boolean in Parquet, `true`/`false` in CSV, 是/否 in a workbook.
    Bool,
}

/// One cell's value; `None` is null (an empty cell).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// For [`Kind::Text`].
    Text(Option<&'a str>),
    /// For [`Kind::Code`].
    Code(Option<&'static str>),
    /// For [`Kind::Int`].
    Int(Option<i64>),
    /// For [`Kind::Float`].
    Float(Option<f64>),
    /// For [`Kind::Time`].
    Time(Option<Micros>),
    /// For [`Kind::Bool`].
    Bool(Option<bool>),
}

impl<'a> Value<'a> {
    /// The text of a text or code value.
    pub fn text(self) -> Option<&'a str> {
        match self {
            Value::Text(t) => t,
            Value::Code(c) => c,
            _ => None,
        }
    }

    /// The number of an integer value.
    pub fn int(self) -> Option<i64> {
        match self {
            Value::Int(v) => v,
            _ => None,
        }
    }

    /// The number of a decimal value.
    pub fn float(self) -> Option<f64> {
        match self {
            Value::Float(v) => v,
            _ => None,
        }
    }

    /// The moment of a time value.
    pub fn time(self) -> Option<Micros> {
        match self {
            Value::Time(v) => v,
            _ => None,
        }
    }

    /// The truth of a yes-or-no value.
    pub fn bool(self) -> Option<bool> {
        match self {
            Value::Bool(v) => v,
            _ => None,
        }
    }

    /// Whether the value has the variant `kind` asks for.
    pub fn is(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Value::Text(_), Kind::Text | Kind::Code)
                | (Value::Code(_), Kind::Code)
                | (Value::Int(_), Kind::Int)
                | (Value::Float(_), Kind::Float)
                | (Value::Time(_), Kind::Time)
                | (Value::Bool(_), Kind::Bool)
        )
    }
}

/// One column of a list of rows of type `R`.
pub struct Column<R> {
    /// The Parquet and CSV name, ASCII snake_case.
    pub name: &'static str,
    /// The workbook header, in Chinese.
    pub header: &'static str,
    /// The workbook width, in Excel's character units.
    pub width: f64,
    /// The type.
    pub kind: Kind,
    /// The value of a row.
    pub value: for<'a> fn(&'a R) -> Value<'a>,
    /// For a text or code column of few distinct values (a building, a class, a
    /// status): a row's value's number ([`NONE`](crate::record::NONE) where it is
    /// null), the same for every row of the same text and different for different
    /// texts, and small (writers keep a table as long as the largest number: a
    /// building's or a value's index, not a hash). Writers that can give a value once
    /// and refer to it (a Parquet dictionary, a workbook's shared strings) use it
    /// instead of finding the repeats in the texts; a city's missing list is millions
    /// of rows.
    pub code: Option<fn(&R) -> u32>,
}

impl<R> Column<R> {
    /// The column with each row's value numbered by `code` (see [`Column::code`]).
    pub const fn coded(self, code: fn(&R) -> u32) -> Column<R> {
        Column {
            code: Some(code),
            ..self
        }
    }
}

/// A column of `R`: its name, Chinese header, width, type and value.
pub const fn column<R>(
    name: &'static str,
    header: &'static str,
    width: f64,
    kind: Kind,
    value: for<'a> fn(&'a R) -> Value<'a>,
) -> Column<R> {
    Column {
        name,
        header,
        width,
        kind,
        value,
        code: None,
    }
}
