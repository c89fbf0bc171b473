//! Benchmark: a synthetic 200-validator × 50-consumer inventory, every validator's view rendered.
//! Run with `cargo bench --bench render`; prints wall time per stage and peak RSS (VmHWM).

#![allow(clippy::print_stdout)]

use std::time::Instant;

const VALIDATORS: usize = 200;
const CONSUMERS: usize = 50;
const ROUNDS: usize = 5;

mod synth;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn main() {
    use clap::Parser as _;
    let dir = tempfile::tempdir().unwrap();
    let (inv, state) = synth::write(dir.path(), VALIDATORS, CONSUMERS);
    let mut best = f64::MAX;
    let mut summary = String::new();
    for round in 0..ROUNDS {
        let out = dir.path().join(format!("out-{round}"));
        let cli = peergen::Cli::parse_from([
            "peergen".as_ref(),
            "render".as_ref(),
            "-i".as_ref(),
            inv.as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        let mut stdout = Vec::new();
        let t0 = Instant::now();
        peergen::run(cli, &mut stdout).unwrap();
        best = best.min(t0.elapsed().as_secs_f64());
        summary = String::from_utf8(stdout).unwrap();
    }
    println!(
        "peergen render benchmark: {VALIDATORS} validators x {CONSUMERS} consumers, best of {ROUNDS}"
    );
    print!("  {summary}");
    println!(
        "  load + plan + render + verify + write: {:8.1} ms",
        best * 1e3
    );
    println!(
        "  peak RSS                             : {:8.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );
}
