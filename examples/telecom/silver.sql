-- The conformed (silver) tables of the telecom example, created in the example's schema (the
-- driver sets search_path). `dataquarantine load` upserts into them on their primary keys and
-- maintains created_at / last_updated_at. The foreign keys are real: the load quarantines
-- orphans before they reach the table, so these constraints never fire.
CREATE TABLE IF NOT EXISTS conformed_customers (
    customer_id     text PRIMARY KEY,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    email           text NOT NULL,
    phone           text NOT NULL,
    plan            text NOT NULL,
    status          text NOT NULL,
    signup_date     date NOT NULL,
    churned_on      date,
    city            text,
    state           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conformed_agents (
    agent_id        text PRIMARY KEY,
    full_name       text NOT NULL,
    team            text NOT NULL,
    email           text NOT NULL,
    hired_on        date NOT NULL,
    active          boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conformed_complaints (
    complaint_id    text PRIMARY KEY,
    customer_id     text NOT NULL REFERENCES conformed_customers (customer_id),
    agent_id        text REFERENCES conformed_agents (agent_id),
    channel         text NOT NULL,
    category        text NOT NULL,
    priority        text NOT NULL,
    status          text NOT NULL,
    opened_at       timestamptz NOT NULL,
    resolved_at     timestamptz,
    description     text NOT NULL,
    status_changed_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_updated_at timestamptz NOT NULL DEFAULT now()
);

-- An example created before status_changed_at existed gains the column.
ALTER TABLE conformed_complaints ADD COLUMN IF NOT EXISTS status_changed_at timestamptz;

CREATE TABLE IF NOT EXISTS conformed_social_complaints (
    post_id         text PRIMARY KEY,
    platform        text NOT NULL,
    handle          text NOT NULL,
    customer_id     text REFERENCES conformed_customers (customer_id),
    posted_at       timestamptz NOT NULL,
    text            text NOT NULL,
    sentiment       double precision NOT NULL,
    followers       integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conformed_call_logs (
    call_id           text PRIMARY KEY,
    customer_id       text NOT NULL REFERENCES conformed_customers (customer_id),
    agent_id          text NOT NULL REFERENCES conformed_agents (agent_id),
    direction         text NOT NULL,
    caller_number     text NOT NULL,
    started_at        timestamptz NOT NULL,
    duration_seconds  integer NOT NULL,
    resolution_status text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_updated_at   timestamptz NOT NULL DEFAULT now()
);
