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
    // Asked once per process: `add -r` records it for every file.
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| gethostname::gethostname().to_string_lossy().into_owned())
        .clone()
}

/// Git state of the repository holding `manifest_dir`, or `None` outside git.
///
/// `source_file` is `file!()`, relative to the workspace root (or absolute);
/// it is resolved against `manifest_dir` and its ancestors to build the
/// permalink.
pub(crate) fn git_info(
    manifest_dir: &str,
    source_file: &str,
    line: u32,
) -> Option<lake_core::GitInfo> {
    let repo = git2::Repository::discover(manifest_dir).ok()?;
    let workdir = repo.workdir()?.to_path_buf();
    let commit = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let mut options = git2::StatusOptions::new();
    options.include_untracked(false).include_ignored(false);
    let dirty = repo
        .statuses(Some(&mut options))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    let remote = repo
        .find_remote("origin")
        .ok()
        .or_else(|| {
            let names = repo.remotes().ok()?;
            let first = names.iter().flatten().flatten().next()?.to_owned();
            repo.find_remote(&first).ok()
        })
        .and_then(|r| r.url().ok().map(strip_credentials));
    let permalink = match (&remote, &commit) {
        (Some(remote), Some(commit)) => {
            let path = resolve_source(manifest_dir, source_file)
                .and_then(|abs| abs.strip_prefix(&workdir).ok().map(|p| p.to_path_buf()));
            path.and_then(|p| permalink(remote, commit, &p.to_string_lossy(), line))
        }
        _ => None,
    };
    Some(lake_core::GitInfo {
        commit,
        dirty,
        remote,
        permalink,
    })
}

fn resolve_source(manifest_dir: &str, source_file: &str) -> Option<std::path::PathBuf> {
    let file = std::path::Path::new(source_file);
    if file.is_absolute() {
        return Some(file.to_path_buf());
    }
    std::path::Path::new(manifest_dir)
        .ancestors()
        .map(|dir| dir.join(file))
        .find(|candidate| candidate.is_file())
}

/// Removes `user:password@` and any query string from a remote URL.
pub(crate) fn strip_credentials(url: &str) -> String {
    let url = url.split('?').next().unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_owned(),
    }
}

/// `https://<forge>/<org>/<repo>/blob/<commit>/<path>#L<line>` for GitHub-
/// and GitLab-style remotes (`https://host/org/repo(.git)` or
/// `git@host:org/repo(.git)`).
pub(crate) fn permalink(remote: &str, commit: &str, path: &str, line: u32) -> Option<String> {
    let (host, repo_path) = if let Some(rest) = remote.strip_prefix("git@") {
        rest.split_once(':')?
    } else {
        let rest = remote.split_once("://")?.1;
        rest.split_once('/')?
    };
    let known = ["github", "gitlab", "codeberg", "gitea", "bitbucket"];
    if !known.iter().any(|k| host.contains(k)) {
        return None;
    }
    let repo_path = repo_path.trim_end_matches('/').trim_end_matches(".git");
    let separator = if host.contains("gitlab") {
        "/-/blob/"
    } else {
        "/blob/"
    };
    Some(format!(
        "https://{host}/{repo_path}{separator}{commit}/{path}#L{line}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_credentials("https://user:s3cret@github.com/org/repo.git?token=abc"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    #[test]
    fn permalinks_for_known_forges() {
        assert_eq!(
            permalink("git@github.com:org/repo.git", "abc", "src/lib.rs", 7).as_deref(),
            Some("https://github.com/org/repo/blob/abc/src/lib.rs#L7")
        );
        assert_eq!(
            permalink("https://gitlab.com/g/sub/repo", "abc", "a.rs", 1).as_deref(),
            Some("https://gitlab.com/g/sub/repo/-/blob/abc/a.rs#L1")
        );
        assert_eq!(permalink("https://example.org/x/y", "abc", "a.rs", 1), None);
    }
}
