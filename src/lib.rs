//! hrcast: recurrent models (LSTM, GRU) that predict heart rate through a workout.
//!
//! The modules in the order the data flows; a module uses only modules listed above it (the
//! helpers at the end are used from anywhere and use nothing but each other):
//!
//! | module | holds |
//! | --- | --- |
//! | [`data`] | raw workouts: the FIT, TCX, GPX and FitRec readers, [`data::clean`] (what real files need dropped), walking input folders |
//! | [`features`] | resampling onto a uniform grid and the 11 model features; feature sets |
//! | [`model`] | the model's configuration, parameters in PyTorch's state_dict order, initialisation, normalization |
//! | [`dataset`] | the processed data file format (safetensors) and batches |
//! | [`workouts`] | workouts read from files and folders, cleaned, resampled and cut into windows; the person flags |
//! | [`people`] | `hrcast people`: what each person's workouts hold, per sport |
//! | [`synth`] | `hrcast synth`: physiologically grounded synthetic workouts |
//! | [`prepare`] | `hrcast prepare`: splits by person or time, the three files; the default data set |
//! | [`engine`] | the [`engine::Engine`]s: [`engine::cpu`] (hand-written BPTT, checked against an autodiff tape), [`engine::gpu`] (WGSL on wgpu), and what both share (optimizer, scalars, layouts, dropout masks) |
//! | [`checkpoint`] | the checkpoint format, and opening an engine on a checkpoint |
//! | [`score`] | scoring a model on a split: batched predictions, validation loss, MAE/RMSE/R² |
//! | [`evaluate`] | `hrcast evaluate`: metrics, predictions, plots |
//! | [`train`] | `hrcast train`: [`train::fit`] on splits in memory, the training loop, its options, configuration and saved state |
//! | [`predict`] | `hrcast predict`: a raw workout's (or a planned route's, timed from a pace) predicted heart rate, its plot and summary |
//! | [`bench`] | `hrcast bench`: timing a configuration on one engine |
//! | [`tune`] | `hrcast bench --tune`: the fastest GPU kernel variant of an adapter, in the tuning cache |
//! | [`ablate`] | `hrcast ablate`: one model per feature set |
//! | [`calibrate`] | `hrcast calibrate`: fine-tuning a trained model on one person's workouts |
//! | [`crossval`] | `hrcast crossval`: cross-validation across people, windows and whole workouts |
//! | [`cli`] | parsing the command line and dispatching to the commands above |
//! | [`schedule`] | ReduceLROnPlateau (helper) |
//! | [`plot`] | PNG charts with a bundled font (helper) |
//! | [`atomic`] | writing files under a temporary name, renamed when complete (helper) |
//! | [`values`] | command-line value parsers shared by the commands' options (helper) |
//!
//! The file formats, the command-line contract, the model's equations and the pitfalls of
//! software GPU adapters are described in `docs/`.

pub mod ablate;
pub mod atomic;
pub mod bench;
pub mod calibrate;
pub mod checkpoint;
pub mod cli;
pub mod crossval;
pub mod data;
pub mod dataset;
pub mod engine;
pub mod evaluate;
pub mod features;
pub mod model;
pub mod people;
pub mod plot;
pub mod predict;
pub mod prepare;
pub mod schedule;
pub mod score;
pub mod synth;
pub mod train;
pub mod tune;
pub mod values;
pub mod workouts;
