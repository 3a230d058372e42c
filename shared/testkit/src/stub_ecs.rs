//! An in-process ECS: every request is answered by a function of the
//! operation and its JSON body, and recorded, so a test asserts the exact
//! request shape and injects failures. An operation can be *gated*: its calls
//! wait until the test opens the gate, which lets a test act while a call is
//! in flight (e.g. prove no row lock is held during StopTask).

use aws_sdk_ecs::config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, watch};

/// One recorded ECS call: operation name (`RunTask`) and JSON body.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    pub body: Value,
}

/// Every call the stub answered, in order.
pub type Calls = Arc<Mutex<Vec<Call>>>;

/// The calls of one operation.
pub fn calls_of(calls: &Calls, op: &str) -> Vec<Call> {
    calls
        .lock()
        .expect("the call log is never poisoned")
        .iter()
        .filter(|c| c.op == op)
        .cloned()
        .collect()
}

/// Holds the calls of one operation until opened.
#[derive(Clone)]
pub struct Gate {
    op: String,
    arrived: Arc<Semaphore>,
    open: Arc<watch::Sender<bool>>,
}

impl Gate {
    fn new(op: &str) -> Gate {
        Gate {
            op: op.to_owned(),
            arrived: Arc::new(Semaphore::new(0)),
            open: Arc::new(watch::channel(false).0),
        }
    }

    /// Wait until a call of the gated operation is waiting at the gate.
    pub async fn arrived(&self) {
        self.arrived
            .acquire()
            .await
            .expect("the gate's semaphore is never closed")
            .forget();
    }

    /// Let every call through, now and from now on.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    async fn pass(&self) {
        self.arrived.add_permits(1);
        let mut open = self.open.subscribe();
        // The sender lives in self, so the channel never closes while waiting.
        let _ = open.wait_for(|o| *o).await;
    }
}

type Answer = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

#[derive(Clone)]
struct Stub {
    answer: Arc<Answer>,
    calls: Calls,
    gate: Option<Gate>,
}

impl fmt::Debug for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StubEcs").finish_non_exhaustive()
    }
}

impl HttpConnector for Stub {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let stub = self.clone();
        HttpConnectorFuture::new(async move {
            if let Some(gate) = stub.gate.as_ref().filter(|g| g.op == op) {
                gate.pass().await;
            }
            let (status, answer) = (stub.answer)(&op, &body);
            stub.calls
                .lock()
                .expect("the call log is never poisoned")
                .push(Call { op, body });
            let response = http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .body(SdkBody::from(answer.to_string()))
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

impl HttpClient for Stub {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.clone().into_shared()
    }
}

fn client(stub: Stub) -> aws_sdk_ecs::Client {
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "testkit",
        ))
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .http_client(stub)
        .build();
    aws_sdk_ecs::Client::from_conf(conf)
}

/// An ECS client whose every request is answered by `answer(op, body)` →
/// (HTTP status, JSON body). Errors are `{"__type": code, "message": ...}`.
pub fn stub_ecs<F>(answer: F) -> (aws_sdk_ecs::Client, Calls)
where
    F: Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
{
    let calls: Calls = Arc::default();
    let stub = Stub {
        answer: Arc::new(answer),
        calls: calls.clone(),
        gate: None,
    };
    (client(stub), calls)
}

/// As [`stub_ecs`], with the calls of `op` held at a [`Gate`].
pub fn gated_stub_ecs<F>(op: &str, answer: F) -> (aws_sdk_ecs::Client, Calls, Gate)
where
    F: Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
{
    let calls: Calls = Arc::default();
    let gate = Gate::new(op);
    let stub = Stub {
        answer: Arc::new(answer),
        calls: calls.clone(),
        gate: Some(gate.clone()),
    };
    (client(stub), calls, gate)
}

/// A task ARN in the stub's test cluster.
pub fn task_arn_for(n: usize) -> String {
    format!("arn:aws:ecs:us-east-1:111122223333:task/test-cluster/{n:032x}")
}

/// What a healthy ECS answers: RunTask starts a task (a new ARN each call),
/// ListTasks finds nothing, StopTask and DescribeTasks succeed.
pub fn healthy(counter: &Mutex<usize>, op: &str, body: &Value) -> (u16, Value) {
    match op {
        "RunTask" => {
            let mut n = counter.lock().expect("the counter is never poisoned");
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
    }
}

/// A stub answering like a [`healthy`] ECS.
pub fn healthy_ecs() -> (aws_sdk_ecs::Client, Calls) {
    let counter = Mutex::new(0usize);
    stub_ecs(move |op, body| healthy(&counter, op, body))
}
