//! Consumer endpoint templates (`alice-{{chain-id}}.example.com:{{port}}`, `host-*.elb…`, `ip:{A-B}`),
//! parsed once at load and expanded per consumer into a validated [`Endpoint`].

use std::fmt;

use crate::input::address::{self, AddressError, Endpoint, Host};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String),
    ChainId,
    ConsumerId,
    Validator,
}

/// Where the port of an endpoint comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TemplatePort {
    /// No port, or `{{port}}`: the consumer's port.
    Consumer,
    Fixed(u16),
    /// `{A-B}`: allocated per consumer from this validator's range.
    Range(PortRange),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PortRange {
    pub(crate) first: u16,
    pub(crate) last: u16,
}

impl PortRange {
    pub(crate) fn parse(text: &str) -> Result<PortRange, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a port range FIRST-LAST"))?;
        if a.trim().is_empty() {
            return Err(format!(
                "{text:?} is neither a port nor a range: ports are numbers from 1 to 65535 (a range is FIRST-LAST)"
            ));
        }
        let first = address::parse_port(a.trim()).map_err(|e| e.to_string())?;
        let last = address::parse_port(b.trim()).map_err(|e| e.to_string())?;
        if first > last {
            return Err(format!("port range {text:?} is empty: {first} > {last}"));
        }
        Ok(PortRange { first, last })
    }

    pub(crate) fn size(self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointTemplate {
    source: String,
    bracketed: bool,
    host: Vec<Piece>,
    pub(crate) port: TemplatePort,
}

/// Values substituted into a template.
pub(crate) struct Vars<'a> {
    pub(crate) chain_id: &'a str,
    pub(crate) consumer_id: &'a str,
    pub(crate) validator: &'a str,
}

