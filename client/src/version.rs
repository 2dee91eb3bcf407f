//! NSX product versions (`node_version`, inventory metadata, rule thresholds).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An NSX version as major.minor.patch, compared numerically part by part.
///
/// Parsed from NSX's dotted form (`GET /api/v1/node/version` answers e.g.
/// `"3.2.1.2.0.19283847"`):
///
/// * leading and trailing whitespace is ignored;
/// * up to three dotted parts are read, missing ones are 0: `"4"` is 4.0.0, `"3.2"` is 3.2.0;
/// * parts after the third (maintenance and build numbers) are ignored, whatever they hold:
///   `"3.2.1.0.12345"` is 3.2.1 and equal to `"3.2.1"`;
/// * each of the first three parts must be ASCII digits only (no sign, no space) and fit a
///   `u32`; anything else is an [`NsxVersionError`] naming the text (`""`, `"x.1"`, `"3..1"`,
///   `"-1"`, `"3.2.1-beta"`).
///
/// Displayed, and serialized with serde, as the string `"major.minor.patch"` (the ignored parts
/// are not kept); deserialized from a string by the rules above.
///
/// ```
/// use client::NsxVersion;
/// let v: NsxVersion = "3.2.1.2.0.19283847".parse().unwrap();
/// assert_eq!(v, NsxVersion::new(3, 2, 1));
/// assert!(v >= "3.2".parse().unwrap() && v < NsxVersion::new(4, 0, 0));
/// assert_eq!(v.to_string(), "3.2.1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NsxVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl NsxVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        NsxVersion {
            major,
            minor,
            patch,
        }
    }
}

/// Why a text is not an [`NsxVersion`]; every variant carries the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NsxVersionError {
    #[error("invalid NSX version {text:?}: it is empty")]
    Empty { text: String },
    /// Part `position` (1 = major, 2 = minor, 3 = patch) is empty or not all ASCII digits.
    #[error(
        "invalid NSX version {text:?}: part {position} ({part:?}) is not a number (expected e.g. \"3.2.1\")"
    )]
    NotNumeric {
        text: String,
        position: usize,
        part: String,
    },
    /// Part `position` is digits but does not fit a `u32`.
    #[error("invalid NSX version {text:?}: part {position} ({part:?}) is too large")]
    TooLarge {
        text: String,
        position: usize,
        part: String,
    },
}

impl NsxVersionError {
    /// The text that failed to parse, as given (untrimmed).
    pub fn text(&self) -> &str {
        match self {
            NsxVersionError::Empty { text }
            | NsxVersionError::NotNumeric { text, .. }
            | NsxVersionError::TooLarge { text, .. } => text,
        }
    }
}

impl FromStr for NsxVersion {
    type Err = NsxVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(NsxVersionError::Empty { text: text.into() });
        }
        let mut parts = [0u32; 3];
        for (i, part) in trimmed.split('.').take(3).enumerate() {
            let (text, position, part) = (text.to_string(), i + 1, part.to_string());
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(NsxVersionError::NotNumeric {
                    text,
                    position,
                    part,
                });
            }
            parts[i] = part.parse().map_err(|_| NsxVersionError::TooLarge {
                text,
                position,
                part: part.clone(),
            })?;
        }
        let [major, minor, patch] = parts;
        Ok(NsxVersion::new(major, minor, patch))
    }
}

