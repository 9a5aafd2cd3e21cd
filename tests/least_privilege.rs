//! The agent duties on AWS's terms: moto's server with IAM enforced, itemsd signing as a user
//! that holds exactly the actions the Terraform grants the instance role (read from
//! `terraform/modules/iam/instance-actions.json`, the file the role's policy is built from),
//! and the log group made beforehand, as the Terraform makes it.

mod common;

use std::time::Duration;

use common::cbor_shim::{CborShim, Signer};
use common::client::Client;
use common::moto::Moto;
use common::pg;
use common::process::{db_env, itemsd, Process};
use common::{eventually, eventually_ok};

const GROUP: &str = "/itemsd/least-privilege";
const STREAM: &str = "i-least-privilege";
const NAMESPACE: &str = "ItemsdLeastPrivilege";
/// The calls the setup makes with moto's default account before IAM is enforced (two users,
/// their policies and keys, a log group, the secret): see `setup`.
const SETUP_CALLS: u32 = 8;

/// The instance role's policy, as the Terraform builds it: a statement per entry of the file.
/// moto names CloudWatch's actions after the service's signing name (`monitoring:`) where IAM
/// says `cloudwatch:`: each `cloudwatch:` action is granted in both spellings, nothing more.
fn instance_policy() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/terraform/modules/iam/instance-actions.json"
    );
    let actions: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the Terraform's action list"))
            .expect("a JSON object of statement ids to actions");
    let statements: Vec<serde_json::Value> = actions
        .into_iter()
        .map(|(sid, actions)| {
            let mut actions: Vec<String> = actions
                .as_array()
                .expect("a list of actions")
                .iter()
                .map(|a| a.as_str().expect("an action").to_owned())
                .collect();
            let emulator_spellings: Vec<String> = actions
                .iter()
                .filter_map(|a| a.strip_prefix("cloudwatch:"))
                .map(|a| format!("monitoring:{a}"))
                .collect();
            actions.extend(emulator_spellings);
            serde_json::json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"})
        })
        .collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

fn py(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

struct Keys {
    instance: (String, String),
    reader: (String, String),
    secret_arn: String,
}

/// Spends the free calls: the instance user with the Terraform's policy, a reader the test
/// reads back with, `group` (the Terraform's log group, or an unrelated one when the test wants
/// ours missing) and the database secret. Then checks that IAM is enforced from here on.
async fn setup(moto: &mut Moto, group: &str, db: &str) -> Keys {
    let cluster = pg::shared();
    let secret = serde_json::json!({
        "host": "127.0.0.1", "port": cluster.port, "dbname": db,
        "username": "postgres", "password": pg::SUPERUSER_PASSWORD,
    });
    let code = format!(
        r#"
kw = dict(endpoint_url=os.environ['ENDPOINT'], region_name=os.environ['REGION'],
          aws_access_key_id='testing', aws_secret_access_key='testing')
iam = boto3.client('iam', **kw)
keys = {{}}
for user, policy in [('itemsd-instance', {policy}), ('test-reader', {reader})]:
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName='p', PolicyDocument=policy)
    k = iam.create_access_key(UserName=user)['AccessKey']
    keys[user] = [k['AccessKeyId'], k['SecretAccessKey']]
boto3.client('logs', **kw).create_log_group(logGroupName={group})
arn = boto3.client('secretsmanager', **kw).create_secret(Name='itemsd/db', SecretString={secret})['ARN']
print(json.dumps({{'keys': keys, 'arn': arn}}))
"#,
        // JSON string literals are Python string literals.
        policy = py(&instance_policy().to_string()),
        reader = py(&serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        .to_string()),
        group = py(group),
        secret = py(&secret.to_string()),
    );
    let out = moto.boto3(&code);
    let key = |user: &str| {
        let k = &out["keys"][user];
        (
            k[0].as_str().expect("key id").to_owned(),
            k[1].as_str().expect("secret key").to_owned(),
        )
    };
    let keys = Keys {
        instance: key("itemsd-instance"),
        reader: key("test-reader"),
        secret_arn: out["arn"].as_str().expect("secret ARN").to_owned(),
    };
    // From here on IAM is enforced: the role may not make log groups.
    moto.use_credentials(&keys.instance.0, &keys.instance.1);
    let denied = moto.boto3(
        "import botocore\n\
         logs = boto3.client('logs', endpoint_url=os.environ['ENDPOINT'], region_name=os.environ['REGION'], aws_access_key_id=os.environ['KEY'], aws_secret_access_key=os.environ['SECRET'])\n\
         try:\n    logs.create_log_group(logGroupName='/not-ours')\n    print(json.dumps('allowed'))\n\
         except botocore.exceptions.ClientError as e:\n    print(json.dumps(e.response['ResponseMetadata']['HTTPStatusCode']))",
    );
    // moto answers JSON-protocol services' denials with an XML body the SDKs cannot parse:
    // the status is what both sides can read.
    assert_eq!(
        denied, 403,
        "IAM must be enforced once the setup's {SETUP_CALLS} calls are spent"
    );
    moto.use_credentials(&keys.reader.0, &keys.reader.1);
    keys
}

