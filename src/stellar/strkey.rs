//! Stellar StrKey (SEP-23) for node IDs: offline validation of `G…` public keys and recognition of
//! `S…` secret seeds, so that a seed can be refused without ever being echoed.

use data_encoding::BASE32_NOPAD;

/// Version byte of an Ed25519 public key (`G…`): 6 << 3, algorithm bits 0.
const VERSION_PUBLIC_KEY: u8 = 6 << 3;
/// Version byte of an Ed25519 secret seed (`S…`): 18 << 3.
const VERSION_SEED: u8 = 18 << 3;
/// 1 version byte + 32 key bytes + 2 checksum bytes, which base32 spells in exactly 56 characters.
const DECODED_LEN: usize = 35;
const ENCODED_LEN: usize = 56;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum StrKeyError {
    // The seed variant carries no text: the whole point is that it is never printed.
    #[error(
        "holds a secret seed (S…), which must never be in an inventory; put the public key (G…) here and rotate the seed, it has been exposed"
    )]
    SecretSeed,
    #[error("is {0} characters long; a public key (StrKey, SEP-23) is exactly 56")]
    Length(usize),
    #[error(
        "is not upper-case base32 (A-Z, 2-7, no padding); a public key (StrKey, SEP-23) looks like G…"
    )]
    Alphabet,
    #[error("does not start with G: version byte {0:#04x} is not an Ed25519 public key (0x30)")]
    Version(u8),
    #[error("has a bad checksum (CRC16-XModem): a character is mistyped")]
    Checksum,
}

/// CRC16-XModem: polynomial 0x1021, initial value 0, no reflection, no final xor.
pub(crate) fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Encodes a 32-byte payload under `version` as StrKey (checksum little-endian, as SEP-23 says).
#[cfg(test)]
fn encode(version: u8, payload: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(DECODED_LEN);
    raw.push(version);
    raw.extend_from_slice(payload);
    raw.extend_from_slice(&crc16_xmodem(&raw).to_le_bytes());
    BASE32_NOPAD.encode(&raw)
}

/// Decodes any 35-byte StrKey, returning the version byte and the payload, checksum verified.
fn decode(text: &str) -> Result<(u8, [u8; 32]), StrKeyError> {
    if text.len() != ENCODED_LEN {
        return Err(StrKeyError::Length(text.chars().count()));
    }
    // BASE32_NOPAD rejects lowercase, padding and foreign characters; at 56 characters no bits are
    // left over, so a successful decode re-encodes to the same text (SEP-23 rule 6).
    let raw = BASE32_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| StrKeyError::Alphabet)?;
    if raw.len() != DECODED_LEN {
        return Err(StrKeyError::Length(text.len()));
    }
    let (body, sum) = raw.split_at(33);
    if crc16_xmodem(body).to_le_bytes() != [sum[0], sum[1]] {
        return Err(StrKeyError::Checksum);
    }
    let mut payload = [0u8; 32];
    payload.copy_from_slice(&body[1..]);
    Ok((body[0], payload))
}

/// A validated Ed25519 node ID in StrKey form (`G…`, 56 characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PublicKey(String);

