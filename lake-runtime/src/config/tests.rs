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

fn from_file(toml: &str) -> Result<LakeConfig> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE_NAME), toml).unwrap();
    LakeConfigBuilder {
        use_file: true,
        ..LakeConfigBuilder::new()
    }
    .with_search_dir(dir.path())
    .with_home("/h")
    .build()
}

#[test]
fn named_stores_give_a_default_replicas_and_a_per_host_read_order() {
    let host = crate::lineage::host();
    let c = from_file(&format!(
        "default_store = \"main\"\nread_order = [\"main\"]\n\
         [stores.main]\nurl = \"/s/main\"\nlocal_fsync = false\n\
         [stores.archive]\nurl = \"memory://archive\"\n\
         [stores.cold]\nurl = \"memory://cold\"\n\
         [hosts.\"{host}\"]\nread_order = [\"archive\", \"main\"]\n"
    ))
    .unwrap();
    assert_eq!(c.default_store, "main");
    assert_eq!(c.store_url, "file:///s/main");
    assert_eq!(c.store_options["local_fsync"], "false");
    assert_eq!(c.replicas.keys().collect::<Vec<_>>(), ["archive", "cold"]);
    assert!(c.replicas["archive"].options.is_empty());
    assert_eq!(c.read_order, ["archive", "main", "cold"]);

    // Another host: the top-level order, completed.
    let c = from_file(
        "default_store = \"main\"\nread_order = [\"cold\"]\n\
         [stores.main]\nurl = \"memory://m\"\n[stores.cold]\nurl = \"memory://c\"\n\
         [hosts.elsewhere]\nread_order = [\"main\"]\n",
    )
    .unwrap();
    assert_eq!(c.read_order, ["cold", "main"]);
}

#[test]
fn the_single_store_key_stays_the_default_and_tables_are_replicas() {
    let c =
        from_file("store = \"memory://one\"\n[stores.archive]\nurl = \"memory://a\"\n").unwrap();
    assert_eq!(c.store_url, "memory://one");
    assert_eq!(c.default_store, DEFAULT_STORE_NAME);
    assert_eq!(c.read_order, ["default", "archive"]);
    // Without a table nothing changes.
    let c = from_file("store = \"memory://one\"\n").unwrap();
    assert!(c.replicas.is_empty());
    assert_eq!(c.read_order, ["default"]);
    // One table and no default: it is the default.
    let c = from_file("[stores.only]\nurl = \"memory://o\"\n").unwrap();
    assert_eq!(
        (c.default_store.as_str(), c.store_url.as_str()),
        ("only", "memory://o")
    );
}

#[test]
fn bad_store_tables_are_refused_naming_the_value() {
    for (toml, needle) in [
        (
            "default_store = \"mian\"\n[stores.main]\nurl = \"memory://m\"\n",
            "\"mian\"",
        ),
        (
            "[stores.a]\nurl = \"memory://a\"\n[stores.b]\nurl = \"memory://b\"\n",
            "set default_store",
        ),
        ("[stores.a]\nurl = \"s3:/typo\"\n", "s3:/typo"),
        ("[stores.a]\nrl = \"memory://a\"\n", "needs a url"),
        ("[stores.Main]\nurl = \"memory://a\"\n", "\"Main\""),
        (
            "read_order = [\"nope\"]\n[stores.a]\nurl = \"memory://a\"\n",
            "\"nope\"",
        ),
        (
            "read_order = [\"a\", \"a\"]\n[stores.a]\nurl = \"memory://a\"\n",
            "listed twice",
        ),
        (
            "store = \"memory://x\"\ndefault_store = \"a\"\n[stores.a]\nurl = \"memory://a\"\n",
            "not both",
        ),
    ] {
        let err = from_file(toml).unwrap_err().to_string();
        assert!(err.contains(needle), "{toml}: {err}");
    }
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
