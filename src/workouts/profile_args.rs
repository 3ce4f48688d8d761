//! `--resting-hr` and `--max-hr`: the person's heart rates where their files do not record them,
//! one flag per person-level input ([`PROFILE_INPUT_NAMES`]).

use crate::data::{self, PROFILE_INPUT_NAMES, Profile};
use anyhow::{Result, ensure};

/// `--resting-hr` and `--max-hr`: the person's heart rates where their files do not record them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileArgs {
    /// The person's resting heart rate (bpm), for workouts whose file does not record one (a FIT
    /// file's user profile does); a model with the `resting_hr` input uses it.
    #[arg(long, alias = "resting_hr", value_name = "BPM")]
    pub resting_hr: Option<f64>,
    /// The person's maximal heart rate (bpm), for workouts whose file does not record one; a
    /// model with the `max_hr` input uses it.
    #[arg(long, alias = "max_hr", value_name = "BPM")]
    pub max_hr: Option<f64>,
}

/// The flag that gives the person-level input `input`: its name in kebab case.
fn flag_of(input: &str) -> String {
    format!("--{}", input.replace('_', "-"))
}

impl ProfileArgs {
    /// The profile the flags give, refused where a value is not a believable heart rate or the
    /// resting one is not below the maximal one.
    pub fn profile(&self) -> Result<Profile> {
        let range = &data::HEART_RATE_VALID_BPM;
        for (flag, value, _) in self.flags() {
            if let Some(v) = value {
                ensure!(
                    range.contains(&v),
                    "{flag} {v}: a heart rate must be from {} to {} bpm",
                    range.start(),
                    range.end()
                );
            }
        }
        if let (Some(rest), Some(max)) = (self.resting_hr, self.max_hr) {
            ensure!(
                rest < max,
                "--resting-hr {rest} is not below --max-hr {max}"
            );
        }
        Ok(self.given())
    }

    /// The values as given, unchecked.
    fn given(&self) -> Profile {
        Profile {
            resting_hr: self.resting_hr,
            max_hr: self.max_hr,
        }
    }

    /// Each flag, its value and the person-level input it gives, in the order of
    /// [`PROFILE_INPUT_NAMES`] (the flag is the input's name in kebab case).
    fn flags(&self) -> impl Iterator<Item = (String, Option<f64>, &'static str)> {
        PROFILE_INPUT_NAMES
            .into_iter()
            .zip(self.given().values())
            .map(|(input, value)| (flag_of(input), value, input))
    }

    /// Warns on stderr, in one line, where a model (its input names `inputs`) takes a
    /// person-level input that `profile`, the workout of `source`'s after the flags, leaves
    /// unknown: the model then takes the training data's mean for it.
    pub fn warn_unknown(profile: Profile, inputs: &[String], source: &str) {
        let unknown: Vec<&str> = PROFILE_INPUT_NAMES
            .into_iter()
            .zip(profile.values())
            .filter(|(input, value)| value.is_none() && inputs.iter().any(|name| name == input))
            .map(|(input, _)| input)
            .collect();
        if unknown.is_empty() {
            return;
        }
        let flags: Vec<String> = unknown.iter().map(|input| flag_of(input)).collect();
        let (inputs_are, them) = match unknown.as_slice() {
            [one] => (format!("input {one} is"), "it"),
            _ => (format!("inputs {} are", unknown.join(" and ")), "them"),
        };
        eprintln!(
            "warning: the person {inputs_are} unknown ({source} does not record {them}): the \
             model takes the training data's mean; give {them} with {}",
            flags.join(" and ")
        );
    }

    /// Warns on stderr where a flag was given for a model (its input names `inputs`) that does
    /// not take that input: the value changes nothing.
    pub fn warn_unused(&self, inputs: &[String]) {
        for (flag, value, input) in self.flags() {
            if value.is_some() && !inputs.iter().any(|name| name == input) {
                eprintln!(
                    "warning: {flag} is ignored: the checkpoint's model does not take the \
                     {input} input (train with --features ...,person)"
                );
            }
        }
    }
}
