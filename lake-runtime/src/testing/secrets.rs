//! The check that no credential shows in a store's `Display`, `Debug` or
//! errors.

use bytes::Bytes;
use lake_core::{ObjectVersion, PutMode, StoreError};

use crate::store::redact_url;

use super::{Fixture, Guarantee, key, put, scratch, unique};

/// Neither the store's `Display`/`Debug` nor its errors show a credential:
/// none of `secrets`, and nothing [`redact_url`] would still remove.
pub async fn check_errors_hide_secrets(fixture: &Fixture) {
    let (store, secrets) = (fixture.store(), fixture.planted_secrets());
    let root = scratch("secrets");
    let path = key(&format!("{root}/a.json"));
    let missing = key(&format!("{root}/missing.json"));
    let mut shown = vec![store.to_string(), format!("{store:?}")];
    put(store, &path, b"1", PutMode::Create).await;
    let stale = put(store, &path, b"2", PutMode::Overwrite).await;
    put(store, &path, b"3", PutMode::Overwrite).await;

    let mut errors: Vec<StoreError> = Vec::new();
    errors.extend(store.head(&missing).await.err());
    errors.extend(store.get(&missing).await.err());
    errors.extend(store.put(&path, Bytes::new(), PutMode::Create).await.err());
    errors.extend(
        store
            .put(&path, Bytes::new(), PutMode::Update(stale))
            .await
            .err(),
    );
    let fake = ObjectVersion {
        e_tag: Some("\"x\"".into()),
        version: None,
    };
    errors.extend(
        store
            .put(&missing, Bytes::new(), PutMode::Update(fake))
            .await
            .err(),
    );
    let nowhere = std::env::temp_dir().join(unique("no-such-file"));
    errors.extend(store.put_file(&missing, &nowhere).await.err());
    // A condition the store ignores gives no error to look at: one Create,
    // two Updates.
    let conditionals = fixture.conditionals();
    let ignored = usize::from(conditionals.create == Guarantee::Ignored)
        + 2 * usize::from(conditionals.update == Guarantee::Ignored);
    assert!(
        errors.len() >= 6 - ignored,
        "{store}: expected {} errors, got {errors:?}",
        6 - ignored
    );
    for e in &errors {
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
    }

    let display = store.to_string();
    assert_eq!(
        redact_url(&display),
        display,
        "{store}: Display shows something redact_url removes"
    );
    for text in &shown {
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a planted secret is visible in: {text}"
            );
        }
    }
}
