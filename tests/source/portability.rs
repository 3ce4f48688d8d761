//! Portability that needs no hardware: naga translates every kernel (every entry point of every
//! shader file, the reference kernels included) under every variant the engine compiles to MSL
//! (what Metal compiles), HLSL (DX12) and SPIR-V (Vulkan), and `spirv-val` (Debian package
//! spirv-tools) accepts every SPIR-V module. wgpu does the same translations when it creates a
//! pipeline on those backends, so a kernel that fails here fails on that platform.
//!
//! The sources are the engine's own (`kernels::SHADERS`, `reference::REFERENCE_SHADERS`: each
//! file joined with its preludes) and the pipeline constants are each variant's
//! (`Variant::constants`), resolved with naga's `process_overrides` as the backends do. A
//! variant's `UNITS_PER_PASS` depends on the hidden size, so every hidden size up to
//! `MAX_HIDDEN` is visited; specializations that come out the same (same entry point, same
//! constants) are translated once. Any failure fails the test, naming the kernel, the variant
//! and the target; a missing spirv-val fails it under CI=true and skips only the SPIR-V
//! validation otherwise.

use hrcast::engine::gpu::bindings::Kernel;
use hrcast::engine::gpu::kernels::{MAX_HIDDEN, SHADERS};
use hrcast::engine::gpu::reference::REFERENCE_SHADERS;
use hrcast::engine::gpu::variant::Variant;
use naga::back::{hlsl, msl, spv};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// One pipeline the engine can create: an entry point of a file, with its constants.
struct Specialization {
    file: &'static str,
    entry: String,
    constants: Vec<(&'static str, f64)>,
    /// The first variant (and hidden size) that compiles it, for messages.
    variant: String,
}

impl Specialization {
    /// "entry of file under variant (constants)".
    fn describe(&self) -> String {
        let constants: Vec<String> = self
            .constants
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        format!(
            "{} of shaders/{} under {} ({})",
            self.entry,
            self.file,
            self.variant,
            if constants.is_empty() {
                "no pipeline constants".to_string()
            } else {
                constants.join(", ")
            }
        )
    }
}

/// Every shader file as compiled, tuned and reference.
fn sources() -> Vec<(&'static str, &'static str)> {
    SHADERS.iter().chain(&REFERENCE_SHADERS).copied().collect()
}

/// `source` parsed and validated as the engine's tests do (no optional capabilities).
fn parse(file: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{file}: {e:?}"));
    (module, info)
}

/// The tuned kernels' specializations: for every variant, every kernel the engine compiles
/// under it (`Kernel::entry`: the variant's own matmul), at every hidden size; then every
/// reference entry point, which has no pipeline constants.
fn specializations() -> Vec<Specialization> {
    let mut found: Vec<Specialization> = Vec::new();
    for variant in Variant::all() {
        for kernel in Kernel::ALL {
            let (file, entry) = (kernel.source().0, kernel.entry(&variant));
            for hidden in 1..=MAX_HIDDEN {
                let constants = variant.constants(entry, hidden);
                let known = found
                    .iter()
                    .any(|s| s.entry == entry && s.constants == constants);
                if !known {
                    found.push(Specialization {
                        file,
                        entry: entry.to_string(),
                        constants,
                        variant: format!("{} at hidden {hidden}", variant.id()),
                    });
                }
            }
        }
    }
    for (file, source) in REFERENCE_SHADERS {
        for point in parse(file, source).0.entry_points {
            found.push(Specialization {
                file,
                entry: point.name,
                constants: Vec::new(),
                variant: "every variant".into(),
            });
        }
    }
    found
}

#[test]
fn every_wgsl_file_and_entry_point_is_covered() {
    // Every file of shaders/ is compiled, alone or as a prelude joined to one that is.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            sources()
                .iter()
                .any(|(file, source)| *file == name || source.contains(&text)),
            "shaders/{name} is compiled by neither SHADERS nor REFERENCE_SHADERS"
        );
    }
    // Every entry point of every compiled file is among the specializations.
    let covered: BTreeSet<(&str, String)> = specializations()
        .into_iter()
        .map(|s| (s.file, s.entry))
        .collect();
    for (file, source) in sources() {
        for point in parse(file, source).0.entry_points {
            assert!(
                covered.contains(&(file, point.name.clone())),
                "{} of shaders/{file} is compiled under no variant",
                point.name
            );
        }
    }
}

/// `spec`'s module with its constants resolved and only its entry point kept (as the backends
/// get it from wgpu).
fn specialize(
    spec: &Specialization,
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
) -> (naga::Module, naga::valid::ModuleInfo) {
    let mut constants = naga::back::PipelineConstants::default();
    for (name, value) in &spec.constants {
        constants.insert(name.to_string(), *value);
    }
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        module,
        info,
        Some((naga::ShaderStage::Compute, &spec.entry)),
        &constants,
    )
    .unwrap_or_else(|e| panic!("{}: pipeline constants: {e:?}", spec.describe()));
    (module.into_owned(), info.into_owned())
}

