//! Request guards: the checks a request passes before the application sees it.
//!
//! Each guard rejects and never normalises: a request that would need fixing is refused with
//! a clear status and a generic body, the application is not called, and one security event
//! records the rule that decided.

pub mod body;
pub mod host;
pub mod limits;
pub mod method;
pub mod uri;
