//! The HTTP client for a Cosmos REST (gRPC-gateway) endpoint: timeouts, retries with capped
//! exponential backoff and jitter, gateway error messages, `next_key` pagination, and credentials
//! that never appear in URLs shown to people.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use serde::de::DeserializeOwned;

use super::url::{redact, split_base_url, url_encode};
use crate::input::printable::printable;
use crate::retry::Backoff;

/// Response bodies larger than this are refused; a full validator page is a few hundred kB.
const BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// A provider's `Retry-After` is honoured up to this; a longer wait is better spent failing the run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Pages of one list before giving up: 10,000 pages of 100 is far beyond any real validator or
/// consumer list, so a provider still returning fresh `next_key`s is broken, not long.
const MAX_PAGES: usize = 10_000;

/// The gRPC-gateway header that makes the node answer at this height instead of the latest one.
const HEIGHT_HEADER: &str = "x-cosmos-block-height";

#[derive(Debug, thiserror::Error)]
pub(crate) enum RestError {
    #[error("{url}: {reason} (gave up after {attempts} attempts)")]
    Transport {
        url: String,
        reason: String,
        attempts: u32,
    },
    #[error("{url}: HTTP {status} (gave up after {attempts} attempts): {message}")]
    Server {
        url: String,
        status: u16,
        message: String,
        attempts: u32,
    },
    #[error("{url}: HTTP {status}: {message}")]
    Client {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: the response is not the expected JSON: {message}")]
    Decode { url: String, message: String },
    #[error("{url}: pagination loop: next_key {key:?} was already returned by an earlier page")]
    PaginationLoop { url: String, key: String },
    #[error(
        "{url}: page {page} is empty but still returns next_key {key:?}; the provider's pagination does not advance"
    )]
    EmptyPage {
        url: String,
        page: usize,
        key: String,
    },
    #[error(
        "{url}: still returns a next_key after {pages} pages; the provider's pagination does not end"
    )]
    TooManyPages { url: String, pages: usize },
    /// The message never quotes the URL as given: it may hold credentials anywhere.
    #[error("{message}")]
    BadUrl { message: String },
}

impl RestError {
    /// The HTTP status the provider answered with, if the failure is an HTTP status.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            RestError::Server { status, .. } | RestError::Client { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub(crate) enum Auth {
    Bearer(String),
    /// `user:password`.
    Basic(String),
}

/// Redacted, so a config logged with `{:?}` cannot carry the secret.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Basic(_) => f.write_str("Basic(***)"),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RetryPolicy {
    /// Further attempts after the first one.
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
}

#[derive(Clone, Debug)]
pub(crate) struct ClientConfig {
    pub(crate) base_url: String,
    pub(crate) auth: Option<Auth>,
    pub(crate) connect_timeout: Duration,
    /// Whole-request limit: connect, send, and read the complete body.
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

#[derive(Clone)]
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
    retry: RetryPolicy,
    /// Sent as `x-cosmos-block-height` so every answer describes the same block.
    height: Option<u64>,
    max_pages: usize,
    body_limit: u64,
}

/// One page of a `pagination.next_key` list.
pub(crate) trait Page {
    fn is_empty(&self) -> bool;
    fn next_key(&self) -> Option<&str>;
}

enum Attempt {
    Done(String),
    Retry {
        reason: String,
        status: Option<(u16, String)>,
        /// The wait the provider asked for with `Retry-After`.
        after: Option<Duration>,
    },
    Fail(RestError),
}

