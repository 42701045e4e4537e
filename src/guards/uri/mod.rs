//! A request-target firewall: a path or query that different parsers could read differently is
//! refused, never repaired.
//!
//! A proxy, a router and a file system each decode a request target their own way. `/a/..%2fb`
//! is one segment to a router that matches before decoding and two, one of them `..`, to a
//! handler that decodes first; `/..;/admin` is `/admin` to a Java servlet container and a
//! harmless name to the proxy in front of it. Rewriting such a target into a canonical form
//! would only add one more interpretation, so the guard refuses it: well-behaved clients never
//! send these forms, since browsers resolve dot segments and escape what they must before
//! sending ([URL Standard], [RFC 3986 §5.2.4]).
//!
//! # Rules
//!
//! Each rule has a stable name, the `rule` of the security event a refusal emits, and each
//! can be switched off on its own with [`UriRules::relax`]. "Encoded" means `%` and two hex
//! digits in either case; "double-encoded" means `%25` followed by such an escape, which an
//! application that decodes twice reads as the character itself.
//!
//! | rule | refuses | status |
//! |---|---|---|
//! | `target-length` | a target over 8 KiB ([a limit](UriRules::max_target_length)) | 414 |
//! | `dot-segment` | a segment `.` or `..`: `/../`, `/%2e%2E/`, `/%252e/`, `/..;/` | 400 |
//! | `encoded-slash` | `%2f`, `%252f` | 400 |
//! | `backslash` | `\`, `%5c`, `%255c` | 400 |
//! | `path-parameter` | `;`, `%3b` | 400 |
//! | `control-character` | `%00`–`%1f`, `%7f`, and U+0080–U+009F raw or encoded | 400 |
//! | `invalid-percent-encoding` | `%` without two hex digits after it | 400 |
//! | `invalid-utf8` | not UTF-8 once decoded: `%c0%ae`, `%e0%80%af`, `%ed%a0%80`, `%ff` | 400 |
//! | `unicode-separator` | U+2028, U+2029 and the bidirectional controls, raw or encoded | 400 |
//! | `drive-letter` | a segment starting with a letter and `:`: `/C:`, `/x/%43%3a` | 400 |
//! | `invalid-target` | a path that neither starts with `/` nor is `*`, such as `CONNECT`'s | 400 |
//! | `query-length` | a query over 4 KiB ([a limit](UriRules::max_query_length)) | 400 |
//! | `query-parameters` | over 1000 parameters ([a limit](UriRules::max_query_parameters)) | 400 |
//! | `query-control-character` | `%00`–`%1f`, `%7f` in the query | 400 |
//! | `query-invalid-percent-encoding` | `%` without two hex digits after it in the query | 400 |
//!
//! The rules from `dot-segment` to `drive-letter` read the path only. The bidirectional
//! controls are U+061C, U+200E, U+200F, U+202A–U+202E and U+2066–U+2069 (UAX #9). A query
//! parameter is a non-empty pair between `&` or `;`. Limits are set by number and cannot be
//! relaxed.
//!
//! Segments are split at `/` and, for `dot-segment` and `drive-letter`, also at every form of
//! `\` and at encoded slashes, the way a Windows file system or a decoding handler splits
//! them: relaxing `encoded-slash` does not let `/a%2f..%2fb` through. For those two rules,
//! only the part of a segment before `;` counts, as a servlet container reads it. When a
//! target breaks several rules, `target-length`, `invalid-target` and `query-length` are
//! reported first, then the first break found reading the path and then the query from left
//! to right.
//!
//! # Example
//!
//! ```
//! use tower_security::guards::uri::UriRules;
//!
//! // A file service whose names contain `;`, and whose signed download links carry long
//! // queries.
//! let rules = UriRules::strict()
//!     .relax("path-parameter")
//!     .max_query_length(16 * 1024);
//!
//! assert_ne!(rules, UriRules::default());
//! assert!(UriRules::RULES.contains(&"encoded-slash"));
//! ```
//!
//! # Limitations
//!
//! - Double encoding is recognised only as `%25` followed by two literal hex digits, and only
//!   for `.`, `/` and `\`: `%25%32%65`, triple encoding and a double-encoded control
//!   character pass. An application that decodes a path more than once must check what each
//!   decoding produces.
//! - Characters that Unicode normalisation (NFKC) or a Windows "best fit" code page turns into
//!   `.`, `/` or `\`, such as U+FF0E, U+FF0F and U+FF3C, pass.
//! - The query is checked for escapes and size only: it is not decoded as UTF-8, so C1
//!   controls, bidirectional controls and encoded slashes in it pass, and `+` is not read as
//!   a space.
//! - `*` passes whatever the method, although RFC 9112 §3.2.4 allows it for `OPTIONS` only;
//!   the guard sees the target alone.
//! - Headers that some frameworks let override the path, such as `X-Original-URL`, are not
//!   checked.
//!
//! [URL Standard]: https://url.spec.whatwg.org/#path-state
//! [RFC 3986 §5.2.4]: https://www.rfc-editor.org/rfc/rfc3986#section-5.2.4

