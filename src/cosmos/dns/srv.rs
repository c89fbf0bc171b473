//! SRV discovery: resolving `_service._proto.<validator>-<chain>.<zone>` for DNS-sourced validators
//! over plain UDP (TCP when truncated) into the snapshot's `resolved_endpoints`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::cosmos::dns::owners::{OwnerCollisions, SrvInstance, check_owner_collisions};
use crate::cosmos::inventory::Inventory;
use crate::cosmos::peers::{self, DnsLookup, Plan, PlanErrors, PortSource, Role};
use crate::cosmos::state::{ProviderState, ResolvedEndpoint};
use crate::input::address::Host;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SrvError {
    #[error(transparent)]
    Plan(#[from] PlanErrors),
    #[error("validator {validator}, consumer {consumer_id} ({chain_id}): SRV {query}: {problem}")]
    Lookup {
        validator: String,
        consumer_id: String,
        chain_id: String,
        query: String,
        problem: String,
    },
    #[error(
        "allowlist: host {host}: {problem}; every planned peer needs a locked address (or give its endpoint as an IP address)"
    )]
    Address { host: String, problem: String },
    #[error(transparent)]
    OwnerCollision(#[from] OwnerCollisions),
    #[error("{path}: no nameserver line; pass --nameserver HOST:PORT")]
    NoNameserver { path: String },
    #[error("{path}: {source}")]
    ResolvConf {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: cannot write the snapshot: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Where and how long to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolverConfig {
    pub(crate) nameserver: SocketAddr,
    /// Per attempt; each query is tried twice over UDP.
    pub(crate) timeout: Duration,
}

impl ResolverConfig {
    /// `nameserver` when given, else the first `nameserver` of `/etc/resolv.conf`, port 53.
    pub(crate) fn new(
        nameserver: Option<SocketAddr>,
        timeout: Duration,
    ) -> Result<ResolverConfig, SrvError> {
        if let Some(nameserver) = nameserver {
            return Ok(ResolverConfig {
                nameserver,
                timeout,
            });
        }
        let path = "/etc/resolv.conf";
        let text = std::fs::read_to_string(path).map_err(|source| SrvError::ResolvConf {
            path: path.to_owned(),
            source,
        })?;
        let nameserver = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .next()
            .ok_or_else(|| SrvError::NoNameserver {
                path: path.to_owned(),
            })?;
        Ok(ResolverConfig {
            nameserver,
            timeout,
        })
    }
}

/// Resolves every DNS-sourced validator × consumer it is selected for. All names are looked up
/// before anything is returned, so one unresolvable name fails the whole run.
pub(crate) fn resolve_endpoints(
    inventory: &Inventory,
    state: &ProviderState,
    config: &ResolverConfig,
) -> Result<Vec<ResolvedEndpoint>, SrvError> {
    let lookups = peers::dns_lookups(inventory, state)?;
    // Two pairs on one name would both be handed the same answer; refuse before asking anything.
    check_owner_collisions(lookups.iter().map(|l| SrvInstance {
        validator: l.validator.clone(),
        consumer_id: l.consumer_id.clone(),
        chain_id: l.chain_id.clone(),
        name: l.query.clone(),
    }))?;
    let mut resolved = Vec::with_capacity(lookups.len());
    for l in lookups {
        let (host, port) = lookup(&l.query, config).map_err(|problem| lookup_error(&l, problem))?;
        tracing::info!("{} -> {host}:{port}", l.query);
        resolved.push(ResolvedEndpoint {
            validator: l.validator,
            consumer_id: l.consumer_id,
            node: l.node,
            query: l.query,
            host: Host::Name(host),
            port,
        });
    }
    resolved.sort_by(|a, b| {
        (&a.validator, &a.consumer_id, &a.node).cmp(&(&b.validator, &b.consumer_id, &b.node))
    });
    Ok(resolved)
}

/// Warnings for snapshot `resolved_endpoints` that no DNS-sourced member of `plan` took its
/// endpoint from (the validator left the inventory or the consumer, switched to a
/// `consumer_template`, or the consumer went inactive). Left silent, a stale entry would look
/// like a live peer to whoever reviews the snapshot; `resolve` or `fetch` rewrites the list.
pub(crate) fn unused_resolved(plan: &Plan, state: &ProviderState) -> Vec<String> {
    let used: std::collections::BTreeSet<(&str, &str, Option<&str>)> = plan
        .consumers
        .iter()
        .flat_map(|cp| {
            cp.members
                .iter()
                .filter(|m| matches!(m.port_source, PortSource::Resolved { .. }))
                .map(|m| {
                    let sentry = match &m.role {
                        Role::Sentry(name) => Some(name.as_str()),
                        Role::Public | Role::Validator => None,
                    };
                    (m.validator.as_str(), cp.consumer_id.as_str(), sentry)
                })
        })
        .collect();
    state
        .resolved_endpoints
        .iter()
        .filter(|r| {
            !used.contains(&(
                r.validator.as_str(),
                r.consumer_id.as_str(),
                r.node.as_deref(),
            ))
        })
        .map(|r| {
            let node = r
                .node
                .as_ref()
                .map_or_else(String::new, |n| format!(", sentry {n}"));
            format!(
                "the snapshot's resolved_endpoints entry for validator {}{node}, consumer {} (SRV {} -> {}:{}) is used by no validator and consumer any more; `peergen resolve` drops it",
                r.validator, r.consumer_id, r.query, r.host, r.port
            )
        })
        .collect()
}

fn lookup_error(l: &DnsLookup, problem: String) -> SrvError {
    SrvError::Lookup {
        validator: l.validator.clone(),
        consumer_id: l.consumer_id.clone(),
        chain_id: l.chain_id.clone(),
        query: l.query.clone(),
        problem,
    }
}

/// One SRV lookup: the [`preferred`] answer as a validated host and port.
pub(crate) fn lookup(query: &str, config: &ResolverConfig) -> Result<(String, u16), String> {
    let response = ask(query, RecordType::SRV, config)?;
    let answers: Vec<_> = response
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some((srv.priority, srv.weight, srv.target.to_ascii(), srv.port)),
            _ => None,
        })
        .collect();
    let count = answers.len();
    let (target, port) =
        preferred(answers).ok_or_else(|| "the name exists but has no SRV record".to_owned())?;
    if count > 1 {
        // One node ID cannot stand for several nodes: the other answers are another operator's
        // further public nodes, which need their own IDs (as sentries with `endpoint_source: dns`).
        tracing::warn!(
            "SRV {query} has {count} answers; peergen keeps the preferred one ({}:{port}) for this node's one node ID. If they are separate public nodes, describe them as sentries, each with its node ID and `endpoint_source: dns` (docs/dns.md)",
            target.trim_end_matches('.')
        );
    }
    if target == "." {
        return Err(
            "the SRV target is `.`: the service is decidedly not available there".to_owned(),
        );
    }
    if port == 0 {
        return Err(format!("the SRV record gives port 0 for {target}"));
    }
    match Host::parse(target.strip_suffix('.').unwrap_or(&target)) {
        Ok(Host::Name(host)) => Ok((host, port)),
        Ok(Host::Ip(_)) => Err(format!("SRV target {target} is not a host name")),
        Err(e) => Err(format!("SRV target: {e}")),
    }
}

