//! The inventory's `monitoring:` and `allowlist:` sections: which metrics select a node and when its
//! alerts fire; which pods a node's P2P allowlist applies to and admits by label. Label patterns
//! are checked at load; what they expand to is checked when rendered.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;

use super::{InventoryError, invalid};
use crate::input::yaml::{Located, Origin, Spanned};

// ---------------------------------------------------------------- raw schema (serde only)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMonitoring {
    metric_namespace: Option<Spanned<String>>,
    #[serde(rename = "for")]
    for_duration: Option<Spanned<String>>,
    rule_namespace: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    labels: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAllowlist {
    pod_selector: Option<Spanned<BTreeMap<String, String>>>,
    own_pods: Option<Spanned<BTreeMap<String, String>>>,
    port: Option<Spanned<Json>>,
}

// ---------------------------------------------------------------- validated types

/// CometBFT's `instrumentation.namespace` default; nodes before CometBFT (Tendermint Core) use
/// `tendermint`.
pub(crate) const DEFAULT_METRIC_NAMESPACE: &str = "cometbft";
/// How long a node may stay below its planned peer count (or a probe verdict may stand) before
/// the alert fires.
pub(crate) const DEFAULT_FOR: &str = "5m";
pub(crate) const DEFAULT_RULE_NAMESPACE: &str = "monitoring";
pub(crate) const DEFAULT_SEVERITY: &str = "warning";

/// A label value pattern: literal text with `{{validator}}`, `{{chain_id}}` (the consumer's
/// directory name), `{{consumer_id}}`, `{{node}}` and `{{namespace}}` (the node's Kubernetes
/// namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LabelPattern(String);

/// What a [`LabelPattern`] expands with, for one node.
pub(crate) struct NodeVars<'a> {
    pub(crate) validator: &'a str,
    pub(crate) slug: &'a str,
    pub(crate) consumer_id: &'a str,
    pub(crate) node: &'a str,
    pub(crate) namespace: &'a str,
}

impl LabelPattern {
    fn parse(text: &str) -> Result<LabelPattern, String> {
        super::settings::check_variables(
            text,
            &["validator", "chain_id", "consumer_id", "node", "namespace"],
        )?;
        Ok(LabelPattern(text.to_owned()))
    }

    pub(crate) fn builtin(text: &str) -> LabelPattern {
        LabelPattern(text.to_owned())
    }

    pub(crate) fn expand(&self, vars: &NodeVars<'_>) -> String {
        super::settings::expand_variables(&self.0, |name| match name {
            "validator" => vars.validator,
            "consumer_id" => vars.consumer_id,
            "node" => vars.node,
            "namespace" => vars.namespace,
            _ => vars.slug,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Monitoring {
    /// A Prometheus metric-name prefix: `cometbft` gives `cometbft_p2p_peers`.
    pub(crate) metric_namespace: String,
    /// A Prometheus duration (`5m`, `1h30m`).
    pub(crate) for_duration: String,
    /// The Kubernetes namespace of the rendered `PrometheusRule` objects.
    pub(crate) rule_namespace: String,
    pub(crate) severity: String,
    /// Matchers selecting one node's metrics besides `chain_id`, by label name.
    pub(crate) labels: BTreeMap<String, LabelPattern>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Allowlist {
    /// Labels of the public node's pods, which the NetworkPolicy applies to.
    pub(crate) pod_selector: BTreeMap<String, LabelPattern>,
    /// Labels of the operator's own nodes' pods, admitted besides the peers' addresses.
    pub(crate) own_pods: BTreeMap<String, LabelPattern>,
    /// The pod's P2P port when it differs from the published one (NAT, a Service's targetPort).
    pub(crate) port: Option<u16>,
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, without the reserved `__` prefix.
pub(crate) fn check_prometheus_name(name: &str) -> Result<(), String> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a Prometheus name: letters, digits and '_', not starting with a digit or `__`"
        ))
    }
}

/// A Prometheus duration: one or more `<digits><unit>` with units `y w d h m s ms`, largest first,
/// each at most once (what Prometheus's `model.ParseDuration` accepts).
pub(crate) fn check_prometheus_duration(text: &str) -> Result<(), String> {
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    let bad = || {
        format!(
            "{text:?} is not a Prometheus duration such as 5m, 90s or 1h30m (units y, w, d, h, m, s, ms, largest first)"
        )
    };
    let mut rest = text;
    let mut next_unit = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") {
            "ms"
        } else {
            rest.get(..1).ok_or_else(bad)?
        };
        let at = UNITS[next_unit..]
            .iter()
            .position(|u| *u == unit)
            .ok_or_else(bad)?;
        next_unit += at + 1;
        rest = &rest[unit.len()..];
    }
    Ok(())
}

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of ≤ 63
/// characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        crate::input::name::check_subdomain(p)
            .map_err(|e| format!("label key {key:?}: prefix {e}"))?;
    }
    if name.is_empty() {
        return Err(format!("label key {key:?} has an empty name"));
    }
    crate::input::name::check_label_value(name).map_err(|e| format!("label key {key:?}: {e}"))
}

