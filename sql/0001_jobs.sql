-- 0001: the jobs table, one column per job field (see jobstore/columns.py).
--
-- AUTOINCREMENT (not just INTEGER PRIMARY KEY) so that an id is never handed
-- out twice, even after the newest jobs were pruned or the file reopened.
-- JSON fields hold JSON text written by jsoncodec.dumps ('null' for None),
-- booleans are 0/1, timestamps are the fixed-width UTC text of timeutil.

CREATE TABLE jobs (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    message_ids           TEXT    NOT NULL,
    method                TEXT    NOT NULL,
    arguments             TEXT    NOT NULL,
    transient             INTEGER NOT NULL CHECK (transient IN (0, 1)),
    description           TEXT,
    abortable             INTEGER NOT NULL CHECK (abortable IN (0, 1)),
    logs_path             TEXT,
    logs_excerpt          TEXT,
    progress              TEXT    NOT NULL,
    result                TEXT    NOT NULL,
    result_encoding_error TEXT    NOT NULL,
    error                 TEXT,
    exception             TEXT,
    exc_info              TEXT    NOT NULL,
    state                 TEXT    NOT NULL
        CHECK (state IN ('WAITING', 'RUNNING', 'SUCCESS', 'FAILED', 'ABORTED')),
    time_started          TEXT,
    time_finished         TEXT,
    credentials           TEXT    NOT NULL,
    -- VIRTUAL: computed on read, so inserts do not pay for it beyond its index.
    progress_percent      INTEGER GENERATED ALWAYS AS (json_extract(progress, '$.percent')) VIRTUAL
);

-- "state = ? AND method ^ prefix" is the commonest filter (running jobs of a service).
CREATE INDEX jobs_state_method ON jobs (state, method);
CREATE INDEX jobs_method ON jobs (method);
-- Newest-finished-first listings; the rowid (id) ends every index entry, so
-- "ORDER BY time_finished DESC, id ASC LIMIT n" walks this index without a sort.
-- Retention walks it the other way to find the oldest finished jobs.
CREATE INDEX jobs_time_finished ON jobs (time_finished DESC);
CREATE INDEX jobs_time_started ON jobs (time_started);
CREATE INDEX jobs_progress_percent ON jobs (progress_percent);
