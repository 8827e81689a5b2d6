//! Cloud stores (S3, Azure, GCS, WebDAV over HTTP): which options each
//! takes, how options, the environment and lake's defaults combine, and
//! [`open_cloud`], which builds the `object_store` backend.

use std::str::FromStr;
use std::sync::Arc;

use lake_core::{Store, StoreConfigError};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};
use url::Url;

use super::ObjectBackend;
use super::options::{
    RETRY_KEYS, StoreOptions, TRANSFER_KEYS, TransferTuning, set_retry, set_transfer,
};
use super::redact::{is_secret_key, remember_secrets, scrub};
use super::s3_uploads::S3Uploads;

/// A kind of cloud store and the options its builder takes, for messages.
/// The lists are `object_store` 0.14's canonical key names; a unit test
/// checks that each one parses, so they cannot drift from the builders.
struct CloudKind {
    /// `an s3 store`, …
    name: &'static str,
    /// The builder's own keys.
    own: &'static [&'static str],
}

impl CloudKind {
    /// Every key accepted: the builder's own, the HTTP client's (all
    /// builders take them, except through WebDAV's own list), and lake's
    /// retry keys.
    fn valid_options(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.own.to_vec();
        all.extend_from_slice(CLIENT_OPTIONS);
        all.extend_from_slice(RETRY_KEYS);
        all.extend_from_slice(TRANSFER_KEYS);
        all
    }
}

const S3: CloudKind = CloudKind {
    name: "an s3 store",
    own: &[
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region",
        "aws_default_region",
        "aws_bucket",
        "aws_endpoint",
        "aws_endpoint_url_s3",
        "aws_endpoint_url_sts",
        "aws_imdsv1_fallback",
        "aws_virtual_hosted_style_request",
        "aws_s3_express",
        "aws_metadata_endpoint",
        "aws_unsigned_payload",
        "aws_checksum_algorithm",
        "aws_container_credentials_relative_uri",
        "aws_container_credentials_full_uri",
        "aws_container_authorization_token_file",
        "aws_web_identity_token_file",
        "aws_role_arn",
        "aws_role_session_name",
        "aws_skip_signature",
        "aws_copy_if_not_exists",
        "aws_conditional_put",
        "aws_disable_tagging",
        "aws_disable_bulk_delete",
        "aws_request_payer",
        "aws_server_side_encryption",
        "aws_sse_kms_key_id",
        "aws_sse_bucket_key_enabled",
        "aws_sse_customer_key_base64",
    ],
};

const AZURE: CloudKind = CloudKind {
    name: "an azure store",
    own: &[
        "azure_storage_account_name",
        "azure_storage_account_key",
        "azure_storage_client_id",
        "azure_storage_client_secret",
        "azure_storage_tenant_id",
        "azure_storage_authority_host",
        "azure_storage_sas_key",
        "azure_storage_token",
        "azure_storage_use_emulator",
        "azure_use_fabric_endpoint",
        "azure_storage_endpoint",
        "azure_msi_endpoint",
        "azure_object_id",
        "azure_msi_resource_id",
        "azure_federated_token_file",
        "azure_use_azure_cli",
        "azure_skip_signature",
        "azure_container_name",
        "azure_disable_tagging",
        "azure_fabric_token_service_url",
        "azure_fabric_workload_host",
        "azure_fabric_session_token",
        "azure_fabric_cluster_identifier",
        "azure_credential_type",
        "azure_storage_encryption_key",
    ],
};

const GCS: CloudKind = CloudKind {
    name: "a gcs store",
    own: &[
        "google_service_account",
        "google_service_account_key",
        "google_bucket",
        "google_base_url",
        "google_application_credentials",
        "google_bearer_token",
        "google_skip_signature",
    ],
};

const HTTP: CloudKind = CloudKind {
    name: "an http store",
    own: &[],
};

/// The HTTP client's options, taken by every cloud builder.
const CLIENT_OPTIONS: &[&str] = &[
    "allow_http",
    "allow_invalid_certificates",
    "disable_system_certificates",
    "connect_timeout",
    "default_content_type",
    "http1_only",
    "http2_only",
    "http2_keep_alive_interval",
    "http2_keep_alive_timeout",
    "http2_keep_alive_while_idle",
    "http2_max_frame_size",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_url",
    "proxy_ca_certificate",
    "proxy_excludes",
    "randomize_addresses",
    "read_timeout",
    "timeout",
    "user_agent",
];

/// The configuration of one cloud store, split by where it came from, in
/// increasing precedence, and the secret values among it.
struct CloudConfig {
    defaults: Vec<(String, String)>,
    options: Vec<(String, String)>,
    env: Vec<(String, String)>,
    retry: RetryConfig,
    transfers: TransferTuning,
    /// Values never to show: the URL's password, secret query parameters
    /// and the values of secret-looking options and variables.
    secrets: Vec<String>,
}

