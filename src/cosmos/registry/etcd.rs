//! A small etcd v3 client over etcd's JSON gRPC gateway (`/v3/kv/range`, `/v3/kv/txn`,
//! `/v3/lease/grant`, `/v3/auth/authenticate`; keys and values base64) on the same ureq client the
//! provider queries use: TLS with a private CA and client certificates, user/password tokens,
//! endpoints tried in order, retries by the shared backoff.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::input::printable::printable;
use crate::retry::Backoff;

/// A whole-prefix read of a large fleet is a few MB; anything near this is not a registry.
const BODY_LIMIT: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum EtcdError {
    #[error(
        "etcd {endpoints}: unreachable ({reason}; gave up after {attempts} attempts over every endpoint)"
    )]
    Unreachable {
        endpoints: String,
        reason: String,
        attempts: u32,
    },
    #[error(
        "etcd {endpoint}: authentication failed: {message}; check registry.username and the password it names"
    )]
    Auth { endpoint: String, message: String },
    #[error(
        "etcd {endpoint}: permission denied: {message}; the user's role does not grant this key range (docs/registry.md has the RBAC roles)"
    )]
    Permission { endpoint: String, message: String },
    #[error(
        "etcd {endpoint}: revision {revision} has been compacted; read the current revision (drop --registry-revision)"
    )]
    Compacted { endpoint: String, revision: u64 },
    #[error("etcd {endpoint}: revision {revision} is in the future of this cluster")]
    FutureRevision { endpoint: String, revision: u64 },
    #[error("etcd {endpoint}{path}: HTTP {status}: {message}")]
    Server {
        endpoint: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("etcd {endpoint}{path}: the answer is not the expected JSON: {message}")]
    Decode {
        endpoint: String,
        path: String,
        message: String,
    },
    #[error("{}: registry TLS: {message}", path.display())]
    Tls { path: PathBuf, message: String },
    #[error("registry password: {0}")]
    Password(String),
}

/// How to reach the cluster.
pub(crate) struct EtcdConfig {
    pub(crate) endpoints: Vec<String>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
    /// User and password, the password already read from its file or variable.
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    /// Further attempts (over all endpoints) after the first.
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
}

pub(crate) struct Etcd {
    agent: ureq::Agent,
    endpoints: Vec<String>,
    token: Option<String>,
    retries: u32,
    backoff: Backoff,
}

/// One key-value pair as etcd returns it.
#[derive(Debug)]
pub(crate) struct Kv {
    /// Keys peergen reads are its own layout: text. Anything else is reported, not decoded.
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
    pub(crate) mod_revision: u64,
}

/// A range read: every pair at one revision.
#[derive(Debug)]
pub(crate) struct Range {
    pub(crate) revision: u64,
    pub(crate) kvs: Vec<Kv>,
}

/// One compare of a transaction.
pub(crate) enum Compare {
    /// Every key in `[prefix, prefix_end)` was last modified before `revision`.
    RangeModifiedBefore { prefix: String, revision: u64 },
    /// The key exists with exactly this `mod_revision`.
    ModRevision { key: String, revision: u64 },
}

/// One operation of a transaction.
pub(crate) enum Op {
    Put {
        key: String,
        value: String,
        lease: Option<i64>,
    },
    Delete {
        key: String,
    },
}

impl Op {
    pub(crate) fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(default, deserialize_with = "de_u64")]
    revision: u64,
}

#[derive(Deserialize)]
struct RawRange {
    header: Header,
    #[serde(default)]
    kvs: Vec<RawKv>,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct RawKv {
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default, deserialize_with = "de_u64")]
    mod_revision: u64,
}

/// The gateway writes int64 fields as JSON strings.
fn de_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        S(String),
        N(u64),
    }
    match N::deserialize(d)? {
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
        N::N(n) => Ok(n),
    }
}

/// The end of the range of keys starting with `prefix`: the prefix with its last byte incremented.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

enum Failure {
    /// Worth another endpoint or a later attempt.
    Transient(String),
    Fatal(EtcdError),
}

fn read_file(path: &Path) -> Result<Vec<u8>, EtcdError> {
    std::fs::read(path).map_err(|e| EtcdError::Tls {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn tls_config(config: &EtcdConfig) -> Result<ureq::tls::TlsConfig, EtcdError> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(ca) = &config.ca_file {
        let pem = read_file(ca)?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(EtcdError::Tls {
                path: ca.clone(),
                message: "holds no PEM certificate".to_owned(),
            });
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    if let Some((cert, key)) = &config.client_cert {
        let pem = read_file(cert)?;
        let chain: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if chain.is_empty() {
            return Err(EtcdError::Tls {
                path: cert.clone(),
                message: "holds no PEM certificate".to_owned(),
            });
        }
        // The key's bytes never reach an error message: only that it could not be read as a key.
        let key_pem = read_file(key)?;
        let private = ureq::tls::PrivateKey::from_pem(&key_pem).map_err(|_| EtcdError::Tls {
            path: key.clone(),
            message: "holds no PEM private key".to_owned(),
        })?;
        check_client_cert(&chain, &key_pem).map_err(|message| EtcdError::Tls {
            path: cert.clone(),
            message,
        })?;
        tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, private)));
    }
    Ok(tls.build())
}

