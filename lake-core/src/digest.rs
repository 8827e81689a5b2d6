//! blake3 content digests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DigestError;

/// A blake3 digest of a file's content.
///
/// Displayed and serialized as 64 lowercase hex characters.
///
/// # Example
/// ```
/// use lake_core::Digest;
///
/// let d = Digest::of(b"hello");
/// assert_eq!(d.to_string().len(), 64);
/// assert_eq!(d.to_string().parse::<Digest>()?, d);
/// # Ok::<(), lake_core::DigestError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lowercase hex form.
    pub fn to_hex(&self) -> String {
        self.short(64)
    }

    /// The first `len` hex characters, for short display.
    pub fn short(&self, len: usize) -> String {
        let hex = self.hex_bytes();
        let hex = &hex[..len.min(64)];
        std::str::from_utf8(hex).expect("hex is ascii").to_owned()
    }

    /// The 64 lowercase hex digits, without `fmt`'s per-byte machinery:
    /// listings format digests by the ten thousand.
    fn hex_bytes(&self) -> [u8; 64] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[(byte >> 4) as usize];
            pair[1] = DIGITS[(byte & 0xf) as usize];
        }
        out
    }
}

impl From<blake3::Hash> for Digest {
    fn from(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(std::str::from_utf8(&self.hex_bytes()).expect("hex is ascii"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DigestError {
            value: s.to_owned(),
        };
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        // Errors are checked once at the end: listings parse digests by the
        // ten thousand, and a branch per character shows in `add -r`.
        let mut invalid = 0u8;
        for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let (hi, lo) = (HEX_VALUES[pair[0] as usize], HEX_VALUES[pair[1] as usize]);
            invalid |= (hi | lo) & INVALID;
            *byte = hi << 4 | lo;
        }
        if invalid != 0 {
            return Err(bad());
        }
        Ok(Self(out))
    }
}

/// Marks a byte that is not a lowercase hex digit in [`HEX_VALUES`].
const INVALID: u8 = 0x80;

/// The value of each lowercase hex digit, [`INVALID`] for any other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // blake3 of the empty input, from the reference test vectors.
        assert_eq!(
            Digest::of(b"").to_string(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn hex_round_trips_every_byte_value() {
        let mut bytes = [0u8; 32];
        for start in (0..=255u8).step_by(32) {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = start.wrapping_add(i as u8);
            }
            let digest = Digest(bytes);
            assert_eq!(digest.to_hex().parse::<Digest>().unwrap(), digest);
        }
    }

    #[test]
    fn rejects_bad_hex_quoting_it() {
        let one_bad_char = |c: char| {
            let mut hex = Digest::of(b"x").to_hex();
            hex.replace_range(63.., &c.to_string());
            hex
        };
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"A".repeat(64),
            &"0".repeat(65),
            &one_bad_char('G'),
            &one_bad_char('/'),
            &one_bad_char(':'),
            &one_bad_char('`'),
        ] {
            let err = bad.parse::<Digest>().unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
