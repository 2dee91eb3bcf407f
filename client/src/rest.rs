//! The HTTP transport shared by the OpenStack, NSX-V and vCenter clients: TLS from
//! [`TlsOptions`] (system roots, CA bundle, pinned thumbprint), a client-wide concurrency and
//! rate limit, and bounded retries of transient answers. Authentication is each client's own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::{ClientError, NsxApiError};
use crate::retry::{RateLimiter, RetryPolicy};
use crate::tls::{self, TlsOptions};

/// Connection settings of a REST service client ([`crate::OpenStackClient`],
/// [`crate::NsxvClient`], [`crate::VcenterClient`]).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub tls: TlsOptions,
    pub retry: RetryPolicy,
    /// Requests in flight at once from this client.
    pub max_concurrency: usize,
    /// Request starts per second; `None` = unpaced.
    pub rate_limit: Option<f64>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Upper bound on the pages one paged list reads.
    pub max_pages: usize,
    /// Objects asked for per page (`limit`, `pageSize`).
    pub page_size: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            tls: TlsOptions::default(),
            retry: RetryPolicy::default(),
            max_concurrency: 10,
            rate_limit: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(180),
            max_pages: 10_000,
            page_size: 1000,
        }
    }
}

/// A successful or failed HTTP exchange, before interpretation.
#[derive(Debug)]
pub(crate) struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    /// The answer as an API error (status >= 400), naming method and path.
    pub fn api_error(&self, method: &Method, path: &str) -> ClientError {
        ClientError::Api(Box::new(NsxApiError::from_body(
            method.as_str(),
            path,
            self.status,
            &self.body,
        )))
    }

    /// The body as JSON (`Null` when empty).
    pub fn json(&self, method: &Method, path: &str) -> Result<Value, ClientError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| ClientError::Decode {
            method: method.to_string(),
            path: path.to_string(),
            message: format!("invalid JSON body: {e}"),
        })
    }

    pub fn text(&self, method: &Method, path: &str) -> Result<String, ClientError> {
        String::from_utf8(self.body.clone()).map_err(|_| ClientError::Decode {
            method: method.to_string(),
            path: path.to_string(),
            message: "the body is not UTF-8 text".into(),
        })
    }
}

/// One request to send. `path` (no query, no credentials) is what messages name.
pub(crate) struct Call {
    pub method: Method,
    pub url: Url,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    /// Username and password for HTTP basic authentication.
    pub basic: Option<(String, crate::Secret)>,
}

impl Call {
    pub fn new(method: Method, url: Url) -> Self {
        let path = url.path().to_string();
        Self {
            method,
            url,
            path,
            headers: HeaderMap::new(),
            body: None,
            basic: None,
        }
    }

    fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        )
    }
}

pub(crate) struct Transport {
    http: reqwest::Client,
    permits: Semaphore,
    rate: Option<RateLimiter>,
    pub cfg: ServiceConfig,
    sent: AtomicU64,
}