use http::{StatusCode, Uri};

use self::decode::{Form, Step, Unit, Utf8, hex_pair};
use crate::ConfigError;

mod decode;

/// The setting of [`UriRules::relax`], for errors.
const RELAX: &str = "uri.relax";
/// Must name every entry of [`UriRules::RULES`]; a test keeps the two in step.
const RULE_FORM: &str = "one of dot-segment, encoded-slash, backslash, path-parameter, \
    control-character, invalid-percent-encoding, invalid-utf8, unicode-separator, \
    drive-letter, invalid-target, query-control-character, query-invalid-percent-encoding \
    (limits are set with the max_ setters)";
/// The form every limit expects.
const LIMIT_FORM: &str = "a limit of at least 1 (set a large number to lift it)";

/// Which request targets a service accepts: size limits and rules against ambiguous paths
/// and queries, all on by default.
///
/// The [module documentation](self) lists the rules. [`UriRules::strict`] is the default.
///
/// # What is refused
///
/// Building the layer returns a [`ConfigError`] for a limit of 0, and for a rule name given
/// to [`relax`](Self::relax) that is not in [`RULES`](Self::RULES) or is given twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriRules {
    max_target_length: usize,
    max_query_length: usize,
    max_query_parameters: usize,
    relaxed: Vec<String>,
}

impl Default for UriRules {
    fn default() -> Self {
        Self::strict()
    }
}

impl UriRules {
    /// The names of the rules that [`relax`](Self::relax) accepts, in the order of the
    /// [module documentation](self)'s table, limits left out.
    pub const RULES: &'static [&'static str] = &RULE_NAMES;

    /// Every rule on; a target of at most 8192 bytes, a query of at most 4096 bytes and 1000
    /// parameters.
    ///
    /// RFC 9112 §3 asks servers to accept request lines of at least 8000 octets, so 8 KiB
    /// refuses nothing a client can count on. 1000 parameters is PHP's `max_input_vars`.
    pub fn strict() -> Self {
        Self {
            max_target_length: 8 << 10,
            max_query_length: 4 << 10,
            max_query_parameters: 1000,
            relaxed: Vec::new(),
        }
    }

    /// Sets the longest target accepted, in bytes, answering `414 URI Too Long` (RFC 9110
    /// §15.5.15) beyond it. An absolute-form target counts its scheme and authority too.
    pub fn max_target_length(mut self, bytes: usize) -> Self {
        self.max_target_length = bytes;
        self
    }

    /// Sets the longest query accepted, in bytes, without the `?`.
    pub fn max_query_length(mut self, bytes: usize) -> Self {
        self.max_query_length = bytes;
        self
    }

    /// Sets the most query parameters accepted: non-empty pairs between `&` or `;`.
    pub fn max_query_parameters(mut self, count: usize) -> Self {
        self.max_query_parameters = count;
        self
    }

    /// Switches off one rule by its name, such as `"encoded-slash"` for an application that
    /// takes encoded slashes in identifiers; the other rules still apply.
    ///
    /// A name not in [`RULES`](Self::RULES) is a [`ConfigError`] when the layer is built.
    pub fn relax(mut self, rule: impl Into<String>) -> Self {
        self.relaxed.push(rule.into());
        self
    }

    /// The rules switched off with [`relax`](Self::relax), for the self-audit.
    pub(crate) fn relaxed(&self) -> &[String] {
        &self.relaxed
    }

    /// Validates the settings and puts them in the form [`CompiledUriRules::check`] reads.
    pub(crate) fn compile(&self) -> Result<CompiledUriRules, ConfigError> {
        let limits = [
            ("uri.max_target_length", self.max_target_length),
            ("uri.max_query_length", self.max_query_length),
            ("uri.max_query_parameters", self.max_query_parameters),
        ];
        for (setting, value) in limits {
            if value == 0 {
                return Err(ConfigError::invalid(setting, "0", LIMIT_FORM));
            }
        }

        let mut enabled = Rule::EVERY;
        for name in &self.relaxed {
            let rule = Rule::RELAXABLE
                .into_iter()
                .find(|rule| rule.name() == name)
                .ok_or_else(|| ConfigError::invalid(RELAX, name, RULE_FORM))?;
            if enabled & rule.bit() == 0 {
                return Err(ConfigError::duplicate(RELAX, name, "each rule once"));
            }
            enabled &= !rule.bit();
        }

        Ok(CompiledUriRules {
            max_target_length: self.max_target_length,
            max_query_length: self.max_query_length,
            max_query_parameters: self.max_query_parameters,
            enabled,
        })
    }
}

