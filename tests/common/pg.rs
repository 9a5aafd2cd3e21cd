//! Throwaway PostgreSQL clusters made with `initdb` and driven with `pg_ctl`, from the
//! machine's PostgreSQL binaries: each on its own port, in its own temporary folder.

use std::net::TcpListener;
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
                    return dir;
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    /// A new cluster, started. Stopped and removed on drop.
    pub fn start() -> Self {
        let cluster = Self::create();
        cluster.start_server();
        cluster
    }

    /// A new cluster, initialised but not running (for "database down at start" tests).
    pub fn create() -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "itemsd-pg-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster folder");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:").arg(&dir);
                    c
                },
                "chown of the cluster folder to postgres (scripts/install-deps.sh creates the user)",
            );
        }
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
        Self {
            dir,
            port: free_port(),
        }
    }

    pub fn start_server(&self) {
        let mut ctl = pg_command("pg_ctl");
        ctl.arg("--pgdata")
            .arg(self.dir.join("data"))
            .arg("--log")
            .arg(self.dir.join("postgres.log"))
            .arg("--wait")
            .arg(format!(
                "--options=-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
                 -c fsync=off -c max_connections=200",
                self.port,
                self.dir.display()
            ))
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
            "host=127.0.0.1 port={} user=postgres password={SUPERUSER_PASSWORD} dbname={db}",
            self.port
        )
    }

    /// Runs SQL through a fresh connection to `db`.
    pub async fn execute(&self, db: &str, sql: &str) {
        let client = self.connect(db).await;
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub async fn connect(&self, db: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
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
