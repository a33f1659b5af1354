//! TLS with rustls on the ring provider (already built for the webhooks' HTTP client; the
//! aws-lc-rs provider would add a C and CMake build to every CI run): the listener's server
//! configuration from PEM files, and the upstream clients' configuration, trusting the
//! Mozilla roots (webpki-roots, compiled in) or the CA certificates an upstream names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path}: {why}")]
pub struct TlsError {
    pub path: String,
    pub why: String,
}

fn err(path: &Path, why: impl std::fmt::Display) -> TlsError {
    TlsError {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(err(path, "no certificate in it (PEM, `BEGIN CERTIFICATE`)"));
    }
    Ok(certs)
}

/// The listener's configuration: a certificate chain and its private key (PKCS#8, PKCS#1 or
/// SEC1, PEM), HTTP/2 and HTTP/1.1 offered by ALPN.
pub fn server(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| err(key, format!("no private key in it ({e})")))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(cert, e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            err(
                cert,
                format!("the certificate and key do not go together: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// An upstream client's configuration: the Mozilla roots, or only the CA certificates in
/// `ca_file` when there is one (a private CA names its own upstreams).
pub fn client(ca_file: Option<&PathBuf>) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| err(path, format!("not a usable CA certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(Path::new("(tls)"), e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
