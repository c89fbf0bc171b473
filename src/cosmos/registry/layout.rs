//! The registry's key layout and value format, the one place both are defined:
//! `<prefix>/<provider chain id>/<operator address>/<consumer id>/<node>` → JSON
//! `{"node_id", "address", "updated"}`. The operator address comes before the consumer so that each
//! validator's keys are one etcd key range, which an etcd RBAC role can grant it alone.

use serde::{Deserialize, Serialize};

use crate::cosmos::node_id::NodeId;
use crate::input::address::Endpoint;

/// A value larger than this is refused on read and never written: a real entry is about 150 bytes.
const VALUE_LIMIT: usize = 1024;

/// A key longer than this is refused: the longest real key is well under 200 bytes.
const KEY_LIMIT: usize = 512;

/// `<prefix>/<chain>/`: everything `fetch` reads.
pub(crate) fn chain_prefix(prefix: &str, chain_id: &str) -> String {
    format!("{prefix}/{chain_id}/")
}

/// `<prefix>/<chain>/<operator>/`: every key of one validator, and nothing else.
pub(crate) fn validator_prefix(prefix: &str, chain_id: &str, operator: &str) -> String {
    format!("{prefix}/{chain_id}/{operator}/")
}

pub(crate) fn key(validator_prefix: &str, consumer_id: &str, node: &str) -> String {
    format!("{validator_prefix}{consumer_id}/{node}")
}

/// A key below a chain prefix, split into its parts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) operator_address: String,
    pub(crate) consumer_id: String,
    pub(crate) node: String,
}

pub(crate) fn parse_key(chain_prefix: &str, key: &str) -> Result<Key, String> {
    if key.len() > KEY_LIMIT {
        return Err(format!("the key is longer than {KEY_LIMIT} bytes"));
    }
    let rest = key
        .strip_prefix(chain_prefix)
        .ok_or_else(|| format!("the key is not below {chain_prefix}"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [operator, consumer_id, node] = parts[..] else {
        return Err(format!(
            "the key is not {chain_prefix}<operator address>/<consumer id>/<node>"
        ));
    };
    crate::input::name::check_operator_address(operator)?;
    check_segment(consumer_id).map_err(|m| format!("consumer id: {m}"))?;
    crate::input::name::check_label(node)
        .map_err(|m| format!("node {node:?}: {m}; node names are DNS labels"))?;
    Ok(Key {
        operator_address: operator.to_owned(),
        consumer_id: consumer_id.to_owned(),
        node: node.to_owned(),
    })
}

/// A consumer id as the provider assigns them.
pub(crate) fn check_segment(text: &str) -> Result<(), String> {
    let ok = !text.is_empty()
        && text != "."
        && text != ".."
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a consumer id: letters, digits, '-', '_' or '.', at most 64, not `.` or `..`"
        ))
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawValue {
    node_id: String,
    address: String,
    updated: String,
}

/// One registry value, validated like an inventory value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Value {
    pub(crate) node_id: NodeId,
    pub(crate) address: Endpoint,
    /// Seconds since the epoch, from `updated`.
    pub(crate) updated: u64,
}

pub(crate) fn parse_value(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > VALUE_LIMIT {
        return Err(format!(
            "the value is {} bytes, over the {VALUE_LIMIT}-byte limit",
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the value is not UTF-8".to_owned())?;
    let raw: RawValue = serde_json::from_str(text).map_err(|e| {
        format!(
            "the value is not {{\"node_id\", \"address\", \"updated\"}} JSON: {}",
            e.to_string().split(" at line ").next().unwrap_or_default()
        )
    })?;
    // No trimming, no case folding beyond NodeId's: a value must already be what peergen writes.
    if raw.node_id.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "node_id {:?} is not lowercase, as CometBFT prints and dials node IDs",
            raw.node_id
        ));
    }
    let node_id = NodeId::parse(&raw.node_id).map_err(|e| format!("node_id: {e}"))?;
    let address = Endpoint::parse(&raw.address).map_err(|e| format!("address: {e}"))?;
    let updated = crate::cosmos::date::parse_rfc3339(&raw.updated).ok_or_else(|| {
        format!(
            "updated {:?} is not a UTC time such as 2026-11-21T00:00:00Z",
            raw.updated
        )
    })?;
    Ok(Value {
        node_id,
        address,
        updated,
    })
}