/// One question to the configured server (UDP, then TCP when truncated): the answer of a NOERROR
/// response, an error naming NXDOMAIN or any other response code.
pub(crate) fn ask(
    query: &str,
    record_type: RecordType,
    config: &ResolverConfig,
) -> Result<Message, String> {
    let name = Name::from_ascii(format!("{query}.")).map_err(|e| format!("not a DNS name: {e}"))?;
    let mut request = Message::query();
    request.metadata.recursion_desired = true;
    request.add_query(Query::query(name, record_type));
    let bytes = request
        .to_vec()
        .map_err(|e| format!("cannot encode query: {e}"))?;
    let id = request.metadata.id;
    let mut response = exchange_udp(&bytes, id, config)?;
    if response.metadata.truncation {
        response = exchange_tcp(&bytes, id, config)?;
    }
    match response.metadata.response_code {
        ResponseCode::NoError => Ok(response),
        ResponseCode::NXDomain => Err("no such name (NXDOMAIN)".to_owned()),
        code => Err(format!("the nameserver answered {code}")),
    }
}

/// The one answer kept from `(priority, weight, target, port)` records: the lowest priority, then
/// the highest weight, then the smallest target (lowercased: names are case-insensitive and
/// servers may echo any case) and port.
///
/// RFC 2782 clients choose randomly among equal priorities in proportion to weight, but a
/// CometBFT peer entry (`persistent_peers`) takes one `node_id@host:port` per node, and the
/// snapshot must not change between two lookups of unchanged records (it would show up as churn in
/// review). So weight only ranks here, and ties are broken by the record itself, never by the
/// order the server happened to send.
fn preferred(answers: impl IntoIterator<Item = (u16, u16, String, u16)>) -> Option<(String, u16)> {
    answers
        .into_iter()
        .map(|(priority, weight, target, port)| {
            (
                priority,
                std::cmp::Reverse(weight),
                target.to_ascii_lowercase(),
                port,
            )
        })
        .min()
        .map(|(_, _, target, port)| (target, port))
}

