//! Throwaway PostgreSQL clusters made with `initdb` and driven with `pg_ctl`, from the
//! machine's PostgreSQL binaries: each on its own port, in its own temporary folder.
//!
//! As strict as RDS with `rds.force_ssl`: a cluster takes TLS only (`ssl=on`, `hostssl` lines
//! alone in pg_hba, SCRAM), with a certificate for `localhost` and `127.0.0.1` from a private
//! CA the harness makes with openssl, once per test binary. Plain TCP is refused. Only tests of
//! what happens without TLS ask for [`Cluster::start_plain`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The folder with `initdb` and `pg_ctl`: on PATH, else the newest Debian install. Never a
/// silent skip: without them the tests fail, saying how to get them.
fn bindir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(path) = std::env::var("PATH") {
            for dir in std::env::split_paths(&path) {
                if dir.join("pg_ctl").is_file() && dir.join("initdb").is_file() {
                    // The server's own folder (a PATH entry may hold only links to two of
                    // its tools): pg_basebackup and the rest are beside the real pg_ctl.
                    return std::fs::canonicalize(dir.join("pg_ctl"))
                        .ok()
                        .and_then(|real| real.parent().map(Path::to_path_buf))
                        .unwrap_or(dir);
                }
            }
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path().join("bin"))
                    .collect()
            })
            .unwrap_or_default();
        found.retain(|d| d.join("pg_ctl").is_file());
        found.sort_by_key(|d| {
            d.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        found.pop().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in \
                 /usr/lib/postgresql/*/bin: run scripts/install-deps.sh"
            )
        })
    })
    .clone()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user.
fn pg_command(tool: &str) -> Command {
    let program = bindir().join(tool);
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster superuser's password (TCP connections use SCRAM, as RDS does).
pub const SUPERUSER_PASSWORD: &str = "postgres-test";

/// The certificates every TLS cluster of this test binary uses.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The CA the clusters' certificate is signed by: what `DB_SSLROOTCERT` points at.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA that signed nothing here: a bundle that must not verify the clusters.
    pub fn other_ca(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }
}

fn openssl(args: &[&str], dir: &Path, what: &str) {
    let mut cmd = Command::new("openssl");
    cmd.args(args).current_dir(dir);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: could not run openssl ({e}): run scripts/install-deps.sh")
    });
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Made once per test binary, removed when it exits.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("itemsd-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki folder");
        let ca = |name: &str, cn: &str| {
            openssl(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    cn,
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
                &dir,
                "making a test CA",
            )
        };
        ca("ca", "/CN=itemsd test CA");
        ca("other-ca", "/CN=itemsd unrelated CA");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("extensions file");
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
            &dir,
            "making the server key",
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
            &dir,
            "signing the server certificate",
        );
        extern "C" fn remove_pki() {
            if let Some(pki) = PKI.get() {
                let _ = std::fs::remove_dir_all(&pki.dir);
            }
        }
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe {
            libc::atexit(remove_pki);
        }
        Pki { dir }
    })
}

/// The settings itemsd needs for a TLS cluster: full verification against the test CA, as
/// deployed against RDS.
pub fn tls_env() -> Vec<(&'static str, String)> {
    vec![
        ("DB_SSLMODE", "verify-full".to_owned()),
        ("DB_SSLROOTCERT", pki().ca().display().to_string()),
    ]
}

pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
    /// TLS only (the default), or plain TCP only.
    pub tls: bool,
}

impl Cluster {
    /// A new TLS-only cluster, started. Stopped and removed on drop.
    pub fn start() -> Self {
        let cluster = Self::create();
        cluster.start_server();
        cluster
    }

    /// A new cluster with TLS off (`ssl=off`, `host` lines): for what happens without TLS.
    pub fn start_plain() -> Self {
        let cluster = Self::create_with(false);
        cluster.start_server();
        cluster
    }

    /// A new TLS-only cluster, initialised but not running (for "database down at start").
    pub fn create() -> Self {
        Self::create_with(true)
    }

    fn create_with(tls: bool) -> Self {
        let dir = new_cluster_dir();
        // Password authentication over TCP, as on RDS: rotation tests need a password that can
        // be wrong. The superuser's password is `SUPERUSER_PASSWORD`.
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).expect("password file");
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&pwfile);
            run(chown, "chown of the password file");
        }
        let mut initdb = pg_command("initdb");
        initdb
            .arg("--pgdata")
            .arg(dir.join("data"))
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "--username=postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]);
        run(initdb, "initdb");
        // Only what RDS allows: TLS-only (hostssl) or, for the plain cluster, TCP without it.
        let kind = if tls { "hostssl" } else { "host" };
        std::fs::write(
            dir.join("data/pg_hba.conf"),
            format!(
                "local all all trust\n\
                 {kind} all all 127.0.0.0/8 scram-sha-256\n\
                 {kind} replication all 127.0.0.0/8 scram-sha-256\n"
            ),
        )
        .expect("pg_hba.conf");
        if tls {
            install_server_certificate(&dir);
        }
        Self {
            dir,
            port: super::free_port(),
            tls,
        }
    }

    /// A streaming standby of `primary` (TLS-only like it), made with pg_basebackup, not
    /// started. What an RDS Multi-AZ standby is: promoted when the primary is lost.
    pub fn standby_of(primary: &Cluster) -> Self {
        assert!(primary.tls, "standbys are made of TLS clusters");
        let dir = new_cluster_dir();
        let mut backup = pg_command("pg_basebackup");
        backup
            .arg("--pgdata")
            .arg(dir.join("data"))
            .args([
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-sync",
            ])
            .arg(format!(
                "--dbname=host=127.0.0.1 port={} user=postgres password={SUPERUSER_PASSWORD} \
                 sslmode=require",
                primary.port
            ));
        run(backup, "pg_basebackup");
        install_server_certificate(&dir);
        Self {
            dir,
            port: super::free_port(),
            tls: true,
        }
    }

    /// Promotes a standby to primary, waiting until it accepts writes.
    pub fn promote(&self) {
        let mut ctl = pg_command("pg_ctl");
        ctl.arg("--pgdata")
            .arg(self.dir.join("data"))
            .args(["--wait", "promote"]);
        run(ctl, "pg_ctl promote");
    }

    /// What `pg_ctl start` is given: the port, sockets, speed over durability, TLS.
    fn server_options(&self) -> String {
        let mut options = format!(
            "-c listen_addresses=127.0.0.1,127.0.0.2 -c port={} -c unix_socket_directories={} \
             -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={0}/server.pem -c ssl_key_file={0}/server.key",
                self.dir.display()
            ));
        }
        options
    }

    pub fn start_server(&self) {
        let mut ctl = pg_command("pg_ctl");
        ctl.arg("--pgdata")
            .arg(self.dir.join("data"))
            .arg("--log")
            .arg(self.dir.join("postgres.log"))
            .arg("--wait")
            .arg(format!("--options={}", self.server_options()))
            .arg("start");
        run(ctl, "pg_ctl start");
    }

    /// Fast shutdown: terminates sessions, as a crash or failover looks to clients.
    pub fn stop_server(&self) {
        let mut ctl = pg_command("pg_ctl");
        ctl.arg("--pgdata")
            .arg(self.dir.join("data"))
            .args(["--mode=fast", "--wait", "stop"]);
        run(ctl, "pg_ctl stop");
    }

    pub fn url(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres password={SUPERUSER_PASSWORD} dbname={db} \
             sslmode={}",
            self.port,
            if self.tls { "require" } else { "disable" }
        )
    }

    /// itemsd's settings for this cluster's database `db`: where, who, and TLS.
    pub fn env(&self, db: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DB_HOST", "127.0.0.1".to_owned()),
            ("DB_PORT", self.port.to_string()),
            ("DB_NAME", db.to_owned()),
            ("DB_USER", "postgres".to_owned()),
            ("DB_PASSWORD", SUPERUSER_PASSWORD.to_owned()),
        ];
        if self.tls {
            env.extend(tls_env());
        } else {
            env.push(("DB_SSLMODE", "disable".to_owned()));
        }
        env
    }

    /// Runs SQL through a fresh connection to `db`.
    pub async fn execute(&self, db: &str, sql: &str) {
        let client = self.connect(db).await;
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A connection for the test's own SQL, verified against the test CA by itemsd's own
    /// TLS connector.
    pub async fn connect(&self, db: &str) -> tokio_postgres::Client {
        let (client, conn) = self
            .url(db)
            .parse::<tokio_postgres::Config>()
            .expect("a valid connection string")
            .connect(verifying_connector())
            .await
            .unwrap_or_else(|e| panic!("connecting to {db} on port {}: {e}", self.port));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// A new, empty database with a unique name.
    pub async fn fresh_database(&self) -> String {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!("test_{}", SEQ.fetch_add(1, Ordering::Relaxed));
        self.execute("postgres", &format!("CREATE DATABASE {name}"))
            .await;
        name
    }

    /// Lets `role` log in over TLS whatever password it sends: RDS checks an IAM token with
    /// its own PAM module, which a stand-in PostgreSQL has not, so what the token is made of
    /// is tested against botocore instead (tests/rds_iam.rs).
    pub async fn trust_over_tls(&self, role: &str) {
        let hba = self.dir.join("data/pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).expect("pg_hba.conf");
        std::fs::write(
            &hba,
            format!("hostssl all {role} 127.0.0.0/8 trust\n{rest}"),
        )
        .expect("pg_hba.conf");
        self.execute("postgres", "SELECT pg_reload_conf()").await;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop_immediately(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn new_cluster_dir() -> PathBuf {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "itemsd-pg-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cluster folder");
    if is_root() {
        let mut chown = Command::new("chown");
        chown.arg("postgres:").arg(&dir);
        run(
            chown,
            "chown of the cluster folder to postgres (scripts/install-deps.sh creates the user)",
        );
    }
    dir
}

/// The test CA's server certificate and key, where the server options point, readable by the
/// server alone (PostgreSQL refuses a key others can read).
fn install_server_certificate(dir: &Path) {
    for file in ["server.pem", "server.key"] {
        let target = dir.join(file);
        std::fs::copy(pki().dir.join(file), &target).expect("server certificate");
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("key mode");
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&target);
            run(chown, "chown of the server key");
        }
    }
}

/// itemsd's connector in `verify-full` against the test CA.
pub fn verifying_connector() -> itemsd::db::tls::Connector {
    let env: std::collections::HashMap<_, _> = tls_env().into_iter().collect();
    let config = itemsd::config::Config::from_lookup(|name| env.get(name).cloned())
        .expect("the TLS settings are valid");
    itemsd::db::tls::connector(&config.db.tls).expect("a TLS connector")
}

fn stop_immediately(dir: &Path) {
    if dir.join("data/postmaster.pid").exists() {
        let mut ctl = pg_command("pg_ctl");
        ctl.arg("--pgdata")
            .arg(dir.join("data"))
            .args(["--mode=immediate", "--wait", "stop"]);
        let _ = ctl.output();
    }
}

/// One cluster shared by every test in this test binary (each test takes a fresh database);
/// stopped when the test binary exits.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        extern "C" fn stop_shared() {
            if let Some(cluster) = SHARED.get() {
                stop_immediately(&cluster.dir);
                let _ = std::fs::remove_dir_all(&cluster.dir);
            }
        }
        let cluster = Cluster::start();
        // Statics are never dropped: stop the server when the test binary exits.
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe {
            libc::atexit(stop_shared);
        }
        cluster
    })
}
