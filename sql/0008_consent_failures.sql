-- Failed consent tries, counted where every instance sees them (issue 13, finding 3). A lookup
-- whose token is unknown, names another person, is locked or was given to someone else is
-- `consent-invalid`, and counts one failure on the grant (if there is one) and one for the
-- requester in the current hour. A grant with ConsentGrant.failedTryLimit failures is locked for
-- good; a requester with PassbyConfiguration.consentFailuresPerHour is refused until the hour ends.
ALTER TABLE consent_grants ADD COLUMN failed_tries integer NOT NULL DEFAULT 0;

CREATE TABLE consent_failures (
    requester_key bytea PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures integer NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON consent_failures TO passby_app;