async fn start_itemsd(moto: &Moto, keys: &Keys, db: &str) -> (Process, Client, CborShim) {
    let shim = CborShim::start_signing(
        moto.addr,
        Some(Signer {
            access_key: keys.instance.0.clone(),
            secret_key: keys.instance.1.clone(),
        }),
    )
    .await;
    let mut env: Vec<(&str, String)> = db_env(pg::shared(), db)
        .into_iter()
        // The credentials come from the secret.
        .filter(|(k, _)| !matches!(*k, "DB_PASSWORD" | "DB_NAME" | "DB_HOST" | "DB_PORT"))
        .collect();
    env.extend(moto.env());
    env.retain(|(k, _)| !k.starts_with("AWS_ACCESS_KEY_ID") && *k != "AWS_SECRET_ACCESS_KEY");
    env.extend([
        ("AWS_ENDPOINT_URL", shim.endpoint()),
        ("AWS_ACCESS_KEY_ID", keys.instance.0.clone()),
        ("AWS_SECRET_ACCESS_KEY", keys.instance.1.clone()),
        ("DB_SECRET_ARN", keys.secret_arn.clone()),
        ("INSTANCE_ID", STREAM.into()),
        ("CLOUDWATCH_LOG_GROUP", GROUP.into()),
        ("CLOUDWATCH_LOG_FLUSH_MS", "200".into()),
        ("CLOUDWATCH_NAMESPACE", NAMESPACE.into()),
        ("CLOUDWATCH_METRICS_INTERVAL_SECONDS", "1".into()),
    ]);
    let mut proc = Process::spawn(itemsd(&env));
    let client = Client::new(proc.addr().await);
    (proc, client, shim)
}

fn shipped_ids(moto: &Moto, prefix: &str) -> Vec<String> {
    moto.shipped_request_ids(GROUP, STREAM, prefix)
}

// Multi-threaded: the shim runs on the test's runtime while the test blocks on the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terraform_grants_are_enough_for_every_duty() {
    let db = pg::shared().fresh_database().await;
    let mut moto = Moto::start_with_iam(SETUP_CALLS).await;
    let keys = setup(&mut moto, GROUP, &db).await;
    let (mut proc, client, _shim) = start_itemsd(&moto, &keys, &db).await;

    // The secret was read: the database works with its credentials.
    eventually_ok("a first item created", Duration::from_secs(20), || async {
        let resp = client
            .send(
                "POST",
                "/api/items",
                &[("content-type", "application/json")],
                br#"{"name":"least privilege"}"#,
            )
            .await;
        if resp.status == 201 {
            Ok(())
        } else {
            Err(format!("{} {}", resp.status, resp.text()))
        }
    })
    .await;
    for i in 0..50 {
        let id = format!("iam-{i:03}");
        client
            .send("GET", "/health", &[("x-request-id", &id)], b"")
            .await;
    }
    eventually(
        "every access-log line shipped",
        Duration::from_secs(30),
        || std::future::ready(shipped_ids(&moto, "iam-").len() >= 50),
    )
    .await;
    let mut ids = shipped_ids(&moto, "iam-");
    let shipped = ids.len();
    ids.dedup();
    assert_eq!((shipped, ids.len()), (50, 50), "each line exactly once");

    eventually("metrics published", Duration::from_secs(30), || {
        let names = moto.boto3_cloudwatch(&format!(
            "print(json.dumps([m['MetricName'] for m in cw.list_metrics(Namespace='{NAMESPACE}')['Metrics']]))"
        ));
        std::future::ready(
            names
                .as_array()
                .is_some_and(|n| n.iter().any(|m| m == "RequestCount")),
        )
    })
    .await;

    proc.read_available();
    let out = proc.output();
    assert!(!out.contains("AccessDenied"), "nothing was denied:\n{out}");
    assert!(!out.contains("\"level\":\"ERROR\""), "no error:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_group_the_role_may_not_create_is_one_line_and_a_bounded_retry_rate() {
    let db = pg::shared().fresh_database().await;
    let mut moto = Moto::start_with_iam(SETUP_CALLS).await;
    // The Terraform has not made the group (yet): ours is missing, and the role may not make it.
    let keys = setup(&mut moto, "/some-other-group", &db).await;
    let (mut proc, client, _shim) = start_itemsd(&moto, &keys, &db).await;

    let line = proc
        .wait_for_log(
            "log group missing: logs wait in the buffer until it exists",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(line["level"], "ERROR", "{line}");
    let said = line["error"].as_str().unwrap_or_default();
    assert!(
        said.contains("logs:CreateLogGroup"),
        "names the permission: {line}"
    );

    // Watch the shipper for a while as it keeps failing: the observation window, not a
    // synchronisation.
    let watched = Duration::from_secs(6);
    tokio::time::sleep(watched).await;
    proc.read_available();
    let out = proc.output();
    let count = |msg: &str| {
        out.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["msg"].as_str().is_some_and(|m| m.starts_with(msg)))
            .count()
    };
    assert_eq!(count("log group missing"), 1, "said once:\n{out}");
    assert!(
        count("PutLogEvents failed") <= 2,
        "not a line per retry:\n{out}"
    );
    let metrics = client.get("/metrics").await.text();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{metrics}"))
    };
    let retries = value("cloudwatch_logs_retries_total");
    // Capped exponential backoff from 200 ms: a handful of tries in the window, where the
    // loop it replaces made about a thousand.
    assert!(
        (1.0..=15.0).contains(&retries),
        "{retries} retries in about {watched:?}"
    );
    assert!(value("cloudwatch_logs_destination_failures_total") >= 1.0);

    // Once the group exists (the Terraform applied), the waiting lines arrive.
    moto.aws(&["logs", "create-log-group", "--log-group-name", GROUP])
        .expect("the reader creates the group");
    client
        .send("GET", "/health", &[("x-request-id", "iam-after")], b"")
        .await;
    eventually(
        "the buffered lines arrive once the group exists",
        Duration::from_secs(60),
        || std::future::ready(!shipped_ids(&moto, "iam-after").is_empty()),
    )
    .await;
}
