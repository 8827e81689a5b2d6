//! Incomplete multipart uploads of an S3 store: listed with
//! `ListMultipartUploads` and aborted with `AbortMultipartUpload`, so that
//! `lake gc` can free what a writer killed mid-upload leaves behind.
//!
//! `object_store` aborts a failed upload itself, but a process killed with
//! `-9` cannot, and its parts stay on the server, billed and unlisted,
//! until someone aborts them. `object_store` has no call that lists them;
//! this module sends that one request itself, signed by `object_store`'s
//! own SigV4 signer with the store's own credentials, and leaves the abort
//! to `object_store`'s `MultipartStore`.

use chrono::{DateTime, Utc};
use lake_core::IncompleteUpload;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use serde::Deserialize;

/// What [`S3Uploads::list`] answers for a server without
/// `ListMultipartUploads` (s3s-fs answers 501 Not Implemented).
pub(crate) const UNSUPPORTED: &str =
    "ListMultipartUploads (the server answered 501 Not Implemented)";

/// Where an S3 store's uploads are listed, and with what.
#[derive(Debug, Clone)]
pub(crate) struct S3Uploads {
    s3: AmazonS3,
    /// `https://…/bucket` (path style) or `https://bucket.…` (virtual
    /// hosted), as `object_store` addresses the bucket.
    bucket_url: String,
    region: String,
    /// The store's prefix inside the bucket, `""` or ending in `/`.
    key_prefix: String,
    client: reqwest::Client,
}

/// One page of `ListMultipartUploads`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    uploads: Vec<Upload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Upload {
    key: String,
    upload_id: String,
    initiated: DateTime<Utc>,
}

impl S3Uploads {
    /// For the store `s3` that `builder` built from `url`, whose keys live
    /// below `prefix` in its bucket.
    pub(crate) fn new(
        s3: AmazonS3,
        builder: &AmazonS3Builder,
        url: &url::Url,
        prefix: &Path,
    ) -> Self {
        let value = |key| builder.get_config_value(&key).filter(|v| !v.is_empty());
        let region = value(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".to_owned());
        // The builder parses `s3://bucket/…` only when it builds, so its
        // bucket is unset here unless given as an option.
        let bucket = value(AmazonS3ConfigKey::Bucket)
            .or_else(|| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        let virtual_hosted =
            value(AmazonS3ConfigKey::VirtualHostedStyleRequest).is_some_and(|v| v == "true");
        // As object_store addresses the bucket (its `S3Config::bucket_endpoint`).
        let bucket_url = match (value(AmazonS3ConfigKey::Endpoint), virtual_hosted) {
            (Some(endpoint), true) => endpoint.trim_end_matches('/').to_owned(),
            (Some(endpoint), false) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            (None, true) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
            (None, false) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        let key_prefix = match prefix.as_ref() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            s3,
            bucket_url,
            region,
            key_prefix,
            client,
        }
    }

    /// Every upload begun below the store's prefix and not yet completed
    /// or aborted, with keys relative to the store.
    pub(crate) async fn list(&self) -> Result<Vec<IncompleteUpload>, String> {
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let page = self.list_page(markers.as_ref()).await?;
            for upload in page.uploads {
                let Some(path) = upload.key.strip_prefix(&self.key_prefix) else {
                    continue; // below a sibling prefix: not this store's
                };
                found.push(IncompleteUpload {
                    path: path.to_owned(),
                    id: upload.upload_id,
                    initiated: upload.initiated,
                });
            }
            match (
                page.is_truncated,
                page.next_key_marker,
                page.next_upload_id_marker,
            ) {
                (true, Some(key), Some(id)) => markers = Some((key, id)),
                _ => return Ok(found),
            }
        }
    }

    async fn list_page(&self, after: Option<&(String, String)>) -> Result<ListPage, String> {
        let encode =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let mut url = format!(
            "{}?uploads&prefix={}",
            self.bucket_url,
            encode(&self.key_prefix)
        );
        if let Some((key, id)) = after {
            url.push_str(&format!(
                "&key-marker={}&upload-id-marker={}",
                encode(key),
                encode(id)
            ));
        }
        let mut request = http::Request::builder()
            .method(http::Method::GET)
            .uri(&url)
            .body(object_store::client::HttpRequestBody::empty())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let credential = self
            .s3
            .credentials()
            .get_credential()
            .await
            .map_err(|e| format!("cannot get credentials: {e}"))?;
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .try_authorize(&mut request, None)
            .map_err(|e| format!("cannot sign the request: {e}"))?;
        let mut send = self.client.get(&url);
        for (name, value) in request.headers() {
            send = send.header(name.as_str(), value.as_bytes());
        }
        let response = send
            .send()
            .await
            .map_err(|e| format!("ListMultipartUploads failed: {}", e.without_url()))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("ListMultipartUploads failed: {}", e.without_url()))?;
        if status == reqwest::StatusCode::NOT_IMPLEMENTED {
            return Err(UNSUPPORTED.to_owned());
        }
        if !status.is_success() {
            return Err(format!(
                "ListMultipartUploads answered {status}: {}",
                body.chars().take(300).collect::<String>()
            ));
        }
        quick_xml::de::from_str(&body)
            .map_err(|e| format!("cannot read the ListMultipartUploads answer: {e}"))
    }

    /// Aborts `upload` (a key relative to the store), deleting its parts.
    pub(crate) async fn abort(&self, upload: &IncompleteUpload) -> Result<(), object_store::Error> {
        let key = format!("{}{}", self.key_prefix, upload.path);
        let path = Path::parse(&key).map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })?;
        match self.s3.abort_multipart(&path, &upload.id).await {
            // Aborted meanwhile (by another gc, or completed by its writer).
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_multipart_uploads_answer_is_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>lake/blobs/ab</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
  <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>lake/blobs/aa</Key><UploadId>id1</UploadId>
    <Initiator><ID>x</ID><DisplayName>y</DisplayName></Initiator>
    <StorageClass>STANDARD</StorageClass><Initiated>2026-11-29T20:48:33.000Z</Initiated></Upload>
  <Upload><Key>lake/blobs/ab</Key><UploadId>id2</UploadId>
    <Initiated>2026-11-29T21:00:00Z</Initiated></Upload>
</ListMultipartUploadsResult>"#;
        let page: ListPage = quick_xml::de::from_str(xml).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_key_marker.as_deref(), Some("lake/blobs/ab"));
        assert_eq!(page.uploads.len(), 2);
        assert_eq!(page.uploads[1].upload_id, "id2");
        let empty: ListPage = quick_xml::de::from_str(
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert!(empty.uploads.is_empty());
    }
}
