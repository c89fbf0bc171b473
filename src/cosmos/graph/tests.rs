//! The graph of the bundled sentry fleet, and the graph's agreement with the plan's links.

use std::path::{Path, PathBuf};

use super::*;
use crate::cosmos::inventory;
use crate::cosmos::peers::{self, Plan};
use crate::cosmos::state::ProviderState;

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("inventories")
        .join(name)
}

fn sentry_plan() -> Plan {
    let inventory = inventory::load(&[bundled("sentries.yaml")]).unwrap();
    let state = ProviderState::load(&bundled("example-state.json")).unwrap();
    peers::plan(&inventory, &state).unwrap()
}

fn consumer<'a>(plan: &'a Plan, chain_id: &str) -> &'a ConsumerPlan {
    plan.consumers
        .iter()
        .find(|cp| cp.chain_id == chain_id)
        .unwrap()
}

#[test]
fn the_sentry_fleet_is_grouped_by_validator_with_private_and_mesh_links() {
    let plan = sentry_plan();
    let graph = build(consumer(&plan, "pion-1"), Some("alice"));
    let labels: Vec<&str> = graph.nodes.iter().map(|n| n.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "alice/validator",
            "alice/sentry-a",
            "alice/sentry-b",
            "bob/validator",
            "bob/eu",
            "bob/us",
            "carol"
        ]
    );
    let groups: Vec<(&str, &[usize])> = graph
        .groups
        .iter()
        .map(|g| (g.validator.as_str(), g.nodes.as_slice()))
        .collect();
    assert_eq!(
        groups,
        [
            ("alice", &[0, 1, 2][..]),
            ("bob", &[3, 4, 5][..]),
            ("carol", &[6][..])
        ]
    );
    let own: Vec<bool> = graph.nodes.iter().map(|n| n.own).collect();
    assert_eq!(own, [true, true, true, false, false, false, false]);
    let private: Vec<(usize, usize)> = graph
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Private)
        .map(|l| (l.from, l.to))
        .collect();
    assert_eq!(private, [(0, 1), (0, 2), (3, 4), (3, 5)]);
    // Five public nodes in a full mesh; every link both ways and (by default) unconditional.
    assert_eq!(graph.links.len(), 4 + 10);
    assert!(graph.links.iter().all(|l| l.mutual && l.unconditional));
}

/// Whatever the consumer, a node lists exactly the nodes its links say it lists, and a link is
/// unconditional exactly when every listing end keeps the other unconditionally.
#[test]
fn links_are_what_every_node_lists() {
    let plan = sentry_plan();
    for cp in &plan.consumers {
        let graph = build(cp, None);
        for m in cp.members.iter().chain(&cp.private) {
            let i = graph
                .nodes
                .iter()
                .position(|n| n.label == m.label())
                .unwrap();
            let links = cp.links(m);
            let mut listed: Vec<String> = links.listed.iter().map(|p| p.label()).collect();
            listed.sort_unstable();
            let mut drawn: Vec<String> = graph
                .links
                .iter()
                .filter_map(|l| match (l.from == i, l.to == i) {
                    (true, _) => Some(l.to),
                    (_, true) if l.mutual => Some(l.from),
                    _ => None,
                })
                .map(|j| graph.nodes[j].label.clone())
                .collect();
            drawn.sort_unstable();
            assert_eq!(listed, drawn, "{} on {}", m.label(), cp.chain_id);
            for l in graph.links.iter().filter(|l| l.from == i || l.to == i) {
                let other = &graph.nodes[if l.from == i { l.to } else { l.from }];
                if l.from == i || l.mutual {
                    assert!(
                        !l.unconditional || links.unconditional.contains(&other.node_id),
                        "{} → {}",
                        m.label(),
                        other.label
                    );
                }
            }
        }
    }
    // neutron-1 is 2-connected: every public node keeps two ring neighbours.
    let graph = build(consumer(&plan, "neutron-1"), None);
    let adjacency = graph.adjacency();
    for (n, peers) in graph.nodes.iter().zip(&adjacency) {
        let public = peers
            .iter()
            .filter(|&&j| graph.nodes[j].kind != Kind::Validator)
            .count();
        if n.kind != Kind::Validator {
            assert_eq!(public, 2, "{}", n.label);
        }
    }
}

