//! Provider consensus addresses (`…valcons1…`) computed from ed25519 consensus public keys: the
//! key that joins the staking module's validators to the ICS module's per-consumer lists.

use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ValconsError {
    #[error("consensus public key {key:?} is not base64")]
    Base64 { key: String },
    #[error("consensus public key {key:?} has {len} bytes; an ed25519 key has 32")]
    Length { key: String, len: usize },
    #[error("{prefix:?} is not a usable bech32 prefix: {message}")]
    Prefix { prefix: String, message: String },
}

/// `bech32(<prefix>valcons, sha256(pubkey)[..20])`, CometBFT's ed25519 `Address()`.
pub(crate) fn from_ed25519_base64(prefix: &str, key_b64: &str) -> Result<String, ValconsError> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .map_err(|_| ValconsError::Base64 {
            key: key_b64.to_owned(),
        })?;
    if key.len() != 32 {
        return Err(ValconsError::Length {
            key: key_b64.to_owned(),
            len: key.len(),
        });
    }
    let digest = Sha256::digest(&key);
    let hrp_text = format!("{prefix}valcons");
    let prefix_error = |message: String| ValconsError::Prefix {
        prefix: prefix.to_owned(),
        message,
    };
    let hrp = bech32::Hrp::parse(&hrp_text).map_err(|e| prefix_error(e.to_string()))?;
    bech32::encode::<bech32::Bech32>(hrp, &digest[..20]).map_err(|e| prefix_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valcons_matches_reference_vectors() {
        assert_eq!(
            from_ed25519_base64("cosmos", "Ui5Gf1+mtWUdH8u3xlmzdKID+F3PK0sfXZ73GZ6q6is=").unwrap(),
            "cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk"
        );
        assert_eq!(
            from_ed25519_base64("cosmos", "N7BPyek2aKuNZ0N/8YsrqSDhGZmgVaYUBuddY8pwKaE=").unwrap(),
            "cosmosvalcons1vjun6gn06xdlley2sqhdwsk3m3p8dyl0hwa254"
        );
    }

    #[test]
    fn valcons_hash_is_the_cometbft_address() {
        let (hrp, data) =
            bech32::decode("cosmosvalcons1kswr5sq599365kcjmhgufevfps9njf43e4lwdk").unwrap();
        assert_eq!(hrp.as_str(), "cosmosvalcons");
        assert_eq!(
            hex::encode_upper(data),
            "B41C3A40142963AA5B12DDD1C4E5890C0B3926B1"
        );
    }

    #[test]
    fn valcons_rejects_bad_keys() {
        assert!(matches!(
            from_ed25519_base64("cosmos", "not base64!"),
            Err(ValconsError::Base64 { .. })
        ));
        assert!(matches!(
            from_ed25519_base64("cosmos", "AAAA"),
            Err(ValconsError::Length { len: 3, .. })
        ));
    }
}
