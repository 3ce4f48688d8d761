//! Helpers shared by the integration tests: the PyTorch fixtures, random models and batches,
//! the GPU.
#![allow(dead_code)] // each test binary uses its own subset

pub mod recurrence;

use hrcast::engine::gpu::Gpu;
use hrcast::engine::scalar::Scalar;
use hrcast::features::FEATURE_NAMES;
use hrcast::model::{Batch, Cell, ModelConfig, Params};
use rand::RngExt;
use rand::rngs::StdRng;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch");

/// One PyTorch fixture file (tests/fixtures/pytorch).
pub struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    pub fn open(name: &str) -> Fixture {
        Fixture {
            bytes: std::fs::read(format!("{FIXTURES}/{name}.safetensors")).unwrap(),
        }
    }

    pub fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).unwrap()
    }

    pub fn meta(&self) -> HashMap<String, String> {
        SafeTensors::read_metadata(&self.bytes)
            .unwrap()
            .1
            .metadata()
            .clone()
            .unwrap()
    }

    pub fn tensor<T: Scalar>(&self, name: &str) -> Vec<T> {
        let st = self.st();
        let view = st
            .tensor(name)
            .unwrap_or_else(|_| panic!("fixture lacks {name}"));
        match view.dtype() {
            Dtype::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(view.data())
                .iter()
                .map(|&v| T::of(f64::from(v)))
                .collect(),
            Dtype::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(view.data())
                .iter()
                .map(|&v| T::of(v))
                .collect(),
            other => panic!("{name}: unexpected {other:?}"),
        }
    }

    pub fn config(&self) -> ModelConfig {
        let meta = self.meta();
        let num = |k: &str| meta[k].parse::<usize>().unwrap();
        ModelConfig {
            model: if meta["cell"] == "LSTM" {
                Cell::Lstm
            } else {
                Cell::Gru
            },
            input_size: num("input_size"),
            hidden_size: num("hidden_size"),
            num_layers: num("num_layers"),
            dropout: 0.0,
            bidirectional: false,
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn params<T: Scalar>(&self, config: &ModelConfig, prefix: &str) -> Params<T> {
        let mut p = Params::zeros(config);
        for (name, values) in p.names.iter().zip(&mut p.values) {
            *values = self.tensor(&format!("{prefix}{name}"));
        }
        p
    }

    pub fn batch<T: Scalar>(&self) -> Batch<T> {
        let meta = self.meta();
        let lengths: Vec<usize> = meta["lengths"]
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect();
        let (b, t) = (
            meta["batch"].parse().unwrap(),
            meta["seq_len"].parse().unwrap(),
        );
        Batch {
            batch: b,
            steps: t,
            inputs: meta["input_size"].parse().unwrap(),
            x: self.tensor("x"),
            y: self.tensor("y"),
            mask: self.tensor("mask"),
            lengths,
        }
    }
}

/// A model configuration with features named f0, f1, ...
pub fn config(
    cell: Cell,
    input: usize,
    hidden: usize,
    layers: usize,
    bidirectional: bool,
    dropout: f64,
) -> ModelConfig {
    ModelConfig {
        model: cell,
        input_size: input,
        hidden_size: hidden,
        num_layers: layers,
        dropout,
        bidirectional,
        features: (0..input).map(|i| format!("f{i}")).collect(),
    }
}

/// A random batch whose sequences have the given valid lengths (mask 1 on the valid prefix,
/// with a dropout hole in the middle of the sequences longer than 3).
pub fn random_batch<T: Scalar>(
    rng: &mut StdRng,
    inputs: usize,
    steps: usize,
    lengths: &[usize],
) -> Batch<T> {
    let b = lengths.len();
    let mut mask = vec![T::zero(); b * steps];
    for (seq, &len) in lengths.iter().enumerate() {
        for t in 0..len {
            mask[seq * steps + t] = if len > 3 && t == len / 2 {
                T::zero()
            } else {
                T::one()
            };
        }
    }
    Batch {
        batch: b,
        steps,
        inputs,
        x: (0..b * steps * inputs)
            .map(|_| T::of(rng.random_range(-2.0..2.0)))
            .collect(),
        y: (0..b * steps)
            .map(|_| T::of(rng.random_range(-1.5..1.5)))
            .collect(),
        mask,
        lengths: lengths.to_vec(),
    }
}

/// The GPU `--device gpu` takes, or None (with a loud message) where there is none and CI is
/// not set; with CI=true a missing adapter fails the test.
pub fn gpu() -> Option<Gpu> {
    match Gpu::open_best() {
        Ok(gpu) => Some(gpu),
        Err(err) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED: no GPU adapter ({err:#}); CI=true makes this a failure");
            None
        }
        Err(err) => panic!("CI=true but no GPU adapter: {err:#}"),
    }
}

/// The first adapter of wgpu's GL backend (Mesa's llvmpipe through EGL in CI), or None where
/// there is none and CI is not set; with CI=true a missing GL adapter fails the test.
pub fn gl_gpu() -> Option<Gpu> {
    let adapter = hrcast::engine::gpu::adapters_of(wgpu::Backends::GL)
        .into_iter()
        .next();
    match adapter {
        Some(adapter) => {
            assert_eq!(adapter.get_info().backend, wgpu::Backend::Gl);
            Some(Gpu::open(adapter).expect("the GL adapter opens"))
        }
        None if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!(
                "SKIPPED: no GL adapter (EGL and Mesa's GL driver); CI=true makes this a failure"
            );
            None
        }
        None => {
            panic!("CI=true but no GL adapter: install libegl1, libegl-mesa0 and libgl1-mesa-dri")
        }
    }
}

/// `text` without its `<tag>...</tag>` elements (e.g. a workout file without its heart rate).
pub fn without_elements(text: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        out.push_str(&rest[..start]);
        let end = rest[start..].find(&close).expect("closed") + start + close.len();
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `max |got - want| <= tol · max(‖want‖∞, 1e-3)`, with a message naming the tensor.
pub fn assert_close<T: Scalar>(got: &[T], want: &[T], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: sizes differ");
    let scale = want
        .iter()
        .fold(1e-3f64, |m, v| m.max(v.to_f64().unwrap().abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((*a - *b).to_f64().unwrap().abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err:e} exceeds {tol:e} x scale {scale:e}"
    );
}

/// The real workouts the tests read: one folder per person (tests/data/workouts).
pub const WORKOUTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/workouts");

/// How long one run of the hrcast binary may take before a test calls it hung.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Runs `command` to its end and returns its output, killing it after `limit`: a hang is a
/// failure, not a stuck test. Standard output and error are read as they come, so a run that
/// writes more than a pipe holds cannot block.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hrcast runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{command:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout read"),
        stderr: stderr.join().expect("stderr read"),
    }
}

/// The hrcast binary with `args`, to be run in `dir`.
pub fn hrcast_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrcast"));
    command.current_dir(dir).args(args);
    command
}

/// Runs the hrcast binary in `dir` with `args` ([`RUN_LIMIT`]).
pub fn hrcast_in(dir: &Path, args: &[&str]) -> Output {
    output_within(&mut hrcast_command(dir, args), RUN_LIMIT)
}

/// Runs the hrcast binary in the test's working directory with `args` ([`RUN_LIMIT`]).
pub fn hrcast(args: &[&str]) -> Output {
    hrcast_in(Path::new("."), args)
}

/// Asserts that a run succeeded (showing its stderr where not) and returns its stdout.
pub fn succeeded(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The width and height of the PNG at `path`, which must decode.
pub fn png_size(path: &Path) -> (u32, u32) {
    let image = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (image.width(), image.height())
}

/// Asserts that a run failed cleanly (non-zero, no panic) with a stderr naming every needle.
pub fn fails_with(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a failure; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}
