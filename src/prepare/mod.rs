//! `hrcast prepare`: raw workouts in, the processed train/val/test files out.
//!
//! The workouts are loaded and cut into windows of `seq_len` steps as [`crate::workouts`]
//! describes. Workouts, never windows, are assigned to splits, so no workout leaks into two
//! splits:
//! - by user: users are shuffled with the seed and given to train, val and test in turn until
//!   each split holds its share of windows (a user's windows all land in one split). Where there
//!   are fewer people than non-zero shares (one person's own folder), each person's workouts are
//!   split by time instead, and the summary says so;
//! - by time: within each user, workouts in chronological order fill train, then val, then test
//!   (the model is tested on each person's later workouts).
//!
//! Every non-zero share gets at least one group (user or workout) when there are enough groups.
//! A train share of 0 (`--split 0,0,1`) prepares an evaluation-only set. The three files of one
//! run carry the same `set_id`, so that a reader can refuse a train file beside the val file of
//! another run (a run killed between its renames).
//!
//! | file | holds |
//! | --- | --- |
//! | options.rs | the command-line options |
//! | split.rs | the split of each workout |
//! | command.rs | the command: the passes run, the files written together, summarized |
//! | passes.rs | the two passes over the inputs, and the plan made between them |
//! | spill.rs | the resampled workouts on disk between the passes |
//! | default_data.rs | the data `train` and `evaluate` read when no folder is named |

mod command;
pub mod default_data;
mod options;
mod passes;
mod spill;
mod split;

pub use command::{SPLIT_NAMES, Summary, prepare, run};
pub use options::{PrepareOptions, SplitBy, parse_split};
