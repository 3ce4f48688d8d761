//! Checks that read the repository's source: the module layering that src/lib.rs promises.
//!
//! One test binary per group, so that the suite links hrcast, wgpu and naga a few times
//! instead of once per file; tests/common holds what the groups share.

mod layering;
