-- Network policies as the log knows them (the gateway enforces them).
CREATE TABLE network_policies (
    namespace    text        NOT NULL,
    name         text        NOT NULL,
    pod_selector jsonb       NOT NULL,
    ingress      jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL,
    updated_by   text        NOT NULL,
    PRIMARY KEY (namespace, name)
);
