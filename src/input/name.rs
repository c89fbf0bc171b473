//! Name rules every output shares: DNS-1123 labels and subdomains (directories, namespaces, object
//! names, DNS labels), Kubernetes label values and operator addresses, each with the message that
//! says what is valid.

/// An RFC 1123 label: 1-63 lowercase letters, digits and `-`, alphanumeric at both ends.
pub(crate) fn check_label(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

/// An RFC 1123 subdomain (ConfigMap and workload names): dot-separated labels, ≤ 253 characters.
pub(crate) fn check_subdomain(value: &str) -> Result<(), String> {
    if value.len() > 253 {
        return Err(format!("{value:?} is longer than 253 characters"));
    }
    value.split('.').try_for_each(check_label)
}

/// Kubernetes label values: ≤ 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
pub(crate) fn check_label_value(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let ok = value.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a label value: ≤ 63 characters of letters, digits, '-', '_', '.', alphanumeric at both ends"
        ))
    }
}

/// A bech32 validator operator address (`cosmosvaloper1…`): what links inventory to provider state.
pub(crate) fn check_operator_address(addr: &str) -> Result<(), String> {
    let (hrp, _) = bech32::decode(addr)
        .map_err(|_| format!("{addr:?} is not a bech32 operator address (cosmosvaloper1…)"))?;
    if hrp.as_str().ends_with("valoper") {
        Ok(())
    } else {
        Err(format!(
            "{addr:?} has prefix {:?}; an operator address has a `…valoper` prefix such as cosmosvaloper",
            hrp.as_str()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(check_label("alice-pion-1").is_ok());
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(check_label(bad).is_err(), "{bad}");
        }
        assert!(check_subdomain("pion-1-peers.x").is_ok());
        assert!(check_subdomain("a..b").is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("Pion_1.x").is_ok());
        assert!(check_label_value("-x").is_err());
    }
}
