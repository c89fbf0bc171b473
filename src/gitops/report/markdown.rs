//! The plan as a Markdown pull-request comment: a stable marker, per-consumer peer tables, zone
//! records, and the diff, all within GitHub's comment size limit.

use std::fmt::Write as _;

use super::diagram::{self, Diagram};
use super::file_diff;
use crate::gitops::changes::{Action, Changes, Peer};
use crate::output::escape::md_code_span as md_text;
use crate::output::file::File;
use crate::output::previous::Previous;
use crate::output::tree::TreeError;

/// First line of every Markdown plan, so a workflow can find and update its one comment.
pub(crate) const MARKER: &str = "<!-- peergen-plan -->";

/// GitHub refuses comments over 65 536 characters: the whole Markdown plan stays under this many
/// bytes (never fewer than characters), tables and diffs alike, with a note saying what was cut.
pub(crate) const MARKDOWN_LIMIT: usize = 60_000;

/// Kept free for the truncation notes and the closing of the `<details>` block.
const MARKDOWN_RESERVE: usize = 1_000;

/// Appends `line` and a newline while the comment stays within its budget; counts what is cut.
/// Once one line is cut every later one is too, so no table resumes with its rows out of context.
fn push_line(out: &mut String, cut: &mut usize, line: &str) {
    if *cut > 0 || out.len() + line.len() + 1 + MARKDOWN_RESERVE > MARKDOWN_LIMIT {
        *cut += 1;
    } else {
        out.push_str(line);
        out.push('\n');
    }
}

/// Appends all of `lines` or, when they would not fit the budget whole, `instead`: a diagram cut
/// in half would leave its code fence open.
fn push_block(out: &mut String, cut: &mut usize, lines: &[String], instead: &str) {
    let len: usize = lines.iter().map(|l| l.len() + 1).sum();
    if *cut == 0 && out.len() + len + MARKDOWN_RESERVE <= MARKDOWN_LIMIT {
        for l in lines {
            push_line(out, cut, l);
        }
    } else {
        push_line(out, cut, instead);
    }
}

/// The consumer's change diagram (links added in green, removed in red), or its counts when it
/// is too large to draw, or a note when it would not fit.
fn push_diagram(out: &mut String, cut: &mut usize, changes: &Changes, slug: &str) {
    match diagram::diagram(changes, slug) {
        None => {}
        Some(Diagram::TooLarge { added, removed }) => push_line(
            out,
            cut,
            &format!(
                "_No diagram: {added} links added and {removed} removed are more than the {} a diagram shows; the table lists them._\n",
                diagram::MAX_LINKS
            ),
        ),
        Some(Diagram::Chart(chart)) => {
            let mut lines = vec![
                "Links added (green) and removed (red, dashed); blue nodes are those whose peer lists change:\n".to_owned(),
                "```mermaid".to_owned(),
            ];
            lines.extend(chart.lines().map(str::to_owned));
            lines.push("```\n".to_owned());
            push_block(
                out,
                cut,
                &lines,
                "_No diagram: it would exceed GitHub's comment size limit; the table lists the links._\n",
            );
        }
    }
}

fn peer_cell(p: &Peer) -> String {
    format!(
        "`{}` | `{}` | {}",
        p.node_id,
        p.address,
        md_text(p.moniker.as_deref().unwrap_or(""))
    )
}

/// A fence longer than any backtick run inside, so a diff cannot close its own code block.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

