-- Two statements inside the consent check were planned again on every call (issue 17): the
-- grant read by token hash and the requester's failure count. PostgreSQL keeps re-planning a
-- statement with parameters while the plan for the parameters' values looks cheaper than the
-- generic one, and for these it always did (pg_stat_statements: one plan per call, 0.03 ms each,
-- about 0.06 ms of a lookup's PostgreSQL time). Both find their rows through an index on the
-- column they compare with `= ANY`, which is the generic plan, so it is kept.
ALTER FUNCTION consent_check(bytea[], bytea[], bytea[], timestamptz, integer, integer, smallint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION consent_failure_counted(bytea[], timestamptz, smallint, uuid) SET plan_cache_mode = force_generic_plan;
-- A later CREATE OR REPLACE of either function drops this setting unless it says it again.
