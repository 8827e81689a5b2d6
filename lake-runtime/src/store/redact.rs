//! Keeping credentials out of every message: [`redact_url`] for URLs,
//! [`scrub`] for backends' error text, and [`redact_known_secrets`] for
//! output lake does not format itself.

/// Query-string and option keys whose values are treated as secrets.
///
/// Matched as lowercase substrings, so `X-Amz-Signature`, `sig` (Azure SAS),
/// `aws_secret_access_key` and `sessionToken` are all caught. Over-redacting a
/// harmless value costs a less helpful message; under-redacting leaks a
/// credential (invariant 8), so the list errs wide.
const SECRET_KEY_PARTS: &[&str] = &[
    "sig",
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "credential",
    "auth",
    "session",
    "sas",
];

/// What replaces a secret.
pub(crate) const REDACTED: &str = "***";

/// True if a config key or query parameter named `key` holds a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// A URL typed without `//` (`s3:/user:pw@bucket/p`) with its userinfo
/// replaced by `***`, since a refusal of the typo quotes it. Text that
/// does not start with a scheme (a plain path, even with an `@`) is kept.
fn redact_malformed_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once(':') else {
        return base.to_owned();
    };
    let mut chars = scheme.chars();
    let is_scheme = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let tail = rest.trim_start_matches('/');
    let lead = &rest[..rest.len() - tail.len()];
    let authority_end = tail.find('/').unwrap_or(tail.len());
    match tail[..authority_end].rsplit_once('@') {
        Some((_, host)) if is_scheme => {
            format!("{scheme}:{lead}{REDACTED}@{host}{}", &tail[authority_end..])
        }
        _ => base.to_owned(),
    }
}

/// `url` with credentials removed, for messages and `Display`.
///
/// Removes the userinfo (`user:password@`; Azure's `abfs[s]://container@account`
/// form keeps its container, which is not a secret), and the value of every
/// query or fragment parameter whose name looks secret (`sig`, `token`, `key`,
/// `secret`, `password`, `credential`, ...). Works on text, so an unparsable
/// URL is redacted too and the rest keeps the user's spelling.
///
/// # Example
/// ```
/// use lake_runtime::store::redact_url;
///
/// assert_eq!(
///     redact_url("https://me:hunter2@example.com/data?sig=abc&region=eu"),
///     "https://***@example.com/data?sig=***&region=eu"
/// );
/// assert_eq!(redact_url("s3://bucket/prefix"), "s3://bucket/prefix");
/// ```
pub fn redact_url(url: &str) -> String {
    let (main, fragment) = match url.split_once('#') {
        Some((main, fragment)) => (main, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = match main.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (main, None),
    };

    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let azure_container =
                        matches!(scheme, "abfs" | "abfss") && !userinfo.contains(':');
                    out.push_str(if azure_container { userinfo } else { REDACTED });
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(&redact_malformed_userinfo(base)),
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_pairs(query));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&redact_pairs(fragment));
    }
    out
}

/// `a=1&sig=2` → `a=1&sig=***`.
fn redact_pairs(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Every secret value of every store this process opened: the log writer
/// of the `lake` binary scrubs them from all output, dependencies' too.
static KNOWN_SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Adds `secrets` to those [`redact_known_secrets`] removes.
pub(crate) fn remember_secrets(secrets: &[String]) {
    let mut known = KNOWN_SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    for secret in secrets {
        // Very short values would blank out ordinary words.
        if secret.len() >= 4 && !known.contains(secret) {
            known.push(secret.clone());
        }
    }
}

/// `text` with every secret of the stores this process opened, and any
/// URL's credentials, replaced: for output that lake does not format itself
/// (dependencies' log lines).
///
/// # Example
/// ```
/// let line = "connecting to https://user:hunter22@example.org/x";
/// assert!(!lake_runtime::store::redact_known_secrets(line).contains("hunter22"));
/// ```
pub fn redact_known_secrets(text: &str) -> String {
    let known = KNOWN_SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    scrub(text, &known)
}

/// Removes credentials from a backend's error message.
///
/// Backends quote request URLs (possibly presigned), and some echo headers or
/// config. Known secret values are replaced wherever they appear; URLs and
/// `key=value` tokens go through [`redact_url`].
pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    let mut message = message.to_owned();
    for secret in secrets {
        message = message.replace(secret.as_str(), REDACTED);
    }
    message
        .split_inclusive(char::is_whitespace)
        .map(|piece| {
            let token = piece.trim_end();
            let space = &piece[token.len()..];
            let token = if token.contains("://") || token.contains('=') {
                redact_token(token)
            } else {
                token.to_owned()
            };
            token + space
        })
        .collect()
}

/// Redacts one whitespace-free token of a message.
fn redact_token(token: &str) -> String {
    if token.contains("://") {
        redact_url(token)
    } else if token.contains('?') {
        // `path?X-Amz-Signature=...` without a scheme.
        redact_url(token)
    } else {
        redact_pairs(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_removes_userinfo() {
        assert_eq!(redact_url("s3://AKIA:wJalr@bucket/p"), "s3://***@bucket/p");
        assert_eq!(
            redact_url("https://token@example.com/x"),
            "https://***@example.com/x"
        );
        // Azure's container@account is not a secret, but a password is.
        assert_eq!(
            redact_url("abfss://data@acct.dfs.core.windows.net/p"),
            "abfss://data@acct.dfs.core.windows.net/p"
        );
        assert_eq!(redact_url("abfss://data:pw@acct/p"), "abfss://***@acct/p");
    }

    #[test]
    fn redact_url_removes_secret_query_values() {
        assert_eq!(
            redact_url("https://a.blob.core.windows.net/c?sv=2020&sig=abc%2F&se=2030"),
            "https://a.blob.core.windows.net/c?sv=2020&sig=***&se=2030"
        );
        assert_eq!(
            redact_url(
                "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA&X-Amz-Signature=ff&X-Amz-Security-Token=t"
            ),
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***"
        );
        assert_eq!(
            redact_url("memory://x?password=p#token=t"),
            "memory://x?password=***#token=***"
        );
        assert_eq!(
            redact_url("gs://b/p?region=eu&flag"),
            "gs://b/p?region=eu&flag"
        );
    }

    #[test]
    fn redact_url_keeps_plain_urls_and_paths() {
        for plain in [
            "s3://bucket/prefix",
            "file:///tmp/a b",
            "/tmp/x",
            "./rel",
            "memory://",
            "not a url",
        ] {
            assert_eq!(redact_url(plain), plain);
        }
        // Unparsable, yet still redacted.
        assert_eq!(
            redact_url("s3://u:p@[bad/x?key=v"),
            "s3://***@[bad/x?key=***"
        );
    }

    #[test]
    fn scrub_hides_known_secrets_and_urls() {
        let secrets = vec!["hunter2-long".to_owned()];
        let message = "error sending request for url (https://h/k?sig=zzz): bad key hunter2-long\nsecret_key=abc";
        let scrubbed = scrub(message, &secrets);
        assert!(!scrubbed.contains("hunter2-long"), "{scrubbed}");
        assert!(!scrubbed.contains("zzz"), "{scrubbed}");
        assert!(!scrubbed.contains("abc"), "{scrubbed}");
        assert!(scrubbed.contains("error sending request"), "{scrubbed}");
    }
}
