//! The `network: stellar` inventory file: its YAML schema and loading it into a
//! [`StellarInventory`]. Everything a single field can get wrong is refused here, with file, line
//! and column.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::inventory::{
    DEFAULT_CONFIGMAP, DEFAULT_NAMESPACE, Organisation, PeerAddress, Quality, StellarInventory,
    StellarInventoryError, Validator, Workload, check_dns_name, check_history_url, check_label,
    check_object_name, check_unique, check_validator_name, expand_pattern, invalid,
};
use super::strkey::{self, PublicKey};
use crate::input::yaml::{self, Bool, Origin, RawWorkload, Spanned};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    version: Option<Spanned<u32>>,
    network: Spanned<String>,
    unsafe_quorum: Option<Spanned<Bool>>,
    namespace: Option<Spanned<String>>,
    configmap: Option<Spanned<String>>,
    workload: Option<Spanned<RawWorkload>>,
    organisations: BTreeMap<String, Spanned<RawOrganisation>>,
    validators: BTreeMap<String, Spanned<RawValidator>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganisation {
    home_domain: Spanned<String>,
    quality: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    organisation: Spanned<String>,
    public_key: Spanned<String>,
    address: Spanned<String>,
    history: Option<Spanned<String>>,
    quality: Option<Spanned<String>>,
    suspended: Option<Spanned<Bool>>,
}

