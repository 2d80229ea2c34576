-- Named assets (`@logo`), per-project styles, and what the sweep needs (delivery.assets.sweep).

CREATE TABLE asset_names (
    project_id  bigint NOT NULL REFERENCES projects (id),
    name        text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$'),
    asset_id    text NOT NULL REFERENCES assets (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);
CREATE INDEX asset_names_asset ON asset_names (asset_id);

CREATE TABLE styles (
    project_id    bigint NOT NULL REFERENCES projects (id),
    name          text NOT NULL CHECK (name ~ '^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$'),
    prompt        text NOT NULL DEFAULT '' CHECK (length(prompt) <= 2000),
    aspect_class  text CHECK (aspect_class IN ('1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);

-- A project's default style must exist; clear the default before deleting that style.
UPDATE projects SET default_style = NULL WHERE default_style IS NOT NULL;
ALTER TABLE projects
    ADD CONSTRAINT projects_default_style_fkey
    FOREIGN KEY (id, default_style) REFERENCES styles (project_id, name);

CREATE INDEX assets_storage_key ON assets (storage_key);

-- One row per applied sweep: an audit trail, and how processes agree to sweep once per interval.
CREATE TABLE sweep_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    orphans     integer NOT NULL,
    abandoned   integer NOT NULL
);
CREATE INDEX sweep_runs_started ON sweep_runs (started_at DESC);