impl Transport {
    pub fn new(cfg: ServiceConfig) -> Result<Self, ClientError> {
        if cfg.max_concurrency == 0 {
            return Err(ClientError::Config("concurrency must be at least 1".into()));
        }
        if cfg.max_pages == 0 || cfg.page_size == 0 {
            return Err(ClientError::Config(
                "max_pages and page_size must be at least 1".into(),
            ));
        }
        let rate = match cfg.rate_limit {
            None => None,
            Some(r) => Some(RateLimiter::new(r).ok_or_else(|| {
                ClientError::Config(format!(
                    "rate limit must be a positive number of requests per second, got {r}"
                ))
            })?),
        };
        let tls_config = tls::client_config(&cfg.tls)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config)
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .pool_max_idle_per_host(cfg.max_concurrency)
            .user_agent(concat!("nsx-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            permits: Semaphore::new(cfg.max_concurrency),
            rate,
            cfg,
            sent: AtomicU64::new(0),
        })
    }

    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn transport_error(&self, call: &Call, e: reqwest::Error) -> ClientError {
        let origin = call.url.origin().ascii_serialization();
        let url = format!("{origin}{}", call.path);
        if let Some(msg) = tls::find_tls_error(&e) {
            return ClientError::Tls {
                url: origin,
                message: msg,
                hint: tls::hint(&self.cfg.tls),
            };
        }
        if e.is_timeout() {
            return ClientError::Timeout {
                method: call.method.to_string(),
                url,
                timeout: self.cfg.timeout,
            };
        }
        let mut parts = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(s) = cur {
            parts.push(s.to_string());
            cur = s.source();
        }
        let (is_connect, is_sent) = (
            e.is_connect(),
            e.is_request() || e.is_body() || e.is_decode(),
        );
        let message = if parts.is_empty() {
            e.without_url().to_string()
        } else {
            parts.join(": ")
        };
        if is_connect || is_sent {
            ClientError::Connect {
                method: call.method.to_string(),
                url,
                message,
                may_have_reached_server: !is_connect,
            }
        } else {
            ClientError::Transport {
                method: call.method.to_string(),
                url,
                message,
            }
        }
    }

    async fn once(&self, call: &Call) -> Result<Raw, ClientError> {
        let mut rb = self
            .http
            .request(call.method.clone(), call.url.clone())
            .headers(call.headers.clone())
            .timeout(self.cfg.timeout);
        if let Some((user, password)) = &call.basic {
            rb = rb.basic_auth(user, Some(password.expose()));
        }
        if let Some(b) = &call.body {
            rb = rb.body(b.clone());
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ClientError::Config("client is shut down".into()))?;
        if let Some(r) = &self.rate {
            r.acquire().await;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let resp = rb.send().await.map_err(|e| self.transport_error(call, e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(call, e))?
            .to_vec();
        Ok(Raw {
            status,
            headers,
            body,
        })
    }

    /// Send with the retry policy: 429, 502, 503 and 504 are retried (honouring `Retry-After`),
    /// and so are connection failures (any request when the connection was never made, an
    /// idempotent one otherwise). Any other answer, error status included, is returned as is.
    pub async fn send(&self, call: &Call) -> Result<Raw, ClientError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (err, retry_after) = match self.once(call).await {
                Ok(raw) if matches!(raw.status, 429 | 502 | 503 | 504) => {
                    let ra = retry_after(&raw.headers);
                    (raw.api_error(&call.method, &call.path), ra)
                }
                Ok(raw) => return Ok(raw),
                Err(e) => {
                    let retriable = match &e {
                        ClientError::Connect {
                            may_have_reached_server: false,
                            ..
                        } => true,
                        ClientError::Connect { .. } | ClientError::Timeout { .. } => {
                            call.idempotent()
                        }
                        _ => false,
                    };
                    if !retriable {
                        return Err(e);
                    }
                    (e, None)
                }
            };
            match self
                .cfg
                .retry
                .next_delay(attempt, started.elapsed(), retry_after)
            {
                Some(d) => {
                    tracing::debug!(
                        method = %call.method,
                        path = call.path,
                        attempt,
                        delay_ms = d.as_millis() as u64,
                        "retrying request"
                    );
                    tokio::time::sleep(d).await;
                }
                None if attempt > 1 => {
                    return Err(ClientError::RetriesExhausted {
                        attempts: attempt,
                        elapsed: started.elapsed(),
                        last: Box::new(err),
                    });
                }
                None => return Err(err),
            }
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Parse a service's base URL: http(s), a host, no credentials, no query.
pub(crate) fn parse_service_url(what: &str, raw: &str) -> Result<Url, ClientError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ClientError::Config(format!("the {what} URL is empty")));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| ClientError::Config(format!("invalid {what} URL '{with_scheme}': {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::Config(format!(
            "the {what} URL must not contain credentials"
        )));
    }
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ClientError::Config(format!(
            "the {what} URL must be http(s)://host[:port][/path]"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Config(format!(
            "the {what} URL must not carry a query or fragment"
        )));
    }
    Ok(url)
}

/// `base` joined with an absolute API path (which may carry a query string). A path segment the
/// base already ends with is not repeated (`http://h/v2.0` + `/v2.0/ports`).
pub(crate) fn join(base: &Url, path_and_query: &str) -> Result<Url, ClientError> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let base_path = base.path().trim_end_matches('/');
    let rel = path.trim_start_matches('/');
    let last = base_path.rsplit('/').next().unwrap_or("");
    let rel = match rel.split_once('/') {
        Some((first, rest)) if !last.is_empty() && first == last => rest,
        _ if !last.is_empty() && rel == last => "",
        _ => rel,
    };
    let mut url = base.clone();
    url.set_path(&format!("{base_path}/{rel}"));
    url.set_query(query);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_without_repeating_the_version() {
        let b = Url::parse("http://127.0.0.1:9696/").unwrap();
        assert_eq!(
            join(&b, "/v2.0/ports?limit=2").unwrap().as_str(),
            "http://127.0.0.1:9696/v2.0/ports?limit=2"
        );
        let b = Url::parse("http://127.0.0.1:9696/v2.0").unwrap();
        assert_eq!(
            join(&b, "/v2.0/ports").unwrap().as_str(),
            "http://127.0.0.1:9696/v2.0/ports"
        );
        let b = Url::parse("https://h/load-balancer/").unwrap();
        assert_eq!(
            join(&b, "/v2/lbaas/pools").unwrap().as_str(),
            "https://h/load-balancer/v2/lbaas/pools"
        );
    }

    #[test]
    fn service_urls() {
        assert!(parse_service_url("vCenter", "https://u:p@h").is_err());
        assert!(parse_service_url("vCenter", "").is_err());
        assert_eq!(
            parse_service_url("vCenter", "vc.example").unwrap().as_str(),
            "https://vc.example/"
        );
    }
}
