//! A parser for exactly the Mermaid flowchart subset peergen writes (docs/graph.md): anything
//! else, a label that could end early, an undeclared node, a style naming a missing link, is an
//! error. The library's unit tests include this file too (`cosmos::graph::grammar`), so the writer
//! and the tests of the CLI are held to one grammar.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Box,
    Stadium,
    Subroutine,
}

#[derive(Debug, Default)]
pub struct Flowchart {
    /// Node id → (shape, decoded label, subgraph id).
    pub nodes: BTreeMap<String, (Shape, String, Option<String>)>,
    /// Subgraph id → decoded title, in order.
    pub subgraphs: Vec<(String, String)>,
    /// (from, arrow, to), in order: `linkStyle` numbers them.
    pub links: Vec<(String, String, String)>,
    /// Link index → styles applied to it.
    pub link_styles: BTreeMap<usize, Vec<String>>,
    pub class_defs: BTreeSet<String>,
    /// Node id → classes.
    pub classes: BTreeMap<String, Vec<String>>,
}

const ARROWS: [&str; 6] = ["---", "-->", "<-->", "-.-", "-.->", "<-.->"];

/// `n0`, `g12`: a letter and digits, never a Mermaid keyword.
fn id(text: &str, prefix: char) -> Result<String, String> {
    let mut chars = text.chars();
    if chars.next() == Some(prefix)
        && !text[1..].is_empty()
        && text[1..].bytes().all(|b| b.is_ascii_digit())
    {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not an id {prefix}<digits>"))
    }
}

/// A quoted label: only the characters the writer leaves alone, and `#NNN;` entity codes,
/// decoded. Returns the label and the rest of the line.
fn label(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or_else(|| format!("label does not start with a quote: {text:?}"))?;
    let end = body
        .find('"')
        .ok_or_else(|| format!("unterminated label: {text:?}"))?;
    let (inner, rest) = (&body[..end], &body[end + 1..]);
    let mut decoded = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' {
            let mut digits = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() {
                    digits.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            if chars.next() != Some(';') || digits.is_empty() {
                return Err(format!("bad entity code in {inner:?}"));
            }
            let code: u32 = digits.parse().map_err(|_| format!("bad code {digits}"))?;
            decoded.push(char::from_u32(code).ok_or_else(|| format!("no char {code}"))?);
        } else if c.is_ascii_alphanumeric() || " -_.,:/=+()".contains(c) {
            decoded.push(c);
        } else {
            return Err(format!("unescaped {c:?} in label {inner:?}"));
        }
    }
    Ok((decoded, rest))
}

/// `stroke:#1a7f37,stroke-width:2px`: CSS declarations of lowercase names and plain values.
fn style(text: &str) -> Result<(), String> {
    for declaration in text.split(',') {
        let (name, value) = declaration
            .split_once(':')
            .ok_or_else(|| format!("bad style {text:?}"))?;
        let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        let value_ok = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'#' || b == b'.');
        if !name_ok || !value_ok {
            return Err(format!("bad style {text:?}"));
        }
    }
    Ok(())
}

fn node(chart: &mut Flowchart, line: &str, within: &Option<String>) -> Result<(), String> {
    let open = line
        .find(['[', '('])
        .ok_or_else(|| format!("not a statement: {line:?}"))?;
    let name = id(&line[..open], 'n')?;
    let rest = &line[open..];
    let (shape, open, close) = if rest.starts_with("[[") {
        (Shape::Subroutine, "[[", "]]")
    } else if rest.starts_with("([") {
        (Shape::Stadium, "([", "])")
    } else {
        (Shape::Box, "[", "]")
    };
    let (text, tail) = label(&rest[open.len()..])?;
    if tail != close {
        return Err(format!("{line:?}: expected {close:?} after the label"));
    }
    if chart
        .nodes
        .insert(name.clone(), (shape, text, within.clone()))
        .is_some()
    {
        return Err(format!("node {name} declared twice"));
    }
    Ok(())
}

pub fn parse(text: &str) -> Result<Flowchart, String> {
    let mut lines = text.lines();
    if lines.next() != Some("flowchart LR") {
        return Err("the first line is not `flowchart LR`".to_owned());
    }
    if !text.ends_with('\n') {
        return Err("no final newline".to_owned());
    }
    let mut chart = Flowchart::default();
    let mut within: Option<String> = None;
    for line in lines {
        let line = line.trim_start_matches(' ');
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["subgraph", name, ..] => {
                if within.is_some() {
                    return Err("nested subgraph".to_owned());
                }
                let name = id(name, 'g')?;
                let after = &line["subgraph ".len() + name.len()..];
                let inner = after
                    .strip_prefix(" [")
                    .and_then(|s| s.strip_suffix(']'))
                    .ok_or_else(|| format!("bad subgraph line {line:?}"))?;
                let (title, rest) = label(inner)?;
                if !rest.is_empty() {
                    return Err(format!("text after the subgraph title: {line:?}"));
                }
                chart.subgraphs.push((name.clone(), title));
                within = Some(name);
            }
            ["end"] => {
                within
                    .take()
                    .ok_or_else(|| "`end` outside a subgraph".to_owned())?;
            }
            [from, arrow, to] if ARROWS.contains(arrow) => {
                chart
                    .links
                    .push((id(from, 'n')?, (*arrow).to_owned(), id(to, 'n')?));
            }
            ["linkStyle", indices, declarations] => {
                style(declarations)?;
                for i in indices.split(',') {
                    let i: usize = i.parse().map_err(|_| format!("bad link index {i:?}"))?;
                    chart
                        .link_styles
                        .entry(i)
                        .or_default()
                        .push((*declarations).to_owned());
                }
            }
            ["classDef", name, declarations] => {
                style(declarations)?;
                if !name.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(format!("bad class name {name:?}"));
                }
                chart.class_defs.insert((*name).to_owned());
            }
            ["class", ids, name] => {
                if !chart.class_defs.contains(*name) {
                    return Err(format!("class {name} used before its classDef"));
                }
                for node in ids.split(',') {
                    chart
                        .classes
                        .entry(id(node, 'n')?)
                        .or_default()
                        .push((*name).to_owned());
                }
            }
            _ => node(&mut chart, line, &within)?,
        }
    }
    if within.is_some() {
        return Err("a subgraph is not closed".to_owned());
    }
    for (from, _, to) in &chart.links {
        for n in [from, to] {
            if !chart.nodes.contains_key(n) {
                return Err(format!("link to undeclared node {n}"));
            }
        }
    }
    if let Some(&i) = chart.link_styles.keys().next_back()
        && i >= chart.links.len()
    {
        return Err(format!("linkStyle {i} names no link"));
    }
    for n in chart.classes.keys() {
        if !chart.nodes.contains_key(n) {
            return Err(format!("class on undeclared node {n}"));
        }
    }
    Ok(chart)
}

/// Every ```` ```mermaid ```` block of a Markdown document, as a Markdown parser sees them, and
/// whether the document holds any raw HTML (which a hostile label must never produce).
pub fn blocks(markdown: &str) -> (Vec<String>, bool) {
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
    let mut blocks = Vec::new();
    let mut html = false;
    let mut current: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) if &*info == "mermaid" => {
                current = Some(String::new());
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            Event::Html(_) | Event::InlineHtml(_) => html = true,
            _ => {}
        }
    }
    (blocks, html)
}
