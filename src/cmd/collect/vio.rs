//! `collect --kind vio-v2t`: the flags of the VIO sources and the call into the planner.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use client::{
    ConfigSearch, Credentials, NsxvAuth, NsxvClient, OpenStackClient, Secret, ServiceConfig,
    TlsOptions, VcenterClient,
};
use executor::ExitCode;
use planner::vio::collect::{VioCollectOptions, VioSources};

use crate::cmd::connect::{KubeArgs, NsxArgs, runtime};

/// The OpenStack cloud, the OpenStack way: `--os-cloud` in clouds.yaml + secure.yaml, else
/// `OS_CLOUD`, else the `OS_*` variables (`collect --kind vio-v2t` and `apply` of a vio-v2t
/// plan).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OsArgs {
    /// OpenStack cloud in clouds.yaml (else OS_CLOUD, else the OS_* variables).
    #[arg(long, value_name = "NAME")]
    pub os_cloud: Option<String>,
}

impl OsArgs {
    fn resolve(&self) -> Result<client::CloudConfig, client::CloudConfigError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let search = ConfigSearch::standard(&|k| std::env::var(k).ok(), &cwd);
        client::resolve_cloud(
            self.os_cloud.as_deref(),
            &|k| std::env::var(k).ok(),
            &search,
        )
    }

    /// The cloud's client, paced at `rate` requests per second.
    pub fn client(&self, rate: f64) -> Result<OpenStackClient> {
        let cloud = self.resolve().context("OpenStack credentials")?;
        if cloud.insecure {
            eprintln!(
                "WARNING: cloud '{}' has verify: false; Keystone's certificate is NOT verified",
                cloud.name
            );
        }
        OpenStackClient::new(
            cloud,
            service_config(rate, TlsOptions::default(), "Keystone"),
        )
        .context("OpenStack")
    }

    /// [`OsArgs::client`] when a cloud is configured at all (flag, OS_CLOUD or OS_AUTH_URL),
    /// else `None`.
    pub fn client_if_configured(&self, rate: f64) -> Result<Option<OpenStackClient>> {
        match self.resolve() {
            Err(client::CloudConfigError::NothingConfigured) => Ok(None),
            _ => self.client(rate).map(Some),
        }
    }
}

/// Flags of `--kind vio-v2t` (ignored by `--kind mp`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct VioArgs {
    #[command(flatten)]
    pub os: OsArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// The operator's NSX-V plugin configuration (copied with passwords replaced by references).
    #[arg(long, value_name = "FILE")]
    pub nsx_ini: Option<PathBuf>,
    /// The neutron migrator's configuration (copied with passwords replaced by references).
    #[arg(long, value_name = "FILE")]
    pub migrator_conf: Option<PathBuf>,
    /// VIO's Kubernetes namespace.
    #[arg(long, value_name = "NS", default_value = "openstack")]
    pub vio_namespace: String,
    /// Requests per second to each source (NSX allows 100 per client).
    #[arg(long, value_name = "N", default_value_t = 95.0)]
    pub rate_limit: f64,
}

/// The NSX-V Manager and vCenter (`collect --kind vio-v2t`; `apply` and `rollback` of a
/// vio-v2t plan's maintenance-window phases).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct WindowArgs {
    /// NSX-V Manager address. User from NSXV_USERNAME, password from --nsxv-password-file or
    /// NSXV_PASSWORD.
    #[arg(long, value_name = "URL")]
    pub nsxv: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub nsxv_password_file: Option<PathBuf>,
    /// NSX-V authentication: basic (every request) or token (POST /api/2.0/services/auth/token).
    #[arg(long, value_enum, default_value = "token")]
    pub nsxv_auth: NsxvAuthArg,
    #[arg(long, value_name = "FILE")]
    pub nsxv_ca_cert: Option<PathBuf>,
    #[arg(long, value_name = "HEX")]
    pub nsxv_thumbprint: Option<String>,
    /// Do not verify the NSX-V Manager's certificate (dangerous; prints a warning).
    #[arg(long)]
    pub nsxv_insecure: bool,
    /// vCenter address. User from VCENTER_USERNAME, password from --vcenter-password-file or
    /// VCENTER_PASSWORD.
    #[arg(long, value_name = "URL")]
    pub vcenter: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub vcenter_password_file: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub vcenter_ca_cert: Option<PathBuf>,
    #[arg(long, value_name = "HEX")]
    pub vcenter_thumbprint: Option<String>,
    /// Do not verify vCenter's certificate (dangerous; prints a warning).
    #[arg(long)]
    pub vcenter_insecure: bool,
}

