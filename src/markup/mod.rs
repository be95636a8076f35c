//! What every file gw writes is built with: one escaper per output context, the template
//! environment that enforces them, and reading XML the way APIM does. It depends on nothing
//! else in gw, so the model, the policy and the renderers can all use it.

pub mod escape;
pub mod templates;
pub mod xml;
