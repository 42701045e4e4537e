//! Decoding a path one character at a time, without a buffer: percent escapes (RFC 3986
//! §2.1) and UTF-8 (RFC 3629).

/// How a character of the path was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    /// As itself.
    Raw,
    /// `%` and two hex digits (RFC 3986 §2.1).
    Encoded,
    /// `%25` and the escape of `.`, `/` or `\`.
    DoubleEncoded,
    /// A `%` without two hex digits after it, read as itself.
    StrayPercent,
}

/// One character of the path.
pub(super) struct Unit {
    /// The byte the character stands for.
    pub(super) byte: u8,
    /// How it was written.
    pub(super) form: Form,
    /// How many bytes of the path it takes.
    pub(super) width: usize,
}

impl Unit {
    /// Reads the character at the start of `input`, or `None` at its end.
    pub(super) fn read(input: &[u8]) -> Option<Self> {
        let unit = |byte, form, width| Some(Self { byte, form, width });
        let (&first, rest) = input.split_first()?;
        if first != b'%' {
            return unit(first, Form::Raw, 1);
        }
        let Some(byte) = rest.get(..2).and_then(hex_pair) else {
            return unit(b'%', Form::StrayPercent, 1);
        };
        // `%25` is `%` itself (RFC 3986 §2.4), so a second decoding reads `%252e` as `.`.
        let twice = rest
            .get(2..4)
            .and_then(hex_pair)
            .filter(|inner| byte == b'%' && matches!(inner, b'.' | b'/' | b'\\'));
        match twice {
            Some(inner) => unit(inner, Form::DoubleEncoded, 5),
            None => unit(byte, Form::Encoded, 3),
        }
    }
}

/// The byte that two hex digits, in either case, stand for.
pub(super) fn hex_pair(digits: &[u8]) -> Option<u8> {
    match digits {
        [high, low] => Some((hex(*high)? << 4) | hex(*low)?),
        _ => None,
    }
}

/// The value of one hex digit.
fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// An incremental UTF-8 decoder, fed one decoded byte at a time.
#[derive(Default)]
pub(super) struct Utf8 {
    /// The bits of the character read so far.
    scalar: u32,
    /// Continuation bytes still expected.
    pending: u8,
    /// The lowest value the next continuation byte may have.
    lower: u8,
    /// The highest value the next continuation byte may have.
    upper: u8,
}

/// What one more byte made of the sequence.
pub(super) enum Step {
    /// The character needs more bytes.
    Pending,
    /// A whole character.
    Char(u32),
    /// The bytes so far are no UTF-8.
    Invalid,
}

impl Utf8 {
    /// Takes the next byte.
    pub(super) fn push(&mut self, byte: u8) -> Step {
        if self.pending == 0 {
            return self.start(byte);
        }
        if !(self.lower..=self.upper).contains(&byte) {
            // The sequence is cut short; `byte` starts the next one, as in a decoder that
            // substitutes U+FFFD for the maximal invalid subpart (Unicode §3.9).
            self.pending = 0;
            let _ = self.start(byte);
            return Step::Invalid;
        }
        self.scalar = (self.scalar << 6) | u32::from(byte & 0x3f);
        self.pending -= 1;
        (self.lower, self.upper) = (0x80, 0xbf);
        if self.pending == 0 {
            Step::Char(self.scalar)
        } else {
            Step::Pending
        }
    }

    /// Takes the first byte of a character.
    fn start(&mut self, byte: u8) -> Step {
        // Unicode §3.9, table 3-7: the narrowed second-byte ranges after E0, ED, F0 and F4
        // exclude overlong forms, surrogates and code points above U+10FFFF (RFC 3629 §3).
        let (pending, lower, upper, bits) = match byte {
            0x00..=0x7f => return Step::Char(u32::from(byte)),
            0xc2..=0xdf => (1, 0x80, 0xbf, byte & 0x1f),
            0xe0 => (2, 0xa0, 0xbf, byte & 0x0f),
            0xe1..=0xec | 0xee..=0xef => (2, 0x80, 0xbf, byte & 0x0f),
            0xed => (2, 0x80, 0x9f, byte & 0x0f),
            0xf0 => (3, 0x90, 0xbf, byte & 0x07),
            0xf1..=0xf3 => (3, 0x80, 0xbf, byte & 0x07),
            0xf4 => (3, 0x80, 0x8f, byte & 0x07),
            // Continuation bytes, C0 and C1 (always overlong) and F5 to FF (beyond U+10FFFF).
            _ => return Step::Invalid,
        };
        (self.scalar, self.pending, self.lower, self.upper) =
            (u32::from(bits), pending, lower, upper);
        Step::Pending
    }

    /// Whether a character was begun and not finished.
    pub(super) fn is_pending(&self) -> bool {
        self.pending != 0
    }
}
