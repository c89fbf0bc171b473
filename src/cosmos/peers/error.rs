//! Why a plan cannot be made: every problem with the place in the inventory or snapshot to fix
//! and, where one exists, the fix.

use std::fmt;

use super::PortSource;
use crate::cosmos::inventory::settings::PortStrategy;
use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::selection::SelectionError;
use crate::input::address::{AddressError, Endpoint};
use crate::input::yaml::Origin;

#[derive(Debug, PartialEq)]
pub(crate) enum PlanError {
    Selection(SelectionError),
    NoNodeId {
        validator: String,
        consumer_id: String,
        chain_id: String,
        at: Origin,
    },
    /// Every sentry of a validator is limited by `consumers:` to other consumers.
    NoSentry {
        validator: String,
        consumer_id: String,
        chain_id: String,
        at: Origin,
    },
    Endpoint {
        validator: String,
        consumer_id: String,
        chain_id: String,
        template: String,
        at: Origin,
        error: AddressError,
    },
    PortCollision {
        validator: String,
        endpoint: Endpoint,
        first: (String, String, PortSource),
        second: (String, String, PortSource),
        /// Proven by re-planning (`port_fix.rs`); `None` when no change was found to work.
        fix: Option<super::port_fix::PortFix>,
    },
    SharedAddress {
        endpoint: Endpoint,
        first: (String, String, String),
        second: (String, String, String),
    },
    NodeIdConflict {
        consumer_id: String,
        node_id: NodeId,
        a: String,
        b: String,
    },
    AmbiguousMoniker {
        consumer_id: String,
        moniker: String,
        validator: String,
    },
    BadName {
        validator: String,
        consumer_id: String,
        what: &'static str,
        value: String,
        reason: String,
        /// Where the pattern making the name was written (none for a built-in default or a label
        /// the provider chose).
        at: Option<Origin>,
    },
    DuplicateName {
        validator: String,
        what: String,
        consumers: (String, String),
    },
    /// Two nodes of one validator on one consumer would share an object.
    DuplicateNodeName {
        what: String,
        consumer_id: String,
        nodes: (String, String),
        field: &'static str,
    },
    /// A node that more peers dial than its inbound cap admits.
    InboundBudget {
        node: String,
        consumer_id: String,
        chain_id: String,
        dialers: usize,
        max: u16,
    },
    /// Two peers of one node on one IP, which CometBFT connects only one of.
    DuplicateIp {
        node: String,
        consumer_id: String,
        ip: String,
        peers: (String, String),
    },
    /// A validator with `endpoint_source: dns` has no usable resolved endpoint.
    Dns {
        validator: String,
        consumer_id: String,
        chain_id: String,
        at: Origin,
        problem: String,
    },
    /// `chain_registry.seeds` is on but the snapshot holds no seeds read for a consumer's source.
    Seeds {
        consumer_id: String,
        chain_id: String,
        at: Origin,
        problem: String,
    },
    /// A validator with `endpoint_source: registry` or `chain-registry` has no usable entry.
    Registry {
        /// `registry` or `chain-registry`.
        source: &'static str,
        validator: String,
        consumer_id: String,
        chain_id: String,
        at: Origin,
        problem: String,
    },
}

