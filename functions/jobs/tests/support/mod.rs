//! Test support shared by the jobs, task-events and reconciler tests
//! (included with `#[path]`): the state, API Gateway requests, a stub ECS
//! (an in-process HTTP client answering like ECS, recording every request)
//! and the moto emulator set-up.
#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sdk_ecs::config::{BehaviorVersion, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use portcullis_db::Database;
use portcullis_jobs::ecs::Placement;
use portcullis_jobs::{Settings, State};
use portcullis_platform::jobs::JobTypes;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};

/// The test registry: small max_attempts and timeout so tests are short.
pub const TEST_REGISTRY: &str = r#"
sample:
  task_definition: portcullis-sample-job
  container: sample-job
  timeout_seconds: 60
  max_attempts: 3
  overrides:
    args: 4
    env: [GREETING]
    cpu: { min: 256, max: 1024 }
    memory: { min: 512, max: 2048 }
spot:
  task_definition: portcullis-sample-job
  container: sample-job
  timeout_seconds: 60
  capacity_provider_strategy:
    - { capacity_provider: FARGATE_SPOT, weight: 3 }
    - { capacity_provider: FARGATE, weight: 1, base: 1 }
admin-only:
  task_definition: portcullis-sample-job
  container: sample-job
  timeout_seconds: 60
  scope: "jobs:admin"
"#;

pub fn registry() -> JobTypes {
    let v: serde_norway::Value =
        serde_norway::from_str(TEST_REGISTRY).expect("test registry is YAML");
    JobTypes::from_value(&v).expect("test registry is valid")
}

pub fn placement(cluster: &str, subnets: Vec<String>, sgs: Vec<String>) -> Placement {
    Placement {
        cluster: cluster.to_owned(),
        subnets,
        security_groups: sgs,
    }
}

pub fn state(pool: PgPool, ecs: aws_sdk_ecs::Client, placement: Placement) -> State {
    State::new(
        Database::from_pool(pool),
        ecs,
        placement,
        registry(),
        Settings::default(),
    )
}

/// One recorded ECS call: operation name and JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    pub body: Value,
}

pub type Calls = Arc<Mutex<Vec<Call>>>;

/// An ECS client whose every request is answered by `answer(op, body)`
/// → (HTTP status, JSON body). Errors are `{"__type": code, "message": ...}`.
pub fn stub_ecs<F>(answer: F) -> (aws_sdk_ecs::Client, Calls)
where
    F: Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
{
    let calls: Calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let http = infallible_client_fn(move |req: http::Request<SdkBody>| {
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let op = target.rsplit('.').next().unwrap_or_default().to_owned();
        let body: Value = req
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let (status, answer_body) = answer(&op, &body);
        seen.lock().unwrap().push(Call { op, body });
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(answer_body.to_string()))
            .unwrap()
    });
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    (aws_sdk_ecs::Client::from_conf(conf), calls)
}

pub fn task_arn_for(n: usize) -> String {
    format!("arn:aws:ecs:us-east-1:111122223333:task/test-cluster/{n:032x}")
}

/// A stub where RunTask starts a task (a new ARN each call), ListTasks finds
/// nothing, StopTask and DescribeTasks succeed.
pub fn healthy_ecs() -> (aws_sdk_ecs::Client, Calls) {
    let counter = Arc::new(Mutex::new(0usize));
    stub_ecs(move |op, body| match op {
        "RunTask" => {
            let mut n = counter.lock().unwrap();
            *n += 1;
            (
                200,
                json!({"tasks": [{"taskArn": task_arn_for(*n), "lastStatus": "PROVISIONING",
                                   "startedBy": body["startedBy"], "version": 1}], "failures": []}),
            )
        }
        "ListTasks" => (200, json!({"taskArns": []})),
        "StopTask" => (
            200,
            json!({"task": {"taskArn": body["task"], "lastStatus": "RUNNING", "desiredStatus": "STOPPED"}}),
        ),
        "DescribeTasks" => (200, json!({"tasks": [], "failures": []})),
        _ => (
            400,
            json!({"__type": "InvalidParameterException", "message": format!("stub does not know {op}")}),
        ),
    })
}

pub fn calls_of(calls: &Calls, op: &str) -> Vec<Call> {
    calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.op == op)
        .cloned()
        .collect()
}

/// An API Gateway REST proxy request with the authorizer context.
pub fn request(
    method: &str,
    path: &str,
    tenant: &str,
    scopes: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> lambda_http::Request {
    request_with_query(method, path, tenant, scopes, headers, body, &[])
}

pub fn request_with_query(
    method: &str,
    path: &str,
    tenant: &str,
    scopes: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    query: &[(&str, &str)],
) -> lambda_http::Request {
    let mut h = serde_json::Map::new();
    let mut mh = serde_json::Map::new();
    for (k, v) in headers {
        h.insert(k.to_string(), json!(v));
        mh.insert(k.to_string(), json!([v]));
    }
    let mut q = serde_json::Map::new();
    let mut mq = serde_json::Map::new();
    for (k, v) in query {
        q.insert(k.to_string(), json!(v));
        mq.insert(k.to_string(), json!([v]));
    }
    let event = json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": h,
        "multiValueHeaders": mh,
        "queryStringParameters": if q.is_empty() { Value::Null } else { Value::Object(q) },
        "multiValueQueryStringParameters": if mq.is_empty() { Value::Null } else { Value::Object(mq) },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "test",
            "authorizer": {
                "principal_id": format!("key-of-{tenant}"),
                "principal_type": "api_key",
                "tenant": tenant,
                "scopes": scopes,
            },
            "httpMethod": method,
            "identity": {"sourceIp": "192.0.2.10"},
            "path": format!("/test{path}"),
            "protocol": "HTTP/1.1",
            "requestId": "req-test-1",
            "resourcePath": path,
            "stage": "test"
        },
        "pathParameters": null,
        "stageVariables": null,
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway event")
}

