//! Hex in and out: reading what a learner pastes, printing bytes back.

use std::fmt;

/// Reads bytes written in hex, forgivingly: `81 85 37`, `818537`,
/// `0x81, 0x85`, `[0x81, 0x85]`, `81:85:37` and `\x81\x85` all work.
///
/// Tokens are separated by whitespace, commas, semicolons, colons or
/// brackets; each may start with `0x` or `\x`; a token of one digit is one
/// byte (`0x5` is `05`), longer tokens are pairs of digits.
///
/// ```
/// assert_eq!(frame::parse_hex("0x81, 0x5, 4865")?, [0x81, 0x05, 0x48, 0x65]);
/// # Ok::<(), frame::HexError>(())
/// ```
///
/// # Errors
///
/// [`HexError`] for a character that is not a hex digit, a token with an odd
/// number of digits (other than one), or no bytes at all.
pub fn parse_hex(input: &str) -> Result<Vec<u8>, HexError> {
    let mut bytes = Vec::new();
    let separators = |c: char| c.is_whitespace() || ",;:[]".contains(c);
    // `\x81\x85` has no separators, so `\x` starts a new token too.
    let input = input.replace("\\x", " ");
    for token in input.split(separators).filter(|t| !t.is_empty()) {
        let digits = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
            .unwrap_or(token);
        let bad = |found| HexError::BadDigit {
            token: token.to_owned(),
            found,
        };
        let nibbles = digits
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8).ok_or_else(|| bad(c)))
            .collect::<Result<Vec<u8>, _>>()?;
        match nibbles.as_slice() {
            [] => {
                return Err(HexError::NoDigits {
                    token: token.to_owned(),
                });
            }
            [one] => bytes.push(*one),
            pairs if pairs.len() % 2 == 0 => {
                bytes.extend(pairs.chunks_exact(2).map(|pair| pair[0] << 4 | pair[1]));
            }
            _ => {
                return Err(HexError::OddDigits {
                    token: token.to_owned(),
                });
            }
        }
    }
    if bytes.is_empty() {
        return Err(HexError::Empty);
    }
    Ok(bytes)
}

/// Lower-case hex, a space between bytes: `81 85 37`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, &byte) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
    out
}

/// Why [`parse_hex`] could not read its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// The input held no bytes at all.
    Empty,
    /// A character that is not a hex digit.
    BadDigit {
        /// The token it was found in.
        token: String,
        /// The offending character.
        found: char,
    },
    /// A token of 3, 5, 7... digits: which digit is the odd one out is a guess.
    OddDigits {
        /// The token.
        token: String,
    },
    /// A `0x` with nothing after it.
    NoDigits {
        /// The token.
        token: String,
    },
}

/// One line, saying what to fix.
impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::Empty => f.write_str("no bytes given"),
            HexError::BadDigit { token, found } => {
                write!(f, "{found:?} in {token:?} is not a hex digit")
            }
            HexError::OddDigits { token } => write!(
                f,
                "{token:?} has an odd number of hex digits; write each byte as two digits"
            ),
            HexError::NoDigits { token } => write!(f, "{token:?} has no hex digits"),
        }
    }
}

impl std::error::Error for HexError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgiving_forms() {
        let hello = [0x81, 0x05, 0x48, 0x65];
        for input in [
            "81 05 48 65",
            "81054865",
            "0x81 0x05 0x48 0x65",
            "0x81,0x05,0x48,0x65",
            "[0x81, 0x5, 0x48, 0x65]",
            "81:05:48:65",
            "\\x81\\x05\\x48\\x65",
            "  81 0548\n65 ",
            "0X81 05 4865",
        ] {
            assert_eq!(parse_hex(input), Ok(hello.to_vec()), "{input:?}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(parse_hex(""), Err(HexError::Empty));
        assert_eq!(parse_hex(" , "), Err(HexError::Empty));
        assert_eq!(
            parse_hex("81 zz"),
            Err(HexError::BadDigit {
                token: "zz".into(),
                found: 'z'
            })
        );
        assert_eq!(
            parse_hex("818"),
            Err(HexError::OddDigits {
                token: "818".into()
            })
        );
        assert_eq!(
            parse_hex("0x"),
            Err(HexError::NoDigits { token: "0x".into() })
        );
        // Non-ASCII must not panic (no byte slicing of the string).
        assert!(parse_hex("8é").is_err());
    }

    #[test]
    fn to_hex_spaces_bytes() {
        assert_eq!(to_hex(&[0x81, 0x05, 0xab]), "81 05 ab");
        assert_eq!(to_hex(&[]), "");
    }
}
