--
-- setup: a governed product holding canaries, and a consumer to attack it.
--
-- Every value that a policy hides contains the word CANARY.  The attack
-- file (vectors.sql) never writes that word, and the make target fails if
-- it appears anywhere in that file's output: in rows, notices or errors.
--
CREATE EXTENSION meshpg;
CREATE ROLE vault_team;
CREATE ROLE reader;                 -- the attacker: a consumer with a grant
CREATE ROLE reader_nogrant;
CREATE SCHEMA attack AUTHORIZATION reader;
GRANT USAGE, CREATE ON SCHEMA attack TO reader_nogrant;

SELECT meshpg.create_domain('vault', 'vault_team');
SET ROLE vault_team;
CREATE TABLE vault.people (
    id int PRIMARY KEY,
    name text NOT NULL,
    ssn text UNIQUE,
    email text,
    region text NOT NULL,
    note text CHECK (note IS NULL OR length(note) < 100)
);
INSERT INTO vault.people VALUES
    (1, 'Ana', 'CANARY-SSN-1111', 'CANARY-MAIL-ana@example.com', 'EU', 'CANARY-NOTE-1'),
    (2, 'Bo',  'CANARY-SSN-2222', 'CANARY-MAIL-bo@example.com',  'EU', 'CANARY-NOTE-2'),
    (3, 'CANARY-ROW-Cy', 'CANARY-SSN-3333', 'CANARY-ROW-cy@hidden.example', 'US', 'CANARY-NOTE-3');
CREATE TABLE vault.events (id int, person int, region text, detail text) PARTITION BY LIST (region);
CREATE TABLE vault.events_eu PARTITION OF vault.events FOR VALUES IN ('EU');
CREATE TABLE vault.events_us PARTITION OF vault.events FOR VALUES IN ('US');
INSERT INTO vault.events VALUES (1, 1, 'EU', 'CANARY-DETAIL-1'), (2, 3, 'US', 'CANARY-ROW-DETAIL');
CREATE VIEW vault.people_view AS SELECT id, name, ssn, region FROM vault.people;
SELECT meshpg.register_product('vault', 'people', 'vault.people', description => 'People');
SELECT meshpg.register_product('vault', 'events', 'vault.events', description => 'Events');
SELECT meshpg.register_product('vault', 'people_view', 'vault.people_view', description => 'People view');
SELECT meshpg.publish('vault.people', '1.0.0');
SELECT meshpg.publish('vault.events', '1.0.0');
SELECT meshpg.publish('vault.people_view', '1.0.0');
SELECT meshpg.grant_access('vault.people', 'reader', purpose => 'audit');
SELECT meshpg.grant_access('vault.events', 'reader');
SELECT meshpg.grant_access('vault.people_view', 'reader');
ANALYZE vault.people, vault.events;
RESET ROLE;

-- The governance team's policies.
SELECT meshpg.create_tag('pii.ssn');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_tag('confidential');
SELECT meshpg.create_masking_policy('ssn_hash', 'hash', tag => 'pii.ssn');
SELECT meshpg.create_masking_policy('email_mask', 'email', tag => 'pii.email');
SELECT meshpg.create_masking_policy('confidential_redact', 'redact', tag => 'confidential');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
                                tag => 'geo.region');
-- a fixed key, so that the expected pseudonyms do not change between runs
UPDATE meshpg.cat_secret SET hmac_key = decode(repeat('5a', 32), 'hex');
SELECT meshpg.set_attribute('reader', 'region', '{EU}');
SELECT meshpg.set_attribute('reader_nogrant', 'region', '{EU,US}');
SET ROLE vault_team;
SELECT meshpg.tag_column('vault.people', 'ssn', 'pii.ssn');
SELECT meshpg.tag_column('vault.people', 'email', 'pii.email');
SELECT meshpg.tag_column('vault.people', 'note', 'confidential');
SELECT meshpg.tag_column('vault.people', 'region', 'geo.region');
SELECT meshpg.tag_column('vault.events', 'detail', 'confidential');
SELECT meshpg.tag_column('vault.events', 'region', 'geo.region');
SELECT meshpg.tag_column('vault.people_view', 'ssn', 'pii.ssn');
SELECT meshpg.tag_column('vault.people_view', 'region', 'geo.region');
RESET ROLE;

-- The leaky function and operator of PostgreSQL's own rowsecurity tests.
CREATE FUNCTION public.f_leak(text) RETURNS boolean COST 0.0000001 LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'f_leak => %', $1; RETURN true; END $$;
CREATE FUNCTION public.leak_lt(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'leak_lt => %, %', $1, $2; RETURN $1 < $2; END $$;
CREATE OPERATOR public.<<< (PROCEDURE = public.leak_lt, LEFTARG = text, RIGHTARG = text,
                            RESTRICT = scalarltsel);
