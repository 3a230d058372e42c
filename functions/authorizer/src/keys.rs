//! API key look-up for the authorizer: the `api_keys` store of
//! `portcullis_auth::store` (the same code the keys function writes with),
//! run through the database's credential retry. The validity check is
//! `portcullis_auth::store::check`.

use portcullis_auth::LookupId;
use portcullis_auth::store::{self, StoredKey};
use portcullis_db::{Database, DbError};
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// The row of a presented key's lookup id, if any. The future is boxed: the
/// sqlx query future is deep, and nesting it unboxed in the handler's future
/// overflows the compiler's layout query depth in the binary.
pub fn find<'a>(
    db: &'a Database,
    lookup_id: &'a LookupId,
) -> Pin<Box<dyn Future<Output = Result<Option<StoredKey>, DbError>> + Send + 'a>> {
    Box::pin(
        db.with_retry(move |pool| async move { store::find_by_lookup(&pool, lookup_id).await }),
    )
}

/// Set `last_used_at = now()` unless it was set less than `interval_secs` ago
/// (boxed, as [`find`]).
pub fn touch(
    db: &Database,
    id: Uuid,
    interval_secs: f64,
) -> Pin<Box<dyn Future<Output = Result<u64, DbError>> + Send + '_>> {
    Box::pin(db.with_retry(move |pool| async move { store::touch(&pool, id, interval_secs).await }))
}