/// The validated form of [`UriRules`].
#[derive(Clone, Debug)]
pub(crate) struct CompiledUriRules {
    /// Bytes, scheme and authority included.
    max_target_length: usize,
    /// Bytes, without the `?`.
    max_query_length: usize,
    /// Non-empty pairs.
    max_query_parameters: usize,
    /// One [`Rule::bit`] per rule still on.
    enabled: u16,
}

impl CompiledUriRules {
    /// The control's summary for [`SecurityLayer::controls`](crate::SecurityLayer::controls).
    pub(crate) fn describe(&self) -> String {
        let relaxed: Vec<&str> = Rule::RELAXABLE
            .into_iter()
            .filter(|rule| !self.is_on(*rule))
            .map(Rule::name)
            .collect();
        let rules = match relaxed.as_slice() {
            [] => String::from("all path and query rules"),
            names => format!("relaxed: {}", names.join(", ")),
        };
        format!(
            "target <= {} bytes, query <= {} bytes and {} parameters; {rules}",
            self.max_target_length, self.max_query_length, self.max_query_parameters
        )
    }

    /// Decides whether a request with this target may reach the service.
    pub(crate) fn check(&self, uri: &Uri) -> Result<(), UriRefusal> {
        self.judge(uri).map_err(|rule| UriRefusal {
            status: rule.status(),
            rule: rule.name(),
        })
    }

    /// The rule that refuses `uri`, if any.
    fn judge(&self, uri: &Uri) -> Result<(), Rule> {
        if target_length(uri) > self.max_target_length {
            return Err(Rule::TargetLength);
        }
        let path = uri.path();
        // RFC 9112 §3.2: origin-form starts with `/`, asterisk-form is `*` alone, and `http`
        // reports absolute-form with an empty path as `/`. What remains is authority-form.
        if path != "*" && !path.starts_with('/') {
            self.flag(Rule::InvalidTarget)?;
        }
        let query = uri.query().unwrap_or_default();
        if query.len() > self.max_query_length {
            return Err(Rule::QueryLength);
        }
        self.check_path(path.as_bytes())?;
        self.check_query(query.as_bytes())
    }

    /// Whether `rule` is not relaxed.
    fn is_on(&self, rule: Rule) -> bool {
        self.enabled & rule.bit() != 0
    }

    /// Refuses with `rule` unless it is relaxed.
    fn flag(&self, rule: Rule) -> Result<(), Rule> {
        if self.is_on(rule) { Err(rule) } else { Ok(()) }
    }

    /// One pass over the path, decoding escapes as it goes and allocating nothing.
    fn check_path(&self, path: &[u8]) -> Result<(), Rule> {
        if is_plain(path) {
            return Ok(());
        }
        self.check_escaped_path(path)
    }

