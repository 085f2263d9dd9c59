//! Validated names and quantities: past the API edge an invalid one cannot exist.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A DNS-1123 label: 1–63 lowercase alphanumerics or '-', starting and
/// ending with an alphanumeric (what Kubernetes requires of names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        if s.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if s.len() > 63 {
            return Err(FieldError::new(
                field,
                format!("must be at most 63 characters, got {}", s.len()),
            ));
        }
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if let Some(bad) = s.chars().find(|c| !ok_char(*c)) {
            return Err(FieldError::new(
                field,
                format!(
                    "'{s}' is not a DNS-1123 label: character '{bad}' is not allowed (use a-z, 0-9 and '-')"
                ),
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(FieldError::new(
                field,
                format!(
                    "'{s}' is not a DNS-1123 label: it must start and end with a letter or digit"
                ),
            ));
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Name::parse("name", &s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A container image reference: non-empty, no whitespace, at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Image(String);

impl Image {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        if s.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if s.len() > 255 {
            return Err(FieldError::new(field, "must be at most 255 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FieldError::new(
                field,
                format!("'{s}' must not contain whitespace"),
            ));
        }
        Ok(Image(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Image {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Image::parse("image", &s)
    }
}

impl From<Image> for String {
    fn from(n: Image) -> String {
        n.0
    }
}

/// A label key or value, or a zone name: 1–63 of [A-Za-z0-9._-/].
pub fn parse_label(field: &str, s: &str) -> Result<String, FieldError> {
    if s.is_empty() || s.len() > 253 {
        return Err(FieldError::new(field, "must be 1 to 253 characters"));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return Err(FieldError::new(
            field,
            format!("character '{bad}' is not allowed"),
        ));
    }
    Ok(s.to_string())
}

/// Checks every key and value of a label map; errors name `prefix.key`.
pub fn check_labels(
    prefix: &str,
    labels: &std::collections::BTreeMap<String, String>,
    errors: &mut Vec<FieldError>,
) {
    for (k, v) in labels {
        let field = format!("{prefix}.{k}");
        errors.extend(parse_label(&field, k).err());
        errors.extend(parse_label(&field, v).err());
    }
}

/// A key of a secret: 1–253 of `A-Z a-z 0-9 - _ .` (as Kubernetes', so a
/// key is also a file name).
pub fn check_secret_key(field: &str, key: &str) -> Result<(), FieldError> {
    if key.is_empty()
        || key.len() > 253
        || key == "."
        || key == ".."
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(FieldError::new(
            field,
            "a key is 1 to 253 of A-Z, a-z, 0-9, '-', '_' and '.' (not '.' or '..')",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_accepted_and_others_refused_with_the_field() {
        assert!(Name::parse("name", "web-1").is_ok());
        for bad in ["", "Web", "web_1", "-web", "web-", &"a".repeat(64)] {
            let e = Name::parse("spec.name", bad).unwrap_err();
            assert_eq!(e.field, "spec.name");
        }
    }
}
