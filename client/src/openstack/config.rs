//! Where OpenStack credentials come from, the way OpenStack's own tools find them: a cloud named
//! by `--os-cloud` or `OS_CLOUD` in `clouds.yaml` (+ `secure.yaml`), else the `OS_*` variables.
//!
//! `clouds.yaml` is looked for as openstacksdk does: the file named by `OS_CLIENT_CONFIG_FILE`,
//! else the first of `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
//! `/etc/openstack/clouds.yaml` (each also as `.yml`) that exists. `secure.yaml` is looked for
//! the same way (`OS_CLIENT_SECURE_FILE`, then the same folders); its entries are merged over the
//! cloud's, so passwords can live apart from the rest.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::secret::Secret;

/// A Keystone domain, by name or by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Name(String),
    Id(String),
}

/// The project a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// One resolved cloud: everything needed for Keystone v3 password authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// The cloud's name in clouds.yaml, or `envvars` for the `OS_*` environment.
    pub name: String,
    /// Where it was read from (a file path, or "the OS_* environment"), for messages.
    pub source: String,
    pub auth_url: String,
    pub username: String,
    pub user_domain: DomainRef,
    pub password: Secret,
    pub project: ProjectScope,
    pub region_name: Option<String>,
    /// Catalog interface: `public` (default), `internal` or `admin`.
    pub interface: String,
    /// CA bundle (`cacert` / `OS_CACERT`).
    pub cacert: Option<PathBuf>,
    /// `verify: false` / `OS_INSECURE=true`.
    pub insecure: bool,
}

impl fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudConfig")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("user_domain", &self.user_domain)
            .field("password", &self.password)
            .field("project", &self.project)
            .field("region_name", &self.region_name)
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

/// Why no usable cloud could be resolved. Never carries a password.
#[derive(Debug, thiserror::Error)]
pub enum CloudConfigError {
    #[error(
        "no OpenStack credentials: give --os-cloud NAME (a cloud in clouds.yaml), set OS_CLOUD, or set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME (or OS_PROJECT_ID)"
    )]
    NothingConfigured,
    #[error("cloud '{cloud}' was asked for but no clouds.yaml was found (looked at: {looked_at})")]
    NoCloudsFile { cloud: String, looked_at: String },
    #[error("{}: cannot read: {message}", file.display())]
    Read { file: PathBuf, message: String },
    #[error("{}: invalid YAML: {message}", file.display())]
    Yaml { file: PathBuf, message: String },
    #[error("{}: no cloud named '{cloud}' under `clouds` (it has: {known})", file.display())]
    UnknownCloud {
        file: PathBuf,
        cloud: String,
        known: String,
    },
    #[error("{source_name}: cloud '{cloud}': {field} {message}")]
    Field {
        source_name: String,
        cloud: String,
        field: String,
        message: String,
    },
}

/// The files a lookup considers, in order.
#[derive(Debug, Clone, Default)]
pub struct ConfigSearch {
    pub clouds: Vec<PathBuf>,
    pub secure: Vec<PathBuf>,
}

impl ConfigSearch {
    /// openstacksdk's search: the `OS_CLIENT_CONFIG_FILE` / `OS_CLIENT_SECURE_FILE` file alone
    /// when set, else the current directory, `~/.config/openstack`, `/etc/openstack`.
    pub fn standard(env: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> Self {
        let mut dirs = vec![cwd.to_path_buf()];
        if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
            dirs.push(Path::new(&home).join(".config/openstack"));
        }
        dirs.push(PathBuf::from("/etc/openstack"));
        let in_dirs = |stem: &str| -> Vec<PathBuf> {
            dirs.iter()
                .flat_map(|d| {
                    [
                        d.join(format!("{stem}.yaml")),
                        d.join(format!("{stem}.yml")),
                    ]
                })
                .collect()
        };
        let clouds = match env("OS_CLIENT_CONFIG_FILE").filter(|v| !v.is_empty()) {
            Some(f) => vec![PathBuf::from(f)],
            None => in_dirs("clouds"),
        };
        let secure = match env("OS_CLIENT_SECURE_FILE").filter(|v| !v.is_empty()) {
            Some(f) => vec![PathBuf::from(f)],
            None => in_dirs("secure"),
        };
        Self { clouds, secure }
    }
}

