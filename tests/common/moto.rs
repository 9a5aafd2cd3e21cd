//! moto's server: a local AWS API speaking the real wire protocols, from the project's venv
//! (`scripts/install-python-tools.sh`). Started per test on a free loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

/// The project venv's Python (boto3, botocore), for reading back what itemsd did.
pub fn venv_python() -> PathBuf {
    let python = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"));
    assert!(
        python.is_file(),
        "venv Python not found: run scripts/install-python-tools.sh"
    );
    python
}

pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
    /// The key the test's own calls (the AWS CLI, boto3) sign with: moto's default account
    /// until IAM is enforced, then a user of the test's making.
    credentials: (String, String),
}

impl Moto {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// moto's server that checks IAM policies (actions, not resource ARNs) and signatures once
    /// `free_calls` calls have been made: the test's setup spends them.
    pub async fn start_with_iam(free_calls: u32) -> Self {
        Self::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", free_calls.to_string())]).await
    }

    /// From now on the test's own calls sign with this key.
    pub fn use_credentials(&mut self, access_key: &str, secret_key: &str) {
        self.credentials = (access_key.to_owned(), secret_key.to_owned());
    }

    async fn start_with(env: &[(&str, String)]) -> Self {
        let port = super::free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(std::env::temp_dir().join(format!("moto-{port}.log")))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("moto_server starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        super::eventually(
            "moto_server listens",
            Duration::from_secs(30),
            || async move { tokio::net::TcpStream::connect(addr).await.is_ok() },
        )
        .await;
        Self {
            child,
            addr,
            credentials: ("testing".into(), "testing".into()),
        }
    }

    /// Sends `signal` to the emulator: SIGSTOP freezes it (connections hang, as to an endpoint
    /// that stopped answering), SIGCONT thaws it with its state intact.
    pub fn signal(&self, signal: i32) {
        super::process::signal_child(&self.child, signal);
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
    /// Runs the AWS CLI from the project's venv against this emulator; `None` when it fails
    /// (a log group that does not exist yet, say).
    pub fn aws(&self, args: &[&str]) -> Option<serde_json::Value> {
        let aws = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/aws"));
        assert!(
            aws.is_file(),
            "AWS CLI not found: run scripts/install-python-tools.sh"
        );
        let out = Command::new(aws)
            .args(args)
            .args([
                "--endpoint-url",
                &self.endpoint(),
                "--region",
                REGION,
                "--output",
                "json",
            ])
            .env("AWS_ACCESS_KEY_ID", &self.credentials.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.credentials.1)
            .output()
            .expect("aws runs");
        if !out.status.success() {
            eprintln!(
                "aws {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Some(serde_json::Value::Null); // a command that prints nothing on success
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Runs `code` (Python, with `cw`, a boto3 CloudWatch client for this emulator, and `json`
    /// in scope) and parses what it prints. boto3 speaks the query protocol moto understands
    /// for CloudWatch; the AWS CLI's newer JSON protocol it does not.
    pub fn boto3_cloudwatch(&self, code: &str) -> serde_json::Value {
        self.boto3(&format!(
            "cw = boto3.client('cloudwatch', endpoint_url=os.environ['ENDPOINT'], \
             region_name='{REGION}', aws_access_key_id=os.environ['KEY'], \
             aws_secret_access_key=os.environ['SECRET'])\n{code}"
        ))
    }

    /// Runs `code` (Python, with `boto3`, `json` and `os` imported; `os.environ` holds
    /// `ENDPOINT`, `REGION`, `KEY` and `SECRET`, the credentials the test's calls use) and
    /// parses what it prints.
    pub fn boto3(&self, code: &str) -> serde_json::Value {
        let python = venv_python();
        let script = format!("import boto3, json, os\n{code}");
        let out = Command::new(python)
            .args(["-c", &script])
            .env("ENDPOINT", self.endpoint())
            .env("REGION", REGION)
            .env("KEY", &self.credentials.0)
            .env("SECRET", &self.credentials.1)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the script prints JSON")
    }

    /// Reads back the messages of a log stream with the AWS CLI, oldest first.
    pub fn log_messages(&self, group: &str, stream: &str) -> Vec<String> {
        self.log_events(group, stream)
            .into_iter()
            .map(|(_, message)| message)
            .collect()
    }

    /// Reads back the events of a log stream with the AWS CLI, oldest first: each one's
    /// timestamp (Unix milliseconds) and message.
    pub fn log_events(&self, group: &str, stream: &str) -> Vec<(i64, String)> {
        let Some(v) = self.aws(&[
            "logs",
            "filter-log-events",
            "--log-group-name",
            group,
            "--log-stream-names",
            stream,
        ]) else {
            return Vec::new();
        };
        v["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| {
                        Some((e["timestamp"].as_i64()?, e["message"].as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Moto {
    /// The request ids, starting with `prefix`, of the access-log lines in a stream, in the
    /// order CloudWatch Logs holds them.
    pub fn shipped_request_ids(&self, group: &str, stream: &str, prefix: &str) -> Vec<String> {
        self.shipped_access_lines(group, stream, prefix)
            .into_iter()
            .filter_map(|(_, line)| line["request_id"].as_str().map(str::to_owned))
            .collect()
    }

    /// The access-log lines in a stream whose request id starts with `prefix`, parsed, each
    /// with its event's timestamp (Unix milliseconds), in the order CloudWatch Logs holds them.
    pub fn shipped_access_lines(
        &self,
        group: &str,
        stream: &str,
        prefix: &str,
    ) -> Vec<(i64, serde_json::Value)> {
        self.log_events(group, stream)
            .into_iter()
            .filter_map(|(t, m)| Some((t, serde_json::from_str::<serde_json::Value>(&m).ok()?)))
            .filter(|(_, line)| {
                line["request_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(prefix))
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
