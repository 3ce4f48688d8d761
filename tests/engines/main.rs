//! The engines: the CPU engine against PyTorch's fixtures and finite differences, each GPU kernel
//! against a plain CPU loop, whole GPU training steps against the CPU engine, and the choice of
//! device.
//!
//! One test binary per group, so that the suite links hrcast, wgpu and naga a few times
//! instead of once per file; tests/common holds what the groups share.

#[path = "../common/mod.rs"]
mod common;
mod cpu_engine;
mod cpu_fast;
mod cpu_gradcheck;
mod device_choice;
mod gpu_engine;
mod gpu_kernels;
