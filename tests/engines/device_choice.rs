//! What `--device auto` takes: the decision over synthetic adapter lists (a hardware adapter
//! wins; software adapters alone, or none, give the CPU engine), then on this machine's
//! adapters, through the library's `select` and the `hrcast devices` and `bench` output.

use crate::common;

use hrcast::engine::gpu::{self, AutoChoice, auto_choice, is_software};
use hrcast::engine::optim::AdamState;
use hrcast::engine::{Device, select};
use hrcast::model::{Cell, Params};
use wgpu::{AdapterInfo, Backend, DeviceType};

fn adapter(name: &str, device_type: DeviceType, backend: Backend) -> AdapterInfo {
    AdapterInfo {
        name: name.into(),
        ..AdapterInfo::new(device_type, backend)
    }
}

fn lavapipe() -> AdapterInfo {
    adapter(
        "llvmpipe (LLVM 15.0.6, 256 bits)",
        DeviceType::Cpu,
        Backend::Vulkan,
    )
}

fn nvidia() -> AdapterInfo {
    adapter("NVIDIA H100", DeviceType::DiscreteGpu, Backend::Vulkan)
}

#[test]
fn software_adapters_are_recognised() {
    assert!(is_software(&lavapipe()));
    // Mesa's GL driver may not say it is a CPU; its name does.
    assert!(is_software(&adapter(
        "llvmpipe (LLVM 15.0.6, 256 bits)",
        DeviceType::Other,
        Backend::Gl
    )));
    assert!(is_software(&adapter(
        "Microsoft Basic Render Driver",
        DeviceType::Cpu,
        Backend::Dx12
    )));
    assert!(!is_software(&nvidia()));
    assert!(!is_software(&adapter(
        "Intel(R) UHD Graphics 620",
        DeviceType::IntegratedGpu,
        Backend::Vulkan
    )));
    assert!(!is_software(&adapter(
        "Apple M2",
        DeviceType::IntegratedGpu,
        Backend::Metal
    )));
}

#[test]
fn a_hardware_adapter_is_taken() {
    assert_eq!(auto_choice(&[nvidia()]), AutoChoice::Gpu(0));
    assert_eq!(auto_choice(&[nvidia(), lavapipe()]), AutoChoice::Gpu(0));
    // The first hardware adapter, wherever the list puts the software ones.
    assert_eq!(auto_choice(&[lavapipe(), nvidia()]), AutoChoice::Gpu(1));
    let intel = adapter("Intel Arc", DeviceType::IntegratedGpu, Backend::Gl);
    assert_eq!(auto_choice(&[lavapipe(), intel]), AutoChoice::Gpu(1));
}

#[test]
fn software_adapters_alone_give_the_cpu_engine() {
    let AutoChoice::Cpu(why) = auto_choice(&[lavapipe()]) else {
        panic!("lavapipe alone must give the CPU engine");
    };
    assert_eq!(
        why,
        "the only adapter, llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan), is a software rasterizer, \
         slower than the CPU engine (--device gpu uses it)"
    );
    let gl = adapter(
        "llvmpipe (LLVM 15.0.6, 256 bits)",
        DeviceType::Other,
        Backend::Gl,
    );
    let AutoChoice::Cpu(why) = auto_choice(&[lavapipe(), gl]) else {
        panic!("two software adapters must give the CPU engine");
    };
    assert!(why.starts_with("the only adapters, "), "{why}");
    assert!(why.contains("(Vulkan) and llvmpipe"), "{why}");
    assert!(why.contains("are software rasterizers"), "{why}");
    assert!(why.ends_with("(--device gpu uses the first)"), "{why}");
}

#[test]
fn no_adapter_gives_the_cpu_engine() {
    assert_eq!(
        auto_choice(&[]),
        AutoChoice::Cpu("no GPU adapter was found".into())
    );
}

