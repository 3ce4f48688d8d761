//! The GPU engine: the training step and evaluation as WGSL compute shaders (`shaders/`)
//! dispatched through wgpu, on any Vulkan, Metal, DX12 or GL adapter, software ones included.
//!
//! - [`adapters`] and [`pick`] find the adapters (honouring `WGPU_BACKEND`) and rank them:
//!   hardware GPUs first, then software adapters; Vulkan, Metal and DX12 before GL.
//! - [`kernels`] compiles the shaders into pipelines.
//! - [`engine::GpuEngine`] holds parameters, gradients and Adam's moments on the GPU and records
//!   a whole training step (forward, loss, backward, clipping, Adam) as one compute pass.

pub mod engine;
pub mod kernels;

use anyhow::{Context, Result, anyhow, bail};

/// The instance, with the backends of `WGPU_BACKEND` when it is set.
fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter wgpu finds, best first (see [`rank`]).
pub fn adapters() -> Vec<wgpu::Adapter> {
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    let mut found = pollster::block_on(instance().enumerate_adapters(backends));
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

/// Whether an adapter is a software rasterizer (lavapipe, llvmpipe, WARP).
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
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
    /// Opens the best adapter, or fails with a clear message when there is none.
    pub fn open_best() -> Result<Gpu> {
        let adapter = adapters().into_iter().next().ok_or_else(|| {
            anyhow!(
                "no GPU adapter found (WGPU_BACKEND={}); install a Vulkan driver (for a software \
                 adapter on Debian: apt-get install mesa-vulkan-drivers) or use --device cpu",
                std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "unset".into())
            )
        })?;
        Gpu::open(adapter)
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

/// The text of `hrcast devices`: every adapter, and which one `--device auto` takes.
pub fn devices_report() -> String {
    let found = adapters();
    if found.is_empty() {
        return "no GPU adapter found: --device auto uses the CPU engine\n".into();
    }
    let mut out = String::new();
    for (i, a) in found.iter().enumerate() {
        let info = a.get_info();
        out.push_str(&format!(
            "{}{} {}\n",
            if i == 0 { "* " } else { "  " },
            i,
            describe(&info)
        ));
    }
    let best = found[0].get_info();
    out.push_str(&format!(
        "--device auto takes {} ({} adapter)\n",
        best.name,
        if is_software(&best) {
            "software"
        } else {
            "hardware"
        }
    ));
    out
}