/// The entry point's own result among a backend's per-entry-point results.
fn entry_result<E: std::fmt::Debug>(
    module: &naga::Module,
    names: &[Result<String, E>],
    entry: &str,
) -> Result<(), String> {
    let index = module
        .entry_points
        .iter()
        .position(|e| e.name == entry)
        .ok_or_else(|| format!("no entry point {entry}"))?;
    match names.get(index) {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(format!("{e:?}")),
        None => Err("the entry point was not written".into()),
    }
}

/// Metal Shading Language 2.0, the oldest wgpu's Metal backend targets.
fn to_msl(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
) -> Result<(), String> {
    let options = msl::Options {
        lang_version: (2, 0),
        ..Default::default()
    };
    let pipeline = msl::PipelineOptions {
        entry_point: Some((naga::ShaderStage::Compute, entry.to_string())),
        ..Default::default()
    };
    let (_, translated) =
        msl::write_string(module, info, &options, &pipeline).map_err(|e| format!("{e:?}"))?;
    entry_result(module, &translated.entry_point_names, entry)
}

/// HLSL shader model 5.1, the oldest wgpu's DX12 backend targets (FXC).
fn to_hlsl(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
) -> Result<(), String> {
    let options = hlsl::Options {
        shader_model: hlsl::ShaderModel::V5_1,
        ..Default::default()
    };
    let pipeline = hlsl::PipelineOptions {
        entry_point: Some((naga::ShaderStage::Compute, entry.to_string())),
    };
    let mut text = String::new();
    let reflection = hlsl::Writer::new(&mut text, &options, &pipeline)
        .write(module, info, None)
        .map_err(|e| format!("{e:?}"))?;
    entry_result(module, &reflection.entry_point_names, entry)
}

/// SPIR-V 1.0 (Vulkan 1.0), as bytes.
fn to_spirv(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
) -> Result<Vec<u8>, String> {
    let pipeline = spv::PipelineOptions {
        shader_stage: naga::ShaderStage::Compute,
        entry_point: entry.to_string(),
    };
    let words = spv::write_vec(module, info, &spv::Options::default(), Some(&pipeline))
        .map_err(|e| format!("{e:?}"))?;
    Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
}

/// Whether `spirv-val` can be run; a failure under CI=true where it cannot.
fn spirv_val_available() -> bool {
    match Command::new("spirv-val").arg("--version").output() {
        Ok(output) if output.status.success() => true,
        result if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but spirv-val cannot run ({result:?}): apt-get install spirv-tools")
        }
        result => {
            eprintln!(
                "SKIPPED the SPIR-V validation: spirv-val cannot run ({result:?}); install \
                 spirv-tools. CI=true makes this a failure"
            );
            false
        }
    }
}

/// `spirv-val --target-env vulkan1.0` on one module.
fn spirv_val(bytes: &[u8], dir: &Path, n: usize) -> Result<(), String> {
    let path = dir.join(format!("kernel{n}.spv"));
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    let output = Command::new("spirv-val")
        .args(["--target-env", "vulkan1.0"])
        .arg(&path)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[test]
fn every_kernel_translates_to_msl_hlsl_and_valid_spirv() {
    let validate = spirv_val_available();
    let dir = tempfile::tempdir().unwrap();
    let parsed: Vec<(&str, (naga::Module, naga::valid::ModuleInfo))> = sources()
        .into_iter()
        .map(|(file, source)| (file, parse(file, source)))
        .collect();
    let specs = specializations();
    let (mut translations, mut valid) = (0, 0);
    let mut failures = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let (_, (module, info)) = parsed.iter().find(|(f, _)| *f == spec.file).unwrap();
        let (module, info) = specialize(spec, module, info);
        let entry = spec.entry.as_str();
        let mut check = |target: &str, result: Result<(), String>| match result {
            Ok(()) => translations += 1,
            Err(e) => failures.push(format!("{} to {target}: {e}", spec.describe())),
        };
        check("MSL", to_msl(&module, &info, entry));
        check("HLSL", to_hlsl(&module, &info, entry));
        let spirv = to_spirv(&module, &info, entry);
        check("SPIR-V", spirv.as_ref().map(|_| ()).map_err(Clone::clone));
        if let (true, Ok(bytes)) = (validate, &spirv) {
            match spirv_val(bytes, dir.path(), n) {
                Ok(()) => valid += 1,
                Err(e) => failures.push(format!("{}: spirv-val: {e}", spec.describe())),
            }
        }
    }
    let entries: BTreeSet<&str> = specs.iter().map(|s| s.entry.as_str()).collect();
    println!(
        "{} entry points in {} specializations (entry point and pipeline constants) over {} \
         variants: {translations} translations (MSL, HLSL, SPIR-V), {valid} SPIR-V modules valid",
        entries.len(),
        specs.len(),
        Variant::all().len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(translations, 3 * specs.len());
    if validate {
        assert_eq!(valid, specs.len());
    }
}
