//! The self-audit: every setting of a built layer that weakens the policy or contradicts
//! another, as a finding with a stable id, a fix, and the OWASP, PCI-DSS and SOC 2 items it
//! bears on.
//!
//! [`SecurityLayerBuilder::build`](crate::SecurityLayerBuilder::build) runs the rules once over
//! the settings as given and logs each finding; [`SecurityLayer::audit`](crate::SecurityLayer)
//! returns the result, for a start-up log, a health page or a test that pins a deployment's
//! configuration. A finding the team has accepted is silenced by id, and a pipeline can refuse
//! to build a layer that still has findings at or above a severity.
//!
//! # Example
//!
//! ```
//! use tower_security::audit::Severity;
//! use tower_security::guards::host::AllowedHosts;
//! use tower_security::headers::FrameOptions;
//! use tower_security::transport::https::HttpsEnforcement;
//! use tower_security::SecurityLayer;
//!
//! let layer = SecurityLayer::builder()
//!     .allowed_hosts(AllowedHosts::new().allow("app.example.com"))
//!     .https(HttpsEnforcement::redirect_to("app.example.com"))
//!     .frame_options(FrameOptions::SameOrigin)
//!     .build()?;
//! let audit = layer.audit();
//!
//! // [LOW] TS-FRAME-003 X-Frame-Options and CSP `frame-ancestors` disagree: ... Fix: ...
//! println!("{audit}");
//! assert_eq!(audit.highest(), Some(Severity::Low));
//! assert_eq!(audit.findings()[0].id(), "TS-FRAME-003");
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # Silencing and refusing
//!
//! ```
//! use tower_security::audit::Severity;
//! use tower_security::{ConfigErrorKind, SecurityLayer};
//!
//! // The strict preset names no host; this service sits behind a gateway that checks them.
//! let layer = SecurityLayer::builder()
//!     .silence_finding("TS-HOSTS-001")
//!     .refuse_findings_at(Severity::Medium)
//!     .build()?;
//! assert_eq!(layer.audit().silenced()[0].id(), "TS-HOSTS-001");
//!
//! let err = SecurityLayer::builder()
//!     .development_mode(true)
//!     .refuse_findings_at(Severity::High)
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err.kind(), ConfigErrorKind::Audit);
//! assert!(err.to_string().contains("TS-DEV-001"));
//! # Ok::<(), tower_security::ConfigError>(())
//! ```
//!
//! # Logging
//!
//! Each unsilenced finding is one `WARN` event on the [`events::TARGET`](crate::events::TARGET)
//! target with `event = "audit_finding"`, the `id`, the `severity` ([`Severity::as_str`]) and
//! the message; a silenced one is the same event at `DEBUG`, with `silenced = true`. The
//! presets are built once per process, so their findings are logged once.
//!
//! # Findings
//!
//! The OWASP Top 10 2021, PCI-DSS v4.0 and SOC 2 (2017 Trust Services Criteria) columns name
//! the item a finding bears on most directly, as a starting point for an assessor, not as a
//! claim of compliance. [`catalogue`] lists the same entries for code.
//!
#![doc = include_str!("../../docs/audit.md")]
//!
//! # Limitations
//!
//! - The rules read settings, not traffic: what the application itself sends (a header a
//!   handler sets, which the layer keeps) is not audited.
//! - A TLS-terminating proxy in front of the service cannot be told from the settings. With no
//!   [`TrustedProxies`](crate::transport::proxies::TrustedProxies), forwarded headers are
//!   dropped and a request whose transport nothing else tells is taken as HTTPS, so HTTPS
//!   enforcement never fires behind such a proxy. No finding reports this: an empty proxy list
//!   is right for a service that terminates TLS itself, and a finding on every correct
//!   configuration would only teach teams to silence it. Check the proxy list when deploying
//!   behind a load balancer.
//! - A weak [`SecretKey`](crate::cookies::SecretKey), and HSTS `preload` without a year and
//!   `includeSubDomains`, are refused by `build`, so no built layer can have them and no rule
//!   looks for them.
//! - Not audited yet: per-cookie exemptions (`script_readable`, `same_site_for`,
//!   `insecure_plain_http`), cross-origin exempt paths and trusted origins, fallback secret
//!   keys, `Referrer-Policy`, `Permissions-Policy`, COOP and the report-only CSP's sources.

