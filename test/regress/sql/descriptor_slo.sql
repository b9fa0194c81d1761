-- SLOs in descriptors: slaProperties (and quality) converge to meshpg.slos
-- through declare_slo / alter_slo / drop_slo, compared in canonical form.
\set VERBOSITY default
SET client_min_messages = warning;
CREATE ROLE regress_books_team;
SELECT meshpg.create_domain('books', 'regress_books_team');
SET ROLE regress_books_team;
CREATE TABLE books.entries (id bigint PRIMARY KEY, amount numeric, email text, booked_at timestamptz);
SELECT meshpg.register_product('books', 'entries', 'books.entries');
RESET client_min_messages;

-- Declared from a descriptor: one freshness SLO (slaProperties), one
-- completeness SLO (quality), written loosely.
SELECT * FROM meshpg.apply($y$
apiVersion: v3.0.2
kind: DataContract
id: books.entries
version: 0.1.0
status: draft
schema:
  - name: entries
    physicalName: entries
    properties:
      - {name: id, physicalType: bigint, required: true}
      - {name: amount, physicalType: numeric}
      - {name: email, physicalType: text}
      - {name: booked_at, physicalType: timestamp with time zone}
slaProperties:
  - name: fresh
    kind: freshness
    spec: {column: booked_at, max_age: 1 hour}
    schedule: 5 minutes
quality:
  - name: email_complete
    kind: completeness
    spec: {columns: [email], min_ratio: 0.995}
    severity: critical
    window: 7 days
$y$);
SELECT name, kind, spec, compliance_window, severity, schedule FROM meshpg.slos ORDER BY name;

-- The export writes them back canonical; applying it changes nothing, and
-- neither does the loose original.
SELECT meshpg.export('books.entries');
SELECT * FROM meshpg.plan(meshpg.export('books.entries'));
SELECT * FROM meshpg.plan(meshpg.export('books.entries', 'json'));
SELECT * FROM meshpg.plan($y$
apiVersion: v3.0.2
kind: DataContract
id: books.entries
version: 0.1.0
status: draft
schema:
  - name: entries
    physicalName: entries
    properties:
      - {name: id, physicalType: bigint, required: true}
      - {name: amount, physicalType: numeric}
      - {name: email, physicalType: text}
      - {name: booked_at, physicalType: timestamp with time zone}
slaProperties:
  - {name: fresh, kind: freshness, spec: {column: booked_at, max_age: 60 minutes}, schedule: 300 seconds}
  - {name: email_complete, kind: completeness, spec: {columns: [email], min_ratio: 0.9950}, severity: critical, window: 168 hours}
$y$);

-- Changes: another severity or spec alters; another kind drops and declares;
-- an SLO the document leaves out is dropped (the section is present).
SELECT * FROM meshpg.apply(replace(meshpg.export('books.entries'), 'severity: critical', 'severity: info'));
SELECT * FROM meshpg.apply(replace(replace(meshpg.export('books.entries'), 'kind: completeness', 'kind: uniqueness'),
                                   'min_ratio: 0.995', 'max_duplicates: 0'));
SELECT name, kind, spec, severity FROM meshpg.slos ORDER BY name;
SELECT * FROM meshpg.apply(regexp_replace(meshpg.export('books.entries'), '\n  - name: email_complete.*\n  - name: fresh', E'\n  - name: fresh'));
SELECT name FROM meshpg.slos ORDER BY name;
-- A document without the section leaves SLOs alone.
SELECT * FROM meshpg.plan(regexp_replace(meshpg.export('books.entries'), 'slaProperties:.*', ''));

-- The contract recorded at publish carries the SLOs.
SELECT meshpg.document_product('books.entries', 'Book entries');
SELECT meshpg.publish('books.entries', '1.0.0');
SELECT contract->'slos' FROM meshpg.contracts WHERE product = 'books.entries';

-- Bad input: the error points at the path, and nothing changes.
-- (default verbosity: a LOCATION line would carry source line numbers;
-- the SQLSTATE is printed after each statement instead)
\set SHOW_CONTEXT never
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'max_age: "01:00:00"', 'max_age: soon'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'column: booked_at', 'column: nope'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'window: "30 days"', 'window: someday'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'schedule: "00:05:00"', 'schedule: [1]'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'severity: warning', 'severity: loud'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'kind: freshness', 'kind: latency'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), '    kind: freshness', '    kind: freshness' || E'\n' || '    owner: me'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), '    kind: freshness' || E'\n', ''));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), 'slaProperties:', 'quality:' || E'\n' || '  - {name: fresh, kind: volume, spec: {min_rows: 1}}' || E'\n' || 'slaProperties:'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a schedule under a minute is refused by declare_slo, at apply
SELECT * FROM meshpg.apply(replace(meshpg.export('books.entries'), 'schedule: "00:05:00"', 'schedule: 10 seconds'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- lenient: an unknown field is a warning, and the rest applies
SELECT * FROM meshpg.plan(replace(meshpg.export('books.entries'), '    kind: freshness', '    kind: freshness' || E'\n' || '    owner: me'), strict => false);
SELECT name, kind, spec, compliance_window, severity, schedule FROM meshpg.slos ORDER BY name;
-- leave no SLO for the tests that list them all
SELECT meshpg.drop_slo('books.entries', 'fresh');
RESET ROLE;
