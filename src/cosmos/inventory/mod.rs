//! The validator inventory (YAML, schema version 1): parsed once into validated types. Several files
//! may be given; they merge per validator and per setting, and a setting made twice is an error.

pub(crate) mod dns;
pub(crate) mod endpoint;
mod merge;
pub(crate) mod monitoring;
mod parse;
pub(crate) mod registry;
pub(crate) mod roles;
pub(crate) mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::dns::{DnsName, DnsSettings, ZoneSettings};
use self::endpoint::{EndpointTemplate, PortRange};
use self::registry::{ChainRegistrySettings, RegistrySettings};
use self::roles::Sentry;
use self::settings::{
    DEFAULT_CONFIGMAP, NamePattern, PortStrategy, Selection, Settings, SettingsLayer, Topology,
};
use crate::cosmos::node_id::NodeId;
use crate::input::address::Endpoint;
use crate::input::yaml::{Located, Origin, YamlError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum InventoryError {
    #[error("{path}: cannot read inventory: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{at}: {field}: {message}")]
    Invalid {
        at: Origin,
        field: String,
        message: String,
    },
    #[error(
        "{at}: {field} is also set at {first}; a setting may be made in one inventory file only"
    )]
    Conflict {
        at: Origin,
        first: Origin,
        field: String,
    },
}

fn invalid(at: &Origin, field: impl Into<String>, message: impl Into<String>) -> InventoryError {
    InventoryError::Invalid {
        at: at.clone(),
        field: field.into(),
        message: message.into(),
    }
}

type Field<T> = Option<Located<T>>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ValidatorPorts {
    Fixed(u16),
    Range(PortRange),
}

/// Where a validator's consumer endpoints come from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EndpointSource {
    /// `consumer_template`, expanded per consumer.
    Template(Located<EndpointTemplate>),
    /// `endpoint_source: dns`: the SRV answers `peergen resolve` locked into the snapshot.
    Dns(Origin),
    /// `sentries:`: the validator node is private, reached by its own sentries only at
    /// `private_endpoint`; the sentries are its public nodes.
    Sentries {
        private_endpoint: Located<EndpointTemplate>,
        sentries: Vec<Sentry>,
    },
    /// `endpoint_source: registry`: the nodes its operator published to the etcd registry, which
    /// `fetch` locked into the snapshot.
    Registry(Origin),
    /// `endpoint_source: chain-registry`: the entries of its `provider` name in the consumer's
    /// chain-registry `chain.json`, which `fetch` locked into the snapshot.
    ChainRegistry(Origin),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Validator {
    pub(crate) name: String,
    pub(crate) at: Origin,
    pub(crate) operator_address: Option<String>,
    pub(crate) moniker: String,
    pub(crate) provider_endpoint: Option<Endpoint>,
    pub(crate) endpoint: EndpointSource,
    /// `rpc_template`: the CometBFT RPC of the validator's own node (its validator node when it
    /// has sentries), which `probe` asks for `/status` and `/net_info`.
    pub(crate) rpc: Field<endpoint::RpcTemplate>,
    /// `dns_zone:`; else `dns.default_zone` applies (see [`Inventory::zone_for`]).
    pub(crate) dns_zone: Option<Located<DnsName>>,
    /// `srv:`: the SRV priority and weight of the validator's only public node.
    pub(crate) srv: roles::SrvRank,
    pub(crate) node_id: Field<NodeId>,
    pub(crate) node_ids: BTreeMap<String, Located<NodeId>>,
    pub(crate) ports: Field<ValidatorPorts>,
    pub(crate) port_overrides: BTreeMap<String, Located<u16>>,
}

