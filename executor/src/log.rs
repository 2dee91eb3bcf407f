//! Operator messages: each goes to the run's observer (the front end prints it: the CLI to
//! stderr, through its progress bars, or as a JSON line) and to `executor.log` in the state
//! directory. The executor itself prints nothing. Nothing secret is ever passed here: requests
//! are logged as method and path, never headers.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::observe::SharedObserver;

pub const LOG_FILE: &str = "executor.log";

#[derive(Debug, Default)]
pub struct Log {
    file: Option<Mutex<File>>,
    lines: Mutex<Vec<String>>,
    /// Shows the messages to the operator (the CLI prints them).
    observer: Option<SharedObserver>,
}

impl Log {
    pub fn new() -> Self {
        Log::default()
    }

    /// Hand every message to `observer`.
    pub fn with_observer(mut self, observer: Option<SharedObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Also append to `executor.log` in `dir`.
    pub fn with_file(mut self, dir: &Path) -> Self {
        let path = dir.join(LOG_FILE);
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => self.file = Some(Mutex::new(f)),
            Err(e) => self.emit(
                "warn",
                &format!(
                    "cannot open {}: {e}; messages are not kept in a file",
                    path.display()
                ),
            ),
        }
        self
    }

    fn emit(&self, level: &str, msg: &str) {
        let at = crate::journal::now_rfc3339();
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            let _ = writeln!(f, "{at} {level:5} {msg}");
        }
        if let Ok(mut l) = self.lines.lock() {
            l.push(format!("{level}: {msg}"));
        }
        if let Some(o) = &self.observer {
            o.message(level, msg);
        }
    }

    pub fn info(&self, msg: impl AsRef<str>) {
        self.emit("info", msg.as_ref());
    }

    pub fn warn(&self, msg: impl AsRef<str>) {
        self.emit("warn", msg.as_ref());
    }

    pub fn error(&self, msg: impl AsRef<str>) {
        self.emit("error", msg.as_ref());
    }

    /// Every line emitted so far (for the outcome summary and tests).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