fn read_yaml(file: &Path) -> Result<Value, CloudConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| CloudConfigError::Read {
        file: file.to_path_buf(),
        message: e.kind().to_string(),
    })?;
    let v: Value = serde_saphyr::from_str(&text).map_err(|e| CloudConfigError::Yaml {
        file: file.to_path_buf(),
        // The parser's message names line and column; it does not echo values it did not parse.
        message: e.to_string().lines().next().unwrap_or("").to_string(),
    })?;
    Ok(v)
}

/// Merge `over` into `base`, objects recursively, anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Resolve the cloud to use. `cloud` is `--os-cloud`; `env` looks up environment variables.
///
/// Precedence: `--os-cloud`, then `OS_CLOUD` (both read clouds.yaml + secure.yaml only), then the
/// `OS_*` variables. A named cloud that is not in clouds.yaml is an error naming the file and the
/// clouds it has.
pub fn resolve_cloud(
    cloud: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    search: &ConfigSearch,
) -> Result<CloudConfig, CloudConfigError> {
    let named = cloud
        .map(str::to_string)
        .or_else(|| env("OS_CLOUD"))
        .filter(|c| !c.is_empty());
    match named {
        Some(name) => from_clouds_yaml(&name, search),
        None if env("OS_AUTH_URL").is_some_and(|u| !u.is_empty()) => from_env(env),
        None => Err(CloudConfigError::NothingConfigured),
    }
}

