//! AWS SDK configuration from an [`Env`]: the one place a function's AWS
//! region, credentials and endpoints come from.
//!
//! - [`Env::Process`] (a function in Lambda, a tool): the SDK's default
//!   chain, `aws_config::defaults(BehaviorVersion::latest()).load()`. It
//!   honours `AWS_ENDPOINT_URL` and the per-service variants
//!   (`AWS_ENDPOINT_URL_ECS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, ...), so the
//!   same binary talks to the local emulator when they are set.
//! - [`Env::Map`] (a function the local gateway runs in process with its own
//!   Lambda environment, tests): everything from the map and nothing from the
//!   process, as Lambda hands a function its settings. Region from
//!   `AWS_REGION` (else `AWS_DEFAULT_REGION`; required); credentials from
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
//!   when present (static), else none at all: a call then fails with the
//!   SDK's "no credentials" error and never signs with the process's
//!   credentials. Endpoints from `AWS_ENDPOINT_URL` and the per-service
//!   `AWS_ENDPOINT_URL_<SERVICE>` variables of the map, with the SDK's
//!   precedence (the service's own variable first). The process's variables,
//!   profile files, container and instance credentials are not consulted.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_types::origin::Origin;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use portcullis_core::config::{ConfigError, Env};

/// The SDK configuration of the process environment: `sdk_config_in(&Env::Process)`,
/// which cannot fail.
pub async fn sdk_config() -> SdkConfig {
    SdkSource::process().load().await
}

/// The SDK configuration of `env` (see the module documentation). For
/// `Env::Map`, a map without `AWS_REGION`/`AWS_DEFAULT_REGION`, or with only
/// one of the two access key variables, is a [`ConfigError`] naming the
/// variable.
pub async fn sdk_config_in(env: &Env) -> Result<SdkConfig, ConfigError> {
    Ok(SdkSource::from_env(env)?.load().await)
}

/// Where an SDK configuration comes from, read and checked without any I/O;
/// [`SdkSource::load`] builds it. For callers that check their configuration
/// at start-up and load the SDK later (`portcullis_db::LazyDatabase`).
#[derive(Clone)]
pub struct SdkSource(Source);

#[derive(Clone)]
enum Source {
    Process,
    Map(MapSource),
}

#[derive(Clone)]
struct MapSource {
    region: String,
    credentials: Option<Credentials>,
    /// The map's other `AWS_*` variables (endpoints), for the SDK's
    /// per-service lookups.
    vars: MapVars,
}

/// Names of the variables a map's credentials come from.
const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

impl SdkSource {
    /// The process environment's default chain.
    pub fn process() -> SdkSource {
        SdkSource(Source::Process)
    }

    /// Read region, credentials and endpoints of `env` (for `Env::Map`;
    /// `Env::Process` is left to the SDK's default chain).
    pub fn from_env(env: &Env) -> Result<SdkSource, ConfigError> {
        let Env::Map(map) = env else {
            return Ok(SdkSource::process());
        };
        let region = crate::region(env).ok_or_else(|| ConfigError::Missing {
            var: "AWS_REGION".to_owned(),
            expected: "the AWS region the function runs in (Lambda sets AWS_REGION; \
                       AWS_DEFAULT_REGION is read when it is unset)"
                .to_owned(),
        })?;
        let credentials = match (env.get(ACCESS_KEY_ID), env.get(SECRET_ACCESS_KEY)) {
            (Some(key), Some(secret)) => Some(Credentials::new(
                key.trim(),
                secret.trim(),
                env.get(SESSION_TOKEN).map(|t| t.trim().to_owned()),
                None,
                "Env::Map",
            )),
            (None, None) => {
                if env.get(SESSION_TOKEN).is_some() {
                    return Err(ConfigError::Missing {
                        var: ACCESS_KEY_ID.to_owned(),
                        expected: format!(
                            "the access key id that {SESSION_TOKEN} belongs to (with \
                             {SECRET_ACCESS_KEY}), or no {SESSION_TOKEN}"
                        ),
                    });
                }
                None
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: SECRET_ACCESS_KEY.to_owned(),
                    expected: format!(
                        "the secret access key of {ACCESS_KEY_ID} (both set, or neither for \
                         no AWS credentials)"
                    ),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: ACCESS_KEY_ID.to_owned(),
                    expected: format!(
                        "the access key id of {SECRET_ACCESS_KEY} (both set, or neither for \
                         no AWS credentials)"
                    ),
                });
            }
        };
        let vars = map
            .iter()
            .filter(|(k, v)| {
                k.starts_with("AWS_")
                    && ![ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN].contains(&k.as_str())
                    && !v.trim().is_empty()
            })
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect();
        Ok(SdkSource(Source::Map(MapSource {
            region,
            credentials,
            vars: MapVars(vars),
        })))
    }

    /// Build the SDK configuration.
    pub async fn load(&self) -> SdkConfig {
        match &self.0 {
            Source::Process => aws_config::defaults(BehaviorVersion::latest()).load().await,
            Source::Map(m) => m.load().await,
        }
    }
}

