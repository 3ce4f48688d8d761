//! `hrcast people`: what the workouts of each person hold, per sport: workouts, valid time,
//! mean heart rate and its 5th and 95th percentiles, moving speed and the slope of heart rate
//! against speed, the figures the history inputs summarize (docs/model.md). It tells whether
//! one set of people (the synthetic ones, say) spans another (real ones): beside the table of
//! people, a table of the spread over people per sport.

use crate::data::{Profile, Sport};
use crate::workouts::{self, Prepared, Summary};
use anyhow::Result;
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `hrcast people`.
#[derive(Debug, Args)]
pub struct PeopleOptions {
    /// Workout files or folders (FIT, TCX, GPX, FitRec JSON lines); a person is a FitRec
    /// userId, else the first folder under an input folder, as `prepare` takes them.
    #[arg(long = "input", value_name = "INPUT", num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// Grid interval in seconds (0.1 to 3600), as `prepare --interval`.
    #[arg(long = "interval", value_name = "INTERVAL", default_value_t = 5.0, value_parser = workouts::grid_seconds)]
    pub interval_s: f64,
    /// Also write the table of people as CSV to this file.
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
}

/// One person's workouts of one sport, summarized.
#[derive(Debug, Clone)]
pub struct PersonSport {
    /// The person: the folder that stands for them, else `user <id>` (FitRec lines).
    pub person: String,
    /// The sport class.
    pub sport: Sport,
    /// What those workouts hold.
    pub summary: Summary,
}

/// The people of `prepared`, each sport of each person summarized, ordered by person, then
/// sport.
pub fn people(prepared: &[Prepared]) -> Vec<PersonSport> {
    let mut groups: BTreeMap<(String, Sport), Vec<&Prepared>> = BTreeMap::new();
    for p in prepared {
        let key = (p.workout.person.clone(), p.workout.sport_class());
        groups.entry(key).or_default().push(p);
    }
    groups
        .into_iter()
        .map(|((person, sport), list)| PersonSport {
            person,
            sport,
            summary: workouts::summarize_workouts(&list),
        })
        .collect()
}

/// A value to one decimal, `–` where unknown.
fn cell(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{v:.1}"))
}

/// The table of people, in Markdown.
pub fn table(rows: &[PersonSport], interval_s: f64) -> String {
    let mut md = String::from(
        "| person | sport | workouts | valid minutes | mean heart rate | 5th-95th percentile | moving speed (km/h) | bpm per km/h |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let s = &r.summary;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {} | {}-{} | {} | {} |",
            r.person,
            r.sport.name(),
            s.workouts,
            s.steps as f64 * interval_s / 60.0,
            cell(s.mean_hr),
            cell(s.hr_low),
            cell(s.hr_high),
            cell(s.moving_speed),
            cell(s.hr_per_speed.map(|v| (v * 100.0).round() / 100.0)),
        );
    }
    md
}

/// The smallest, the median and the largest of `values` (the median of an even count: the
/// mean of the middle two), `–` where there is none.
fn spread(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "–".into();
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = (values[(n - 1) / 2] + values[n / 2]) / 2.0;
    format!("{:.1} / {median:.1} / {:.1}", values[0], values[n - 1])
}

/// The spread over people per sport, in Markdown: how many people, and the smallest, median
/// and largest mean heart rate and slope against speed.
pub fn spread_table(rows: &[PersonSport]) -> String {
    let mut md = String::from(
        "| sport | people | mean heart rate: min / median / max | bpm per km/h: min / median / max |\n\
         | --- | --- | --- | --- |\n",
    );
    for sport in Sport::ALL {
        let of_sport: Vec<&Summary> = (rows.iter().filter(|r| r.sport == sport))
            .map(|r| &r.summary)
            .collect();
        if of_sport.is_empty() {
            continue;
        }
        let values =
            |pick: fn(&Summary) -> Option<f64>| of_sport.iter().filter_map(move |s| pick(s));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            sport.name(),
            of_sport.len(),
            spread(values(|s| s.mean_hr).collect()),
            spread(values(|s| s.hr_per_speed).collect()),
        );
    }
    md
}

/// The table of people as CSV.
fn csv(rows: &[PersonSport], interval_s: f64) -> String {
    let mut out = String::from(
        "person,sport,workouts,valid_minutes,mean_hr,hr_low,hr_high,moving_speed_kmh,hr_per_speed\n",
    );
    let value = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for r in rows {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "{},{},{},{:.1},{},{},{},{},{}",
            r.person.replace(',', " "),
            r.sport.name(),
            s.workouts,
            s.steps as f64 * interval_s / 60.0,
            value(s.mean_hr),
            value(s.hr_low),
            value(s.hr_high),
            value(s.moving_speed),
            value(s.hr_per_speed),
        );
    }
    out
}

/// Runs `hrcast people`: reads the inputs, prints both tables, writes the CSV with `--out`.
pub fn run(options: &PeopleOptions) -> Result<ExitCode> {
    let loaded = workouts::load(&options.inputs, options.interval_s, Profile::default())?;
    workouts::warn(&loaded.cleaned, &loaded.skipped);
    let rows = people(&loaded.prepared);
    print!("{}", table(&rows, options.interval_s));
    println!("\nOver people, per sport:\n");
    print!("{}", spread_table(&rows));
    if let Some(path) = &options.out {
        crate::atomic::write(path, csv(&rows, options.interval_s).into_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_gives_the_ends_and_the_median() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), "1.0 / 2.0 / 3.0");
        assert_eq!(spread(vec![4.0, 1.0, 2.0, 3.0]), "1.0 / 2.5 / 4.0");
        assert_eq!(spread(Vec::new()), "–");
    }
}
