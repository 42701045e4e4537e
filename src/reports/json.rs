//! A bounded JSON reader that picks violation reports out of a request body.
//!
//! The reader checks the whole document against the JSON grammar (RFC 8259) in one pass,
//! without recursion: nesting lives on an explicit stack of at most [`MAX_DEPTH`] frames, so a
//! document nested a thousand deep is refused at the ninth level. It keeps only the few
//! fields a report event needs; every other value is checked and skipped. Strings without
//! escapes are borrowed from the body, so reading costs no allocation beyond the reports.

use std::borrow::Cow;
use std::mem;

/// Deepest nesting of objects and arrays accepted. A Reporting API batch nests three deep
/// (the array, a report, its body); a `report-uri` document two.
pub(super) const MAX_DEPTH: usize = 8;

/// Most reports kept from one document; later ones are checked and dropped.
pub(super) const MAX_REPORTS: usize = 20;

/// The fields of one violation report the collector reads, as the browser sent them.
///
/// Both spellings fill the same field: the `report-uri` one (`document-uri`, CSP Level 2
/// §4.4) and the Reporting API one (`documentURL`, CSP3 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Report<'a> {
    /// `document-uri` or `documentURL`; in a Reporting API batch, the report's `url` when
    /// the body has none.
    pub(super) document: Option<Cow<'a, str>>,
    /// `effective-directive` or `effectiveDirective`.
    pub(super) effective_directive: Option<Cow<'a, str>>,
    /// `violated-directive`, which CSP Level 2 browsers send with the directive's sources.
    pub(super) violated_directive: Option<Cow<'a, str>>,
    /// `blocked-uri` or `blockedURL`: a URL, or a keyword such as `inline` or `eval`.
    // Read outside tests once `Event` has a field for the blocked resource.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) blocked: Option<Cow<'a, str>>,
    /// `disposition`: `enforce`, or `report` for a report-only policy.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) disposition: Option<Cow<'a, str>>,
    /// `source-file` or `sourceFile`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) source_file: Option<Cow<'a, str>>,
    /// `line-number` or `lineNumber`, when it is a whole number.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) line: Option<u64>,
}

impl<'a> Report<'a> {
    /// The directive that was violated, without its sources: the effective one if given.
    pub(super) fn directive(&self) -> Option<&str> {
        self.effective_directive
            .as_deref()
            .or(self.violated_directive.as_deref())
            .and_then(|directive| directive.split_ascii_whitespace().next())
    }

    /// Stores `value` as the field `key` names, if it is one the collector reads and `value`
    /// has the field's type; anything else is ignored, so one odd field does not cost the
    /// whole report.
    fn set(&mut self, key: &str, value: Scalar<'a>) {
        let slot = match key {
            "document-uri" | "documentURL" => &mut self.document,
            "effective-directive" | "effectiveDirective" => &mut self.effective_directive,
            "violated-directive" => &mut self.violated_directive,
            "blocked-uri" | "blockedURL" => &mut self.blocked,
            "disposition" => &mut self.disposition,
            "source-file" | "sourceFile" => &mut self.source_file,
            "line-number" | "lineNumber" => {
                if let Scalar::Number(number) = value {
                    self.line = number.parse().ok();
                }
                return;
            }
            _ => return,
        };
        if let Scalar::String(text) = value {
            *slot = Some(text);
        }
    }
}

/// Why a body is not a report document. Each is answered with `400`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Invalid {
    /// Not UTF-8, or not JSON.
    Syntax,
    /// Objects and arrays nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// JSON, but neither a `{"csp-report": {…}}` object nor an array of reports.
    NotReports,
}

/// The reports in `body`, at most [`MAX_REPORTS`] of them, in document order.
///
/// A top-level object is a `report-uri` document and must hold a `csp-report` object. A
/// top-level array is a Reporting API batch: each element whose `type` is `csp-violation`
/// and whose `body` is an object is a report; other elements, such as reports of other types
/// sent to the same endpoint, are skipped.
pub(super) fn read_reports(body: &[u8]) -> Result<Vec<Report<'_>>, Invalid> {
    // RFC 8259 §8.1: JSON between systems is UTF-8; a byte order mark may be ignored.
    let text = std::str::from_utf8(body).map_err(|_| Invalid::Syntax)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    Reader::new(text).run()
}

/// A scalar value, as far as the report fields care.
enum Scalar<'a> {
    String(Cow<'a, str>),
    /// The number's text, checked against the grammar.
    Number(&'a str),
    /// `true`, `false` or `null`.
    Literal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

/// What an open object or array is to the report structure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The top-level value.
    Document,
    /// An element of a Reporting API batch: `{"type": …, "url": …, "body": {…}}`.
    Envelope,
    /// The object holding a report's fields.
    Report,
    /// Anything else, read only to be checked.
    Other,
}

struct Frame<'a> {
    container: Container,
    role: Role,
    /// In an object, the key whose value comes next.
    key: Option<Cow<'a, str>>,
}

