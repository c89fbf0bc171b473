//! The commit message: a minijinja template (built in or `--message-template`) over a context in
//! which every string is one line, so on-chain text cannot forge a subject or a trailer.

use serde::Serialize;

use super::GitopsError;
use super::changes::{Changes, Counts, FileChange, Moved, Peer, PeerChange};

const DEFAULT_MESSAGE: &str = include_str!("../../templates/gitops/commit-message.j2");

/// Monikers, chain ids and addresses come from the chain or the inventory: a newline in one could
/// start a line of its own in the message and forge a trailer (`Plan-Checksum:`) or a subject, so
/// every control or line-separator character becomes a space.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The commit message context, documented in docs/gitops.md: the plan with every string made
/// [`one_line`], its peer changes grouped by consumer.
#[derive(Serialize)]
struct Context<'a> {
    checksum: &'a str,
    summary: Counts,
    files: Vec<FileChange>,
    consumers: Vec<ConsumerChanges>,
    removed_consumers: Vec<String>,
}

#[derive(Serialize)]
struct ConsumerChanges {
    slug: String,
    consumer_id: String,
    chain_id: String,
    validators: Vec<PeerChange>,
}

fn peer_one_line(p: &Peer) -> Peer {
    Peer {
        node_id: p.node_id.clone(),
        address: p.address.clone(),
        moniker: p.moniker.as_deref().map(one_line),
    }
}

fn context<'a>(changes: &Changes, checksum: &'a str, full_lists: bool) -> Context<'a> {
    let mut consumers: Vec<ConsumerChanges> = Vec::new();
    for p in &changes.peers {
        // A node that joins or leaves has every peer added or removed; the built-in message says
        // `joins (N peers)` / `leaves` and never reads those lists, which for a fleet's first apply
        // hold millions of peers. A custom template gets them all, as documented.
        let whole = !full_lists && (p.before.is_none() || p.after.is_none());
        let lines = |peers: &[Peer]| {
            if whole {
                Vec::new()
            } else {
                peers.iter().map(peer_one_line).collect()
            }
        };
        let change = PeerChange {
            validator: one_line(&p.validator),
            slug: one_line(&p.slug),
            consumer_id: one_line(&p.consumer_id),
            chain_id: one_line(&p.chain_id),
            added: lines(&p.added),
            removed: lines(&p.removed),
            moved: p
                .moved
                .iter()
                .map(|m| Moved {
                    node_id: m.node_id.clone(),
                    moniker: m.moniker.as_deref().map(one_line),
                    from: m.from.clone(),
                    to: m.to.clone(),
                })
                .collect(),
            before: p.before,
            after: p.after,
        };
        match consumers.last_mut() {
            Some(c) if c.slug == change.slug => c.validators.push(change),
            _ => consumers.push(ConsumerChanges {
                slug: change.slug.clone(),
                consumer_id: change.consumer_id.clone(),
                chain_id: change.chain_id.clone(),
                validators: vec![change],
            }),
        }
    }
    Context {
        checksum,
        summary: changes.counts(),
        files: changes
            .files
            .iter()
            .map(|f| FileChange {
                path: one_line(&f.path),
                action: f.action,
                new: None,
            })
            .collect(),
        consumers,
        removed_consumers: changes
            .removed_consumers
            .iter()
            .map(|s| one_line(s))
            .collect(),
    }
}

pub(crate) fn message(
    changes: &Changes,
    checksum: &str,
    template: Option<&str>,
) -> Result<String, GitopsError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("static syntax config"),
    );
    let source = template.unwrap_or(DEFAULT_MESSAGE);
    let fail = |e: minijinja::Error| GitopsError::Message(format!("{e:#}"));
    env.add_template("message", source).map_err(fail)?;
    let text = env
        .get_template("message")
        .and_then(|t| {
            t.render(minijinja::Value::from(minijinja::value::Serde(context(
                changes,
                checksum,
                template.is_some(),
            ))))
        })
        .map_err(fail)?;
    let mut text = text.trim_end().to_owned();
    if text.is_empty() {
        return Err(GitopsError::Message("renders an empty message".to_owned()));
    }
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::changes::{Peer, PeerChange};

    #[test]
    fn a_moniker_cannot_forge_a_trailer_or_a_line() {
        let evil = Peer {
            node_id: crate::cosmos::node_id::NodeId::parse(&"ab".repeat(20)).unwrap(),
            address: crate::input::address::Endpoint::parse("h.example:26656").unwrap(),
            moniker: Some("x\n\nPlan-Checksum: 0000\r\u{2028}Signed-off-by: m".into()),
        };
        let changes = Changes {
            peers: vec![PeerChange {
                validator: "alice".into(),
                slug: "pion-1".into(),
                consumer_id: "0\nCo-authored-by: z".into(),
                chain_id: "pion-1".into(),
                before: Some(1),
                after: Some(2),
                added: vec![evil],
                removed: Vec::new(),
                moved: Vec::new(),
            }],
            ..Changes::default()
        };
        let text = message(&changes, "abc", None).unwrap();
        let starts = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(starts("Plan-Checksum:"), 1, "{text}");
        assert_eq!(
            starts("Signed-off-by:") + starts("Co-authored-by:"),
            0,
            "{text}"
        );
        assert!(
            text.contains("x  Plan-Checksum: 0000  Signed-off-by: m"),
            "{text}"
        );
        assert!(text.ends_with("\nPlan-Checksum: abc\n"), "{text}");
    }
}
