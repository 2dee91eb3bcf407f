//! `nsx-migrate apply PLAN --nsx URL`: apply a sealed plan with the write-ahead journal
//! (executor crate). Also holds the NSX connection flags shared by `rollback` and `audit`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use executor::client::{AuthMode, ClientCertificate, Credentials, Kubectl, NsxConfig, TlsOptions};
use executor::{ApplyOptions, OnImportFailure};

use crate::exit;

// How to reach and authenticate to the NSX Manager (shared by apply, rollback, audit).
#[derive(clap::Args, Debug, Clone)]
pub struct NsxArgs {
    /// NSX Manager URL, e.g. https://nsx-mgr-01.example (the manager running the coordinator).
    #[arg(long)]
    pub nsx: String,
    /// Read the password from this file's first line instead of NSX_PASSWORD (user: NSX_USERNAME).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Authentication: session (JSESSIONID + XSRF, default) or basic.
    #[arg(long, value_enum, default_value = "session")]
    pub auth: AuthArg,
    /// PEM bundle of CA certificates to trust for the manager's certificate.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// SHA-256 thumbprint of the manager's certificate (pins exactly that certificate).
    #[arg(long)]
    pub thumbprint: Option<String>,
    /// Accept any certificate. Dangerous: anyone on the path can read the credentials.
    #[arg(long)]
    pub insecure: bool,
    /// Client certificate (PEM) for principal-identity authentication, with --client-key.
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of --client-cert.
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AuthArg {
    Session,
    Basic,
}

impl NsxArgs {
    pub fn config(&self) -> Result<NsxConfig> {
        let client_cert = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientCertificate {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        let creds = match Credentials::from_env(self.password_file.as_deref()) {
            Ok(c) => Some(c),
            Err(_) if client_cert.is_some() => None,
            Err(e) => return Err(e).context("NSX credentials"),
        };
        if self.insecure {
            eprintln!(
                "WARNING: --insecure: the NSX Manager's certificate is NOT verified; credentials can be intercepted"
            );
        }
        let mut cfg = NsxConfig::new(self.nsx.clone(), creds);
        // NSX allows 100 requests per second per client; stay below it.
        cfg.rate_limit = Some(90.0);
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
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FailureArg {
    Rollback,
    Stop,
}

#[derive(clap::Args)]
pub struct Args {
    /// The reviewed, sealed plan (TOML).
    plan: PathBuf,
    #[command(flatten)]
    nsx: NsxArgs,
    /// State directory: lock, journal.jsonl, executor.log, plan copy.
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
    /// Print the requests that would be sent, in order; send none (reads only).
    #[arg(long)]
    dry_run: bool,
    /// Policy updates in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// On an import failure: roll back this plan's imports (exit 2), or stop and keep them (exit 1).
    #[arg(long, value_enum, default_value = "rollback")]
    on_import_failure: FailureArg,
    /// kubeconfig for re-reading Kubernetes (default: kubectl's own).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    #[arg(long)]
    context: Option<String>,
    /// Do not re-read Kubernetes (drift there goes undetected).
    #[arg(long)]
    skip_kubernetes_check: bool,
    /// Seconds to wait for one import batch before giving up.
    #[arg(long, default_value_t = 6000)]
    batch_timeout: u64,
    /// JSON-lines events on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<u8> {
    let mut o = ApplyOptions::new(&args.plan, &args.state_dir, args.nsx.config()?);
    o.dry_run = args.dry_run;
    o.concurrency = args.concurrency.max(1);
    o.on_import_failure = match args.on_import_failure {
        FailureArg::Rollback => OnImportFailure::Rollback,
        FailureArg::Stop => OnImportFailure::Stop,
    };
    o.kubectl = (!args.skip_kubernetes_check).then(|| Kubectl {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        ..Kubectl::default()
    });
    o.poll.timeout = Duration::from_secs(args.batch_timeout);
    o.json = args.json;
    match executor::block_on(executor::apply(&o))? {
        Ok(out) => {
            for r in &out.dry_run_requests {
                println!("{r}");
            }
            Ok(out.exit_code)
        }
        Err(e) => {
            eprintln!("error: refused, nothing was sent: {e}");
            Ok(exit::INVALID_INPUT)
        }
    }
}
