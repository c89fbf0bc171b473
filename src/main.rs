//! The `peergen` binary: parse arguments, set up logging, call [`peergen::run`], map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use peergen::Cli;

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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEERGEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.log_level()))
                // The HTTP client's debug and trace output dumps request bytes, Authorization included.
                .add_directive("ureq=warn".parse().expect("static directive"))
                .add_directive("ureq_proto=warn".parse().expect("static directive")),
        )
        .with_ansi(cli.stderr_color())
        .without_time()
        .with_target(false)
        .init();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match peergen::run(cli, &mut out) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
