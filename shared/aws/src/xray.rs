//! X-Ray subsegments for every AWS SDK call: one interceptor that the
//! clients of [`crate::clients`] carry. It times each operation from the
//! start of its execution to its end (retries included) and records it with
//! `portcullis_core::trace::record` under the service and operation names
//! the SDK gives the operation (`ECS` / `RunTask`, ...), marked `fault` when
//! the call failed. Nothing is sent when the invocation is not traced (see
//! `portcullis_core::trace`).

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use portcullis_core::trace::{self, Namespace};

/// The interceptor; add it to a client's configuration with
/// `.interceptor(XrayInterceptor)` (the constructors of [`crate::clients`] do).
#[derive(Debug, Clone, Copy, Default)]
pub struct XrayInterceptor;

/// When the operation started, kept in the operation's configuration bag.
#[derive(Debug, Clone)]
struct Started {
    epoch: f64,
    at: Instant,
}

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "PortcullisXray"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started {
            epoch: trace::epoch_secs(),
            at: Instant::now(),
        });
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(started) = cfg.load::<Started>() else {
            return Ok(());
        };
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service(), m.name()))
            .unwrap_or(("AWS", "unknown"));
        let fault = !matches!(context.output_or_error(), Some(Ok(_)));
        trace::record(
            service,
            Namespace::Aws,
            operation,
            started.epoch,
            started.at.elapsed(),
            fault,
        );
        Ok(())
    }
}
