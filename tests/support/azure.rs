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

    /// An Azure where `examples/NAME` has been applied.
    pub fn deployed(name: &str) -> Self {
        let az = Azure::new();
        let run = az.run(&["apply", "--auto-approve"], name);
        assert_eq!(run.code, 0, "apply {name}:\n{}\n{}", run.stdout, run.stderr);
        az
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

    /// The id of the first resource written with a path ending in `suffix`.
    pub fn put_id(&self, suffix: &str) -> String {
        self.arm
            .journal()
            .iter()
            .find(|e| e.method == "PUT" && e.path().ends_with(suffix))
            .unwrap_or_else(|| panic!("no PUT of …{suffix}"))
            .path()
            .to_string()
    }

    /// `gw ARGS -f examples/NAME/gw.yaml` against this Azure.
    pub fn run(&self, args: &[&str], name: &str) -> super::cli::Run {
        self.gw()
            .args(args)
            .args(["-f"])
            .args([super::cli::example(name)])
            .run()
    }

    /// Ids of the stored resources of group `rg` whose provisioningState is not Succeeded.
    pub fn not_succeeded(&self, rg: &str) -> Vec<String> {
        self.arm
            .list_ids(&self.rg_id(rg))
            .into_iter()
            .filter(|id| {
                self.arm
                    .get_resource(id)
                    .and_then(|b| {
                        b.pointer("/properties/provisioningState")
                            .and_then(|s| s.as_str())
                            .map(str::to_string)
                    })
                    .is_some_and(|s| s != "Succeeded")
            })
            .collect()
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
