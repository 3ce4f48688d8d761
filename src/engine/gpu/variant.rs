//! Kernel variants: the shapes a GPU engine's kernels can run in, and which one an adapter gets.
//!
//! The math of every variant is the same (tests/engines/gpu_engine.rs holds each against the CPU
//! engine); what differs is how the work is spread over invocations and workgroups, and that
//! decides the speed, differently on each adapter:
//! - the matmul kernel: `matmul_4x4`, `matmul_8x8`, `matmul_16x16` or `matmul_tiled` (matmul.wgsl explains
//!   each), and for all but the tiled one the workgroup (`MATMUL_WG_X` × `MATMUL_WG_Y`,
//!   overridable);
//! - the recurrence workgroup (`RECURRENCE_WG`, overridable): how many invocations share the
//!   hidden units of one step.
//!
//! Shape parameters are pipeline-overridable constants or entry points of the same file,
//! never edits to the WGSL text. Which variant runs is decided, in this order, by
//! `HRCAST_GPU_VARIANT` (forced, e.g. by a test), the tuning cache that `hrcast bench --tune`
//! writes for the adapter and hidden size ([`TuningCache`]; a model of another hidden size gets
//! the nearest tuned one), else a default for the adapter's class ([`Variant::default_for`]).

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable that forces a variant by its id ([`Variant::id`]).
pub const FORCE_ENV: &str = "HRCAST_GPU_VARIANT";
/// Environment variable naming the tuning cache file (default: [`TuningCache::default_path`]).
pub const CACHE_ENV: &str = "HRCAST_GPU_TUNING";

/// The matmul entry points of matmul.wgsl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatmulKernel {
    /// `matmul_4x4`: a 4 × 4 block of C per invocation, operands read from storage.
    Block4,
    /// `matmul_8x8`: an 8 × 8 block per invocation (twice the multiply-adds per load).
    Block8,
    /// `matmul_16x16`: a 16 × 16 block per invocation (four times).
    Block16,
    /// `matmul_tiled`: 4 × 4 per invocation, operands staged in workgroup memory.
    Tiled,
}

impl MatmulKernel {
    /// Every matmul entry point.
    pub const ALL: [MatmulKernel; 4] = [
        MatmulKernel::Block4,
        MatmulKernel::Block8,
        MatmulKernel::Block16,
        MatmulKernel::Tiled,
    ];

    /// The entry point in matmul.wgsl.
    pub fn entry(self) -> &'static str {
        match self {
            MatmulKernel::Block4 => "matmul_4x4",
            MatmulKernel::Block8 => "matmul_8x8",
            MatmulKernel::Block16 => "matmul_16x16",
            MatmulKernel::Tiled => "matmul_tiled",
        }
    }

    /// Rows (and columns) of C one invocation computes.
    pub const fn tile(self) -> u32 {
        match self {
            MatmulKernel::Block8 => 8,
            MatmulKernel::Block16 => 16,
            MatmulKernel::Block4 | MatmulKernel::Tiled => 4,
        }
    }

    /// Whether the workgroup is overridable (`MATMUL_WG_X`, `MATMUL_WG_Y`); `matmul_tiled`'s
    /// is [`TILED_WG`] × [`TILED_WG`], as its workgroup-memory tiles are sized by it.
    pub fn overridable(self) -> bool {
        self != MatmulKernel::Tiled
    }
}

/// The workgroup of `matmul_tiled`, per side (`TILED_WG`, matmul.wgsl).
pub const TILED_WG: u32 = 16;
/// The recurrence workgroups a variant may have: at least [`MIN_RECURRENCE_WG`] (each
/// invocation keeps at most `MAX_HIDDEN / MIN_RECURRENCE_WG` units in registers), at most the
/// 256 invocations every WebGPU adapter allows.
pub const RECURRENCE_WGS: [u32; 4] = [32, 64, 128, 256];
/// Below this hidden size a software adapter's default matmul is `matmul_8x8`: the 16 × 16
/// blocks of `matmul_16x16` lose on products that small (lavapipe, a GRU of hidden 19 or 8:
/// 3.4-3.8 against 2.8-3.2 ms per step).
pub const SMALL_HIDDEN: usize = 64;
/// The smallest recurrence workgroup (`MIN_RECURRENCE_WG`, recurrence.wgsl).
pub const MIN_RECURRENCE_WG: u32 = 32;

