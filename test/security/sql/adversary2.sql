--
-- adversary2: the second red-team round, by the same consumer (reader: EU
-- rows, ssn hashed, email and note masked).  As in vectors.sql, this file
-- never writes the word the make target looks for: hidden values that must
-- contain it are built by concatenation.
--
RESET ROLE;
SET compute_query_id = off;

-- 1. Referential-integrity cascades run with row security's "no force"
--    flag, as the owner of the referencing table.  That table may be the
--    consumer's own (even a temporary one): its triggers, fired by the
--    cascade, read the product as the consumer, governed as ever.
SET ROLE reader;
SET search_path = attack, public;
CREATE TEMP TABLE adv2_parent (id int PRIMARY KEY);
CREATE TEMP TABLE adv2_child (pid int REFERENCES adv2_parent ON DELETE CASCADE ON UPDATE CASCADE);
CREATE FUNCTION attack.adv2_peek() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'cascade sees: %',
        (SELECT string_agg(name || ' ' || ssn || ' ' || email || ' ' || note, ', ' ORDER BY id)
           FROM vault.people);
    RAISE NOTICE 'cascade counts: % events', (SELECT count(*) FROM vault.events);
    RETURN OLD;
END $$;
CREATE TRIGGER adv2_peek BEFORE UPDATE OR DELETE ON adv2_child
    FOR EACH ROW EXECUTE FUNCTION attack.adv2_peek();
INSERT INTO adv2_parent VALUES (1);
INSERT INTO adv2_child VALUES (1);
UPDATE adv2_parent SET id = 2;
DELETE FROM adv2_parent;
-- a foreign key to the product (REFERENCES granted by hand) still checks
-- against every row, as the product's owner: integrity does not depend on
-- who writes (an existence oracle, as with row security)
RESET ROLE;
GRANT REFERENCES ON vault.people TO reader;
SET ROLE reader;
CREATE TABLE attack.adv2_fk (person int REFERENCES vault.people (id));
INSERT INTO attack.adv2_fk VALUES (1), (3);
INSERT INTO attack.adv2_fk VALUES (4);
DROP TABLE attack.adv2_fk;
RESET ROLE;
REVOKE REFERENCES ON vault.people FROM reader;

-- 2. UPDATE and DELETE through the consumer's security_barrier view (with
--    write privileges granted by hand): the rewriter turns the view's
--    WHERE into security quals of the product, and they see masked values
--    like any other expression of the consumer's.
GRANT UPDATE, DELETE ON vault.people TO reader;
SET ROLE reader;
SET search_path = attack, public;
CREATE VIEW attack.adv2_sb WITH (security_barrier) AS
    SELECT * FROM vault.people WHERE f_leak(ssn) AND f_leak(note);
CREATE VIEW attack.adv2_sb2 WITH (security_barrier) AS
    SELECT * FROM attack.adv2_sb WHERE f_leak(email);
CREATE VIEW attack.adv2_chk AS
    SELECT * FROM vault.people WHERE f_leak(email) WITH CASCADED CHECK OPTION;
BEGIN;
UPDATE attack.adv2_sb SET name = name RETURNING id, ssn, note;
DELETE FROM attack.adv2_sb2 WHERE id = 1 RETURNING id, email;
UPDATE attack.adv2_chk SET name = name WHERE id = 2;
UPDATE attack.adv2_sb SET name = name WHERE ssn LIKE 'CAN' || 'ARY%';
DELETE FROM attack.adv2_sb WHERE note LIKE '%' || 'NOTE' || '%';
ROLLBACK;
RESET ROLE;
REVOKE UPDATE, DELETE ON vault.people FROM reader;

-- 3. Functions a policy calls resolve names under the policies' search
--    path, not the reader's: a reader who puts its own schema before
--    pg_catalog does not get the raw value into its own upper() or left(),
--    nor widens a row policy's function with its own =.  (A function with
--    a search_path of its own keeps it.)
SET ROLE vault_team;
CREATE TABLE vault.adv2_cm (id int, secret text, code text, region text);
INSERT INTO vault.adv2_cm VALUES (1, 'CAN' || 'ARY-CM-1', 'CAN' || 'ARY-CODE-1', 'EU'),
                                 (2, 'CAN' || 'ARY-CM-2', 'CAN' || 'ARY-CODE-2', 'CAN' || 'ARY-US');