pub(crate) fn markdown(
    changes: &Changes,
    previous: &dyn Previous,
    prefix: &str,
) -> Result<String, TreeError> {
    let checksum = &changes.checksum;
    let mut out = String::new();
    let dir = if prefix.is_empty() { "." } else { prefix };
    let _ = writeln!(out, "{MARKER}");
    let _ = writeln!(out, "### peergen plan\n");
    let c = changes.counts();
    if changes.is_empty() {
        let _ = writeln!(
            out,
            "No changes: the committed output under `{dir}` matches the inputs.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "**{} to add, {} to change, {} to remove** ({} unchanged) under `{dir}`.\n",
            c.added, c.changed, c.removed, changes.unchanged
        );
    }
    if changes.restarts > 0 {
        let _ = writeln!(
            out,
            "{} running nodes restart: their `[p2p]` configuration changes.\n",
            changes.restarts
        );
    }
    let _ = writeln!(out, "Plan checksum: `{checksum}`\n");

    // Everything below is bounded: one line at a time while the budget lasts.
    let mut cut = 0;
    if !changes.needs_force.is_empty() {
        push_line(&mut out, &mut cut, "**Would need `--force`:**\n");
        for v in &changes.needs_force {
            push_line(&mut out, &mut cut, &format!("- {}", md_text(v)));
        }
        push_line(&mut out, &mut cut, "");
    }
    let mut slugs: Vec<&str> = changes.peers.iter().map(|p| p.slug.as_str()).collect();
    slugs.dedup();
    for slug in slugs {
        let rows: Vec<_> = changes.peers.iter().filter(|p| p.slug == slug).collect();
        let first = rows[0];
        push_line(
            &mut out,
            &mut cut,
            &format!(
                "#### Consumer {} (consumer id {}, chain id {})\n",
                md_text(slug),
                md_text(&first.consumer_id),
                md_text(&first.chain_id)
            ),
        );
        push_line(
            &mut out,
            &mut cut,
            "| Validator | Peers | Change | Node ID | Address | Moniker |",
        );
        push_line(&mut out, &mut cut, "|---|---|---|---|---|---|");
        for p in rows {
            let count = |n: Option<usize>| n.map_or("–".to_owned(), |n| n.to_string());
            let counts = format!("{} → {}", count(p.before), count(p.after));
            let mut lines = Vec::new();
            if p.after.is_none() {
                push_line(
                    &mut out,
                    &mut cut,
                    &format!(
                        "| {} | {counts} | leaves the consumer | | | |",
                        md_text(&p.validator)
                    ),
                );
                continue;
            }
            lines.extend(p.added.iter().map(|a| format!("added | {}", peer_cell(a))));
            lines.extend(
                p.removed
                    .iter()
                    .map(|r| format!("removed | {}", peer_cell(r))),
            );
            lines.extend(p.moved.iter().map(|m| {
                let what = if m.port_only() {
                    "port changed"
                } else {
                    "address changed"
                };
                format!(
                    "{what} | `{}` | `{}` → `{}` | {}",
                    m.node_id,
                    m.from,
                    m.to,
                    md_text(m.moniker.as_deref().unwrap_or(""))
                )
            }));
            if lines.is_empty() {
                lines.push("other settings | | | ".to_owned());
            }
            for l in lines {
                push_line(
                    &mut out,
                    &mut cut,
                    &format!("| {} | {counts} | {l} |", md_text(&p.validator)),
                );
            }
        }
        push_line(&mut out, &mut cut, "");
        push_diagram(&mut out, &mut cut, changes, slug);
    }
    if !changes.removed_consumers.is_empty() {
        push_line(&mut out, &mut cut, "#### Consumers removed\n");
        for slug in &changes.removed_consumers {
            push_line(&mut out, &mut cut, &format!("- `{slug}`"));
        }
        push_line(&mut out, &mut cut, "");
    }
    for z in &changes.zones {
        let v = |n: Option<u32>| n.map_or("–".to_owned(), |n| n.to_string());
        push_line(
            &mut out,
            &mut cut,
            &format!(
                "#### Zone `{prefix}{}`: serial {} → {}\n",
                z.path,
                v(z.from),
                v(z.to)
            ),
        );
        if !z.added.is_empty() || !z.removed.is_empty() {
            push_line(&mut out, &mut cut, "| op | record |");
            push_line(&mut out, &mut cut, "|---|---|");
            for (op, records) in [("-", &z.removed), ("+", &z.added)] {
                for r in records {
                    push_line(
                        &mut out,
                        &mut cut,
                        &format!("| {op} | `{}` |", r.replace('|', "\\|")),
                    );
                }
            }
        }
        push_line(&mut out, &mut cut, "");
    }
    if cut > 0 {
        let _ = writeln!(
            out,
            "_Truncated: {cut} more table lines would exceed GitHub's comment size limit; \
             run `peergen plan --format json` for all of them._\n"
        );
    }
    if !changes.is_empty() {
        let budget = MARKDOWN_LIMIT.saturating_sub(out.len() + MARKDOWN_RESERVE);
        let mut body = String::new();
        let mut omitted = 0;
        for f in &changes.files {
            // An added file's diff is longer than the file: no need to build one that cannot fit.
            if f.action == Action::Add
                && body.len() as u64 + f.new.as_ref().map_or(0, File::len) > budget as u64
            {
                omitted += 1;
                continue;
            }
            let new = f.read_new()?;
            let diff = file_diff(
                f,
                f.old(previous)?.as_deref(),
                new.as_deref().map(Vec::as_slice),
                prefix,
            );
            if body.len() + diff.len() > budget {
                omitted += 1;
            } else {
                body.push_str(&diff);
            }
        }
        let fence = fence(&body);
        let _ = writeln!(
            out,
            "<details><summary>Diff of {} files</summary>\n\n{fence}diff\n{body}{fence}\n",
            changes.files.len()
        );
        if omitted > 0 {
            let _ = writeln!(
                out,
                "_Truncated: the diffs of {omitted} more files would exceed GitHub's comment size limit; \
                 run `peergen plan` locally for the full diff._\n"
            );
        }
        let _ = writeln!(out, "</details>");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops::report::added_file;
    use crate::input::printable::printable;

    #[test]
    fn markdown_diff_is_truncated_with_a_note() {
        let changes = Changes {
            files: vec![
                added_file("a.yaml", 30_000),
                added_file("b.yaml", 30_000),
                added_file("c.yaml", 10),
            ],
            ..Changes::default()
        };
        let md = markdown(&changes, &crate::output::previous::NoPrevious, "peers/").unwrap();
        assert!(md.starts_with("<!-- peergen-plan -->\n"));
        assert!(md.len() < 65_536);
        assert!(md.contains("+++ b/peers/a.yaml") && md.contains("+++ b/peers/c.yaml"));
        assert!(!md.contains("+++ b/peers/b.yaml"));
        assert!(md.contains("_Truncated: the diffs of 1 more files would exceed"));
    }

    #[test]
    fn markdown_tables_are_budgeted_too() {
        let peer = |i: usize| Peer {
            node_id: crate::cosmos::node_id::NodeId::parse(&format!("{i:040x}")).unwrap(),
            address: crate::input::address::Endpoint::parse(&format!("host-{i}.example.org:26656"))
                .unwrap(),
            moniker: Some("m".repeat(60)),
        };
        let changes = Changes {
            files: vec![added_file("a.yaml", 10)],
            peers: vec![crate::gitops::changes::PeerChange {
                validator: "alice".into(),
                slug: "pion-1".into(),
                consumer_id: "0".into(),
                chain_id: "pion-1".into(),
                before: Some(0),
                after: Some(3_000),
                added: (0..3_000).map(peer).collect(),
                removed: Vec::new(),
                moved: Vec::new(),
            }],
            needs_force: vec!["alice on pion-1: the peer list would become empty (had 1)".into()],
            ..Changes::default()
        };
        let md = markdown(&changes, &crate::output::previous::NoPrevious, "peers/").unwrap();
        assert!(md.len() <= MARKDOWN_LIMIT, "{}", md.len());
        assert!(md.contains("more table lines would exceed GitHub's comment size limit"));
        assert!(md.contains("- `alice on pion-1: the peer list would become empty (had 1)`"));
        assert!(
            md.trim_end().ends_with("</details>"),
            "the diff block is closed"
        );
    }

    #[test]
    fn fence_outgrows_backticks_inside() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }

    #[test]
    fn monikers_cannot_break_tables() {
        assert_eq!(md_text("a|b<script>"), "`a\\|b<script>`");
        assert_eq!(md_text("x\ny"), "`x\\ny`");
        assert_eq!(md_text("`a``b"), "``` `a``b ```");
        assert_eq!(
            md_text("@octocat #1 https://x.io \u{202e}"),
            "`@octocat #1 https://x.io \\u{202e}`"
        );
    }

    /// Whatever a moniker holds, a Markdown renderer sees it as one code span inside its table
    /// cell: no link, autolink, HTML or emphasis can come from it, and GitHub does not look for
    /// mentions or references inside code.
    #[test]
    fn hostile_text_stays_one_code_span() {
        use proptest::prelude::*;
        use pulldown_cmark::{Event, Options, Parser, Tag};
        let cases = proptest::collection::vec(
            prop_oneof![
                any::<char>().prop_map(String::from),
                Just("@octocat".to_owned()),
                Just("#1".to_owned()),
                Just("https://evil.example/x".to_owned()),
                Just("<img src=x onerror=alert(1)>".to_owned()),
                Just("`".to_owned()),
                Just("|".to_owned()),
                Just("\\".to_owned()),
                Just("[a](http://b)".to_owned()),
                Just(" ".to_owned()),
            ],
            1..8,
        )
        .prop_map(|parts| parts.concat());
        proptest!(|(value in cases)| {
            let doc = format!("| Validator | Moniker |\n|---|---|\n| a | {} |\n", md_text(&value));
            let mut code = String::new();
            let mut cells = 0;
            for event in Parser::new_ext(&doc, Options::ENABLE_TABLES) {
                match event {
                    Event::Start(Tag::TableCell) => cells += 1,
                    Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::Emphasis | Tag::Strong)
                    | Event::Html(_)
                    | Event::InlineHtml(_) => prop_assert!(false, "{doc}"),
                    Event::Code(c) => code.push_str(&c),
                    _ => {}
                }
            }
            prop_assert_eq!(cells, 4, "{}", doc);
            let shown = printable(&value).replace('\n', "\\n");
            prop_assert_eq!(code.trim(), shown.trim(), "{}", doc);
        });
    }
}
