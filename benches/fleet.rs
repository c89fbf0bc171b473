//! Benchmark: the whole journey of a synthetic fleet (every validator in every consumer's set), each
//! step run as its own `peergen` process and measured by the OS, next to the floors it is judged
//! against: `cp -r` of the rendered tree and `git add -A && git commit` of it.
//!
//! `cargo bench --bench fleet` runs 50, 100 and 200 validators × 50 consumers;
//! `cargo bench --bench fleet -- 200` runs only the sizes given. The work happens on tmpfs
//! (`/dev/shm`) when the machine has it, so the floors measure the CPU, not a disk. With
//! `PEERGEN_BENCH_KEEP=1` the work directory (inputs, output, repositories) is kept, for profiling.
//! Every step and floor runs `PEERGEN_BENCH_RUNS` times (3 unless set), each on its own fresh copy of
//! what it starts from; the table shows the fastest run's wall and CPU time and the largest peak RSS
//! of all runs (this VM's speed drifts by tens of percent within minutes).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::time::TimeValLike as _;

mod synth;

const CONSUMERS: usize = 50;
const DEFAULT_SIZES: [usize; 3] = [50, 100, 200];
/// Set in the environment of the bench's own re-execution that measures one command.
const MEASURE: &str = "PEERGEN_BENCH_MEASURE";

fn runs() -> usize {
    std::env::var("PEERGEN_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// The fastest of `runs()` runs of `step`, with the largest peak RSS.
fn best(mut step: impl FnMut() -> Usage) -> Usage {
    let all: Vec<Usage> = (0..runs()).map(|_| step()).collect();
    let fastest = all
        .iter()
        .copied()
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .expect("at least one run");
    Usage {
        rss_mib: all.iter().map(|u| u.rss_mib).fold(0.0, f64::max),
        ..fastest
    }
}

/// `cp -a from to`, untimed: the fresh starting point of one run.
fn copy(dir: &Path, from: &str, to: &str) {
    let _ = std::fs::remove_dir_all(dir.join(to));
    let status = Command::new("cp")
        .args(["-a", from, to])
        .current_dir(dir)
        .status()
        .expect("runs cp");
    assert!(status.success(), "cp -a {from} {to} failed");
}

/// What the OS says about one process: wall time, CPU time and peak resident set.
#[derive(Clone, Copy)]
struct Usage {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

fn main() {
    if std::env::var_os(MEASURE).is_some() {
        measure_self();
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        sizes
    };
    let base = if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm")
    } else {
        tempfile::tempdir()
    }
    .expect("a work directory");
    println!(
        "peergen fleet benchmark: {CONSUMERS} consumers, every validator in every set; work directory on {}",
        if base.path().starts_with("/dev/shm") {
            "tmpfs"
        } else {
            "the temp directory's file system"
        }
    );
    println!("{}", machine());
    let keep = std::env::var_os("PEERGEN_BENCH_KEEP").is_some();
    for n in sizes {
        run_size(&base.path().join(n.to_string()), n, keep);
    }
    if keep {
        println!("kept {}", base.keep().display());
    }
}

/// The measuring process: runs the command in its arguments as its only child, so
/// `RUSAGE_CHILDREN` describes exactly that command, and prints `wall cpu rss_kib`.
fn measure_self() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let t0 = Instant::now();
    let output = Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("runs the command");
    let wall = t0.elapsed().as_secs_f64();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let cpu = usage.user_time().num_microseconds() + usage.system_time().num_microseconds();
    if !output.status.success() && output.status.code() != Some(2) {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        std::process::exit(1);
    }
    println!("{wall} {} {}", cpu as f64 / 1e6, usage.max_rss());
}

/// Runs `program args…` under [`measure_self`] in `dir`.
fn measure(dir: &Path, program: &str, args: &[&str]) -> Usage {
    let exe = std::env::current_exe().expect("own path");
    let output = Command::new(exe)
        .env(MEASURE, "1")
        .current_dir(dir)
        .arg(program)
        .args(args)
        .output()
        .expect("runs the measuring process");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut f = text
        .split_whitespace()
        .map(|x| x.parse::<f64>().expect("a number"));
    let (wall, cpu, rss_kib) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
    Usage {
        wall,
        cpu,
        rss_mib: rss_kib / 1024.0,
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("runs git");
    assert!(status.success(), "git {args:?} failed");
}

fn new_repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("creates the repository directory");
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "bench"]);
    git(dir, &["config", "user.email", "bench@localhost"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "start"]);
}

