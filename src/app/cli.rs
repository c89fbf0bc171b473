//! Command-line arguments (clap derive). Parsing only; the command files give them meaning, and
//! no clap type leaves `app`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "peergen",
    version,
    about = "Build-time, declarative peer configuration for Cosmos ICS consumer chains and Stellar validators",
    long_about = "peergen turns a validator inventory (YAML) and a locked provider-state snapshot (JSON) into a \
deterministic tree of per-node peer ConfigMaps, CometBFT [p2p] fragments, kustomizations and DNS zone files \
with SRV records; for Stellar (`network: stellar` or StellarNode manifests) it renders stellar-core.cfg \
fragments. It shows the change as a plan and commits it to a GitOps repository."
)]
pub struct Cli {
    /// More log output on stderr (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Colour: auto (only on a terminal, honouring NO_COLOR), always or never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub(crate) color: ColorChoice,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// The log filter `-q`/`-v` ask for (`PEERGEN_LOG` overrides it).
    pub fn log_level(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            _ => "trace",
        }
    }

    /// Whether log lines on stderr are coloured: as asked, else only on a terminal without `NO_COLOR`.
    pub fn stderr_color(&self) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub(crate) struct Inputs {
    /// Inventory YAML file; repeat to merge several (for example public endpoints plus node IDs)
    #[arg(short = 'i', long = "inventory", required = true, value_name = "FILE")]
    pub(crate) inventory: Vec<PathBuf>,
    /// Provider-state snapshot (JSON) [default: the inventory's `state:`]
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate the inventory and snapshot and print every consumer's peer set
    #[command(
        after_help = "Example:\n  peergen check -i inventories/example.yaml --state inventories/example-state.json\n\n\
Exits 1 and names file, line and field on any error: bad YAML, unknown field, bad node ID, port collision."
    )]
    Check(CheckArgs),
    /// Render peer ConfigMaps, [p2p] fragments and kustomizations into a directory
    #[command(
        after_help = "Example:\n  peergen render -i inventories/example.yaml --out rendered/\n  peergen render -i inventories/example.yaml --self alice --out rendered/\n\n\
Everything is rendered and verified in memory first; nothing is written on error."
    )]
    Render(RenderArgs),
    /// Print the ICS Monitor hash port (26656 + 100 + (BE_u32(sha256(id)[0..4]) % 1000) * 10) of consumer ids
    #[command(after_help = "Example:\n  peergen port 0 19 29")]
    Port(PortArgs),
    /// Resolve the SRV records of validators with `endpoint_source: dns` into the snapshot
    #[command(
        after_help = "Example:\n  peergen resolve -i inventories/example.yaml --state state.json --nameserver 127.0.0.1:5353\n\n\
Looks up _service._proto.<validator>-<chain_id>.<zone> for every DNS-sourced validator and consumer it is selected for \
and locks target:port into the snapshot's resolved_endpoints. Any unresolvable name fails the run; the snapshot is then unchanged."
    )]
    Resolve(ResolveArgs),
    /// Print the node ID derived from a CometBFT node_key.json
    #[command(
        name = "node-id",
        after_help = "Example:\n  peergen node-id ~/.gaia/config/node_key.json"
    )]
    NodeId(NodeIdArgs),
    /// Show what apply would change in a GitOps repository: a diff, a pull-request comment or JSON
    #[command(
        after_help = "Example:\n  peergen plan -i inventory.yaml --state state.json --repo ../gitops --path peers --format markdown\n\n\
Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error or (--check) drift, 2 changes with --detailed-exitcode."
    )]
    Plan(PlanArgs),
    /// Fail when the committed output is not what the inputs produce (same as `plan --check`)
    #[command(
        after_help = "Example:\n  peergen verify -i inventory.yaml --state state.json --repo . --path peers\n\n\
Exits 1 when the output committed at HEAD differs from what the inputs produce (a hand edit, or inputs changed\n\
without re-rendering), 0 when they match."
    )]
    Verify(TargetArgs),
    /// Write the rendered output into a GitOps repository, commit it, and optionally push it
    #[command(
        after_help = "Example:\n  peergen apply -i inventory.yaml --state state.json --repo ../gitops --path peers --push\n\n\
The plan is printed first. Removing more than --max-peer-removal-percent of a peer list of 4 or more, emptying a\n\
peer list or deleting a consumer needs --force. No commit is made when nothing changed."
    )]
    Apply(ApplyArgs),
    /// Query the provider's REST API and lock its state into the snapshot
    #[command(
        after_help = "Examples:\n  peergen fetch -i inventories/example.yaml\n  \
peergen fetch -i inventory.yaml --provider https://rest.provider.example.org --phase registered --phase launched\n\n\
The snapshot is written atomically, only when every query succeeded, and only when the provider state changed.\n\
See docs/fetch.md."
    )]
    Fetch(FetchArgs),
    /// Write one validator's own endpoints into the etcd registry (compare-and-swap, its keys only)
    #[command(
        after_help = "Example:\n  peergen publish -i inventory.yaml --state state.json --self alice --dry-run\n\n\
Writes <prefix>/<provider chain id>/<operator address>/<consumer id>/<node> for the validator's public nodes in one\n\
etcd transaction that only succeeds if none of its keys changed since they were read (else it reads again, up to 5 times).\n\
See docs/registry.md."
    )]
    Publish(PublishArgs),
    /// Draw one consumer's peer graph: an adjacency summary, DOT, SVG (laid out by Graphviz) or Mermaid
    #[command(
        after_help = "Examples:\n  peergen graph -i inventories/sentries.yaml --consumer pion-1 --self alice\n  \
peergen graph -i inventories/sentries.yaml --consumer neutron-1 --format svg > neutron-1.svg\n\n\
Nodes are grouped by validator; dashed links join a validator node to its own sentries, thick links are unconditional.\n\
--format svg runs Graphviz's `dot` (Debian package graphviz). See docs/graph.md."
    )]
    Graph(GraphArgs),
    /// Check that the live network matches the plan: node IDs, networks, reachability
    #[command(
        after_help = "Examples:\n  peergen probe -i inventory.yaml --state state.json --self alice\n  \
peergen probe -i inventory.yaml --consumer 0 --format prometheus > peergen_probe.prom\n\n\
Dials only the planned peer addresses of the scope, with a throw-away key. Exit codes: 0 everything matches,\n\
2 a peer or own node does not match the plan, 1 error. See docs/probe.md."
    )]
    Probe(ProbeArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Markdown,
    Json,
}

