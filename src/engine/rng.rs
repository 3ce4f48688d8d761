//! A counter-based random generator: the value at a counter is a pure function of the seed and
//! the counter, so any engine (a CPU loop or a GPU invocation) draws the same number for the same
//! element without sharing state. It is the PCG hash (O'Neill's `pcg_hash`, as used in GPU
//! shaders) applied to the seed mixed with the counter.

/// PCG output hash of a 32-bit state.
pub fn pcg_hash(input: u32) -> u32 {
    let state = input.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// A uniform number in [0, 1) for `counter` under `seed` (24 bits of precision, exact in f32).
pub fn uniform(seed: u32, counter: u32) -> f32 {
    let bits = pcg_hash(pcg_hash(seed) ^ counter);
    (bits >> 8) as f32 / (1u32 << 24) as f32
}

/// The seed of the dropout masks of one training step and one layer boundary.
pub fn dropout_seed(run_seed: u64, step: u64, layer: u32) -> u32 {
    let mixed = pcg_hash(run_seed as u32 ^ pcg_hash((run_seed >> 32) as u32));
    pcg_hash(mixed ^ pcg_hash(step as u32 ^ pcg_hash(layer)))
}

/// Inverted dropout's multiplier for element `counter`: 0 with probability `p`, else 1/(1-p).
pub fn dropout_scale(seed: u32, counter: u32, p: f32) -> f32 {
    if uniform(seed, counter) < p {
        0.0
    } else {
        1.0 / (1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_uniform_and_deterministic() {
        let n = 100_000;
        let draws: Vec<f32> = (0..n).map(|i| uniform(7, i)).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = draws.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below = draws.iter().filter(|u| **u < 0.3).count() as f32 / n as f32;
        assert!((below - 0.3).abs() < 0.01, "P(u < 0.3) = {below}");
        assert_eq!(uniform(7, 12), uniform(7, 12));
        assert_ne!(uniform(7, 12), uniform(8, 12));
        assert_ne!(dropout_seed(0, 1, 0), dropout_seed(0, 2, 0));
        assert_ne!(dropout_seed(0, 1, 0), dropout_seed(0, 1, 1));
    }
}
