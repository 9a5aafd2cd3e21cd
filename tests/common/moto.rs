//! moto's server: a local AWS API speaking the real wire protocols, from the project's venv
//! (`scripts/install-python-tools.sh`). Started per test on a free loopback port.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

pub const REGION: &str = "eu-north-1";

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.venv/bin/moto_server"
    ));
    assert!(
        venv.is_file(),
        "moto_server not found at {}: run scripts/install-python-tools.sh (or set MOTO_SERVER)",
        venv.display()
    );
    venv
}

pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
}

impl Moto {
    pub fn start() -> Self {
        let port = super::pg::free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What itemsd needs in its environment to talk to this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .http_client(itemsd::aws::http_client())
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// Creates a secret and returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        self.secrets()
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("create_secret")
            .arn()
            .expect("ARN")
            .to_owned()
    }

    pub async fn put_secret(&self, arn: &str, value: &str) {
        self.secrets()
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value)
            .send()
            .await
            .expect("put_secret_value");
    }
}

impl Moto {
    /// Reads back the messages of a log stream with the AWS CLI, oldest first.
    pub fn log_messages(&self, group: &str, stream: &str) -> Vec<String> {
        let aws = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/aws"));
        assert!(
            aws.is_file(),
            "AWS CLI not found: run scripts/install-python-tools.sh"
        );
        let out = Command::new(aws)
            .args([
                "logs",
                "filter-log-events",
                "--endpoint-url",
                &self.endpoint(),
                "--region",
                REGION,
                "--log-group-name",
                group,
                "--log-stream-names",
                stream,
                "--output",
                "json",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .expect("aws runs");
        if !out.status.success() {
            // The group or stream does not exist yet.
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("CLI JSON");
        v["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