    /// The full pass, for paths with escapes or characters beyond the plain set.
    fn check_escaped_path(&self, path: &[u8]) -> Result<(), Rule> {
        let mut rest = path;
        let mut segment = Segment::default();
        let mut utf8 = Utf8::default();
        while let Some(Unit { byte, form, width }) = Unit::read(rest) {
            rest = rest.get(width..).unwrap_or_default();
            if form == Form::StrayPercent {
                self.flag(Rule::InvalidPercentEncoding)?;
            }

            // UTF-8 is judged on the path decoded once, as the application decodes it: there a
            // double escape is `%` and two ASCII hex digits.
            let decoded = if form == Form::DoubleEncoded {
                b'%'
            } else {
                byte
            };
            match utf8.push(decoded) {
                Step::Pending => {}
                Step::Char(c) => self.check_char(c)?,
                Step::Invalid => self.flag(Rule::InvalidUtf8)?,
            }
            if byte.is_ascii_control() {
                self.flag(Rule::ControlCharacter)?;
            }

            match byte {
                b'/' | b'\\' => {
                    if byte == b'\\' {
                        self.flag(Rule::Backslash)?;
                    } else if matches!(form, Form::Encoded | Form::DoubleEncoded) {
                        // RFC 3986 §2.2: `%2F` is data, not a delimiter, to a router that
                        // matches before decoding, and a delimiter to code that decodes first.
                        self.flag(Rule::EncodedSlash)?;
                    }
                    self.end_segment(&segment)?;
                    segment = Segment::default();
                }
                _ => {
                    // RFC 3986 §3.3 lets a segment carry `;` parameters, which servlet
                    // containers strip before routing and most proxies do not.
                    if byte == b';' {
                        self.flag(Rule::PathParameter)?;
                    }
                    if segment.push(byte) {
                        self.flag(Rule::DriveLetter)?;
                    }
                }
            }
        }
        if utf8.is_pending() {
            self.flag(Rule::InvalidUtf8)?;
        }
        self.end_segment(&segment)
    }

    /// Checks a segment once its end is reached.
    fn end_segment(&self, segment: &Segment) -> Result<(), Rule> {
        // RFC 3986 §5.2.4 removes these segments with the one before; the URL Standard reads
        // `%2e` as `.` there too.
        if segment.is_dot_segment() {
            self.flag(Rule::DotSegment)?;
        }
        Ok(())
    }

    /// Checks a decoded character beyond ASCII.
    fn check_char(&self, c: u32) -> Result<(), Rule> {
        match c {
            // C1 controls (ISO 6429): U+0085 is a line break to some log readers.
            0x80..=0x9f => self.flag(Rule::ControlCharacter),
            // Line and paragraph separators split log lines and JavaScript strings; the
            // bidirectional controls (UAX #9) reorder how a path reads in a log or a terminal.
            0x061c | 0x200e | 0x200f | 0x2028..=0x202e | 0x2066..=0x2069 => {
                self.flag(Rule::UnicodeSeparator)
            }
            _ => Ok(()),
        }
    }

    /// One pass over the query: escapes and the parameter count.
    fn check_query(&self, query: &[u8]) -> Result<(), Rule> {
        let mut parameters = 0usize;
        let mut in_pair = false;
        for (i, &byte) in query.iter().enumerate() {
            if matches!(byte, b'&' | b';') {
                in_pair = false;
                continue;
            }
            if !in_pair {
                in_pair = true;
                parameters += 1;
                if parameters > self.max_query_parameters {
                    return Err(Rule::QueryParameters);
                }
            }
            if byte == b'%' {
                match query.get(i + 1..i + 3).and_then(hex_pair) {
                    // `%0d%0a` splits a header or log line once a handler copies the value.
                    Some(decoded) if decoded.is_ascii_control() => {
                        self.flag(Rule::QueryControlCharacter)?;
                    }
                    Some(_) => {}
                    None => self.flag(Rule::QueryInvalidPercentEncoding)?,
                }
            }
        }
        Ok(())
    }
}

/// Why a target was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UriRefusal {
    /// `414 URI Too Long` for `target-length`, else `400 Bad Request`.
    pub(crate) status: StatusCode,
    /// The rule's stable name, such as `dot-segment`.
    pub(crate) rule: &'static str,
}

/// The rules, each named by [`Rule::name`]; the relaxable ones first, in the order of
/// [`UriRules::RULES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    DotSegment,
    EncodedSlash,
    Backslash,
    PathParameter,
    ControlCharacter,
    InvalidPercentEncoding,
    InvalidUtf8,
    UnicodeSeparator,
    DriveLetter,
    InvalidTarget,
    QueryControlCharacter,
    QueryInvalidPercentEncoding,
    TargetLength,
    QueryLength,
    QueryParameters,
}

/// [`UriRules::RULES`], built from [`Rule::name`] so the two cannot disagree.
const RULE_NAMES: [&str; Rule::RELAXABLE.len()] = {
    let mut names = [""; Rule::RELAXABLE.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Rule::RELAXABLE[i].name();
        i += 1;
    }
    names
};

