//! Format-aware escaping: every value a template prints into TOML, YAML or an nftables file, and
//! every string peergen puts into a PromQL label matcher, goes through here. Zone files are not
//! templated: `zone` writes them from validated names only.

use std::fmt::Write as _;

use crate::input::printable::printable;

/// A double-quoted string with `"`, `\`, newline, tab and carriage return backslash-escaped and
/// every other control character (and whatever `also` names) as `\uXXXX`: a form TOML basic
/// strings and YAML double-quoted scalars share.
fn quoted(s: &str, also: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    // Peer lists, names and hashes are printable ASCII: copy them whole.
    if is_plain(s) {
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

/// True when `s` is printable ASCII without `"` and `\\`: the characters a TOML basic string and a
/// YAML double-quoted scalar both hold unescaped, standing for themselves.
pub(crate) fn is_plain(s: &str) -> bool {
    // Chunks without an early exit inside: the compiler checks each chunk's bytes in parallel.
    s.as_bytes().chunks(64).all(|chunk| {
        chunk.iter().fold(true, |ok, &b| {
            ok & (0x20..0x7f).contains(&b) & (b != b'"') & (b != b'\\')
        })
    })
}

/// A character a YAML literal block line may hold as itself.
fn block_char(c: char) -> bool {
    !(c.is_control() || yaml_break(c))
}

/// True when every character of `line` is a [`block_char`]; printable ASCII (peer lines) is
/// checked bytewise.
pub(crate) fn block_line(line: &str) -> bool {
    let ascii = line.as_bytes().chunks(64).all(|chunk| {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b))
    });
    ascii || line.chars().all(block_char)
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
                && block_line(l)
        });
    if !block_safe {
        return yaml_string(text);
    }
    let pad = " ".repeat(indent);
    let mut out = String::with_capacity(1 + text.len() + lines.len() * indent);
    out.push('|');
    for line in lines {
        out.push('\n');
        out.push_str(&pad);
        out.push_str(line);
    }
    out
}

/// A PromQL double-quoted string literal. Prometheus reads these with Go's escape rules
/// (`strconv.Unquote`); printable ASCII other than `"` and `\` is copied, and every other
/// character is written as a `\u`/`\U` escape, so no value can close the literal, end the
/// matcher or smuggle a line break into the rule file.
pub(crate) fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xffff => {
                write!(out, "\\u{:04x}", u32::from(c)).expect("write to String");
            }
            c => write!(out, "\\U{:08x}", u32::from(c)).expect("write to String"),
        }
    }
    out.push('"');
    out
}

/// A token an nftables file may hold unquoted: identifiers, addresses, prefixes and numbers
/// (`[A-Za-z0-9_.:/@-]`, starting with a letter, digit or `_`). Anything else (blanks, quotes,
/// braces, `;`, `#`, line breaks) is refused rather than escaped: nft has no escape syntax that
/// would keep it inert.
pub(crate) fn nft_token(s: &str) -> Result<&str, String> {
    let ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'@' | b'-')
        });
    if ok {
        Ok(s)
    } else {
        Err(format!(
            "{s:?} cannot be printed into an nftables file: only letters, digits and `_.:/@-` are"
        ))
    }
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
    fn nft_tokens_are_words_addresses_and_numbers_only() {
        for ok in [
            "peergen_alice_pion-1_sentry-a",
            "198.51.100.1/32",
            "2001:db9::1/128",
            "a1@h:1",
        ] {
            assert_eq!(nft_token(ok), Ok(ok));
        }
        for bad in ["", "a b", "a;b", "a\nb", "a}", "\"a\"", "#x", "-x", "{x"] {
            assert!(nft_token(bad).is_err(), "{bad:?}");
        }
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

/// PromQL strings judged by Prometheus itself: `promtool test rules` reads each escaped value in a
/// series and in a rule's matcher, and the alert must carry exactly the original value (compared
/// through the YAML escaper, proven above by a YAML parser). A value that broke out of its literal
/// would fail to parse or match another series.
#[cfg(test)]
mod promtool_tests {
    use super::*;
    use proptest::prelude::*;

    fn promtool() -> std::path::PathBuf {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
            .expect("promtool (Debian package `prometheus`) is not installed; .ci/run installs it")
    }

    fn judge(values: &[String]) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut rules = String::from("groups:\n  - name: inert\n    rules:\n");
        let mut series = String::new();
        let mut checks = String::new();
        for (i, v) in values.iter().enumerate() {
            let selector = format!(
                "probe{{i={}, v={}}}",
                promql_string(&i.to_string()),
                promql_string(v)
            );
            rules.push_str(&format!(
                "      - alert: A{i}\n        expr: {}\n",
                yaml_string(&format!("{selector} == 1"))
            ));
            series.push_str(&format!(
                "      - series: {}\n        values: '1x3'\n",
                yaml_string(&selector)
            ));
            // An empty value is no label at all in Prometheus's data model.
            let v_label = if v.is_empty() {
                String::new()
            } else {
                format!("              v: {}\n", yaml_string(v))
            };
            checks.push_str(&format!(
                "      - eval_time: 1m\n        alertname: A{i}\n        exp_alerts:\n          - exp_labels:\n              i: {}\n{v_label}",
                yaml_string(&i.to_string()),
            ));
        }
        std::fs::write(dir.path().join("rules.yaml"), rules).map_err(|e| e.to_string())?;
        let test = format!(
            "rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n{checks}"
        );
        std::fs::write(dir.path().join("test.yaml"), test).map_err(|e| e.to_string())?;
        let out = std::process::Command::new(promtool())
            .args(["test", "rules", "test.yaml"])
            .current_dir(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    #[test]
    fn hostile_values_stay_one_matcher() {
        let hostile = [
            "\"} or vector(1) # ".to_owned(),
            "a\\\"b\nc\u{2028}\u{0}".to_owned(),
            "{{ $value }}".to_owned(),
            "\u{1F600}\u{7f}\t".to_owned(),
        ];
        judge(&hostile).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        // U+FFFD is left out: Prometheus re-reads a rule's expression with the character raw when
        // it evaluates it, and its lexer takes a raw U+FFFD for invalid UTF-8 however it was
        // written; the inventory refuses it in label values (`monitoring.labels`).
        fn promql_strings_decode_to_the_original(values in proptest::collection::vec("[^\u{fffd}]*", 1..24)) {
            prop_assert_eq!(judge(&values), Ok(()));
        }
    }
}