fn exchange_udp(bytes: &[u8], id: u16, config: &ResolverConfig) -> Result<Message, String> {
    let bind: SocketAddr = if config.nameserver.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    socket
        .connect(config.nameserver)
        .and_then(|()| socket.set_read_timeout(Some(config.timeout)))
        .map_err(|e| format!("{}: {e}", config.nameserver))?;
    let mut buf = vec![0u8; 65_535];
    let mut last = String::new();
    for _attempt in 0..2 {
        socket
            .send(bytes)
            .map_err(|e| format!("{}: {e}", config.nameserver))?;
        // Stray datagrams (late answers to an earlier attempt) are skipped by id.
        loop {
            match socket.recv(&mut buf) {
                Ok(n) => match decode(&buf[..n], id) {
                    Some(m) => return Ok(m),
                    None => continue,
                },
                Err(e) => {
                    last = format!(
                        "no answer from {} within {:?} ({e})",
                        config.nameserver, config.timeout
                    );
                    break;
                }
            }
        }
    }
    Err(last)
}

fn exchange_tcp(bytes: &[u8], id: u16, config: &ResolverConfig) -> Result<Message, String> {
    let io = |e: std::io::Error| format!("{} over TCP: {e}", config.nameserver);
    let mut stream = TcpStream::connect_timeout(&config.nameserver, config.timeout).map_err(io)?;
    stream.set_read_timeout(Some(config.timeout)).map_err(io)?;
    stream.set_write_timeout(Some(config.timeout)).map_err(io)?;
    let len = u16::try_from(bytes.len()).map_err(|_| "query too long".to_owned())?;
    stream
        .write_all(&len.to_be_bytes())
        .and_then(|()| stream.write_all(bytes))
        .map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).map_err(io)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).map_err(io)?;
    decode(&buf, id).ok_or_else(|| {
        format!(
            "{} over TCP: the answer does not match the query",
            config.nameserver
        )
    })
}

fn decode(bytes: &[u8], id: u16) -> Option<Message> {
    Message::from_vec(bytes)
        .ok()
        .filter(|m| m.metadata.id == id && m.metadata.message_type == MessageType::Response)
}