/// The bytes `publish` writes for a node.
pub(crate) fn encode_value(node_id: &NodeId, address: &Endpoint, updated: &str) -> String {
    serde_json::to_string(&RawValue {
        node_id: node_id.to_string(),
        address: address.to_string(),
        updated: updated.to_owned(),
    })
    .expect("strings always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OP: &str = "cosmosvaloper19vfen9jn3uk3e6rrkt3pxansunujnlm40wpdvg";

    #[test]
    fn keys_round_trip_and_stay_below_their_validator() {
        let vp = validator_prefix("peergen", "cosmoshub-4", OP);
        let k = key(&vp, "0", "sentry-a");
        assert_eq!(k, format!("peergen/cosmoshub-4/{OP}/0/sentry-a"));
        assert!(k.starts_with(&chain_prefix("peergen", "cosmoshub-4")));
        assert_eq!(
            parse_key("peergen/cosmoshub-4/", &k),
            Ok(Key {
                operator_address: OP.to_owned(),
                consumer_id: "0".to_owned(),
                node: "sentry-a".to_owned()
            })
        );
        for bad in [
            format!("peergen/cosmoshub-4/{OP}/0"),
            format!("peergen/cosmoshub-4/{OP}/0/a/b"),
            format!("peergen/cosmoshub-4/{OP}/0/Sentry"),
            format!("peergen/cosmoshub-4/{OP}/0/a\nb"),
            format!("peergen/cosmoshub-4/{OP}/../a"),
            "peergen/cosmoshub-4/cosmosvaloper1xyz/0/validator".to_owned(),
            format!("peergen/cosmoshub-4/{OP}/0/{}", "a".repeat(600)),
        ] {
            assert!(parse_key("peergen/cosmoshub-4/", &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_validated_strictly() {
        let id = NodeId::parse(&"ab".repeat(20)).unwrap();
        let ep = Endpoint::parse("alice.example.org:26656").unwrap();
        let text = encode_value(&id, &ep, "2026-11-21T00:00:00Z");
        assert_eq!(
            parse_value(text.as_bytes()).unwrap(),
            Value {
                node_id: id,
                address: ep,
                updated: 1_795_219_200
            }
        );
        let good = r#""node_id":"abababababababababababababababababababab","updated":"2026-11-21T00:00:00Z""#;
        for bad in [
            format!(r#"{{{good},"address":"a b:1"}}"#),
            format!(r#"{{{good},"address":"0.0.0.0:26656"}}"#),
            format!(r#"{{{good},"address":"x.org:26656\n[p2p]"}}"#),
            format!(r#"{{{good},"address":"2001:470::1:26656"}}"#),
            format!(r#"{{{good},"address":"x.org"}}"#),
            format!(r#"{{{good},"address":"x.org:1","extra":1}}"#),
            r#"{"node_id":"ABABABABABABABABABABABABABABABABABABABAB","address":"x.org:1","updated":"2026-11-21T00:00:00Z"}"#.to_owned(),
            r#"{"node_id":"abab","address":"x.org:1","updated":"2026-11-21T00:00:00Z"}"#.to_owned(),
            r#"{"node_id":"abababababababababababababababababababab","address":"x.org:1","updated":"yesterday"}"#.to_owned(),
            "not json".to_owned(),
            format!(r#"{{{good},"address":"{}.org:1"}}"#, "a".repeat(2000)),
        ] {
            assert!(parse_value(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse_value(&[0xff, 0xfe]).is_err());
    }
}
