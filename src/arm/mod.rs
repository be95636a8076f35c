//! Azure Resource Manager: the only module that talks to the network.