use std::cmp::Reverse;
use std::fmt;

use crate::{ConfigError, SecurityLayerBuilder};

mod catalogue;
mod rules;
#[cfg(test)]
mod tests;

pub(crate) use catalogue::{A01, A02, A03, A04, A05, A07, A08, A09};

/// How much a finding weakens the policy, from a hint to an exposure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; not a weakness on its own.
    Info,
    /// A defence in depth is missing or inconsistent.
    Low,
    /// A control is off that stops a common attack.
    Medium,
    /// The policy's main protection against an attack class is gone.
    High,
    /// An exposure that needs no other weakness to exploit. No rule reports this today.
    Critical,
}

impl Severity {
    /// The severity in lowercase, as logged: `info`, `low`, `medium`, `high`, `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Uppercase, as in the audit report: `HIGH`.
impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_uppercase())
    }
}

/// One entry of the [`catalogue`]: what a finding id means, independent of any layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FindingInfo {
    id: &'static str,
    severity: Severity,
    summary: &'static str,
    remediation: &'static str,
    owasp: &'static str,
    pci_dss: &'static str,
    soc2: &'static str,
}

impl FindingInfo {
    /// The stable id, `TS-<AREA>-<NNN>`, such as `TS-HOSTS-001`. An id is never reused.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The severity every finding with this id has.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// What the finding means, in one line.
    pub fn summary(&self) -> &'static str {
        self.summary
    }

    /// How to fix it, naming the setting.
    pub fn remediation(&self) -> &'static str {
        self.remediation
    }

    /// The OWASP Top 10 2021 category, such as `A05:2021 Security Misconfiguration`.
    pub fn owasp(&self) -> &'static str {
        self.owasp
    }

    /// The PCI-DSS v4.0 requirement, such as `6.4.1`.
    pub fn pci_dss(&self) -> &'static str {
        self.pci_dss
    }

    /// The SOC 2 Trust Services Criterion, such as `CC6.6`.
    pub fn soc2(&self) -> &'static str {
        self.soc2
    }
}

/// Every finding id the self-audit can report, in the order of the table above.
pub fn catalogue() -> &'static [FindingInfo] {
    &catalogue::CATALOGUE
}

fn lookup(id: &str) -> Option<&'static FindingInfo> {
    catalogue::CATALOGUE.iter().find(|info| info.id == id)
}

/// One setting of a layer that the self-audit reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    info: &'static FindingInfo,
    message: String,
    silenced: bool,
}

impl Finding {
    /// The stable id, such as `TS-HOSTS-001`.
    pub fn id(&self) -> &'static str {
        self.info.id
    }

    /// How much the finding weakens the policy.
    pub fn severity(&self) -> Severity {
        self.info.severity
    }

    /// What was found: the catalogue's summary, with the values at fault where it helps.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How to fix it.
    pub fn remediation(&self) -> &'static str {
        self.info.remediation
    }

    /// The OWASP Top 10 2021 category.
    pub fn owasp(&self) -> &'static str {
        self.info.owasp
    }

    /// The PCI-DSS v4.0 requirement.
    pub fn pci_dss(&self) -> &'static str {
        self.info.pci_dss
    }

    /// The SOC 2 Trust Services Criterion.
    pub fn soc2(&self) -> &'static str {
        self.info.soc2
    }

    /// Whether [`silence_finding`](crate::SecurityLayerBuilder::silence_finding) accepted it.
    pub fn silenced(&self) -> bool {
        self.silenced
    }

    /// The catalogue entry of this finding's id.
    pub fn info(&self) -> &'static FindingInfo {
        self.info
    }
}

