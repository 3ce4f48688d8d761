//! The files of `hrcast crossval` in `<results>/crossval/`: crossval.md (the tables, [`tables`]),
//! crossval.json, per_person.csv, folds.csv, per_person_mae.png and scatter.png.

use super::report::Report;
use super::scores::{Both, Pairs};
use crate::atomic;
use crate::plot::{self, Chart, Mark, Series};
use crate::score::Scores;
use anyhow::Result;
use plotters::style::RGBColor;
use std::fmt::Write as _;
use std::path::Path;

const WINDOWS: RGBColor = RGBColor(31, 119, 180);
const WHOLE: RGBColor = RGBColor(214, 39, 40);
const IDENTITY: RGBColor = RGBColor(0, 0, 0);
/// Points drawn at most in scatter.png.
const SCATTER_POINTS: usize = 20_000;

/// The tables of crossval.md: pooled, per fold, per person.
pub fn tables(r: &Report) -> String {
    let mut md = String::new();
    let row = |md: &mut String, name: &str, b: &Both| {
        let _ = writeln!(
            md,
            "| {name} | {:.2} | {:.2} | {:.3} | {:.2} | {:.2} | {:.3} | {} |",
            b.windows.mae,
            b.windows.rmse,
            b.windows.r2,
            b.whole.mae,
            b.whole.rmse,
            b.whole.r2,
            b.windows.n_steps
        );
    };
    let header =
        "| MAE windows | RMSE windows | R² windows | MAE whole | RMSE whole | R² whole | steps |";
    let rule = "| --- | --- | --- | --- | --- | --- | --- | --- |";
    let _ = writeln!(
        md,
        "Cross-validation across people: {}; the models trained on {}.\n",
        r.inputs, r.training
    );
    let _ = writeln!(md, "| held out {header}\n{rule}");
    row(&mut md, "pooled", &r.pooled);
    if let Some(i) = &r.pooled_mae_interval {
        let _ = writeln!(
            md,
            "\nPooled MAE (windows): 95 % interval {:.2} to {:.2} bpm, by bootstrap over {} held-out workouts.",
            i.low, i.high, i.workouts
        );
    }
    if let Some(few) = &r.too_few {
        let _ = writeln!(md, "\nNote: {few}.");
    }
    // Walking forward in time, one person's rows are the folds'.
    let one_person = r.people.windows(2).all(|w| w[0].user_id == w[1].user_id);
    let whose = if one_person { "folds'" } else { "people's" };
    let _ = writeln!(
        md,
        "\nThe mean of the {whose} MAE: {:.2} bpm (windows), {:.2} bpm (whole). Predicting each \
         fold's training mean: pooled MAE {:.2} bpm.\n",
        r.mean_person_mae[0], r.mean_person_mae[1], r.pooled_mean_baseline_mae
    );
    let _ = writeln!(md, "| fold (people) {header}\n{rule}");
    for (k, f) in r.folds.iter().enumerate() {
        row(
            &mut md,
            &format!("{} ({})", k + 1, f.names.join(", ")),
            &f.test,
        );
    }
    let _ = writeln!(md, "\n| person (fold, workouts, mean bpm) {header}\n{rule}");
    for p in &r.people {
        row(
            &mut md,
            &format!("{} ({}, {}, {:.0})", p.name, p.fold, p.workouts, p.mean_hr),
            &p.test,
        );
    }
    if !r.calibration.is_empty() {
        let _ = writeln!(
            md,
            "\nPersonal calibration: each person's later workouts, by the fold's model (before), by \
             the model fine-tuned on their earlier workouts, and by the fold's model shifted by its \
             mean error on those earlier workouts (offset).\n"
        );
        let _ = writeln!(
            md,
            "| person (fold, calibration/test workouts) {header}\n{rule}"
        );
        if let Some([before, after, offset]) = &r.calibration_pooled {
            row(&mut md, "pooled, before", before);
            row(&mut md, "pooled, fine-tuned", after);
            row(&mut md, "pooled, offset", offset);
        }
        for c in &r.calibration {
            let who = format!(
                "{} ({}, {}/{})",
                person_name(r, c.user_id),
                c.fold,
                c.calibration_workouts,
                c.test_workouts
            );
            row(&mut md, &format!("{who}, before"), &c.before);
            row(&mut md, &format!("{who}, fine-tuned"), &c.after);
            row(&mut md, &format!("{who}, offset"), &c.offset);
        }
    }
    history_table(&mut md, r);
    md
}

/// The name of person `user_id` of the report, `user <id>` for one it does not hold.
fn person_name(r: &Report, user_id: i64) -> String {
    let person = r.people.iter().find(|p| p.user_id == user_id);
    person.map_or_else(|| format!("user {user_id}"), |p| p.name.clone())
}

