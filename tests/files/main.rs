//! Files in: the features of resampled workouts, real device files with their faults, and
//! corrupt processed data files and checkpoints.
//!
//! One test binary per group, so that the suite links hrcast, wgpu and naga a few times
//! instead of once per file; tests/common holds what the groups share.

mod brands;
#[path = "../common/mod.rs"]
mod common;
mod corrupt_files;
mod features;
mod history;
mod real_files;
mod real_workouts;