impl Client {
    pub(crate) fn new(config: ClientConfig) -> Result<Client, RestError> {
        let (base, userinfo) = split_base_url(&config.base_url)?;
        let auth = match (config.auth, userinfo) {
            (Some(_), Some(_)) => {
                return Err(RestError::BadUrl {
                    message: format!(
                        "provider URL {base}: has credentials in the URL and in provider.auth; keep one"
                    ),
                });
            }
            (auth, userinfo) => auth.or(userinfo.map(Auth::Basic)),
        };
        let authorization = auth.map(|a| match a {
            Auth::Bearer(token) => format!("Bearer {token}"),
            Auth::Basic(pair) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ),
        });
        let agent = agent_config(config.connect_timeout, config.timeout)
            .build()
            .new_agent();
        Ok(Client {
            agent,
            base,
            authorization,
            retry: config.retry,
            height: None,
            max_pages: MAX_PAGES,
            body_limit: BODY_LIMIT,
        })
    }

    /// The same client, asking the provider to answer every query at `height`.
    pub(crate) fn at_height(&self, height: u64) -> Client {
        Client {
            height: Some(height),
            ..self.clone()
        }
    }

    /// The same client, refusing response bodies over `limit` bytes.
    pub(crate) fn with_body_limit(self, limit: u64) -> Client {
        Client {
            body_limit: limit,
            ..self
        }
    }

    /// The URL of `path` as shown in logs and errors: never with credentials.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, RestError> {
        let text = self.get_text(path)?;
        decode(&self.url(path), &text)
    }

    /// Follows `pagination.next_key` until the provider reports no further page. `query` is the
    /// fixed part of the query string. A repeated key, an empty page that still names a next key,
    /// or more than `max_pages` pages fail: each would otherwise loop without end.
    pub(crate) fn get_pages<P: DeserializeOwned + Page>(
        &self,
        path: &str,
        query: &str,
    ) -> Result<Vec<P>, RestError> {
        let mut pages = Vec::new();
        let mut seen = BTreeSet::new();
        let mut key: Option<String> = None;
        loop {
            let mut target = format!("{path}?{query}");
            if let Some(k) = &key {
                target.push_str("&pagination.key=");
                target.push_str(&url_encode(k));
            }
            let page: P = self.get_json(&target)?;
            let next = page.next_key().filter(|k| !k.is_empty()).map(str::to_owned);
            let empty = page.is_empty();
            pages.push(page);
            match next {
                None => return Ok(pages),
                Some(k) => {
                    if !seen.insert(k.clone()) {
                        return Err(RestError::PaginationLoop {
                            url: self.url(path),
                            key: k,
                        });
                    }
                    if empty {
                        return Err(RestError::EmptyPage {
                            url: self.url(path),
                            page: pages.len(),
                            key: k,
                        });
                    }
                    if pages.len() >= self.max_pages {
                        return Err(RestError::TooManyPages {
                            url: self.url(path),
                            pages: pages.len(),
                        });
                    }
                    tracing::debug!("{}: page {} has a next page", self.url(path), pages.len());
                    key = Some(k);
                }
            }
        }
    }

    pub(crate) fn get_text(&self, path: &str) -> Result<String, RestError> {
        let url = self.url(path);
        let attempts = self.retry.retries + 1;
        let mut attempt = 1;
        loop {
            tracing::debug!("GET {url}");
            let (reason, status, after) = match self.attempt(&url) {
                Attempt::Done(text) => return Ok(text),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry {
                    reason,
                    status,
                    after,
                } => (reason, status, after),
            };
            if attempt == attempts {
                return Err(match status {
                    Some((status, message)) => RestError::Server {
                        url,
                        status,
                        message,
                        attempts,
                    },
                    None => RestError::Transport {
                        url,
                        reason,
                        attempts,
                    },
                });
            }
            let wait = self
                .retry
                .backoff
                .delay(attempt - 1)
                .max(after.unwrap_or_default().min(MAX_RETRY_AFTER));
            tracing::warn!(
                "GET {url}: {reason}; retry {attempt}/{} in {} ms",
                self.retry.retries,
                wait.as_millis()
            );
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn attempt(&self, url: &str) -> Attempt {
        let mut request = self.agent.get(url).header("Accept", "application/json");
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        if let Some(height) = self.height {
            request = request.header(HEIGHT_HEADER, height.to_string());
        }
        let mut response = match request.call() {
            Ok(r) => r,
            Err(e) => return classify_transport(url, e),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(redact);
        let encoding = response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .map(printable);
        let bytes = match response
            .body_mut()
            .with_config()
            .limit(self.body_limit)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(e) => return classify_transport(url, e),
        };
        // A body that is not UTF-8 (gzip sent although peergen asks for none, or a binary answer)
        // is the server speaking another protocol: asking again gets the same bytes.
        let body = match String::from_utf8(bytes) {
            Ok(b) => b,
            Err(_) => {
                return Attempt::Fail(RestError::Decode {
                    url: url.to_owned(),
                    message: match encoding {
                        Some(e) => format!(
                            "HTTP {status}: the body is {e}-encoded; peergen asks for no content encoding and reads plain JSON, so the server or a proxy in between ignores Accept-Encoding"
                        ),
                        None => format!(
                            "HTTP {status}: the body is not UTF-8 text, so not a JSON answer"
                        ),
                    },
                });
            }
        };
        match status {
            200..=299 => Attempt::Done(body),
            // 501 is the gateway saying a query does not exist: permanent, and how legacy providers are told apart.
            429 | 500 | 502..=599 => {
                let message = provider_message(&body);
                Attempt::Retry {
                    reason: format!("HTTP {status}: {message}"),
                    status: Some((status, message)),
                    after: retry_after,
                }
            }
            300..=399 => Attempt::Fail(RestError::Client {
                url: url.to_owned(),
                status,
                message: format!(
                    "redirects to {}; peergen follows no redirects: give the final address",
                    location.as_deref().unwrap_or("(no Location header)")
                ),
            }),
            _ => Attempt::Fail(RestError::Client {
                url: url.to_owned(),
                status,
                message: provider_message(&body),
            }),
        }
    }
}

fn classify_transport(url: &str, e: ureq::Error) -> Attempt {
    match e {
        ureq::Error::Timeout(t) => Attempt::Retry {
            reason: format!("timed out ({t})"),
            status: None,
            after: None,
        },
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            Attempt::Retry {
                reason: format!("connection error: {e}"),
                status: None,
                after: None,
            }
        }
        // Asking again gets the same body.
        ureq::Error::BodyExceedsLimit(limit) => Attempt::Fail(RestError::Transport {
            url: url.to_owned(),
            reason: format!("the response body is larger than the {limit}-byte limit"),
            attempts: 1,
        }),
        other => Attempt::Fail(RestError::Transport {
            url: url.to_owned(),
            reason: other.to_string(),
            attempts: 1,
        }),
    }
}

