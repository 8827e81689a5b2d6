//! `[stores.NAME]`, `default_store` and the read order of `lake.toml`
//! (issue 12 item 4; docs/design/0013-stores-and-history.md).

use super::*;

/// `[stores.*]` and `default_store` of `lake.toml`, checked.
#[derive(Default)]
pub(super) struct NamedStores {
    /// The default store, if the table names it.
    pub(super) default: Option<(String, NamedStore)>,
    pub(super) replicas: BTreeMap<String, NamedStore>,
}

pub(super) fn resolve_named_stores(file: &FileConfig, base: Option<&Path>) -> Result<NamedStores> {
    let mut all = BTreeMap::new();
    for (name, table) in &file.stores {
        check_store_name(&format!("lake.toml: stores.{name}"), name)?;
        let key = format!("lake.toml: stores.{name}.url");
        let url = match table.get("url") {
            Some(toml::Value::String(url)) => normalize_store_url(&key, url, base)?,
            Some(other) => {
                return Err(Error::Config {
                    key,
                    value: other.to_string(),
                    message: "expected a store URL in quotes".into(),
                });
            }
            None => {
                return Err(Error::Config {
                    key,
                    value: String::new(),
                    message: format!("[stores.{name}] needs a url"),
                });
            }
        };
        let options = table
            .iter()
            .filter(|(k, _)| k.as_str() != "url")
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.to_ascii_lowercase(), v)
            })
            .collect();
        all.insert(name.clone(), NamedStore { url, options });
    }
    let known = || all.keys().cloned().collect::<Vec<_>>().join(", ");
    let default_name = match (&file.default_store, &file.store) {
        (Some(name), Some(_)) => {
            return Err(Error::Config {
                key: "lake.toml: default_store".into(),
                value: name.clone(),
                message: "give either `store` (a URL) or `default_store` (a name), not both".into(),
            });
        }
        (Some(name), None) if !all.contains_key(name) => {
            return Err(Error::Config {
                key: "lake.toml: default_store".into(),
                value: name.clone(),
                message: format!("no [stores.{name}]; the stores are: {}", known()),
            });
        }
        (Some(name), None) => Some(name.clone()),
        // `store` is the default; every table is a replica.
        (None, Some(_)) => None,
        (None, None) if all.len() == 1 => all.keys().next().cloned(),
        (None, None) if all.is_empty() => None,
        (None, None) => {
            return Err(Error::Config {
                key: "lake.toml: default_store".into(),
                value: String::new(),
                message: format!(
                    "several stores and no default: set default_store to one of {}",
                    known()
                ),
            });
        }
    };
    let default = default_name.map(|name| {
        let store = all.remove(&name).expect("checked above");
        (name, store)
    });
    Ok(NamedStores {
        default,
        replicas: all,
    })
}

/// Store names are short lowercase words: they appear in commands
/// (`--to archive`) and in every history event.
pub(super) fn check_store_name(key: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::Config {
            key: key.to_owned(),
            value: name.to_owned(),
            message: "a store name is lowercase letters, digits, `-` and `_` (at most 64),                       starting with a letter or digit"
                .into(),
        })
    }
}

/// `order` checked (every entry a known store, none twice), then every
/// store it leaves out, the default first: a store missing from a host's
/// order is still a fallback, only the last one.
pub(super) fn complete_read_order(
    key: &str,
    order: Option<Vec<String>>,
    default: &str,
    replicas: &BTreeMap<String, NamedStore>,
) -> Result<Vec<String>> {
    let known: Vec<&str> = std::iter::once(default)
        .chain(replicas.keys().map(String::as_str))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for name in order.unwrap_or_default() {
        if !known.contains(&name.as_str()) {
            return Err(Error::Config {
                key: key.to_owned(),
                value: name,
                message: format!("no such store; the stores are: {}", known.join(", ")),
            });
        }
        if out.contains(&name) {
            return Err(Error::Config {
                key: key.to_owned(),
                value: name,
                message: "listed twice".into(),
            });
        }
        out.push(name);
    }
    for name in known {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}
