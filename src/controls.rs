//! What a built policy enforces, as a list an operator can log or an auditor can read.
//!
//! # Example
//!
//! ```
//! use tower_security::SecurityLayer;
//!
//! for control in SecurityLayer::strict().controls() {
//!     println!("{}: {} = {}", control.area(), control.name(), control.value());
//! }
//! ```

use std::fmt;

/// One active control of a [`SecurityLayer`](crate::SecurityLayer) and its effective setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Control {
    area: &'static str,
    name: String,
    value: String,
}

impl Control {
    pub(crate) fn new(area: &'static str, name: &str, value: String) -> Self {
        Self {
            area,
            name: name.to_owned(),
            value,
        }
    }

    /// The policy area, such as `security headers`.
    pub fn area(&self) -> &'static str {
        self.area
    }

    /// The control: a header name, or what the layer does.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The active value. A CSP shows `{nonce}` where each response carries its own nonce.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} = {}", self.area, self.name, self.value)
    }
}
