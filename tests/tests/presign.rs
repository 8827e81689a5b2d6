//! `lake url`: presigned URLs fetched by a plain HTTP client holding no
//! credentials, as their recipient would. s3s-fs and Azurite check
//! signatures and expiry; moto checks neither (measured: an unsigned GET
//! and an expired URL both answer 200), so on moto only the content is
//! checked. A `file://` store cannot sign, and says so.
//!
//! See: issue 13 (item 8), docs/design/0011-annotations-and-pointers.md.

use lake_tests::{TestDir, TestServer};

/// The status of a GET of `url`, and its body when it succeeded.
fn fetch(url: &str) -> (u16, Vec<u8>) {
    match ureq::get(url).call() {
        Ok(mut response) => {
            let body = response
                .body_mut()
                .read_to_vec()
                .expect("read the response body");
            (response.status().as_u16(), body)
        }
        Err(ureq::Error::StatusCode(code)) => (code, Vec::new()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The URL with the first character of its signature changed.
fn tampered(url: &str) -> String {
    for marker in ["X-Amz-Signature=", "sig="] {
        if let Some(at) = url.find(marker) {
            let at = at + marker.len();
            let old = &url[at..at + 1];
            let new = if old == "0" { "1" } else { "0" };
            return format!("{}{new}{}", &url[..at], &url[at + 1..]);
        }
    }
    panic!("no signature in {url}");
}

#[test]
fn a_presigned_url_serves_the_content_without_credentials_until_it_expires() {
    let content = b"shared with someone who has no credentials\n";
    let mut expiring = Vec::new();
    for kind in ["S3S", "AZURITE", "MOTO"] {
        let Some(server) = TestServer::from_env(kind) else {
            continue;
        };
        let t = TestDir::new();
        let url = server.fresh_url("presign");
        let lake = || {
            let mut cmd = t.lake();
            server.apply(&mut cmd, &url);
            cmd
        };
        let src = t.write("report.txt", content);
        lake().arg("add").arg(&src).arg("share/report.txt").ok();

        let link = lake().args(["url", "share/report.txt"]).ok();
        let link = link.trim();
        let (status, body) = fetch(link);
        assert_eq!(status, 200, "{kind}: GET {link}");
        assert_eq!(body, content, "{kind}: the URL served other bytes");
        if kind == "MOTO" {
            continue;
        }
        let (status, _) = fetch(&tampered(link));
        assert!(status >= 400, "{kind}: a tampered URL answered {status}");
        let bare = link.split('?').next().unwrap();
        let (status, _) = fetch(bare);
        assert!(status >= 400, "{kind}: an unsigned URL answered {status}");

        let short = lake()
            .args(["url", "share/report.txt", "--expires", "2s"])
            .ok();
        assert_eq!(fetch(short.trim()).0, 200, "{kind}: refused before expiry");
        expiring.push((kind, short.trim().to_owned()));
    }
    if !expiring.is_empty() {
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    for (kind, link) in expiring {
        let (status, _) = fetch(&link);
        assert!(status >= 400, "{kind}: an expired URL answered {status}");
    }
}

#[test]
fn a_store_that_cannot_sign_says_so_and_bad_expiries_are_refused() {
    let t = TestDir::new();
    let src = t.write("a.txt", "alpha");
    t.lake().arg("add").arg(&src).arg("a.txt").ok();
    let err = t.lake().args(["url", "a.txt"]).fails();
    assert!(
        err.contains("does not support presigned URLs") && err.contains("file://"),
        "{err}"
    );
    let err = t
        .lake()
        .args(["url", "a.txt", "--expires", "8days"])
        .fails();
    assert!(err.contains("at most 7 days"), "{err}");
    let err = t.lake().args(["url", "a.txt", "--expires", "soon"]).fails();
    assert!(err.contains("'soon'"), "{err}");
    let err = t.lake().args(["url", "missing.txt"]).fails();
    assert!(err.contains("missing.txt"), "{err}");
}