/// What the grammar allows at the current position.
#[derive(Clone, Copy)]
enum Expect {
    Value,
    /// A value or `]`, right after `[`.
    FirstValue,
    /// A key or `}`, right after `{`.
    FirstKey,
    Key,
    /// `,` or the end of the enclosing container, or the end of the input at the top.
    Separator,
}

/// The fields of the Reporting API element being read.
#[derive(Default)]
struct Envelope<'a> {
    is_csp: bool,
    url: Option<Cow<'a, str>>,
    body: Option<Report<'a>>,
}

struct Reader<'a> {
    scan: Scanner<'a>,
    stack: Vec<Frame<'a>>,
    root: Option<Container>,
    /// The report whose fields are being read.
    current: Report<'a>,
    envelope: Envelope<'a>,
    reports: Vec<Report<'a>>,
    /// Reports found, kept or not.
    found: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            scan: Scanner { text, pos: 0 },
            stack: Vec::with_capacity(MAX_DEPTH),
            root: None,
            current: Report::default(),
            envelope: Envelope::default(),
            reports: Vec::new(),
            found: 0,
        }
    }

    fn run(mut self) -> Result<Vec<Report<'a>>, Invalid> {
        let mut expect = Expect::Value;
        loop {
            self.scan.skip_whitespace();
            expect = match expect {
                Expect::Value => self.value()?,
                Expect::FirstValue if self.scan.eat(b']') => self.close(),
                Expect::FirstValue => self.value()?,
                Expect::FirstKey if self.scan.eat(b'}') => self.close(),
                Expect::FirstKey | Expect::Key => self.key()?,
                Expect::Separator => {
                    let Some(frame) = self.stack.last() else {
                        if self.scan.at_end() {
                            break;
                        }
                        return Err(Invalid::Syntax);
                    };
                    match (frame.container, self.scan.bump()) {
                        (Container::Object, Some(b',')) => Expect::Key,
                        (Container::Array, Some(b',')) => Expect::Value,
                        (Container::Object, Some(b'}')) | (Container::Array, Some(b']')) => {
                            self.close()
                        }
                        _ => return Err(Invalid::Syntax),
                    }
                }
            };
        }

        match self.root {
            Some(Container::Array) => Ok(self.reports),
            Some(Container::Object) if self.found > 0 => Ok(self.reports),
            _ => Err(Invalid::NotReports),
        }
    }

    /// Reads a key and its colon.
    fn key(&mut self) -> Result<Expect, Invalid> {
        if self.scan.peek() != Some(b'"') {
            return Err(Invalid::Syntax);
        }
        let key = self.scan.string()?;
        self.scan.skip_whitespace();
        if !self.scan.eat(b':') {
            return Err(Invalid::Syntax);
        }
        if let Some(frame) = self.stack.last_mut() {
            // Only the frames that hold report fields need their keys.
            frame.key = (frame.role != Role::Other).then_some(key);
        }

        Ok(Expect::Value)
    }

    fn value(&mut self) -> Result<Expect, Invalid> {
        let scalar = match self.scan.peek() {
            Some(b'{') => return self.open(Container::Object),
            Some(b'[') => return self.open(Container::Array),
            Some(b'"') => Scalar::String(self.scan.string()?),
            Some(b'-' | b'0'..=b'9') => Scalar::Number(self.scan.number()?),
            Some(b't') => self.scan.literal("true")?,
            Some(b'f') => self.scan.literal("false")?,
            Some(b'n') => self.scan.literal("null")?,
            _ => return Err(Invalid::Syntax),
        };
        let Some(frame) = self.stack.last_mut() else {
            // A lone scalar is JSON, but no report; `run` says so once the input is checked.
            return Ok(Expect::Separator);
        };
        let key = frame.key.take();
        match (frame.role, key) {
            (Role::Report, Some(key)) => self.current.set(&key, scalar),
            (Role::Envelope, Some(key)) => match (&*key, scalar) {
                ("type", Scalar::String(kind)) => self.envelope.is_csp = kind == "csp-violation",
                ("url", Scalar::String(url)) => self.envelope.url = Some(url),
                _ => {}
            },
            _ => {}
        }

        Ok(Expect::Separator)
    }

    fn open(&mut self, container: Container) -> Result<Expect, Invalid> {
        if self.stack.len() == MAX_DEPTH {
            return Err(Invalid::TooDeep);
        }
        self.scan.pos += 1;
        let role = match self.stack.last_mut() {
            None => {
                self.root = Some(container);
                Role::Document
            }
            Some(parent) => {
                let key = parent.key.take();
                match (parent.role, parent.container, container, key.as_deref()) {
                    (Role::Document, Container::Object, Container::Object, Some("csp-report"))
                    | (Role::Envelope, _, Container::Object, Some("body")) => {
                        self.current = Report::default();
                        Role::Report
                    }
                    (Role::Document, Container::Array, Container::Object, _) => {
                        self.envelope = Envelope::default();
                        Role::Envelope
                    }
                    _ => Role::Other,
                }
            }
        };
        self.stack.push(Frame {
            container,
            role,
            key: None,
        });

        Ok(match container {
            Container::Object => Expect::FirstKey,
            Container::Array => Expect::FirstValue,
        })
    }

    /// Ends the innermost container; its closing bracket has been read.
    fn close(&mut self) -> Expect {
        let Some(frame) = self.stack.pop() else {
            return Expect::Separator;
        };
        match frame.role {
            Role::Report => {
                let report = mem::take(&mut self.current);
                match self.stack.last() {
                    Some(parent) if parent.role == Role::Envelope => {
                        self.envelope.body = Some(report);
                    }
                    _ => self.keep(report),
                }
            }
            Role::Envelope => {
                let envelope = mem::take(&mut self.envelope);
                if let (true, Some(mut report)) = (envelope.is_csp, envelope.body) {
                    if report.document.is_none() {
                        report.document = envelope.url;
                    }
                    self.keep(report);
                }
            }
            Role::Document | Role::Other => {}
        }

        Expect::Separator
    }

    fn keep(&mut self, report: Report<'a>) {
        self.found += 1;
        if self.reports.len() < MAX_REPORTS {
            self.reports.push(report);
        }
    }
}

