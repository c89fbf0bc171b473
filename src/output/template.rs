//! The template engine: built-in templates embedded in the binary, overridable from `--templates DIR`,
//! strict about undefined values, and escaping every printed value for the file's format.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, ValueKind};
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};

use crate::output::checked::{self, Format, Parsed};
use crate::output::escape;

/// Built-in templates, by name. The name's extension picks the escaping: `.yaml` YAML, `.toml`/`.cfg`
/// TOML, `.nft` nftables tokens only.
const BUILTIN: &[(&str, &str)] = &[
    (
        "cosmos/peers.yaml",
        include_str!("../../templates/cosmos/peers.yaml.j2"),
    ),
    (
        "cosmos/p2p.toml",
        include_str!("../../templates/cosmos/p2p.toml.j2"),
    ),
    (
        "cosmos/kustomization.yaml",
        include_str!("../../templates/cosmos/kustomization.yaml.j2"),
    ),
    (
        "cosmos/rollout.yaml",
        include_str!("../../templates/cosmos/rollout.yaml.j2"),
    ),
    (
        "cosmos/rollout-patch.yaml",
        include_str!("../../templates/cosmos/rollout-patch.yaml.j2"),
    ),
    (
        "cosmos/consumer-kustomization.yaml",
        include_str!("../../templates/cosmos/consumer-kustomization.yaml.j2"),
    ),
    (
        "cosmos/validator-kustomization.yaml",
        include_str!("../../templates/cosmos/validator-kustomization.yaml.j2"),
    ),
    (
        "cosmos/prometheus-rule.yaml",
        include_str!("../../templates/cosmos/prometheus-rule.yaml.j2"),
    ),
    (
        "cosmos/network-policy.yaml",
        include_str!("../../templates/cosmos/network-policy.yaml.j2"),
    ),
    (
        "cosmos/allowlist.nft",
        include_str!("../../templates/cosmos/allowlist.nft.j2"),
    ),
    (
        "stellar/stellar-core.cfg",
        include_str!("../../templates/stellar/stellar-core.cfg.j2"),
    ),
    (
        "stellar/stellar-peers.yaml",
        include_str!("../../templates/stellar/stellar-peers.yaml.j2"),
    ),
    (
        "stellar/kustomization.yaml",
        include_str!("../../templates/stellar/kustomization.yaml.j2"),
    ),
    (
        "stellar/rollout.yaml",
        include_str!("../../templates/stellar/rollout.yaml.j2"),
    ),
    (
        "stellar/rollout-patch.yaml",
        include_str!("../../templates/stellar/rollout-patch.yaml.j2"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("{path}: {message}")]
    Dir { path: PathBuf, message: String },
    #[error("template {name}: {message}")]
    Render { name: String, message: String },
}

pub(crate) struct Templates {
    env: Environment<'static>,
}

fn escape_mode(name: &str) -> AutoEscape {
    match name.rsplit('.').next() {
        Some("yaml" | "yml") => AutoEscape::Custom("yaml".into()),
        Some("toml" | "cfg") => AutoEscape::Custom("toml".into()),
        Some("nft") => AutoEscape::Custom("nft".into()),
        _ => AutoEscape::None,
    }
}

fn format_error(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

fn scalar_text(value: &Value, mode: &str) -> Result<String, Error> {
    match value.kind() {
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            Ok(match mode {
                "yaml" => escape::yaml_string(s),
                "nft" => escape::nft_token(s).map_err(format_error)?.to_owned(),
                _ => escape::toml_string(s),
            })
        }
        ValueKind::Bool | ValueKind::Seq if mode == "nft" => Err(format_error(format!(
            "a {} value cannot be printed into an nftables file",
            value.kind()
        ))),
        ValueKind::Bool => Ok(if value.is_true() { "true" } else { "false" }.to_owned()),
        ValueKind::Number => Ok(value.to_string()),
        ValueKind::Seq => {
            let items = value
                .try_iter()?
                .map(|v| scalar_text(&v, mode))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("[{}]", items.join(", ")))
        }
        other => Err(format_error(format!(
            "a {other} value cannot be printed into a {mode} file; print its fields one by one"
        ))),
    }
}

