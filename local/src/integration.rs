//! The integration seam: a function is invoked with the event JSON and a
//! Lambda `Context` and answers JSON, exactly like a Lambda invoke.
//!
//! Adapters turn the project's plain handlers (`handle(&State, req)`) into
//! integrations, going through the same conversions the Lambda runtime does.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, IntoResponse, Request, Service};
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a Lambda invocation returns: the response payload, or the function
/// error whose `Display` is the `errorMessage` (e.g. `Unauthorized`).
pub type InvokeResult = Result<Value, lambda_runtime::Error>;

/// A Lambda function as the gateway sees it.
pub trait Integration: Send + Sync + 'static {
    fn invoke(&self, event: Value, context: Context) -> BoxFuture<'_, InvokeResult>;
}

/// A handler `async fn(&State, Request) -> Result<impl IntoResponse, E>`.
///
/// Implemented for every such `async fn` item; the lifetime parameter lets the
/// returned future borrow the state.
pub trait HttpHandler<'a, S: 'a>: Send + Sync + 'static {
    type Response: IntoResponse + Send + Sync + 'a;
    type Error: Into<lambda_runtime::Error> + Send + Sync + 'a;
    type Future: Future<Output = Result<Self::Response, Self::Error>> + Send + 'a;
    fn call(&self, state: &'a S, req: Request) -> Self::Future;
}

impl<'a, S, F, Fut, R, E> HttpHandler<'a, S> for F
where
    S: 'a,
    F: Fn(&'a S, Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'a,
    R: IntoResponse + Send + Sync + 'a,
    E: Into<lambda_runtime::Error> + Send + Sync + 'a,
{
    type Response = R;
    type Error = E;
    type Future = Fut;
    fn call(&self, state: &'a S, req: Request) -> Fut {
        self(state, req)
    }
}

/// A `lambda_http` function: the event is deserialized into `LambdaRequest`
/// and handed through `lambda_http::Adapter` (what `lambda_http::run` uses),
/// and the `LambdaResponse` it produces is serialized back to JSON.
pub struct HttpFunction<S, H> {
    state: Arc<S>,
    handler: H,
}

impl<S, H> HttpFunction<S, H> {
    pub fn new(state: Arc<S>, handler: H) -> Self {
        HttpFunction { state, handler }
    }
}

impl<S, H> Integration for HttpFunction<S, H>
where
    S: Send + Sync + 'static,
    H: for<'a> HttpHandler<'a, S>,
{
    fn invoke(&self, event: Value, context: Context) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move {
            let payload: LambdaRequest = serde_json::from_value(event)
                .map_err(|e| format!("the event is not an API Gateway proxy event: {e}"))?;
            let state: &S = &self.state;
            let service =
                lambda_http::service_fn(move |req: Request| self.handler.call(state, req));
            let mut adapter: Adapter<'_, _, _> = Adapter::from(service);
            let response = adapter
                .call(LambdaEvent::new(payload, context))
                .await
                .map_err(Into::into)?;
            Ok(serde_json::to_value(&response)?)
        })
    }
}

/// A handler `async fn(&State, T) -> Result<R, E>` for a plain event
/// function (the REQUEST authorizer: T = `ApiGatewayCustomAuthorizerRequestTypeRequest`,
/// R = `ApiGatewayCustomAuthorizerResponse`).
pub trait EventHandler<'a, S: 'a, T>: Send + Sync + 'static {
    type Response: Serialize + Send + 'a;
    type Error: Into<lambda_runtime::Error> + Send + Sync + 'a;
    type Future: Future<Output = Result<Self::Response, Self::Error>> + Send + 'a;
    fn call(&self, state: &'a S, event: T) -> Self::Future;
}

impl<'a, S, T, F, Fut, R, E> EventHandler<'a, S, T> for F
where
    S: 'a,
    F: Fn(&'a S, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'a,
    R: Serialize + Send + 'a,
    E: Into<lambda_runtime::Error> + Send + Sync + 'a,
{
    type Response = R;
    type Error = E;
    type Future = Fut;
    fn call(&self, state: &'a S, event: T) -> Fut {
        self(state, event)
    }
}

/// An event function: the event JSON is deserialized into `T` (as
/// `lambda_runtime::run` does) and the response serialized.
pub struct EventFunction<S, T, H> {
    state: Arc<S>,
    handler: H,
    _event: std::marker::PhantomData<fn(T)>,
}

impl<S, T, H> EventFunction<S, T, H> {
    pub fn new(state: Arc<S>, handler: H) -> Self {
        EventFunction {
            state,
            handler,
            _event: std::marker::PhantomData,
        }
    }
}

impl<S, T, H> Integration for EventFunction<S, T, H>
where
    S: Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    H: for<'a> EventHandler<'a, S, T>,
{
    fn invoke(&self, event: Value, _context: Context) -> BoxFuture<'_, InvokeResult> {
        Box::pin(async move {
            let event: T = serde_json::from_value(event)
                .map_err(|e| format!("the event does not deserialize: {e}"))?;
            let response = self
                .handler
                .call(&self.state, event)
                .await
                .map_err(Into::into)?;
            Ok(serde_json::to_value(&response)?)
        })
    }
}

/// A closure over the raw event, for tests and odd integrations.
pub struct RawFunction<F>(pub F);

impl<F, Fut> Integration for RawFunction<F>
where
    F: Fn(Value, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = InvokeResult> + Send + 'static,
{
    fn invoke(&self, event: Value, context: Context) -> BoxFuture<'_, InvokeResult> {
        Box::pin((self.0)(event, context))
    }
}
