--
-- adversary_classify: PII classification and retention against a consumer
-- and another domain's team.  Hidden values are built from two halves, so
-- this file never writes the word the suite looks for; any output that
-- holds one (a row, a notice, an error) fails the suite.
--
CREATE ROLE clinic_team;
CREATE ROLE clinic_dev IN ROLE clinic_team;
CREATE ROLE rival_team;
CREATE ROLE rival_dev IN ROLE rival_team;
SELECT meshpg.create_domain('clinic', 'clinic_team');
SELECT meshpg.create_domain('rival', 'rival_team');
SELECT meshpg.create_tag('pii.contact');
SET ROLE clinic_dev;
CREATE TABLE clinic.patients (id int, region text, email text, contact text, seen date);
-- visible rows: e-mail addresses; contact holds no personal data
INSERT INTO clinic.patients
SELECT i, 'visible', 'CANA' || 'RY-mail-' || i || '@example.com', 'ward ' || i, current_date - i
  FROM generate_series(1, 200) i;
-- rows hidden even from the domain team: contact holds e-mail addresses
INSERT INTO clinic.patients
SELECT i, 'sealed', 'CANA' || 'RY-sealed-' || i || '@example.com',
       'CANA' || 'RY-contact-' || i || '@example.com', current_date - i
  FROM generate_series(201, 1000) i;
SELECT meshpg.register_product('clinic', 'patients', 'clinic.patients', description => 'Patients');
SELECT meshpg.create_row_policy('clinic_sealed', $$region <> 'sealed'$$, product => 'clinic.patients',
                                applies_to_domain => true);
SELECT meshpg.publish('clinic.patients', '1.0.0');
SELECT meshpg.grant_access('clinic.patients', 'reader');
RESET ROLE;

-- 1. The domain team's classification shows evidence, never a value, and
-- samples only what the owner may read: the sealed rows' contact column
-- (all e-mail addresses) is not suggested, and no more rows are sampled
-- than the owner sees.
SET ROLE clinic_dev;
SELECT column_name, tag, validator, matched_share, sampled <= 200 AS within_owner_view, status
  FROM meshpg.classify('clinic.patients') ORDER BY 1;
SELECT column_name, validator, matched_share FROM meshpg.classification_suggestions ORDER BY 1;
RESET ROLE;

-- 2. A consumer with a grant cannot classify, review, or see suggestions,
-- not even through a function in a qual (the view is a security barrier).
SET ROLE reader;
SELECT count(*) FROM clinic.patients;
SELECT meshpg.classify('clinic.patients');
SELECT meshpg.classify_domain('clinic');
SELECT meshpg.accept_suggestion(s) FROM generate_series(1, 3) s;
SELECT meshpg.dismiss_suggestion(1, 'not mine');
CREATE FUNCTION attack.peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS
$$ BEGIN RAISE NOTICE 'peek: %', $1; RETURN true; END $$;
SELECT count(*) FROM meshpg.classification_suggestions WHERE attack.peek(column_name || tag);
SELECT * FROM meshpg.cat_classification_suggestion;
-- retention: no policy, no dry run (its counts would tell hidden rows), no
-- run, no hold either way, no audit trail
SELECT meshpg.create_retention_policy('mine', interval '1 day', 'seen', product => 'clinic.patients');
SELECT * FROM meshpg.retention_dry_run('clinic.patients');
CALL meshpg.run_retention('clinic.patients');
SELECT meshpg.place_legal_hold('clinic.patients', 'stop');
SELECT meshpg.lift_legal_hold('clinic.patients');
SELECT count(*) FROM meshpg.retention_runs;
SELECT count(*) FROM meshpg.legal_holds WHERE attack.peek(product || reason);
SELECT * FROM meshpg.cat_legal_hold;
UPDATE meshpg.cat_retention_policy SET keep = '1 second';
RESET ROLE;

-- 3. Another domain's team can neither act for the clinic domain nor lift
-- its holds.
SET ROLE clinic_dev;
SELECT meshpg.place_legal_hold('clinic.patients', 'audit');
SELECT meshpg.create_retention_policy('clinic_keep', interval '30 days', 'seen', 'anonymise',
                                      product => 'clinic.patients', columns => '{email}', mask => 'null');
RESET ROLE;
SET ROLE rival_dev;
SELECT * FROM meshpg.classify('clinic.patients');
SELECT meshpg.lift_legal_hold('clinic.patients');
SELECT meshpg.drop_retention_policy('clinic_keep');
SELECT meshpg.create_retention_policy('rival_keep', interval '1 day', 'seen', product => 'clinic.patients');
CALL meshpg.run_retention('clinic.patients');
SELECT count(*) FROM meshpg.classification_suggestions;
RESET ROLE;

-- 4. A hold the governance team placed is not the domain team's to lift,
-- and anonymising with a pseudonym is refused.
SET ROLE clinic_dev;
SELECT meshpg.lift_legal_hold('clinic.patients');      -- its own: it may
RESET ROLE;
SELECT meshpg.place_legal_hold('clinic.patients', 'regulator');
SET ROLE clinic_dev;
SELECT meshpg.lift_legal_hold('clinic.patients');
SELECT meshpg.create_retention_policy('clinic_hash', interval '30 days', 'seen', 'anonymise',
                                      product => 'clinic.patients', columns => '{email}', mask => 'hash');
RESET ROLE;
SELECT meshpg.lift_legal_hold('clinic.patients');

-- 5. The run, as the table's owner: anonymised in place where the owner
-- sees; the rows a row policy hides from the owner are not reached, and
-- the audit trail says so instead of reporting the policy applied.
SET ROLE clinic_dev;
SELECT policy, rows, note FROM meshpg.retention_dry_run('clinic.patients');
CALL meshpg.run_retention('clinic.patients');
SELECT policy, action, rows, status, note FROM meshpg.retention_runs;
RESET ROLE;
SET ROLE reader;
SELECT count(*) FILTER (WHERE email IS NULL) AS anonymised, count(*) AS visible FROM clinic.patients;
RESET ROLE;

-- 6. A relation a superuser owns is sampled as the domain's owner role, not
-- past every policy: without its own right to read it, classify is refused;
-- with it, the rows a row policy hides from the domain stay out of the
-- evidence.
CREATE TABLE clinic.archive (id int, region text, contact text);
INSERT INTO clinic.archive SELECT i, 'visible', 'room ' || i FROM generate_series(1, 50) i;
INSERT INTO clinic.archive SELECT i, 'sealed', 'CANA' || 'RY-arch-' || i || '@example.com'
  FROM generate_series(51, 500) i;
SELECT meshpg.register_product('clinic', 'archive', 'clinic.archive', description => 'Archive');
SELECT meshpg.create_row_policy('archive_sealed', $$region <> 'sealed'$$, product => 'clinic.archive',
                                applies_to_domain => true);
SET ROLE clinic_dev;
SELECT * FROM meshpg.classify('clinic.archive');
RESET ROLE;
GRANT SELECT ON clinic.archive TO clinic_team;
SET ROLE clinic_dev;
SELECT column_name, validator FROM meshpg.classify('clinic.archive', min_share => 0.01);
RESET ROLE;

SELECT meshpg.drop_domain('clinic', cascade => true);
SELECT meshpg.drop_domain('rival', cascade => true);
DROP FUNCTION attack.peek(text);
DROP ROLE clinic_dev, clinic_team, rival_dev, rival_team;
