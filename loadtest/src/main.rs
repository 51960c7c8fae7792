//! `jiangcheng-load`: the load-test harness for jiangcheng, for SREs preparing for peak traffic.

mod client;
mod propagation;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure how fast a list change written through one instance reaches the others.
    Propagation(propagation::PropagationArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Propagation(args) => runtime.block_on(propagation::run(args)),
    }
}
