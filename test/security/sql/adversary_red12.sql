--
-- adversary_red12: a red team round against version 1.4 (aggregation and
-- projection policies, governed statistics, events, output ports,
-- classification and retention).  The attacker is reader (default
-- privileges, a grant on vault.people, which shows it region EU only).
--

-- 1. The entity-set aggregate of the aggregation rewrite is callable by
-- anyone (the rewrite runs it as the reader).  A cap whose doubling
-- overflowed int32 left its hash table at 8 slots; the ninth distinct key
-- then probed a full table forever, a loop no statement_timeout or cancel
-- could stop (one query took a backend for good).  The cap is bounded like
-- min_group_size now.
SET ROLE reader;
\set VERBOSITY terse
SELECT meshpg._entity_count(meshpg._entities(g, 5)) FROM generate_series(1, 100) g;
SELECT meshpg._entity_count(meshpg._entities(g, 2000000000)) FROM generate_series(1, 100) g;
SELECT meshpg._entity_count(meshpg._entities(g, 0)) FROM generate_series(1, 100) g;
SELECT meshpg._entity_count(meshpg._entities(s, 1500000000))
  FROM (SELECT meshpg._entities(g, 3) s FROM generate_series(1, 20) g GROUP BY g) x;
\set VERBOSITY default
RESET ROLE;
