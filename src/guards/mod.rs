//! Request guards: the checks a request passes before the application sees it.

pub mod host;
pub mod uri;
