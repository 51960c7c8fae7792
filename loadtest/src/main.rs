//! `jiangcheng-load`: the load-test harness for jiangcheng, for SREs preparing for peak traffic.
//!
//! - `run`: a scenario file (open model with constant, step and ramp profiles, or closed model);
//! - `find-max`: the highest arrival rate that holds a latency SLO and error budget;
//! - `propagation`: how fast a list change reaches every instance.
//!
//! Every run writes a terminal summary, `<out>.json` and a self-contained `<out>.html`.

mod client;
mod findmax;
mod population;
mod propagation;
mod record;
mod report;
mod runner;
mod scenario;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file.
    Run(Common),
    /// Step the arrival rate up until the scenario's SLO breaks; report the highest that held.
    FindMax {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: findmax::FindMaxArgs,
    },
    /// Measure how fast a list change written through one instance reaches the others.
    Propagation(propagation::PropagationArgs),
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The scenario (TOML); see loadtest/scenarios/.
    #[arg(long)]
    scenario: PathBuf,
    /// Overrides the scenario's target; repeat it to spread the load over several instances.
    #[arg(long)]
    target: Vec<String>,
    /// Report files: <out>.json and <out>.html.
    #[arg(long, default_value = "jiangcheng-load-report")]
    out: PathBuf,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(common) => run(&common, None),
        Command::FindMax { common, args } => run(&common, Some(&args)),
        Command::Propagation(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(propagation::run(args)),
    }
}

fn run(common: &Common, find_max: Option<&findmax::FindMaxArgs>) -> Result<()> {
    let mut scenario = scenario::Scenario::read(&common.scenario)?;
    if !common.target.is_empty() {
        scenario.targets.clone_from(&common.target);
        scenario.validate()?;
    }
    let targets = scenario
        .target_urls()
        .iter()
        .map(|url| client::Target::parse(url, common.allow_remote))
        .collect::<Result<Vec<_>>>()?;
    let population = population::Population::load(&scenario.population)?;
    let (listed, unlisted) = population.sizes();
    eprintln!("population: {listed} listed and {unlisted} unlisted subjects sampled");
    let workload = Arc::new(population::Workload::new(&scenario, population)?);
    let progress = std::io::stderr().is_terminal();
    let step = |plan: &runner::Plan, label: &str| {
        eprintln!("{label}: running for {:.0} s", plan.seconds());
        runner::run(plan, workload.clone(), &targets, progress).with_context(|| label.to_owned())
    };
    let mut report = report::Report::new(
        if find_max.is_some() {
            "find-max"
        } else {
            "run"
        },
        scenario.clone(),
    );
    match find_max {
        Some(args) => findmax::run(args, &scenario, step, &mut report)?,
        None => {
            let plan = runner::Plan::from_scenario(&scenario);
            let output = step(&plan, "run")?;
            report.runs.push(report::Step {
                label: scenario.name.clone(),
                offered_rate: None,
                output,
            });
        }
    }
    print!("{}", report.summary());
    let (json, html) = report.write(&common.out)?;
    println!("reports: {json}, {html}");
    Ok(())
}