pub fn body_json(resp: &lambda_http::Response<lambda_http::Body>) -> Value {
    match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("JSON body"),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).expect("JSON body"),
        lambda_http::Body::Empty => Value::Null,
        _ => Value::Null,
    }
}

/// Submit a job through the handler.
pub async fn submit(
    state: &State,
    tenant: &str,
    key: &str,
    body: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let req = request(
        "POST",
        "/v1/jobs",
        tenant,
        "jobs:read jobs:write",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body),
    );
    jobs::handle(state, req)
        .await
        .expect("the handler never fails")
}

pub async fn get_job(
    state: &State,
    tenant: &str,
    id: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let req = request(
        "GET",
        &format!("/v1/jobs/{id}"),
        tenant,
        "jobs:read",
        &[],
        None,
    );
    jobs::handle(state, req)
        .await
        .expect("the handler never fails")
}

/// Pretend time passed: make a job due for the reconciler now.
pub async fn make_due(pool: &PgPool, id: &str) {
    sqlx::query(
        "update jobs set next_attempt_at = now() - interval '1 second' where id = $1::uuid",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
}

pub async fn status_of(pool: &PgPool, id: &str) -> String {
    sqlx::query_scalar("select status from jobs where id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

// ------------------------------------------------------------------ moto

/// The emulator endpoint; a test that needs it fails loudly without it.
pub fn emulator() -> String {
    std::env::var("AWS_ENDPOINT_URL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        panic!("AWS_ENDPOINT_URL is not set: this test needs the moto emulator; run it through `make test`")
    })
}

/// ECS client pointed at the emulator.
pub async fn moto_ecs() -> aws_sdk_ecs::Client {
    let endpoint = emulator();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    aws_sdk_ecs::Client::new(&sdk)
}

async fn ec2(endpoint: &str, params: &[(&str, &str)]) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/", endpoint.trim_end_matches('/')))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(params)
        .send()
        .await
        .expect("the emulator answers EC2 calls");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(
        status.is_success(),
        "EC2 {params:?} failed: {status} {text}"
    );
    text
}

fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>")).unwrap();
    xml[start..end].to_owned()
}

/// VPC (DNS hostnames on), a subnet, a security group, a cluster and the
/// sample task definition, all with unique names. Returns the placement.
pub async fn moto_setup(ecs: &aws_sdk_ecs::Client) -> Placement {
    let endpoint = emulator();
    let v = "2016-11-15";
    let vpc_xml = ec2(
        &endpoint,
        &[
            ("Action", "CreateVpc"),
            ("Version", v),
            ("CidrBlock", "10.42.0.0/16"),
        ],
    )
    .await;
    let vpc = xml_value(&vpc_xml, "vpcId");
    ec2(
        &endpoint,
        &[
            ("Action", "ModifyVpcAttribute"),
            ("Version", v),
            ("VpcId", &vpc),
            ("EnableDnsHostnames.Value", "true"),
        ],
    )
    .await;
    let subnet_xml = ec2(
        &endpoint,
        &[
            ("Action", "CreateSubnet"),
            ("Version", v),
            ("VpcId", &vpc),
            ("CidrBlock", "10.42.1.0/24"),
        ],
    )
    .await;
    let subnet = xml_value(&subnet_xml, "subnetId");
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let sg_xml = ec2(
        &endpoint,
        &[
            ("Action", "CreateSecurityGroup"),
            ("Version", v),
            ("VpcId", &vpc),
            ("GroupName", &format!("jobs-{unique}")),
            ("GroupDescription", "job tasks"),
        ],
    )
    .await;
    let sg = xml_value(&sg_xml, "groupId");
    let cluster = format!("jobs-test-{unique}");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .expect("CreateCluster");
    ecs.register_task_definition()
        .family("portcullis-sample-job")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("sample-job")
                .image("portcullis/sample-job:latest")
                // moto sums container-level cpu/memory (500s without them).
                .cpu(256)
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    placement(&cluster, vec![subnet], vec![sg])
}

/// A real-shaped "ECS Task State Change" event for a described task.
pub fn event_from_task(
    task: &aws_sdk_ecs::types::Task,
    version: i64,
    exit_code: Option<i32>,
) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/ecs-task-stopped-exit-0.json"
    ))
    .unwrap();
    let d = &mut e["detail"];
    d["taskArn"] = json!(task.task_arn());
    d["lastStatus"] = json!(task.last_status());
    d["desiredStatus"] = json!(task.desired_status());
    d["startedBy"] = json!(task.started_by());
    d["version"] = json!(version);
    d["containers"][0]["taskArn"] = json!(task.task_arn());
    d["containers"][0]["lastStatus"] = json!(task.last_status());
    match exit_code {
        Some(c) => d["containers"][0]["exitCode"] = json!(c),
        None => {
            d["containers"][0]
                .as_object_mut()
                .unwrap()
                .remove("exitCode");
        }
    }
    if task.last_status() != Some("STOPPED") {
        for k in [
            "stopCode",
            "stoppedReason",
            "stoppedAt",
            "stoppingAt",
            "executionStoppedAt",
        ] {
            d.as_object_mut().unwrap().remove(k);
        }
    }
    e
}

/// A fixture event rewritten for one task and job.
pub fn fixture_event(name: &str, task_arn: &str, job_id: &str, version: i64) -> Value {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"));
    let mut e: Value = serde_json::from_str(&text).unwrap();
    e["detail"]["taskArn"] = json!(task_arn);
    e["detail"]["startedBy"] = json!(job_id);
    e["detail"]["version"] = json!(version);
    e
}
