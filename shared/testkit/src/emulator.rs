//! The emulator's network and ECS set-up every ECS test needs: moto's
//! RunTask wants a VPC with DNS hostnames on, a subnet and a security group
//! in its EC2, and a task definition whose container has container-level
//! `cpu` and `memory` (moto answers 500 without them). Names are unique: the
//! emulator is shared by every test of a run.

use crate::env::{emulator_endpoint, unique};

/// The family and container of the sample job's task definition (as in the
/// repository's platform.yaml).
pub const SAMPLE_FAMILY: &str = "portcullis-sample-job";
pub const SAMPLE_CONTAINER: &str = "sample-job";

/// A VPC with DNS hostnames, a private subnet and a security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub security_group: String,
}

/// Where job tasks run in the emulator (the parts of a job placement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSetup {
    pub cluster: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// An ECS client pointed at the emulator.
pub async fn ecs_client() -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&crate::aws::sdk_config().await)
}

/// One EC2 query-API call, SigV4-signed with the process's key (the
/// emulator enforces IAM: `make test` exports its administrator's key); the
/// XML answer.
async fn ec2(params: &[(&str, &str)]) -> String {
    let endpoint = emulator_endpoint();
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let body: String = params
        .iter()
        .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
        .collect::<Vec<_>>()
        .join("&");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = crate::sigv4::sign_request(
        "ec2",
        "POST",
        &url,
        &[("content-type", content_type)],
        body.as_bytes(),
    );
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a reqwest client with static settings builds")
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    let resp = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("the emulator at {endpoint} does not answer EC2 calls: {e}"));
    let status = resp.status();
    let text = resp.text().await.expect("a readable EC2 answer");
    assert!(
        status.is_success(),
        "EC2 {params:?} failed: {status} {text}"
    );
    text
}

/// `application/x-www-form-urlencoded` escaping of one key or value.
fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            // As Python's urlencode writes it: moto re-encodes the parsed
            // form to check the signature.
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = start
        + xml[start..]
            .find('<')
            .unwrap_or_else(|| panic!("<{tag}> is not closed in {xml}"));
    xml[start..end].to_owned()
}

/// A VPC (10.42.0.0/16, DNS hostnames on), a subnet and a security group.
pub async fn network() -> Network {
    const V: &str = "2016-11-15";
    let vpc = xml_value(
        &ec2(&[
            ("Action", "CreateVpc"),
            ("Version", V),
            ("CidrBlock", "10.42.0.0/16"),
        ])
        .await,
        "vpcId",
    );
    ec2(&[
        ("Action", "ModifyVpcAttribute"),
        ("Version", V),
        ("VpcId", &vpc),
        ("EnableDnsHostnames.Value", "true"),
    ])
    .await;
    let subnet = xml_value(
        &ec2(&[
            ("Action", "CreateSubnet"),
            ("Version", V),
            ("VpcId", &vpc),
            ("CidrBlock", "10.42.1.0/24"),
        ])
        .await,
        "subnetId",
    );
    let security_group = xml_value(
        &ec2(&[
            ("Action", "CreateSecurityGroup"),
            ("Version", V),
            ("VpcId", &vpc),
            ("GroupName", &unique("jobs")),
            ("GroupDescription", "job tasks"),
        ])
        .await,
        "groupId",
    );
    Network {
        vpc,
        subnets: vec![subnet],
        security_group,
    }
}

/// Register the sample job's task definition ([`SAMPLE_FAMILY`]).
pub async fn register_sample_task_definition(ecs: &aws_sdk_ecs::Client) {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
    ecs.register_task_definition()
        .family(SAMPLE_FAMILY)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name(SAMPLE_CONTAINER)
                .image("portcullis/sample-job:latest")
                // moto sums container-level cpu/memory (500s without them).
                .cpu(256)
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition in the emulator");
}

/// Everything a job needs in the emulator: [`network`], a cluster with a
/// unique name and the sample task definition.
pub async fn ecs_setup(ecs: &aws_sdk_ecs::Client) -> EcsSetup {
    let net = network().await;
    let cluster = unique("jobs-test");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .expect("CreateCluster in the emulator");
    register_sample_task_definition(ecs).await;
    EcsSetup {
        cluster,
        subnets: net.subnets,
        security_groups: vec![net.security_group],
    }
}
