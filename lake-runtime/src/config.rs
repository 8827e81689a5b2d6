//! Configuration: where the home is and which store it fronts.
//!
//! Resolution order, first found wins: explicit values (command-line flags,
//! [`LakeConfigBuilder::with_config`]), then the environment (`LAKE_HOME`,
//! `LAKE_STORE`, `LAKE_REFRESH_SECS`, `LAKE_STORE_OPT_<KEY>`), then `lake.toml`
//! found upward from the current directory, then defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::{Error, Result};

/// Name of the project configuration file, searched upward from the cwd.
pub const CONFIG_FILE_NAME: &str = "lake.toml";

/// A configuration key, as accepted by [`LakeConfigBuilder::with_config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigKey {
    /// The home directory (`home`, `LAKE_HOME`).
    Home,
    /// The store URL (`store`, `store_url`, `LAKE_STORE`).
    Store,
    /// Seconds between automatic refreshes of the index from the store
    /// (`refresh_secs`, `LAKE_REFRESH_SECS`).
    RefreshSecs,
}

impl FromStr for ConfigKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "home" | "lake_home" => Ok(Self::Home),
            "store" | "store_url" | "lake_store" => Ok(Self::Store),
            "refresh_secs" | "lake_refresh_secs" => Ok(Self::RefreshSecs),
            _ => Err(Error::Config {
                key: s.to_owned(),
                value: String::new(),
                message: "unknown key; valid keys are home, store, refresh_secs".into(),
            }),
        }
    }
}

/// Resolved configuration of a lake.
#[derive(Debug, Clone)]
pub struct LakeConfig {
    /// The home directory: local cache, index and staging area.
    pub home: PathBuf,
    /// The store URL. Defaults to `file://<home>/store`.
    pub store_url: String,
    /// How stale the index may be before `ls` lists the store again.
    pub refresh_interval: Duration,
    /// Extra store options (`[store_options]` in `lake.toml`,
    /// `LAKE_STORE_OPT_<KEY>` in the environment): retries, timeouts, etc.
    pub store_options: BTreeMap<String, String>,
    /// Show progress bars on large transfers.
    pub progress: bool,
}

/// Builds a [`LakeConfig`].
///
/// # Example
/// ```
/// use lake_runtime::{ConfigKey, LakeConfigBuilder};
///
/// let dir = tempfile::tempdir()?;
/// let config = LakeConfigBuilder::new()
///     .with_home(dir.path().join("home"))
///     .with_config(ConfigKey::Store, "memory://doc-example")?
///     .build()?;
/// assert_eq!(config.store_url, "memory://doc-example");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct LakeConfigBuilder {
    home: Option<PathBuf>,
    store: Option<String>,
    refresh_secs: Option<u64>,
    store_options: BTreeMap<String, String>,
    progress: bool,
    search_from: Option<PathBuf>,
    use_env: bool,
    use_file: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    home: Option<PathBuf>,
    #[serde(alias = "store_url")]
    store: Option<String>,
    refresh_secs: Option<u64>,
    #[serde(default)]
    store_options: BTreeMap<String, toml::Value>,
    /// `[executor]`: how batches run, read by `BatchOptions::from_env`
    /// (batch/options.rs), which checks its keys.
    #[serde(default)]
    #[allow(dead_code)]
    executor: Option<toml::Value>,
}

impl LakeConfigBuilder {
    /// A builder that uses only explicit values and defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder that also reads the environment and `lake.toml`.
    pub fn from_env() -> Self {
        Self {
            use_env: true,
            use_file: true,
            ..Self::default()
        }
    }

    /// Sets the home directory.
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// Sets the store URL.
    pub fn with_store(mut self, url: impl Into<String>) -> Self {
        self.store = Some(url.into());
        self
    }