/// Inputs plus the repository directory plan, verify and apply compare against.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// The GitOps repository (a git working tree for apply; any directory for plan)
    #[arg(long, value_name = "DIR")]
    pub(crate) repo: PathBuf,
    /// Output directory inside the repository
    #[arg(long, value_name = "SUBDIR", default_value = "peers")]
    pub(crate) path: PathBuf,
    /// Only this validator's subtree
    #[arg(long = "self", value_name = "VALIDATOR")]
    pub(crate) only: Option<String>,
    /// Directory of template overrides (same names as the built-in templates, with `.j2`)
    #[arg(long, value_name = "DIR")]
    pub(crate) templates: Option<PathBuf>,
    /// How to show the plan
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub(crate) format: PlanFormat,
    /// Threads to work with: rendering, checks, hashing, staging (output is the same for any number) [default: every core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) threads: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Exit 2 when there are changes, 0 when there are none (1 stays an error)
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// Exit 1 when there are changes: the committed output is not what the inputs produce
    #[arg(long)]
    pub(crate) check: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Commit on this branch; a missing one starts from REMOTE's branch of that name (with --push), else from HEAD; `{checksum}` becomes the rendered tree checksum's first 12 hex digits
    #[arg(long, value_name = "BRANCH")]
    pub(crate) branch: Option<String>,
    /// Push the branch to REMOTE; a rejected push is retried after fetching and re-rendering
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin")]
    pub(crate) push: Option<String>,
    /// Refuse unless the plan (rendered tree and the repository's current files) has this checksum (from `plan --format json` or the PR comment)
    #[arg(long, value_name = "SHA256")]
    pub(crate) plan_checksum: Option<String>,
    /// Accept changes above the safety thresholds
    #[arg(long)]
    pub(crate) force: bool,
    /// Largest share of a consumer's peers (when it has at least 4) one run may remove without --force
    #[arg(long, value_name = "PERCENT", default_value_t = crate::output::removal::DEFAULT_MAX_PERCENT, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub(crate) max_peer_removal_percent: u8,
    /// minijinja template for the commit message (context in docs/gitops.md)
    #[arg(long, value_name = "FILE")]
    pub(crate) message_template: Option<PathBuf>,
    /// Commit author name [default: the repository's git user.name, else "peergen"]
    #[arg(long, env = "GIT_AUTHOR_NAME")]
    pub(crate) author_name: Option<String>,
    /// Commit author email [default: the repository's git user.email, else "peergen@localhost"]
    #[arg(long, env = "GIT_AUTHOR_EMAIL")]
    pub(crate) author_email: Option<String>,
    /// How many times to push before giving up on a remote that keeps moving
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) max_push_attempts: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Text,
    Dot,
    Svg,
    Mermaid,
}

