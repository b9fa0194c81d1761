--
-- adversary7: the seventh red-team round: major versions, contracts and
-- dump/restore as bypass paths.  Actors: reader (a consumer with a grant),
-- the vault domain's team and the governance team.  As in vectors.sql,
-- this file never writes the word the make target looks for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

-- 1. A new major version over a relation loaded from the old one, with the
-- tagged column renamed.  publish_version used to fail with a duplicate
-- key when tag propagation had already tagged a kept column of the new
-- relation (the recorded INSERT ... SELECT): it must succeed, and the
-- renamed column must carry the old column's tag (propagated, so the team
-- cannot remove it).
SET ROLE vault_team;
CREATE TABLE vault.adv7 (id int, ssn text, region text);
INSERT INTO vault.adv7 SELECT id, ssn, region FROM vault.people;
SELECT meshpg.register_product('vault', 'adv7', 'vault.adv7', description => 'Round seven');
SELECT meshpg.publish('vault.adv7', '1.0.0');
SELECT meshpg.grant_access('vault.adv7', 'reader');
CREATE TABLE vault.adv7_v2 (id int, social text, region text);
INSERT INTO vault.adv7_v2 SELECT id, ssn, region FROM vault.adv7;
SELECT meshpg.publish_version('vault.adv7', 'vault.adv7_v2', '2999-01-01');
-- 2. The next one is a view over the first version's relation, renaming
-- the column again: static lineage tags it.
CREATE VIEW vault.adv7_v3 AS SELECT id, ssn AS social_id, region FROM vault.adv7;
SELECT meshpg.publish_version('vault.adv7@2', 'vault.adv7_v3', '2999-01-01');
SELECT meshpg.untag_column('vault.adv7@2', 'social', 'pii.ssn');
SELECT meshpg.untag_column('vault.adv7@3', 'social_id', 'pii.ssn');
RESET ROLE;
SELECT product, major, version, state, relation, successor, consumers
  FROM meshpg.product_versions WHERE family = 'vault.adv7' ORDER BY major;
SELECT product, column_name, tag FROM meshpg.column_tags
 WHERE product LIKE 'vault.adv7%' ORDER BY 1, 2, 3;

-- 3. A grant on one version is no grant on another, and SQL privileges
-- alone do not open a version that has no meshpg grant.
SET ROLE reader;
SELECT id, ssn, region FROM vault.adv7 ORDER BY id;
SELECT * FROM vault.adv7_v2;
SELECT * FROM vault.adv7_v3;
RESET ROLE;
GRANT SELECT ON vault.adv7_v3 TO reader;
SET ROLE reader;
SELECT * FROM vault.adv7_v3;
RESET ROLE;
REVOKE SELECT ON vault.adv7_v3 FROM reader;
SET ROLE vault_team;
SELECT meshpg.grant_access('vault.adv7@2', 'reader');
RESET ROLE;
SET ROLE reader;
SELECT * FROM vault.adv7_v2 ORDER BY id;
SELECT * FROM vault.adv7_v3;

-- 4. COPY of every relkind of a version, and what pg_dump does (row
-- security off: refused, never raw).
COPY vault.adv7_v2 TO STDOUT;
COPY vault.adv7_v2 (social) TO STDOUT;
COPY (SELECT social FROM vault.adv7_v2 ORDER BY id) TO STDOUT;
COPY vault.adv7_v3 TO STDOUT;
SET row_security = off;
COPY vault.adv7_v2 TO STDOUT;
COPY vault.adv7 TO STDOUT;
RESET row_security;
RESET ROLE;

-- 5. After the sunset date, reads of the old version stop.  The date is
-- UTC's: a reader who moves the session's TimeZone far west used to keep
-- reading for up to a day after the sunset.
UPDATE meshpg.cat_product SET sunset = (now() AT TIME ZONE 'UTC')::date - 1
 WHERE relid = 'vault.adv7'::regclass;
\c -
SET ROLE reader;
\set VERBOSITY terse
SET TimeZone = 'Etc/GMT+12';
SELECT count(*) FROM vault.adv7;
SELECT count(*) FROM (SELECT ssn FROM vault.adv7) s;
SET TimeZone = 'Etc/GMT-14';
SELECT count(*) FROM vault.adv7;
RESET TimeZone;
-- the newer version is still served, masked
SELECT id, social FROM vault.adv7_v2 ORDER BY id;
RESET ROLE;

-- clean up
SET ROLE vault_team;
SELECT meshpg.revoke_access('vault.adv7', 'reader');
SELECT meshpg.revoke_access('vault.adv7@2', 'reader');
RESET ROLE;
