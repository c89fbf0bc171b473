//! Rendering with the parse-back every YAML and TOML file gets, done once per structure: every
//! printed string is rendered as a placeholder, the skeleton (the same text for every view of one
//! template shape) is parsed once by the format's own parser, each string is checked to decode to
//! its value, and the placeholders are then replaced by the escaped strings. The result is the document the whole text parses to
//! (docs/design.md, "Verification", has the argument); whenever the argument's preconditions do
//! not hold, the whole text is rendered and parsed instead.

use std::cell::RefCell;
use std::collections::HashMap;

use minijinja::Value;
use serde_json::Value as Json;

use super::escape;

/// The document a rendered file parses to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Doc {
    Toml(toml::Table),
    Yaml(Json),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Format {
    Toml,
    Yaml,
}

impl Format {
    /// The format a template's output is parsed as, by its name (as escaping is chosen).
    pub(crate) fn of(name: &str) -> Option<Format> {
        match name.rsplit('.').next() {
            Some("yaml" | "yml") => Some(Format::Yaml),
            Some("toml") => Some(Format::Toml),
            _ => None,
        }
    }

    /// The whole text, parsed; the error is the parser's own message.
    pub(crate) fn parse(self, text: &str) -> Result<Doc, String> {
        match self {
            Format::Toml => toml::from_str(text)
                .map(Doc::Toml)
                .map_err(|e| e.to_string()),
            Format::Yaml => serde_saphyr::from_str(text)
                .map(Doc::Yaml)
                .map_err(|e| e.without_snippet().to_string()),
        }
    }
}

/// A rendered file's text and the document it parses to (or the parser's message).
pub(crate) type Parsed = (String, Result<Doc, String>);

/// How a long string was written.
enum Kind {
    /// A double-quoted string (TOML basic string, YAML double-quoted scalar).
    Quoted,
    /// A YAML literal block whose lines are indented by this many spaces.
    Block(usize),
}

/// A printed string: its value (shared with the template context, not copied) and its escaping.
struct Long {
    raw: Value,
    escaped: String,
    kind: Kind,
}

struct Recording {
    nonce: u64,
    longs: Vec<Long>,
}

thread_local! {
    static RECORDING: RefCell<Option<Recording>> = const { RefCell::new(None) };
    /// One per thread, so that the skeletons of views rendered from one template shape are the
    /// same text and parse once ([`parse_once`]).
    static NONCE: u64 = fastrand::u64(..);
    static SKELETONS: RefCell<HashMap<(Format, String), Result<Doc, String>>> =
        RefCell::new(HashMap::new());
}

/// How many parsed skeletons a thread keeps; a render has a few shapes per template.
const SKELETON_CACHE: usize = 64;

/// `format.parse(text)`, remembered per thread: parsing is a function of the text alone.
fn parse_once(format: Format, text: &str) -> Result<Doc, String> {
    let key = (format, text.to_owned());
    if let Some(doc) = SKELETONS.with(|s| s.borrow().get(&key).cloned()) {
        return doc;
    }
    let doc = format.parse(text);
    SKELETONS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() >= SKELETON_CACHE {
            s.clear();
        }
        s.insert(key, doc.clone());
    });
    doc
}

/// What every placeholder of a thread's renders starts with.
fn marker_prefix(nonce: u64) -> String {
    format!("peergen-long-{nonce:016x}-")
}

fn marker(nonce: u64, i: usize) -> String {
    format!("{}{i}", marker_prefix(nonce))
}

/// What the formatter writes for a string it escaped to `escaped`: a placeholder while a checked
/// render records, else `escaped` itself.
pub(crate) fn quoted(raw: &Value, escaped: String) -> String {
    record(raw, escaped, Kind::Quoted).unwrap_or_else(|escaped| escaped)
}

/// What `yaml_block` returns for `raw` escaped to `escaped` with `indent` spaces.
pub(crate) fn block(raw: &Value, escaped: String, indent: usize) -> String {
    let kind = if escaped.starts_with('|') && indent > 0 {
        Kind::Block(indent)
    } else {
        Kind::Quoted
    };
    record(raw, escaped, kind).unwrap_or_else(|escaped| escaped)
}