/// The one HTTP client set-up of every server peergen reads or writes (the provider, etcd):
/// statuses as values, its time limits, and no redirects, since following one would drop the
/// credentials or carry them elsewhere (a redirect is reported instead).
pub(crate) fn agent_config(
    connect_timeout: Duration,
    timeout: Duration,
) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(connect_timeout))
        .timeout_global(Some(timeout))
        .user_agent(concat!("peergen/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        .max_redirects_will_error(false)
}

pub(crate) fn decode<T: DeserializeOwned>(url: &str, text: &str) -> Result<T, RestError> {
    serde_json::from_str(text).map_err(|e| RestError::Decode {
        url: url.to_owned(),
        message: e.to_string(),
    })
}

/// The gateway's error text (`{"code":3,"message":"…"}`), else the start of the body; control
/// characters escaped, since the text goes to a terminal or CI log and the provider chose it.
fn provider_message(body: &str) -> String {
    printable(&raw_provider_message(body)).replace('\n', "\\n")
}

fn raw_provider_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct GatewayError {
        message: Option<String>,
        error: Option<String>,
    }
    if let Ok(e) = serde_json::from_str::<GatewayError>(body)
        && let Some(m) = e.message.or(e.error)
    {
        return m;
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "(empty response body)".to_owned();
    }
    let mut short: String = trimmed.chars().take(200).collect();
    if short.len() < trimmed.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_debug_hides_the_secret() {
        let shown = format!("{:?}", Auth::Bearer("s3cret".to_owned()));
        assert_eq!(shown, "Bearer(***)");
    }

    fn client(url: &str) -> Client {
        Client::new(ClientConfig {
            base_url: url.to_owned(),
            auth: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                retries: 0,
                backoff: Backoff {
                    initial: Duration::from_millis(1),
                    max: Duration::from_millis(1),
                },
            },
        })
        .unwrap()
    }

    #[derive(Debug, serde::Deserialize)]
    struct TestPage {
        items: Vec<u32>,
        next_key: Option<String>,
    }

    impl Page for TestPage {
        fn is_empty(&self) -> bool {
            self.items.is_empty()
        }
        fn next_key(&self) -> Option<&str> {
            self.next_key.as_deref()
        }
    }

    #[test]
    fn endless_pagination_stops_at_the_page_cap() {
        let mut server = mockito::Server::new();
        let served = std::sync::atomic::AtomicUsize::new(0);
        // Every page holds an item and names a key never seen before, so only the cap ends it.
        let mock = server
            .mock("GET", "/list")
            .match_query(mockito::Matcher::Any)
            .with_body_from_request(move |_| {
                let n = served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!(r#"{{"items":[{n}],"next_key":"k{n}"}}"#).into_bytes()
            })
            .expect(3)
            .create();
        let mut c = client(&server.url());
        c.max_pages = 3;
        let e = c.get_pages::<TestPage>("/list", "limit=1").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}/list: still returns a next_key after 3 pages; the provider's pagination does not end",
                server.url()
            )
        );
        mock.assert();
        assert_eq!(MAX_PAGES, client(&server.url()).max_pages);
    }

    #[test]
    fn gateway_message_is_extracted() {
        assert_eq!(
            provider_message(r#"{"code":3,"message":"unknown consumer chain","details":[]}"#),
            "unknown consumer chain"
        );
        assert_eq!(provider_message("  "), "(empty response body)");
        assert_eq!(provider_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(
            provider_message(r#"{"message":"\u001b[2Jgone\r\nline"}"#),
            r"\u{1b}[2Jgone\r\nline"
        );
        assert_eq!(provider_message("<html>\n\u{7}"), r"<html>\n\u{7}");
    }
}
