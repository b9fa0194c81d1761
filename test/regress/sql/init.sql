--
-- init: the extension, its role, settings and the suite's roles.
--
CREATE EXTENSION meshpg;
SELECT e.extname, e.extversion, e.extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'meshpg';
SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'meshpg_admin';

-- The catalog is dumped with the database.
SELECT c.relname
  FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
  JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'meshpg' ORDER BY 1;

-- Every meshpg function pins its search_path; only search and _export_doc
-- run as definer.  The two that write contracts and descriptors also pin
-- IntervalStyle, so that what they write does not depend on the session.
-- The masks, the guard and the SLO tally (evaluate's per-row aggregate,
-- whose aggregate itself runs only its support functions) are the
-- exception, as they run on the hot path (the SQL masks are inlined): they
-- are C, or SQL-standard bodies, which are bound when created, not when run.
-- run_retention pins search_path in C for each statement it runs: a SET
-- clause would keep the procedure from committing between its batches.
-- _export_doc_pre_retention is _export_doc before retention wrapped it.
SELECT p.proname, p.proconfig, p.prosecdef
  FROM pg_proc p WHERE p.pronamespace = 'meshpg'::regnamespace
   AND (p.proconfig IS DISTINCT FROM '{"search_path=pg_catalog, pg_temp"}' OR p.prosecdef)
   AND NOT ((p.proname LIKE 'mask\_%'
             OR p.proname IN ('guard', 'guard_support', '_slo_tally_step', '_slo_tally_combine')
             OR p.proname LIKE '\_entit%'
             -- differential privacy: per-row bounding and the noisy aggregates
             OR p.proname LIKE '\_dp\_%' OR p.proname IN ('dp_admit', 'dp_count', 'dp_sum_int', 'dp_sum_float'))
            AND p.proconfig IS NULL
            AND (p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
                 OR p.prosqlbody IS NOT NULL))
   AND NOT (p.proname IN ('_slo_tally', '_entities', 'dp_count', 'dp_sum_int', 'dp_sum_float') AND p.prokind = 'a')
 ORDER BY 1;
SELECT count(*) AS functions FROM pg_proc WHERE pronamespace = 'meshpg'::regnamespace;

-- Settings: the prefix is reserved, and weakening governance is superuser-only.
SHOW meshpg.confusable_check;
SET meshpg.no_such_setting = 'on';
CREATE ROLE regress_nobody;
SET ROLE regress_nobody;
SET meshpg.confusable_check = off;
RESET ROLE;

-- Errors are asserted by SQLSTATE through this helper (and the whole
-- statement runs in a subtransaction, so a failure leaves nothing behind).
CREATE FUNCTION public.expect_error(stmt text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
    detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT, detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM
        || CASE WHEN detail <> '' THEN E'\nDETAIL: ' || detail ELSE '' END
        || CASE WHEN hint <> '' THEN E'\nHINT: ' || hint ELSE '' END;
END
$$;

-- The people of the suite.
CREATE ROLE regress_gov IN ROLE meshpg_admin;
CREATE ROLE regress_payments_team;
CREATE ROLE regress_pay_dev IN ROLE regress_payments_team;
CREATE ROLE regress_market_team;
CREATE ROLE regress_market_dev IN ROLE regress_market_team;
CREATE ROLE regress_analyst;
CREATE ROLE regress_analyst2;
CREATE ROLE regress_analysts_group;
GRANT regress_analysts_group TO regress_analyst2;

-- pg_stat_statements is preloaded before meshpg: both chains must work.
CREATE EXTENSION pg_stat_statements;