/// `Ok(placeholder)` when recording, else `Err(escaped)` untouched.
fn record(raw: &Value, escaped: String, kind: Kind) -> Result<String, String> {
    RECORDING.with(|r| {
        let mut r = r.borrow_mut();
        let Some(rec) = r.as_mut() else {
            return Err(escaped);
        };
        let mark = marker(rec.nonce, rec.longs.len());
        let token = match kind {
            Kind::Quoted => format!("\"{mark}\""),
            Kind::Block(indent) => format!("|\n{}{mark}", " ".repeat(indent)),
        };
        rec.longs.push(Long {
            raw: raw.clone(),
            escaped,
            kind,
        });
        Ok(token)
    })
}

/// Renders with `render` and parses the result as `format`: the text and its document (or the
/// parser's message). `render` is called once, or twice when the skeleton cannot be used.
pub(crate) fn render_parsed<E>(
    format: Format,
    render: impl Fn() -> Result<String, E>,
) -> Result<Parsed, E> {
    let nonce = NONCE.with(|n| *n);
    RECORDING.with(|r| {
        *r.borrow_mut() = Some(Recording {
            nonce,
            longs: Vec::new(),
        });
    });
    let skeleton = render();
    let recording = RECORDING.with(|r| r.borrow_mut().take());
    let skeleton = skeleton?;
    let longs = recording.map(|r| r.longs).unwrap_or_default();
    if longs.is_empty() {
        let doc = parse_once(format, &skeleton);
        return Ok((skeleton, doc));
    }
    if let Some(done) = fill(format, &skeleton, nonce, longs) {
        return Ok(done);
    }
    let text = render()?;
    let doc = format.parse(&text);
    Ok((text, doc))
}

/// The text and document the skeleton stands for, `None` when the argument does not apply.
fn fill(format: Format, skeleton: &str, nonce: u64, longs: Vec<Long>) -> Option<Parsed> {
    let prefix = marker_prefix(nonce);
    // Each placeholder exactly once in the text, each as the token that was written.
    let mut spans = Vec::with_capacity(longs.len());
    for (at, _) in skeleton.match_indices(&prefix) {
        let digits = skeleton[at + prefix.len()..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let i: usize = skeleton[at + prefix.len()..][..digits].parse().ok()?;
        let end = at + prefix.len() + digits;
        let long = longs.get(i)?;
        let (start, end) = match long.kind {
            Kind::Quoted => {
                let before = skeleton[..at].strip_suffix('"')?;
                skeleton[end..].strip_prefix('"')?;
                (before.len(), end + 1)
            }
            Kind::Block(indent) => {
                let before = skeleton[..at].strip_suffix(&" ".repeat(indent))?;
                let before = before.strip_suffix("|\n")?;
                (before.len(), end)
            }
        };
        spans.push((start, end, i));
    }
    let mut seen: Vec<usize> = spans.iter().map(|s| s.2).collect();
    seen.sort_unstable();
    if seen != (0..longs.len()).collect::<Vec<_>>() {
        return None;
    }
    // Each long string decodes to its value under the format's own rules.
    for long in &longs {
        if !decodes(format, long) {
            return None;
        }
    }
    let mut doc = parse_once(format, skeleton).ok()?;
    let mut markers = Markers {
        prefix: &prefix,
        format,
        longs: &longs,
        found: vec![false; longs.len()],
    };
    let ok = match &mut doc {
        Doc::Toml(table) => toml_table(table, &mut markers),
        Doc::Yaml(json) => json_value(json, &mut markers),
    };
    if !ok || markers.found.iter().any(|f| !f) {
        return None;
    }
    let mut text = String::with_capacity(
        skeleton.len() + longs.iter().map(|l| l.escaped.len()).sum::<usize>(),
    );
    let mut last = 0;
    for (start, end, i) in spans {
        text.push_str(&skeleton[last..start]);
        text.push_str(&longs[i].escaped);
        last = end;
    }
    text.push_str(&skeleton[last..]);
    Some((text, Ok(doc)))
}

/// Longer escaped keys take the whole parse: YAML limits an implicit key to 1024 characters, and
/// this many bytes are certainly fewer.
const YAML_KEY_LIMIT: usize = 1000;

/// The placeholders found in a parsed skeleton, and the values they stand for.
struct Markers<'a> {
    prefix: &'a str,
    format: Format,
    longs: &'a [Long],
    found: Vec<bool>,
}

