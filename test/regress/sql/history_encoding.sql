--
-- history_encoding: the history keeps a purpose in 63 bytes.  A longer one
-- is cut, and the cut must fall between characters: half a character is
-- not valid UTF8, and would make the history row unreadable for anything
-- that checks its text (convert_to, a dump's restore).
SELECT meshpg.create_domain('henc', 'regress_payments_team', 'History encoding tests');
SET ROLE regress_pay_dev;
CREATE TABLE henc.items (id int PRIMARY KEY, label text);
INSERT INTO henc.items VALUES (1, 'one');
SELECT meshpg.register_product('henc', 'items', 'henc.items', description => 'Items');
SELECT meshpg.publish('henc.items', '1.0.0');
-- 35 two-byte characters, 70 bytes: the 64th byte starts a character
SELECT meshpg.grant_access('henc.items', 'regress_analyst', purpose => repeat('é', 35));
RESET ROLE;

SELECT meshpg.flush_access_history() >= 0 AS flushed;
SET ROLE regress_analyst;
SELECT set_config('meshpg.purpose', repeat('é', 35), false) IS NOT NULL AS purpose_set;
SELECT label FROM henc.items;
RESET meshpg.purpose;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;

SELECT octet_length(purpose) AS bytes, purpose = repeat('é', 31) AS whole_characters,
       length(convert_to(purpose, 'UTF8')) AS valid_bytes
  FROM meshpg.access_history WHERE product = 'henc.items';

DELETE FROM meshpg.cat_access_batch WHERE product = 'henc.items';
SELECT meshpg.drop_domain('henc', cascade => true);
