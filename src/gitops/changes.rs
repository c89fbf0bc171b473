//! What applying a rendered tree would change in an output directory: files added, changed and
//! removed (only files peergen owns), and what those changes mean: peers gained or lost per
//! consumer and validator, moved addresses, zone records and serials, consumers that disappear.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::cosmos::node_id::NodeId;
use crate::cosmos::peers::{ConsumerPlan, Plan, Role};
use crate::input::address::Endpoint;
use crate::output::file::File;
use crate::output::previous::Previous;
use crate::output::removal;
use crate::output::tree::{MANIFEST, OutputTree, TreeError, in_scope};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Add,
    Change,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct FileChange {
    /// Relative to the output directory.
    pub(crate) path: String,
    pub(crate) action: Action,
    /// The rendered file, shared with the rendered tree (its bytes perhaps spooled). The old
    /// bytes are read from the previous output when a report needs them ([`FileChange::old`]),
    /// one file at a time.
    #[serde(skip)]
    pub(crate) new: Option<File>,
}

impl FileChange {
    /// What the rendered tree holds here.
    pub(crate) fn read_new(&self) -> Result<Option<Arc<Vec<u8>>>, TreeError> {
        self.new.as_ref().map(|f| f.read(&self.path)).transpose()
    }

    /// What the previous output holds here.
    pub(crate) fn old(&self, previous: &dyn Previous) -> Result<Option<Vec<u8>>, TreeError> {
        match self.action {
            Action::Add => Ok(None),
            _ if self.path == MANIFEST => previous.manifest(),
            _ => previous.get(&self.path),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Peer {
    pub(crate) node_id: NodeId,
    pub(crate) address: Endpoint,
    pub(crate) moniker: Option<String>,
}

/// A peer whose node ID stayed but whose address did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Moved {
    pub(crate) node_id: NodeId,
    pub(crate) moniker: Option<String>,
    pub(crate) from: Endpoint,
    pub(crate) to: Endpoint,
}

impl Moved {
    /// True when only the port differs, the usual cause (a port strategy or override changed).
    pub(crate) fn port_only(&self) -> bool {
        self.from.host == self.to.host
    }
}

/// One validator's peer list for one consumer, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct PeerChange {
    pub(crate) validator: String,
    /// The consumer's directory name.
    #[serde(rename = "consumer")]
    pub(crate) slug: String,
    pub(crate) consumer_id: String,
    pub(crate) chain_id: String,
    /// Peers before; `None` when the validator had no file for this consumer.
    pub(crate) before: Option<usize>,
    /// Peers after; `None` when the file is removed.
    pub(crate) after: Option<usize>,
    pub(crate) added: Vec<Peer>,
    pub(crate) removed: Vec<Peer>,
    pub(crate) moved: Vec<Moved>,
}

/// A changed zone file: its SOA serial and the records added and removed (serial aside).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ZoneChange {
    pub(crate) path: String,
    #[serde(rename = "serial_from")]
    pub(crate) from: Option<u32>,
    #[serde(rename = "serial_to")]
    pub(crate) to: Option<u32>,
    #[serde(rename = "records_added")]
    pub(crate) added: Vec<String>,
    #[serde(rename = "records_removed")]
    pub(crate) removed: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Sorted by path; includes the ownership manifest when it changes.
    pub(crate) files: Vec<FileChange>,
    pub(crate) unchanged: usize,
    /// Sorted by (consumer directory, validator).
    pub(crate) peers: Vec<PeerChange>,
    pub(crate) zones: Vec<ZoneChange>,
    /// Consumer directories no validator will have any more.
    pub(crate) removed_consumers: Vec<String>,
    /// Running nodes whose `[p2p]` fragment changes, so their pods roll.
    pub(crate) restarts: usize,
    /// The plan checksum: sha256 over the rendered tree's checksum and, for every path in scope,
    /// the sha256 of the bytes it holds now (or its absence). It changes when the inputs change and
    /// when the repository changes, so `--plan-checksum` binds an apply to the reviewed change set.
    pub(crate) checksum: String,
    /// Threshold violations ([`Changes::threshold_violations`]) the reports list, so a reviewer
    /// sees before apply what would need `--force`. Set by the caller, which knows the threshold.
    pub(crate) needs_force: Vec<String>,
    /// Per consumer directory with peer changes, the plan's nodes by label (`validator` or
    /// `validator/node`): the node IDs the change diagram tells nodes apart by.
    pub(crate) node_ids: BTreeMap<String, BTreeMap<String, NodeId>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    #[serde(rename = "add")]
    pub(crate) added: usize,
    #[serde(rename = "change")]
    pub(crate) changed: usize,
    #[serde(rename = "remove")]
    pub(crate) removed: usize,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub(crate) fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.files {
            match f.action {
                Action::Add => c.added += 1,
                Action::Change => c.changed += 1,
                Action::Remove => c.removed += 1,
            }
        }
        c
    }

    /// Changes big enough that a typo in the inventory or a bad snapshot could have caused them;
    /// each needs `--force`. `max_removal_percent` applies to peer lists of at least 4.
    pub(crate) fn threshold_violations(&self, max_removal_percent: u8) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.peers {
            let (Some(before), Some(after)) = (p.before, p.after) else {
                continue;
            };
            if after == 0 && before > 0 {
                out.push(format!(
                    "{} on {}: the peer list would become empty (had {before})",
                    p.validator, p.slug
                ));
            } else if removal::exceeds(p.removed.len(), before, max_removal_percent) {
                out.push(format!(
                    "{} on {}: {} of {before} peers would be removed (more than {max_removal_percent}%)",
                    p.validator,
                    p.slug,
                    p.removed.len()
                ));
            }
        }
        for slug in &self.removed_consumers {
            out.push(format!(
                "consumer directory {slug} would be deleted for every validator"
            ));
        }
        out
    }
}