/// Whether this machine has a hardware adapter (what `--device auto` then takes).
fn hardware_here() -> bool {
    let infos: Vec<AdapterInfo> = gpu::adapters().iter().map(|a| a.get_info()).collect();
    eprintln!("adapters here: {infos:?}");
    matches!(auto_choice(&infos), AutoChoice::Gpu(_))
}

#[test]
fn auto_selects_what_the_adapters_here_call_for() {
    // Without a hardware GPU (this project's machine and CI: lavapipe only) the CPU engine.
    let c = common::config(Cell::Lstm, 3, 4, 1, false, 0.0);
    let params: Params<f32> = Params::init(&c, 1);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    let (engine, line) = select(Device::Auto, &c, params, adam).unwrap();
    eprintln!("{line}");
    if hardware_here() {
        assert!(line.starts_with("device auto: GPU engine on "), "{line}");
        assert!(line.ends_with("(hardware adapter)"), "{line}");
        assert_ne!(engine.adapter().0, "CPU", "{line}");
    } else {
        assert!(line.starts_with("device auto: CPU engine ("), "{line}");
        assert!(
            line.contains(", as no GPU adapter was found") || line.contains("software rasterizer"),
            "{line}"
        );
        assert_eq!(engine.adapter().0, "CPU", "{line}");
    }
}

/// Runs `hrcast` without `XDG_RUNTIME_DIR` (as in containers and CI); returns stdout and
/// stderr.
fn hrcast(args: &[&str]) -> (String, String) {
    let mut command = common::hrcast_command(std::path::Path::new("."), args);
    let out = common::output_within(command.env_remove("XDG_RUNTIME_DIR"), common::RUN_LIMIT);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}: {stderr}\n{stdout}");
    (stdout, stderr)
}

#[test]
fn devices_and_bench_agree_with_the_choice() {
    let hardware = hardware_here();
    let (devices, stderr) = hrcast(&["devices"]);
    // Mesa's complaints about a missing XDG_RUNTIME_DIR stay out of the output.
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    if cfg!(target_os = "linux") && !hardware {
        assert_eq!(stderr, "", "nothing on stderr with Mesa's adapters alone");
    }
    let auto = devices
        .lines()
        .find(|l| l.starts_with("--device auto takes "))
        .unwrap_or_else(|| panic!("{devices}"));
    assert_eq!(!hardware, auto.contains("the CPU engine"), "{devices}");
    assert_eq!(
        hardware,
        devices.contains("\n* ") || devices.starts_with("* ")
    );
    let (bench, _) = hrcast(&[
        "bench",
        "--device",
        "auto",
        "--hidden-size",
        "4",
        "--seq-len",
        "5",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&bench).unwrap();
    assert_eq!(report["device"], "auto", "{bench}");
    assert_eq!(hardware, report["adapter"] != "CPU", "{bench}");
}

#[test]
fn an_adapter_is_picked_by_its_number_in_devices() {
    let Some(best) = common::gpu() else { return };
    let count = gpu::adapters().len();
    let (devices, _) = hrcast(&["devices"]);
    assert!(
        devices.contains(&format!(
            "--device gpu:N takes adapter N (0 to {})",
            count - 1
        )),
        "{devices}"
    );
    let bench = |device: &str| {
        let args = [
            "bench",
            "--device",
            device,
            "--hidden-size",
            "4",
            "--seq-len",
            "5",
        ];
        let tiny = ["--batch-size", "2", "--steps", "1", "--json"];
        common::hrcast_command(std::path::Path::new("."), &[&args[..], &tiny[..]].concat())
    };
    let out = common::output_within(&mut bench("gpu:0"), common::RUN_LIMIT);
    let report: serde_json::Value = serde_json::from_str(&common::succeeded(&out)).unwrap();
    assert_eq!(report["device"], "gpu:0");
    assert_eq!(report["adapter"], best.info.name.as_str());
    let out = common::output_within(&mut bench("gpu:99"), common::RUN_LIMIT);
    common::fails_with(
        &out,
        &[
            "--device gpu:99",
            "there is no adapter 99",
            &format!("wgpu finds {count}"),
            "hrcast devices",
        ],
    );
}
