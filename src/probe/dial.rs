//! Reaching one planned address: resolve the host (a literal IP needs no lookup), then TCP connect
//! to what it resolved to, within the probe's deadline. What was resolved and the open stream are
//! left in a shared slot, so the caller can report them and cut the connection when time is up.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::scope::Address;
use super::verdict::Verdict;

/// The step a probe is in, for the timeout verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Resolving,
    Connecting,
    Handshake,
}

impl Step {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Step::Resolving => "resolving the host",
            Step::Connecting => "connecting",
            Step::Handshake => "the handshake",
        }
    }
}

/// What the probe thread has found so far; read by the waiting side at the deadline.
pub(super) struct Progress {
    pub(super) step: Step,
    pub(super) resolved: Vec<IpAddr>,
    /// A clone of the connected stream, shut down when the deadline passes.
    pub(super) stream: Option<TcpStream>,
}

pub(super) type Shared = Arc<Mutex<Progress>>;

pub(super) fn shared() -> Shared {
    Arc::new(Mutex::new(Progress {
        step: Step::Resolving,
        resolved: Vec::new(),
        stream: None,
    }))
}

pub(super) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Progress> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Resolves and connects; the stream's read and write timeouts end at `deadline`.
pub(super) fn connect(
    address: &Address,
    deadline: Instant,
    shared: &Shared,
) -> Result<TcpStream, Verdict> {
    let addrs: Vec<SocketAddr> = match address.ip() {
        Some(ip) => vec![SocketAddr::new(ip, address.port)],
        None => (address.host.as_str(), address.port)
            .to_socket_addrs()
            .map_err(|e| Verdict::DnsFailure(format!("{}: {e}", address.host)))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Verdict::DnsFailure(format!(
            "{} has no A or AAAA record",
            address.host
        )));
    }
    {
        let mut p = lock(shared);
        p.resolved = addrs.iter().map(SocketAddr::ip).collect();
        p.step = Step::Connecting;
    }
    let mut errors = Vec::new();
    for addr in &addrs {
        let left = remaining(deadline).ok_or_else(|| timeout(Step::Connecting))?;
        match TcpStream::connect_timeout(addr, left) {
            Ok(stream) => {
                let left = remaining(deadline).ok_or_else(|| timeout(Step::Connecting))?;
                let set = stream
                    .set_read_timeout(Some(left))
                    .and_then(|()| stream.set_write_timeout(Some(left)))
                    .and_then(|()| stream.set_nodelay(true));
                if let Err(e) = set {
                    return Err(Verdict::Refused(format!("{addr}: {e}")));
                }
                let mut p = lock(shared);
                p.stream = stream.try_clone().ok();
                p.step = Step::Handshake;
                return Ok(stream);
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => errors.push((addr, e, true)),
            Err(e) => errors.push((addr, e, false)),
        }
    }
    let text = errors
        .iter()
        .map(|(addr, e, _)| format!("{addr}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    if errors.iter().all(|(_, _, timed_out)| *timed_out) {
        Err(Verdict::Timeout(format!("connecting: {text}")))
    } else {
        Err(Verdict::Refused(text))
    }
}

pub(super) fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

pub(super) fn timeout(step: Step) -> Verdict {
    Verdict::Timeout(format!("no answer within the timeout ({})", step.as_str()))
}
