-- Staff sign-in (issue 13, finding 5). Failed logins decay: `failed_attempts` counts only those
-- since `failures_since`, and a window older than the lock length starts again. Each attempt is
-- counted before bcrypt runs, in one statement, so concurrent guesses cannot pass the lock.
-- Sessions end after an idle time as well as at their expiry; `last_used_at` moves on use.
ALTER TABLE staff ADD COLUMN failures_since timestamptz;
ALTER TABLE staff_sessions ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();
