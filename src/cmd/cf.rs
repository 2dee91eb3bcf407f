//! Flags for a TAS foundation's Cloud Controller (`collect --cf-api`): address, UAA
//! credentials (the cf CLI's conventions: a user's password, or a UAA client), TLS.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use client::{CfAuth, CfClient, CfConfig, Secret, TlsOptions};

#[derive(clap::Args, Debug, Default)]
pub struct CfArgs {
    /// Cloud Controller API of a TAS foundation, e.g. https://api.sys.example.com: collect the
    /// foundation (orgs, spaces, apps, instances) instead of Kubernetes. Credentials come from
    /// CF_USERNAME and CF_PASSWORD (or --cf-password-file), or with --cf-client-id from
    /// CF_CLIENT_SECRET; never from the URL.
    #[arg(long, value_name = "URL")]
    pub cf_api: Option<String>,
    /// File whose first line is the CF user's password (instead of CF_PASSWORD).
    #[arg(long, value_name = "FILE", requires = "cf_api")]
    pub cf_password_file: Option<PathBuf>,
    /// Authenticate as this UAA client (client credentials grant; secret from CF_CLIENT_SECRET)
    /// instead of a user.
    #[arg(
        long,
        value_name = "ID",
        requires = "cf_api",
        conflicts_with = "cf_password_file"
    )]
    pub cf_client_id: Option<String>,
    /// PEM bundle of CA certificates to trust for the Cloud Controller and UAA.
    #[arg(long, value_name = "FILE", requires = "cf_api")]
    pub cf_ca_cert: Option<PathBuf>,
    /// SHA-256 thumbprint of the Cloud Controller's and UAA's certificate to pin.
    #[arg(long, value_name = "HEX", requires = "cf_api")]
    pub cf_thumbprint: Option<String>,
    /// Resources per list page (1..=5000).
    #[arg(long, value_name = "N", default_value_t = 500, requires = "cf_api")]
    pub cf_per_page: usize,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl CfArgs {
    /// The Cloud Controller client, when --cf-api is given.
    pub fn client(&self) -> Result<Option<CfClient>> {
        let Some(api) = &self.cf_api else {
            return Ok(None);
        };
        let auth = match &self.cf_client_id {
            Some(id) => CfAuth::ClientCredentials {
                client_id: id.clone(),
                secret: Secret::new(
                    env("CF_CLIENT_SECRET").context("--cf-client-id needs CF_CLIENT_SECRET")?,
                ),
            },
            None => {
                let username =
                    env("CF_USERNAME").context("--cf-api needs CF_USERNAME (or --cf-client-id)")?;
                let password = match &self.cf_password_file {
                    Some(file) => {
                        let text = Secret::new(
                            std::fs::read_to_string(file)
                                .with_context(|| format!("{}: cannot read", file.display()))?,
                        );
                        let first = text.expose().lines().next().unwrap_or("");
                        if first.is_empty() {
                            bail!("{}: the first line (the password) is empty", file.display());
                        }
                        Secret::new(first)
                    }
                    None => Secret::new(
                        env("CF_PASSWORD")
                            .context("--cf-api needs CF_PASSWORD or --cf-password-file")?,
                    ),
                };
                CfAuth::Password { username, password }
            }
        };
        let mut cfg = CfConfig::new(api.clone(), auth);
        cfg.tls = TlsOptions {
            ca_cert: self.cf_ca_cert.clone(),
            thumbprint: self.cf_thumbprint.clone(),
            ..TlsOptions::default()
        };
        cfg.per_page = self.cf_per_page;
        Ok(Some(CfClient::new(cfg)?))
    }
}