impl Markers<'_> {
    /// The value of `s` when it is exactly one unused placeholder (taken), `Ok(None)` when it holds
    /// no placeholder, `Err` for any other string holding the placeholder prefix.
    fn take(&mut self, s: &str) -> Result<Option<&Long>, ()> {
        let Some(rest) = s.strip_prefix(self.prefix) else {
            return if s.contains(self.prefix) {
                Err(())
            } else {
                Ok(None)
            };
        };
        let (digits, newline) = match rest.strip_suffix('\n') {
            Some(d) => (d, true),
            None => (rest, false),
        };
        let i = digits.parse::<usize>().map_err(drop)?;
        let long = self.longs.get(i).ok_or(())?;
        let block = matches!(long.kind, Kind::Block(_));
        if block != newline || digits != i.to_string() || self.found[i] {
            return Err(());
        }
        self.found[i] = true;
        Ok(Some(long))
    }

    /// Replaces a placeholder string with its value. False for a string holding the placeholder
    /// prefix that is not exactly one unused placeholder.
    fn string(&mut self, s: &mut String) -> bool {
        match self.take(s) {
            Ok(Some(long)) => {
                *s = long.raw.as_str().unwrap_or_default().to_owned();
                true
            }
            Ok(None) => true,
            Err(()) => false,
        }
    }

    /// A mapping's keys with their placeholders replaced, in order. False when a key holds the
    /// prefix without being one placeholder, when two keys become one (the whole text would hold
    /// a duplicate key), when a YAML key becomes `<<` (which a parser may read as a merge), or
    /// when a YAML key's escaped form nears the 1024-character limit of an implicit key.
    fn keys<V>(
        &mut self,
        entries: Vec<(String, V)>,
        mut insert: impl FnMut(String, V) -> bool,
    ) -> bool {
        let yaml = self.format == Format::Yaml;
        for (key, value) in entries {
            let key = match self.take(&key) {
                Ok(Some(long)) => {
                    let raw = long.raw.as_str().unwrap_or_default();
                    if yaml && (raw == "<<" || long.escaped.len() > YAML_KEY_LIMIT) {
                        return false;
                    }
                    raw.to_owned()
                }
                Ok(None) => key,
                Err(()) => return false,
            };
            if !insert(key, value) {
                return false;
            }
        }
        true
    }
}

fn toml_value(value: &mut toml::Value, m: &mut Markers<'_>) -> bool {
    match value {
        toml::Value::String(s) => m.string(s),
        toml::Value::Array(items) => items.iter_mut().all(|v| toml_value(v, m)),
        toml::Value::Table(t) => toml_table(t, m),
        _ => true,
    }
}

fn toml_table(table: &mut toml::Table, m: &mut Markers<'_>) -> bool {
    if table.keys().any(|k| k.contains(m.prefix)) {
        let entries: Vec<(String, toml::Value)> = std::mem::take(table).into_iter().collect();
        if !m.keys(entries, |k, v| table.insert(k, v).is_none()) {
            return false;
        }
    }
    table.iter_mut().all(|(_, v)| toml_value(v, m))
}

fn json_value(value: &mut Json, m: &mut Markers<'_>) -> bool {
    match value {
        Json::String(s) => m.string(s),
        Json::Array(items) => items.iter_mut().all(|v| json_value(v, m)),
        Json::Object(map) => {
            if map.keys().any(|k| k.contains(m.prefix)) {
                let entries: Vec<(String, Json)> = std::mem::take(map).into_iter().collect();
                if !m.keys(entries, |k, v| map.insert(k, v).is_none()) {
                    return false;
                }
            }
            map.values_mut().all(|v| json_value(v, m))
        }
        _ => true,
    }
}

/// True when `long.escaped` decodes to `long.raw`. A string without escapes is checked against
/// the grammar directly (a TOML basic string's and a YAML double-quoted scalar's unescaped
/// characters, a literal block's lines); any other is parsed by the format's own parser.
fn decodes(format: Format, long: &Long) -> bool {
    match long.kind {
        Kind::Quoted => {
            let inner = long
                .escaped
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'));
            let raw = long.raw.as_str().unwrap_or_default();
            if inner == Some(raw) && escape::is_plain(raw) {
                return true;
            }
            let parsed = match format {
                Format::Toml => format.parse(&format!("v = {}\n", long.escaped)),
                Format::Yaml => format.parse(&format!("v: {}\n", long.escaped)),
            };
            match parsed {
                Ok(Doc::Toml(t)) => t.get("v").and_then(toml::Value::as_str) == Some(raw),
                Ok(Doc::Yaml(j)) => j.get("v").and_then(Json::as_str) == Some(raw),
                Err(_) => false,
            }
        }
        Kind::Block(indent) => {
            block_decodes(&long.escaped, indent, long.raw.as_str().unwrap_or_default())
        }
    }
}

