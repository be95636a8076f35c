//! Runs the real `gw` binary, as a user would, and captures what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct Gw {
    cmd: Command,
}

/// `gw` with a clean environment for the variables gw reads, so the developer's own
/// settings never leak into a test.
pub fn gw() -> Gw {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gw"));
    for var in [
        "GW_ARM_ENDPOINT",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "GW_SERVE_KEY",
        "GW_VERIFY_KEY",
        "RUST_BACKTRACE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    Gw { cmd }
}

impl Gw {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }
    /// What gw reads as stdin (default: nothing, as for a CI step).
    pub fn stdin(mut self, s: impl Into<std::process::Stdio>) -> Self {
        self.cmd.stdin(s);
        self
    }
    pub fn dir(mut self, d: &Path) -> Self {
        self.cmd.current_dir(d);
        self
    }
    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("gw runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The repository root (examples, fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name).join("gw.yaml")
}

pub const EXAMPLES: &[&str] = &[
    "load-balancing",
    "model-routing",
    "session-affinity",
    "token-governance",
    "azure-ai",
];
