//! TLS to PostgreSQL with libpq's `sslmode` meanings, on rustls with ring (the TLS stack the
//! AWS SDK already brings into the binary). RDS with `rds.force_ssl` refuses anything else, and
//! its CAs are private, so the deployed mode is `verify-full` against the RDS CA bundle.
//!
//! | mode          | encrypts                     | checks the chain | checks the host name |
//! |---------------|------------------------------|------------------|----------------------|
//! | `disable`     | no                           | -                | -                    |
//! | `prefer`      | when the server offers TLS   | no               | no                   |
//! | `require`     | yes                          | only with a bundle (libpq's rule) | no  |
//! | `verify-ca`   | yes                          | yes              | no                   |
//! | `verify-full` | yes                          | yes              | yes (DNS or IP SAN)  |
//!
//! The channel binding of SCRAM-SHA-256-PLUS (`tls-server-end-point`) comes with the
//! connector; tokio-postgres uses it whenever the server offers it.

use std::error::Error;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DbTls, SslMode};

/// What every itemsd connection hands tokio-postgres for TLS.
pub type Connector = MakeRustlsConnect;

/// Why the TLS client could not be set up (a bundle rustls refuses: a certificate it cannot
/// parse as a trust anchor).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("DB_SSLROOTCERT holds no certificate usable as a trust anchor")]
    Roots(#[source] rustls::Error),
    #[error("could not build the certificate verifier")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
    #[error("could not set up TLS")]
    Rustls(#[from] rustls::Error),
}

/// The mode on the wire: tokio-postgres knows only whether TLS is off, tried or required; the
/// verification that tells `require` from `verify-*` is the connector's.
pub fn wire_mode(mode: SslMode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode as Wire;
    match mode {
        SslMode::Disable => Wire::Disable,
        SslMode::Prefer => Wire::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Wire::Require,
    }
}

/// Builds the connector for `tls`, once per process: the configuration is shared by every
/// connection, and so is rustls' session cache (resumed sessions make reconnects cheaper).
pub fn connector(tls: &DbTls) -> Result<Connector, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let roots = || -> Result<Arc<RootCertStore>, TlsSetupError> {
        let mut store = RootCertStore::empty();
        for cert in tls.root_certs() {
            store.add(cert.clone()).map_err(TlsSetupError::Roots)?;
        }
        Ok(Arc::new(store))
    };
    let webpki = || -> Result<Arc<WebPkiServerVerifier>, TlsSetupError> {
        Ok(WebPkiServerVerifier::builder_with_provider(roots()?, Arc::clone(&provider)).build()?)
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (tls.mode, tls.root_cert.is_some()) {
        (SslMode::VerifyFull, _) => webpki()?,
        (SslMode::VerifyCa, _) | (SslMode::Require, true) => Arc::new(ChainOnly(webpki()?)),
        (SslMode::Disable | SslMode::Prefer | SslMode::Require, _) => {
            Arc::new(AnyCertificate(algorithms))
        }
    };
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `require` without a bundle, and `prefer`: the session is encrypted and the server proves it
/// holds the key of the certificate it sent, but nothing says whose certificate it is.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to the bundle; the name may be anything. webpki checks the
/// chain before the name, so a name error alone means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// One line an operator can act on, for a connection failure that TLS explains; `None` for
/// every other failure. Walks the cause chain, looking inside I/O errors too (rustls' errors
/// reach tokio-postgres wrapped in one, whose own `source` skips them).
pub fn diagnose(err: &(dyn Error + 'static)) -> Option<&'static str> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<rustls::Error>().and_then(diagnose_rustls) {
            return Some(found);
        }
        if let Some(found) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .and_then(diagnose_rustls)
        {
            return Some(found);
        }
        if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
            // pg_hba has only `hostssl` lines for this client: the rejection names "no
            // encryption".
            if pg.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
                && pg
                    .as_db_error()
                    .is_some_and(|db| db.message().contains("no encryption"))
            {
                return Some("the server requires TLS: DB_SSLMODE=disable is refused");
            }
        }
        // tokio-postgres' own words when the server answers the TLS request with "no".
        if e.to_string() == "server does not support TLS" {
            return Some("the server refused TLS (it runs with ssl=off): DB_SSLMODE requires it");
        }
        next = e.source();
    }
    None
}

fn diagnose_rustls(err: &rustls::Error) -> Option<&'static str> {
    match err {
        rustls::Error::InvalidCertificate(cert) => Some(match cert {
            CertificateError::UnknownIssuer => {
                "unknown issuer: the server's certificate does not lead to a CA in DB_SSLROOTCERT"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "name mismatch: the server's certificate does not name DB_HOST"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired"
            }
            _ => "the server's certificate was refused",
        }),
        _ => None,
    }
}
