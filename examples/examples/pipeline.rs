//! A realistic multi-step pipeline, entirely offline:
//!
//! ```text
//! fetch(city, days) ──► clean ──► (clean rows, rejected rows)
//!                                      │
//!                  aggregate(Vec<File>) ◄┘  (all cities' clean rows)
//!                          │
//!                 split_by_month ──► Vec<File> (implicit names)
//!                          │
//!                    report(summary, title)
//! ```
//!
//! `fetch` stands in for a download: it generates a deterministic synthetic
//! CSV of daily temperatures, with a few broken rows for `clean` to reject.
//! Run it twice: the second pass skips every step.
//!
//! Uses the same configuration as the `lake` binary (`LAKE_HOME`,
//! `LAKE_STORE`, `lake.toml`); with none, the embedded default store.
//!
//! ```text
//! cargo run -p lake-examples --example pipeline
//! ```

use std::collections::BTreeMap;
use std::io::Write;

use lake_runtime::{File, Lake, file_creator};

/// "Downloads" `days` days of weather for `city`: a synthetic CSV.
#[file_creator]
fn fetch(city: String, days: u32) -> File {
    println!("  fetching {days} days for {city}");
    let seed = city
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
    let mut out = File::create_output().expect("inside a creator");
    writeln!(out, "city,day,temp_c").unwrap();
    for day in 0..days {
        let noise = (seed.wrapping_mul(u64::from(day) + 1) >> 7) % 100;
        let temp = 5.0 + (noise as f64) / 5.0 - if day % 30 < 10 { 4.0 } else { 0.0 };
        match day % 13 {
            // A truncated row and an impossible reading, as real feeds have.
            5 => writeln!(out, "{city},{day}").unwrap(),
            11 => writeln!(out, "{city},{day},-999").unwrap(),
            _ => writeln!(out, "{city},{day},{temp:.1}").unwrap(),
        }
    }
    out.commit().expect("commit")
}

/// Splits a raw CSV into valid rows and rejected rows.
#[file_creator]
fn clean(raw: &File) -> (File, File) {
    println!("  cleaning {}", raw.name());
    let text = raw.read_to_string().expect("read raw");
    let mut good = File::create_output().expect("inside a creator");
    let mut bad = File::create_output().expect("inside a creator");
    writeln!(good, "city,day,temp_c").unwrap();
    writeln!(bad, "line,reason,row").unwrap();
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let reason = match fields.as_slice() {
            [_, _, t] => match t.parse::<f64>() {
                Ok(t) if (-80.0..=60.0).contains(&t) => None,
                Ok(_) => Some("out of range"),
                Err(_) => Some("not a number"),
            },
            _ => Some("wrong field count"),
        };
        match reason {
            None => writeln!(good, "{line}").unwrap(),
            Some(reason) => writeln!(bad, "{},{reason},\"{line}\"", i + 1).unwrap(),
        }
    }
    (
        good.commit().expect("commit"),
        bad.commit().expect("commit"),
    )
}

/// Per-city mean, min and max over every clean part.
#[file_creator]
fn aggregate(parts: Vec<File>) -> File {
    println!("  aggregating {} parts", parts.len());
    let mut stats: BTreeMap<String, (f64, f64, f64, u32)> = BTreeMap::new();
    for part in &parts {
        for line in part.read_to_string().expect("read part").lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let temp: f64 = fields[2].parse().expect("clean rows parse");
            let e = stats.entry(fields[0].to_owned()).or_insert((
                0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0,
            ));
            e.0 += temp;
            e.1 = e.1.min(temp);
            e.2 = e.2.max(temp);
            e.3 += 1;
        }
    }
    let mut out = File::create_output().expect("inside a creator");
    writeln!(out, "city,days,mean_c,min_c,max_c").unwrap();
    for (city, (sum, min, max, n)) in stats {
        writeln!(
            out,
            "{city},{n},{:.2},{min:.1},{max:.1}",
            sum / f64::from(n)
        )
        .unwrap();
    }
    out.commit().expect("commit")
}

/// One file per 30-day "month" of the clean rows: a step with a variable
/// number of outputs, named `split_by_month/<key>/0000`, `/0001`, ….
#[file_creator]
fn split_by_month(clean: &[File]) -> lake_runtime::Result<Vec<File>> {
    println!("  splitting {} parts by month", clean.len());
    let mut months: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for part in clean {
        for line in part.read_to_string()?.lines().skip(1) {
            let day: u32 = line
                .split(',')
                .nth(1)
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            months.entry(day / 30).or_default().push(line.to_owned());
        }
    }
    let mut files = Vec::with_capacity(months.len());
    for rows in months.values() {
        let mut out = File::create_output()?;
        writeln!(out, "city,day,temp_c")?;
        for row in rows {
            writeln!(out, "{row}")?;
        }
        files.push(out.commit()?);
    }
    Ok(files)
}

