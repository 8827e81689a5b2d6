//! Configuration: where the home is and which store it fronts.
//!
//! Resolution order, first found wins: explicit values (command-line flags,
//! [`LakeConfigBuilder::with_config`]), then the environment (`LAKE_HOME`,
//! `LAKE_STORE`, `LAKE_REFRESH_SECS`, `LAKE_STORE_OPT_<KEY>`), then `lake.toml`
//! found upward from the current directory, then defaults.
//!
//! # Named stores
//! `lake.toml` may name several stores (issue 12 part 4):
//!
//! ```toml
//! default_store = "main"          # holds the names; the others are replicas
//! read_order = ["main", "archive"]
//!
//! [stores.main]
//! url = "s3://bucket/lake"
//! [stores.archive]
//! url = "az://container/lake"
//! max_retries = 2                 # any other key is a store option
//!
//! [hosts.laptop]                  # this machine reads the archive first
//! read_order = ["archive", "main"]
//! ```
//!
//! The single `store` key stays valid: it is the default store, named
//! `default`, and `[stores.*]` then lists replicas only. `LAKE_STORE` and
//! `--store-url` replace the default store's URL, as before; `LAKE_READ_ORDER`
//! (comma-separated) replaces the read order. See
//! `docs/design/0013-stores-and-history.md`.

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
    /// The name of the default store (`default_store`, else `default`):
    /// the store at `store_url`, which holds the names.
    pub default_store: String,
    /// The other named stores (`[stores.NAME]`): replicas, which hold
    /// copies of content and never names.
    pub replicas: BTreeMap<String, NamedStore>,
    /// Every store's name, in the order reads try them: this host's
    /// `read_order`, then the stores it leaves out (the default first).
    pub read_order: Vec<String>,
    /// Where each setting came from (`lake config` shows them).
    pub origins: ConfigOrigins,
}

/// Where each setting of a [`LakeConfig`] came from: `set explicitly` (a
/// flag, or the builder), `environment VAR`, `lake.toml: key`, or
/// `default`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigOrigins {
    /// The `lake.toml` that was read, if any.
    pub file: Option<PathBuf>,
    /// Of [`LakeConfig::home`].
    pub home: String,
    /// Of [`LakeConfig::store_url`].
    pub store: String,
    /// Of [`LakeConfig::refresh_interval`].
    pub refresh: String,
    /// Of [`LakeConfig::read_order`].
    pub read_order: String,
    /// Of each of [`LakeConfig::store_options`], by key.
    pub store_options: BTreeMap<String, String>,
}

const EXPLICIT: &str = "set explicitly";
const DEFAULT: &str = "default";

