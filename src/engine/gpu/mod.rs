//! The GPU engine: the training step and evaluation as WGSL compute shaders (`shaders/`)
//! dispatched through wgpu, on any Vulkan, Metal, DX12 or GL adapter, software ones included.
//!
//! - [`adapters`] finds the adapters (honouring `WGPU_BACKEND`) and [`rank`] orders them:
//!   hardware GPUs first, then software adapters; Vulkan, Metal and DX12 before GL.
//! - [`auto_choice`] decides what `--device auto` takes: the best hardware adapter, else the
//!   CPU engine (a software adapter runs the GPU engine about twenty times slower than the CPU
//!   engine on the same cores, so it is used only when asked for with `--device gpu`).
//! - [`kernels`] compiles the shaders into pipelines with explicit layouts; [`uniforms`] and
//!   [`bindings`] are how host and shaders meet, by name: the uniform blocks, and per kernel the
//!   buffers one dispatch binds.
//! - [`recorder`] records dispatches, one method per kernel; [`plan`] records a whole training
//!   step (forward, loss and head, backward; the update once per engine) on [`buffers`], with
//!   the parameters found through [`params`].
//! - [`reference`] compiles the reference recurrence kernels: the LSTM and GRU written plainly,
//!   for reading and for the tests (never used in training).
//! - [`engine::GpuEngine`] holds parameters, gradients and Adam's moments on the GPU and runs a
//!   whole training step as one compute pass (or one per micro-batch, see [`micro_batch`]).

pub mod bindings;
pub mod buffers;
pub mod engine;
pub mod kernels;
pub mod micro_batch;
pub mod params;
pub mod plan;
pub mod recorder;
pub mod reference;
pub mod uniforms;
pub mod variant;

use anyhow::{Context, Result, anyhow, bail};

/// An instance of `backends` (the other settings from the environment, as wgpu reads them).
fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = backends;
    wgpu::Instance::new(descriptor)
}

/// Every adapter wgpu finds on the backends of `WGPU_BACKEND` (all where it is unset), best
/// first (see [`rank`]).
pub fn adapters() -> Vec<wgpu::Adapter> {
    adapters_of(wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()))
}

/// Every adapter wgpu finds on `backends`, best first: the tests use it to hold the GL backend
/// to the CPU engine beside the native one.
pub fn adapters_of(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut found = pollster::block_on(instance(backends).enumerate_adapters(backends));
    found.sort_by_key(|a| rank(&a.get_info()));
    found
}

/// Lower is better: hardware before software, native APIs before GL.
pub fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (kind, backend)
}

/// Whether an adapter is a software rasterizer (lavapipe, llvmpipe, softpipe, SwiftShader,
/// WARP): one that says it is a CPU, or whose name is one of theirs.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    const NAMES: [&str; 5] = [
        "llvmpipe",
        "lavapipe",
        "softpipe",
        "swiftshader",
        "microsoft basic render driver",
    ];
    let name = info.name.to_lowercase();
    info.device_type == wgpu::DeviceType::Cpu || NAMES.iter().any(|n| name.contains(n))
}

/// What `--device auto` takes, decided by [`auto_choice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoChoice {
    /// The GPU engine on the adapter at this index of the list (a hardware adapter).
    Gpu(usize),
    /// The CPU engine, for this reason (a clause such as "no GPU adapter was found").
    Cpu(String),
}

/// What `--device auto` takes among these adapters (best first, as [`adapters`] lists them):
/// the first hardware adapter; the CPU engine where there is none, software adapters being
/// about twenty times slower than the CPU engine on the same cores (`--device gpu` still takes
/// them).
pub fn auto_choice(infos: &[wgpu::AdapterInfo]) -> AutoChoice {
    if let Some(i) = infos.iter().position(|info| !is_software(info)) {
        return AutoChoice::Gpu(i);
    }
    let named: Vec<String> = infos
        .iter()
        .map(|info| format!("{} ({:?})", info.name, info.backend))
        .collect();
    AutoChoice::Cpu(match named.as_slice() {
        [] => "no GPU adapter was found".into(),
        [one] => format!(
            "the only adapter, {one}, is a software rasterizer, slower than the CPU engine \
             (--device gpu uses it)"
        ),
        [rest @ .., last] => format!(
            "the only adapters, {} and {last}, are software rasterizers, slower than the CPU \
             engine (--device gpu uses the first)",
            rest.join(", ")
        ),
    })
}

/// `WGPU_BACKEND`'s value, for messages: "" where it is unset, else " (WGPU_BACKEND=...)".
pub fn backend_note() -> String {
    std::env::var("WGPU_BACKEND")
        .map(|b| format!(" (WGPU_BACKEND={b})"))
        .unwrap_or_default()
}