impl WindowArgs {
    /// Both clients; each address is required.
    pub fn clients(&self, rate: f64, why: &str) -> Result<(NsxvClient, VcenterClient)> {
        let nsxv_url = self
            .nsxv
            .clone()
            .with_context(|| format!("{why} needs --nsxv URL (the NSX-V Manager)"))?;
        let vc_url = self
            .vcenter
            .clone()
            .with_context(|| format!("{why} needs --vcenter URL"))?;
        let nsxv_creds = credentials(
            "NSX-V",
            "NSXV_USERNAME",
            "NSXV_PASSWORD",
            self.nsxv_password_file.as_deref(),
        )?;
        let nsxv = NsxvClient::new(
            &nsxv_url,
            nsxv_creds,
            match self.nsxv_auth {
                NsxvAuthArg::Basic => NsxvAuth::Basic,
                NsxvAuthArg::Token => NsxvAuth::Token {
                    expires_in_minutes: 120,
                },
            },
            service_config(
                rate,
                TlsOptions {
                    ca_cert: self.nsxv_ca_cert.clone(),
                    thumbprint: self.nsxv_thumbprint.clone(),
                    insecure: self.nsxv_insecure,
                    client_cert: None,
                },
                "the NSX-V Manager",
            ),
        )
        .context("NSX-V Manager")?;
        let vc_creds = credentials(
            "vCenter",
            "VCENTER_USERNAME",
            "VCENTER_PASSWORD",
            self.vcenter_password_file.as_deref(),
        )?;
        let vcenter = VcenterClient::new(
            &vc_url,
            vc_creds,
            service_config(
                rate,
                TlsOptions {
                    ca_cert: self.vcenter_ca_cert.clone(),
                    thumbprint: self.vcenter_thumbprint.clone(),
                    insecure: self.vcenter_insecure,
                    client_cert: None,
                },
                "vCenter",
            ),
        )
        .context("vCenter")?;
        Ok((nsxv, vcenter))
    }

    /// The clients when `--nsxv` or `--vcenter` is given (then both are needed), else none.
    pub fn window_clients(&self, rate: f64) -> Result<executor::WindowClients> {
        if self.nsxv.is_none() && self.vcenter.is_none() {
            return Ok(executor::WindowClients::default());
        }
        let (nsxv, vcenter) = self.clients(rate, "the window phases of a vio-v2t plan")?;
        Ok(executor::WindowClients {
            nsxv: Some(nsxv),
            vcenter: Some(vcenter),
        })
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum NsxvAuthArg {
    Basic,
    #[default]
    Token,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Username from `user_var`; password from `file` (first line) or `pass_var`.
fn credentials(
    what: &str,
    user_var: &str,
    pass_var: &str,
    file: Option<&Path>,
) -> Result<Credentials> {
    let user = env(user_var).with_context(|| format!("{what}: {user_var} is not set"))?;
    let password = match file {
        Some(f) => {
            let text = Secret::new(std::fs::read_to_string(f).map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot read the password file: {}",
                    f.display(),
                    e.kind()
                )
            })?);
            let first = text.expose().lines().next().unwrap_or("");
            if first.is_empty() {
                anyhow::bail!("{}: the password file is empty", f.display());
            }
            Secret::new(first)
        }
        None => Secret::new(env(pass_var).with_context(|| {
            format!("{what}: {pass_var} is not set (or give the password file flag)")
        })?),
    };
    Ok(Credentials::new(user, password))
}

fn service_config(rate: f64, tls: TlsOptions, what: &str) -> ServiceConfig {
    if tls.insecure {
        eprintln!(
            "WARNING: {what}'s certificate is NOT verified; credentials can be intercepted. Use the CA or thumbprint flag."
        );
    }
    ServiceConfig {
        tls,
        rate_limit: Some(rate),
        ..ServiceConfig::default()
    }
}

fn label(url: &str) -> String {
    match client::parse_base_url(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("unknown");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Err(_) => "unknown".into(),
    }
}

pub fn run(nsx: &NsxArgs, kube: &KubeArgs, args: &VioArgs, out: &Path) -> Result<ExitCode> {
    let need = |v: &Option<PathBuf>, flag: &str| -> Result<PathBuf> {
        v.clone()
            .with_context(|| format!("--kind vio-v2t needs {flag} FILE"))
    };
    let nsx_ini = need(&args.nsx_ini, "--nsx-ini")?;
    let migrator_conf = need(&args.migrator_conf, "--migrator-conf")?;
    let nsxv_url = args
        .window
        .nsxv
        .clone()
        .context("--kind vio-v2t needs --nsxv URL (the NSX-V Manager)")?;
    let vc_url = args
        .window
        .vcenter
        .clone()
        .context("--kind vio-v2t needs --vcenter URL")?;
    let openstack = args.os.client(args.rate_limit)?;
    let (nsxv, vcenter) = args.window.clients(args.rate_limit, "--kind vio-v2t")?;
    let nsx_client = nsx.client()?;
    let kubectl = kube.kubectl();
    let opts = VioCollectOptions {
        nsx_ini,
        migrator_conf,
        namespace: args.vio_namespace.clone(),
        nsxv_manager: label(&nsxv_url),
        vcenter: label(&vc_url),
        nsx_manager: nsx.manager_label(),
        collected_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        concurrency: 8,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let progress = |stage: &str, n: usize| {
        if let Some(b) = &bar {
            b.set_message(format!("collecting {stage}: {n} objects"));
        }
    };
    let sources = VioSources {
        openstack: &openstack,
        nsxv: &nsxv,
        vcenter: &vcenter,
        nsx: &nsx_client,
        kubectl: &kubectl,
    };
    let rt = runtime()?;
    let result = rt.block_on(async {
        let r = planner::vio::collect::collect(&sources, &opts, out, &progress).await;
        vcenter.logout().await;
        nsx_client.logout().await;
        r
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = result?;
    for n in &summary.notes {
        eprintln!("note: {n}");
    }
    let per_source = summary
        .objects
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{}: vio-v2t snapshot, {} objects ({per_source}), {} files, {} passwords replaced by references; NSX-V {}, NSX {}",
        out.display(),
        summary.total_objects(),
        summary.files,
        summary.redactions,
        summary.nsxv_version,
        summary.nsx_version
    );
    Ok(ExitCode::Success)
}
