//! Holding secrets (passwords, session ids, XSRF tokens) so they cannot leak through `Debug`,
//! `Display` or logs by accident.

use std::fmt;

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
        // Best-effort wipe without an extra dependency: overwrite the bytes in place, through a
        // volatile write so the compiler cannot drop the stores as dead.
        // SAFETY: writing NUL bytes keeps the buffer valid UTF-8; the pointer stays in bounds.
        let bytes = unsafe { self.0.as_bytes_mut() };
        for b in bytes.iter_mut() {
            unsafe { std::ptr::write_volatile(b, 0) };
        }
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
}