/// Replaces the snapshot at `path` with `state` by a rename, so a failed write leaves the old one.
pub(crate) fn write_snapshot(
    path: &std::path::Path,
    state: &ProviderState,
) -> Result<(), SrvError> {
    crate::output::tree::replace_file(path, state.to_json().as_bytes()).map_err(|source| {
        SrvError::Write {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::SRV;

    fn answer(request: &Message, records: &[(u16, u16, u16, &str)]) -> Message {
        let mut m = Message::response(request.metadata.id, OpCode::Query);
        m.add_queries(request.queries.clone());
        for (priority, weight, port, target) in records {
            let srv = SRV::new(*priority, *weight, *port, Name::from_ascii(target).unwrap());
            m.add_answer(Record::from_rdata(
                request.queries[0].name().clone(),
                60,
                RData::SRV(srv),
            ));
        }
        m
    }

    #[test]
    fn preferred_answer_is_stable_whatever_the_order() {
        let records = [
            (1, 100, "a.example.com.", 1),
            (0, 5, "a.example.com.", 2),
            (0, 9, "z.example.com.", 3),
            (0, 9, "B.example.com.", 5),
            (0, 9, "b.example.com.", 4),
        ];
        let owned = |rs: &[(u16, u16, &str, u16)]| -> Vec<(u16, u16, String, u16)> {
            rs.iter()
                .map(|(p, w, t, port)| (*p, *w, (*t).to_owned(), *port))
                .collect()
        };
        let want = Some(("b.example.com.".to_owned(), 4));
        assert_eq!(preferred(owned(&records)), want);
        let mut reversed = records;
        reversed.reverse();
        assert_eq!(preferred(owned(&reversed)), want);
        // Priority outranks weight.
        assert_eq!(
            preferred(owned(&records[..2])),
            Some(("a.example.com.".to_owned(), 2))
        );
        assert_eq!(preferred(Vec::new()), None);
    }

    /// A server that only says "truncated" over UDP and answers in full over TCP on the same port.
    #[test]
    fn falls_back_to_tcp_when_truncated_and_picks_the_preferred_record() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let udp = UdpSocket::bind(addr).unwrap();
        let records = [
            (10, 0, 1111, "backup.example.com."),
            (0, 5, 2222, "b.example.com."),
            (0, 9, 3333, "A.Example.com."),
        ];
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, peer) = udp.recv_from(&mut buf).unwrap();
            let request = Message::from_vec(&buf[..n]).unwrap();
            let mut truncated = answer(&request, &[]);
            truncated.metadata.truncation = true;
            udp.send_to(&truncated.to_vec().unwrap(), peer).unwrap();
            let (mut stream, _) = tcp.accept().unwrap();
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut body).unwrap();
            let full = answer(&Message::from_vec(&body).unwrap(), &records)
                .to_vec()
                .unwrap();
            stream
                .write_all(&u16::try_from(full.len()).unwrap().to_be_bytes())
                .unwrap();
            stream.write_all(&full).unwrap();
        });
        let config = ResolverConfig {
            nameserver: addr,
            timeout: Duration::from_secs(2),
        };
        let got = lookup("_cosmos-p2p._tcp.alice-pion-1.validators.zone", &config);
        server.join().unwrap();
        assert_eq!(got, Ok(("a.example.com".to_owned(), 3333)));
    }

    #[test]
    fn refuses_unusable_answers() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for records in [vec![(0, 0, 26656, ".")], vec![]] {
                let (n, peer) = udp.recv_from(&mut buf).unwrap();
                let request = Message::from_vec(&buf[..n]).unwrap();
                udp.send_to(&answer(&request, &records).to_vec().unwrap(), peer)
                    .unwrap();
            }
        });
        let config = ResolverConfig {
            nameserver: addr,
            timeout: Duration::from_secs(2),
        };
        let dot = lookup("_x._tcp.a.example.com", &config).unwrap_err();
        let empty = lookup("_x._tcp.a.example.com", &config).unwrap_err();
        server.join().unwrap();
        assert!(dot.contains("decidedly not available"), "{dot}");
        assert!(empty.contains("has no SRV record"), "{empty}");
    }
}