/// Whether the peer change of a node that joins or leaves lists every peer it gains or loses, or
/// only counts them: the text report and the built-in commit message never read those lists,
/// which for a fleet's first apply hold millions of peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinLists {
    Listed,
    Counted,
}

/// Compares `tree` with the previous output. `only` limits the comparison to one validator's
/// subtree, as `--self` limits rendering. A file whose blob id matches is not read; only the
/// files that change are, for the reports.
///
/// A directory never follows a symbolic link: an owned path (or a directory on the way to it)
/// that is a symlink is an error, so a link planted in the output cannot make peergen read and
/// print another file.
pub(crate) fn compare(
    tree: &OutputTree,
    previous: &dyn Previous,
    only: Option<&str>,
    plan: Option<&Plan>,
    threads: usize,
    joins: JoinLists,
) -> Result<Changes, TreeError> {
    let owned = previous.owned()?;
    let in_scope = |p: &str| in_scope(p, only);

    let mut changes = Changes::default();
    let mut paths: BTreeSet<&str> = tree.files().keys().map(String::as_str).collect();
    paths.extend(owned.iter().map(String::as_str).filter(|p| in_scope(p)));
    paths.insert(MANIFEST);
    let mut current = Sha256::new();
    current.update(tree.checksum()?.as_bytes());
    for &path in &paths {
        let old = previous.id(path)?;
        current.update((path.len() as u64).to_be_bytes());
        current.update(path.as_bytes());
        match &old {
            Some(id) => current.update(id.0),
            None => current.update(b"absent"),
        }
        if path == MANIFEST {
            continue;
        }
        let new = tree.files().get(path);
        let action = match (old, new) {
            (None, None) => continue,
            (None, Some(_)) => Action::Add,
            (Some(_), None) => Action::Remove,
            (Some(o), Some(n)) if o == n.id()? => {
                changes.unchanged += 1;
                continue;
            }
            (Some(_), Some(_)) => Action::Change,
        };
        changes.files.push(FileChange {
            path: path.to_owned(),
            action,
            new: new.cloned(),
        });
    }
    let manifest = OutputTree::manifest_text(&tree.owned_after(&owned, only)).into_bytes();
    let old_manifest = previous.manifest()?;
    if old_manifest.as_deref() == Some(manifest.as_slice()) {
        changes.unchanged += 1;
    } else {
        let action = if old_manifest.is_some() {
            Action::Change
        } else {
            Action::Add
        };
        let at = changes
            .files
            .partition_point(|f| f.path.as_str() < MANIFEST);
        changes.files.insert(
            at,
            FileChange {
                path: MANIFEST.to_owned(),
                action,
                new: Some(File::new(manifest)),
            },
        );
    }

    if let Some(plan) = plan {
        changes.peers = peer_changes(&changes.files, plan, previous, threads, joins)?;
        for cp in &plan.consumers {
            if changes.peers.iter().any(|p| p.slug == cp.slug) {
                let ids = cp.members.iter().chain(&cp.private);
                let ids = ids.map(|m| (m.label(), m.node_id.clone())).collect();
                changes.node_ids.insert(cp.slug.clone(), ids);
            }
        }
    }
    changes.zones = zone_changes(&changes.files, previous)?;
    changes.restarts = changes
        .files
        .iter()
        .filter(|f| f.action == Action::Change && f.path.ends_with("/p2p.toml"))
        .count();
    let consumers_of = |paths: &mut dyn Iterator<Item = &String>| -> BTreeSet<String> {
        paths
            .filter_map(|p| consumer_dir(p).map(|(_, slug, _)| slug.to_owned()))
            .collect()
    };
    let before = consumers_of(&mut owned.iter().filter(|p| in_scope(p)));
    let after = consumers_of(&mut tree.files().keys());
    changes.removed_consumers = before.difference(&after).cloned().collect();
    changes.checksum = hex::encode(current.finalize());
    Ok(changes)
}

