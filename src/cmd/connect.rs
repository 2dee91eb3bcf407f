//! Connection flags shared by every command that talks to NSX Manager or Kubernetes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use client::{AuthMode, ClientCertificate, Credentials, Kubectl, NsxClient, NsxConfig, TlsOptions};

/// Where the lock on the manager lives and how long it lasts (docs/rules.md).
#[derive(clap::Args, Clone, Debug)]
pub struct ManagerLockArgs {
    /// Policy path of the lock that runs hold on the manager (a member-less Group).
    #[arg(long, value_name = "PATH", default_value = executor::manager_lock::DEFAULT_PATH,
          env = "NSX_MIGRATE_MANAGER_LOCK_PATH")]
    pub manager_lock_path: String,
    /// Seconds a run's lock on the manager lasts without renewal (renewed every third).
    #[arg(long, value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(3..=86_400))]
    pub manager_lock_lease: u64,
    /// Seconds allowed for the difference between this machine's clock and the manager's.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub manager_lock_grace: u64,
}

impl ManagerLockArgs {
    pub fn config(&self) -> Result<executor::manager_lock::ManagerLockConfig> {
        if !self.manager_lock_path.starts_with("/infra/") || self.manager_lock_path.contains("..") {
            anyhow::bail!(
                "--manager-lock-path {}: must be a Policy path under /infra/",
                self.manager_lock_path
            );
        }
        Ok(executor::manager_lock::ManagerLockConfig {
            path: self.manager_lock_path.clone(),
            lease: std::time::Duration::from_secs(self.manager_lock_lease),
            grace: std::time::Duration::from_secs(self.manager_lock_grace),
        })
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct NsxArgs {
    /// NSX Manager address, e.g. https://nsx-mgr-01.corp.example (talk to one manager, the one
    /// running the migration coordinator). Credentials come from NSX_USERNAME and NSX_PASSWORD or
    /// --password-file, never from the URL.
    #[arg(long, value_name = "URL")]
    pub nsx: String,
    /// File whose first line is the NSX password (instead of NSX_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Authentication: session (JSESSIONID + X-XSRF-TOKEN, default) or basic.
    #[arg(long, value_enum, default_value = "session")]
    pub auth: AuthArg,
    /// PEM bundle of CA certificates to trust for the manager's certificate.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// SHA-256 thumbprint of the manager's certificate to pin (hex, colons optional).
    #[arg(long, value_name = "HEX")]
    pub thumbprint: Option<String>,
    /// Do not verify the manager's certificate at all. Dangerous: anyone on the path can read
    /// your credentials. Prefer --ca-cert or --thumbprint.
    #[arg(long)]
    pub insecure: bool,
    /// Client certificate (PEM) for principal-identity authentication, with --client-key.
    #[arg(long, requires = "client_key", value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    #[arg(long, requires = "client_cert", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AuthArg {
    Session,
    Basic,
}

impl NsxArgs {
    /// How plans and snapshots name this manager: scheme, host and port, never credentials.
    pub fn manager_label(&self) -> String {
        match client::parse_base_url(&self.nsx) {
            Ok(url) => {
                let host = url.host_str().unwrap_or("unknown");
                match url.port() {
                    Some(p) => format!("{}://{host}:{p}", url.scheme()),
                    None => format!("{}://{host}", url.scheme()),
                }
            }
            Err(_) => "unknown".to_string(),
        }
    }

    pub fn config(&self) -> Result<NsxConfig> {
        let client_cert = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientCertificate {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        let credentials = match Credentials::from_env(self.password_file.as_deref()) {
            Ok(c) => Some(c),
            // A client certificate alone authenticates; a password file named on the command
            // line must still be readable.
            Err(_) if client_cert.is_some() && self.password_file.is_none() => None,
            Err(e) => {
                return Err(e).context(
                    "NSX credentials (set NSX_USERNAME and NSX_PASSWORD, or use --password-file)",
                );
            }
        };
        if self.insecure {
            eprintln!(
                "WARNING: --insecure: the NSX Manager's certificate is NOT verified; credentials can be intercepted. Use --ca-cert or --thumbprint."
            );
        }
        let mut cfg = NsxConfig::new(self.nsx.clone(), credentials);
        // NSX allows 100 requests per second per client; stay 5% below it (the update stage
        // then reaches about 95 requests/s without a 429: docs/performance.md).
        cfg.rate_limit = Some(95.0);
        cfg.auth = match (self.auth, &cfg.credentials) {
            (_, None) => AuthMode::Certificate,
            (AuthArg::Session, _) => AuthMode::Session,
            (AuthArg::Basic, _) => AuthMode::Basic,
        };
        cfg.tls = TlsOptions {
            ca_cert: self.ca_cert.clone(),
            thumbprint: self.thumbprint.clone(),
            insecure: self.insecure,
            client_cert,
        };
        Ok(cfg)
    }

    pub fn client(&self) -> Result<NsxClient> {
        NsxClient::new(self.config()?)
            .with_context(|| format!("NSX Manager {}", self.manager_label()))
    }
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct KubeArgs {
    /// kubeconfig for kubectl (default: kubectl's own lookup, KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// kubectl binary.
    #[arg(long, value_name = "PATH", default_value = "kubectl")]
    pub kubectl: PathBuf,
}

impl KubeArgs {
    pub fn kubectl(&self) -> Kubectl {
        Kubectl {
            binary: self.kubectl.clone(),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            ..Kubectl::default()
        }
    }
}

/// A multi-threaded runtime for the async commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
