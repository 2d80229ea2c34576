-- Generation jobs (POST /v1/generations with "wait": false) and webhooks. The queue itself is
-- procrastinate's tables, applied by delivery.db.migrate beside these; a job row here is what the
-- API shows, and `queue_job_id` is the procrastinate job that runs it.

CREATE TABLE jobs (
    id            text PRIMARY KEY,                      -- job_ + 24 hex characters
    project_id    bigint NOT NULL REFERENCES projects (id),
    key_id        text NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    stage         text NOT NULL DEFAULT 'queued',        -- what the worker is doing now, for progress
    request       jsonb NOT NULL,                        -- the GenerationOrder, as posted
    count         integer NOT NULL CHECK (count BETWEEN 1 AND 4),
    asset_ids     text[] NOT NULL DEFAULT '{}',          -- one per finished candidate, in candidate order
    error         text,
    queue_job_id  bigint,
    attempts      integer NOT NULL DEFAULT 0,            -- runs started (a retried, killed worker's run counts)
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX jobs_project_created ON jobs (project_id, created_at DESC);

-- One reservation per candidate, made when the job is accepted: the generation row is created
-- pending (and debited) then, and the worker draws under it.
CREATE TABLE job_candidates (
    job_id         text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position       integer NOT NULL CHECK (position >= 0),
    generation_id  bigint REFERENCES generations (id),        -- NULL: the asset existed when the job was accepted
    PRIMARY KEY (job_id, position)
);
CREATE INDEX job_candidates_generation ON job_candidates (generation_id);

CREATE TABLE webhook_endpoints (
    id          text PRIMARY KEY,                        -- wh_ + 24 hex characters
    project_id  bigint NOT NULL REFERENCES projects (id),
    url         text NOT NULL,
    events      text[] NOT NULL,
    secret      text NOT NULL,                           -- whsec_ + base64: shown once, kept to sign
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_project ON webhook_endpoints (project_id);

-- One row per message and endpoint; its attempts are the delivery log.
CREATE TABLE webhook_messages (
    id           text PRIMARY KEY,                       -- msg_ + 24 hex: the `webhook-id` header, the same on every retry
    endpoint_id  text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event        text NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   text NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    status_code  integer,                                -- NULL: no answer (refused, timed out, guard)
    error        text,
    duration_ms  integer NOT NULL,
    manual       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);

-- balance.low fires once per crossing: a row while the account is at or below its threshold.
CREATE TABLE balance_alerts (
    organization_id  bigint PRIMARY KEY REFERENCES organizations (id),
    since            timestamptz NOT NULL DEFAULT now()
);

-- Emitting an event: one message per enabled endpoint of the project that subscribed to it, each
-- delivered by a queue job (delivery.webhooks). In SQL so triggers emit for every writer, and in the
-- writer's transaction, so an event exists exactly when what it reports was committed.
CREATE FUNCTION promptpix_emit(_project_id bigint, _event text, _data jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    endpoint record;
    message_id text;
    sent integer := 0;
BEGIN
    FOR endpoint IN
        SELECT id FROM webhook_endpoints WHERE project_id = _project_id AND enabled AND _event = ANY (events)
    LOOP
        message_id := 'msg_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24);
        INSERT INTO webhook_messages (id, endpoint_id, event, payload, status)
        VALUES (message_id, endpoint.id, _event,
                jsonb_build_object('type', _event,
                                   'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                   'data', _data),
                'pending');
        PERFORM procrastinate_defer_jobs_v1(ARRAY[ROW('webhooks', 'promptpix.deliver_webhook', 0, NULL, NULL,
                jsonb_build_object('message_id', message_id, 'attempt', 1), NULL)::procrastinate_job_to_defer_v1]);
        sent := sent + 1;
    END LOOP;
    RETURN sent;
END $$;

-- Organisation-wide events (balances) go to every project of the organisation.
CREATE FUNCTION promptpix_emit_organization(_organization_id bigint, _event text, _data jsonb) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    project record;
    sent integer := 0;
BEGIN
    FOR project IN SELECT id FROM projects WHERE organization_id = _organization_id LOOP
        sent := sent + promptpix_emit(project.id, _event, _data);
    END LOOP;
    RETURN sent;
END $$;

CREATE FUNCTION assets_webhook_data(a assets) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('asset', jsonb_build_object(
        'id', a.id, 'project_id', a.project_id, 'source', a.source, 'mime', a.mime, 'width', a.width, 'height', a.height,
        'prompt', a.prompt, 'version', a.version, 'deleted', a.deleted_at IS NOT NULL))
$$;

CREATE FUNCTION assets_emit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM promptpix_emit(NEW.project_id, 'asset.created', assets_webhook_data(NEW));
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.deleted_at IS NULL THEN
            PERFORM promptpix_emit(OLD.project_id, 'asset.deleted', assets_webhook_data(OLD));
        END IF;
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        PERFORM promptpix_emit(NEW.project_id, 'asset.deleted', assets_webhook_data(NEW));
    ELSIF NEW.version <> OLD.version THEN
        PERFORM promptpix_emit(NEW.project_id, 'asset.updated', assets_webhook_data(NEW));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER assets_webhooks AFTER INSERT OR UPDATE OR DELETE ON assets FOR EACH ROW EXECUTE FUNCTION assets_emit();

-- balance.low once per crossing of the warning threshold (delivery.db.billing.Account.low, in SQL):
-- fired when a change takes the account to or below it, re-armed once a change lifts it above.
CREATE FUNCTION billing_accounts_low() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    remaining bigint;
    crossed integer;
BEGIN
    IF NEW.plan = 'unlimited' OR NOT NEW.block_at_zero THEN
        remaining := NULL;
    ELSIF NEW.plan = 'free' THEN
        remaining := NEW.monthly_allowance - NEW.used_this_period;
    ELSIF NEW.plan = 'postpaid' THEN
        remaining := NEW.balance + NEW.credit_limit;
    ELSE
        remaining := NEW.balance;
    END IF;
    IF remaining IS NOT NULL AND remaining <= NEW.warning_threshold THEN
        INSERT INTO balance_alerts (organization_id) VALUES (NEW.organization_id) ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS crossed = ROW_COUNT;
        IF crossed > 0 THEN
            PERFORM promptpix_emit_organization(NEW.organization_id, 'balance.low', jsonb_build_object(
                'organization_id', NEW.organization_id, 'plan', NEW.plan, 'remaining', remaining,
                'warning_threshold', NEW.warning_threshold));
        END IF;
    ELSE
        DELETE FROM balance_alerts WHERE organization_id = NEW.organization_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER billing_accounts_low AFTER UPDATE ON billing_accounts FOR EACH ROW EXECUTE FUNCTION billing_accounts_low();