/// `<validator>/<consumer>/peers.yaml` → (validator, consumer).
/// `<validator>/<consumer>/peers.yaml` → (validator, consumer, None); one directory deeper for
/// the nodes of a validator with sentries: (validator, consumer, Some(node)).
fn consumer_dir(path: &str) -> Option<(&str, &str, Option<&str>)> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [v, c, "peers.yaml"] => Some((v, c, None)),
        [v, c, n, "peers.yaml"] => Some((v, c, Some(n))),
        _ => None,
    }
}

/// What a previously written peers ConfigMap says: its consumer labels and peers.
struct PeersFile {
    consumer_id: String,
    chain_id: String,
    peers: BTreeMap<NodeId, Endpoint>,
}

/// Reads a peers ConfigMap written by an earlier run; a file that does not parse (edited by hand)
/// yields no peer detail, while its diff still shows. Entries that are no `ID@HOST:PORT` are
/// skipped with a warning.
fn parse_peers(path: &str, bytes: &[u8]) -> Option<PeersFile> {
    let text = std::str::from_utf8(bytes).ok()?;
    let doc: Json = match crate::input::yaml::parse(std::path::Path::new(path), text) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::warn!("{e}: no peer summary for this file");
            return None;
        }
    };
    let label = |k: &str| {
        doc.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let list = doc
        .pointer("/data/persistent_peers")
        .and_then(Json::as_str)?;
    let mut peers = BTreeMap::new();
    for entry in list.split(',').filter(|p| !p.is_empty()) {
        let parsed = entry
            .split_once('@')
            .and_then(|(id, addr)| Some((NodeId::parse(id).ok()?, Endpoint::parse(addr).ok()?)));
        match parsed {
            Some((id, endpoint)) => {
                peers.insert(id, endpoint);
            }
            None => tracing::warn!(
                "{path}: {entry:?} is no NODE_ID@HOST:PORT peer; left out of the summary"
            ),
        }
    }
    Some(PeersFile {
        consumer_id: label("peergen.io/consumer-id"),
        chain_id: label("peergen.io/chain-id"),
        peers,
    })
}

