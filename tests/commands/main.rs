//! The commands end to end: prepare, train, evaluate, predict, crossval and calibrate, run as a
//! user runs them, with the person-level inputs; what the terminal shows of them.
//!
//! One test binary per group, so that the suite links hrcast, wgpu and naga a few times
//! instead of once per file; tests/common holds what the groups share.

mod cli_prepare;
#[path = "../common/mod.rs"]
mod common;
mod crossval;
mod golden_prepare;
mod history_flags;
mod people;
mod person_inputs;
mod plots;
mod predict_route;
mod terminal;
mod workflow;
