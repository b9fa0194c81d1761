--
-- security: the catalog is written only through meshpg's functions, and
-- nothing a user plants in a schema changes what those functions do.
--
-- No one but the catalog owner writes (or reads) the catalog tables.
SET ROLE regress_analyst;
SELECT expect_error($$ INSERT INTO meshpg.cat_domain (name, skeleton, owner, nsp) VALUES ('x', 'x', 'regress_analyst', 'public') $$);
SELECT expect_error($$ UPDATE meshpg.cat_grant SET expires_at = NULL $$);
SELECT expect_error($$ DELETE FROM meshpg.cat_product $$);
SELECT expect_error($$ TRUNCATE meshpg.cat_column $$);
SELECT expect_error($$ SELECT * FROM meshpg.cat_grant $$);
SELECT expect_error($$ SELECT nextval('meshpg.cat_domain_id_seq') $$);
SELECT expect_error($$ CREATE TABLE meshpg.planted (a int) $$);
SELECT expect_error($$ SELECT meshpg._catalog_changed() $$);
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT expect_error($$ UPDATE meshpg.cat_product SET state = 'draft' $$);
RESET ROLE;
SET ROLE regress_gov;
SELECT expect_error($$ DELETE FROM meshpg.cat_domain $$);
RESET ROLE;

-- A user plants look-alikes of everything meshpg's SQL calls, ahead of
-- pg_catalog in its search_path; each would announce itself.
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked lower(%)', $1; RETURN 'hijacked'; END $$;
CREATE SCHEMA evil AUTHORIZATION regress_pay_dev;
SET ROLE regress_pay_dev;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked now()'; RETURN '2000-01-01'; END $$;
CREATE FUNCTION evil.format_type(oid, integer) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked format_type'; RETURN 'hijacked'; END $$;
CREATE FUNCTION evil.to_tsvector(regconfig, text) RETURNS tsvector LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked to_tsvector'; RETURN ''; END $$;
CREATE FUNCTION evil.quote_ident(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked quote_ident'; RETURN $1; END $$;
CREATE FUNCTION evil.textcat_evil(text, text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked ||'; RETURN 'hijacked'; END $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textcat_evil);
CREATE FUNCTION evil.texteq_evil(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'hijacked ='; RETURN true; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq_evil);
CREATE TABLE evil.cat_product (id bigint);
CREATE TABLE evil.cat_domain (id bigint);
SET search_path = evil, public, pg_catalog;
-- operators in plain SQL now resolve to the planted ones...
SELECT 'a' = 'b' AS planted_equality, lower('X') AS planted_lower;
-- ...but meshpg's functions are unaffected.
CREATE TABLE payments.refunds (id bigint, amount numeric);
SELECT meshpg.register_product('payments', 'refunds', 'payments.refunds', description => 'Refunds');
SELECT meshpg.document_column('payments.refunds', 'amount', 'Refunded amount');
SELECT meshpg.publish('payments.refunds', '1.0.0');
SELECT meshpg.grant_access('payments.refunds', 'regress_analyst', purpose => 'finance');
SELECT product FROM meshpg.search('refunds');
SELECT meshpg.describe('payments.refunds') ->> 'state' AS state;
SELECT meshpg.revoke_access('payments.refunds', 'regress_analyst');
SELECT meshpg.deprecate('payments.refunds', current_date);
SELECT meshpg.retire('payments.refunds');
SELECT meshpg.unregister_product('payments.refunds');
RESET search_path;
RESET ROLE;
-- and the views, read with the planted search_path, are unaffected too
SET search_path = evil, public, pg_catalog;
SELECT count(*) > 0 AS ok FROM meshpg.products;
SELECT count(*) > 0 AS ok FROM meshpg.product_columns;
SELECT count(*) >= 0 AS ok FROM meshpg.grants;
RESET search_path;
DROP SCHEMA evil CASCADE;
DROP FUNCTION public.lower(text);
DROP TABLE payments.refunds;

-- Domain functions check the caller, even inside a SECURITY DEFINER function
-- that a privileged role wrote carelessly: the definer's rights are what
-- count, exactly as PostgreSQL's own privileges work.
CREATE FUNCTION public.make_domain_as_definer(n text) RETURNS text
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT meshpg.create_domain(n, 'regress_market_team') $$;
REVOKE ALL ON FUNCTION public.make_domain_as_definer(text) FROM PUBLIC;
ALTER FUNCTION public.make_domain_as_definer(text) OWNER TO regress_pay_dev;
GRANT EXECUTE ON FUNCTION public.make_domain_as_definer(text) TO regress_analyst;
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT public.make_domain_as_definer('sneaky') $$);
RESET ROLE;
DROP FUNCTION public.make_domain_as_definer(text);


-- Both hook chains ran: pg_stat_statements saw meshpg's calls and its DDL.
SELECT count(*) > 0 AS pgss_saw_meshpg FROM pg_stat_statements WHERE query LIKE '%meshpg.register_product%';
SELECT count(*) > 0 AS pgss_saw_utility FROM pg_stat_statements WHERE query LIKE 'CREATE TABLE payments.%';