impl CloudConfig {
    /// Gathers the layers for a store of `scheme` at `url`: lake's defaults,
    /// `options` (the retry ones taken out and parsed) and the environment.
    fn new(
        url: &Url,
        scheme: &ObjectStoreScheme,
        options: &StoreOptions,
    ) -> Result<Self, StoreConfigError> {
        let mut secrets = Vec::new();
        secrets.extend(url.password().map(str::to_owned));
        for (key, value) in url.query_pairs() {
            if is_secret_key(&key) {
                secrets.push(value.into_owned());
            }
        }
        let mut retry = RetryConfig::default();
        let mut transfers = TransferTuning::default();
        let mut passed = Vec::new();
        for (key, value) in options.iter() {
            if is_secret_key(key) {
                secrets.push(value.to_owned());
            }
            let lower = key.to_ascii_lowercase();
            if RETRY_KEYS.contains(&lower.as_str()) {
                set_retry(&mut retry, &lower, value)?;
            } else if TRANSFER_KEYS.contains(&lower.as_str()) {
                set_transfer(&mut transfers, &lower, value)?;
            } else {
                passed.push((lower, value.to_owned()));
            }
        }
        let env = options.env_options();
        secrets.extend(
            env.iter()
                .filter(|(k, _)| is_secret_key(k))
                .map(|(_, v)| v.clone()),
        );

        let mut defaults = Vec::new();
        if *scheme == ObjectStoreScheme::AmazonS3 {
            // Create needs If-None-Match and compare-and-swap If-Match; S3
            // and moto support both, and copy-if-not-exists needs the
            // multipart trick.
            defaults.push(("aws_conditional_put".to_owned(), "etag".to_owned()));
            defaults.push(("aws_copy_if_not_exists".to_owned(), "multipart".to_owned()));
        }
        if url.scheme() == "http" {
            // The user asked for plain HTTP by writing it.
            defaults.push(("allow_http".to_owned(), "true".to_owned()));
        }
        Ok(Self {
            defaults,
            options: passed,
            env,
            retry,
            transfers,
            secrets,
        })
    }

    /// Applies every layer to `builder`. Unknown keys from `options` are
    /// errors; from the environment they are expected (`AWS_PROFILE`, …)
    /// and skipped.
    fn apply<B, K: FromStr>(
        &self,
        mut builder: B,
        kind: &CloudKind,
        set: impl Fn(B, K, String) -> B,
    ) -> Result<B, StoreConfigError> {
        for (key, value) in &self.defaults {
            if let Ok(k) = key.parse() {
                builder = set(builder, k, value.clone());
            }
        }
        for (key, value) in &self.options {
            match key.to_ascii_lowercase().parse() {
                Ok(k) => builder = set(builder, k, value.clone()),
                Err(_) => {
                    return Err(StoreConfigError::UnknownOption {
                        key: key.clone(),
                        store_kind: kind.name,
                        valid: kind.valid_options(),
                    });
                }
            }
        }
        for (key, value) in &self.env {
            if let Ok(k) = key.parse() {
                builder = set(builder, k, value.clone());
            }
        }
        Ok(builder)
    }

    /// A builder's refusal, scrubbed of this configuration's secrets.
    fn builder_error(&self, e: object_store::Error) -> StoreConfigError {
        StoreConfigError::Builder {
            reason: scrub(&e.to_string(), &self.secrets),
        }
    }
}

/// Client options that send `user:password` as HTTP Basic authorization,
/// marked sensitive so that no debug output shows it.
fn basic_auth(user: &str, password: Option<&str>) -> Result<ClientOptions, StoreConfigError> {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{user}:{}", password.unwrap_or_default()));
    let mut value = http::HeaderValue::from_str(&format!("Basic {token}"))
        .map_err(|_| StoreConfigError::InvalidUserInfo)?;
    value.set_sensitive(true);
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value);
    Ok(ClientOptions::new().with_default_headers(headers))
}

