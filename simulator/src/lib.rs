//! A loopback NSX Manager / Policy / migration-coordinator simulator (and, later, a Kubernetes API
//! subset) with deterministic fault injection.
//!
//! It is a second, independent implementation of the NSX behaviour our client relies on, so that
//! end-to-end tests and `nsx-migrate demo` have something faithful to talk to. It shares no code
//! with the planner or executor.
//!
//! ```no_run
//! # async fn demo() -> Result<(), simulator::SimError> {
//! let handle = simulator::Simulator::start(simulator::SimConfig::default()).await?;
//! println!("{}", handle.base_url());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

// A library: nothing on stdout or stderr (the `sim` CLI front end prints; here, tracing).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod api;
mod cf;
mod conn;
mod coordinator;
mod faults;
mod firewall;
pub mod generate;
pub mod inventory;
pub mod k8s;
mod k8s_api;
mod manager;
mod policy;
mod principal;
mod search;
mod server;
mod state;
pub mod store;
mod tls;
mod util;
pub mod vio;

/// Helpers the simulator's own integration tests check directly; not an interface.
#[doc(hidden)]
pub mod internals {
    pub use crate::principal::pem_certificate_der;
    pub use crate::search::{eval, parse};
    pub use crate::util::{SplitMix64, base64_decode, base64_encode, glob_match, parse_form};
    pub use crate::vio::replay::{Cidr, name_and_uuid};
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use generate::{GenerateSpec, GenerateSummary, generate};
pub use server::SimHandle;

/// Default demo credentials (documented; used when the caller passes none).
pub const DEFAULT_USERNAME: &str = "admin";
pub const DEFAULT_PASSWORD: &str = "VMware1!VMware1!";
/// Bearer token the simulated Kubernetes API requires (written into `SimHandle::kubeconfig`).
pub const DEFAULT_K8S_TOKEN: &str = "nsx-migrate-sim-k8s-token";
/// NSX version reported when the inventory metadata does not name one.
pub const DEFAULT_NSX_VERSION: &str = "3.2.1.2.0.19283847";

/// Errors starting or loading the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{}{}: {message}", file.display(), if pointer.is_empty() { String::new() } else { format!(" at {pointer}") })]
    Inventory {
        file: PathBuf,
        pointer: String,
        message: String,
    },
    #[error(
        "refusing to listen on non-loopback address {0}: the simulator only binds 127.0.0.0/8 or ::1"
    )]
    NonLoopback(SocketAddr),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{}: {message}", file.display())]
    Faults { file: PathBuf, message: String },
    #[error("state file {}: {message}", file.display())]
    StateFile { file: PathBuf, message: String },
    #[error("TLS: {0}")]
    Tls(String),
}

/// Client limits NSX enforces per client and per manager (reference section 15 defaults).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests per second per client (user); 0 disables. NSX default 100.
    pub client_rate_per_sec: u32,
    /// Outstanding requests per client; 0 disables. NSX default 40.
    pub client_concurrency: u32,
    /// Requests in process on the whole manager (503 beyond it); 0 disables. NSX default 199.
    pub global_concurrency: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            client_rate_per_sec: 100,
            client_concurrency: 40,
            global_concurrency: 199,
        }
    }
}

/// Simulated durations of the migration coordinator.
#[derive(Debug, Clone)]
pub struct MigrationTiming {
    /// Precheck time per object in a batch.
    pub precheck_per_object: Duration,
    /// Migration (promotion) time per object in a batch.
    pub migrate_per_object: Duration,
    /// Rollback time per object (the rollback call blocks this long before answering).
    pub rollback_per_object: Duration,
    /// Multiplier applied to rollback time of DFW sections ("slow for firewall sections").
    pub rollback_dfw_factor: u32,
    /// Minimum duration of each phase, so clients observe IN_PROGRESS at least once when polling fast.
    pub min_phase: Duration,
}

impl Default for MigrationTiming {
    fn default() -> Self {
        Self {
            precheck_per_object: Duration::from_millis(1),
            migrate_per_object: Duration::from_millis(4),
            rollback_per_object: Duration::from_millis(2),
            rollback_dfw_factor: 10,
            min_phase: Duration::from_millis(30),
        }
    }
}

/// Simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Listen address of the NSX API; must be loopback. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Listen address of the Kubernetes API subset; must be loopback.
    pub k8s_listen: SocketAddr,
    /// Inventory snapshot directory to seed state from (empty manager when None).
    pub inventory: Option<PathBuf>,
    /// Fault rules (TOML).
    pub faults: Option<PathBuf>,
    /// Persist state after each change and resume from it at start.
    pub state_file: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate.
    pub tls: bool,
    pub username: String,
    pub password: String,
    /// Bearer token the Kubernetes API requires; a request without it gets 401.
    pub k8s_token: String,
    /// Seed for ids, tokens, jitter and fault probabilities.
    pub seed: u64,
    pub limits: Limits,
    /// Fixed latency added to each API request.
    pub latency: Duration,
    /// Maximum extra latency, drawn uniformly with the seeded PRNG.
    pub jitter: Duration,
    pub migration: MigrationTiming,
    /// Append every request as one JSON line to this file (also kept in memory).
    pub request_log: Option<PathBuf>,
    /// Stop serving after this many requests (simulates a manager crash).
    pub exit_after_requests: Option<u64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            k8s_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            inventory: None,
            faults: None,
            state_file: None,
            tls: false,
            username: DEFAULT_USERNAME.to_string(),
            password: DEFAULT_PASSWORD.to_string(),
            k8s_token: DEFAULT_K8S_TOKEN.to_string(),
            seed: 0x5EED_2026,
            limits: Limits::default(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            migration: MigrationTiming::default(),
            request_log: None,
            exit_after_requests: None,
        }
    }
}

/// Entry point.
pub struct Simulator;

impl Simulator {
    /// Load state, bind the listener and start serving. Returns once the socket is bound.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        for addr in [config.listen, config.k8s_listen] {
            if !addr.ip().is_loopback() {
                return Err(SimError::NonLoopback(addr));
            }
        }
        let st = state::State::initial(&config)?;
        server::start(Arc::new(config), st).await
    }
}
