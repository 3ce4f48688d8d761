//! What the command line says about where the math runs: `--device` ([`Device`]) and
//! `--threads`, flattened into the options of every command that computes ([`ComputeArgs`]).

use anyhow::{Context, Result};
use std::fmt;
use std::str::FromStr;

/// Where the user asked the math to run (`--device`): `auto`, `gpu`, `gpu:N` or `cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// A hardware GPU if there is one, else the CPU engine, which is also taken where the GPU
    /// engine cannot run the model. Software adapters (lavapipe, llvmpipe, WARP) are about
    /// twenty times slower than the CPU engine, so only `gpu` takes them.
    Auto,
    /// A GPU adapter, an error where there is none: the one at this index of the list `hrcast
    /// devices` prints (best first), or the best one (hardware before software) where `None`.
    Gpu(Option<usize>),
    /// The CPU engine (wgpu is not touched).
    Cpu,
}

impl FromStr for Device {
    type Err = String;

    fn from_str(text: &str) -> Result<Device, String> {
        match text {
            "auto" => Ok(Device::Auto),
            "gpu" => Ok(Device::Gpu(None)),
            "cpu" => Ok(Device::Cpu),
            _ => text
                .strip_prefix("gpu:")
                .and_then(|n| n.parse().ok())
                .map(|n| Device::Gpu(Some(n)))
                .ok_or_else(|| {
                    format!(
                        "expected auto, gpu, gpu:N (N the number of an adapter in hrcast \
                         devices) or cpu, got {text:?}"
                    )
                }),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => write!(f, "auto"),
            Device::Gpu(None) => write!(f, "gpu"),
            Device::Gpu(Some(n)) => write!(f, "gpu:{n}"),
            Device::Cpu => write!(f, "cpu"),
        }
    }
}

/// `--device` and `--threads`: where the math runs, and on how many CPU threads.
#[derive(Debug, Clone, clap::Args)]
pub struct ComputeArgs {
    /// Where the math runs: auto (a hardware GPU if there is one, else the CPU engine; software
    /// adapters such as lavapipe are slower than the CPU engine, so auto passes them over), gpu
    /// (the best GPU adapter, software ones included), gpu:N (adapter N of the list `hrcast
    /// devices` prints) or cpu (the CPU engine).
    #[arg(long, default_value_t = Device::Auto)]
    pub device: Device,
    /// CPU threads to compute on: the CPU engine's blocks of sequences and its large matrix
    /// products [default: every core this process may use, or RAYON_NUM_THREADS where set].
    #[arg(long, value_name = "N", value_parser = crate::values::at_least(1))]
    pub threads: Option<u32>,
}

impl ComputeArgs {
    /// Sizes the pool of threads the CPU engine computes on ([`threads`]) as `--threads` asks;
    /// nothing where it is not given. Call once, before anything computes.
    pub fn use_threads(&self) -> Result<()> {
        if let Some(n) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n as usize)
                .build_global()
                .with_context(|| format!("--threads {n}"))?;
        }
        Ok(())
    }
}

/// The CPU threads the engines compute on: rayon's global pool's (`--threads`, else
/// `RAYON_NUM_THREADS`, else every core this process may use, as `taskset` leaves them).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_reads_back_as_written() {
        for device in [
            Device::Auto,
            Device::Gpu(None),
            Device::Gpu(Some(1)),
            Device::Cpu,
        ] {
            assert_eq!(device.to_string().parse(), Ok(device));
        }
        for wrong in ["GPU", "gpu:", "gpu:-1", "gpu:x", "cuda:0"] {
            let err = wrong.parse::<Device>().unwrap_err();
            assert!(err.contains("gpu:N"), "{err}");
        }
    }
}