/// One way to run the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    /// The matmul entry point.
    pub matmul: MatmulKernel,
    /// The matmul workgroup, x (columns of C) by y (rows).
    pub matmul_wg: [u32; 2],
    /// Invocations per recurrence workgroup.
    pub recurrence_wg: u32,
}

/// The fewest rows of C a matmul workgroup covers in any of [`Variant::MATMULS`]: what bounds
/// the rows one matmul grid can reach (see micro_batch.rs).
pub const MIN_MATMUL_BLOCK: u32 = {
    let mut min = u32::MAX;
    let mut i = 0;
    while i < Variant::MATMULS.len() {
        let (kernel, wg) = Variant::MATMULS[i];
        if wg[1] * kernel.tile() < min {
            min = wg[1] * kernel.tile();
        }
        i += 1;
    }
    min
};

/// Why the engine runs the variant it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Forced through [`FORCE_ENV`] (or by the caller).
    Forced,
    /// From the tuning cache at this path, tuned at this hidden size.
    Tuned(PathBuf, usize),
    /// The default for this class of adapter (`software`, `integrated GPU`, ...).
    Default(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Forced => write!(f, "forced by {FORCE_ENV}"),
            Origin::Tuned(path, hidden) => write!(
                f,
                "tuned on this adapter at hidden size {hidden}, {}",
                path.display()
            ),
            Origin::Default(class) => write!(f, "default for a {class} adapter"),
        }
    }
}

impl Variant {
    /// The matmul options the tuner tries (kernel and workgroup).
    pub const MATMULS: [(MatmulKernel, [u32; 2]); 5] = [
        (MatmulKernel::Block4, [8, 8]),
        (MatmulKernel::Block8, [8, 8]),
        (MatmulKernel::Block8, [16, 16]),
        (MatmulKernel::Block16, [8, 8]),
        (MatmulKernel::Tiled, [TILED_WG, TILED_WG]),
    ];

    /// A variant from its parts.
    pub fn new(matmul: (MatmulKernel, [u32; 2]), recurrence_wg: u32) -> Variant {
        Variant {
            matmul: matmul.0,
            matmul_wg: matmul.1,
            recurrence_wg,
        }
    }

    /// Every variant: each matmul option with each recurrence workgroup.
    pub fn all() -> Vec<Variant> {
        Variant::MATMULS
            .iter()
            .flat_map(|&m| RECURRENCE_WGS.iter().map(move |&r| Variant::new(m, r)))
            .collect()
    }