CREATE FUNCTION vault.adv2_initials(t text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT upper(left(t, 1)) || '...' $$;
CREATE FUNCTION vault.adv2_shorten(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE
    AS $$ BEGIN RETURN lower(left(t, 2)) || '~'; END $$;
CREATE FUNCTION vault.adv2_region_ok(r text) RETURNS boolean LANGUAGE sql STABLE
    AS $$ SELECT r = ANY (meshpg.attribute('region')) $$;
SELECT meshpg.register_product('vault', 'adv2_cm', 'vault.adv2_cm', description => 'Custom masks');
SELECT meshpg.publish('vault.adv2_cm', '1.0.0');
SELECT meshpg.grant_access('vault.adv2_cm', 'reader');
RESET ROLE;
SELECT meshpg.create_tag('adv2.initials');
SELECT meshpg.create_tag('adv2.shorten');
SELECT meshpg.create_tag('adv2.region');
SELECT meshpg.create_masking_policy('adv2_initials', 'custom', tag => 'adv2.initials',
                                    expression => 'vault.adv2_initials(value)');
SELECT meshpg.create_masking_policy('adv2_shorten', 'custom', tag => 'adv2.shorten',
                                    expression => 'vault.adv2_shorten(value)');
SELECT meshpg.create_row_policy('adv2_region', 'vault.adv2_region_ok(value)', tag => 'adv2.region');
SET ROLE vault_team;
SELECT meshpg.tag_column('vault.adv2_cm', 'secret', 'adv2.initials');
SELECT meshpg.tag_column('vault.adv2_cm', 'code', 'adv2.shorten');
SELECT meshpg.tag_column('vault.adv2_cm', 'region', 'adv2.region');
RESET ROLE;
SET ROLE reader;
CREATE FUNCTION attack.upper(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'attack.upper => %', $1; RETURN $1; END $$;
CREATE FUNCTION attack.left(text, int) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'attack.left => %', $1; RETURN $1; END $$;
CREATE FUNCTION attack.lower(text) RETURNS text LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'attack.lower => %', $1; RETURN $1; END $$;
-- (attack.= of vectors case 16, always true, is also in place)
SET search_path = attack, pg_catalog;
SELECT * FROM vault.adv2_cm ORDER BY id;
SELECT secret, code FROM vault.adv2_cm WHERE public.f_leak(secret) AND public.f_leak(code) ORDER BY id;
SELECT count(*) FROM vault.adv2_cm WHERE region = 'EU';
-- the reader's own calls still resolve under its own path
SELECT upper('x');
-- a direct call of the domain's function resolves as the policy's call does
SELECT vault.adv2_initials('abc');
RESET search_path;
SET search_path = attack, public;

-- 4. Purposes: a purpose the reader's grants do not name is refused however
--    it is set (its own role default, set_config); one rolled back with a
--    subtransaction lifts nothing afterwards.
ALTER ROLE reader SET meshpg.purpose = 'adv2-none';
SELECT set_config('meshpg.purpose', 'adv2-none', true);
BEGIN;
SAVEPOINT s;
SET LOCAL meshpg.purpose = 'audit';
ROLLBACK TO s;
SELECT meshpg.purpose() IS NULL AS no_purpose, count(*) FROM vault.people;
COMMIT;

RESET ROLE;

-- 5. A write through a view product is applied to its base table, where
--    the view's masks and filters cannot hold: refused for a reader the
--    policies apply to, even with UPDATE and DELETE granted by hand; the
--    domain team writes through it as before.
SET ROLE vault_team;
GRANT UPDATE, DELETE ON vault.people_view TO reader;
RESET ROLE;
SET ROLE reader;
UPDATE vault.people_view SET name = name WHERE public.f_leak(ssn) RETURNING ssn, region;
DELETE FROM vault.people_view WHERE id < 0 RETURNING ssn;
RESET ROLE;
SET ROLE vault_team;
UPDATE vault.people_view SET name = name WHERE id = 1;
REVOKE UPDATE, DELETE ON vault.people_view FROM reader;
RESET ROLE;