fn from_clouds_yaml(name: &str, search: &ConfigSearch) -> Result<CloudConfig, CloudConfigError> {
    let Some(file) = search.clouds.iter().find(|p| p.is_file()) else {
        return Err(CloudConfigError::NoCloudsFile {
            cloud: name.to_string(),
            looked_at: search
                .clouds
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let doc = read_yaml(file)?;
    let clouds = doc.get("clouds").and_then(Value::as_object);
    let Some(mut entry) = clouds.and_then(|c| c.get(name)).cloned() else {
        let known = clouds
            .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "))
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "none".into());
        return Err(CloudConfigError::UnknownCloud {
            file: file.clone(),
            cloud: name.to_string(),
            known,
        });
    };
    let mut source = file.display().to_string();
    if let Some(secure) = search.secure.iter().find(|p| p.is_file()) {
        let sdoc = read_yaml(secure)?;
        if let Some(over) = sdoc.pointer(&format!("/clouds/{}", pointer_escape(name))) {
            merge(&mut entry, over);
            source = format!("{source} + {}", secure.display());
        }
    }
    let field = |k: &str| -> Option<String> {
        match entry.pointer(k)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let bad = |field: &str, message: &str| CloudConfigError::Field {
        source_name: source.clone(),
        cloud: name.to_string(),
        field: field.to_string(),
        message: message.to_string(),
    };
    if let Some(t) = field("/auth_type")
        && !matches!(t.as_str(), "password" | "v3password")
    {
        return Err(bad(
            "auth_type",
            &format!("is '{t}'; only password authentication is supported"),
        ));
    }
    if let Some(v) = field("/identity_api_version")
        && v != "3"
    {
        return Err(bad(
            "identity_api_version",
            &format!("is {v}; only Keystone v3 is supported"),
        ));
    }
    let insecure = match entry.get("verify") {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    };
    build(
        Parts {
            name: name.to_string(),
            source: source.clone(),
            auth_url: field("/auth/auth_url"),
            username: field("/auth/username"),
            password: field("/auth/password"),
            user_domain_name: field("/auth/user_domain_name"),
            user_domain_id: field("/auth/user_domain_id"),
            project_id: field("/auth/project_id").or_else(|| field("/auth/tenant_id")),
            project_name: field("/auth/project_name").or_else(|| field("/auth/tenant_name")),
            project_domain_name: field("/auth/project_domain_name"),
            project_domain_id: field("/auth/project_domain_id"),
            default_domain: field("/auth/domain_name").or_else(|| field("/auth/default_domain")),
            region_name: field("/region_name"),
            interface: field("/interface"),
            cacert: field("/cacert"),
            insecure,
        },
        "auth.",
    )
}

/// `OS_*` variables (the `envvars` cloud of openstacksdk).
fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<CloudConfig, CloudConfigError> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    build(
        Parts {
            name: "envvars".into(),
            source: "the OS_* environment".into(),
            auth_url: get("OS_AUTH_URL"),
            username: get("OS_USERNAME"),
            password: get("OS_PASSWORD"),
            user_domain_name: get("OS_USER_DOMAIN_NAME"),
            user_domain_id: get("OS_USER_DOMAIN_ID"),
            project_id: get("OS_PROJECT_ID").or_else(|| get("OS_TENANT_ID")),
            project_name: get("OS_PROJECT_NAME").or_else(|| get("OS_TENANT_NAME")),
            project_domain_name: get("OS_PROJECT_DOMAIN_NAME"),
            project_domain_id: get("OS_PROJECT_DOMAIN_ID"),
            default_domain: get("OS_DOMAIN_NAME").or_else(|| get("OS_DEFAULT_DOMAIN")),
            region_name: get("OS_REGION_NAME"),
            interface: get("OS_INTERFACE").or_else(|| get("OS_ENDPOINT_TYPE")),
            cacert: get("OS_CACERT"),
            insecure: get("OS_INSECURE").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        },
        "OS_",
    )
}

struct Parts {
    name: String,
    source: String,
    auth_url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_id: Option<String>,
    project_name: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    default_domain: Option<String>,
    region_name: Option<String>,
    interface: Option<String>,
    cacert: Option<String>,
    insecure: bool,
}

/// The one place the fields are checked. `prefix` is how the source spells a field (`auth.`
/// for clouds.yaml, `OS_` for the environment), for messages.
fn build(p: Parts, prefix: &str) -> Result<CloudConfig, CloudConfigError> {
    let env_style = prefix == "OS_";
    let spell = |yaml: &str| -> String {
        if env_style {
            format!("OS_{}", yaml.to_ascii_uppercase())
        } else {
            format!("auth.{yaml}")
        }
    };
    let missing = |yaml: &str, extra: &str| CloudConfigError::Field {
        source_name: p.source.clone(),
        cloud: p.name.clone(),
        field: spell(yaml),
        message: format!("is not set{extra}"),
    };
    let auth_url = p.auth_url.clone().ok_or_else(|| missing("auth_url", ""))?;
    let username = p.username.clone().ok_or_else(|| missing("username", ""))?;
    let password = p.password.clone().map(Secret::new).ok_or_else(|| {
        missing(
            "password",
            if env_style {
                ""
            } else {
                " (put it in clouds.yaml or secure.yaml)"
            },
        )
    })?;
    // Keystone needs a domain for a user or project given by name; like the OpenStack clients,
    // fall back to the default domain, `Default` unless one is configured.
    let default_domain = p.default_domain.clone().unwrap_or_else(|| "Default".into());
    let user_domain = match (&p.user_domain_id, &p.user_domain_name) {
        (Some(id), _) => DomainRef::Id(id.clone()),
        (None, Some(n)) => DomainRef::Name(n.clone()),
        (None, None) => DomainRef::Name(default_domain.clone()),
    };
    let project = match (&p.project_id, &p.project_name) {
        (Some(id), _) => ProjectScope::Id(id.clone()),
        (None, Some(name)) => ProjectScope::Name {
            name: name.clone(),
            domain: match (&p.project_domain_id, &p.project_domain_name) {
                (Some(id), _) => DomainRef::Id(id.clone()),
                (None, Some(n)) => DomainRef::Name(n.clone()),
                (None, None) => DomainRef::Name(default_domain),
            },
        },
        (None, None) => {
            return Err(missing(
                "project_name",
                &format!(
                    " (nor {}); a project-scoped token is needed",
                    spell("project_id")
                ),
            ));
        }
    };
    let interface = p
        .interface
        .clone()
        .map(|i| {
            i.trim_end_matches("URL")
                .trim_end_matches("url")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|| "public".into());
    if !matches!(interface.as_str(), "public" | "internal" | "admin") {
        return Err(CloudConfigError::Field {
            source_name: p.source.clone(),
            cloud: p.name.clone(),
            field: if env_style {
                "OS_INTERFACE".into()
            } else {
                "interface".into()
            },
            message: format!("is '{interface}'; expected public, internal or admin"),
        });
    }
    Ok(CloudConfig {
        name: p.name,
        source: p.source,
        auth_url,
        username,
        user_domain,
        password,
        project,
        region_name: p.region_name,
        interface,
        cacert: p.cacert.map(PathBuf::from),
        insecure: p.insecure,
    })
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const CLOUDS: &str = "clouds:
  vio:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: admin
      project_name: admin
      user_domain_name: local
      project_domain_name: local
    region_name: nova
    interface: internal
    cacert: /etc/ssl/vio-ca.pem
  other:
    auth:
      auth_url: https://other.example:5000
      username: u
      password: from-clouds
      project_id: 4f2a
    verify: false
";

    fn files(dir: &Path) -> ConfigSearch {
        ConfigSearch {
            clouds: vec![dir.join("missing.yaml"), dir.join("clouds.yaml")],
            secure: vec![dir.join("secure.yaml")],
        }
    }

    #[test]
    fn named_cloud_with_secure_yaml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clouds.yaml"), CLOUDS).unwrap();
        std::fs::write(
            dir.path().join("secure.yaml"),
            "clouds:\n  vio:\n    auth:\n      password: s3cret-from-secure\n",
        )
        .unwrap();
        let c = resolve_cloud(Some("vio"), &env_of(&[]), &files(dir.path())).unwrap();
        assert_eq!(c.name, "vio");
        assert_eq!(c.auth_url, "https://keystone.example:5000/v3");
        assert_eq!(c.password.expose(), "s3cret-from-secure");
        assert_eq!(c.user_domain, DomainRef::Name("local".into()));
        assert_eq!(
            c.project,
            ProjectScope::Name {
                name: "admin".into(),
                domain: DomainRef::Name("local".into())
            }
        );
        assert_eq!(c.region_name.as_deref(), Some("nova"));
        assert_eq!(c.interface, "internal");
        assert_eq!(c.cacert, Some(PathBuf::from("/etc/ssl/vio-ca.pem")));
        assert!(!c.insecure);
        assert!(c.source.contains("secure.yaml"), "{}", c.source);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    #[test]
    fn precedence_flag_then_os_cloud_then_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clouds.yaml"), CLOUDS).unwrap();
        let env = env_of(&[
            ("OS_CLOUD", "other"),
            ("OS_AUTH_URL", "https://env.example:5000"),
            ("OS_USERNAME", "envuser"),
            ("OS_PASSWORD", "envpw"),
            ("OS_PROJECT_NAME", "p"),
        ]);
        let search = files(dir.path());
        // --os-cloud beats OS_CLOUD (vio has no password: the error names the field and file).
        let e = resolve_cloud(Some("vio"), &env, &search).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("auth.password") && msg.contains("clouds.yaml") && msg.contains("'vio'"),
            "{msg}"
        );
        // OS_CLOUD beats the OS_* variables.
        let c = resolve_cloud(None, &env, &search).unwrap();
        assert_eq!(c.name, "other");
        assert_eq!(c.password.expose(), "from-clouds");
        assert_eq!(c.project, ProjectScope::Id("4f2a".into()));
        assert!(c.insecure);
        assert_eq!(c.interface, "public");
        // Without a cloud name, the OS_* variables.
        let env = env_of(&[
            ("OS_AUTH_URL", "https://env.example:5000"),
            ("OS_USERNAME", "envuser"),
            ("OS_PASSWORD", "envpw"),
            ("OS_PROJECT_NAME", "p"),
            ("OS_PROJECT_DOMAIN_NAME", "pd"),
            ("OS_REGION_NAME", "r1"),
            ("OS_INTERFACE", "publicURL"),
            ("OS_CACERT", "/ca.pem"),
        ]);
        let c = resolve_cloud(None, &env, &search).unwrap();
        assert_eq!(c.name, "envvars");
        assert_eq!(c.username, "envuser");
        assert_eq!(c.user_domain, DomainRef::Name("Default".into()));
        assert_eq!(
            c.project,
            ProjectScope::Name {
                name: "p".into(),
                domain: DomainRef::Name("pd".into())
            }
        );
        assert_eq!(c.region_name.as_deref(), Some("r1"));
        assert_eq!(c.interface, "public");
        assert_eq!(c.cacert, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn missing_cloud_and_missing_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clouds.yaml"), CLOUDS).unwrap();
        let search = files(dir.path());
        let e = resolve_cloud(Some("nope"), &env_of(&[]), &search)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no cloud named 'nope'") && e.contains("vio, other"),
            "{e}"
        );
        assert!(e.contains("clouds.yaml"), "{e}");
        let e = resolve_cloud(None, &env_of(&[]), &search).unwrap_err();
        assert!(matches!(e, CloudConfigError::NothingConfigured));
        let e = resolve_cloud(
            None,
            &env_of(&[("OS_AUTH_URL", "https://x"), ("OS_USERNAME", "u")]),
            &search,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("OS_PASSWORD"), "{e}");
        let e = resolve_cloud(
            None,
            &env_of(&[
                ("OS_AUTH_URL", "https://x"),
                ("OS_USERNAME", "u"),
                ("OS_PASSWORD", "pw-secret"),
            ]),
            &search,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OS_PROJECT_NAME") && !e.contains("pw-secret"),
            "{e}"
        );
        let empty = ConfigSearch {
            clouds: vec![dir.path().join("none.yaml")],
            secure: vec![],
        };
        let e = resolve_cloud(Some("vio"), &env_of(&[]), &empty)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no clouds.yaml") && e.contains("none.yaml"),
            "{e}"
        );
    }

    #[test]
    fn bad_yaml_and_unsupported_auth_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clouds.yaml"), "clouds: [unclosed\n").unwrap();
        let e = resolve_cloud(Some("vio"), &env_of(&[]), &files(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("clouds.yaml") && e.contains("invalid YAML"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("clouds.yaml"),
            "clouds:\n  t:\n    auth_type: token\n    auth: {auth_url: x, token: abc}\n",
        )
        .unwrap();
        let e = resolve_cloud(Some("t"), &env_of(&[]), &files(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth_type") && e.contains("token"), "{e}");
    }

    #[test]
    fn standard_search_order() {
        let s = ConfigSearch::standard(&env_of(&[("HOME", "/home/u")]), Path::new("/w"));
        assert_eq!(s.clouds[0], PathBuf::from("/w/clouds.yaml"));
        assert_eq!(
            s.clouds[2],
            PathBuf::from("/home/u/.config/openstack/clouds.yaml")
        );
        assert_eq!(s.clouds[4], PathBuf::from("/etc/openstack/clouds.yaml"));
        assert_eq!(s.secure[0], PathBuf::from("/w/secure.yaml"));
        let s = ConfigSearch::standard(
            &env_of(&[("HOME", "/home/u"), ("OS_CLIENT_CONFIG_FILE", "/x/c.yaml")]),
            Path::new("/w"),
        );
        assert_eq!(s.clouds, vec![PathBuf::from("/x/c.yaml")]);
    }
}
