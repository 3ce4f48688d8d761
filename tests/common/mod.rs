//! Helpers shared by the integration tests: the PyTorch fixtures.
#![allow(dead_code)] // each test binary uses its own subset

use hrcast::engine::cpu::scalar::Scalar;
use hrcast::features::FEATURE_NAMES;
use hrcast::model::{Batch, Cell, ModelConfig, Params};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

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