/// ureq builds its rustls configuration with `expect`, so a certificate rustls refuses (an X.509
/// v1 certificate, a key of another certificate) would abort the run; the same rustls check is
/// made here first, as an error naming the file.
fn check_client_cert(
    chain: &[ureq::tls::Certificate<'static>],
    key_pem: &[u8],
) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|_| "the key file holds no PEM private key".to_owned())?;
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_client_auth_cert(chain, key)
    .map(drop)
    .map_err(|e| format!("the client certificate and key are not usable: {e}"))
}

impl Etcd {
    /// A client for `config`; with credentials, it authenticates once (against the first endpoint
    /// that answers) and sends the token with every request.
    pub(crate) fn connect(config: &EtcdConfig) -> Result<Etcd, EtcdError> {
        let agent =
            crate::cosmos::fetch::http::agent_config(config.connect_timeout, config.timeout)
                .tls_config(tls_config(config)?)
                .build()
                .new_agent();
        let mut etcd = Etcd {
            agent,
            endpoints: config.endpoints.clone(),
            token: None,
            retries: config.retries,
            backoff: config.backoff,
        };
        if let Some((name, password)) = &config.credentials {
            let answer = etcd.post(
                "/v3/auth/authenticate",
                &json!({"name": name, "password": password}),
            )?;
            let token = answer
                .get("token")
                .and_then(Json::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| EtcdError::Auth {
                    endpoint: etcd.endpoints.join(", "),
                    message: "the cluster answered without a token (is auth enabled?)".to_owned(),
                })?;
            etcd.token = Some(token.to_owned());
        }
        Ok(etcd)
    }

    /// Every key starting with `prefix`, in one linearizable read (at `revision`, when given).
    pub(crate) fn range_prefix(
        &self,
        prefix: &str,
        revision: Option<u64>,
    ) -> Result<Range, EtcdError> {
        let mut body = json!({
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
        });
        if let Some(r) = revision {
            body["revision"] = Json::String(r.to_string());
        }
        let answer = self.post("/v3/kv/range", &body)?;
        let decode = |message: String| EtcdError::Decode {
            endpoint: self.endpoints.join(", "),
            path: "/v3/kv/range".to_owned(),
            message,
        };
        let raw: RawRange = serde_json::from_value(answer).map_err(|e| decode(e.to_string()))?;
        if raw.more {
            return Err(decode(
                "the answer is partial (`more`); peergen reads a prefix in one response".to_owned(),
            ));
        }
        let mut kvs = Vec::with_capacity(raw.kvs.len());
        for kv in raw.kvs {
            let key = B64
                .decode(&kv.key)
                .map_err(|e| decode(format!("key is not base64: {e}")))?;
            let key = String::from_utf8(key).map_err(|e| {
                decode(format!(
                    "key {:?} is not UTF-8",
                    String::from_utf8_lossy(e.as_bytes())
                ))
            })?;
            let value = B64
                .decode(&kv.value)
                .map_err(|e| decode(format!("value of {key:?} is not base64: {e}")))?;
            kvs.push(Kv {
                key,
                value,
                mod_revision: kv.mod_revision,
            });
        }
        Ok(Range {
            revision: raw.header.revision,
            kvs,
        })
    }