    /// The variant an adapter gets without tuning, for a model of `hidden` units. On a CPU
    /// adapter (lavapipe, llvmpipe, WARP, SwiftShader) loads are per-lane gathers, so the
    /// 16 × 16 blocks win (the most multiply-adds per load), except on small models, whose
    /// products are too small for them (below [`SMALL_HIDDEN`] units: 8 × 8); the recurrence
    /// gets the fewest invocations, 32, so that each takes as many units per pass as it can
    /// (lavapipe: equal or faster at every shape the tests cover, from hidden 8 to 512). On a
    /// hardware GPU the tiled matmul and 128 recurrence invocations, so that each of up to 128
    /// hidden units has its own.
    pub fn default_for(info: &wgpu::AdapterInfo, hidden: usize) -> (Variant, &'static str) {
        if super::is_software(info) {
            let matmul = if hidden < SMALL_HIDDEN { 1 } else { 3 };
            (
                Variant::new(Variant::MATMULS[matmul], MIN_RECURRENCE_WG),
                "software",
            )
        } else {
            let class = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => "discrete GPU",
                wgpu::DeviceType::IntegratedGpu => "integrated GPU",
                _ => "hardware",
            };
            (Variant::new(Variant::MATMULS[4], 128), class)
        }
    }

    /// Columns and rows of C one matmul workgroup covers.
    pub fn matmul_block(&self) -> [u32; 2] {
        let tile = self.matmul.tile();
        [self.matmul_wg[0] * tile, self.matmul_wg[1] * tile]
    }

    /// The short name that [`FORCE_ENV`], the cache and the log use, such as
    /// `matmul_8x8:8x8:r64`.
    pub fn id(&self) -> String {
        format!(
            "{}:{}x{}:r{}",
            self.matmul.entry(),
            self.matmul_wg[0],
            self.matmul_wg[1],
            self.recurrence_wg
        )
    }

    /// How many hidden units a recurrence invocation takes at a time for a model of `hidden`
    /// units (`UNITS_PER_PASS`, recurrence.wgsl): 4 where every invocation has four or more,
    /// else 2 where every one has two or more, else 1.
    pub fn units_per_pass(&self, hidden: usize) -> u32 {
        match hidden / self.recurrence_wg as usize {
            0 | 1 => 1,
            2 | 3 => 2,
            _ => 4,
        }
    }

    /// The pipeline-overridable constants of `entry`'s pipeline under this variant, for a model
    /// of `hidden` units.
    pub fn constants(&self, entry: &str, hidden: usize) -> Vec<(&'static str, f64)> {
        if entry.starts_with("matmul") && self.matmul.overridable() {
            vec![
                ("MATMUL_WG_X", f64::from(self.matmul_wg[0])),
                ("MATMUL_WG_Y", f64::from(self.matmul_wg[1])),
            ]
        } else if entry.starts_with("lstm") || entry.starts_with("gru") {
            vec![
                ("RECURRENCE_WG", f64::from(self.recurrence_wg)),
                ("UNITS_PER_PASS", f64::from(self.units_per_pass(hidden))),
            ]
        } else {
            Vec::new()
        }
    }

    /// What `train` logs: the kernels in words, and why this variant.
    pub fn describe(&self, origin: &Origin) -> String {
        format!(
            "kernels {} ({}-wide blocks, {}x{} workgroups; recurrence {} invocations per \
             workgroup), {origin}",
            self.id(),
            self.matmul.tile(),
            self.matmul_wg[0],
            self.matmul_wg[1],
            self.recurrence_wg
        )
    }
}

impl std::str::FromStr for Variant {
    type Err = anyhow::Error;

    /// Parses an id ([`Variant::id`]); only the variants of [`Variant::all`] are accepted.
    fn from_str(s: &str) -> Result<Variant> {
        Variant::all()
            .into_iter()
            .find(|v| v.id() == s.trim())
            .ok_or_else(|| {
                let ids: Vec<String> = Variant::all().iter().map(Variant::id).collect();
                anyhow!(
                    "unknown GPU kernel variant '{s}'; the variants are {}",
                    ids.join(", ")
                )
            })
    }
}

/// The key of an adapter in the tuning cache: its name, driver and backend.
pub fn adapter_key(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} | {} {} | {:?}",
        info.name, info.driver, info.driver_info, info.backend
    )
}

/// One tuning of an adapter, at one hidden size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tuned {
    /// The fastest variant's id.
    pub variant: String,
    /// The hidden size it was timed at (the recurrence's best workgroup depends on it).
    pub hidden_size: usize,
    /// The shape it was timed on, e.g. `lstm B16 T500 H128 L2`.
    pub shape: String,
    /// Its training step, ms (median).
    pub ms_per_step: f64,
    /// Every variant timed, id and ms per step.
    pub timings: Vec<(String, f64)>,
}

