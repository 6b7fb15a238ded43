//! The IAM route: SigV4 signing for `execute-api` with credentials from the standard AWS chain.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::Error;

/// The service name API Gateway's IAM authorization checks signatures for.
pub const SERVICE: &str = "execute-api";

/// Signs a request for API Gateway's IAM authorization (SigV4, service `execute-api`) and returns the
/// headers to add to it: `authorization`, `x-amz-date` and, with temporary credentials,
/// `x-amz-security-token`.
///
/// `headers` are the request's other headers (they are signed too, except those SigV4 never signs such
/// as `user-agent`); the `host` header is derived from `url`, as HTTP clients send it. The payload is
/// hashed into the signature (no `x-amz-content-sha256` header, as for every service but S3).
///
/// ```
/// use aws_credential_types::Credentials;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "example");
/// let signed = m2m_client::iam::sign_request(
///     "POST",
///     "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/m2m/token/iam",
///     &[("content-type", "application/json")],
///     br#"{"scopes":["read:data"]}"#,
///     &credentials,
///     "eu-west-1",
///     UNIX_EPOCH + Duration::from_secs(1_714_564_800), // 2024-05-01T12:00:00Z
/// )
/// .unwrap();
/// let authorization = &signed.iter().find(|(name, _)| name == "authorization").unwrap().1;
/// assert!(authorization.starts_with(
///     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/eu-west-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
/// ));
/// ```
pub fn sign_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, Error> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| Error::Signing(error.to_string()))?
        .into();
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|error| Error::Signing(DisplayErrorContext(&error).to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|error| Error::Signing(DisplayErrorContext(&error).to_string()))?
        .into_parts();
    let (signed, _params) = instructions.into_parts();
    Ok(signed
        .into_iter()
        .map(|header| (header.name().to_owned(), header.value().to_owned()))
        .collect())
}

/// Where the IAM route's credentials and region come from.
#[derive(Clone, Debug)]
pub(crate) struct IamSigner {
    pub(crate) credentials: SharedCredentialsProvider,
    pub(crate) region: String,
}

impl IamSigner {
    /// The standard chain: credentials from the environment, the shared config and credentials files
    /// (`AWS_PROFILE`), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`), ECS and EC2 metadata; the region from
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile. The chain's HTTP requests go through `http`.
    pub(crate) async fn from_chain(
        http: reqwest::Client,
        region: Option<String>,
    ) -> Result<IamSigner, Error> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(aws_reqwest::ReqwestHttpClient::new(http));
        if let Some(region) = region.clone() {
            loader = loader.region(aws_config::Region::new(region));
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or(Error::NoRegion)?;
        let credentials = config.credentials_provider().ok_or_else(|| {
            Error::AwsCredentials("the AWS configuration has no credentials provider".into())
        })?;
        Ok(IamSigner {
            credentials,
            region,
        })
    }

    pub(crate) async fn credentials(&self) -> Result<Credentials, Error> {
        self.credentials
            .provide_credentials()
            .await
            .map_err(|error| Error::AwsCredentials(DisplayErrorContext(&error).to_string()))
    }
}
