-- Tenancy, keys, signed links, billing and rate limits (docs/security.md).

ALTER TABLE projects
    ADD COLUMN allow_unsigned boolean NOT NULL DEFAULT false;  -- unsigned /g links from allowed origins

ALTER TABLE api_keys
    ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}',   -- narrows the project's origins for this key
    ADD COLUMN rate_limit integer CHECK (rate_limit > 0),      -- misses per minute; NULL: the setting
    ADD COLUMN replaced_by text REFERENCES api_keys (id);      -- set when the key was rotated

-- Link-signing secrets are HMAC(server master secret, salt): the row alone signs nothing.
-- Several may be live per key; the newest signs, every live one verifies.
CREATE TABLE signing_secrets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id      text NOT NULL REFERENCES api_keys (id),
    salt        bytea NOT NULL CHECK (length(salt) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retires_at  timestamptz
);
CREATE INDEX signing_secrets_key ON signing_secrets (key_id, created_at DESC);

CREATE TABLE billing_accounts (
    organization_id    bigint PRIMARY KEY REFERENCES organizations (id),
    plan               text NOT NULL CHECK (plan IN ('free', 'prepaid', 'postpaid', 'unlimited')),
    balance            bigint NOT NULL DEFAULT 0,          -- credits; always the sum of the ledger
    credit_limit       bigint NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),  -- postpaid: balance floor is -credit_limit
    monthly_allowance  integer NOT NULL DEFAULT 0 CHECK (monthly_allowance >= 0),  -- free: generations per month
    used_this_period   integer NOT NULL DEFAULT 0 CHECK (used_this_period >= 0),
    period_start       timestamptz NOT NULL DEFAULT date_trunc('month', now(), 'UTC'),
    warning_threshold  bigint NOT NULL DEFAULT 0,
    block_at_zero      boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- Append-only: every change to a balance or allowance is one row here.
CREATE TABLE ledger (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES billing_accounts (organization_id),
    kind             text NOT NULL CHECK (kind IN ('grant', 'debit', 'refund', 'adjustment')),
    credits          bigint NOT NULL,            -- signed change to billing_accounts.balance
    quota            integer NOT NULL DEFAULT 0, -- signed change to used_this_period (free plan)
    balance_after    bigint NOT NULL,
    generation_id    bigint REFERENCES generations (id),
    project_id       bigint REFERENCES projects (id),
    key_id           text REFERENCES api_keys (id),
    model            text,
    note             text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind IN ('debit', 'refund')) = (generation_id IS NOT NULL)),
    UNIQUE (generation_id, kind)
);
CREATE INDEX ledger_org_created ON ledger (organization_id, created_at DESC);

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only; record an adjustment instead';
END $$;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

-- Generic cell rate algorithm: one row per bucket holding its theoretical arrival time.
-- Unlogged: limiter state need not survive a crash, and it is written on every miss.
CREATE UNLOGGED TABLE rate_limits (
    bucket  text PRIMARY KEY,
    tat     timestamptz NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
