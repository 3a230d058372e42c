//! `portcullis_jobs::store` against PostgreSQL (DATABASE_URL; `make test`).

use portcullis_jobs::model::{JobStatus, StopReason};
use portcullis_jobs::store::{self, CancelRecord, Filter};
use portcullis_testkit::jobs::*;
use portcullis_testkit::stub_ecs::healthy_ecs;
use sqlx::PgPool;
use std::time::Duration;

fn stub(pool: &PgPool) -> portcullis_jobs::State {
    state(pool.clone(), healthy_ecs().0, stub_placement())
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_claimed_job_is_not_claimed_again_until_its_claim_expires(pool: PgPool) {
    let st = stub(&pool);
    let job = committed_job(&st, "k").await;
    make_due(&pool, job.id).await;
    let lease = Duration::from_secs(60);
    let claimed = store::claim_due(&st.db, lease, &[]).await.unwrap();
    assert_eq!(claimed.map(|j| j.id), Some(job.id));
    assert!(
        store::claim_due(&st.db, lease, &[])
            .await
            .unwrap()
            .is_none()
    );
    make_due(&pool, job.id).await; // the claim expired
    assert!(
        store::claim_due(&st.db, lease, &[])
            .await
            .unwrap()
            .is_some()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_timeout_does_not_override_a_cancel_recorded_meanwhile(pool: PgPool) {
    let st = stub(&pool);
    let job = launched_job(&st, "k", &[]).await;
    assert_eq!(job.status, JobStatus::Starting);
    let recorded = store::record_cancel(
        &st.db,
        &acme(),
        job.id,
        job.task_arn.as_deref(),
        "cancelled by a test",
        &[],
    )
    .await
    .unwrap();
    let CancelRecord::Recorded(cancelled) = recorded else {
        panic!("{recorded:?}")
    };
    assert_eq!(cancelled.stop_requested, Some(StopReason::Cancel));
    assert!(
        store::time_out(&st.db, job.id, "overdue")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(status_of(&pool, job.id).await, "starting");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cancel_decided_on_a_stale_read_is_not_recorded(pool: PgPool) {
    let st = stub(&pool);
    let job = launched_job(&st, "k", &[]).await;
    // Read when it had no task; it has one now.
    let r = store::record_cancel(&st.db, &acme(), job.id, None, "late", &[])
        .await
        .unwrap();
    assert!(matches!(r, CancelRecord::Changed), "{r:?}");
    let other = store::record_cancel(&st.db, &"globex".parse().unwrap(), job.id, None, "x", &[])
        .await
        .unwrap();
    assert!(matches!(other, CancelRecord::NotFound), "{other:?}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_status_filter_and_events_read_typed_statuses(pool: PgPool) {
    let st = stub(&pool);
    let started = launched_job(&st, "a", &[]).await;
    committed_job(&st, "b").await;
    let only_started = Filter {
        status: Some(JobStatus::Starting),
        job_type: None,
    };
    let jobs = store::list(&st.db, &acme(), &only_started, None, 10)
        .await
        .unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![started.id]
    );
    let events = store::events(&st.db, started.id).await.unwrap();
    let moves: Vec<_> = events
        .iter()
        .map(|e| (e.from_status, e.to_status))
        .collect();
    assert_eq!(
        moves,
        vec![
            (None, JobStatus::Queued),
            (Some(JobStatus::Queued), JobStatus::Starting)
        ]
    );
}
