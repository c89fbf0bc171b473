//! The commands: one file per command, each turning its clap arguments into the stages' option
//! structs, running the stages and writing their results. Only this layer knows the root error,
//! exit codes and whether to colour.

pub(crate) mod cli;

mod apply;
mod check;
mod error;
mod fetch;
mod graph;
mod node_id;
mod plan;
mod port;
mod probe;
mod publish;
mod render;
mod resolve;
mod source;
mod verify;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub use error::Error;

use cli::{Cli, ColorChoice, Command};

/// Runs one command. Data goes to `out` (stdout); logs go through `tracing` (stderr).
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode, Error> {
    let color = use_color(cli.color);
    crate::gitops::configure_git();
    match cli.command {
        Command::Check(args) => check::run(&args, out),
        Command::Render(args) => render::run(&args, out),
        Command::Port(args) => port::run(&args, out),
        Command::Resolve(args) => resolve::run(&args, out),
        Command::NodeId(args) => node_id::run(&args, out),
        Command::Plan(args) => plan::run(&args, color, out),
        Command::Verify(target) => verify::run(&target, color, out),
        Command::Apply(args) => apply::run(args, color, out),
        Command::Fetch(args) => fetch::run(&args, out),
        Command::Graph(args) => graph::run(&args, out),
        Command::Probe(args) => probe::run(&args, color, out),
        Command::Publish(args) => publish::run(&args, out),
    }
}

/// Colour only when asked, or on a terminal without `NO_COLOR`: piped plans stay plain patches.
fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
}
