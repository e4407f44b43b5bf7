-- 0003: bookkeeping for crash recovery and cheap retention.

-- Which process created/started the job: "<boot id>:<pid>:<process start ticks>".
-- recover() marks unfinished jobs whose runner is no longer alive.
ALTER TABLE jobs ADD COLUMN runner TEXT;

-- The number of finished non-transient jobs, kept exact by triggers so that
-- retention reads one row instead of counting the table on every finish,
-- whichever process (or plain SQL) changed the jobs.
CREATE TABLE job_counts (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    finished INTEGER NOT NULL
);

INSERT INTO job_counts (id, finished)
SELECT 1, count(*) FROM jobs
WHERE state IN ('SUCCESS', 'FAILED', 'ABORTED') AND transient = 0;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
WHEN NEW.state IN ('SUCCESS', 'FAILED', 'ABORTED') AND NEW.transient = 0
BEGIN
    UPDATE job_counts SET finished = finished + 1 WHERE id = 1;
END;

CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
WHEN OLD.state IN ('SUCCESS', 'FAILED', 'ABORTED') AND OLD.transient = 0
BEGIN
    UPDATE job_counts SET finished = finished - 1 WHERE id = 1;
END;

CREATE TRIGGER jobs_count_update AFTER UPDATE OF state, transient ON jobs
WHEN (OLD.state IN ('SUCCESS', 'FAILED', 'ABORTED') AND OLD.transient = 0)
  <> (NEW.state IN ('SUCCESS', 'FAILED', 'ABORTED') AND NEW.transient = 0)
BEGIN
    UPDATE job_counts
    SET finished = finished
        + CASE WHEN NEW.state IN ('SUCCESS', 'FAILED', 'ABORTED') AND NEW.transient = 0
               THEN 1 ELSE -1 END
    WHERE id = 1;
END;

-- Finished transient jobs waiting out their grace period: a partial index, so
-- it stays tiny and ordinary inserts do not touch it.
CREATE INDEX jobs_transient_finished ON jobs (time_finished) WHERE transient = 1;