/// One line describing an adapter: name, backend, type, driver.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} ({:?}, {:?}, driver {} {})",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    )
}

/// An open device on one adapter.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What the adapter says about itself.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was opened with (the adapter's own).
    pub limits: wgpu::Limits,
}

impl Gpu {
    /// Opens the best adapter, hardware or software (what `--device gpu` takes), or fails with a
    /// clear message when there is none.
    pub fn open_best() -> Result<Gpu> {
        Gpu::open_index(0)
    }

    /// Opens the adapter at `index` of [`adapters`]' list, as `hrcast devices` numbers them
    /// (`--device gpu:N`; 0 is the best), or fails with a clear message when there is none or
    /// fewer.
    pub fn open_index(index: usize) -> Result<Gpu> {
        let mut found = adapters();
        if found.is_empty() {
            bail!(
                "no GPU adapter found (WGPU_BACKEND={}); install a Vulkan driver (for a software \
                 adapter on Debian: apt-get install mesa-vulkan-drivers) or use --device cpu",
                std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "unset".into())
            );
        }
        let count = found.len();
        if index >= count {
            bail!(
                "there is no adapter {index}: wgpu finds {count}, numbered 0 to {} (hrcast devices \
                 lists them){}",
                count - 1,
                backend_note()
            );
        }
        Gpu::open(found.swap_remove(index))
    }

    /// Opens a device on `adapter` with the adapter's own limits.
    pub fn open(adapter: wgpu::Adapter) -> Result<Gpu> {
        let limits = adapter.limits();
        Gpu::open_with_limits(adapter, limits)
    }

    /// Opens a device on `adapter` with `limits` (at most the adapter's own), for example
    /// `wgpu::Limits::default()` to check that the engine runs on every adapter meeting them.
    pub fn open_with_limits(adapter: wgpu::Adapter, limits: wgpu::Limits) -> Result<Gpu> {
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hrcast"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .with_context(|| format!("cannot open a device on {}", describe(&info)))?;
        device.on_uncaptured_error(std::sync::Arc::new(|err| {
            eprintln!("error: the GPU reported: {err}");
        }));
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
        })
    }

    /// Runs `f` inside validation and out-of-memory error scopes, turning what they catch into
    /// an error that says what was being done.
    pub fn checked<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        if let Some(err) = pollster::block_on(validation.pop()) {
            bail!("{what}: the GPU rejected it: {err}");
        }
        if let Some(err) = pollster::block_on(oom.pop()) {
            bail!("{what}: the GPU is out of memory: {err}");
        }
        Ok(value)
    }

    /// Copies `bytes` bytes of `buffer` back to the host (one read-back).
    pub fn read(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| anyhow!("waiting for the GPU failed (device lost?): {e}"))?;
        rx.recv()
            .map_err(|_| anyhow!("the GPU read-back was dropped"))?
            .map_err(|e| anyhow!("cannot read GPU memory back: {e}"))?;
        let data = staging
            .get_mapped_range(..)
            .map_err(|e| anyhow!("cannot map GPU memory: {e:?}"))?
            .to_vec();
        staging.unmap();
        Ok(data)
    }
}

/// The text of `hrcast devices`: every adapter, numbered as `--device gpu:N` takes them (`*`
/// marks the one `--device auto` takes), the one `--device gpu` takes, and what `--device auto`
/// takes and why.
pub fn devices_report() -> String {
    let infos: Vec<wgpu::AdapterInfo> = adapters().iter().map(wgpu::Adapter::get_info).collect();
    let choice = auto_choice(&infos);
    let mut out = String::new();
    for (i, info) in infos.iter().enumerate() {
        out.push_str(&format!(
            "{}{i} {} ({} adapter)\n",
            if choice == AutoChoice::Gpu(i) {
                "* "
            } else {
                "  "
            },
            describe(info),
            kind(info)
        ));
    }
    match infos.first() {
        Some(best) => out.push_str(&format!(
            "--device gpu takes {} ({} adapter); --device gpu:N takes adapter N (0 to {})\n",
            best.name,
            kind(best),
            infos.len() - 1
        )),
        None => out.push_str(&format!(
            "--device gpu fails: no GPU adapter found{}\n",
            backend_note()
        )),
    }
    match choice {
        AutoChoice::Gpu(i) => out.push_str(&format!(
            "--device auto takes {} (hardware adapter)\n",
            infos[i].name
        )),
        AutoChoice::Cpu(why) => out.push_str(&format!(
            "--device auto takes the CPU engine: {why}{}\n",
            if infos.is_empty() {
                backend_note()
            } else {
                String::new()
            }
        )),
    }
    out
}

/// "software" or "hardware".
fn kind(info: &wgpu::AdapterInfo) -> &'static str {
    if is_software(info) {
        "software"
    } else {
        "hardware"
    }
}