/// Peer lists before (read from the files being replaced) and after (from the plan itself).
fn peer_changes(
    files: &[FileChange],
    plan: &Plan,
    previous: &dyn Previous,
    threads: usize,
    joins: JoinLists,
) -> Result<Vec<PeerChange>, TreeError> {
    let mut monikers: BTreeMap<(&str, &NodeId), &str> = BTreeMap::new();
    let mut any_moniker: BTreeMap<&NodeId, &str> = BTreeMap::new();
    for cp in &plan.consumers {
        for m in &cp.members {
            monikers.insert((cp.consumer_id.as_str(), &m.node_id), m.moniker.as_str());
            any_moniker.entry(&m.node_id).or_insert(m.moniker.as_str());
        }
    }
    let ctx = PeerContext {
        plan,
        joins,
        monikers,
        any_moniker,
        by_slug: plan
            .consumers
            .iter()
            .map(|cp| (cp.slug.as_str(), cp))
            .collect(),
    };
    let peer_files: Vec<(&FileChange, NodeDir<'_>)> = files
        .iter()
        .filter_map(|f| consumer_dir(&f.path).map(|dir| (f, dir)))
        .collect();
    let mut out = Vec::new();
    // The previous files are read here (the baseline is one repository handle), a batch at a
    // time so that only a batch is held; parsing and comparing them runs on every thread.
    for batch in peer_files.chunks(256) {
        let mut items = Vec::with_capacity(batch.len());
        for &(f, dir) in batch {
            items.push((f, dir, f.old(previous)?));
        }
        let changes = crate::output::parallel::try_map(&items, threads, |(f, dir, old)| {
            Ok::<_, TreeError>(ctx.change(f, *dir, old.as_deref()))
        })?;
        out.extend(changes.into_iter().flatten());
    }
    out.sort_by(|a, b| (&a.slug, &a.validator).cmp(&(&b.slug, &b.validator)));
    Ok(out)
}

/// A node's directory: (validator, consumer, node of a validator with sentries).
type NodeDir<'a> = (&'a str, &'a str, Option<&'a str>);

/// What every node's peer change is computed against: the plan and its monikers.
struct PeerContext<'a> {
    plan: &'a Plan,
    joins: JoinLists,
    monikers: BTreeMap<(&'a str, &'a NodeId), &'a str>,
    any_moniker: BTreeMap<&'a NodeId, &'a str>,
    by_slug: BTreeMap<&'a str, &'a ConsumerPlan>,
}

impl PeerContext<'_> {
    fn moniker(&self, consumer_id: &str, id: &NodeId) -> Option<String> {
        self.monikers
            .get(&(consumer_id, id))
            .or_else(|| self.any_moniker.get(id))
            .map(|m| (*m).to_owned())
            .or_else(|| self.plan.known_nodes.get(id).cloned())
    }

    /// The peer change of the node whose peers file `f` is, given what the file held before.
    fn change(&self, f: &FileChange, dir: NodeDir<'_>, old: Option<&[u8]>) -> Option<PeerChange> {
        let (validator, slug, node) = dir;
        let plan = self.plan;
        let old = old.and_then(|b| parse_peers(&f.path, b));
        let counted = self.joins == JoinLists::Counted && (old.is_none() || f.new.is_none());
        let planned = f.new.as_ref().and_then(|_| {
            let cp = self.by_slug.get(slug)?;
            let member = cp.members.iter().chain(&cp.private).find(|m| {
                m.validator == validator
                    && node.is_none_or(|n| m.node_name() == n && m.role != Role::Public)
            })?;
            let view = plan.view(cp, member);
            let peers: BTreeMap<NodeId, Endpoint> = if counted {
                BTreeMap::new()
            } else {
                view.peers
                    .iter()
                    .map(|m| (m.node_id.clone(), m.endpoint.clone()))
                    .collect()
            };
            Some((*cp, peers, view.peers.len()))
        });
        let (consumer_id, chain_id) = match (&planned, &old) {
            (Some((cp, _, _)), _) => (cp.consumer_id.clone(), cp.chain_id.clone()),
            (None, Some(o)) => (o.consumer_id.clone(), o.chain_id.clone()),
            (None, None) => return None,
        };
        let empty = BTreeMap::new();
        let old_peers = old.as_ref().map_or(&empty, |p| &p.peers);
        let new_peers = planned.as_ref().map_or(&empty, |(_, p, _)| p);
        let peer = |id: &NodeId, endpoint: &Endpoint| Peer {
            node_id: id.clone(),
            address: endpoint.clone(),
            moniker: self.moniker(&consumer_id, id),
        };
        let mut change = PeerChange {
            validator: node.map_or_else(|| validator.to_owned(), |n| format!("{validator}/{n}")),
            slug: slug.to_owned(),
            before: old.as_ref().map(|p| p.peers.len()),
            after: planned.as_ref().map(|(_, _, n)| *n),
            added: Vec::new(),
            removed: Vec::new(),
            moved: Vec::new(),
            consumer_id: consumer_id.clone(),
            chain_id,
        };
        for (id, endpoint) in new_peers {
            match old_peers.get(id) {
                None => change.added.push(peer(id, endpoint)),
                Some(from) if from != endpoint => change.moved.push(Moved {
                    node_id: id.clone(),
                    moniker: self.moniker(&consumer_id, id),
                    from: from.clone(),
                    to: endpoint.clone(),
                }),
                Some(_) => {}
            }
        }
        if counted {
            return Some(change);
        }
        for (id, endpoint) in old_peers {
            if !new_peers.contains_key(id) {
                change.removed.push(peer(id, endpoint));
            }
        }
        Some(change)
    }
}

