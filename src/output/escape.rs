//! Format-aware escaping: every value a template prints into TOML or YAML goes through here. Zone
//! files are not templated: `zone` writes them from validated names only.

use std::fmt::Write as _;

use crate::input::printable::printable;

/// A double-quoted string with `"`, `\`, newline, tab and carriage return backslash-escaped and
/// every other control character (and whatever `also` names) as `\uXXXX`: a form TOML basic
/// strings and YAML double-quoted scalars share.
fn quoted(s: &str, also: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    // Peer lists, names and hashes are printable ASCII: copy them whole.
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push_str(s);
        out.push('"');
        return out;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || also(c) => {
                write!(out, "\\u{:04X}", u32::from(c)).expect("write to String");
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML basic string (`"…"`) per TOML 1.0: `"` `\` and every control character escaped.
pub(crate) fn toml_string(s: &str) -> String {
    quoted(s, |_| false)
}

/// Characters that YAML 1.1 readers treat as line breaks, that a BOM-sniffing reader eats, or that
/// YAML's printable set excludes (the noncharacters U+FFFE and U+FFFF: PyYAML refuses them raw).
fn yaml_break(c: char) -> bool {
    matches!(
        c,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// A YAML double-quoted scalar. Besides `"` and `\`, C0/C1 controls, DEL, U+2028/2029 (line breaks
/// in YAML 1.1) and the BOM are escaped, so no value can start a new line or key.
pub(crate) fn yaml_string(s: &str) -> String {
    quoted(s, yaml_break)
}

/// A YAML literal block (`|`) holding `text`, indented by `indent` spaces, when that form round-trips
/// exactly; otherwise the double-quoted form.
pub(crate) fn yaml_block(text: &str, indent: usize) -> String {
    let plain = |c: char| !(c.is_control() || yaml_break(c));
    let lines: Vec<&str> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect();
    let block_safe = !text.is_empty()
        && text.ends_with('\n')
        && !text.ends_with("\n\n")
        && lines.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with([' ', '\t'])
                && !l.ends_with([' ', '\t'])
                && l.chars().all(plain)
        });
    if !block_safe {
        return yaml_string(text);
    }
    let pad = " ".repeat(indent);
    let mut out = String::from("|");
    for line in lines {
        out.push('\n');
        out.push_str(&pad);
        out.push_str(line);
    }
    out
}

/// Text chosen by validators, the inventory or the chain, as an inert code span: GitHub turns
/// `@name`, `#1`, bare URLs and HTML into mentions, references, links and markup everywhere but in
/// code. Control and bidi characters are escaped, `|` is escaped for the table the span may sit in,
/// and the fence is longer than any backtick run inside.
pub(crate) fn md_code_span(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let body = printable(s).replace('\n', "\\n").replace('|', "\\|");
    let fence = "`".repeat(longest_run(&body, '`') + 1);
    // A span may not start or end with its fence character, nor be stripped of a wanted space.
    let pad = if body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

fn longest_run(s: &str, of: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == of { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct T {
        v: String,
    }

    #[test]
    fn yaml_escapes_what_its_printable_set_excludes() {
        assert_eq!(yaml_string("a\u{fffe}b\u{ffff}"), "\"a\\uFFFEb\\uFFFF\"");
        assert_eq!(yaml_string("\u{2028}\u{feff}"), "\"\\u2028\\uFEFF\"");
    }

    proptest! {
        #[test]
        fn toml_round_trips(s in any::<String>()) {
            let doc = format!("v = {}\n", toml_string(&s));
            let t: T = toml::from_str(&doc).unwrap();
            prop_assert_eq!(t.v, s);
        }

        #[test]
        fn yaml_round_trips(s in any::<String>()) {
            let doc = format!("v: {}\nafter: 1\n", yaml_string(&s));
            let t: std::collections::BTreeMap<String, serde_json::Value> = serde_saphyr::from_str(&doc).unwrap();
            prop_assert_eq!(t["v"].as_str().unwrap(), s.as_str());
            prop_assert_eq!(t.len(), 2);
        }

        #[test]
        fn yaml_block_round_trips(lines in proptest::collection::vec(any::<String>(), 0..5)) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let doc = format!("data:\n  v: {}\n  after: x\n", yaml_block(&text, 4));
            let t: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> = serde_saphyr::from_str(&doc).unwrap();
            prop_assert_eq!(&t["data"]["v"], &text);
            prop_assert_eq!(t["data"].len(), 2);
        }
    }
}