fn formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_safe() {
        return out
            .write_str(value.as_str().unwrap_or_default())
            .map_err(Error::from);
    }
    match state.auto_escape() {
        AutoEscape::Custom(mode) => {
            let mut text = scalar_text(value, mode)?;
            if value.as_str().is_some() && matches!(mode.as_ref(), "yaml" | "toml") {
                text = checked::quoted(value, text);
            }
            out.write_str(&text).map_err(Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

impl Templates {
    pub(crate) fn new(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(escape_mode);
        env.set_formatter(formatter);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("static syntax config"),
        );
        env.add_filter("yaml_block", |s: Value, indent: usize| {
            // Any value is printed as its text, as a `String` argument would take it.
            let s = if s.as_str().is_some() {
                s
            } else {
                Value::from(s.to_string())
            };
            let text = s.as_str().unwrap_or_default();
            Value::from_safe_string(checked::block(&s, escape::yaml_block(text, indent), indent))
        });
        for (name, source) in BUILTIN {
            let source = match dir {
                Some(dir) => read_override(dir, name)?.unwrap_or_else(|| (*source).to_owned()),
                None => (*source).to_owned(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| TemplateError::Render {
                    name: (*name).to_owned(),
                    message: describe(&e),
                })?;
        }
        if let Some(dir) = dir {
            check_no_strays(dir, dir)?;
        }
        Ok(Templates { env })
    }

    pub(crate) fn render<S: serde::Serialize>(
        &self,
        name: &str,
        ctx: &S,
    ) -> Result<String, TemplateError> {
        let err = |e: Error| TemplateError::Render {
            name: name.to_owned(),
            message: describe(&e),
        };
        self.env
            .get_template(name)
            .map_err(err)?
            .render(Value::from(Serde(ctx)))
            .map_err(err)
    }
}

impl Templates {
    /// Renders `name` (a YAML or TOML template) and parses the result: the text and the document
    /// it parses to, or the parser's message. Long strings are parsed once (`checked`).
    pub(crate) fn render_parsed<S: serde::Serialize>(
        &self,
        name: &str,
        ctx: &S,
    ) -> Result<Parsed, TemplateError> {
        let format = Format::of(name).ok_or_else(|| TemplateError::Render {
            name: name.to_owned(),
            message: "internal: not a YAML or TOML template".to_owned(),
        })?;
        checked::render_parsed(format, || self.render(name, ctx))
    }
}

/// A template map whose keys keep the order given, as a serialized struct's do (a template may
/// iterate one), built without serde: every view's context is made of these.
pub(crate) fn fields(pairs: Vec<(&'static str, Value)>) -> Value {
    Value::from_object(Fields(pairs))
}

#[derive(Debug)]
struct Fields(Vec<(&'static str, Value)>);

impl Object for Fields {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.iter().map(|(k, _)| Value::from(*k)).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

fn describe(e: &Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn read_override(dir: &Path, name: &str) -> Result<Option<String>, TemplateError> {
    let path = dir.join(format!("{name}.j2"));
    match crate::input::file::read_text(&path, crate::input::file::TEXT_LIMIT) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TemplateError::Dir {
            path,
            message: e.to_string(),
        }),
    }
}

/// A misspelt override would otherwise be ignored silently.
fn check_no_strays(root: &Path, dir: &Path) -> Result<(), TemplateError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TemplateError::Dir {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| TemplateError::Dir {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        if path.is_dir() {
            check_no_strays(root, &path)?;
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if let Some(name) = rel.strip_suffix(".j2")
            && !BUILTIN.iter().any(|(n, _)| *n == name)
        {
            let known: Vec<String> = BUILTIN.iter().map(|(n, _)| format!("{n}.j2")).collect();
            return Err(TemplateError::Dir {
                path,
                message: format!(
                    "not a peergen template name; overridable templates are: {}",
                    known.join(", ")
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_print_as_maps_do() {
        let map = fields(vec![
            ("zeta", Value::from(1)),
            ("alpha", Value::from("a")),
            ("none", Value::from(())),
        ]);
        let env = Environment::new();
        let out = env
            .render_str(
                "{% for k, v in m|items %}{{ k }}={{ v }};{% endfor %} {{ m.alpha }} {{ m|length }} {{ m.missing is undefined }} {{ m|tojson }}",
                minijinja::context! { m => map },
            )
            .unwrap();
        assert_eq!(
            out,
            r#"zeta=1;alpha=a;none=None; a 3 True {"zeta": 1, "alpha": "a", "none": null}"#
        );
    }
}