fn run_size(dir: &Path, validators: usize, keep: bool) {
    std::fs::create_dir_all(dir).expect("creates the size's directory");
    let (inv, state) = synth::write(dir, validators, CONSUMERS);
    let changed = dir.join("changed.yaml");
    std::fs::write(&changed, synth::inventory(validators, Some(0))).expect("writes");
    let peergen = env!("CARGO_BIN_EXE_peergen");
    let p = |p: &PathBuf| p.to_str().expect("UTF-8 path").to_owned();
    let (inv, state, changed) = (p(&inv), p(&state), p(&changed));
    let inputs = |inv: &str| -> Vec<String> {
        vec![
            "-q".into(),
            "-i".into(),
            inv.into(),
            "--state".into(),
            state.clone(),
        ]
    };
    let with = |cmd: &str, inv: &str, rest: &[&str]| -> Vec<String> {
        let mut v = vec![cmd.to_owned()];
        v.extend(inputs(inv));
        v.extend(rest.iter().map(|s| (*s).to_owned()));
        v
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        measure(dir, peergen, &refs)
    };

    // Each run of a writing step starts from nothing (a fresh directory or repository) or from a
    // fresh copy of the repository it changes; the last run's result is what later steps read.
    let fresh = |name: &str| {
        let _ = std::fs::remove_dir_all(dir.join(name));
        name.to_owned()
    };
    let check = best(|| run(with("check", &inv, &[])));
    let render = best(|| run(with("render", &inv, &["--out", &fresh("out")])));
    let self_render = best(|| {
        run(with(
            "render",
            &inv,
            &["--out", &fresh("out-self"), "--self", "val-000"],
        ))
    });
    let cp = best(|| measure(dir, "cp", &["-r", "out", &fresh("out-copy")]));
    let (files, bytes) = tree_size(&dir.join("out"));

    // The floor of a first apply: git's own add and commit of the same tree.
    let git_floor = best(|| {
        let floor_repo = dir.join(fresh("floor"));
        new_repo(&floor_repo);
        copy(dir, "out", "floor/peers");
        measure(
            &floor_repo,
            "sh",
            &["-c", "git add -A && git commit -q -m floor"],
        )
    });

    let target = ["--repo", "repo"];
    let first_apply = best(|| {
        new_repo(&dir.join(fresh("repo")));
        run(with("apply", &inv, &target))
    });
    let noop_plan = best(|| run(with("plan", &inv, &target)));
    let verify = best(|| run(with("verify", &inv, &target)));
    let change_plan = best(|| run(with("plan", &changed, &target)));
    copy(dir, "repo", "repo-applied");
    let change_apply = best(|| {
        copy(dir, "repo-applied", "repo");
        // A copy's files have new inodes and change times: refresh git's stat cache, as a clone or
        // the apply that wrote them leaves it, so status does not re-hash the whole tree.
        git(&dir.join("repo"), &["update-index", "-q", "--refresh"]);
        run(with("apply", &changed, &target))
    });

    // The performance issue's goal for a first apply: three copies plus git's own object writing.
    let apply_floor = 3.0 * cp.wall + git_floor.wall;
    println!();
    println!(
        "{validators} validators × {CONSUMERS} consumers: {files} files, {:.0} MiB",
        bytes as f64 / (1024.0 * 1024.0)
    );
    println!("| step | wall s | CPU s | peak RSS MiB | floor | floor s | × floor |");
    println!("|---|---:|---:|---:|---|---:|---:|");
    let row = |name: &str, u: Usage, floor: Option<(&str, f64)>| match floor {
        Some((fname, f)) => println!(
            "| {name} | {:.2} | {:.2} | {:.0} | {fname} | {f:.2} | {:.2} |",
            u.wall,
            u.cpu,
            u.rss_mib,
            u.wall / f
        ),
        None => println!(
            "| {name} | {:.2} | {:.2} | {:.0} | | | |",
            u.wall, u.cpu, u.rss_mib
        ),
    };
    let cp_floor = Some(("`cp -r`", cp.wall));
    let git_floors = Some(("3 × `cp -r` + `git add -A && git commit`", apply_floor));
    row("`cp -r` of the tree", cp, None);
    row("`git add -A && git commit`", git_floor, None);
    row("check", check, None);
    row("render (every view, verified)", render, cp_floor);
    row("render `--self` (one view)", self_render, None);
    row("first apply", first_apply, git_floors);
    row("no-op plan", noop_plan, cp_floor);
    row("verify", verify, cp_floor);
    row("plan of a one-validator change", change_plan, cp_floor);
    row("apply of a one-validator change", change_apply, git_floors);
    if !keep {
        std::fs::remove_dir_all(dir).expect("cleans up");
    }
}

/// Files and bytes under `dir`.
fn tree_size(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("reads the tree") {
            let entry = entry.expect("reads an entry");
            let meta = entry.metadata().expect("stats an entry");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}

/// The machine, for the record: CPU model and count, memory, kernel.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB", kib / (1024.0 * 1024.0))
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "machine: {model}, {cores} cores{mem}, Linux {}",
        kernel.trim()
    )
}
