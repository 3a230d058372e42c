//! The field paths the registry schema accepts, read from the serde types
//! themselves (so the list cannot drift from the code), and the tests that
//! keep `schema-fields.json` current. `tests/terraform` checks that every
//! field Terraform reads is in that file.
//!
//! A path names a field from the top: `services.*.autoscaling.min`, where `*`
//! is any map key (a service name) and `[]` any list item
//! (`jobs.*.capacity_provider_strategy[].weight`).
//!
//! [`field_paths`] walks the types with a deserializer that answers every
//! struct with all of its fields, every map with one key `*`, every list with
//! one item and every scalar with a placeholder, recording each field's path.

use serde::Deserialize;
use serde::de::value::{Error, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// Every field path of platform.yaml, sorted.
pub fn field_paths() -> Vec<String> {
    let out = RefCell::new(BTreeSet::new());
    let probe = Probe {
        path: String::new(),
        out: &out,
    };
    if let Err(e) = super::RawPlatform::deserialize(probe) {
        panic!("the schema could not be walked: {e}");
    }
    out.into_inner().into_iter().collect()
}

struct Probe<'a> {
    path: String,
    out: &'a RefCell<BTreeSet<String>>,
}

impl<'a> Probe<'a> {
    fn child(&self, segment: &str) -> Probe<'a> {
        let path = if self.path.is_empty() {
            segment.to_owned()
        } else if segment == "[]" {
            format!("{}[]", self.path)
        } else {
            format!("{}.{segment}", self.path)
        };
        Probe {
            path,
            out: self.out,
        }
    }
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Error;

    // Untagged enums and scalar-or-anything types ask for "any": a number
    // satisfies every such type in the schema (`args: 16`, env values).
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_u64(1)
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_bool(true)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(1.0)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_f64(1.0)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_char('x')
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str("x")
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_str("x")
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_seq(OneItem(Some(self.child("[]"))))
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let value = self.child("*");
        v.visit_map(Fields {
            keys: ["*"].iter(),
            values: vec![value].into_iter(),
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let values: Vec<Probe> = fields.iter().map(|f| self.child(f)).collect();
        for p in &values {
            self.out.borrow_mut().insert(p.path.clone());
        }
        v.visit_map(Fields {
            keys: fields.iter(),
            values: values.into_iter(),
        })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_enum(FirstVariant(variants.first().copied().unwrap_or_default()))
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 bytes byte_buf unit unit_struct
        tuple tuple_struct identifier ignored_any
    }
}

struct OneItem<'a>(Option<Probe<'a>>);

impl<'de> de::SeqAccess<'de> for OneItem<'_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0.take().map(|p| seed.deserialize(p)).transpose()
    }
}

struct Fields<'a> {
    keys: std::slice::Iter<'static, &'static str>,
    values: std::vec::IntoIter<Probe<'a>>,
}

impl<'de> de::MapAccess<'de> for Fields<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        self.keys
            .next()
            .map(|&k| seed.deserialize(IntoDeserializer::<Error>::into_deserializer(k)))
            .transpose()
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        match self.values.next() {
            Some(p) => seed.deserialize(p),
            None => Err(de::Error::custom("a value without a key")),
        }
    }
}

