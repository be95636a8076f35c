//! gw: an AI gateway on Azure API Management, declared in one YAML file.
//!
//! The pipeline: `spec` (raw YAML) -> `model` (validated) -> `render` (Bicep, ARM JSON,
//! policy XML) and `graph` (Azure resources) -> `plan` (diff against live) -> `apply`.
//! Only `arm` touches the network.

pub mod arm;
pub mod env;
