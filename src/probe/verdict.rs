//! What one planned peer turned out to be: a verdict from a fixed set, so reports, metrics and
//! alerts name the same few outcomes.

use crate::cosmos::node_id::NodeId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Reached; on Cosmos also authenticated as the planned node ID on the planned network.
    Ok,
    IdMismatch {
        expected: NodeId,
        seen: NodeId,
    },
    WrongNetwork {
        expected: String,
        seen: String,
    },
    Refused(String),
    /// The probe's own deadline passed; says in which step.
    Timeout(String),
    DnsFailure(String),
    HandshakeFailed(String),
}

impl Verdict {
    /// Every verdict's name, in the order reports count them.
    pub(crate) const NAMES: [&'static str; 7] = [
        "ok",
        "id-mismatch",
        "wrong-network",
        "refused",
        "timeout",
        "dns-failure",
        "handshake-failed",
    ];

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::IdMismatch { .. } => "id-mismatch",
            Verdict::WrongNetwork { .. } => "wrong-network",
            Verdict::Refused(_) => "refused",
            Verdict::Timeout(_) => "timeout",
            Verdict::DnsFailure(_) => "dns-failure",
            Verdict::HandshakeFailed(_) => "handshake-failed",
        }
    }

    pub(crate) fn is_ok(&self) -> bool {
        *self == Verdict::Ok
    }

    /// One line saying what was seen; empty for `ok`.
    pub(crate) fn detail(&self) -> String {
        match self {
            Verdict::Ok => String::new(),
            Verdict::IdMismatch { expected, seen } => {
                format!("expected node ID {expected}, the peer authenticated as {seen}")
            }
            Verdict::WrongNetwork { expected, seen } => {
                format!("expected network {expected:?}, the peer is on {seen:?}")
            }
            Verdict::Refused(why)
            | Verdict::Timeout(why)
            | Verdict::DnsFailure(why)
            | Verdict::HandshakeFailed(why) => why.clone(),
        }
    }
}