struct FirstVariant(&'static str);

impl<'de> de::EnumAccess<'de> for FirstVariant {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let name: StrDeserializer<Error> = self.0.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for FirstVariant {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _seed: S) -> Result<S::Value, Error> {
        Err(de::Error::custom("the schema has no newtype variants"))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, Error> {
        Err(de::Error::custom("the schema has no tuple variants"))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, Error> {
        Err(de::Error::custom("the schema has no struct variants"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;
    use serde_norway::Value;

    const FIELDS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema-fields.json");

    fn render(paths: &[String]) -> String {
        let doc = serde_json::json!({
            "_comment": "Generated by `cargo test -p portcullis-platform` (src/schema.rs) from the Rust schema: every field path platform.yaml accepts ('*' = any name, '[]' = any list item). tests/terraform/test_registry_schema.py checks that Terraform reads no other field. Do not edit by hand.",
            "fields": paths,
        });
        let mut text = serde_json::to_string_pretty(&doc).expect("a JSON value always renders");
        text.push('\n');
        text
    }

    #[test]
    fn schema_fields_json_is_current() {
        let want = render(&field_paths());
        let have = std::fs::read_to_string(FIELDS_FILE).unwrap_or_default();
        if have != want {
            std::fs::write(FIELDS_FILE, &want).unwrap();
            panic!(
                "shared/platform/schema-fields.json was stale and has been rewritten from the schema: review and commit it"
            );
        }
    }

    #[test]
    fn the_walk_finds_nested_fields_and_every_field_terraform_is_known_to_read() {
        let paths = field_paths();
        for p in [
            "services",
            "services.*.autoscaling.min",
            "services.*.autoscaling.max",
            "services.*.autoscaling.cpu_target",
            "services.*.environment",
            "services.*.secrets",
            "services.*.priority",
            "services.*.integration",
            "services.*.log_retention_days",
            "services.*.environments",
            "services.*.health_check.matcher",
            "services.*.health_check.unhealthy_threshold",
            "services.*.image",
            "jobs.*.workload",
            "jobs.*.image",
            "jobs.*.cpu",
            "jobs.*.memory",
            "jobs.*.environment",
            "jobs.*.secrets",
            "jobs.*.log_retention_days",
            "jobs.*.overrides.cpu.min",
            "jobs.*.capacity_provider_strategy[].capacity_provider",
            "usage_plans.*.quota.period",
        ] {
            assert!(paths.iter().any(|x| x == p), "{p} missing from {paths:#?}");
        }
        // Leaves stop the walk: an environment's names are data, not fields.
        assert!(
            !paths
                .iter()
                .any(|p| p.starts_with("services.*.environment.")
                    || p.starts_with("services.*.secrets."))
        );
    }

    /// A registry that sets every field the schema accepts.
    const EVERY_FIELD: &str = r#"
services:
  full:
    description: every field set
    integration: lambda
    upstream: http://127.0.0.1:9000/base
    path_prefix: /full
    methods: [GET, POST]
    scope: services:full
    timeout_ms: 5000
    max_request_bytes: 1024
    max_response_bytes: 2048
    allow_headers: [accept]
    allow_cookies: true
    workload: full-service
    image: public.ecr.aws/example/full:1.0
    port: 9000
    priority: 200
    health_check:
      path: /healthz
      interval_seconds: 30
      timeout_seconds: 10
      healthy_threshold: 3
      unhealthy_threshold: 4
      matcher: "200,204"
    desired_count: 2
    autoscaling: { min: 1, max: 8, cpu_target: 75 }
    cpu: 512
    memory: 1024
    environment: { LOG_LEVEL: debug, WORKERS: 4, VERBOSE: true }
    secrets: { API_TOKEN: "portcullis/full/token:token", DB_URL: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf" }
    log_retention_days: 30
    environments: [dev, prod]
    routes:
      - { path: /public, methods: [GET], public: true }
      - { path: "/items/{id}", methods: [POST], scope: services:full.write }
  site:
    integration: vpc_link
    methods: [GET]
    priority: 201
    timeout_ms: 29000
    response_transfer_mode: BUFFERED
    cookies: own_path
    routes:
      - { path: "/stream/{proxy+}", methods: [GET], scope: services:site, response_transfer_mode: STREAM }
jobs:
  full:
    description: every field set
    task_definition: portcullis-full
    container: full
    entrypoint: [/full-job, --]
    workload: full-job
    image: public.ecr.aws/example/full-job:1.0
    cpu: 1024
    memory: 2048
    environment: { GREETING: hello }
    secrets: { TOKEN: "portcullis/full-job/token" }
    log_retention_days: 90
    timeout_seconds: 60
    max_attempts: 3
    scope: jobs:write
    capacity_provider_strategy:
      - { capacity_provider: FARGATE_SPOT, weight: 3, base: 1 }
    overrides:
      args: 8
      env: [GREETING]
      cpu: { min: 256, max: 2048 }
      memory: { min: 512, max: 4096 }
  launch:
    task_definition: portcullis-launch
    timeout_seconds: 60
    launch_type: FARGATE
usage_plans:
  full:
    description: every field set
    throttle: { rate_limit: 10, burst_limit: 20 }
    quota: { limit: 1000, period: WEEK }
"#;

    /// The registry as Terraform's locals normalise it (terraform/locals.tf),
    /// from the Rust side's resolved values.
    fn as_terraform_sees_it(p: &Platform) -> serde_json::Value {
        use serde_json::{Map, json};
        let env = |e: &crate::task::Environment| {
            e.iter()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect::<Map<_, _>>()
        };
        let secrets = |e: &crate::task::Secrets| {
            e.raw()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect::<Map<_, _>>()
        };
        // The fixture is evaluated with var.environment = "dev".
        let services: Map<_, _> = p
            .services
            .iter()
            .filter(|s| s.enabled_in("dev"))
            .map(|s| {
                let hc = &s.health_check;
                let v = json!({
                    "workload": s.workload, "image": s.image, "port": s.port,
                    "path_prefix": s.path_prefix, "priority": s.priority,
                    "health_check": {
                        "path": hc.path, "interval_seconds": hc.interval_seconds,
                        "timeout_seconds": hc.timeout_seconds,
                        "healthy_threshold": hc.healthy_threshold,
                        "unhealthy_threshold": hc.unhealthy_threshold, "matcher": hc.matcher,
                    },
                    "desired_count": s.desired_count, "min_count": s.autoscaling.min,
                    "max_count": s.autoscaling.max, "cpu_target": s.autoscaling.cpu_target,
                    "cpu": s.cpu, "memory": s.memory, "environment": env(&s.environment),
                    "secrets": secrets(&s.secrets), "log_retention_days": s.log_retention_days,
                });
                (s.name.clone(), v)
            })
            .collect();
        let jobs: Map<_, _> = p
            .jobs
            .iter()
            .map(|j| {
                let v = json!({
                    "family": j.task_definition, "container": j.container,
                    "workload": j.workload, "image": j.image, "cpu": j.cpu,
                    "memory": j.memory, "environment": env(&j.environment),
                    "secrets": secrets(&j.secrets), "log_retention_days": j.log_retention_days,
                    "entrypoint": j.entrypoint, "takes_args": j.overrides.max_args > 0,
                });
                (j.name.clone(), v)
            })
            .collect();
        let plans: Map<_, _> = p
            .usage_plans
            .names()
            .map(|n| {
                (
                    n.to_owned(),
                    serde_json::to_value(p.usage_plans.get(n)).unwrap(),
                )
            })
            .collect();
        json!({ "services": services, "jobs": jobs, "usage_plans": plans })
    }

    #[test]
    fn the_defaults_fixture_resolves_as_terraform_resolves_it() {
        // tests/terraform/test_registry_schema.py evaluates the same fixture
        // with Terraform and compares it with the same expected file.
        let p = Platform::from_yaml(include_str!("../testdata/defaults.yaml")).unwrap();
        let want: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/defaults.expected.json")).unwrap();
        assert_eq!(as_terraform_sees_it(&p), want);
    }

    /// Whether `path` ('*' any key, '[]' any item) is present in `v`.
    fn present(v: &Value, segments: &[&str]) -> bool {
        let Some((first, rest)) = segments.split_first() else {
            return true;
        };
        let (name, items) = match first.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (*first, false),
        };
        let children: Vec<&Value> = match v {
            Value::Mapping(m) if name == "*" => m.values().collect(),
            Value::Mapping(m) => m.get(name).into_iter().collect(),
            _ => vec![],
        };
        children.into_iter().any(|c| {
            if items {
                c.as_sequence()
                    .is_some_and(|s| s.iter().any(|i| present(i, rest)))
            } else {
                present(c, rest)
            }
        })
    }

    #[test]
    fn a_registry_using_every_field_parses() {
        let v: Value = serde_norway::from_str(EVERY_FIELD).unwrap();
        for path in field_paths() {
            let segments: Vec<&str> = path.split('.').collect();
            assert!(present(&v, &segments), "EVERY_FIELD does not set {path}");
        }
        let p = Platform::from_yaml(EVERY_FIELD).unwrap();
        let svc = p.services.get("full").unwrap();
        assert_eq!(svc.autoscaling.cpu_target, 75);
        assert_eq!(svc.environment.get("VERBOSE"), Some("true"));
        let job = p.jobs.get("full").unwrap();
        assert_eq!(
            (job.cpu, job.memory, job.workload.as_str()),
            (1024, 2048, "full-job")
        );
        assert!(p.usage_plans.contains("full"));
    }
}
