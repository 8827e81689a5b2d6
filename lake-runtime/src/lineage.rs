//! Who and where: the originator and host recorded in lineage.

/// git `user.email`, else `$USER@host`.
pub(crate) fn originator() -> String {
    git2::Config::open_default()
        .and_then(|config| config.get_string("user.email"))
        .ok()
        .filter(|email| !email.trim().is_empty())
        .unwrap_or_else(|| {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".into());
            format!("{user}@{}", host())
        })
}

/// This machine's host name.
pub(crate) fn host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