impl EndpointTemplate {
    pub(crate) fn parse(text: &str) -> Result<EndpointTemplate, String> {
        let text = text.trim();
        let (host_part, port_part) = address::split_host_port(text).map_err(|e| match e {
            AddressError::UnbracketedIpv6(_) => {
                "IPv6 hosts must be bracketed: [2001:470::1]:{{port}}".to_owned()
            }
            other => other.to_string(),
        })?;
        let bracketed = text.starts_with('[');
        let port = match port_part.map(str::trim) {
            None => TemplatePort::Consumer,
            Some(p) if is_var(p, &["port"]) => TemplatePort::Consumer,
            Some(p) if p.starts_with('{') && p.ends_with('}') && !p.starts_with("{{") => {
                TemplatePort::Range(PortRange::parse(&p[1..p.len() - 1])?)
            }
            Some(p) => TemplatePort::Fixed(address::parse_port(p).map_err(|e| e.to_string())?),
        };
        let host = parse_host_pieces(host_part)?;
        let template = EndpointTemplate {
            source: text.to_owned(),
            bracketed,
            host,
            port,
        };
        if template.host.iter().all(|p| matches!(p, Piece::Literal(_))) {
            template
                .expand_host(&Vars {
                    chain_id: "x",
                    consumer_id: "0",
                    validator: "x",
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(template)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    pub(crate) fn expand_host(&self, vars: &Vars<'_>) -> Result<Host, AddressError> {
        let mut host = String::new();
        for piece in &self.host {
            match piece {
                Piece::Literal(s) => host.push_str(s),
                Piece::ChainId => host.push_str(vars.chain_id),
                Piece::ConsumerId => host.push_str(vars.consumer_id),
                Piece::Validator => host.push_str(vars.validator),
            }
        }
        if self.bracketed {
            let ip = host
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| AddressError::Malformed(format!("[{host}]")))?;
            Host::from_ip(std::net::IpAddr::V6(ip))
        } else {
            Host::parse(&host)
        }
    }

    pub(crate) fn expand(&self, vars: &Vars<'_>, port: u16) -> Result<Endpoint, AddressError> {
        Ok(Endpoint {
            host: self.expand_host(vars)?,
            port,
        })
    }
}

fn is_var(text: &str, names: &[&str]) -> bool {
    text.strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .is_some_and(|inner| names.contains(&inner.trim()))
}

fn parse_host_pieces(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed `{{{{` in {text:?}"))?;
            let piece = match after[..end].trim() {
                "chain-id" | "chain_id" => Piece::ChainId,
                "consumer_id" | "consumer-id" => Piece::ConsumerId,
                "validator" => Piece::Validator,
                "port" => {
                    return Err("`{{port}}` belongs after the colon: HOST:{{port}}".to_owned());
                }
                other => {
                    return Err(format!(
                        "unknown variable `{{{{{other}}}}}`; known: {{{{chain-id}}}}, {{{{chain_id}}}}, {{{{consumer_id}}}}, {{{{validator}}}}, {{{{port}}}}"
                    ));
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
            rest = &after[end + 2..];
        } else {
            let c = rest.chars().next().expect("non-empty");
            match c {
                '*' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::ChainId);
                }
                c if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':') => literal.push(c),
                other => {
                    return Err(format!(
                        "character {other:?} cannot appear in a host; use letters, digits, '-', '.', '*' and {{{{variables}}}}"
                    ));
                }
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    if pieces.is_empty() {
        return Err("the host is empty".to_owned());
    }
    Ok(pieces)
}

/// `rpc_template`: where a validator's own node answers CometBFT RPC, a host template like
/// `consumer_template` with a port of its own (fixed, or a `{FIRST-LAST}` range spread over
/// consumers): the consumer's P2P port strategy does not apply to RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RpcTemplate {
    template: EndpointTemplate,
    port: RpcPort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RpcPort {
    Fixed(u16),
    Range(PortRange),
}

impl RpcTemplate {
    pub(crate) fn parse(text: &str) -> Result<RpcTemplate, String> {
        let template = EndpointTemplate::parse(text)?;
        let port = match template.port {
            TemplatePort::Fixed(p) => RpcPort::Fixed(p),
            TemplatePort::Range(r) => RpcPort::Range(r),
            TemplatePort::Consumer => {
                return Err(format!(
                    "{:?} has no RPC port; write it, e.g. `alice-{{{{chain_id}}}}.internal:26657`",
                    template.as_str()
                ));
            }
        };
        Ok(RpcTemplate { template, port })
    }

    pub(crate) fn as_str(&self) -> &str {
        self.template.as_str()
    }

    /// The RPC address on one consumer.
    pub(crate) fn expand(&self, vars: &Vars<'_>) -> Result<Endpoint, AddressError> {
        let port = match self.port {
            RpcPort::Fixed(p) => p,
            RpcPort::Range(r) => crate::cosmos::peers::port::range_port(r, vars.consumer_id),
        };
        self.template.expand(vars, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            chain_id: "pion-1",
            consumer_id: "0",
            validator: "alice",
        }
    }

    #[test]
    fn seed_forms() {
        let t = EndpointTemplate::parse("alice-{{chain-id}}.validators.com:{{port}}").unwrap();
        assert_eq!(t.port, TemplatePort::Consumer);
        assert_eq!(
            t.expand(&vars(), 29536).unwrap().to_string(),
            "alice-pion-1.validators.com:29536"
        );
        let t =
            EndpointTemplate::parse("alice-consumer-*.us-east-1.elb.amazonaws.com:26656").unwrap();
        assert_eq!(t.port, TemplatePort::Fixed(26656));
        assert_eq!(
            t.expand_host(&vars()).unwrap().to_string(),
            "alice-consumer-pion-1.us-east-1.elb.amazonaws.com"
        );
        let t = EndpointTemplate::parse("203.0.113.10:{26700-26799}").unwrap();
        assert_eq!(
            t.port,
            TemplatePort::Range(PortRange {
                first: 26700,
                last: 26799
            })
        );
        let t = EndpointTemplate::parse("consumer-*.bob.example.org").unwrap();
        assert_eq!(t.port, TemplatePort::Consumer);
        let t =
            EndpointTemplate::parse("{{validator}}-{{ chain_id }}-{{consumer_id}}.x.io").unwrap();
        assert_eq!(
            t.expand_host(&vars()).unwrap().to_string(),
            "alice-pion-1-0.x.io"
        );
        let t = EndpointTemplate::parse("[2001:470::5]:{{port}}").unwrap();
        assert_eq!(t.expand(&vars(), 1).unwrap().to_string(), "[2001:470::5]:1");
    }

    #[test]
    fn bad_templates() {
        for bad in [
            "{{port}}.x.com:1",
            "{{chainid}}.x.com",
            "a b.com:1",
            "x.com:{26799-26700}",
            "x.com:0",
            "2001:470::1:26656",
            "0.0.0.0:{{port}}",
            "x.com:{{port",
            "{{chain-id.x.com",
            "a\"b.com",
        ] {
            assert!(EndpointTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
