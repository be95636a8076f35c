//! What one resource's write did: the live resource after it, and how it got there.

use crate::arm::Live;

/// What one write did.
pub(super) struct Written {
    pub(super) live: Live,
    /// The existing assignment adopted instead of creating a second one.
    pub(super) adopted: Option<String>,
    /// A Failed resource that read Succeeded on a second look.
    pub(super) healed: bool,
}

impl From<Live> for Written {
    fn from(live: Live) -> Self {
        Written {
            live,
            adopted: None,
            healed: false,
        }
    }
}