/// The tuning cache: the fastest variant per adapter ([`adapter_key`]) and hidden size, as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TuningCache {
    /// Tuned adapters by key: one entry per hidden size tuned.
    pub adapters: HashMap<String, Vec<Tuned>>,
}

impl TuningCache {
    /// The tuning for a model of `hidden` units on the adapter `key`: the one at that hidden
    /// size, else the one at the nearest (by ratio; the larger on a tie). None where the adapter
    /// was never tuned.
    pub fn best_for(&self, key: &str, hidden: usize) -> Option<&Tuned> {
        let distance = |t: &Tuned| {
            (t.hidden_size.max(1) as f64 / hidden.max(1) as f64)
                .ln()
                .abs()
        };
        self.adapters.get(key)?.iter().min_by(|a, b| {
            distance(a)
                .total_cmp(&distance(b))
                .then(b.hidden_size.cmp(&a.hidden_size))
        })
    }

    /// Stores a tuning of the adapter `key`, replacing one at the same hidden size.
    pub fn insert(&mut self, key: String, tuned: Tuned) {
        let entries = self.adapters.entry(key).or_default();
        entries.retain(|t| t.hidden_size != tuned.hidden_size);
        entries.push(tuned);
        entries.sort_by_key(|t| t.hidden_size);
    }

    /// Where the cache lives: `$HRCAST_GPU_TUNING`, else `$XDG_CACHE_HOME/hrcast/gpu-tuning.json`,
    /// else `$HOME/.cache/hrcast/gpu-tuning.json`; None where none of these is set.
    pub fn default_path() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(path) = var(CACHE_ENV) {
            return Some(PathBuf::from(path));
        }
        let base = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| Path::new(&home).join(".cache")))?;
        Some(base.join("hrcast").join("gpu-tuning.json"))
    }

    /// Reads the cache; an absent file is an empty cache.
    pub fn load(path: &Path) -> Result<TuningCache> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "the GPU tuning cache {} is not valid (delete it or run hrcast bench --tune \
                     again)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TuningCache::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the cache (atomically), creating its folder.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::atomic::write(path, serde_json::to_vec_pretty(self)?)
    }
}

/// The variant an engine on `info` runs for a model of `hidden` units, and why: forced, tuned
/// (at that hidden size or the nearest tuned one) or the class default. A malformed
/// [`FORCE_ENV`] or cache is an error naming it; a cache entry naming a variant this build
/// lacks falls back to the default.
pub fn choose(info: &wgpu::AdapterInfo, hidden: usize) -> Result<(Variant, Origin)> {
    if let Some(forced) = std::env::var(FORCE_ENV).ok().filter(|v| !v.is_empty()) {
        let variant = forced.parse().with_context(|| FORCE_ENV.to_string())?;
        return Ok((variant, Origin::Forced));
    }
    if let Some(path) = TuningCache::default_path() {
        let cache = TuningCache::load(&path)?;
        if let Some(tuned) = cache.best_for(&adapter_key(info), hidden)
            && let Ok(variant) = tuned.variant.parse()
        {
            return Ok((variant, Origin::Tuned(path, tuned.hidden_size)));
        }
    }
    let (variant, class) = Variant::default_for(info, hidden);
    Ok((variant, Origin::Default(class)))
}

