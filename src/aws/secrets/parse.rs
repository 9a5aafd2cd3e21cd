//! The two secret shapes `DB_SECRET_ARN` may name:
//!
//! - a full secret: `host`, `port`, `dbname`, `username`, `password`;
//! - the original Terraform's connection secret: the same without `password`, plus
//!   `masterUserSecretArn` naming the RDS-managed secret that holds `username` and `password`.

use serde_json::{Map, Value};

use crate::config::Secret;

/// What a connection secret says.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnectionSecret {
    pub host: String,
    pub port: u16,
    pub dbname: Option<String>,
    pub username: String,
    pub login: Login,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    Password(Secret),
    /// The password lives in this other (RDS-managed) secret.
    ManagedSecret(String),
}

/// A malformed secret; the text names the field, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

fn object(json: &str) -> Result<Map<String, Value>, ShapeError> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ShapeError("secret is not a JSON object".into())),
        Err(_) => Err(ShapeError("secret is not valid JSON".into())),
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ShapeError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ShapeError(format!("`{key}` must be a string"))),
    }
}

fn required(map: &Map<String, Value>, key: &str) -> Result<String, ShapeError> {
    text(map, key)?.ok_or_else(|| ShapeError(format!("secret lacks `{key}`")))
}

pub fn connection(json: &str) -> Result<ConnectionSecret, ShapeError> {
    let map = object(json)?;
    let port = match map.get("port") {
        None | Some(Value::Null) => 5432,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| ShapeError("`port` is not a port number".into()))?,
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| ShapeError("`port` is not a port number".into()))?,
        Some(_) => return Err(ShapeError("`port` is not a port number".into())),
    };
    let login = match (text(&map, "password")?, text(&map, "masterUserSecretArn")?) {
        (Some(password), _) => Login::Password(Secret::new(password)),
        (None, Some(arn)) => Login::ManagedSecret(arn),
        (None, None) => {
            return Err(ShapeError(
                "secret has neither `password` nor `masterUserSecretArn`".into(),
            ))
        }
    };
    Ok(ConnectionSecret {
        host: required(&map, "host")?,
        port,
        dbname: text(&map, "dbname")?,
        username: required(&map, "username")?,
        login,
    })
}

/// The RDS-managed secret: `username` and `password`.
pub fn managed_login(json: &str) -> Result<(String, Secret), ShapeError> {
    let map = object(json)?;
    Ok((
        required(&map, "username")?,
        Secret::new(required(&map, "password")?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes() {
        let full =
            connection(r#"{"host":"db","port":5433,"dbname":"app","username":"u","password":"p"}"#)
                .expect("full shape");
        assert_eq!(full.port, 5433);
        assert_eq!(full.login, Login::Password(Secret::new("p")));
        let original = connection(
            r#"{"host":"db","port":"5432","dbname":"app","username":"u","masterUserSecretArn":"arn:x"}"#,
        )
        .expect("connection shape");
        assert_eq!(original.login, Login::ManagedSecret("arn:x".into()));
        assert_eq!(
            managed_login(r#"{"username":"u","password":"p"}"#),
            Ok(("u".into(), Secret::new("p")))
        );
    }

    #[test]
    fn malformed_secrets_name_what_is_wrong_and_never_a_value() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[1]", "not a JSON object"),
            (
                r#"{"port":5432,"username":"u","password":"p"}"#,
                "lacks `host`",
            ),
            (
                r#"{"host":"h","port":"x","username":"u","password":"p"}"#,
                "`port`",
            ),
            (r#"{"host":"h","username":"u"}"#, "neither `password`"),
            (r#"{"host":"h","password":"hunter2"}"#, "lacks `username`"),
        ];
        for (json, expected) in cases {
            let err = connection(json).expect_err(json);
            assert!(err.0.contains(expected), "{json}: {err}");
            assert!(!err.0.contains("hunter2"));
        }
        assert!(managed_login(r#"{"username":"u"}"#).is_err());
    }
}