impl fmt::Display for NsxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for NsxVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NsxVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{NsxVersion, NsxVersionError};

    fn v(s: &str) -> NsxVersion {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn missing_parts_are_zero() {
        assert_eq!(v("4"), NsxVersion::new(4, 0, 0));
        assert_eq!(v("3.2"), NsxVersion::new(3, 2, 0));
        assert_eq!(v("3.2.1"), NsxVersion::new(3, 2, 1));
        assert_eq!(v("0"), NsxVersion::new(0, 0, 0));
    }

    #[test]
    fn parts_after_the_third_are_ignored() {
        assert_eq!(v("3.2.1.0.12345"), NsxVersion::new(3, 2, 1));
        assert_eq!(v("3.2.1.2.0.19283847"), v("3.2.1"));
        assert_eq!(v("4.1.2.0.0.1"), NsxVersion::new(4, 1, 2));
        // Whatever they hold.
        assert_eq!(v("3.2.1.x"), v("3.2.1"));
        assert_eq!(v("3.2.1..build-7"), v("3.2.1"));
    }

    #[test]
    fn whitespace_around_is_trimmed() {
        assert_eq!(v("  3.2.1\n"), NsxVersion::new(3, 2, 1));
        assert_eq!(v("\t4 "), NsxVersion::new(4, 0, 0));
    }

    #[test]
    fn ordering_is_numeric_part_by_part() {
        assert!(v("3.10") > v("3.9"));
        assert!(v("4") > v("3.99.99"));
        assert!(v("3.2.1.0.1") == v("3.2.1.9.9"));
        assert!(v("3.2") < v("3.2.1"));
        assert!(v("3.2.0") == v("3.2"));
        assert!(v("03.02") == v("3.2"));
        let mut all = [v("4.1"), v("3.2.1"), v("3.10"), v("3.2"), v("4")];
        all.sort();
        let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["3.2.0", "3.2.1", "3.10.0", "4.0.0", "4.1.0"]);
    }

    #[test]
    fn non_numeric_first_parts_are_errors_naming_the_text() {
        for (text, position, part) in [
            ("x.1", 1, "x"),
            ("3..1", 2, ""),
            ("-1", 1, "-1"),
            ("+1", 1, "+1"),
            ("3.2.", 3, ""),
            ("3.", 2, ""),
            (".3", 1, ""),
            ("3.2.1-beta", 3, "1-beta"),
            ("3. 2", 2, " 2"),
            ("v3.2", 1, "v3"),
            ("3,2", 1, "3,2"),
            ("３.2", 1, "３"),
        ] {
            let err = text.parse::<NsxVersion>().unwrap_err();
            assert_eq!(
                err,
                NsxVersionError::NotNumeric {
                    text: text.into(),
                    position,
                    part: part.into()
                },
                "{text:?}"
            );
            assert_eq!(err.text(), text);
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
    }

    #[test]
    fn empty_and_too_large_are_errors_naming_the_text() {
        for text in ["", "   ", "\n"] {
            let err = text.parse::<NsxVersion>().unwrap_err();
            assert_eq!(err, NsxVersionError::Empty { text: text.into() });
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
        let err = "3.99999999999".parse::<NsxVersion>().unwrap_err();
        assert!(
            matches!(&err, NsxVersionError::TooLarge { position: 2, part, .. } if part == "99999999999"),
            "{err:?}"
        );
        assert_eq!(err.text(), "3.99999999999");
        assert_eq!(v("4294967295").major, u32::MAX);
    }

    #[test]
    fn serde_is_a_string() {
        let x = v("3.2.1.2.0.19283847");
        assert_eq!(serde_json::to_value(x).unwrap(), serde_json::json!("3.2.1"));
        let back: NsxVersion = serde_json::from_str(r#""3.2.1""#).unwrap();
        assert_eq!(back, x);
        let short: NsxVersion = serde_json::from_str(r#"" 4 ""#).unwrap();
        assert_eq!(short, NsxVersion::new(4, 0, 0));
        let err = serde_json::from_str::<NsxVersion>(r#""x.1""#).unwrap_err();
        assert!(err.to_string().contains(r#""x.1""#), "{err}");
        assert!(serde_json::from_str::<NsxVersion>("3").is_err());
        assert!(serde_json::from_str::<NsxVersion>(r#"{"major":3}"#).is_err());
        // Owned strings (e.g. with escapes) deserialize too.
        let escaped: NsxVersion = serde_json::from_str(r#""3\u002e2""#).unwrap();
        assert_eq!(escaped, NsxVersion::new(3, 2, 0));
    }
}