/// Checks that an adapter can run `variant` (its workgroups within the adapter's limits).
pub fn check(variant: &Variant, limits: &wgpu::Limits) -> Result<()> {
    let [x, y] = variant.matmul_wg;
    if x * y > limits.max_compute_invocations_per_workgroup
        || variant.recurrence_wg > limits.max_compute_invocations_per_workgroup
        || variant.recurrence_wg > limits.max_compute_workgroup_size_x
    {
        bail!(
            "the GPU kernel variant {} needs more invocations per workgroup than this adapter's \
             {}",
            variant.id(),
            limits.max_compute_invocations_per_workgroup
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_parses_back_to_its_variant() {
        for v in Variant::all() {
            assert_eq!(v.id().parse::<Variant>().unwrap(), v);
        }
        let err = "matmul_3x3:8x8:r64".parse::<Variant>().unwrap_err();
        assert!(format!("{err}").contains("matmul_8x8:8x8:r64"), "{err}");
    }

    #[test]
    fn a_block_is_the_workgroup_times_the_tile() {
        let v = Variant::new((MatmulKernel::Block8, [16, 8]), 64);
        assert_eq!(v.matmul_block(), [128, 64]);
        let v = Variant::new(Variant::MATMULS[4], 128);
        assert_eq!(v.matmul_block(), [64, 64]);
        let v = Variant::new(Variant::MATMULS[3], 64);
        assert_eq!(v.matmul_block(), [128, 128]);
        assert_eq!(MIN_MATMUL_BLOCK, 32);
    }

    #[test]
    fn an_invocation_takes_as_many_units_per_pass_as_every_one_has() {
        let at =
            |wg: u32, hidden: usize| Variant::new(Variant::MATMULS[0], wg).units_per_pass(hidden);
        assert_eq!(at(32, 31), 1);
        assert_eq!(at(32, 63), 1);
        assert_eq!(at(32, 64), 2);
        assert_eq!(at(32, 127), 2);
        assert_eq!(at(32, 128), 4);
        assert_eq!(at(32, 512), 4);
        assert_eq!(at(64, 131), 2);
        assert_eq!(at(256, 512), 2);
        assert_eq!(at(128, 128), 1);
    }

    fn tuned(variant: &str, hidden_size: usize) -> Tuned {
        Tuned {
            variant: variant.into(),
            hidden_size,
            shape: format!("lstm B4 T10 H{hidden_size} L1"),
            ms_per_step: 1.5,
            timings: vec![(variant.into(), 1.5)],
        }
    }

    #[test]
    fn a_model_gets_the_tuning_at_its_hidden_size_or_the_nearest() {
        let mut cache = TuningCache::default();
        let key = "gpu | driver | Vulkan".to_string();
        assert!(cache.best_for(&key, 128).is_none());
        cache.insert(key.clone(), tuned("matmul_8x8:8x8:r64", 128));
        cache.insert(key.clone(), tuned("matmul_tiled:16x16:r256", 512));
        cache.insert(key.clone(), tuned("matmul_4x4:8x8:r64", 32));
        // Tuning 128 again replaces the first entry.
        cache.insert(key.clone(), tuned("matmul_8x8:16x16:r64", 128));
        assert_eq!(cache.adapters[&key].len(), 3);
        let at = |hidden| cache.best_for(&key, hidden).unwrap().variant.clone();
        assert_eq!(at(128), "matmul_8x8:16x16:r64");
        assert_eq!(at(150), "matmul_8x8:16x16:r64");
        assert_eq!(at(300), "matmul_tiled:16x16:r256");
        assert_eq!(at(8), "matmul_4x4:8x8:r64");
        // 64 is as far from 32 as from 128 by ratio: the larger wins.
        assert_eq!(at(64), "matmul_8x8:16x16:r64");
        assert!(cache.best_for("another adapter", 128).is_none());
    }

    #[test]
    fn the_cache_round_trips_and_an_absent_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("tuning.json");
        assert_eq!(TuningCache::load(&path).unwrap(), TuningCache::default());
        let mut cache = TuningCache::default();
        cache.insert(
            "llvmpipe | llvmpipe Mesa | Vulkan".into(),
            tuned("matmul_8x8:8x8:r64", 8),
        );
        cache.save(&path).unwrap();
        assert_eq!(TuningCache::load(&path).unwrap(), cache);
        std::fs::write(&path, "{not json").unwrap();
        let err = TuningCache::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("tuning.json"), "{err:#}");
    }
}