/// crossval.md's table of the held-out windows by the number of the person's earlier workouts:
/// the model with that history, with it withheld, withheld and offset, fine-tuned (with
/// `--calibrate`), and the person's level (with and withheld are the same for a model that
/// does not take the history inputs).
fn history_table(md: &mut String, r: &Report) {
    if r.by_history.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\nBy the person's earlier workouts, in time order (windows; MAE in bpm, R² in brackets): \
         the fold's model given the summaries of the person's earlier workouts; the same model \
         with them withheld (as for a newcomer); that prediction shifted by its mean error on \
         the person's earlier workouts (offset); the prediction with history shifted the same way \
         (history + offset); with `--calibrate`, the model fine-tuned on the \
         person's first 1, 2 or 5 workouts (the bucket's lower bound), given the history; and no \
         model: the person's level in their history (the same sport's mean heart rate, else all \
         sports', else the training mean) at every step.\n\n\
         | earlier workouts | with history | withheld | offset | history + offset | fine-tuned | the person's level | steps |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let cell = |s: &Scores| {
        if s.n_steps == 0 {
            "–".to_string()
        } else {
            format!("{:.2} ({:.2})", s.mae, s.r2)
        }
    };
    for h in &r.by_history {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            h.earlier_workouts,
            cell(&h.with_history),
            cell(&h.withheld),
            cell(&h.offset),
            cell(&h.history_offset),
            cell(&h.fine_tuned),
            h.level.mae,
            h.with_history.n_steps
        );
    }
}

/// Writes crossval.json, crossval.md, per_person.csv, folds.csv and the plots ([`plots`]) into
/// `out`; `pooled` holds every held-out step.
pub fn write(out: &Path, r: &Report, pooled: &Pairs) -> Result<()> {
    let mut people = String::from(
        "user_id,person,fold,workouts,mean_hr,n_steps,mae_windows,rmse_windows,r2_windows,mae_whole,rmse_whole,r2_whole\n",
    );
    for p in &r.people {
        let _ = writeln!(
            people,
            "{},{},{},{},{:.2},{}",
            p.user_id,
            p.name.replace(',', " "),
            p.fold,
            p.workouts,
            p.mean_hr,
            p.test.csv()
        );
    }
    let mut folds = String::from(
        "fold,people,user_ids,train_workouts,val_workouts,test_workouts,train_windows,epochs,val_mae,n_steps,mae_windows,rmse_windows,r2_windows,mae_whole,rmse_whole,r2_whole\n",
    );
    for (k, f) in r.folds.iter().enumerate() {
        let ids: Vec<String> = f.people.iter().map(i64::to_string).collect();
        let _ = writeln!(
            folds,
            "{},{},{},{},{},{},{},{},{:.4},{}",
            k + 1,
            f.names.join("; ").replace(',', " "),
            ids.join(" "),
            f.workouts[0],
            f.workouts[1],
            f.workouts[2],
            f.train_windows,
            f.epochs,
            f.val_mae,
            f.test.csv()
        );
    }
    atomic::write_all(&[
        (out.join("crossval.json"), serde_json::to_vec_pretty(r)?),
        (out.join("crossval.md"), tables(r).into_bytes()),
        (out.join("per_person.csv"), people.into_bytes()),
        (out.join("folds.csv"), folds.into_bytes()),
    ])?;
    plots(out, r, pooled)
}

/// Draws per_person_mae.png (each person's MAE against their mean heart rate, named) and
/// scatter.png (predicted against actual at held-out steps, at most [`SCATTER_POINTS`] per way,
/// with the line where they are equal) into `out`.
fn plots(out: &Path, r: &Report, pooled: &Pairs) -> Result<()> {
    let per_person = |pick: fn(&Both) -> f64| -> Vec<(f64, f64)> {
        r.people
            .iter()
            .map(|p| (p.mean_hr, pick(&p.test)))
            .collect()
    };
    let thin = |pairs: &[(f32, f32)]| -> Vec<(f64, f64)> {
        let stride = pairs.len().div_ceil(SCATTER_POINTS).max(1);
        pairs
            .iter()
            .step_by(stride)
            .map(|&(y, p)| (f64::from(y), f64::from(p)))
            .collect()
    };
    let (windows, whole) = (thin(&pooled.windows), thin(&pooled.whole));
    let identity = plot::identity_line(&[windows.as_slice(), &whole].concat());
    let both_ways = |windows, whole, whole_mark| {
        vec![
            Series {
                label: "windows",
                points: windows,
                color: WINDOWS,
                mark: Mark::Dots,
            },
            Series {
                label: "whole workouts",
                points: whole,
                color: WHOLE,
                mark: whole_mark,
            },
        ]
    };
    let per_person_windows = per_person(|b| b.windows.mae);
    let per_person_mae = Chart {
        title: format!(
            "MAE of each held-out person (pooled: {:.2} bpm windows, {:.2} whole)",
            r.pooled.windows.mae, r.pooled.whole.mae
        ),
        x_label: "the person's mean heart rate (bpm)",
        y_label: "MAE (bpm)",
        notes: (r.people.iter().zip(&per_person_windows))
            .map(|(p, &(x, y))| (x, y, p.name.clone()))
            .collect(),
        series: both_ways(per_person_windows, per_person(|b| b.whole.mae), Mark::Rings),
        markers: Vec::new(),
    };
    let mut series = both_ways(windows, whole, Mark::Dots);
    series.push(Series {
        label: "predicted = actual",
        points: identity,
        color: IDENTITY,
        mark: Mark::Line,
    });
    let scatter = Chart {
        title: format!(
            "Held-out people, predicted vs actual (R² {:.3} windows, {:.3} whole)",
            r.pooled.windows.r2, r.pooled.whole.r2
        ),
        x_label: "actual heart rate (bpm)",
        y_label: "predicted heart rate (bpm)",
        series,
        markers: Vec::new(),
        notes: Vec::new(),
    };
    plot::save(&out.join("per_person_mae.png"), &[per_person_mae], 1)?;
    plot::save(&out.join("scatter.png"), &[scatter], 1)
}