/// `[HIGH] TS-HSTS-001 <message> Fix: <remediation>`, with ` (silenced)` when silenced.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} {}. Fix: {}.",
            self.severity(),
            self.id(),
            self.message,
            self.remediation()
        )?;
        if self.silenced {
            f.write_str(" (silenced)")?;
        }
        Ok(())
    }
}

/// The result of the self-audit of one layer, from
/// [`SecurityLayer::audit`](crate::SecurityLayer::audit).
///
/// Findings come most severe first, then in catalogue order. Its `Display` form is one line
/// per finding, silenced ones last, or `no findings`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    findings: Vec<Finding>,
    silenced: Vec<Finding>,
}

impl Audit {
    /// The findings not silenced.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings silenced with
    /// [`silence_finding`](crate::SecurityLayerBuilder::silence_finding).
    pub fn silenced(&self) -> &[Finding] {
        &self.silenced
    }

    /// Whether no unsilenced finding remains.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The severity of the most severe unsilenced finding.
    pub fn highest(&self) -> Option<Severity> {
        self.findings.iter().map(Finding::severity).max()
    }
}

impl fmt::Display for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() && self.silenced.is_empty() {
            return f.write_str("no findings");
        }
        for (i, finding) in self.findings.iter().chain(&self.silenced).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// The builder's audit settings.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditSettings {
    pub(crate) silenced: Vec<&'static str>,
    pub(crate) refuse_at: Option<Severity>,
}

impl AuditSettings {
    /// Checks the silenced ids, runs the rules over `settings`, logs the findings, and
    /// refuses them if asked to.
    pub(crate) fn run(&self, settings: &SecurityLayerBuilder) -> Result<Audit, ConfigError> {
        if let Some(unknown) = self.silenced.iter().find(|id| lookup(id).is_none()) {
            return Err(ConfigError::invalid(
                "audit.silence",
                unknown,
                "a finding id such as TS-HOSTS-001",
            ));
        }
        let mut all: Vec<(usize, Finding)> = rules::check(settings)
            .into_iter()
            // Every id a rule reports is in the catalogue; the module's tests check it.
            .filter_map(|(id, detail)| {
                let index = catalogue::CATALOGUE.iter().position(|i| i.id == id)?;
                let info = &catalogue::CATALOGUE[index];
                let message = match detail {
                    Some(detail) => format!("{} ({detail})", info.summary),
                    None => info.summary.to_owned(),
                };
                let silenced = self.silenced.contains(&id);
                Some((
                    index,
                    Finding {
                        info,
                        message,
                        silenced,
                    },
                ))
            })
            .collect();
        all.sort_by_key(|(index, finding)| (Reverse(finding.severity()), *index));
        let (silenced, findings): (Vec<Finding>, Vec<Finding>) =
            all.into_iter().map(|(_, f)| f).partition(|f| f.silenced);
        let audit = Audit { findings, silenced };

        audit.log();
        match self.refuse_at {
            Some(floor) => match audit.findings.iter().find(|f| f.severity() >= floor) {
                Some(finding) => Err(ConfigError::audit(
                    finding.id(),
                    "no unsilenced finding at or above the severity given to \
                     `refuse_findings_at`: fix it, or accept it with `silence_finding`",
                )),
                None => Ok(audit),
            },
            None => Ok(audit),
        }
    }
}

impl Audit {
    fn log(&self) {
        for finding in &self.findings {
            tracing::warn!(
                target: crate::events::TARGET,
                event = "audit_finding",
                id = finding.id(),
                severity = finding.severity().as_str(),
                "{}",
                finding.message
            );
        }
        for finding in &self.silenced {
            tracing::debug!(
                target: crate::events::TARGET,
                event = "audit_finding",
                id = finding.id(),
                severity = finding.severity().as_str(),
                silenced = true,
                "{}",
                finding.message
            );
        }
    }
}
