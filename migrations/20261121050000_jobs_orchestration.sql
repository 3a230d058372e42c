-- Columns the job orchestration needs beyond ARCHITECTURE §3 (issue 4).
-- timeout_seconds: the job type's timeout when the job was created (the reconciler stops it after).
-- stop_requested: why the platform asked ECS to stop the task ('cancel' or 'timeout');
--   a STOPPED event then ends the job as cancelled / timed_out.
-- request_id, trace_id: the submitting request, passed to the task (also on a reconciler retry).
-- synced_at: when ECS last told us about the task (event or DescribeTasks); the
--   reconciler syncs running jobs whose synced_at is old.
alter table jobs
    add column timeout_seconds integer,
    add column stop_requested  text,
    add column request_id      text,
    add column trace_id        text,
    add column synced_at       timestamptz,
    add constraint jobs_timeout_seconds_check check (timeout_seconds is null or timeout_seconds > 0),
    add constraint jobs_stop_requested_check check (stop_requested in ('cancel', 'timeout'));

-- The reconciler's sweep of unfinished jobs.
create index jobs_unfinished_idx on jobs (status, synced_at)
    where status in ('queued', 'starting', 'running');