fn describe_port_source(s: &PortSource, consumer_id: &str) -> String {
    match s {
        PortSource::ValidatorOverride(at) => format!("port_overrides entry at {at}"),
        PortSource::Template(at) => format!("the port written in consumer_template at {at}"),
        PortSource::ValidatorRange(at) => {
            format!("the validator's port range at {at} (consumer id mod range size)")
        }
        PortSource::ValidatorFixed(at) => format!("the validator's fixed `ports` at {at}"),
        PortSource::Consumer {
            strategy: PortStrategy::Hash,
            ..
        } => {
            format!("the `hash` port strategy (sha256 of consumer id {consumer_id:?})")
        }
        PortSource::Consumer {
            strategy: PortStrategy::Fixed(_),
            at,
        } => format!("the fixed `port` at {at}"),
        PortSource::Resolved { query } => {
            format!("the SRV record {query} resolved into the snapshot")
        }
        PortSource::Registry { revision } => {
            format!("the registry entry (revision {revision}) fetched into the snapshot")
        }
        PortSource::ChainRegistry { source } => {
            format!("the chain-registry entry of {source} fetched into the snapshot")
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Selection(e) => write!(f, "{e}"),
            PlanError::NoNodeId {
                validator,
                consumer_id,
                chain_id,
                at,
            } => write!(
                f,
                "{at}: validators.{validator}: no node ID for consumer {consumer_id} ({chain_id}): set node_id, node_ids.{consumer_id} or node_key_file"
            ),
            PlanError::NoSentry {
                validator,
                consumer_id,
                chain_id,
                at,
            } => write!(
                f,
                "{at}: validators.{validator}.sentries: no sentry serves consumer {consumer_id} ({chain_id}), which selects this validator: add {consumer_id} to a sentry's `consumers:` list, or remove `consumers:` from one"
            ),
            PlanError::Endpoint {
                validator,
                consumer_id,
                chain_id,
                template,
                at,
                error,
            } => write!(
                f,
                "{at}: validators.{validator}.consumer_template: {template:?} for consumer {consumer_id} ({chain_id}) gives an invalid peer address: {error}"
            ),
            PlanError::PortCollision {
                validator,
                endpoint,
                first,
                second,
                fix,
            } => {
                write!(
                    f,
                    "port collision: validator {validator} would serve consumer {} ({}) and consumer {} ({}) both at {endpoint}; \
                     {}'s port comes from {} and {}'s from {}. peergen never moves a port silently: ",
                    first.0,
                    first.1,
                    second.0,
                    second.1,
                    first.0,
                    describe_port_source(&first.2, &first.0),
                    second.0,
                    describe_port_source(&second.2, &second.0),
                )?;
                match fix {
                    Some(super::port_fix::PortFix::ValidatorOverride { consumer, port }) => write!(
                        f,
                        "give consumer {consumer} its own port with `validators.{validator}.port_overrides: {{\"{consumer}\": {port}}}` (checked: the plan with it has no collision)"
                    ),
                    Some(super::port_fix::PortFix::ConsumerPort { consumer, port }) => write!(
                        f,
                        "give consumer {consumer} its own port with `consumers: {{\"{consumer}\": {{port: {port}}}}}` (checked: the plan with it has no collision)"
                    ),
                    None => write!(
                        f,
                        "give consumer {} another port where it comes from (the template's port, the validator's `ports`, or `port_overrides`); no single inventory change was found that resolves it",
                        second.0
                    ),
                }
            }
            PlanError::SharedAddress {
                endpoint,
                first,
                second,
            } => write!(
                f,
                "address collision: validator {} on consumer {} ({}) and validator {} on consumer {} ({}) would both be reached at {endpoint}; \
                 one host:port is one node: give each its own consumer_template host or port",
                first.0, first.1, first.2, second.0, second.1, second.2
            ),
            PlanError::NodeIdConflict {
                consumer_id,
                node_id,
                a,
                b,
            } => write!(
                f,
                "consumer {consumer_id}: validators {a} and {b} both claim node ID {node_id} with different endpoints; a node ID names one node"
            ),
            PlanError::AmbiguousMoniker {
                consumer_id,
                moniker,
                validator,
            } => write!(
                f,
                "consumer {consumer_id}: several selected provider validators have moniker {moniker:?}, so validators.{validator} cannot be matched by moniker: set its operator_address"
            ),
            PlanError::BadName {
                validator,
                consumer_id,
                what,
                value,
                reason,
                at,
            } => {
                if let Some(at) = at {
                    write!(f, "{at}: {what}: ")?;
                }
                write!(
                    f,
                    "validator {validator}, consumer {consumer_id}: {what} {value:?} is not a valid Kubernetes name: {reason}; "
                )?;
                match (at, *what) {
                    (Some(_), _) => write!(f, "change this `{what}` pattern"),
                    (None, "namespace" | "configmap" | "workload") => write!(
                        f,
                        "the built-in `{what}` pattern makes it from the validator and chain names; set `{what}:` under defaults or the consumer"
                    ),
                    (None, _) => write!(
                        f,
                        "the provider chose this value and Kubernetes labels cannot hold it"
                    ),
                }
            }
            PlanError::DuplicateName {
                validator,
                what,
                consumers,
            } => write!(
                f,
                "validator {validator}: consumers {} and {} both get {what}; make the name pattern include {{{{chain_id}}}} or {{{{consumer_id}}}}",
                consumers.0, consumers.1
            ),
            PlanError::DuplicateNodeName {
                what,
                consumer_id,
                nodes,
                field,
            } => write!(
                f,
                "consumer {consumer_id}: nodes {} and {} would both get {what}; each node of a validator with sentries needs its own: make the `{field}` pattern include {{{{node}}}}",
                nodes.0, nodes.1
            ),
            PlanError::InboundBudget {
                node,
                consumer_id,
                chain_id,
                dialers,
                max,
            } => write!(
                f,
                "consumer {consumer_id} ({chain_id}): {dialers} peers that are not unconditional for node {node} list it as a persistent peer, but CometBFT admits {max} inbound (max_num_inbound_peers) and refuses the rest: keep `p2p: {{unconditional_mesh: true}}` (the default), raise `p2p.max_num_inbound_peers`, or use a sparse `topology: {{k-connected: K}}`"
            ),
            PlanError::DuplicateIp {
                node,
                consumer_id,
                ip,
                peers,
            } => write!(
                f,
                "consumer {consumer_id}: node {node} would list {} and {} at one IP address {ip}; with allow_duplicate_ip = false (CometBFT's default) only one of them connects: give each its own address, or set `p2p: {{allow_duplicate_ip: true}}` for this consumer",
                peers.0, peers.1
            ),
            PlanError::Dns {
                validator,
                consumer_id,
                chain_id,
                at,
                problem,
            } => write!(
                f,
                "{at}: validators.{validator} (endpoint_source: dns), consumer {consumer_id} ({chain_id}): {problem}"
            ),
            PlanError::Seeds {
                consumer_id,
                chain_id,
                at,
                problem,
            } => write!(
                f,
                "{at}: chain_registry.seeds, consumer {consumer_id} ({chain_id}): {problem}"
            ),
            PlanError::Registry {
                source,
                validator,
                consumer_id,
                chain_id,
                at,
                problem,
            } => write!(
                f,
                "{at}: validators.{validator} (endpoint_source: {source}), consumer {consumer_id} ({chain_id}): {problem}"
            ),
        }
    }
}

/// Every problem found, not only the first, so one run shows the whole fix list.
#[derive(Debug, thiserror::Error)]
pub(crate) struct PlanErrors(pub(crate) Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.0 {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
