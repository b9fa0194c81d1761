-- test/docs/prelude.sql: what every documentation page may assume, run in
-- each page's fresh database before its first example (unless the page says
-- <!-- docs: fresh -->).  Only the extension: each page creates the roles,
-- domains and products its examples use, so that a reader can follow it.
CREATE EXTENSION meshpg;
