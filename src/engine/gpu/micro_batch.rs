//! Splitting a batch that exceeds the adapter's buffer limits into micro-batches.
//!
//! A batch whose buffers would exceed what the adapter binds (wgpu's default is 128 MiB per
//! storage binding: batch 256 x 500 steps x hidden 128 needs 256 MiB of LSTM gates) runs as
//! micro-batches of equal size, one submit each, into the same buffers: the gradients
//! accumulate (they are cleared at the start of a step), the loss is normalized by the whole
//! batch's weight, dropout draws each sequence's own mask, and clipping and Adam run once at
//! the end, so the step is the same step.

use super::buffers::F32;
use super::kernels::MAX_GROUPS;
use super::variant::MIN_MATMUL_BLOCK;
use crate::model::ModelConfig;
use anyhow::{Result, bail};
use std::ops::Range;

/// The largest buffer a plan may bind: the adapter's binding and buffer limits.
pub fn max_buffer_bytes(limits: &wgpu::Limits) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
}

/// How a batch of `batch` sequences of `steps` steps runs: the sequence ranges of its
/// micro-batches. One range (the whole batch) unless one of the step's buffers would exceed
/// what the adapter binds or allocates, or a dispatch grid its limit; then the batch splits
/// into as few equal micro-batches as fit. Fails where a single sequence does not fit.
pub fn micro_batches(
    c: &ModelConfig,
    limits: &wgpu::Limits,
    batch: usize,
    steps: usize,
) -> Result<Vec<Range<usize>>> {
    let max_bytes = max_buffer_bytes(limits);
    // The widest per-row buffer: gates [rows, 4H]; xw and d_xw are [rows, gates · H].
    let row_floats = (4 * c.hidden_size)
        .max(c.hidden_size * c.directions())
        .max(c.input_size);
    let row_bytes = row_floats as u64 * F32;
    // A matmul's grid covers at least MIN_MATMUL_BLOCK rows per workgroup, at most MAX_GROUPS
    // of them.
    let max_rows =
        (max_bytes / row_bytes).min(u64::from(MAX_GROUPS) * u64::from(MIN_MATMUL_BLOCK)) as usize;
    let fit = max_rows / steps.max(1);
    if fit == 0 {
        bail!(
            "one sequence of {steps} steps needs {} MiB of GPU buffer for its gates, more than \
             this adapter's {} MiB per buffer; use shorter sequences (--seq-len) or --device cpu",
            (steps as u64 * row_bytes) >> 20,
            max_bytes >> 20
        );
    }
    let parts = batch.div_ceil(fit).max(1);
    let size = batch.div_ceil(parts);
    Ok((0..batch)
        .step_by(size.max(1))
        .map(|b0| b0..(b0 + size).min(batch))
        .collect())
}

/// The log's note where a batch runs as micro-batches, else None.
pub fn note(c: &ModelConfig, limits: &wgpu::Limits, batch: usize, steps: usize) -> Option<String> {
    let parts = micro_batches(c, limits, batch, steps).ok()?;
    (parts.len() > 1).then(|| {
        format!(
            "GPU engine: a batch of {batch} x {steps} steps exceeds this adapter's {} MiB per \
             buffer; each step runs as {} micro-batches of up to {} sequences (one submit each, \
             gradients accumulated: the same step)",
            max_buffer_bytes(limits) >> 20,
            parts.len(),
            parts[0].len()
        )
    })
}
