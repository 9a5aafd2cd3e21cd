//! Building one RDS IAM authentication token: a SigV4 presigned `connect` request for the
//! `rds-db` service, minus its scheme, sent as the password over TLS. RDS checks the signature
//! against the caller's IAM policy (`rds-db:connect` on `dbuser:<resource id>/<user>`), so the
//! token proves who is asking without any password existing.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;

/// The signing name of RDS database logins.
const SERVICE: &str = "rds-db";
/// How long a token may be used to open a connection, RDS's own maximum (15 minutes). Only
/// the login is checked: an open connection outlives its token.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
#[error("could not sign an RDS IAM authentication token: {0}")]
pub struct TokenError(String);

/// Where to log in, and as whom.
pub struct Login<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub region: &'a str,
}

/// The token for `login`, signed with `credentials` as at `now`.
pub fn token(
    login: &Login<'_>,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<String, TokenError> {
    let fail = |e: &dyn std::fmt::Display| TokenError(e.to_string());
    let url = format!(
        "https://{}:{}/?Action=connect&DBUser={}",
        login.host,
        login.port,
        form_urlencoded::byte_serialize(login.user.as_bytes()).collect::<String>()
    );
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = credentials.clone().into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(login.region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| fail(&e))?
        .into();
    let request = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| fail(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| fail(&e))?.into_parts();
    let mut token = url;
    for (name, value) in instructions.params() {
        token.push('&');
        token.extend(form_urlencoded::byte_serialize(name.as_bytes()));
        token.push('=');
        token.extend(form_urlencoded::byte_serialize(value.as_bytes()));
    }
    Ok(token.split_off("https://".len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_a_presigned_connect_request_without_its_scheme() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("tok/en+=".into()), None, "t");
        let login = Login {
            host: "db.example.eu-north-1.rds.amazonaws.com",
            port: 5432,
            user: "itemsd_app",
            region: "eu-north-1",
        };
        let t = token(&login, &creds, SystemTime::UNIX_EPOCH).expect("signed");
        assert!(
            t.starts_with(
                "db.example.eu-north-1.rds.amazonaws.com:5432/?Action=connect&DBUser=itemsd_app&"
            ),
            "{t}"
        );
        assert!(t.contains("X-Amz-Expires=900"), "{t}");
        assert!(
            t.contains(
                "X-Amz-Credential=AKIDEXAMPLE%2F19700101%2Feu-north-1%2Frds-db%2Faws4_request"
            ),
            "{t}"
        );
        assert!(t.contains("X-Amz-Security-Token=tok%2Fen%2B%3D"), "{t}");
        assert!(t.contains("X-Amz-Signature="), "{t}");
        assert!(
            !t.contains("secret"),
            "the secret key never leaves the signer: {t}"
        );
    }
}
