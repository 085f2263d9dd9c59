-- Bootstrap tokens: one kept across restarts of `orch up` (its plaintext in the
-- data directory, only the digest here), revocable; a new one revokes the others.
ALTER TABLE api_tokens
    ADD COLUMN bootstrap  boolean NOT NULL DEFAULT false,
    ADD COLUMN revoked_at timestamptz;
-- Before this migration every admin token was minted by `orch up` at start.
UPDATE api_tokens SET bootstrap = true WHERE actor = 'admin';
