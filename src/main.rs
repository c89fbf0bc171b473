//! The `peergen` binary: parse arguments, set up logging, call [`peergen::run`], map errors to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use peergen::cli::{Cli, ColorChoice};

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error: 2 means "changes" for `plan --detailed-exitcode`.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let ansi = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEERGEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level))
                // The HTTP client's debug and trace output dumps request bytes, Authorization included.
                .add_directive("ureq=warn".parse().expect("static directive"))
                .add_directive("ureq_proto=warn".parse().expect("static directive")),
        )
        .with_ansi(ansi)
        .without_time()
        .with_target(false)
        .init();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match peergen::run(cli, &mut out) {
        Ok(code) => code,
        Err(peergen::Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
