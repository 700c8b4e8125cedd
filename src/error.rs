//! The one error type of the library.
//!
//! Errors are sorted by who is at fault: the person who prepared an input file
//! ([`Error::Input`]), the person at the command line ([`Error::Usage`]), the machine
//! ([`Error::Io`]) or poolscreen itself ([`Error::Internal`]). No message ever quotes a
//! value from an input file: names, phones and ID numbers stay out of every error text.
//! Input errors cite the file, line and column instead.

use std::fmt;
use std::path::Path;

/// A place in an input file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The line number, starting at `1`, of the start of the record.
    pub line: Option<u64>,
    /// The column, as its header reads in the file.
    pub column: Option<String>,
    /// The byte offset, starting at `0`, from the start of the file.
    pub byte: Option<u64>,
}

impl Position {
    /// A position that names only a line.
    pub fn line(line: u64) -> Position {
        Position {
            line: Some(line),
            ..Position::default()
        }
    }

    /// A position that names only a byte offset.
    pub fn byte(byte: u64) -> Position {
        Position {
            byte: Some(byte),
            ..Position::default()
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, " column \"{column}\"")?;
        }
        if let Some(byte) = self.byte {
            write!(f, " (byte offset {byte})")?;
        }
        Ok(())
    }
}

/// Every error poolscreen can return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file cannot be used at all; the person who prepared it can fix it.
    #[error("{file}{position}: {message}")]
    Input {
        /// The file as it was named on the command line.
        file: String,
        /// Where in the file, as far as known.
        position: Position,
        /// What is wrong and what to do about it. Never quotes a cell value.
        message: String,
    },
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A bug in poolscreen.
    #[error("internal error, a bug in poolscreen (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// An input error at `position` of `file`.
    pub fn input(file: &str, position: Position, message: impl Into<String>) -> Error {
        Error::Input {
            file: file.to_string(),
            position,
            message: message.into(),
        }
    }

    /// The usage error of an output folder asked for where a file is.
    pub fn output_is_file(path: &Path) -> Error {
        Error::Usage(format!(
            "{}: the output path is a file, not a folder",
            path.display()
        ))
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// An error reading a file named on the command line (a rules or key file): a
    /// usage error, as for the inputs, when there is no such file or it is a folder;
    /// else an I/O error.
    pub fn named_file(path: &Path, source: std::io::Error) -> Error {
        match source.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Usage(format!("{}: no such file", path.display()))
            }
            std::io::ErrorKind::IsADirectory => {
                Error::Usage(format!("{}: a folder, not a file", path.display()))
            }
            _ => Error::io(path, source),
        }
    }

    /// The process exit status this error maps to: `2` for usage errors, `1` otherwise.
    pub fn exit_status(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(err: polars::error::PolarsError) -> Error {
        Error::Internal(format!("writing a table failed: {err}"))
    }
}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