impl MapSource {
    async fn load(&self) -> SdkConfig {
        // `empty_test_environment`: the loader reads no process variable (and,
        // with no HOME, finds no profile file); region and credentials are
        // given, so no provider chain runs.
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .empty_test_environment()
            .region(Region::new(self.region.clone()));
        let loader = match &self.credentials {
            Some(c) => loader.credentials_provider(c.clone()),
            None => loader.no_credentials(),
        };
        let mut builder = loader
            .load()
            .await
            .into_builder()
            .service_config(self.vars.clone());
        // As the loader does for AWS_ENDPOINT_URL in the process: the origin
        // "environment variable" lets a service's own variable win.
        if let Some(url) = self.vars.0.get(ENDPOINT_URL) {
            builder = builder.endpoint_url(url.clone());
            builder.insert_origin("endpoint_url", Origin::shared_environment_variable());
        }
        builder.build()
    }
}

/// The `AWS_*` variables of a map, answering the SDK's per-service lookups
/// (`AWS_ENDPOINT_URL_<SERVICE_ID>` first, then `AWS_ENDPOINT_URL`).
#[derive(Clone)]
struct MapVars(BTreeMap<String, String>);

impl LoadServiceConfig for MapVars {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        // The SDK's spelling of a service id in a variable name.
        let service = key.service_id().to_uppercase().replace(' ', "_");
        self.0
            .get(&format!("{}_{service}", key.env()))
            .or_else(|| self.0.get(key.env()))
            .cloned()
    }
}

// Never print values or credentials.
impl fmt::Debug for MapVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MapVars").field(&self.0.keys()).finish()
    }
}

/// An SDK client built on its first use from an [`SdkSource`], so a
/// function's init builds no SDK configuration (credential and region
/// chains, the HTTPS client and its root certificates) that its first
/// request may not need. Cloning shares the one client.
pub enum LazyClient<C> {
    /// Built already (tests, the local gateway).
    Ready(C),
    /// Built by the first [`LazyClient::get`].
    Lazy(Arc<LazyParts<C>>),
}

/// What a lazy [`LazyClient`] is built from.
pub struct LazyParts<C> {
    source: SdkSource,
    make: Box<dyn Fn(&SdkConfig) -> C + Send + Sync>,
    cell: tokio::sync::OnceCell<C>,
}

impl<C> LazyClient<C> {
    /// A client that `make` builds from the SDK configuration of `source`
    /// on first use. `source` was checked when it was read
    /// ([`SdkSource::from_env`]); loading it cannot fail.
    pub fn new(source: SdkSource, make: impl Fn(&SdkConfig) -> C + Send + Sync + 'static) -> Self {
        LazyClient::Lazy(Arc::new(LazyParts {
            source,
            make: Box::new(make),
            cell: tokio::sync::OnceCell::new(),
        }))
    }

    /// The client, built now if this is the first call (concurrent first
    /// calls share one build).
    pub async fn get(&self) -> &C {
        match self {
            LazyClient::Ready(c) => c,
            LazyClient::Lazy(parts) => {
                parts
                    .cell
                    .get_or_init(|| async { (parts.make)(&parts.source.load().await) })
                    .await
            }
        }
    }

    /// Whether the client exists yet.
    pub fn is_built(&self) -> bool {
        match self {
            LazyClient::Ready(_) => true,
            LazyClient::Lazy(parts) => parts.cell.initialized(),
        }
    }
}

impl<C> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        LazyClient::Ready(client)
    }
}

impl<C: Clone> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        match self {
            LazyClient::Ready(c) => LazyClient::Ready(c.clone()),
            LazyClient::Lazy(parts) => LazyClient::Lazy(Arc::clone(parts)),
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LazyClient::Ready(_) => f.write_str("LazyClient::Ready"),
            LazyClient::Lazy(parts) => f
                .debug_struct("LazyClient::Lazy")
                .field("source", &parts.source)
                .field("built", &parts.cell.initialized())
                .finish(),
        }
    }
}