/// A replica store from `[stores.NAME]` in `lake.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedStore {
    /// Its URL (a bare path became `file://`).
    pub url: String,
    /// Its own store options: every key of its table but `url`. The
    /// top-level `[store_options]` belong to the default store only, since
    /// a replica may be another kind of store, which would refuse them.
    pub options: BTreeMap<String, String>,
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
    replicas: BTreeMap<String, NamedStore>,
    read_order: Option<Vec<String>>,
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
    /// Which of `stores` holds the names.
    default_store: Option<String>,
    /// `[stores.NAME]`: `url`, and store options.
    #[serde(default)]
    stores: BTreeMap<String, toml::Table>,
    /// The read order of hosts without their own.
    read_order: Option<Vec<String>>,
    /// `[hosts.HOSTNAME]`: per-machine settings.
    #[serde(default)]
    hosts: BTreeMap<String, HostConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostConfig {
    read_order: Option<Vec<String>>,
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

    /// Adds a replica store named `name` at `url`, with `options`; a
    /// replica of the same name in `lake.toml` is replaced.
    pub fn with_replica(
        mut self,
        name: impl Into<String>,
        url: impl Into<String>,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        self.replicas.insert(
            name.into(),
            NamedStore {
                url: url.into(),
                options: options.into_iter().collect(),
            },
        );
        self
    }

    /// Sets the order in which reads try the stores, by name.
    pub fn with_read_order<S: Into<String>>(mut self, order: impl IntoIterator<Item = S>) -> Self {
        self.read_order = Some(order.into_iter().map(Into::into).collect());
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

        let mut origins = ConfigOrigins {
            file: file_dir.as_ref().map(|dir| dir.join(CONFIG_FILE_NAME)),
            ..ConfigOrigins::default()
        };
        let (home, origin) = match (self.home, env("LAKE_HOME"), file.home.clone()) {
            (Some(home), _, _) => (home, EXPLICIT.to_owned()),
            (None, Some(home), _) => (PathBuf::from(home), "environment LAKE_HOME".to_owned()),
            (None, None, Some(home)) => (relative_to_file(home), "lake.toml: home".to_owned()),
            (None, None, None) => (default_home()?, DEFAULT.to_owned()),
        };
        origins.home = origin;
        let home = absolute(&home)?;

        let named = resolve_named_stores(&file, file_dir.as_deref())?;
        // Which layer the store came from, to name it in an error.
        let file_store = match (file.store.clone(), &named.default) {
            (Some(url), _) => Some(("lake.toml: store", url, file_dir.as_deref())),
            // Already normalized: a URL now, so the base is not used.
            (None, Some((_, default))) => Some(("lake.toml: stores", default.url.clone(), None)),
            (None, None) => None,
        };
        let store = match (self.store, env("LAKE_STORE"), file_store) {
            (Some(url), _, _) => Some(("store", url, None)),
            (None, Some(url), _) => Some(("LAKE_STORE", url, None)),
            (None, None, Some(file_store)) => Some(file_store),
            (None, None, None) => None,
        };
        let store_url = match store {
            Some((key, url, base)) => {
                origins.store = match key {
                    "store" => EXPLICIT.to_owned(),
                    "LAKE_STORE" => "environment LAKE_STORE".to_owned(),
                    other => other.to_owned(),
                };
                normalize_store_url(key, &url, base)?
            }
            None => {
                origins.store = format!("{DEFAULT} (the home's store)");
                format!("file://{}", home.join("store").display())
            }
        };

        let refresh_secs = match (
            self.refresh_secs,
            env("LAKE_REFRESH_SECS"),
            file.refresh_secs,
        ) {
            (Some(s), _, _) => {
                origins.refresh = EXPLICIT.to_owned();
                s
            }
            (None, Some(v), _) => {
                origins.refresh = "environment LAKE_REFRESH_SECS".to_owned();
                parse_secs("LAKE_REFRESH_SECS", &v)?
            }
            (None, None, Some(s)) => {
                origins.refresh = "lake.toml: refresh_secs".to_owned();
                s
            }
            (None, None, None) => {
                origins.refresh = DEFAULT.to_owned();
                30
            }
        };

        let default_options = named
            .default
            .as_ref()
            .map(|(_, d)| d.options.clone())
            .unwrap_or_default();
        if let Some((name, _)) = &named.default {
            for key in default_options.keys() {
                let origin = format!("lake.toml: stores.{name}");
                origins.store_options.insert(key.clone(), origin);
            }
        }
        let mut store_options: BTreeMap<String, String> = default_options;
        for (k, v) in file.store_options {
            let v = match v {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            let k = k.to_ascii_lowercase();
            origins
                .store_options
                .insert(k.clone(), "lake.toml: store_options".to_owned());
            store_options.insert(k, v);
        }
        if self.use_env {
            for (k, v) in std::env::vars() {
                if let Some(opt) = k.strip_prefix("LAKE_STORE_OPT_") {
                    let opt = opt.to_ascii_lowercase();
                    origins
                        .store_options
                        .insert(opt.clone(), format!("environment {k}"));
                    store_options.insert(opt, v);
                }
            }
        }
        for key in self.store_options.keys() {
            origins
                .store_options
                .insert(key.clone(), EXPLICIT.to_owned());
        }
        store_options.extend(self.store_options);

        let default_store = named
            .default
            .as_ref()
            .map_or_else(|| DEFAULT_STORE_NAME.to_owned(), |(name, _)| name.clone());
        let mut replicas = named.replicas;
        for (name, replica) in self.replicas {
            check_store_name(&format!("replica {name}"), &name)?;
            let url = normalize_store_url(&format!("stores.{name}.url"), &replica.url, None)?;
            replicas.insert(name, NamedStore { url, ..replica });
        }
        if replicas.contains_key(&default_store) {
            return Err(Error::Config {
                key: "stores".into(),
                value: default_store,
                message: "a replica cannot have the default store's name".into(),
            });
        }
        // This host's order: explicit, then the environment, then
        // `[hosts.<this host>]`, then the file's top level.
        let (order_key, order) = match (self.read_order, env("LAKE_READ_ORDER")) {
            (Some(order), _) => ("read_order".to_owned(), Some(order)),
            (None, Some(text)) => (
                "LAKE_READ_ORDER".to_owned(),
                Some(
                    text.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                ),
            ),
            (None, None) => {
                let host = crate::lineage::host();
                match file.hosts.get(&host).and_then(|h| h.read_order.clone()) {
                    Some(order) => (format!("lake.toml: hosts.{host}.read_order"), Some(order)),
                    None => ("lake.toml: read_order".to_owned(), file.read_order.clone()),
                }
            }
        };
        origins.read_order = match &order {
            Some(_) if order_key == "read_order" => EXPLICIT.to_owned(),
            Some(_) if order_key == "LAKE_READ_ORDER" => "environment LAKE_READ_ORDER".to_owned(),
            Some(_) => order_key.clone(),
            None => format!("{DEFAULT} (the default store first)"),
        };
        let read_order = complete_read_order(&order_key, order, &default_store, &replicas)?;

        Ok(LakeConfig {
            home,
            store_url,
            refresh_interval: Duration::from_secs(refresh_secs),
            store_options,
            progress: self.progress,
            default_store,
            replicas,
            read_order,
            origins,
        })
    }
}

/// The default store's name when `lake.toml` names none.
pub const DEFAULT_STORE_NAME: &str = "default";

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

mod stores;
use stores::{check_store_name, complete_read_order, resolve_named_stores};
#[cfg(test)]
mod tests;
