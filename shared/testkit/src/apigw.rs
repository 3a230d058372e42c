//! API Gateway REST proxy requests, as the gateway hands them to an HTTP
//! function after its authorizer: the resource path (`/v1/jobs/{id}`), path
//! parameters, and the authorizer context (`principal_id`, `principal_type`,
//! `tenant`, `scopes`).

use serde_json::{Map, Value, json};

/// A request under construction: `ApiRequest::new("GET", "/v1/jobs/{id}")
/// .path_param("id", id).caller("acme", "jobs:read").build()`.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    method: String,
    resource: String,
    path_params: Vec<(String, String)>,
    caller: Option<(String, String)>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<String>,
}

impl ApiRequest {
    /// `resource` is the route as api/openapi.yaml names it.
    pub fn new(method: &str, resource: &str) -> ApiRequest {
        ApiRequest {
            method: method.to_owned(),
            resource: resource.to_owned(),
            path_params: Vec::new(),
            caller: None,
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
        }
    }

    /// The value of `{name}` in the resource path.
    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.path_params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// An API key of `tenant` holding `scopes` (space-separated); its
    /// principal is `key-of-<tenant>`. Without a caller the request has no
    /// authorizer context.
    pub fn caller(mut self, tenant: &str, scopes: &str) -> Self {
        self.caller = Some((tenant.to_owned(), scopes.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// The concrete path: the resource with its parameters filled in.
    pub fn path(&self) -> String {
        let mut path = self.resource.clone();
        for (k, v) in &self.path_params {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        path
    }

    /// The REST proxy event, parsed by `lambda_http` as in Lambda.
    pub fn build(&self) -> lambda_http::Request {
        let pairs = |list: &[(String, String)]| -> (Value, Value) {
            if list.is_empty() {
                return (Value::Null, Value::Null);
            }
            let mut one = Map::new();
            let mut many = Map::new();
            for (k, v) in list {
                one.insert(k.clone(), json!(v));
                many.entry(k.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .expect("built as an array just above")
                    .push(json!(v));
            }
            (Value::Object(one), Value::Object(many))
        };
        let (headers, multi_headers) = pairs(&self.headers);
        let (query, multi_query) = pairs(&self.query);
        let path_params: Map<String, Value> = self
            .path_params
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let authorizer = match &self.caller {
            Some((tenant, scopes)) => json!({
                "principal_id": format!("key-of-{tenant}"),
                "principal_type": "api_key",
                "tenant": tenant,
                "scopes": scopes,
            }),
            None => json!({}),
        };
        let path = self.path();
        let event = json!({
            "resource": self.resource,
            "path": path,
            "httpMethod": self.method,
            "headers": if headers.is_null() { json!({}) } else { headers },
            "multiValueHeaders": if multi_headers.is_null() { json!({}) } else { multi_headers },
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "test",
                "authorizer": authorizer,
                "httpMethod": self.method,
                "identity": {"sourceIp": "192.0.2.10"},
                "path": format!("/test{path}"),
                "protocol": "HTTP/1.1",
                "requestId": "req-test-1",
                "resourcePath": self.resource,
                "stage": "test"
            },
            "pathParameters": if path_params.is_empty() { Value::Null } else { Value::Object(path_params) },
            "stageVariables": null,
            "body": self.body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string())
            .expect("the testkit builds valid API Gateway REST events")
    }
}

/// The JSON body of a response (`null` when empty).
pub fn body_json(resp: &lambda_http::Response<lambda_http::Body>) -> Value {
    match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("a JSON body"),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).expect("a JSON body"),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;

    #[test]
    fn path_parameters_fill_the_resource_and_reach_the_request() {
        let r = ApiRequest::new("GET", "/v1/jobs/{id}/events")
            .path_param("id", "abc")
            .caller("acme", "jobs:read")
            .query("limit", "2");
        assert_eq!(r.path(), "/v1/jobs/abc/events");
        let req = r.build();
        assert_eq!(
            req.path_parameters_ref().and_then(|p| p.first("id")),
            Some("abc")
        );
        assert_eq!(
            req.query_string_parameters_ref()
                .and_then(|q| q.first("limit")),
            Some("2")
        );
    }
}
