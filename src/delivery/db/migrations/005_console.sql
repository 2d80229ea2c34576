-- The web console (/console): one-time sign-in links and the sessions they open.
-- Only SHA-256 of a token or session id is stored, so a database dump opens nothing.

CREATE TABLE console_link_tokens (
    token_hash       bytea PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);
CREATE INDEX console_link_tokens_expires ON console_link_tokens (expires_at);

CREATE TABLE console_sessions (
    id_hash          bytea PRIMARY KEY,
    organization_id  bigint NOT NULL REFERENCES organizations (id),
    csrf_token       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
