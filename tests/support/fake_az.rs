//! A fake `az` for tests: a shell script in a temp dir that answers the two commands gw runs
//! (`az account get-access-token -o json ...`, `az account show -o json`) the way the real
//! CLI does, logs each call to a file, and can play "not logged in".
//!
//! ```ignore
//! let az = FakeAz::new();            // logged in
//! command.env("PATH", az.path_with_system());
//! assert_eq!(az.token_calls(), 1);
//! ```

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The token the fake `az` prints and the emulator accepts.
pub const FAKE_TOKEN: &str = "gw-test-token-not-a-secret";
pub const FAKE_SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000c0de";
pub const FAKE_TENANT: &str = "00000000-0000-0000-0000-0000000071e7";

pub struct FakeAz {
    dir: tempfile::TempDir,
}

impl FakeAz {
    /// A logged-in `az` whose token expires in an hour.
    pub fn new() -> Self {
        Self::with_script(&logged_in_script())
    }

    /// An `az` that answers every command like a CLI nobody logged in to.
    pub fn logged_out() -> Self {
        Self::with_script(
            "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/calls.log\"\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
        )
    }

    fn with_script(script: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir for the fake az");
        let path = dir.path().join("az");
        std::fs::write(&path, script).expect("write the fake az");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make the fake az executable");
        FakeAz { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PATH with the fake first, then the system's (the script needs `sh`, `date`, `dirname`).
    pub fn path_with_system(&self) -> OsString {
        let mut path = OsString::from(self.dir.path());
        path.push(":/usr/local/bin:/usr/bin:/bin");
        path
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// Every invocation's arguments, one per entry.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// How many times a token was asked for.
    pub fn token_calls(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.contains("get-access-token"))
            .count()
    }
}

fn logged_in_script() -> String {
    format!(
        r#"#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
case "$*" in
  *"account get-access-token"*)
    now=$(date +%s)
    exp=$((now + 3600))
    cat <<JSON
{{
  "accessToken": "{FAKE_TOKEN}",
  "expiresOn": "$(date -d @$exp '+%Y-%m-%d %H:%M:%S.000000' 2>/dev/null || echo 2099-01-01 00:00:00.000000)",
  "expires_on": $exp,
  "subscription": "{FAKE_SUBSCRIPTION}",
  "tenant": "{FAKE_TENANT}",
  "tokenType": "Bearer"
}}
JSON
    ;;
  *"account show"*)
    cat <<JSON
{{
  "environmentName": "AzureCloud",
  "id": "{FAKE_SUBSCRIPTION}",
  "isDefault": true,
  "name": "gw tests",
  "state": "Enabled",
  "tenantId": "{FAKE_TENANT}",
  "user": {{"name": "tester@example.com", "type": "user"}}
}}
JSON
    ;;
  *)
    echo "ERROR: the fake az does not know: $*" >&2
    exit 2
    ;;
esac
"#
    )
}
