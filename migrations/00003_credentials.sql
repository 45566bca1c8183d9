-- Credentials held by the credential broker, encrypted with AES-256-GCM.

-- +goose Up
CREATE TABLE credentials (
    id           text PRIMARY KEY,
    kind         text NOT NULL,
    -- Key fingerprint, nonce and ciphertext of the JSON secret document.
    key_id       text NOT NULL,
    nonce        bytea NOT NULL,
    ciphertext   bytea NOT NULL,
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE credentials;
