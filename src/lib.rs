//! poolscreen reconciles a pooled nucleic-acid screening round: the roster, the
//! sampling records and the lab's results go in; the retest list, the missing list and
//! per-building figures come out. See `ARCHITECTURE.md` for the map of the stages.

#![warn(missing_docs)]

pub mod assign;
pub mod buckets;
pub mod classify;
pub mod closure;
pub mod cmd;
pub mod error;
pub mod export;
pub mod fuzzing;
pub mod generate;
pub mod history;
pub mod ingest;
pub mod memory;
pub mod normalize;
pub mod order;
pub mod pieces;
pub mod pipeline;
pub mod plan;
pub mod privacy;
pub mod progress;
pub mod reconcile;
pub mod record;
pub mod report;
pub mod retest;
pub mod rules;
pub mod strings;
pub mod summarize;
#[cfg(test)]
mod testing;
pub mod time;
