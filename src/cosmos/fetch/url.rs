//! Provider URLs: percent-encoding for query values, the credential-free base that is the only
//! form ever shown, and Basic-auth user info taken out of the URL.

use super::http::RestError;

const URL_QUERY: &str =
    "the provider URL must not carry a query string or fragment; put credentials in provider.auth";

/// Everything but RFC 3986 unreserved characters is percent-encoded, so base64 keys (`+ / =`)
/// survive a query string.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(crate) fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Splits `scheme://user:pass@host:port/path` into the credential-free base (no trailing `/`), the
/// only part ever shown, and the decoded `user:password` for Basic auth. No error quotes the input.
pub(super) fn split_base_url(url: &str) -> Result<(String, Option<String>), RestError> {
    let bad = |message: String| RestError::BadUrl { message };
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .ok_or_else(|| bad("the provider URL must start with http:// or https://".to_owned()))?;
    // Paths are appended to the base, so a query or fragment would end up inside them; and an
    // API key there would be shown wherever the URL is.
    if rest.contains(['?', '#']) {
        return Err(bad(URL_QUERY.to_owned()));
    }
    // The user info ends at the last `@`: a password may carry an unencoded `/` or `@`, while a
    // REST base path has no reason to hold an `@`.
    let (userinfo, host_path) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, path) = host_path.split_at(host_path.find('/').unwrap_or(host_path.len()));
    let base = format!("{scheme}://{host}{}", path.trim_end_matches('/'));
    if host.is_empty() {
        return Err(bad(format!("provider URL {base}: has no host")));
    }
    let basic = userinfo.map(basic_pair).transpose()?;
    Ok((base, basic))
}

/// The `user:password` of URL user info, percent-decoded as RFC 3986 encodes it.
fn basic_pair(userinfo: &str) -> Result<String, RestError> {
    let bad = |message: &str| RestError::BadUrl {
        message: format!("the user info in the provider URL {message}"),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode =
        |part: &str| percent_decode(part).ok_or_else(|| bad("is not valid percent-encoded UTF-8"));
    let user = decode(user)?;
    if user.contains(':') {
        // Basic auth splits at the first `:` (RFC 7617), so such a name cannot be sent.
        return Err(bad(
            "has a user name containing ':', which Basic auth cannot carry",
        ));
    }
    Ok(format!("{user}:{}", decode(password)?))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A URL fit for logs: `scheme://host[:port]/path`, without user info, query or fragment.
pub(crate) fn redact(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // As in `split_base_url`: the last `@` ends the user info, whatever the password holds.
    let host_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{host_path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encode_escapes_base64() {
        assert_eq!(url_encode("FONDBFk+E4/tEE=="), "FONDBFk%2BE4%2FtEE%3D%3D");
    }

    #[test]
    fn base_url_loses_credentials() {
        let (base, user) = split_base_url("https://u:p@rest.example.org/api/").unwrap();
        assert_eq!(base, "https://rest.example.org/api");
        assert_eq!(user.as_deref(), Some("u:p"));
        assert_eq!(
            redact("https://u:p@rest.example.org/x"),
            "https://rest.example.org/x"
        );
        let e = split_base_url("ftp://u:secret@h").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
        assert_eq!(e, "the provider URL must start with http:// or https://");
    }

    #[test]
    fn base_url_with_a_query_or_fragment_is_refused_unquoted() {
        for url in [
            "https://h/api?apikey=SUPERSECRET",
            "https://h?apikey=SUPERSECRET",
            "https://h/#SUPERSECRET",
            "https://u:SUPER?SECRET@h/api",
        ] {
            let e = split_base_url(url).unwrap_err().to_string();
            assert_eq!(e, URL_QUERY, "{url}");
        }
    }

    #[test]
    fn user_info_is_parsed_to_the_last_at_and_percent_decoded() {
        let (base, user) = split_base_url("https://us%40er:pa/ss@w%3Ard@h:8443/api").unwrap();
        assert_eq!(base, "https://h:8443/api");
        assert_eq!(user.as_deref(), Some("us@er:pa/ss@w:rd"));
        let (_, token) = split_base_url("http://token@h").unwrap();
        assert_eq!(token.as_deref(), Some("token:"));
        for (url, problem) in [
            (
                "https://u:p%zzSECRET@h",
                "is not valid percent-encoded UTF-8",
            ),
            (
                "https://u:p%ffSECRET@h",
                "is not valid percent-encoded UTF-8",
            ),
            ("https://u%3Av:SECRET@h", "user name containing ':'"),
        ] {
            let e = split_base_url(url).unwrap_err().to_string();
            assert!(e.contains(problem) && !e.contains("SECRET"), "{url}: {e}");
        }
        assert_eq!(redact("https://u:pa/ss@h:1/x?k=SECRET#f"), "https://h:1/x");
    }
}