impl PublicKey {
    /// Anything starting with `S` (the first character of every seed) is refused as a seed before
    /// decoding, so that no later message (length, alphabet) can print part of it.
    pub(crate) fn parse(text: &str) -> Result<PublicKey, StrKeyError> {
        if text.starts_with('S') {
            return Err(StrKeyError::SecretSeed);
        }
        let (version, _) = decode(text)?;
        if version != VERSION_PUBLIC_KEY {
            return Err(StrKeyError::Version(version));
        }
        Ok(PublicKey(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when `text` is a well-formed secret seed.
pub(crate) fn is_seed(text: &str) -> bool {
    matches!(decode(text), Ok((VERSION_SEED, _)))
}

/// Line and column (1-based) of the first secret seed anywhere in `text`, comments included: a
/// seed must not reach git even where no field reads it.
///
/// Every 56-character window of base32 characters is tried, not only maximal runs, so a seed glued
/// to other base32 text ("2S…", "KEYS…") is found. A run goes on across a line break (and the
/// indentation after it, and a trailing `\`): a seed folded over lines (YAML `>-`, a quoted
/// string's escaped line break) is still a seed to whoever reads the file.
pub(crate) fn find_seed(text: &str) -> Option<(usize, usize)> {
    let is_b32 = |c: char| c.is_ascii_uppercase() || ('2'..='7').contains(&c);
    // The current run of base32 characters, each with its line and column.
    let mut run: Vec<(char, usize, usize)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let body = line.trim_end();
        let body = body.strip_suffix('\\').unwrap_or(body);
        let indent = body.len() - body.trim_start().len();
        let mut column = body[..indent].chars().count();
        for c in body[indent..].chars() {
            column += 1;
            if is_b32(c) {
                run.push((c, n + 1, column));
            } else {
                if let Some(at) = seed_in(&run) {
                    return Some(at);
                }
                run.clear();
            }
        }
    }
    seed_in(&run)
}

/// The position of the first seed among the windows of `run`; only windows starting with `S` (the
/// character every seed's version byte gives) are decoded.
fn seed_in(run: &[(char, usize, usize)]) -> Option<(usize, usize)> {
    run.windows(ENCODED_LEN)
        .find(|w| w[0].0 == 'S' && is_seed(&w.iter().map(|(c, _, _)| c).collect::<String>()))
        .map(|w| (w[0].1, w[0].2))
}

#[cfg(test)]
mod tests {

    const OTHER: &str = "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ";
    const ALPHA_1: &str = "GDND35375HGLMEN4LXQW4HU7VIQRZTVT5LZ3JILD5K7256AGP36L5QJU";
    const ALPHA_2: &str = "GBSDYQHENRAHHFBQFWD6MJ7OS7NZDRQMQZYF4YJSIZO6JQGYC7IIJF5W";
    const BETA_1: &str = "GBSWZKLZDNRACMJ6WM67GUGCPJTH2SJ73YEWG5XNLNR35CGMF364Q3D6";

    #[test]
    fn sep23_vectors() {
        for valid in [OTHER, ALPHA_1, ALPHA_2, BETA_1] {
            assert_eq!(PublicKey::parse(valid).unwrap().as_str(), valid);
        }
        let invalid = [
            ("GAAAAAAAACGC6", StrKeyError::Length(13)),
            (
                "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZA",
                StrKeyError::Length(57),
            ),
            (
                "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJUACUSI",
                StrKeyError::Length(58),
            ),
            (
                "G47QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVP2I",
                StrKeyError::Version(0x37),
            ),
            ("", StrKeyError::Length(0)),
            (
                "ga7qynf7sowq3glr2bgmzehxavirza4kvwltjjfc7mgxua74p7ujvsgz",
                StrKeyError::Alphabet,
            ),
            (
                "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGY",
                StrKeyError::Checksum,
            ),
        ];
        for (text, want) in invalid {
            assert_eq!(PublicKey::parse(text), Err(want), "{text:?}");
        }
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
    }

    /// The keys the integration tests use verbatim.
    #[test]
    fn test_keys_are_what_their_names_say() {
        assert!(is_seed(
            "SAVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCVLG5"
        ));
        assert_eq!(
            decode("SAVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCUKRKFIVCVLG5"),
            Ok((18 << 3, [42; 32]))
        );
        assert_eq!(
            decode("GAAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQDZ7H"),
            Ok((6 << 3, [1; 32]))
        );
    }
    use super::*;
    use proptest::prelude::*;

    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    proptest! {
        #[test]
        fn every_public_key_round_trips(payload in any::<[u8; 32]>()) {
            let text = encode(VERSION_PUBLIC_KEY, &payload);
            prop_assert!(text.starts_with('G'));
            prop_assert_eq!(PublicKey::parse(&text).unwrap(), PublicKey(text.clone()));
            prop_assert!(!is_seed(&text));
        }

        /// A mistyped character flips at most 5 bits, a burst CRC16 always detects.
        #[test]
        fn one_mistyped_character_is_always_caught(payload in any::<[u8; 32]>(), at in 0..56usize, with in 0..32usize) {
            let text = encode(VERSION_PUBLIC_KEY, &payload);
            let mut bytes = text.clone().into_bytes();
            prop_assume!(bytes[at] != ALPHABET[with]);
            bytes[at] = ALPHABET[with];
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(PublicKey::parse(&typo).is_err(), "{} accepted", typo);
        }

        /// The SDF's own implementation is the second opinion: same keys out, same verdict in.
        #[test]
        fn agrees_with_stellar_strkey(payload in any::<[u8; 32]>(), at in 0..56usize, with in 0..32usize) {
            let text = encode(VERSION_PUBLIC_KEY, &payload);
            let theirs = stellar_strkey::ed25519::PublicKey(payload).to_string();
            prop_assert_eq!(theirs.as_str(), text.as_str());
            let mut bytes = text.into_bytes();
            bytes[at] = ALPHABET[with];
            let edited = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(
                PublicKey::parse(&edited).is_ok(),
                stellar_strkey::ed25519::PublicKey::from_string(&edited).is_ok(),
                "{}", edited
            );
        }
    }

    #[test]
    fn crc16_xmodem_check_value() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
    }

    #[test]
    fn encode_decode_round_trip() {
        let key =
            PublicKey::parse("GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ").unwrap();
        let (version, payload) = decode(key.as_str()).unwrap();
        assert_eq!(version, VERSION_PUBLIC_KEY);
        assert_eq!(encode(version, &payload), key.as_str());
    }

    #[test]
    fn seeds_are_found_and_refused() {
        let seed = encode(VERSION_SEED, &[7; 32]);
        assert!(seed.starts_with('S'));
        assert!(is_seed(&seed));
        assert_eq!(PublicKey::parse(&seed), Err(StrKeyError::SecretSeed));
        let text = format!("a: 1\n# old: {seed}\n");
        assert_eq!(find_seed(&text), Some((2, 8)));
        assert_eq!(
            find_seed("public_key: GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ\n"),
            None
        );
    }

    /// Glued to base32 text before or after, the seed is still found, at its own column.
    #[test]
    fn seeds_inside_longer_base32_runs_are_found() {
        let seed = encode(VERSION_SEED, &[9; 32]);
        for (prefix, column) in [("2", 2), ("7", 2), ("KEY", 4), ("x: AB", 6)] {
            let text = format!("{prefix}{seed}\n");
            assert_eq!(find_seed(&text), Some((1, column)), "{prefix:?}");
            let text = format!("{prefix}{seed}Z7\n");
            assert_eq!(find_seed(&text), Some((1, column)), "{prefix:?} + suffix");
        }
    }

    /// Folded over lines as YAML writes long scalars, or with a quoted string's `\` line escape.
    #[test]
    fn seeds_folded_over_lines_are_found() {
        let seed = encode(VERSION_SEED, &[11; 32]);
        let (a, b) = seed.split_at(20);
        assert_eq!(
            find_seed(&format!("k: >-\n    {a}\n    {b}\n")),
            Some((2, 5))
        );
        assert_eq!(find_seed(&format!("k: \"{a}\\\n  {b}\"\n")), Some((1, 5)));
        // A break that is not a fold ends the run: the halves alone are no seed.
        assert_eq!(find_seed(&format!("k: {a}-\n{b}\n")), None);
    }
}
