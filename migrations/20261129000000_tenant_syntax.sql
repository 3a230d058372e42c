-- One tenant syntax everywhere (docs/auth.md#tenants, portcullis_auth::Tenant):
-- 1 to 128 characters of ASCII letters, digits and - _ . : @, compared exactly.
--
-- Every tenant written so far passed either the authorizer's rule (this one) or
-- the keys API's narrower [a-z0-9-_]{1,64}, so no row should need a change. A row
-- written by hand that breaks the rule is not rewritten (renaming a tenant would
-- move its keys and jobs to another security boundary): the migration stops and
-- says which table holds it, so an operator decides.

do $$
declare
    bad_keys  bigint;
    bad_jobs  bigint;
    bad_audit bigint;
begin
    select count(*) into bad_keys from api_keys where tenant !~ '^[A-Za-z0-9._:@-]{1,128}$';
    select count(*) into bad_jobs from jobs where tenant !~ '^[A-Za-z0-9._:@-]{1,128}$';
    select count(*) into bad_audit from audit_log
        where tenant is not null and tenant !~ '^[A-Za-z0-9._:@-]{1,128}$';
    if bad_keys + bad_jobs + bad_audit > 0 then
        raise exception 'tenant ids outside the tenant syntax: % in api_keys, % in jobs, % in audit_log', bad_keys, bad_jobs, bad_audit
            using hint = 'A tenant is 1 to 128 characters of ASCII letters, digits and - _ . : @. '
                         'Find the rows with: select distinct tenant from <table> where tenant !~ ''^[A-Za-z0-9._:@-]{1,128}$''; '
                         'rename or delete them, then run the migration again.';
    end if;
end
$$;

alter table api_keys
    drop constraint api_keys_tenant_check,
    add constraint api_keys_tenant_check check (tenant ~ '^[A-Za-z0-9._:@-]{1,128}$');

alter table jobs
    drop constraint jobs_tenant_check,
    add constraint jobs_tenant_check check (tenant ~ '^[A-Za-z0-9._:@-]{1,128}$');

alter table audit_log
    add constraint audit_log_tenant_check check (tenant ~ '^[A-Za-z0-9._:@-]{1,128}$');