#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// The consumer to draw: consumer id, directory name or chain id [default: the only active consumer]
    #[arg(long, value_name = "ID")]
    pub(crate) consumer: Option<String>,
    /// Highlight this validator's nodes
    #[arg(long = "self", value_name = "VALIDATOR")]
    pub(crate) own: Option<String>,
    /// What to print
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub(crate) format: GraphFormat,
    /// Seconds `dot` may run for --format svg
    #[arg(long, value_name = "SECS", default_value_t = crate::cosmos::graph::svg::DEFAULT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FetchPhase {
    Registered,
    Initialized,
    Launched,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Inventory YAML file; repeat to merge several
    #[arg(short = 'i', long = "inventory", required = true, value_name = "FILE")]
    pub(crate) inventory: Vec<PathBuf>,
    /// Provider REST (gRPC-gateway) base URL [default: the inventory's provider.rest]
    #[arg(long, value_name = "URL")]
    pub(crate) provider: Option<String>,
    /// Fetch only this consumer (consumer id or chain id; repeatable); others keep their recorded state
    #[arg(long = "consumer", value_name = "ID")]
    pub(crate) consumers: Vec<String>,
    /// Snapshot file to write [default: the inventory's `state:`]
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Active phase to record (repeatable) [default: launched]; stopped consumers are always recorded
    #[arg(long = "phase", value_enum, value_name = "PHASE")]
    pub(crate) phases: Vec<FetchPhase>,
    /// Write even if the bonded set is empty or a consumer loses too many validators
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) net: NetArgs,
    /// Parallel per-consumer queries
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub(crate) concurrency: u16,
    /// Refuse when a consumer would lose more than this share of its validators [default: provider.max_drop_percent, else 50]
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub(crate) max_drop_percent: Option<u8>,
    /// Record the fetch time in the snapshot (the file then changes on every fetch)
    #[arg(long)]
    pub(crate) with_timestamp: bool,
    /// DNS server for validators with `endpoint_source: dns`, IP:PORT [default: /etc/resolv.conf]
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) nameserver: Option<std::net::SocketAddr>,
    /// Seconds to wait for each SRV answer (each query is tried twice)
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub(crate) dns_timeout: u64,
    /// Read the etcd registry at this revision (one a snapshot names) instead of the current one
    #[arg(long, value_name = "REV", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) registry_revision: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// The validator whose endpoints to publish (its inventory key)
    #[arg(long = "self", value_name = "VALIDATOR")]
    pub(crate) only: String,
    /// Publish only this consumer (consumer id or chain id; repeatable); other consumers' keys stay
    #[arg(long = "consumer", value_name = "ID")]
    pub(crate) consumers: Vec<String>,
    /// Print the key changes without writing anything
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) net: NetArgs,
}

/// Time limits and retries of a command that talks to a server (the provider, etcd).
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    /// Limit for one whole request, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_seconds)]
    pub(crate) timeout: f64,
    /// Limit for establishing a connection, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub(crate) connect_timeout: f64,
    /// Retries (over every endpoint) after a connect error, a timeout, HTTP 429 or 5xx, or an unavailable etcd cluster
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) retries: u32,
    /// First retry delay in milliseconds; doubles per retry (with jitter), capped at 32 times this
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub(crate) retry_backoff_ms: u64,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProbeFormat {
    Text,
    Markdown,
    Json,
    Prometheus,
}

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// Probe whom this validator's nodes dial (its [p2p] peers) [default: every planned public node]
    #[arg(long = "self", value_name = "VALIDATOR")]
    pub(crate) only: Option<String>,
    /// Only this consumer (consumer id or chain id; repeatable)
    #[arg(long = "consumer", value_name = "ID")]
    pub(crate) consumers: Vec<String>,
    /// How to report
    #[arg(long, value_enum, default_value_t = ProbeFormat::Text)]
    pub(crate) format: ProbeFormat,
    /// Limit for each peer (lookup, connect and handshake) and each RPC request, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub(crate) timeout: f64,
    /// Peers probed at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,
    /// Also write the Prometheus exposition to FILE, atomically (for node-exporter's textfile collector)
    #[arg(long, value_name = "FILE")]
    pub(crate) metrics: Option<PathBuf>,
    /// Stellar: an own node's stellar-core admin endpoint, VALIDATOR=HOST:PORT (repeatable)
    #[arg(long, value_name = "VALIDATOR=HOST:PORT")]
    pub(crate) admin: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// Output directory (created if missing; must be empty or written by peergen before)
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Render only this validator's subtree
    #[arg(long = "self", value_name = "VALIDATOR")]
    pub(crate) only: Option<String>,
    /// Directory of template overrides (same names as the built-in templates, with `.j2`)
    #[arg(long, value_name = "DIR")]
    pub(crate) templates: Option<PathBuf>,
    /// Accept the removal of many previously generated files
    #[arg(long)]
    pub(crate) force: bool,
    /// Threads to work with: rendering, checks, hashing, staging (output is the same for any number) [default: every core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) threads: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// DNS server to ask, IP:PORT [default: the first nameserver in /etc/resolv.conf, port 53]
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) nameserver: Option<std::net::SocketAddr>,
    /// Seconds to wait for each answer (each query is tried twice)
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub(crate) timeout: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PortArgs {
    /// Consumer ids
    #[arg(required = true, value_name = "CONSUMER_ID", value_parser = consumer_id)]
    pub(crate) consumer_ids: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NodeIdArgs {
    /// Path to node_key.json
    pub(crate) file: PathBuf,
}

/// A consumer id as the provider assigns them: non-empty letters, digits, `-`, `_`, `.`.
fn consumer_id(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a consumer id: letters, digits, '-', '_' or '.', at least one"
        ))
    }
}

/// The thread count a command works with: as given (which then bounds every parallel step), else
/// every core.
pub(crate) fn threads(given: Option<u16>) -> usize {
    if let Some(n) = given {
        crate::output::parallel::limit(usize::from(n));
    }
    crate::output::parallel::default_threads()
}