fn patterns(
    file: &Arc<Path>,
    field: &str,
    raw: Spanned<BTreeMap<String, String>>,
    check_key: fn(&str) -> Result<(), String>,
) -> Result<Located<BTreeMap<String, LabelPattern>>, InventoryError> {
    let at = Origin::of(file, &raw);
    let mut out = BTreeMap::new();
    for (key, value) in raw.value {
        check_key(&key).map_err(|m| invalid(&at, format!("{field}.{key}"), m))?;
        let pattern =
            LabelPattern::parse(&value).map_err(|m| invalid(&at, format!("{field}.{key}"), m))?;
        out.insert(key, pattern);
    }
    Ok(Located { value: out, at })
}

pub(crate) fn parse_monitoring(
    file: &Arc<Path>,
    raw: Spanned<RawMonitoring>,
) -> Result<Located<Monitoring>, InventoryError> {
    let at = Origin::of(file, &raw);
    let raw = raw.value;
    let text = |s: Option<Spanned<String>>,
                field: &str,
                default: &str,
                check: fn(&str) -> Result<(), String>|
     -> Result<String, InventoryError> {
        match s {
            None => Ok(default.to_owned()),
            Some(s) => {
                check(&s.value).map_err(|m| invalid(&Origin::of(file, &s), field, m))?;
                Ok(s.value)
            }
        }
    };
    let metric_namespace = text(
        raw.metric_namespace,
        "monitoring.metric_namespace",
        DEFAULT_METRIC_NAMESPACE,
        |n| {
            check_prometheus_name(n).map_err(|e| {
                format!("{e}; CometBFT's instrumentation.namespace, `cometbft` or `tendermint`")
            })
        },
    )?;
    let for_duration = text(
        raw.for_duration,
        "monitoring.for",
        DEFAULT_FOR,
        check_prometheus_duration,
    )?;
    let rule_namespace = text(
        raw.rule_namespace,
        "monitoring.rule_namespace",
        DEFAULT_RULE_NAMESPACE,
        crate::input::name::check_label,
    )?;
    let severity = text(raw.severity, "monitoring.severity", DEFAULT_SEVERITY, |s| {
        crate::input::name::check_label(s)
    })?;
    let labels = match raw.labels {
        Some(l) => {
            let l = patterns(file, "monitoring.labels", l, check_prometheus_name)?;
            if let Some((name, _)) = l.value.iter().find(|(_, p)| p.0.contains('\u{fffd}')) {
                return Err(invalid(
                    &l.at,
                    format!("monitoring.labels.{name}"),
                    "holds U+FFFD, which Prometheus cannot evaluate in a matcher (its lexer reads it as invalid UTF-8)",
                ));
            }
            if let Some((name, _)) = l.value.iter().find(|(_, p)| p.0.is_empty()) {
                return Err(invalid(
                    &l.at,
                    format!("monitoring.labels.{name}"),
                    "is empty, which matches series without the label; give the value the node's metrics carry",
                ));
            }
            if l.value.contains_key("chain_id") {
                return Err(invalid(
                    &l.at,
                    "monitoring.labels.chain_id",
                    "is always matched: CometBFT labels every metric with the consumer's chain id",
                ));
            }
            l.value
        }
        None => BTreeMap::from([(
            "namespace".to_owned(),
            LabelPattern::builtin("{{namespace}}"),
        )]),
    };
    Ok(Located {
        value: Monitoring {
            metric_namespace,
            for_duration,
            rule_namespace,
            severity,
            labels,
        },
        at,
    })
}

pub(crate) fn parse_allowlist(
    file: &Arc<Path>,
    raw: Spanned<RawAllowlist>,
) -> Result<Located<Allowlist>, InventoryError> {
    let at = Origin::of(file, &raw);
    let raw = raw.value;
    let Some(selector) = raw.pod_selector else {
        return Err(invalid(
            &at,
            "allowlist.pod_selector",
            "missing: the labels of a public node's pods, e.g. `{app.kubernetes.io/instance: \"{{chain_id}}-{{node}}\"}`",
        ));
    };
    let pod_selector = patterns(file, "allowlist.pod_selector", selector, check_label_key)?;
    if pod_selector.value.is_empty() {
        return Err(invalid(
            &pod_selector.at,
            "allowlist.pod_selector",
            "is empty, which would select every pod of the namespace; name the public node's pod labels",
        ));
    }
    let own_pods = match raw.own_pods {
        Some(o) => patterns(file, "allowlist.own_pods", o, check_label_key)?.value,
        None => BTreeMap::new(),
    };
    let port = match raw.port {
        Some(p) => Some(
            p.value
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    invalid(
                        &Origin::of(file, &p),
                        "allowlist.port",
                        format!("{} is not a port from 1 to 65535", p.value),
                    )
                })?,
        ),
        None => None,
    };
    Ok(Located {
        value: Allowlist {
            pod_selector: pod_selector.value,
            own_pods,
            port,
        },
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        for ok in ["5m", "90s", "1h30m", "1y2w3d4h5m6s7ms", "0s", "250ms"] {
            assert_eq!(check_prometheus_duration(ok), Ok(()), "{ok}");
        }
        for bad in ["", "5", "m", "1.5h", "30m1h", "5m5m", "10us", "-5m", " 5m"] {
            assert!(check_prometheus_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prometheus_names() {
        assert!(check_prometheus_name("cometbft").is_ok());
        assert!(check_prometheus_name("_x1").is_ok());
        for bad in ["", "1x", "a-b", "__name__", "a.b"] {
            assert!(check_prometheus_name(bad).is_err(), "{bad}");
        }
    }
}