    /// Turns progress bars on or off.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Adds a store option such as `max_retries` or `timeout`.
    pub fn with_store_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.store_options.insert(key.into(), value.into());
        self
    }

    /// Searches `lake.toml` upward from `dir` instead of the current directory.
    pub fn with_search_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.search_from = Some(dir.into());
        self
    }

    /// Sets a value by key.
    pub fn with_config(mut self, key: ConfigKey, value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        match key {
            ConfigKey::Home => self.home = Some(value.into()),
            ConfigKey::Store => self.store = Some(value),
            ConfigKey::RefreshSecs => self.refresh_secs = Some(parse_secs("refresh_secs", &value)?),
        }
        Ok(self)
    }

    /// Resolves everything into a [`LakeConfig`].
    pub fn build(self) -> Result<LakeConfig> {
        let env = |key: &str| {
            if self.use_env {
                std::env::var(key).ok().filter(|v| !v.is_empty())
            } else {
                None
            }
        };
        let (file, file_dir) = if self.use_file {
            let start = match &self.search_from {
                Some(dir) => dir.clone(),
                None => std::env::current_dir().map_err(|e| Error::io("read", ".", e))?,
            };
            match find_config_file(&start) {
                Some(path) => (
                    read_config_file(&path)?,
                    path.parent().map(Path::to_path_buf),
                ),
                None => (FileConfig::default(), None),
            }
        } else {
            (FileConfig::default(), None)
        };
        // Paths in lake.toml are relative to the file, not to the cwd, so a
        // project behaves the same from any of its subdirectories.
        let relative_to_file = |p: PathBuf| match &file_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        };

        let home = self
            .home
            .or_else(|| env("LAKE_HOME").map(PathBuf::from))
            .or_else(|| file.home.map(relative_to_file))
            .map_or_else(default_home, Ok)?;
        let home = absolute(&home)?;

        // Which layer the store came from, to name it in an error.
        let store = match (self.store, env("LAKE_STORE"), file.store) {
            (Some(url), _, _) => Some(("store", url, None)),
            (None, Some(url), _) => Some(("LAKE_STORE", url, None)),
            (None, None, Some(url)) => Some(("lake.toml: store", url, file_dir.as_deref())),
            (None, None, None) => None,
        };
        let store_url = match store {
            Some((key, url, base)) => normalize_store_url(key, &url, base)?,
            None => format!("file://{}", home.join("store").display()),
        };

        let refresh_secs = match self.refresh_secs {
            Some(s) => s,
            None => match env("LAKE_REFRESH_SECS") {
                Some(v) => parse_secs("LAKE_REFRESH_SECS", &v)?,
                None => file.refresh_secs.unwrap_or(30),
            },
        };

        let mut store_options: BTreeMap<String, String> = file
            .store_options
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k.to_ascii_lowercase(), v)
            })
            .collect();
        if self.use_env {
            for (k, v) in std::env::vars() {
                if let Some(opt) = k.strip_prefix("LAKE_STORE_OPT_") {
                    store_options.insert(opt.to_ascii_lowercase(), v);
                }
            }
        }
        store_options.extend(self.store_options);

        Ok(LakeConfig {
            home,
            store_url,
            refresh_interval: Duration::from_secs(refresh_secs),
            store_options,
            progress: self.progress,
        })
    }
}

fn parse_secs(key: &str, value: &str) -> Result<u64> {
    value.trim().parse().map_err(|_| Error::Config {
        key: key.to_owned(),
        value: value.to_owned(),
        message: "expected a whole number of seconds".into(),
    })
}

fn default_home() -> Result<PathBuf> {
    dirs::data_dir()
        .map(|d| d.join("lake"))
        .or_else(|| dirs::home_dir().map(|h| h.join(".lake")))
        .ok_or_else(|| Error::Config {
            key: "LAKE_HOME".into(),
            value: String::new(),
            message: "no platform data directory or home directory; set LAKE_HOME".into(),
        })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))
}

