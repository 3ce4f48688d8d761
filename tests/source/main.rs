//! Checks that read the repository's source: the module layering that src/lib.rs promises, and
//! every WGSL kernel translated by naga for Metal, DX12 and Vulkan without the hardware.
//!
//! One test binary per group, so that the suite links hrcast, wgpu and naga a few times
//! instead of once per file; tests/common holds what the groups share.

mod layering;
mod portability;
