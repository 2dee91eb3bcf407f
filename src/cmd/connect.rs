//! Connection flags shared by every command that talks to NSX Manager or Kubernetes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use client::{AuthMode, Credentials, Kubectl, NsxClient, NsxConfig, TlsOptions};

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
    /// HTTP basic authentication on every request instead of a session (X-XSRF-TOKEN).
    #[arg(long)]
    pub basic_auth: bool,
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

    pub fn client(&self) -> Result<NsxClient> {
        if self.insecure {
            eprintln!(
                "WARNING: --insecure: the NSX Manager's certificate is NOT verified; credentials can be intercepted. Use --ca-cert or --thumbprint."
            );
        }
        let credentials = Credentials::from_env(self.password_file.as_deref()).context(
            "NSX credentials (set NSX_USERNAME and NSX_PASSWORD, or use --password-file)",
        )?;
        let mut cfg = NsxConfig::new(self.nsx.clone(), Some(credentials));
        cfg.auth = if self.basic_auth {
            AuthMode::Basic
        } else {
            AuthMode::Session
        };
        cfg.tls = TlsOptions {
            ca_cert: self.ca_cert.clone(),
            thumbprint: self.thumbprint.clone(),
            insecure: self.insecure,
            client_cert: None,
        };
        NsxClient::new(cfg).with_context(|| format!("NSX Manager {}", self.manager_label()))
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
