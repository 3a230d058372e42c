//! TLS towards PostgreSQL is verified: a throwaway PostgreSQL cluster with
//! TLS on and a certificate from a test CA (made here with `openssl`, run as
//! the `postgres` system user) is refused by the default configuration (its
//! CA is not an RDS one) and accepted once DB_SSL_ROOT_CERT names the test CA,
//! for the host name in the certificate only (verify-full).
//!
//! Needs `initdb`/`pg_ctl` (Debian: /usr/lib/postgresql/<v>/bin), `openssl`
//! and `runuser` with a `postgres` user: the machine `make test` runs on.

use portcullis_core::Env;
use portcullis_db::{AwsAccess, Database, DbConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory of `initdb` and `pg_ctl` (newest installed PostgreSQL).
fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (apt-get install -y postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop().expect("no /usr/lib/postgresql/<v>/bin/initdb")
}

struct TlsServer {
    dir: PathBuf,
    port: u16,
    ca: PathBuf,
}

impl TlsServer {
    fn start() -> TlsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("portcullis-db-tls-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(&dir));
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=portcullis test CA",
        ]);
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir));
        run(Command::new("chmod").arg("600").arg(dir.join("server.key")));
        let bin = pg_bin();
        let data = dir.join("data");
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data));
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            dir.display(),
            dir.join("server.crt").display(),
            dir.join("server.key").display()
        );
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("pg_ctl"))
            .args(["-w", "-l"])
            .arg(dir.join("log"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &opts, "start"]));
        let ca = dir.join("ca.pem");
        TlsServer { dir, port, ca }
    }

    /// A function's database environment (RDS IAM, which defaults to TLS),
    /// against this server (trust auth: the token is not checked).
    async fn connect(&self, host: &str, extra: &[(&str, &str)]) -> Result<(), String> {
        let port = self.port.to_string();
        let mut pairs = vec![
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", host),
            ("DB_PORT", port.as_str()),
            ("DB_USER", "postgres"),
            ("DB_NAME", "postgres"),
            ("DB_ACQUIRE_TIMEOUT_MS", "3000"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTLSTEST"),
            ("AWS_SECRET_ACCESS_KEY", "tls-test-secret"),
        ];
        pairs.extend_from_slice(extra);
        let env = Env::from_pairs(pairs);
        let config = DbConfig::from_env(&env).map_err(|e| e.to_string())?;
        let aws = AwsAccess::none()
            .with_iam(portcullis_db::iam_credentials(&env).map_err(|e| e.to_string())?);
        let db = Database::connect_with(config, aws)
            .await
            .map_err(|e| e.to_string())?;
        let r = db.ping().await.map_err(|e| e.to_string());
        db.pool().close().await;
        r
    }

    fn ca(&self) -> &Path {
        &self.ca
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin().join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn tls_is_verified_by_default_and_trusts_only_the_configured_authorities() {
    let server = TlsServer::start();
    let ca = server.ca().to_string_lossy().to_string();

    // Default (no DB_SSL_MODE): verify-full against the RDS CA bundle, which
    // did not sign this server's certificate.
    let refused = server.connect("localhost", &[]).await;
    assert!(
        refused.is_err(),
        "a server certificate from an unknown CA was accepted"
    );

    // The server's own CA: accepted, for the name in its certificate only.
    server
        .connect("localhost", &[("DB_SSL_ROOT_CERT", &ca)])
        .await
        .expect("verify-full with the server's CA");
    let wrong_name = server
        .connect("127.0.0.1", &[("DB_SSL_ROOT_CERT", &ca)])
        .await;
    assert!(
        wrong_name.is_err(),
        "verify-full accepted a certificate for another host name"
    );

    // Asking for no verification still works (and is what the default was).
    server
        .connect("localhost", &[("DB_SSL_MODE", "require")])
        .await
        .expect("require does not verify");
}
