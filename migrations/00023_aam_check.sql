-- aam_check(ok, message) is true when ok is, and otherwise raises SQLSTATE
-- AAM01 with the message. A statement pipelined with its transaction's
-- COMMIT uses it to abort that transaction when its outcome is not the one
-- the caller built the rest of the transaction for: the error ends the
-- pipeline before the COMMIT, and the caller rolls back.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION aam_check(ok boolean, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION USING ERRCODE = 'AAM01', MESSAGE = message;
    END IF;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION aam_check(boolean, text);