/// Reads an input file, refusing it outright when a secret seed appears anywhere in it: a seed in
/// git is exposed whether or not a field reads it.
pub(crate) fn read(path: &Path) -> Result<(Arc<Path>, String), StellarInventoryError> {
    let text =
        crate::input::file::read_text(path, crate::input::file::TEXT_LIMIT).map_err(|source| {
            StellarInventoryError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let file: Arc<Path> = Arc::from(path);
    if let Some((line, column)) = strkey::find_seed(&text) {
        return Err(StellarInventoryError::Seed {
            at: Origin {
                path: Arc::clone(&file),
                line: line as u64,
                column: column as u64,
            },
        });
    }
    Ok((file, text))
}

/// Loads one `network: stellar` inventory file.
pub(crate) fn load(path: &Path) -> Result<StellarInventory, StellarInventoryError> {
    let (file, text) = read(path)?;
    let raw: RawInventory = yaml::parse(&file, &text)?;
    if let Some(v) = &raw.version
        && v.value != 1
    {
        return Err(invalid(
            &Origin::of(&file, v),
            "version",
            format!(
                "schema version {} is not supported; this peergen reads version 1",
                v.value
            ),
        ));
    }
    if raw.network.value != "stellar" {
        return Err(invalid(
            &Origin::of(&file, &raw.network),
            "network",
            "expected `stellar`",
        ));
    }
    // The seed's ConfigMap name is fixed (`stellar-peers`) and a pod mounts only ConfigMaps of its
    // own namespace, so by default each validator gets a namespace of its own name: the layout in
    // which the defaults cannot collide.
    let namespace = raw
        .namespace
        .as_ref()
        .map_or((Origin::file(&file), DEFAULT_NAMESPACE.to_owned()), |n| {
            (Origin::of(&file, n), n.value.clone())
        });
    let configmap = raw
        .configmap
        .as_ref()
        .map_or((Origin::file(&file), DEFAULT_CONFIGMAP.to_owned()), |c| {
            (Origin::of(&file, c), c.value.clone())
        });
    let workload = match &raw.workload {
        Some(w) => {
            let kind = w
                .value
                .kind
                .as_ref()
                .map_or("StatefulSet", |k| k.value.as_str());
            if !matches!(kind, "StatefulSet" | "Deployment" | "DaemonSet") {
                return Err(invalid(
                    &Origin::of(&file, w),
                    "workload.kind",
                    format!("{kind:?} is not StatefulSet, Deployment or DaemonSet"),
                ));
            }
            Some((
                Origin::of(&file, &w.value.name),
                kind.to_owned(),
                w.value.name.value.clone(),
            ))
        }
        None => None,
    };

    let mut organisations = BTreeMap::new();
    let mut org_quality: BTreeMap<String, Option<(Quality, Origin)>> = BTreeMap::new();
    for (name, o) in &raw.organisations {
        let field = format!("organisations.{name}");
        let home = &o.value.home_domain;
        check_dns_name(&home.value).map_err(|r| {
            invalid(
                &Origin::of(&file, home),
                format!("{field}.home_domain"),
                format!("{:?}: {r}", home.value),
            )
        })?;
        let quality = match &o.value.quality {
            Some(q) => Some((
                Quality::parse(&q.value)
                    .map_err(|m| invalid(&Origin::of(&file, q), format!("{field}.quality"), m))?,
                Origin::of(&file, q),
            )),
            None => None,
        };
        org_quality.insert(name.clone(), quality);
        organisations.insert(
            name.clone(),
            (Origin::of(&file, o), home.value.to_ascii_lowercase()),
        );
    }

    let mut validators = BTreeMap::new();
    let mut validator_quality: BTreeMap<String, Vec<(String, Quality, Origin)>> = BTreeMap::new();
    for (name, v) in &raw.validators {
        let field = format!("validators.{name}");
        let vat = Origin::of(&file, v);
        check_validator_name(name).map_err(|r| invalid(&vat, &field, r))?;
        let r = &v.value;
        let org = &r.organisation.value;
        if !organisations.contains_key(org) {
            let known: Vec<&str> = organisations.keys().map(String::as_str).collect();
            return Err(invalid(
                &Origin::of(&file, &r.organisation),
                format!("{field}.organisation"),
                format!(
                    "{org:?} is not in `organisations:` (known: {})",
                    known.join(", ")
                ),
            ));
        }
        let public_key =
            PublicKey::parse(&r.public_key.value).map_err(|source| StellarInventoryError::Key {
                at: Origin::of(&file, &r.public_key),
                field: format!("{field}.public_key"),
                source,
            })?;
        let address = PeerAddress::parse(&r.address.value).map_err(|m| {
            invalid(
                &Origin::of(&file, &r.address),
                format!("{field}.address"),
                m,
            )
        })?;
        let history = match &r.history {
            Some(h) => {
                check_history_url(&h.value)
                    .map_err(|m| invalid(&Origin::of(&file, h), format!("{field}.history"), m))?;
                Some(h.value.clone())
            }
            None => None,
        };
        if let Some(q) = &r.quality {
            let quality = Quality::parse(&q.value)
                .map_err(|m| invalid(&Origin::of(&file, q), format!("{field}.quality"), m))?;
            if let Some((_, first)) = &org_quality[org] {
                return Err(invalid(
                    &Origin::of(&file, q),
                    format!("{field}.quality"),
                    format!(
                        "quality is set in two places: organisation {org} sets it at {first}; stellar-core refuses QUALITY on both [[HOME_DOMAINS]] and [[VALIDATORS]], so set it once"
                    ),
                ));
            }
            validator_quality.entry(org.clone()).or_default().push((
                name.clone(),
                quality,
                Origin::of(&file, q),
            ));
        }
        let k8s =
            |pattern: &(Origin, String), what: &str, check: fn(&str) -> Result<(), String>| {
                let value =
                    expand_pattern(&pattern.1, name).map_err(|m| invalid(&pattern.0, what, m))?;
                check(&value)
                    .map_err(|m| invalid(&pattern.0, what, format!("for validator {name}: {m}")))?;
                Ok::<_, StellarInventoryError>(value)
            };
        let namespace = Some(k8s(&namespace, "namespace", check_label)?);
        let configmap = k8s(&configmap, "configmap", check_object_name)?;
        let workload = match &workload {
            Some((wat, kind, pattern)) => Some(Workload {
                kind: kind.clone(),
                name: k8s(
                    &(wat.clone(), pattern.clone()),
                    "workload.name",
                    check_object_name,
                )?,
            }),
            None => None,
        };
        validators.insert(
            name.clone(),
            Validator {
                name: name.clone(),
                at: vat,
                organisation: org.clone(),
                public_key,
                address,
                history,
                suspended: r.suspended.as_ref().is_some_and(|s| s.value.0),
                namespace,
                configmap,
                workload,
            },
        );
    }

    let mut orgs = BTreeMap::new();
    for (name, (oat, home_domain)) in organisations {
        let quality = match (&org_quality[&name], validator_quality.get(&name)) {
            (Some((q, _)), _) => *q,
            (None, Some(list)) => {
                let (first_name, q, _) = &list[0];
                if let Some((other, oq, qat)) = list.iter().find(|(_, oq, _)| oq != q) {
                    return Err(invalid(
                        qat,
                        format!("validators.{other}.quality"),
                        format!(
                            "{} differs from validator {first_name}'s {}; all validators of organisation {name} ({home_domain}) must share one quality",
                            oq.as_str(),
                            q.as_str()
                        ),
                    ));
                }
                let members = validators
                    .values()
                    .filter(|v| v.organisation == name)
                    .count();
                if list.len() != members {
                    return Err(invalid(
                        &oat,
                        format!("organisations.{name}.quality"),
                        "some validators of this organisation set `quality` and some do not; set it once, on the organisation",
                    ));
                }
                *q
            }
            (None, None) => {
                return Err(invalid(
                    &oat,
                    format!("organisations.{name}.quality"),
                    "missing: set LOW, MEDIUM, HIGH or CRITICAL (stellar-core needs a quality for every home domain)",
                ));
            }
        };
        orgs.insert(
            name.clone(),
            Organisation {
                name,
                home_domain,
                quality,
                at: oat,
            },
        );
    }
    let inv = StellarInventory {
        sources: vec![file],
        unsafe_quorum: raw.unsafe_quorum.is_some_and(|u| u.value.0),
        organisations: orgs,
        validators,
    };
    check_unique(&inv)?;
    Ok(inv)
}
