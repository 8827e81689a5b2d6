//! Checks of listings: segment-wise prefixes, pagination, `after`, and the
//! e-tags a listing shows.

use lake_core::{PutMode, Store, StorePath};

use super::{Fixture, key, list_all, put, scratch};

/// The e-tag a `put` returns is the one a later `list` shows, for
/// `Create` and `Overwrite` (of a new key and of an existing one). Record
/// packs rely on it: a packed record is trusted only if its name object is
/// listed with the e-tag its create returned. A store declared
/// [`without_listed_e_tags`](Fixture::without_listed_e_tags) may list none.
pub async fn check_put_etag_matches_list(fixture: &Fixture) {
    let store = fixture.store();
    let root = scratch("put_etag");
    let created = key(&format!("{root}/names/created.json"));
    let overwritten = key(&format!("{root}/names/overwritten.json"));
    let writes = [
        (&created, &b"created"[..], PutMode::Create),
        (&overwritten, &b"overwritten"[..], PutMode::Overwrite),
        (
            &created,
            &b"created, then overwritten"[..],
            PutMode::Overwrite,
        ),
    ];
    for (path, bytes, mode) in writes {
        let version = put(store, path, bytes, mode.clone()).await;
        let Some(e_tag) = version.e_tag else {
            continue;
        };
        let page = store
            .list(&key(&root), None, 1000)
            .await
            .unwrap_or_else(|e| panic!("{store}: list {root} failed: {e}"));
        let listed = page
            .objects
            .iter()
            .find(|meta| &meta.path == path)
            .unwrap_or_else(|| panic!("{store}: list of {root} misses {path}: {page:?}"));
        let shown = listed.version.e_tag.as_deref();
        assert!(
            shown == Some(e_tag.as_str()) || (shown.is_none() && !fixture.lists_e_tags()),
            "{store}: put {path} ({mode:?}) returned e-tag {e_tag:?}, but list shows {shown:?}"
        );
    }
}

/// A listing prefix matches whole segments: `x/a` lists `x/a/…`, never
/// `x/ab.json` or `x/a.json`.
pub async fn check_list_prefix_is_segment_wise(store: &dyn Store) {
    let root = scratch("list_prefix");
    let inside = [format!("{root}/a/x.json"), format!("{root}/a/y/z.json")];
    let outside = [
        format!("{root}/ab.json"),
        format!("{root}/a.json"),
        format!("{root}/b/c.json"),
    ];
    for k in inside.iter().chain(&outside) {
        put(store, &key(k), b"x", PutMode::Create).await;
    }
    let listed = list_all(store, &key(&format!("{root}/a")), 100).await;
    let expected: Vec<StorePath> = inside.iter().map(|k| key(k)).collect();
    assert_eq!(listed, expected, "{store}: list of {root}/a");

    let page = store
        .list(&key(&format!("{root}/nothing")), None, 10)
        .await
        .unwrap_or_else(|e| panic!("{store}: list of an empty prefix failed: {e}"));
    assert!(
        page.objects.is_empty() && page.next.is_none(),
        "{store}: an empty prefix lists {page:?}"
    );
}

/// Paging with small limits visits every key once, in ascending order, and
/// sizes are right.
pub async fn check_list_pagination(store: &dyn Store) {
    let root = scratch("list_pages");
    let mut expected: Vec<StorePath> = Vec::new();
    for i in 0..13 {
        // Nested keys and a name that sorts between a directory and its
        // children (`d.json` < `d/…` bytewise) exercise the ordering.
        let raw = match i % 3 {
            0 => format!("{root}/k{i:02}.json"),
            1 => format!("{root}/d/k{i:02}"),
            _ => format!("{root}/d.json{i:02}"),
        };
        let k = key(&raw);
        put(store, &k, raw.as_bytes(), PutMode::Create).await;
        expected.push(k);
    }
    expected.sort();
    let prefix = key(&root);
    for limit in [1, 2, 5, 13, 14, 1000] {
        // Page by page here, since the page sizes are what is checked.
        let mut listed = Vec::new();
        let mut after: Option<StorePath> = None;
        loop {
            let page = store
                .list(&prefix, after.as_ref(), limit)
                .await
                .unwrap_or_else(|e| panic!("{store}: list {prefix:?} failed: {e}"));
            assert!(
                page.objects.len() <= limit,
                "{store}: a page of list {prefix:?} has {} objects, more than the limit {limit}",
                page.objects.len()
            );
            listed.extend(page.objects.into_iter().map(|m| m.path));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
            assert!(
                listed.len() <= expected.len(),
                "{store}: list {prefix:?} does not end"
            );
        }
        assert_eq!(listed, expected, "{store}: paging with limit {limit}");
        assert_eq!(
            list_all(store, &prefix, limit).await,
            expected,
            "{store}: StoreExt::list_all with limit {limit}"
        );
    }

    let page = store.list(&prefix, None, 1000).await.expect("list");
    assert!(page.next.is_none(), "{store}: a complete page has a next");
    for meta in &page.objects {
        assert_eq!(
            meta.size,
            meta.path.as_str().len() as u64,
            "{store}: list reports a wrong size for {}",
            meta.path
        );
    }
    let page = store.list(&prefix, None, 5).await.expect("list");
    assert_eq!(
        page.objects.len(),
        5,
        "{store}: a page is shorter than the limit with more to come"
    );
    assert_eq!(
        page.next.as_ref(),
        Some(&expected[4]),
        "{store}: next is not the last key of the page"
    );
}

/// `after` is exclusive, and need not be an existing key.
pub async fn check_list_after(store: &dyn Store) {
    let root = scratch("list_after");
    let keys: Vec<StorePath> = ["a", "b", "c/d", "e"]
        .iter()
        .map(|k| key(&format!("{root}/{k}")))
        .collect();
    for k in &keys {
        put(store, k, b"x", PutMode::Create).await;
    }
    let prefix = key(&root);
    let paths =
        |page: lake_core::ListPage| page.objects.into_iter().map(|m| m.path).collect::<Vec<_>>();

    let page = store
        .list(&prefix, Some(&keys[1]), 100)
        .await
        .expect("list");
    assert_eq!(paths(page), keys[2..], "{store}: list after {}", keys[1]);
    let between = key(&format!("{root}/bb"));
    let page = store
        .list(&prefix, Some(&between), 100)
        .await
        .expect("list");
    assert_eq!(paths(page), keys[2..], "{store}: list after a missing key");
    let page = store
        .list(&prefix, Some(&keys[3]), 100)
        .await
        .expect("list");
    assert!(
        page.objects.is_empty() && page.next.is_none(),
        "{store}: list after the last key: {page:?}"
    );
}
