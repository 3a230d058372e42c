-- Entitlements per tenant (issue 11 item 7; docs/keys.md#entitlements): which
-- private services (services:<name> scopes) and usage plans its keys may carry,
-- and the usage plan that meters its Cognito users (their API Gateway usage key,
-- portcullis_auth::usage). Written only by platform administrators through
-- PUT /v1/tenants/{tenant}; POST /v1/keys refuses a tenant without a row. The
-- platform tenant (PLATFORM_TENANT) is entitled to everything and needs no row.
-- Names are checked against platform.yaml by the keys function when written.

create table tenants (
    tenant     text        primary key,
    services   text[]      not null default '{}',
    plans      text[]      not null,
    user_plan  text        not null,
    updated_at timestamptz not null default now(),
    updated_by text        not null,
    constraint tenants_tenant_check check (tenant ~ '^[A-Za-z0-9._:@-]{1,128}$'),
    constraint tenants_plans_check check (cardinality(plans) >= 1),
    constraint tenants_user_plan_check check (user_plan = any (plans))
);
