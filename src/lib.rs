//! hrcast: recurrent models (LSTM, GRU) that predict heart rate through a workout.
//!
//! The crate is organised the way the data flows:
//! - [`data`] reads raw workouts (FIT, TCX, GPX, FitRec JSON lines) into [`data::Workout`]s;
//! - [`synth`] generates physiologically grounded synthetic workouts in the FitRec format;
//! - [`features`] resamples a workout onto a uniform grid and derives the 11 model features;
//! - [`prepare`] windows, masks and splits sequences and writes them with [`dataset`];
//! - [`cli`] is the command line.

pub mod ablate;
pub mod atomic;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod dataset;
pub mod engine;
pub mod evaluate;
pub mod features;
pub mod model;
pub mod plot;
pub mod predict;
pub mod prepare;
pub mod schedule;
pub mod synth;
pub mod train;