    /// One transaction: `ops` applied if every compare holds. `Ok(false)` when one did not.
    pub(crate) fn txn(&self, compares: &[Compare], ops: &[Op]) -> Result<bool, EtcdError> {
        let compare: Vec<Json> = compares
            .iter()
            .map(|c| match c {
                Compare::RangeModifiedBefore { prefix, revision } => json!({
                    "target": "MOD",
                    "result": "LESS",
                    "key": B64.encode(prefix),
                    "range_end": B64.encode(prefix_end(prefix)),
                    "mod_revision": revision.to_string(),
                }),
                Compare::ModRevision { key, revision } => json!({
                    "target": "MOD",
                    "result": "EQUAL",
                    "key": B64.encode(key),
                    "mod_revision": revision.to_string(),
                }),
            })
            .collect();
        let success: Vec<Json> = ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value, lease } => {
                    let mut put = json!({"key": B64.encode(key), "value": B64.encode(value)});
                    if let Some(id) = lease {
                        put["lease"] = Json::String(id.to_string());
                    }
                    json!({ "request_put": put })
                }
                Op::Delete { key } => json!({"request_delete_range": {"key": B64.encode(key)}}),
            })
            .collect();
        let answer = self.post(
            "/v3/kv/txn",
            &json!({"compare": compare, "success": success, "failure": []}),
        )?;
        Ok(answer
            .get("succeeded")
            .and_then(Json::as_bool)
            .unwrap_or(false))
    }

    /// A lease of `ttl`; keys put with it disappear when it expires.
    pub(crate) fn grant_lease(&self, ttl: Duration) -> Result<i64, EtcdError> {
        let answer = self.post(
            "/v3/lease/grant",
            &json!({"TTL": ttl.as_secs().to_string()}),
        )?;
        answer
            .get("ID")
            .and_then(|id| match id {
                Json::String(s) => s.parse().ok(),
                other => other.as_i64(),
            })
            .ok_or_else(|| EtcdError::Decode {
                endpoint: self.endpoints.join(", "),
                path: "/v3/lease/grant".to_owned(),
                message: "no lease ID".to_owned(),
            })
    }

    /// POSTs `body` to each endpoint in turn until one answers; transient failures (connection,
    /// timeout, 5xx, etcd's "no leader" and "leader changed") are retried after a backoff.
    fn post(&self, path: &str, body: &Json) -> Result<Json, EtcdError> {
        let attempts = self.retries + 1;
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                let wait = self.backoff.delay(attempt - 1);
                tracing::warn!(
                    "etcd {path}: {last}; retry {attempt}/{} in {} ms",
                    self.retries,
                    wait.as_millis()
                );
                std::thread::sleep(wait);
            }
            for endpoint in &self.endpoints {
                match self.attempt(endpoint, path, body) {
                    Ok(answer) => return Ok(answer),
                    Err(Failure::Fatal(e)) => return Err(e),
                    Err(Failure::Transient(reason)) => {
                        tracing::debug!("etcd {endpoint}{path}: {reason}");
                        last = format!("{endpoint}: {reason}");
                    }
                }
            }
        }
        Err(EtcdError::Unreachable {
            endpoints: self.endpoints.join(", "),
            reason: last,
            attempts,
        })
    }

    fn attempt(&self, endpoint: &str, path: &str, body: &Json) -> Result<Json, Failure> {
        let mut request = self
            .agent
            .post(format!("{endpoint}{path}"))
            .header("Content-Type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("Authorization", token);
        }
        let mut response = request
            .send(body.to_string())
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let json: Option<Json> = serde_json::from_str(&text).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| {
                Failure::Fatal(EtcdError::Decode {
                    endpoint: endpoint.to_owned(),
                    path: path.to_owned(),
                    message: printable(&text.chars().take(200).collect::<String>()),
                })
            });
        }
        let message = json
            .as_ref()
            .and_then(|j| j.get("message").or_else(|| j.get("error")))
            .and_then(Json::as_str)
            .map_or_else(|| text.chars().take(200).collect::<String>(), str::to_owned);
        let code = json
            .as_ref()
            .and_then(|j| j.get("code"))
            .and_then(Json::as_u64);
        let message = printable(message.trim());
        Err(classify(endpoint, path, status, code, message, body))
    }
}

/// gRPC codes as the gateway reports them: 14 Unavailable (no leader, leader changed, stopping)
/// is transient, 16 Unauthenticated and 3 with an auth message mean bad credentials, 7 is RBAC.
fn classify(
    endpoint: &str,
    path: &str,
    status: u16,
    code: Option<u64>,
    message: String,
    body: &Json,
) -> Failure {
    let endpoint = endpoint.to_owned();
    let requested = || {
        body.get("revision")
            .and_then(Json::as_str)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    };
    if message.starts_with("CommonName of client") {
        return Failure::Fatal(EtcdError::Server {
            endpoint,
            path: path.to_owned(),
            status,
            message: format!(
                "{message}: with auth on, etcd's JSON gateway refuses client certificates that carry a Common Name; issue registry.cert_file without one (docs/registry.md)"
            ),
        });
    }
    if status >= 500 || code == Some(14) {
        return Failure::Transient(format!("HTTP {status}: {message}"));
    }
    if code == Some(16)
        || message.contains("authentication failed")
        || message.contains("invalid auth token")
        || message.contains("user name is empty")
    {
        return Failure::Fatal(EtcdError::Auth { endpoint, message });
    }
    if code == Some(7) || message.contains("permission denied") {
        return Failure::Fatal(EtcdError::Permission { endpoint, message });
    }
    if message.contains("has been compacted") {
        return Failure::Fatal(EtcdError::Compacted {
            endpoint,
            revision: requested(),
        });
    }
    if message.contains("future revision") {
        return Failure::Fatal(EtcdError::FutureRevision {
            endpoint,
            revision: requested(),
        });
    }
    Failure::Fatal(EtcdError::Server {
        endpoint,
        path: path.to_owned(),
        status,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_after_every_key_with_the_prefix() {
        assert_eq!(prefix_end("a/"), b"a0".to_vec());
        assert_eq!(prefix_end("peergen/x/"), b"peergen/x0".to_vec());
    }
}
