//! [`SecurityLayer`]: the presets and the [`Layer`] implementation.

use std::fmt;
use std::sync::{Arc, OnceLock};

use tower_layer::Layer;

use crate::Control;
use crate::audit::Audit;
use crate::builder::SecurityLayerBuilder;
use crate::policy::Policy;
use crate::service::Security;

/// Applies a security policy to every request and response of the service it wraps.
///
/// A `SecurityLayer` holds one compiled, immutable policy behind an [`Arc`]: cloning it, or
/// layering it onto many services, shares that policy and renders nothing again.
///
/// # Example
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_security::SecurityLayer;
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(SecurityLayer::strict());
/// ```
#[derive(Clone)]
pub struct SecurityLayer {
    policy: Arc<Policy>,
}

impl SecurityLayer {
    /// The strict policy: every header in the crate's [defaults table](crate#defaults) with the
    /// value shown there, a fresh CSP nonce on every request, and fingerprinting headers
    /// removed.
    ///
    /// Built once per process and shared after that.
    pub fn strict() -> Self {
        static STRICT: OnceLock<SecurityLayer> = OnceLock::new();
        STRICT
            .get_or_init(|| SecurityLayerBuilder::strict().build_preset())
            .clone()
    }

    /// A policy for services whose pages other sites embed, or that load third-party assets:
    /// the strict policy with these differences.
    ///
    /// - `Content-Security-Policy`: scripts still need the nonce, and `'strict-dynamic'` lets
    ///   them load third-party scripts; images, fonts, media, styles, frames and `fetch` may
    ///   use any HTTPS origin; `frame-ancestors 'self' https:`.
    /// - `X-Frame-Options`: not sent; it cannot name other sites, and `frame-ancestors`
    ///   decides instead.
    /// - `Cross-Origin-Embedder-Policy`: not sent; `require-corp` blocks every third-party
    ///   asset that does not send CORP.
    /// - `Cross-Origin-Resource-Policy: cross-origin`.
    /// - `Cross-Origin-Opener-Policy: same-origin-allow-popups`, for OAuth and payment popups.
    /// - `Referrer-Policy: strict-origin-when-cross-origin`.
    ///
    /// Narrow `frame-ancestors` to the sites that really embed you with
    /// [`SecurityLayerBuilder::content_security_policy`].
    pub fn embeddable() -> Self {
        static EMBEDDABLE: OnceLock<SecurityLayer> = OnceLock::new();
        EMBEDDABLE
            .get_or_init(|| SecurityLayerBuilder::embeddable().build_preset())
            .clone()
    }

    /// A builder that starts from [`strict`](Self::strict).
    pub fn builder() -> SecurityLayerBuilder {
        SecurityLayerBuilder::strict()
    }

    /// The controls this layer applies and their active values, for a start-up log or an
    /// audit record.
    pub fn controls(&self) -> Vec<Control> {
        let mut controls = Vec::new();
        self.policy.describe(&mut controls);
        controls
    }

    /// The self-audit of the settings this layer was built from: each weakened or
    /// inconsistent setting as a [`Finding`](crate::audit::Finding) with a stable id, a fix
    /// and its compliance mappings. The rules run once, at build time.
    ///
    /// ```
    /// use tower_security::guards::host::AllowedHosts;
    /// use tower_security::transport::https::HttpsEnforcement;
    /// use tower_security::SecurityLayer;
    ///
    /// let layer = SecurityLayer::builder()
    ///     .allowed_hosts(AllowedHosts::new().allow("app.example.com"))
    ///     .https(HttpsEnforcement::redirect_to("app.example.com"))
    ///     .build()?;
    ///
    /// assert!(layer.audit().is_clean());
    /// # Ok::<(), tower_security::ConfigError>(())
    /// ```
    pub fn audit(&self) -> Audit {
        self.policy.audit.clone()
    }

    pub(crate) fn from_policy(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for SecurityLayer {
    type Service = Security<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Security::new(inner, Arc::clone(&self.policy))
    }
}

impl fmt::Debug for SecurityLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityLayer")
            .field("policy", &self.policy)
            .finish()
    }
}