/// Turns a bare path into a `file://` URL with an absolute path (relative
/// to `base`, the directory of `lake.toml`, if given); leaves URLs alone.
/// Refuses what is neither, e.g. `s3:/bucket`, naming `key`.
fn normalize_store_url(key: &str, url: &str, base: Option<&Path>) -> Result<String> {
    let url = url.trim();
    match crate::store::classify_store_url(url) {
        Ok(crate::store::StoreUrlForm::Url) => return Ok(url.to_owned()),
        Ok(crate::store::StoreUrlForm::Path) => {}
        Err(e) => {
            return Err(Error::Config {
                key: key.to_owned(),
                value: crate::store::redact_url(url),
                message: e.to_string(),
            });
        }
    }
    let path = PathBuf::from(url);
    let path = match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path,
    };
    Ok(format!("file://{}", absolute(&path)?.display()))
}

pub(crate) fn find_config_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE_NAME))
        .find(|candidate| candidate.is_file())
}

fn read_config_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    toml::from_str(&text).map_err(|e| Error::Config {
        key: path.display().to_string(),
        value: String::new(),
        message: e.message().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_beats_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE_NAME),
            "home = \"h\"\nstore = \"st\"\nrefresh_secs = 5\n[store_options]\nmax_retries = 2\n",
        )
        .unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();

        let from_file = LakeConfigBuilder {
            use_file: true,
            ..LakeConfigBuilder::new()
        }
        .with_search_dir(&sub)
        .build()
        .unwrap();
        assert_eq!(from_file.home, dir.path().join("h"));
        assert_eq!(
            from_file.store_url,
            format!("file://{}", dir.path().join("st").display())
        );
        assert_eq!(from_file.refresh_interval, Duration::from_secs(5));
        assert_eq!(from_file.store_options["max_retries"], "2");

        let explicit = LakeConfigBuilder {
            use_file: true,
            ..LakeConfigBuilder::new()
        }
        .with_search_dir(&sub)
        .with_home("/x/home")
        .with_config(ConfigKey::Store, "memory://m")
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(explicit.home, PathBuf::from("/x/home"));
        assert_eq!(explicit.store_url, "memory://m");
    }

    #[test]
    fn default_store_lives_in_home() {
        let c = LakeConfigBuilder::new().with_home("/h").build().unwrap();
        assert_eq!(c.store_url, "file:///h/store");
    }

    #[test]
    fn bad_values_are_named() {
        let err = LakeConfigBuilder::new()
            .with_config(ConfigKey::RefreshSecs, "soon")
            .unwrap_err();
        assert!(err.to_string().contains("\"soon\""), "{err}");
        let err = "colour".parse::<ConfigKey>().unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn store_url_typos_are_refused_naming_the_source_and_the_forms() {
        // See: issue 10 (a typo became a local directory named `s3:`).
        for bad in [
            "s3:/bucket",
            "s3:bucket",
            "file:relative",
            "http:/x",
            "ftp://x/y",
        ] {
            let err = LakeConfigBuilder::new()
                .with_home("/h")
                .with_store(bad)
                .build()
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
            assert!(err.contains("s3://bucket/prefix"), "{err}");
            assert!(err.contains("file:///absolute/path"), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "store = \"gs:/b\"\n").unwrap();
        let err = LakeConfigBuilder {
            use_file: true,
            ..LakeConfigBuilder::new()
        }
        .with_search_dir(dir.path())
        .with_home("/h")
        .build()
        .unwrap_err()
        .to_string();
        assert!(err.contains("lake.toml") && err.contains("gs:/b"), "{err}");
    }

    #[test]
    fn plain_paths_stay_store_urls() {
        let c = LakeConfigBuilder::new()
            .with_home("/h")
            .with_store("/abs/store")
            .build()
            .unwrap();
        assert_eq!(c.store_url, "file:///abs/store");
        let c = LakeConfigBuilder::new()
            .with_home("/h")
            .with_store("./s3:/bucket")
            .build()
            .unwrap();
        assert!(c.store_url.ends_with("/s3:/bucket"), "{}", c.store_url);
        assert!(c.store_url.starts_with("file:///"), "{}", c.store_url);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "stroe = \"x\"\n").unwrap();
        let err = LakeConfigBuilder {
            use_file: true,
            ..LakeConfigBuilder::new()
        }
        .with_search_dir(dir.path())
        .build()
        .unwrap_err();
        assert!(err.to_string().contains("stroe"), "{err}");
    }
}
