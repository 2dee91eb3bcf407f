//! Transport for nsx-migrate: an async NSX Manager REST client and a `kubectl` reader.
//!
//! * [`NsxClient`]: session (JSESSIONID + X-XSRF-TOKEN) or basic authentication, optional client
//!   certificate; TLS verified by default with system roots, a CA bundle, or a pinned SHA-256
//!   leaf thumbprint; typed NSX errors with retry/stale/not-found classification; bounded
//!   exponential backoff with jitter honouring `Retry-After`; client-wide concurrency and rate
//!   limits; cursor paging for list and search APIs.
//! * [`search_escape`]: a value made into one literal term of a search API query.
//! * [`NsxVersion`]: NSX's dotted version numbers, parsed and compared.
//! * [`CfClient`]: a TAS foundation's Cloud Controller v3 lists, with a UAA token.
//! * [`Kubectl`]: `kubectl get ... -o json` with kubeconfig/context, bounded by a timeout.
//! * [`OpenStackClient`]: Keystone v3 password auth (a cloud from clouds.yaml or `OS_*`,
//!   [`resolve_cloud`]), catalog endpoints, paged Neutron/Octavia lists.
//! * [`NsxvClient`]: NSX-V Manager reads (basic auth or auth token; JSON or XML; edge and
//!   virtual-wire paging). [`VcenterClient`]: vSphere Automation REST session reads.
//!   All three share [`ServiceConfig`]: the same TLS options, retries and limits.
//!
//! It knows nothing about migrations: planner and executor build on it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), client::ClientError> {
//! use client::{Credentials, NsxClient, NsxConfig};
//! let cfg = NsxConfig::new("https://nsx.example", Some(Credentials::new("admin", "secret")));
//! let nsx = NsxClient::new(cfg)?;
//! let version = nsx.node_version().await?;
//! let ports = nsx.search_all("resource_type:LogicalPort").await?;
//! # let _ = (version, ports); Ok(()) }
//! ```

// A library reports through its return values and observers; only the CLI prints.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cf;
mod error;
mod kubectl;
mod nsx;
mod nsxv;
mod openstack;
mod rest;
mod retry;
mod search;
mod secret;
mod tls;
mod vcenter;
mod version;

pub use cf::{CfAuth, CfClient, CfConfig, CfError};
pub use error::{COORDINATOR_BUSY, ClientError, NsxApiError, RelatedError};
pub use kubectl::{KubeResource, Kubectl, KubectlError};
pub use nsx::{
    AuthMode, ClientStats, CoordinatorStatus, NsxClient, NsxConfig, Request, Response,
    parse_base_url,
};
pub use nsxv::{NsxvAuth, NsxvClient, xml_to_json};
pub use openstack::{
    CloudConfig, CloudConfigError, ConfigSearch, DomainRef, OpenStackClient, ProjectScope,
    resolve_cloud,
};
pub use rest::ServiceConfig;
pub use retry::{JitterSource, RateLimiter, RetryPolicy, SeededJitter};
pub use search::search_escape;
pub use secret::{Credentials, CredentialsError, Secret};
pub use tls::{ClientCertificate, TlsOptions, client_config, parse_thumbprint, thumbprint_of};
pub use vcenter::VcenterClient;
pub use version::{NsxVersion, NsxVersionError};

/// Re-exported so callers can build requests without depending on reqwest directly.
pub use reqwest::Method;
