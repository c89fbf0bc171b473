//! CometBFT node IDs: the validated 40-hex-character type, and derivation from `node_key.json`.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A CometBFT node ID: hex(sha256(ed25519 node pubkey)[..20]), always lowercase. Held inline
/// (no allocation): plans clone and compare node IDs once per link, millions of times for a
/// large fleet. The bytes are lowercase hex, so their order is the text's.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NodeId([u8; 40]);

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:?})", self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum NodeIdError {
    #[error(
        "{0:?} is not a node ID: expected 40 hexadecimal characters (20 bytes, as printed by `cometbft show-node-id`)"
    )]
    Malformed(String),
}

impl NodeId {
    /// Parses a node ID. Uppercase hex is accepted and normalised: CometBFT compares the dialled ID
    /// with the authenticated lowercase one, so only lowercase may be emitted.
    pub(crate) fn parse(text: &str) -> Result<NodeId, NodeIdError> {
        if text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut id = [0; 40];
            id.copy_from_slice(text.to_ascii_lowercase().as_bytes());
            Ok(NodeId(id))
        } else {
            Err(NodeIdError::Malformed(text.to_owned()))
        }
    }

    pub(crate) fn from_pubkey(pubkey: &[u8]) -> NodeId {
        let digest = Sha256::digest(pubkey);
        let mut id = [0; 40];
        id.copy_from_slice(hex::encode(&digest[..20]).as_bytes());
        NodeId(id)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ever built from ASCII hex digits, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Read back from the snapshot: validated again, like every value from a file.
impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        let text = String::deserialize(d)?;
        NodeId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum NodeKeyError {
    #[error("{path}: cannot read node key: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(serde::Deserialize)]
struct NodeKeyFile {
    priv_key: PrivKey,
}

#[derive(serde::Deserialize)]
struct PrivKey {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// Derives the node ID from a CometBFT `node_key.json`. The file holds a private key, so no error
/// message ever quotes its content.
pub(crate) fn from_node_key_file(path: &Path) -> Result<NodeId, NodeKeyError> {
    let shown = path.display().to_string();
    let text =
        crate::input::file::read_text(path, crate::input::file::KEY_LIMIT).map_err(|source| {
            NodeKeyError::Read {
                path: shown.clone(),
                source,
            }
        })?;
    from_node_key_json(&text).map_err(|message| NodeKeyError::Invalid {
        path: shown,
        message,
    })
}

pub(crate) fn from_node_key_json(text: &str) -> Result<NodeId, String> {
    let file: NodeKeyFile = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a CometBFT node_key.json (expected {{\"priv_key\":{{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"<base64>\"}}}}): {} at line {} column {}",
            classify(&e),
            e.line(),
            e.column()
        )
    })?;
    if file.priv_key.kind != "tendermint/PrivKeyEd25519" {
        return Err(format!(
            "priv_key.type is {:?}; only \"tendermint/PrivKeyEd25519\" node keys are supported",
            file.priv_key.kind
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file.priv_key.value.trim())
        .map_err(|_| "priv_key.value is not valid base64".to_owned())?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "priv_key.value decodes to {} bytes; an ed25519 private key is 64 (seed ‖ public key)",
            b.len()
        )
    })?;
    let (seed, public) = bytes.split_at(32);
    let seed: [u8; 32] = seed.try_into().expect("split_at(32) of 64 bytes");
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    if derived.as_bytes() != public {
        return Err(
            "priv_key.value is inconsistent: its public half does not belong to its seed"
                .to_owned(),
        );
    }
    Ok(NodeId::from_pubkey(public))
}

/// serde_json errors can echo input; report only the category so key material never leaks.
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "JSON syntax error",
        serde_json::error::Category::Data => "unexpected structure",
        serde_json::error::Category::Eof => "unexpected end of file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_reference_vector() {
        let json = r#"{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"EVkqJO/jIXp3rkASXfh9YnyToYXRXhBr6g9cQVxPFnQBP/5povV4HTjvsy530kybxKHwEi85iU8YL0qQhSYVoQ=="}}"#;
        assert_eq!(
            from_node_key_json(json).unwrap().as_str(),
            "a3258dcbf45dca0df052981870f2d1441a36d145"
        );
    }

    #[test]
    fn normalises_uppercase_and_rejects_garbage() {
        assert_eq!(
            NodeId::parse("A3258DCBF45DCA0DF052981870F2D1441A36D145")
                .unwrap()
                .as_str(),
            "a3258dcbf45dca0df052981870f2d1441a36d145"
        );
        assert!(NodeId::parse("a3258dcbf45dca0df052981870f2d1441a36d14").is_err());
        assert!(NodeId::parse("g3258dcbf45dca0df052981870f2d1441a36d145").is_err());
        assert!(NodeId::parse("").is_err());
    }

    #[test]
    fn inconsistent_key_is_rejected_without_echo() {
        let json = r#"{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"AAAAJO/jIXp3rkASXfh9YnyToYXRXhBr6g9cQVxPFnQBP/5povV4HTjvsy530kybxKHwEi85iU8YL0qQhSYVoQ=="}}"#;
        let err = from_node_key_json(json).unwrap_err();
        assert!(err.contains("inconsistent"), "{err}");
        assert!(!err.contains("AAAA"));
    }
}
