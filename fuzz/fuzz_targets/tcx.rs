//! Fuzzes the TCX reader: `data::read_bytes(Format::Tcx, ..)`, then `features::resample`.
#![no_main]

#[path = "common.rs"]
mod common;

use hrcast::data::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: common::init(), |bytes: &[u8]| common::read_and_resample(Format::Tcx, bytes));
