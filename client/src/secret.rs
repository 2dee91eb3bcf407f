//! Holding secrets (passwords, session ids, XSRF tokens) so they cannot leak through `Debug`,
//! `Display` or logs by accident.

use std::fmt;

use zeroize::Zeroize;

/// A secret string. `Debug` and `Display` print `***`; the value is only reachable through
/// [`Secret::expose`], which makes every use greppable. The buffer is overwritten on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Never log or format what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Wiped in place (zeroize's volatile writes: the compiler cannot drop them as dead).
        self.0.zeroize();
    }
}

/// Username and password for the NSX Manager. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

/// Why credentials could not be assembled. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{0} is not set")]
    MissingEnv(&'static str),
    #[error("{}: cannot read the password file: {message}", file.display())]
    PasswordFile {
        file: std::path::PathBuf,
        message: String,
    },
    #[error("{}: the password file is empty", file.display())]
    EmptyPasswordFile { file: std::path::PathBuf },
    #[error("NSX_PASSWORD is empty")]
    EmptyPassword,
}

impl Credentials {
    /// Username from `NSX_USERNAME`; password from `password_file` (first line, trailing
    /// newline removed) when given, else from `NSX_PASSWORD`.
    pub fn from_env(password_file: Option<&std::path::Path>) -> Result<Self, CredentialsError> {
        Self::from_lookup(password_file, |k| std::env::var(k).ok())
    }

    /// [`Credentials::from_env`] with an explicit variable lookup (for tests and embedding).
    pub fn from_lookup(
        password_file: Option<&std::path::Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialsError> {
        let username = lookup("NSX_USERNAME")
            .filter(|u| !u.is_empty())
            .ok_or(CredentialsError::MissingEnv("NSX_USERNAME"))?;
        let password = match password_file {
            Some(file) => {
                let text = Secret::new(std::fs::read_to_string(file).map_err(|e| {
                    CredentialsError::PasswordFile {
                        file: file.to_path_buf(),
                        message: e.kind().to_string(),
                    }
                })?);
                let first = text.expose().lines().next().unwrap_or("");
                if first.is_empty() {
                    return Err(CredentialsError::EmptyPasswordFile {
                        file: file.to_path_buf(),
                    });
                }
                Secret::new(first)
            }
            None => {
                let p = Secret::new(
                    lookup("NSX_PASSWORD").ok_or(CredentialsError::MissingEnv("NSX_PASSWORD"))?,
                );
                if p.is_empty() {
                    return Err(CredentialsError::EmptyPassword);
                }
                p
            }
        };
        Ok(Self { username, password })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let c = Credentials::new("admin", "hunter2-very-secret");
        let dbg = format!("{c:?} {} {:?}", c.password, c.password);
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("admin"));
        assert!(dbg.contains("***"));
        assert_eq!(c.password.expose(), "hunter2-very-secret");
    }

    #[test]
    fn credentials_from_env_and_file() {
        let env = |k: &str| match k {
            "NSX_USERNAME" => Some("admin".to_string()),
            "NSX_PASSWORD" => Some("from-env".to_string()),
            _ => None,
        };
        let c = Credentials::from_lookup(None, env).unwrap();
        assert_eq!(c.password.expose(), "from-env");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\r\n").unwrap();
        let c = Credentials::from_lookup(Some(&f), env).unwrap();
        assert_eq!(c.password.expose(), "from-file");
        std::fs::write(&f, "\n").unwrap();
        let e = Credentials::from_lookup(Some(&f), env).unwrap_err();
        assert!(e.to_string().contains("empty") && e.to_string().contains("pw"));
        let e = Credentials::from_lookup(Some(&dir.path().join("missing")), env).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let e = Credentials::from_lookup(None, |_| None).unwrap_err();
        assert!(e.to_string().contains("NSX_USERNAME"));
        let e = Credentials::from_lookup(None, |k| (k == "NSX_USERNAME").then(|| "u".into()))
            .unwrap_err();
        assert!(e.to_string().contains("NSX_PASSWORD"));
    }
}
