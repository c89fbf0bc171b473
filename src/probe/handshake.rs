//! CometBFT's P2P handshake with one peer: SecretConnection (tendermint-p2p's, never our own
//! cryptography) under the run's throw-away key, then the `NodeInfo` exchange. The caller runs it
//! on a thread of its own behind its own deadline (see `run`): tendermint-p2p 0.41.0 can panic on
//! a peer's bytes and keeps I/O errors as text only.

use std::io::{Read, Write};
use std::net::TcpStream;

use prost::Message as _;
use tendermint_p2p::secret_connection::{DATA_MAX_SIZE, PublicKey, SecretConnection, Version};
use tendermint_proto::v0_38::p2p::{DefaultNodeInfo, DefaultNodeInfoOther, ProtocolVersion};

use crate::cosmos::node_id::NodeId;

/// CometBFT refuses a `NodeInfo` larger than this (`maxNodeInfoSize`).
const MAX_NODE_INFO: usize = 10_240;

/// The channels a CometBFT 0.38 full node announces; a peer keeps the connection long enough to
/// send its own `NodeInfo` either way.
const CHANNELS: [u8; 10] = [0x40, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x60, 0x61, 0x00];

/// What the peer proved (its key) and said (its `NodeInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Derived from the authenticated ed25519 key, as CometBFT does.
    pub(crate) node_id: NodeId,
    pub(crate) network: String,
    pub(crate) moniker: String,
    pub(crate) version: String,
}

/// The throw-away identity of one probe run: a fresh ed25519 key, never a node's key.
#[derive(Clone)]
pub(crate) struct ProbeKey([u8; 32]);

impl ProbeKey {
    pub(crate) fn generate() -> ProbeKey {
        ProbeKey(ed25519_consensus::SigningKey::new(rand_core::OsRng).to_bytes())
    }

    fn signing_key(&self) -> ed25519_consensus::SigningKey {
        ed25519_consensus::SigningKey::from(self.0)
    }
}

/// Runs the handshake on a connected stream (its timeouts already set) and reads the peer's
/// `NodeInfo`; `network` is what the probe claims to be on (the planned chain id).
pub(super) fn handshake(stream: TcpStream, key: &ProbeKey, network: &str) -> Result<Seen, String> {
    let signing = key.signing_key();
    let own_id = NodeId::from_pubkey(signing.verification_key().as_bytes());
    let mut conn = SecretConnection::new(stream, signing, Version::V0_34).map_err(|e| {
        // The library's message is the kind only ("io error"); its tracer holds the cause.
        format!(
            "secret connection: {}",
            first_line(&format!("{:#}", e.trace()))
        )
    })?;
    let node_id = match conn.remote_pubkey() {
        PublicKey::Ed25519(pk) => NodeId::from_pubkey(pk.as_bytes()),
    };
    let ours = DefaultNodeInfo {
        protocol_version: Some(ProtocolVersion {
            p2p: 8,
            block: 11,
            app: 0,
        }),
        default_node_id: own_id.to_string(),
        listen_addr: "tcp://0.0.0.0:26656".to_owned(),
        network: network.to_owned(),
        version: "0.38.0".to_owned(),
        channels: CHANNELS.to_vec(),
        moniker: "peergen-probe".to_owned(),
        other: Some(DefaultNodeInfoOther {
            tx_index: "off".to_owned(),
            rpc_address: String::new(),
        }),
    };
    // One frame: small enough that it never waits for the peer to read, which it does while it
    // writes its own (CometBFT sends and reads concurrently).
    conn.write_all(&ours.encode_length_delimited_to_vec())
        .and_then(|()| conn.flush())
        .map_err(|e| format!("sending NodeInfo: {e}"))?;
    let theirs = read_node_info(&mut conn)?;
    if theirs.default_node_id != node_id.as_str() {
        return Err(format!(
            "the peer's NodeInfo names node ID {:?} but its key authenticates {node_id}, which CometBFT refuses",
            theirs.default_node_id
        ));
    }
    Ok(Seen {
        node_id,
        network: theirs.network,
        moniker: theirs.moniker,
        version: theirs.version,
    })
}

/// `uvarint(len) ‖ DefaultNodeInfo`, read in whole frames: a read shorter than the frame being
/// decrypted panics in tendermint-p2p 0.41.0, and a frame never holds more than `DATA_MAX_SIZE`.
fn read_node_info(conn: &mut impl Read) -> Result<DefaultNodeInfo, String> {
    let mut buf = Vec::new();
    loop {
        if let Some((prefix, len)) = length_prefix(&buf)?
            && buf.len() >= prefix + len
        {
            return DefaultNodeInfo::decode(&buf[prefix..prefix + len])
                .map_err(|e| format!("the peer's NodeInfo does not decode: {e}"));
        }
        let mut frame = [0u8; DATA_MAX_SIZE];
        let n = conn
            .read(&mut frame)
            .map_err(|e| format!("reading NodeInfo: {e}"))?;
        if n == 0 {
            return Err("the peer closed the connection before sending its NodeInfo".to_owned());
        }
        buf.extend_from_slice(&frame[..n]);
    }
}

/// The uvarint length prefix: `None` while incomplete, an error when over CometBFT's limit.
fn length_prefix(buf: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let mut len: u64 = 0;
    for (i, b) in buf.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if len > MAX_NODE_INFO as u64 {
                return Err(format!(
                    "the peer announces a NodeInfo of {len} bytes; CometBFT refuses more than {MAX_NODE_INFO}"
                ));
            }
            return Ok(Some((i + 1, len as usize)));
        }
    }
    if buf.len() >= 10 {
        return Err("the peer's NodeInfo length is not a varint".to_owned());
    }
    Ok(None)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixes_are_read_as_uvarints_and_bounded() {
        assert_eq!(length_prefix(&[]), Ok(None));
        assert_eq!(length_prefix(&[0x05, 1, 2]), Ok(Some((1, 5))));
        assert_eq!(length_prefix(&[0x80]), Ok(None));
        assert_eq!(length_prefix(&[0xac, 0x02]), Ok(Some((2, 300))));
        assert!(length_prefix(&[0x81, 0x50]).is_err(), "10 241 bytes");
        assert!(length_prefix(&[0xff; 10]).is_err());
    }
}