/// Zone files peergen itself wrote and verified; one that no longer parses (edited by hand) is
/// reported by its diff alone.
fn zone_changes(
    files: &[FileChange],
    previous: &dyn Previous,
) -> Result<Vec<ZoneChange>, TreeError> {
    let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.path.ends_with(".zone")) {
        let old = f.old(previous)?;
        let Ok(d) = crate::cosmos::dns::text::diff(
            &text(old.as_deref()),
            &text(f.read_new()?.as_deref().map(Vec::as_slice)),
        ) else {
            continue;
        };
        out.push(ZoneChange {
            path: f.path.clone(),
            from: d.serial_old,
            to: d.serial_new,
            added: d.added,
            removed: d.removed,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: usize, removed: usize) -> PeerChange {
        let peer = |i: usize| Peer {
            node_id: NodeId::parse(&format!("{i:040x}")).unwrap(),
            address: Endpoint::parse(&format!("h{i}.example:26656")).unwrap(),
            moniker: None,
        };
        PeerChange {
            validator: "alice".into(),
            slug: "pion-1".into(),
            consumer_id: "0".into(),
            chain_id: "pion-1".into(),
            before: Some(before),
            after: Some(before - removed),
            added: Vec::new(),
            removed: (0..removed).map(peer).collect(),
            moved: Vec::new(),
        }
    }

    fn violations(before: usize, removed: usize, pct: u8) -> usize {
        Changes {
            peers: vec![change(before, removed)],
            ..Changes::default()
        }
        .threshold_violations(pct)
        .len()
    }

    #[test]
    fn removal_share_counts_only_from_four_peers() {
        assert_eq!(violations(10, 3, 30), 0, "exactly 30% is allowed");
        assert_eq!(violations(10, 4, 30), 1);
        assert_eq!(violations(4, 2, 30), 1);
        assert_eq!(violations(4, 2, 50), 0);
        assert_eq!(
            violations(3, 2, 30),
            0,
            "small lists are exempt from the share rule"
        );
    }

    #[test]
    fn emptying_a_list_always_counts() {
        assert_eq!(violations(1, 1, 100), 1);
        assert_eq!(violations(3, 3, 100), 1);
    }

    #[test]
    fn moved_port_only() {
        let m = |from: &str, to: &str| Moved {
            node_id: NodeId::parse(&"0".repeat(40)).unwrap(),
            moniker: None,
            from: Endpoint::parse(from).unwrap(),
            to: Endpoint::parse(to).unwrap(),
        };
        assert!(m("a.example:1", "a.example:2").port_only());
        assert!(!m("a.example:1", "b.example:1").port_only());
    }
}