impl Rule {
    /// The rules [`UriRules::relax`] can switch off: all but the limits.
    const RELAXABLE: [Self; 12] = [
        Self::DotSegment,
        Self::EncodedSlash,
        Self::Backslash,
        Self::PathParameter,
        Self::ControlCharacter,
        Self::InvalidPercentEncoding,
        Self::InvalidUtf8,
        Self::UnicodeSeparator,
        Self::DriveLetter,
        Self::InvalidTarget,
        Self::QueryControlCharacter,
        Self::QueryInvalidPercentEncoding,
    ];

    /// Every rule's bit; `QueryParameters` is the last variant.
    const EVERY: u16 = (1 << (Self::QueryParameters as u16 + 1)) - 1;

    /// The rule's bit in [`CompiledUriRules::enabled`].
    const fn bit(self) -> u16 {
        1 << self as u16
    }

    /// The stable name, for configuration, events and logs.
    const fn name(self) -> &'static str {
        match self {
            Self::DotSegment => "dot-segment",
            Self::EncodedSlash => "encoded-slash",
            Self::Backslash => "backslash",
            Self::PathParameter => "path-parameter",
            Self::ControlCharacter => "control-character",
            Self::InvalidPercentEncoding => "invalid-percent-encoding",
            Self::InvalidUtf8 => "invalid-utf8",
            Self::UnicodeSeparator => "unicode-separator",
            Self::DriveLetter => "drive-letter",
            Self::InvalidTarget => "invalid-target",
            Self::QueryControlCharacter => "query-control-character",
            Self::QueryInvalidPercentEncoding => "query-invalid-percent-encoding",
            Self::TargetLength => "target-length",
            Self::QueryLength => "query-length",
            Self::QueryParameters => "query-parameters",
        }
    }

    /// The status of a refusal by this rule.
    fn status(self) -> StatusCode {
        match self {
            Self::TargetLength => StatusCode::URI_TOO_LONG,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The length of `uri.to_string()`, without building it: `http` writes the scheme and `://`,
/// the authority, the path (`/` for an empty one after an authority), then `?` and the query.
fn target_length(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |scheme| scheme.len() + 3);
    let authority = uri
        .authority()
        .map_or(0, |authority| authority.as_str().len());
    let query = uri.query().map_or(0, |query| query.len() + 1);
    scheme + authority + uri.path().len() + query
}

/// What has been read of the current segment, up to its first `;`.
#[derive(Default)]
struct Segment {
    /// Characters, escapes counted as one.
    chars: usize,
    /// How many of them are `.`.
    dots: usize,
    /// Whether the first is an ASCII letter.
    starts_with_letter: bool,
    /// Past a `;`: the rest is a parameter, which servlet containers drop before resolving
    /// the segment, so `..;x` is `..` to them.
    in_parameter: bool,
}

impl Segment {
    /// Adds a decoded character; returns whether the segment now starts like a Windows drive,
    /// which turns a relative file path into an absolute one.
    fn push(&mut self, byte: u8) -> bool {
        if self.in_parameter || byte == b';' {
            self.in_parameter = true;
            return false;
        }
        self.chars += 1;
        if byte == b'.' {
            self.dots += 1;
        }
        match self.chars {
            1 => {
                self.starts_with_letter = byte.is_ascii_alphabetic();
                false
            }
            2 => self.starts_with_letter && byte == b':',
            _ => false,
        }
    }

    /// Whether the segment is `.` or `..` (RFC 3986 §3.3).
    fn is_dot_segment(&self) -> bool {
        matches!(self.chars, 1 | 2) && self.dots == self.chars
    }
}

/// Bytes that break no rule on their own: letters, digits, `/`, `-`, `_`, `~` and `.`
/// (RFC 3986 §2.3's unreserved set and the delimiter).
const fn plain_bytes() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'~' | b'.');
        b += 1;
    }
    table
}

static PLAIN_BYTES: [bool; 256] = plain_bytes();

/// Whether a path is made of plain bytes only, with no segment that starts with a dot: such a
/// path has no escape, control, parameter, drive letter or dot segment, so every rule passes
/// and most requests skip the decoding pass.
fn is_plain(path: &[u8]) -> bool {
    let mut previous = b'/';
    for &byte in path {
        if !PLAIN_BYTES[usize::from(byte)] || (byte == b'.' && previous == b'/') {
            return false;
        }
        previous = byte;
    }
    true
}

#[cfg(test)]
mod tests;