/// The lexical half of the reader: whitespace, strings, numbers and literals.
struct Scanner<'a> {
    text: &'a str,
    /// Always on a character boundary: it only ever steps over ASCII bytes, or to the end of
    /// a run that stops at one.
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    /// RFC 8259 §2: space, tab, line feed and carriage return only.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &str) -> Result<Scalar<'a>, Invalid> {
        if !self.text[self.pos..].starts_with(word) {
            return Err(Invalid::Syntax);
        }
        self.pos += word.len();
        Ok(Scalar::Literal)
    }

    /// A number (RFC 8259 §6): `-`, an integer without leading zeros, then an optional
    /// fraction and exponent.
    fn number(&mut self) -> Result<&'a str, Invalid> {
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return Err(Invalid::Syntax);
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(Invalid::Syntax);
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return Err(Invalid::Syntax);
            }
        }
        Ok(&self.text[start..self.pos])
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A string (RFC 8259 §7), at its opening quote: borrowed when it has no escape.
    fn string(&mut self) -> Result<Cow<'a, str>, Invalid> {
        self.pos += 1;
        let start = self.pos;
        self.plain_run();
        match self.bump() {
            Some(b'"') => return Ok(Cow::Borrowed(&self.text[start..self.pos - 1])),
            Some(b'\\') => {}
            _ => return Err(Invalid::Syntax),
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos - 1]);
        loop {
            let escaped = match self.bump() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => self.unicode_escape()?,
                _ => return Err(Invalid::Syntax),
            };
            out.push(escaped);
            let run = self.pos;
            self.plain_run();
            out.push_str(&self.text[run..self.pos]);
            match self.bump() {
                Some(b'"') => return Ok(Cow::Owned(out)),
                Some(b'\\') => {}
                // The end of the input, or a raw control character.
                _ => return Err(Invalid::Syntax),
            }
        }
    }

    /// Steps over characters that need no decoding; stops at a quote, a backslash, a control
    /// character or the end.
    fn plain_run(&mut self) {
        while let Some(byte) = self.peek() {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            self.pos += 1;
        }
    }

    /// The character of a `\u` escape, its `\u` read. A UTF-16 surrogate pair is joined; a
    /// lone surrogate, which some serialisers emit, becomes U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, Invalid> {
        let unit = self.hex4()?;
        if !(0xD800..0xDC00).contains(&unit) {
            return Ok(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let rest = &self.text.as_bytes()[self.pos..];
        if !rest.starts_with(b"\\u") {
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let resume = self.pos;
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xDC00..0xE000).contains(&low) {
            // Not a pair: decode the second escape on its own.
            self.pos = resume;
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Result<u32, Invalid> {
        let digits = self
            .text
            .as_bytes()
            .get(self.pos..self.pos + 4)
            .ok_or(Invalid::Syntax)?;
        let mut value = 0;
        for &digit in digits {
            let nibble = char::from(digit).to_digit(16).ok_or(Invalid::Syntax)?;
            value = value * 16 + nibble;
        }
        self.pos += 4;
        Ok(value)
    }
}
