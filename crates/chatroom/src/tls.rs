//! TLS, when the server speaks it itself (`--tls-cert FILE --tls-key
//! FILE`): pages then load over `https://` and connect over `wss://`,
//! without a proxy in front. rustls does the cryptography; we only load the
//! certificate and key.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server's TLS settings: its certificate chain and key, loaded.
#[derive(Clone)]
pub struct Tls(pub(crate) Arc<ServerConfig>);

impl Tls {
    /// Loads a certificate chain (PEM, the server's certificate first) and
    /// its private key (PEM) from files.
    ///
    /// # Errors
    ///
    /// A file cannot be read, holds no certificate or key, or the key does
    /// not match the certificate: a sentence saying which.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        Tls::from_pem(&read(cert)?, &read(key)?)
            .map_err(|e| format!("{e} ({} and {})", cert.display(), key.display()))
    }

    /// TLS settings from a certificate chain and a key in PEM.
    ///
    /// # Errors
    ///
    /// No certificate or key in them, or a key that does not match.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Tls, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        if chain.is_empty() {
            return Err("no certificate in the certificate file".to_owned());
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| format!("no private key in the key file: {e}"))?;
        Tls::from_parts(chain, key)
    }

    // ANCHOR: from_parts
    /// TLS settings from a chain and key already in memory.
    ///
    /// # Errors
    ///
    /// The key does not match the certificate, or is of a kind rustls
    /// does not take.
    pub fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Tls, String> {
        // rustls's defaults: TLS 1.2 and 1.3, with the cryptography of the
        // one provider compiled in (ring).
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
        // HTTP/1.1 only: a WebSocket upgrade is an HTTP/1.1 request.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls(Arc::new(config)))
    }
    // ANCHOR_END: from_parts
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tls(..)")
    }
}

/// Two settings are the same if they are the same loaded files.
impl PartialEq for Tls {
    fn eq(&self, other: &Tls) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
