//! What a person sees in the terminal: help in plain words naming every accepted value, flag
//! errors in the user's words, `--threads`, `evaluate --data` on a folder, and the message where
//! no workout is usable.

use crate::common;

use common::{fails_with, hrcast, hrcast_in, succeeded};
use hrcast::features::{FEATURE_SETS, INPUT_NAMES, PERSON_SETS};
use std::path::Path;

/// Every subcommand's long help, as `hrcast <command> --help` prints it.
fn helps() -> Vec<(String, String)> {
    let mut command = hrcast::cli::command();
    command.build();
    command
        .get_subcommands()
        .map(|sub| {
            let name = sub.get_name().to_string();
            (name, sub.clone().render_long_help().to_string())
        })
        .collect()
}

#[test]
fn help_is_plain_words_and_names_every_feature_set_and_device() {
    let helps = helps();
    assert!(helps.len() >= 10, "{helps:?}");
    for (name, help) in &helps {
        assert!(
            !help.contains("[`"),
            "hrcast {name} --help shows a rustdoc link:\n{help}"
        );
    }
    for command in ["train", "ablate", "crossval"] {
        let (_, help) = helps.iter().find(|(name, _)| name == command).unwrap();
        let sets = FEATURE_SETS.iter().chain(&PERSON_SETS).map(|(set, _)| *set);
        for name in sets.chain(INPUT_NAMES) {
            assert!(
                help.contains(name),
                "{command} --help lacks {name}:\n{help}"
            );
        }
    }
    for (name, help) in &helps {
        if help.contains("--device") {
            for value in ["auto", "gpu:N", "cpu", "--threads"] {
                assert!(help.contains(value), "{name} --help lacks {value}:\n{help}");
            }
        }
    }
}

#[test]
fn flag_values_are_refused_in_the_users_words() {
    let cases: [(&[&str], &[&str]); 6] = [
        (&["train", "--lr", "-1"], &["--lr", "non-negative", "-1"]),
        (&["train", "--epochs", "0"], &["--epochs", "at least 1"]),
        (
            &["train", "--hidden-size", "-3"],
            &["--hidden-size", "at least 1"],
        ),
        (&["train", "--threads", "0"], &["--threads", "at least 1"]),
        (
            &["bench", "--device", "cuda:1"],
            &["--device", "gpu:N", "cpu"],
        ),
        (
            &["crossval", "--input", "x", "--folds", "1"],
            &["--folds", "at least 2"],
        ),
    ];
    for (args, needles) in cases {
        let out = hrcast(args);
        fails_with(&out, needles);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("unexpected argument") && !err.contains("is not in"),
            "{err}"
        );
    }
}

#[test]
fn threads_reach_the_cpu_engine_and_a_data_folder_is_its_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    succeeded(&hrcast_in(
        d,
        &[
            "synth",
            "--out",
            "raw",
            "--users",
            "4",
            "--workouts-per-user",
            "2",
        ],
    ));
    succeeded(&hrcast_in(d, &["prepare", "--input", "raw", "--out", "p"]));
    let tiny = ["--hidden-size", "4", "--num-layers", "1", "--epochs", "1"];
    let train = succeeded(&hrcast_in(
        d,
        &[
            &["train", "--data", "p", "--device", "cpu", "--threads", "1"],
            &tiny[..],
        ]
        .concat(),
    ));
    assert!(
        train.contains("device cpu: CPU engine (f32, hand-written BPTT, 1 thread over the batch)"),
        "{train}"
    );
    let evaluate = |data: &str, out: &str| {
        succeeded(&hrcast_in(
            d,
            &[
                "evaluate",
                "--checkpoint",
                "checkpoints/best_model.safetensors",
                "--data",
                data,
                "--out",
                out,
                "--device",
                "cpu",
                "--threads",
                "2",
            ],
        ));
        std::fs::read_to_string(d.join(out).join("metrics.json")).unwrap()
    };
    assert_eq!(
        evaluate("p", "by_folder"),
        evaluate("p/test.safetensors", "by_file")
    );
}

#[test]
fn where_no_workout_is_usable_the_message_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("a.fit"), "garbage").unwrap();
    let prepare = |out: &str| {
        let out = dir.path().join(out);
        hrcast(&[
            "prepare",
            "--input",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let one = prepare("one");
    fails_with(
        &one,
        &[
            "--input",
            "no usable workout in ",
            "a.fit: not a valid FIT file",
        ],
    );
    std::fs::write(bad.join("b.gpx"), "<gpx></gpx>").unwrap();
    let two = prepare("two");
    fails_with(
        &two,
        &[
            "no usable workout in 2 files (0 workouts read); skipped:",
            "a.fit: ",
            "b.gpx: ",
        ],
    );
    assert!(
        !Path::new(&dir.path().join("two"))
            .join("train.safetensors")
            .exists()
    );
}
