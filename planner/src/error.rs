//! Planner errors: every one names the file and, where there is one, the line or field.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    // The cause is part of the message (and deliberately not a `source`, so that error chains
    // printed by the CLI do not repeat it).
    #[error("{path}: cannot read: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {pointer}: {message}")]
    Snapshot {
        path: PathBuf,
        pointer: String,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    Ini {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}:{column}: TOML syntax error: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Rules {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{path}: {message}")]
    UserSpec { path: PathBuf, message: String },
    #[error(
        "the user spec has no entry for cluster `{cluster}` under k8s-clusters (it has: {known})"
    )]
    UnknownCluster { cluster: String, known: String },
    #[error("cannot write plan: {0}")]
    Write(#[from] plan_schema::write::WriteError),
    #[error("internal: the generated plan is invalid (a planner bug): {0}")]
    Invalid(String),
}
