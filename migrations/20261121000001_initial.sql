-- Portcullis initial schema (ARCHITECTURE §3): api keys, jobs, job history, audit log.
-- Never edit this file once applied anywhere: add a new migration instead.

-- ------------------------------------------------------------------ helpers

-- Keeps updated_at current on every update.
create function portcullis_set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

-- Makes a table append-only: update, delete and truncate are refused.
create function portcullis_append_only() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only: % is not allowed', tg_table_name, lower(tg_op)
        using errcode = 'insufficient_privilege',
              hint = 'insert a new row instead';
end;
$$;

-- ------------------------------------------------------------------ api_keys

-- An API key is shown once as pcs_<lookup_id>_<secret><checksum>; only the
-- sha256 digest of the secret part is stored.
create table api_keys (
    id            uuid        primary key default gen_random_uuid(),
    lookup_id     text        not null,
    secret_digest bytea       not null,
    name          text        not null,
    tenant        text        not null,
    scopes        text[]      not null default '{}',
    plan          text        not null default 'standard',
    created_at    timestamptz not null default now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    created_by    text        not null,
    constraint api_keys_lookup_id_key unique (lookup_id),
    constraint api_keys_lookup_id_check check (char_length(lookup_id) between 1 and 64),
    constraint api_keys_secret_digest_check check (octet_length(secret_digest) = 32),
    constraint api_keys_name_check check (char_length(name) between 1 and 200),
    constraint api_keys_tenant_check check (char_length(tenant) between 1 and 200),
    constraint api_keys_scopes_check check (array_position(scopes, null) is null)
);

-- Listing a tenant's keys, newest first (cursor: created_at, id).
create index api_keys_tenant_created_idx on api_keys (tenant, created_at desc, id desc);

-- ------------------------------------------------------------------ jobs

create table jobs (
    id              uuid        primary key default gen_random_uuid(),
    tenant          text        not null,
    principal       text        not null,
    type            text        not null,
    params          jsonb       not null default '{}',
    status          text        not null default 'queued',
    idempotency_key text,
    -- hex sha256 of the normalised request body: same key + other body -> 409
    request_hash    text,
    task_arn        text,
    attempts        integer     not null default 0,
    -- the job type's max_attempts when the job was created (null: unknown)
    max_attempts    integer,
    next_attempt_at timestamptz,
    -- detail.version of the last ECS event applied; events must grow it
    ecs_version     bigint,
    exit_code       integer,
    stop_code       text,
    stopped_reason  text,
    error           text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    constraint jobs_status_check check (
        status in ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')
    ),
    constraint jobs_tenant_idempotency_key_key unique (tenant, idempotency_key),
    constraint jobs_idempotency_key_check check (char_length(idempotency_key) between 1 and 255),
    constraint jobs_type_check check (char_length(type) between 1 and 128),
    constraint jobs_tenant_check check (char_length(tenant) between 1 and 200),
    constraint jobs_attempts_check check (attempts >= 0),
    constraint jobs_max_attempts_check check (
        max_attempts is null or (max_attempts >= 1 and attempts <= max_attempts)
    ),
    constraint jobs_ecs_version_check check (ecs_version >= 0),
    constraint jobs_params_check check (jsonb_typeof(params) = 'object')
);

-- task-events finds the job of an ECS event by its task ARN.
create index jobs_task_arn_idx on jobs (task_arn) where task_arn is not null;
-- The reconciler: due retries and unfinished jobs.
create index jobs_status_next_attempt_idx on jobs (status, next_attempt_at);
-- GET /v1/jobs: a tenant's jobs newest first, cursor (created_at, id).
create index jobs_tenant_created_idx on jobs (tenant, created_at desc, id desc);
create index jobs_type_idx on jobs (type);

create trigger jobs_set_updated_at
    before update on jobs
    for each row execute function portcullis_set_updated_at();

-- Terminal states never change (ARCHITECTURE §5).
create function portcullis_jobs_terminal_guard() returns trigger
language plpgsql as $$
begin
    if old.status in ('succeeded', 'failed', 'cancelled', 'timed_out') and new.status <> old.status then
        raise exception 'job % is %, a terminal status; it cannot become %', old.id, old.status, new.status
            using errcode = 'check_violation',
                  constraint = 'jobs_terminal_status_check',
                  hint = 'guard the update with "where status not in (terminal statuses)"';
    end if;
    return new;
end;
$$;

create trigger jobs_terminal_guard
    before update of status on jobs
    for each row execute function portcullis_jobs_terminal_guard();

-- ------------------------------------------------------------------ job_events

-- Append-only history of each job's transitions.
create table job_events (
    id          bigserial   primary key,
    job_id      uuid        not null references jobs (id),
    from_status text,
    to_status   text        not null,
    source      text        not null,
    detail      jsonb       not null default '{}',
    at          timestamptz not null default now(),
    constraint job_events_from_status_check check (
        from_status in ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')
    ),
    constraint job_events_to_status_check check (
        to_status in ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')
    ),
    constraint job_events_source_check check (source in ('api', 'ecs_event', 'reconciler'))
);

create index job_events_job_idx on job_events (job_id, id);

create trigger job_events_append_only
    before update or delete on job_events
    for each row execute function portcullis_append_only();
create trigger job_events_no_truncate
    before truncate on job_events
    for each statement execute function portcullis_append_only();

-- ------------------------------------------------------------------ audit_log

-- Who did what through the gateway (admin actions, proxied mutations).
create table audit_log (
    id         bigserial   primary key,
    at         timestamptz not null default now(),
    principal  text        not null,
    tenant     text,
    action     text        not null,
    target     text,
    detail     jsonb       not null default '{}',
    request_id text,
    constraint audit_log_action_check check (char_length(action) between 1 and 200)
);

create index audit_log_tenant_at_idx on audit_log (tenant, at desc);
create index audit_log_at_idx on audit_log (at);

create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function portcullis_append_only();
create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function portcullis_append_only();