#[test]
fn identical_inputs_give_identical_pictures() {
    let (a, b) = (sentry_plan(), sentry_plan());
    for (x, y) in a.consumers.iter().zip(&b.consumers) {
        let (gx, gy) = (build(x, Some("bob")), build(y, Some("bob")));
        assert_eq!(dot::dot(&gx), dot::dot(&gy));
        assert_eq!(mermaid::flowchart(&gx), mermaid::flowchart(&gy));
        assert_eq!(text::text(&gx), text::text(&gy));
    }
}

use super::grammar;

/// Text a moniker or name could hold to break out of a label, a diagram or the Markdown around it.
fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    proptest::collection::vec(
        prop_oneof![
            any::<char>().prop_map(String::from),
            Just("\"]".to_owned()),
            Just("\"])\n  n0 --> n1".to_owned()),
            Just("end".to_owned()),
            Just("\n```\n<script>alert(1)</script>".to_owned()),
            Just("<img src=x onerror=alert(1)>".to_owned()),
            Just("#quot;".to_owned()),
            Just("#35;".to_owned()),
            Just("&amp;".to_owned()),
            Just("`**bold**`".to_owned()),
            Just("click n0 href \"javascript:alert(1)\"".to_owned()),
            Just("%%{init: {\"securityLevel\": \"loose\"}}%%".to_owned()),
            Just(":::own".to_owned()),
            Just("|x|".to_owned()),
            Just("@octocat #1".to_owned()),
            Just("\u{202e}\u{1b}[2J".to_owned()),
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

/// What a label shows for `text`: the writer escapes control and bidi characters and line
/// breaks first, as every other output does.
fn shown(text: &str) -> String {
    crate::input::printable::printable(text).replace('\n', "\\n")
}

/// Whatever the names, the diagram parses as the subset with exactly the nodes and links written
/// and each label shown as given; inside a Markdown fence it stays one code block with no HTML.
#[test]
fn hostile_labels_cannot_inject_mermaid_or_markdown() {
    use proptest::prelude::*;
    proptest!(|(names in proptest::collection::vec(hostile(), 1..5), mutual in any::<bool>())| {
        let nodes: Vec<mermaid::DiffNode> = names
            .iter()
            .enumerate()
            .map(|(i, n)| mermaid::DiffNode { label: n.clone(), changed: i.is_multiple_of(2) })
            .collect();
        let links: Vec<mermaid::DiffLink> = (1..nodes.len())
            .map(|i| mermaid::DiffLink {
                change: if i.is_multiple_of(2) { mermaid::Change::Added } else { mermaid::Change::Removed },
                from: 0,
                to: i,
                mutual,
            })
            .collect();
        let chart = mermaid::changes(&nodes, &links);
        let parsed = grammar::parse(&chart).map_err(|e| TestCaseError::fail(format!("{e}\n{chart}")))?;
        prop_assert_eq!(parsed.nodes.len(), nodes.len());
        prop_assert_eq!(parsed.links.len(), links.len());
        for (i, n) in names.iter().enumerate() {
            prop_assert_eq!(&parsed.nodes[&format!("n{i}")].1, &shown(n));
        }
        let doc = format!("text\n\n```mermaid\n{chart}```\n\nafter\n");
        let (blocks, html) = grammar::blocks(&doc);
        prop_assert!(!html, "{}", doc);
        prop_assert_eq!(blocks, vec![chart.clone()]);
    });
}

/// The same for the whole graph: hostile monikers in the group titles.
#[test]
fn hostile_monikers_stay_inside_their_group_titles() {
    use proptest::prelude::*;
    let plan = sentry_plan();
    let base = build(consumer(&plan, "pion-1"), Some("carol"));
    proptest!(|(monikers in proptest::collection::vec(hostile(), 3))| {
        let mut graph = base.clone();
        for (g, m) in graph.groups.iter_mut().zip(&monikers) {
            g.moniker = m.clone();
        }
        let chart = mermaid::flowchart(&graph);
        let parsed = grammar::parse(&chart).map_err(|e| TestCaseError::fail(format!("{e}\n{chart}")))?;
        prop_assert_eq!(parsed.subgraphs.len(), 3);
        prop_assert_eq!(parsed.nodes.len(), graph.nodes.len());
        prop_assert_eq!(parsed.links.len(), graph.links.len());
        for ((_, title), g) in parsed.subgraphs.iter().zip(&graph.groups) {
            prop_assert_eq!(title, &shown(&Graph::caption(g)));
        }
        // DOT: every quoted string closes where the writer closed it.
        let dot = dot::dot(&graph);
        for (g, line) in graph.groups.iter().zip(dot.lines().filter(|l| l.contains("graph [label=") && l.starts_with("    "))) {
            let quoted = dot::quoted(&Graph::caption(g));
            prop_assert!(line.starts_with(&format!("    graph [label={quoted}, ")), "{}", line);
        }
    });
}

#[test]
fn the_flowchart_of_the_sentry_fleet_is_in_the_subset() {
    let plan = sentry_plan();
    for cp in &plan.consumers {
        let graph = build(cp, Some("alice"));
        let chart = mermaid::flowchart(&graph);
        let parsed = grammar::parse(&chart).unwrap_or_else(|e| panic!("{e}\n{chart}"));
        assert_eq!(parsed.subgraphs.len(), graph.groups.len());
        for (i, n) in graph.nodes.iter().enumerate() {
            let (shape, label, within) = &parsed.nodes[&format!("n{i}")];
            let expected = match n.kind {
                Kind::Public => grammar::Shape::Box,
                Kind::Sentry => grammar::Shape::Stadium,
                Kind::Validator => grammar::Shape::Subroutine,
            };
            assert_eq!((*shape, label), (expected, &n.name));
            let group = graph
                .groups
                .iter()
                .position(|g| g.nodes.contains(&i))
                .unwrap();
            assert_eq!(within.as_deref(), Some(format!("g{group}").as_str()));
        }
        let thick = parsed.link_styles.keys().count();
        assert_eq!(
            thick,
            graph.links.iter().filter(|l| l.unconditional).count()
        );
    }
}

/// With `unconditional_mesh: false`, only a validator's own links stay unconditional: its
/// validator node with its sentries, and its sentries with each other.
#[test]
fn without_the_unconditional_mesh_only_a_validators_own_links_are_unconditional() {
    let path = bundled("sentries.yaml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "    pex: true\n",
        "    pex: true\n    unconditional_mesh: false\n",
    );
    let inventory = inventory::from_texts(&[(path.as_path(), text)]).unwrap();
    let state = ProviderState::load(&bundled("example-state.json")).unwrap();
    let plan = peers::plan(&inventory, &state).unwrap();
    let graph = build(consumer(&plan, "pion-1"), None);
    let unconditional: Vec<(&str, &str)> = graph
        .links
        .iter()
        .filter(|l| l.unconditional)
        .map(|l| {
            (
                graph.nodes[l.from].label.as_str(),
                graph.nodes[l.to].label.as_str(),
            )
        })
        .collect();
    assert_eq!(
        unconditional,
        [
            ("alice/validator", "alice/sentry-a"),
            ("alice/validator", "alice/sentry-b"),
            ("alice/sentry-a", "alice/sentry-b"),
            ("bob/validator", "bob/eu"),
            ("bob/validator", "bob/us"),
            ("bob/eu", "bob/us"),
        ]
    );
    assert_eq!(graph.links.len(), 14);
}