/// Credentials for a private provider endpoint: the inventory names an environment variable, so
/// the secret itself is never committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProviderAuth {
    BearerTokenEnv(String),
    /// The variable holds `user:password`.
    BasicAuthEnv(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProviderSettings {
    pub(crate) chain_id: Option<String>,
    pub(crate) rest: Option<String>,
    pub(crate) bech32_prefix: String,
    pub(crate) auth: Option<ProviderAuth>,
    /// `fetch` refuses a snapshot in which a consumer loses more than this share of its validators.
    pub(crate) max_drop_percent: Option<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Inventory {
    pub(crate) files: Vec<Arc<Path>>,
    pub(crate) provider: ProviderSettings,
    /// Default snapshot path (`state:`), relative paths resolved against the declaring file.
    pub(crate) state: Option<PathBuf>,
    pub(crate) defaults: SettingsLayer,
    /// `consumers:` entries, keyed by consumer id or chain id, in file order of keys.
    pub(crate) consumers: Vec<(String, Located<SettingsLayer>)>,
    pub(crate) validators: BTreeMap<String, Validator>,
    /// The `dns:` section: zones to write and the SRV naming used to publish and resolve endpoints.
    pub(crate) dns: Option<Located<DnsSettings>>,
    /// The `registry:` section: the etcd registry `fetch` reads and `publish` writes.
    pub(crate) registry: Option<RegistrySettings>,
    /// The `chain_registry:` section: chain.json sources and the provider-name mapping.
    pub(crate) chain_registry: Option<ChainRegistrySettings>,
    /// The `monitoring:` section: a PrometheusRule per validator (docs/monitoring.md).
    pub(crate) monitoring: Option<Located<monitoring::Monitoring>>,
    /// The `allowlist:` section: who may reach each public node's P2P port (docs/output.md).
    pub(crate) allowlist: Option<Located<monitoring::Allowlist>>,
    pub(crate) warnings: Vec<String>,
}

pub(crate) fn load(paths: &[PathBuf]) -> Result<Inventory, InventoryError> {
    let mut texts = Vec::with_capacity(paths.len());
    for path in paths {
        let text = crate::input::file::read_text(path, crate::input::file::TEXT_LIMIT).map_err(
            |source| InventoryError::Read {
                path: path.clone(),
                source,
            },
        )?;
        texts.push((path.as_path(), text));
    }
    from_texts(&texts)
}

/// Parses, merges and completes inventory texts, each named by the path it was read from.
pub(crate) fn from_texts(texts: &[(&Path, String)]) -> Result<Inventory, InventoryError> {
    let mut merged: Option<merge::Partial> = None;
    let mut files = Vec::new();
    for (path, text) in texts {
        let file: Arc<Path> = Arc::from(*path);
        let partial = parse::parse_file(&file, text)?;
        files.push(file);
        merged = Some(match merged {
            None => partial,
            Some(acc) => merge::merge(acc, partial)?,
        });
    }
    let partial = merged.ok_or_else(|| InventoryError::Read {
        path: PathBuf::from("-i/--inventory"),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no inventory file given"),
    })?;
    merge::complete(files, partial)
}

impl Inventory {
    /// Commands that render need validators: an empty or comment-only file would render nothing
    /// and, over an existing tree, prune it. (`fetch` reads provider state without any.)
    pub(crate) fn require_validators(&self) -> Result<(), InventoryError> {
        if !self.validators.is_empty() {
            return Ok(());
        }
        let at = self
            .files
            .first()
            .map_or_else(|| Origin::file(&Arc::from(Path::new("-i"))), Origin::file);
        Err(invalid(
            &at,
            "validators",
            "the inventory describes no validator (an empty or comment-only file?); peergen would render nothing",
        ))
    }

    /// Settings for one consumer: defaults, then a `consumers:` entry keyed by its chain id, then one
    /// keyed by its consumer id (the most specific wins).
    pub(crate) fn settings_for(&self, consumer_id: &str, chain_id: &str) -> Settings {
        let mut layer = self.defaults.clone();
        for key in [chain_id, consumer_id] {
            if let Some((_, over)) = self.consumers.iter().find(|(k, _)| k == key) {
                layer.overlay(&over.value);
            }
        }
        let builtin = NamePattern::builtin;
        let first = self.files.first().map(Origin::file);
        let pattern_at = settings::PatternOrigins {
            namespace: layer.namespace.as_ref().map(|n| n.at.clone()),
            configmap: layer.configmap.as_ref().map(|n| n.at.clone()),
            workload: layer.workload.as_ref().map(|n| n.at.clone()),
        };
        Settings {
            pattern_at,
            selection: layer
                .selection
                .map_or(Selection::ConsumerValidators, |s| s.value),
            port: layer.port.unwrap_or_else(|| Located {
                value: PortStrategy::Hash,
                at: first.clone().expect("an inventory has a file"),
            }),
            namespace: layer
                .namespace
                .map_or_else(|| builtin("{{validator}}-{{chain_id}}"), |n| n.value),
            configmap: layer
                .configmap
                .map_or_else(|| builtin(DEFAULT_CONFIGMAP), |n| n.value),
            workload: layer.workload.map(|w| w.value),
            topology: layer.topology.map_or(Topology::FullMesh, |t| t.value),
            p2p: layer.p2p,
            exclude: layer.exclude,
            chain_registry: layer.chain_registry.is_some_and(|c| c.value),
        }
    }

    /// Whether any validator or sentry takes its endpoint from SRV discovery.
    pub(crate) fn discovers_in_dns(&self) -> bool {
        self.validators.values().any(|v| match &v.endpoint {
            EndpointSource::Dns(_) => true,
            EndpointSource::Sentries { sentries, .. } => sentries
                .iter()
                .any(|s| matches!(s.endpoint, roles::SentryEndpoint::Dns(_))),
            EndpointSource::Template(_)
            | EndpointSource::Registry(_)
            | EndpointSource::ChainRegistry(_) => false,
        })
    }

    /// The zone validator `v` belongs to: its `dns_zone`, else `dns.default_zone`.
    pub(crate) fn zone_for(&self, v: &Validator) -> Option<&ZoneSettings> {
        let dns = &self.dns.as_ref()?.value;
        let name = v
            .dns_zone
            .as_ref()
            .map(|z| &z.value)
            .or(dns.default_zone.as_ref())?;
        dns.zones.get(name)
    }

    /// The node ID validator `v` uses on a consumer: per consumer id, then per chain id, then the default.
    pub(crate) fn node_id_for<'a>(
        v: &'a Validator,
        consumer_id: &str,
        chain_id: &str,
    ) -> Option<&'a NodeId> {
        v.node_ids
            .get(consumer_id)
            .or_else(|| v.node_ids.get(chain_id))
            .or(v.node_id.as_ref())
            .map(|l| &l.value)
    }
}
