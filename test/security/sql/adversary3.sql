--
-- adversary3: the third red-team round, on meshpg's own machinery rather
-- than query shapes: escalation through the catalog functions and hooks,
-- the catalog's secrets, and who may change what.  Actors: reader (a
-- consumer with a grant and a schema of its own, attack), reader_nogrant,
-- and the vault domain's team.  As in vectors.sql, this file never writes
-- the word the make target looks for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

-- 1. Search-path hijack of the catalog owner.  meshpg runs its catalog
--    statements as the catalog owner (a superuser), also from hooks (the
--    DDL guard), where no SET clause pins search_path.  A role that can
--    create an operator in a schema of its path, and put pg_catalog after
--    it, must not get that operator run with the owner's rights.
--
--    1a. A plain consumer with a schema of its own: renaming any type it
--        owns makes the DDL guard look for products publishing that type,
--        comparing type oids on every row of pg_attribute.
--    The hijacking operator logs who it ran as: the log must stay empty.
SET ROLE reader;
CREATE TABLE attack.adv3_log (operator text, superuser boolean);
CREATE FUNCTION attack.adv3_oid_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack.adv3_log
        SELECT 'oid', rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR attack.= (PROCEDURE = attack.adv3_oid_eq, LEFTARG = oid, RIGHTARG = oid);
CREATE TYPE attack.adv3_type AS (a int);
SET search_path = attack, pg_catalog;
ALTER TYPE attack.adv3_type RENAME TO adv3_type2;
RESET search_path;
DROP TYPE attack.adv3_type2;
DROP OPERATOR attack.= (oid, oid);
DROP FUNCTION attack.adv3_oid_eq(oid, oid);
GRANT INSERT, SELECT ON attack.adv3_log TO vault_team;
RESET ROLE;

--    1b. A domain team member: dropping or renaming a column of a draft
--        product makes the DDL guard update the column's documentation,
--        comparing product ids on every catalog row.
SET ROLE vault_team;
CREATE TABLE vault.adv3_draft (a int, b text);
SELECT meshpg.register_product('vault', 'adv3_draft', 'vault.adv3_draft');
CREATE FUNCTION vault.adv3_int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack.adv3_log
        SELECT 'bigint', rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR vault.= (PROCEDURE = vault.adv3_int8_eq, LEFTARG = bigint, RIGHTARG = bigint);
SET search_path = vault, pg_catalog;
ALTER TABLE vault.adv3_draft DROP COLUMN b;
ALTER TABLE vault.adv3_draft RENAME COLUMN a TO a2;
DROP TABLE vault.adv3_draft;
RESET search_path;
DROP OPERATOR vault.= (bigint, bigint);
DROP FUNCTION vault.adv3_int8_eq(bigint, bigint);
RESET ROLE;
SELECT DISTINCT operator, superuser FROM attack.adv3_log ORDER BY 1, 2;
DROP TABLE attack.adv3_log;
SELECT rolname, rolsuper FROM pg_catalog.pg_roles
 WHERE rolname IN ('reader', 'reader_nogrant', 'vault_team') ORDER BY rolname;
SELECT count(*) AS adv3_products_left FROM meshpg.products WHERE name LIKE 'adv3%';

-- 2. The catalog and its secrets: the tables behind the views, the hash
--    key (with it, pseudonyms fall to a dictionary), and the hash itself
--    as an oracle, are closed to consumers.
SET ROLE reader;
SELECT hmac_key FROM meshpg.cat_secret;
SELECT * FROM meshpg.cat_attribute;
SELECT * FROM meshpg.cat_grant;
UPDATE meshpg.cat_policy SET exempt_roles = '{reader}';
INSERT INTO meshpg.cat_grant (product_id, grantee, granted_by) VALUES (1, 'reader_nogrant', 'x');
SELECT meshpg.mask_hash('CAN' || 'ARY-SSN-1111');
-- only the reader's own attributes and grants are visible
SELECT role, key, "values" FROM meshpg.attributes ORDER BY 1, 2;
SELECT count(*) FILTER (WHERE grantee <> 'reader') AS others_grants,
       count(*) FILTER (WHERE product = 'vault.people') AS own_grant
  FROM meshpg.grants;
SELECT meshpg.explain_access('vault.people', 'reader_nogrant') IS NOT NULL;
RESET ROLE;

-- 3. Governance settings are not the consumer's to change.
SET ROLE reader;
SET meshpg.history = off;
SET meshpg.confusable_check = off;
SET meshpg.purpose = 'fraud-investigation';
LOAD 'meshpg';
RESET ROLE;

-- 4. A domain team's reach stops at its domain, and the guard at its own
--    tables: no declassification, attributes, policies on tags, or
--    switching the guard off.
SET ROLE vault_team;
SELECT meshpg.declassify('vault.people', 'ssn', 'pii.ssn', 'no longer sensitive');
SELECT meshpg.set_attribute('reader', 'region', '{EU,US}');
SELECT meshpg.drop_policy('ssn_hash');
ALTER TABLE vault.people DISABLE ROW LEVEL SECURITY;
ALTER POLICY meshpg_guard ON vault.people USING (true);
DROP POLICY meshpg_guard ON vault.people;
RESET ROLE;
SET ROLE reader_nogrant;
SELECT meshpg.grant_access('vault.people', 'reader_nogrant');
CREATE TABLE attack.adv3_own (x int);
SELECT meshpg.register_product('vault', 'adv3_stolen', 'attack.adv3_own');
DROP TABLE attack.adv3_own;
SELECT meshpg.untag_column('vault.people', 'ssn', 'pii.ssn');
SELECT count(*) FROM vault.people;
RESET ROLE;

-- after all of it, the consumer's view is unchanged: EU rows, ssn hashed
SET ROLE reader;
SELECT id, name, length(ssn) AS ssn_len, email FROM vault.people ORDER BY id;
RESET ROLE;
