-- 0002: the job's owner as an indexed generated column.
--
-- Visibility filtering ("jobs of user X") names this column; json_type guards
-- against a username that is not a string (it would otherwise compare oddly).
-- ADD COLUMN ... STORED is refused by SQLite; VIRTUAL is instant on any size.

ALTER TABLE jobs ADD COLUMN owner TEXT GENERATED ALWAYS AS (
    CASE WHEN json_type(credentials, '$.data.username') = 'text'
         THEN json_extract(credentials, '$.data.username') END
) VIRTUAL;

CREATE INDEX jobs_owner ON jobs (owner);