/// A human-readable report of the summary.
#[file_creator]
fn report(summary: &File, months: Vec<File>, title: String) -> lake_runtime::Result<File> {
    println!("  writing report {title:?}");
    let mut out = File::create_output()?;
    writeln!(out, "# {title}")?;
    writeln!(out)?;
    for line in summary.read_to_string()?.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        writeln!(
            out,
            "- {:<8} {:>3} days, mean {:>6} °C (min {}, max {})",
            f[0], f[1], f[2], f[3], f[4]
        )?;
    }
    writeln!(out)?;
    for (i, month) in months.iter().enumerate() {
        let rows = month.read_to_string()?.lines().count().saturating_sub(1);
        writeln!(out, "month {i}: {rows} readings")?;
    }
    out.commit()
}

struct Outputs {
    raw: Vec<File>,
    clean: Vec<File>,
    rejected: Vec<File>,
    summary: File,
    months: Vec<File>,
    report: File,
}

fn pipeline(lake: &Lake, cities: &[&str]) -> lake_runtime::Result<Outputs> {
    // `fetch` has no input files, so it runs in an explicit lake scope.
    let raw: Vec<File> = cities
        .iter()
        .map(|city| lake.scope(|| fetch((*city).to_owned(), 90)))
        .collect();
    let (clean_parts, rejected): (Vec<File>, Vec<File>) = raw.iter().map(clean).unzip();
    let summary = aggregate(clean_parts.clone());
    let months = split_by_month(&clean_parts)?;
    let report = report(&summary, months.clone(), "Weather, last 90 days".to_owned())?;
    Ok(Outputs {
        raw,
        clean: clean_parts,
        rejected,
        summary,
        months,
        report,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lake_examples::show_lake_log_on_stdout();

    let lake = Lake::open()?;
    println!("home:  {}", lake.home_dir().display());
    println!("store: {}", lake.store());
    let cities = ["Lisbon", "Oslo", "Nairobi"];

    println!("\nfirst pass (computes whatever no earlier run made):");
    let out = pipeline(&lake, &cities)?;
    println!("\n{}", out.report.read_to_string()?);
    println!("outputs:");
    for (label, files) in [
        ("raw", &out.raw),
        ("clean", &out.clean),
        ("rejected", &out.rejected),
        ("month", &out.months),
    ] {
        for file in files {
            println!("  {label:<9}{}", file.name());
        }
    }
    println!("  {:<9}{}", "summary", out.summary.name());
    println!("  {:<9}{}", "report", out.report.name());
    let rejected: usize = out
        .rejected
        .iter()
        .map(|f| {
            f.read_to_string()
                .map(|t| t.lines().count().saturating_sub(1))
        })
        .sum::<lake_runtime::Result<_>>()?;
    println!("  ({rejected} rows rejected)");

    println!("\nsecond pass (every step skips):");
    let again = pipeline(&lake, &cities)?;
    assert_eq!(again.report, out.report);
    assert_eq!(again.months, out.months);
    println!("same report: {}", again.report.name());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lake_runtime::{assert_hit, assert_ran};

    /// "Changing this argument re-runs the step" (and only with it).
    #[test]
    fn changing_an_argument_reruns_the_step() {
        let lake = Lake::temporary().unwrap();
        let ninety = assert_ran!(fetch("Oslo".into(), 90));
        assert_eq!(assert_hit!(fetch("Oslo".into(), 90)), ninety);
        let thirty = assert_ran!(fetch("Oslo".into(), 30));
        assert_ne!(thirty, ninety);
        assert_eq!(lake.outcome_counts_of("fetch").runs, 2);
    }

    /// "After an input changes, exactly these steps re-run": a new city
    /// re-runs its own fetch and clean and everything downstream of the
    /// combined data, never the other cities' steps.
    #[test]
    fn after_an_input_changes_exactly_these_steps_rerun() {
        let lake = Lake::temporary().unwrap();
        let all = [
            "fetch",
            "fetch",
            "clean",
            "clean",
            "aggregate",
            "split_by_month",
            "report",
        ];
        lake.expect_runs(&all, || pipeline(&lake, &["Lisbon", "Oslo"]))
            .unwrap();
        lake.expect_runs(&[], || pipeline(&lake, &["Lisbon", "Oslo"]))
            .unwrap();
        let out = lake
            .expect_runs(
                &["fetch", "clean", "aggregate", "split_by_month", "report"],
                || pipeline(&lake, &["Lisbon", "Oslo", "Nairobi"]),
            )
            .unwrap();
        assert!(out.report.read_to_string().unwrap().contains("Nairobi"));
    }
}
