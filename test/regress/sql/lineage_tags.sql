--
-- lineage_tags: a column of a registered product derived from a tagged
-- column inherits the tag, and so its masks, through views, materialized
-- views and recorded writes, transitively; the domain team cannot remove it;
-- only the governance team can declassify it, saying why.
--
SELECT meshpg.create_domain('tagsrc', 'regress_payments_team', 'Tag propagation sources');
SELECT meshpg.create_domain('tagdst', 'regress_market_team', 'Tag propagation, another domain');
SET ROLE regress_gov;
SELECT meshpg.create_tag('lin.pii');
SELECT meshpg.create_tag('lin.place');
SELECT meshpg.create_masking_policy('lin_mask_pii', 'partial', tag => 'lin.pii',
       args => '{"keep_first": 1, "keep_last": 0}');
RESET ROLE;

SET ROLE regress_pay_dev;
CREATE TABLE tagsrc.people (id int PRIMARY KEY, email text, city text);
INSERT INTO tagsrc.people VALUES (1, 'ann@example.com', 'Oslo'), (2, 'bob@example.com', 'Rome');
SELECT meshpg.register_product('tagsrc', 'people', 'tagsrc.people', description => 'People');
SELECT meshpg.tag_column('tagsrc.people', 'email', 'lin.pii');
SELECT meshpg.publish('tagsrc.people', '1.0.0');
SELECT meshpg.grant_access('tagsrc.people', 'regress_market_team');

-- The domain team is exempt from its own masks: a copy it makes holds raw
-- values.  Registered, the copy inherits the tag.
CREATE TABLE tagsrc.people_copy AS SELECT id, email AS mail, city FROM tagsrc.people;
SELECT meshpg.register_product('tagsrc', 'people_copy', 'tagsrc.people_copy', description => 'Copy');
SELECT meshpg.publish('tagsrc.people_copy', '1.0.0');
SELECT meshpg.grant_access('tagsrc.people_copy', 'regress_analyst');
-- Through a view that is not a product, into a product view.
CREATE VIEW tagsrc.v1 AS SELECT id, email AS e FROM tagsrc.people;
CREATE VIEW tagsrc.v2 AS SELECT id, lower(e) AS e2 FROM tagsrc.v1;
SELECT meshpg.register_product('tagsrc', 'v2', 'tagsrc.v2', description => 'Lowered');
-- A materialized view: only the derived column.
CREATE MATERIALIZED VIEW tagsrc.mv AS
  SELECT city, count(*) AS n, min(email) AS sample FROM tagsrc.people GROUP BY city;
SELECT meshpg.register_product('tagsrc', 'mv', 'tagsrc.mv', description => 'Per city');
-- Transitively: a product derived from a propagated column.
CREATE TABLE tagsrc.copy2 AS SELECT mail AS m2 FROM tagsrc.people_copy;
SELECT meshpg.register_product('tagsrc', 'copy2', 'tagsrc.copy2', description => 'Copy of the copy');
-- CREATE TABLE AS EXECUTE: the prepared plan was made as a plain SELECT, and
-- the copy's lineage still comes from its query.
PREPARE copy_people AS SELECT id, email AS contact FROM tagsrc.people;
CREATE TABLE tagsrc.people_exec AS EXECUTE copy_people;
DEALLOCATE copy_people;
SELECT meshpg.register_product('tagsrc', 'people_exec', 'tagsrc.people_exec', description => 'Copy by EXECUTE');
SELECT meshpg.publish('tagsrc.people_exec', '1.0.0');
SELECT meshpg.grant_access('tagsrc.people_exec', 'regress_analyst');
RESET ROLE;
-- Another domain's product, loaded from a granted product.
SET ROLE regress_market_dev;
CREATE TABLE tagdst.leads (lead_id int, contact text);
INSERT INTO tagdst.leads SELECT id, email FROM tagsrc.people;
SELECT meshpg.register_product('tagdst', 'leads', 'tagdst.leads', description => 'Leads');
RESET ROLE;

SELECT product, column_name, tag, tagged_by FROM meshpg.column_tags
 WHERE product LIKE 'tag%' ORDER BY 1, 2, 3;
SELECT product, column_name, tag, source FROM meshpg.tag_propagation ORDER BY 1, 2, 3;

-- The propagated tag brings its mask: the consumer sees the copy masked.
SET ROLE regress_analyst;
SELECT id, mail, city FROM tagsrc.people_copy ORDER BY id;
SELECT id, contact FROM tagsrc.people_exec ORDER BY id;
RESET ROLE;
SELECT subject, policy, kind, effect FROM meshpg.explain_access('tagsrc.people_copy', 'regress_analyst');

-- Tagging a source column later reaches the products already built on it.
SET ROLE regress_pay_dev;
SELECT meshpg.tag_column('tagsrc.people', 'city', 'lin.place');
RESET ROLE;
SELECT product, column_name, tag FROM meshpg.column_tags
 WHERE tag = 'lin.place' ORDER BY 1, 2;
-- So does a replaced view definition.
SET ROLE regress_pay_dev;
CREATE OR REPLACE VIEW tagsrc.v2 AS SELECT id, lower(e) AS e2, e AS raw FROM tagsrc.v1;
RESET ROLE;
SELECT product, column_name, tag FROM meshpg.column_tags WHERE product = 'tagsrc.v2' ORDER BY 2;

-- The domain team cannot remove a propagated tag.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.untag_column('tagsrc.people_copy', 'mail', 'lin.pii') $$);
-- Its own tags it still manages.
SELECT meshpg.untag_column('tagsrc.people', 'city', 'lin.place');
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'lin.pii', 'mine') $$);
SELECT expect_error($$ DELETE FROM meshpg.cat_column_tag $$);
RESET ROLE;
-- Nor can the catalog owner, by hand: only declassify removes it.
SELECT expect_error($$ DELETE FROM meshpg.cat_column_tag WHERE column_name = 'mail' $$);

-- Declassification: the governance team, with a reason.
SET ROLE regress_gov;
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'lin.pii', '') $$);
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'lin.pii', '   ') $$);
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'lin.pii', NULL) $$);
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.people_copy', 'nope', 'lin.pii', 'why') $$);
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'no.such', 'why') $$);
SELECT expect_error($$ SELECT meshpg.declassify('tagsrc.nothing', 'mail', 'lin.pii', 'why') $$);
SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'lin.pii', 'Hashed upstream since v2; reviewed in GOV-12');
-- Again: nothing propagated is left, the reason is updated.
SELECT meshpg.declassify('tagsrc.people_copy', 'mail', 'lin.pii', 'Reviewed again in GOV-13');
SELECT product, column_name, tag, reason, declassified_by FROM meshpg.declassifications ORDER BY 1, 2;
-- Propagation respects it; what derives from the column inherits nothing new.
SELECT meshpg.propagate_tags();
RESET ROLE;
SELECT product, column_name, tag FROM meshpg.column_tags
 WHERE product IN ('tagsrc.people_copy', 'tagsrc.copy2') ORDER BY 1, 2;
SET ROLE regress_analyst;
SELECT id, mail FROM tagsrc.people_copy ORDER BY id;
SELECT expect_error($$ SELECT meshpg.propagate_tags() $$);
RESET ROLE;

-- Unregistering a product takes its propagated tags along.
SET ROLE regress_pay_dev;
SELECT meshpg.unregister_product('tagsrc.copy2');
RESET ROLE;
SELECT count(*) AS copy2_tags FROM meshpg.tag_propagation WHERE product = 'tagsrc.copy2';