/// A URL's user or password component, percent-decoded.
fn percent_decode(component: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", component.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Opens an S3, Azure, GCS or HTTP store at `url` (`raw` as the user wrote
/// it), configured by `options` and the environment.
pub(super) fn open_cloud(
    raw: &str,
    url: &Url,
    options: &StoreOptions,
) -> Result<Arc<dyn Store>, StoreConfigError> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err(match url.scheme() {
            "http" | "https" => StoreConfigError::MissingHost,
            scheme => StoreConfigError::MissingBucket {
                scheme: scheme.to_owned(),
            },
        });
    }
    let (scheme, prefix) =
        ObjectStoreScheme::parse(url).map_err(|e| StoreConfigError::UnrecognisedUrl {
            reason: e.to_string(),
        })?;
    let config = CloudConfig::new(url, &scheme, options)?;

    // The builders are called directly rather than through
    // `object_store::parse_url_opts` (which does the same key parsing)
    // because retries are configured with `with_retry`, not with options.
    // They share no trait, hence the macros.
    macro_rules! configured {
        ($builder:expr, $kind:expr) => {
            config
                .apply($builder, $kind, |b, k, v| b.with_config(k, v))?
                .with_retry(config.retry.clone())
        };
    }
    macro_rules! build {
        ($builder:expr, $kind:expr) => {
            configured!($builder, $kind)
                .build()
                .map_err(|e| config.builder_error(e))?
        };
    }
    let mut s3_uploads = None;
    let (inner, signer) = match scheme {
        ObjectStoreScheme::AmazonS3 => {
            // Built in two steps: the uploads lister needs the configured
            // builder's endpoint, bucket and region.
            let builder = configured!(AmazonS3Builder::new().with_url(raw), &S3);
            let s3 = builder
                .clone()
                .build()
                .map_err(|e| config.builder_error(e))?;
            s3_uploads = Some(S3Uploads::new(s3.clone(), &builder, url, &prefix));
            signing(s3, prefix)
        }
        ObjectStoreScheme::MicrosoftAzure => signing(
            build!(MicrosoftAzureBuilder::new().with_url(raw), &AZURE),
            prefix,
        ),
        ObjectStoreScheme::GoogleCloudStorage => signing(
            build!(GoogleCloudStorageBuilder::new().with_url(raw), &GCS),
            prefix,
        ),
        ObjectStoreScheme::Http => {
            // User-info travels as a header, never inside the URL: the HTTP
            // client's dependencies print request URLs at trace level.
            let mut bare = url.clone();
            let user = percent_decode(bare.username());
            let password = bare.password().map(percent_decode);
            let _ = bare.set_username("");
            let _ = bare.set_password(None);
            let base = &bare[..url::Position::BeforePath];
            let mut builder = HttpBuilder::new().with_url(base);
            if !user.is_empty() || password.is_some() {
                builder = builder.with_client_options(basic_auth(&user, password.as_deref())?);
            }
            // Plain HTTP has no credentials to sign with.
            (with_prefix(build!(builder, &HTTP), prefix), None)
        }
        other => {
            return Err(StoreConfigError::UnsupportedKind {
                kind: format!("{other:?}"),
            });
        }
    };
    remember_secrets(&config.secrets);
    let mut backend = ObjectBackend::new(inner, raw)
        .with_secrets(config.secrets)
        .with_transfer_tuning(config.transfers);
    if let Some(signer) = signer {
        backend = backend.with_signer(signer);
    }
    if let Some(uploads) = s3_uploads {
        backend = backend.with_s3_uploads(uploads);
    }
    if scheme == ObjectStoreScheme::Http {
        // WebDAV listings come in server order.
        backend = backend.with_unsorted_listing();
    }
    if scheme == ObjectStoreScheme::MicrosoftAzure {
        backend = backend.with_unquoted_listed_e_tags();
    }
    Ok(Arc::new(backend))
}

/// `store` below `prefix`, as a store and as a signer of presigned URLs
/// for the same keys.
fn signing<T: ObjectStore + Signer>(
    store: T,
    prefix: object_store::path::Path,
) -> (Arc<dyn ObjectStore>, Option<Arc<dyn Signer>>) {
    if prefix.as_ref().is_empty() {
        let store = Arc::new(store);
        (store.clone(), Some(store))
    } else {
        let store = Arc::new(PrefixStore::new(store, prefix));
        (store.clone(), Some(store))
    }
}

/// `store` below `prefix`.
fn with_prefix<T: ObjectStore>(store: T, prefix: object_store::path::Path) -> Arc<dyn ObjectStore> {
    if prefix.as_ref().is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_store_with;

    #[test]
    fn listed_cloud_options_are_the_builders_keys() {
        use object_store::aws::AmazonS3ConfigKey;
        use object_store::azure::AzureConfigKey;
        use object_store::gcp::GoogleConfigKey;
        // The options lake parses itself are no builder's keys.
        let handled_by_lake = |key| RETRY_KEYS.contains(&key) || TRANSFER_KEYS.contains(&key);
        for key in S3.valid_options() {
            if !handled_by_lake(key) {
                let parsed: AmazonS3ConfigKey = key.parse().unwrap();
                assert_eq!(parsed.as_ref(), key);
            }
        }
        for key in AZURE.valid_options() {
            if !handled_by_lake(key) {
                let parsed: AzureConfigKey = key.parse().unwrap();
                assert_eq!(parsed.as_ref(), key);
            }
        }
        for key in GCS.valid_options() {
            if !handled_by_lake(key) {
                let parsed: GoogleConfigKey = key.parse().unwrap();
                assert_eq!(parsed.as_ref(), key);
            }
        }
        for key in CLIENT_OPTIONS {
            let parsed: object_store::ClientConfigKey = key.parse().unwrap();
            assert_eq!(parsed.as_ref(), *key);
        }
    }

    #[test]
    fn s3_store_opens_with_options_and_hides_secrets() {
        let options = StoreOptions::new()
            .without_env()
            .with("aws_access_key_id", "AKIAEXAMPLE")
            .with("aws_secret_access_key", "planted-secret-value")
            .with("aws_endpoint", "http://127.0.0.1:1")
            .with("allow_http", "true")
            .with("max_retries", "0")
            .with("timeout", "5s");
        let store = open_store_with("s3://bucket/some/prefix", &options).unwrap();
        assert_eq!(store.to_string(), "s3://bucket/some/prefix");
        assert!(!format!("{store:?}").contains("planted-secret-value"));
        assert!(!format!("{options:?}").contains("planted-secret-value"));
    }
}