/// A literal block (`|`, clip chomping) of lines indented by exactly `indent` spaces, each
/// non-empty, starting and ending with neither space nor tab and holding no line break or control
/// character, holds those lines each ended by `\n`.
fn block_decodes(escaped: &str, indent: usize, raw: &str) -> bool {
    let Some(body) = escaped.strip_prefix("|\n") else {
        return false;
    };
    let mut rest = raw;
    let pad = " ".repeat(indent);
    for line in body.split('\n') {
        let Some(content) = line.strip_prefix(pad.as_str()).filter(|c| !c.is_empty()) else {
            return false;
        };
        let plain = !content.starts_with([' ', '\t'])
            && !content.ends_with([' ', '\t'])
            && escape::block_line(content);
        let Some(after) = rest
            .strip_prefix(content)
            .and_then(|r| r.strip_prefix('\n'))
        else {
            return false;
        };
        if !plain {
            return false;
        }
        rest = after;
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::template::Templates;
    use proptest::prelude::*;

    /// Template shapes that meet the argument's preconditions and shapes that must fall back.
    const YAML: &[&str] = &[
        "a: {{ v }}\n",
        "a: [{{ v }}, {{ v }}]\nb: {a: {{ v }}}\n",
        "# {{ v }}\na: 1\n",
        "{{ v }}: 1\n",
        "a: &x {{ v }}\nb: *x\n",
        "a: x{{ v }}\n",
        "a: \"{{ v }}\"\n",
        "a: {{ v | yaml_block(2) }}\nb: 1\n",
        "a:\n  b: {{ v | yaml_block(4) }}\n  c: {{ v | yaml_block(4) }}\n",
        "a: {{ v | yaml_block(2) }}\n      more\n",
        "  a:\n    b: {{ v | yaml_block(2) }}\n",
        "a: {{ v | yaml_block(0) }}\n",
        "a: {{ v | yaml_block(2) }}",
        "{% set x %}{{ v }}{% endset %}a: {{ x }}\nb: {{ x }}\n",
        "a: !!binary {{ v }}\n",
        "{{ v }}: 1\n{{ v }}: 2\n",
        "a: 1\n{{ v }}: 2\n",
        "<<: {b: 1}\n{{ v }}: 2\n",
        "? {{ v | yaml_block(2) }}\n: 1\n",
        "a:\n  {{ v }}: [{{ v }}]\n",
    ];
    const TOML: &[&str] = &[
        "a = {{ v }}\n",
        "a = [{{ v }}, {{ v }}]\nb = { c = {{ v }} }\n",
        "{{ v }} = 1\n",
        "a = \"\"\"{{ v }}\"\"\"\n",
        "# {{ v }}\na = 1\n",
        "[t]\nx = {{ v }}\n[u]\nx = {{ v }}\n",
        "a = {{ v }}{{ v }}\n",
        "a = '{{ v }}'\n",
        "{{ v }} = 1\n{{ v }} = 2\n",
        "a = 1\n{{ v }} = 2\n",
        "[{{ v }}]\nx = {{ v }}\n",
        "[t.{{ v }}]\nx = 1\n[t]\na = 2\n",
        "t = { {{ v }} = 1, a = 2 }\n",
    ];

    /// Renders `template` as `name` both ways: checked, and whole then parsed.
    fn both(name: &str, template: &str, v: &str) -> (Parsed, Parsed) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.j2"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, template).unwrap();
        let templates = Templates::new(Some(dir.path())).unwrap();
        let ctx = serde_json::json!({ "v": v });
        let checked = templates.render_parsed(name, &ctx);
        let whole = templates.render(name, &ctx).map(|text| {
            let doc = Format::of(name).unwrap().parse(&text);
            (text, doc)
        });
        match (checked, whole) {
            (Ok(c), Ok(w)) => (c, w),
            (Err(c), Err(w)) => {
                assert_eq!(c.to_string(), w.to_string());
                (
                    (String::new(), Err(String::new())),
                    (String::new(), Err(String::new())),
                )
            }
            (c, w) => panic!(
                "{template:?}: checked {:?}, whole {:?}",
                c.is_ok(),
                w.is_ok()
            ),
        }
    }

    #[test]
    fn the_built_in_shapes_render_once() {
        let peers = (0..8)
            .map(|i| format!("{i:040x}@validator-{i}.example.net:26656"))
            .collect::<Vec<_>>();
        let ctx = serde_json::json!({ "v": peers.join(","), "w": peers.join("\n") + "\n" });
        for (name, template) in [
            (
                "cosmos/p2p.toml",
                "[p2p]\npersistent_peers = {{ v }}\nunconditional_peer_ids = {{ v }}\n",
            ),
            (
                "cosmos/peers.yaml",
                "data:\n  persistent_peers: {{ v }}\n  peers.txt: {{ w | yaml_block(4) }}\n",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("{name}.j2"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, template).unwrap();
            let templates = Templates::new(Some(dir.path())).unwrap();
            let format = Format::of(name).unwrap();
            let calls = std::cell::Cell::new(0);
            let (text, doc) = render_parsed(format, || {
                calls.set(calls.get() + 1);
                templates.render(name, &ctx)
            })
            .unwrap();
            assert_eq!(calls.get(), 1, "{template}");
            assert_eq!(doc, format.parse(&text));
            assert!(text.contains(&peers.join(",")));
        }
    }

    fn values() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-f0-9@.:,-]{250,400}",
            "([a-f0-9]{40}@[a-z.]{5,20}:[0-9]{2,5}\n){4,12}",
            proptest::collection::vec(any::<char>(), 250..400)
                .prop_map(|c| c.into_iter().collect::<String>()),
            "(\"|\\\\|\n|\u{2028}|\u{85}|\t| |#|: |a){250,300}",
            // Past YAML's implicit-key limit.
            "[a-z]{1000,1100}",
            // Short strings are placeholders too: names, keys, a merge key, nothing at all.
            "[a-z<.-]{0,4}",
            Just("<<".to_owned()),
            proptest::collection::vec(any::<char>(), 0..6)
                .prop_map(|c| c.into_iter().collect::<String>()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn a_checked_render_is_the_whole_render_parsed(v in values()) {
            for t in YAML {
                let (checked, whole) = both("cosmos/peers.yaml", t, &v);
                prop_assert_eq!(&checked.0, &whole.0, "{:?}", t);
                prop_assert_eq!(&checked.1, &whole.1, "{:?}", t);
            }
            for t in TOML {
                let (checked, whole) = both("cosmos/p2p.toml", t, &v);
                prop_assert_eq!(&checked.0, &whole.0, "{:?}", t);
                prop_assert_eq!(&checked.1, &whole.1, "{:?}", t);
            }
        }
    }

    fn long(raw: &str, kind: Kind, format: Format) -> Long {
        let escaped = match (&kind, format) {
            (Kind::Block(indent), _) => escape::yaml_block(raw, *indent),
            (Kind::Quoted, Format::Yaml) => escape::yaml_string(raw),
            (Kind::Quoted, Format::Toml) => escape::toml_string(raw),
        };
        Long {
            raw: Value::from(raw),
            escaped,
            kind,
        }
    }

    #[test]
    fn plain_and_escaped_strings_decode() {
        let peers = "a".repeat(300);
        for format in [Format::Toml, Format::Yaml] {
            assert!(decodes(format, &long(&peers, Kind::Quoted, format)));
            assert!(decodes(
                format,
                &long("a\"b\\c\u{1}\n", Kind::Quoted, format)
            ));
        }
        assert!(decodes(
            Format::Yaml,
            &long("x@h:1\ny@h:2\n", Kind::Block(4), Format::Yaml)
        ));
    }

    #[test]
    fn a_block_that_does_not_hold_its_value_is_refused() {
        assert!(!block_decodes("|\n    a\n    b", 4, "a\nc\n"));
        assert!(!block_decodes("|\n    a\n  b", 4, "a\nb\n"));
        assert!(!block_decodes("|\n    a \n", 4, "a \n"));
        assert!(block_decodes("|\n    a\n    b", 4, "a\nb\n"));
    }
}
