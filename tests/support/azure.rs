//! A stand-in Azure for CLI tests: the ARM emulator and a logged-in fake `az`, wired into
//! `gw` only through settings a user has too (GW_ARM_ENDPOINT, PATH, AZURE_SUBSCRIPTION_ID,
//! GW_MAX_RETRY_WAIT, GW_PRINCIPAL_WAIT).

use super::cli::{Gw, gw};
use super::emulator::Emulator;
use super::fake_az::{FAKE_SUBSCRIPTION, FAKE_TOKEN, FakeAz};

pub struct Azure {
    pub arm: Emulator,
    pub az: FakeAz,
}

impl Azure {
    pub fn new() -> Self {
        Azure {
            arm: Emulator::start(),
            az: FakeAz::new(),
        }
    }

    pub fn logged_out() -> Self {
        Azure {
            arm: Emulator::start(),
            az: FakeAz::logged_out(),
        }
    }

    /// `gw` pointed at this Azure, with waits capped so no test sleeps for real.
    pub fn gw(&self) -> Gw {
        gw().env("GW_ARM_ENDPOINT", self.arm.url())
            .env("PATH", self.az.path_with_system())
            .env("AZURE_SUBSCRIPTION_ID", FAKE_SUBSCRIPTION)
            .env("GW_MAX_RETRY_WAIT", "0")
            .env("GW_PRINCIPAL_WAIT", "30")
            .env("CI", "true")
    }

    /// The ARM id of a resource of an example (`rg`, then a path under the group).
    pub fn rg_id(&self, rg: &str) -> String {
        format!("/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{rg}")
    }

    /// Writes (PUT, PATCH, DELETE) in the journal; POST actions such as listSecrets read.
    pub fn writes(&self) -> Vec<String> {
        self.arm
            .journal()
            .iter()
            .filter(|e| matches!(e.method.as_str(), "PUT" | "PATCH" | "DELETE"))
            .map(|e| format!("{} {}", e.method, e.path()))
            .collect()
    }
}

/// Fails if a secret reached `text`.
pub fn assert_no_secrets(text: &str, keys: &[String]) {
    assert!(
        !text.contains(FAKE_TOKEN),
        "the access token leaked:\n{text}"
    );
    for k in keys {
        assert!(
            !text.contains(k.as_str()),
            "a subscription key leaked:\n{text}"
        );
    }
}