impl fmt::Debug for SdkSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Process => f.write_str("SdkSource::Process"),
            Source::Map(m) => f
                .debug_struct("SdkSource::Map")
                .field("region", &m.region)
                .field("credentials", &m.credentials.as_ref().map(|_| "static"))
                .field("vars", &m.vars)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[tokio::test]
    async fn a_lazy_client_is_built_once_on_first_use_and_clones_share_it() {
        let source = SdkSource::from_env(&map(&[
            ("AWS_REGION", "eu-west-3"),
            (ENDPOINT_URL, "http://emulator.invalid"),
        ]))
        .unwrap();
        let built = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&built);
        let lazy = LazyClient::new(source, move |sdk| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            sdk.region().map(|r| r.to_string())
        });
        let other = lazy.clone();
        assert!(!lazy.is_built());
        assert_eq!(
            built.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing at construction"
        );
        let (a, b) = tokio::join!(lazy.get(), other.get());
        assert_eq!(a.as_deref(), Some("eu-west-3"));
        assert_eq!(b.as_deref(), Some("eu-west-3"));
        assert!(other.is_built());
        assert_eq!(
            built.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one build for all clones"
        );
        let ready = LazyClient::Ready(7);
        assert!(ready.is_built());
        assert_eq!(*ready.get().await, 7);
    }

    #[test]
    fn a_map_without_a_region_names_aws_region() {
        let e = SdkSource::from_env(&map(&[(ACCESS_KEY_ID, "AKID"), (SECRET_ACCESS_KEY, "s")]))
            .unwrap_err();
        assert_eq!(e.var(), "AWS_REGION");
        assert!(e.to_string().contains("AWS_DEFAULT_REGION"), "{e}");
        let blank = SdkSource::from_env(&map(&[("AWS_REGION", " ")])).unwrap_err();
        assert_eq!(blank.var(), "AWS_REGION");
    }

    #[test]
    fn aws_default_region_is_read_when_aws_region_is_unset() {
        let s = SdkSource::from_env(&map(&[("AWS_DEFAULT_REGION", "eu-west-3")])).unwrap();
        assert!(format!("{s:?}").contains("eu-west-3"), "{s:?}");
    }

    #[test]
    fn half_a_key_pair_names_the_missing_half() {
        let r = ("AWS_REGION", "eu-west-3");
        let e = SdkSource::from_env(&map(&[r, (ACCESS_KEY_ID, "AKID")])).unwrap_err();
        assert_eq!(e.var(), SECRET_ACCESS_KEY);
        let e = SdkSource::from_env(&map(&[r, (SECRET_ACCESS_KEY, "s")])).unwrap_err();
        assert_eq!(e.var(), ACCESS_KEY_ID);
        let e = SdkSource::from_env(&map(&[r, (SESSION_TOKEN, "t")])).unwrap_err();
        assert_eq!(e.var(), ACCESS_KEY_ID);
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = SdkSource::from_env(&map(&[
            ("AWS_REGION", "eu-west-3"),
            (ACCESS_KEY_ID, "AKIDVISIBLE"),
            (SECRET_ACCESS_KEY, "hunter2"),
            (SESSION_TOKEN, "tokentoken"),
            (ENDPOINT_URL, "http://emulator.invalid"),
        ]))
        .unwrap();
        let text = format!("{s:?}");
        for secret in ["AKIDVISIBLE", "hunter2", "tokentoken", "emulator.invalid"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains(ENDPOINT_URL), "{text}");
    }

    #[tokio::test]
    async fn a_map_config_has_the_map_region_credentials_and_endpoints() {
        let sdk = sdk_config_in(&map(&[
            ("AWS_REGION", "eu-west-3"),
            (ACCESS_KEY_ID, "AKIDMAP"),
            (SECRET_ACCESS_KEY, "secret"),
            (SESSION_TOKEN, "session"),
            (ENDPOINT_URL, "http://global.invalid:1"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://sm.invalid:2"),
        ]))
        .await
        .unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-3"));
        assert_eq!(sdk.endpoint_url(), Some("http://global.invalid:1"));
        assert!(!sdk.get_origin("endpoint_url").is_client_config());
        use aws_credential_types::provider::ProvideCredentials;
        let creds = sdk
            .credentials_provider()
            .expect("a credentials provider")
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(creds.access_key_id(), "AKIDMAP");
        assert_eq!(creds.secret_access_key(), "secret");
        assert_eq!(creds.session_token(), Some("session"));
        let service = sdk.service_config().expect("a service config");
        let key = |id| {
            ServiceConfigKey::builder()
                .service_id(id)
                .env(ENDPOINT_URL)
                .profile("endpoint_url")
                .build()
                .unwrap()
        };
        assert_eq!(
            service.load_config(key("Secrets Manager")).as_deref(),
            Some("http://sm.invalid:2")
        );
        assert_eq!(
            service.load_config(key("ECS")).as_deref(),
            Some("http://global.invalid:1")
        );
    }

    #[tokio::test]
    async fn a_map_without_credentials_has_no_credentials_provider() {
        let sdk = sdk_config_in(&map(&[("AWS_REGION", "eu-west-3")]))
            .await
            .unwrap();
        assert!(sdk.credentials_provider().is_none());
        assert_eq!(sdk.endpoint_url(), None);
    }
}
